/* test_quantity.c: quantity parsing, canonical printing, comparison and conversion against the
 * API server's rules (k8s.io/apimachinery resource.Quantity). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "quantity.h"

typedef struct {
  const char *in;
  const char *canonical; /* NULL: parse error expected */
  nd_quantity_format format;
} canon_case;

static const canon_case canon_cases[] = {
    {"0", "0", ND_QUANTITY_DECIMAL_SI},
    {"1", "1", ND_QUANTITY_DECIMAL_SI},
    {"500m", "500m", ND_QUANTITY_DECIMAL_SI},
    {"1.5", "1500m", ND_QUANTITY_DECIMAL_SI},
    {"0.1", "100m", ND_QUANTITY_DECIMAL_SI},
    {".5", "500m", ND_QUANTITY_DECIMAL_SI},
    {"1.", "1", ND_QUANTITY_DECIMAL_SI},
    {"1.0", "1", ND_QUANTITY_DECIMAL_SI},
    {"007", "7", ND_QUANTITY_DECIMAL_SI},
    {"+5", "5", ND_QUANTITY_DECIMAL_SI},
    {"-0", "0", ND_QUANTITY_DECIMAL_SI},
    {"-", "0", ND_QUANTITY_DECIMAL_SI},
    {".", "0", ND_QUANTITY_DECIMAL_SI},
    {"Ki", "0", ND_QUANTITY_BINARY_SI},
    {"1000", "1k", ND_QUANTITY_DECIMAL_SI},
    {"1500", "1500", ND_QUANTITY_DECIMAL_SI},
    {"1000000", "1M", ND_QUANTITY_DECIMAL_SI},
    {"1k", "1k", ND_QUANTITY_DECIMAL_SI},
    {"12M", "12M", ND_QUANTITY_DECIMAL_SI},
    {"1G", "1G", ND_QUANTITY_DECIMAL_SI},
    {"2T", "2T", ND_QUANTITY_DECIMAL_SI},
    {"3P", "3P", ND_QUANTITY_DECIMAL_SI},
    {"1E", "1E", ND_QUANTITY_DECIMAL_SI},
    {"1000E", "1", ND_QUANTITY_DECIMAL_SI}, /* API server prints no suffix beyond E */
    {"0.0001", "100u", ND_QUANTITY_DECIMAL_SI},
    {"1u", "1u", ND_QUANTITY_DECIMAL_SI},
    {"1n", "1n", ND_QUANTITY_DECIMAL_SI},
    {"0.1n", "1n", ND_QUANTITY_DECIMAL_SI},   /* rounded up to the smallest unit */
    {"-0.1n", "-1n", ND_QUANTITY_DECIMAL_SI}, /* away from zero */
    {"1.0000000001", "1000000001n", ND_QUANTITY_DECIMAL_SI},
    {"1.00000000001", "1000000001n", ND_QUANTITY_DECIMAL_SI},
    {"9223372036854775808", "9223372036854775808", ND_QUANTITY_DECIMAL_SI}, /* decimal: no cap */
    {"1Ki", "1Ki", ND_QUANTITY_BINARY_SI},
    {"1Mi", "1Mi", ND_QUANTITY_BINARY_SI},
    {"1Gi", "1Gi", ND_QUANTITY_BINARY_SI},
    {"64Gi", "64Gi", ND_QUANTITY_BINARY_SI},
    {"1024Mi", "1Gi", ND_QUANTITY_BINARY_SI},
    {"2048Ki", "2Mi", ND_QUANTITY_BINARY_SI},
    {"1000Mi", "1000Mi", ND_QUANTITY_BINARY_SI},
    {"1023Ki", "1023Ki", ND_QUANTITY_BINARY_SI},
    {"1.5Gi", "1536Mi", ND_QUANTITY_BINARY_SI},
    {"0.5Gi", "512Mi", ND_QUANTITY_BINARY_SI},
    {"-1.5Gi", "-1536Mi", ND_QUANTITY_BINARY_SI},
    {"1.5Ki", "1536", ND_QUANTITY_BINARY_SI},   /* not a multiple of 1024: no suffix */
    {"1.25Ki", "1280", ND_QUANTITY_BINARY_SI},
    {"62.5Ki", "64000", ND_QUANTITY_BINARY_SI},
    {"64000", "64k", ND_QUANTITY_DECIMAL_SI},
    {"0.5Ki", "512", ND_QUANTITY_BINARY_SI},    /* below 1024: printed as decimal */
    {"0.001Ki", "1024m", ND_QUANTITY_BINARY_SI},
    {"0.0001Ki", "102400u", ND_QUANTITY_DECIMAL_SI}, /* below 1: becomes DecimalSI */
    {"1Ti", "1Ti", ND_QUANTITY_BINARY_SI},
    {"1Pi", "1Pi", ND_QUANTITY_BINARY_SI},
    {"7Ei", "7Ei", ND_QUANTITY_BINARY_SI},
    {"8Ei", "9223372036854775807", ND_QUANTITY_BINARY_SI}, /* capped at 2^63-1 */
    {"16Ei", "9223372036854775807", ND_QUANTITY_BINARY_SI},
    {"-16Ei", "-9223372036854775807", ND_QUANTITY_BINARY_SI},
    {"1e3", "1e3", ND_QUANTITY_DECIMAL_EXPONENT},
    {"1E3", "1e3", ND_QUANTITY_DECIMAL_EXPONENT},
    {"1e+3", "1e3", ND_QUANTITY_DECIMAL_EXPONENT},
    {"1.5e3", "1500", ND_QUANTITY_DECIMAL_EXPONENT},
    {"1e5", "100e3", ND_QUANTITY_DECIMAL_EXPONENT},
    {"1e-3", "1e-3", ND_QUANTITY_DECIMAL_EXPONENT},
    {"100e-3", "100e-3", ND_QUANTITY_DECIMAL_EXPONENT},
    {"12e-3", "12e-3", ND_QUANTITY_DECIMAL_EXPONENT},
    {"1e-10", "1e-9", ND_QUANTITY_DECIMAL_EXPONENT},
    {"5.0e3", "5e3", ND_QUANTITY_DECIMAL_EXPONENT},
    {"1e100", "10e99", ND_QUANTITY_DECIMAL_EXPONENT},
    {"1e0", "1", ND_QUANTITY_DECIMAL_EXPONENT},
    {"", NULL, 0},
    {"12Qi", NULL, 0},
    {"1K", NULL, 0},
    {"1mi", NULL, 0},
    {"1e", NULL, 0},
    {"1.2.3", NULL, 0},
    {"1e3.5", NULL, 0},
    {" 1", NULL, 0},
    {"1 ", NULL, 0},
    {"1Gi\n", NULL, 0},
    {"1,5", NULL, 0},
    {"0x10", NULL, 0},
    {"--1", NULL, 0},
    {"1Mi5", NULL, 0},
    {"1e99999999999", NULL, 0},
    {"1e-", NULL, 0},
    {"abc", NULL, 0},
    {"123456789012345678901234567890123456789", NULL, 0}, /* > 38 digits */
    {"1000000000000000000000000000000000000000", "1", ND_QUANTITY_DECIMAL_SI}, /* 1e39, quirk */
};

static void test_canonical_table(void **state) {
  (void)state;
  for (size_t i = 0; i < ND_ARRAY_LEN(canon_cases); i++) {
    const canon_case *c = &canon_cases[i];
    nd_quantity q;
    cleanup_error nd_error_t err = NULL;
    int rc = nd_quantity_parse(c->in, &q, &err);
    if (c->canonical == NULL) {
      if (rc == 0)
        fail_msg("\"%s\" parsed but should fail", c->in);
      assert_non_null(err);
      assert_non_null(strstr(nd_error_msg(err), "quantity \""));
      continue;
    }
    if (rc != 0)
      fail_msg("\"%s\": %s", c->in, nd_error_msg(err));
    char buf[ND_QUANTITY_STR_MAX];
    nd_quantity_format_canonical(&q, buf);
    if (strcmp(buf, c->canonical) != 0)
      fail_msg("\"%s\": canonical \"%s\", expected \"%s\"", c->in, buf, c->canonical);
    if (q.format != c->format)
      fail_msg("\"%s\": format %d, expected %d", c->in, q.format, c->format);
    /* canonical output parses back to the same value */
    nd_quantity again;
    assert_int_equal(nd_quantity_parse(buf, &again, NULL), 0);
    if (strcmp(buf, "1") != 0 || strcmp(c->in, "1") == 0)
      assert_int_equal(nd_quantity_cmp(&q, &again), 0);
  }
  assert_true(ND_ARRAY_LEN(canon_cases) >= 40);
}

static void expect_error(const char *in, const char *msg) {
  nd_quantity q;
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_quantity_parse(in, &q, &err), -1);
  assert_string_equal(nd_error_msg(err), msg);
}

static void test_error_messages(void **state) {
  (void)state;
  expect_error("12Qi", "quantity \"12Qi\": unknown suffix Qi (expected n u m k M G T P E, Ki Mi "
                       "Gi Ti Pi Ei, or e<exponent>)");
  expect_error("", "quantity \"\": empty; expected a number with an optional suffix like 500m, "
                   "64Gi or 1e3");
  expect_error("1.2.3", "quantity \"1.2.3\": unexpected character '.' at offset 3 (expected a "
                        "number like 1.5 and a suffix)");
  expect_error("1Gi\n", "quantity \"1Gi\\n\": unexpected character 0x0a at offset 3 (expected a "
                        "number like 1.5 and a suffix)");
  expect_error("1e99999999999", "quantity \"1e99999999999\": decimal exponent out of the 32-bit "
                                "range");
  /* hostile input is quoted and shortened */
  char big[2000];
  memset(big, '9', sizeof(big) - 2);
  big[sizeof(big) - 2] = 'Q';
  big[sizeof(big) - 1] = '\0';
  nd_quantity q;
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_quantity_parse(big, &q, &err), -1);
  assert_true(strlen(nd_error_msg(err)) < 300);
  assert_non_null(strstr(nd_error_msg(err), "...\""));
}

static nd_quantity parse(const char *s) {
  nd_quantity q;
  cleanup_error nd_error_t err = NULL;
  if (nd_quantity_parse(s, &q, &err) < 0)
    fail_msg("%s", nd_error_msg(err));
  return q;
}

static void test_compare(void **state) {
  (void)state;
  struct {
    const char *a, *b;
    int want;
  } cases[] = {
      {"1Gi", "1073741824", 0}, {"1k", "1Ki", -1},   {"500m", "1", -1}, {"-1", "0", -1},
      {"1e100", "1E", 1},       {"1.5Gi", "1536Mi", 0}, {"0.1n", "1n", 0}, {"-2", "-1", -1},
      {"1000m", "1", 0},        {"1e-9", "1n", 0},    {"7Ei", "8Ei", -1}, {"100Mi", "0.1Gi", -1},
      {"0", "-0", 0},           {"1n", "0", 1},
  };
  for (size_t i = 0; i < ND_ARRAY_LEN(cases); i++) {
    nd_quantity a = parse(cases[i].a), b = parse(cases[i].b);
    if (nd_quantity_cmp(&a, &b) != cases[i].want)
      fail_msg("cmp(%s, %s) != %d", cases[i].a, cases[i].b, cases[i].want);
    if (nd_quantity_cmp(&b, &a) != -cases[i].want)
      fail_msg("cmp(%s, %s) != %d", cases[i].b, cases[i].a, -cases[i].want);
  }
}

static void test_scaled_value(void **state) {
  (void)state;
  int64_t v;
  nd_quantity q = parse("1.5");
  assert_int_equal(nd_quantity_scaled_value(&q, 0, &v, NULL), 0);
  assert_int_equal(v, 2);
  assert_int_equal(nd_quantity_scaled_value(&q, -3, &v, NULL), 0);
  assert_int_equal(v, 1500);
  q = parse("-1.5");
  assert_int_equal(nd_quantity_scaled_value(&q, 0, &v, NULL), 0);
  assert_int_equal(v, -2);
  q = parse("64Gi");
  assert_int_equal(nd_quantity_scaled_value(&q, 0, &v, NULL), 0);
  assert_int_equal(v, 68719476736LL);
  q = parse("1n");
  assert_int_equal(nd_quantity_scaled_value(&q, 0, &v, NULL), 0);
  assert_int_equal(v, 1);
  q = parse("16Ei");
  assert_int_equal(nd_quantity_scaled_value(&q, 0, &v, NULL), 0);
  assert_int_equal(v, INT64_MAX);
  cleanup_error nd_error_t err = NULL;
  q = parse("10E");
  assert_int_equal(nd_quantity_scaled_value(&q, 0, &v, &err), -1);
  assert_string_equal(nd_error_msg(err),
                      "quantity 10E does not fit a 64-bit integer in units of 1e0");
}

static void test_from_and_add(void **state) {
  (void)state;
  char buf[ND_QUANTITY_STR_MAX];
  nd_quantity q = nd_quantity_from_int64(68719476736LL, ND_QUANTITY_BINARY_SI);
  assert_string_equal(nd_quantity_format_canonical(&q, buf), "64Gi");
  q = nd_quantity_from_scaled(1500, -3, ND_QUANTITY_DECIMAL_SI);
  assert_string_equal(nd_quantity_format_canonical(&q, buf), "1500m");
  nd_quantity a = parse("1Gi"), b = parse("512Mi"), sum;
  assert_int_equal(nd_quantity_add(&a, &b, &sum, NULL), 0);
  assert_string_equal(nd_quantity_format_canonical(&sum, buf), "1536Mi");
  nd_quantity zero = parse("0"), m = parse("250m");
  assert_int_equal(nd_quantity_add(&zero, &m, &sum, NULL), 0);
  assert_string_equal(nd_quantity_format_canonical(&sum, buf), "250m");
  /* a binary value too large for 38 digits prints in decimal instead of overflowing */
  q = nd_quantity_from_scaled(1, 100, ND_QUANTITY_BINARY_SI);
  assert_string_equal(nd_quantity_format_canonical(&q, buf), "10"); /* DecimalSI beyond E */
  cleanup_free char *c = nd_quantity_canonical("2048Mi", NULL);
  assert_string_equal(c, "2Gi");
  assert_null(nd_quantity_canonical("x", NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_canonical_table), cmocka_unit_test(test_error_messages),
      cmocka_unit_test(test_compare),         cmocka_unit_test(test_scaled_value),
      cmocka_unit_test(test_from_and_add),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
