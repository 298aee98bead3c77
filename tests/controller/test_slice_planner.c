/* test_slice_planner.c: unit tests of the slice planner and the pool-sync (generation) rules
 * with hand-built devices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "health_taints.h"
#include "pool_sync.h"
#include "slice_planner.h"
#include "slice_spec_equal.h"

#define MAXDEV 400

typedef struct {
  nd_device devs[MAXDEV];
  const nd_device *ptrs[MAXDEV];
  char names[MAXDEV][32];
  nd_device_taint taints[MAXDEV];
  size_t n;
} fixture;

static nd_node_requirement zone_a_req = {
    .key = "topology.kubernetes.io/zone", .op = "In", .values = (char *[]){"zone-a"}, .n_values = 1};
static nd_node_requirement zone_b_req = {
    .key = "topology.kubernetes.io/zone", .op = "In", .values = (char *[]){"zone-b"}, .n_values = 1};

static void fill(fixture *f, size_t n, const char *pool) {
  memset(f, 0, sizeof(*f));
  f->n = n;
  for (size_t i = 0; i < n; i++) {
    snprintf(f->names[i], sizeof(f->names[i]), "cam-%04zu", i);
    nd_device *d = &f->devs[i];
    d->source = "static";
    d->pool = (char *)pool;
    d->id = f->names[i];
    d->name = f->names[i];
    d->type = "camera";
    d->vendor = "acme";
    d->model = "x1";
    d->endpoint = "rtsp://10.0.0.1/stream";
    d->all_nodes = true;
    f->ptrs[i] = d;
  }
}

static const nd_planner_options opts = {.driver = "netdra.dev"};

/* The specs a test rendered from its plans (nd_planned_slice_spec), freed by clear_plan. */
static json_t *rendered[1024];
static size_t n_rendered;

static json_t *spec_of(const nd_planned_pool *p, size_t s) {
  assert_true(s < p->n_slices);
  assert_true(n_rendered < ND_ARRAY_LEN(rendered));
  return rendered[n_rendered++] = nd_planned_slice_spec(p, s);
}

static void clear_plan(nd_planned_pool *p) {
  nd_planned_pool_clear(p);
  for (size_t i = 0; i < n_rendered; i++)
    json_decref(rendered[i]);
  n_rendered = 0;
}

static void plan(fixture *f, const char *pool, nd_planned_pool *out) {
  nd_error_t err = NULL;
  assert_int_equal(nd_plan_pool(&opts, pool, f->ptrs, f->taints, NULL, f->n, out, &err), 0);
  assert_null(err);
}

static size_t slice_devices(const nd_planned_pool *p, size_t s) {
  return json_array_size(json_object_get(spec_of(p, s), "devices"));
}

static void test_split_300(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  fill(f, 300, "lab");
  nd_planned_pool p;
  plan(f, "lab", &p);
  assert_int_equal(p.n_slices, 3);
  assert_int_equal(slice_devices(&p, 0), 128);
  assert_int_equal(slice_devices(&p, 1), 128);
  assert_int_equal(slice_devices(&p, 2), 44);
  for (size_t s = 0; s < 3; s++) {
    json_t *spec = spec_of(&p, s);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "pool"),
                                                        "resourceSliceCount")),
                     3);
    assert_true(json_is_true(json_object_get(spec, "allNodes")));
    assert_null(json_object_get(spec, "nodeSelector"));
    char want[64];
    snprintf(want, sizeof(want), "netdra.dev-lab-%zu", s);
    assert_string_equal(p.slices[s].name, want);
  }
  /* the first device of slice 1 is device 128 */
  json_t *d = json_array_get(json_object_get(spec_of(&p, 1), "devices"), 0);
  assert_string_equal(json_string_value(json_object_get(d, "name")), "cam-0128");
  clear_plan(&p);
  free(f);
}

static void test_taint_limit_64(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  fill(f, 300, "lab");
  f->taints[7].tainted = true;
  f->taints[7].since_wall_ms = 1764000000000ull;
  nd_planned_pool p;
  plan(f, "lab", &p);
  assert_int_equal(p.n_slices, 5);
  for (size_t s = 0; s < 5; s++)
    assert_true(slice_devices(&p, s) <= 64);
  json_t *d = json_array_get(json_object_get(spec_of(&p, 0), "devices"), 7);
  json_t *t = json_array_get(json_object_get(d, "taints"), 0);
  assert_non_null(t);
  assert_string_equal(json_string_value(json_object_get(t, "key")), "netdra.dev/unreachable");
  assert_string_equal(json_string_value(json_object_get(t, "value")), "true");
  assert_string_equal(json_string_value(json_object_get(t, "effect")), "NoSchedule");
  assert_string_equal(json_string_value(json_object_get(t, "timeAdded")), "2025-11-24T16:00:00Z");
  /* untainted devices carry no taints */
  assert_null(json_object_get(json_array_get(json_object_get(spec_of(&p, 0), "devices"), 6),
                              "taints"));
  clear_plan(&p);
  free(f);
}

static void test_node_selection(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  nd_planned_pool p;
  /* all agree on one requirement -> one nodeSelector term */
  fill(f, 3, "rack1");
  for (size_t i = 0; i < 3; i++) {
    f->devs[i].all_nodes = false;
    f->devs[i].node_reqs = &zone_a_req;
    f->devs[i].n_node_reqs = 1;
  }
  plan(f, "rack1", &p);
  json_t *spec = spec_of(&p, 0);
  assert_null(json_object_get(spec, "allNodes"));
  assert_null(json_object_get(spec, "perDeviceNodeSelection"));
  json_t *terms = json_object_get(json_object_get(spec, "nodeSelector"), "nodeSelectorTerms");
  assert_int_equal(json_array_size(terms), 1);
  json_t *expr = json_array_get(json_object_get(json_array_get(terms, 0), "matchExpressions"), 0);
  assert_string_equal(json_string_value(json_object_get(expr, "key")),
                      "topology.kubernetes.io/zone");
  assert_string_equal(json_string_value(json_object_get(expr, "operator")), "In");
  assert_string_equal(json_string_value(json_array_get(json_object_get(expr, "values"), 0)),
                      "zone-a");
  assert_null(json_object_get(json_array_get(json_object_get(spec, "devices"), 0), "nodeSelector"));
  clear_plan(&p);

  /* they differ -> perDeviceNodeSelection, each device its own */
  f->devs[1].node_reqs = &zone_b_req;
  f->devs[2].all_nodes = true;
  f->devs[2].node_reqs = NULL;
  f->devs[2].n_node_reqs = 0;
  plan(f, "rack1", &p);
  spec = spec_of(&p, 0);
  assert_true(json_is_true(json_object_get(spec, "perDeviceNodeSelection")));
  assert_null(json_object_get(spec, "allNodes"));
  assert_null(json_object_get(spec, "nodeSelector"));
  json_t *devs = json_object_get(spec, "devices");
  assert_non_null(json_object_get(json_array_get(devs, 0), "nodeSelector"));
  assert_non_null(json_object_get(json_array_get(devs, 1), "nodeSelector"));
  assert_true(json_is_true(json_object_get(json_array_get(devs, 2), "allNodes")));
  clear_plan(&p);

  /* all allNodes -> allNodes */
  fill(f, 2, "rack1");
  plan(f, "rack1", &p);
  assert_true(json_is_true(json_object_get(spec_of(&p, 0), "allNodes")));
  clear_plan(&p);
  free(f);
}

static void test_empty_pool(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  fill(f, 0, "empty");
  nd_planned_pool p;
  plan(f, "empty", &p);
  assert_int_equal(p.n_slices, 1);
  assert_int_equal(slice_devices(&p, 0), 0);
  assert_true(json_is_array(json_object_get(spec_of(&p, 0), "devices")));
  assert_true(json_is_true(json_object_get(spec_of(&p, 0), "allNodes")));
  clear_plan(&p);
  free(f);
}

static void test_stable_names(void **state) {
  char *a = nd_slice_name("netdra.dev", "lab", 2);
  assert_string_equal(a, "netdra.dev-lab-2");
  free(a);
  /* sanitised pools get a hash so that "Lab/Floor_2" and "lab-floor-2" never collide */
  char *b = nd_slice_name("netdra.dev", "Lab/Floor_2", 0);
  char *c = nd_slice_name("netdra.dev", "lab-floor-2", 0);
  char *b2 = nd_slice_name("netdra.dev", "Lab/Floor_2", 0);
  assert_string_not_equal(b, c);
  assert_string_equal(b, b2);
  assert_memory_equal(b, "netdra.dev-lab-floor-2-", strlen("netdra.dev-lab-floor-2-"));
  for (const char *p = b; *p; p++)
    assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.');
  free(b);
  free(b2);
  free(c);
  char longpool[300];
  memset(longpool, 'x', sizeof(longpool) - 1);
  longpool[sizeof(longpool) - 1] = '\0';
  char *l1 = nd_slice_name("netdra.dev", longpool, 11);
  longpool[250] = 'y';
  char *l2 = nd_slice_name("netdra.dev", longpool, 11);
  assert_true(strlen(l1) <= ND_SLICE_NAME_MAX);
  assert_string_not_equal(l1, l2);
  free(l1);
  free(l2);
}

static void test_attributes(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  fill(f, 2, "fab");
  nd_attr attrs[] = {{.name = "resolution", .type = ND_ATTR_STRING, .str = "4k"},
                     {.name = "channels", .type = ND_ATTR_INT, .num = 4},
                     {.name = "ptz", .type = ND_ATTR_BOOL, .flag = true},
                     {.name = "firmware", .type = ND_ATTR_VERSION, .str = "1.2.3"},
                     {.name = "type", .type = ND_ATTR_STRING, .str = "override"}};
  nd_capacity caps[] = {{.name = "memory", .quantity = "65536Mi"}, {.name = "bw", .quantity = "1.5"}};
  nd_device *d = &f->devs[0];
  d->type = "cxl-memory";
  d->attrs = attrs;
  d->n_attrs = ND_ARRAY_LEN(attrs);
  d->caps = caps;
  d->n_caps = 2;
  d->secret_namespace = "cams";
  d->secret_name = "cam-creds";
  d->fabric_region = "region-7";
  char *bc[] = {"netdra.dev/attached"}, *bfc[] = {"netdra.dev/attach-failed"};
  d->binds_to_node = true;
  d->binding_conditions = bc;
  d->n_binding_conditions = 1;
  d->binding_failure_conditions = bfc;
  d->n_binding_failure_conditions = 1;
  /* the second device has an endpoint over the 64-character limit: left out, not fatal */
  f->devs[1].endpoint = "rtsp://a-very-long-host-name.example.com/streams/main/high/quality/1080p";

  nd_planner_options o = opts;
  o.binding_conditions = true;
  nd_planned_pool p;
  nd_error_t err = NULL;
  assert_int_equal(nd_plan_pool(&o, "fab", f->ptrs, NULL, NULL, f->n, &p, &err), 0);
  assert_int_equal(p.n_skipped, 1);
  assert_int_equal(slice_devices(&p, 0), 1);
  json_t *dj = json_array_get(json_object_get(spec_of(&p, 0), "devices"), 0);
  json_t *a = json_object_get(dj, "attributes");
  assert_string_equal(json_string_value(json_object_get(json_object_get(a, "type"), "string")),
                      "cxl-memory");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(a, "secretRef"), "string")),
      "cams/cam-creds");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(a, "fabricRegion"), "string")),
      "region-7");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "channels"), "int")), 4);
  assert_true(json_is_true(json_object_get(json_object_get(a, "ptz"), "bool")));
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(a, "firmware"), "version")), "1.2.3");
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(json_object_get(dj, "capacity"), "memory"), "value")),
                      "64Gi"); /* canonical, as the API server stores it */
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(json_object_get(dj, "capacity"), "bw"), "value")),
                      "1500m");
  assert_true(json_is_true(json_object_get(dj, "bindsToNode")));
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(dj, "bindingConditions"), 0)),
      "netdra.dev/attached");
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(dj, "bindingFailureConditions"), 0)),
      "netdra.dev/attach-failed");
  clear_plan(&p);

  /* feature gate off: no binding fields */
  assert_int_equal(nd_plan_pool(&opts, "fab", f->ptrs, NULL, NULL, 1, &p, &err), 0);
  dj = json_array_get(json_object_get(spec_of(&p, 0), "devices"), 0);
  assert_null(json_object_get(dj, "bindsToNode"));
  assert_null(json_object_get(dj, "bindingConditions"));
  clear_plan(&p);
  free(f);
}

/* ---- pool sync -------------------------------------------------------------------------- */

/* Turn the ops of a sync into "existing" objects, as the API server would store them. */
typedef struct {
  json_t *objs[16];
  size_t n;
} store;

/* The request body of an op, parsed (the caller owns it). */
static json_t *body_of(const nd_slice_op *op) {
  json_t *j = json_loads(op->body, 0, NULL);
  assert_non_null(j);
  return j;
}

static void apply(store *s, const nd_pool_sync *sync) {
  for (size_t i = 0; i < sync->n_ops; i++) {
    const nd_slice_op *op = &sync->ops[i];
    size_t at = s->n;
    for (size_t j = 0; j < s->n; j++)
      if (strcmp(json_string_value(json_object_get(json_object_get(s->objs[j], "metadata"), "name")),
                 op->name) == 0)
        at = j;
    if (op->kind == ND_SLICE_DELETE) {
      assert_true(at < s->n);
      json_decref(s->objs[at]);
      s->objs[at] = s->objs[--s->n];
    } else if (op->kind == ND_SLICE_UPDATE) {
      assert_true(at < s->n);
      json_decref(s->objs[at]);
      s->objs[at] = body_of(op);
    } else {
      assert_int_equal(at, s->n);
      s->objs[s->n++] = body_of(op);
    }
  }
}

static void store_clear(store *s) {
  for (size_t i = 0; i < s->n; i++)
    json_decref(s->objs[i]);
  s->n = 0;
}

static size_t count_ops(const nd_pool_sync *s, nd_slice_op_kind k) {
  size_t n = 0;
  for (size_t i = 0; i < s->n_ops; i++)
    n += s->ops[i].kind == k;
  return n;
}

/* nd_pool_sync_compute with existing objects (summarised as the reconciler's cache does). */
static void compute(const nd_planned_pool *desired, json_t *const *objs, size_t n, bool always,
                    nd_pool_sync *out) {
  nd_published_slice *existing[16];
  assert_true(n <= 16);
  for (size_t i = 0; i < n; i++)
    assert_non_null(existing[i] = nd_published_slice_new(objs[i]));
  nd_pool_sync_compute(desired, existing, n, "v1", always, out);
  for (size_t i = 0; i < n; i++)
    nd_published_slice_free(existing[i]);
}

static void sync_once(fixture *f, store *st, bool always, nd_pool_sync *out) {
  nd_planned_pool p;
  plan(f, "lab", &p);
  compute(&p, st->objs, st->n, always, out);
  apply(st, out);
  clear_plan(&p);
}

static void assert_store_generation(const store *st, int64_t gen, size_t count) {
  assert_int_equal(st->n, count);
  for (size_t i = 0; i < st->n; i++) {
    json_t *pool = json_object_get(json_object_get(st->objs[i], "spec"), "pool");
    assert_int_equal(json_integer_value(json_object_get(pool, "generation")), gen);
    assert_int_equal(json_integer_value(json_object_get(pool, "resourceSliceCount")), count);
  }
}

static void test_generation_rules(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  store st = {0};
  nd_pool_sync s;

  /* new pool: three creates, generation 0 */
  fill(f, 300, "lab");
  sync_once(f, &st, false, &s);
  assert_int_equal(count_ops(&s, ND_SLICE_CREATE), 3);
  assert_int_equal(s.n_ops, 3);
  json_t *first_body = body_of(&s.ops[0]);
  assert_string_equal(
      json_string_value(json_object_get(first_body, "apiVersion")), "resource.k8s.io/v1");
  json_decref(first_body);
  nd_pool_sync_clear(&s);
  assert_store_generation(&st, 0, 3);

  /* nothing changed (a restart): no write */
  sync_once(f, &st, false, &s);
  assert_int_equal(s.n_ops, 0);
  nd_pool_sync_clear(&s);

  /* one device in one slice changes: that slice only, generation kept */
  f->devs[200].model = "x2";
  sync_once(f, &st, false, &s);
  assert_int_equal(s.n_ops, 1);
  assert_int_equal(s.ops[0].kind, ND_SLICE_UPDATE);
  assert_string_equal(s.ops[0].name, "netdra.dev-lab-1");
  nd_pool_sync_clear(&s);
  assert_store_generation(&st, 0, 3);

  /* the same change with always_bump: every slice rewritten at generation 1 */
  f->devs[200].model = "x3";
  sync_once(f, &st, true, &s);
  assert_int_equal(count_ops(&s, ND_SLICE_UPDATE), 3);
  nd_pool_sync_clear(&s);
  assert_store_generation(&st, 1, 3);

  /* a taint moves the limit to 64: five slices, generation 2, updates before creates */
  f->taints[3].tainted = true;
  f->taints[3].since_wall_ms = 1000;
  sync_once(f, &st, false, &s);
  assert_int_equal(count_ops(&s, ND_SLICE_UPDATE), 3);
  assert_int_equal(count_ops(&s, ND_SLICE_CREATE), 2);
  assert_int_equal(s.ops[0].kind, ND_SLICE_UPDATE);
  assert_int_equal(s.ops[4].kind, ND_SLICE_CREATE);
  nd_pool_sync_clear(&s);
  assert_store_generation(&st, 2, 5);

  /* the taint's timeAdded of the stored slice is kept: a later plan with another time
   * changes nothing */
  f->taints[3].since_wall_ms = 999000;
  sync_once(f, &st, false, &s);
  assert_int_equal(s.n_ops, 0);
  nd_pool_sync_clear(&s);

  /* taint lifted, pool shrinks back to 3 slices: deletes first, then updates, generation 3 */
  f->taints[3].tainted = false;
  sync_once(f, &st, false, &s);
  assert_int_equal(count_ops(&s, ND_SLICE_DELETE), 2);
  assert_int_equal(count_ops(&s, ND_SLICE_UPDATE), 3);
  assert_int_equal(s.ops[0].kind, ND_SLICE_DELETE);
  assert_int_equal(s.ops[1].kind, ND_SLICE_DELETE);
  nd_pool_sync_clear(&s);
  assert_store_generation(&st, 3, 3);

  /* someone deletes a slice: it comes back (a new slice is needed -> generation 4) */
  json_decref(st.objs[1]);
  st.objs[1] = st.objs[--st.n];
  sync_once(f, &st, false, &s);
  assert_int_equal(count_ops(&s, ND_SLICE_CREATE), 1);
  nd_pool_sync_clear(&s);
  assert_store_generation(&st, 4, 3);

  /* someone edits a slice: put back with one update */
  json_object_set_new(json_object_get(st.objs[0], "spec"), "devices", json_array());
  sync_once(f, &st, false, &s);
  assert_int_equal(s.n_ops, 1);
  assert_int_equal(s.ops[0].kind, ND_SLICE_UPDATE);
  nd_pool_sync_clear(&s);
  assert_store_generation(&st, 4, 3);

  /* a device added at the front shifts every slice: generation bumped in all slices */
  fill(f, 301, "lab");
  sync_once(f, &st, false, &s);
  assert_int_equal(count_ops(&s, ND_SLICE_UPDATE), 3);
  nd_pool_sync_clear(&s);
  assert_store_generation(&st, 5, 3);

  /* the pool is gone: everything deleted */
  compute(NULL, st.objs, st.n, false, &s);
  assert_int_equal(count_ops(&s, ND_SLICE_DELETE), 3);
  apply(&st, &s);
  nd_pool_sync_clear(&s);
  assert_int_equal(st.n, 0);

  store_clear(&st);
  free(f);
}

static void test_health_hysteresis(void **state) {
  nd_health_taints *h = nd_health_taints_new(5000);
  uint64_t recheck = 0;
  /* new online device: no taint */
  nd_health_taints_begin(h);
  nd_device_taint t = nd_health_taints_decide(h, "p", "a", ND_HEALTH_ONLINE, false, 0, 1000, &recheck);
  assert_false(t.tainted);
  nd_health_taints_end(h, NULL);
  /* goes stale: tainted at once, timeAdded = now */
  nd_health_taints_begin(h);
  t = nd_health_taints_decide(h, "p", "a", ND_HEALTH_STALE, false, 0, 2000, &recheck);
  assert_true(t.tainted);
  assert_int_equal(t.since_wall_ms, 2000);
  nd_health_taints_end(h, NULL);
  assert_int_equal(nd_health_taints_count(h), 1);
  /* offline later: still the first timeAdded */
  t = nd_health_taints_decide(h, "p", "a", ND_HEALTH_OFFLINE, false, 0, 3000, &recheck);
  assert_int_equal(t.since_wall_ms, 2000);
  /* back online: taint kept during the hysteresis, recheck at its end */
  recheck = 0;
  t = nd_health_taints_decide(h, "p", "a", ND_HEALTH_ONLINE, false, 0, 4000, &recheck);
  assert_true(t.tainted);
  assert_int_equal(recheck, 9000);
  /* flaps: hysteresis restarts */
  t = nd_health_taints_decide(h, "p", "a", ND_HEALTH_STALE, false, 0, 6000, &recheck);
  assert_true(t.tainted);
  recheck = 0;
  t = nd_health_taints_decide(h, "p", "a", ND_HEALTH_ONLINE, false, 0, 7000, &recheck);
  assert_true(t.tainted);
  assert_int_equal(recheck, 12000);
  t = nd_health_taints_decide(h, "p", "a", ND_HEALTH_ONLINE, false, 0, 11999, &recheck);
  assert_true(t.tainted);
  t = nd_health_taints_decide(h, "p", "a", ND_HEALTH_ONLINE, false, 0, 12000, &recheck);
  assert_false(t.tainted);
  /* after a restart: a published taint is adopted with its timeAdded, then lifted after the
   * hysteresis */
  nd_health_taints_begin(h);
  t = nd_health_taints_decide(h, "p", "b", ND_HEALTH_ONLINE, true, 500, 20000, &recheck);
  assert_true(t.tainted);
  assert_int_equal(t.since_wall_ms, 500);
  nd_health_taints_end(h, NULL); /* "a" was not decided in this round: forgotten */
  assert_int_equal(nd_health_taints_count(h), 1);
  t = nd_health_taints_decide(h, "p", "b", ND_HEALTH_ONLINE, true, 500, 25000, &recheck);
  assert_false(t.tainted);
  nd_health_taints_free(h);
}

/* Many devices in one pool (the table grows), a partial forget, a device seen again after it
 * was forgotten (a published taint is adopted again), pools forgotten as a whole. */
static void test_health_many_devices(void **state) {
  nd_health_taints *h = nd_health_taints_new(5000);
  char name[32];
  nd_health_taints_begin(h);
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof(name), "dev-%04d", i);
    nd_health_taints_decide(h, "p", name, i % 10 == 0 ? ND_HEALTH_STALE : ND_HEALTH_ONLINE,
                            false, 0, 1000 + (uint64_t)i, NULL);
  }
  nd_health_taints_decide(h, "q", "other", ND_HEALTH_OFFLINE, false, 0, 1000, NULL);
  nd_health_taints_end(h, NULL);
  assert_int_equal(nd_health_taints_count(h), 101);
  assert_int_equal(nd_health_taints_tracked(h), 101); /* the 900 healthy devices keep nothing */
  /* states survive the growth: dev-0990 was tainted at 1990 */
  nd_health_taints_begin(h);
  nd_device_taint t = nd_health_taints_decide(h, "p", "dev-0990", ND_HEALTH_OFFLINE, false, 0,
                                              5000, NULL);
  assert_true(t.tainted);
  assert_int_equal(t.since_wall_ms, 1990);
  /* a round of pool p that decides only the first half: the rest are forgotten; q is kept */
  for (int i = 0; i < 500; i++) {
    snprintf(name, sizeof(name), "dev-%04d", i);
    nd_health_taints_decide(h, "p", name, i % 10 == 0 ? ND_HEALTH_STALE : ND_HEALTH_ONLINE,
                            false, 0, 6000, NULL);
  }
  json_t *only = json_pack("{s:b}", "p", 1);
  nd_health_taints_end(h, only);
  assert_int_equal(nd_health_taints_count(h), 50 + 1 + 1); /* 0..490, dev-0990, q/other */
  nd_health_taints_begin(h);
  nd_health_taints_decide(h, "p", "dev-0990", ND_HEALTH_ONLINE, false, 0, 7000, NULL);
  nd_health_taints_end(h, only); /* only dev-0990 decided: the rest of p forgotten */
  assert_int_equal(nd_health_taints_count(h), 1 + 1);
  /* a device seen again after it was forgotten adopts its published taint */
  nd_health_taints_begin(h);
  t = nd_health_taints_decide(h, "p", "dev-0010", ND_HEALTH_ONLINE, true, 1010, 8000, NULL);
  assert_true(t.tainted);
  assert_int_equal(t.since_wall_ms, 1010);
  /* an online device that was decided untainted ignores a published taint while it is
   * remembered */
  t = nd_health_taints_decide(h, "p", "dev-0990", ND_HEALTH_ONLINE, true, 1, 8000, NULL);
  assert_true(t.tainted); /* still in its hysteresis (online since 7000) */
  t = nd_health_taints_decide(h, "p", "dev-0990", ND_HEALTH_ONLINE, true, 1, 12000, NULL);
  assert_false(t.tainted);
  nd_health_taints_end(h, only);
  /* lifted while its slice still shows the taint: remembered, so the stale published taint is
   * not adopted again; once the slice shows no taint, forgotten */
  nd_health_taints_begin(h);
  t = nd_health_taints_decide(h, "p", "dev-0990", ND_HEALTH_ONLINE, true, 1, 13000, NULL);
  assert_false(t.tainted);
  nd_health_taints_decide(h, "p", "dev-0010", ND_HEALTH_ONLINE, true, 1010, 13000, NULL);
  nd_health_taints_end(h, only);
  size_t before = nd_health_taints_tracked(h);
  nd_health_taints_begin(h);
  t = nd_health_taints_decide(h, "p", "dev-0990", ND_HEALTH_ONLINE, false, 0, 14000, NULL);
  assert_false(t.tainted);
  nd_health_taints_decide(h, "p", "dev-0010", ND_HEALTH_ONLINE, true, 1010, 14000, NULL);
  nd_health_taints_end(h, only);
  assert_int_equal(nd_health_taints_tracked(h), before - 1);
  nd_health_taints_begin(h);
  t = nd_health_taints_decide(h, "p", "dev-0990", ND_HEALTH_ONLINE, false, 0, 15000, NULL);
  assert_false(t.tainted);
  nd_health_taints_end(h, NULL); /* q not decided: forgotten as a whole; dev-0010 too */
  assert_int_equal(nd_health_taints_count(h), 0);
  assert_int_equal(nd_health_taints_tracked(h), 0);
  json_decref(only);
  nd_health_taints_free(h);
}

/* One bad device is left out with a reason; the rest of the pool is published. */
static void test_bad_devices_left_out(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  fill(f, 6, "lab");
  nd_attr bad_key = {.name = "not a key", .type = ND_ATTR_STRING, .str = "x"};
  nd_attr long_val = {.name = "note", .type = ND_ATTR_STRING,
                      .str = "0123456789012345678901234567890123456789012345678901234567890123456789"};
  nd_capacity bad_cap = {.name = "mem", .quantity = "lots"};
  nd_node_requirement bad_req = {.key = "-bad-", .op = "In", .values = (char *[]){"a"}, .n_values = 1};
  f->devs[0].attrs = &bad_key;
  f->devs[0].n_attrs = 1;
  f->devs[1].attrs = &long_val;
  f->devs[1].n_attrs = 1;
  f->devs[2].caps = &bad_cap;
  f->devs[2].n_caps = 1;
  f->devs[3].name = "Not_A_Label";
  f->devs[4].all_nodes = false;
  f->devs[4].node_reqs = &bad_req;
  f->devs[4].n_node_reqs = 1;
  nd_planned_pool p;
  plan(f, "lab", &p);
  assert_int_equal(p.n_skipped, 5);
  assert_int_equal(slice_devices(&p, 0), 1);
  json_t *d = json_array_get(json_object_get(spec_of(&p, 0), "devices"), 0);
  assert_string_equal(json_string_value(json_object_get(d, "name")), "cam-0005");
  clear_plan(&p);
  free(f);
}

static void test_spec_equal(void **state) {
  json_t *a = json_loads("{\"driver\":\"d\",\"allNodes\":true,\"devices\":[{\"name\":\"x\","
                         "\"attributes\":{\"n\":{\"int\":0}}}]}", 0, NULL);
  json_t *b = json_loads("{\"allNodes\":true,\"driver\":\"d\",\"nodeName\":\"\",\"sharedCounters\":[],"
                         "\"devices\":[{\"name\":\"x\",\"bindsToNode\":false,\"taints\":null,"
                         "\"attributes\":{\"n\":{\"int\":0}}}]}", 0, NULL);
  json_t *c = json_loads("{\"driver\":\"d\",\"allNodes\":true,\"devices\":[{\"name\":\"x\","
                         "\"attributes\":{\"n\":{\"int\":1}}}]}", 0, NULL);
  assert_true(nd_slice_spec_equal(a, b));  /* server-side empty fields do not count */
  assert_false(nd_slice_spec_equal(a, c)); /* a real difference does */
  json_decref(a);
  json_decref(b);
  json_decref(c);
}

/* The slice number of each device of a planned pool, by device index in the fixture. */
static void placement_of(const fixture *f, const nd_planned_pool *p, int *placement) {
  for (size_t i = 0; i < f->n; i++)
    placement[i] = -1;
  for (size_t s = 0; s < p->n_slices; s++) {
    long number = nd_slice_number("netdra.dev", p->pool, p->slices[s].name);
    assert_true(number >= 0);
    size_t k;
    json_t *d;
    json_array_foreach(json_object_get(spec_of(p, s), "devices"), k, d) {
      const char *name = json_string_value(json_object_get(d, "name"));
      for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0)
          placement[i] = (int)number;
    }
  }
}

static const json_t *slice_named(const nd_planned_pool *p, const char *name) {
  for (size_t s = 0; s < p->n_slices; s++)
    if (strcmp(p->slices[s].name, name) == 0)
      return spec_of(p, s);
  return NULL;
}

/* Growth with placement: a new device that sorts first joins the slice with room; every
 * other slice stays exactly as it was (one write, no generation bump). */
static void test_sticky_growth(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  fill(f, 300, "lab");
  nd_planned_pool before;
  plan(f, "lab", &before);
  int placement[MAXDEV];
  /* a new device "cam-0000a" sorts between cam-0000 and cam-0001: insert it at index 1 */
  fixture *g = calloc(1, sizeof(*g));
  fill(g, 301, "lab");
  int gp[MAXDEV];
  placement_of(f, &before, placement);
  snprintf(g->names[1], sizeof(g->names[1]), "cam-0000a");
  for (size_t i = 2; i < 301; i++)
    snprintf(g->names[i], sizeof(g->names[i]), "cam-%04zu", i - 1);
  gp[0] = placement[0];
  gp[1] = -1;
  for (size_t i = 2; i < 301; i++)
    gp[i] = placement[i - 1];
  nd_planned_pool after;
  nd_error_t err = NULL;
  assert_int_equal(nd_plan_pool(&opts, "lab", g->ptrs, NULL, gp, g->n, &after, &err), 0);
  assert_int_equal(after.n_slices, 3);
  assert_true(nd_slice_spec_equal(slice_named(&before, "netdra.dev-lab-0"),
                                  slice_named(&after, "netdra.dev-lab-0")));
  assert_true(nd_slice_spec_equal(slice_named(&before, "netdra.dev-lab-1"),
                                  slice_named(&after, "netdra.dev-lab-1")));
  const json_t *last = slice_named(&after, "netdra.dev-lab-2");
  assert_int_equal(json_array_size(json_object_get(last, "devices")), 45);
  /* within a slice devices stay in name order */
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(last, "devices"), 0), "name")),
                      "cam-0000a");
  /* the generation rule sees one changed slice: no bump, one update */
  json_t *existing[3];
  for (size_t s = 0; s < 3; s++) {
    existing[s] = json_pack("{s:s, s:{s:s, s:s, s:s}, s:O}", "apiVersion",
                            "resource.k8s.io/v1", "metadata", "name", before.slices[s].name,
                            "uid", "u", "resourceVersion", "1", "spec", spec_of(&before, s));
    json_object_set_new(json_object_get(json_object_get(existing[s], "spec"), "pool"),
                        "generation", json_integer(4));
  }
  nd_pool_sync sync;
  compute(&after, existing, 3, false, &sync);
  assert_int_equal(sync.n_ops, 1);
  assert_int_equal(sync.generation, 4);
  assert_string_equal(sync.ops[0].name, "netdra.dev-lab-2");
  nd_pool_sync_clear(&sync);
  for (size_t s = 0; s < 3; s++)
    json_decref(existing[s]);
  clear_plan(&before);
  clear_plan(&after);
  free(f);
  free(g);
}

/* Removals leave holes; up to one slice beyond the minimum is kept, beyond that the pool is
 * repacked in name order. */
static void test_sticky_shrink_and_repack(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  fill(f, 384, "lab"); /* 3 full slices */
  int placement[MAXDEV];
  for (size_t i = 0; i < 384; i++)
    placement[i] = (int)(i / 128);
  /* 100 devices gone from slice 1 (cam-0128..0227): 284 devices still fit 3 slices */
  fixture *g = calloc(1, sizeof(*g));
  int gp[MAXDEV];
  size_t k = 0;
  fill(g, 284, "lab");
  for (size_t i = 0; i < 384; i++) {
    if (i >= 128 && i < 228)
      continue;
    snprintf(g->names[k], sizeof(g->names[k]), "cam-%04zu", i);
    gp[k++] = placement[i];
  }
  nd_planned_pool p;
  nd_error_t err = NULL;
  assert_int_equal(nd_plan_pool(&opts, "lab", g->ptrs, NULL, gp, g->n, &p, &err), 0);
  assert_int_equal(p.n_slices, 3);
  assert_int_equal(json_array_size(json_object_get(slice_named(&p, "netdra.dev-lab-1"), "devices")),
                   28);
  clear_plan(&p);
  /* only 100 devices left, spread over slices 0, 1 and 2: more than minimum + 1: repacked */
  fill(g, 100, "lab");
  for (size_t i = 0; i < 100; i++) {
    snprintf(g->names[i], sizeof(g->names[i]), "cam-%04zu", i * 3);
    gp[i] = placement[i * 3];
  }
  assert_int_equal(nd_plan_pool(&opts, "lab", g->ptrs, NULL, gp, g->n, &p, &err), 0);
  /* slices 0 and 1 may stay (minimum 1 + 1); the devices of slice 2 join slice 0 */
  assert_int_equal(p.n_slices, 2);
  assert_non_null(slice_named(&p, "netdra.dev-lab-0"));
  assert_non_null(slice_named(&p, "netdra.dev-lab-1"));
  clear_plan(&p);
  /* a taint halves the slice size: a full slice of 128 cannot stay, the pool is repacked */
  fill(g, 128, "lab");
  for (size_t i = 0; i < 128; i++)
    gp[i] = 0;
  g->taints[5].tainted = true;
  assert_int_equal(nd_plan_pool(&opts, "lab", g->ptrs, g->taints, gp, g->n, &p, &err), 0);
  assert_int_equal(p.n_slices, 2);
  assert_int_equal(json_array_size(json_object_get(slice_named(&p, "netdra.dev-lab-0"), "devices")),
                   64);
  clear_plan(&p);
  free(f);
  free(g);
}

static void test_slice_number(void **state) {
  cleanup_free char *n7 = nd_slice_name("netdra.dev", "lab", 7);
  assert_int_equal(nd_slice_number("netdra.dev", "lab", n7), 7);
  cleanup_free char *odd = nd_slice_name("netdra.dev", "Lab_Pool!", 12);
  assert_int_equal(nd_slice_number("netdra.dev", "Lab_Pool!", odd), 12);
  assert_int_equal(nd_slice_number("netdra.dev", "lab", "netdra.dev-lab-07"), -1);
  assert_int_equal(nd_slice_number("netdra.dev", "lab", "netdra.dev-lab-"), -1);
  assert_int_equal(nd_slice_number("netdra.dev", "lab", "netdra.dev-yard-1"), -1);
  assert_int_equal(nd_slice_number("netdra.dev", "lab", "someone-else-lab-1"), -1);
  assert_int_equal(nd_slice_number("netdra.dev", "lab", "netdra.dev-lab-99999999999"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_300),      cmocka_unit_test(test_taint_limit_64),
      cmocka_unit_test(test_sticky_growth),  cmocka_unit_test(test_sticky_shrink_and_repack),
      cmocka_unit_test(test_slice_number),
      cmocka_unit_test(test_node_selection), cmocka_unit_test(test_empty_pool),
      cmocka_unit_test(test_stable_names),   cmocka_unit_test(test_attributes),
      cmocka_unit_test(test_generation_rules), cmocka_unit_test(test_health_hysteresis),
      cmocka_unit_test(test_health_many_devices),
      cmocka_unit_test(test_spec_equal),     cmocka_unit_test(test_bad_devices_left_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
