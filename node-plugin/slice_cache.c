/* slice_cache.c: watch-fed cache of our driver's ResourceSlices; see slice_cache.h. */
#include "slice_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"

#define SLICES_PATH "/apis/resource.k8s.io/v1/resourceslices"

struct nd_slice_cache {
  pthread_mutex_t mu;
  nd_k8s_client *k8s;
  char *driver;
  char *query; /* fieldSelector=spec.driver%3D<driver> */
  json_t *slices; /* name -> slice */
  /* "<pool>\x1f<device>" -> [names of the slices that list the device]: a lookup reads the
   * few slices that hold the device, not every slice of the driver in the cluster */
  json_t *index;
  nd_k8s_watch *watch;
  nd_slice_cache_changed_cb changed;
  void *changed_data;
};

nd_slice_cache *nd_slice_cache_new(nd_k8s_client *k8s, const char *driver, nd_error_t *err) {
  nd_slice_cache *sc = calloc(1, sizeof(*sc));
  if (sc == NULL) {
    nd_error_make(err, ENOMEM, "slice cache: out of memory");
    return NULL;
  }
  pthread_mutex_init(&sc->mu, NULL);
  sc->k8s = k8s;
  sc->driver = strdup(driver);
  sc->slices = json_object();
  sc->index = json_object();
  cleanup_free char *sel = NULL;
  cleanup_free char *esc = NULL;
  if (asprintf(&sel, "spec.driver=%s", driver) < 0 || (esc = nd_k8s_escape(sel)) == NULL ||
      asprintf(&sc->query, "fieldSelector=%s", esc) < 0) {
    sc->query = NULL;
    nd_slice_cache_free(sc);
    nd_error_make(err, ENOMEM, "slice cache: out of memory");
    return NULL;
  }
  return sc;
}

void nd_slice_cache_free(nd_slice_cache *sc) {
  if (sc == NULL)
    return;
  if (sc->watch)
    nd_k8s_watch_stop(sc->watch);
  json_decref(sc->slices);
  json_decref(sc->index);
  pthread_mutex_destroy(&sc->mu);
  free(sc->driver);
  free(sc->query);
  free(sc);
}

static const char *slice_name(const json_t *slice) {
  return json_string_value(json_object_get(json_object_get(slice, "metadata"), "name"));
}

static const char *slice_pool(const json_t *slice) {
  return json_string_value(
      json_object_get(json_object_get(json_object_get(slice, "spec"), "pool"), "name"));
}

/* The index key of pool/device in buf; false when the names are too long to be valid (the API
 * server allows 253 + 63 bytes: such a device cannot be allocated either). */
static bool index_key(char *buf, size_t size, const char *pool, const char *device) {
  int n = snprintf(buf, size, "%s\x1f%s", pool, device);
  return n > 0 && (size_t)n < size;
}

/* Add (or remove) the devices of one slice to (from) the index. */
static void index_slice(json_t *index, const json_t *slice, bool add) {
  const char *name = slice_name(slice), *pool = slice_pool(slice);
  if (name == NULL || pool == NULL)
    return;
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(json_object_get(slice, "spec"), "devices"), i, d) {
    const char *dn = json_string_value(json_object_get(d, "name"));
    char key[512];
    if (dn == NULL || !index_key(key, sizeof(key), pool, dn))
      continue;
    json_t *names = json_object_get(index, key);
    size_t at = json_array_size(names);
    for (size_t k = 0; k < json_array_size(names); k++)
      if (strcmp(json_string_value(json_array_get(names, k)), name) == 0)
        at = k;
    if (add && at == json_array_size(names)) {
      if (names == NULL)
        json_object_set_new(index, key, names = json_array());
      json_array_append_new(names, json_string(name));
    } else if (!add && at < json_array_size(names)) {
      json_array_remove(names, at);
      if (json_array_size(names) == 0)
        json_object_del(index, key);
    }
  }
}

void nd_slice_cache_replace(nd_slice_cache *sc, const json_t *items) {
  json_t *fresh = json_object(), *index = json_object();
  size_t i;
  json_t *s;
  json_array_foreach(items, i, s) {
    const char *name = slice_name(s);
    if (name == NULL)
      continue;
    json_t *old = json_object_get(fresh, name); /* a list names each slice once; in case */
    if (old)
      index_slice(index, old, false);
    json_object_set(fresh, name, s);
    index_slice(index, s, true);
  }
  pthread_mutex_lock(&sc->mu);
  json_decref(sc->slices);
  json_decref(sc->index);
  sc->slices = fresh;
  sc->index = index;
  pthread_mutex_unlock(&sc->mu);
}

void nd_slice_cache_apply(nd_slice_cache *sc, bool deleted, const json_t *slice) {
  const char *name = slice_name(slice);
  if (name == NULL)
    return;
  pthread_mutex_lock(&sc->mu);
  json_t *old = json_object_get(sc->slices, name);
  if (old)
    index_slice(sc->index, old, false);
  if (deleted) {
    json_object_del(sc->slices, name);
  } else {
    json_object_set(sc->slices, name, (json_t *)slice);
    index_slice(sc->index, slice, true);
  }
  pthread_mutex_unlock(&sc->mu);
}

static void on_watch(nd_k8s_client *c, nd_watch_event ev, json_t *obj, void *data) {
  nd_slice_cache *sc = data;
  switch (ev) {
  case ND_WATCH_SYNCED:
    nd_slice_cache_replace(sc, json_object_get(obj, "items"));
    break;
  case ND_WATCH_ADDED:
  case ND_WATCH_MODIFIED:
    nd_slice_cache_apply(sc, false, obj);
    break;
  case ND_WATCH_DELETED:
    nd_slice_cache_apply(sc, true, obj);
    break;
  case ND_WATCH_BOOKMARK:
    return;
  }
  if (sc->changed)
    sc->changed(sc->changed_data);
}

int nd_slice_cache_start(nd_slice_cache *sc, nd_slice_cache_changed_cb cb, void *data,
                         nd_error_t *err) {
  sc->changed = cb;
  sc->changed_data = data;
  sc->watch = nd_k8s_watch_start(sc->k8s, SLICES_PATH, sc->query, on_watch, sc, err);
  return sc->watch ? 0 : nd_error_wrap(err, "watching ResourceSlices of driver %s", sc->driver);
}

static json_t *find_locked(nd_slice_cache *sc, const char *pool, const char *device,
                           char **node_name) {
  json_t *best_dev = NULL;
  const json_t *best_slice = NULL;
  long long best_gen = -1;
  char key[512];
  if (!index_key(key, sizeof(key), pool, device))
    return NULL;
  size_t k;
  json_t *name;
  json_array_foreach(json_object_get(sc->index, key), k, name) {
    const json_t *slice = json_object_get(sc->slices, json_string_value(name));
    const json_t *spec = json_object_get(slice, "spec");
    long long gen = json_integer_value(json_object_get(json_object_get(spec, "pool"), "generation"));
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(spec, "devices"), i, d) {
      const char *dn = json_string_value(json_object_get(d, "name"));
      if (dn && strcmp(dn, device) == 0 && gen > best_gen) {
        best_gen = gen;
        best_dev = d;
        best_slice = slice;
      }
    }
  }
  if (best_dev == NULL)
    return NULL;
  const char *nn =
      json_string_value(json_object_get(json_object_get(best_slice, "spec"), "nodeName"));
  *node_name = nn ? strdup(nn) : NULL;
  /* cached slices are replaced, never changed, so the device object can be shared (jansson's
   * reference counts are atomic) */
  return json_incref(best_dev);
}

json_t *nd_slice_cache_lookup(nd_slice_cache *sc, const char *pool, const char *device,
                              bool allow_relist, char **node_name, nd_error_t *err) {
  cleanup_json json_t *list = NULL;
  cleanup_free char *rv = NULL;
  *node_name = NULL;
  pthread_mutex_lock(&sc->mu);
  json_t *dev = find_locked(sc, pool, device, node_name);
  pthread_mutex_unlock(&sc->mu);
  if (dev || !allow_relist || sc->k8s == NULL)
    goto done;
  if (nd_k8s_list_all(sc->k8s, SLICES_PATH, sc->query, 500, &list, &rv, err) < 0) {
    nd_error_wrap(err, "listing ResourceSlices of driver %s", sc->driver);
    return NULL;
  }
  nd_slice_cache_replace(sc, json_object_get(list, "items"));
  pthread_mutex_lock(&sc->mu);
  dev = find_locked(sc, pool, device, node_name);
  pthread_mutex_unlock(&sc->mu);
done:
  if (dev == NULL)
    nd_error_make(err, ENOENT, "device %s/%s of driver %s is not in any ResourceSlice", pool,
                  device, sc->driver);
  return dev;
}

const char *nd_slice_device_string_attr(const json_t *device, const char *driver,
                                        const char *key) {
  const json_t *attrs = json_object_get(device, "attributes");
  const json_t *a = json_object_get(attrs, key);
  if (a == NULL) {
    char q[400];
    snprintf(q, sizeof(q), "%s/%s", driver, key);
    a = json_object_get(attrs, q);
  }
  return json_string_value(json_object_get(a, "string"));
}

bool nd_slice_device_unreachable(const json_t *device, const char *driver) {
  char key[400];
  snprintf(key, sizeof(key), "%s/unreachable", driver);
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(device, "taints"), i, t) {
    const char *k = json_string_value(json_object_get(t, "key"));
    if (k && strcmp(k, key) == 0)
      return true;
  }
  return false;
}
