/* published_index.c: (pool, device) -> (slice number, taints), a sorted array searched by
 * bisection; see published_index.h. */
#include "published_index.h"

#include <stdlib.h>
#include <string.h>

#include "slice_planner.h"

typedef struct {
  const char *pool;   /* borrowed from the summary */
  const char *device; /* borrowed from the summary */
  nd_published_device pub;
} entry;

struct nd_published_index {
  entry *entries;
  size_t n;
};

nd_published_index *nd_published_index_new(void) {
  nd_published_index *ix = calloc(1, sizeof(*ix));
  if (ix == NULL)
    abort();
  return ix;
}

void nd_published_index_free(nd_published_index *ix) {
  if (ix == NULL)
    return;
  free(ix->entries);
  free(ix);
}

static int cmp_key(const char *pool_a, const char *dev_a, const char *pool_b,
                   const char *dev_b) {
  int c = strcmp(pool_a, pool_b);
  return c != 0 ? c : strcmp(dev_a, dev_b);
}

static int cmp_entry(const void *a, const void *b) {
  const entry *x = a, *y = b;
  return cmp_key(x->pool, x->device, y->pool, y->device);
}

void nd_published_index_build(nd_published_index *ix, const nd_published_slice *const *slices,
                              size_t n_slices, const char *driver) {
  free(ix->entries);
  size_t total = 0;
  for (size_t i = 0; i < n_slices; i++)
    total += slices[i]->n_devices;
  ix->entries = calloc(total + 1, sizeof(*ix->entries));
  if (ix->entries == NULL)
    abort();
  size_t k = 0;
  for (size_t i = 0; i < n_slices; i++) {
    const nd_published_slice *s = slices[i];
    int number = (int)nd_slice_number(driver, s->pool, s->name);
    for (const char *d = nd_published_slice_next_device(s, NULL); d != NULL;
         d = nd_published_slice_next_device(s, d))
      ix->entries[k++] = (entry){.pool = s->pool,
                                 .device = d,
                                 .pub = {.slice = number, .taints = nd_published_slice_taints(s, d)}};
  }
  ix->n = k;
  qsort(ix->entries, ix->n, sizeof(*ix->entries), cmp_entry);
}

const nd_published_device *nd_published_index_find(const nd_published_index *ix,
                                                   const char *pool, const char *device) {
  size_t lo = 0, hi = ix->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_key(pool, device, ix->entries[mid].pool, ix->entries[mid].device);
    if (c == 0)
      return &ix->entries[mid].pub;
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}
