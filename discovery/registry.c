/* registry.c: the device registry (discovery.h). One model whatever the source:
 *  - naming: a device's name is its id sanitised into a DNS label (lib/names.h: ids that are
 *    already labels stay as they are, others get a stable hash suffix), unique per pool (a
 *    residual clash gets "-2", "-3", ...), kept for as long as any source holds the device;
 *  - precedence: when several sources describe the same pool+id, static > mqtt > mdns wins;
 *  - health: online -> stale when a device with a ttl misses it, stale -> offline after
 *    stale_after_ms, offline (also at once on a last will / goodbye) -> removed after
 *    offline_grace_ms; a heartbeat brings it back online;
 *  - changes: collected and handed to the subscriber once per loop iteration (nd_loop_defer);
 *  - bounds: devices per source and per pool, with clear errors;
 *  - storage: devices are held in their compact form (device_compact.h: one slab block each,
 *    repeated strings shared through the registry's intern table); a device slot holds its
 *    id and name in the same block (of the same slab), and the pool's indexes borrow them
 *    as keys. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "device_compact.h"
#include "discovery.h"
#include "grow.h"
#include "intern.h"
#include "log.h"
#include "slab.h"
#include "names.h"
#include "strmap.h"

#define N_SOURCES 3
#define SWEEP_MS 1000
#define DEFAULT_MAX_DEVICES 100000
#define DEFAULT_STALE_AFTER_MS 30000
#define DEFAULT_OFFLINE_GRACE_MS 300000

typedef struct {
  nd_device *by_source[N_SOURCES]; /* precedence order; compact devices */
  const char *id;                  /* in chars, after name */
  char name[];                     /* then id */
} dev_slot;

typedef struct {
  char *name;
  nd_strmap *by_id;   /* id -> dev_slot (keys borrowed from the slots) */
  nd_strmap *by_name; /* name -> dev_slot (same) */
  /* the effective devices by name, built on first use and then kept up to date one entry per
   * change (a sort of the pool per change cost 37 % of the controller's CPU at 10,000 devices) */
  const nd_device **sorted;
  size_t n_sorted, cap_sorted;
  size_t shifted; /* insertions and removals in the view since it was last read */
} pool;

typedef struct {
  nd_change_kind kind;
  char *pool, *name;
} pending_change;

struct nd_registry {
  nd_loop *loop;
  nd_device_storage storage; /* compact devices and the slots (device_compact.h) */
  nd_registry_options opts;
  nd_strmap *pools;
  const char **pool_names;
  size_t n_pool_names;
  bool pools_dirty;
  size_t per_source[N_SOURCES];
  size_t count;
  uint64_t last_revision; /* the last nd_device.revision given */
  pending_change *pending;
  size_t n_pending, cap_pending;
  bool flush_scheduled;
  nd_registry_cb cb;
  void *cb_data;
  nd_timer *sweeper;
};

static int source_index(const char *source) {
  if (strcmp(source, "static") == 0)
    return 0;
  if (strcmp(source, "mqtt") == 0)
    return 1;
  if (strcmp(source, "mdns") == 0)
    return 2;
  return -1;
}

static nd_device *effective(const dev_slot *s) {
  for (int i = 0; i < N_SOURCES; i++)
    if (s->by_source[i])
      return s->by_source[i];
  return NULL;
}

static void flush(nd_loop *loop, void *data) {
  nd_registry *r = data;
  r->flush_scheduled = false;
  size_t n = r->n_pending;
  pending_change *pc = r->pending;
  r->pending = NULL;
  r->n_pending = r->cap_pending = 0;
  if (n == 0)
    return;
  nd_change *changes = calloc(n, sizeof(*changes));
  for (size_t i = 0; i < n; i++)
    changes[i] = (nd_change){.kind = pc[i].kind, .pool = pc[i].pool, .name = pc[i].name};
  if (r->cb)
    r->cb(r, changes, n, r->cb_data);
  for (size_t i = 0; i < n; i++) {
    free(pc[i].pool);
    free(pc[i].name);
  }
  free(pc);
  free(changes);
}

/* Where `name` is, or would be inserted, in the pool's sorted view. */
static size_t sorted_position(const pool *p, const char *name, bool *found) {
  size_t lo = 0, hi = p->n_sorted;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(p->sorted[mid]->name, name);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

/* Inserting into or removing from the view moves its tail; past this many before it is read
 * again (a burst of new or gone devices) it is dropped and sorted afresh when next read. */
#define SORTED_MAX_SHIFTS 32

static void sorted_drop(pool *p) {
  free(p->sorted);
  p->sorted = NULL;
  p->n_sorted = p->cap_sorted = 0;
}

/* The sorted view (when built) now holds d for its name: replaced, or inserted. */
static void sorted_put(pool *p, const nd_device *d) {
  if (p->sorted == NULL)
    return;
  bool found;
  size_t at = sorted_position(p, d->name, &found);
  if (found) {
    p->sorted[at] = d;
    return;
  }
  if (++p->shifted > SORTED_MAX_SHIFTS) {
    sorted_drop(p);
    return;
  }
  /* grows by an eighth: pools hold up to 100,000s */
  p->sorted = nd_grow_gently(p->sorted, &p->cap_sorted, p->n_sorted + 1, sizeof(*p->sorted), 16);
  memmove(p->sorted + at + 1, p->sorted + at, (p->n_sorted - at) * sizeof(*p->sorted));
  p->sorted[at] = d;
  p->n_sorted++;
}

/* The sorted view (when built) no longer holds `name`. */
static void sorted_del(pool *p, const char *name) {
  if (p->sorted == NULL)
    return;
  bool found;
  size_t at = sorted_position(p, name, &found);
  if (!found)
    return;
  if (++p->shifted > SORTED_MAX_SHIFTS) {
    sorted_drop(p);
    return;
  }
  memmove(p->sorted + at, p->sorted + at + 1, (p->n_sorted - at - 1) * sizeof(*p->sorted));
  p->n_sorted--;
}

static void note_change(nd_registry *r, nd_change_kind kind, pool *p, const char *name) {
  ND_GROW(r->pending, r->cap_pending, r->n_pending + 1, 64);
  r->pending[r->n_pending++] = (pending_change){.kind = kind, .pool = strdup(p->name), .name = strdup(name)};
  if (!r->flush_scheduled) {
    r->flush_scheduled = true;
    nd_loop_defer(r->loop, flush, r);
  }
}

static pool *get_pool(nd_registry *r, const char *name, bool create) {
  pool *p = nd_strmap_get(r->pools, name);
  if (p || !create)
    return p;
  p = calloc(1, sizeof(*p));
  p->name = strdup(name);
  p->by_id = nd_strmap_new_borrowed();
  p->by_name = nd_strmap_new_borrowed();
  nd_strmap_put(r->pools, name, p);
  r->pools_dirty = true;
  return p;
}

static size_t slot_size(const char *id, const char *name) {
  return sizeof(dev_slot) + strlen(name) + 1 + strlen(id) + 1;
}

/* A slot for device `id` named `name`, both copied into the slot's own block. */
static dev_slot *new_slot(nd_registry *r, const char *id, const char *name) {
  size_t nl = strlen(name) + 1, il = strlen(id) + 1;
  dev_slot *s = nd_slab_alloc(r->storage.memory, slot_size(id, name));
  memset(s, 0, sizeof(*s));
  memcpy(s->name, name, nl);
  memcpy(s->name + nl, id, il);
  s->id = s->name + nl;
  return s;
}

static void free_slot(nd_registry *r, dev_slot *s) {
  for (int i = 0; i < N_SOURCES; i++)
    nd_device_compact_free(s->by_source[i], &r->storage);
  nd_slab_release(r->storage.memory, s, slot_size(s->id, s->name));
}

static void free_pool(nd_registry *r, pool *p) {
  size_t pos = 0;
  const char *id;
  void *s;
  while (nd_strmap_next(p->by_id, &pos, &id, &s))
    free_slot(r, s);
  nd_strmap_free(p->by_id, NULL);
  nd_strmap_free(p->by_name, NULL);
  free(p->sorted);
  free(p->name);
  free(p);
}

/* ---- sweeping health --------------------------------------------------------------------- */

static void remove_source_device(nd_registry *r, pool *p, dev_slot *s, int src, const char *id);

static void sweep(nd_loop *loop, nd_timer *t, void *data) {
  nd_registry *r = data;
  uint64_t now = nd_wall_ms();
  size_t ppos = 0;
  const char *pname;
  void *pv;
  /* collect removals first: the maps must not change while iterating */
  struct removal {
    pool *p;
    char *id;
    int src;
  } *removals = NULL;
  size_t n_removals = 0, cap = 0;
  while (nd_strmap_next(r->pools, &ppos, &pname, &pv)) {
    pool *p = pv;
    size_t pos = 0;
    const char *id;
    void *sv;
    while (nd_strmap_next(p->by_id, &pos, &id, &sv)) {
      dev_slot *s = sv;
      for (int i = 0; i < N_SOURCES; i++) {
        nd_device *d = s->by_source[i];
        if (d == NULL)
          continue;
        nd_health before = d->health;
        if (d->health == ND_HEALTH_ONLINE && d->ttl_s > 0 &&
            now - d->last_seen_ms > (uint64_t)d->ttl_s * 1000u) {
          d->health = ND_HEALTH_STALE;
          d->health_since_ms = now;
        } else if (d->health == ND_HEALTH_STALE && now - d->health_since_ms > r->opts.stale_after_ms) {
          d->health = ND_HEALTH_OFFLINE;
          d->health_since_ms = now;
        } else if (d->health == ND_HEALTH_OFFLINE &&
                   now - d->health_since_ms > r->opts.offline_grace_ms) {
          ND_GROW(removals, cap, n_removals + 1, 16);
          removals[n_removals++] = (struct removal){.p = p, .id = strdup(id), .src = i};
          continue;
        }
        if (d->health != before && d == effective(s)) {
          ND_LOG_INFO("registry", "health", ND_KV_S("pool", p->name), ND_KV_S("device", s->name),
                      ND_KV_S("health", d->health == ND_HEALTH_STALE ? "stale" : "offline"));
          note_change(r, ND_CHANGE_HEALTH, p, s->name);
        }
      }
    }
  }
  for (size_t i = 0; i < n_removals; i++) {
    dev_slot *s = nd_strmap_get(removals[i].p->by_id, removals[i].id);
    if (s) {
      ND_LOG_INFO("registry", "device-expired", ND_KV_S("pool", removals[i].p->name),
                  ND_KV_S("device", s->name));
      remove_source_device(r, removals[i].p, s, removals[i].src, removals[i].id);
    }
    free(removals[i].id);
  }
  free(removals);
}

/* ---- public ------------------------------------------------------------------------------- */

nd_registry *nd_registry_new(nd_loop *loop, const nd_registry_options *opts, nd_error_t *err) {
  nd_registry *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return nd_error_make(err, ENOMEM, "allocating registry"), NULL;
  r->loop = loop;
  if (opts)
    r->opts = *opts;
  if (r->opts.max_devices_per_source == 0)
    r->opts.max_devices_per_source = DEFAULT_MAX_DEVICES;
  if (r->opts.max_devices_per_pool == 0)
    r->opts.max_devices_per_pool = DEFAULT_MAX_DEVICES;
  if (r->opts.stale_after_ms == 0)
    r->opts.stale_after_ms = DEFAULT_STALE_AFTER_MS;
  if (r->opts.offline_grace_ms == 0)
    r->opts.offline_grace_ms = DEFAULT_OFFLINE_GRACE_MS;
  r->pools = nd_strmap_new();
  r->storage.strings = nd_intern_new();
  r->storage.memory = nd_slab_new();
  r->sweeper = nd_loop_add_timer(loop, SWEEP_MS, SWEEP_MS, sweep, r, err);
  if (r->sweeper == NULL) {
    nd_registry_free(r);
    return NULL;
  }
  return r;
}

void nd_registry_free(nd_registry *r) {
  if (r == NULL)
    return;
  if (r->sweeper)
    nd_loop_del_timer(r->loop, r->sweeper);
  for (size_t i = 0; i < r->n_pending; i++) {
    free(r->pending[i].pool);
    free(r->pending[i].name);
  }
  free(r->pending);
  r->pending = NULL;
  r->n_pending = 0;
  r->cb = NULL;
  size_t pos = 0;
  const char *name;
  void *p;
  while (nd_strmap_next(r->pools, &pos, &name, &p))
    free_pool(r, p);
  nd_strmap_free(r->pools, NULL);
  nd_intern_free(r->storage.strings);
  nd_slab_free(r->storage.memory);
  free(r->pool_names);
  if (r->flush_scheduled)
    nd_loop_cancel_defer(r->loop, flush, r);
  free(r);
}

void nd_registry_subscribe(nd_registry *r, nd_registry_cb cb, void *data) {
  r->cb = cb;
  r->cb_data = data;
}

/* A new slot for id with a free name in p (not yet in p's indexes), or NULL with err. */
static dev_slot *named_slot(nd_registry *r, pool *p, const char *id, nd_error_t *err) {
  char base[ND_DNS_LABEL_MAX + 1];
  nd_name_sanitize_dns_label(id, strlen(id), base);
  if (nd_strmap_get(p->by_name, base) == NULL)
    return new_slot(r, id, base);
  for (int n = 2; n < 1000; n++) {
    char cand[ND_DNS_LABEL_MAX + 1], suffix[8];
    int sl = snprintf(suffix, sizeof(suffix), "-%d", n);
    size_t keep = strlen(base);
    if (keep + (size_t)sl > ND_DNS_LABEL_MAX)
      keep = ND_DNS_LABEL_MAX - (size_t)sl;
    while (keep > 0 && base[keep - 1] == '-')
      keep--;
    snprintf(cand, sizeof(cand), "%.*s%s", (int)keep, base, suffix);
    if (nd_strmap_get(p->by_name, cand) == NULL)
      return new_slot(r, id, cand);
  }
  nd_error_make(err, EEXIST, "device id \"%s\": no free name in pool %s", id, p->name);
  return NULL;
}

int nd_registry_upsert(nd_registry *r, nd_device *d, nd_error_t *err) {
  int src = source_index(d->source);
  if (src < 0) {
    nd_error_make(err, EINVAL, "unknown source \"%s\"", d->source);
    nd_device_free(d);
    return -1;
  }
  pool *p = get_pool(r, d->pool, true);
  dev_slot *s = nd_strmap_get(p->by_id, d->id);
  bool new_slot = s == NULL;
  if (s == NULL || s->by_source[src] == NULL) {
    if (r->per_source[src] >= r->opts.max_devices_per_source) {
      nd_error_make(err, ENOSPC, "source %s already holds %zu devices (the limit)", d->source,
                    r->opts.max_devices_per_source);
      nd_device_free(d);
      return -1;
    }
    if (new_slot && nd_strmap_size(p->by_id) >= r->opts.max_devices_per_pool) {
      nd_error_make(err, ENOSPC, "pool %s already holds %zu devices (the limit)", p->name,
                    r->opts.max_devices_per_pool);
      nd_device_free(d);
      return -1;
    }
  }
  if (new_slot) {
    s = named_slot(r, p, d->id, err);
    if (s == NULL) {
      nd_device_free(d);
      return -1;
    }
    nd_strmap_put(p->by_id, s->id, s);
    nd_strmap_put(p->by_name, s->name, s);
    r->count++;
  }
  /* from here on the registry's compact copy, named by the slot */
  nd_device *announced = d;
  d = nd_device_compact(announced, s->name, &r->storage);
  nd_device_free(announced);
  nd_device *before = effective(s);
  nd_device *old = s->by_source[src];
  bool same = old != NULL && nd_device_equal(old, d);
  d->revision = same ? old->revision : ++r->last_revision;
  if (old) {
    /* the source describes the same device again: liveness is its own business */
    d->health = old->health;
    d->health_since_ms = old->health_since_ms;
    d->last_seen_ms = old->last_seen_ms;
  } else {
    r->per_source[src]++;
  }
  s->by_source[src] = d;
  nd_device *after = effective(s);
  sorted_put(p, after); /* the view holds device pointers: a new one even without a change */
  if (new_slot) {
    ND_LOG_INFO("registry", "device-added", ND_KV_S("pool", p->name), ND_KV_S("device", s->name),
                ND_KV_S("id", d->id), ND_KV_S("type", d->type), ND_KV_S("source", d->source));
    note_change(r, ND_CHANGE_ADDED, p, s->name);
  } else if (after == d && (before != old || !same)) {
    /* the effective device changed source, or its source described it differently */
    note_change(r, ND_CHANGE_UPDATED, p, s->name);
  }
  nd_device_compact_free(old, &r->storage);
  return 0;
}

static void remove_source_device(nd_registry *r, pool *p, dev_slot *s, int src, const char *id) {
  nd_device *before = effective(s);
  nd_device *gone = s->by_source[src];
  if (gone == NULL)
    return;
  s->by_source[src] = NULL;
  r->per_source[src]--;
  nd_device *after = effective(s);
  if (after == NULL) /* while gone, which the view may hold, can still be compared */
    sorted_del(p, s->name);
  else
    sorted_put(p, after);
  nd_device_compact_free(gone, &r->storage);
  if (after == NULL) {
    ND_LOG_INFO("registry", "device-removed", ND_KV_S("pool", p->name), ND_KV_S("device", s->name));
    note_change(r, ND_CHANGE_REMOVED, p, s->name);
    nd_strmap_del(p->by_name, s->name);
    nd_strmap_del(p->by_id, id);
    free_slot(r, s);
    r->count--;
  } else if (before != after) {
    note_change(r, ND_CHANGE_UPDATED, p, s->name);
  }
}

int nd_registry_remove(nd_registry *r, const char *source, const char *pool_name, const char *id) {
  int src = source_index(source);
  pool *p = src >= 0 ? get_pool(r, pool_name, false) : NULL;
  dev_slot *s = p ? nd_strmap_get(p->by_id, id) : NULL;
  if (s == NULL || s->by_source[src] == NULL)
    return -1;
  remove_source_device(r, p, s, src, id);
  return 0;
}

static nd_device *source_device(nd_registry *r, const char *source, const char *pool_name,
                                const char *id, pool **pp, dev_slot **sp) {
  int src = source_index(source);
  pool *p = src >= 0 ? get_pool(r, pool_name, false) : NULL;
  dev_slot *s = p ? nd_strmap_get(p->by_id, id) : NULL;
  *pp = p;
  *sp = s;
  return s ? s->by_source[src] : NULL;
}

int nd_registry_set_health(nd_registry *r, const char *source, const char *pool_name,
                           const char *id, nd_health health) {
  pool *p;
  dev_slot *s;
  nd_device *d = source_device(r, source, pool_name, id, &p, &s);
  if (d == NULL)
    return -1;
  uint64_t now = nd_wall_ms();
  if (health == ND_HEALTH_ONLINE)
    d->last_seen_ms = now;
  if (d->health == health)
    return 0;
  d->health = health;
  d->health_since_ms = now;
  if (d == effective(s)) {
    static const char *const names[] = {"online", "stale", "offline"};
    ND_LOG_INFO("registry", "health", ND_KV_S("pool", p->name), ND_KV_S("device", s->name),
                ND_KV_S("health", names[health]));
    note_change(r, ND_CHANGE_HEALTH, p, s->name);
  }
  return 0;
}

int nd_registry_touch(nd_registry *r, const char *source, const char *pool_name, const char *id) {
  return nd_registry_set_health(r, source, pool_name, id, ND_HEALTH_ONLINE);
}

size_t nd_registry_count(const nd_registry *r) { return r->count; }

const nd_device *nd_registry_find(const nd_registry *r, const char *pool_name, const char *name) {
  pool *p = nd_strmap_get(r->pools, pool_name);
  dev_slot *s = p ? nd_strmap_get(p->by_name, name) : NULL;
  return s ? effective(s) : NULL;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_dev(const void *a, const void *b) {
  return strcmp((*(const nd_device *const *)a)->name, (*(const nd_device *const *)b)->name);
}

size_t nd_registry_pools(const nd_registry *cr, const char ***pools) {
  nd_registry *r = (nd_registry *)cr;
  if (r->pools_dirty || r->pool_names == NULL) {
    free(r->pool_names);
    r->n_pool_names = nd_strmap_size(r->pools);
    r->pool_names = calloc(r->n_pool_names + 1, sizeof(char *));
    size_t pos = 0, i = 0;
    const char *k;
    void *v;
    while (nd_strmap_next(r->pools, &pos, &k, &v))
      r->pool_names[i++] = ((pool *)v)->name;
    qsort(r->pool_names, r->n_pool_names, sizeof(char *), cmp_str);
    r->pools_dirty = false;
  }
  *pools = r->pool_names;
  return r->n_pool_names;
}

size_t nd_registry_pool_devices(const nd_registry *cr, const char *pool_name,
                                const nd_device ***devices) {
  nd_registry *r = (nd_registry *)cr;
  pool *p = nd_strmap_get(r->pools, pool_name);
  if (p == NULL) {
    *devices = NULL;
    return 0;
  }
  p->shifted = 0;
  if (p->sorted == NULL) {
    p->n_sorted = nd_strmap_size(p->by_id);
    p->cap_sorted = p->n_sorted + 1;
    p->sorted = calloc(p->cap_sorted, sizeof(nd_device *));
    if (p->sorted == NULL)
      abort();
    size_t pos = 0, i = 0;
    const char *k;
    void *v;
    while (nd_strmap_next(p->by_id, &pos, &k, &v))
      p->sorted[i++] = effective(v);
    qsort(p->sorted, p->n_sorted, sizeof(nd_device *), cmp_dev);
  }
  *devices = p->sorted;
  return p->n_sorted;
}
