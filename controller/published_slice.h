/* published_slice.h: what the controller keeps of one of its published ResourceSlices.
 *
 * Not the object (a jansson tree of a 128-device slice is ~0.5 MB): its name, pool and
 * generation, the metadata that an update or a delete sends back (uid, resourceVersion,
 * labels...), the digest of its spec (slice_spec_digest.h: what "unchanged" is compared
 * against), the names of its devices in order (where each device is published: sticky
 * placement) and the taints of the few devices that have any (kept timeAdded, adopted
 * taints). */
#ifndef NETDRA_CONTROLLER_PUBLISHED_SLICE_H
#define NETDRA_CONTROLLER_PUBLISHED_SLICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice_spec_digest.h"

typedef struct {
  char *name;
  char *pool;
  const char *resource_version; /* in metadata, or NULL */
  json_t *metadata; /* without managedFields, creationTimestamp and generation */
  int64_t generation; /* spec.pool.generation */
  nd_spec_digest digest; /* of the spec */
  char *device_names; /* each NUL-terminated, in slice order */
  size_t n_devices;
  size_t device_names_len; /* bytes of device_names */
  json_t *taints; /* device name -> its taints array, for devices with taints; NULL: none */
  /* the fingerprint (nd_planned_slice_fingerprint) of the planned slice last found to render
   * to exactly this spec: while the plan keeps it, the slice is unchanged without rendering.
   * Set by pool_sync; a new summary (every watch event) starts without one. */
  nd_spec_digest same_as_planned;
  bool has_same_as_planned;
} nd_published_slice;

/* The summary of a ResourceSlice object; NULL when it has no name or no pool name. */
nd_published_slice *nd_published_slice_new(const json_t *obj);
void nd_published_slice_free(nd_published_slice *s);

/* The taints published for one device of the slice, or NULL. */
const json_t *nd_published_slice_taints(const nd_published_slice *s, const char *device);

/* Walk the device names: start with NULL; returns NULL after the last. */
const char *nd_published_slice_next_device(const nd_published_slice *s, const char *prev);

/* true when a and b hold the same state (metadata and spec). */
bool nd_published_slice_same(const nd_published_slice *a, const nd_published_slice *b);

#endif
