/* test_grow.c: nd_grow, nd_grow_try and nd_grow_gently (lib/grow.h): room for what is needed, capacity
 * doubling from the first size (or an eighth more), the array kept when it already has room,
 * contents kept across growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grow.h"

static void test_grow(void **state) {
  uint64_t *a = NULL;
  size_t cap = 0;
  ND_GROW(a, cap, 1, 4); /* from nothing: the first size */
  assert_non_null(a);
  assert_int_equal(cap, 4);
  for (size_t i = 0; i < 1000; i++) {
    uint64_t *before = a;
    size_t cap_before = cap;
    ND_GROW(a, cap, i + 1, 4);
    assert_true(cap >= i + 1);
    if (i + 1 <= cap_before) /* room already: the same array */
      assert_ptr_equal(a, before);
    else
      assert_int_equal(cap, cap_before * 2);
    a[i] = i * 7;
  }
  for (size_t i = 0; i < 1000; i++)
    assert_int_equal(a[i], i * 7);
  free(a);

  /* bytes, a need far past the capacity: doubled as often as needed */
  char *b = NULL;
  size_t bcap = 0;
  b = nd_grow(b, &bcap, 3000, 1, 256);
  assert_int_equal(bcap, 4096);
  memset(b, 'x', 3000);
  free(b);
}

/* nd_grow_gently: by an eighth of what is needed plus the slack, and only when needed */
static void test_grow_gently(void **state) {
  uint32_t *a = NULL;
  size_t cap = 0;
  a = nd_grow_gently(a, &cap, 800, sizeof(*a), 16);
  assert_int_equal(cap, 800 + 100 + 16);
  uint32_t *before = a;
  a = nd_grow_gently(a, &cap, 916, sizeof(*a), 16);
  assert_ptr_equal(a, before);
  assert_int_equal(cap, 916);
  for (uint32_t i = 0; i < 916; i++)
    a[i] = i;
  a = nd_grow_gently(a, &cap, 917, sizeof(*a), 16);
  assert_int_equal(cap, 917 + 114 + 16);
  for (uint32_t i = 0; i < 916; i++)
    assert_int_equal(a[i], i);
  free(a);
}

/* nd_grow_try: the same doubling, and a size that overflows is refused with the array kept */
static void test_grow_try(void **state) {
  uint32_t *a = NULL;
  size_t cap = 0;
  assert_int_equal(ND_GROW_TRY(a, cap, 5, 4), 0);
  assert_non_null(a);
  assert_int_equal(cap, 8);
  for (uint32_t i = 0; i < 8; i++)
    a[i] = i;
  uint32_t *before = a;
  assert_int_equal(ND_GROW_TRY(a, cap, 8, 4), 0); /* room already: the same array */
  assert_ptr_equal(a, before);
  assert_int_equal(ND_GROW_TRY(a, cap, 9, 4), 0);
  assert_int_equal(cap, 16);
  for (uint32_t i = 0; i < 8; i++)
    assert_int_equal(a[i], i);
  before = a;
  assert_int_equal(ND_GROW_TRY(a, cap, SIZE_MAX / 2, 4), -1); /* bytes overflow */
  assert_ptr_equal(a, before);
  assert_int_equal(cap, 16);
  assert_int_equal(ND_GROW_TRY(a, cap, SIZE_MAX, 4), -1); /* the doubling overflows */
  assert_int_equal(cap, 16);
  free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_grow), cmocka_unit_test(test_grow_gently),
      cmocka_unit_test(test_grow_try)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
