/* test_error.c: error values keep the first cause, wrap with context, release cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"

static int fails(nd_error_t *err) { return nd_error_make(err, ENOENT, "file %s missing", "x.yaml"); }

static void test_make_and_wrap(void **state) {
  (void)state;
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(fails(&err), -1);
  assert_int_equal(err->status, ENOENT);
  assert_string_equal(err->msg, "file x.yaml missing");
  nd_error_wrap(&err, "loading config %d", 2);
  assert_string_equal(nd_error_msg(err), "loading config 2: file x.yaml missing");
}

static void test_first_cause_wins(void **state) {
  (void)state;
  cleanup_error nd_error_t err = NULL;
  nd_error_make(&err, 1, "first");
  nd_error_make(&err, 2, "second");
  assert_string_equal(err->msg, "first");
  assert_int_equal(nd_error_make(NULL, 1, "ignored"), -1);
}

static void test_move(void **state) {
  (void)state;
  cleanup_error nd_error_t a = NULL, b = NULL;
  nd_error_make(&b, 3, "b");
  nd_error_move(&a, &b);
  assert_null(b);
  assert_string_equal(a->msg, "b");
  assert_string_equal(nd_error_msg(NULL), "(no error)");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_make_and_wrap),
      cmocka_unit_test(test_first_cause_wins),
      cmocka_unit_test(test_move),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
