/* test_json_dump.c: nd_json_dumps against jansson's own json_dumps, byte for byte, under every
 * combination of the flags netdra uses (JSON_COMPACT, JSON_SORT_KEYS, JSON_ENCODE_ANY,
 * JSON_PRESERVE_ORDER, JSON_ENSURE_ASCII, JSON_ESCAPE_SLASH; JSON_INDENT 0-4 and 8;
 * JSON_REAL_PRECISION 0, 1, 6 and 17), on the upstream Kubernetes OpenAPI document, every JSON
 * file of deploy/ and tests/, and seeded pseudo-random trees; plus the fixed cases that show
 * jansson's rules (json_dump.h) and the fallback to json_dumps for other flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cleanup.h"
#include "json_dump.h"

#define OPENAPI_NAME "apis__resource.k8s.io__v1_openapi.json"

/* ---- flag sets ---- */

static const size_t bool_flags[] = {JSON_COMPACT,      JSON_SORT_KEYS,    JSON_ENCODE_ANY,
                                    JSON_PRESERVE_ORDER, JSON_ENSURE_ASCII, JSON_ESCAPE_SLASH};
static const int indents[] = {0, 1, 2, 3, 4, 8};
static const int precisions[] = {0, 1, 6, 17};
#define N_BOOL_SETS (1u << ND_ARRAY_LEN(bool_flags))
#define N_FLAG_SETS (N_BOOL_SETS * ND_ARRAY_LEN(indents) * ND_ARRAY_LEN(precisions))

/* The i-th of the N_FLAG_SETS combinations. */
static size_t flag_set(size_t i) {
  size_t flags = 0;
  size_t bools = i % N_BOOL_SETS;
  for (size_t b = 0; b < ND_ARRAY_LEN(bool_flags); b++)
    if (bools & (1u << b))
      flags |= bool_flags[b];
  i /= N_BOOL_SETS;
  flags |= JSON_INDENT(indents[i % ND_ARRAY_LEN(indents)]);
  i /= ND_ARRAY_LEN(indents);
  flags |= JSON_REAL_PRECISION(precisions[i]);
  return flags;
}

static size_t comparisons;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Both dumps of json under flags must be equal (both NULL counts as equal). */
static void expect_same(const json_t *json, size_t flags, const char *what) {
  cleanup_free char *want = json_dumps(json, flags);
  cleanup_free char *got = nd_json_dumps(json, flags);
  comparisons++;
  if (want == NULL && got == NULL)
    return;
  if (want == NULL || got == NULL)
    fail_msg("%s, flags 0x%zx: json_dumps gave %s, nd_json_dumps %s", what, flags,
             want ? "text" : "NULL", got ? "text" : "NULL");
  if (strcmp(want, got) == 0)
    return;
  size_t at = 0;
  while (want[at] == got[at])
    at++;
  size_t from = at > 40 ? at - 40 : 0;
  fail_msg("%s, flags 0x%zx: first difference at byte %zu\n  json_dumps:    ...%.80s\n"
           "  nd_json_dumps: ...%.80s",
           what, flags, at, want + from, got + from);
}

static void expect_same_all_flags(const json_t *json, const char *what) {
  for (size_t i = 0; i < N_FLAG_SETS; i++)
    expect_same(json, flag_set(i), what);
}

static bool holds_real(const json_t *json) {
  size_t i;
  const char *key;
  json_t *child;
  if (json_is_real(json))
    return true;
  json_array_foreach(json, i, child) if (holds_real(child)) return true;
  json_object_foreach((json_t *)json, key, child) if (holds_real(child)) return true;
  return false;
}

/* For the documents, big and many: every flag set, except those that differ from one already
 * compared only in a flag this document gives nothing to act on (both writers read the
 * precision only for a real, JSON_ENCODE_ANY only for a root that is no container). The
 * random trees get every flag set. */
static void expect_same_relevant_flags(const json_t *json, const char *what) {
  bool reals = holds_real(json), container = json_is_object(json) || json_is_array(json);
  for (size_t i = 0; i < N_FLAG_SETS; i++) {
    size_t flags = flag_set(i);
    if ((!reals && (flags & JSON_REAL_PRECISION(0x1F)) != 0) ||
        (container && (flags & JSON_ENCODE_ANY) != 0))
      continue;
    expect_same(json, flags, what);
  }
}

/* ---- fixed cases ---- */

static void expect_text(const json_t *json, size_t flags, const char *want) {
  cleanup_free char *got = nd_json_dumps(json, flags);
  assert_non_null(got);
  assert_string_equal(got, want);
  expect_same(json, flags, want);
}

static void test_rules(void **state) {
  (void)state;
  cleanup_json json_t *doc = json_loads(
      "{\"b\":[1,2.5,\"x/y\"],\"a\":{},\"c\":[],\"\":null,\"ab\":true,\"aa\":false}", 0, NULL);
  assert_non_null(doc);
  expect_text(doc, 0,
              "{\"b\": [1, 2.5, \"x/y\"], \"a\": {}, \"c\": [], \"\": null, \"ab\": true, "
              "\"aa\": false}");
  expect_text(doc, JSON_COMPACT,
              "{\"b\":[1,2.5,\"x/y\"],\"a\":{},\"c\":[],\"\":null,\"ab\":true,\"aa\":false}");
  expect_text(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ESCAPE_SLASH,
              "{\"\":null,\"a\":{},\"aa\":false,\"ab\":true,\"b\":[1,2.5,\"x\\/y\"],\"c\":[]}");
  expect_text(doc, JSON_INDENT(2) | JSON_SORT_KEYS,
              "{\n  \"\": null,\n  \"a\": {},\n  \"aa\": false,\n  \"ab\": true,\n  \"b\": [\n"
              "    1,\n    2.5,\n    \"x/y\"\n  ],\n  \"c\": []\n}");
  expect_text(doc, JSON_INDENT(1) | JSON_COMPACT | JSON_SORT_KEYS,
              "{\n \"\":null,\n \"a\":{},\n \"aa\":false,\n \"ab\":true,\n \"b\":[\n  1,\n  2.5,\n"
              "  \"x/y\"\n ],\n \"c\":[]\n}");

  /* strings: short escapes, \u00XX in upper case, DEL as is, non-ASCII as is or escaped */
  static const char raw[] = "\"\\\b\f\n\r\t\x01\x1f\x7f/\xc3\xa9\xf0\x9f\x98\x80\0z";
  cleanup_json json_t *s = json_stringn(raw, sizeof(raw) - 1);
  assert_non_null(s);
  expect_text(s, JSON_ENCODE_ANY,
              "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001F\x7f/\xc3\xa9\xf0\x9f\x98\x80\\u0000z\"");
  expect_text(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH,
              "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\\/\\u00E9\\uD83D\\uDE00\\u0000z\"");

  /* numbers: INT64 limits, reals with ".0", exponents without '+' or leading zeros */
  cleanup_json json_t *nums = json_pack("[I,I,f,f,f,f,f,f]", (json_int_t)INT64_MIN,
                                        (json_int_t)INT64_MAX, 1.0, -0.0, 1e20, 1e-5, 0.1, 1e300);
  assert_non_null(nums);
  expect_text(nums, JSON_COMPACT,
              "[-9223372036854775808,9223372036854775807,1.0,-0.0,1e20,1.0000000000000001e-5,"
              "0.10000000000000001,1.0000000000000001e300]");
  expect_text(nums, JSON_COMPACT | JSON_REAL_PRECISION(6),
              "[-9223372036854775808,9223372036854775807,1.0,-0.0,1e20,1e-5,0.1,1e300]");
  expect_text(nums, JSON_COMPACT | JSON_REAL_PRECISION(1),
              "[-9223372036854775808,9223372036854775807,1.0,-0.0,1e20,1e-5,0.1,1e300]");

  /* non-container roots need JSON_ENCODE_ANY */
  cleanup_json json_t *one = json_integer(1);
  assert_null(nd_json_dumps(one, 0));
  expect_text(one, JSON_ENCODE_ANY, "1");
  assert_null(nd_json_dumps(NULL, JSON_ENCODE_ANY));
  assert_null(nd_json_dumps(NULL, 0));
}

/* Not valid UTF-8 (only through the _nocheck setters): a string value fails the dump, a key
 * is written cut short after its last escape, and the dump goes on. */
static void test_bad_utf8(void **state) {
  (void)state;
  cleanup_json json_t *bad_value = json_pack("{s:o}", "k", json_string_nocheck("ok\xff"));
  assert_null(nd_json_dumps(bad_value, 0));
  expect_same(bad_value, 0, "bad value");

  cleanup_json json_t *bad_key = json_object();
  json_object_set_new_nocheck(bad_key, "a\tb\xc3(c", json_integer(1));
  json_object_set_new(bad_key, "z", json_integer(2));
  expect_text(bad_key, JSON_COMPACT, "{\"a\\t:1,\"z\":2}");
  expect_text(bad_key, JSON_COMPACT | JSON_SORT_KEYS, "{\"a\\t:1,\"z\":2}");
  for (size_t i = 0; i < N_FLAG_SETS; i++)
    expect_same(bad_key, flag_set(i), "bad key");
}

/* Flags outside the handled set are json_dumps's business. */
static void test_other_flags_fall_back(void **state) {
  (void)state;
  cleanup_json json_t *doc = json_pack("{s:[i,i]}", "a", 1, 2);
  cleanup_free char *embedded = nd_json_dumps(doc, JSON_EMBED | JSON_COMPACT);
  assert_non_null(embedded);
  assert_string_equal(embedded, "\"a\":[1,2]");
  expect_same(doc, JSON_EMBED, "embed");
  expect_same(doc, JSON_EMBED | JSON_INDENT(3) | JSON_SORT_KEYS, "embed");
}

/* ---- documents ---- */

static json_t *load_file(const char *path) {
  json_error_t error;
  return json_load_file(path, JSON_DECODE_ANY, &error);
}

/* The upstream OpenAPI document (NETDRA_SHARED_DIR/k8s-openapi, else the copy kept for the
 * stand-in API server), under every flag set. */
static void test_openapi_document(void **state) {
  (void)state;
  double started = now_s();
  char path[4096];
  const char *shared = getenv("NETDRA_SHARED_DIR");
  snprintf(path, sizeof(path), "%s/k8s-openapi/" OPENAPI_NAME, shared ? shared : "");
  struct stat st;
  if (shared == NULL || stat(path, &st) < 0) {
    const char *src = getenv("NETDRA_SOURCE_DIR");
    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/tests/apiserver/openapi/" OPENAPI_NAME, src);
  }
  cleanup_json json_t *doc = load_file(path);
  if (doc == NULL)
    fail_msg("cannot load %s", path);
  size_t before = comparisons;
  expect_same_relevant_flags(doc, path);
  print_message("OpenAPI document %s: %zu comparisons in %.1f s\n", path, comparisons - before,
                now_s() - started);
}

static size_t files_compared, files_skipped;

static int compare_file(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  size_t len = strlen(path);
  if (type != FTW_F || len < 5 || strcmp(path + len - 5, ".json") != 0)
    return 0;
  if (strstr(path, "/" OPENAPI_NAME) != NULL)
    return 0; /* test_openapi_document's */
  cleanup_json json_t *doc = load_file(path);
  if (doc == NULL) {
    files_skipped++; /* deliberately broken inputs (fuzz corpora, error cases) */
    return 0;
  }
  files_compared++;
  expect_same_relevant_flags(doc, path);
  return 0;
}

/* Every *.json under deploy/ and tests/ that jansson parses. */
static void test_repository_files(void **state) {
  (void)state;
  double started = now_s();
  const char *src = getenv("NETDRA_SOURCE_DIR");
  assert_non_null(src);
  static const char *const dirs[] = {"deploy", "tests"};
  size_t before = comparisons;
  for (size_t i = 0; i < ND_ARRAY_LEN(dirs); i++) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", src, dirs[i]);
    assert_int_equal(nftw(dir, compare_file, 16, FTW_PHYS), 0);
  }
  assert_true(files_compared >= 50);
  print_message("%zu files (%zu others do not parse): %zu comparisons in %.1f s\n",
                files_compared, files_skipped, comparisons - before, now_s() - started);
}

/* ---- pseudo-random trees ---- */

static uint64_t rng_state;

static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static size_t below(size_t n) { return (size_t)(rnd() % n); }

/* Append one character of a random byte class to buf; returns the new length. */
static size_t random_char(char *buf, size_t len, bool allow_bad) {
  static const char specials[] = "\"\\/\b\f\n\r\t\x7f";
  switch (below(allow_bad ? 12 : 11)) {
  case 0: /* control characters, NUL included */
    buf[len++] = (char)below(0x20);
    break;
  case 1:
    buf[len++] = specials[below(sizeof(specials) - 1)];
    break;
  case 2: { /* 2-byte UTF-8 */
    uint32_t cp = 0x80 + (uint32_t)below(0x800 - 0x80);
    buf[len++] = (char)(0xC0 | (cp >> 6));
    buf[len++] = (char)(0x80 | (cp & 0x3F));
    break;
  }
  case 3: { /* 3-byte UTF-8, surrogates excluded */
    uint32_t cp;
    do
      cp = 0x800 + (uint32_t)below(0x10000 - 0x800);
    while (cp >= 0xD800 && cp <= 0xDFFF);
    buf[len++] = (char)(0xE0 | (cp >> 12));
    buf[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[len++] = (char)(0x80 | (cp & 0x3F));
    break;
  }
  case 4: { /* 4-byte UTF-8, up to U+10FFFF */
    uint32_t cp = 0x10000 + (uint32_t)below(0x110000 - 0x10000);
    buf[len++] = (char)(0xF0 | (cp >> 18));
    buf[len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[len++] = (char)(0x80 | (cp & 0x3F));
    break;
  }
  case 11: { /* not UTF-8: a stray continuation, an overlong form, a surrogate, a cut
              * sequence, a byte never valid */
    static const char *const bad[] = {"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82",
                                      "\xff", "\xf4\x90\x80\x80"};
    const char *b = bad[below(ND_ARRAY_LEN(bad))];
    memcpy(buf + len, b, strlen(b));
    len += strlen(b);
    break;
  }
  default: /* printable ASCII, the common case */
    buf[len++] = (char)(0x20 + below(0x5F));
    break;
  }
  return len;
}

#define STRING_ROOM (4 * 4200 + 8) /* 4199 characters of up to 4 bytes */

/* A random string into buf (STRING_ROOM bytes); its length. Mostly short, sometimes
 * empty or long; invalid UTF-8 only when allow_bad and then rarely. */
static size_t random_string(char *buf, bool allow_bad) {
  size_t n;
  switch (below(10)) {
  case 0:
    n = 0;
    break;
  case 1:
    n = below(10) == 0 ? 200 + below(4000) : 16 + below(100);
    break;
  default:
    n = below(16);
    break;
  }
  bool bad = allow_bad && below(40) == 0;
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len = random_char(buf, len, bad && below(n) == 0);
  return len;
}

static double random_real(void) {
  static const double specials[] = {0.0,
                                    -0.0,
                                    1.0,
                                    -1.0,
                                    0.1,
                                    1.0 / 3.0,
                                    5e-324,
                                    2.2250738585072014e-308,
                                    1.7976931348623157e308,
                                    -1.7976931348623157e308,
                                    1e15,
                                    1e16,
                                    1e17,
                                    123456789012345678.0,
                                    9007199254740993.0,
                                    1e-4,
                                    1e-5,
                                    1e21,
                                    1e100,
                                    123.0,
                                    -42.0,
                                    0.5,
                                    2.5e-7};
  switch (below(4)) {
  case 0:
    return specials[below(ND_ARRAY_LEN(specials))];
  case 1: /* any finite bit pattern */
    for (;;) {
      uint64_t bits = rnd();
      double d;
      memcpy(&d, &bits, sizeof(d));
      if (isfinite(d))
        return d;
    }
  case 2: /* integral */
    return (double)((int64_t)rnd() >> below(64));
  default: /* ordinary magnitudes */
    return ((double)(int64_t)rnd() / (double)INT64_MAX) * pow(10.0, (double)below(40) - 20.0);
  }
}

static json_t *random_tree(int depth);

static json_t *random_scalar(void) {
  static char buf[STRING_ROOM];
  switch (below(8)) {
  case 0:
    return json_null();
  case 1:
    return json_boolean(below(2));
  case 2: {
    static const json_int_t limits[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1, 0,
                                        -1,        1,            10,        -10};
    if (below(3) == 0)
      return json_integer(limits[below(ND_ARRAY_LEN(limits))]);
    return json_integer((json_int_t)((int64_t)rnd() >> below(64)));
  }
  case 3:
    return json_real(random_real());
  default: {
    size_t len = random_string(buf, true);
    return json_stringn_nocheck(buf, len);
  }
  }
}

static size_t nodes_left; /* the size budget of the tree being generated */

static json_t *random_container(int depth) {
  size_t n = depth >= 12 ? 0 : below(depth < 3 ? 9 : 5);
  n = n < nodes_left ? n : nodes_left;
  nodes_left -= n;
  if (below(2) == 0) {
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(array, random_tree(depth + 1));
    return array;
  }
  json_t *object = json_object();
  static char key[STRING_ROOM];
  for (size_t i = 0; i < n; i++) {
    json_t *value = random_tree(depth + 1); /* before the key: it reuses the buffer */
    size_t len = below(4) == 0 ? 0 : random_string(key, true);
    if (below(5) == 0) /* a short, common key, so that keys repeat and share prefixes */
      len = (size_t)snprintf(key, sizeof(key), "%.*s", (int)below(4), "aab");
    json_object_setn_new_nocheck(object, key, len, value);
  }
  if (n > 2 && below(3) == 0) { /* delete a member: the order after a deletion */
    const char *k = json_object_iter_key(json_object_iter(object));
    size_t kl = json_object_iter_key_len(json_object_iter(object));
    json_object_deln(object, k, kl);
    json_object_set_new(object, "readded", json_true());
  }
  return object;
}

static bool deep_trees; /* containers at every level, down to 12 */

static json_t *random_tree(int depth) {
  /* containers likely near the root, scalars deeper; or containers all the way down */
  if (depth < 12 && (deep_trees ? below(10) < 8 : below(12) >= (size_t)depth))
    return random_container(depth);
  return random_scalar();
}

/* Levels of containers in json (0 for a scalar). */
static size_t tree_depth(const json_t *json) {
  size_t deepest = 0, i;
  const char *key;
  json_t *child;
  if (json_is_array(json)) {
    json_array_foreach(json, i, child) {
      size_t d = tree_depth(child);
      deepest = d > deepest ? d : deepest;
    }
  } else if (json_is_object(json)) {
    json_object_foreach((json_t *)json, key, child) {
      size_t d = tree_depth(child);
      deepest = d > deepest ? d : deepest;
    }
  } else {
    return 0;
  }
  return deepest + 1;
}

static void test_random_trees(void **state) {
  (void)state;
  double started = now_s();
  size_t before = comparisons, trees = 0, deepest = 0;
  /* NETDRA_JSON_DUMP_TREES=n for a longer run */
  const char *count = getenv("NETDRA_JSON_DUMP_TREES");
  uint64_t n_trees = count ? strtoull(count, NULL, 10) : 150;
  for (uint64_t seed = 1; seed <= n_trees; seed++) {
    rng_state = seed;
    nodes_left = 30 + below(150);
    deep_trees = below(4) == 0;
    cleanup_json json_t *tree = below(10) == 0 ? random_scalar() : random_container(0);
    char what[64];
    snprintf(what, sizeof(what), "random tree of seed %llu", (unsigned long long)seed);
    expect_same_all_flags(tree, what);
    trees++;
    size_t depth = tree_depth(tree);
    deepest = depth > deepest ? depth : deepest;
  }
  assert_true(deepest >= 10);
  print_message("%zu random trees (the deepest %zu levels): %zu comparisons in %.1f s\n", trees,
                deepest, comparisons - before, now_s() - started);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rules),
      cmocka_unit_test(test_bad_utf8),
      cmocka_unit_test(test_other_flags_fall_back),
      cmocka_unit_test(test_random_trees),
      cmocka_unit_test(test_repository_files),
      cmocka_unit_test(test_openapi_document),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
