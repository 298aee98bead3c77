/* grow.h: the one way arrays grow. Every growable array in netdra is a pointer, a count and a
 * capacity; nd_grow makes room for `need` elements, doubling the capacity (from `first`), and
 * aborts when memory is exhausted or the size overflows, as an allocation failure is not
 * recoverable in these daemons. Arrays that must not double (the controller's 100,000-entry
 * indexes grow by an eighth) size themselves. */
#ifndef NETDRA_GROW_H
#define NETDRA_GROW_H

#include <stddef.h>

/* arr (NULL for none yet) with room for at least need elements of elem_size bytes; *cap is
 * updated. */
void *nd_grow(void *arr, size_t *cap, size_t need, size_t elem_size, size_t first);

/* ND_GROW(arr, cap, need, first): arr = nd_grow(arr, &cap, need, sizeof(*arr), first). */
#define ND_GROW(arr, cap, need, first)                                                            \
  ((arr) = nd_grow((arr), &(cap), (need), sizeof(*(arr)), (first)))

#endif
