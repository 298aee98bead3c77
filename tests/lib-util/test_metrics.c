/* test_metrics.c: Prometheus registry: counters, gauges, histograms, label escaping, sorted
 * and valid text output, registration conflicts, label-set limit, counters raised to a total
 * kept elsewhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "metrics.h"

static double forty_two(void *data) { return *(double *)data; }

static void test_render(void **state) {
  (void)state;
  nd_metrics *reg = nd_metrics_new();
  nd_metric *req = nd_metrics_counter(reg, "netdra_requests_total", "Requests handled.",
                                      (const char *[]){"method", "code", NULL}, NULL);
  nd_metric *dev = nd_metrics_gauge(reg, "netdra_devices", "Devices known.\nSecond \\ line",
                                    (const char *[]){"type", NULL}, NULL);
  nd_metric *lat = nd_metrics_histogram(reg, "netdra_attach_seconds", "Attach latency.", NULL,
                                        (const double[]){0.1, 1, 2.5}, 3, NULL);
  nd_metric *up = nd_metrics_counter(reg, "a_first_total", "Sorted first.", NULL, NULL);
  double value = 42;
  assert_non_null(nd_metrics_gauge_fn(reg, "netdra_fn", "From a callback.", forty_two, &value, NULL));
  assert_non_null(req);
  assert_non_null(dev);
  assert_non_null(lat);
  nd_metric_inc(req, (const char *[]){"PUT", "200"});
  nd_metric_inc(req, (const char *[]){"GET", "200"});
  nd_metric_add(req, (const char *[]){"GET", "200"}, 2);
  nd_metric_add(req, (const char *[]){"GET", "200"}, -5); /* ignored: counters only grow */
  nd_metric_set(dev, (const char *[]){"camera"}, 3);
  nd_metric_set(dev, (const char *[]){"a\"b\\c\nd"}, 0.5);
  nd_metric_observe(lat, NULL, 0.05);
  nd_metric_observe(lat, NULL, 0.1);
  nd_metric_observe(lat, NULL, 2);
  nd_metric_observe(lat, NULL, 100);
  nd_metric_inc(up, NULL);
  nd_metric_set(req, (const char *[]){"X", "1"}, 9); /* wrong type: ignored */
  cleanup_free char *text = nd_metrics_render(reg);
  static const char want[] =
      "# HELP a_first_total Sorted first.\n"
      "# TYPE a_first_total counter\n"
      "a_first_total 1\n"
      "# HELP netdra_attach_seconds Attach latency.\n"
      "# TYPE netdra_attach_seconds histogram\n"
      "netdra_attach_seconds_bucket{le=\"0.1\"} 2\n"
      "netdra_attach_seconds_bucket{le=\"1\"} 2\n"
      "netdra_attach_seconds_bucket{le=\"2.5\"} 3\n"
      "netdra_attach_seconds_bucket{le=\"+Inf\"} 4\n"
      "netdra_attach_seconds_sum 102.15\n"
      "netdra_attach_seconds_count 4\n"
      "# HELP netdra_devices Devices known.\\nSecond \\\\ line\n"
      "# TYPE netdra_devices gauge\n"
      "netdra_devices{type=\"a\\\"b\\\\c\\nd\"} 0.5\n"
      "netdra_devices{type=\"camera\"} 3\n"
      "# HELP netdra_fn From a callback.\n"
      "# TYPE netdra_fn gauge\n"
      "netdra_fn 42\n"
      "# HELP netdra_requests_total Requests handled.\n"
      "# TYPE netdra_requests_total counter\n"
      "netdra_requests_total{method=\"GET\",code=\"200\"} 3\n"
      "netdra_requests_total{method=\"PUT\",code=\"200\"} 1\n";
  assert_string_equal(text, want);
  assert_true(nd_metric_value(req, (const char *[]){"GET", "200"}) == 3);
  assert_true(nd_metric_value(lat, NULL) == 4);
  nd_metric_remove(dev, (const char *[]){"camera"});
  assert_true(nd_metric_value(dev, (const char *[]){"camera"}) == 0);
  cleanup_free char *after = nd_metrics_render(reg);
  assert_null(strstr(after, "camera"));
  nd_metrics_free(reg);
}

static void test_registration_errors(void **state) {
  (void)state;
  nd_metrics *reg = nd_metrics_new();
  cleanup_error nd_error_t err = NULL;
  assert_null(nd_metrics_counter(reg, "1bad", "x", NULL, &err));
  assert_string_equal(nd_error_msg(err), "metric name \"1bad\": must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  nd_error_release(&err);
  assert_null(nd_metrics_counter(reg, "ok_total", "x", (const char *[]){"__x", NULL}, &err));
  assert_string_equal(nd_error_msg(err), "metric ok_total: label name \"__x\" is not allowed");
  nd_error_release(&err);
  assert_null(nd_metrics_histogram(reg, "h", "x", (const char *[]){"le", NULL}, NULL, 0, &err));
  nd_error_release(&err);
  assert_null(nd_metrics_histogram(reg, "h", "x", NULL, (const double[]){2, 1}, 2, &err));
  assert_string_equal(nd_error_msg(err),
                      "metric h: bucket bounds must be finite and strictly increasing");
  nd_error_release(&err);
  assert_null(nd_metrics_counter(reg, "d", "x", (const char *[]){"a", "a", NULL}, &err));
  nd_error_release(&err);
  nd_metric *a = nd_metrics_counter(reg, "same_total", "x", (const char *[]){"a", NULL}, NULL);
  assert_ptr_equal(nd_metrics_counter(reg, "same_total", "x", (const char *[]){"a", NULL}, NULL), a);
  assert_null(nd_metrics_gauge(reg, "same_total", "x", (const char *[]){"a", NULL}, &err));
  assert_string_equal(nd_error_msg(err),
                      "metric same_total: already registered with another type or labels");
  /* default buckets */
  nd_metric *h = nd_metrics_histogram(reg, "lat_seconds", "x", NULL, NULL, 0, NULL);
  nd_metric_observe(h, NULL, 0.3);
  cleanup_free char *text = nd_metrics_render(reg);
  assert_non_null(strstr(text, "lat_seconds_bucket{le=\"0.005\"} 0\n"));
  assert_non_null(strstr(text, "lat_seconds_bucket{le=\"0.5\"} 1\n"));
  assert_non_null(strstr(text, "lat_seconds_bucket{le=\"10\"} 1\n"));
  nd_metrics_free(reg);
}

static void test_cardinality_limit(void **state) {
  (void)state;
  nd_metrics *reg = nd_metrics_new();
  nd_metric *g = nd_metrics_gauge(reg, "per_device", "x", (const char *[]){"id", NULL}, NULL);
  char id[32];
  for (int i = 0; i < 10005; i++) {
    snprintf(id, sizeof(id), "dev%d", i);
    nd_metric_set(g, (const char *[]){id}, i);
  }
  assert_int_equal(nd_metrics_dropped(reg), 5);
  nd_metrics_free(reg);
}

/* A counter raised to a total kept elsewhere: only upwards, no series for a total of 0, and
 * nothing for other types. */
static void test_raise_to(void **state) {
  (void)state;
  nd_metrics *reg = nd_metrics_new();
  nd_metric *c = nd_metrics_counter(reg, "kept_total", "x", (const char *[]){"k", NULL}, NULL);
  nd_metric_raise_to(c, (const char *[]){"a"}, 0);
  cleanup_free char *empty = nd_metrics_render(reg);
  assert_null(strstr(empty, "kept_total{"));
  nd_metric_raise_to(c, (const char *[]){"a"}, 3);
  nd_metric_raise_to(c, (const char *[]){"a"}, 7.5);
  nd_metric_raise_to(c, (const char *[]){"a"}, 2); /* never down */
  assert_true(nd_metric_value(c, (const char *[]){"a"}) == 7.5);
  nd_metric_inc(c, (const char *[]){"b"});
  nd_metric_raise_to(c, (const char *[]){"b"}, 1); /* already there */
  assert_true(nd_metric_value(c, (const char *[]){"b"}) == 1);
  nd_metric *g = nd_metrics_gauge(reg, "level", "x", NULL, NULL);
  nd_metric_set(g, NULL, 9);
  nd_metric_raise_to(g, NULL, 20);
  assert_true(nd_metric_value(g, NULL) == 9);
  cleanup_free char *text = nd_metrics_render(reg);
  assert_non_null(strstr(text, "kept_total{k=\"a\"} 7.5\n"));
  nd_metrics_free(reg);
}

static void *bump(void *data) {
  for (int i = 0; i < 10000; i++)
    nd_metric_inc(data, (const char *[]){i % 2 ? "a" : "b"});
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  nd_metrics *reg = nd_metrics_new();
  nd_metric *c = nd_metrics_counter(reg, "ops_total", "x", (const char *[]){"k", NULL}, NULL);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, bump, c);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  assert_true(nd_metric_value(c, (const char *[]){"a"}) == 20000);
  assert_true(nd_metric_value(c, (const char *[]){"b"}) == 20000);
  nd_metrics_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render),
      cmocka_unit_test(test_registration_errors),
      cmocka_unit_test(test_cardinality_limit),
      cmocka_unit_test(test_raise_to),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
