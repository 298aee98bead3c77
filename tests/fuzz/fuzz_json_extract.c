/* fuzz_json_extract.c: nd_json_extract must read what jansson reads. The input is the text; the
 * paths are a claim's (metadata.uid, status.allocation). When jansson parses the input to an
 * object, nd_json_extract must succeed and hold the same value at each path (or none where
 * jansson has none); otherwise it may refuse or accept (it does not check UTF-8 or number
 * range in what it skips) but must not crash or leak. Inputs with a NUL byte are only run, not
 * compared: jansson 2.14 swallows a NUL right after a number ({"a":7\0} parses), which
 * nd_json_extract refuses, as JSON does. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_extract.h"

static const char *const uid[] = {"metadata", "uid", NULL};
static const char *const allocation[] = {"status", "allocation", NULL};
static const char *const *const paths[] = {uid, allocation, NULL};

/* doc.a.b, or NULL when a member is missing or doc.a is not an object */
static json_t *member2(json_t *doc, const char *a, const char *b) {
  json_t *mid = json_object_get(doc, a);
  return json_is_object(mid) ? json_object_get(mid, b) : NULL;
}

static void same(json_t *want, json_t *got) {
  if ((want == NULL) != (got == NULL) || (want != NULL && !json_equal(want, got)))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_error_t err = NULL;
  json_t *got = nd_json_extract((const char *)data, size, paths, &err);
  json_t *doc = json_loadb((const char *)data, size, 0, NULL);
  if (json_is_object(doc) && memchr(data, '\0', size) == NULL) {
    if (got == NULL)
      abort();
    same(member2(doc, "metadata", "uid"), member2(got, "metadata", "uid"));
    same(member2(doc, "status", "allocation"), member2(got, "status", "allocation"));
  }
  if ((got == NULL) == (err == NULL))
    abort(); /* an error exactly when there is no result */
  json_decref(doc);
  json_decref(got);
  nd_error_release(&err);
  return 0;
}
