/* gpu_enumerate.c: local GPU discovery from sysfs and /dev under a root; see gpu_enumerate.h. */
#include "gpu_enumerate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "file_memo.h"

#define PCI_DEVICES "/sys/bus/pci/devices"

static const struct {
  unsigned vendor, device;
  const char *model;
} model_table[] = {
    {0x10de, 0x2330, "NVIDIA H100 80GB HBM3"},   {0x10de, 0x2331, "NVIDIA H100 PCIe"},
    {0x10de, 0x20b0, "NVIDIA A100-SXM4-40GB"},   {0x10de, 0x20b5, "NVIDIA A100 80GB PCIe"},
    {0x10de, 0x1eb8, "Tesla T4"},                {0x10de, 0x26b9, "NVIDIA L40S"},
    {0x1002, 0x74a1, "AMD Instinct MI300X"},     {0x1002, 0x740f, "AMD Instinct MI210"},
    {0x1002, 0x740c, "AMD Instinct MI250X/MI250"}, {0x1002, 0x744c, "AMD Radeon RX 7900 XTX"},
    {0x8086, 0x0bd5, "Intel Data Center GPU Max 1550"},
    {0x8086, 0x0bda, "Intel Data Center GPU Max 1100"},
    {0x8086, 0x56c0, "Intel Data Center GPU Flex 170"}, {0x8086, 0x56a0, "Intel Arc A770"},
};

const char *nd_gpu_vendor_name(nd_gpu_vendor v) {
  switch (v) {
  case ND_GPU_NVIDIA:
    return "nvidia";
  case ND_GPU_AMD:
    return "amd";
  case ND_GPU_INTEL:
    return "intel";
  }
  return "unknown";
}

void nd_gpu_list_clear(nd_gpu_list *l) {
  free(l->gpus);
  l->gpus = NULL;
  l->n = 0;
}

const nd_gpu *nd_gpu_find(const nd_gpu_list *l, const char *pci_address) {
  for (size_t i = 0; pci_address && i < l->n; i++)
    if (strcmp(l->gpus[i].pci_address, pci_address) == 0)
      return &l->gpus[i];
  return NULL;
}

static char *join(const char *a, const char *b) {
  char *out = NULL;
  size_t n = strlen(a);
  while (n > 1 && a[n - 1] == '/')
    n--;
  if (n == 1 && a[0] == '/')
    n = 0;
  if (asprintf(&out, "%.*s%s%s", (int)n, a, b[0] == '/' ? "" : "/", b) < 0)
    return NULL;
  return out;
}

/* First line of a small sysfs file, trimmed; -1 when missing (errno set). */
static int read_line(const char *path, char *buf, size_t size) {
  cleanup_file FILE *f = fopen(path, "re");
  if (f == NULL)
    return -1;
  if (fgets(buf, (int)size, f) == NULL) {
    buf[0] = '\0';
    return 0;
  }
  size_t n = strlen(buf);
  while (n > 0 && isspace((unsigned char)buf[n - 1]))
    buf[--n] = '\0';
  return 0;
}

static int read_hex(const char *dir, const char *file, unsigned long *out, nd_error_t *err) {
  cleanup_free char *path = join(dir, file);
  char buf[64];
  if (path == NULL || read_line(path, buf, sizeof(buf)) < 0)
    return nd_error_make(err, errno, "reading %s: %s", path ? path : file, strerror(errno));
  char *end = NULL;
  errno = 0;
  *out = strtoul(buf, &end, 16);
  if (errno || end == buf || *end != '\0')
    return nd_error_make(err, EINVAL, "%s: \"%s\" is not a hexadecimal number", path, buf);
  return 0;
}

/* Optional decimal file; def when missing or not a number. */
static long long read_ll(const char *dir, const char *file, long long def) {
  cleanup_free char *path = join(dir, file);
  char buf[64];
  if (path == NULL || read_line(path, buf, sizeof(buf)) < 0)
    return def;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || end == buf || *end != '\0')
    return def;
  return v;
}

static bool exists(const char *root, const char *abs_path) {
  cleanup_free char *p = join(root, abs_path);
  struct stat sb;
  return p && stat(p, &sb) == 0;
}

static void add_node(nd_gpu *g, const char *root, const char *node, bool primary) {
  if (!exists(root, node) || g->n_nodes >= ND_GPU_MAX_NODES)
    return;
  snprintf(g->nodes[g->n_nodes++], sizeof(g->nodes[0]), "%s", node);
  if (primary)
    snprintf(g->primary_node, sizeof(g->primary_node), "%s", node);
}

/* pcieRoot: the "pciDDDD:BB" component of the sysfs link target of the device. */
static void find_pcie_root(const char *link, nd_gpu *g) {
  char target[PATH_MAX];
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  if (n <= 0)
    return;
  target[n] = '\0';
  for (char *tok = strtok(target, "/"); tok; tok = strtok(NULL, "/")) {
    unsigned dom, bus;
    char rest;
    if (sscanf(tok, "pci%4x:%2x%c", &dom, &bus, &rest) == 2 && strlen(tok) == 10) {
      snprintf(g->pcie_root, sizeof(g->pcie_root), "%s", tok);
      return;
    }
  }
}

static void set_model(nd_gpu *g, unsigned vendor, const char *from_driver) {
  if (from_driver && *from_driver) {
    snprintf(g->model, sizeof(g->model), "%s", from_driver);
    return;
  }
  for (size_t i = 0; i < ND_ARRAY_LEN(model_table); i++)
    if (model_table[i].vendor == vendor && model_table[i].device == g->device_id) {
      snprintf(g->model, sizeof(g->model), "%s", model_table[i].model);
      return;
    }
  static const char *const names[] = {"NVIDIA", "AMD", "Intel"};
  snprintf(g->model, sizeof(g->model), "%s GPU 0x%04x", names[g->vendor], g->device_id);
}

/* "Key:   value" lines of the NVIDIA information file. */
static void nvidia_info(const char *root, nd_gpu *g, int ordinal) {
  cleanup_free char *rel = NULL;
  g->index = ordinal;
  char model[65] = "";
  if (asprintf(&rel, "/proc/driver/nvidia/gpus/%s/information", g->pci_address) >= 0) {
    cleanup_free char *path = join(root, rel);
    cleanup_file FILE *f = path ? fopen(path, "re") : NULL;
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
      char *colon = strchr(line, ':');
      if (colon == NULL)
        continue;
      *colon = '\0';
      char *v = colon + 1;
      while (isspace((unsigned char)*v))
        v++;
      size_t n = strlen(v);
      while (n > 0 && isspace((unsigned char)v[n - 1]))
        v[--n] = '\0';
      if (strcmp(line, "Model") == 0)
        snprintf(model, sizeof(model), "%s", v);
      else if (strcmp(line, "GPU UUID") == 0)
        snprintf(g->uuid, sizeof(g->uuid), "%s", v);
      else if (strcmp(line, "Device Minor") == 0)
        g->index = atoi(v);
      else if (strcmp(line, "Memory") == 0) {
        unsigned long long mib = strtoull(v, NULL, 10);
        if (strstr(v, "MiB"))
          g->memory_bytes = mib << 20;
      }
    }
  }
  set_model(g, 0x10de, model);
  char node[64];
  snprintf(node, sizeof(node), "/dev/nvidia%d", g->index);
  add_node(g, root, node, true);
  add_node(g, root, "/dev/nvidiactl", false);
  add_node(g, root, "/dev/nvidia-uvm", false);
  add_node(g, root, "/dev/nvidia-uvm-tools", false);
}

/* cardN / renderDN entries of <dev>/drm, lowest number of each. */
static void drm_minors(const char *dev_dir, int *card, int *render) {
  *card = *render = -1;
  cleanup_free char *drm = join(dev_dir, "drm");
  DIR *d = drm ? opendir(drm) : NULL;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    int n;
    char rest;
    if (sscanf(e->d_name, "card%d%c", &n, &rest) == 1 && (*card < 0 || n < *card))
      *card = n;
    else if (sscanf(e->d_name, "renderD%d%c", &n, &rest) == 1 && (*render < 0 || n < *render))
      *render = n;
  }
  if (d)
    closedir(d);
}

static void amd_info(const char *root, const char *dev_dir, nd_gpu *g, int ordinal) {
  char product[65] = "";
  cleanup_free char *p = join(dev_dir, "product_name");
  if (p)
    read_line(p, product, sizeof(product));
  set_model(g, 0x1002, product);
  long long vram = read_ll(dev_dir, "mem_info_vram_total", 0);
  g->memory_bytes = vram > 0 ? (unsigned long long)vram : 0;
  int card, render;
  drm_minors(dev_dir, &card, &render);
  g->index = card >= 0 ? card : ordinal;
  char node[64];
  if (render >= 0) {
    snprintf(node, sizeof(node), "/dev/dri/renderD%d", render);
    add_node(g, root, node, true);
  }
  add_node(g, root, "/dev/kfd", false);
}

static void intel_info(const char *root, const char *dev_dir, nd_gpu *g, int ordinal) {
  set_model(g, 0x8086, NULL);
  int card, render;
  drm_minors(dev_dir, &card, &render);
  g->index = card >= 0 ? card : ordinal;
  long long lmem = 0;
  if (card >= 0) {
    char rel[64];
    snprintf(rel, sizeof(rel), "drm/card%d/lmem_total_bytes", card);
    lmem = read_ll(dev_dir, rel, 0);
  }
  if (lmem <= 0)
    lmem = read_ll(dev_dir, "lmem_total_bytes", 0);
  g->memory_bytes = lmem > 0 ? (unsigned long long)lmem : 0;
  char node[64];
  if (render >= 0) {
    snprintf(node, sizeof(node), "/dev/dri/renderD%d", render);
    add_node(g, root, node, true);
  }
  if (card >= 0) {
    snprintf(node, sizeof(node), "/dev/dri/card%d", card);
    add_node(g, root, node, g->primary_node[0] == '\0');
  }
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- what each PCI function is, remembered ------------------------------------------------- */

/* A GPU's attach enumerates at every prepare, and a node has hundreds of PCI functions: their
 * class and vendor (never changed while the function exists) are remembered per function
 * directory with the version of its class file (file_memo.h: one stat instead of two opens,
 * reads and closes; a function removed and added again, or a test's rewritten file, has a new
 * class file). The GPUs' own files (driver information, device nodes) are read every time. */
typedef struct {
  unsigned long cls, vendor;
} pci_ids;

static nd_file_memo pci_memo = ND_FILE_MEMO_INIT(free); /* function directory -> pci_ids */

static void copy_ids(const void *value, void *data) { *(pci_ids *)data = *(const pci_ids *)value; }

static int read_pci_ids(const char *dev_dir, unsigned long *cls, unsigned long *vendor,
                        nd_error_t *err) {
  cleanup_free char *class_path = join(dev_dir, "class");
  struct stat st;
  bool have_stat = class_path != NULL && stat(class_path, &st) == 0;
  pci_ids ids;
  if (have_stat && nd_file_memo_find(&pci_memo, dev_dir, &st, copy_ids, &ids)) {
    *cls = ids.cls;
    *vendor = ids.vendor;
    return 0;
  }
  if (read_hex(dev_dir, "class", cls, err) < 0 || read_hex(dev_dir, "vendor", vendor, err) < 0)
    return -1;
  pci_ids *kept = have_stat ? malloc(sizeof(*kept)) : NULL;
  if (kept != NULL) { /* else not remembered: read again next time */
    *kept = (pci_ids){.cls = *cls, .vendor = *vendor};
    nd_file_memo_keep(&pci_memo, dev_dir, &st, kept);
  }
  return 0;
}

int nd_gpu_enumerate(const char *root, nd_gpu_list *out, nd_error_t *err) {
  out->gpus = NULL;
  out->n = 0;
  cleanup_free char *dir = join(root, PCI_DEVICES);
  if (dir == NULL)
    return nd_error_make(err, ENOMEM, "out of memory");
  DIR *d = opendir(dir);
  if (d == NULL) {
    if (errno == ENOENT)
      return 0;
    return nd_error_make(err, errno, "opening %s: %s", dir, strerror(errno));
  }
  char **names = NULL;
  size_t n_names = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char **grown = realloc(names, (n_names + 1) * sizeof(*names));
    if (grown == NULL)
      break;
    names = grown;
    names[n_names++] = strdup(e->d_name);
  }
  closedir(d);
  if (n_names)
    qsort(names, n_names, sizeof(*names), cmp_names);
  int rc = 0;
  int ordinal[3] = {0, 0, 0};
  for (size_t i = 0; i < n_names && rc == 0; i++) {
    cleanup_free char *dev_dir = join(dir, names[i]);
    unsigned long cls, vendor, device;
    if (read_pci_ids(dev_dir, &cls, &vendor, err) < 0) {
      rc = -1;
      break;
    }
    /* VGA (0x0300), 3D controller (0x0302); data-centre AMD and Intel parts report
       "display controller" (0x0380) */
    unsigned long sub = cls >> 8;
    if (sub != 0x0300 && sub != 0x0302 && !(sub == 0x0380 && (vendor == 0x1002 || vendor == 0x8086)))
      continue;
    nd_gpu g;
    memset(&g, 0, sizeof(g));
    if (vendor == 0x10de)
      g.vendor = ND_GPU_NVIDIA;
    else if (vendor == 0x1002)
      g.vendor = ND_GPU_AMD;
    else if (vendor == 0x8086)
      g.vendor = ND_GPU_INTEL;
    else
      continue;
    if (read_hex(dev_dir, "device", &device, err) < 0) {
      rc = -1;
      break;
    }
    g.device_id = (unsigned)device;
    snprintf(g.pci_address, sizeof(g.pci_address), "%s", names[i]);
    snprintf(g.name, sizeof(g.name), "gpu-%zu", out->n);
    g.numa_node = (int)read_ll(dev_dir, "numa_node", -1);
    if (g.numa_node < 0)
      g.numa_node = -1;
    find_pcie_root(dev_dir, &g);
    switch (g.vendor) {
    case ND_GPU_NVIDIA:
      nvidia_info(root, &g, ordinal[0]++);
      break;
    case ND_GPU_AMD:
      amd_info(root, dev_dir, &g, ordinal[1]++);
      break;
    case ND_GPU_INTEL:
      intel_info(root, dev_dir, &g, ordinal[2]++);
      break;
    }
    nd_gpu *grown = realloc(out->gpus, (out->n + 1) * sizeof(*grown));
    if (grown == NULL) {
      rc = nd_error_make(err, ENOMEM, "out of memory");
      break;
    }
    out->gpus = grown;
    out->gpus[out->n++] = g;
  }
  for (size_t i = 0; i < n_names; i++)
    free(names[i]);
  free(names);
  if (rc < 0)
    nd_gpu_list_clear(out);
  return rc;
}
