/* test_device_compact.c: the registry's compact form of a device reads exactly like the
 * parser's (nd_device_equal, nd_device_clone), shares repeated strings between devices and
 * gives every shared string and block back when freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "device_compact.h"

static void full_device(nd_device *d, nd_attr *attrs, nd_capacity *caps,
                        nd_node_requirement *reqs, const char *id) {
  static char *zones[] = {"a", "b"};
  static char *conds[] = {"attached"};
  static char *failed[] = {"attach-failed", "detached"};
  attrs[0] = (nd_attr){.name = "fps", .type = ND_ATTR_INT, .num = 30};
  attrs[1] = (nd_attr){.name = "resolution", .type = ND_ATTR_STRING, .str = "1920x1080"};
  attrs[2] = (nd_attr){.name = "hdr", .type = ND_ATTR_BOOL, .flag = true};
  caps[0] = (nd_capacity){.name = "streams", .quantity = "4"};
  reqs[0] = (nd_node_requirement){.key = "zone", .op = "In", .values = zones, .n_values = 2};
  *d = (nd_device){.source = "mqtt", .pool = "lab", .id = (char *)id, .name = (char *)id,
                   .type = "camera", .vendor = "acme", .model = "m1", .attrs = attrs,
                   .n_attrs = 3, .caps = caps, .n_caps = 1, .node_reqs = reqs,
                   .n_node_reqs = 1, .endpoint = "rtsp://10.0.0.1:554/s",
                   .secret_namespace = "cams", .secret_name = "cam-creds",
                   .fabric_region = "r1", .binds_to_node = true, .binding_conditions = conds,
                   .n_binding_conditions = 1, .binding_failure_conditions = failed,
                   .n_binding_failure_conditions = 2, .health = ND_HEALTH_STALE,
                   .last_seen_ms = 1234, .ttl_s = 10};
}

static void test_compact_reads_like_the_original(void **state) {
  (void)state;
  nd_device_storage st = {.strings = nd_intern_new(), .memory = nd_slab_new()};
  nd_device d1, d2;
  nd_attr a1[3], a2[3];
  nd_capacity c1[1], c2[1];
  nd_node_requirement r1[1], r2[1];
  full_device(&d1, a1, c1, r1, "cam-1");
  full_device(&d2, a2, c2, r2, "cam-2");
  char n1[] = "cam-1", n2[] = "cam-2-renamed"; /* as the registry's slots name them */
  nd_device *x = nd_device_compact(&d1, n1, &st), *y = nd_device_compact(&d2, n2, &st);
  assert_true(nd_device_equal(x, &d1));
  assert_true(nd_device_equal(y, &d2));
  assert_false(nd_device_equal(x, y));
  assert_string_equal(x->name, "cam-1");
  assert_string_equal(x->attrs[1].str, "1920x1080");
  assert_int_equal(x->attrs[0].num, 30);
  assert_true(x->attrs[2].flag);
  assert_string_equal(x->node_reqs[0].values[1], "b");
  assert_string_equal(x->binding_failure_conditions[1], "detached");
  assert_int_equal(x->health, ND_HEALTH_STALE);
  assert_int_equal(x->last_seen_ms, 1234);
  /* repeated strings are one copy; the device's own are its own */
  assert_ptr_equal(x->vendor, y->vendor);
  assert_ptr_equal(x->attrs[1].name, y->attrs[1].name);
  assert_ptr_equal(x->node_reqs[0].values[0], y->node_reqs[0].values[0]);
  assert_ptr_equal(x->name, n1); /* the caller's name, shared by an equal id */
  assert_ptr_equal(x->id, n1);
  assert_ptr_equal(y->name, n2); /* a different id is the device's own copy */
  assert_string_equal(y->id, "cam-2");
  assert_ptr_not_equal(y->id, d2.id);
  assert_ptr_not_equal(x->attrs[1].str, y->attrs[1].str);
  /* a clone is an ordinary device */
  nd_device *c = nd_device_clone(x);
  assert_true(nd_device_equal(c, &d1));
  nd_device_free(c);
  nd_device_compact_free(x, &st);
  assert_true(nd_intern_count(st.strings) > 0); /* y still holds them */
  nd_device_compact_free(y, &st);
  assert_int_equal(nd_intern_count(st.strings), 0);
  nd_device_compact_free(NULL, &st);
  nd_intern_free(st.strings);
  nd_slab_free(st.memory);
}

static void test_minimal_device(void **state) {
  (void)state;
  nd_device_storage st = {.strings = nd_intern_new(), .memory = nd_slab_new()};
  nd_device d = {.source = "static", .pool = "p", .id = "x", .name = "x", .type = "camera",
                 .all_nodes = true};
  char name[] = "x";
  nd_device *x = nd_device_compact(&d, name, &st);
  assert_true(nd_device_equal(x, &d));
  assert_ptr_equal(x->name, name); /* the caller's name, shared by the equal id */
  assert_ptr_equal(x->id, name);
  assert_null(x->vendor);
  assert_null(x->attrs);
  assert_null(x->binding_conditions);
  assert_true(x->all_nodes);
  nd_device_compact_free(x, &st);
  assert_int_equal(nd_intern_count(st.strings), 0);
  nd_intern_free(st.strings);
  nd_slab_free(st.memory);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compact_reads_like_the_original),
      cmocka_unit_test(test_minimal_device),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
