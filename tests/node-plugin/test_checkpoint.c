/* test_checkpoint.c: the prepared-claims checkpoint: round trip, checksum, corruption errors,
 * boot-id change detection, two-phase entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "cleanup.h"

typedef struct {
  char dir[64];
  char *state;
  char *boot;
} fixture;

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_checkpoint.XXXXXX");
  if (mkdtemp(fx->dir) == NULL)
    return -1;
  if (asprintf(&fx->state, "%s/state", fx->dir) < 0 || asprintf(&fx->boot, "%s/boot_id", fx->dir) < 0)
    return -1;
  write_text(fx->boot, "boot-1\n");
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_remove_tree(fx->dir, &err);
  free(fx->state);
  free(fx->boot);
  free(fx);
  return 0;
}

static json_t *entry(const char *phase, const char *dev_status) {
  return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:n, s:n}]}",
                   "namespace", "default", "name", "c1", "phase", phase, "devices", "request", "cam",
                   "pool", "p", "device", "cam0", "type", "camera", "status", dev_status,
                   "sliceDevice", "name", "cam0", "state", "edits");
}

static void test_round_trip(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  assert_false(nd_checkpoint_rebooted(cp));
  assert_null(nd_checkpoint_get(cp, "u1"));
  cleanup_json json_t *e = entry(ND_CKPT_PREPARE_STARTED, ND_CKPT_DEV_ATTACHING);
  assert_int_equal(nd_checkpoint_put(cp, "u1", e, &err), 0);
  struct stat st;
  assert_int_equal(stat(nd_checkpoint_path(cp), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  nd_checkpoint_free(cp);

  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_json json_t *back = nd_checkpoint_get(cp, "u1");
  assert_true(json_equal(back, e));
  cleanup_json json_t *all = nd_checkpoint_all(cp);
  assert_int_equal(json_object_size(all), 1);
  assert_int_equal(nd_checkpoint_remove(cp, "u1", &err), 0);
  assert_int_equal(nd_checkpoint_remove(cp, "unknown", &err), 0); /* not an error */
  nd_checkpoint_free(cp);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_null(nd_checkpoint_get(cp, "u1"));
  nd_checkpoint_free(cp);
}

static void test_reboot_detected(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  cleanup_json json_t *e = entry(ND_CKPT_PREPARE_COMPLETED, ND_CKPT_DEV_ATTACHED);
  assert_int_equal(nd_checkpoint_put(cp, "u1", e, &err), 0);
  nd_checkpoint_free(cp);
  write_text(fx->boot, "boot-2\n");
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  assert_true(nd_checkpoint_rebooted(cp));
  cleanup_json json_t *back = nd_checkpoint_get(cp, "u1"); /* entries survive the reboot */
  assert_non_null(back);
  assert_int_equal(nd_checkpoint_remove(cp, "u1", &err), 0);
  assert_false(nd_checkpoint_rebooted(cp)); /* rewritten under the new boot id */
  nd_checkpoint_free(cp);
}

static void expect_open_error(fixture *fx, const char *needle) {
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_null(cp);
  assert_non_null(err);
  if (strstr(nd_error_msg(err), needle) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\"", nd_error_msg(err), needle);
  assert_non_null(strstr(nd_error_msg(err), "checkpoint.json"));
}

static void test_corruption(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  cleanup_json json_t *e = entry(ND_CKPT_PREPARE_COMPLETED, ND_CKPT_DEV_ATTACHED);
  assert_int_equal(nd_checkpoint_put(cp, "u1", e, &err), 0);
  cleanup_free char *path = strdup(nd_checkpoint_path(cp));
  nd_checkpoint_free(cp);
  cleanup_free char *good = NULL;
  size_t len;
  assert_int_equal(nd_read_file(path, 1 << 20, &good, &len, &err), 0);

  /* one flipped character in the data: checksum mismatch */
  cleanup_free char *flipped = strdup(good);
  char *p = strstr(flipped, "cam0");
  assert_non_null(p);
  p[3] = '1';
  write_text(path, flipped);
  expect_open_error(fx, "checksum mismatch");
  /* the corrupt file is left for inspection, untouched */
  cleanup_free char *still = NULL;
  assert_int_equal(nd_read_file(path, 1 << 20, &still, &len, &err), 0);
  assert_string_equal(still, flipped);

  /* truncated file: JSON error with a position */
  cleanup_free char *trunc = strndup(good, strlen(good) / 2);
  write_text(path, trunc);
  expect_open_error(fx, "line 1");
  write_text(path, "");
  expect_open_error(fx, "corrupt");
  write_text(path, "{\"data\":{}}");
  expect_open_error(fx, "checksum");
  write_text(path, "[1,2]");
  expect_open_error(fx, "corrupt");
  /* the original content loads again */
  write_text(path, good);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  nd_checkpoint_free(cp);
}

static void test_bad_entries(void **state) {
  (void)state;
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *e = entry("prepare-halfway", ND_CKPT_DEV_ATTACHED);
  assert_int_equal(nd_checkpoint_check_entry(e, "claim u1", &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "prepare-halfway"));
  nd_error_release(&err);
  cleanup_json json_t *e2 = entry(ND_CKPT_PREPARE_STARTED, "gone");
  assert_int_equal(nd_checkpoint_check_entry(e2, "claim u1", &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "devices[0].status"));
  nd_error_release(&err);
  cleanup_json json_t *e3 = entry(ND_CKPT_PREPARE_STARTED, ND_CKPT_DEV_PENDING);
  json_object_set_new(e3, "extra", json_true());
  assert_int_equal(nd_checkpoint_check_entry(e3, "claim u1", &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "unknown field \"extra\""));
}

static void test_write_failure_keeps_state(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  /* a directory where the file should go: rename fails even for root */
  assert_int_equal(mkdir(nd_checkpoint_path(cp), 0700), 0);
  cleanup_free char *inner = NULL;
  assert_true(asprintf(&inner, "%s/x", nd_checkpoint_path(cp)) > 0);
  write_text(inner, "x");
  cleanup_json json_t *e = entry(ND_CKPT_PREPARE_STARTED, ND_CKPT_DEV_PENDING);
  assert_int_equal(nd_checkpoint_put(cp, "u9", e, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "writing checkpoint"));
  assert_null(nd_checkpoint_get(cp, "u9")); /* memory matches the disk again */
  nd_checkpoint_free(cp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reboot_detected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
      cmocka_unit_test(test_bad_entries),
      cmocka_unit_test_setup_teardown(test_write_failure_keeps_state, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
