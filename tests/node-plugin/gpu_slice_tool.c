/* gpu_slice_tool.c: test equipment: prints the node-local GPU ResourceSlice for a root
 * directory (fake sysfs+/dev tree) so that scripts can send it to the stand-in API server.
 *   gpu_slice_tool ROOT DRIVER NODE [GENERATION] */
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "gpu_slice.h"

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5) {
    fprintf(stderr, "usage: %s ROOT DRIVER NODE [GENERATION]\n", argv[0]);
    return 2;
  }
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *devs = nd_gpu_slice_devices(argv[1], &err);
  cleanup_json json_t *slice =
      devs ? nd_gpu_slice_build(argv[2], argv[3], NULL, argc == 5 ? atoll(argv[4]) : 1, devs,
                                &err)
           : NULL;
  if (slice == NULL) {
    fprintf(stderr, "gpu_slice_tool: %s\n", nd_error_msg(err));
    return 1;
  }
  return json_dumpf(slice, stdout, JSON_INDENT(2)) == 0 && puts("") >= 0 ? 0 : 1;
}
