/* test_json_extract.c: nd_json_extract against jansson on the same text. On valid documents (a
 * ResourceClaim as the API server returns it, duplicate and escaped keys, paths through
 * values that are not objects, 20,000 seeded random documents written by jansson compact,
 * indented and ASCII-escaped) the result is jansson's parse cut down to the paths; malformed
 * text (hand-made cases, and every random document truncated and with one byte changed) is
 * refused wherever jansson refuses it, with EINVAL and the byte offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_dump.h"
#include "json_extract.h"

static const char *const uid_path[] = {"metadata", "uid", NULL};
static const char *const alloc_path[] = {"status", "allocation", NULL};
static const char *const top_path[] = {"x", NULL};
static const char *const deep_path[] = {"status", "x", "x", "allocation", NULL};
static const char *const quoted_path[] = {"a\"q", "uid", NULL};
static const char *const *const paths[] = {uid_path, alloc_path, top_path, deep_path,
                                           quoted_path, NULL};

/* jansson's parse of the document cut down to the paths, built the way nd_json_extract builds
 * its result: objects on the way to each path, the value at its end. */
static json_t *projection(const json_t *doc) {
  json_t *out = json_object();
  for (size_t p = 0; paths[p] != NULL; p++) {
    const json_t *node = doc;
    json_t *o = out;
    for (size_t k = 0; paths[p][k] != NULL; k++) {
      json_t *v = json_object_get(node, paths[p][k]);
      if (v == NULL)
        break;
      if (paths[p][k + 1] == NULL) {
        json_object_set(o, paths[p][k], v);
        break;
      }
      if (!json_is_object(v))
        break;
      json_t *child = json_object_get(o, paths[p][k]);
      if (child == NULL) {
        child = json_object();
        json_object_set_new(o, paths[p][k], child);
      }
      o = child;
      node = v;
    }
  }
  return out;
}

/* Both read text; jansson accepting it means nd_json_extract accepts it with the same values,
 * jansson refusing it means nd_json_extract refuses it. Returns whether jansson accepted. */
static bool agree(const char *text, size_t len, bool must_refuse_with_jansson) {
  json_error_t jerr;
  cleanup_json json_t *doc = json_loadb(text, len, 0, &jerr);
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *got = nd_json_extract(text, len, paths, &err);
  if (doc != NULL && json_is_object(doc)) {
    cleanup_json json_t *want = projection(doc);
    if (got == NULL || !json_equal(want, got)) {
      cleanup_free char *w = nd_json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
      cleanup_free char *g = got ? nd_json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
      fail_msg("%.*s\nwant %s\ngot  %s (%s)", (int)(len < 400 ? len : 400), text, w,
               g ? g : "NULL", err ? nd_error_msg(err) : "");
    }
    return true;
  }
  if (must_refuse_with_jansson && got != NULL)
    fail_msg("jansson refused (%s) what nd_json_extract accepted: %.*s", jerr.text,
             (int)(len < 400 ? len : 400), text);
  if (got == NULL) {
    assert_int_equal(err->status, EINVAL);
    assert_non_null(strstr(nd_error_msg(err), "at byte "));
  }
  return false;
}

static void test_claim(void **state) {
  (void)state;
  const char *claim =
      "{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceClaim\",\"metadata\":{"
      "\"annotations\":{\"resource.kubernetes.io/pod-claim-name\":\"devices\"},"
      "\"managedFields\":[{\"manager\":\"kube-scheduler\",\"fieldsV1\":{\"f:status\":{"
      "\"f:reservedFor\":{\"k:{\\\"uid\\\":\\\"7c6b\\\"}\":{\".\":{}}}}},\"subresource\":"
      "\"status\"}],\"name\":\"c1\",\"namespace\":\"default\",\"uid\":\"u-1\","
      "\"resourceVersion\":\"42\"},\"spec\":{\"devices\":{\"requests\":[{\"name\":\"cam\"}]}},"
      "\"status\":{\"allocation\":{\"devices\":{\"results\":[{\"driver\":\"netdra.dev\","
      "\"pool\":\"cams\",\"device\":\"cam-0\",\"request\":\"cam\"}],\"config\":[]},"
      "\"nodeSelector\":null},\"reservedFor\":[{\"resource\":\"pods\",\"uid\":\"7c6b\"}]}}";
  assert_true(agree(claim, strlen(claim), true));
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *got = nd_json_extract(claim, strlen(claim), paths, &err);
  cleanup_free char *text = nd_json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(text, "{\"metadata\":{\"uid\":\"u-1\"},\"status\":{\"allocation\":{"
                            "\"devices\":{\"config\":[],\"results\":[{\"device\":\"cam-0\","
                            "\"driver\":\"netdra.dev\",\"pool\":\"cams\",\"request\":\"cam\"}]},"
                            "\"nodeSelector\":null}}}");
}

static void test_valid_edge_cases(void **state) {
  (void)state;
  static const char *const docs[] = {
      "{}",
      " \t\r\n{ } \n",
      "{\"metadata\":{\"uid\":\"a\"},\"metadata\":{\"name\":\"b\"}}", /* later duplicate wins */
      "{\"metadata\":{\"uid\":\"a\"},\"metadata\":null}",
      "{\"metadata\":{\"uid\":\"a\",\"uid\":\"b\"}}",
      "{\"metadata\":7,\"metadata\":{\"uid\":1.5e-3}}",
      "{\"m\\u0065tadata\":{\"\\u0075id\":[1,{\"x\":true}]}}", /* escaped keys on the paths */
      "{\"a\\\"q\":{\"uid\":false}}",
      "{\"status\":{\"x\":{\"x\":{\"allocation\":-0}},\"allocation\":\"\\ud83d\\ude00\"}}",
      "{\"status\":[],\"x\":{\"uid\":[]},\"metadata\":\"uid\"}",
      "{\"x\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}",
      "{\"metadata\":{\"uid\":-12.5E+7},\"y\":[[[[]]],{},\"}\",\"]\"]}",
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
    assert_true(agree(docs[i], strlen(docs[i]), true));
}

static void test_malformed(void **state) {
  (void)state;
  static const char *const docs[] = {
      "",          "   ",        "[]",           "\"x\"",         "7",
      "{",         "{\"a\"}",     "{\"a\":}",      "{\"a\":1,}",     "{,}",
      "{\"a\":1 \"b\":2}",       "{\"a\":[1,]}",  "{\"a\":[1 2]}", "{\"a\":01}",
      "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}",    "{\"a\":-}",     "{\"a\":tru}",
      "{\"a\":nul}", "{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}",
      "{\"a\":\"a\nb\"}",        "{a:1}",        "{\"a\":1}x",    "{\"a\":1}{}",
      "{\"metadata\":{\"uid\":\"x\"}", "{\"metadata\":{\"uid\":}}", "{\"x\":[}",
      "{\"status\":{\"allocation\":{\"a\" 1}}}", "{\"m\\u0000\":{}}",
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
    assert_false(agree(docs[i], strlen(docs[i]), true));
  /* a NUL byte inside the text, and nesting past jansson's 2048 levels */
  assert_false(agree("{\"a\":\"x\0y\"}", 11, true));
  /* jansson 2.14 swallows a NUL byte right after a number; JSON has no place for it */
  cleanup_error nd_error_t nul_err = NULL;
  assert_null(nd_json_extract("{\"a\":7\0}", 8, paths, &nul_err));
  assert_non_null(strstr(nd_error_msg(nul_err), "at byte 6"));
  size_t n = 2100;
  char *deep = malloc(2 * n + 16);
  size_t len = (size_t)sprintf(deep, "{\"y\":");
  for (size_t i = 0; i < n; i++)
    deep[len++] = '[';
  for (size_t i = 0; i < n; i++)
    deep[len++] = ']';
  deep[len++] = '}';
  assert_false(agree(deep, len, true));
  free(deep);
  /* a path of no key is refused */
  static const char *const empty[] = {NULL};
  cleanup_error nd_error_t err = NULL;
  assert_null(nd_json_extract("{}", 2, (const char *const *[]){empty, NULL}, &err));
  assert_int_equal(err->status, EINVAL);
}

/* ---- seeded random documents ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}
static size_t below(size_t n) { return (size_t)(rnd() % n); }

/* keys that hit the paths, and strings that need escapes (no control character but \n and
 * \t, nothing outside the BMP: a one-byte change must not make what only jansson checks in
 * skipped text, a \u0000 or a lone surrogate) */
static const char *const words[] = {"metadata", "uid",   "status", "allocation", "x",
                                    "a\"q",     "",      "\xc3\xa9", "\xe2\x98\x83 /",
                                    "tab\there", "line\n", "back\\slash"};

static json_t *random_value(int depth) {
  size_t kind = depth >= 6 ? below(5) : below(8);
  switch (kind) {
  case 0:
    return json_null();
  case 1:
    return json_boolean(below(2));
  case 2:
    return json_integer((json_int_t)below(2001) - 1000);
  case 3:
    return json_real((double)(int)below(20001) / 8.0 - 1000.0);
  case 4:
    return json_string(words[below(sizeof(words) / sizeof(words[0]))]);
  case 5: {
    json_t *a = json_array();
    for (size_t i = below(4); i > 0; i--)
      json_array_append_new(a, random_value(depth + 1));
    return a;
  }
  default: {
    json_t *o = json_object();
    for (size_t i = below(5); i > 0; i--)
      json_object_set_new(o, words[below(sizeof(words) / sizeof(words[0]))],
                          random_value(depth + 1));
    return o;
  }
  }
}

static void test_random_documents(void **state) {
  (void)state;
  /* no 'e' or 'E': "-437.625" must not become "-437e625", a range error only jansson checks */
  static const char mutations[] = "{}[]\":,0123456789.+-trufalsn \\ux";
  size_t accepted = 0, refused = 0;
  for (int i = 0; i < 20000; i++) {
    json_t *doc = json_object();
    for (size_t k = below(6); k > 0; k--)
      json_object_set_new(doc, words[below(sizeof(words) / sizeof(words[0]))], random_value(1));
    static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2), JSON_COMPACT | JSON_ENSURE_ASCII,
                                   JSON_INDENT(1) | JSON_ESCAPE_SLASH | JSON_ENSURE_ASCII};
    char *text = json_dumps(doc, flags[i % 4]);
    json_decref(doc);
    size_t len = strlen(text);
    assert_true(agree(text, len, true));
    /* truncated: never a document */
    assert_false(agree(text, below(len), true));
    /* one ASCII byte changed to something JSON gives meaning to (a byte of a UTF-8 sequence
     * changed would be invalid UTF-8, which only jansson checks) */
    size_t at = below(len);
    while ((unsigned char)text[at] >= 0x80)
      at = below(len);
    text[at] = mutations[below(sizeof(mutations) - 1)];
    if (agree(text, len, true))
      accepted++;
    else
      refused++;
    free(text);
  }
  assert_true(accepted > 100 && refused > 1000); /* both kinds were exercised */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_claim),
      cmocka_unit_test(test_valid_edge_cases),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_random_documents),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
