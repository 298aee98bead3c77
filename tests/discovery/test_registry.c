/* test_registry.c: naming (sanitised, unique, stable), source precedence, health transitions
 * (ttl -> stale -> offline -> removed; heartbeat back online), batched change notifications
 * and bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "discovery.h"

typedef struct {
  int calls;
  size_t changes;
  nd_change_kind last_kind;
} seen;

static void on_change(nd_registry *r, const nd_change *c, size_t n, void *data) {
  seen *s = data;
  s->calls++;
  s->changes += n;
  s->last_kind = c[n - 1].kind;
}

static nd_device *dev(const char *source, const char *pool, const char *id, const char *model,
                      int ttl) {
  char json[256];
  snprintf(json, sizeof(json), "{\"type\":\"camera\",\"model\":\"%s\",\"ttl\":%d}", model, ttl);
  cleanup_error nd_error_t err = NULL;
  nd_device *d = nd_announcement_parse_bytes(source, pool, id, json, strlen(json), &err);
  if (d == NULL)
    fail_msg("%s", nd_error_msg(err));
  return d;
}

static void spin(nd_loop *loop, int ms) {
  cleanup_error nd_error_t err = NULL;
  uint64_t end = nd_now_ms() + (uint64_t)ms;
  while (nd_now_ms() < end)
    nd_loop_run_once(loop, 20, &err);
}

static void test_naming_and_batching(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_registry *r = nd_registry_new(loop, NULL, &err);
  seen s = {0};
  nd_registry_subscribe(r, on_change, &s);
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "cam-1", "a", 0), &err), 0);
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "Cam_1", "a", 0), &err), 0);
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "../../etc", "a", 0), &err), 0);
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "q", "cam-1", "a", 0), &err), 0);
  spin(loop, 30);
  assert_int_equal(s.calls, 1); /* one batch */
  assert_int_equal(s.changes, 4);
  assert_non_null(nd_registry_find(r, "p", "cam-1"));
  const nd_device **list;
  size_t n = nd_registry_pool_devices(r, "p", &list);
  assert_int_equal(n, 3);
  for (size_t i = 0; i < n; i++) {
    assert_true(strlen(list[i]->name) <= 63);
    assert_null(strchr(list[i]->name, '/'));
    assert_null(strchr(list[i]->name, '.'));
    for (size_t j = i + 1; j < n; j++)
      assert_string_not_equal(list[i]->name, list[j]->name);
  }
  char name_before[64];
  const nd_device *weird = NULL;
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i]->id, "Cam_1") == 0)
      weird = list[i];
  snprintf(name_before, sizeof(name_before), "%s", weird->name);
  /* revisions: every device its own, none 0 */
  uint64_t rev_before = weird->revision;
  assert_true(rev_before != 0);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      assert_true(list[i]->revision != list[j]->revision);
  /* an equal re-announcement changes nothing (same revision); a changed one is an update with
   * the same name and a new revision */
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "Cam_1", "a", 0), &err), 0);
  spin(loop, 30);
  assert_int_equal(s.calls, 1);
  assert_int_equal(nd_registry_find(r, "p", name_before)->revision, rev_before);
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "Cam_1", "b", 0), &err), 0);
  spin(loop, 30);
  assert_int_equal(s.calls, 2);
  assert_int_equal(s.last_kind, ND_CHANGE_UPDATED);
  assert_true(nd_registry_find(r, "p", name_before)->revision > rev_before);
  const nd_device *again = NULL;
  n = nd_registry_pool_devices(r, "p", &list);
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i]->id, "Cam_1") == 0)
      again = list[i];
  assert_string_equal(again->name, name_before);
  const char **pools;
  assert_int_equal(nd_registry_pools(r, &pools), 2);
  assert_string_equal(pools[0], "p");
  assert_int_equal(nd_registry_remove(r, "mqtt", "p", "cam-1"), 0);
  assert_int_equal(nd_registry_remove(r, "mqtt", "p", "cam-1"), -1);
  spin(loop, 30);
  assert_int_equal(s.last_kind, ND_CHANGE_REMOVED);
  assert_int_equal(nd_registry_count(r), 3);
  nd_registry_free(r);
  nd_loop_free(loop);
}

/* The pool's sorted view, built once and then kept up to date per change: after every step of
 * adds, changed and equal re-announcements, second sources and removals it is exactly the
 * effective devices in name order. */
static void assert_view(nd_registry *r, const char *pool_name, size_t want) {
  const nd_device **list;
  size_t n = nd_registry_pool_devices(r, pool_name, &list);
  assert_int_equal(n, want);
  for (size_t i = 0; i < n; i++) {
    assert_ptr_equal(list[i], nd_registry_find(r, pool_name, list[i]->name));
    if (i > 0)
      assert_true(strcmp(list[i - 1]->name, list[i]->name) < 0);
  }
}

static void test_sorted_view(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_registry *r = nd_registry_new(loop, NULL, &err);
  assert_view(r, "p", 0);
  for (unsigned step = 0; step < 600; step++) {
    unsigned k = (step * 37u + 11u) % 97u; /* visits the ids in a scrambled order */
    char id[16];
    snprintf(id, sizeof(id), "d-%u", k);
    switch (step % 5) {
    case 0:
    case 1: /* announced: new, changed or equal */
      assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", id, step % 2 ? "a" : "b", 0), &err), 0);
      break;
    case 2: /* a second source for the same device: the effective device changes */
      assert_int_equal(nd_registry_upsert(r, dev("static", "p", id, "s", 0), &err), 0);
      break;
    case 3: /* the static one goes: the mqtt one, if any, is effective again */
      nd_registry_remove(r, "static", "p", id);
      break;
    default: /* every source goes */
      nd_registry_remove(r, "static", "p", id);
      nd_registry_remove(r, "mqtt", "p", id);
      break;
    }
    size_t live = 0;
    for (unsigned i = 0; i < 97; i++) {
      char name[16];
      snprintf(name, sizeof(name), "d-%u", i);
      live += nd_registry_find(r, "p", name) != NULL;
    }
    assert_view(r, "p", live);
  }
  /* a burst without reads in between (the view is dropped and sorted again when read) */
  size_t live = nd_registry_pool_devices(r, "p", &(const nd_device **){NULL});
  for (unsigned k = 100; k < 160; k++) {
    char id[16];
    snprintf(id, sizeof(id), "n-%u", k);
    assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", id, "a", 0), &err), 0);
  }
  assert_view(r, "p", live + 60);
  for (unsigned k = 100; k < 150; k++) {
    char id[16];
    snprintf(id, sizeof(id), "n-%u", k);
    assert_int_equal(nd_registry_remove(r, "mqtt", "p", id), 0);
  }
  assert_view(r, "p", live + 10);
  nd_registry_free(r);
  nd_loop_free(loop);
}

static void test_precedence(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_registry *r = nd_registry_new(loop, NULL, &err);
  assert_int_equal(nd_registry_upsert(r, dev("mdns", "p", "d", "from-mdns", 0), &err), 0);
  assert_string_equal(nd_registry_find(r, "p", "d")->model, "from-mdns");
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "d", "from-mqtt", 0), &err), 0);
  assert_string_equal(nd_registry_find(r, "p", "d")->model, "from-mqtt");
  assert_int_equal(nd_registry_upsert(r, dev("static", "p", "d", "from-static", 0), &err), 0);
  assert_string_equal(nd_registry_find(r, "p", "d")->model, "from-static");
  uint64_t static_rev = nd_registry_find(r, "p", "d")->revision;
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "d", "mqtt-2", 0), &err), 0);
  assert_string_equal(nd_registry_find(r, "p", "d")->model, "from-static");
  nd_registry_remove(r, "static", "p", "d");
  assert_string_equal(nd_registry_find(r, "p", "d")->model, "mqtt-2");
  /* another source's description is another revision (what is published changed) */
  assert_true(nd_registry_find(r, "p", "d")->revision != static_rev);
  assert_int_equal(nd_registry_count(r), 1);
  nd_device *bogus = dev("mqtt", "p", "z", "m", 0);
  free(bogus->source);
  bogus->source = strdup("carrier-pigeon");
  assert_int_equal(nd_registry_upsert(r, bogus, &err), -1);
  assert_non_null(strstr(err->msg, "unknown source"));
  nd_registry_free(r);
  nd_loop_free(loop);
}

static void test_health_lifecycle(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_registry_options o = {.stale_after_ms = 2500, .offline_grace_ms = 600};
  nd_registry *r = nd_registry_new(loop, &o, &err);
  seen s = {0};
  nd_registry_subscribe(r, on_change, &s);
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "hb", "m", 1), &err), 0);
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "lwt", "m", 0), &err), 0);
  spin(loop, 20);
  /* last will: offline at once */
  assert_int_equal(nd_registry_set_health(r, "mqtt", "p", "lwt", ND_HEALTH_OFFLINE), 0);
  assert_int_equal(nd_registry_find(r, "p", "lwt")->health, ND_HEALTH_OFFLINE);
  spin(loop, 2300); /* ttl 1 s missed -> stale; the sweeper runs every second */
  assert_int_equal(nd_registry_find(r, "p", "hb")->health, ND_HEALTH_STALE);
  assert_null(nd_registry_find(r, "p", "lwt")); /* offline past the grace: removed */
  assert_int_equal(nd_registry_touch(r, "mqtt", "p", "hb"), 0);
  assert_int_equal(nd_registry_find(r, "p", "hb")->health, ND_HEALTH_ONLINE);
  spin(loop, 7000);
  assert_null(nd_registry_find(r, "p", "hb")); /* stale -> offline -> removed */
  assert_int_equal(nd_registry_count(r), 0);
  nd_registry_free(r);
  nd_loop_free(loop);
}

static void test_bounds(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_registry_options o = {.max_devices_per_source = 3};
  nd_registry *r = nd_registry_new(loop, &o, &err);
  for (int i = 0; i < 3; i++) {
    char id[8];
    snprintf(id, sizeof(id), "d%d", i);
    assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", id, "m", 0), &err), 0);
  }
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "d3", "m", 0), &err), -1);
  assert_non_null(strstr(err->msg, "source mqtt already holds 3 devices"));
  nd_error_release(&err);
  assert_int_equal(nd_registry_upsert(r, dev("mqtt", "p", "d1", "m2", 0), &err), 0);
  assert_int_equal(nd_registry_upsert(r, dev("static", "p", "d3", "m", 0), &err), 0);
  assert_int_equal(nd_registry_count(r), 4);
  nd_registry_free(r);
  nd_loop_free(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_naming_and_batching),
      cmocka_unit_test(test_sorted_view),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_health_lifecycle),
      cmocka_unit_test(test_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
