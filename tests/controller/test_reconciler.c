/* test_reconciler.c: the slice reconciler and leader election against the in-memory API
 * server of fake_k8s.c: first publish, restart without writes, put-back after someone else's
 * delete or edit, convergence under injected 409/429/500, pool removal, failover and release
 * of the Lease. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "fake_k8s.h"
#include "leader_election.h"
#include "pool_sync.h"
#include "slice_reconciler.h"

#define SLICES "/apis/resource.k8s.io/v1/resourceslices"
#define LEASES "/apis/coordination.k8s.io/v1/namespaces/netdra/leases"

typedef struct {
  nd_device devs[300];
  const nd_device *ptrs[300];
  char names[300][16];
  size_t n;
  bool pool_gone;
} world;

static const nd_planner_options popts = {.driver = "netdra.dev"};

static void world_fill(world *w, size_t n) {
  memset(w, 0, sizeof(*w));
  w->n = n;
  for (size_t i = 0; i < n; i++) {
    snprintf(w->names[i], sizeof(w->names[i]), "dev-%03u", (unsigned)i);
    nd_device *d = &w->devs[i];
    d->source = "static";
    d->pool = "lab";
    d->id = d->name = w->names[i];
    d->type = "camera";
    d->model = "m1";
    d->all_nodes = true;
    w->ptrs[i] = d;
  }
}

static int plan_cb(nd_reconciler *rc, const json_t *only, nd_planned_pool **pools, size_t *n,
                   uint64_t *recheck, void *data, nd_error_t *err) {
  world *w = data;
  *pools = calloc(1, sizeof(**pools));
  *n = 0;
  if (w->pool_gone)
    return 0;
  *n = 1;
  return nd_plan_pool(&popts, "lab", w->ptrs, NULL, NULL, w->n, &(*pools)[0], err);
}

static const nd_reconciler_options ropts = {
    .driver = "netdra.dev", .api_version = "v1", .debounce_ms = 10, .max_backoff_ms = 400};

/* Run the loop until cond holds (checked every iteration) or max_ms passed. */
typedef bool (*cond_fn)(void *);
static bool run_until(nd_loop *loop, cond_fn cond, void *arg, uint64_t max_ms) {
  uint64_t end = nd_now_ms() + max_ms;
  while (nd_now_ms() < end) {
    if (cond != NULL && cond(arg))
      return true;
    nd_error_t err = NULL;
    assert_int_equal(nd_loop_run_once(loop, 10, &err), 0);
  }
  return cond != NULL && cond(arg);
}

static bool idle(void *rc) {
  return nd_reconciler_synced(rc) && nd_reconciler_idle(rc);
}

typedef struct {
  nd_reconciler *rc;
  fake_store *store;
  size_t want_slices;
} settle_arg;

static bool settled(void *p) {
  settle_arg *a = p;
  return idle(a->rc) && fake_store_count(a->store, SLICES) == a->want_slices;
}

/* ---- fixture: what every test starts from and tears down --------------------------------- */

typedef struct {
  fake_store *store;   /* the in-memory API server */
  nd_loop *loop;
  nd_k8s_client *k8s;  /* a client of store */
  world *w;            /* the registry the plan reads (empty until world_fill) */
  nd_reconciler *rc;   /* the reconciler under test (start_reconciler), or NULL */
} fixture;

static int setup_world(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  nd_error_t err = NULL;
  assert_non_null(f);
  f->store = fake_store_new();
  f->loop = nd_loop_new(&err);
  assert_non_null(f->loop);
  f->k8s = nd_k8s_client_new(f->loop, NULL, &err);
  assert_non_null(f->k8s);
  f->w = calloc(1, sizeof(*f->w));
  assert_non_null(f->w);
  *state = f;
  return 0;
}

static void stop_reconciler(nd_reconciler *rc) {
  nd_reconciler_stop(rc);
  nd_reconciler_free(rc);
}

static int teardown_world(void **state) {
  fixture *f = *state;
  if (f->rc != NULL)
    stop_reconciler(f->rc);
  run_until(f->loop, NULL, NULL, 20); /* let the ended requests' callbacks run */
  nd_k8s_client_free(f->k8s);
  nd_loop_free(f->loop);
  fake_store_free(f->store);
  free(f->w);
  free(f);
  return 0;
}

/* A reconciler of the fixture's world on client k8s, watching (not yet active). */
static nd_reconciler *start_reconciler(fixture *f, nd_k8s_client *k8s,
                                       const nd_reconciler_options *o) {
  nd_error_t err = NULL;
  nd_reconciler *rc = nd_reconciler_new(f->loop, k8s, o, plan_cb, f->w, &err);
  assert_non_null(rc);
  assert_int_equal(nd_reconciler_start(rc, &err), 0);
  return rc;
}

static json_t *slice(fake_store *s, int i) {
  char path[128];
  snprintf(path, sizeof(path), SLICES "/netdra.dev-lab-%d", i);
  return fake_store_get(s, path);
}

static const char *model_of(fake_store *s, int slice_i, size_t dev_i) {
  json_t *d = json_array_get(json_object_get(json_object_get(slice(s, slice_i), "spec"), "devices"),
                             dev_i);
  return json_string_value(
      json_object_get(json_object_get(json_object_get(d, "attributes"), "model"), "string"));
}

static void test_reconcile_lifecycle(void **state) {
  fixture *f = *state;
  fake_store *store = f->store;
  nd_loop *loop = f->loop;
  world *w = f->w;
  world_fill(w, 300);

  /* the first reconciler trims the heap once its round of writes has settled */
  nd_error_t err = NULL;
  nd_memtrim *trim = nd_memtrim_new(loop, 10, &err);
  assert_non_null(trim);
  nd_reconciler_options trimming = ropts;
  trimming.trim = trim;
  nd_reconciler *rc = f->rc = start_reconciler(f, f->k8s, &trimming);
  nd_reconciler_set_active(rc, true);
  settle_arg a = {rc, store, 3};
  assert_true(run_until(loop, settled, &a, 3000));
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 3);
  run_until(loop, NULL, NULL, 50);
  assert_true(nd_memtrim_count(trim) >= 1);

  /* restart: a new reconciler adopts the slices, zero writes, also over a quiet interval */
  stop_reconciler(rc);
  nd_memtrim_free(trim);
  fake_store_clear_log(store);
  rc = f->rc = start_reconciler(f, f->k8s, &ropts);
  nd_reconciler_set_active(rc, true);
  a.rc = rc;
  assert_true(run_until(loop, settled, &a, 3000));
  run_until(loop, NULL, NULL, 300);
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 0);

  /* someone deletes a slice: it is put back */
  fake_store_delete(store, SLICES "/netdra.dev-lab-1");
  assert_int_equal(fake_store_count(store, SLICES), 2);
  run_until(loop, NULL, NULL, 50);
  assert_true(run_until(loop, settled, &a, 3000));
  assert_non_null(slice(store, 1));

  /* someone empties a slice: it is put back with one write */
  fake_store_clear_log(store);
  json_t *edited = json_deep_copy(slice(store, 0));
  json_object_set_new(json_object_get(edited, "spec"), "devices", json_array());
  fake_store_put(store, SLICES "/netdra.dev-lab-0", edited);
  json_decref(edited);
  run_until(loop, NULL, NULL, 50);
  assert_true(run_until(loop, settled, &a, 3000));
  assert_int_equal(json_array_size(json_object_get(json_object_get(slice(store, 0), "spec"),
                                                   "devices")),
                   128);
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 1);

  /* a change while the API answers 500, 500, then 409: converges */
  fake_store_fault(store, "PUT", "/resourceslices", 500, 2);
  fake_store_fault(store, "PUT", "/resourceslices", 409, 1);
  w->devs[200].model = "m2";
  nd_reconciler_trigger(rc);
  run_until(loop, NULL, NULL, 20);
  assert_true(run_until(loop, settled, &a, 5000));
  assert_string_equal(model_of(store, 1, 200 - 128), "m2");
  assert_true(nd_reconciler_get_stats(rc)->writes_retry >= 2);
  assert_true(nd_reconciler_get_stats(rc)->writes_conflict >= 1);

  /* growth under 429 on create: new slice after back-off, generation bumped everywhere */
  world_fill(w, 300);
  w->n = 300;
  fake_store_fault(store, "POST", "/resourceslices", 429, 1);
  w->devs[0].model = "m3";
  w->devs[1].model = "m3";
  nd_reconciler_trigger(rc);
  run_until(loop, NULL, NULL, 20);
  assert_true(run_until(loop, settled, &a, 5000));
  int64_t g0 = json_integer_value(json_object_get(
      json_object_get(json_object_get(slice(store, 0), "spec"), "pool"), "generation"));
  for (int i = 1; i < 3; i++)
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(slice(store, i), "spec"), "pool"),
                         "generation")),
                     g0);

  /* the pool goes away: every slice deleted */
  w->pool_gone = true;
  nd_reconciler_trigger(rc);
  a.want_slices = 0;
  run_until(loop, NULL, NULL, 20);
  assert_true(run_until(loop, settled, &a, 3000));
}

/* A follower keeps a warm cache; when it becomes active it writes nothing. */
static void test_follower_takeover_no_writes(void **state) {
  fixture *f = *state;
  fake_store *store = f->store;
  nd_loop *loop = f->loop;
  nd_error_t err = NULL;
  nd_k8s_client *kb = nd_k8s_client_new(loop, NULL, &err);
  world_fill(f->w, 200);
  nd_reconciler *a = f->rc = start_reconciler(f, f->k8s, &ropts);
  nd_reconciler *b = start_reconciler(f, kb, &ropts); /* the follower */
  nd_reconciler_set_active(a, true);
  settle_arg sa = {a, store, 2};
  assert_true(run_until(loop, settled, &sa, 3000));
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 2);
  /* the follower never wrote */
  assert_int_equal(nd_reconciler_get_stats(b)->writes_ok[ND_SLICE_CREATE], 0);
  fake_store_clear_log(store);
  /* a real takeover comes a lease duration later: the follower's watch has caught up */
  run_until(loop, NULL, NULL, 50);
  nd_reconciler_set_active(a, false);
  nd_reconciler_set_active(b, true);
  settle_arg sb = {b, store, 2};
  run_until(loop, NULL, NULL, 50);
  assert_true(run_until(loop, settled, &sb, 3000));
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 0);
  stop_reconciler(b);
  run_until(loop, NULL, NULL, 20);
  nd_k8s_client_free(kb);
}

/* ---- leader election ------------------------------------------------------------------- */

typedef struct {
  nd_leader_election *le[3];
} cands;

static int n_leading(cands *c) {
  int n = 0;
  for (int i = 0; i < 3; i++)
    n += c->le[i] != NULL && nd_leader_election_leading(c->le[i]);
  return n;
}

static bool one_leads(void *p) { return n_leading(p) == 1; }
static bool le_leads(void *p) { return nd_leader_election_leading(p); }
static bool flag_set(void *p) { return *(bool *)p; }
static void set_flag(nd_loop *loop, void *data) { *(bool *)data = true; }

static nd_leader_election *candidate(nd_loop *loop, const char *id, nd_k8s_client **k8s) {
  nd_error_t err = NULL;
  *k8s = nd_k8s_client_new(loop, NULL, &err);
  nd_leader_options o = {.namespace_ = "netdra",
                         .lease_name = "netdra-controller",
                         .identity = id,
                         .lease_ms = 1000,
                         .renew_deadline_ms = 700,
                         .retry_ms = 100};
  nd_leader_election *le = nd_leader_election_new(loop, *k8s, &o, NULL, NULL, &err);
  assert_non_null(le);
  assert_int_equal(nd_leader_election_start(le, &err), 0);
  return le;
}

static void test_leader_election(void **state) {
  fixture *f = *state;
  fake_store *store = f->store;
  nd_loop *loop = f->loop;
  nd_error_t err = NULL;
  nd_k8s_client *k[3];
  cands c = {0};
  c.le[0] = candidate(loop, "a", &k[0]);
  c.le[1] = candidate(loop, "b", &k[1]);
  assert_true(run_until(loop, one_leads, &c, 2000));
  run_until(loop, NULL, NULL, 700); /* several renewals: still exactly one */
  assert_int_equal(n_leading(&c), 1);
  int leader = nd_leader_election_leading(c.le[0]) ? 0 : 1, follower = 1 - leader;
  json_t *lease = fake_store_get(store, LEASES "/netdra-controller");
  assert_non_null(lease);
  json_t *spec = json_object_get(lease, "spec");
  assert_string_equal(json_string_value(json_object_get(spec, "holderIdentity")),
                      leader == 0 ? "a" : "b");
  const char *renew = json_string_value(json_object_get(spec, "renewTime"));
  assert_int_equal(strlen(renew), 27); /* 2006-01-02T15:04:05.000000Z */
  assert_int_equal(renew[19], '.');
  assert_int_equal(renew[26], 'Z');
  json_int_t trans0 = json_integer_value(json_object_get(spec, "leaseTransitions"));

  /* kill -9 of the leader: the follower takes over within lease + retry (+ jitter) */
  fake_client_kill(k[leader]);
  nd_leader_election_free(c.le[leader]);
  c.le[leader] = NULL;
  uint64_t t0 = nd_now_ms();
  assert_true(run_until(loop, le_leads, c.le[follower], 2000));
  uint64_t took = nd_now_ms() - t0;
  printf("takeover after %llu ms\n", (unsigned long long)took);
  assert_true(took <= 1000 + 2 * 120 + 100);
  spec = json_object_get(fake_store_get(store, LEASES "/netdra-controller"), "spec");
  assert_int_equal(json_integer_value(json_object_get(spec, "leaseTransitions")), trans0 + 1);

  /* a third candidate waits; SIGTERM release of the leader hands over fast */
  c.le[2] = candidate(loop, "c", &k[2]);
  run_until(loop, NULL, NULL, 300);
  assert_false(nd_leader_election_leading(c.le[2]));
  bool released = false;
  nd_leader_election_release(c.le[follower], set_flag, &released);
  assert_true(run_until(loop, flag_set, &released, 1000));
  assert_false(nd_leader_election_leading(c.le[follower]));
  t0 = nd_now_ms();
  assert_true(run_until(loop, le_leads, c.le[2], 2000));
  assert_true(nd_now_ms() - t0 < 500); /* well under the 1 s lease */

  /* bad timings are refused */
  nd_leader_options bad = {.namespace_ = "n", .lease_name = "l", .identity = "x",
                           .lease_ms = 1000, .renew_deadline_ms = 1000, .retry_ms = 100};
  nd_k8s_client *kb = nd_k8s_client_new(loop, NULL, &err);
  assert_null(nd_leader_election_new(loop, kb, &bad, NULL, NULL, &err));
  assert_non_null(strstr(nd_error_msg(err), "renewDeadline"));
  nd_error_release(&err);

  for (int i = 0; i < 3; i++)
    if (c.le[i] != NULL) {
      fake_client_kill(k[i]);
      nd_leader_election_free(c.le[i]);
    }
}

typedef struct {
  fake_store *store;
  size_t writes;
} writes_arg;

static bool wrote(void *p) {
  writes_arg *a = p;
  return fake_store_writes(a->store, "/resourceslices") >= a->writes;
}

/* Adaptive debounce: a lone change is written at once (long before the quiet window), also
 * when it meets another write, a stream of changes that arrives while writes are in flight is
 * written once it settles, and
 * a change of one pool plans only that pool. */
/* A slice we wrote is known unchanged from the write itself: after one device changes, the
 * next round renders only the slice that holds it, not the slices written the round before
 * (without the fingerprint from the write, each of them was rendered once more to learn it
 * was unchanged). */
static void test_written_slices_not_rendered_again(void **state) {
  fixture *f = *state;
  fake_store *store = f->store;
  nd_loop *loop = f->loop;
  world *w = f->w;
  world_fill(w, 300);
  for (size_t i = 0; i < w->n; i++)
    w->devs[i].revision = i + 1; /* registry revisions: the plan has fingerprints */
  nd_reconciler *rc = f->rc = start_reconciler(f, f->k8s, &ropts);
  nd_reconciler_set_active(rc, true);
  settle_arg a = {rc, store, 3};
  assert_true(run_until(loop, settled, &a, 3000));
  const nd_reconciler_stats *st = nd_reconciler_get_stats(rc);
  assert_int_equal(st->fingerprints_from_writes, 3);
  uint64_t compared = st->slices_compared;

  fake_store_clear_log(store);
  w->devs[200].model = "changed"; /* in slice 1 */
  w->devs[200].revision = 1000;
  nd_reconciler_trigger_pool(rc, "lab");
  writes_arg wa = {store, 1};
  assert_true(run_until(loop, wrote, &wa, 3000));
  assert_true(run_until(loop, settled, &a, 3000));
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 1);
  assert_string_equal(model_of(store, 1, 200 - 128), "changed");
  assert_int_equal(st->slices_compared - compared, 1);
  assert_int_equal(st->fingerprints_from_writes, 4);

  /* a later round with no change renders nothing */
  compared = st->slices_compared;
  nd_reconciler_trigger_pool(rc, "lab");
  run_until(loop, NULL, NULL, 100);
  assert_true(run_until(loop, settled, &a, 3000));
  assert_int_equal(st->slices_compared, compared);
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 1);
}

static void test_adaptive_debounce(void **state) {
  fixture *f = *state;
  fake_store *store = f->store;
  nd_loop *loop = f->loop;
  world *w = f->w;
  nd_error_t err = NULL;
  world_fill(w, 10);
  nd_reconciler_options o = ropts;
  o.debounce_ms = 300;
  o.debounce_max_ms = 5000;
  nd_reconciler *rc = f->rc = start_reconciler(f, f->k8s, &o);
  nd_reconciler_set_active(rc, true);
  settle_arg a = {rc, store, 1};
  assert_true(run_until(loop, settled, &a, 3000));
  fake_store_clear_log(store);
  /* writes stay in flight for 20 ms: longer than one loop iteration, even under the
   * sanitizers on a loaded machine (with 2 ms a write could end between two changes of the
   * stream below, which then counted as lone changes) */
  fake_client_set_latency(f->k8s, 20);

  /* a lone change: written well within the 300 ms quiet window */
  w->devs[3].model = "lone";
  uint64_t t0 = nd_now_ms();
  nd_reconciler_trigger_pool(rc, "lab");
  writes_arg wa = {store, 1};
  assert_true(run_until(loop, wrote, &wa, 3000));
  assert_true(nd_now_ms() - t0 < 150);
  assert_true(nd_reconciler_get_stats(rc)->partial_reconciles >= 1);
  assert_true(run_until(loop, settled, &a, 3000));

  /* a lone change that meets the write of another: written as soon as that write ends, not
   * after the quiet window */
  fake_store_clear_log(store);
  w->devs[4].model = "first";
  t0 = nd_now_ms();
  nd_reconciler_trigger_pool(rc, "lab");
  assert_int_equal(nd_loop_run_once(loop, 1, &err), 0); /* the write of "first" is in flight */
  w->devs[5].model = "second";
  nd_reconciler_trigger_pool(rc, "lab");
  writes_arg wa2 = {store, 2};
  assert_true(run_until(loop, wrote, &wa2, 3000));
  assert_true(nd_now_ms() - t0 < 150);
  assert_true(run_until(loop, settled, &a, 3000));
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 2);
  assert_string_equal(model_of(store, 0, 5), "second");

  /* a stream of 100 changes, one per loop iteration: the first is written at once, the rest
   * together after the stream has been quiet for 300 ms */
  fake_store_clear_log(store);
  char models[100][16];
  for (int i = 0; i < 100; i++) {
    snprintf(models[i], sizeof(models[i]), "burst-%d", i);
    w->devs[i % 10].model = models[i];
    nd_reconciler_trigger_pool(rc, "lab");
    assert_int_equal(nd_loop_run_once(loop, 1, &err), 0);
  }
  run_until(loop, NULL, NULL, 100);
  assert_true(fake_store_writes(store, "/resourceslices") <= 1); /* still held */
  assert_true(run_until(loop, settled, &a, 3000));
  run_until(loop, NULL, NULL, 50);
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 2);
  assert_string_equal(model_of(store, 0, 9), "burst-99");

  /* a change to a pool nobody plans (no devices, not configured) deletes nothing else */
  fake_store_clear_log(store);
  nd_reconciler_trigger_pool(rc, "elsewhere");
  run_until(loop, NULL, NULL, 100);
  assert_int_equal(fake_store_writes(store, "/resourceslices"), 0);
  assert_int_equal(fake_store_count(store, SLICES), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reconcile_lifecycle, setup_world, teardown_world),
      cmocka_unit_test_setup_teardown(test_follower_takeover_no_writes, setup_world,
                                      teardown_world),
      cmocka_unit_test_setup_teardown(test_written_slices_not_rendered_again, setup_world, teardown_world),
      cmocka_unit_test_setup_teardown(test_adaptive_debounce, setup_world, teardown_world),
      cmocka_unit_test_setup_teardown(test_leader_election, setup_world, teardown_world),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
