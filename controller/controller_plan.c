/* controller_plan.c: registry pools + health -> planned pools for the reconciler. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "controller.h"
#include "log.h"

/* Does the published device (its taints array) carry our unreachable taint? */
static bool published_taint(const nd_controller *c, const json_t *taints) {
  size_t i;
  const json_t *t;
  size_t dl = strlen(c->cfg.driver_name);
  json_array_foreach(taints, i, t) {
    const char *key = json_string_value(json_object_get(t, "key"));
    if (key != NULL && strncmp(key, c->cfg.driver_name, dl) == 0 &&
        strcmp(key + dl, "/unreachable") == 0)
      return true;
  }
  return false;
}

static void add_pool(json_t *set, const json_t *only, const char *pool) {
  if (pool != NULL && pool[0] != '\0' && (only == NULL || json_object_get(only, pool) != NULL))
    json_object_set_new(set, pool, json_true());
}

/* Per-pool figures of the last plan of each pool (for /metrics): [online, stale, offline,
 * skipped]. A pool planned away is dropped. */
static void set_pool_stats(nd_controller *c, const char *pool, const uint64_t by_health[3],
                           size_t skipped) {
  json_object_set_new(c->pool_stats, pool,
                      json_pack("[I,I,I,I]", (json_int_t)by_health[0], (json_int_t)by_health[1],
                                (json_int_t)by_health[2], (json_int_t)skipped));
}

void nd_controller_plan_totals(const nd_controller *c, uint64_t by_health[3], uint64_t *skipped) {
  memset(by_health, 0, 3 * sizeof(*by_health));
  *skipped = 0;
  const char *pool;
  json_t *v;
  json_object_foreach(c->pool_stats, pool, v) {
    for (size_t i = 0; i < 3; i++)
      by_health[i] += (uint64_t)json_integer_value(json_array_get(v, i));
    *skipped += (uint64_t)json_integer_value(json_array_get(v, 3));
  }
}

int nd_controller_plan(nd_reconciler *rc, const json_t *only, nd_planned_pool **pools_out,
                       size_t *n_out, uint64_t *recheck_wall_ms, void *data, nd_error_t *err) {
  nd_controller *c = data;
  cleanup_json json_t *set = json_object();
  const char **names = NULL;
  size_t np = nd_registry_pools(c->registry, &names);
  for (size_t i = 0; i < np; i++)
    add_pool(set, only, names[i]);
  for (size_t i = 0; i < c->cfg.pools.count; i++)
    add_pool(set, only, c->cfg.pools.items[i]);
  nd_planner_options popts = {.driver = c->cfg.driver_name,
                              .binding_conditions = c->cfg.binding_conditions};
  size_t n = json_object_size(set), k = 0;
  nd_planned_pool *pools = calloc(n + 1, sizeof(*pools));
  if (pools == NULL)
    abort();
  /* stats of the pools of this round start afresh */
  if (only == NULL) {
    json_object_clear(c->pool_stats);
  } else {
    const char *p;
    json_t *v;
    json_object_foreach((json_t *)only, p, v) json_object_del(c->pool_stats, p);
  }
  uint64_t now = nd_wall_ms();
  nd_health_taints_begin(c->taints);
  const char *pool;
  json_t *v;
  json_object_foreach(set, pool, v) {
    const nd_device **devs = NULL;
    size_t nd = nd_registry_pool_devices(c->registry, pool, &devs);
    nd_device_taint *taints = calloc(nd + 1, sizeof(*taints));
    int *placement = calloc(nd + 1, sizeof(*placement));
    if (taints == NULL || placement == NULL)
      abort();
    uint64_t by_health[3] = {0};
    nd_published_walk published = nd_reconciler_published(rc, pool); /* devs: in name order */
    for (size_t i = 0; i < nd; i++) {
      const nd_published_device *pub = nd_published_walk_find(&published, devs[i]->name);
      placement[i] = pub != NULL ? pub->slice : -1;
      taints[i] = nd_health_taints_decide(c->taints, pool, devs[i]->name, devs[i]->health,
                                          pub != NULL && published_taint(c, pub->taints), 0,
                                          now, recheck_wall_ms);
      if (devs[i]->health <= ND_HEALTH_OFFLINE)
        by_health[devs[i]->health]++;
    }
    int rcode = nd_plan_pool(&popts, pool, devs, taints, placement, nd, &pools[k], err);
    free(taints);
    free(placement);
    if (rcode < 0) {
      nd_health_taints_end(c->taints, only);
      for (size_t i = 0; i < k; i++)
        nd_planned_pool_clear(&pools[i]);
      free(pools);
      return nd_error_wrap(err, "planning pool %s", pool);
    }
    set_pool_stats(c, pool, by_health, pools[k].n_skipped);
    k++;
  }
  nd_health_taints_end(c->taints, only);
  *pools_out = pools;
  *n_out = k;
  return 0;
}
