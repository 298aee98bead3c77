/* slice_spec_digest.c: normalised spec -> SHA-256 (see slice_spec_digest.h). */
#include "slice_spec_digest.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_dump.h"

static bool empty_value(const json_t *v) {
  return json_is_null(v) || json_is_false(v) ||
         (json_is_string(v) && json_string_length(v) == 0) ||
         (json_is_array(v) && json_array_size(v) == 0) ||
         (json_is_object(v) && json_object_size(v) == 0);
}

/* A copy without object members that hold an empty value (null, false, "", [], {}): the API
 * server treats them as absent (omitempty), so they must not cause a write. */
static json_t *without_empty(const json_t *v) {
  if (json_is_object(v)) {
    json_t *out = json_object();
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
      json_t *c = without_empty(m);
      if (empty_value(c))
        json_decref(c);
      else
        json_object_set_new(out, k, c);
    }
    return out;
  }
  if (json_is_array(v)) {
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) json_array_append_new(out, without_empty(m));
    return out;
  }
  return json_incref((json_t *)v);
}

nd_spec_digest nd_slice_spec_digest(const json_t *spec) {
  nd_spec_digest d;
  cleanup_json json_t *norm = spec != NULL ? without_empty(spec) : json_null();
  /* sorted keys: objects compare key-wise; arrays keep their order */
  cleanup_free char *text = nd_json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  unsigned int len = 0;
  if (text == NULL ||
      EVP_Digest(text, strlen(text), d.bytes, &len, EVP_sha256(), NULL) != 1 ||
      len != ND_SPEC_DIGEST_LEN)
    abort(); /* out of memory */
  return d;
}

bool nd_spec_digest_equal(const nd_spec_digest *a, const nd_spec_digest *b) {
  return memcmp(a->bytes, b->bytes, ND_SPEC_DIGEST_LEN) == 0;
}
