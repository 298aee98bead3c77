/* cdi.h: the CDI spec writer of the node plugin (one spec file per prepared claim).
 *
 * kind      <vendor>/claim, vendor = the driver name (e.g. netdra.dev/claim)
 * file      <cdi dir>/<vendor>-claim_<claim uid>.json (transient-spec naming)
 * devices   one per attached device: "<request>-<device>-<claim uid>" is never reused
 *           because the claim UID is part of it; it always starts with a letter (cdiVersion
 *           0.5.0 would be needed for a leading digit).
 * version   the lowest cdiVersion that covers the edits (0.3.0 baseline; podman 4.3 rejects
 *           0.6.0 and later, so annotations are never written).
 * Every file is written to a temp name in the same directory, fsync'd, chmod 0644, renamed. */
#ifndef NETDRA_NODE_PLUGIN_CDI_H
#define NETDRA_NODE_PLUGIN_CDI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define ND_CDI_CLASS "claim"

/* One device of a claim spec: name (see nd_cdi_device_name) and its containerEdits. */
typedef struct {
  const char *name;
  const json_t *edits;
} nd_cdi_device;

/* Device name for one allocated device of a claim (heap). Characters outside the CDI
 * name alphabet are replaced by '-'. */
char *nd_cdi_device_name(const char *claim_uid, const char *request, const char *device);
/* Fully qualified CDI device ID "<vendor>/claim=<name>" (heap). */
char *nd_cdi_qualified_id(const char *vendor, const char *name);
/* Path of the spec file of a claim (heap). */
char *nd_cdi_spec_path(const char *cdi_dir, const char *vendor, const char *claim_uid);
/* Is file_name (no directory) a per-claim spec, ours or another DRA driver's: the
 * "<vendor>-claim_<uid>.json" that nd_cdi_spec_path (and the reference DRA drivers) name
 * them? Such a spec is written at a prepare and removed at the unprepare; it is never a
 * vendor's node-wide spec. */
bool nd_cdi_is_claim_spec_name(const char *file_name);

/* Check a containerEdits object against the CDI rules (strict: unknown keys are errors) and
 * raise *min_version (a static string such as "0.3.0") to what the edits need.
 * what names the edits in messages ("device cam0"). */
int nd_cdi_check_edits(const json_t *edits, const char *what, const char **min_version,
                       nd_error_t *err);
/* Compare two cdiVersion strings of the known set; <0, 0, >0. */
int nd_cdi_version_cmp(const char *a, const char *b);

/* Build the spec object (new reference). Fails on invalid edits or names, or no devices. */
json_t *nd_cdi_spec_build(const char *vendor, const nd_cdi_device *devices, size_t n,
                          nd_error_t *err);
/* Build and write the spec of a claim atomically (readers never see a partial file; not
 * fsynced: see nd_replace_file); creates cdi_dir (0755) when missing. */
int nd_cdi_write_claim_spec(const char *cdi_dir, const char *vendor, const char *claim_uid,
                            const nd_cdi_device *devices, size_t n, nd_error_t *err);
/* Remove the spec of a claim; a missing file is not an error. */
int nd_cdi_remove_claim_spec(const char *cdi_dir, const char *vendor, const char *claim_uid,
                             nd_error_t *err);
/* Remove every claim spec of this vendor in cdi_dir whose claim keep() does not know, and the
 * temporary files of this vendor's specs that an interrupted write left (call it only while no
 * spec is being written, i.e. at start). Other files are not touched. Returns how many files
 * were removed (a missing cdi_dir: 0), or -1 with err. */
int nd_cdi_remove_stale_claim_specs(const char *cdi_dir, const char *vendor,
                                    bool (*keep)(const char *claim_uid, void *data), void *data,
                                    nd_error_t *err);

#endif
