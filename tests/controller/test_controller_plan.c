/* test_controller_plan.c: registry health -> published taints through the real plan glue,
 * reconciler and fake API: a stale device is tainted at once (and its pool moves to the
 * 64-device limit), recovery lifts the taint only after the hysteresis (by the reconciler's
 * own re-check timer), a restart adopts a published taint without rewriting it, and a
 * configured empty pool publishes one empty slice. The registry is a test double. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "controller.h"
#include "fake_k8s.h"
#include "metrics_server.h"

#include <curl/curl.h>
#include <pthread.h>

#define SLICES "/apis/resource.k8s.io/v1/resourceslices"
#define N_DEV 100

/* ---- registry double ------------------------------------------------------------------- */
struct nd_registry {
  nd_device devs[N_DEV];
  const nd_device *ptrs[N_DEV];
  char names[N_DEV][16];
};

size_t nd_registry_pools(const nd_registry *r, const char ***pools) {
  static const char *one[] = {"yard"};
  *pools = one;
  return 1;
}

size_t nd_registry_pool_devices(const nd_registry *r, const char *pool,
                                const nd_device ***devices) {
  *devices = (const nd_device **)r->ptrs;
  return strcmp(pool, "yard") == 0 ? N_DEV : 0;
}

const nd_device *nd_registry_find(const nd_registry *r, const char *pool, const char *name) {
  for (size_t i = 0; i < N_DEV; i++)
    if (strcmp(r->devs[i].pool, pool) == 0 && strcmp(r->devs[i].name, name) == 0)
      return &r->devs[i];
  return NULL;
}

static void registry_fill(nd_registry *r) {
  for (size_t i = 0; i < N_DEV; i++) {
    snprintf(r->names[i], sizeof(r->names[i]), "cam-%03zu", i);
    nd_device *d = &r->devs[i];
    memset(d, 0, sizeof(*d));
    d->pool = "yard";
    d->id = d->name = r->names[i];
    d->type = "camera";
    d->all_nodes = true;
    r->ptrs[i] = d;
  }
}

/* ---- helpers ---------------------------------------------------------------------------- */
static bool run_until(nd_loop *loop, bool (*cond)(void *), void *arg, uint64_t max_ms) {
  uint64_t end = nd_now_ms() + max_ms;
  while (nd_now_ms() < end) {
    if (cond != NULL && cond(arg))
      return true;
    nd_error_t err = NULL;
    assert_int_equal(nd_loop_run_once(loop, 10, &err), 0);
  }
  return cond != NULL && cond(arg);
}

static fake_store *store;

static const json_t *published(const char *dev) {
  for (int s = 0; s < 4; s++) {
    char path[128];
    snprintf(path, sizeof(path), SLICES "/netdra.dev-yard-%d", s);
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(json_object_get(fake_store_get(store, path), "spec"), "devices"),
                       i, d) {
      if (strcmp(json_string_value(json_object_get(d, "name")), dev) == 0)
        return d;
    }
  }
  return NULL;
}

static bool is_tainted(void *dev) {
  const json_t *d = published(dev);
  return d != NULL && json_array_size(json_object_get(d, "taints")) == 1;
}
static bool is_untainted(void *dev) {
  const json_t *d = published(dev);
  return d != NULL && json_object_get(d, "taints") == NULL;
}
static bool idle(void *rc) { return nd_reconciler_synced(rc) && nd_reconciler_idle(rc); }

static nd_reconciler *start(nd_controller *c) {
  nd_error_t err = NULL;
  nd_reconciler_options o = {.driver = "netdra.dev", .api_version = "v1", .debounce_ms = 10};
  c->taints = nd_health_taints_new((uint64_t)c->cfg.hysteresis_ms);
  c->pool_stats = json_object();
  nd_reconciler *rc = nd_reconciler_new(c->loop, c->k8s, &o, nd_controller_plan, c, &err);
  assert_non_null(rc);
  assert_int_equal(nd_reconciler_start(rc, &err), 0);
  nd_reconciler_set_active(rc, true);
  c->reconciler = rc;
  return rc;
}

static void stop(nd_controller *c) {
  nd_reconciler_stop(c->reconciler);
  nd_reconciler_free(c->reconciler);
  nd_health_taints_free(c->taints);
  json_decref(c->pool_stats);
  c->reconciler = NULL;
  c->taints = NULL;
}

static void test_health_taints_end_to_end(void **state) {
  store = fake_store_new();
  nd_error_t err = NULL;
  nd_registry *reg = calloc(1, sizeof(*reg));
  registry_fill(reg);
  char *pools[] = {"spare"};
  nd_controller c = {.cfg = {.driver_name = "netdra.dev",
                             .hysteresis_ms = 400,
                             .pools = {.items = pools, .count = 1}},
                     .registry = reg};
  c.loop = nd_loop_new(&err);
  c.k8s = nd_k8s_client_new(c.loop, NULL, &err);
  nd_reconciler *rc = start(&c);
  assert_true(run_until(c.loop, idle, rc, 3000));
  assert_true(is_untainted("cam-050"));
  assert_int_equal(fake_store_count(store, SLICES), 2); /* yard (100 devices) + spare */
  /* the configured empty pool: one empty slice */
  const json_t *spare = fake_store_get(store, SLICES "/netdra.dev-spare-0");
  assert_non_null(spare);
  assert_int_equal(json_array_size(json_object_get(json_object_get(spare, "spec"), "devices")), 0);

  /* stale -> tainted at once; 100 devices now need two slices of <= 64 */
  reg->devs[50].health = ND_HEALTH_STALE;
  uint64_t t0 = nd_now_ms();
  nd_reconciler_trigger(rc);
  assert_true(run_until(c.loop, is_tainted, "cam-050", 2000));
  assert_true(nd_now_ms() - t0 < 1000);
  assert_true(is_untainted("cam-049"));
  assert_true(run_until(c.loop, idle, rc, 3000));
  assert_int_equal(fake_store_count(store, SLICES), 3);
  char time_added[32];
  snprintf(time_added, sizeof(time_added), "%s",
           json_string_value(json_object_get(
               json_array_get(json_object_get(published("cam-050"), "taints"), 0), "timeAdded")));

  /* back online: the taint stays during the hysteresis, then the re-check lifts it */
  reg->devs[50].health = ND_HEALTH_ONLINE;
  t0 = nd_now_ms();
  nd_reconciler_trigger(rc);
  run_until(c.loop, NULL, NULL, 200);
  assert_true(is_tainted("cam-050"));
  assert_true(run_until(c.loop, is_untainted, "cam-050", 2000));
  assert_true(nd_now_ms() - t0 >= 400);
  assert_true(run_until(c.loop, idle, rc, 3000));
  /* devices stay where they are published: yard keeps its two slices (one beyond the
   * minimum is allowed before a repack), so lifting a taint rewrites one slice */
  assert_int_equal(fake_store_count(store, SLICES), 3);

  /* tainted again, then a restart while it is online: the published taint is adopted, no
   * write until the hysteresis ends, and timeAdded is kept until then */
  reg->devs[7].health = ND_HEALTH_OFFLINE;
  nd_reconciler_trigger(rc);
  assert_true(run_until(c.loop, is_tainted, "cam-007", 2000));
  assert_true(run_until(c.loop, idle, rc, 3000));
  snprintf(time_added, sizeof(time_added), "%s",
           json_string_value(json_object_get(
               json_array_get(json_object_get(published("cam-007"), "taints"), 0), "timeAdded")));
  stop(&c);
  reg->devs[7].health = ND_HEALTH_ONLINE;
  fake_store_clear_log(store);
  rc = start(&c);
  assert_true(run_until(c.loop, idle, rc, 3000));
  run_until(c.loop, NULL, NULL, 150);
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 0);
  assert_true(is_tainted("cam-007"));
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(published("cam-007"), "taints"), 0),
                          "timeAdded")),
                      time_added);
  assert_true(run_until(c.loop, is_untainted, "cam-007", 2000));

  stop(&c);
  run_until(c.loop, NULL, NULL, 20);
  nd_k8s_client_free(c.k8s);
  nd_loop_free(c.loop);
  fake_store_free(store);
  free(reg);
}

/* ---- /metrics, /healthz, /readyz -------------------------------------------------------- */
typedef struct {
  char url[128];
  long status;
  char *body;
  size_t len;
  bool done;
} http_get;

static size_t append(char *p, size_t s, size_t n, void *d) {
  http_get *g = d;
  g->body = realloc(g->body, g->len + s * n + 1);
  memcpy(g->body + g->len, p, s * n);
  g->len += s * n;
  g->body[g->len] = '\0';
  return s * n;
}

/* The server runs on the loop: fetch from a thread while the test runs the loop. */
static void *fetch(void *arg) {
  http_get *g = arg;
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, g->url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
  curl_easy_cleanup(c);
  __atomic_store_n(&g->done, true, __ATOMIC_SEQ_CST);
  return NULL;
}

static bool fetched(void *g) { return __atomic_load_n(&((http_get *)g)->done, __ATOMIC_SEQ_CST); }

static void get(nd_loop *loop, uint16_t port, const char *path, http_get *g) {
  memset(g, 0, sizeof(*g));
  snprintf(g->url, sizeof(g->url), "http://127.0.0.1:%u%s", port, path);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, fetch, g), 0);
  assert_true(run_until(loop, fetched, g, 5000));
  pthread_join(t, NULL);
}

static void test_metrics_endpoint(void **state) {
  store = fake_store_new();
  nd_error_t err = NULL;
  nd_registry *reg = calloc(1, sizeof(*reg));
  registry_fill(reg);
  reg->devs[3].health = ND_HEALTH_OFFLINE;
  nd_controller c = {.cfg = {.driver_name = "netdra.dev", .hysteresis_ms = 400}, .registry = reg};
  c.loop = nd_loop_new(&err);
  c.k8s = nd_k8s_client_new(c.loop, NULL, &err);
  nd_reconciler_options o = {.driver = "netdra.dev", .api_version = "v1", .debounce_ms = 10};
  c.taints = nd_health_taints_new(400);
  c.pool_stats = json_object();
  c.reconciler = nd_reconciler_new(c.loop, c.k8s, &o, nd_controller_plan, &c, &err);
  c.metrics = nd_metrics_server_start(&c, "127.0.0.1:0", &err);
  assert_non_null(c.metrics);
  uint16_t port = nd_metrics_server_port(c.metrics);
  http_get g;
  get(c.loop, port, "/readyz", &g);
  assert_int_equal(g.status, 503); /* the watch has not synced */
  free(g.body);
  assert_int_equal(nd_reconciler_start(c.reconciler, &err), 0);
  c.leading = c.started = true;
  nd_reconciler_set_active(c.reconciler, true);
  assert_true(run_until(c.loop, idle, c.reconciler, 3000));
  get(c.loop, port, "/readyz", &g);
  assert_int_equal(g.status, 200);
  free(g.body);
  get(c.loop, port, "/healthz", &g);
  assert_int_equal(g.status, 200);
  free(g.body);
  get(c.loop, port, "/metrics", &g);
  assert_int_equal(g.status, 200);
  const char *want[] = {"netdra_controller_devices{state=\"online\"} 99",
                        "netdra_controller_devices{state=\"offline\"} 1",
                        "netdra_controller_pool_devices{pool=\"yard\"} 100",
                        "netdra_controller_tainted_devices 1",
                        "netdra_controller_slices 2",
                        "netdra_controller_slice_writes_total{op=\"create\",result=\"ok\"} 2",
                        "netdra_controller_leader 1",
                        "netdra_k8s_request_duration_seconds_bucket{le=\"+Inf\"}"};
  for (size_t i = 0; i < ND_ARRAY_LEN(want); i++)
    if (strstr(g.body, want[i]) == NULL)
      fail_msg("/metrics lacks \"%s\":\n%s", want[i], g.body);
  free(g.body);
  nd_metrics_server_free(c.metrics);
  nd_reconciler_stop(c.reconciler);
  nd_reconciler_free(c.reconciler);
  nd_health_taints_free(c.taints);
  json_decref(c.pool_stats);
  run_until(c.loop, NULL, NULL, 20);
  nd_k8s_client_free(c.k8s);
  nd_loop_free(c.loop);
  fake_store_free(store);
  free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_health_taints_end_to_end),
                                     cmocka_unit_test(test_metrics_endpoint)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
