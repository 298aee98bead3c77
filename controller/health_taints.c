/* health_taints.c: taint decisions with hysteresis (see health_taints.h). */
#include "health_taints.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* One entry per known device, keyed "<pool>\x1f<name>" in a jansson object used as a map:
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

void nd_health_taints_end(nd_health_taints *h) {
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(h->map, tmp, key, v) {
    if (json_integer_value(json_array_get(v, F_ROUND)) != h->round)
      json_object_del(h->map, key);
  }
}

size_t nd_health_taints_count(const nd_health_taints *h) {
  size_t n = 0;
  const char *key;
  json_t *v;
  json_object_foreach(h->map, key, v) n += json_integer_value(json_array_get(v, F_TAINTED)) != 0;
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
  cleanup_free char *key = NULL;
  if (asprintf(&key, "%s\x1f%s", pool, name) < 0)
    abort();
  json_t *e = json_object_get(h->map, key);
  if (e == NULL) {
    e = json_pack("[I,I,I,I]", (json_int_t)0, (json_int_t)0, (json_int_t)0, (json_int_t)0);
    json_object_set_new(h->map, key, e);
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
