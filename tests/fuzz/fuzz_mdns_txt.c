/* fuzz_mdns_txt.c: mDNS TXT records mapped to announcements (nd_mdns_map_service with every
 * built-in service map) must never crash or leak; a mapped document goes on to
 * nd_announcement_parse. Input: TXT entries separated by NUL or newline; the first byte picks
 * the service map. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "mdns_source.h"

#define MAX_TXT 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const nd_mdns_service_map *map = &nd_mdns_default_services[data[0] % nd_mdns_n_default_services];
  char *buf = malloc(size);
  if (buf == NULL)
    return 0;
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  const char *txt[MAX_TXT];
  size_t n = 0;
  char *start = buf;
  for (size_t i = 0; i < size - 1 && n < MAX_TXT; i++) {
    if (buf[i] == '\n' || buf[i] == '\0') {
      buf[i] = '\0';
      txt[n++] = start;
      start = buf + i + 1;
    }
  }
  if (n < MAX_TXT && start < buf + size - 1)
    txt[n++] = start;
  nd_error_t err = NULL;
  json_t *doc = nd_mdns_map_service(map, "fuzz instance", "192.0.2.10", 554, txt, n, &err);
  if (doc == NULL) {
    if (err == NULL)
      abort();
    nd_error_release(&err);
  } else {
    nd_device *d = nd_announcement_parse("mdns", "mdns", "fuzz-instance", doc, &err);
    if (d == NULL) {
      if (err == NULL)
        abort();
      nd_error_release(&err);
    }
    nd_device_free(d);
    json_decref(doc);
  }
  free(buf);
  return 0;
}
