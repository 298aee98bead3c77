/* slice_spec_digest.h: the published state of a ResourceSlice spec as a fixed-size digest.
 *
 * Two specs are the same published state when they are equal after dropping object members
 * that hold an empty value (null, false, "", [], {}: the API server treats them as absent),
 * comparing objects key-wise and lists in order. The digest is SHA-256 of an injective
 * encoding of that normalised spec with sorted keys (made while walking the spec, without a
 * copy or JSON text), so equal digests mean exactly that equality: the controller keeps a
 * digest per published slice instead of the slice itself. Other digests of the same size (the
 * planner's fingerprints) are made with the builder below. */
#ifndef NETDRA_CONTROLLER_SLICE_SPEC_DIGEST_H
#define NETDRA_CONTROLLER_SLICE_SPEC_DIGEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define ND_SPEC_DIGEST_LEN 32

typedef struct {
  unsigned char bytes[ND_SPEC_DIGEST_LEN];
} nd_spec_digest;

/* The digest of a spec (NULL: the digest of null). */
nd_spec_digest nd_slice_spec_digest(const json_t *spec);
bool nd_spec_digest_equal(const nd_spec_digest *a, const nd_spec_digest *b);

/* SHA-256 of bytes fed in any pieces (buffered: small pieces cost no more than one large one).
 * Aborts when out of memory; end frees the builder. */
typedef struct nd_digest_builder nd_digest_builder;
nd_digest_builder *nd_digest_begin(void);
void nd_digest_feed(nd_digest_builder *b, const void *data, size_t len);
nd_spec_digest nd_digest_end(nd_digest_builder *b);

#endif
