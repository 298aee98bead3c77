/* fuzz_json_dump.c: nd_json_dumps must write exactly what jansson's json_dumps writes. The
 * first input byte picks the flags, the rest is parsed by jansson (any value, NUL allowed in
 * strings); the parsed value is dumped by both under those flags, once with JSON_ENCODE_ANY
 * and once without (a scalar root must then be refused by both). Any difference aborts.
 *
 * First byte: bit 0 JSON_COMPACT, 1 JSON_SORT_KEYS, 2 JSON_ENSURE_ASCII, 3 JSON_ESCAPE_SLASH,
 * bits 4-5 the indent (0, 1, 2, 8), bits 6-7 the real precision (0, 1, 6, 17);
 * JSON_PRESERVE_ORDER when the byte has an odd number of bits set. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_dump.h"

static size_t flags_of(uint8_t b) {
  static const int indents[] = {0, 1, 2, 8};
  static const int precisions[] = {0, 1, 6, 17};
  size_t flags = JSON_INDENT(indents[(b >> 4) & 3]) | JSON_REAL_PRECISION(precisions[b >> 6]);
  if (b & 1)
    flags |= JSON_COMPACT;
  if (b & 2)
    flags |= JSON_SORT_KEYS;
  if (b & 4)
    flags |= JSON_ENSURE_ASCII;
  if (b & 8)
    flags |= JSON_ESCAPE_SLASH;
  if (__builtin_popcount(b) & 1)
    flags |= JSON_PRESERVE_ORDER;
  return flags;
}

static void compare(const json_t *json, size_t flags) {
  char *want = json_dumps(json, flags);
  char *got = nd_json_dumps(json, flags);
  if ((want == NULL) != (got == NULL) || (want != NULL && strcmp(want, got) != 0))
    abort();
  free(want);
  free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t flags = flags_of(data[0]);
  json_t *json =
      json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (json == NULL)
    return 0;
  compare(json, flags | JSON_ENCODE_ANY);
  compare(json, flags);
  json_decref(json);
  return 0;
}
