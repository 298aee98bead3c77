/* static_source.h: the static inventory source: devices that do not announce themselves (e.g.
 * CXL regions known to a fabric manager) listed in YAML, one file or a directory of *.yaml,
 * reloaded on change (inotify). Format (docs/announcements.md, "Static inventory"):
 *
 *   pool: cxl-fabric-a          # discovery domain (default "static")
 *   devices:
 *     - id: region-7            # then the announcement fields
 *       type: cxl-memory
 *       capacities: {memory: 128Gi}
 *
 * A broken file is rejected whole with file:line and the reason; the registry keeps what that
 * file last described correctly. */
#ifndef NETDRA_STATIC_SOURCE_H
#define NETDRA_STATIC_SOURCE_H

#include <stddef.h>

#include "error.h"
#include "evloop.h"

struct nd_registry;
typedef struct nd_static_source nd_static_source;

nd_static_source *nd_static_source_new(nd_loop *loop, struct nd_registry *reg, const char *path,
                                       nd_error_t *err);
void nd_static_source_free(nd_static_source *s);
/* Re-read now (also runs by itself on file changes). Returns the number of broken files. */
int nd_static_source_reload(nd_static_source *s);

/* Check one inventory file without a registry (netdractl validate): 0, or -1 with err naming
 * file:line and the field. n_devices gets the number of devices described. */
int nd_static_inventory_check(const char *path, size_t *n_devices, nd_error_t *err);

#endif
