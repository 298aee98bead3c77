/* cmd_prepare.c: `netdractl prepare|unprepare --socket S --claim NS/NAME/UID...`: call the
 * node plugin's DRA service as the kubelet does (v1, or --api v1beta1) and show the answer per
 * claim (devices and CDI ids, or the error). For debugging a node plugin on its node. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "dra_v1.pb-c.h"
#include "dra_v1beta1.pb-c.h"
#include "grpc.h"
#include "netdractl.h"

#define MAX_CLAIMS 32

typedef struct {
  char *ns, *name, *uid;
} claim_ref;

static int parse_claim(const char *arg, claim_ref *c) {
  char *copy = strdup(arg);
  char *a = strtok(copy, "/"), *b = strtok(NULL, "/"), *u = strtok(NULL, "/");
  if (!a || !b || !u || strtok(NULL, "/")) {
    free(copy);
    return -1;
  }
  c->ns = strdup(a);
  c->name = strdup(b);
  c->uid = strdup(u);
  free(copy);
  return 0;
}

/* v1 and v1beta1 messages have the same layout for what we send and read; only the
 * descriptors differ, so the v1 structs are packed with the chosen descriptor. */
static size_t pack_request(bool prepare, bool beta, claim_ref *refs, size_t n, uint8_t **out) {
  K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim claims[MAX_CLAIMS];
  K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim *ptrs[MAX_CLAIMS];
  for (size_t i = 0; i < n; i++) {
    K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim init = K8S__IO__KUBELET__PKG__APIS__DRA__V1__CLAIM__INIT;
    claims[i] = init;
    if (beta)
      claims[i].base.descriptor = &k8s__io__kubelet__pkg__apis__dra__v1beta1__claim__descriptor;
    claims[i].namespace_ = refs[i].ns;
    claims[i].name = refs[i].name;
    claims[i].uid = refs[i].uid;
    ptrs[i] = &claims[i];
  }
  K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesRequest req =
      K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_PREPARE_RESOURCES_REQUEST__INIT;
  if (!prepare)
    req.base.descriptor = &k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__descriptor;
  if (beta)
    req.base.descriptor = prepare
                              ? &k8s__io__kubelet__pkg__apis__dra__v1beta1__node_prepare_resources_request__descriptor
                              : &k8s__io__kubelet__pkg__apis__dra__v1beta1__node_unprepare_resources_request__descriptor;
  req.n_claims = n;
  req.claims = ptrs;
  size_t len = protobuf_c_message_get_packed_size(&req.base);
  *out = malloc(len ? len : 1);
  protobuf_c_message_pack(&req.base, *out);
  return len;
}

static json_t *decode_prepare(bool beta, const uint8_t *buf, size_t len) {
  const ProtobufCMessageDescriptor *d =
      beta ? &k8s__io__kubelet__pkg__apis__dra__v1beta1__node_prepare_resources_response__descriptor
           : &k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__descriptor;
  K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesResponse *r =
      (void *)protobuf_c_message_unpack(d, NULL, len, buf);
  if (r == NULL)
    return NULL;
  json_t *out = json_object();
  for (size_t i = 0; i < r->n_claims; i++) {
    K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourceResponse *v = r->claims[i]->value;
    json_t *devs = json_array();
    for (size_t k = 0; v && k < v->n_devices; k++) {
      json_t *ids = json_array(), *reqs = json_array();
      for (size_t j = 0; j < v->devices[k]->n_cdi_device_ids; j++)
        json_array_append_new(ids, json_string(v->devices[k]->cdi_device_ids[j]));
      for (size_t j = 0; j < v->devices[k]->n_request_names; j++)
        json_array_append_new(reqs, json_string(v->devices[k]->request_names[j]));
      json_array_append_new(devs, json_pack("{s:s,s:s,s:o,s:o}", "pool", v->devices[k]->pool_name,
                                            "device", v->devices[k]->device_name, "requests", reqs,
                                            "cdiDeviceIDs", ids));
    }
    json_object_set_new(out, r->claims[i]->key,
                        json_pack("{s:o,s:s}", "devices", devs, "error", v && v->error ? v->error : ""));
  }
  protobuf_c_message_free_unpacked(&r->base, NULL);
  return out;
}

static json_t *decode_unprepare(bool beta, const uint8_t *buf, size_t len) {
  const ProtobufCMessageDescriptor *d =
      beta ? &k8s__io__kubelet__pkg__apis__dra__v1beta1__node_unprepare_resources_response__descriptor
           : &k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_response__descriptor;
  K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesResponse *r =
      (void *)protobuf_c_message_unpack(d, NULL, len, buf);
  if (r == NULL)
    return NULL;
  json_t *out = json_object();
  for (size_t i = 0; i < r->n_claims; i++) {
    const char *e = r->claims[i]->value && r->claims[i]->value->error ? r->claims[i]->value->error : "";
    json_object_set_new(out, r->claims[i]->key, json_pack("{s:s}", "error", e));
  }
  protobuf_c_message_free_unpacked(&r->base, NULL);
  return out;
}

int cmd_prepare(const ctl_globals *g, int argc, char **argv) {
  bool prepare = strcmp(argv[0], "prepare") == 0, beta = false;
  const char *sock = "/var/lib/kubelet/plugins/netdra.dev/dra.sock";
  int timeout_ms = 45000;
  claim_ref refs[MAX_CLAIMS];
  size_t n = 0;
  static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
                                        {"claim", required_argument, NULL, 'c'},
                                        {"api", required_argument, NULL, 'a'},
                                        {"timeout", required_argument, NULL, 't'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "s:c:a:t:h", opts, NULL)) != -1;) {
    switch (c) {
    case 's':
      sock = optarg;
      break;
    case 'c':
      if (n == MAX_CLAIMS || parse_claim(optarg, &refs[n]) < 0) {
        fprintf(stderr, "netdractl %s: --claim %s: expected NAMESPACE/NAME/UID (at most %d claims)\n",
                argv[0], optarg, MAX_CLAIMS);
        return 2;
      }
      n++;
      break;
    case 'a':
      if (strcmp(optarg, "v1") && strcmp(optarg, "v1beta1")) {
        fprintf(stderr, "netdractl %s: --api %s: expected v1 or v1beta1\n", argv[0], optarg);
        return 2;
      }
      beta = strcmp(optarg, "v1beta1") == 0;
      break;
    case 't':
      timeout_ms = atoi(optarg) * 1000;
      break;
    default:
      fprintf(c == 'h' ? stdout : stderr,
              "usage: netdractl %s [--socket DRA.sock] --claim NAMESPACE/NAME/UID... [--api v1|v1beta1] "
              "[--timeout SECONDS]\n", argv[0]);
      return c == 'h' ? 0 : 2;
    }
  }
  if (n == 0) {
    fprintf(stderr, "netdractl %s: at least one --claim is needed\n", argv[0]);
    return 2;
  }
  cleanup_free uint8_t *req = NULL;
  size_t len = pack_request(prepare, beta, refs, n, &req);
  char method[128];
  snprintf(method, sizeof(method), "/k8s.io.kubelet.pkg.apis.dra.%s.DRAPlugin/%s", beta ? "v1beta1" : "v1",
           prepare ? "NodePrepareResources" : "NodeUnprepareResources");
  cleanup_error nd_error_t err = NULL;
  cleanup_free uint8_t *resp = NULL;
  cleanup_free char *message = NULL;
  size_t rlen = 0;
  int status;
  int rc = nd_grpc_call_once(sock, method, req, len, &resp, &rlen, timeout_ms, &status, &message, &err);
  for (size_t i = 0; i < n; i++) {
    free(refs[i].ns);
    free(refs[i].name);
    free(refs[i].uid);
  }
  if (rc < 0) {
    fprintf(stderr, "netdractl %s: %s\n", argv[0], nd_error_msg(err));
    return 1;
  }
  if (status != GRPC_OK) {
    fprintf(stderr, "netdractl %s: gRPC status %d: %s\n", argv[0], status, message ? message : "");
    return 1;
  }
  cleanup_json json_t *out = prepare ? decode_prepare(beta, resp, rlen) : decode_unprepare(beta, resp, rlen);
  if (out == NULL) {
    fprintf(stderr, "netdractl %s: the response does not decode\n", argv[0]);
    return 1;
  }
  if (g->output == OUT_JSON) {
    ctl_print_json(stdout, out);
  } else if (g->output == OUT_YAML) {
    ctl_print_yaml(stdout, out);
  } else {
    static const char *const header[] = {"CLAIM", "POOL", "DEVICE", "CDI DEVICE IDS", "ERROR"};
    ctl_table *t = ctl_table_new(5, header);
    const char *uid;
    json_t *v;
    json_object_foreach(out, uid, v) {
      json_t *devs = json_object_get(v, "devices");
      const char *e = json_string_value(json_object_get(v, "error"));
      if (json_array_size(devs) == 0) {
        const char *row[] = {uid, "", "", "", e && *e ? e : "ok"};
        ctl_table_add(t, row);
      }
      size_t i;
      json_t *d;
      json_array_foreach(devs, i, d) {
        char ids[512] = "";
        size_t j;
        json_t *id;
        json_array_foreach(json_object_get(d, "cdiDeviceIDs"), j, id)
            snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s", j ? "," : "", json_string_value(id));
        const char *row[] = {uid, json_string_value(json_object_get(d, "pool")),
                             json_string_value(json_object_get(d, "device")), ids, e && *e ? e : ""};
        ctl_table_add(t, row);
      }
    }
    ctl_table_print(stdout, t);
    ctl_table_free(t);
  }
  int failed = 0;
  const char *uid;
  json_t *v;
  json_object_foreach(out, uid, v) failed |= *json_string_value(json_object_get(v, "error")) != '\0';
  return failed ? 1 : 0;
}
