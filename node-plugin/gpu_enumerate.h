/* gpu_enumerate.h: finds the node's local GPUs in sysfs and /dev under a root directory ("/"
 * in production, a fake tree in tests: tests/node-plugin/fake-roots/).
 *
 * A GPU is a PCI function under <root>/sys/bus/pci/devices/ whose class is 0x0300xx (VGA) or
 * 0x0302xx (3D controller) and whose vendor is NVIDIA (0x10de), AMD (0x1002) or Intel
 * (0x8086); AMD and Intel data-centre GPUs (Instinct, Max) report 0x0380xx (display
 * controller) and are taken too. GPUs are named gpu-0, gpu-1, ... in PCI address order (stable across restarts).
 * Per vendor (docs/device-types.md describes the modelled layouts):
 *   NVIDIA  <root>/proc/driver/nvidia/gpus/<addr>/information ("Model:", "GPU UUID:",
 *           "Device Minor:", optional "Memory: <n> MiB"); nodes /dev/nvidia<minor>,
 *           /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools
 *   AMD     product_name, mem_info_vram_total (bytes) in the PCI device directory; nodes
 *           /dev/dri/renderD<n> (from <dev>/drm/) and /dev/kfd
 *   Intel   lmem_total_bytes (in <dev>/drm/card<n>/ or <dev>/) when present; nodes
 *           /dev/dri/card<n> and /dev/dri/renderD<n>
 * Models not named by the driver come from a small PCI device id table, else
 * "<Vendor> GPU 0x<device>". Only device nodes that exist under the root are listed. */
#ifndef NETDRA_NODE_PLUGIN_GPU_ENUMERATE_H
#define NETDRA_NODE_PLUGIN_GPU_ENUMERATE_H

#include <stddef.h>

#include "error.h"

typedef enum { ND_GPU_NVIDIA, ND_GPU_AMD, ND_GPU_INTEL } nd_gpu_vendor;

#define ND_GPU_MAX_NODES 6

typedef struct {
  char name[16];               /* gpu-0 */
  nd_gpu_vendor vendor;
  char pci_address[32];        /* 0000:01:00.0 */
  char pcie_root[32];          /* pci0000:00, "" when the sysfs path does not show it */
  char model[65];              /* <= 64 characters (attribute limit) */
  unsigned device_id;          /* PCI device id */
  int numa_node;               /* -1 when unknown */
  unsigned long long memory_bytes; /* 0 when unknown */
  int index;                   /* NVIDIA device minor, DRM card number, else the ordinal */
  char uuid[64];               /* NVIDIA GPU UUID, else "" */
  char primary_node[64];       /* the node that is this GPU: /dev/nvidia0, /dev/dri/renderD128;
                                  "" when it does not exist under the root */
  size_t n_nodes;
  char nodes[ND_GPU_MAX_NODES][64]; /* every device node the GPU needs, container paths */
} nd_gpu;

typedef struct {
  nd_gpu *gpus;
  size_t n;
} nd_gpu_list;

/* Enumerate under root. No PCI sysfs under the root = no GPUs (not an error); an unreadable
 * file of a GPU is an error naming it. */
int nd_gpu_enumerate(const char *root, nd_gpu_list *out, nd_error_t *err);
/* The GPUs under root as an attach of the GPU at pci_address needs them: the last such
 * enumeration under root (remembered for the process's lifetime, shared by the threads; out is
 * a copy) when a few stat()s and one read of the PCI device directory show that nothing its
 * answer for that GPU (present or not, its device nodes, the other GPUs' nodes) depends on
 * has changed; otherwise a full enumeration, remembered for the next attach. Errors as
 * nd_gpu_enumerate. gpu_enumerate.c says what is checked. */
int nd_gpu_enumerate_for(const char *root, const char *pci_address, nd_gpu_list *out,
                         nd_error_t *err);
/* How many full enumerations this process has made (nd_gpu_enumerate, and the attaches that
 * could not answer from memory); for tests. */
unsigned long nd_gpu_full_enumerations(void);
void nd_gpu_list_clear(nd_gpu_list *l);
/* "nvidia", "amd", "intel". */
const char *nd_gpu_vendor_name(nd_gpu_vendor v);
/* The GPU with this PCI address, or NULL. */
const nd_gpu *nd_gpu_find(const nd_gpu_list *l, const char *pci_address);

#endif
