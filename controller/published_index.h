/* published_index.h: where each device is published now, read from the reconciler's summaries
 * of our ResourceSlices (published_slice.h): (pool, device name) -> (the slice's number, the
 * device's published taints). One entry per device, in one sorted array (about 32 bytes a
 * device); used by the plan to keep placement (sticky slices) and to adopt published taints.
 * Names and taints are borrowed from the summaries the index was built from: rebuild it
 * whenever they change. */
#ifndef NETDRA_CONTROLLER_PUBLISHED_INDEX_H
#define NETDRA_CONTROLLER_PUBLISHED_INDEX_H

#include <jansson.h>
#include <stddef.h>

#include "published_slice.h"

typedef struct nd_published_index nd_published_index;

typedef struct {
  int slice;            /* the number of the slice that publishes it (slice_planner.h), -1 if
                           its name is not one of ours */
  const json_t *taints; /* its taints array as published, or NULL */
} nd_published_device;

nd_published_index *nd_published_index_new(void);
void nd_published_index_free(nd_published_index *ix);
/* Replace the contents with the devices of `slices`. */
void nd_published_index_build(nd_published_index *ix, const nd_published_slice *const *slices,
                              size_t n_slices, const char *driver);
/* One slice's summary changed: the entries of `old` (NULL: a new slice) are dropped and those of
 * `fresh` (NULL: the slice is gone) added, in one pass over the index (no sort of all of it, as
 * a build does). Call it before `old` is freed. */
void nd_published_index_replace(nd_published_index *ix, const nd_published_slice *old,
                                const nd_published_slice *fresh, const char *driver);
/* The published state of pool/device, or NULL when no slice publishes it. */
const nd_published_device *nd_published_index_find(const nd_published_index *ix,
                                                   const char *pool, const char *device);

/* A walk of one pool's devices for a caller that asks in ascending name order (strcmp, the
 * registry's order): each answer costs a step, not a search. */
typedef struct {
  const nd_published_index *ix;
  const char *pool;
  size_t at;
} nd_published_walk;

nd_published_walk nd_published_index_walk(const nd_published_index *ix, const char *pool);
/* As nd_published_index_find(pool, device), for names asked in ascending order. */
const nd_published_device *nd_published_walk_find(nd_published_walk *w, const char *device);

#endif
