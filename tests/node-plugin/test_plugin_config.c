/* test_plugin_config.c: node plugin configuration: defaults, YAML < env < flags, derived
 * paths, and errors that name the file/line/key, variable or flag at fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "plugin_config.h"

static char yaml_path[64];
static char *no_env[] = {NULL};

static void write_yaml(const char *text) {
  FILE *f = fopen(yaml_path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  snprintf(yaml_path, sizeof(yaml_path), "/tmp/test_plugin_config.XXXXXX");
  int fd = mkstemp(yaml_path);
  if (fd < 0)
    return -1;
  close(fd);
  return 0;
}

static int teardown(void **state) {
  unlink(yaml_path);
  return 0;
}

static void test_defaults_and_precedence(void **state) {
  write_yaml("driverName: netdra.dev\nnodeName: from-yaml\ncdiDir: /yaml/cdi\nworkers: 2\n"
             "kubeletPluginDir: /p\nkubeletRegistryDir: /r\nlocalGPUs: false\n"
             "metricsAddress: \":8081\"\n");
  char *env[] = {"NETDRA_CDI_DIR=/env/cdi", NULL};
  char *argv[] = {"plugin", "--config", yaml_path, "--workers=8", NULL};
  nd_plugin_config cfg;
  cleanup_error nd_error_t err = NULL;
  if (nd_plugin_config_load(&cfg, 4, argv, env, &err) != 0)
    fail_msg("load failed: %s", nd_error_msg(err));
  assert_string_equal(cfg.node_name, "from-yaml");
  assert_string_equal(cfg.cdi_dir, "/env/cdi"); /* env beats YAML */
  assert_int_equal(cfg.workers, 8);             /* flag beats YAML */
  assert_false(cfg.publish_local_gpus);
  assert_string_equal(cfg.state_dir, "/var/lib/netdra");
  assert_string_equal(cfg.dev_root, "/");
  assert_int_equal(cfg.health_interval_s, 10);
  cleanup_free char *dra = nd_plugin_config_dra_socket(&cfg);
  cleanup_free char *reg = nd_plugin_config_reg_socket(&cfg);
  assert_string_equal(dra, "/p/dra.sock");
  assert_string_equal(reg, "/r/netdra.dev-reg.sock");
  nd_plugin_config_clear(&cfg);

  char *env2[] = {"NODE_NAME=n1", NULL};
  char *argv2[] = {"plugin", NULL};
  assert_int_equal(nd_plugin_config_load(&cfg, 1, argv2, env2, &err), 0);
  assert_string_equal(cfg.node_name, "n1");
  assert_string_equal(cfg.plugin_dir, "/var/lib/kubelet/plugins/netdra.dev");
  assert_string_equal(cfg.cdi_dir, "/var/run/cdi");
  assert_true(cfg.publish_local_gpus);
  nd_plugin_config_clear(&cfg);
}

static void expect_error(int argc, char **argv, char **env, const char *needle) {
  nd_plugin_config cfg;
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_plugin_config_load(&cfg, argc, argv, env, &err), -1);
  if (strstr(nd_error_msg(err), needle) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\"", nd_error_msg(err), needle);
  nd_plugin_config_clear(&cfg);
}

static void test_errors(void **state) {
  char *no_node[] = {"plugin", NULL};
  expect_error(1, no_node, no_env, "node name is required");
  char *bad_flag[] = {"plugin", "--node-name", "n", "--frobnicate", "1", NULL};
  expect_error(5, bad_flag, no_env, "frobnicate");
  char *bad_int[] = {"plugin", "--node-name", "n", "--workers", "lots", NULL};
  expect_error(5, bad_int, no_env, "flag --workers");
  char *bad_fmt[] = {"plugin", "--node-name", "n", "--log-format", "xml", NULL};
  expect_error(5, bad_fmt, no_env, "logFormat \"xml\"");
  char *bad_node[] = {"plugin", "--node-name", "Not_A_Node", NULL};
  expect_error(3, bad_node, no_env, "nodeName");
  char *bad_driver[] = {"plugin", "--node-name", "n", "--driver-name", "Bad/Driver", NULL};
  expect_error(5, bad_driver, no_env, "driverName");
  char *env_bad[] = {"NETDRA_WORKERS=x", NULL};
  char *node_only[] = {"plugin", "--node-name", "n", NULL};
  expect_error(3, node_only, env_bad, "environment NETDRA_WORKERS");

  char *with_yaml[] = {"plugin", "--config", yaml_path, NULL};
  write_yaml("nodeName: n\ncolour: blue\n");
  expect_error(3, with_yaml, no_env, ":2: colour: unknown key");
  write_yaml("nodeName: n\nlocalGPUs: maybe\n");
  expect_error(3, with_yaml, no_env, ":2: localGPUs");
  char *nofile[] = {"plugin", "--config", "/nonexistent/netdra.yaml", NULL};
  expect_error(3, nofile, no_env, "/nonexistent/netdra.yaml");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_defaults_and_precedence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
