/* fuzz_watch_event.c: the watch stream's event decoding (nd_k8s_watch_decode): the input is a
 * stream of newline-separated lines, as the API server sends them; no line may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((nl ? nl : end) - p);
    nd_k8s_watch_line ev;
    nd_error_t err = NULL;
    if (nd_k8s_watch_decode(p, len, &ev, &err) == 0) {
      if (ev.object == NULL || !json_is_object(ev.object))
        abort();
      json_decref(ev.event);
    } else if (err == NULL) {
      abort();
    }
    nd_error_release(&err);
    p += len + 1;
  }
  return 0;
}
