/* device_compact.h: the registry's storage form of a device: an nd_device (read exactly like
 * any other) whose struct, arrays and own strings live in one block of a slab (lib/slab.h),
 * and whose strings
 * that many devices repeat (source, pool, type, vendor, model, attribute and capacity names,
 * quantities, node-selector keys, operators and values, binding conditions, the Secret's
 * namespace) are shared through an nd_intern table. At 100,000 devices this is about a third
 * of the memory of the parser's form (seventeen and more small allocations per device).
 * Internal to the discovery library: only the registry holds compact devices. */
#ifndef NETDRA_DISCOVERY_DEVICE_COMPACT_H
#define NETDRA_DISCOVERY_DEVICE_COMPACT_H

#include "discovery.h"
#include "intern.h"
#include "slab.h"

/* Where compact devices live. */
typedef struct {
  nd_intern *strings; /* the shared strings */
  nd_slab *memory;    /* the blocks */
} nd_device_storage;

/* A compact copy of d (which is left alone) named `name`, which the caller keeps valid for as
 * long as the copy lives (the registry's slot holds it); an id equal to the name shares it.
 * Aborts when out of memory. */
nd_device *nd_device_compact(const nd_device *d, const char *name, const nd_device_storage *st);
/* Free a compact device and release its shared strings (NULL: nothing); its name is not
 * read, so the name's owner may already be gone. */
void nd_device_compact_free(nd_device *d, const nd_device_storage *st);

#endif
