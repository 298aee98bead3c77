/* slice_spec_equal.h: for tests, whether two ResourceSlice specs are the same published state,
 * as the controller decides it (equal digests, slice_spec_digest.h). The controller itself
 * compares a planned slice's digest with the one it keeps, never two specs. */
#ifndef NETDRA_TESTS_SLICE_SPEC_EQUAL_H
#define NETDRA_TESTS_SLICE_SPEC_EQUAL_H

#include <stdbool.h>

#include "slice_spec_digest.h"

static inline bool nd_slice_spec_equal(const json_t *a, const json_t *b) {
  if (a == NULL || b == NULL)
    return false;
  nd_spec_digest da = nd_slice_spec_digest(a), db = nd_slice_spec_digest(b);
  return nd_spec_digest_equal(&da, &db);
}

#endif
