/* published_index.c: (pool, device) -> (slice number, taints), a sorted array searched by
 * bisection; see published_index.h. */
#include "published_index.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "slice_planner.h"

typedef struct {
  const char *pool;   /* borrowed from the summary */
  const char *device; /* borrowed from the summary */
  nd_published_device pub;
} entry;

struct nd_published_index {
  entry *entries;
  size_t n, cap;
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

/* Room for n entries; it grows by an eighth (a changed slice adds at most 128 entries, and
 * 100,000 devices take 3.2 MB: doubling would hold up to as much again unused). */
static void reserve(nd_published_index *ix, size_t n) {
  ix->entries = nd_grow_gently(ix->entries, &ix->cap, n, sizeof(*ix->entries), 128);
}

/* The entries of slice s, appended at out (room for s->n_devices); returns how many. */
static size_t slice_entries(const nd_published_slice *s, const char *driver, entry *out) {
  int number = (int)nd_slice_number(driver, s->pool, s->name);
  size_t k = 0;
  for (const char *d = nd_published_slice_next_device(s, NULL); d != NULL;
       d = nd_published_slice_next_device(s, d))
    out[k++] = (entry){.pool = s->pool,
                       .device = d,
                       .pub = {.slice = number, .taints = nd_published_slice_taints(s, d)}};
  return k;
}

void nd_published_index_build(nd_published_index *ix, const nd_published_slice *const *slices,
                              size_t n_slices, const char *driver) {
  size_t total = 0;
  for (size_t i = 0; i < n_slices; i++)
    total += slices[i]->n_devices;
  reserve(ix, total + 1);
  size_t k = 0;
  for (size_t i = 0; i < n_slices; i++)
    k += slice_entries(slices[i], driver, ix->entries + k);
  ix->n = k;
  qsort(ix->entries, ix->n, sizeof(*ix->entries), cmp_entry);
}

/* Is the name pointer d one of slice s's (its entries borrow them)? */
static bool borrowed_from(const nd_published_slice *s, const char *d) {
  return d >= s->device_names && d < s->device_names + s->device_names_len;
}

void nd_published_index_replace(nd_published_index *ix, const nd_published_slice *old,
                                const nd_published_slice *fresh, const char *driver) {
  /* drop old's entries (told apart from another slice's entry of the same name, during a
   * move, by the memory their names are borrowed from), keeping the order */
  if (old != NULL && old->n_devices > 0) {
    size_t k = 0;
    for (size_t i = 0; i < ix->n; i++)
      if (!(ix->entries[i].pool == old->pool && borrowed_from(old, ix->entries[i].device)))
        ix->entries[k++] = ix->entries[i];
    ix->n = k;
  }
  if (fresh == NULL || fresh->n_devices == 0)
    return;
  /* merge fresh's entries (sorted) in from the back */
  size_t m = fresh->n_devices;
  entry *add = calloc(m, sizeof(*add));
  if (add == NULL)
    abort();
  m = slice_entries(fresh, driver, add);
  qsort(add, m, sizeof(*add), cmp_entry);
  reserve(ix, ix->n + m);
  size_t i = ix->n, j = m, k = ix->n + m;
  while (j > 0) {
    if (i > 0 && cmp_entry(&ix->entries[i - 1], &add[j - 1]) > 0)
      ix->entries[--k] = ix->entries[--i];
    else
      ix->entries[--k] = add[--j];
  }
  ix->n += m;
  free(add);
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

nd_published_walk nd_published_index_walk(const nd_published_index *ix, const char *pool) {
  size_t lo = 0, hi = ix->n; /* the first entry of the pool (or where it would be) */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(ix->entries[mid].pool, pool) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (nd_published_walk){.ix = ix, .pool = pool, .at = lo};
}

const nd_published_device *nd_published_walk_find(nd_published_walk *w, const char *device) {
  const nd_published_index *ix = w->ix;
  while (w->at < ix->n) {
    const entry *e = &ix->entries[w->at];
    int c = cmp_key(e->pool, e->device, w->pool, device);
    if (c == 0)
      return &e->pub;
    if (c > 0)
      return NULL; /* past it: not published (the walk stays here for the next name) */
    w->at++;
  }
  return NULL;
}
