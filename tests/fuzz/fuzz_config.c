/* fuzz_config.c: the config loader on arbitrary YAML: never crashes or leaks, errors always
 * name the source file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

typedef struct {
  char *name;
  int64_t count;
  bool flag;
  int64_t wait_ms;
  nd_quantity size;
  nd_config_strings list;
  struct {
    char *host;
    int64_t port;
  } nested;
} fuzz_cfg;

static const nd_config_field nested_fields[] = {
    {.key = "host", .type = ND_CFG_STRING, .offset = offsetof(__typeof__(((fuzz_cfg *)0)->nested), host), .def = "localhost"},
    {.key = "port", .type = ND_CFG_INT, .offset = offsetof(__typeof__(((fuzz_cfg *)0)->nested), port), .def = "80", .min = 1, .max = 65535},
    {0},
};

static const nd_config_field table[] = {
    {.key = "name", .type = ND_CFG_STRING, .offset = offsetof(fuzz_cfg, name), .def = "x"},
    {.key = "count", .type = ND_CFG_INT, .offset = offsetof(fuzz_cfg, count), .def = "1"},
    {.key = "flag", .type = ND_CFG_BOOL, .offset = offsetof(fuzz_cfg, flag)},
    {.key = "wait", .type = ND_CFG_DURATION, .offset = offsetof(fuzz_cfg, wait_ms), .def = "15s", .min = 0, .max = 86400000},
    {.key = "size", .type = ND_CFG_QUANTITY, .offset = offsetof(fuzz_cfg, size), .def = "1Gi"},
    {.key = "list", .type = ND_CFG_STRING_LIST, .offset = offsetof(fuzz_cfg, list), .def = "a,b"},
    {.key = "nested", .type = ND_CFG_TABLE, .offset = offsetof(fuzz_cfg, nested), .fields = nested_fields},
    {0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  nd_error_t err = NULL;
  if (nd_config_defaults(table, &cfg, &err) < 0)
    abort();
  if (nd_config_apply_yaml(table, &cfg, (const char *)data, size, "fuzz.yaml", &err) < 0) {
    if (err == NULL || strncmp(nd_error_msg(err), "fuzz.yaml:", 10) != 0)
      abort();
    nd_error_release(&err);
  }
  /* the duration parser on the raw bytes too */
  char *s = malloc(size + 1);
  if (s != NULL) {
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t ms;
    if (nd_config_parse_duration(s, &ms, &err) < 0)
      nd_error_release(&err);
    free(s);
  }
  nd_config_free(table, &cfg);
  return 0;
}
