/* test_slot_file.c: the checkpoint's two-slot file: writes alternate between the slots, the
 * valid slot with the highest sequence number wins, a torn write of the newest slot (bytes
 * overwritten or zeroed mid-slot, the file cut short) leaves the previous state readable and is
 * overwritten by the next write, both slots corrupt is an error naming the file and each
 * slot's fault, and a payload that outgrows its slot grows the file (slot size doubled) through
 * the atomic path, failing cleanly (old file intact and still writable) when it cannot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cleanup.h"
#include "slot_file.h"

typedef struct {
  char dir[64];
  char *path;
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_slot_file.XXXXXX");
  if (mkdtemp(fx->dir) == NULL || asprintf(&fx->path, "%s/ckpt", fx->dir) < 0)
    return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_remove_tree(fx->dir, &err);
  free(fx->path);
  free(fx);
  return 0;
}

/* parse the file at path; returns 0 or -1 with *msg (caller frees) */
static int parse(const char *path, nd_slot_content *c, char **msg) {
  cleanup_error nd_error_t err = NULL;
  cleanup_free char *data = NULL;
  size_t len = 0;
  if (nd_read_file(path, 1 << 26, &data, &len, &err) < 0 ||
      nd_slot_file_parse(path, data, len, c, &err) < 0) {
    if (msg)
      *msg = strdup(nd_error_msg(err));
    return -1;
  }
  return 0;
}

static void expect_state(const char *path, const char *payload, uint64_t seq, unsigned slot) {
  nd_slot_content c = {0};
  cleanup_free char *msg = NULL;
  if (parse(path, &c, &msg) < 0)
    fail_msg("%s", msg);
  assert_string_equal(c.payload, payload);
  assert_int_equal(c.seq, seq);
  assert_int_equal(c.slot, slot);
  nd_slot_content_clear(&c);
}

static off_t slot_at(size_t slot_bytes, unsigned slot) {
  return (off_t)(ND_SLOT_FILE_HEADER_BYTES + slot * slot_bytes);
}

static void overwrite(const char *path, off_t off, const void *bytes, size_t n) {
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
  close(fd);
}

static off_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_size;
}

static char *filled(size_t n, char c) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

static void test_alternate_and_newest_wins(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_slot_file *f = nd_slot_file_create(fx->path, 0600, "a", 1, 1, 4096, &err);
  assert_non_null(f);
  assert_int_equal(file_size(fx->path), 4096 + 2 * 4096);
  expect_state(fx->path, "a", 1, 0);
  assert_int_equal(nd_slot_file_write(f, "bb", 2, &err), 0);
  expect_state(fx->path, "bb", 2, 1);
  assert_int_equal(nd_slot_file_write(f, "ccc", 3, &err), 0);
  /* slot 0 holds sequence 3, slot 1 sequence 2: the higher sequence wins, not the slot */
  expect_state(fx->path, "ccc", 3, 0);
  assert_int_equal(nd_slot_file_write(f, "dddd", 4, &err), 0);
  expect_state(fx->path, "dddd", 4, 1);
  /* the older slot still holds the previous state, complete */
  static const unsigned char zeros[ND_SLOT_HEADER_BYTES];
  overwrite(fx->path, slot_at(4096, 1), zeros, sizeof(zeros));
  expect_state(fx->path, "ccc", 3, 0);
  /* in-place writes never change the file's size */
  assert_int_equal(file_size(fx->path), 4096 + 2 * 4096);
  assert_int_equal(nd_slot_file_growths(f), 0);
  nd_slot_file_close(f);
}

/* A closed file whose slot 0 holds "previous" (sequence 1) and slot 1 the returned 3,000-byte
 * payload (sequence 2): the newest state, for the tests to damage. */
static char *previous_then_next(const char *path) {
  cleanup_error nd_error_t err = NULL;
  nd_slot_file *f = nd_slot_file_create(path, 0600, "previous", 8, 1, 4096, &err);
  assert_non_null(f);
  char *next = filled(3000, 'n');
  assert_int_equal(nd_slot_file_write(f, next, strlen(next), &err), 0);
  expect_state(path, next, 2, 1);
  nd_slot_file_close(f);
  return next;
}

/* Open an existing file for writing, as the checkpoint does (parse, then open). */
static nd_slot_file *reopen(const char *path) {
  cleanup_error nd_error_t err = NULL;
  nd_slot_content c = {0};
  assert_int_equal(parse(path, &c, NULL), 0);
  nd_slot_file *f = nd_slot_file_open(path, 0600, &c, &err);
  assert_non_null(f);
  nd_slot_content_clear(&c);
  return f;
}

static void test_torn_newest_slot_keeps_previous(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  free(previous_then_next(fx->path));

  /* a write that reached the disk only partly: bytes mid-payload are old or garbage */
  overwrite(fx->path, slot_at(4096, 1) + ND_SLOT_HEADER_BYTES + 1500, "garbage", 7);
  expect_state(fx->path, "previous", 1, 0);
  nd_slot_content torn = {0};
  assert_int_equal(parse(fx->path, &torn, NULL), 0);
  assert_string_equal(torn.other, "checksum mismatch"); /* what the reader can report */
  nd_slot_content_clear(&torn);
  /* only the first sectors landed: the rest of the slot is zeros */
  static char zeros[2048];
  overwrite(fx->path, slot_at(4096, 1) + 1024, zeros, sizeof(zeros));
  expect_state(fx->path, "previous", 1, 0);

  /* the next writer overwrites the torn slot, never the one holding the previous state */
  nd_slot_file *f = reopen(fx->path);
  assert_int_equal(nd_slot_file_write(f, "after", 5, &err), 0);
  expect_state(fx->path, "after", 2, 1);
  nd_slot_file_close(f);
  overwrite(fx->path, slot_at(4096, 1) + 8, "X", 1); /* a bad header: version */
  expect_state(fx->path, "previous", 1, 0);
}

static void test_cut_short_file(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  free(previous_then_next(fx->path));
  /* cut in the middle of the newest slot's payload */
  assert_int_equal(truncate(fx->path, slot_at(4096, 1) + ND_SLOT_HEADER_BYTES + 1000), 0);
  expect_state(fx->path, "previous", 1, 0);
  /* opening it for writing puts a whole file back, holding the previous state */
  nd_slot_file *f = reopen(fx->path);
  assert_int_equal(file_size(fx->path), 4096 + 2 * 4096);
  expect_state(fx->path, "previous", 2, 0);
  assert_int_equal(nd_slot_file_write(f, "after", 5, &err), 0);
  expect_state(fx->path, "after", 3, 1);
  nd_slot_file_close(f);
}

static void expect_parse_error(const char *path, const char *needle) {
  nd_slot_content c = {0};
  cleanup_free char *msg = NULL;
  assert_int_equal(parse(path, &c, &msg), -1);
  if (strstr(msg, needle) == NULL || strstr(msg, path) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\" and the file", msg, needle);
}

static void test_both_slots_corrupt(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_slot_file *f = nd_slot_file_create(fx->path, 0600, "one", 3, 1, 4096, &err);
  assert_int_equal(nd_slot_file_write(f, "two", 3, &err), 0);
  nd_slot_file_close(f);
  overwrite(fx->path, slot_at(4096, 0) + ND_SLOT_HEADER_BYTES, "x", 1);
  overwrite(fx->path, slot_at(4096, 1), "y", 1);
  expect_parse_error(fx->path, "no valid slot (slot 0: checksum mismatch; slot 1: bad magic)");
  /* a file header that does not check out */
  overwrite(fx->path, 16, "\x01", 1);
  expect_parse_error(fx->path, "file header checksum mismatch");
  assert_int_equal(truncate(fx->path, 100), 0);
  expect_parse_error(fx->path, "no complete file header");
  /* one slot never written, the other corrupt */
  f = nd_slot_file_create(fx->path, 0600, "one", 3, 1, 4096, &err);
  nd_slot_file_close(f);
  overwrite(fx->path, slot_at(4096, 0) + 20, "\x07", 1); /* the sequence number */
  expect_parse_error(fx->path, "(slot 0: checksum mismatch; slot 1: empty)");
}

static void test_growth(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_slot_file *f = nd_slot_file_create(fx->path, 0600, "small", 5, 1, 4096, &err);
  assert_non_null(f);
  struct stat before;
  assert_int_equal(stat(fx->path, &before), 0);
  /* 9000 bytes: 4 KiB slots are doubled twice, to 16 KiB */
  cleanup_free char *big = filled(9000, 'b');
  assert_int_equal(nd_slot_file_write(f, big, strlen(big), &err), 0);
  assert_int_equal(nd_slot_file_growths(f), 1);
  assert_int_equal(nd_slot_file_slot_bytes(f), 16384);
  assert_int_equal(file_size(fx->path), 4096 + 2 * 16384);
  expect_state(fx->path, big, 2, 0);
  struct stat grown;
  assert_int_equal(stat(fx->path, &grown), 0);
  assert_true(grown.st_ino != before.st_ino); /* a new file, renamed into place */
  /* and in-place writes go on in the new file */
  assert_int_equal(nd_slot_file_write(f, "again", 5, &err), 0);
  expect_state(fx->path, "again", 3, 1);
  assert_int_equal(stat(fx->path, &before), 0);
  assert_int_equal(before.st_ino, grown.st_ino);
  assert_int_equal(access(fx->path, F_OK), 0);
  struct stat st;
  assert_int_equal(stat(fx->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);

  /* growth that cannot create its new file (the directory is gone): an error, the old file
   * and its state intact, in-place writes still work */
  cleanup_free char *away = NULL;
  assert_true(asprintf(&away, "%s.away", fx->dir) > 0);
  assert_int_equal(rename(fx->dir, away), 0);
  cleanup_free char *huge = filled(40000, 'h');
  assert_int_equal(nd_slot_file_write(f, huge, strlen(huge), &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "growing"));
  nd_error_release(&err);
  assert_int_equal(nd_slot_file_write(f, "in place", 8, &err), 0);
  assert_int_equal(rename(away, fx->dir), 0);
  expect_state(fx->path, "in place", 4, 0);
  assert_int_equal(nd_slot_file_slot_bytes(f), 16384);
  nd_slot_file_close(f);
}

static void test_image_sizes(void **state) {
  (void)state;
  cleanup_error nd_error_t err = NULL;
  cleanup_free char *img = NULL;
  size_t len = 0;
  cleanup_free char *p = filled(4096 - ND_SLOT_HEADER_BYTES, 'p');
  /* a payload that fills a slot exactly fits; one byte more doubles it */
  assert_int_equal(nd_slot_file_image(p, strlen(p), 1, 4096, &img, &len, &err), 0);
  assert_int_equal(len, 4096 + 2 * 4096);
  free(nd_steal(img));
  assert_int_equal(nd_slot_file_image(p, strlen(p) + 0, 1, 8192, &img, &len, &err), 0);
  assert_int_equal(len, 4096 + 2 * 8192);
  free(nd_steal(img));
  cleanup_free char *q = filled(4096 - ND_SLOT_HEADER_BYTES + 1, 'q');
  assert_int_equal(nd_slot_file_image(q, strlen(q), 1, 4096, &img, &len, &err), 0);
  assert_int_equal(len, 4096 + 2 * 8192);
  assert_true(nd_slot_file_detect(img, len));
  assert_int_equal(nd_slot_file_image(q, strlen(q), 1, 1000, &img, &len, &err), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_alternate_and_newest_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_newest_slot_keeps_previous, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_short_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_both_slots_corrupt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
      cmocka_unit_test(test_image_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
