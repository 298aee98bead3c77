/* test_memtrim.c: the heap trimmer fires once after the last poke (a poke re-arms it).
 * (nd_malloc_limit_arenas is a mallopt call unless MALLOC_ARENA_MAX is set; sanitizer
 * allocators refuse it, so its effect is shown by the RSS figures of bench/run_all.py, not
 * here.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "cleanup.h"
#include "memtrim.h"

static void run_until_trimmed(nd_loop *loop, nd_memtrim *t, unsigned long want) {
  /* no time limit of our own: ctest's timeout bounds it */
  while (nd_memtrim_count(t) < want) {
    cleanup_error nd_error_t err = NULL;
    assert_int_equal(nd_loop_run_once(loop, 100, &err), 0);
  }
}

static void test_trims_once_per_quiet_spell(void **state) {
  (void)state;
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  assert_non_null(loop);
  nd_memtrim *t = nd_memtrim_new(loop, 5, &err);
  assert_non_null(t);
  /* not armed until poked */
  assert_int_equal(nd_loop_run_once(loop, 20, &err), 0);
  assert_int_equal(nd_memtrim_count(t), 0);
  /* free a burst of allocations, poke: one trim */
  void *p[256];
  for (size_t i = 0; i < ND_ARRAY_LEN(p); i++)
    p[i] = malloc(4096);
  for (size_t i = 0; i < ND_ARRAY_LEN(p); i++)
    free(p[i]);
  nd_memtrim_poke(t);
  nd_memtrim_poke(t); /* pokes before it fires are one quiet spell */
  run_until_trimmed(loop, t, 1);
  assert_int_equal(nd_loop_run_once(loop, 20, &err), 0);
  assert_int_equal(nd_memtrim_count(t), 1); /* one-shot */
  nd_memtrim_poke(t);
  run_until_trimmed(loop, t, 2);
  nd_memtrim_free(t);
  nd_loop_free(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trims_once_per_quiet_spell),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
