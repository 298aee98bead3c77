/* published_index.h: where each device is published now, read from the reconciler's cache of
 * our ResourceSlices: pool -> device name -> (the device object in its slice, the slice's
 * number). One entry per device; used by the plan to keep placement (sticky slices) and to
 * adopt published taints. The objects are borrowed from the cache the index was built from:
 * rebuild it whenever that cache changes. */
#ifndef NETDRA_CONTROLLER_PUBLISHED_INDEX_H
#define NETDRA_CONTROLLER_PUBLISHED_INDEX_H

#include <jansson.h>

typedef struct nd_published_index nd_published_index;

typedef struct {
  const json_t *device; /* the device object as its slice publishes it */
  int slice;            /* the number of that slice (slice_planner.h), -1 if not ours */
} nd_published_device;

nd_published_index *nd_published_index_new(void);
void nd_published_index_free(nd_published_index *ix);
/* Replace the contents with the devices of `slices` (slice name -> ResourceSlice object). */
void nd_published_index_build(nd_published_index *ix, const json_t *slices, const char *driver);
/* The published state of pool/device, or NULL when no slice publishes it. */
const nd_published_device *nd_published_index_find(const nd_published_index *ix,
                                                   const char *pool, const char *device);

#endif
