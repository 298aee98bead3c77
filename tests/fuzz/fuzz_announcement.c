/* fuzz_announcement.c: MQTT/static announcement payloads (nd_announcement_parse_bytes) must
 * never crash or leak; a rejection always carries an error message, an accepted one a device
 * that clones equal to itself. */
#include <stdint.h>
#include <stdlib.h>

#include "discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_error_t err = NULL;
  nd_device *d = nd_announcement_parse_bytes("mqtt", "fuzz-pool", "dev-1", (const char *)data,
                                             size, &err);
  if (d == NULL) {
    if (err == NULL || nd_error_msg(err)[0] == '\0')
      abort();
    nd_error_release(&err);
    return 0;
  }
  nd_device *c = nd_device_clone(d);
  if (c == NULL || !nd_device_equal(d, c))
    abort();
  nd_device_free(c);
  nd_device_free(d);
  return 0;
}
