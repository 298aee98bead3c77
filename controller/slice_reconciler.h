/* slice_reconciler.h: keeps the API server's ResourceSlices of our driver equal to the plan.
 *
 * It watches the driver's slices (fieldSelector spec.driver=<driver>) all the time, leader or
 * not, so that a new leader starts from a warm cache. When active (leading) and synced, it asks
 * its planner callback for the desired pools, computes the writes per pool (pool_sync.h) and
 * runs them one at a time: deletes, then updates, then creates. Only the pools marked changed
 * (by the registry or the watch) are planned; a full round runs on start, on resync and after
 * any failed write. A change that finds the reconciler idle is written at once; changes that
 * arrive while writes are in flight are a burst, planned together when no change has come for
 * debounce_ms (or debounce_max_ms after the first). 409 refetches the slice and
 * reconciles again; 429/5xx/transport errors back off (Retry-After honoured); a change made by
 * someone else arrives through the watch and is put back by the next reconcile. */
#ifndef NETDRA_CONTROLLER_SLICE_RECONCILER_H
#define NETDRA_CONTROLLER_SLICE_RECONCILER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "evloop.h"
#include "k8s_client.h"
#include "memtrim.h"
#include "published_index.h"
#include "slice_planner.h"

typedef struct nd_reconciler nd_reconciler;

/* Produce the desired pools: those named in only_pools (a JSON object used as a set), or
 * every pool when it is NULL. A pool of only_pools that is left out is deleted.
 * *recheck_wall_ms may be set to a wall-clock time when the plan changes by itself
 * (hysteresis end); 0 = none. Return -1 with err to skip this round. */
typedef int (*nd_plan_fn)(nd_reconciler *rc, const json_t *only_pools, nd_planned_pool **pools,
                          size_t *n_pools, uint64_t *recheck_wall_ms, void *data,
                          nd_error_t *err);

typedef struct {
  const char *driver;
  const char *api_version; /* "v1" or "v1beta2" */
  bool always_bump;        /* bump the pool generation on every change */
  uint64_t debounce_ms;     /* quiet time that ends a burst; 0: 100 */
  uint64_t debounce_max_ms; /* longest a burst is held; below debounce_ms: 3000 */
  uint64_t resync_ms;      /* 0: 60000; periodic level-triggered reconcile */
  uint64_t max_backoff_ms; /* 0: 30000 */
  nd_memtrim *trim; /* poked when writing settles (idle) and after a (re)list; may be NULL */
} nd_reconciler_options;

typedef enum { ND_WRITE_OK, ND_WRITE_CONFLICT, ND_WRITE_RETRY, ND_WRITE_INVALID } nd_write_result;

typedef struct {
  uint64_t reconciles;
  uint64_t partial_reconciles; /* rounds that planned only the changed pools */
  uint64_t writes[3][4];    /* [nd_slice_op_kind][nd_write_result] */
  uint64_t writes_ok[3];    /* by nd_slice_op_kind */
  uint64_t writes_conflict; /* 409 */
  uint64_t writes_retry;    /* 429, 5xx, transport */
  uint64_t writes_invalid;  /* other 4xx */
  uint64_t watch_events;
  uint64_t slices_compared; /* planned slices rendered to compare with their published one */
  uint64_t fingerprints_from_writes; /* written slices known unchanged from their write */
} nd_reconciler_stats;

nd_reconciler *nd_reconciler_new(nd_loop *loop, nd_k8s_client *k8s,
                                 const nd_reconciler_options *opts, nd_plan_fn plan, void *data,
                                 nd_error_t *err);
/* Stop the watch and all writes (before freeing the REST client, which ends requests). */
void nd_reconciler_stop(nd_reconciler *rc);
void nd_reconciler_free(nd_reconciler *rc);

/* Start watching our slices. */
int nd_reconciler_start(nd_reconciler *rc, nd_error_t *err);
/* Writes are made only while active (the leader). Becoming active triggers a reconcile. */
void nd_reconciler_set_active(nd_reconciler *rc, bool active);
/* Ask for a reconcile of every pool, or of one pool (debounced, see above). */
void nd_reconciler_trigger(nd_reconciler *rc);
void nd_reconciler_trigger_pool(nd_reconciler *rc, const char *pool);

bool nd_reconciler_synced(const nd_reconciler *rc);
/* true when the last reconcile left nothing to write and no write is in flight. */
bool nd_reconciler_idle(const nd_reconciler *rc);
const nd_reconciler_stats *nd_reconciler_get_stats(const nd_reconciler *rc);
size_t nd_reconciler_slice_count(const nd_reconciler *rc);

/* A walk of where each device of `pool` is published now (slice number, taints), asked in
 * ascending name order with nd_published_walk_find; used to keep placement and adopt
 * published taints. Valid until the loop runs again. */
nd_published_walk nd_reconciler_published(const nd_reconciler *rc, const char *pool);

#endif
