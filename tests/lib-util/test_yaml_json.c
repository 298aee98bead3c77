/* test_yaml_json.c: YAML -> JSON typing (YAML 1.2 core schema), source positions, error
 * positions, alias limits, and JSON -> YAML dumping that reads back identically. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "yaml_json.h"

static json_t *load(const char *text, nd_yaml_lines **lines) {
  cleanup_error nd_error_t err = NULL;
  json_t *docs = nd_yaml_load_string(text, strlen(text), "t.yaml", lines, &err);
  if (docs == NULL)
    fail_msg("load failed: %s", nd_error_msg(err));
  return docs;
}

static void expect_error(const char *text, const char *msg) {
  cleanup_error nd_error_t err = NULL;
  nd_yaml_lines *lines = NULL;
  json_t *docs = nd_yaml_load_string(text, strlen(text), "t.yaml", &lines, &err);
  if (docs != NULL)
    fail_msg("loaded but should fail with %s", msg);
  assert_null(lines);
  if (strstr(nd_error_msg(err), msg) == NULL)
    fail_msg("error \"%s\" does not contain \"%s\"", nd_error_msg(err), msg);
}

static void test_types(void **state) {
  (void)state;
  static const char text[] = "int: 12\n"
                             "neg: -3\n"
                             "oct: 0o17\n"
                             "hex: 0x1F\n"
                             "lead: 007\n"
                             "float: 1.5\n"
                             "dot: .5\n"
                             "exp: 1e3\n"
                             "t: true\n"
                             "f: False\n"
                             "n1: null\n"
                             "n2: ~\n"
                             "n3:\n"
                             "yes: yes\n"
                             "q: \"12\"\n"
                             "sq: 'true'\n"
                             "qty: 64Gi\n"
                             "milli: 500m\n"
                             "tagged: !!str 12\n"
                             "tagint: !!int \"12\"\n"
                             "block: |\n  line1\n  line2\n"
                             "ver: 1.2.3\n"
                             "ip: 10.0.0.1\n"
                             "utf: caméra\n";
  cleanup_json json_t *docs = load(text, NULL);
  assert_int_equal(json_array_size(docs), 1);
  json_t *d = json_array_get(docs, 0);
  assert_int_equal(json_integer_value(json_object_get(d, "int")), 12);
  assert_int_equal(json_integer_value(json_object_get(d, "neg")), -3);
  assert_int_equal(json_integer_value(json_object_get(d, "oct")), 15);
  assert_int_equal(json_integer_value(json_object_get(d, "hex")), 31);
  assert_int_equal(json_integer_value(json_object_get(d, "lead")), 7);
  assert_true(json_is_real(json_object_get(d, "float")));
  assert_true(json_real_value(json_object_get(d, "dot")) == 0.5);
  assert_true(json_real_value(json_object_get(d, "exp")) == 1000.0);
  assert_true(json_is_true(json_object_get(d, "t")));
  assert_true(json_is_false(json_object_get(d, "f")));
  assert_true(json_is_null(json_object_get(d, "n1")));
  assert_true(json_is_null(json_object_get(d, "n2")));
  assert_true(json_is_null(json_object_get(d, "n3")));
  assert_string_equal(json_string_value(json_object_get(d, "yes")), "yes"); /* 1.2: a string */
  assert_string_equal(json_string_value(json_object_get(d, "q")), "12");
  assert_string_equal(json_string_value(json_object_get(d, "sq")), "true");
  assert_string_equal(json_string_value(json_object_get(d, "qty")), "64Gi");
  assert_string_equal(json_string_value(json_object_get(d, "milli")), "500m");
  assert_string_equal(json_string_value(json_object_get(d, "tagged")), "12");
  assert_int_equal(json_integer_value(json_object_get(d, "tagint")), 12);
  assert_string_equal(json_string_value(json_object_get(d, "block")), "line1\nline2\n");
  assert_string_equal(json_string_value(json_object_get(d, "ver")), "1.2.3");
  assert_string_equal(json_string_value(json_object_get(d, "ip")), "10.0.0.1");
  assert_string_equal(json_string_value(json_object_get(d, "utf")), "caméra");
}

static void test_lines_and_documents(void **state) {
  (void)state;
  static const char text[] = "a: 1\n"           /* 1 */
                             "b:\n"             /* 2 */
                             "  - x\n"          /* 3 */
                             "  - \"true\"\n"   /* 4 */
                             "  - true\n"       /* 5 */
                             "c: {d: null}\n"   /* 6 */
                             "e: false\n"       /* 7 */
                             "---\n"            /* 8 */
                             "second\n"         /* 9 */
                             "---\n";           /* 10 */
  nd_yaml_lines *lines = NULL;
  cleanup_json json_t *docs = load(text, &lines);
  assert_non_null(lines);
  assert_int_equal(json_array_size(docs), 3);
  json_t *d = json_array_get(docs, 0);
  assert_int_equal(nd_yaml_line_of(lines, d), 1);
  assert_int_equal(nd_yaml_line_of(lines, json_object_get(d, "a")), 1);
  json_t *b = json_object_get(d, "b");
  assert_int_equal(nd_yaml_line_of(lines, b), 3);
  assert_int_equal(nd_yaml_line_of(lines, json_array_get(b, 0)), 3);
  assert_int_equal(nd_yaml_pos_of(lines, json_array_get(b, 0)).column, 5);
  assert_int_equal(nd_yaml_line_of(lines, json_array_get(b, 1)), 4);
  assert_int_equal(nd_yaml_pos_of_index(lines, b, 2).line, 5);
  assert_int_equal(nd_yaml_pos_of_member(lines, d, "b").line, 3); /* the value */
  assert_int_equal(nd_yaml_pos_of_key(lines, d, "b").line, 2);    /* the key */
  assert_int_equal(nd_yaml_pos_of_key(lines, d, "b").column, 1);
  assert_int_equal(nd_yaml_pos_of_member(lines, d, "e").line, 7);
  assert_int_equal(nd_yaml_pos_of_member(lines, d, "e").column, 4);
  json_t *c = json_object_get(d, "c");
  assert_int_equal(nd_yaml_line_of(lines, c), 6);
  assert_int_equal(nd_yaml_pos_of_member(lines, c, "d").line, 6);
  assert_int_equal(nd_yaml_line_of(lines, json_array_get(docs, 1)), 9);
  assert_string_equal(json_string_value(json_array_get(docs, 1)), "second");
  assert_true(json_is_null(json_array_get(docs, 2)));
  assert_int_equal(nd_yaml_pos_of_member(lines, d, "missing").line, 0);
  assert_int_equal(nd_yaml_line_of(NULL, d), 0);
  assert_string_equal(nd_yaml_source_name(lines), "t.yaml");
  nd_yaml_lines_free(lines);
  /* an empty stream has no documents */
  cleanup_json json_t *none = load("", NULL);
  assert_int_equal(json_array_size(none), 0);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("a: [1, 2\n", "t.yaml:2:1: did not find expected ',' or ']'");
  expect_error("a: 1\na: 2\n", "t.yaml:2:1: duplicate key \"a\"");
  expect_error("x: 99999999999999999999\n", "t.yaml:1:4: integer out of the 64-bit range");
  expect_error("x: !foo 1\n", "t.yaml:1:4: unsupported tag !foo");
  expect_error("x: !!int abc\n", "t.yaml:1:4: value does not match its tag");
  expect_error("x: .inf\n", "t.yaml:1:4: infinite and NaN floats are not supported");
  expect_error("x: *nope\n", "t.yaml:1:4: unknown anchor *nope");
  expect_error("? [a]\n: 1\n", "t.yaml:1:3: mapping keys must be scalars");
  expect_error("a:\n\tb: 1\n", "t.yaml:2:1: found character that cannot start any token");
  expect_error("a: \"\xff\"\n", "t.yaml:");
  /* depth bomb */
  char deep[700];
  memset(deep, '[', 600);
  deep[600] = '\0';
  expect_error(deep, "nesting deeper than 256 levels");
  /* alias bomb ("billion laughs") */
  expect_error("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
               "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
               "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
               "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
               "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
               "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
               "document too large");
  /* an alias inside its own anchor cannot make a cycle */
  expect_error("a: &a [*a]\n", "unknown anchor *a");
}

static void test_aliases(void **state) {
  (void)state;
  cleanup_json json_t *docs = load("base: &b {x: 1}\nother: *b\nname: &n hi\nagain: *n\n", NULL);
  json_t *d = json_array_get(docs, 0);
  assert_true(json_equal(json_object_get(d, "base"), json_object_get(d, "other")));
  assert_string_equal(json_string_value(json_object_get(d, "again")), "hi");
}

static void test_dump(void **state) {
  (void)state;
  cleanup_json json_t *v = json_pack("{s:s, s:[i, s]}", "name", "x", "list", 1, "2");
  cleanup_free char *text = nd_yaml_dump(v, NULL);
  assert_string_equal(text, "name: x\nlist:\n- 1\n- \"2\"\n");
  cleanup_json json_t *tricky = json_object();
  json_object_set_new(tricky, "a", json_string("true"));
  json_object_set_new(tricky, "b", json_true());
  json_object_set_new(tricky, "c", json_string("123"));
  json_object_set_new(tricky, "d", json_real(1.0));
  json_object_set_new(tricky, "e", json_real(0.25));
  json_object_set_new(tricky, "f", json_array());
  json_object_set_new(tricky, "g", json_object());
  json_object_set_new(tricky, "h", json_string("multi\nline: x"));
  json_object_set_new(tricky, "i", json_null());
  json_object_set_new(tricky, "j", json_string(""));
  json_object_set_new(tricky, "k", json_string("1e3"));
  json_object_set_new(tricky, "l", json_string("- dash"));
  json_object_set_new(tricky, "m", json_string("caméra"));
  json_object_set_new(tricky, "n", json_integer(9007199254740993LL));
  json_object_set_new(tricky, "o", json_string("null"));
  json_object_set_new(tricky, "p", json_string("  spaces  "));
  json_object_set_new(tricky, "007", json_string("key looks like an int"));
  cleanup_free char *dumped = nd_yaml_dump(tricky, NULL);
  cleanup_json json_t *back = load(dumped, NULL);
  if (!json_equal(json_array_get(back, 0), tricky))
    fail_msg("round trip differs:\n%s", dumped);
  /* to a file */
  char path[] = "/tmp/netdra-yaml-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_int_equal(nd_yaml_dump_file(f, tricky, NULL), 0);
  fclose(f);
  nd_yaml_lines *lines = NULL;
  cleanup_json json_t *from_file = nd_yaml_load_file(path, &lines, NULL);
  unlink(path);
  assert_non_null(from_file);
  assert_true(json_equal(json_array_get(from_file, 0), tricky));
  assert_string_equal(nd_yaml_source_name(lines), path);
  nd_yaml_lines_free(lines);
  cleanup_error nd_error_t err = NULL;
  assert_null(nd_yaml_load_file("/nonexistent/x.yaml", NULL, &err));
  assert_string_equal(nd_error_msg(err), "/nonexistent/x.yaml: No such file or directory");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_types),  cmocka_unit_test(test_lines_and_documents),
      cmocka_unit_test(test_errors), cmocka_unit_test(test_aliases),
      cmocka_unit_test(test_dump),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
