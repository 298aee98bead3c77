/* slice_cache.h: the ResourceSlices of our driver, kept current by a watch on the event loop,
 * to look up the allocated device's attributes (type, endpoint, secretRef, ...) at prepare.
 * Lookups are thread-safe (worker threads); a device not in the cache is looked up once more
 * with a synchronous list (the watch may lag behind a fresh allocation). */
#ifndef NETDRA_NODE_PLUGIN_SLICE_CACHE_H
#define NETDRA_NODE_PLUGIN_SLICE_CACHE_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "evloop.h"
#include "k8s_client.h"

typedef struct nd_slice_cache nd_slice_cache;
/* Runs on the loop after the cache changed (health stream updates). */
typedef void (*nd_slice_cache_changed_cb)(void *data);

nd_slice_cache *nd_slice_cache_new(nd_k8s_client *k8s, const char *driver, nd_error_t *err);
/* Start the watch (on the client's loop). */
int nd_slice_cache_start(nd_slice_cache *sc, nd_slice_cache_changed_cb cb, void *data,
                         nd_error_t *err);
void nd_slice_cache_free(nd_slice_cache *sc);

/* Replace the contents with the items of a ResourceSlice list (also used by tests). */
void nd_slice_cache_replace(nd_slice_cache *sc, const json_t *items);
void nd_slice_cache_apply(nd_slice_cache *sc, bool deleted, const json_t *slice);

/* The device object of pool/device (a new reference to a tree the cache shares: read only)
 * from the slice with the highest generation of that pool, and the slice's spec.nodeName
 * (heap, NULL when the slice has none).
 * Reads only the slices of that pool, each through a map of its devices.
 * allow_relist: on a miss, list the slices synchronously once (worker threads only).
 * Returns NULL with err when the device is not published. */
json_t *nd_slice_cache_lookup(nd_slice_cache *sc, const char *pool, const char *device,
                              bool allow_relist, char **node_name, nd_error_t *err);

/* String attribute of a device: key unqualified ("type") or "<driver>/type". */
const char *nd_slice_device_string_attr(const json_t *device, const char *driver,
                                        const char *key);
/* True when the device carries a taint with key <driver>/unreachable. */
bool nd_slice_device_unreachable(const json_t *device, const char *driver);

#endif
