/* test_slab.c: the slab hands out aligned, distinct objects per size class, reuses a released
 * object for the next one of its class, and sends objects over ND_SLAB_MAX to malloc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "slab.h"

static void test_classes_and_reuse(void **state) {
  (void)state;
  nd_slab *s = nd_slab_new();
  char *a = nd_slab_alloc(s, 40), *b = nd_slab_alloc(s, 36), *c = nd_slab_alloc(s, 8);
  assert_int_equal((uintptr_t)a % 8, 0);
  assert_int_equal((uintptr_t)b % 8, 0);
  assert_int_equal((uintptr_t)c % 8, 0);
  assert_int_equal(b - a, 40); /* 36 and 40 share the 40-byte class, packed back to back */
  memset(a, 1, 40);
  memset(b, 2, 36);
  memset(c, 3, 8);
  assert_int_equal(a[39], 1);
  nd_slab_release(s, a, 40);
  assert_ptr_equal(nd_slab_alloc(s, 33), a); /* the same class gets the released object */
  assert_int_equal(nd_slab_block_bytes(s), 2 * 64 * 1024); /* one block per class used */
  nd_slab_release(s, NULL, 8);
  char *big = nd_slab_alloc(s, ND_SLAB_MAX + 1);
  memset(big, 4, ND_SLAB_MAX + 1);
  nd_slab_release(s, big, ND_SLAB_MAX + 1);
  nd_slab_free(s);
}

static void test_many_objects_fill_new_blocks(void **state) {
  (void)state;
  nd_slab *s = nd_slab_new();
  char *prev = NULL;
  for (int i = 0; i < 10000; i++) {
    char *p = nd_slab_alloc(s, 336);
    memset(p, i & 0xff, 336);
    assert_ptr_not_equal(p, prev);
    prev = p;
  }
  /* 195 objects of 336 bytes fit in a 64 KiB block */
  assert_int_equal(nd_slab_block_bytes(s), (10000 / 195 + 1) * 64 * 1024);
  nd_slab_free(s);
}

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_TEST_ASAN 1
#endif
#endif

#ifdef SLAB_TEST_ASAN
#include <sanitizer/asan_interface.h>
/* In the sanitizer build: an object is addressable over exactly its size while in use, and
 * not at all once released or before it is handed out, so ASan reports a use after release or
 * an overflow into the rest of its size class. */
static void test_asan_poisoning(void **state) {
  (void)state;
  nd_slab *s = nd_slab_new();
  char *p = nd_slab_alloc(s, 13); /* class of 16 bytes */
  assert_int_equal(__asan_region_is_poisoned(p, 13), 0);
  assert_true(__asan_address_is_poisoned(p + 13));
  assert_true(__asan_address_is_poisoned(p + 16)); /* untouched space of the block */
  nd_slab_release(s, p, 13);
  assert_true(__asan_address_is_poisoned(p));
  assert_true(__asan_address_is_poisoned(p + 12));
  char *q = nd_slab_alloc(s, 10); /* reuses p's slot */
  assert_ptr_equal(q, p);
  assert_int_equal(__asan_region_is_poisoned(q, 10), 0);
  assert_true(__asan_address_is_poisoned(q + 10));
  nd_slab_release(s, q, 10);
  nd_slab_free(s);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classes_and_reuse),
      cmocka_unit_test(test_many_objects_fill_new_blocks),
#ifdef SLAB_TEST_ASAN
      cmocka_unit_test(test_asan_poisoning),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
