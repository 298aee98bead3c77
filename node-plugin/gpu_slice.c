/* gpu_slice.c: node-local GPU ResourceSlice objects; see gpu_slice.h. */
#include "gpu_slice.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "names.h"
#include "quantity.h"

static void attr_string(json_t *attrs, const char *key, const char *v) {
  json_object_set_new(attrs, key, json_pack("{s:s}", "string", v));
}

static void attr_int(json_t *attrs, const char *key, long long v) {
  json_object_set_new(attrs, key, json_pack("{s:I}", "int", (json_int_t)v));
}

json_t *nd_gpu_devices_json(const nd_gpu_list *gpus) {
  json_t *out = json_array();
  for (size_t i = 0; i < gpus->n; i++) {
    const nd_gpu *g = &gpus->gpus[i];
    json_t *attrs = json_object();
    char buf[32];
    attr_string(attrs, "type", "gpu");
    attr_string(attrs, "vendor", nd_gpu_vendor_name(g->vendor));
    attr_string(attrs, "model", g->model);
    attr_int(attrs, "index", g->index);
    snprintf(buf, sizeof(buf), "0x%04x", g->device_id);
    attr_string(attrs, "deviceID", buf);
    if (g->numa_node >= 0)
      attr_int(attrs, "numaNode", g->numa_node);
    if (g->uuid[0])
      attr_string(attrs, "uuid", g->uuid);
    attr_string(attrs, "resource.kubernetes.io/pciBusID", g->pci_address);
    if (g->pcie_root[0])
      attr_string(attrs, "resource.kubernetes.io/pcieRoot", g->pcie_root);
    json_t *dev = json_pack("{s:s, s:o}", "name", g->name, "attributes", attrs);
    if (g->memory_bytes > 0 && g->memory_bytes <= (unsigned long long)INT64_MAX) {
      nd_quantity q = nd_quantity_from_int64((int64_t)g->memory_bytes, ND_QUANTITY_BINARY_SI);
      char qs[ND_QUANTITY_STR_MAX];
      nd_quantity_format_canonical(&q, qs);
      json_object_set_new(dev, "capacity", json_pack("{s:{s:s}}", "memory", "value", qs));
    }
    json_array_append_new(out, dev);
  }
  return out;
}

json_t *nd_gpu_slice_devices(const char *root, nd_error_t *err) {
  nd_gpu_list gpus;
  if (nd_gpu_enumerate(root, &gpus, err) < 0)
    return NULL;
  json_t *out = nd_gpu_devices_json(&gpus);
  nd_gpu_list_clear(&gpus);
  return out;
}

json_t *nd_gpu_slice_build(const char *driver, const char *node, const char *name,
                           long long generation, const json_t *devices, nd_error_t *err) {
  if (nd_name_validate(ND_NAME_DRIVER_NAME, "driver", driver, err) < 0 ||
      nd_name_validate(ND_NAME_DNS_SUBDOMAIN, "node name", node, err) < 0)
    return NULL;
  if (generation < 0) {
    nd_error_make(err, EINVAL, "pool generation %lld is negative", generation);
    return NULL;
  }
  if (!json_is_array(devices) || json_array_size(devices) > 128) {
    nd_error_make(err, EINVAL, "a ResourceSlice holds an array of at most 128 devices");
    return NULL;
  }
  cleanup_free char *own = NULL;
  if (name == NULL) {
    if (asprintf(&own, "%s-%s-gpus", node, driver) < 0) {
      nd_error_make(err, ENOMEM, "out of memory");
      return NULL;
    }
    name = own;
  }
  if (nd_name_validate(ND_NAME_DNS_SUBDOMAIN, "ResourceSlice name", name, err) < 0)
    return NULL;
  return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:{s:s, s:I, s:i}, s:O}}", "apiVersion",
                   "resource.k8s.io/v1", "kind", "ResourceSlice", "metadata", "name", name,
                   "spec", "driver", driver, "nodeName", node, "pool", "name", node,
                   "generation", (json_int_t)generation, "resourceSliceCount", 1, "devices",
                   devices);
}
