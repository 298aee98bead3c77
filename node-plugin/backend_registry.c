/* backend_registry.c: maps a device `type` attribute to its attach backend; see backend.h. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

static const nd_backend *const backends[] = {
    &nd_backend_camera,
    &nd_backend_cxl_memory,
    &nd_backend_accelerator,
};

const nd_backend *nd_backend_for_type(const char *type) {
  if (type == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
    if (strcmp(backends[i]->type, type) == 0)
      return backends[i];
  return NULL;
}

void nd_attach_result_clear(nd_attach_result *r) {
  if (r == NULL)
    return;
  json_decref(r->edits);
  json_decref(r->state);
  free(r->vendor_cdi_id);
  r->edits = NULL;
  r->state = NULL;
  r->vendor_cdi_id = NULL;
}

int nd_backend_timeout_ms(void) {
  const char *s = getenv("NETDRA_BACKEND_TIMEOUT_MS");
  if (s && *s) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end && *end == '\0' && v > 0 && v <= 600000)
      return (int)v;
  }
  return 10000;
}
