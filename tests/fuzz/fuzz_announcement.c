/* fuzz_announcement.c: MQTT/static announcement payloads (nd_announcement_parse_bytes) must
 * never crash or leak; a rejection always carries an error message, an accepted one a device
 * that clones equal to itself. The id (from the MQTT topic) is the document's own "id" when it
 * has one, so the fuzzer gets past the topic check. */
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include "discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *doc = json_loadb((const char *)data, size, 0, NULL);
  const char *doc_id = json_string_value(json_object_get(doc, "id"));
  char *id = strdup(doc_id && doc_id[0] ? doc_id : "dev-1");
  json_decref(doc);
  if (id == NULL)
    return 0;
  nd_error_t err = NULL;
  nd_device *d = nd_announcement_parse_bytes("mqtt", "fuzz-pool", id, (const char *)data, size,
                                             &err);
  free(id);
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
