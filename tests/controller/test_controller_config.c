/* test_controller_config.c: controller settings from YAML < environment < flags, and clear
 * errors for unknown keys, bad values and bad flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller_config.h"
#include "yaml_json.h"

static char *write_tmp(const char *text) {
  char *path = strdup("/tmp/netdra-ctl-cfg-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static void test_precedence(void **state) {
  char *path = write_tmp("driverName: cams.example.com\n"
                         "leaderElection:\n  leaseDuration: 20s\n  renewDeadline: 12s\n"
                         "health:\n  recoveryHysteresis: 1m30s\n"
                         "mqtt:\n  host: broker\n  port: 8883\n  tls: true\n"
                         "bindingConditions:\n  enabled: true\n"
                         "pools: [a, b]\n");
  setenv("NETDRA_RETRY_PERIOD", "3s", 1);
  setenv("NETDRA_LEASE_DURATION", "25s", 1);
  char *argv[] = {"netdra-controller", "--config", path, "--lease-duration=30s",
                  "--leader-election=false", "--identity", "me", NULL};
  nd_controller_config cfg;
  nd_error_t err = NULL;
  assert_int_equal(nd_controller_config_load(&cfg, 7, argv, &err), 0);
  assert_string_equal(cfg.driver_name, "cams.example.com");
  assert_int_equal(cfg.lease_ms, 30000);        /* flag beats env beats file */
  assert_int_equal(cfg.renew_deadline_ms, 12000); /* file */
  assert_int_equal(cfg.retry_ms, 3000);         /* env */
  assert_int_equal(cfg.hysteresis_ms, 90000);
  assert_string_equal(cfg.mqtt_host, "broker");
  assert_int_equal(cfg.mqtt_port, 8883);
  assert_true(cfg.mqtt_tls);
  assert_true(cfg.binding_conditions);
  assert_false(cfg.leader_election);
  assert_string_equal(cfg.identity, "me");
  assert_int_equal(cfg.taint_grace_ms, 300000); /* default */
  assert_int_equal(cfg.pools.count, 2);
  assert_string_equal(cfg.pools.items[1], "b");
  nd_controller_config_clear(&cfg);
  unsetenv("NETDRA_RETRY_PERIOD");
  unsetenv("NETDRA_LEASE_DURATION");
  unlink(path);
  free(path);
}

static void expect_error(const char *yaml, char **extra, int n_extra, const char *want) {
  char *path = yaml ? write_tmp(yaml) : NULL;
  char *argv[16] = {"netdra-controller"};
  int argc = 1;
  if (path) {
    argv[argc++] = "--config";
    argv[argc++] = path;
  }
  for (int i = 0; i < n_extra; i++)
    argv[argc++] = extra[i];
  nd_controller_config cfg;
  nd_error_t err = NULL;
  assert_int_equal(nd_controller_config_load(&cfg, argc, argv, &err), -1);
  if (strstr(nd_error_msg(err), want) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\"", nd_error_msg(err), want);
  nd_error_release(&err);
  nd_controller_config_clear(&cfg);
  if (path) {
    unlink(path);
    free(path);
  }
}

static void test_errors(void **state) {
  expect_error("leaderElection:\n  leaseDuraton: 5s\n", NULL, 0, "leaderElection.leaseDuraton");
  expect_error("health:\n  recoveryHysteresis: soon\n", NULL, 0, ":2: health.recoveryHysteresis");
  expect_error("mqtt:\n  tls: maybe\n", NULL, 0, "mqtt.tls");
  expect_error("driverName: Not_A_Driver\n", NULL, 0, "driverName");
  expect_error("a: [unclosed\n", NULL, 0, ":");
  char *bad_flag[] = {"--no-such-flag", "1"};
  expect_error(NULL, bad_flag, 2, "no-such-flag");
  char *no_value[] = {"--lease-name"};
  expect_error(NULL, no_value, 1, "lease-name");
  char *bad_timing[] = {"--lease-duration", "5s", "--renew-deadline", "5s"};
  expect_error(NULL, bad_timing, 4, "renewDeadline");
}

/* The chart's rendered controller.yaml loads as it is (no unknown keys). */
static void test_chart_config(void **state) {
  const char *src = getenv("NETDRA_SOURCE_DIR");
  char path[512];
  snprintf(path, sizeof(path), "%s/deploy/manifests/configmap.yaml", src ? src : ".");
  nd_error_t err = NULL;
  json_t *docs = nd_yaml_load_file(path, NULL, &err);
  if (docs == NULL)
    fail_msg("%s", nd_error_msg(err));
  const char *text = NULL;
  size_t i;
  json_t *d;
  json_array_foreach(docs, i, d) {
    const char *t = json_string_value(json_object_get(json_object_get(d, "data"), "controller.yaml"));
    if (t != NULL)
      text = t;
  }
  assert_non_null(text);
  char *cfg_path = write_tmp(text);
  char *argv[] = {"netdra-controller", "--config", cfg_path, NULL};
  nd_controller_config cfg;
  if (nd_controller_config_load(&cfg, 3, argv, &err) != 0)
    fail_msg("chart config: %s", nd_error_msg(err));
  assert_int_equal(cfg.lease_ms, 15000);
  assert_int_equal(cfg.mqtt_port, 8883);
  nd_controller_config_clear(&cfg);
  unlink(cfg_path);
  free(cfg_path);
  json_decref(docs);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_precedence),
                                     cmocka_unit_test(test_errors),
                                     cmocka_unit_test(test_chart_config)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
