/* backend_gpu.c: attach backend of local GPUs (type "gpu", published by gpu_slice.c).
 *
 * The allocated device is found again by its resource.kubernetes.io/pciBusID attribute among
 * the GPUs under dev_root (nd_gpu_enumerate_for, gpu_enumerate.h: the last enumeration,
 * checked with a few stat()s of this GPU's files and nodes and one read of the PCI device
 * directory, else a new one). When a vendor CDI spec in <dev_root>/etc/cdi or
 * <dev_root>/var/run/cdi (*.json, *.yaml; kind nvidia.com/..., amd.com/..., intel.com/...) has
 * a device whose containerEdits.deviceNodes hold this GPU's own node (/dev/nvidia0,
 * /dev/dri/renderD128) and no other local GPU's node, that device's qualified id (e.g.
 * nvidia.com/gpu=0) is returned instead of edits: the vendor's spec knows the driver
 * libraries and hooks. Among several matches the one with the fewest device nodes wins (a
 * single GPU rather than "all"); /var/run/cdi is searched after /etc/cdi and wins a tie.
 * Per-claim specs ("<vendor>-claim_<uid>.json": ours, other DRA drivers') are not read.
 * Otherwise the edits carry the GPU's device nodes (hostPath under dev_root) and env
 * NETDRA_GPU_VENDOR, NETDRA_GPU_PCI_BUS_ID. Opaque GpuConfig: preferVendorCdi (default true).
 * Nothing is held, so detach has nothing to release. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "backend_edits.h"
#include "cdi.h"
#include "cleanup.h"
#include "file_memo.h"
#include "gpu_enumerate.h"
#include "log.h"
#include "yaml_json.h"

#define PCI_BUS_ID_ATTR "resource.kubernetes.io/pciBusID"

static const char *vendor_domain(nd_gpu_vendor v) {
  switch (v) {
  case ND_GPU_NVIDIA:
    return "nvidia.com";
  case ND_GPU_AMD:
    return "amd.com";
  case ND_GPU_INTEL:
    return "intel.com";
  }
  return "";
}

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && strcmp(s + n - m, suffix) == 0;
}

typedef struct {
  char *id;        /* best qualified id so far */
  size_t n_nodes;  /* its device node count */
} vendor_match;

/* Is path the own node of a GPU other than g? */
static bool other_gpu_node(const nd_gpu_list *gpus, const nd_gpu *g, const char *path) {
  for (size_t i = 0; i < gpus->n; i++)
    if (&gpus->gpus[i] != g && strcmp(gpus->gpus[i].primary_node, path) == 0)
      return true;
  return false;
}

/* Look at one spec (parsed) for a device that holds g's own node and no other GPU's. */
static void match_spec(const json_t *spec, const nd_gpu_list *gpus, const nd_gpu *g,
                       vendor_match *best) {
  const char *kind = json_string_value(json_object_get(spec, "kind"));
  const char *dom = vendor_domain(g->vendor);
  size_t dl = strlen(dom);
  if (kind == NULL || strncmp(kind, dom, dl) != 0 || kind[dl] != '/')
    return;
  size_t i;
  json_t *dev;
  json_array_foreach(json_object_get(spec, "devices"), i, dev) {
    const char *name = json_string_value(json_object_get(dev, "name"));
    const json_t *nodes = json_object_get(json_object_get(dev, "containerEdits"), "deviceNodes");
    if (name == NULL || !json_is_array(nodes))
      continue;
    bool holds = false, others = false;
    size_t j;
    json_t *n;
    json_array_foreach(nodes, j, n) {
      const char *path = json_string_value(json_object_get(n, "path"));
      if (path && strcmp(path, g->primary_node) == 0)
        holds = true;
      else if (path && other_gpu_node(gpus, g, path))
        others = true;
    }
    if (!holds || others || (best->id && json_array_size(nodes) > best->n_nodes))
      continue;
    char *id = NULL;
    if (asprintf(&id, "%s=%s", kind, name) < 0)
      continue;
    free(best->id);
    best->id = id;
    best->n_nodes = json_array_size(nodes);
  }
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- vendor specs, parsed once per version of the file --------------------------------------- */

/* A vendor's CDI spec (nvidia-ctk writes tens of KB of YAML) is parsed once per version of its
 * file (file_memo.h), not at every prepare. The parsed tree is shared read-only between the
 * workers (jansson's reference counts are atomic); a changed file is parsed again. */
static void release_spec(void *spec) { json_decref(spec); }

static nd_file_memo spec_memo = ND_FILE_MEMO_INIT(release_spec); /* path -> json_t */

static unsigned long spec_parses; /* atomic adds: for tests */

unsigned long nd_backend_gpu_spec_parses(void) {
  return __atomic_load_n(&spec_parses, __ATOMIC_RELAXED);
}

static json_t *parse_spec_file(const char *path, nd_error_t *err) {
  __atomic_add_fetch(&spec_parses, 1, __ATOMIC_RELAXED);
  if (has_suffix(path, ".json")) {
    json_error_t jerr;
    json_t *spec = json_load_file(path, 0, &jerr);
    if (spec == NULL)
      nd_error_make(err, EINVAL, "%s:%d: %s", path, jerr.line, jerr.text);
    return spec;
  }
  cleanup_json json_t *docs = nd_yaml_load_file(path, NULL, err);
  return json_incref(json_array_get(docs, 0));
}

static void take_spec(const void *spec, void *out) {
  *(json_t **)out = json_incref((json_t *)spec);
}

/* The parsed spec of path (a reference the caller releases), or NULL with err. */
static json_t *load_spec(const char *path, nd_error_t *err) {
  struct stat st;
  if (stat(path, &st) < 0)
    return nd_error_make(err, errno, "%s: %s", path, strerror(errno)), NULL;
  json_t *spec = NULL;
  if (nd_file_memo_find(&spec_memo, path, &st, take_spec, &spec))
    return spec;
  spec = parse_spec_file(path, err);
  if (spec != NULL)
    nd_file_memo_keep(&spec_memo, path, &st, json_incref(spec));
  return spec;
}

/* Scan one CDI directory; unreadable or malformed specs are skipped with a warning (the
 * runtime would reject them too). The per-claim specs of DRA drivers, ours among them
 * (/var/run/cdi is our CDI directory on a node), are not looked at: they are never a vendor's
 * node-wide spec, there is one per prepared claim, and each new one would be parsed (and
 * remembered) at the next GPU attach. The first 256 other specs are read. */
static void scan_cdi_dir(const char *dev_root, const char *abs_dir, const nd_gpu_list *gpus,
                         const nd_gpu *g, vendor_match *best) {
  cleanup_free char *dir = nd_backend_host_path(dev_root, abs_dir);
  DIR *d = dir ? opendir(dir) : NULL;
  if (d == NULL)
    return;
  char *names[256];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < ND_ARRAY_LEN(names))
    if ((has_suffix(e->d_name, ".json") || has_suffix(e->d_name, ".yaml")) &&
        !nd_cdi_is_claim_spec_name(e->d_name))
      names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof(names[0]), cmp_names);
  for (size_t i = 0; i < n; i++) {
    cleanup_free char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
      continue;
    cleanup_error nd_error_t err = NULL;
    cleanup_json json_t *spec = load_spec(path, &err);
    if (spec == NULL)
      ND_LOG_WARN("backend-gpu", "cdi-spec-unreadable", ND_KV_S("file", path),
                  ND_KV_S("error", err ? nd_error_msg(err) : "empty"));
    else
      match_spec(spec, gpus, g, best);
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
}

static int gpu_attach(const nd_attach_request *req, nd_attach_result *res, nd_error_t *err) {
  const char *bus_id = nd_backend_attr_required(req, PCI_BUS_ID_ATTR, err);
  if (bus_id == NULL)
    return -1;
  const char *root = req->dev_root ? req->dev_root : "/";
  nd_gpu_list gpus;
  if (nd_gpu_enumerate_for(root, bus_id, &gpus, err) < 0)
    return nd_error_wrap(err, "finding GPU %s", bus_id);
  int rc = 0;
  const nd_gpu *g = nd_gpu_find(&gpus, bus_id);
  if (g == NULL) {
    rc = nd_error_make(err, ENODEV, "GPU %s (device %s/%s) is not present on node %s", bus_id,
                       req->pool, req->device, req->node_name ? req->node_name : "?");
  } else if (g->primary_node[0] == '\0') {
    rc = nd_error_make(err, ENODEV, "GPU %s (device %s/%s) has no device node under %s/dev",
                       bus_id, req->pool, req->device, root);
  } else {
    vendor_match best = {NULL, 0};
    if (nd_backend_config_bool(req->config, "preferVendorCdi", true)) {
      scan_cdi_dir(root, "/etc/cdi", &gpus, g, &best);
      vendor_match later = {NULL, 0};
      scan_cdi_dir(root, "/var/run/cdi", &gpus, g, &later);
      if (later.id && (best.id == NULL || later.n_nodes <= best.n_nodes)) {
        free(best.id);
        best = later;
      } else {
        free(later.id);
      }
    }
    res->state = json_pack("{s:s}", "pciBusID", bus_id);
    if (best.id) {
      res->vendor_cdi_id = best.id;
    } else {
      res->edits = nd_edits_new();
      for (size_t i = 0; i < g->n_nodes; i++) {
        cleanup_free char *host = nd_backend_host_path(root, g->nodes[i]);
        nd_edits_add_device_node(res->edits, g->nodes[i], host);
      }
      nd_edits_add_env(res->edits, "NETDRA_GPU_VENDOR", nd_gpu_vendor_name(g->vendor));
      nd_edits_add_env(res->edits, "NETDRA_GPU_PCI_BUS_ID", g->pci_address);
    }
    /* debug: the driver logs every attach at info (claim, pool, device, type) */
    ND_LOG_DEBUG("backend-gpu", "attached", ND_KV_S("claim", req->claim_uid),
                ND_KV_S("device", req->device), ND_KV_S("pciBusID", bus_id),
                ND_KV_S("vendorCdiId", res->vendor_cdi_id ? res->vendor_cdi_id : ""));
  }
  nd_gpu_list_clear(&gpus);
  return rc;
}

static int gpu_detach(const nd_attach_request *req, const json_t *state, nd_error_t *err) {
  return 0; /* a local GPU holds nothing outside the CDI spec */
}

static bool gpu_leaves_nothing(const nd_attach_request *req) {
  (void)req;
  return true; /* edits only: device nodes and env, in the CDI spec */
}

const nd_backend nd_backend_gpu = {"gpu", gpu_attach, gpu_detach, gpu_leaves_nothing};
