/* bench_json_dump.c: serialising the documents the daemons write most, with jansson's
 * json_dumps and with nd_json_dumps (lib/json_dump.h), same flags as their callers:
 *   entry: a camera + GPU claim as the node plugin checkpoints it (~1.6 KB), JSON_COMPACT;
 *   cdi:   the CDI spec of that claim (nd_cdi_spec_build), JSON_INDENT(2) | JSON_SORT_KEYS;
 *   slice: a ResourceSlice of 128 devices as the controller PUTs it, JSON_COMPACT.
 * Checks that both texts are equal, then prints one JSON object: bytes and CPU ns per dump for
 * each. usage: bench_json_dump [N [entry|cdi|slice]] (N dumps of each document, or of the one
 * named, default 20000; the slice, 28 times larger, N / 32 times; bounded by N).
 * For instruction counts run it under callgrind for one document and divide the inclusive
 * cost of json_dumps and of nd_json_dumps by their call count (N + 1, one for the check):
 *   valgrind --tool=callgrind --callgrind-out-file=cg.out bench/bench_json_dump 1000 entry
 *   callgrind_annotate --inclusive=yes cg.out | grep json_dumps */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "cdi.h"
#include "cleanup.h"
#include "json_dump.h"

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char entry_text[] =
    "{\"namespace\":\"default\",\"name\":\"bench-claim\",\"uid\":"
    "\"8d0f3c1e-5b7a-4f2d-9c6e-1a2b3c4d5e6f\",\"phase\":\"prepare-completed\",\"devices\":["
    "{\"request\":\"cam\",\"pool\":\"cams\",\"device\":\"cam-0\",\"type\":\"camera\","
    "\"status\":\"attached\",\"sliceDevice\":{\"name\":\"cam-0\",\"attributes\":{"
    "\"netdra.dev/type\":{\"string\":\"camera\"},\"netdra.dev/vendor\":{\"string\":\"axis\"},"
    "\"netdra.dev/model\":{\"string\":\"P1468-LE\"},\"netdra.dev/endpoint\":{\"string\":"
    "\"rtsp://10.20.30.40:554/axis-media/media.amp\"},\"netdra.dev/resolution\":{\"string\":"
    "\"3840x2160\"},\"netdra.dev/fps\":{\"int\":30}},\"capacity\":{\"netdra.dev/streams\":"
    "{\"value\":\"4\"}}},\"state\":{\"session\":\"cam-0-7f3a\",\"leaseMs\":1733140000123},"
    "\"edits\":{\"env\":[\"NETDRA_CAMERA_URL=rtsp://10.20.30.40:554/axis-media/media.amp\","
    "\"NETDRA_CAMERA_ID=cam-0\"],\"mounts\":[{\"hostPath\":\"/run/netdra/cam-0\","
    "\"containerPath\":\"/run/netdra/camera\",\"options\":[\"ro\",\"bind\"]}]}},"
    "{\"request\":\"gpu\",\"pool\":\"bench-node\",\"device\":\"gpu-0\",\"type\":\"gpu\","
    "\"status\":\"attached\",\"sliceDevice\":{\"name\":\"gpu-0\",\"attributes\":{"
    "\"netdra.dev/type\":{\"string\":\"gpu\"},\"netdra.dev/vendor\":{\"string\":\"nvidia\"},"
    "\"netdra.dev/model\":{\"string\":\"NVIDIA H200\"},\"netdra.dev/uuid\":{\"string\":"
    "\"GPU-5a1c9e2b-7d3f-4b6a-8e0c-2f4d6b8a0c1e\"},\"netdra.dev/pciBusId\":{\"string\":"
    "\"0000:19:00.0\"}},\"capacity\":{\"memory\":{\"value\":\"141Gi\"}}},\"state\":null,"
    "\"edits\":{\"deviceNodes\":[{\"path\":\"/dev/nvidia0\"},{\"path\":\"/dev/nvidiactl\"},"
    "{\"path\":\"/dev/nvidia-uvm\"},{\"path\":\"/dev/nvidia-uvm-tools\"}],\"env\":["
    "\"NVIDIA_VISIBLE_DEVICES=0\",\"NETDRA_GPU=gpu-0\",\"NETDRA_GPU_UUID="
    "GPU-5a1c9e2b-7d3f-4b6a-8e0c-2f4d6b8a0c1e\"]}}],\"preparedAtMs\":1733140000456}";

static json_t *resource_slice(size_t n_devices) {
  json_t *devices = json_array();
  for (size_t i = 0; i < n_devices; i++) {
    char name[32], endpoint[64];
    snprintf(name, sizeof(name), "cam-%03zu", i);
    snprintf(endpoint, sizeof(endpoint), "rtsp://10.20.%zu.%zu:554/stream", i / 250, i % 250);
    json_array_append_new(
        devices,
        json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:I}}, "
                  "s:{s:{s:s}}}",
                  "name", name, "attributes", "netdra.dev/type", "string", "camera",
                  "netdra.dev/vendor", "string", "axis", "netdra.dev/model", "string", "P1468-LE",
                  "netdra.dev/endpoint", "string", endpoint, "netdra.dev/health", "string",
                  "healthy", "netdra.dev/fps", "int", (json_int_t)30, "capacity",
                  "netdra.dev/streams", "value", "4"));
  }
  return json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:s}, s:{s:s, s:{s:s, s:I, s:I}, "
                   "s:s, s:o}}",
                   "apiVersion", "resource.k8s.io/v1", "kind", "ResourceSlice", "metadata",
                   "name", "netdra-cams-site-a-0", "labels", "app.kubernetes.io/managed-by",
                   "netdra-controller", "netdra.dev/pool", "cams-site-a", "resourceVersion",
                   "123456", "spec", "driver", "netdra.dev", "pool", "name", "cams-site-a",
                   "generation", (json_int_t)7, "resourceSliceCount", (json_int_t)1, "nodeName",
                   "node-a", "devices", devices);
}

typedef struct {
  size_t bytes;
  double jansson_ns, netdra_ns;
} result;

static result measure(const char *what, const json_t *doc, size_t flags, int n) {
  result r = {0};
  cleanup_free char *want = json_dumps(doc, flags);
  cleanup_free char *got = nd_json_dumps(doc, flags);
  if (want == NULL || got == NULL || strcmp(want, got) != 0) {
    fprintf(stderr, "bench_json_dump: %s: the two texts differ\n", what);
    exit(1);
  }
  r.bytes = strlen(want);
  uint64_t t = thread_cpu_ns();
  for (int i = 0; i < n; i++)
    free(json_dumps(doc, flags));
  r.jansson_ns = (double)(thread_cpu_ns() - t) / n;
  t = thread_cpu_ns();
  for (int i = 0; i < n; i++)
    free(nd_json_dumps(doc, flags));
  r.netdra_ns = (double)(thread_cpu_ns() - t) / n;
  return r;
}

static void print_result(const char *name, result r, bool last) {
  if (r.bytes == 0)
    return;
  printf("\"%s\":{\"bytes\":%zu,\"json_dumps_ns\":%.0f,\"nd_json_dumps_ns\":%.0f,"
         "\"speedup\":%.2f}%s",
         name, r.bytes, r.jansson_ns, r.netdra_ns, r.jansson_ns / r.netdra_ns, last ? "" : ",");
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  const char *only = argc > 2 ? argv[2] : NULL;
  if (n <= 0)
    return fprintf(stderr, "usage: bench_json_dump [N [entry|cdi|slice]]\n"), 2;
  cleanup_json json_t *entry = json_loads(entry_text, 0, NULL);
  if (entry == NULL)
    return fprintf(stderr, "bench_json_dump: the entry does not parse\n"), 1;
  json_t *devices = json_object_get(entry, "devices");
  nd_cdi_device cdi_devices[2] = {
      {"8d0f3c1e-5b7a-4f2d-9c6e-1a2b3c4d5e6f-cam-cam-0",
       json_object_get(json_array_get(devices, 0), "edits")},
      {"8d0f3c1e-5b7a-4f2d-9c6e-1a2b3c4d5e6f-gpu-gpu-0",
       json_object_get(json_array_get(devices, 1), "edits")},
  };
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *cdi = nd_cdi_spec_build("netdra.dev", cdi_devices, 2, &err);
  if (cdi == NULL)
    return fprintf(stderr, "bench_json_dump: %s\n", nd_error_msg(err)), 1;
  cleanup_json json_t *slice = resource_slice(128);
  result e = {0}, c = {0}, s = {0};
  if (only == NULL || strcmp(only, "entry") == 0)
    e = measure("entry", entry, JSON_COMPACT, n);
  if (only == NULL || strcmp(only, "cdi") == 0)
    c = measure("cdi", cdi, JSON_INDENT(2) | JSON_SORT_KEYS, n);
  if (only == NULL || strcmp(only, "slice") == 0)
    s = measure("slice", slice, JSON_COMPACT, only ? n : (n / 32 > 0 ? n / 32 : 1));
  printf("{");
  print_result("entry", e, c.bytes == 0 && s.bytes == 0);
  print_result("cdi", c, s.bytes == 0);
  print_result("slice", s, true);
  printf("}\n");
  return 0;
}
