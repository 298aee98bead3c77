/* log.c: structured one-line-per-event logger; see log.h. */
#include "log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static nd_log_level min_level = ND_LOG_INFO;
static nd_log_format format = ND_LOG_TEXT;
static FILE *stream;
static uint64_t counts[ND_LOG_ERROR + 1];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void nd_log_set_level(nd_log_level level) { min_level = level; }
nd_log_level nd_log_min_level(void) { return min_level; }
void nd_log_set_format(nd_log_format f) { format = f; }
void nd_log_set_stream(FILE *s) { stream = s; }
uint64_t nd_log_count(nd_log_level level) {
  return level <= ND_LOG_ERROR ? __atomic_load_n(&counts[level], __ATOMIC_RELAXED) : 0;
}

int nd_log_parse_level(const char *name, nd_log_level *out) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
    if (strcmp(name, level_names[i]) == 0) {
      *out = (nd_log_level)i;
      return 0;
    }
  return -1;
}

int nd_log_parse_format(const char *name, nd_log_format *out) {
  if (strcmp(name, "text") == 0)
    *out = ND_LOG_TEXT;
  else if (strcmp(name, "json") == 0)
    *out = ND_LOG_JSON;
  else
    return -1;
  return 0;
}

static void format_time(char *buf, size_t len) {
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

static bool needs_quotes(const char *s) {
  if (*s == '\0')
    return true;
  for (; *s; s++)
    if (*s == ' ' || *s == '"' || *s == '=' || *s == '\\' || (unsigned char)*s < 0x20)
      return true;
  return false;
}

static void put_text_value(FILE *out, const char *s) {
  if (!needs_quotes(s)) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", out);
    else if (c < 0x20)
      fprintf(out, "\\x%02x", c);
    else
      fputc(c, out);
  }
  fputc('"', out);
}

static void emit_text(FILE *out, const char *ts, nd_log_level level, const char *component,
                      const char *event, const nd_kv *kvs) {
  fprintf(out, "ts=%s level=%s component=", ts, level_names[level]);
  put_text_value(out, component);
  fputs(" event=", out);
  put_text_value(out, event);
  for (const nd_kv *kv = kvs; kv && kv->type != ND_KV_END; kv++) {
    fprintf(out, " %s=", kv->key);
    switch (kv->type) {
    case ND_KV_STR:
      put_text_value(out, kv->v.s ? kv->v.s : "(null)");
      break;
    case ND_KV_INT:
      fprintf(out, "%lld", kv->v.i);
      break;
    case ND_KV_DBL:
      fprintf(out, "%g", kv->v.d);
      break;
    case ND_KV_BOOL:
      fputs(kv->v.b ? "true" : "false", out);
      break;
    case ND_KV_END:
      break;
    }
  }
  fputc('\n', out);
}

static void emit_json(FILE *out, const char *ts, nd_log_level level, const char *component,
                      const char *event, const nd_kv *kvs) {
  json_t *o = json_object();
  json_object_set_new(o, "ts", json_string(ts));
  json_object_set_new(o, "level", json_string(level_names[level]));
  json_object_set_new(o, "component", json_string(component));
  json_object_set_new(o, "event", json_string(event));
  for (const nd_kv *kv = kvs; kv && kv->type != ND_KV_END; kv++) {
    json_t *v = NULL;
    switch (kv->type) {
    case ND_KV_STR:
      v = kv->v.s ? json_string(kv->v.s) : json_null();
      if (v == NULL) /* not UTF-8 */
        v = json_string("(invalid utf-8)");
      break;
    case ND_KV_INT:
      v = json_integer(kv->v.i);
      break;
    case ND_KV_DBL:
      v = json_real(kv->v.d);
      break;
    case ND_KV_BOOL:
      v = json_boolean(kv->v.b);
      break;
    case ND_KV_END:
      break;
    }
    json_object_set_new(o, kv->key, v ? v : json_null());
  }
  char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (s) {
    fputs(s, out);
    fputc('\n', out);
    free(s);
  }
  json_decref(o);
}

void nd_log_emit(nd_log_level level, const char *component, const char *event, const nd_kv *kvs) {
  if (level < min_level || level > ND_LOG_ERROR)
    return;
  FILE *out = stream ? stream : stderr;
  char ts[40];
  format_time(ts, sizeof(ts));
  __atomic_add_fetch(&counts[level], 1, __ATOMIC_RELAXED);
  /* The line is formatted in memory and written with one fwrite: stderr is unbuffered, so
   * formatting straight into it cost a write(2) per piece (one per character of a quoted
   * value: ~30 system calls for an "attached" line). The stream's lock keeps lines whole. */
  char *line = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&line, &len);
  FILE *to = mem ? mem : out; /* out of memory: format into the stream as it is */
  if (to == out)
    flockfile(out);
  if (format == ND_LOG_JSON)
    emit_json(to, ts, level, component, event, kvs);
  else
    emit_text(to, ts, level, component, event, kvs);
  if (mem) {
    fclose(mem);
    flockfile(out);
    fwrite(line, 1, len, out);
    free(line);
  }
  fflush(out);
  funlockfile(out);
}
