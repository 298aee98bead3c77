/* test_cdi.c: the CDI spec writer: names, lowest cdiVersion, strict edit checks, atomic files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cdi.h"
#include "cleanup.h"

static const char *UID = "0f3c2a4e-1111-4b2c-9d3e-123456789abc";

static void test_names(void **state) {
  (void)state;
  cleanup_free char *n = nd_cdi_device_name(UID, "cam", "cam-0");
  assert_string_equal(n, "cam-cam-0-0f3c2a4e-1111-4b2c-9d3e-123456789abc");
  cleanup_free char *d = nd_cdi_device_name(UID, "0req", "dev");
  assert_int_equal(d[0], 'r'); /* never a leading digit (that needs cdiVersion 0.5.0) */
  cleanup_free char *odd = nd_cdi_device_name("u1", "a b", "x/y");
  assert_string_equal(odd, "a-b-x-y-u1");
  cleanup_free char *id = nd_cdi_qualified_id("netdra.dev", n);
  assert_string_equal(id, "netdra.dev/claim=cam-cam-0-0f3c2a4e-1111-4b2c-9d3e-123456789abc");
  cleanup_free char *p = nd_cdi_spec_path("/var/run/cdi", "netdra.dev", "u/1");
  assert_string_equal(p, "/var/run/cdi/netdra.dev-claim_u_1.json");
  /* per-claim spec names, ours and other DRA drivers', against vendors' node-wide specs */
  assert_true(nd_cdi_is_claim_spec_name(strrchr(p, '/') + 1));
  assert_true(nd_cdi_is_claim_spec_name("k8s.gpu.nvidia.com-claim_0f3c2a4e.json"));
  assert_false(nd_cdi_is_claim_spec_name("nvidia.yaml"));
  assert_false(nd_cdi_is_claim_spec_name("nvidia.com-gpu.json"));
  assert_false(nd_cdi_is_claim_spec_name("-claim_u1.json"));       /* no vendor */
  assert_false(nd_cdi_is_claim_spec_name("netdra.dev-claim_.json")); /* no claim */
  assert_false(nd_cdi_is_claim_spec_name("netdra.dev-claim_u1.yaml"));
  assert_false(nd_cdi_is_claim_spec_name("netdra.dev-claim_u1.json.tmp-x"));
  /* two claims never share a device name */
  cleanup_free char *a = nd_cdi_device_name("uid-a", "r", "d");
  cleanup_free char *b = nd_cdi_device_name("uid-b", "r", "d");
  assert_string_not_equal(a, b);
}

static const char *version_of(const char *edits_json) {
  json_error_t jerr;
  cleanup_json json_t *edits = json_loads(edits_json, 0, &jerr);
  assert_non_null(edits);
  nd_cdi_device dev = {.name = "dev-a", .edits = edits};
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *spec = nd_cdi_spec_build("netdra.dev", &dev, 1, &err);
  if (spec == NULL)
    fail_msg("spec build failed: %s", nd_error_msg(err));
  static char version[16];
  snprintf(version, sizeof(version), "%s", json_string_value(json_object_get(spec, "cdiVersion")));
  assert_string_equal(json_string_value(json_object_get(spec, "kind")), "netdra.dev/claim");
  return version;
}

static void test_lowest_version(void **state) {
  (void)state;
  assert_string_equal(version_of("{\"env\":[\"A=b\"]}"), "0.3.0");
  assert_string_equal(version_of("{\"env\":[\"A=\"],\"deviceNodes\":[{\"path\":\"/dev/x\"}]}"),
                      "0.3.0");
  assert_string_equal(
      version_of("{\"mounts\":[{\"hostPath\":\"/a\",\"containerPath\":\"/b\",\"type\":\"bind\"}]}"),
      "0.4.0");
  assert_string_equal(
      version_of("{\"deviceNodes\":[{\"path\":\"/dev/cam0\",\"hostPath\":\"/dev/null\"}]}"),
      "0.5.0");
  assert_string_equal(version_of("{\"env\":[\"A=b\"],\"additionalGids\":[5]}"), "0.7.0");
  assert_string_equal(version_of("{\"netDevices\":[{\"hostInterfaceName\":\"e\",\"name\":\"n\"}]}"),
                      "1.1.0");
  assert_true(nd_cdi_version_cmp("0.5.0", "0.3.0") > 0);
  assert_true(nd_cdi_version_cmp("0.3.0", "1.1.0") < 0);
}

static void expect_bad(const char *edits_json, const char *name, const char *needle) {
  json_error_t jerr;
  cleanup_json json_t *edits = json_loads(edits_json, 0, &jerr);
  assert_non_null(edits);
  nd_cdi_device dev = {.name = name, .edits = edits};
  cleanup_error nd_error_t err = NULL;
  json_t *spec = nd_cdi_spec_build("netdra.dev", &dev, 1, &err);
  assert_null(spec);
  assert_non_null(err);
  if (strstr(nd_error_msg(err), needle) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\"", nd_error_msg(err), needle);
}

static void test_bad_edits(void **state) {
  (void)state;
  expect_bad("{\"env\":[\"NOEQUALS\"]}", "d", "NAME=value");
  expect_bad("{\"env\":[\"=x\"]}", "d", "NAME=value");
  expect_bad("{\"env\":[3]}", "d", "must be a string");
  expect_bad("{\"envs\":[\"A=b\"]}", "d", "unknown field \"envs\"");
  expect_bad("{\"deviceNodes\":[{\"hostPath\":\"/dev/null\"}]}", "d", "path is required");
  expect_bad("{\"deviceNodes\":[{\"path\":\"/dev/a\",\"permissions\":\"rx\"}]}", "d", "rwm");
  expect_bad("{\"deviceNodes\":[{\"path\":\"/dev/a\",\"type\":\"z\"}]}", "d", "type");
  expect_bad("{\"deviceNodes\":[{\"path\":\"/dev/a\",\"uid\":-1}]}", "d", "uid");
  expect_bad("{\"mounts\":[{\"hostPath\":\"/a\"}]}", "d", "containerPath is required");
  expect_bad("{\"hooks\":[{\"hookName\":\"later\",\"path\":\"/bin/true\"}]}", "d", "hookName");
  expect_bad("{\"hooks\":[{\"hookName\":\"prestart\",\"path\":\"rel\"}]}", "d", "absolute");
  expect_bad("{}", "d", "must not be empty");
  expect_bad("{\"env\":[]}", "d", "must not be empty");
  expect_bad("{\"env\":[\"A=b\"]}", "-bad", "CDI device name \"-bad\"");
  expect_bad("{\"env\":[\"A=b\"]}", "bad name", "not a valid CDI device name");
  expect_bad("[]", "d", "must be an object");
}

static void test_spec_rules(void **state) {
  (void)state;
  cleanup_json json_t *edits = json_pack("{s:[s]}", "env", "A=b");
  nd_cdi_device twice[2] = {{"same", edits}, {"same", edits}};
  cleanup_error nd_error_t err = NULL;
  assert_null(nd_cdi_spec_build("netdra.dev", twice, 2, &err));
  assert_non_null(strstr(nd_error_msg(err), "appears twice"));
  nd_error_release(&err);
  assert_null(nd_cdi_spec_build("netdra.dev", twice, 0, &err));
  assert_non_null(strstr(nd_error_msg(err), "at least one device"));
  nd_error_release(&err);
  assert_null(nd_cdi_spec_build("1vendor", twice, 1, &err));
  assert_non_null(strstr(nd_error_msg(err), "vendor"));
  nd_error_release(&err);
  /* a leading digit in a device name is allowed but raises the version to 0.5.0 */
  nd_cdi_device digit = {"9dev", edits};
  cleanup_json json_t *spec = nd_cdi_spec_build("netdra.dev", &digit, 1, &err);
  assert_non_null(spec);
  assert_string_equal(json_string_value(json_object_get(spec, "cdiVersion")), "0.5.0");
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
      n++;
  closedir(d);
  return n;
}

static void test_write_and_remove(void **state) {
  (void)state;
  char tmpl[] = "/tmp/test_cdi.XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  cleanup_free char *dir = NULL;
  assert_true(asprintf(&dir, "%s/run/cdi", tmpl) > 0); /* created on demand */
  cleanup_json json_t *e1 = json_pack("{s:[s], s:[{s:s, s:s}]}", "env", "CAM_URL=rtsp://x/1",
                                      "deviceNodes", "path", "/dev/cam0", "hostPath", "/dev/null");
  cleanup_json json_t *e2 = json_pack("{s:[s]}", "env", "OTHER=1");
  nd_cdi_device devs[2] = {{"cam-cam0-u1", e1}, {"acc-acc0-u1", e2}};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_cdi_write_claim_spec(dir, "netdra.dev", "u1", devs, 2, &err), 0);
  cleanup_free char *path = nd_cdi_spec_path(dir, "netdra.dev", "u1");
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  assert_int_equal(count_entries(dir), 1); /* no temp file left behind */
  json_error_t jerr;
  cleanup_json json_t *spec = json_load_file(path, 0, &jerr);
  assert_non_null(spec);
  assert_string_equal(json_string_value(json_object_get(spec, "cdiVersion")), "0.5.0");
  assert_int_equal(json_array_size(json_object_get(spec, "devices")), 2);
  assert_true(json_equal(json_object_get(json_array_get(json_object_get(spec, "devices"), 0),
                                         "containerEdits"),
                         e1));
  /* rewrite (idempotent prepare) replaces the file in place */
  assert_int_equal(nd_cdi_write_claim_spec(dir, "netdra.dev", "u1", devs, 1, &err), 0);
  assert_int_equal(count_entries(dir), 1);
  /* an invalid spec leaves the existing file untouched */
  cleanup_json json_t *bad = json_pack("{s:[s]}", "env", "BAD");
  nd_cdi_device bad_dev = {"x", bad};
  assert_int_equal(nd_cdi_write_claim_spec(dir, "netdra.dev", "u1", &bad_dev, 1, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "claim u1"));
  nd_error_release(&err);
  cleanup_json json_t *again = json_load_file(path, 0, &jerr);
  assert_int_equal(json_array_size(json_object_get(again, "devices")), 1);
  assert_int_equal(nd_cdi_remove_claim_spec(dir, "netdra.dev", "u1", &err), 0);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(nd_cdi_remove_claim_spec(dir, "netdra.dev", "u1", &err), 0);
  /* the directory removed under the plugin: the next write makes it again */
  assert_int_equal(nd_remove_tree(dir, &err), 0);
  assert_int_equal(nd_cdi_write_claim_spec(dir, "netdra.dev", "u2", devs, 1, &err), 0);
  cleanup_free char *path2 = nd_cdi_spec_path(dir, "netdra.dev", "u2");
  assert_int_equal(access(path2, F_OK), 0);
  assert_int_equal(count_entries(dir), 1);
  /* a CDI "directory" that is a file: a clear error, nothing written */
  cleanup_free char *file_dir = NULL;
  assert_true(asprintf(&file_dir, "%s/not-a-dir", tmpl) > 0);
  FILE *f = fopen(file_dir, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(nd_cdi_write_claim_spec(file_dir, "netdra.dev", "u3", devs, 1, &err), -1);
  assert_int_equal(err->status, ENOTDIR);
  assert_non_null(strstr(nd_error_msg(err), "not-a-dir"));
  nd_error_release(&err);
  assert_int_equal(nd_remove_tree(tmpl, &err), 0);
  assert_int_equal(access(tmpl, F_OK), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),          cmocka_unit_test(test_lowest_version),
      cmocka_unit_test(test_bad_edits),      cmocka_unit_test(test_spec_rules),
      cmocka_unit_test(test_write_and_remove),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
