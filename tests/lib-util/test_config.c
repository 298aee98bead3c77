/* test_config.c: the table-driven config loader: defaults < file < env < flags, every type,
 * exact error messages naming file, line and key, and the Markdown reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"

typedef struct {
  char *driver;
  int64_t workers;
  bool verbose;
  struct {
    int64_t lease_ms, renew_ms;
    char *ns;
  } le;
  nd_quantity memory;
  nd_config_strings sources;
} test_cfg;

static const nd_config_field le_fields[] = {
    {"leaseDuration", ND_CFG_DURATION, offsetof(__typeof__(((test_cfg *)0)->le), lease_ms), "15s",
     "NETDRA_LEASE_DURATION", "lease-duration", "how long a lease is valid", NULL, 1000, 3600000},
    {"renewDeadline", ND_CFG_DURATION, offsetof(__typeof__(((test_cfg *)0)->le), renew_ms), "10s",
     NULL, NULL, "give up leading after this", NULL, 0, 0},
    {"namespace", ND_CFG_STRING, offsetof(__typeof__(((test_cfg *)0)->le), ns), "netdra-system",
     "NETDRA_NAMESPACE", "lease-namespace", "namespace of the Lease | object", NULL, 0, 0},
    {0},
};

static const nd_config_field table[] = {
    {"driver", ND_CFG_STRING, offsetof(test_cfg, driver), "netdra.dev", "NETDRA_DRIVER", "driver",
     "driver name", NULL, 0, 0},
    {"workers", ND_CFG_INT, offsetof(test_cfg, workers), "4", "NETDRA_WORKERS", "workers",
     "worker threads", NULL, 1, 64},
    {"verbose", ND_CFG_BOOL, offsetof(test_cfg, verbose), "false", "NETDRA_VERBOSE", "verbose",
     "log more", NULL, 0, 0},
    {"leaderElection", ND_CFG_TABLE, offsetof(test_cfg, le), NULL, NULL, NULL, "leader election",
     le_fields, 0, 0},
    {"memory", ND_CFG_QUANTITY, offsetof(test_cfg, memory), "1Gi", NULL, "memory", "memory",
     NULL, 0, 0},
    {"sources", ND_CFG_STRING_LIST, offsetof(test_cfg, sources), "mqtt,static", "NETDRA_SOURCES",
     "sources", "discovery sources", NULL, 0, 0},
    {0},
};

static char *const empty_env[] = {NULL};

static void test_defaults(void **state) {
  (void)state;
  test_cfg c = {0};
  assert_int_equal(nd_config_defaults(table, &c, NULL), 0);
  assert_string_equal(c.driver, "netdra.dev");
  assert_int_equal(c.workers, 4);
  assert_false(c.verbose);
  assert_int_equal(c.le.lease_ms, 15000);
  assert_int_equal(c.le.renew_ms, 10000);
  assert_string_equal(c.le.ns, "netdra-system");
  nd_quantity gi = nd_quantity_from_int64(1 << 30, ND_QUANTITY_BINARY_SI);
  assert_int_equal(nd_quantity_cmp(&c.memory, &gi), 0);
  assert_int_equal(c.sources.count, 2);
  assert_string_equal(c.sources.items[1], "static");
  nd_config_free(table, &c);
  assert_null(c.driver);
}

static const char yaml_text[] = "driver: gpu.example.com\n"
                                "workers: 8\n"
                                "leaderElection:\n"
                                "  leaseDuration: 1m30s\n"
                                "  namespace: kube-system\n"
                                "memory: 64Gi\n"
                                "sources:\n"
                                "  - static\n"
                                "verbose: true\n";

static void test_precedence(void **state) {
  (void)state;
  test_cfg c = {0};
  assert_int_equal(nd_config_defaults(table, &c, NULL), 0);
  assert_int_equal(nd_config_apply_yaml(table, &c, yaml_text, strlen(yaml_text), "c.yaml", NULL), 0);
  assert_string_equal(c.driver, "gpu.example.com");
  assert_int_equal(c.workers, 8);
  assert_true(c.verbose);
  assert_int_equal(c.le.lease_ms, 90000);
  assert_int_equal(c.le.renew_ms, 10000); /* default kept */
  assert_string_equal(c.le.ns, "kube-system");
  assert_int_equal(c.sources.count, 1);
  char *env[] = {"NETDRA_WORKERS=16", "OTHER=1", "NETDRA_SOURCES= mdns , mqtt ,", "NETDRA_VERBOSE=0",
                 NULL};
  assert_int_equal(nd_config_apply_env(table, &c, env, NULL), 0);
  assert_int_equal(c.workers, 16);
  assert_false(c.verbose);
  assert_int_equal(c.sources.count, 2);
  assert_string_equal(c.sources.items[0], "mdns");
  assert_string_equal(c.sources.items[1], "mqtt");
  char *argv[] = {"prog", "--workers=32", "--verbose", "-lease-duration", "2m", "--memory",
                  "500m", "--config", "ignored.yaml", NULL};
  static const char *const ignore[] = {"config", NULL};
  assert_int_equal(nd_config_apply_flags(table, &c, 9, argv, ignore, NULL), 0);
  assert_int_equal(c.workers, 32);
  assert_true(c.verbose);
  assert_int_equal(c.le.lease_ms, 120000);
  char buf[ND_QUANTITY_STR_MAX];
  assert_string_equal(nd_quantity_format_canonical(&c.memory, buf), "500m");
  nd_config_free(table, &c);
}

static void test_load_with_file(void **state) {
  (void)state;
  char dir[] = "/tmp/netdra-config-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof(path), "%s/controller.yaml", dir);
  FILE *f = fopen(path, "w");
  fputs(yaml_text, f);
  fclose(f);
  char *argv[] = {"prog", "--config", path, "--driver=x.example.com", NULL};
  char *env[] = {"NETDRA_DRIVER=env.example.com", "NETDRA_WORKERS=2", NULL};
  test_cfg c = {0};
  cleanup_error nd_error_t err = NULL;
  if (nd_config_load(table, &c, NULL, 4, argv, env, &err) < 0)
    fail_msg("%s", nd_error_msg(err));
  assert_string_equal(c.driver, "x.example.com"); /* flag beats env beats file */
  assert_int_equal(c.workers, 2);                 /* env beats file */
  assert_int_equal(c.le.lease_ms, 90000);         /* file beats default */
  nd_config_free(table, &c);
  /* a missing file is an error naming it */
  char *argv2[] = {"prog", NULL};
  test_cfg c2 = {0};
  char missing[300];
  snprintf(missing, sizeof(missing), "%s/nope.yaml", dir);
  assert_int_equal(nd_config_load(table, &c2, missing, 1, argv2, empty_env, &err), -1);
  char want[400];
  snprintf(want, sizeof(want), "config file %s: No such file or directory", missing);
  assert_string_equal(nd_error_msg(err), want);
  nd_config_free(table, &c2);
  unlink(path);
  rmdir(dir);
}

static void expect_yaml_error(const char *text, const char *msg) {
  test_cfg c = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_config_defaults(table, &c, NULL), 0);
  assert_int_equal(nd_config_apply_yaml(table, &c, text, strlen(text), "controller.yaml", &err), -1);
  assert_string_equal(nd_error_msg(err), msg);
  nd_config_free(table, &c);
}

static void test_file_errors(void **state) {
  (void)state;
  expect_yaml_error("workers: 2\nleaderElection:\n  leaseDuration: abc\n",
                    "controller.yaml:3: leaderElection.leaseDuration: expected a duration like 15s, "
                    "got \"abc\"");
  expect_yaml_error("leaderElection:\n  leaseDuratoin: 15s\n",
                    "controller.yaml:2: leaderElection.leaseDuratoin: unknown key (known: "
                    "leaseDuration, renewDeadline, namespace)");
  expect_yaml_error("workers: 2\nlistOfThings:\n  - a\n", "controller.yaml:2: listOfThings: unknown key "
                    "(known: driver, workers, verbose, leaderElection, memory, sources)");
  expect_yaml_error("workerz: 1\n", "controller.yaml:1: workerz: unknown key (known: driver, "
                                    "workers, verbose, leaderElection, memory, sources)");
  expect_yaml_error("workers: many\n",
                    "controller.yaml:1: workers: expected an integer, got \"many\"");
  expect_yaml_error("workers: 100\n", "controller.yaml:1: workers: must be between 1 and 64, got 100");
  expect_yaml_error("driver: 12\n", "controller.yaml:1: driver: expected a string, got 12 (quote it "
                                    "to make it text)");
  expect_yaml_error("verbose: yes\n", "controller.yaml:1: verbose: expected true or false, got \"yes\"");
  expect_yaml_error("leaderElection:\n  leaseDuration: 15\n",
                    "controller.yaml:2: leaderElection.leaseDuration: expected a duration like 15s, "
                    "got 15 (a number needs a unit: ms, s, m or h)");
  expect_yaml_error("leaderElection:\n  leaseDuration: 2h\n",
                    "controller.yaml:2: leaderElection.leaseDuration: must be between 1s and 1h, "
                    "got 2h");
  expect_yaml_error("leaderElection:\n  leaseDuration: 1.0001s\n",
                    "controller.yaml:2: leaderElection.leaseDuration: expected a duration like 15s, "
                    "got \"1.0001s\" (finer than 1ms)");
  expect_yaml_error("leaderElection: 5\n",
                    "controller.yaml:1: leaderElection: expected a mapping, got 5");
  expect_yaml_error("sources:\n  - a\n  - 5\n",
                    "controller.yaml:3: sources[1]: expected a string, got 5");
  expect_yaml_error("sources: a\n",
                    "controller.yaml:1: sources: expected a list of strings, got \"a\"");
  expect_yaml_error("memory: 12Qi\n",
                    "controller.yaml:1: memory: expected a quantity like 64Gi or 500m, got \"12Qi\" "
                    "(unknown suffix Qi (expected n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or "
                    "e<exponent>))");
  expect_yaml_error("- a\n", "controller.yaml:1: expected a mapping of settings, got a list");
  expect_yaml_error("a: 1\n---\nb: 2\n", "controller.yaml:3: expected one YAML document, found 2");
  expect_yaml_error("workers: [1\n", "controller.yaml:2:1: did not find expected ',' or ']' while "
                                     "parsing a flow sequence");
  /* a YAML number is a quantity too, and an empty file or `key:` table changes nothing */
  test_cfg c = {0};
  assert_int_equal(nd_config_defaults(table, &c, NULL), 0);
  static const char small[] = "memory: 0.5\nleaderElection:\n";
  assert_int_equal(nd_config_apply_yaml(table, &c, small, strlen(small), "c", NULL), 0);
  char buf[ND_QUANTITY_STR_MAX];
  assert_string_equal(nd_quantity_format_canonical(&c.memory, buf), "500m");
  assert_int_equal(nd_config_apply_yaml(table, &c, "", 0, "c", NULL), 0);
  nd_config_free(table, &c);
}

static void test_env_and_flag_errors(void **state) {
  (void)state;
  struct {
    char *env[3];
    char *argv[4];
    int argc;
    const char *msg;
  } cases[] = {
      {{"NETDRA_WORKERS=x", NULL}, {"p", NULL}, 1,
       "environment NETDRA_WORKERS: workers: expected an integer, got \"x\""},
      {{"NETDRA_LEASE_DURATION=-5s", NULL}, {"p", NULL}, 1,
       "environment NETDRA_LEASE_DURATION: leaderElection.leaseDuration: expected a duration like "
       "15s, got \"-5s\" (must not be negative)"},
      {{NULL}, {"p", "--nope=1", NULL}, 2, "unknown flag --nope (see --help)"},
      {{NULL}, {"p", "--workers", NULL}, 2, "flag --workers needs a value"},
      {{NULL}, {"p", "--verbose=maybe", NULL}, 2,
       "flag --verbose: verbose: expected true or false, got \"maybe\""},
      {{NULL}, {"p", "stray", NULL}, 2, "unexpected argument \"stray\""},
      {{NULL}, {"p", "--workers", "0", NULL}, 3, "flag --workers: workers: must be between 1 and 64, got 0"},
      {{NULL}, {"p", "--workers", " 5", NULL}, 3, "flag --workers: workers: expected an integer, got \" 5\""},
      {{NULL}, {"p", "--workers", "5k", NULL}, 3, "flag --workers: workers: expected an integer, got \"5k\""},
      {{NULL}, {"p", "--memory", "1Mi5", NULL}, 3,
       "flag --memory: memory: expected a quantity like 64Gi or 500m, got \"1Mi5\" (unknown suffix "
       "Mi5 (expected n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or e<exponent>))"},
  };
  for (size_t i = 0; i < ND_ARRAY_LEN(cases); i++) {
    test_cfg c = {0};
    cleanup_error nd_error_t err = NULL;
    assert_int_equal(nd_config_load(table, &c, NULL, cases[i].argc, cases[i].argv, cases[i].env, &err),
                     -1);
    assert_string_equal(nd_error_msg(err), cases[i].msg);
    nd_config_free(table, &c);
  }
}

static void test_durations(void **state) {
  (void)state;
  struct {
    const char *in;
    int64_t ms; /* -1: error */
  } cases[] = {
      {"0", 0},       {"500ms", 500},  {"15s", 15000},   {"2m", 120000}, {"1h30m", 5400000},
      {"1.5s", 1500}, {"0.5ms", -1},   {"1h1m1s1ms", 3661001}, {"+3s", 3000}, {"", -1},
      {"s", -1},      {"5", -1},       {"5x", -1},       {"-1s", -1},    {"10us", -1},
      {"99999999999999999999h", -1}, {".5s", 500}, {"1.s", 1000},
  };
  for (size_t i = 0; i < ND_ARRAY_LEN(cases); i++) {
    int64_t ms = -7;
    cleanup_error nd_error_t err = NULL;
    int rc = nd_config_parse_duration(cases[i].in, &ms, &err);
    if (cases[i].ms < 0) {
      if (rc == 0)
        fail_msg("\"%s\" parsed as %lld", cases[i].in, (long long)ms);
    } else if (rc != 0 || ms != cases[i].ms) {
      fail_msg("\"%s\": rc %d ms %lld", cases[i].in, rc, (long long)ms);
    }
  }
}

static void test_reference(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  nd_config_reference_markdown(table, f);
  nd_config_usage(table, f);
  fclose(f);
  assert_non_null(strstr(text, "| Key | Type | Default | Flag | Environment | Description |\n"));
  assert_non_null(strstr(text, "| `leaderElection.leaseDuration` | duration | `15s` | "
                               "`--lease-duration` | `NETDRA_LEASE_DURATION` | how long a lease "
                               "is valid (1s to 1h) |\n"));
  assert_non_null(strstr(text, "| `leaderElection.renewDeadline` | duration | `10s` |  |  | give "
                               "up leading after this |\n"));
  assert_non_null(strstr(text, "namespace of the Lease \\| object"));
  assert_non_null(strstr(text, "  --verbose"));
  assert_non_null(strstr(text, "[$NETDRA_WORKERS]"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),    cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_load_with_file), cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_env_and_flag_errors), cmocka_unit_test(test_durations),
      cmocka_unit_test(test_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
