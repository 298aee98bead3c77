/* grow.c: doubling (or gentle) growth of arrays; see grow.h. */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

/* arr reallocated to n elements (n >= need); aborts when that fails or overflows. */
static void *resize(void *arr, size_t *cap, size_t n, size_t elem_size) {
  if (elem_size != 0 && n > SIZE_MAX / elem_size)
    abort();
  void *grown = realloc(arr, n * elem_size);
  if (grown == NULL)
    abort();
  *cap = n;
  return grown;
}

int nd_grow_try(void **arr, size_t *cap, size_t need, size_t elem_size, size_t first) {
  if (need <= *cap && *arr != NULL)
    return 0;
  size_t n = *cap > 0 ? *cap : (first > 0 ? first : 1);
  while (n < need) {
    if (n > SIZE_MAX / 2)
      return -1;
    n *= 2;
  }
  if (elem_size != 0 && n > SIZE_MAX / elem_size)
    return -1;
  void *grown = realloc(*arr, n * elem_size);
  if (grown == NULL)
    return -1;
  *arr = grown;
  *cap = n;
  return 0;
}

void *nd_grow(void *arr, size_t *cap, size_t need, size_t elem_size, size_t first) {
  if (nd_grow_try(&arr, cap, need, elem_size, first) < 0)
    abort();
  return arr;
}

void *nd_grow_gently(void *arr, size_t *cap, size_t need, size_t elem_size, size_t slack) {
  if (need <= *cap && arr != NULL)
    return arr;
  if (need > (SIZE_MAX - slack) / 9 * 8)
    abort();
  return resize(arr, cap, need + need / 8 + slack, elem_size);
}
