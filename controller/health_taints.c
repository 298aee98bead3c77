/* health_taints.c: taint decisions with hysteresis (see health_taints.h). */
#include "health_taints.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* One entry per known device in a map of maps (jansson objects), pool -> name ->
 * [tainted (0/1), tainted_since_ms, online_since_ms, round]. */
struct nd_health_taints {
  uint64_t hysteresis_ms;
  json_t *map;
  json_int_t round;
};

enum { F_TAINTED, F_SINCE, F_ONLINE_SINCE, F_ROUND, F_COUNT };

nd_health_taints *nd_health_taints_new(uint64_t hysteresis_ms) {
  nd_health_taints *h = calloc(1, sizeof(*h));
  if (h == NULL)
    abort();
  h->hysteresis_ms = hysteresis_ms;
  h->map = json_object();
  return h;
}

void nd_health_taints_free(nd_health_taints *h) {
  if (h == NULL)
    return;
  json_decref(h->map);
  free(h);
}

void nd_health_taints_begin(nd_health_taints *h) { h->round++; }

static void forget_unseen(nd_health_taints *h, const char *pool) {
  json_t *pm = json_object_get(h->map, pool);
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(pm, tmp, key, v) {
    if (json_integer_value(json_array_get(v, F_ROUND)) != h->round)
      json_object_del(pm, key);
  }
  if (pm != NULL && json_object_size(pm) == 0)
    json_object_del(h->map, pool);
}

void nd_health_taints_end(nd_health_taints *h, const json_t *only_pools) {
  const char *pool;
  json_t *v;
  void *tmp;
  if (only_pools != NULL) {
    json_object_foreach((json_t *)only_pools, pool, v) forget_unseen(h, pool);
    return;
  }
  json_object_foreach_safe(h->map, tmp, pool, v) forget_unseen(h, pool);
}

size_t nd_health_taints_count(const nd_health_taints *h) {
  size_t n = 0;
  const char *pool, *key;
  json_t *pm, *v;
  json_object_foreach(h->map, pool, pm) {
    json_object_foreach(pm, key, v) n += json_integer_value(json_array_get(v, F_TAINTED)) != 0;
  }
  return n;
}

static void set(json_t *e, int field, uint64_t value) {
  json_array_set_new(e, (size_t)field, json_integer((json_int_t)value));
}
static uint64_t get(const json_t *e, int field) {
  return (uint64_t)json_integer_value(json_array_get(e, (size_t)field));
}

nd_device_taint nd_health_taints_decide(nd_health_taints *h, const char *pool, const char *name,
                                        nd_health health, bool published,
                                        uint64_t published_since_ms, uint64_t now_ms,
                                        uint64_t *recheck_ms) {
  json_t *pm = json_object_get(h->map, pool);
  if (pm == NULL) {
    pm = json_object();
    json_object_set_new(h->map, pool, pm);
  }
  json_t *e = json_object_get(pm, name);
  if (e == NULL) {
    e = json_pack("[I,I,I,I]", (json_int_t)0, (json_int_t)0, (json_int_t)0, (json_int_t)0);
    json_object_set_new(pm, name, e);
    if (published) {
      /* adopt the published taint; an online device starts its hysteresis now */
      set(e, F_TAINTED, 1);
      set(e, F_SINCE, published_since_ms ? published_since_ms : now_ms);
    }
  }
  set(e, F_ROUND, (uint64_t)h->round);
  if (health != ND_HEALTH_ONLINE) {
    if (!get(e, F_TAINTED)) {
      set(e, F_TAINTED, 1);
      set(e, F_SINCE, now_ms);
    }
    set(e, F_ONLINE_SINCE, 0);
  } else if (get(e, F_TAINTED)) {
    if (get(e, F_ONLINE_SINCE) == 0)
      set(e, F_ONLINE_SINCE, now_ms);
    uint64_t lift_at = get(e, F_ONLINE_SINCE) + h->hysteresis_ms;
    if (now_ms >= lift_at) {
      set(e, F_TAINTED, 0);
      set(e, F_SINCE, 0);
      set(e, F_ONLINE_SINCE, 0);
    } else if (recheck_ms != NULL && (*recheck_ms == 0 || lift_at < *recheck_ms)) {
      *recheck_ms = lift_at;
    }
  }
  return (nd_device_taint){.tainted = get(e, F_TAINTED) != 0, .since_wall_ms = get(e, F_SINCE)};
}
