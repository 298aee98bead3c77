/* grow.c: doubling growth of arrays; see grow.h. */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

void *nd_grow(void *arr, size_t *cap, size_t need, size_t elem_size, size_t first) {
  if (need <= *cap && arr != NULL)
    return arr;
  size_t n = *cap > 0 ? *cap : (first > 0 ? first : 1);
  while (n < need) {
    if (n > SIZE_MAX / 2)
      abort();
    n *= 2;
  }
  if (elem_size != 0 && n > SIZE_MAX / elem_size)
    abort();
  void *grown = realloc(arr, n * elem_size);
  if (grown == NULL)
    abort();
  *cap = n;
  return grown;
}
