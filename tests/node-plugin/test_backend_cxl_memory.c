/* test_backend_cxl_memory.c: the cxl-memory backend against the simulated fabric manager
 * (tests/peers/fabric_manager.py, started by this test): attach -> DAX device node under the
 * fake dev root + NUMA env, attach twice -> one attachment at the peer, detach (with and
 * without state) releases, 5xx / unknown region / busy region / hang / refused connection ->
 * clear errors within the timeout, nothing left attached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "backend_test_peers.h"
#include "cleanup.h"

typedef struct {
  test_peer fm;
  char dev_root[96];
  json_t *device;
  char endpoint[160];
} fixture;

static int setup(void **st) {
  fixture *f = calloc(1, sizeof(*f));
  test_peer_start(&f->fm, "fabric_manager.py", "--dev-root", "{dir}/root", "--region",
                  "r0:2:64Gi", "--region", "r1:3:32Gi", NULL);
  snprintf(f->dev_root, sizeof(f->dev_root), "%s/root", f->fm.dir);
  snprintf(f->endpoint, sizeof(f->endpoint), "%s", f->fm.url);
  f->device = json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}}, s:{s:{s:s}}}", "name", "cxl-r0",
                        "attributes", "type", "string", "cxl-memory", "endpoint", "string",
                        f->endpoint, "fabricRegion", "string", "r0", "capacity", "memory",
                        "value", "64Gi");
  setenv("NETDRA_BACKEND_TIMEOUT_MS", "3000", 1);
  *st = f;
  return 0;
}

static int teardown(void **st) {
  fixture *f = *st;
  test_peer_stop(&f->fm);
  json_decref(f->device);
  free(f);
  return 0;
}

static nd_attach_request request_for(fixture *f, const char *uid, const json_t *config) {
  nd_attach_request req = {
      .claim_uid = uid, .claim_namespace = "ns", .claim_name = "c", .request = "mem",
      .pool = "fabric", .device = "cxl-r0", .slice_device = f->device, .config = config,
      .claim_dir = f->fm.dir, .k8s = NULL, .node_name = "node-a", .dev_root = f->dev_root};
  return req;
}

static bool has_env(const json_t *edits, const char *env) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(edits, "env"), i, e) {
    if (strcmp(json_string_value(e), env) == 0)
      return true;
  }
  return false;
}

static size_t peer_attachments(fixture *f) {
  json_t *reply = NULL;
  assert_int_equal(test_peer_call(&f->fm, "GET", "/v1/attachments", NULL, &reply), 200);
  size_t n = json_array_size(json_object_get(reply, "attachments"));
  json_decref(reply);
  return n;
}

static void test_attach_idempotent_detach(void **st) {
  fixture *f = *st;
  const nd_backend *be = nd_backend_for_type("cxl-memory");
  assert_ptr_equal(be, &nd_backend_cxl_memory);
  nd_attach_request req = request_for(f, "uid-1", NULL);
  nd_attach_result res = {0}, res2 = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(be->attach(&req, &res, &err), 0);
  json_t *node = json_array_get(json_object_get(res.edits, "deviceNodes"), 0);
  char host[192];
  snprintf(host, sizeof(host), "%s/dev/dax0.0", f->dev_root);
  assert_string_equal(json_string_value(json_object_get(node, "path")), "/dev/dax0.0");
  assert_string_equal(json_string_value(json_object_get(node, "hostPath")), host);
  assert_int_equal(access(host, F_OK), 0);
  assert_true(has_env(res.edits, "NETDRA_CXL_NUMA_NODE=2"));
  assert_true(has_env(res.edits, "NETDRA_CXL_REGION=r0"));
  assert_string_equal(json_string_value(json_object_get(res.state, "attachmentId")), "att-1");

  assert_int_equal(be->attach(&req, &res2, &err), 0);
  assert_true(json_equal(res.edits, res2.edits));
  assert_true(json_equal(res.state, res2.state));
  nd_attach_result_clear(&res2);
  assert_int_equal(peer_attachments(f), 1);
  assert_int_equal(test_peer_count(&f->fm, "POST", "/v1/attachments"), 1);

  assert_int_equal(be->detach(&req, res.state, &err), 0);
  assert_int_equal(peer_attachments(f), 0);
  assert_int_equal(access(host, F_OK), -1);
  assert_int_equal(be->detach(&req, res.state, &err), 0); /* already gone: fine */
  nd_attach_result_clear(&res);
}

static void test_detach_without_state_finds_attachment(void **st) {
  fixture *f = *st;
  nd_attach_request req = request_for(f, "uid-2", NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_cxl_memory.attach(&req, &res, &err), 0);
  nd_attach_result_clear(&res); /* as if the plugin died before recording the state */
  assert_int_equal(peer_attachments(f), 1);
  assert_int_equal(nd_backend_cxl_memory.detach(&req, NULL, &err), 0);
  assert_int_equal(peer_attachments(f), 0);
}

static void test_config(void **st) {
  fixture *f = *st;
  json_t *cfg = json_pack("{s:s, s:b}", "containerPath", "/dev/cxlmem", "numaEnv", 0);
  nd_attach_request req = request_for(f, "uid-3", cfg);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_cxl_memory.attach(&req, &res, &err), 0);
  json_t *node = json_array_get(json_object_get(res.edits, "deviceNodes"), 0);
  assert_string_equal(json_string_value(json_object_get(node, "path")), "/dev/cxlmem");
  assert_false(has_env(res.edits, "NETDRA_CXL_NUMA_NODE=2"));
  assert_int_equal(nd_backend_cxl_memory.detach(&req, res.state, &err), 0);
  nd_attach_result_clear(&res);
  json_decref(cfg);
}

static void test_server_error(void **st) {
  fixture *f = *st;
  assert_int_equal(test_peer_call(&f->fm, "POST", "/_test/faults",
                                  "{\"method\":\"POST\",\"path\":\"^/v1/attachments$\","
                                  "\"status\":503,\"count\":1}",
                                  NULL),
                   200);
  nd_attach_request req = request_for(f, "uid-4", NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_cxl_memory.attach(&req, &res, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "attaching CXL region r0 to node node-a"));
  assert_non_null(strstr(nd_error_msg(err), "fabric manager POST"));
  assert_non_null(strstr(nd_error_msg(err), "HTTP 503"));
  assert_null(res.edits);
  assert_int_equal(peer_attachments(f), 0);
}

static void test_hang_times_out(void **st) {
  fixture *f = *st;
  setenv("NETDRA_BACKEND_TIMEOUT_MS", "500", 1);
  assert_int_equal(test_peer_call(&f->fm, "POST", "/_test/faults",
                                  "{\"method\":\"GET\",\"path\":\"^/v1/attachments$\","
                                  "\"status\":0,\"delay_ms\":4000,\"count\":1}",
                                  NULL),
                   200);
  nd_attach_request req = request_for(f, "uid-5", NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(nd_backend_cxl_memory.attach(&req, &res, &err), -1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(s < 2.0);
  assert_non_null(strstr(nd_error_msg(err), "no answer within 500 ms"));
  setenv("NETDRA_BACKEND_TIMEOUT_MS", "3000", 1);
}

static void test_region_errors(void **st) {
  fixture *f = *st;
  cleanup_error nd_error_t err = NULL;
  /* r0 held by another claim -> 409 */
  nd_attach_request other = request_for(f, "uid-other", NULL);
  nd_attach_result res = {0};
  assert_int_equal(nd_backend_cxl_memory.attach(&other, &res, &err), 0);
  nd_attach_request req = request_for(f, "uid-6", NULL);
  nd_attach_result res2 = {0};
  assert_int_equal(nd_backend_cxl_memory.attach(&req, &res2, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "HTTP 409: region r0 is attached to node node-a"));
  nd_error_release(&err);
  assert_int_equal(nd_backend_cxl_memory.detach(&other, res.state, &err), 0);
  nd_attach_result_clear(&res);

  json_object_set_new(json_object_get(f->device, "attributes"), "fabricRegion",
                      json_pack("{s:s}", "string", "r9"));
  assert_int_equal(nd_backend_cxl_memory.attach(&req, &res2, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "HTTP 404: region r9 unknown"));
  nd_error_release(&err);

  json_object_del(json_object_get(f->device, "attributes"), "fabricRegion");
  assert_int_equal(nd_backend_cxl_memory.attach(&req, &res2, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "no string attribute \"fabricRegion\""));
  nd_error_release(&err);
  assert_int_equal(peer_attachments(f), 0);
}

static void test_refused(void **st) {
  fixture *f = *st;
  test_peer_stop(&f->fm); /* the port is closed now */
  nd_attach_request req = request_for(f, "uid-7", NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_cxl_memory.attach(&req, &res, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "fabric manager GET"));
  assert_non_null(strstr(nd_error_msg(err), f->endpoint));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_attach_idempotent_detach, setup, teardown),
      cmocka_unit_test_setup_teardown(test_detach_without_state_finds_attachment, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hang_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_region_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
