/* backend_tool.c: test equipment: runs one attach or detach of a backend with the real REST
 * client, as the node plugin's worker thread would, and prints the result as JSON.
 *   netdra_backend_tool attach REQUEST.json          -> {"edits","state","vendorCdiId"}
 *   netdra_backend_tool detach REQUEST.json STATE.json
 * REQUEST.json: {"type","claimUid","claimNamespace","claimName","request","pool","device",
 *   "sliceDevice":{..},"config":{..}|null,"claimDir","nodeName","devRoot","kubeconfig"}
 * Logs go to stderr; exit 1 with "error: <message>" on stderr when the backend fails. */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "cleanup.h"
#include "k8s_client.h"
#include "log.h"

static const char *str(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

int main(int argc, char **argv) {
  bool attach = argc == 3 && strcmp(argv[1], "attach") == 0;
  bool detach = argc == 4 && strcmp(argv[1], "detach") == 0;
  if (!attach && !detach) {
    fprintf(stderr, "usage: %s attach REQUEST.json | detach REQUEST.json STATE.json\n", argv[0]);
    return 2;
  }
  json_error_t jerr;
  cleanup_json json_t *r = json_load_file(argv[2], 0, &jerr);
  if (r == NULL) {
    fprintf(stderr, "error: %s:%d: %s\n", argv[2], jerr.line, jerr.text);
    return 2;
  }
  cleanup_json json_t *state = NULL;
  if (detach && (state = json_load_file(argv[3], JSON_DECODE_ANY, &jerr)) == NULL) {
    fprintf(stderr, "error: %s:%d: %s\n", argv[3], jerr.line, jerr.text);
    return 2;
  }
  const nd_backend *be = nd_backend_for_type(str(r, "type"));
  if (be == NULL) {
    fprintf(stderr, "error: no backend for type \"%s\"\n", str(r, "type") ? str(r, "type") : "");
    return 1;
  }
  cleanup_error nd_error_t err = NULL;
  nd_k8s_client *k8s = NULL;
  if (str(r, "kubeconfig")) {
    nd_k8s_options opts = {.kubeconfig_path = str(r, "kubeconfig"), .timeout_ms = 5000};
    if ((k8s = nd_k8s_client_new(NULL, &opts, &err)) == NULL) {
      fprintf(stderr, "error: %s\n", nd_error_msg(err));
      return 1;
    }
  }
  const json_t *cfg = json_object_get(r, "config");
  nd_attach_request req = {
      .claim_uid = str(r, "claimUid"), .claim_namespace = str(r, "claimNamespace"),
      .claim_name = str(r, "claimName"), .request = str(r, "request"), .pool = str(r, "pool"),
      .device = str(r, "device"), .slice_device = json_object_get(r, "sliceDevice"),
      .config = json_is_object(cfg) ? cfg : NULL, .claim_dir = str(r, "claimDir"), .k8s = k8s,
      .node_name = str(r, "nodeName"), .dev_root = str(r, "devRoot") ? str(r, "devRoot") : "/"};
  int rc;
  if (attach) {
    nd_attach_result res = {0};
    rc = be->attach(&req, &res, &err);
    if (rc == 0) {
      cleanup_json json_t *out =
          json_pack("{s:O?, s:O?, s:s?}", "edits", res.edits, "state", res.state, "vendorCdiId",
                    res.vendor_cdi_id);
      json_dumpf(out, stdout, JSON_COMPACT);
      puts("");
    }
    nd_attach_result_clear(&res);
  } else {
    rc = be->detach(&req, json_is_null(state) ? NULL : state, &err);
    if (rc == 0)
      puts("{}");
  }
  if (rc < 0)
    fprintf(stderr, "error: %s\n", nd_error_msg(err));
  nd_k8s_client_free(k8s);
  return rc < 0 ? 1 : 0;
}
