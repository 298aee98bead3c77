/* test_plugin_claim_config.c: opaque claim/class configuration: validation errors that name the
 * fault, request matching (sub-requests), class-before-claim merging, kind/type agreement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "claim_config.h"
#include "cleanup.h"

static json_t *load(const char *text) {
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  if (j == NULL)
    fail_msg("bad test JSON: %s", jerr.text);
  return j;
}

static void expect_error(const char *params_json, const char *needle) {
  cleanup_json json_t *p = load(params_json);
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_claim_config_check("netdra.dev", p, "config[0]", &err), -1);
  if (strstr(nd_error_msg(err), needle) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\"", nd_error_msg(err), needle);
  assert_non_null(strstr(nd_error_msg(err), "config[0]"));
}

static void test_validation(void **state) {
  (void)state;
  cleanup_json json_t *ok = load("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"CameraConfig\","
                                 "\"envPrefix\":\"CAM_A\",\"credentialsPath\":\"/run/cam\"}");
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_claim_config_check("netdra.dev", ok, "c", &err), 0);
  expect_error("{\"kind\":\"CameraConfig\"}", "apiVersion is missing");
  expect_error("{\"apiVersion\":\"other.io/v1\",\"kind\":\"CameraConfig\"}",
               "unknown apiVersion \"other.io/v1\"");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\"}", "kind is missing");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"TapeConfig\"}",
               "unknown kind \"TapeConfig\"");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"CameraConfig\",\"fps\":3}",
               "unknown field \"fps\" in CameraConfig");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"CameraConfig\","
               "\"envPrefix\":\"cam\"}",
               "envPrefix");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"CameraConfig\","
               "\"credentialsPath\":\"/a/../etc\"}",
               "credentialsPath");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"AcceleratorConfig\","
               "\"sessionTimeoutSeconds\":0}",
               "1..86400");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"AcceleratorConfig\","
               "\"sessionTimeoutSeconds\":\"5\"}",
               "sessionTimeoutSeconds");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"CxlMemoryConfig\","
               "\"containerPath\":\"/mnt/x\"}",
               "under /dev/");
  expect_error("{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"GpuConfig\","
               "\"preferVendorCdi\":1}",
               "boolean");
  expect_error("[]", "must be an object");
}

static const char *ALLOC_CONFIG =
    "[{\"source\":\"FromClaim\",\"requests\":[\"cam\"],\"opaque\":{\"driver\":\"netdra.dev\","
    "\"parameters\":{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"CameraConfig\","
    "\"envPrefix\":\"FROM_CLAIM\"}}},"
    " {\"source\":\"FromClass\",\"opaque\":{\"driver\":\"netdra.dev\",\"parameters\":{"
    "\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"CameraConfig\",\"envPrefix\":\"FROM_CLASS\","
    "\"streamProfile\":\"main\"}},\"requests\":[\"cam\"]},"
    " {\"source\":\"FromClaim\",\"opaque\":{\"driver\":\"gpu.example.com\",\"parameters\":"
    "{\"anything\":true}}},"
    " {\"source\":\"FromClaim\",\"requests\":[\"acc\"],\"opaque\":{\"driver\":\"netdra.dev\","
    "\"parameters\":{\"apiVersion\":\"netdra.dev/v1alpha1\",\"kind\":\"AcceleratorConfig\","
    "\"sessionTimeoutSeconds\":60}}}]";

static void test_merge_order(void **state) {
  (void)state;
  cleanup_json json_t *config = load(ALLOC_CONFIG);
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *out = NULL;
  assert_int_equal(
      nd_claim_config_for_request("netdra.dev", config, "cam", "camera", &out, &err), 0);
  assert_non_null(out);
  /* class entry first, claim entry overrides; fields only in the class stay */
  assert_string_equal(json_string_value(json_object_get(out, "envPrefix")), "FROM_CLAIM");
  assert_string_equal(json_string_value(json_object_get(out, "streamProfile")), "main");
  assert_string_equal(json_string_value(json_object_get(out, "kind")), "CameraConfig");

  /* a sub-request result "cam/hd" takes the entries of its base request */
  cleanup_json json_t *sub = NULL;
  assert_int_equal(
      nd_claim_config_for_request("netdra.dev", config, "cam/hd", "camera", &sub, &err), 0);
  assert_string_equal(json_string_value(json_object_get(sub, "envPrefix")), "FROM_CLAIM");

  /* no entry for this request: NULL, not an error; other drivers' entries are ignored */
  cleanup_json json_t *none = NULL;
  assert_int_equal(
      nd_claim_config_for_request("netdra.dev", config, "gpu", "gpu", &none, &err), 0);
  assert_null(none);
}

static void test_kind_must_match_type(void **state) {
  (void)state;
  cleanup_json json_t *config = load(ALLOC_CONFIG);
  cleanup_error nd_error_t err = NULL;
  json_t *out = NULL;
  assert_int_equal(
      nd_claim_config_for_request("netdra.dev", config, "acc", "camera", &out, &err), -1);
  assert_null(out);
  assert_non_null(strstr(nd_error_msg(err), "AcceleratorConfig is for accelerator devices"));
}

static void test_bad_entry_fails_whole_claim(void **state) {
  (void)state;
  /* an invalid entry of our driver is an error even when it names another request */
  cleanup_json json_t *config =
      load("[{\"source\":\"FromClaim\",\"requests\":[\"other\"],\"opaque\":{\"driver\":"
           "\"netdra.dev\",\"parameters\":{\"apiVersion\":\"netdra.dev/v1alpha1\","
           "\"kind\":\"GpuConfig\",\"bogus\":1}}}]");
  cleanup_error nd_error_t err = NULL;
  json_t *out = NULL;
  assert_int_equal(
      nd_claim_config_for_request("netdra.dev", config, "cam", "camera", &out, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "allocation config[0] (FromClaim)"));
  assert_non_null(strstr(nd_error_msg(err), "unknown field \"bogus\""));
  nd_error_release(&err);
  cleanup_json json_t *noparams =
      load("[{\"source\":\"FromClass\",\"opaque\":{\"driver\":\"netdra.dev\"}}]");
  assert_int_equal(nd_claim_config_check_all("netdra.dev", noparams, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "parameters is missing"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_merge_order),
      cmocka_unit_test(test_kind_must_match_type),
      cmocka_unit_test(test_bad_entry_fails_whole_claim),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
