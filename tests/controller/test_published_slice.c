/* test_published_slice.c: what the controller keeps of a published slice instead of the slice
 * (published_slice.h, slice_spec_digest.h, published_index.h): the spec digest is exactly as
 * strict as the spec comparison it replaces (a changed field is written, an unchanged one, in
 * any key order or with server-side empty members, is not), the summary keeps device names,
 * taints and the metadata that writes send back, and the index finds each device's slice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "pool_sync.h"
#include "published_index.h"
#include "published_slice.h"
#include "slice_spec_equal.h"

#define BASE                                                                                     \
  "{\"driver\":\"netdra.dev\",\"pool\":{\"name\":\"lab\",\"generation\":3,"                     \
  "\"resourceSliceCount\":1},\"allNodes\":true,\"devices\":[{\"name\":\"cam-0\","               \
  "\"attributes\":{\"type\":{\"string\":\"camera\"},\"n\":{\"int\":1}},"                        \
  "\"capacity\":{\"mem\":{\"value\":\"64Gi\"}},\"taints\":[{\"key\":\"netdra.dev/unreachable\"," \
  "\"value\":\"true\",\"effect\":\"NoSchedule\",\"timeAdded\":\"2026-11-24T10:00:00Z\"}]},"     \
  "{\"name\":\"cam-1\"}]}"

static json_t *spec_from(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  assert_non_null(j);
  return j;
}

static bool same(const char *a, const char *b) {
  cleanup_json json_t *x = spec_from(a);
  cleanup_json json_t *y = spec_from(b);
  return nd_slice_spec_equal(x, y);
}

/* BASE with one substring replaced. */
static char *edited(const char *from, const char *to) {
  const char *at = strstr(BASE, from);
  assert_non_null(at);
  char *out = NULL;
  assert_true(asprintf(&out, "%.*s%s%s", (int)(at - BASE), BASE, to, at + strlen(from)) > 0);
  return out;
}

static void test_digest_strictness(void **state) {
  /* the same state: other key order, server-side empty members */
  assert_true(same(BASE, BASE));
  cleanup_free char *reordered = edited("\"driver\":\"netdra.dev\",\"pool\"", "\"pool\"");
  cleanup_free char *reordered2 = NULL; /* "driver" last */
  assert_true(asprintf(&reordered2, "%.*s,\"driver\":\"netdra.dev\"}",
                       (int)strlen(reordered) - 1, reordered) > 0);
  assert_string_not_equal(reordered2, BASE);
  assert_true(same(BASE, reordered2));
  cleanup_free char *empties = edited("{\"name\":\"cam-1\"}",
                                      "{\"bindsToNode\":false,\"taints\":[],\"attributes\":{},"
                                      "\"name\":\"cam-1\",\"nodeSelector\":null}");
  assert_true(same(BASE, empties));
  /* an object member whose members are all empty is empty too */
  cleanup_free char *nested = edited("{\"name\":\"cam-1\"}",
                                     "{\"name\":\"cam-1\",\"nodeSelector\":{\"nodeSelectorTerms\":[],"
                                     "\"x\":{\"y\":null,\"z\":\"\"}}}");
  assert_true(same(BASE, nested));
  /* every real difference counts */
  const char *changes[][2] = {
      {"\"camera\"", "\"cameras\""},                   /* attribute value */
      {"{\"int\":1}", "{\"int\":2}"},                   /* integer attribute */
      {"{\"int\":1}", "{\"int\":1.0}"},                 /* integer vs real */
      {"{\"int\":1}", "{\"string\":\"1\"}"},            /* type of a value */
      {"\"64Gi\"", "\"65Gi\""},                         /* capacity */
      {"10:00:00Z", "10:00:01Z"},                       /* taint timeAdded */
      {"\"NoSchedule\"", "\"NoExecute\""},              /* taint effect */
      {"\"generation\":3", "\"generation\":4"},         /* pool generation */
      {"\"resourceSliceCount\":1", "\"resourceSliceCount\":2"},
      {"\"allNodes\":true", "\"perDeviceNodeSelection\":true"},
      {"{\"name\":\"cam-1\"}", "{\"name\":\"cam-2\"}"}, /* device name */
      {"{\"name\":\"cam-1\"}", "{\"name\":\"cam-1\",\"allNodes\":true}"},
      {"{\"name\":\"cam-1\"}", "{\"name\":\"cam-1\",\"taints\":[{}]}"}, /* list elements count */
      {"{\"name\":\"cam-1\"}", "{\"name\":\"cam-1\",\"x\":[null]}"},
      {"{\"name\":\"cam-1\"}", "{\"name\":\"cam-1a\"}"},                /* string length */
      {"\"n\":{\"int\":1}", "\"nx\":{\"int\":1}"},                      /* key */
  };
  for (size_t i = 0; i < ND_ARRAY_LEN(changes); i++) {
    cleanup_free char *changed = edited(changes[i][0], changes[i][1]);
    if (same(BASE, changed))
      fail_msg("not seen as a change: %s -> %s", changes[i][0], changes[i][1]);
  }
  /* device order is part of the state */
  cleanup_json json_t *a = spec_from(BASE);
  cleanup_json json_t *b = json_deep_copy(a);
  json_t *devs = json_object_get(b, "devices");
  json_t *first = json_incref(json_array_get(devs, 0));
  json_array_remove(devs, 0);
  json_array_append_new(devs, first);
  assert_false(nd_slice_spec_equal(a, b));
}

static json_t *object_with(const char *name, const char *rv, const char *spec_text) {
  json_t *spec = spec_from(spec_text);
  return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:[{s:s}], s:s}, s:o}", "apiVersion",
                   "resource.k8s.io/v1", "kind", "ResourceSlice", "metadata", "name", name,
                   "uid", "u-1", "resourceVersion", rv, "managedFields", "manager", "x",
                   "creationTimestamp", "2026-11-24T10:00:00Z", "spec", spec);
}

static void test_summary(void **state) {
  cleanup_json json_t *obj = object_with("netdra.dev-lab-2", "17", BASE);
  nd_published_slice *s = nd_published_slice_new(obj);
  assert_non_null(s);
  assert_string_equal(s->name, "netdra.dev-lab-2");
  assert_string_equal(s->pool, "lab");
  assert_string_equal(s->resource_version, "17");
  assert_int_equal(s->generation, 3);
  /* what an update sends back: no managedFields, no creationTimestamp */
  assert_null(json_object_get(s->metadata, "managedFields"));
  assert_null(json_object_get(s->metadata, "creationTimestamp"));
  assert_string_equal(json_string_value(json_object_get(s->metadata, "uid")), "u-1");
  nd_spec_digest d = nd_slice_spec_digest(json_object_get(obj, "spec"));
  assert_true(nd_spec_digest_equal(&d, &s->digest));
  /* device names in order; taints only for the device that has them */
  assert_int_equal(s->n_devices, 2);
  const char *n0 = nd_published_slice_next_device(s, NULL);
  const char *n1 = nd_published_slice_next_device(s, n0);
  assert_string_equal(n0, "cam-0");
  assert_string_equal(n1, "cam-1");
  assert_null(nd_published_slice_next_device(s, n1));
  assert_int_equal(json_array_size(nd_published_slice_taints(s, "cam-0")), 1);
  assert_null(nd_published_slice_taints(s, "cam-1"));

  /* the same object again is the same state; a new resourceVersion is not */
  cleanup_json json_t *obj2 = object_with("netdra.dev-lab-2", "18", BASE);
  nd_published_slice *s2 = nd_published_slice_new(obj2);
  nd_published_slice *s3 = nd_published_slice_new(obj);
  assert_false(nd_published_slice_same(s, s2));
  assert_true(nd_published_slice_same(s, s3));

  /* the index: device -> slice number and taints */
  nd_published_index *ix = nd_published_index_new();
  const nd_published_slice *all[] = {s};
  nd_published_index_build(ix, all, 1, "netdra.dev");
  const nd_published_device *p0 = nd_published_index_find(ix, "lab", "cam-0");
  assert_non_null(p0);
  assert_int_equal(p0->slice, 2);
  assert_non_null(p0->taints);
  assert_null(nd_published_index_find(ix, "lab", "cam-9"));
  assert_null(nd_published_index_find(ix, "yard", "cam-0"));
  nd_published_index_free(ix);
  nd_published_slice_free(s);
  nd_published_slice_free(s2);
  nd_published_slice_free(s3);
  assert_null(nd_published_slice_new(json_object_get(obj, "spec"))); /* not an object */
}

/* A summary of slice number `number` of pool `pool` publishing the devices named in `devs`
 * (space separated). */
static nd_published_slice *summary_of(const char *pool, int number, const char *devs) {
  char name[64], spec[1024];
  snprintf(name, sizeof(name), "netdra.dev-%s-%d", pool, number);
  int n = snprintf(spec, sizeof(spec), "{\"driver\":\"netdra.dev\",\"pool\":{\"name\":\"%s\","
                   "\"generation\":1,\"resourceSliceCount\":3},\"allNodes\":true,\"devices\":[", pool);
  char copy[256];
  snprintf(copy, sizeof(copy), "%s", devs);
  const char *sep = "";
  for (char *save = NULL, *d = strtok_r(copy, " ", &save); d; d = strtok_r(NULL, " ", &save)) {
    n += snprintf(spec + n, sizeof(spec) - (size_t)n, "%s{\"name\":\"%s\"}", sep, d);
    sep = ",";
  }
  snprintf(spec + n, sizeof(spec) - (size_t)n, "]}");
  cleanup_json json_t *obj = object_with(name, "1", spec);
  nd_published_slice *sl = nd_published_slice_new(obj);
  assert_non_null(sl);
  return sl;
}

/* The index kept up to date one slice at a time answers every lookup as an index built from
 * scratch over the same slices: a slice grown, shrunk, added, removed, a device moving between
 * slices (published by both for a while), two pools with the same device names. */
static void assert_same_answers(nd_published_index *kept, nd_published_slice *const *live,
                                size_t n) {
  nd_published_index *fresh = nd_published_index_new();
  nd_published_index_build(fresh, (const nd_published_slice *const *)live, n, "netdra.dev");
  static const char *const pools[] = {"lab", "yard", "aaa", "zzz"};
  for (size_t p = 0; p < 4; p++) {
    nd_published_walk walk = nd_published_index_walk(kept, pools[p]);
    for (int i = 0; i < 12; i++) {
      char dev[16];
      snprintf(dev, sizeof(dev), "d-%02d", i);
      const nd_published_device *a = nd_published_index_find(kept, pools[p], dev);
      const nd_published_device *b = nd_published_index_find(fresh, pools[p], dev);
      const nd_published_device *w = nd_published_walk_find(&walk, dev); /* ascending names */
      assert_int_equal(a == NULL, b == NULL);
      assert_int_equal(w == NULL, b == NULL);
      if (a != NULL && b != NULL && a->slice != b->slice) {
        /* a device published by two slices (a move): either answer, but from a live slice */
        bool a_live = false;
        for (size_t k = 0; k < n; k++)
          a_live |= nd_slice_number("netdra.dev", pools[p], live[k]->name) == a->slice;
        assert_true(a_live);
      }
    }
  }
  nd_published_index_free(fresh);
}

static void test_index_replace(void **state) {
  nd_published_slice *live[4] = {summary_of("lab", 0, "d-00 d-01 d-02"),
                                 summary_of("lab", 1, "d-03 d-04"),
                                 summary_of("yard", 0, "d-00 d-05")};
  size_t n = 3;
  nd_published_index *ix = nd_published_index_new();
  nd_published_index_build(ix, (const nd_published_slice *const *)live, n, "netdra.dev");
  assert_same_answers(ix, live, n);
  struct {
    size_t at; /* which live slot; == n: a new slice */
    const char *pool;
    int number;
    const char *devs; /* NULL: the slice is deleted */
  } steps[] = {
      {1, "lab", 1, "d-03 d-04 d-06"},      /* grown (an announcement) */
      {0, "lab", 0, "d-00 d-02"},           /* shrunk */
      {3, "lab", 2, "d-07 d-08"},           /* a new slice */
      {2, "yard", 0, "d-00 d-01 d-05 d-09"}, /* the other pool, same names as lab's */
      {3, "lab", 2, "d-07 d-08 d-04"},      /* d-04 moving: published by slices 1 and 2 */
      {1, "lab", 1, "d-03 d-06"},           /* ... and gone from slice 1 */
      {0, "lab", 0, NULL},                  /* a slice deleted */
  };
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    nd_published_slice *old = steps[i].at < n ? live[steps[i].at] : NULL;
    nd_published_slice *fresh =
        steps[i].devs ? summary_of(steps[i].pool, steps[i].number, steps[i].devs) : NULL;
    nd_published_index_replace(ix, old, fresh, "netdra.dev");
    nd_published_slice_free(old);
    if (fresh != NULL) {
      live[steps[i].at] = fresh;
      if (steps[i].at == n)
        n++;
    } else {
      live[steps[i].at] = live[n - 1];
      n--;
    }
    assert_same_answers(ix, live, n);
  }
  assert_null(nd_published_index_find(ix, "lab", "d-00")); /* its slice was deleted */
  assert_int_equal(nd_published_index_find(ix, "lab", "d-04")->slice, 2);
  assert_int_equal(nd_published_index_find(ix, "yard", "d-09")->slice, 0);
  for (size_t i = 0; i < n; i++)
    nd_published_slice_free(live[i]);
  nd_published_index_free(ix);
}

/* Through the planner and the pool sync: a plan equal to what is published (with another
 * taint time: the published one is kept) writes nothing; one changed field writes that slice
 * with the published metadata and taint time; a gone pool deletes with preconditions. */
static void test_sync_by_digest(void **state) {
  static const nd_planner_options popts = {.driver = "netdra.dev"};
  nd_capacity mem = {.name = "mem", .quantity = "64Gi"};
  nd_device devs[2] = {
      {.source = "static", .pool = "lab", .id = "cam-0", .name = "cam-0", .type = "camera",
       .all_nodes = true, .caps = &mem, .n_caps = 1},
      {.source = "static", .pool = "lab", .id = "cam-1", .name = "cam-1", .type = "camera",
       .all_nodes = true},
  };
  const nd_device *ptrs[2] = {&devs[0], &devs[1]};
  nd_device_taint taints[2] = {{.tainted = true, .since_wall_ms = 1764000000000ull}, {0}};
  nd_error_t err = NULL;

  /* published: the plan as the API server stores it, at generation 3 */
  nd_planned_pool p;
  assert_int_equal(nd_plan_pool(&popts, "lab", ptrs, taints, NULL, 2, &p, &err), 0);
  assert_int_equal(p.n_slices, 1);
  json_t *spec = nd_planned_slice_spec(&p, 0);
  json_object_set_new(json_object_get(spec, "pool"), "generation", json_integer(3));
  cleanup_json json_t *obj = json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "apiVersion",
                                       "resource.k8s.io/v1", "metadata", "name", p.slices[0].name,
                                       "uid", "u-1", "resourceVersion", "5", "spec", spec);
  nd_planned_pool_clear(&p);
  nd_published_slice *existing = nd_published_slice_new(obj);
  nd_published_slice *ex[] = {existing};

  /* a restart: the taint is decided again with another time; nothing to write */
  taints[0].since_wall_ms += 60000;
  nd_pool_sync s;
  assert_int_equal(nd_plan_pool(&popts, "lab", ptrs, taints, NULL, 2, &p, &err), 0);
  nd_pool_sync_compute(&p, ex, 1, "v1", false, &s);
  assert_int_equal(s.n_ops, 0);
  assert_int_equal(s.generation, 3);
  nd_pool_sync_clear(&s);
  nd_planned_pool_clear(&p);

  /* one field changed: one update at the same generation */
  mem.quantity = "65Gi";
  assert_int_equal(nd_plan_pool(&popts, "lab", ptrs, taints, NULL, 2, &p, &err), 0);
  nd_pool_sync_compute(&p, ex, 1, "v1", false, &s);
  nd_planned_pool_clear(&p);
  assert_int_equal(s.n_ops, 1);
  assert_int_equal(s.ops[0].kind, ND_SLICE_UPDATE);
  assert_int_equal(s.generation, 3);
  cleanup_json json_t *update = json_loads(s.ops[0].body, 0, NULL);
  json_t *meta = json_object_get(update, "metadata");
  assert_string_equal(json_string_value(json_object_get(meta, "resourceVersion")), "5");
  json_t *dev0 = json_array_get(json_object_get(json_object_get(update, "spec"), "devices"), 0);
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(json_object_get(dev0, "capacity"), "mem"), "value")),
                      "65Gi");
  char published_time[32];
  nd_format_time_s(1764000000000ull, published_time, sizeof(published_time));
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(dev0, "taints"), 0), "timeAdded")),
                      published_time);
  nd_pool_sync_clear(&s);

  /* the pool is gone: a delete with uid and resourceVersion preconditions */
  nd_pool_sync_compute(NULL, ex, 1, "v1", false, &s);
  assert_int_equal(s.n_ops, 1);
  assert_int_equal(s.ops[0].kind, ND_SLICE_DELETE);
  cleanup_json json_t *del = json_loads(s.ops[0].body, 0, NULL);
  json_t *pre = json_object_get(del, "preconditions");
  assert_string_equal(json_string_value(json_object_get(pre, "uid")), "u-1");
  assert_string_equal(json_string_value(json_object_get(pre, "resourceVersion")), "5");
  nd_pool_sync_clear(&s);
  nd_published_slice_free(existing);
}

/* One round of planning + pool sync of the pool's one slice over `existing`: `compared` tells
 * whether the slice was rendered and compared (else known unchanged by its fingerprint), `ops`
 * how many writes it planned. */
static void expect_round(const nd_device *const *ptrs, const nd_device_taint *taints, size_t n,
                         nd_published_slice *existing, size_t compared, size_t ops) {
  static const nd_planner_options popts = {.driver = "netdra.dev"};
  nd_error_t err = NULL;
  nd_planned_pool p;
  assert_int_equal(nd_plan_pool(&popts, "lab", ptrs, taints, NULL, n, &p, &err), 0);
  nd_published_slice *ex[] = {existing};
  nd_pool_sync s;
  nd_pool_sync_compute(&p, ex, 1, "v1", false, &s);
  nd_planned_pool_clear(&p);
  assert_int_equal(s.n_compared, compared);
  assert_int_equal(s.n_unchanged_by_fingerprint, 1 - compared);
  assert_int_equal(s.n_ops, ops);
  nd_pool_sync_clear(&s);
}

/* A summary remembers the fingerprint of the plan found equal to it: the next round with the
 * same device revisions and taints neither renders nor compares; a new revision, another
 * taint, or a device without a revision (0) is rendered and compared again; a new summary
 * (a watch event) starts without a fingerprint. */
static void test_unchanged_by_fingerprint(void **state) {
  static const nd_planner_options popts = {.driver = "netdra.dev"};
  nd_capacity mem = {.name = "mem", .quantity = "64Gi"};
  nd_device devs[2] = {
      {.source = "static", .pool = "lab", .id = "cam-0", .name = "cam-0", .type = "camera",
       .all_nodes = true, .caps = &mem, .n_caps = 1, .revision = 11},
      {.source = "static", .pool = "lab", .id = "cam-1", .name = "cam-1", .type = "camera",
       .all_nodes = true, .revision = 12},
  };
  const nd_device *ptrs[2] = {&devs[0], &devs[1]};
  nd_device_taint taints[2] = {{0}, {0}};
  nd_error_t err = NULL;
  nd_planned_pool p;
  assert_int_equal(nd_plan_pool(&popts, "lab", ptrs, taints, NULL, 2, &p, &err), 0);
  json_t *spec = nd_planned_slice_spec(&p, 0);
  cleanup_json json_t *obj = json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "apiVersion",
                                       "resource.k8s.io/v1", "metadata", "name", p.slices[0].name,
                                       "uid", "u-1", "resourceVersion", "5", "spec", spec);
  nd_planned_pool_clear(&p);
  nd_published_slice *existing = nd_published_slice_new(obj);

  /* first round: rendered, found equal, fingerprint kept; second: not rendered */
  expect_round(ptrs, taints, 2, existing, 1, 0);
  assert_true(existing->has_same_as_planned);
  expect_round(ptrs, taints, 2, existing, 0, 0);

  /* a device changed (the registry gives it a new revision): rendered, written */
  mem.quantity = "65Gi";
  devs[0].revision = 13;
  expect_round(ptrs, taints, 2, existing, 1, 1);
  /* announced back as it was, with yet another revision: rendered, equal again */
  mem.quantity = "64Gi";
  devs[0].revision = 14;
  expect_round(ptrs, taints, 2, existing, 1, 0);

  /* a taint decided: rendered and written, though no revision moved */
  taints[1] = (nd_device_taint){.tainted = true, .since_wall_ms = 1764000000000ull};
  expect_round(ptrs, taints, 2, existing, 1, 1);
  taints[1] = (nd_device_taint){0};

  /* a device without a registry revision is compared every round */
  devs[1].revision = 0;
  expect_round(ptrs, taints, 2, existing, 1, 0);
  expect_round(ptrs, taints, 2, existing, 1, 0);
  devs[1].revision = 12;

  /* the same object summarised again (a watch event): no fingerprint, compared once */
  nd_published_slice_free(existing);
  existing = nd_published_slice_new(obj);
  assert_false(existing->has_same_as_planned);
  expect_round(ptrs, taints, 2, existing, 1, 0);
  nd_published_slice_free(existing);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digest_strictness),
      cmocka_unit_test(test_summary),
      cmocka_unit_test(test_index_replace),
      cmocka_unit_test(test_sync_by_digest),
      cmocka_unit_test(test_unchanged_by_fingerprint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
