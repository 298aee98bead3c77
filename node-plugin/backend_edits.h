/* backend_edits.h: what the attach backends share (private to node-plugin/backend_*.c):
 * reading slice attributes and opaque parameters, building CDI containerEdits, and writing
 * the per-claim private files (credentials, tokens) that get mounted read-only. */
#ifndef NETDRA_NODE_PLUGIN_BACKEND_EDITS_H
#define NETDRA_NODE_PLUGIN_BACKEND_EDITS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "error.h"

/* String value of attribute key (unqualified = our domain; "netdra.dev/<key>" also read;
 * a qualified key such as resource.kubernetes.io/pciBusID is read as is). NULL if absent. */
const char *nd_backend_attr_string(const json_t *slice_device, const char *key);
/* Like nd_backend_attr_string but an absent or empty attribute is an error naming the
 * device and the attribute. */
const char *nd_backend_attr_required(const nd_attach_request *req, const char *key,
                                     nd_error_t *err);
/* Opaque parameter lookups; def when the parameter is absent (config may be NULL). */
const char *nd_backend_config_string(const json_t *config, const char *key, const char *def);
bool nd_backend_config_bool(const json_t *config, const char *key, bool def);
long long nd_backend_config_int(const json_t *config, const char *key, long long def);

/* A new empty containerEdits object. */
json_t *nd_edits_new(void);
/* env "<name>=<value>". */
void nd_edits_add_env(json_t *edits, const char *name, const char *value);
/* A read-only bind mount of host_path at container_path. */
void nd_edits_add_mount_ro(json_t *edits, const char *host_path, const char *container_path);
/* A device node: path in the container, host_path on the host (may be NULL = path). */
void nd_edits_add_device_node(json_t *edits, const char *path, const char *host_path);

/* dev_root joined with an absolute path ("/" + "/dev/x" = "/dev/x"; heap). */
char *nd_backend_host_path(const char *dev_root, const char *abs_path);
/* The path of a private file of this claim device: <claim_dir>/<request>-<device>.<suffix>
 * (heap). */
char *nd_backend_claim_file(const nd_attach_request *req, const char *suffix);
/* Write a secret (0600, atomic: temp + fsync + rename) to path. */
int nd_backend_write_secret_file(const char *path, const char *data, size_t len, nd_error_t *err);
/* Remove a file; a missing one is fine. */
int nd_backend_remove_file(const char *path, nd_error_t *err);

#endif
