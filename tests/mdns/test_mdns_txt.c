/* test_mdns_txt.c: DNS-SD service -> announcement mapping (TXT keys, types, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cleanup.h"
#include "mdns_source.h"

static const nd_mdns_service_map netdra_map = {.service_type = "_netdra._tcp", .scheme = "http"};
static const nd_mdns_service_map rtsp_map = {
    .service_type = "_rtsp._tcp", .device_type = "camera", .scheme = "rtsp"};
static const nd_mdns_service_map axis_map = {.service_type = "_axis-video._tcp",
                                             .device_type = "camera",
                                             .vendor = "axis",
                                             .scheme = "rtsp",
                                             .path = "/axis-media/media.amp"};

static const char *sget(json_t *doc, const char *a, const char *b) {
  json_t *o = json_object_get(doc, a);
  return json_string_value(b ? json_object_get(o, b) : o);
}

static void test_netdra_service(void **state) {
  (void)state;
  const char *txt[] = {"type=accelerator", "vendor=acme", "model=X1", "a.cores=64",
                       "a.fp8=true", "av.firmware=1.2.3", "as.serial=007", "c.memory=80Gi",
                       "path=/ctl", "secret=ml/acc-creds", "zone=eu-1a", "unknown=kept-out"};
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *doc =
      nd_mdns_map_service(&netdra_map, "acc0", "10.0.0.7", 8443, txt, ND_ARRAY_LEN(txt), &err);
  assert_non_null(doc);
  assert_string_equal(sget(doc, "id", NULL), "acc0");
  assert_string_equal(sget(doc, "type", NULL), "accelerator");
  assert_string_equal(sget(doc, "vendor", NULL), "acme");
  json_t *attrs = json_object_get(doc, "attributes");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(attrs, "cores"), "int")), 64);
  assert_true(json_is_true(json_object_get(json_object_get(attrs, "fp8"), "bool")));
  assert_string_equal(json_string_value(json_object_get(json_object_get(attrs, "firmware"), "version")),
                      "1.2.3");
  assert_string_equal(json_string_value(json_object_get(json_object_get(attrs, "serial"), "string")),
                      "007");
  assert_string_equal(sget(doc, "capacities", "memory"), "80Gi");
  assert_string_equal(sget(doc, "attach", "endpoint"), "http://10.0.0.7:8443/ctl");
  json_t *ref = json_object_get(json_object_get(doc, "attach"), "secretRef");
  assert_string_equal(json_string_value(json_object_get(ref, "namespace")), "ml");
  assert_string_equal(json_string_value(json_object_get(ref, "name")), "acc-creds");
  json_t *req = json_array_get(json_object_get(json_object_get(doc, "reachability"), "nodeSelector"), 0);
  assert_string_equal(json_string_value(json_object_get(req, "key")), "topology.kubernetes.io/zone");
  assert_null(json_object_get(attrs, "unknown"));
}

static void test_well_known_camera(void **state) {
  (void)state;
  const char *txt[] = {"macaddress=00408C000001"};
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *doc =
      nd_mdns_map_service(&axis_map, "AXIS M3045", "192.0.2.5", 554, txt, 1, &err);
  assert_non_null(doc);
  assert_string_equal(sget(doc, "type", NULL), "camera");
  assert_string_equal(sget(doc, "vendor", NULL), "axis");
  assert_string_equal(sget(doc, "attach", "endpoint"), "rtsp://192.0.2.5:554/axis-media/media.amp");
  assert_true(json_is_true(json_object_get(json_object_get(doc, "reachability"), "allNodes")));

  cleanup_json json_t *v6 = nd_mdns_map_service(&rtsp_map, "cam", "fe80::1", 554, NULL, 0, &err);
  assert_string_equal(sget(v6, "attach", "endpoint"), "rtsp://[fe80::1]:554");
}

static void test_errors(void **state) {
  (void)state;
  struct {
    const char *txt;
    const char *msg;
  } bad[] = {
      {"=x", "empty or over-long key"},
      {"secret=nons", "expected <namespace>/<name>"},
      {"secret=/x", "expected <namespace>/<name>"},
      {"a.=1", "attribute name missing"},
      {"c.=1Gi", "capacity name missing"},
  };
  for (size_t i = 0; i < ND_ARRAY_LEN(bad); i++) {
    const char *txt[] = {"type=camera", bad[i].txt};
    cleanup_error nd_error_t err = NULL;
    json_t *doc = nd_mdns_map_service(&netdra_map, "x", "127.0.0.1", 1, txt, 2, &err);
    assert_null(doc);
    assert_non_null(strstr(err->msg, bad[i].msg));
  }
  cleanup_error nd_error_t err = NULL;
  assert_null(nd_mdns_map_service(&netdra_map, "x", "127.0.0.1", 1, NULL, 0, &err));
  assert_non_null(strstr(err->msg, "TXT key type is required"));
  nd_error_release(&err);
  char big[400];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  memcpy(big, "model=", 6);
  const char *txt[] = {"type=camera", big};
  assert_null(nd_mdns_map_service(&netdra_map, "x", NULL, 0, txt, 2, &err));
  assert_non_null(strstr(err->msg, "longer than 255"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_netdra_service),
      cmocka_unit_test(test_well_known_camera),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
