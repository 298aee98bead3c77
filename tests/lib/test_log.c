/* test_log.c: text and JSON log lines carry level, component, event and typed key=values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static char *capture(nd_log_format fmt, void (*emit)(void)) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  nd_log_set_stream(f);
  nd_log_set_format(fmt);
  emit();
  fclose(f);
  nd_log_set_stream(NULL);
  return buf;
}

static void emit_sample(void) {
  ND_LOG_INFO("mqtt", "connected", ND_KV_S("host", "broker one"), ND_KV_I("port", 1883),
              ND_KV_B("tls", true));
}
static void emit_bare(void) { ND_LOG_WARN("ctl", "bare"); }
static void emit_debug(void) { ND_LOG_DEBUG("ctl", "hidden"); }

static void test_text(void **state) {
  (void)state;
  char *line = capture(ND_LOG_TEXT, emit_sample);
  assert_non_null(strstr(line, " level=info component=mqtt event=connected host=\"broker one\" "
                               "port=1883 tls=true\n"));
  assert_memory_equal(line, "ts=", 3);
  free(line);
  line = capture(ND_LOG_TEXT, emit_bare);
  assert_non_null(strstr(line, "level=warn component=ctl event=bare\n"));
  free(line);
}

static void test_json(void **state) {
  (void)state;
  char *line = capture(ND_LOG_JSON, emit_sample);
  json_error_t jerr;
  json_t *o = json_loads(line, 0, &jerr);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "host")), "broker one");
  assert_int_equal(json_integer_value(json_object_get(o, "port")), 1883);
  assert_true(json_is_true(json_object_get(o, "tls")));
  assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
  json_decref(o);
  free(line);
}

static void test_level_filter(void **state) {
  (void)state;
  char *line = capture(ND_LOG_TEXT, emit_debug);
  assert_true(line == NULL || line[0] == '\0');
  free(line);
  nd_log_level lvl;
  assert_int_equal(nd_log_parse_level("debug", &lvl), 0);
  assert_int_equal(lvl, ND_LOG_DEBUG);
  assert_int_equal(nd_log_parse_level("loud", &lvl), -1);
  nd_log_format fmt;
  assert_int_equal(nd_log_parse_format("json", &fmt), 0);
  assert_int_equal(nd_log_parse_format("xml", &fmt), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_level_filter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
