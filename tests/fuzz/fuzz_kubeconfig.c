/* fuzz_kubeconfig.c: kubeconfig files (nd_k8s_config_from_kubeconfig) must never crash or
 * leak; the input is written to a temporary file that is removed after each run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *tmp = getenv("TMPDIR");
  char path[512];
  snprintf(path, sizeof(path), "%s/nd-fuzz-kubeconfig-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0)
    return 0;
  size_t off = 0;
  while (off < size) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  close(fd);
  nd_k8s_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  nd_error_t err = NULL;
  if (nd_k8s_config_from_kubeconfig(path, NULL, &cfg, &err) != 0) {
    if (err == NULL)
      abort();
    nd_error_release(&err);
  }
  nd_k8s_config_clear(&cfg);
  unlink(path);
  return 0;
}
