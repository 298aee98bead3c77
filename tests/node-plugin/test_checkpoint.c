/* test_checkpoint.c: the prepared-claims checkpoint: round trip, corruption errors naming the
 * file, a torn write of the newest slot falling back to the previous state (a crash between the
 * two writes of a prepare), growth when the claims outgrow a slot, conversion of a file in the
 * legacy JSON format, boot-id change detection, two-phase entries, a failed write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "cleanup.h"
#include "slot_file.h"

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
  /* entries are shared, not copied: put keeps the tree, get and all hand it out */
  cleanup_json json_t *e2 = entry(ND_CKPT_PREPARE_COMPLETED, ND_CKPT_DEV_ATTACHED);
  assert_int_equal(nd_checkpoint_put(cp, "u2", e2, &err), 0);
  cleanup_json json_t *back2 = nd_checkpoint_get(cp, "u2");
  assert_ptr_equal(back2, e2);
  cleanup_json json_t *all2 = nd_checkpoint_all(cp);
  assert_ptr_equal(json_object_get(all2, "u2"), e2);
  assert_int_equal(nd_checkpoint_remove(cp, "u2", &err), 0);
  assert_null(nd_checkpoint_get(cp, "u2"));
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

static void write_bytes(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void overwrite(const char *path, off_t off, const void *bytes, size_t n) {
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
  close(fd);
}

/* the newest slot of the file: its index and the slot size */
static unsigned newest_slot(const char *path, size_t *slot_bytes) {
  cleanup_error nd_error_t err = NULL;
  cleanup_free char *data = NULL;
  size_t len = 0;
  nd_slot_content c = {0};
  assert_int_equal(nd_read_file(path, 1 << 26, &data, &len, &err), 0);
  assert_int_equal(nd_slot_file_parse(path, data, len, &c, &err), 0);
  unsigned slot = c.slot;
  *slot_bytes = c.slot_bytes;
  nd_slot_content_clear(&c);
  return slot;
}

static off_t slot_payload(size_t slot_bytes, unsigned slot) {
  return (off_t)(ND_SLOT_FILE_HEADER_BYTES + slot * slot_bytes + ND_SLOT_HEADER_BYTES);
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

  /* one flipped byte in each slot: no valid slot left */
  size_t slot_bytes = 0;
  newest_slot(path, &slot_bytes);
  overwrite(path, slot_payload(slot_bytes, 0) + 5, "#", 1);
  overwrite(path, slot_payload(slot_bytes, 1) + 5, "#", 1);
  expect_open_error(fx, "no valid slot (slot 0: checksum mismatch; slot 1: checksum mismatch)");
  /* the corrupt file is left for inspection, untouched */
  cleanup_free char *flipped = NULL;
  size_t flen = 0;
  assert_int_equal(nd_read_file(path, 1 << 20, &flipped, &flen, &err), 0);
  assert_int_equal(flen, len);
  assert_memory_not_equal(flipped, good, len);
  cleanup_free char *still = NULL;
  nd_checkpoint *again = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_null(again);
  nd_error_release(&err);
  assert_int_equal(nd_read_file(path, 1 << 20, &still, &flen, &err), 0);
  assert_memory_equal(still, flipped, len);
  /* cut short inside the file header */
  write_bytes(path, good, 100);
  expect_open_error(fx, "no complete file header");

  /* files that are not slot files are read as the legacy JSON format, with its errors */
  write_text(path, "{\"checksum\":\"sha256:00\",\"data\":{\"version\":1,\"claims\":{");
  expect_open_error(fx, "line 1");
  write_text(path, "");
  expect_open_error(fx, "corrupt");
  write_text(path, "{\"data\":{}}");
  expect_open_error(fx, "checksum");
  write_text(path, "[1,2]");
  expect_open_error(fx, "corrupt");
  /* the original content loads again */
  write_bytes(path, good, len);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_json json_t *back = nd_checkpoint_get(cp, "u1");
  assert_true(json_equal(back, e));
  nd_checkpoint_free(cp);
}

/* A crash in the middle of the second write of a prepare (prepare-completed): the slot being
 * written is torn, the other one still holds prepare-started, which is what is read (and rolled
 * back by the driver). The next write goes to the torn slot, never over the good one. */
static void test_torn_newest_slot_reads_previous(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  cleanup_json json_t *started = entry(ND_CKPT_PREPARE_STARTED, ND_CKPT_DEV_ATTACHING);
  cleanup_json json_t *completed = entry(ND_CKPT_PREPARE_COMPLETED, ND_CKPT_DEV_ATTACHED);
  assert_int_equal(nd_checkpoint_put(cp, "u1", started, &err), 0);
  assert_int_equal(nd_checkpoint_put(cp, "u1", completed, &err), 0);
  cleanup_free char *path = strdup(nd_checkpoint_path(cp));
  nd_checkpoint_free(cp);
  size_t slot_bytes = 0;
  unsigned newest = newest_slot(path, &slot_bytes);
  /* garbage in the middle of the newest slot's payload */
  overwrite(path, slot_payload(slot_bytes, newest) + 40, "\xff\xfe\xfd", 3);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_json json_t *back = nd_checkpoint_get(cp, "u1");
  assert_true(json_equal(back, started));
  /* the next write overwrites the torn slot */
  cleanup_json json_t *other = entry(ND_CKPT_PREPARE_STARTED, ND_CKPT_DEV_PENDING);
  assert_int_equal(nd_checkpoint_put(cp, "u2", other, &err), 0);
  nd_checkpoint_free(cp);
  assert_int_equal(newest_slot(path, &slot_bytes), newest);
  /* zero the second half of that slot (only the first sectors of a write landed): the state
   * before it, prepare-started of u1 alone, is read */
  static char zeros[1024];
  overwrite(path, slot_payload(slot_bytes, newest) + 200, zeros, sizeof(zeros));
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_json json_t *all = nd_checkpoint_all(cp);
  assert_int_equal(json_object_size(all), 1);
  assert_true(json_equal(json_object_get(all, "u1"), started));
  nd_checkpoint_free(cp);
}

/* A checkpoint written by the plugin before the slot format (golden file, boot id of another
 * boot): read, converted in place, its boot id kept (so the reboot is still seen). */
static const char legacy[] =
    "{\"checksum\":\"sha256:868ada88aaa611d19f676f1eff4d92b1ac8d0d606f58a7d94042a5156a884ac1\","
    "\"data\":{\"bootId\":\"0b9c6f3e-6a7d-4c39-9b1e-1f2a3b4c5d6e\",\"claims\":{\"u1\":{"
    "\"devices\":[{\"device\":\"cam0\",\"edits\":null,\"pool\":\"p\",\"request\":\"cam\","
    "\"sliceDevice\":{\"name\":\"cam0\"},\"state\":null,\"status\":\"attached\","
    "\"type\":\"camera\"}],\"name\":\"c1\",\"namespace\":\"default\","
    "\"phase\":\"prepare-completed\"}},\"version\":1}}";

static void test_legacy_format_converted(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  cleanup_free char *path = NULL;
  assert_true(asprintf(&path, "%s/checkpoint.json", fx->state) > 0);
  assert_int_equal(nd_mkdir_p(fx->state, 0700, &err), 0);
  write_text(path, legacy);
  /* a legacy file with one byte changed is corrupt, and left as it is */
  cleanup_free char *bad = strdup(legacy);
  *strstr(bad, "cam0") = 'd';
  write_text(path, bad);
  expect_open_error(fx, "checksum mismatch");
  cleanup_free char *still = NULL;
  size_t len = 0;
  assert_int_equal(nd_read_file(path, 1 << 20, &still, &len, &err), 0);
  assert_string_equal(still, bad);

  write_text(path, legacy);
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  assert_true(nd_checkpoint_rebooted(cp)); /* written under boot 0b9c..., now boot-1 */
  cleanup_json json_t *want = json_pack(
      "{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:n, s:n}]}", "namespace",
      "default", "name", "c1", "phase", ND_CKPT_PREPARE_COMPLETED, "devices", "request", "cam",
      "pool", "p", "device", "cam0", "type", "camera", "status", ND_CKPT_DEV_ATTACHED,
      "sliceDevice", "name", "cam0", "state", "edits");
  cleanup_json json_t *got = nd_checkpoint_get(cp, "u1");
  assert_true(json_equal(got, want));
  nd_checkpoint_free(cp);
  /* the file is now a slot file with the same content, boot id included */
  cleanup_free char *data = NULL;
  assert_int_equal(nd_read_file(path, 1 << 20, &data, &len, &err), 0);
  assert_true(nd_slot_file_detect(data, len));
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  assert_true(nd_checkpoint_rebooted(cp));
  cleanup_json json_t *got2 = nd_checkpoint_get(cp, "u1");
  assert_true(json_equal(got2, want));
  /* nothing but the checkpoint in the directory (no temporary file left) */
  DIR *d = opendir(fx->state);
  assert_non_null(d);
  int files = 0;
  for (struct dirent *de; (de = readdir(d)) != NULL;)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      files++;
  closedir(d);
  assert_int_equal(files, 1);
  nd_checkpoint_free(cp);
}

/* Claims that outgrow a slot: the file grows (a new, larger file), keeps every claim, and is
 * written in place again afterwards. */
static void test_growth(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  struct stat st0;
  assert_int_equal(stat(nd_checkpoint_path(cp), &st0), 0);
  assert_int_equal(st0.st_size, ND_SLOT_FILE_HEADER_BYTES + 2 * ND_CKPT_SLOT_BYTES);
  cleanup_json json_t *e = entry(ND_CKPT_PREPARE_COMPLETED, ND_CKPT_DEV_ATTACHED);
  enum { N = 40 };
  for (int i = 0; i < N; i++) {
    char uid[16];
    snprintf(uid, sizeof(uid), "u%d", i);
    assert_int_equal(nd_checkpoint_put(cp, uid, e, &err), 0);
  }
  struct stat st1, st2;
  assert_int_equal(stat(nd_checkpoint_path(cp), &st1), 0);
  assert_true(st1.st_size > st0.st_size);
  assert_int_equal(nd_checkpoint_remove(cp, "u0", &err), 0);
  assert_int_equal(stat(nd_checkpoint_path(cp), &st2), 0);
  assert_int_equal(st2.st_ino, st1.st_ino); /* in place */
  assert_int_equal(st2.st_size, st1.st_size);
  nd_checkpoint_free(cp);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_json json_t *all = nd_checkpoint_all(cp);
  assert_int_equal(json_object_size(all), N - 1);
  assert_null(json_object_get(all, "u0"));
  assert_true(json_equal(json_object_get(all, "u39"), e));
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

/* A write that fails (a growth whose new file cannot be created: the state directory is gone)
 * leaves memory as on disk; a change that fits is written in place even then. */
static void test_write_failure_keeps_state(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_free char *away = NULL;
  assert_true(asprintf(&away, "%s.away", fx->state) > 0);
  assert_int_equal(rename(fx->state, away), 0);
  cleanup_json json_t *big = entry(ND_CKPT_PREPARE_STARTED, ND_CKPT_DEV_PENDING);
  cleanup_free char *pad = calloc(1, 2 * ND_CKPT_SLOT_BYTES);
  memset(pad, 'x', 2 * ND_CKPT_SLOT_BYTES - 1);
  json_object_set_new(json_object_get(json_array_get(json_object_get(big, "devices"), 0),
                                      "sliceDevice"),
                      "pad", json_string(pad));
  assert_int_equal(nd_checkpoint_put(cp, "u9", big, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "writing checkpoint"));
  nd_error_release(&err);
  assert_null(nd_checkpoint_get(cp, "u9")); /* memory matches the disk again */
  cleanup_json json_t *small = entry(ND_CKPT_PREPARE_STARTED, ND_CKPT_DEV_PENDING);
  assert_int_equal(nd_checkpoint_put(cp, "u1", small, &err), 0);
  nd_checkpoint_free(cp);
  assert_int_equal(rename(away, fx->state), 0);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_json json_t *all = nd_checkpoint_all(cp);
  assert_int_equal(json_object_size(all), 1);
  assert_non_null(json_object_get(all, "u1"));
  nd_checkpoint_free(cp);
}

/* Each entry is serialised once when stored and a write joins those texts: many claims (uids
 * that need escaping among them), replaced and removed, must read back exactly after a reopen,
 * and the file must hold exactly what get answers. */
static void test_many_claims_joined(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  char uid[64];
  for (int i = 0; i < 40; i++) {
    snprintf(uid, sizeof(uid), i % 3 ? "uid-%d" : "uid \"q\\ \xc3\xa9-%d", i);
    cleanup_json json_t *e = entry(i % 2 ? ND_CKPT_PREPARE_STARTED : ND_CKPT_PREPARE_COMPLETED,
                                   i % 2 ? ND_CKPT_DEV_ATTACHING : ND_CKPT_DEV_ATTACHED);
    assert_int_equal(nd_checkpoint_put(cp, uid, e, &err), 0);
  }
  for (int i = 0; i < 40; i += 4) { /* remove every 4th, replace every 4th + 1 */
    snprintf(uid, sizeof(uid), i % 3 ? "uid-%d" : "uid \"q\\ \xc3\xa9-%d", i);
    assert_int_equal(nd_checkpoint_remove(cp, uid, &err), 0);
    snprintf(uid, sizeof(uid), (i + 1) % 3 ? "uid-%d" : "uid \"q\\ \xc3\xa9-%d", i + 1);
    cleanup_json json_t *e = entry(ND_CKPT_PREPARE_COMPLETED, ND_CKPT_DEV_ATTACHED);
    json_object_set_new(e, "name", json_string("replaced"));
    assert_int_equal(nd_checkpoint_put(cp, uid, e, &err), 0);
  }
  cleanup_json json_t *before = nd_checkpoint_all(cp);
  assert_int_equal(json_object_size(before), 30);
  nd_checkpoint_free(cp);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_json json_t *after = nd_checkpoint_all(cp);
  assert_true(json_equal(before, after));
  assert_string_equal(json_string_value(json_object_get(json_object_get(after, "uid-5"), "name")),
                      "replaced");
  assert_null(json_object_get(after, "uid-4"));
  assert_non_null(json_object_get(after, "uid \"q\\ \xc3\xa9-3"));
  nd_checkpoint_free(cp);
}

/* nd_mkdir_p (the claim and state directories): missing parents made, an existing directory
 * accepted, a file in the way refused. */
static void test_mkdir_p(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  char path[256], file[256];
  snprintf(path, sizeof(path), "%s/a/b/c", fx->dir);
  assert_int_equal(nd_mkdir_p(path, 0700, &err), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(nd_mkdir_p(path, 0700, &err), 0); /* exists: one mkdir, EEXIST */
  snprintf(path, sizeof(path), "%s/a/b/d", fx->dir); /* parent exists */
  assert_int_equal(nd_mkdir_p(path, 0700, &err), 0);
  snprintf(file, sizeof(file), "%s/a/f", fx->dir);
  write_text(file, "x");
  assert_int_equal(nd_mkdir_p(file, 0700, &err), -1);
  nd_error_release(&err);
  snprintf(path, sizeof(path), "%s/a/f/g", fx->dir);
  assert_int_equal(nd_mkdir_p(path, 0700, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "a/f"));
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifdef SANITIZER_BUILD
/* Sanitizer builds check that a stored (shared) entry never changes: a change aborts. */
static void test_changed_shared_entry_aborts(void **state) {
  fixture *fx = *state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    nd_error_t err = NULL;
    nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
    json_t *e = entry(ND_CKPT_PREPARE_STARTED, ND_CKPT_DEV_ATTACHING);
    if (cp == NULL || nd_checkpoint_put(cp, "u1", e, &err) < 0)
      _exit(2);
    json_object_set_new(e, "phase", json_string(ND_CKPT_PREPARE_COMPLETED)); /* not allowed */
    json_decref(nd_checkpoint_get(cp, "u1"));
    _exit(0); /* the change went unnoticed */
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGABRT);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reboot_detected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_newest_slot_reads_previous, setup, teardown),
      cmocka_unit_test_setup_teardown(test_legacy_format_converted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_claims_joined, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
      cmocka_unit_test(test_bad_entries),
      cmocka_unit_test_setup_teardown(test_write_failure_keeps_state, setup, teardown),
#ifdef SANITIZER_BUILD
      cmocka_unit_test_setup_teardown(test_changed_shared_entry_aborts, setup, teardown),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
