/* published_index.c: pool -> device -> (published object, slice number); see
 * published_index.h. All entries of one build live in one array. */
#include "published_index.h"

#include <stdlib.h>

#include "slice_planner.h"
#include "strmap.h"

struct nd_published_index {
  nd_strmap *pools; /* pool -> nd_strmap (device name -> nd_published_device in entries) */
  nd_published_device *entries;
};

nd_published_index *nd_published_index_new(void) {
  nd_published_index *ix = calloc(1, sizeof(*ix));
  if (ix == NULL || (ix->pools = nd_strmap_new()) == NULL)
    abort();
  return ix;
}

static void free_pool_map(void *m) { nd_strmap_free(m, NULL); }

static void clear(nd_published_index *ix) {
  nd_strmap_free(ix->pools, free_pool_map);
  ix->pools = nd_strmap_new();
  if (ix->pools == NULL)
    abort();
  free(ix->entries);
  ix->entries = NULL;
}

void nd_published_index_free(nd_published_index *ix) {
  if (ix == NULL)
    return;
  nd_strmap_free(ix->pools, free_pool_map);
  free(ix->entries);
  free(ix);
}

static const json_t *spec_of(const json_t *slice) { return json_object_get(slice, "spec"); }

static const char *pool_of(const json_t *slice) {
  return json_string_value(json_object_get(json_object_get(spec_of(slice), "pool"), "name"));
}

void nd_published_index_build(nd_published_index *ix, const json_t *slices, const char *driver) {
  clear(ix);
  size_t total = 0;
  const char *name;
  json_t *slice;
  json_object_foreach((json_t *)slices, name, slice)
    total += json_array_size(json_object_get(spec_of(slice), "devices"));
  ix->entries = calloc(total + 1, sizeof(*ix->entries));
  if (ix->entries == NULL)
    abort();
  size_t k = 0;
  json_object_foreach((json_t *)slices, name, slice) {
    const char *pool = pool_of(slice);
    if (pool == NULL)
      continue;
    nd_strmap *devices = nd_strmap_get(ix->pools, pool);
    if (devices == NULL) {
      devices = nd_strmap_new();
      if (devices == NULL)
        abort();
      nd_strmap_put(ix->pools, pool, devices);
    }
    int number = (int)nd_slice_number(driver, pool, name);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(spec_of(slice), "devices"), i, d) {
      const char *device = json_string_value(json_object_get(d, "name"));
      if (device == NULL)
        continue;
      ix->entries[k] = (nd_published_device){.device = d, .slice = number};
      nd_strmap_put(devices, device, &ix->entries[k++]);
    }
  }
}

const nd_published_device *nd_published_index_find(const nd_published_index *ix,
                                                   const char *pool, const char *device) {
  const nd_strmap *devices = nd_strmap_get(ix->pools, pool);
  return devices != NULL ? nd_strmap_get(devices, device) : NULL;
}
