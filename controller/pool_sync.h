/* pool_sync.h: the pure decision of how to bring one pool from its existing slices to the
 * planned ones: which generation, which slices to delete, update and create, in that order.
 *
 * Generation rule (reference resourceslice controller, fact sheet section 5):
 *  G = the highest generation among the pool's existing slices. Existing slices are matched
 *  to planned ones by name. If no new slice is needed and at most one matched slice differs,
 *  the pool keeps G and only that slice is written; otherwise the pool moves to G+1 and every
 *  kept slice is rewritten with the new generation and resourceSliceCount. Existing slices
 *  that match no planned name are deleted. `always_bump` moves to G+1 on any change.
 *  No write at all when every planned slice equals its existing one (spec digests compared,
 *  slice_spec_digest.h; taint timeAdded values of existing slices are kept). */
#ifndef NETDRA_CONTROLLER_POOL_SYNC_H
#define NETDRA_CONTROLLER_POOL_SYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "published_slice.h"
#include "slice_planner.h"
#include "slice_spec_digest.h"

typedef enum { ND_SLICE_DELETE, ND_SLICE_UPDATE, ND_SLICE_CREATE } nd_slice_op_kind;

typedef struct {
  nd_slice_op_kind kind;
  char *name;
  char *body; /* the request body, compact JSON (rendered one slice at a time and kept as
                 text, not as a tree): UPDATE/CREATE the object; DELETE DeleteOptions with the
                 existing slice's uid and resourceVersion as preconditions */
  /* UPDATE/CREATE: the digest of the spec sent and, when its plan has one, the fingerprint
   * (nd_planned_slice_fingerprint) it was rendered from. A summary of the written object
   * whose spec has that digest renders from that fingerprint: the reconciler gives it the
   * fingerprint, so the next round does not render the slice again to learn it is unchanged. */
  nd_spec_digest sent_digest;
  nd_spec_digest sent_fingerprint;
  bool has_sent_fingerprint;
} nd_slice_op;

typedef struct {
  nd_slice_op *ops; /* deletes first, then updates, then creates */
  size_t n_ops;
  int64_t generation;
  size_t n_compared; /* matched slices rendered and compared by digest */
  size_t n_unchanged_by_fingerprint; /* matched slices known unchanged without rendering */
} nd_pool_sync;

/* desired NULL: the pool is gone, delete all of `existing`. existing: the summaries of the
 * ResourceSlices of this pool and driver as the API server returned them (a planned spec is
 * the same as an existing one when their digests are equal; a summary remembers the
 * fingerprint of the plan found equal to it, so the next round with the same fingerprint
 * neither renders nor digests it). api_version: e.g. "v1". */
void nd_pool_sync_compute(const nd_planned_pool *desired,
                          nd_published_slice *const *existing, size_t n_existing,
                          const char *api_version, bool always_bump, nd_pool_sync *out);
void nd_pool_sync_clear(nd_pool_sync *s);

/* Copy timeAdded of the taints that `existing` publishes into the same device+key+effect+value
 * taints of `spec`, so that an unchanged taint is never rewritten. */
void nd_slice_keep_taint_times(json_t *spec, const nd_published_slice *existing);

#endif
