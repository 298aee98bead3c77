/* grow.h: the one way arrays grow. Every growable array in netdra is a pointer, a count and a
 * capacity; nd_grow makes room for `need` elements, doubling the capacity (from `first`), and
 * aborts when memory is exhausted or the size overflows, as an allocation failure is not
 * recoverable in these daemons. nd_grow_try grows the same way but reports the failure, for
 * the few functions whose contract is to answer NULL or ENOMEM (nd_json_dumps, the event
 * loop's timers, the GPU enumeration). nd_grow_gently grows by an eighth instead, for the arrays of
 * 100,000s of entries (the controller's device indexes) that doubling would leave up to half
 * unused. */
#ifndef NETDRA_GROW_H
#define NETDRA_GROW_H

#include <stddef.h>

/* arr (NULL for none yet) with room for at least need elements of elem_size bytes; *cap is
 * updated. */
void *nd_grow(void *arr, size_t *cap, size_t need, size_t elem_size, size_t first);

/* *arr with room for at least need elements, as nd_grow; 0, or -1 (and *arr, *cap unchanged)
 * when memory is exhausted or the size overflows. */
int nd_grow_try(void **arr, size_t *cap, size_t need, size_t elem_size, size_t first);

/* arr with room for at least need elements, growing to need + need / 8 + slack when it must
 * grow; *cap is updated. */
void *nd_grow_gently(void *arr, size_t *cap, size_t need, size_t elem_size, size_t slack);

/* ND_GROW(arr, cap, need, first): arr = nd_grow(arr, &cap, need, sizeof(*arr), first). */
#define ND_GROW(arr, cap, need, first)                                                            \
  ((arr) = nd_grow((arr), &(cap), (need), sizeof(*(arr)), (first)))

/* ND_GROW_TRY(arr, cap, need, first): nd_grow_try on a typed array; 0 or -1. */
#define ND_GROW_TRY(arr, cap, need, first)                                                        \
  ({                                                                                              \
    void *grow_arr_ = (arr);                                                                      \
    int grow_rc_ = nd_grow_try(&grow_arr_, &(cap), (need), sizeof(*(arr)), (first));              \
    (arr) = grow_arr_;                                                                            \
    grow_rc_;                                                                                     \
  })

#endif
