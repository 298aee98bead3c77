/* test_kubeconfig.c: kubeconfig parsing: contexts, token, client certificate data, CA data,
 * and broken files whose errors name the file, line and key. Also: no token over plain http
 * to a remote host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "k8s_internal.h"

static char *write_tmp(const char *text) {
  char *path = strdup("/tmp/netdra-kubeconfig-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static const char *good =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: prod\n"
    "clusters:\n"
    "- name: c1\n"
    "  cluster:\n"
    "    server: https://10.0.0.1:6443\n"
    "    certificate-authority-data: aGVsbG8tY2E=\n"
    "- name: c2\n"
    "  cluster:\n"
    "    server: https://10.0.0.2:6443\n"
    "    insecure-skip-tls-verify: true\n"
    "users:\n"
    "- name: u1\n"
    "  user:\n"
    "    token: abc123\n"
    "- name: u2\n"
    "  user:\n"
    "    client-certificate-data: Y2VydA==\n"
    "    client-key-data: a2V5\n"
    "contexts:\n"
    "- name: prod\n"
    "  context: {cluster: c1, user: u1}\n"
    "- name: lab\n"
    "  context: {cluster: c2, user: u2}\n";

static void test_contexts(void **state) {
  cleanup_free char *path = write_tmp(good);
  cleanup_error nd_error_t err = NULL;
  nd_k8s_config c;
  memset(&c, 0, sizeof(c));
  assert_int_equal(nd_k8s_config_from_kubeconfig(path, NULL, &c, &err), 0);
  assert_string_equal(c.server, "https://10.0.0.1:6443");
  assert_string_equal(c.token, "abc123");
  assert_int_equal(c.ca_len, 8);
  assert_memory_equal(c.ca_data, "hello-ca", 8);
  assert_false(c.insecure);
  nd_k8s_config_clear(&c);
  assert_int_equal(nd_k8s_config_from_kubeconfig(path, "lab", &c, &err), 0);
  assert_string_equal(c.server, "https://10.0.0.2:6443");
  assert_true(c.insecure);
  assert_null(c.token);
  assert_memory_equal(c.cert_data, "cert", 4);
  assert_memory_equal(c.key_data, "key", 3);
  nd_k8s_config_clear(&c);
  unlink(path);
}

static void expect_error(const char *text, const char *context, const char *want) {
  cleanup_free char *path = write_tmp(text);
  cleanup_error nd_error_t err = NULL;
  nd_k8s_config c;
  memset(&c, 0, sizeof(c));
  assert_int_equal(nd_k8s_config_from_kubeconfig(path, context, &c, &err), -1);
  if (strstr(err->msg, want) == NULL || strstr(err->msg, path) == NULL)
    fail_msg("error \"%s\" does not name %s and \"%s\"", err->msg, path, want);
  unlink(path);
}

static void test_errors_name_line_and_key(void **state) {
  expect_error(good, "nope", "no context named \"nope\"");
  expect_error("current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone}\n",
               NULL, ":4: cluster: names no cluster");
  expect_error("clusters:\n- name: c\n  cluster:\n    server: https://h\n"
               "    certificate-authority-data: '!!notbase64!!'\n"
               "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
               NULL, ":5: certificate-authority-data: not valid base64");
  expect_error("clusters:\n- name: c\n  cluster:\n    server: ftp://h\n"
               "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
               NULL, ":4: server: expected an http(s):// URL");
  expect_error("clusters:\n- name: c\n  cluster:\n    server: https://h\n"
               "users:\n- name: u\n  user:\n    exec: {command: aws}\n"
               "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
               NULL, ":8: exec: credential plugins are not supported");
  expect_error("clusters:\n- name: c\n  cluster:\n    server: https://h\n    insecure-skip-tls-verify: maybe\n"
               "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
               NULL, ":5: insecure-skip-tls-verify: expected true or false");
  expect_error("clusters: [\n", NULL, "loading kubeconfig");
  expect_error("kind: Config\n", NULL, "current-context: no current context is set");
}

static void test_no_token_over_plain_http(void **state) {
  cleanup_free char *path = write_tmp(
      "clusters:\n- name: c\n  cluster:\n    server: http://192.0.2.10:8080\n"
      "users:\n- name: u\n  user:\n    token: secret\n"
      "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
  cleanup_error nd_error_t err = NULL;
  nd_k8s_options o = {.kubeconfig_path = path};
  assert_null(nd_k8s_client_new(NULL, &o, &err));
  assert_non_null(strstr(err->msg, "refusing to send a bearer token over plain http"));
  assert_null(strstr(err->msg, "secret"));
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_contexts),
      cmocka_unit_test(test_errors_name_line_and_key),
      cmocka_unit_test(test_no_token_over_plain_http),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
