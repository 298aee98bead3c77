/* health_taints.c: taint decisions with hysteresis (see health_taints.h).
 *
 * State is kept only for devices that need it: tainted, offline or stale, or lifted while
 * their published slice still shows the taint. An online device with no state and no
 * published taint is untainted and leaves nothing behind, so a healthy pool of 100,000
 * devices keeps no table at all (it took about 8 MB). The state is compact: per pool an
 * open-addressing table of 32-byte entries (the name is an offset into the pool's block of
 * names) instead of a JSON object per device. */
#include "health_taints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "grow.h"
#include "strmap.h"

typedef struct {
  uint64_t since_ms;        /* when the taint was added */
  uint64_t online_since_ms; /* tainted and online: since when (0: not online) */
  uint32_t name;            /* offset of the name in the pool's names */
  uint32_t hash;
  uint32_t round;           /* the last round that decided it */
  bool tainted;
  bool used;                /* the slot holds an entry */
} entry;

typedef struct {
  entry *slots;
  size_t cap, size; /* cap: a power of two, at most 3/4 full */
  char *names;      /* NUL-terminated names, appended */
  size_t names_len, names_cap;
} pool_table;

struct nd_health_taints {
  uint64_t hysteresis_ms;
  nd_strmap *pools; /* pool -> pool_table */
  uint32_t round;
};

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (p == NULL)
    abort();
  return p;
}

static void table_free(void *p) {
  pool_table *t = p;
  if (t == NULL)
    return;
  free(t->slots);
  free(t->names);
  free(t);
}

static entry *slot_for(const pool_table *t, const char *name, uint32_t hash) {
  size_t i = hash & (t->cap - 1);
  while (t->slots[i].used &&
         (t->slots[i].hash != hash || strcmp(t->names + t->slots[i].name, name) != 0))
    i = (i + 1) & (t->cap - 1);
  return &t->slots[i];
}

static uint32_t add_name(pool_table *t, const char *name) {
  size_t len = strlen(name) + 1;
  ND_GROW(t->names, t->names_cap, t->names_len + len, 256);
  if (t->names_cap > UINT32_MAX) /* names are found by 32-bit offsets */
    abort();
  memcpy(t->names + t->names_len, name, len);
  uint32_t off = (uint32_t)t->names_len;
  t->names_len += len;
  return off;
}

/* Rehash t into a table with room for at least `want` entries, keeping every entry, or (filter)
 * only those of round only_round; the names are compacted. */
static void rebuild(pool_table *t, size_t want, uint32_t only_round, bool filter) {
  size_t cap = 16;
  while (cap * 3 / 4 < want + 1)
    cap *= 2;
  pool_table fresh = {.slots = xcalloc(cap, sizeof(entry)), .cap = cap};
  for (size_t i = 0; i < t->cap; i++) {
    const entry *e = &t->slots[i];
    if (!e->used || (filter && e->round != only_round))
      continue;
    const char *name = t->names + e->name;
    entry *s = slot_for(&fresh, name, e->hash);
    *s = *e;
    s->name = add_name(&fresh, name);
    fresh.size++;
  }
  free(t->slots);
  free(t->names);
  *t = fresh;
}

nd_health_taints *nd_health_taints_new(uint64_t hysteresis_ms) {
  nd_health_taints *h = xcalloc(1, sizeof(*h));
  h->hysteresis_ms = hysteresis_ms;
  h->pools = nd_strmap_new();
  if (h->pools == NULL)
    abort();
  return h;
}

void nd_health_taints_free(nd_health_taints *h) {
  if (h == NULL)
    return;
  nd_strmap_free(h->pools, table_free);
  free(h);
}

void nd_health_taints_begin(nd_health_taints *h) { h->round++; }

/* Forget the devices of `pool` that the current round did not decide. */
static void forget_unseen(nd_health_taints *h, const char *pool) {
  pool_table *t = nd_strmap_get(h->pools, pool);
  if (t == NULL)
    return;
  size_t seen = 0;
  for (size_t i = 0; i < t->cap; i++)
    seen += t->slots[i].used && t->slots[i].round == h->round;
  if (seen == 0) {
    table_free(nd_strmap_del(h->pools, pool));
    return;
  }
  if (seen < t->size)
    rebuild(t, seen, h->round, true);
}

void nd_health_taints_end(nd_health_taints *h, const json_t *only_pools) {
  const char *pool;
  json_t *v;
  if (only_pools != NULL) {
    json_object_foreach((json_t *)only_pools, pool, v) forget_unseen(h, pool);
    return;
  }
  /* every pool (collected first: forgetting may delete pools from the map) */
  size_t n = nd_strmap_size(h->pools), k = 0, pos = 0;
  cleanup_free const char **names = xcalloc(n + 1, sizeof(*names));
  void *value;
  while (nd_strmap_next(h->pools, &pos, &pool, &value))
    names[k++] = strdup(pool);
  for (size_t i = 0; i < k; i++) {
    if (names[i] == NULL)
      abort();
    forget_unseen(h, names[i]);
    free((char *)names[i]);
  }
}

size_t nd_health_taints_tracked(const nd_health_taints *h) {
  size_t n = 0, pos = 0;
  const char *pool;
  void *value;
  while (nd_strmap_next(h->pools, &pos, &pool, &value))
    n += ((const pool_table *)value)->size;
  return n;
}

size_t nd_health_taints_count(const nd_health_taints *h) {
  size_t n = 0, pos = 0;
  const char *pool;
  void *value;
  while (nd_strmap_next(h->pools, &pos, &pool, &value)) {
    const pool_table *t = value;
    for (size_t i = 0; i < t->cap; i++)
      n += t->slots[i].used && t->slots[i].tainted;
  }
  return n;
}

/* The entry of pool/name, or NULL. */
static entry *find(const nd_health_taints *h, const char *pool, const char *name) {
  const pool_table *t = nd_strmap_get(h->pools, pool);
  if (t == NULL)
    return NULL;
  entry *e = slot_for(t, name, name_hash(name));
  return e->used ? e : NULL;
}

/* A new (untainted) entry for pool/name, which has none. */
static entry *add(nd_health_taints *h, const char *pool, const char *name) {
  pool_table *t = nd_strmap_get(h->pools, pool);
  if (t == NULL) {
    t = xcalloc(1, sizeof(*t));
    t->cap = 16;
    t->slots = xcalloc(t->cap, sizeof(entry));
    nd_strmap_put(h->pools, pool, t);
  }
  uint32_t hash = name_hash(name);
  entry *e = slot_for(t, name, hash);
  if ((t->size + 1) > t->cap * 3 / 4) {
    rebuild(t, t->size + 1, 0, false);
    e = slot_for(t, name, hash);
  }
  *e = (entry){.name = add_name(t, name), .hash = hash, .used = true};
  t->size++;
  return e;
}

nd_device_taint nd_health_taints_decide(nd_health_taints *h, const char *pool, const char *name,
                                        nd_health health, bool published,
                                        uint64_t published_since_ms, uint64_t now_ms,
                                        uint64_t *recheck_ms) {
  /* online, nothing remembered, no taint published: untainted, and nothing to remember (an
   * entry not decided in this round is forgotten at its end) */
  entry *e = find(h, pool, name);
  bool fresh = e == NULL;
  if (fresh && health == ND_HEALTH_ONLINE && !published)
    return (nd_device_taint){.tainted = false, .since_wall_ms = 0};
  if (fresh)
    e = add(h, pool, name);
  if (fresh && published) {
    /* adopt the published taint; an online device starts its hysteresis now */
    e->tainted = true;
    e->since_ms = published_since_ms ? published_since_ms : now_ms;
  }
  e->round = h->round;
  if (health != ND_HEALTH_ONLINE) {
    if (!e->tainted) {
      e->tainted = true;
      e->since_ms = now_ms;
    }
    e->online_since_ms = 0;
  } else if (e->tainted) {
    if (e->online_since_ms == 0)
      e->online_since_ms = now_ms;
    uint64_t lift_at = e->online_since_ms + h->hysteresis_ms;
    if (now_ms >= lift_at) {
      e->tainted = false;
      e->since_ms = 0;
      e->online_since_ms = 0;
    } else if (recheck_ms != NULL && (*recheck_ms == 0 || lift_at < *recheck_ms)) {
      *recheck_ms = lift_at;
    }
  }
  if (!e->tainted && !published && health == ND_HEALTH_ONLINE)
    e->round = h->round - 1; /* nothing left to remember: forgotten at the end of the round */
  return (nd_device_taint){.tainted = e->tainted, .since_wall_ms = e->since_ms};
}
