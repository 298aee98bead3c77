/* test_backend_accelerator.c: the accelerator backend against the simulated control endpoint
 * (tests/peers/accel_endpoint.py, started by this test): session reserved, token in a 0600
 * file mounted read-only, attach twice -> one session at the peer, detach (with and without
 * state) releases, no free session (503) / hang -> clear errors, token never logged. */
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

#include "atomic_file.h"
#include "backend.h"
#include "backend_test_peers.h"
#include "cleanup.h"
#include "log.h"

typedef struct {
  test_peer ep;
  json_t *device;
  FILE *log;
} fixture;

static int setup(void **st) {
  fixture *f = calloc(1, sizeof(*f));
  test_peer_start(&f->ep, "accel_endpoint.py", "--max-sessions", "1", NULL);
  f->device = json_pack("{s:s, s:{s:{s:s}, s:{s:s}}}", "name", "acc-0", "attributes", "type",
                        "string", "accelerator", "endpoint", "string", f->ep.url);
  f->log = tmpfile();
  nd_log_set_stream(f->log);
  setenv("NETDRA_BACKEND_TIMEOUT_MS", "3000", 1);
  *st = f;
  return 0;
}

static int teardown(void **st) {
  fixture *f = *st;
  nd_log_set_stream(NULL);
  fclose(f->log);
  test_peer_stop(&f->ep);
  json_decref(f->device);
  free(f);
  return 0;
}

static nd_attach_request request_for(fixture *f, const char *uid, const json_t *config) {
  nd_attach_request req = {
      .claim_uid = uid, .claim_namespace = "ns", .claim_name = "c", .request = "acc",
      .pool = "remote", .device = "acc-0", .slice_device = f->device, .config = config,
      .claim_dir = f->ep.dir, .k8s = NULL, .node_name = "node-a", .dev_root = "/"};
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

static size_t peer_sessions(fixture *f) {
  json_t *reply = NULL;
  assert_int_equal(test_peer_call(&f->ep, "GET", "/v1/sessions", NULL, &reply), 200);
  size_t n = json_array_size(json_object_get(reply, "sessions"));
  json_decref(reply);
  return n;
}

static void test_reserve_idempotent_release(void **st) {
  fixture *f = *st;
  const nd_backend *be = nd_backend_for_type("accelerator");
  assert_ptr_equal(be, &nd_backend_accelerator);
  json_t *cfg = json_pack("{s:i}", "sessionTimeoutSeconds", 600);
  nd_attach_request req = request_for(f, "uid-1", cfg);
  nd_attach_result res = {0}, res2 = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(be->attach(&req, &res, &err), 0);
  char env[256];
  snprintf(env, sizeof(env), "NETDRA_ACCEL_ENDPOINT=%s", f->ep.url);
  assert_true(has_env(res.edits, env));
  assert_true(has_env(res.edits, "NETDRA_ACCEL_TOKEN_FILE=/var/run/netdra/accelerator/token"));
  assert_true(has_env(res.edits, "NETDRA_ACCEL_SESSION=sess-1"));
  const char *file = json_string_value(json_object_get(res.state, "tokenFile"));
  json_t *m = json_array_get(json_object_get(res.edits, "mounts"), 0);
  assert_string_equal(json_string_value(json_object_get(m, "hostPath")), file);
  struct stat sb;
  assert_int_equal(stat(file, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  /* the file holds the token the endpoint issued for this claim */
  json_t *sess = NULL;
  assert_int_equal(test_peer_call(&f->ep, "POST", "/v1/sessions",
                                  "{\"claim\":\"uid-1\",\"node\":\"node-a\"}", &sess),
                   200);
  const char *token = json_string_value(json_object_get(sess, "token"));
  assert_int_equal(json_integer_value(json_object_get(sess, "timeoutSeconds")), 600);
  cleanup_free char *data = NULL;
  size_t len = 0;
  assert_int_equal(nd_read_file(file, 1024, &data, &len, &err), 0);
  assert_string_equal(data, token);

  assert_int_equal(be->attach(&req, &res2, &err), 0);
  assert_true(json_equal(res.edits, res2.edits));
  nd_attach_result_clear(&res2);
  assert_int_equal(peer_sessions(f), 1);

  assert_int_equal(be->detach(&req, res.state, &err), 0);
  assert_int_equal(peer_sessions(f), 0);
  assert_int_equal(access(file, F_OK), -1);
  assert_int_equal(be->detach(&req, res.state, &err), 0);

  /* the token never reached the log or the CDI edits */
  fflush(f->log);
  long n = ftell(f->log);
  cleanup_free char *log = calloc(1, (size_t)n + 1);
  rewind(f->log);
  assert_int_equal(fread(log, 1, (size_t)n, f->log), (size_t)n);
  assert_non_null(strstr(log, "reserved"));
  assert_null(strstr(log, token));
  cleanup_free char *edits = json_dumps(res.edits, 0);
  assert_null(strstr(edits, token));
  json_decref(sess);
  nd_attach_result_clear(&res);
  json_decref(cfg);
}

static void test_release_without_state(void **st) {
  fixture *f = *st;
  nd_attach_request req = request_for(f, "uid-2", NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_accelerator.attach(&req, &res, &err), 0);
  cleanup_free char *file = strdup(json_string_value(json_object_get(res.state, "tokenFile")));
  nd_attach_result_clear(&res);
  assert_int_equal(nd_backend_accelerator.detach(&req, NULL, &err), 0);
  assert_int_equal(peer_sessions(f), 0);
  assert_int_equal(access(file, F_OK), -1);
}

static void test_no_free_session(void **st) {
  fixture *f = *st;
  nd_attach_request a = request_for(f, "uid-a", NULL), b = request_for(f, "uid-b", NULL);
  nd_attach_result ra = {0}, rb = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_accelerator.attach(&a, &ra, &err), 0);
  assert_int_equal(nd_backend_accelerator.attach(&b, &rb, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "reserving a session on accelerator remote/acc-0"));
  assert_non_null(strstr(nd_error_msg(err), "HTTP 503: no free session"));
  assert_null(rb.edits);
  nd_error_release(&err);
  assert_int_equal(nd_backend_accelerator.detach(&a, ra.state, &err), 0);
  nd_attach_result_clear(&ra);
}

static void test_hang_times_out(void **st) {
  fixture *f = *st;
  setenv("NETDRA_BACKEND_TIMEOUT_MS", "400", 1);
  assert_int_equal(test_peer_call(&f->ep, "POST", "/_test/faults",
                                  "{\"method\":\"POST\",\"path\":\"^/v1/sessions$\","
                                  "\"status\":0,\"delay_ms\":4000,\"count\":1}",
                                  NULL),
                   200);
  nd_attach_request req = request_for(f, "uid-3", NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(nd_backend_accelerator.attach(&req, &res, &err), -1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 2);
  assert_non_null(strstr(nd_error_msg(err), "accelerator endpoint POST"));
  assert_non_null(strstr(nd_error_msg(err), "no answer within 400 ms"));
  setenv("NETDRA_BACKEND_TIMEOUT_MS", "3000", 1);
}

static void test_missing_endpoint(void **st) {
  fixture *f = *st;
  json_object_del(json_object_get(f->device, "attributes"), "endpoint");
  nd_attach_request req = request_for(f, "uid-4", NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_accelerator.attach(&req, &res, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "remote/acc-0 has no string attribute \"endpoint\""));
  nd_error_release(&err);
  assert_int_equal(nd_backend_accelerator.detach(&req, NULL, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "names the endpoint"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reserve_idempotent_release, setup, teardown),
      cmocka_unit_test_setup_teardown(test_release_without_state, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_free_session, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hang_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_endpoint, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
