/* fuzz_claim_config.c: the allocation config the node plugin decodes from ResourceClaim
 * objects of the API server (status.allocation.devices.config[]) must never crash or leak.
 * The input is one JSON document: validated with nd_claim_config_check_all, merged for a few
 * requests and device types with nd_claim_config_for_request. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "claim_config.h"

#define DRIVER "netdra.dev"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (doc == NULL)
    return 0;
  nd_error_t err = NULL;
  if (nd_claim_config_check_all(DRIVER, doc, &err) != 0) {
    if (err == NULL)
      abort();
    nd_error_release(&err);
  }
  static const char *const requests[] = {"cam", "cam/sub", "mem", ""};
  static const char *const types[] = {"camera", "cxl-memory", "accelerator", "gpu"};
  for (size_t i = 0; i < 4; i++) {
    json_t *out = NULL;
    if (nd_claim_config_for_request(DRIVER, doc, requests[i], types[i], &out, &err) != 0) {
      if (err == NULL || out != NULL)
        abort();
      nd_error_release(&err);
    }
    json_decref(out);
  }
  json_decref(doc);
  return 0;
}
