/* slice_cache.c: watch-fed cache of our driver's ResourceSlices; see slice_cache.h. */
#include "slice_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_dump.h"
#include "log.h"

#define SLICES_PATH "/apis/resource.k8s.io/v1/resourceslices"
#define PARSED_MAX 128

struct nd_slice_cache {
  pthread_mutex_t mu;
  nd_k8s_client *k8s;
  char *driver;
  char *query; /* fieldSelector=spec.driver%3D<driver> */
  /* A node plugin caches every slice of the driver in the cluster, so each is kept as what a
   * lookup needs: name -> {"pool", "generation", "nodeName", "devices": {name: compact JSON text
   * of the device}} (about 250 bytes a device, against ~1.9 KB as parsed trees); a lookup
   * parses the one device it returns. */
  json_t *slices;
  json_t *pools; /* pool name -> [names of its slices]: a lookup reads only its pool's slices */
  /* The devices looked up lately, parsed: "%p" of the device's text -> [text, device]. A
   * node prepares a few devices again and again, and parsing one costs more than the rest of
   * the lookup. The pair holds the text, so its address is not reused while it is a key; a
   * slice update makes new texts, so an entry never answers for a changed device. Emptied
   * when it reaches PARSED_MAX entries. The devices are shared: read only. */
  json_t *parsed;
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
  sc->pools = json_object();
  sc->parsed = json_object();
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
  json_decref(sc->pools);
  json_decref(sc->parsed);
  pthread_mutex_destroy(&sc->mu);
  free(sc->driver);
  free(sc->query);
  free(sc);
}

static const char *slice_name(const json_t *slice) {
  return json_string_value(json_object_get(json_object_get(slice, "metadata"), "name"));
}

/* What the cache keeps of a slice (see struct nd_slice_cache), or NULL for a slice without a
 * pool name. */
static json_t *slice_record(const json_t *slice) {
  const json_t *spec = json_object_get(slice, "spec");
  const json_t *pool = json_object_get(spec, "pool");
  const char *pool_name = json_string_value(json_object_get(pool, "name"));
  if (pool_name == NULL)
    return NULL;
  json_t *devices = json_object();
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(spec, "devices"), i, d) {
    const char *dn = json_string_value(json_object_get(d, "name"));
    char *text = dn ? nd_json_dumps(d, JSON_COMPACT) : NULL;
    if (text)
      json_object_set_new(devices, dn, json_string_nocheck(text));
    free(text);
  }
  const json_t *node = json_object_get(spec, "nodeName");
  return json_pack("{s:s, s:I, s:O, s:o}", "pool", pool_name, "generation",
                   json_integer_value(json_object_get(pool, "generation")), "nodeName",
                   json_is_string(node) ? node : json_null(), "devices", devices);
}

/* Add (or remove) a slice's name to (from) its pool's list. */
static void pool_list(json_t *pools, const char *pool, const char *name, bool add) {
  json_t *names = json_object_get(pools, pool);
  size_t at = json_array_size(names);
  for (size_t k = 0; k < json_array_size(names); k++)
    if (strcmp(json_string_value(json_array_get(names, k)), name) == 0)
      at = k;
  if (add && at == json_array_size(names)) {
    if (names == NULL)
      json_object_set_new(pools, pool, names = json_array());
    json_array_append_new(names, json_string(name));
  } else if (!add && at < json_array_size(names)) {
    json_array_remove(names, at);
    if (json_array_size(names) == 0)
      json_object_del(pools, pool);
  }
}

/* Put (record non-NULL) or drop a slice's record, keeping the pool lists. */
static void set_record(json_t *slices, json_t *pools, const char *name, json_t *record) {
  const json_t *old = json_object_get(slices, name);
  if (old)
    pool_list(pools, json_string_value(json_object_get(old, "pool")), name, false);
  if (record == NULL) {
    json_object_del(slices, name);
    return;
  }
  pool_list(pools, json_string_value(json_object_get(record, "pool")), name, true);
  json_object_set_new(slices, name, record);
}

void nd_slice_cache_replace(nd_slice_cache *sc, const json_t *items) {
  json_t *slices = json_object(), *pools = json_object();
  size_t i;
  json_t *s;
  json_array_foreach(items, i, s) {
    const char *name = slice_name(s);
    if (name)
      set_record(slices, pools, name, slice_record(s));
  }
  pthread_mutex_lock(&sc->mu);
  json_decref(sc->slices);
  json_decref(sc->pools);
  sc->slices = slices;
  sc->pools = pools;
  pthread_mutex_unlock(&sc->mu);
}

void nd_slice_cache_apply(nd_slice_cache *sc, bool deleted, const json_t *slice) {
  const char *name = slice_name(slice);
  if (name == NULL)
    return;
  json_t *record = deleted ? NULL : slice_record(slice); /* built outside the lock */
  pthread_mutex_lock(&sc->mu);
  set_record(sc->slices, sc->pools, name, record);
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

/* The text of pool/device in the slice of its pool with the highest generation (a new
 * reference), and that slice's node name (heap or NULL). */
static json_t *find_locked(nd_slice_cache *sc, const char *pool, const char *device,
                           char **node_name) {
  json_t *best = NULL;
  const json_t *best_slice = NULL;
  long long best_gen = -1;
  size_t k;
  json_t *name;
  json_array_foreach(json_object_get(sc->pools, pool), k, name) {
    const json_t *rec = json_object_get(sc->slices, json_string_value(name));
    json_t *text = json_object_get(json_object_get(rec, "devices"), device);
    long long gen = json_integer_value(json_object_get(rec, "generation"));
    if (text && gen > best_gen) {
      best_gen = gen;
      best = text;
      best_slice = rec;
    }
  }
  if (best == NULL)
    return NULL;
  const char *nn = json_string_value(json_object_get(best_slice, "nodeName"));
  *node_name = nn ? strdup(nn) : NULL;
  return json_incref(best);
}

/* The device of pool/device (shared, read only), parsed from its cached text outside the
 * lock unless it was parsed lately, or NULL. */
static json_t *find(nd_slice_cache *sc, const char *pool, const char *device, char **node_name) {
  char key[32];
  pthread_mutex_lock(&sc->mu);
  json_t *text = find_locked(sc, pool, device, node_name);
  json_t *dev = NULL;
  if (text) {
    snprintf(key, sizeof(key), "%p", (void *)text);
    dev = json_incref(json_array_get(json_object_get(sc->parsed, key), 1));
  }
  pthread_mutex_unlock(&sc->mu);
  if (text && dev == NULL) {
    json_error_t jerr;
    dev = json_loadb(json_string_value(text), json_string_length(text), 0, &jerr);
    json_t *pair = dev ? json_pack("[O, O]", text, dev) : NULL;
    if (pair) {
      pthread_mutex_lock(&sc->mu);
      if (json_object_size(sc->parsed) >= PARSED_MAX)
        json_object_clear(sc->parsed);
      json_object_set_new(sc->parsed, key, pair);
      pthread_mutex_unlock(&sc->mu);
    }
  }
  json_decref(text);
  return dev;
}

json_t *nd_slice_cache_lookup(nd_slice_cache *sc, const char *pool, const char *device,
                              bool allow_relist, char **node_name, nd_error_t *err) {
  cleanup_json json_t *list = NULL;
  cleanup_free char *rv = NULL;
  *node_name = NULL;
  json_t *dev = find(sc, pool, device, node_name);
  if (dev || !allow_relist || sc->k8s == NULL)
    goto done;
  if (nd_k8s_list_all(sc->k8s, SLICES_PATH, sc->query, 500, &list, &rv, err) < 0) {
    nd_error_wrap(err, "listing ResourceSlices of driver %s", sc->driver);
    return NULL;
  }
  nd_slice_cache_replace(sc, json_object_get(list, "items"));
  dev = find(sc, pool, device, node_name);
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
