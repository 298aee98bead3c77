/* test_backend_gpu.c: local GPU enumeration on the fake sysfs+/dev trees of
 * tests/node-plugin/fake-roots (NVIDIA, AMD, Intel; exact device objects), the node-local
 * ResourceSlice, and the gpu backend: own device nodes, the vendor CDI id when a vendor spec
 * holds exactly this GPU (YAML in /etc/cdi, JSON in /var/run/cdi), preferVendorCdi=false,
 * absent GPU and bad sysfs named in the error; the attach's remembered enumeration: not
 * repeated while nothing changed, and every change of the claim's GPU (gone, its node gone or
 * added, another Device Minor, DRM minor or class, the function replaced) or of the set of
 * GPUs seen at the next attach; concurrent attaches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "backend.h"
#include "cdi.h"
#include "cleanup.h"
#include "gpu_enumerate.h"
#include "gpu_slice.h"
#include "log.h"

/* The edits pass the node plugin's strict CDI check (the spec writer runs it too). */
static void assert_cdi_valid(const json_t *edits, const char *want_version) {
  const char *min_version = "0.3.0";
  nd_error_t cerr = NULL;
  if (nd_cdi_check_edits(edits, "test device", &min_version, &cerr) < 0)
    fail_msg("%s", nd_error_msg(cerr));
  assert_string_equal(min_version, want_version); /* deviceNodes hostPath needs 0.5.0 */
}

static char *fake_root(const char *vendor) {
  const char *src = getenv("NETDRA_SOURCE_DIR");
  assert_non_null(src);
  char *out = NULL;
  assert_true(asprintf(&out, "%s/tests/node-plugin/fake-roots/%s", src, vendor) > 0);
  return out;
}

/* A writable copy of a fake root in dir (a mkdtemp template), for tests that change it. */
static void writable_fake_root(const char *vendor, char *dir) {
  assert_non_null(mkdtemp(dir));
  cleanup_free char *src = fake_root(vendor);
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", src, dir);
  assert_int_equal(system(cmd), 0);
}

/* Compare the enumerated device objects with the expected JSON text. */
static void assert_devices(const char *vendor, const char *expected_text) {
  cleanup_free char *root = fake_root(vendor);
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *got = nd_gpu_slice_devices(root, &err);
  if (got == NULL)
    fail_msg("%s", nd_error_msg(err));
  json_error_t jerr;
  cleanup_json json_t *want = json_loads(expected_text, 0, &jerr);
  if (want == NULL)
    fail_msg("expected JSON: %s", jerr.text);
  if (!json_equal(got, want)) {
    cleanup_free char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
    fail_msg("%s devices differ; got:\n%s", vendor, g);
  }
}

static void test_enumerate_nvidia(void **st) {
  assert_devices("nvidia",
                 "[{\"name\":\"gpu-0\",\"attributes\":{"
                 "\"type\":{\"string\":\"gpu\"},\"vendor\":{\"string\":\"nvidia\"},"
                 "\"model\":{\"string\":\"NVIDIA H100 80GB HBM3\"},\"index\":{\"int\":0},"
                 "\"deviceID\":{\"string\":\"0x2330\"},\"numaNode\":{\"int\":0},"
                 "\"uuid\":{\"string\":\"GPU-1b2f8a4e-3c5d-4e6f-8a9b-0c1d2e3f4a5b\"},"
                 "\"resource.kubernetes.io/pciBusID\":{\"string\":\"0000:01:00.0\"},"
                 "\"resource.kubernetes.io/pcieRoot\":{\"string\":\"pci0000:00\"}},"
                 "\"capacity\":{\"memory\":{\"value\":\"81559Mi\"}}},"
                 "{\"name\":\"gpu-1\",\"attributes\":{"
                 "\"type\":{\"string\":\"gpu\"},\"vendor\":{\"string\":\"nvidia\"},"
                 "\"model\":{\"string\":\"NVIDIA A100-SXM4-40GB\"},\"index\":{\"int\":1},"
                 "\"deviceID\":{\"string\":\"0x20b0\"},\"numaNode\":{\"int\":1},"
                 "\"uuid\":{\"string\":\"GPU-9c8d7e6f-5a4b-4c3d-2e1f-0a9b8c7d6e5f\"},"
                 "\"resource.kubernetes.io/pciBusID\":{\"string\":\"0000:81:00.0\"},"
                 "\"resource.kubernetes.io/pcieRoot\":{\"string\":\"pci0000:80\"}}}]");
  cleanup_free char *root = fake_root("nvidia");
  nd_gpu_list l;
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_gpu_enumerate(root, &l, &err), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.gpus[0].primary_node, "/dev/nvidia0");
  assert_int_equal(l.gpus[0].n_nodes, 4);
  assert_string_equal(l.gpus[0].nodes[1], "/dev/nvidiactl");
  assert_string_equal(l.gpus[0].nodes[2], "/dev/nvidia-uvm");
  assert_string_equal(l.gpus[0].nodes[3], "/dev/nvidia-uvm-tools");
  assert_string_equal(l.gpus[1].primary_node, "/dev/nvidia1");
  assert_ptr_equal(nd_gpu_find(&l, "0000:81:00.0"), &l.gpus[1]);
  assert_null(nd_gpu_find(&l, "0000:01:00.1")); /* the HDMI audio function is no GPU */
  nd_gpu_list_clear(&l);
}

static void test_enumerate_amd(void **st) {
  assert_devices("amd",
                 "[{\"name\":\"gpu-0\",\"attributes\":{"
                 "\"type\":{\"string\":\"gpu\"},\"vendor\":{\"string\":\"amd\"},"
                 "\"model\":{\"string\":\"AMD Radeon RX 7900 XTX\"},\"index\":{\"int\":0},"
                 "\"deviceID\":{\"string\":\"0x744c\"},"
                 "\"resource.kubernetes.io/pciBusID\":{\"string\":\"0000:03:00.0\"},"
                 "\"resource.kubernetes.io/pcieRoot\":{\"string\":\"pci0000:00\"}},"
                 "\"capacity\":{\"memory\":{\"value\":\"24Gi\"}}},"
                 "{\"name\":\"gpu-1\",\"attributes\":{"
                 "\"type\":{\"string\":\"gpu\"},\"vendor\":{\"string\":\"amd\"},"
                 "\"model\":{\"string\":\"AMD Instinct MI300X OAM\"},\"index\":{\"int\":1},"
                 "\"deviceID\":{\"string\":\"0x74a1\"},\"numaNode\":{\"int\":1},"
                 "\"resource.kubernetes.io/pciBusID\":{\"string\":\"0000:c1:00.0\"},"
                 "\"resource.kubernetes.io/pcieRoot\":{\"string\":\"pci0000:c0\"}},"
                 "\"capacity\":{\"memory\":{\"value\":\"192Gi\"}}}]");
  cleanup_free char *root = fake_root("amd");
  nd_gpu_list l;
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_gpu_enumerate(root, &l, &err), 0);
  assert_int_equal(l.gpus[1].n_nodes, 2);
  assert_string_equal(l.gpus[1].nodes[0], "/dev/dri/renderD129");
  assert_string_equal(l.gpus[1].nodes[1], "/dev/kfd");
  nd_gpu_list_clear(&l);
}

static void test_enumerate_intel(void **st) {
  assert_devices("intel",
                 "[{\"name\":\"gpu-0\",\"attributes\":{"
                 "\"type\":{\"string\":\"gpu\"},\"vendor\":{\"string\":\"intel\"},"
                 "\"model\":{\"string\":\"Intel GPU 0x4680\"},\"index\":{\"int\":0},"
                 "\"deviceID\":{\"string\":\"0x4680\"},\"numaNode\":{\"int\":0},"
                 "\"resource.kubernetes.io/pciBusID\":{\"string\":\"0000:00:02.0\"},"
                 "\"resource.kubernetes.io/pcieRoot\":{\"string\":\"pci0000:00\"}}},"
                 "{\"name\":\"gpu-1\",\"attributes\":{"
                 "\"type\":{\"string\":\"gpu\"},\"vendor\":{\"string\":\"intel\"},"
                 "\"model\":{\"string\":\"Intel Data Center GPU Max 1550\"},"
                 "\"index\":{\"int\":1},\"deviceID\":{\"string\":\"0x0bd5\"},"
                 "\"numaNode\":{\"int\":0},"
                 "\"resource.kubernetes.io/pciBusID\":{\"string\":\"0000:29:00.0\"},"
                 "\"resource.kubernetes.io/pcieRoot\":{\"string\":\"pci0000:00\"}},"
                 "\"capacity\":{\"memory\":{\"value\":\"128Gi\"}}}]");
  cleanup_free char *root = fake_root("intel");
  nd_gpu_list l;
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_gpu_enumerate(root, &l, &err), 0);
  assert_string_equal(l.gpus[1].nodes[0], "/dev/dri/renderD129");
  assert_string_equal(l.gpus[1].nodes[1], "/dev/dri/card1");
  nd_gpu_list_clear(&l);
}

static void test_empty_and_bad_roots(void **st) {
  char dir[] = "/tmp/nd-gpu-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *none = nd_gpu_slice_devices(dir, &err);
  assert_non_null(none);
  assert_int_equal(json_array_size(none), 0);
  char path[128];
  snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/0000:05:00.0", dir);
  assert_int_equal(nd_mkdir_p(path, 0755, &err), 0);
  char file[192];
  snprintf(file, sizeof(file), "%s/class", path);
  assert_int_equal(nd_write_file_atomic(file, "zz\n", 3, 0644, &err), 0);
  nd_gpu_list l;
  assert_int_equal(nd_gpu_enumerate(dir, &l, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), file));
  assert_non_null(strstr(nd_error_msg(err), "is not a hexadecimal number"));
  assert_null(l.gpus);
  nd_error_release(&err);
  assert_int_equal(nd_remove_tree(dir, &err), 0);
}

static void test_slice_build(void **st) {
  cleanup_free char *root = fake_root("amd");
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *devs = nd_gpu_slice_devices(root, &err);
  cleanup_json json_t *slice = nd_gpu_slice_build("netdra.dev", "node-a", NULL, 3, devs, &err);
  assert_non_null(slice);
  assert_string_equal(json_string_value(json_object_get(slice, "apiVersion")),
                      "resource.k8s.io/v1");
  assert_string_equal(json_string_value(json_object_get(slice, "kind")), "ResourceSlice");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(slice, "metadata"), "name")),
      "node-a-netdra.dev-gpus");
  json_t *spec = json_object_get(slice, "spec");
  assert_string_equal(json_string_value(json_object_get(spec, "driver")), "netdra.dev");
  assert_string_equal(json_string_value(json_object_get(spec, "nodeName")), "node-a");
  json_t *pool = json_object_get(spec, "pool");
  assert_string_equal(json_string_value(json_object_get(pool, "name")), "node-a");
  assert_int_equal(json_integer_value(json_object_get(pool, "generation")), 3);
  assert_int_equal(json_integer_value(json_object_get(pool, "resourceSliceCount")), 1);
  assert_true(json_equal(json_object_get(spec, "devices"), devs));
  assert_null(nd_gpu_slice_build("Bad_Driver", "node-a", NULL, 1, devs, &err));
  assert_non_null(strstr(nd_error_msg(err), "driver"));
  nd_error_release(&err);
  assert_null(nd_gpu_slice_build("netdra.dev", "node_a", NULL, 1, devs, &err));
  assert_non_null(strstr(nd_error_msg(err), "node name"));
}

/* ---- backend ---- */
static json_t *slice_device(const char *vendor, const char *name) {
  cleanup_free char *root = fake_root(vendor);
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *devs = nd_gpu_slice_devices(root, &err);
  size_t i;
  json_t *d;
  json_array_foreach(devs, i, d) {
    if (strcmp(json_string_value(json_object_get(d, "name")), name) == 0)
      return json_incref(d);
  }
  fail_msg("no %s in %s", name, vendor);
  return NULL;
}

static int attach(const char *vendor, const char *dev, const json_t *config,
                  nd_attach_result *res, nd_error_t *err) {
  cleanup_free char *root = fake_root(vendor);
  cleanup_json json_t *sdev = slice_device(vendor, dev);
  nd_attach_request req = {
      .claim_uid = "uid-g", .claim_namespace = "ns", .claim_name = "c", .request = "gpu",
      .pool = "node-a", .device = dev, .slice_device = sdev, .config = config,
      .claim_dir = "/nonexistent", .k8s = NULL, .node_name = "node-a", .dev_root = root};
  return nd_backend_for_type("gpu")->attach(&req, res, err);
}

static void test_vendor_cdi_ids(void **st) {
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(attach("nvidia", "gpu-0", NULL, &res, &err), 0);
  assert_string_equal(res.vendor_cdi_id, "nvidia.com/gpu=0"); /* YAML spec in /etc/cdi */
  assert_null(res.edits);
  nd_attach_result_clear(&res);
  assert_int_equal(attach("amd", "gpu-1", NULL, &res, &err), 0);
  assert_string_equal(res.vendor_cdi_id, "amd.com/gpu=gpu1"); /* JSON spec in /var/run/cdi */
  nd_attach_result_clear(&res);
}

/* Vendor specs are parsed once per version of their file: attaching again after the file
 * changed uses the new version, and a spec that became malformed is no longer used. */
static void test_vendor_spec_changes(void **st) {
  char dir[] = "/tmp/nd-gpu-spec-XXXXXX";
  writable_fake_root("nvidia", dir);
  cleanup_json json_t *sdev = slice_device("nvidia", "gpu-0");
  nd_attach_request req = {.claim_uid = "uid-g", .request = "gpu", .pool = "node-a",
                           .device = "gpu-0", .slice_device = sdev, .node_name = "node-a",
                           .dev_root = dir};
  cleanup_error nd_error_t err = NULL;
  assert_true(nd_backend_gpu.attach_leaves_nothing(&req)); /* edits only, nothing to undo */
  for (int round = 0; round < 2; round++) { /* parsed, then remembered */
    nd_attach_result res = {0};
    assert_int_equal(nd_backend_gpu.attach(&req, &res, &err), 0);
    assert_string_equal(res.vendor_cdi_id, "nvidia.com/gpu=0");
    nd_attach_result_clear(&res);
  }
  char spec[256];
  snprintf(spec, sizeof(spec), "%s/etc/cdi/nvidia.yaml", dir);
  const char *renamed = "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n  - name: first\n"
                        "    containerEdits:\n      deviceNodes:\n        - path: /dev/nvidia0\n";
  assert_int_equal(nd_write_file_atomic(spec, renamed, strlen(renamed), 0644, &err), 0);
  nd_attach_result res = {0};
  assert_int_equal(nd_backend_gpu.attach(&req, &res, &err), 0);
  assert_string_equal(res.vendor_cdi_id, "nvidia.com/gpu=first");
  nd_attach_result_clear(&res);
  assert_int_equal(nd_write_file_atomic(spec, "devices: [", 10, 0644, &err), 0);
  assert_int_equal(nd_backend_gpu.attach(&req, &res, &err), 0);
  assert_null(res.vendor_cdi_id); /* skipped with a warning: our own device nodes */
  assert_non_null(res.edits);
  nd_attach_result_clear(&res);
  assert_int_equal(nd_remove_tree(dir, &err), 0);
}

/* A node's /var/run/cdi holds a spec per prepared claim (ours, and other DRA drivers'): a GPU
 * attach reads none of them, however many (here 600, malformed), and still finds the vendor's
 * spec among them; a second attach parses nothing. */
static void test_claim_specs_not_read(void **st) {
  char dir[] = "/tmp/nd-gpu-claims-XXXXXX";
  writable_fake_root("nvidia", dir);
  char from[256], run_dir[256], to[300];
  snprintf(from, sizeof(from), "%s/etc/cdi/nvidia.yaml", dir);
  snprintf(run_dir, sizeof(run_dir), "%s/var/run/cdi", dir);
  snprintf(to, sizeof(to), "%s/nvidia.yaml", run_dir);
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_mkdir_p(run_dir, 0755, &err), 0);
  assert_int_equal(rename(from, to), 0);
  for (int i = 0; i < 600; i++) {
    char claim_spec[400];
    snprintf(claim_spec, sizeof(claim_spec), "%s/%s-claim_uid-%04d.json", run_dir,
             i % 2 ? "netdra.dev" : "k8s.gpu.nvidia.com", i);
    assert_int_equal(nd_write_file_atomic(claim_spec, "not json", 8, 0644, &err), 0);
  }
  cleanup_json json_t *sdev = slice_device("nvidia", "gpu-0");
  nd_attach_request req = {.claim_uid = "uid-g", .request = "gpu", .pool = "node-a",
                           .device = "gpu-0", .slice_device = sdev, .node_name = "node-a",
                           .dev_root = dir};
  unsigned long parses = nd_backend_gpu_spec_parses();
  for (int round = 0; round < 2; round++) {
    nd_attach_result res = {0};
    assert_int_equal(nd_backend_gpu.attach(&req, &res, &err), 0);
    assert_string_equal(res.vendor_cdi_id, "nvidia.com/gpu=0");
    nd_attach_result_clear(&res);
    assert_int_equal(nd_backend_gpu_spec_parses() - parses, 1); /* the vendor's, once */
  }
  assert_int_equal(nd_remove_tree(dir, &err), 0);
}

static void test_own_device_nodes(void **st) {
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  /* gpu-1 is only in the vendor's "all" device, which also holds gpu-0: not chosen */
  assert_int_equal(attach("nvidia", "gpu-1", NULL, &res, &err), 0);
  assert_null(res.vendor_cdi_id);
  cleanup_free char *root = fake_root("nvidia");
  json_t *nodes = json_object_get(res.edits, "deviceNodes");
  assert_int_equal(json_array_size(nodes), 4);
  assert_cdi_valid(res.edits, "0.5.0");
  json_t *n0 = json_array_get(nodes, 0);
  assert_string_equal(json_string_value(json_object_get(n0, "path")), "/dev/nvidia1");
  char host[512];
  snprintf(host, sizeof(host), "%s/dev/nvidia1", root);
  assert_string_equal(json_string_value(json_object_get(n0, "hostPath")), host);
  assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 1), "path")),
                      "/dev/nvidiactl");
  json_t *env = json_object_get(res.edits, "env");
  assert_string_equal(json_string_value(json_array_get(env, 1)),
                      "NETDRA_GPU_PCI_BUS_ID=0000:81:00.0");
  nd_attach_result_clear(&res);

  /* preferVendorCdi=false: our own nodes even when the vendor has a spec */
  json_t *cfg = json_pack("{s:b}", "preferVendorCdi", 0);
  assert_int_equal(attach("nvidia", "gpu-0", cfg, &res, &err), 0);
  assert_null(res.vendor_cdi_id);
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(res.edits, "deviceNodes"), 0), "path")),
                      "/dev/nvidia0");
  nd_attach_result_clear(&res);
  json_decref(cfg);

  /* Intel: render node and card node; attach twice = same edits; detach holds nothing */
  nd_attach_result again = {0};
  assert_int_equal(attach("intel", "gpu-1", NULL, &res, &err), 0);
  assert_int_equal(attach("intel", "gpu-1", NULL, &again, &err), 0);
  assert_true(json_equal(res.edits, again.edits));
  nodes = json_object_get(res.edits, "deviceNodes");
  assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 0), "path")),
                      "/dev/dri/renderD129");
  assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 1), "path")),
                      "/dev/dri/card1");
  nd_attach_request req = {.claim_uid = "uid-g", .device = "gpu-1"};
  assert_int_equal(nd_backend_gpu.detach(&req, res.state, &err), 0);
  nd_attach_result_clear(&res);
  nd_attach_result_clear(&again);
}

/* What each PCI function is, remembered between enumerations (gpu_enumerate.c): a function
 * whose class file is replaced is classified again, and a GPU's own driver files are read at
 * every enumeration. */
static void test_enumerate_again(void **st) {
  char dir[] = "/tmp/nd-gpu-again-XXXXXX";
  writable_fake_root("nvidia", dir);
  cleanup_error nd_error_t err = NULL;
  nd_gpu_list l;
  assert_int_equal(nd_gpu_enumerate(dir, &l, &err), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.gpus[0].primary_node, "/dev/nvidia0");
  nd_gpu_list_clear(&l);
  assert_int_equal(nd_gpu_enumerate(dir, &l, &err), 0); /* remembered: the same answer */
  assert_int_equal(l.n, 2);
  nd_gpu_list_clear(&l);
  /* the first GPU's function now says it is a network controller (a new class file) */
  char file[256];
  snprintf(file, sizeof(file), "%s/sys/bus/pci/devices/0000:01:00.0/class", dir);
  assert_int_equal(nd_write_file_atomic(file, "0x020000\n", 9, 0644, &err), 0);
  assert_int_equal(nd_gpu_enumerate(dir, &l, &err), 0);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.gpus[0].pci_address, "0000:81:00.0");
  nd_gpu_list_clear(&l);
  assert_int_equal(nd_write_file_atomic(file, "0x030200\n", 9, 0644, &err), 0);
  /* the driver gave the first GPU another minor: read afresh */
  snprintf(file, sizeof(file), "%s/proc/driver/nvidia/gpus/0000:01:00.0/information", dir);
  const char *info = "Model: \t\t NVIDIA H100 80GB HBM3\nDevice Minor: \t 1\n";
  assert_int_equal(nd_write_file_atomic(file, info, strlen(info), 0644, &err), 0);
  assert_int_equal(nd_gpu_enumerate(dir, &l, &err), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.gpus[0].primary_node, "/dev/nvidia1");
  nd_gpu_list_clear(&l);
  assert_int_equal(nd_remove_tree(dir, &err), 0);
}

static void test_absent_gpu(void **st) {
  cleanup_free char *root = fake_root("amd");
  cleanup_json json_t *sdev = slice_device("nvidia", "gpu-0"); /* a GPU this node lacks */
  nd_attach_request req = {.claim_uid = "u", .request = "gpu", .pool = "node-a",
                           .device = "gpu-0", .slice_device = sdev, .node_name = "node-a",
                           .dev_root = root};
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_backend_gpu.attach(&req, &res, &err), -1);
  assert_string_equal(nd_error_msg(err),
                      "GPU 0000:01:00.0 (device node-a/gpu-0) is not present on node node-a");
  nd_error_release(&err);
  json_object_del(json_object_get(sdev, "attributes"), "resource.kubernetes.io/pciBusID");
  assert_int_equal(nd_backend_gpu.attach(&req, &res, &err), -1);
  assert_non_null(strstr(nd_error_msg(err), "resource.kubernetes.io/pciBusID"));
  assert_null(res.edits);
  assert_null(res.state);
}

/* ---- the attach's remembered enumeration ---- */

/* Attach the GPU at bus_id under root (a writable fake root) as a claim for it would. */
static int attach_bus(const char *root, const char *bus_id, const json_t *config,
                      nd_attach_result *res, nd_error_t *err) {
  cleanup_json json_t *sdev = json_pack("{s:s, s:{s:{s:s}}}", "name", "gpu-x", "attributes",
                                        "resource.kubernetes.io/pciBusID", "string", bus_id);
  nd_attach_request req = {.claim_uid = "uid-g", .request = "gpu", .pool = "node-a",
                           .device = "gpu-x", .slice_device = sdev, .config = config,
                           .node_name = "node-a", .dev_root = root};
  return nd_backend_gpu.attach(&req, res, err);
}

static json_t *own_edits_config(void) { return json_pack("{s:b}", "preferVendorCdi", 0); }

/* Attach with our own edits; the device node paths, comma-separated, in *nodes. */
static void attach_nodes(const char *root, const char *bus_id, char *nodes, size_t size) {
  cleanup_json json_t *cfg = own_edits_config();
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  if (attach_bus(root, bus_id, cfg, &res, &err) < 0)
    fail_msg("attach %s: %s", bus_id, nd_error_msg(err));
  size_t i, used = 0;
  json_t *n;
  nodes[0] = '\0';
  json_array_foreach(json_object_get(res.edits, "deviceNodes"), i, n) {
    int w = snprintf(nodes + used, size - used, "%s%s", i ? "," : "",
                     json_string_value(json_object_get(n, "path")));
    assert_true(w > 0 && (size_t)w < size - used);
    used += (size_t)w;
  }
  nd_attach_result_clear(&res);
}

/* The attach of bus_id fails with ENODEV and a message holding want. */
static void assert_attach_fails(const char *root, const char *bus_id, const char *want) {
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(attach_bus(root, bus_id, NULL, &res, &err), -1);
  assert_int_equal(err->status, ENODEV);
  if (strstr(nd_error_msg(err), want) == NULL)
    fail_msg("\"%s\" lacks \"%s\"", nd_error_msg(err), want);
  assert_null(res.edits);
  assert_null(res.state);
}

/* Replace root/rel with text atomically (a new inode, as a re-created sysfs or proc file). */
static void write_text(const char *root, const char *rel, const char *text) {
  char path[512];
  cleanup_error nd_error_t err = NULL;
  snprintf(path, sizeof(path), "%s/%s", root, rel);
  if (nd_write_file_atomic(path, text, strlen(text), 0644, &err) < 0)
    fail_msg("%s", nd_error_msg(err));
}

/* A shell command of the test's fake root (every %s is the root). */
static void shell_in_root(const char *root, const char *cmd_with_root) {
  char cmd[1024];
  size_t used = 0;
  for (const char *p = cmd_with_root; *p && used + 1 < sizeof(cmd); p++) {
    if (p[0] == '%' && p[1] == 's') {
      used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, "%s", root);
      p++;
    } else {
      cmd[used++] = *p;
    }
  }
  assert_true(used + 1 < sizeof(cmd));
  cmd[used] = '\0';
  assert_int_equal(system(cmd), 0);
}

/* the NVIDIA fake root's two GPUs */
#define GPU0_BUS_ID "0000:01:00.0"
#define GPU1_BUS_ID "0000:81:00.0"
#define GPU0_SYSFS_DIR "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0"
#define GPU0_INFO_FILE "proc/driver/nvidia/gpus/0000:01:00.0/information"
#define GPU0_NODES "/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools"
#define GPU1_NODES "/dev/nvidia1,/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools"

/* Repeated attaches do not enumerate again; a device node that disappears or appears, and the
 * primary node gone, are seen at the next attach (one enumeration each). */
static void test_attach_remembers_nodes(void **st) {
  char dir[] = "/tmp/nd-gpu-memo-XXXXXX";
  writable_fake_root("nvidia", dir);
  char nodes[256];
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU0_NODES);
  unsigned long enumerations = nd_gpu_full_enumerations();
  for (int i = 0; i < 3; i++) {
    attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
    assert_string_equal(nodes, GPU0_NODES);
    attach_nodes(dir, GPU1_BUS_ID, nodes, sizeof(nodes)); /* the other GPU: the same enumeration */
    assert_string_equal(nodes, GPU1_NODES);
    nd_attach_result res = {0};
    cleanup_error nd_error_t err = NULL;
    /* the vendor spec still matches */
    assert_int_equal(attach_bus(dir, GPU0_BUS_ID, NULL, &res, &err), 0);
    assert_string_equal(res.vendor_cdi_id, "nvidia.com/gpu=0");
    nd_attach_result_clear(&res);
  }
  assert_int_equal(nd_gpu_full_enumerations(), enumerations);

  shell_in_root(dir, "rm '%s/dev/nvidia-uvm-tools'"); /* a node disappears */
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, "/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm");
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 1);
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 1); /* remembered again */
  write_text(dir, "dev/nvidia-uvm-tools", ""); /* and appears (nvidia-uvm loads on first use) */
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU0_NODES);
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 2);

  shell_in_root(dir, "rm '%s/dev/nvidia0'"); /* the GPU's own node */
  assert_attach_fails(dir, GPU0_BUS_ID,
                      "GPU 0000:01:00.0 (device node-a/gpu-x) has no device node");
  assert_attach_fails(dir, GPU0_BUS_ID, "has no device node"); /* remembered: still no node */
  attach_nodes(dir, GPU1_BUS_ID, nodes, sizeof(nodes)); /* the other GPU is unaffected */
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 3);
  write_text(dir, "dev/nvidia0", "");
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU0_NODES);
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 4);
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_remove_tree(dir, &err), 0);
}

/* What the claim's GPU is: its Device Minor, its class, the function at its address. */
static void test_attach_sees_changed_gpu(void **st) {
  char dir[] = "/tmp/nd-gpu-memo-XXXXXX";
  writable_fake_root("nvidia", dir);
  char nodes[256];
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU0_NODES);

  /* the driver numbers it 1 now (the second GPU's minor is 1 too, as a re-bind could leave) */
  write_text(dir, GPU0_INFO_FILE, "Model: \t\t NVIDIA H100 80GB HBM3\nDevice Minor: \t 1\n");
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU1_NODES);
  write_text(dir, GPU0_INFO_FILE, "Model: \t\t NVIDIA H100 80GB HBM3\nDevice Minor: \t 0\n");
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU0_NODES);

  /* the function at its address says it is a network controller */
  write_text(dir, GPU0_SYSFS_DIR "/class", "0x020000\n");
  assert_attach_fails(dir, GPU0_BUS_ID,
                      "GPU 0000:01:00.0 (device node-a/gpu-x) is not present on node node-a");
  write_text(dir, GPU0_SYSFS_DIR "/class", "0x030200\n");
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU0_NODES);
  char class_file[512]; /* rewritten in place: the same inode, another mtime */
  snprintf(class_file, sizeof(class_file), "%s/" GPU0_SYSFS_DIR "/class", dir);
  struct timespec t = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
  nanosleep(&t, NULL); /* past the file system's timestamp granularity */
  FILE *f = fopen(class_file, "w");
  assert_non_null(f);
  assert_int_equal(fputs("0x020000\n", f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  assert_attach_fails(dir, GPU0_BUS_ID, "is not present on node");
  write_text(dir, GPU0_SYSFS_DIR "/class", "0x030200\n");
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU0_NODES);

  /* another function (the network card's copy) at the same address, same name in the list */
  shell_in_root(dir,
                "mv '%s/" GPU0_SYSFS_DIR "' '%s/" GPU0_SYSFS_DIR ".gpu' && cp -a "
                "'%s/sys/devices/pci0000:00/0000:00:02.0/0000:02:00.0' '%s/" GPU0_SYSFS_DIR "'");
  assert_attach_fails(dir, GPU0_BUS_ID, "is not present on node");
  shell_in_root(dir, "rm -r '%s/" GPU0_SYSFS_DIR "' && "
                     "mv '%s/" GPU0_SYSFS_DIR ".gpu' '%s/" GPU0_SYSFS_DIR "'");
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU0_NODES);
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_remove_tree(dir, &err), 0);
}

/* A GPU removed from the bus (its sysfs link and directory gone), then added: the other GPU's
 * next attach enumerates again each time (the other GPUs' nodes decide which vendor CDI
 * device is this GPU's alone), the claim for it fails, then attaches. */
static void test_attach_sees_gpus_come_and_go(void **st) {
  char dir[] = "/tmp/nd-gpu-memo-XXXXXX";
  writable_fake_root("nvidia", dir);
  char nodes[256];
  attach_nodes(dir, GPU1_BUS_ID, nodes, sizeof(nodes));
  assert_string_equal(nodes, GPU1_NODES);
  unsigned long enumerations = nd_gpu_full_enumerations();
  shell_in_root(dir, "mv '%s/sys/devices/pci0000:80' '%s/pci0000:80.away' && "
                     "mv '%s/sys/bus/pci/devices/0000:81:00.0' '%s/link-81.away'");
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes)); /* the set of functions changed: again */
  assert_string_equal(nodes, GPU0_NODES);
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 1);
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes));
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 1);
  assert_attach_fails(dir, GPU1_BUS_ID,
                      "GPU 0000:81:00.0 (device node-a/gpu-x) is not present on node node-a");
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 2); /* not remembered as a GPU */

  shell_in_root(dir, "mv '%s/pci0000:80.away' '%s/sys/devices/pci0000:80' && "
                     "mv '%s/link-81.away' '%s/sys/bus/pci/devices/0000:81:00.0'");
  nd_attach_result res = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(attach_bus(dir, GPU0_BUS_ID, NULL, &res, &err), 0); /* again: a function added */
  assert_string_equal(res.vendor_cdi_id, "nvidia.com/gpu=0");
  nd_attach_result_clear(&res);
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 3);
  attach_nodes(dir, GPU1_BUS_ID, nodes, sizeof(nodes)); /* the added GPU attaches */
  assert_string_equal(nodes, GPU1_NODES);
  assert_int_equal(nd_gpu_full_enumerations(), enumerations + 3);
  assert_int_equal(nd_remove_tree(dir, &err), 0);
}

/* Intel and AMD: which DRM minors a GPU has comes from its drm directory. */
static void test_attach_sees_new_drm_minor(void **st) {
  char dir[] = "/tmp/nd-gpu-memo-XXXXXX";
  writable_fake_root("intel", dir);
  char nodes[256];
  attach_nodes(dir, "0000:29:00.0", nodes, sizeof(nodes));
  assert_string_equal(nodes, "/dev/dri/renderD129,/dev/dri/card1");
  /* re-bound: the driver gave it render minor 130 */
  shell_in_root(dir, "cd '%s/sys/devices/pci0000:00/0000:00:01.0/0000:27:00.0/0000:28:01.0/"
                     "0000:29:00.0/drm' && mv renderD129 renderD130 && "
                     ": > '%s/dev/dri/renderD130'");
  attach_nodes(dir, "0000:29:00.0", nodes, sizeof(nodes));
  assert_string_equal(nodes, "/dev/dri/renderD130,/dev/dri/card1");
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_remove_tree(dir, &err), 0);

  char amd[] = "/tmp/nd-gpu-memo-XXXXXX";
  writable_fake_root("amd", amd);
  attach_nodes(amd, "0000:c1:00.0", nodes, sizeof(nodes));
  assert_string_equal(nodes, "/dev/dri/renderD129,/dev/kfd");
  shell_in_root(amd, "rm '%s/dev/kfd'");
  attach_nodes(amd, "0000:c1:00.0", nodes, sizeof(nodes));
  assert_string_equal(nodes, "/dev/dri/renderD129");
  /* unbound: no drm directory, no render node */
  shell_in_root(amd, "rm -r '%s/sys/devices/pci0000:c0/0000:c0:01.1/0000:c1:00.0/drm'");
  assert_attach_fails(amd, "0000:c1:00.0", "has no device node");
  assert_int_equal(nd_remove_tree(amd, &err), 0);
}

/* Attaches from several threads at once while a device node comes and goes (each change
 * makes the next attach enumerate and replace the remembered list): run under ASan. */
#define ATTACH_THREADS 8
#define ATTACHES_PER_THREAD 200

typedef struct {
  const char *root;
  int id;
  int failures;
} attacher;

static void *attach_many(void *arg) {
  attacher *a = arg;
  json_t *cfg = own_edits_config();
  for (int i = 0; i < ATTACHES_PER_THREAD; i++) {
    bool first = (i + a->id) % 2 == 0;
    nd_attach_result res = {0};
    nd_error_t err = NULL;
    if (attach_bus(a->root, first ? GPU0_BUS_ID : GPU1_BUS_ID, cfg, &res, &err) < 0) {
      a->failures++;
      nd_error_release(&err);
      continue;
    }
    json_t *nodes = json_object_get(res.edits, "deviceNodes");
    const char *own = json_string_value(json_object_get(json_array_get(nodes, 0), "path"));
    size_t n = json_array_size(nodes);
    if (own == NULL || strcmp(own, first ? "/dev/nvidia0" : "/dev/nvidia1") != 0 || n < 3 || n > 4)
      a->failures++;
    nd_attach_result_clear(&res);
  }
  json_decref(cfg);
  return NULL;
}

static void test_attach_concurrently(void **st) {
  char dir[] = "/tmp/nd-gpu-memo-XXXXXX";
  writable_fake_root("nvidia", dir);
  nd_log_level level = nd_log_min_level();
  nd_log_set_level(ND_LOG_WARN); /* not 1600 "attached" lines */
  attacher a[ATTACH_THREADS];
  pthread_t t[ATTACH_THREADS];
  for (int i = 0; i < ATTACH_THREADS; i++) {
    a[i] = (attacher){.root = dir, .id = i, .failures = 0};
    assert_int_equal(pthread_create(&t[i], NULL, attach_many, &a[i]), 0);
  }
  char node[256], away[256];
  snprintf(node, sizeof(node), "%s/dev/nvidia-uvm-tools", dir);
  snprintf(away, sizeof(away), "%s/dev/nvidia-uvm-tools.away", dir);
  for (int i = 0; i < 40; i++) {
    assert_int_equal(rename(node, away), 0);
    usleep(500);
    assert_int_equal(rename(away, node), 0);
    usleep(500);
  }
  int failures = 0;
  for (int i = 0; i < ATTACH_THREADS; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    failures += a[i].failures;
  }
  nd_log_set_level(level);
  assert_int_equal(failures, 0);
  char nodes[256];
  attach_nodes(dir, GPU0_BUS_ID, nodes, sizeof(nodes)); /* settled: the last truth */
  assert_string_equal(nodes, GPU0_NODES);
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_remove_tree(dir, &err), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_enumerate_nvidia),  cmocka_unit_test(test_enumerate_amd),
      cmocka_unit_test(test_enumerate_intel),   cmocka_unit_test(test_empty_and_bad_roots),
      cmocka_unit_test(test_slice_build),       cmocka_unit_test(test_vendor_cdi_ids),
      cmocka_unit_test(test_own_device_nodes),  cmocka_unit_test(test_absent_gpu),
      cmocka_unit_test(test_enumerate_again),   cmocka_unit_test(test_vendor_spec_changes),
      cmocka_unit_test(test_attach_remembers_nodes),
      cmocka_unit_test(test_claim_specs_not_read),
      cmocka_unit_test(test_attach_sees_changed_gpu),
      cmocka_unit_test(test_attach_sees_gpus_come_and_go),
      cmocka_unit_test(test_attach_sees_new_drm_minor),
      cmocka_unit_test(test_attach_concurrently),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
