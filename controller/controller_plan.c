/* controller_plan.c: registry pools + health -> planned pools for the reconciler. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "controller.h"
#include "log.h"

/* Does the published device carry our unreachable taint? */
static bool published_taint(const nd_controller *c, const json_t *dev) {
  size_t i;
  const json_t *t;
  size_t dl = strlen(c->cfg.driver_name);
  json_array_foreach(json_object_get(dev, "taints"), i, t) {
    const char *key = json_string_value(json_object_get(t, "key"));
    if (key != NULL && strncmp(key, c->cfg.driver_name, dl) == 0 &&
        strcmp(key + dl, "/unreachable") == 0)
      return true;
  }
  return false;
}

static void add_pool(json_t *set, const char *pool) {
  if (pool != NULL && pool[0] != '\0')
    json_object_set_new(set, pool, json_true());
}

int nd_controller_plan(nd_reconciler *rc, nd_planned_pool **pools_out, size_t *n_out,
                       uint64_t *recheck_wall_ms, void *data, nd_error_t *err) {
  nd_controller *c = data;
  cleanup_json json_t *set = json_object();
  const char **names = NULL;
  size_t np = nd_registry_pools(c->registry, &names);
  for (size_t i = 0; i < np; i++)
    add_pool(set, names[i]);
  for (size_t i = 0; i < c->cfg.pools.count; i++)
    add_pool(set, c->cfg.pools.items[i]);
  nd_planner_options popts = {.driver = c->cfg.driver_name,
                              .binding_conditions = c->cfg.binding_conditions};
  size_t n = json_object_size(set), k = 0;
  nd_planned_pool *pools = calloc(n + 1, sizeof(*pools));
  if (pools == NULL)
    abort();
  memset(c->planned_devices, 0, sizeof(c->planned_devices));
  c->skipped_devices = 0;
  uint64_t now = nd_wall_ms();
  nd_health_taints_begin(c->taints);
  const char *pool;
  json_t *v;
  json_object_foreach(set, pool, v) {
    const nd_device **devs = NULL;
    size_t nd = nd_registry_pool_devices(c->registry, pool, &devs);
    nd_device_taint *taints = calloc(nd + 1, sizeof(*taints));
    if (taints == NULL)
      abort();
    for (size_t i = 0; i < nd; i++) {
      const json_t *pub = nd_reconciler_published_device(rc, pool, devs[i]->name);
      taints[i] = nd_health_taints_decide(c->taints, pool, devs[i]->name, devs[i]->health,
                                          pub != NULL && published_taint(c, pub), 0, now,
                                          recheck_wall_ms);
      if (devs[i]->health <= ND_HEALTH_OFFLINE)
        c->planned_devices[devs[i]->health]++;
    }
    int rcode = nd_plan_pool(&popts, pool, devs, taints, nd, &pools[k], err);
    free(taints);
    if (rcode < 0) {
      nd_health_taints_end(c->taints);
      for (size_t i = 0; i < k; i++)
        nd_planned_pool_clear(&pools[i]);
      free(pools);
      return nd_error_wrap(err, "planning pool %s", pool);
    }
    c->skipped_devices += pools[k].n_skipped;
    k++;
  }
  nd_health_taints_end(c->taints);
  *pools_out = pools;
  *n_out = k;
  return 0;
}
