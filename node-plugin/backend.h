/* backend.h: the attach backends of the node plugin, one per device `type` attribute.
 *
 * The driver calls a backend on a worker thread for every allocated device of a claim it
 * prepares (attach) or unprepares (detach). A backend returns CDI containerEdits (env,
 * deviceNodes, mounts) for the claim's CDI spec, and a state object that the driver keeps in
 * its checkpoint and gives back to detach. Every call blocks, is bounded by timeouts and is
 * idempotent: attach twice for one claim = one attachment at the device, the same result;
 * detach of something already gone succeeds. No backend ever logs a credential.
 *
 * Backends (docs/device-types.md says what each one injects):
 *   camera       stream URL + id env; Secret credentials into a 0600 file mounted read-only
 *   cxl-memory   fabric manager attach of the region to this node; dax device node + NUMA env
 *   accelerator  session reserved on the control endpoint; endpoint env + token file
 *   gpu          local GPU device nodes, or the vendor's CDI device id when a vendor spec
 *                for that GPU exists in the CDI directories */
#ifndef NETDRA_NODE_PLUGIN_BACKEND_H
#define NETDRA_NODE_PLUGIN_BACKEND_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "k8s_client.h"

typedef struct {
  const char *claim_uid, *claim_namespace, *claim_name;
  const char *request;       /* base request name */
  const char *pool, *device; /* the allocated device */
  const json_t *slice_device; /* the device object from its ResourceSlice (attributes, capacity) */
  const json_t *config;      /* validated opaque parameters for this request, or NULL */
  const char *claim_dir;     /* private per-claim dir (0700) for files to mount */
  nd_k8s_client *k8s;        /* sync calls only (worker thread): Secrets */
  const char *node_name;
  const char *dev_root;      /* "/" in production; a fake root in tests */
} nd_attach_request;

typedef struct {
  /* both handed over to the driver, which extends the edits and stores both in the shared,
   * never-changed checkpoint entry: a backend keeps no reference to either */
  json_t *edits;       /* CDI containerEdits object: env[], deviceNodes[], mounts[] */
  json_t *state;       /* backend state kept in the checkpoint, given back to detach */
  char *vendor_cdi_id; /* gpu: a vendor CDI device id to return instead of ours, or NULL */
} nd_attach_result;

typedef struct nd_backend {
  const char *type; /* value of the `type` attribute */
  /* blocking, runs on a worker thread, must be idempotent (attach twice = same result) */
  int (*attach)(const nd_attach_request *req, nd_attach_result *res, nd_error_t *err);
  /* state: what attach returned in res->state (NULL when it returned none or never ran) */
  int (*detach)(const nd_attach_request *req, const json_t *state, nd_error_t *err);
  /* true when attaching this device leaves nothing behind outside the result it returns (no
   * file, no session or reservation at a remote endpoint): a crash in the middle of such an
   * attach leaves nothing to detach, so the driver need not record the claim before it. NULL
   * = attach may leave something. */
  bool (*attach_leaves_nothing)(const nd_attach_request *req);
} nd_backend;

/* The backend for a `type` attribute value, or NULL for an unknown type. */
const nd_backend *nd_backend_for_type(const char *type);
/* Release what a result holds and zero it (safe on a zeroed or half-filled result). */
void nd_attach_result_clear(nd_attach_result *r);

/* The backends, for tests and the registry. */
extern const nd_backend nd_backend_camera;
extern const nd_backend nd_backend_cxl_memory;
extern const nd_backend nd_backend_accelerator;
extern const nd_backend nd_backend_gpu;
/* Vendor CDI spec files the gpu backend has parsed (each version of a file once); for tests. */
unsigned long nd_backend_gpu_spec_parses(void);

/* Network timeouts of the cxl-memory and accelerator backends (connect + whole request),
 * in milliseconds; default 10000. NETDRA_BACKEND_TIMEOUT_MS in the environment overrides it
 * (read at each call; tests use short values). */
int nd_backend_timeout_ms(void);

#endif
