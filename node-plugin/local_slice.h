/* local_slice.h: publishes the node's local GPUs as a node-local ResourceSlice
 * (spec.nodeName = node, pool = node name, one slice named "<node>-<driver>-local").
 *
 * Runs on its own thread with the synchronous REST client: enumerate, compare with what the
 * API server holds (fieldSelector spec.nodeName=<node>,spec.driver=<driver>), then create,
 * update (pool generation + 1 whenever the device list changes) or leave alone; other slices
 * of this node and driver are deleted. An empty device list still publishes an empty slice
 * ("no devices" is not "no pool"). The check repeats every interval (the kubelet deletes
 * node-local slices at its start and 30 s after losing the plugin) and on nd_local_slice_kick.
 * Errors are logged, never fatal. The Node becomes the owner when it can be read. */
#ifndef NETDRA_NODE_PLUGIN_LOCAL_SLICE_H
#define NETDRA_NODE_PLUGIN_LOCAL_SLICE_H

#include <jansson.h>

#include "error.h"
#include "k8s_client.h"

/* Returns the ResourceSlice device objects of the local GPUs (new reference, an array). */
typedef json_t *(*nd_local_enumerate_fn)(const char *dev_root, nd_error_t *err);

typedef struct nd_local_slice nd_local_slice;

nd_local_slice *nd_local_slice_start(nd_k8s_client *k8s, const char *driver, const char *node,
                                     const char *dev_root, nd_local_enumerate_fn enumerate,
                                     int interval_s, nd_error_t *err);
/* Publish again now (e.g. right after registration). Thread-safe. */
void nd_local_slice_kick(nd_local_slice *ls);
/* One synchronous round (tests); 0 when the API server holds the desired slice. */
int nd_local_slice_sync(nd_local_slice *ls, nd_error_t *err);
/* Number of completed successful rounds (tests, /metrics). */
unsigned long nd_local_slice_rounds(nd_local_slice *ls);
/* Stop the thread; slices stay (the kubelet or Node GC cleans them up). */
void nd_local_slice_stop(nd_local_slice *ls);

#endif
