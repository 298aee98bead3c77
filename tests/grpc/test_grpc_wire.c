/* test_grpc_wire.c: grpc-timeout parsing/formatting and grpc-message percent encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"

static void test_timeouts(void **state) {
  struct {
    const char *in;
    int rc;
    uint64_t ms;
  } cases[] = {{"1H", 0, 3600000}, {"2M", 0, 120000}, {"5S", 0, 5000}, {"100m", 0, 100},
               {"1500u", 0, 2}, {"1n", 0, 1}, {"99999999m", 0, 99999999}, {"", -1, 0},
               {"m", -1, 0}, {"123456789m", -1, 0}, {"10x", -1, 0}, {"-1S", -1, 0}, {"1.5S", -1, 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint64_t ms = 0;
    assert_int_equal(nd_grpc_parse_timeout(cases[i].in, &ms), cases[i].rc);
    if (cases[i].rc == 0)
      assert_int_equal(ms, cases[i].ms);
  }
  char buf[24];
  uint64_t back;
  nd_grpc_format_timeout(45000, buf, sizeof(buf));
  assert_int_equal(nd_grpc_parse_timeout(buf, &back), 0);
  assert_int_equal(back, 45000);
  nd_grpc_format_timeout(1000000000u, buf, sizeof(buf));
  assert_int_equal(nd_grpc_parse_timeout(buf, &back), 0);
  assert_int_equal(back, 1000000000u);
}

static void test_percent(void **state) {
  char *enc = nd_grpc_percent_encode("100% caf\xc3\xa9\nok");
  assert_string_equal(enc, "100%25 caf%C3%A9%0Aok");
  nd_grpc_percent_decode(enc);
  assert_string_equal(enc, "100% caf\xc3\xa9\nok");
  free(enc);
  char bad[] = "50%zz%4";
  nd_grpc_percent_decode(bad);
  assert_string_equal(bad, "50%zz%4");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_timeouts), cmocka_unit_test(test_percent)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
