/* test_intern.c: one shared copy per distinct string, freed with its last reference; and the
 * strmap whose keys are borrowed (not copied), which the registry's indexes use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "intern.h"
#include "strmap.h"

static void test_shared_copies_counted(void **state) {
  (void)state;
  nd_intern *in = nd_intern_new();
  char buf[16];
  strcpy(buf, "camera");
  const char *a = nd_intern_ref(in, buf);
  strcpy(buf, "vendor");
  const char *b = nd_intern_ref(in, buf);
  strcpy(buf, "camera");
  const char *a2 = nd_intern_ref(in, buf);
  assert_ptr_equal(a, a2); /* the same copy */
  assert_ptr_not_equal(a, buf);
  assert_string_equal(a, "camera");
  assert_string_equal(b, "vendor");
  assert_int_equal(nd_intern_count(in), 2);
  assert_null(nd_intern_ref(in, NULL));
  nd_intern_unref(in, NULL);
  nd_intern_unref(in, a);
  assert_int_equal(nd_intern_count(in), 2); /* a2 still holds it */
  nd_intern_unref(in, a2);
  assert_int_equal(nd_intern_count(in), 1);
  nd_intern_unref(in, b);
  assert_int_equal(nd_intern_count(in), 0);
  nd_intern_free(in);
}

static void test_borrowed_keys(void **state) {
  (void)state;
  nd_strmap *m = nd_strmap_new_borrowed();
  char keys[300][8];
  for (int i = 0; i < 300; i++) { /* past a few grows */
    snprintf(keys[i], sizeof(keys[i]), "k%d", i);
    assert_null(nd_strmap_put(m, keys[i], keys[i]));
  }
  for (int i = 0; i < 300; i++)
    assert_ptr_equal(nd_strmap_get(m, keys[i]), keys[i]);
  size_t pos = 0;
  const char *k;
  void *v;
  assert_true(nd_strmap_next(m, &pos, &k, &v));
  assert_ptr_equal(k, v); /* the caller's pointer, not a copy */
  assert_ptr_equal(nd_strmap_del(m, "k7"), keys[7]);
  assert_null(nd_strmap_get(m, "k7"));
  assert_int_equal(nd_strmap_size(m), 299);
  nd_strmap_free(m, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_copies_counted),
      cmocka_unit_test(test_borrowed_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
