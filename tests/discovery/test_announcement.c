/* test_announcement.c: the announcement parser: the worked examples of all three device
 * types, typed and inferred attributes, reachability, attach, binding, and precise errors
 * (field and rule) for bad documents, including credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "discovery.h"

static nd_device *parse_file(const char *name, const char *id, nd_error_t *err) {
  char path[512];
  snprintf(path, sizeof(path), "%s/deploy/examples/announcements/%s", getenv("NETDRA_SOURCE_DIR"), name);
  json_error_t jerr;
  cleanup_json json_t *doc = json_load_file(path, 0, &jerr);
  if (doc == NULL)
    fail_msg("%s: %s", path, jerr.text);
  return nd_announcement_parse("mqtt", "site-a", id, doc, err);
}

static const nd_attr *attr(const nd_device *d, const char *name) {
  for (size_t i = 0; i < d->n_attrs; i++)
    if (strcmp(d->attrs[i].name, name) == 0)
      return &d->attrs[i];
  fail_msg("no attribute %s", name);
  return NULL;
}

static const char *cap(const nd_device *d, const char *name) {
  for (size_t i = 0; i < d->n_caps; i++)
    if (strcmp(d->caps[i].name, name) == 0)
      return d->caps[i].quantity;
  fail_msg("no capacity %s", name);
  return NULL;
}

static void test_examples(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_device *cam = parse_file("camera.json", "lobby-cam-1", &err);
  assert_non_null(cam);
  assert_string_equal(cam->type, "camera");
  assert_string_equal(cam->vendor, "axis");
  assert_int_equal(attr(cam, "fps")->type, ND_ATTR_INT);
  assert_int_equal(attr(cam, "fps")->num, 30);
  assert_int_equal(attr(cam, "ptz")->type, ND_ATTR_BOOL);
  assert_int_equal(attr(cam, "firmware")->type, ND_ATTR_VERSION);
  assert_string_equal(attr(cam, "resolution")->str, "1920x1080");
  assert_string_equal(attr(cam, "topology.kubernetes.io/zone")->str, "eu-west-1a");
  assert_string_equal(cap(cam, "streams"), "4");
  assert_false(cam->all_nodes);
  assert_int_equal(cam->n_node_reqs, 1);
  assert_string_equal(cam->node_reqs[0].values[0], "eu-west-1a");
  assert_string_equal(cam->endpoint, "rtsp://10.20.0.15:554/axis-media/media.amp");
  assert_string_equal(cam->secret_namespace, "default");
  assert_string_equal(cam->secret_name, "lobby-cam-1-credentials");
  assert_int_equal(cam->ttl_s, 60);
  nd_device_free(cam);

  nd_device *cxl = parse_file("cxl-memory.json", "fabric-a-region-7", &err);
  assert_non_null(cxl);
  assert_string_equal(cap(cxl, "memory"), "128Gi");
  assert_string_equal(cxl->fabric_region, "region-7");
  assert_true(cxl->binds_to_node);
  assert_int_equal(cxl->n_binding_conditions, 1);
  assert_string_equal(cxl->binding_failure_conditions[0], "netdra.dev/attach-failed");
  nd_device *clone = nd_device_clone(cxl);
  assert_true(nd_device_equal(cxl, clone));
  free(clone->fabric_region);
  clone->fabric_region = strdup("region-8");
  assert_false(nd_device_equal(cxl, clone));
  nd_device_free(clone);
  nd_device_free(cxl);

  nd_device *acc = parse_file("accelerator.json", "rack4-accel-2", &err);
  assert_non_null(acc);
  assert_true(acc->all_nodes);
  assert_string_equal(cap(acc, "memory"), "96Gi");
  assert_int_equal(attr(acc, "cores")->num, 256);
  nd_device_free(acc);
}

static void expect_reject(const char *json, const char *id, const char *want) {
  cleanup_error nd_error_t err = NULL;
  nd_device *d = nd_announcement_parse_bytes("mqtt", "site-a", id, json, strlen(json), &err);
  if (d != NULL) {
    nd_device_free(d);
    fail_msg("accepted: %s", json);
  }
  if (strstr(err->msg, want) == NULL)
    fail_msg("for %s: error \"%s\" does not say \"%s\"", json, err->msg, want);
}

static void test_rejections(void **state) {
  expect_reject("", "x", "invalid JSON");
  expect_reject("[1]", "x", "expected a JSON object");
  expect_reject("{}", "x", "type: required");
  expect_reject("{\"type\":\"toaster\"}", "x", "not a known device type");
  expect_reject("{\"type\":\"camera\",\"id\":\"other\"}", "x", "the topic says \"x\"");
  expect_reject("{\"type\":\"camera\",\"schemaVersion\":2}", "x", "only version 1");
  expect_reject("{\"type\":\"camera\",\"colour\":1}", "x", "colour: unknown field");
  expect_reject("{\"type\":\"camera\",\"password\":\"hunter2\"}", "x", "credentials must never be announced");
  expect_reject("{\"type\":\"camera\",\"attach\":{\"token\":\"t\"}}", "x", "attach.token: credentials");
  expect_reject("{\"type\":\"camera\",\"attach\":{\"endpoint\":\"rtsp://u:p@h/\"}}", "x", "user information");
  expect_reject("{\"type\":\"camera\",\"attach\":{\"endpoint\":\"file:///etc/passwd\"}}", "x", "scheme must be");
  expect_reject("{\"type\":\"camera\",\"attach\":{\"endpoint\":\"rtsp://h/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
                "x", "at most 64 allowed");
  expect_reject("{\"type\":\"camera\",\"attributes\":{\"bad name\":1}}", "x", "C identifier");
  expect_reject("{\"type\":\"camera\",\"attributes\":{\"type\":\"x\"}}", "x", "reserved");
  expect_reject("{\"type\":\"camera\",\"attributes\":{\"a\":1.5}}", "x", "expected a string, integer");
  expect_reject("{\"type\":\"camera\",\"attributes\":{\"a\":{\"version\":\"1.2\"}}}", "x", "not semver");
  expect_reject("{\"type\":\"camera\",\"attributes\":{\"a\":{\"int\":1,\"bool\":true}}}", "x", "exactly one of");
  expect_reject("{\"type\":\"camera\",\"attributes\":{\"a\":\"line\\nbreak\"}}", "x", "control character");
  expect_reject("{\"type\":\"camera\",\"capacities\":{\"memory\":\"12Qi\"}}", "x", "capacities.memory");
  expect_reject("{\"type\":\"camera\",\"capacities\":{\"memory\":\"-1Gi\"}}", "x", "must not be negative");
  expect_reject("{\"type\":\"camera\",\"reachability\":{}}", "x", "exactly one of allNodes");
  expect_reject("{\"type\":\"camera\",\"reachability\":{\"nodeSelector\":[{\"key\":\"a\",\"operator\":\"Near\"}]}}",
                "x", "operator");
  expect_reject("{\"type\":\"camera\",\"reachability\":{\"nodeSelector\":[{\"key\":\"a\",\"operator\":\"In\"}]}}",
                "x", "needs 1 to 16 values");
  expect_reject("{\"type\":\"camera\",\"attach\":{\"secretRef\":{\"namespace\":\"../x\",\"name\":\"y\"}}}",
                "x", "attach.secretRef.namespace");
  expect_reject("{\"type\":\"cxl-memory\",\"binding\":{\"conditions\":[\"a\"]}}", "x", "bindsToNode");
  expect_reject("{\"type\":\"camera\",\"ttl\":-5}", "x", "ttl");
  expect_reject("{\"type\":\"camera\"}", "", "id: required");
  expect_reject("{\"type\":\"camera\"}", "id\nwith-newline", "control character");
  char big[300];
  snprintf(big, sizeof(big), "{\"type\":\"camera\",\"attributes\":{");
  for (int i = 0; i < 27; i++)
    snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s\"a%d\":%d", i ? "," : "", i, i);
  strcat(big, "}}");
  expect_reject(big, "x", "at most 26");
  char *huge = malloc(70000);
  memset(huge, ' ', 69999);
  huge[69999] = '\0';
  huge[0] = '{';
  expect_reject(huge, "x", "at most 65536 allowed");
  free(huge);
}

static void test_custom_type(void **state) {
  cleanup_error nd_error_t err = NULL;
  const char *doc = "{\"type\":\"lidar\"}";
  assert_null(nd_announcement_parse_bytes("mqtt", "p", "l1", doc, strlen(doc), &err));
  nd_error_release(&err);
  assert_int_equal(nd_announcement_allow_type("lidar", &err), 0);
  nd_device *d = nd_announcement_parse_bytes("mqtt", "p", "l1", doc, strlen(doc), &err);
  assert_non_null(d);
  assert_true(d->all_nodes);
  nd_device_free(d);
  assert_int_equal(nd_announcement_allow_type("Not A Label", &err), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_examples),
      cmocka_unit_test(test_rejections),
      cmocka_unit_test(test_custom_type),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
