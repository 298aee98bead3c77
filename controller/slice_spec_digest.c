/* slice_spec_digest.c: normalised spec -> SHA-256 (see slice_spec_digest.h). */
#include "slice_spec_digest.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* The digest is fed a canonical encoding of the normalised spec, written as the tree is walked
 * (no normalised copy, no JSON text): every value is a tag byte, then strings and keys their
 * length and bytes, integers and reals their 8 bytes; arrays and objects end with a tag of
 * their own; object members in key order. It is injective, so equal digests mean equal
 * normalised specs, as with the sorted compact JSON it replaces. */
struct nd_digest_builder {
  EVP_MD_CTX *ctx;
  size_t n;
  unsigned char buf[4096];
};
static void flush(nd_digest_builder *s) {
  if (s->n > 0 && EVP_DigestUpdate(s->ctx, s->buf, s->n) != 1)
    abort();
  s->n = 0;
}

void nd_digest_feed(nd_digest_builder *s, const void *data, size_t len) {
  if (s->n + len > sizeof(s->buf)) {
    flush(s);
    if (len > sizeof(s->buf)) {
      if (EVP_DigestUpdate(s->ctx, data, len) != 1)
        abort();
      return;
    }
  }
  memcpy(s->buf + s->n, data, len);
  s->n += len;
}

nd_digest_builder *nd_digest_begin(void) {
  static EVP_MD *sha256; /* fetched once: an implicit fetch per digest costs more than a slice */
  if (__atomic_load_n(&sha256, __ATOMIC_ACQUIRE) == NULL) {
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL), *none = NULL;
    if (md == NULL)
      abort();
    if (!__atomic_compare_exchange_n(&sha256, &none, md, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      EVP_MD_free(md);
  }
  nd_digest_builder *b = malloc(sizeof(*b));
  if (b == NULL || (b->ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(b->ctx, sha256, NULL) != 1)
    abort(); /* out of memory */
  b->n = 0;
  return b;
}

nd_spec_digest nd_digest_end(nd_digest_builder *b) {
  nd_spec_digest d;
  flush(b);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(b->ctx, d.bytes, &len) != 1 || len != ND_SPEC_DIGEST_LEN)
    abort();
  EVP_MD_CTX_free(b->ctx);
  free(b);
  return d;
}

static void put_tag(nd_digest_builder *s, char tag) { nd_digest_feed(s, &tag, 1); }

static void put_bytes(nd_digest_builder *s, char tag, const char *data, size_t len) {
  uint64_t n = len;
  put_tag(s, tag);
  nd_digest_feed(s, &n, sizeof(n));
  nd_digest_feed(s, data, len);
}

/* Does v count as absent where it is an object member (the API server's omitempty): null,
 * false, "", [], or an object whose members all count as absent? */
static bool empty_member(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_NULL:
  case JSON_FALSE:
    return true;
  case JSON_STRING:
    return json_string_length(v) == 0;
  case JSON_ARRAY:
    return json_array_size(v) == 0;
  case JSON_OBJECT: {
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) if (!empty_member(m)) return false;
    return true;
  }
  default:
    return false;
  }
}

typedef struct {
  const char *key;
  size_t len;
  const json_t *value;
} member;

static int cmp_member(const void *a, const void *b) {
  const member *x = a, *y = b;
  int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
  return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static void put_value(nd_digest_builder *s, const json_t *v);

static void put_object(nd_digest_builder *s, const json_t *v) {
  size_t n = json_object_size(v), k = 0;
  member local[32];
  cleanup_free member *heap = n > ND_ARRAY_LEN(local) ? malloc(n * sizeof(member)) : NULL;
  member *m = n > ND_ARRAY_LEN(local) ? heap : local;
  if (m == NULL)
    abort(); /* out of memory */
  const char *key;
  size_t key_len;
  json_t *value;
  json_object_keylen_foreach((json_t *)v, key, key_len, value) {
    if (!empty_member(value))
      m[k++] = (member){key, key_len, value};
  }
  qsort(m, k, sizeof(member), cmp_member);
  put_tag(s, 'o');
  for (size_t i = 0; i < k; i++) {
    put_bytes(s, 'k', m[i].key, m[i].len);
    put_value(s, m[i].value);
  }
  put_tag(s, 'e');
}

static void put_value(nd_digest_builder *s, const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    put_object(s, v);
    return;
  case JSON_ARRAY: { /* elements are kept, empty or not: only members are omitempty */
    put_tag(s, 'a');
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) put_value(s, e);
    put_tag(s, 'e');
    return;
  }
  case JSON_STRING:
    put_bytes(s, 's', json_string_value(v), json_string_length(v));
    return;
  case JSON_INTEGER: {
    json_int_t i = json_integer_value(v);
    put_tag(s, 'i');
    nd_digest_feed(s, &i, sizeof(i));
    return;
  }
  case JSON_REAL: {
    double d = json_real_value(v);
    put_tag(s, 'r');
    nd_digest_feed(s, &d, sizeof(d));
    return;
  }
  case JSON_TRUE:
    put_tag(s, 't');
    return;
  case JSON_FALSE:
    put_tag(s, 'f');
    return;
  case JSON_NULL:
    put_tag(s, 'n');
    return;
  }
}

nd_spec_digest nd_slice_spec_digest(const json_t *spec) {
  nd_digest_builder *b = nd_digest_begin();
  if (spec != NULL)
    put_value(b, spec);
  else
    put_tag(b, 'n');
  return nd_digest_end(b);
}

bool nd_spec_digest_equal(const nd_spec_digest *a, const nd_spec_digest *b) {
  return memcmp(a->bytes, b->bytes, ND_SPEC_DIGEST_LEN) == 0;
}
