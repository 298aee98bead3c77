/* test_log.c: text and JSON log lines carry level, component, event and typed key=values; a
 * line reaches an unbuffered stream (stderr) in one write, whole, from any thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
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

/* An unbuffered stream, as stderr is, that counts its writes and keeps what they wrote. */
typedef struct {
  int writes;
  char text[1 << 16];
  size_t len;
} write_counter;

static ssize_t count_write(void *cookie, const char *buf, size_t size) {
  write_counter *w = cookie;
  __atomic_add_fetch(&w->writes, 1, __ATOMIC_RELAXED);
  size_t n = size < sizeof(w->text) - w->len ? size : sizeof(w->text) - w->len;
  memcpy(w->text + w->len, buf, n);
  w->len += n;
  return (ssize_t)size;
}

static void *emit_many(void *arg) {
  (void)arg;
  for (int i = 0; i < 50; i++)
    ND_LOG_INFO("backend", "attached", ND_KV_S("claim", "a b c d e f g h"), ND_KV_I("i", i));
  return NULL;
}

static void test_one_write_per_line(void **state) {
  (void)state;
  static write_counter w;
  memset(&w, 0, sizeof(w));
  FILE *f = fopencookie(&w, "w", (cookie_io_functions_t){.write = count_write});
  assert_non_null(f);
  setvbuf(f, NULL, _IONBF, 0);
  nd_log_set_stream(f);
  nd_log_set_format(ND_LOG_TEXT);
  emit_sample(); /* a quoted value: one write per character before */
  assert_int_equal(w.writes, 1);
  nd_log_set_format(ND_LOG_JSON);
  emit_sample();
  assert_int_equal(w.writes, 2);
  /* four threads at once: 200 lines, each whole */
  nd_log_set_format(ND_LOG_TEXT);
  w.writes = 0;
  w.len = 0;
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, emit_many, NULL), 0);
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  assert_int_equal(w.writes, 200);
  int lines = 0;
  for (char *line = w.text, *nl; (nl = memchr(line, '\n', w.text + w.len - line)) != NULL;
       line = nl + 1, lines++) {
    *nl = '\0';
    assert_memory_equal(line, "ts=", 3);
    assert_non_null(strstr(line, " component=backend event=attached claim=\"a b c d e f g h\" i="));
  }
  assert_int_equal(lines, 200);
  nd_log_set_stream(NULL);
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_level_filter),
      cmocka_unit_test(test_one_write_per_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
