/* dra_service.c: NodePrepareResources / NodeUnprepareResources for DRA v1 and v1beta1 on the
 * gRPC server; see dra_service.h. The two API versions have the same messages (v1 adds
 * Device.share_id, which we never set), so one macro instantiates the code for each. */
#include "dra_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "dra_v1.pb-c.h"
#include "dra_v1beta1.pb-c.h"
#include "log.h"

#define GRPC_INVALID_ARGUMENT 3
#define GRPC_INTERNAL 13
#define GRPC_UNAVAILABLE 14

struct nd_dra_service {
  nd_driver *driver;
  bool draining;
  size_t pending;
};

typedef struct {
  nd_dra_service *svc;
  nd_grpc_call *call;
  int version; /* 1 = v1, 0 = v1beta1 */
} call_ctx;

#define DRA_VERSION_IMPL(ver, T, f, M)                                                             \
  static void prepare_done_##ver(nd_claim_outcome *outs, size_t n, void *data) {                   \
    call_ctx *ctx = data;                                                                          \
    T##NodePrepareResourcesResponse resp = M##NODE_PREPARE_RESOURCES_RESPONSE__INIT;               \
    T##NodePrepareResourcesResponse__ClaimsEntry *entries = calloc(n ? n : 1, sizeof(*entries));   \
    T##NodePrepareResourcesResponse__ClaimsEntry **entry_ptrs =                                    \
        calloc(n ? n : 1, sizeof(*entry_ptrs));                                                    \
    T##NodePrepareResourceResponse *values = calloc(n ? n : 1, sizeof(*values));                   \
    size_t total = 0;                                                                              \
    for (size_t i = 0; i < n; i++)                                                                 \
      total += outs[i].n_devices;                                                                  \
    T##Device *devs = calloc(total ? total : 1, sizeof(*devs));                                    \
    T##Device **dev_ptrs = calloc(total ? total : 1, sizeof(*dev_ptrs));                           \
    size_t k = 0;                                                                                  \
    for (size_t i = 0; i < n; i++) {                                                               \
      T##NodePrepareResourcesResponse__ClaimsEntry e =                                             \
          M##NODE_PREPARE_RESOURCES_RESPONSE__CLAIMS_ENTRY__INIT;                                  \
      T##NodePrepareResourceResponse v = M##NODE_PREPARE_RESOURCE_RESPONSE__INIT;                  \
      entries[i] = e;                                                                              \
      values[i] = v;                                                                               \
      entries[i].key = outs[i].uid;                                                                \
      entries[i].value = &values[i];                                                               \
      entry_ptrs[i] = &entries[i];                                                                 \
      if (outs[i].error) {                                                                         \
        values[i].error = outs[i].error;                                                           \
        continue;                                                                                  \
      }                                                                                            \
      values[i].devices = &dev_ptrs[k];                                                            \
      for (size_t j = 0; j < outs[i].n_devices; j++, k++) {                                        \
        T##Device dv = M##DEVICE__INIT;                                                            \
        devs[k] = dv;                                                                              \
        devs[k].n_request_names = 1;                                                               \
        devs[k].request_names = &outs[i].devices[j].request;                                       \
        devs[k].pool_name = outs[i].devices[j].pool;                                               \
        devs[k].device_name = outs[i].devices[j].device;                                           \
        devs[k].n_cdi_device_ids = outs[i].devices[j].cdi_id ? 1 : 0;                              \
        devs[k].cdi_device_ids = &outs[i].devices[j].cdi_id;                                       \
        dev_ptrs[k] = &devs[k];                                                                    \
        values[i].n_devices++;                                                                     \
      }                                                                                            \
    }                                                                                              \
    resp.n_claims = n;                                                                             \
    resp.claims = entry_ptrs;                                                                      \
    size_t len = f##node_prepare_resources_response__get_packed_size(&resp);                       \
    uint8_t *buf = malloc(len ? len : 1);                                                          \
    f##node_prepare_resources_response__pack(&resp, buf);                                          \
    nd_grpc_call_reply(ctx->call, buf, len);                                                       \
    free(buf);                                                                                     \
    free(devs);                                                                                    \
    free(dev_ptrs);                                                                                \
    free(values);                                                                                  \
    free(entries);                                                                                 \
    free(entry_ptrs);                                                                              \
    ctx->svc->pending--;                                                                           \
    free(ctx);                                                                                     \
  }                                                                                                \
                                                                                                   \
  static void unprepare_done_##ver(nd_claim_outcome *outs, size_t n, void *data) {                 \
    call_ctx *ctx = data;                                                                          \
    T##NodeUnprepareResourcesResponse resp = M##NODE_UNPREPARE_RESOURCES_RESPONSE__INIT;           \
    T##NodeUnprepareResourcesResponse__ClaimsEntry *entries = calloc(n ? n : 1, sizeof(*entries)); \
    T##NodeUnprepareResourcesResponse__ClaimsEntry **entry_ptrs =                                  \
        calloc(n ? n : 1, sizeof(*entry_ptrs));                                                    \
    T##NodeUnprepareResourceResponse *values = calloc(n ? n : 1, sizeof(*values));                 \
    for (size_t i = 0; i < n; i++) {                                                               \
      T##NodeUnprepareResourcesResponse__ClaimsEntry e =                                           \
          M##NODE_UNPREPARE_RESOURCES_RESPONSE__CLAIMS_ENTRY__INIT;                                \
      T##NodeUnprepareResourceResponse v = M##NODE_UNPREPARE_RESOURCE_RESPONSE__INIT;              \
      entries[i] = e;                                                                              \
      values[i] = v;                                                                               \
      if (outs[i].error)                                                                           \
        values[i].error = outs[i].error;                                                           \
      entries[i].key = outs[i].uid;                                                                \
      entries[i].value = &values[i];                                                               \
      entry_ptrs[i] = &entries[i];                                                                 \
    }                                                                                              \
    resp.n_claims = n;                                                                             \
    resp.claims = entry_ptrs;                                                                      \
    size_t len = f##node_unprepare_resources_response__get_packed_size(&resp);                     \
    uint8_t *buf = malloc(len ? len : 1);                                                          \
    f##node_unprepare_resources_response__pack(&resp, buf);                                        \
    nd_grpc_call_reply(ctx->call, buf, len);                                                       \
    free(buf);                                                                                     \
    free(values);                                                                                  \
    free(entries);                                                                                 \
    free(entry_ptrs);                                                                              \
    ctx->svc->pending--;                                                                           \
    free(ctx);                                                                                     \
  }                                                                                                \
                                                                                                   \
  static void handle_##ver(nd_grpc_call *call, const uint8_t *req, size_t len, void *data,         \
                           bool unprepare) {                                                       \
    nd_dra_service *svc = data;                                                                    \
    if (svc->draining) {                                                                           \
      nd_grpc_call_fail(call, GRPC_UNAVAILABLE, "netdra node plugin is shutting down");            \
      return;                                                                                      \
    }                                                                                              \
    size_t n = 0;                                                                                  \
    T##Claim **claims = NULL;                                                                      \
    T##NodePrepareResourcesRequest *preq = NULL;                                                   \
    T##NodeUnprepareResourcesRequest *ureq = NULL;                                                 \
    if (unprepare) {                                                                               \
      ureq = f##node_unprepare_resources_request__unpack(NULL, len, req);                          \
      if (ureq) {                                                                                  \
        n = ureq->n_claims;                                                                        \
        claims = ureq->claims;                                                                     \
      }                                                                                            \
    } else {                                                                                       \
      preq = f##node_prepare_resources_request__unpack(NULL, len, req);                            \
      if (preq) {                                                                                  \
        n = preq->n_claims;                                                                        \
        claims = preq->claims;                                                                     \
      }                                                                                            \
    }                                                                                              \
    if (preq == NULL && ureq == NULL) {                                                            \
      ND_LOG_WARN("dra", "bad-request", ND_KV_S("api", #ver), ND_KV_I("bytes", len));              \
      nd_grpc_call_fail(call, GRPC_INVALID_ARGUMENT, "cannot decode the request message");         \
      return;                                                                                      \
    }                                                                                              \
    nd_claim_ref *refs = calloc(n ? n : 1, sizeof(*refs));                                         \
    for (size_t i = 0; i < n; i++) {                                                               \
      refs[i].namespace_ = claims[i]->namespace_;                                                  \
      refs[i].uid = claims[i]->uid;                                                                \
      refs[i].name = claims[i]->name;                                                              \
    }                                                                                              \
    call_ctx *ctx = calloc(1, sizeof(*ctx));                                                       \
    ctx->svc = svc;                                                                                \
    ctx->call = call;                                                                              \
    cleanup_error nd_error_t err = NULL;                                                           \
    svc->pending++;                                                                                \
    int r = unprepare ? nd_driver_unprepare(svc->driver, refs, n, unprepare_done_##ver, ctx, &err) \
                      : nd_driver_prepare(svc->driver, refs, n, prepare_done_##ver, ctx, &err);    \
    free(refs);                                                                                    \
    if (preq)                                                                                      \
      f##node_prepare_resources_request__free_unpacked(preq, NULL);                                \
    if (ureq)                                                                                      \
      f##node_unprepare_resources_request__free_unpacked(ureq, NULL);                              \
    if (r < 0) {                                                                                   \
      svc->pending--;                                                                              \
      free(ctx);                                                                                   \
      nd_grpc_call_fail(call, GRPC_INTERNAL, nd_error_msg(err));                                   \
    }                                                                                              \
  }                                                                                                \
  static void prepare_##ver(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {      \
    handle_##ver(call, req, len, data, false);                                                     \
  }                                                                                                \
  static void unprepare_##ver(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {    \
    handle_##ver(call, req, len, data, true);                                                      \
  }

DRA_VERSION_IMPL(v1, K8s__Io__Kubelet__Pkg__Apis__Dra__V1__, k8s__io__kubelet__pkg__apis__dra__v1__,
                 K8S__IO__KUBELET__PKG__APIS__DRA__V1__)
DRA_VERSION_IMPL(v1beta1, K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__,
                 k8s__io__kubelet__pkg__apis__dra__v1beta1__,
                 K8S__IO__KUBELET__PKG__APIS__DRA__V1BETA1__)

nd_dra_service *nd_dra_service_new(nd_grpc_server *srv, nd_driver *driver, nd_error_t *err) {
  nd_dra_service *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    nd_error_make(err, ENOMEM, "DRA service: out of memory");
    return NULL;
  }
  s->driver = driver;
  static const struct {
    const char *path;
    nd_grpc_handler handler;
  } methods[] = {
      {"/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources", prepare_v1},
      {"/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodeUnprepareResources", unprepare_v1},
      {"/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/NodePrepareResources", prepare_v1beta1},
      {"/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/NodeUnprepareResources", unprepare_v1beta1},
  };
  for (size_t i = 0; i < ND_ARRAY_LEN(methods); i++)
    if (nd_grpc_server_add_method(srv, methods[i].path, false, methods[i].handler, s, err) < 0) {
      free(s);
      return NULL;
    }
  return s;
}

void nd_dra_service_drain(nd_dra_service *s) { s->draining = true; }
size_t nd_dra_service_pending(const nd_dra_service *s) { return s->pending; }
void nd_dra_service_free(nd_dra_service *s) { free(s); }
