/* test_backend_camera.c: the camera backend against a scripted REST client: env from the
 * slice, Secret data decoded into a 0600 credentials file mounted read-only, opaque
 * CameraConfig, missing/invalid Secrets named in the error, idempotent attach, detach removes
 * the file, and no Secret value in any log line or error. (The Secret read through the real
 * client and the stand-in API server is it_backend_camera_secret.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "backend.h"
#include "cdi.h"
#include "cleanup.h"
#include "log.h"

/* ---- scripted REST client: one Secret store ---- */
/* The edits pass the node plugin's strict CDI check (the spec writer runs it too). */
static void assert_cdi_valid(const json_t *edits, const char *want_version) {
  const char *min_version = "0.3.0";
  nd_error_t cerr = NULL;
  if (nd_cdi_check_edits(edits, "test device", &min_version, &cerr) < 0)
    fail_msg("%s", nd_error_msg(cerr));
  assert_string_equal(min_version, want_version); /* deviceNodes hostPath needs 0.5.0 */
}

static json_t *secrets;    /* "ns/name" -> Secret object */
static int secret_gets;

int nd_k8s_request(nd_k8s_client *c, const char *method, const char *path, const json_t *body,
                   const char *content_type, nd_k8s_result *r, nd_error_t *err) {
  char ns[64], name[64];
  assert_string_equal(method, "GET");
  assert_int_equal(sscanf(path, "/api/v1/namespaces/%63[^/]/secrets/%63s", ns, name), 2);
  secret_gets++;
  char key[140];
  snprintf(key, sizeof(key), "%s/%s", ns, name);
  json_t *s = json_object_get(secrets, key);
  memset(r, 0, sizeof(*r));
  if (s == NULL) {
    r->http_status = 404;
    r->message = strdup("secrets \"x\" not found");
    r->reason = "NotFound";
    return 0;
  }
  r->http_status = 200;
  r->body = json_incref(s);
  return 0;
}
void nd_k8s_result_clear(nd_k8s_result *r) {
  json_decref(r->body);
  free(r->message);
  memset(r, 0, sizeof(*r));
}
char *nd_k8s_escape(const char *s) { return strdup(s); }

/* ---- fixture ---- */
typedef struct {
  char dir[64];
  char claim_dir[96];
  FILE *log;
  json_t *device;
} fixture;

#define PASSWORD "s3cr3t-Pa55"
#define USERNAME "viewer"

static int setup(void **st) {
  fixture *f = calloc(1, sizeof(*f));
  strcpy(f->dir, "/tmp/nd-cam-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  /* not made here: the driver leaves the claim's directory to the first file written into it */
  snprintf(f->claim_dir, sizeof(f->claim_dir), "%s/claim", f->dir);
  f->log = tmpfile();
  nd_log_set_stream(f->log);
  f->device = json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}", "name", "cam-0",
                        "attributes", "type", "string", "camera", "endpoint", "string",
                        "rtsp://10.0.0.5/stream1", "id", "string", "lobby-cam", "secretRef",
                        "string", "video/cam-creds");
  secrets = json_object();
  /* "viewer" / "s3cr3t-Pa55" base64 */
  json_object_set_new(secrets, "video/cam-creds",
                      json_pack("{s:s, s:{s:s}, s:{s:s, s:s}}", "kind", "Secret", "metadata",
                                "name", "cam-creds", "data", "username", "dmlld2Vy", "password",
                                "czNjcjN0LVBhNTU="));
  json_object_set_new(secrets, "video/bad-b64",
                      json_pack("{s:{s:s}}", "data", "password", "not*base64"));
  secret_gets = 0;
  *st = f;
  return 0;
}

static char *read_all(FILE *f) {
  fflush(f);
  long n = ftell(f);
  char *buf = calloc(1, (size_t)n + 1);
  rewind(f);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  return buf;
}

static int teardown(void **st) {
  fixture *f = *st;
  /* no Secret value ever reaches the log */
  cleanup_free char *log = read_all(f->log);
  assert_null(strstr(log, PASSWORD));
  assert_null(strstr(log, "czNjcjN0LVBhNTU="));
  nd_log_set_stream(NULL);
  fclose(f->log);
  json_decref(f->device);
  json_decref(secrets);
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_remove_tree(f->dir, &err), 0);
  free(f);
  return 0;
}

static nd_attach_request request_for(fixture *f, const json_t *config) {
  nd_attach_request req = {
      .claim_uid = "uid-1", .claim_namespace = "video", .claim_name = "c1", .request = "cam",
      .pool = "net-pool", .device = "cam-0", .slice_device = f->device, .config = config,
      .claim_dir = f->claim_dir, .k8s = (nd_k8s_client *)1, .node_name = "node-a",
      .dev_root = "/"};
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

static void test_attach_with_secret(void **st) {
  fixture *f = *st;
  const nd_backend *be = nd_backend_for_type("camera");
  assert_ptr_equal(be, &nd_backend_camera);
  nd_attach_request req = request_for(f, NULL);
  assert_false(be->attach_leaves_nothing(&req)); /* it writes the credentials file */
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(be->attach(&req, &res, &err), 0);
  assert_null(res.vendor_cdi_id);
  assert_cdi_valid(res.edits, "0.3.0");
  assert_true(has_env(res.edits, "NETDRA_CAMERA_URL=rtsp://10.0.0.5/stream1"));
  assert_true(has_env(res.edits, "NETDRA_CAMERA_ID=lobby-cam"));
  assert_true(has_env(res.edits, "NETDRA_CAMERA_CREDENTIALS=/var/run/netdra/camera/credentials"));
  json_t *m = json_array_get(json_object_get(res.edits, "mounts"), 0);
  char file[160];
  snprintf(file, sizeof(file), "%s/cam-cam-0.camera-credentials", f->claim_dir);
  assert_string_equal(json_string_value(json_object_get(m, "hostPath")), file);
  assert_string_equal(json_string_value(json_object_get(m, "containerPath")),
                      "/var/run/netdra/camera/credentials");
  assert_string_equal(json_string_value(json_array_get(json_object_get(m, "options"), 0)), "ro");
  struct stat sb;
  assert_int_equal(stat(f->claim_dir, &sb), 0); /* made by the credentials file, private */
  assert_int_equal(sb.st_mode & 0777, 0700);
  assert_int_equal(stat(file, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  cleanup_free char *data = NULL;
  size_t len = 0;
  assert_int_equal(nd_read_file(file, 4096, &data, &len, &err), 0);
  assert_non_null(strstr(data, "username=" USERNAME "\n"));
  assert_non_null(strstr(data, "password=" PASSWORD "\n"));
  /* the edits (they go into the CDI spec) hold no credential */
  cleanup_free char *edits_text = json_dumps(res.edits, 0);
  assert_null(strstr(edits_text, PASSWORD));

  /* attach again: same result, same file */
  nd_attach_result res2 = {0};
  assert_int_equal(be->attach(&req, &res2, &err), 0);
  assert_true(json_equal(res.edits, res2.edits));
  assert_true(json_equal(res.state, res2.state));
  nd_attach_result_clear(&res2);

  assert_int_equal(be->detach(&req, res.state, &err), 0);
  assert_int_equal(access(file, F_OK), -1);
  /* detach again (or without state) succeeds */
  assert_int_equal(be->detach(&req, res.state, &err), 0);
  assert_int_equal(be->detach(&req, NULL, &err), 0);
  /* an attach that wrote the file but did not get to record its state: detach without state
   * still finds and removes the file */
  nd_attach_result res3 = {0};
  assert_int_equal(be->attach(&req, &res3, &err), 0);
  assert_int_equal(access(file, F_OK), 0);
  assert_int_equal(be->detach(&req, NULL, &err), 0);
  assert_int_equal(access(file, F_OK), -1);
  nd_attach_result_clear(&res3);
  nd_attach_result_clear(&res);
  nd_attach_result_clear(&res); /* clearing twice is safe */
}

static void test_config_and_no_secret(void **st) {
  fixture *f = *st;
  json_object_del(json_object_get(f->device, "attributes"), "secretRef");
  json_t *cfg = json_pack("{s:s, s:s, s:s}", "envPrefix", "CAM", "streamProfile", "low",
                          "credentialsPath", "/etc/cam/creds");
  nd_attach_request req = request_for(f, cfg);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_camera.attach(&req, &res, &err), 0);
  assert_true(has_env(res.edits, "CAM_URL=rtsp://10.0.0.5/stream1"));
  assert_true(has_env(res.edits, "CAM_STREAM_PROFILE=low"));
  assert_null(json_object_get(res.edits, "mounts"));
  assert_int_equal(secret_gets, 0);
  /* env only: nothing to undo after a crash, and no claim directory made */
  assert_true(nd_backend_camera.attach_leaves_nothing(&req));
  assert_int_equal(access(f->claim_dir, F_OK), -1);
  /* its recorded state says so: detach has nothing to remove */
  assert_non_null(res.state);
  assert_null(json_object_get(res.state, "credentialsFile"));
  assert_int_equal(nd_backend_camera.detach(&req, res.state, &err), 0);
  assert_int_equal(access(f->claim_dir, F_OK), -1);
  nd_attach_result_clear(&res);
  json_decref(cfg);
}

static void test_missing_secret_named(void **st) {
  fixture *f = *st;
  json_object_set_new(json_object_get(f->device, "attributes"), "secretRef",
                      json_pack("{s:s}", "string", "video/nope"));
  nd_attach_request req = request_for(f, NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_camera.attach(&req, &res, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "Secret video/nope"));
  assert_non_null(strstr(nd_error_msg(err), "not found"));
  assert_null(res.edits);
}

static void test_bad_secret_and_ref(void **st) {
  fixture *f = *st;
  json_t *attrs = json_object_get(f->device, "attributes");
  json_object_set_new(attrs, "secretRef", json_pack("{s:s}", "string", "video/bad-b64"));
  nd_attach_request req = request_for(f, NULL);
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_camera.attach(&req, &res, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "data key \"password\" is not valid base64"));
  nd_error_release(&err);

  json_object_set_new(attrs, "secretRef", json_pack("{s:s}", "string", "just-a-name"));
  assert_int_equal(nd_backend_camera.attach(&req, &res, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "is not <namespace>/<name>"));
  nd_error_release(&err);

  json_object_del(attrs, "endpoint");
  assert_int_equal(nd_backend_camera.attach(&req, &res, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "no string attribute \"endpoint\""));
  assert_null(res.edits);
}

static void test_registry(void **st) {
  assert_null(nd_backend_for_type("tape"));
  assert_null(nd_backend_for_type(NULL));
  assert_string_equal(nd_backend_for_type("camera")->type, "camera");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_attach_with_secret, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_and_no_secret, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_secret_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_secret_and_ref, setup, teardown),
      cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
