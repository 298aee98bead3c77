/* gpu_slice.h: the node-local ResourceSlice of the node's GPUs (resource.k8s.io/v1).
 *
 * Each GPU becomes a device named gpu-<n> with attributes (driver domain unless qualified):
 *   type "gpu", vendor nvidia|amd|intel, model, index (int), deviceID "0x2330",
 *   numaNode (int, when known), uuid (NVIDIA, when known),
 *   resource.kubernetes.io/pciBusID "0000:01:00.0", resource.kubernetes.io/pcieRoot
 *   "pci0000:00" (when known)
 * and capacity memory (binary quantity, when known). The slice: spec.driver, spec.nodeName,
 * pool {name: <node>, generation, resourceSliceCount: 1}, devices. */
#ifndef NETDRA_NODE_PLUGIN_GPU_SLICE_H
#define NETDRA_NODE_PLUGIN_GPU_SLICE_H

#include <jansson.h>

#include "error.h"
#include "gpu_enumerate.h"

/* The ResourceSlice device objects of a GPU list (new array). */
json_t *nd_gpu_devices_json(const nd_gpu_list *gpus);
/* Enumerate under root and return the device objects (new array), or NULL with err. This is
 * the enumerate function the node plugin's local slice publisher takes (local_slice.h). */
json_t *nd_gpu_slice_devices(const char *root, nd_error_t *err);
/* A complete ResourceSlice object named "<node>-<driver>-gpus" (name NULL) or name, for
 * devices (borrowed; copied). Driver, node and name are validated; NULL with err on a bad one. */
json_t *nd_gpu_slice_build(const char *driver, const char *node, const char *name,
                           long long generation, const json_t *devices, nd_error_t *err);

#endif
