/* gpu_enumerate.c: local GPU discovery from sysfs and /dev under a root; see gpu_enumerate.h. */
#include "gpu_enumerate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "file_memo.h"
#include "grow.h"

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

/* How much of a root (or directory) a path under it keeps: trailing '/'s dropped, "/" itself
 * none (join and join_into put one '/' between it and the rest). */
static size_t kept_prefix(const char *a) {
  size_t n = strlen(a);
  while (n > 1 && a[n - 1] == '/')
    n--;
  return n == 1 && a[0] == '/' ? 0 : n;
}

static char *join(const char *a, const char *b) {
  char *out = NULL;
  size_t n = kept_prefix(a);
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

/* ---- the files an attach relies on, per GPU ------------------------------------------------ */

/* While enumerating for an attach (nd_gpu_enumerate_for), the files a GPU's answer was derived
 * from are recorded with their version, stat()ed before they are read: a file that changes
 * afterwards has a version other than the recorded one, so a recorded answer is never newer
 * than its versions. The reasoning is at the memo below. */
#define WATCH_PATH_MAX 96 /* "/proc/driver/nvidia/gpus/<address>/information" and the like */
#define WATCHES_PER_GPU 8

typedef struct {
  char rel[WATCH_PATH_MAX]; /* path under the root */
  bool presence_only;       /* a device node: only whether it exists matters */
  bool present;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime, ctime;
} watched_file;

typedef struct {
  bool complete; /* false: a path did not fit; this GPU is never answered from memory */
  size_t n;
  watched_file files[WATCHES_PER_GPU];
} gpu_watch;

/* root + rel into buf, as join() forms it; false when it does not fit. */
static bool join_into(char *buf, size_t size, const char *root, const char *rel) {
  size_t n = kept_prefix(root);
  size_t sep = rel[0] == '/' ? 0 : 1, rel_len = strlen(rel);
  if (n + sep + rel_len >= size)
    return false;
  memcpy(buf, root, n); /* no snprintf: this runs for each watched file at every attach */
  buf[n] = '/';
  memcpy(buf + n + sep, rel, rel_len + 1);
  return true;
}

static bool same_file(const watched_file *f, bool present, const struct stat *st) {
  if (f->present != present)
    return false;
  if (!present || f->presence_only)
    return true;
  return f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
         f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
         f->ctime.tv_sec == st->st_ctim.tv_sec && f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* Record rel (under the root) in w as it is now: st, or absent when st is NULL. */
static void watch_record(gpu_watch *w, const char *rel, bool presence_only,
                         const struct stat *st) {
  if (w == NULL)
    return;
  if (w->n >= WATCHES_PER_GPU || strlen(rel) >= WATCH_PATH_MAX) {
    w->complete = false;
    return;
  }
  watched_file *f = &w->files[w->n++];
  memset(f, 0, sizeof(*f));
  snprintf(f->rel, sizeof(f->rel), "%s", rel);
  f->presence_only = presence_only;
  f->present = st != NULL;
  if (st != NULL) {
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = st->st_size;
    f->mtime = st->st_mtim;
    f->ctime = st->st_ctim;
  }
}

/* stat() root + rel and record its version in w; nothing when w is NULL (a plain
 * enumeration makes no system call for it). */
static void watch_file(gpu_watch *w, const char *root, const char *rel) {
  char path[PATH_MAX];
  struct stat st;
  if (w == NULL)
    return;
  if (!join_into(path, sizeof(path), root, rel)) {
    w->complete = false;
    return;
  }
  watch_record(w, rel, false, stat(path, &st) == 0 ? &st : NULL);
}

/* Does the device node (container path) exist under the root? Recorded in w when not NULL. */
static bool node_exists(gpu_watch *w, const char *root, const char *node) {
  char path[PATH_MAX];
  struct stat st;
  bool present = join_into(path, sizeof(path), root, node) && stat(path, &st) == 0;
  watch_record(w, node, true, present ? &st : NULL);
  return present;
}

static bool watch_still_true(const gpu_watch *w, const char *root) {
  char path[PATH_MAX];
  if (!w->complete)
    return false;
  for (size_t i = 0; i < w->n; i++) {
    struct stat st;
    if (!join_into(path, sizeof(path), root, w->files[i].rel))
      return false;
    if (!same_file(&w->files[i], stat(path, &st) == 0, &st))
      return false;
  }
  return true;
}

static void add_node(nd_gpu *g, gpu_watch *w, const char *root, const char *node, bool primary) {
  if (!node_exists(w, root, node) || g->n_nodes >= ND_GPU_MAX_NODES)
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
  char *save = NULL; /* strtok_r: attaches enumerate on several threads at once */
  for (char *tok = strtok_r(target, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
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
static void nvidia_info(const char *root, nd_gpu *g, gpu_watch *w, int ordinal) {
  cleanup_free char *rel = NULL;
  g->index = ordinal;
  char model[65] = "";
  if (asprintf(&rel, "/proc/driver/nvidia/gpus/%s/information", g->pci_address) < 0)
    rel = NULL;
  if (rel == NULL && w != NULL)
    w->complete = false;
  if (rel != NULL) {
    watch_file(w, root, rel); /* the Device Minor, hence the primary node */
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
  add_node(g, w, root, node, true);
  add_node(g, w, root, "/dev/nvidiactl", false);
  add_node(g, w, root, "/dev/nvidia-uvm", false);
  add_node(g, w, root, "/dev/nvidia-uvm-tools", false);
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

static void amd_info(const char *root, const char *dev_dir, const char *drm_rel, nd_gpu *g,
                     gpu_watch *w, int ordinal) {
  char product[65] = "";
  cleanup_free char *p = join(dev_dir, "product_name");
  if (p)
    read_line(p, product, sizeof(product));
  set_model(g, 0x1002, product);
  long long vram = read_ll(dev_dir, "mem_info_vram_total", 0);
  g->memory_bytes = vram > 0 ? (unsigned long long)vram : 0;
  int card, render;
  watch_file(w, root, drm_rel); /* which render node */
  drm_minors(dev_dir, &card, &render);
  g->index = card >= 0 ? card : ordinal;
  char node[64];
  if (render >= 0) {
    snprintf(node, sizeof(node), "/dev/dri/renderD%d", render);
    add_node(g, w, root, node, true);
  }
  add_node(g, w, root, "/dev/kfd", false);
}

static void intel_info(const char *root, const char *dev_dir, const char *drm_rel, nd_gpu *g,
                       gpu_watch *w, int ordinal) {
  set_model(g, 0x8086, NULL);
  int card, render;
  watch_file(w, root, drm_rel); /* which render and card nodes */
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
    add_node(g, w, root, node, true);
  }
  if (card >= 0) {
    snprintf(node, sizeof(node), "/dev/dri/card%d", card);
    add_node(g, w, root, node, g->primary_node[0] == '\0');
  }
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- what each PCI function is, remembered ------------------------------------------------- */

/* A full enumeration looks at every PCI function, and a node has hundreds: their class and
 * vendor (never changed while the function exists) are remembered per function directory with
 * the version of its class file (file_memo.h: one stat instead of two opens, reads and closes;
 * a function removed and added again, or a test's rewritten file, has a new class file). The
 * GPUs' own files (driver information, device nodes) are read at every full enumeration. */
typedef struct {
  unsigned long cls, vendor;
} pci_ids;

static nd_file_memo pci_memo = ND_FILE_MEMO_INIT(free); /* function directory -> pci_ids */

static void copy_ids(const void *value, void *data) { *(pci_ids *)data = *(const pci_ids *)value; }

/* class_st: the version of the class file the ids come from (stat()ed before reading), or
 * absent (st_ino 0) when it could not be stat()ed. */
static int read_pci_ids(const char *dev_dir, unsigned long *cls, unsigned long *vendor,
                        struct stat *class_st, nd_error_t *err) {
  cleanup_free char *class_path = join(dev_dir, "class");
  struct stat st;
  bool have_stat = class_path != NULL && stat(class_path, &st) == 0;
  if (!have_stat)
    memset(&st, 0, sizeof(st));
  *class_st = st;
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

/* ---- the PCI functions listed, as the kernel returned them --------------------------------- */

/* The records getdents64() returned for <root>/sys/bus/pci/devices (name, inode, offset of
 * each entry), concatenated; an attach reads the directory again and compares them: the same
 * few system calls and a short loop for hundreds of functions. A function removed or added
 * changes the records (in sysfs even one removed and added again under the same name: a new
 * link, a new inode); the same entries read in another order only enumerate again. */
typedef struct {
  char *bytes;
  size_t len, cap;
} pci_listing;

#define LISTING_CHUNK 32768 /* one getdents64 call: ~800 PCI functions */

static void pci_listing_clear(pci_listing *l) {
  free(l->bytes);
  *l = (pci_listing){NULL, 0, 0};
}

/* Read the records of dir into l (emptied first); -1 with errno. */
static int pci_listing_read(const char *dir, pci_listing *l) {
  l->len = 0;
  cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  for (;;) {
    if (ND_GROW_TRY(l->bytes, l->cap, l->len + LISTING_CHUNK, LISTING_CHUNK) < 0)
      return errno = ENOMEM, -1;
    ssize_t n = getdents64(fd, l->bytes + l->len, LISTING_CHUNK);
    if (n < 0)
      return -1;
    if (n == 0)
      return 0;
    l->len += (size_t)n;
  }
}

/* Are the n bytes of records in got the records of want from *pos on? Field by field: the
 * kernel leaves a record's padding after the name's '\0' as the buffer had it. */
static bool same_records(const char *got, size_t n, const pci_listing *want, size_t *pos) {
  for (size_t at = 0; at < n;) {
    const struct dirent64 *g = (const struct dirent64 *)(got + at);
    const struct dirent64 *w = (const struct dirent64 *)(want->bytes + *pos);
    if (want->len - *pos < g->d_reclen || g->d_reclen != w->d_reclen || g->d_ino != w->d_ino ||
        g->d_off != w->d_off || g->d_type != w->d_type || strcmp(g->d_name, w->d_name) != 0)
      return false;
    at += g->d_reclen;
    *pos += g->d_reclen;
  }
  return true;
}

/* Does <root>/sys/bus/pci/devices hold the same records now? One directory read. */
static bool same_functions(const char *root, const pci_listing *want) {
  char dir[PATH_MAX];
  if (!join_into(dir, sizeof(dir), root, PCI_DEVICES))
    return false;
  cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return false;
  cleanup_free char *chunk = malloc(LISTING_CHUNK);
  size_t pos = 0;
  ssize_t n = -1;
  while (chunk != NULL && (n = getdents64(fd, chunk, LISTING_CHUNK)) > 0)
    if (!same_records(chunk, (size_t)n, want, &pos))
      return false;
  return n == 0 && pos == want->len;
}

/* ---- full enumeration ------------------------------------------------------------------------ */

static unsigned long full_enumerations; /* atomic */

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

/* The sorted names of <root>/sys/bus/pci/devices (none when it does not exist), from its
 * records read into *listing. */
static int list_functions(const char *dir, char ***names_out, size_t *n_out,
                          pci_listing *listing, nd_error_t *err) {
  *names_out = NULL;
  *n_out = 0;
  if (pci_listing_read(dir, listing) < 0) {
    if (errno == ENOENT)
      return 0;
    return nd_error_make(err, errno, "reading %s: %s", dir, strerror(errno));
  }
  char **names = NULL;
  size_t n = 0;
  for (size_t pos = 0; pos < listing->len;) {
    const struct dirent64 *e = (const struct dirent64 *)(listing->bytes + pos);
    pos += e->d_reclen;
    if (e->d_name[0] == '.')
      continue;
    char **grown = realloc(names, (n + 1) * sizeof(*names));
    char *name = grown ? strdup(e->d_name) : NULL;
    if (grown != NULL)
      names = grown;
    if (name == NULL) {
      free_names(names, n);
      return nd_error_make(err, ENOMEM, "out of memory listing %s", dir);
    }
    names[n++] = name;
  }
  if (n)
    qsort(names, n, sizeof(*names), cmp_names);
  *names_out = names;
  *n_out = n;
  return 0;
}

/* Every GPU under root; with watches (not NULL), what each one's answer relies on too (one
 * gpu_watch per GPU, in list order). The PCI functions' records are read into *listing (the
 * caller clears it). */
static int enumerate(const char *root, nd_gpu_list *out, gpu_watch **watches,
                     pci_listing *listing, nd_error_t *err) {
  out->gpus = NULL;
  out->n = 0;
  if (watches != NULL)
    *watches = NULL;
  __atomic_add_fetch(&full_enumerations, 1, __ATOMIC_RELAXED);
  cleanup_free char *dir = join(root, PCI_DEVICES);
  if (dir == NULL)
    return nd_error_make(err, ENOMEM, "out of memory");
  char **names;
  size_t n_names;
  if (list_functions(dir, &names, &n_names, listing, err) < 0)
    return -1;
  int rc = 0;
  int ordinal[3] = {0, 0, 0};
  for (size_t i = 0; i < n_names && rc == 0; i++) {
    cleanup_free char *dev_dir = join(dir, names[i]);
    unsigned long cls, vendor, device;
    struct stat class_st;
    if (dev_dir == NULL) {
      rc = nd_error_make(err, ENOMEM, "out of memory");
      break;
    }
    if (read_pci_ids(dev_dir, &cls, &vendor, &class_st, err) < 0) {
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
    gpu_watch watch = {.complete = true, .n = 0};
    gpu_watch *w = watches != NULL ? &watch : NULL;
    char class_rel[WATCH_PATH_MAX], drm_rel[WATCH_PATH_MAX];
    int class_len = snprintf(class_rel, sizeof(class_rel), "%s/%s/class", PCI_DEVICES, names[i]);
    int drm_len = snprintf(drm_rel, sizeof(drm_rel), "%s/%s/drm", PCI_DEVICES, names[i]);
    if (w != NULL && (class_len >= (int)sizeof(class_rel) || drm_len >= (int)sizeof(drm_rel)))
      w->complete = false;
    /* its class and vendor came from this version of the class file */
    watch_record(w, class_rel, false, class_st.st_ino ? &class_st : NULL);
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
      nvidia_info(root, &g, w, ordinal[0]++);
      break;
    case ND_GPU_AMD:
      amd_info(root, dev_dir, drm_rel, &g, w, ordinal[1]++);
      break;
    case ND_GPU_INTEL:
      intel_info(root, dev_dir, drm_rel, &g, w, ordinal[2]++);
      break;
    }
    nd_gpu *grown = realloc(out->gpus, (out->n + 1) * sizeof(*grown));
    if (grown != NULL)
      out->gpus = grown;
    gpu_watch *grown_w =
        grown && watches ? realloc(*watches, (out->n + 1) * sizeof(*grown_w)) : NULL;
    if (grown_w != NULL)
      *watches = grown_w;
    if (grown == NULL || (watches != NULL && grown_w == NULL)) {
      rc = nd_error_make(err, ENOMEM, "out of memory");
      break;
    }
    if (watches != NULL)
      (*watches)[out->n] = watch;
    out->gpus[out->n++] = g;
  }
  free_names(names, n_names);
  if (rc < 0) {
    nd_gpu_list_clear(out);
    if (watches != NULL) {
      free(*watches);
      *watches = NULL;
    }
  }
  return rc;
}

int nd_gpu_enumerate(const char *root, nd_gpu_list *out, nd_error_t *err) {
  pci_listing listing = {NULL, 0, 0};
  int rc = enumerate(root, out, NULL, &listing, err);
  pci_listing_clear(&listing);
  return rc;
}

unsigned long nd_gpu_full_enumerations(void) {
  return __atomic_load_n(&full_enumerations, __ATOMIC_RELAXED);
}

/* ---- the last enumeration per root, for attaches ------------------------------------------- */

/* An attach needs the GPU of its claim (by PCI address) and the primary nodes of the other
 * GPUs (vendor CDI matching); enumerating the node at every prepare costs a stat per PCI
 * function and several files per GPU. So the last full enumeration under each root is kept
 * with, per GPU, the version (dev, inode, size, mtime, ctime) of each file its answer came
 * from, and an attach answers from it after checking, with stat() and one directory read,
 * exactly what could change that answer:
 *   - whether a GPU is still at that address, and whether it is the same function: its class
 *     file, the version its class and vendor were read from (pci_memo's key too). A function
 *     removed, or replaced by another at the same address, is a new sysfs object whose
 *     attribute files are new kernfs nodes (kernfs does not reuse inode numbers on 64-bit), so
 *     the stat fails or differs; a rewritten class file (a test's tree) differs too;
 *   - which nodes are its own: NVIDIA's /proc/driver/nvidia/gpus/<addr>/information (the
 *     Device Minor, hence /dev/nvidia<minor>; a driver re-bound or reloaded makes a new proc
 *     entry, a new inode or at least a new mtime), AMD's and Intel's <function>/drm directory
 *     (which renderD<n>, card<n>; re-created on a re-bind);
 *   - every device node it looked for, present or not: one that disappeared fails the attach,
 *     one that appeared (nvidia-uvm is created on first use) is added to the edits;
 *   - the PCI functions listed under /sys/bus/pci/devices (each record's name, inode and
 *     offset; one directory read whatever their number): a GPU added or removed elsewhere
 *     changes which nodes belong to other GPUs, and a vendor CDI device holding this GPU's node
 *     and another GPU's must not be chosen. sysfs does not update that directory's mtime when
 *     a device comes or goes, so it is read, not stat()ed; a function removed and added again
 *     under the same name has a new link inode.
 * Any difference, or a claim for an address the last enumeration did not find as a GPU,
 * enumerates again and remembers that. Recorded versions are taken before the files are read,
 * so a change during an enumeration shows up as a difference at the next attach. Not checked:
 * the other GPUs' own driver files (a re-bind of another GPU alone, which keeps its PCI link
 * and in practice its device node); the slice publisher and the health stream enumerate in
 * full. Model, memory, NUMA node and UUID of the returned GPUs are as of the last enumeration
 * (an attach does not use them; the UUID is in the watched information file). The memo is
 * shared by the workers: its lock is held to find or replace an entry, never across a system
 * call, and callers get copies. */
typedef struct remembered_root {
  struct remembered_root *next;
  char *root;
  nd_gpu_list gpus;
  gpu_watch *watches; /* per GPU of gpus */
  pci_listing functions;
} remembered_root;

#define REMEMBERED_ROOTS_MAX 16 /* one in production; tests use many roots */

static pthread_mutex_t remembered_lock = PTHREAD_MUTEX_INITIALIZER;
static remembered_root *remembered; /* most recently stored first */

static void remembered_free(remembered_root *r) {
  while (r != NULL) {
    remembered_root *next = r->next;
    free(r->root);
    nd_gpu_list_clear(&r->gpus);
    free(r->watches);
    pci_listing_clear(&r->functions);
    free(r);
    r = next;
  }
}

/* A copy of the remembered list under root when it has the GPU at pci_address, with copies
 * of that GPU's watch and of the functions listed; false when there is none to use. */
static bool recall(const char *root, const char *pci_address, nd_gpu_list *out, gpu_watch *w,
                   pci_listing *functions) {
  bool found = false;
  pthread_mutex_lock(&remembered_lock);
  for (const remembered_root *r = remembered; r != NULL && !found; r = r->next) {
    if (strcmp(r->root, root) != 0)
      continue;
    const nd_gpu *g = nd_gpu_find(&r->gpus, pci_address);
    if (g == NULL)
      break;
    size_t i = (size_t)(g - r->gpus.gpus);
    out->gpus = malloc(r->gpus.n * sizeof(*out->gpus));
    functions->bytes = malloc(r->functions.len + 1);
    if (out->gpus == NULL || functions->bytes == NULL || !r->watches[i].complete) {
      free(out->gpus);
      out->gpus = NULL;
      pci_listing_clear(functions);
      break;
    }
    memcpy(out->gpus, r->gpus.gpus, r->gpus.n * sizeof(*out->gpus));
    out->n = r->gpus.n;
    *w = r->watches[i];
    memcpy(functions->bytes, r->functions.bytes, r->functions.len);
    functions->len = functions->cap = r->functions.len;
    found = true;
  }
  pthread_mutex_unlock(&remembered_lock);
  return found;
}

/* Remember a copy of gpus with watches and functions (both taken over) as the answer for
 * root; without memory nothing is remembered (the next attach enumerates again). */
static void remember(const char *root, const nd_gpu_list *gpus, gpu_watch *watches,
                     pci_listing *functions) {
  remembered_root *r = calloc(1, sizeof(*r));
  if (r != NULL) {
    r->root = strdup(root);
    r->gpus.gpus = gpus->n ? malloc(gpus->n * sizeof(*gpus->gpus)) : NULL;
  }
  if (r == NULL || r->root == NULL || (gpus->n && r->gpus.gpus == NULL)) {
    if (r != NULL) {
      free(r->root);
      free(r->gpus.gpus);
      free(r);
    }
    free(watches);
    pci_listing_clear(functions);
    return;
  }
  if (gpus->n)
    memcpy(r->gpus.gpus, gpus->gpus, gpus->n * sizeof(*gpus->gpus));
  r->gpus.n = gpus->n;
  r->watches = watches;
  r->functions = *functions;
  *functions = (pci_listing){NULL, 0, 0};
  remembered_root *dropped = NULL;
  pthread_mutex_lock(&remembered_lock);
  for (remembered_root **p = &remembered; *p != NULL; p = &(*p)->next)
    if (strcmp((*p)->root, root) == 0) {
      dropped = *p;
      *p = dropped->next;
      dropped->next = NULL;
      break;
    }
  r->next = remembered;
  remembered = r;
  size_t kept = 0;
  for (remembered_root **p = &remembered; *p != NULL; p = &(*p)->next)
    if (++kept == REMEMBERED_ROOTS_MAX) { /* the least recently stored go */
      remembered_root *old = (*p)->next;
      (*p)->next = NULL;
      if (dropped != NULL)
        dropped->next = old;
      else
        dropped = old;
      break;
    }
  pthread_mutex_unlock(&remembered_lock);
  remembered_free(dropped);
}

int nd_gpu_enumerate_for(const char *root, const char *pci_address, nd_gpu_list *out,
                         nd_error_t *err) {
  gpu_watch w;
  pci_listing functions = {NULL, 0, 0};
  if (pci_address != NULL && recall(root, pci_address, out, &w, &functions)) {
    bool valid = watch_still_true(&w, root) && same_functions(root, &functions);
    pci_listing_clear(&functions);
    if (valid)
      return 0;
    nd_gpu_list_clear(out);
  }
  gpu_watch *watches = NULL;
  if (enumerate(root, out, &watches, &functions, err) < 0) {
    pci_listing_clear(&functions);
    return -1;
  }
  remember(root, out, watches, &functions);
  return 0;
}
