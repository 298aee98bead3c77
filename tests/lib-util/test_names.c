/* test_names.c: Kubernetes/CDI name validation, the DNS-label sanitiser with hostile input,
 * and quoting of strings for error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cleanup.h"
#include "names.h"

typedef struct {
  nd_name_kind kind;
  const char *s;
  bool valid;
} name_case;

#define L63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123"
#define L64 L63 "4"

static const name_case name_cases[] = {
    {ND_NAME_DNS_LABEL, "cam-1", true},
    {ND_NAME_DNS_LABEL, "a", true},
    {ND_NAME_DNS_LABEL, "0abc", true},
    {ND_NAME_DNS_LABEL, L63, true},
    {ND_NAME_DNS_LABEL, L64, false},
    {ND_NAME_DNS_LABEL, "", false},
    {ND_NAME_DNS_LABEL, "Cam", false},
    {ND_NAME_DNS_LABEL, "-a", false},
    {ND_NAME_DNS_LABEL, "a-", false},
    {ND_NAME_DNS_LABEL, "a.b", false},
    {ND_NAME_DNS_LABEL, "a_b", false},
    {ND_NAME_DNS_SUBDOMAIN, "netdra.dev", true},
    {ND_NAME_DNS_SUBDOMAIN, "a", true},
    {ND_NAME_DNS_SUBDOMAIN, "a..b", false},
    {ND_NAME_DNS_SUBDOMAIN, ".a", false},
    {ND_NAME_DNS_SUBDOMAIN, "a.", false},
    {ND_NAME_DNS_SUBDOMAIN, "A.b", false},
    {ND_NAME_DNS_SUBDOMAIN, L63 "." L63 "." L63 "." L63, false}, /* 255 characters */
    {ND_NAME_DNS_SUBDOMAIN, L63 "." L63 "." L63 ".abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghi1", true},
    {ND_NAME_QUALIFIED_NAME, "app", true},
    {ND_NAME_QUALIFIED_NAME, "netdra.dev/unreachable", true},
    {ND_NAME_QUALIFIED_NAME, "Foo_bar.baz-1", true},
    {ND_NAME_QUALIFIED_NAME, "/x", false},
    {ND_NAME_QUALIFIED_NAME, "a/b/c", false},
    {ND_NAME_QUALIFIED_NAME, "UPPER.com/x", false},
    {ND_NAME_QUALIFIED_NAME, "netdra.dev/", false},
    {ND_NAME_QUALIFIED_NAME, "_x", false},
    {ND_NAME_LABEL_VALUE, "", true},
    {ND_NAME_LABEL_VALUE, "true", true},
    {ND_NAME_LABEL_VALUE, "a b", false},
    {ND_NAME_LABEL_VALUE, L64, false},
    {ND_NAME_C_IDENTIFIER, "fabricRegion", true},
    {ND_NAME_C_IDENTIFIER, "_x1", true},
    {ND_NAME_C_IDENTIFIER, "abcdefghijabcdefghijabcdefghijab", true},
    {ND_NAME_C_IDENTIFIER, "abcdefghijabcdefghijabcdefghijabc", false},
    {ND_NAME_C_IDENTIFIER, "1x", false},
    {ND_NAME_C_IDENTIFIER, "a-b", false},
    {ND_NAME_C_IDENTIFIER, "", false},
    {ND_NAME_DRIVER_NAME, "netdra.dev", true},
    {ND_NAME_DRIVER_NAME, "gpu.example.com", true},
    {ND_NAME_DRIVER_NAME, "Netdra.dev", false},
    {ND_NAME_DRIVER_NAME, L63 ".x", false},
    {ND_NAME_ATTRIBUTE_KEY, "model", true},
    {ND_NAME_ATTRIBUTE_KEY, "resource.kubernetes.io/pciBusID", true},
    {ND_NAME_ATTRIBUTE_KEY, "resource.kubernetes.io/pci-bus", false},
    {ND_NAME_ATTRIBUTE_KEY, "/model", false},
    {ND_NAME_ATTRIBUTE_KEY, "a/b/c", false},
    {ND_NAME_CDI_VENDOR, "netdra.dev", true},
    {ND_NAME_CDI_VENDOR, "1vendor", false},
    {ND_NAME_CDI_VENDOR, "vendor-", false},
    {ND_NAME_CDI_CLASS, "camera", true},
    {ND_NAME_CDI_CLASS, "my_class.v1", true},
    {ND_NAME_CDI_CLASS, "x" L63, false},
    {ND_NAME_CDI_DEVICE, "claim-0f3a:0", true},
    {ND_NAME_CDI_DEVICE, "0dev", true},
    {ND_NAME_CDI_DEVICE, "dev=1", false},
    {ND_NAME_CDI_DEVICE, "dev:", false},
    {ND_NAME_CDI_KIND, "netdra.dev/camera", true},
    {ND_NAME_CDI_KIND, "netdra.dev", false},
    {ND_NAME_CDI_KIND, "netdra.dev/1cam", false},
};

static void test_validation_table(void **state) {
  (void)state;
  for (size_t i = 0; i < ND_ARRAY_LEN(name_cases); i++) {
    const name_case *c = &name_cases[i];
    if (nd_name_valid(c->kind, c->s) != c->valid)
      fail_msg("%s \"%s\": expected %s", nd_name_kind_str(c->kind), c->s,
               c->valid ? "valid" : "invalid");
    cleanup_error nd_error_t err = NULL;
    assert_int_equal(nd_name_validate(c->kind, "x", c->s, &err), c->valid ? 0 : -1);
    assert_true(c->valid == (err == NULL));
  }
  assert_false(nd_name_valid(ND_NAME_DNS_LABEL, NULL));
}

static void test_validate_messages(void **state) {
  (void)state;
  cleanup_error nd_error_t err = NULL;
  nd_name_validate(ND_NAME_C_IDENTIFIER, "attribute", "a-b", &err);
  assert_string_equal(nd_error_msg(err), "attribute \"a-b\": not a valid C identifier: must "
                                         "consist of letters, digits and '_'");
  nd_error_release(&err);
  nd_name_validate(ND_NAME_DNS_LABEL, "device name", "x\n\"y", &err);
  assert_string_equal(nd_error_msg(err), "device name \"x\\n\\\"y\": not a valid DNS label: must "
                                         "consist of lowercase letters, digits and '-'");
}

static void sanitize(const char *in, size_t len, char *out) {
  nd_name_sanitize_dns_label(in, len, out);
  if (!nd_name_valid(ND_NAME_DNS_LABEL, out))
    fail_msg("sanitised \"%s\" is not a DNS label", out);
}

static void test_sanitize(void **state) {
  (void)state;
  char out[ND_DNS_LABEL_MAX + 1], out2[ND_DNS_LABEL_MAX + 1];
  /* valid labels are kept */
  sanitize("cam-1", 5, out);
  assert_string_equal(out, "cam-1");
  sanitize(L63, 63, out);
  assert_string_equal(out, L63);
  /* changed: hash suffix, deterministic */
  sanitize("Cam_1", 5, out);
  assert_int_equal(strncmp(out, "cam-1-", 6), 0);
  assert_int_equal(strlen(out), 6 + 8);
  sanitize("Cam_1", 5, out2);
  assert_string_equal(out, out2);
  /* distinct inputs that map to the same text stay distinct */
  sanitize("cam_1", 5, out2);
  assert_string_not_equal(out, out2);
  sanitize("cam/1", 5, out);
  assert_string_not_equal(out, out2);
  /* path traversal, NUL, newline, '=' and UTF-8 */
  static const char hostile[] = "../../etc/passwd\0x\n=é";
  sanitize(hostile, sizeof(hostile) - 1, out);
  assert_int_equal(strncmp(out, "etc-passwd-x-", 13), 0);
  sanitize(hostile, 16, out2); /* stops before the NUL: a different name */
  assert_string_not_equal(out, out2);
  /* empty and all-invalid */
  sanitize("", 0, out);
  assert_int_equal(strncmp(out, "dev-", 4), 0);
  assert_int_equal(strlen(out), 12);
  sanitize("///", 3, out2);
  assert_int_equal(strncmp(out2, "dev-", 4), 0);
  assert_string_not_equal(out, out2);
  sanitize("-", 1, out);
  assert_int_equal(strncmp(out, "dev-", 4), 0);
  /* double and edge dashes count as changes */
  sanitize("a--b", 4, out);
  assert_int_equal(strncmp(out, "a-b-", 4), 0);
  sanitize("-a", 2, out);
  assert_int_equal(strncmp(out, "a-", 2), 0);
  assert_int_equal(strlen(out), 10);
  /* 1000 characters: cut to 54 + "-" + 8 hex, two long inputs differing at the end differ */
  char big[1000];
  memset(big, 'a', sizeof(big));
  sanitize(big, sizeof(big), out);
  assert_int_equal(strlen(out), 63);
  big[999] = 'b';
  sanitize(big, sizeof(big), out2);
  assert_int_equal(strlen(out2), 63);
  assert_string_not_equal(out, out2);
  assert_memory_equal(out, out2, 54);
  /* truncation never leaves "--" before the hash */
  char dashy[100];
  for (size_t i = 0; i < sizeof(dashy); i++)
    dashy[i] = (i % 2) ? '.' : 'x';
  sanitize(dashy, sizeof(dashy), out);
  assert_null(strstr(out, "--"));
  /* every single byte value sanitises to a valid label */
  for (int b = 0; b < 256; b++) {
    char in = (char)b;
    sanitize(&in, 1, out);
  }
}

static void test_quote(void **state) {
  (void)state;
  char buf[32];
  assert_string_equal(nd_name_quote(buf, sizeof(buf), "a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\x01\"");
  assert_string_equal(nd_name_quote(buf, sizeof(buf), NULL), "(null)");
  assert_string_equal(nd_name_quote_bare(buf, sizeof(buf), "plain"), "plain");
  nd_name_quote(buf, 16, "0123456789abcdefghijkl");
  assert_string_equal(buf, "\"0123456789...\"");
  nd_name_quote(buf, sizeof(buf), "\xc3\xa9");
  assert_string_equal(buf, "\"\\xc3\\xa9\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validation_table),
      cmocka_unit_test(test_validate_messages),
      cmocka_unit_test(test_sanitize),
      cmocka_unit_test(test_quote),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
