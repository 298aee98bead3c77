/* test_slice_cache.c: the node plugin's cache of our ResourceSlices, looked up through its
 * device index: the highest generation of a pool wins, a device that moves between slices or
 * leaves with its slice is found where it is now (or not at all), a relist rebuilds the index,
 * a device handed out stays valid after its slice leaves the cache, and a device parsed lately
 * is handed out again without a new parse until its slice changes. No REST client: the
 * lookups here never relist; the watch and the relist over HTTP are covered by
 * it_plugin_e2e.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "slice_cache.h"

/* A slice of pool with devices named by a space-separated list; each device's "id" attribute
 * names the slice, so a lookup tells which slice it came from. */
static json_t *slice(const char *name, const char *pool, int gen, const char *node,
                     const char *devices) {
  json_t *devs = json_array();
  cleanup_free char *list = strdup(devices);
  char *save = NULL;
  for (char *d = strtok_r(list, " ", &save); d; d = strtok_r(NULL, " ", &save))
    json_array_append_new(devs, json_pack("{s:s, s:{s:{s:s}}}", "name", d, "attributes", "id",
                                          "string", name));
  json_t *s = json_pack("{s:{s:s}, s:{s:s, s:{s:s, s:i, s:i}, s:o}}", "metadata", "name", name,
                        "spec", "driver", "netdra.dev", "pool", "name", pool, "generation", gen,
                        "resourceSliceCount", 1, "devices", devs);
  if (node)
    json_object_set_new(json_object_get(s, "spec"), "nodeName", json_string(node));
  else
    json_object_set_new(json_object_get(s, "spec"), "allNodes", json_true());
  return s;
}

/* The slice a lookup found pool/device in, or NULL when it found none. */
static const char *found_in(nd_slice_cache *sc, const char *pool, const char *device) {
  static char where[64];
  cleanup_free char *node = NULL;
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *d = nd_slice_cache_lookup(sc, pool, device, false, &node, &err);
  if (d == NULL) {
    assert_non_null(strstr(nd_error_msg(err), "is not in any ResourceSlice"));
    return NULL;
  }
  snprintf(where, sizeof(where), "%s", nd_slice_device_string_attr(d, "netdra.dev", "id"));
  return where;
}

static nd_slice_cache *cache(void) {
  cleanup_error nd_error_t err = NULL;
  nd_slice_cache *sc = nd_slice_cache_new(NULL, "netdra.dev", &err);
  assert_non_null(sc);
  return sc;
}

static void apply_new(nd_slice_cache *sc, bool deleted, json_t *s) {
  nd_slice_cache_apply(sc, deleted, s);
  json_decref(s);
}

static void test_generations_moves_and_deletes(void **state) {
  nd_slice_cache *sc = cache();
  apply_new(sc, false, slice("a-0", "lab", 1, NULL, "cam-0 cam-1"));
  apply_new(sc, false, slice("b-0", "other", 1, NULL, "cam-0"));
  assert_string_equal(found_in(sc, "lab", "cam-0"), "a-0");
  assert_string_equal(found_in(sc, "other", "cam-0"), "b-0"); /* pools are apart */
  assert_null(found_in(sc, "lab", "cam-9"));
  assert_null(found_in(sc, "nowhere", "cam-0"));
  /* a pool update in flight: generation 2 in a new slice beside generation 1: 2 wins */
  apply_new(sc, false, slice("a-1", "lab", 2, NULL, "cam-1 cam-2"));
  assert_string_equal(found_in(sc, "lab", "cam-1"), "a-1");
  assert_string_equal(found_in(sc, "lab", "cam-0"), "a-0");
  /* cam-0 moves out of a-0 (a modification) into a-1: found where it is now */
  apply_new(sc, false, slice("a-0", "lab", 2, NULL, "cam-3"));
  apply_new(sc, false, slice("a-1", "lab", 2, NULL, "cam-0 cam-1 cam-2"));
  assert_string_equal(found_in(sc, "lab", "cam-0"), "a-1");
  assert_string_equal(found_in(sc, "lab", "cam-3"), "a-0");
  /* a slice that goes takes its devices with it */
  apply_new(sc, true, slice("a-1", "lab", 2, NULL, "cam-0 cam-1 cam-2"));
  assert_null(found_in(sc, "lab", "cam-0"));
  assert_null(found_in(sc, "lab", "cam-1"));
  assert_string_equal(found_in(sc, "lab", "cam-3"), "a-0");
  /* a device listed twice in one slice, then the slice changed: no stale entry left */
  apply_new(sc, false, slice("a-0", "lab", 3, NULL, "cam-4 cam-4"));
  assert_string_equal(found_in(sc, "lab", "cam-4"), "a-0");
  assert_null(found_in(sc, "lab", "cam-3"));
  apply_new(sc, false, slice("a-0", "lab", 3, NULL, "cam-5"));
  assert_null(found_in(sc, "lab", "cam-4"));
  nd_slice_cache_free(sc);
}

static void test_relist_rebuilds_and_node_name(void **state) {
  nd_slice_cache *sc = cache();
  apply_new(sc, false, slice("old", "lab", 1, NULL, "cam-0"));
  json_t *items = json_pack("[o, o]", slice("gpus", "node-a", 1, "node-a", "gpu-0"),
                             slice("new", "lab", 4, NULL, "cam-7"));
  nd_slice_cache_replace(sc, items);
  json_decref(items); /* the cache holds the only references now */
  assert_null(found_in(sc, "lab", "cam-0")); /* gone with the relist */
  assert_string_equal(found_in(sc, "lab", "cam-7"), "new");
  cleanup_free char *node = NULL;
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *gpu = nd_slice_cache_lookup(sc, "node-a", "gpu-0", false, &node, &err);
  assert_non_null(gpu);
  assert_string_equal(node, "node-a");
  /* the device stays valid after its slice left the cache (the caller holds a reference; ASan
   * would see a borrowed pointer used after the free) */
  apply_new(sc, true, slice("gpus", "node-a", 1, "node-a", "gpu-0"));
  assert_string_equal(nd_slice_device_string_attr(gpu, "netdra.dev", "id"), "gpus");
  assert_null(found_in(sc, "node-a", "gpu-0"));
  nd_slice_cache_free(sc);
}

/* A device looked up again is the same (shared) tree; once its slice changes, the lookup
 * answers the new content; a full memo is emptied, not grown. */
static void test_parsed_devices_reused_until_changed(void **state) {
  nd_slice_cache *sc = cache();
  apply_new(sc, false, slice("a-0", "lab", 1, NULL, "cam-0"));
  cleanup_free char *node = NULL;
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *first = nd_slice_cache_lookup(sc, "lab", "cam-0", false, &node, &err);
  cleanup_json json_t *again = nd_slice_cache_lookup(sc, "lab", "cam-0", false, &node, &err);
  assert_non_null(first);
  assert_ptr_equal(first, again);
  /* the same slice, the device's endpoint changed */
  json_t *changed = slice("a-0", "lab", 2, NULL, "cam-0");
  json_t *dev = json_array_get(json_object_get(json_object_get(changed, "spec"), "devices"), 0);
  json_object_set_new(json_object_get(dev, "attributes"), "endpoint",
                      json_pack("{s:s}", "string", "rtsp://192.0.2.7/"));
  apply_new(sc, false, changed);
  cleanup_json json_t *now = nd_slice_cache_lookup(sc, "lab", "cam-0", false, &node, &err);
  assert_non_null(now);
  assert_ptr_not_equal(now, first);
  assert_string_equal(nd_slice_device_string_attr(now, "netdra.dev", "endpoint"),
                      "rtsp://192.0.2.7/");
  assert_null(nd_slice_device_string_attr(first, "netdra.dev", "endpoint")); /* untouched */
  /* many devices: every answer right, the memo bounded */
  char names[4096] = "";
  for (int i = 0; i < 300; i++) {
    char n[16];
    snprintf(n, sizeof(n), "%sd%d", i ? " " : "", i);
    strcat(names, n);
  }
  apply_new(sc, false, slice("big", "many", 1, NULL, names));
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 300; i++) {
      char n[16];
      snprintf(n, sizeof(n), "d%d", i);
      cleanup_free char *nn = NULL;
      cleanup_json json_t *d = nd_slice_cache_lookup(sc, "many", n, false, &nn, &err);
      assert_non_null(d);
      assert_string_equal(json_string_value(json_object_get(d, "name")), n);
    }
  nd_slice_cache_free(sc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generations_moves_and_deletes),
      cmocka_unit_test(test_relist_rebuilds_and_node_name),
      cmocka_unit_test(test_parsed_devices_reused_until_changed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
