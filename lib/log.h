/* log.h: structured logging, one line per event.
 *
 *   ND_LOG_INFO("mqtt", "connected", ND_KV_S("host", host), ND_KV_I("port", port));
 *
 * text format:  ts=2026-11-24T10:00:00.123Z level=info component=mqtt event=connected host=h port=1883
 * json format:  {"ts":"...","level":"info","component":"mqtt","event":"connected","host":"h","port":1883}
 * Values with spaces, quotes or '=' are quoted in the text format. Never log a credential. */
#ifndef NETDRA_LOG_H
#define NETDRA_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { ND_LOG_DEBUG = 0, ND_LOG_INFO, ND_LOG_WARN, ND_LOG_ERROR } nd_log_level;
typedef enum { ND_LOG_TEXT = 0, ND_LOG_JSON } nd_log_format;
typedef enum { ND_KV_END = 0, ND_KV_STR, ND_KV_INT, ND_KV_DBL, ND_KV_BOOL } nd_kv_type;

typedef struct {
  const char *key;
  nd_kv_type type;
  union {
    const char *s;
    long long i;
    double d;
    bool b;
  } v;
} nd_kv;

#define ND_KV_S(k, val) ((nd_kv){.key = (k), .type = ND_KV_STR, .v.s = (val)})
#define ND_KV_I(k, val) ((nd_kv){.key = (k), .type = ND_KV_INT, .v.i = (long long)(val)})
#define ND_KV_D(k, val) ((nd_kv){.key = (k), .type = ND_KV_DBL, .v.d = (double)(val)})
#define ND_KV_B(k, val) ((nd_kv){.key = (k), .type = ND_KV_BOOL, .v.b = (bool)(val)})

void nd_log_emit(nd_log_level level, const char *component, const char *event, const nd_kv *kvs);

#define ND_LOG(level, component, event, ...)                                                       \
  do {                                                                                             \
    if ((level) >= nd_log_min_level())                                                             \
      nd_log_emit((level), (component), (event),                                                   \
                  (const nd_kv[]){__VA_ARGS__ __VA_OPT__(, ){.type = ND_KV_END}});                 \
  } while (0)
#define ND_LOG_DEBUG(c, e, ...) ND_LOG(ND_LOG_DEBUG, c, e __VA_OPT__(, ) __VA_ARGS__)
#define ND_LOG_INFO(c, e, ...) ND_LOG(ND_LOG_INFO, c, e __VA_OPT__(, ) __VA_ARGS__)
#define ND_LOG_WARN(c, e, ...) ND_LOG(ND_LOG_WARN, c, e __VA_OPT__(, ) __VA_ARGS__)
#define ND_LOG_ERROR(c, e, ...) ND_LOG(ND_LOG_ERROR, c, e __VA_OPT__(, ) __VA_ARGS__)

/* Configuration; defaults: info, text, stderr. */
void nd_log_set_level(nd_log_level level);
nd_log_level nd_log_min_level(void);
void nd_log_set_format(nd_log_format format);
void nd_log_set_stream(FILE *stream);
/* Parse "debug|info|warn|error" and "text|json"; return -1 on an unknown name. */
int nd_log_parse_level(const char *name, nd_log_level *out);
int nd_log_parse_format(const char *name, nd_log_format *out);
/* Count of lines emitted per level (for /metrics and tests). */
uint64_t nd_log_count(nd_log_level level);

#endif
