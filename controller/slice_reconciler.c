/* slice_reconciler.c: watch of our slices + ordered minimal writes (see slice_reconciler.h). */
#include "slice_reconciler.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "pool_sync.h"
#include "published_index.h"
#include "published_slice.h"
#include "strmap.h"

#define LIST_PAGE_SLICES 16 /* a page of 16 full slices is ~8 MB as a tree */

struct nd_reconciler {
  nd_loop *loop;
  nd_k8s_client *k8s;
  nd_reconciler_options opts;
  char *driver;
  char *api_version;
  char *collection; /* /apis/resource.k8s.io/<v>/resourceslices */
  nd_plan_fn plan;
  void *plan_data;

  nd_k8s_watch *watch;
  nd_strmap *cache; /* name -> nd_published_slice (our driver's slices: summaries, not objects) */
  nd_published_index *index; /* devices of the cache: updated per changed slice, rebuilt
                                when next read after a full relist or a burst */
  bool index_stale;
  size_t index_changes; /* slices replaced in the index since it was last read */
  json_t *dirty;  /* pool -> true: pools to plan in the next round */
  bool all_dirty; /* plan every pool in the next round */
  bool synced;
  bool active;

  nd_timer *debounce;
  nd_timer *resync;
  nd_timer *recheck;
  unsigned pending; /* triggers that arrived while writes were in flight */
  bool in_flight; /* a write is outstanding */
  bool flush_now; /* the armed debounce timer reconciles when it fires (no quiet check) */
  bool changed;   /* changes arrived since the last reconcile began */
  uint64_t first_change_ms, last_change_ms; /* monotonic, of those changes */
  bool idle;
  uint64_t backoff_ms;

  nd_slice_op *queue; /* ops of the current reconcile, run in order */
  size_t n_queue, next_op;
  bool queue_failed;
  uint64_t retry_after_ms;
  uint64_t recheck_wall_ms; /* when the armed recheck timer fires */

  nd_reconciler_stats stats;
};

static const char *obj_name(const json_t *o) {
  return json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
}
static const char *obj_rv(const json_t *o) {
  return json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
}
static const char *obj_pool(const json_t *o) {
  return json_string_value(
      json_object_get(json_object_get(json_object_get(o, "spec"), "pool"), "name"));
}
/* Our driver's node-less slices: a slice with a nodeName belongs to a node plugin. */
static bool ours(const nd_reconciler *rc, const json_t *o) {
  const json_t *spec = json_object_get(o, "spec");
  const char *d = json_string_value(json_object_get(spec, "driver"));
  const char *node = json_string_value(json_object_get(spec, "nodeName"));
  return d != NULL && strcmp(d, rc->driver) == 0 && (node == NULL || *node == '\0') &&
         obj_name(o) != NULL && obj_pool(o) != NULL;
}

/* Resource versions are opaque, but integers in practice: compare them when they are. */
static int rv_cmp(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return 0;
  char *ea, *eb;
  errno = 0;
  unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
  if (errno != 0 || *ea != '\0' || *eb != '\0')
    return 0;
  return x < y ? -1 : x > y;
}

static void free_cached(void *slice) { nd_published_slice_free(slice); }

/* Slices replaced in the index one by one between two reads of it; past that (a burst of
 * writes, a first publication) the index is rebuilt once when next read instead. */
#define INDEX_MAX_REPLACES 8

/* A cached slice changes from old to fresh (either NULL): its entries in the published index
 * are replaced (one merge pass), or the index is marked for a rebuild. */
static void index_note(nd_reconciler *rc, const nd_published_slice *old,
                       const nd_published_slice *fresh) {
  if (rc->index_stale)
    return;
  if (++rc->index_changes > INDEX_MAX_REPLACES)
    rc->index_stale = true;
  else
    nd_published_index_replace(rc->index, old, fresh, rc->driver);
}

/* Put (the summary of) a fresher object into the cache; true when the cache changed. */
static bool cache_put(nd_reconciler *rc, const json_t *obj) {
  if (!ours(rc, obj))
    return false;
  const char *name = obj_name(obj);
  nd_published_slice *old = nd_strmap_get(rc->cache, name);
  const char *rv = obj_rv(obj);
  if (old != NULL && rv_cmp(rv, old->resource_version) < 0)
    return false;
  if (old != NULL && rv != NULL && old->resource_version != NULL &&
      strcmp(rv, old->resource_version) == 0)
    return false; /* the same version (the watch echo of a write already applied) */
  nd_published_slice *fresh = nd_published_slice_new(obj);
  if (fresh == NULL)
    abort(); /* ours() checked the name and the pool */
  if (old != NULL && nd_published_slice_same(old, fresh)) {
    nd_published_slice_free(fresh);
    return false;
  }
  index_note(rc, old, fresh);
  nd_published_slice_free(nd_strmap_put(rc->cache, name, fresh));
  return true;
}

/* The answer to a write of ours: cached as any object, and when the cached summary's spec is
 * the one sent, it is known to render from the plan the write came from (pool_sync.h,
 * nd_slice_op): the next round need not render it to find it unchanged. */
static void cache_put_written(nd_reconciler *rc, const nd_slice_op *op, const json_t *obj) {
  cache_put(rc, obj);
  nd_published_slice *now = nd_strmap_get(rc->cache, op->name);
  if (now != NULL && op->has_sent_fingerprint && !now->has_same_as_planned &&
      nd_spec_digest_equal(&now->digest, &op->sent_digest)) {
    now->same_as_planned = op->sent_fingerprint;
    now->has_same_as_planned = true;
    rc->stats.fingerprints_from_writes++;
  }
}

static bool cache_del(nd_reconciler *rc, const char *name, const char *rv) {
  nd_published_slice *old = nd_strmap_get(rc->cache, name);
  if (old == NULL)
    return false;
  if (rv != NULL && rv_cmp(rv, old->resource_version) < 0)
    return false; /* we already hold a newer incarnation */
  index_note(rc, old, NULL);
  nd_published_slice_free(nd_strmap_del(rc->cache, name));
  return true;
}

/* The cached summaries, optionally only those of one pool, sorted by name. */
static int cmp_slice_name(const void *a, const void *b) {
  return strcmp((*(nd_published_slice *const *)a)->name, (*(nd_published_slice *const *)b)->name);
}

static size_t cached_slices(const nd_reconciler *rc, const char *pool,
                            nd_published_slice ***out) {
  nd_published_slice **arr = calloc(nd_strmap_size(rc->cache) + 1, sizeof(*arr));
  if (arr == NULL)
    abort();
  size_t n = 0, pos = 0;
  const char *name;
  void *v;
  while (nd_strmap_next(rc->cache, &pos, &name, &v)) {
    nd_published_slice *sl = v;
    if (pool == NULL || strcmp(sl->pool, pool) == 0)
      arr[n++] = sl;
  }
  qsort(arr, n, sizeof(*arr), cmp_slice_name);
  *out = arr;
  return n;
}

nd_published_walk nd_reconciler_published(const nd_reconciler *crc, const char *pool) {
  nd_reconciler *rc = (nd_reconciler *)crc;
  rc->index_changes = 0;
  if (rc->index_stale) {
    nd_published_slice **all = NULL;
    size_t n = cached_slices(rc, NULL, &all);
    nd_published_index_build(rc->index, (const nd_published_slice *const *)all, n, rc->driver);
    free(all);
    rc->index_stale = false;
  }
  return nd_published_index_walk(rc->index, pool);
}

/* ---- triggers -------------------------------------------------------------------------- */

static void reconcile(nd_reconciler *rc);

/* Adaptive debounce. A change that finds the reconciler idle is planned and written at once
 * (on the next loop iteration, so that the rest of the current batch of events joins it).
 * One change that arrives while writes are in flight is written as soon as they end (a lone
 * change that happened to meet a write). Two or more are a burst: they are planned together
 * once no change has come for debounce_ms, or debounce_max_ms after the first of them,
 * whichever is sooner. Writing is self-clocked: one request in flight at a time. */
static void arm(nd_reconciler *rc, uint64_t delay_ms, bool flush_now) {
  rc->flush_now = flush_now;
  nd_timer_rearm(rc->debounce, delay_ms, 0);
}

static void schedule(nd_reconciler *rc) {
  uint64_t now = nd_now_ms();
  if (!rc->changed)
    rc->first_change_ms = now;
  rc->changed = true;
  rc->last_change_ms = now;
  rc->idle = false;
  if (rc->in_flight) {
    rc->pending++;
    return;
  }
  if (!nd_timer_armed(rc->debounce))
    arm(rc, 0, true);
}

void nd_reconciler_trigger(nd_reconciler *rc) {
  rc->all_dirty = true;
  schedule(rc);
}

void nd_reconciler_trigger_pool(nd_reconciler *rc, const char *pool) {
  if (!rc->all_dirty)
    json_object_set_new(rc->dirty, pool, json_true());
  schedule(rc);
}

static void on_debounce(nd_loop *loop, nd_timer *t, void *data) {
  nd_reconciler *rc = data;
  if (!rc->flush_now && rc->changed) {
    uint64_t now = nd_now_ms();
    uint64_t quiet_at = rc->last_change_ms + rc->opts.debounce_ms;
    uint64_t cap_at = rc->first_change_ms + rc->opts.debounce_max_ms;
    uint64_t at = quiet_at < cap_at ? quiet_at : cap_at;
    if (now < at) {
      arm(rc, at - now, false);
      return;
    }
  }
  reconcile(rc);
}
static void on_resync(nd_loop *loop, nd_timer *t, void *data) { nd_reconciler_trigger(data); }
static void on_recheck(nd_loop *loop, nd_timer *t, void *data) { nd_reconciler_trigger(data); }

/* ---- watch ----------------------------------------------------------------------------- */

static void on_watch(nd_k8s_client *c, nd_watch_event ev, json_t *obj, void *data) {
  nd_reconciler *rc = data;
  bool changed = false;
  rc->stats.watch_events++;
  switch (ev) {
  case ND_WATCH_SYNCED: {
    /* a (re)list: the cache becomes exactly the list (keeping fresher objects we wrote).
     * The watch delivers the list's slices as ADDED, page by page, and here only their
     * names (a list of 100,000 devices' slices is never one tree); full items are taken
     * too. */
    json_t *items = json_object_get(obj, "items");
    json_t *seen = json_object();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      bool full = json_object_get(it, "spec") != NULL;
      if (obj_name(it) == NULL || (full && !ours(rc, it)))
        continue;
      json_object_set_new(seen, obj_name(it), json_true());
      if (full)
        changed |= cache_put(rc, it);
    }
    nd_published_slice **cached = NULL;
    size_t n_cached = cached_slices(rc, NULL, &cached);
    for (size_t k = 0; k < n_cached; k++) {
      if (json_object_get(seen, cached[k]->name) == NULL) {
        nd_published_slice_free(nd_strmap_del(rc->cache, cached[k]->name));
        rc->index_stale = true;
        changed = true;
      }
    }
    free(cached);
    json_decref(seen);
    if (!rc->synced)
      ND_LOG_INFO("reconciler", "slices_synced", ND_KV_I("slices", nd_strmap_size(rc->cache)));
    rc->synced = true;
    changed = true;
    if (rc->opts.trim != NULL) /* the list's objects are gone; keep only their summaries */
      nd_memtrim_poke(rc->opts.trim);
    break;
  }
  case ND_WATCH_ADDED:
  case ND_WATCH_MODIFIED:
    changed = cache_put(rc, obj);
    break;
  case ND_WATCH_DELETED:
    if (obj_name(obj) != NULL && ours(rc, obj))
      changed = cache_del(rc, obj_name(obj), obj_rv(obj));
    break;
  case ND_WATCH_BOOKMARK:
    break;
  }
  if (!changed)
    return;
  /* the echo of the write in flight: its response decides what happens next (a change by
   * someone else in between makes that write fail with 409, which reconciles again) */
  if (ev != ND_WATCH_SYNCED && rc->in_flight && rc->next_op < rc->n_queue && obj_name(obj) &&
      strcmp(rc->queue[rc->next_op].name, obj_name(obj)) == 0)
    return;
  if (ev == ND_WATCH_SYNCED || obj_pool(obj) == NULL)
    rc->all_dirty = true;
  else if (!rc->all_dirty)
    json_object_set_new(rc->dirty, obj_pool(obj), json_true());
  if (rc->active)
    schedule(rc);
}

/* ---- writes ---------------------------------------------------------------------------- */

static void run_next(nd_reconciler *rc);

static void clear_queue(nd_reconciler *rc) {
  for (size_t i = 0; i < rc->n_queue; i++) {
    free(rc->queue[i].name);
    free(rc->queue[i].body);
  }
  free(rc->queue);
  rc->queue = NULL;
  rc->n_queue = rc->next_op = 0;
}

static const char *op_verb(nd_slice_op_kind k) {
  return k == ND_SLICE_DELETE ? "delete" : k == ND_SLICE_UPDATE ? "update" : "create";
}

typedef struct {
  nd_reconciler *rc;
  char *name;
} refetch_ctx;

static void on_refetch(nd_k8s_client *c, nd_k8s_result *r, void *data) {
  refetch_ctx *ctx = data;
  nd_reconciler *rc = ctx->rc;
  if (r->http_status == 200 && r->body != NULL)
    cache_put(rc, r->body);
  else if (r->http_status == 404)
    cache_del(rc, ctx->name, NULL);
  nd_k8s_result_clear(r);
  free(ctx->name);
  free(ctx);
  rc->in_flight = false;
  nd_reconciler_trigger(rc);
}

static void refetch(nd_reconciler *rc, const char *name) {
  refetch_ctx *ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL)
    abort();
  ctx->rc = rc;
  ctx->name = strdup(name);
  cleanup_free char *esc = nd_k8s_escape(name);
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s", rc->collection, esc) < 0)
    abort();
  cleanup_error nd_error_t err = NULL;
  rc->in_flight = true;
  if (nd_k8s_request_async(rc->k8s, "GET", path, NULL, NULL, on_refetch, ctx, &err) < 0) {
    ND_LOG_WARN("reconciler", "refetch_failed", ND_KV_S("slice", name),
                ND_KV_S("error", nd_error_msg(err)));
    rc->in_flight = false;
    free(ctx->name);
    free(ctx);
    nd_reconciler_trigger(rc);
  }
}

static void back_off(nd_reconciler *rc, int retry_after_s) {
  uint64_t max = rc->opts.max_backoff_ms;
  rc->backoff_ms = rc->backoff_ms == 0 ? 200 : rc->backoff_ms * 2;
  if (rc->backoff_ms > max)
    rc->backoff_ms = max;
  uint64_t delay = rc->backoff_ms;
  if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000u > delay)
    delay = (uint64_t)retry_after_s * 1000u;
  /* jitter: +0..25 % */
  delay += (uint64_t)(rand() % 256) * delay / 1024u;
  ND_LOG_WARN("reconciler", "backoff", ND_KV_I("delay_ms", delay));
  rc->all_dirty = true; /* the round did not finish: plan everything again */
  arm(rc, delay, true);
}

static void on_write_done(nd_k8s_client *c, nd_k8s_result *r, void *data) {
  nd_reconciler *rc = data;
  nd_slice_op *op = &rc->queue[rc->next_op];
  long st = r->http_status;
  rc->in_flight = false;
  bool ok = (st >= 200 && st < 300) || (op->kind == ND_SLICE_DELETE && st == 404);
  if (ok) {
    rc->stats.writes_ok[op->kind]++;
    rc->stats.writes[op->kind][ND_WRITE_OK]++;
    rc->backoff_ms = 0;
    if (op->kind == ND_SLICE_DELETE)
      cache_del(rc, op->name, NULL);
    else if (r->body != NULL)
      cache_put_written(rc, op, r->body);
    ND_LOG_INFO("reconciler", "slice_written", ND_KV_S("op", op_verb(op->kind)),
                ND_KV_S("slice", op->name), ND_KV_I("status", st));
    nd_k8s_result_clear(r);
    rc->next_op++;
    run_next(rc);
    return;
  }
  ND_LOG_WARN("reconciler", "slice_write_failed", ND_KV_S("op", op_verb(op->kind)),
              ND_KV_S("slice", op->name), ND_KV_I("status", st),
              ND_KV_S("reason", r->reason ? r->reason : ""),
              ND_KV_S("message", r->message ? r->message : ""));
  if (st == 409 || (st == 404 && op->kind == ND_SLICE_UPDATE)) {
    /* stale cache: refetch this slice, then reconcile on fresh state */
    rc->stats.writes_conflict++;
    rc->stats.writes[op->kind][ND_WRITE_CONFLICT]++;
    cleanup_free char *name = strdup(op->name);
    nd_k8s_result_clear(r);
    clear_queue(rc);
    refetch(rc, name);
    return;
  }
  if (st == 0 || st == 429 || st >= 500) {
    rc->stats.writes_retry++;
    rc->stats.writes[op->kind][ND_WRITE_RETRY]++;
    int ra = r->retry_after_s;
    nd_k8s_result_clear(r);
    clear_queue(rc);
    back_off(rc, ra);
    return;
  }
  /* any other 4xx: the object is wrong; go on with the rest, try again much later */
  rc->stats.writes_invalid++;
  rc->stats.writes[op->kind][ND_WRITE_INVALID]++;
  rc->queue_failed = true;
  nd_k8s_result_clear(r);
  rc->next_op++;
  run_next(rc);
}

static void run_next(nd_reconciler *rc) {
  if (!rc->active) { /* lost leadership: stop writing */
    clear_queue(rc);
    return;
  }
  while (rc->next_op < rc->n_queue) {
    nd_slice_op *op = &rc->queue[rc->next_op];
    cleanup_free char *esc = nd_k8s_escape(op->name);
    cleanup_free char *path = NULL;
    const char *method;
    if (op->kind == ND_SLICE_CREATE) {
      method = "POST";
      path = strdup(rc->collection);
    } else {
      method = op->kind == ND_SLICE_UPDATE ? "PUT" : "DELETE";
      if (asprintf(&path, "%s/%s", rc->collection, esc) < 0)
        abort();
    }
    if (path == NULL)
      abort();
    cleanup_error nd_error_t err = NULL;
    rc->in_flight = true; /* the queue holds bodies as text, and they are sent as they are */
    if (nd_k8s_request_text_async(rc->k8s, method, path, op->body, NULL, on_write_done, rc,
                                  &err) == 0)
      return;
    rc->in_flight = false;
    ND_LOG_WARN("reconciler", "request_failed", ND_KV_S("slice", op->name),
                ND_KV_S("error", nd_error_msg(err)));
    clear_queue(rc);
    back_off(rc, 0);
    return;
  }
  clear_queue(rc);
  if (rc->queue_failed) {
    rc->queue_failed = false;
    rc->all_dirty = true;
    arm(rc, rc->opts.max_backoff_ms, true);
    return;
  }
  if (rc->pending == 1) { /* one change came while writing: write it now */
    rc->pending = 0;
    if (!nd_timer_armed(rc->debounce))
      arm(rc, 0, true);
    return;
  }
  if (rc->pending) { /* changes came while writing: a burst; wait for it to settle */
    rc->pending = 0;
    if (!nd_timer_armed(rc->debounce))
      arm(rc, rc->opts.debounce_ms, false);
    return;
  }
  /* settled: the plans and the bodies of the rounds are freed; trim the heap they left (not
   * after every round of a burst: a trim blocks the loop, and a debounce timer that fires
   * right after it would see a stale quiet period and cut the burst) */
  rc->idle = true;
  if (rc->opts.trim != NULL)
    nd_memtrim_poke(rc->opts.trim);
}

/* ---- reconcile ------------------------------------------------------------------------- */

static void append_sync(nd_reconciler *rc, nd_pool_sync *s) {
  if (s->n_ops == 0)
    return;
  nd_slice_op *q = realloc(rc->queue, (rc->n_queue + s->n_ops) * sizeof(*q));
  if (q == NULL)
    abort();
  rc->queue = q;
  memcpy(rc->queue + rc->n_queue, s->ops, s->n_ops * sizeof(*q));
  rc->n_queue += s->n_ops;
  free(s->ops);
  s->ops = NULL;
  s->n_ops = 0;
}

static void reconcile(nd_reconciler *rc) {
  if (!rc->active || !rc->synced)
    return;
  if (rc->in_flight) {
    rc->pending++;
    return;
  }
  rc->stats.reconciles++;
  rc->pending = 0;
  rc->changed = false;
  nd_timer_disarm(rc->debounce);
  bool all = rc->all_dirty;
  cleanup_json json_t *only = all ? NULL : json_incref(rc->dirty);
  rc->all_dirty = false;
  json_decref(rc->dirty);
  rc->dirty = json_object();
  if (only != NULL && json_object_size(only) == 0) {
    rc->idle = true; /* nothing to plan */
    return;
  }
  if (!all)
    rc->stats.partial_reconciles++;
  nd_planned_pool *pools = NULL;
  size_t n_pools = 0;
  uint64_t recheck = 0;
  cleanup_error nd_error_t err = NULL;
  if (rc->plan(rc, only, &pools, &n_pools, &recheck, rc->plan_data, &err) < 0) {
    ND_LOG_WARN("reconciler", "plan_failed", ND_KV_S("error", nd_error_msg(err)));
    back_off(rc, 0);
    return;
  }
  clear_queue(rc);
  json_t *planned = json_object();
  for (size_t i = 0; i < n_pools; i++) {
    json_object_set_new(planned, pools[i].pool, json_true());
    nd_published_slice **existing = NULL;
    size_t n_existing = cached_slices(rc, pools[i].pool, &existing);
    nd_pool_sync s;
    nd_pool_sync_compute(&pools[i], existing, n_existing, rc->api_version, rc->opts.always_bump,
                         &s);
    rc->stats.slices_compared += s.n_compared;
    if (s.n_ops > 0)
      ND_LOG_INFO("reconciler", "pool_changed", ND_KV_S("pool", pools[i].pool),
                  ND_KV_I("generation", s.generation), ND_KV_I("writes", s.n_ops));
    append_sync(rc, &s);
    nd_pool_sync_clear(&s);
    free(existing);
    nd_planned_pool_clear(&pools[i]);
  }
  free(pools);
  /* pools (of this round) that are no longer planned: delete all of their slices */
  json_t *gone = json_object();
  size_t pos = 0;
  const char *name;
  void *v_slice;
  while (nd_strmap_next(rc->cache, &pos, &name, &v_slice)) {
    const char *slice_pool = ((const nd_published_slice *)v_slice)->pool;
    if (json_object_get(planned, slice_pool) == NULL &&
        (only == NULL || json_object_get(only, slice_pool) != NULL))
      json_object_set_new(gone, slice_pool, json_true());
  }
  const char *pool;
  json_t *v;
  json_object_foreach(gone, pool, v) {
    nd_published_slice **existing = NULL;
    size_t n_existing = cached_slices(rc, pool, &existing);
    nd_pool_sync s;
    nd_pool_sync_compute(NULL, existing, n_existing, rc->api_version, false, &s);
    ND_LOG_INFO("reconciler", "pool_removed", ND_KV_S("pool", pool), ND_KV_I("writes", s.n_ops));
    append_sync(rc, &s);
    nd_pool_sync_clear(&s);
    free(existing);
  }
  json_decref(gone);
  json_decref(planned);
  /* deletes of every pool first, then updates, then creates (stable within a kind) */
  nd_slice_op *sorted = calloc(rc->n_queue + 1, sizeof(*sorted));
  if (sorted == NULL)
    abort();
  size_t k = 0;
  for (int kind = ND_SLICE_DELETE; kind <= ND_SLICE_CREATE; kind++)
    for (size_t i = 0; i < rc->n_queue; i++)
      if ((int)rc->queue[i].kind == kind)
        sorted[k++] = rc->queue[i];
  free(rc->queue);
  rc->queue = sorted;

  if (recheck != 0 && (!nd_timer_armed(rc->recheck) || recheck < rc->recheck_wall_ms)) {
    uint64_t now = nd_wall_ms();
    rc->recheck_wall_ms = recheck;
    nd_timer_rearm(rc->recheck, recheck > now ? recheck - now + 10 : 10, 0);
  }
  rc->next_op = 0;
  run_next(rc);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

nd_reconciler *nd_reconciler_new(nd_loop *loop, nd_k8s_client *k8s,
                                 const nd_reconciler_options *opts, nd_plan_fn plan, void *data,
                                 nd_error_t *err) {
  nd_reconciler *rc = calloc(1, sizeof(*rc));
  if (rc == NULL)
    abort();
  rc->loop = loop;
  rc->k8s = k8s;
  rc->opts = *opts;
  if (rc->opts.debounce_ms == 0)
    rc->opts.debounce_ms = 100;
  if (rc->opts.debounce_max_ms < rc->opts.debounce_ms)
    rc->opts.debounce_max_ms = rc->opts.debounce_ms > 3000 ? rc->opts.debounce_ms : 3000;
  if (rc->opts.resync_ms == 0)
    rc->opts.resync_ms = 60000;
  if (rc->opts.max_backoff_ms == 0)
    rc->opts.max_backoff_ms = 30000;
  rc->driver = strdup(opts->driver);
  rc->api_version = strdup(opts->api_version ? opts->api_version : "v1");
  if (asprintf(&rc->collection, "/apis/resource.k8s.io/%s/resourceslices", rc->api_version) < 0)
    abort();
  rc->opts.driver = rc->driver;
  rc->opts.api_version = rc->api_version;
  rc->plan = plan;
  rc->plan_data = data;
  rc->cache = nd_strmap_new();
  if (rc->cache == NULL)
    abort();
  rc->index = nd_published_index_new();
  rc->index_stale = true;
  rc->dirty = json_object();
  rc->debounce = nd_loop_add_timer(loop, 0, 0, on_debounce, rc, err);
  rc->resync = nd_loop_add_timer(loop, rc->opts.resync_ms, rc->opts.resync_ms, on_resync, rc, err);
  rc->recheck = nd_loop_add_timer(loop, 0, 0, on_recheck, rc, err);
  if (rc->debounce == NULL || rc->resync == NULL || rc->recheck == NULL) {
    nd_reconciler_free(rc);
    return NULL;
  }
  nd_timer_disarm(rc->debounce);
  nd_timer_disarm(rc->recheck);
  return rc;
}

int nd_reconciler_start(nd_reconciler *rc, nd_error_t *err) {
  cleanup_free char *drv = nd_k8s_escape(rc->driver);
  cleanup_free char *query = NULL;
  /* only node-less slices are ours: node plugins own the slices with a nodeName (an empty
   * spec.nodeName selects slices without one) */
  if (asprintf(&query, "fieldSelector=spec.driver%%3D%s%%2Cspec.nodeName%%3D", drv) < 0)
    abort();
  /* small pages, each slice delivered as it arrives: no tree of the whole list */
  nd_k8s_watch_options wopts = {.list_page = LIST_PAGE_SLICES, .list_items_as_added = true};
  rc->watch = nd_k8s_watch_start_opts(rc->k8s, rc->collection, query, &wopts, on_watch, rc, err);
  if (rc->watch == NULL)
    return nd_error_wrap(err, "watching %s", rc->collection);
  return 0;
}

void nd_reconciler_set_active(nd_reconciler *rc, bool active) {
  if (rc->active == active)
    return;
  rc->active = active;
  if (active) {
    rc->backoff_ms = 0;
    nd_reconciler_trigger(rc);
  } else {
    nd_timer_disarm(rc->debounce);
    rc->all_dirty = true; /* a later leadership starts from a full round */
  }
}

bool nd_reconciler_synced(const nd_reconciler *rc) { return rc->synced; }
bool nd_reconciler_idle(const nd_reconciler *rc) { return rc->idle && !rc->in_flight; }
const nd_reconciler_stats *nd_reconciler_get_stats(const nd_reconciler *rc) { return &rc->stats; }
size_t nd_reconciler_slice_count(const nd_reconciler *rc) { return nd_strmap_size(rc->cache); }

void nd_reconciler_stop(nd_reconciler *rc) {
  rc->active = false;
  if (rc->watch != NULL)
    nd_k8s_watch_stop(rc->watch);
  rc->watch = NULL;
}

void nd_reconciler_free(nd_reconciler *rc) {
  if (rc == NULL)
    return;
  nd_reconciler_stop(rc);
  if (rc->debounce)
    nd_loop_del_timer(rc->loop, rc->debounce);
  if (rc->resync)
    nd_loop_del_timer(rc->loop, rc->resync);
  if (rc->recheck)
    nd_loop_del_timer(rc->loop, rc->recheck);
  clear_queue(rc);
  nd_strmap_free(rc->cache, free_cached);
  nd_published_index_free(rc->index);
  json_decref(rc->dirty);
  free(rc->driver);
  free(rc->api_version);
  free(rc->collection);
  free(rc);
}
