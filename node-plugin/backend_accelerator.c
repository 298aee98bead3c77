/* backend_accelerator.c: attach backend of remote accelerators (type "accelerator").
 *
 * Attach reserves a session on the device's control endpoint (`endpoint`, http://):
 * POST /v1/sessions {"claim": <claim UID>, "node", "timeoutSeconds"?}. The endpoint keys
 * sessions by claim UID, so a repeated or resumed attach gets the same session back (never a
 * second one). The session token goes into a 0600 file in the claim directory, mounted
 * read-only; env NETDRA_ACCEL_ENDPOINT, NETDRA_ACCEL_TOKEN_FILE and NETDRA_ACCEL_SESSION.
 * Detach releases the session (DELETE /v1/sessions/<id>; by the id in the state or, when attach
 * never recorded one, every session of this claim) and removes the token file.
 * Opaque AcceleratorConfig: sessionTimeoutSeconds, tokenPath (default
 * /var/run/netdra/accelerator/token). The token is never logged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_edits.h"
#include "backend_http.h"
#include "cleanup.h"
#include "log.h"

#define WHAT "accelerator endpoint"
#define DEFAULT_TOKEN_PATH "/var/run/netdra/accelerator/token"

static int accel_attach(const nd_attach_request *req, nd_attach_result *res, nd_error_t *err) {
  const char *endpoint = nd_backend_attr_required(req, "endpoint", err);
  if (endpoint == NULL)
    return -1;
  cleanup_free char *url = nd_backend_url(endpoint, "/v1/sessions");
  cleanup_json json_t *body =
      json_pack("{s:s, s:s}", "claim", req->claim_uid, "node", req->node_name);
  long long timeout_s = nd_backend_config_int(req->config, "sessionTimeoutSeconds", 0);
  if (timeout_s > 0)
    json_object_set_new(body, "timeoutSeconds", json_integer(timeout_s));
  long status = 0;
  cleanup_json json_t *reply = NULL;
  if (nd_backend_http_json(WHAT, "POST", url, body, nd_backend_timeout_ms(), &status, &reply,
                           err) < 0)
    return nd_error_wrap(err, "reserving a session on accelerator %s/%s", req->pool,
                         req->device);
  if (status != 200 && status != 201) {
    nd_backend_http_status_error(err, WHAT, "POST", url, status, reply);
    return nd_error_wrap(err, "reserving a session on accelerator %s/%s", req->pool,
                         req->device);
  }
  const char *id = json_string_value(json_object_get(reply, "id"));
  json_t *token = json_object_get(reply, "token");
  if (id == NULL || !json_is_string(token) || json_string_length(token) == 0)
    return nd_error_make(err, EPROTO, WHAT " POST %s: reply lacks a session id or token", url);
  cleanup_free char *file = nd_backend_claim_file(req, "accelerator-token");
  if (file == NULL)
    return nd_error_make(err, ENOMEM, "out of memory");
  if (nd_backend_write_secret_file(file, json_string_value(token), json_string_length(token),
                                   err) < 0)
    return nd_error_wrap(err, "writing the session token of accelerator %s/%s", req->pool,
                         req->device);
  const char *tpath = nd_backend_config_string(req->config, "tokenPath", DEFAULT_TOKEN_PATH);
  cleanup_json json_t *edits = nd_edits_new();
  nd_edits_add_env(edits, "NETDRA_ACCEL_ENDPOINT", endpoint);
  nd_edits_add_env(edits, "NETDRA_ACCEL_TOKEN_FILE", tpath);
  nd_edits_add_env(edits, "NETDRA_ACCEL_SESSION", id);
  nd_edits_add_mount_ro(edits, file, tpath);
  res->state = json_pack("{s:s, s:s, s:s}", "sessionId", id, "endpoint", endpoint, "tokenFile",
                         file);
  res->edits = nd_steal(edits);
  ND_LOG_INFO("backend-accelerator", status == 201 ? "reserved" : "session-reused",
              ND_KV_S("claim", req->claim_uid), ND_KV_S("device", req->device),
              ND_KV_S("session", id));
  return 0;
}

static int release_session(const char *endpoint, const char *id, nd_error_t *err) {
  return nd_backend_http_delete(WHAT, endpoint, "/v1/sessions", id, err);
}

/* Release every session of this claim (attach did not record its id). */
static int release_claim_sessions(const char *endpoint, const char *claim, nd_error_t *err) {
  cleanup_free char *esc = nd_backend_url_escape(claim);
  cleanup_free char *path = NULL;
  if (esc == NULL || asprintf(&path, "/v1/sessions?claim=%s", esc) < 0)
    return nd_error_make(err, ENOMEM, "out of memory");
  cleanup_free char *url = nd_backend_url(endpoint, path);
  long status = 0;
  cleanup_json json_t *reply = NULL;
  if (nd_backend_http_json(WHAT, "GET", url, NULL, nd_backend_timeout_ms(), &status, &reply,
                           err) < 0)
    return -1;
  if (status != 200)
    return nd_backend_http_status_error(err, WHAT, "GET", url, status, reply);
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(reply, "sessions"), i, s) {
    const char *id = json_string_value(json_object_get(s, "id"));
    const char *c = json_string_value(json_object_get(s, "claim"));
    if (id && c && strcmp(c, claim) == 0 && release_session(endpoint, id, err) < 0)
      return -1;
  }
  return 0;
}

static int accel_detach(const nd_attach_request *req, const json_t *state, nd_error_t *err) {
  const char *id = json_string_value(json_object_get(state, "sessionId"));
  const char *endpoint = json_string_value(json_object_get(state, "endpoint"));
  if (endpoint == NULL)
    endpoint = nd_backend_attr_string(req->slice_device, "endpoint");
  if (endpoint == NULL)
    return nd_error_make(err, EINVAL,
                         "releasing accelerator %s/%s: neither the state nor the slice names "
                         "the endpoint",
                         req->pool, req->device);
  int rc = id ? release_session(endpoint, id, err)
              : release_claim_sessions(endpoint, req->claim_uid, err);
  if (rc < 0)
    return nd_error_wrap(err, "releasing the session of accelerator %s/%s", req->pool,
                         req->device);
  const char *file = json_string_value(json_object_get(state, "tokenFile"));
  cleanup_free char *fallback = NULL;
  if (file == NULL && req->claim_dir)
    file = fallback = nd_backend_claim_file(req, "accelerator-token");
  if (file && nd_backend_remove_file(file, err) < 0)
    return -1;
  ND_LOG_INFO("backend-accelerator", "released", ND_KV_S("claim", req->claim_uid),
              ND_KV_S("device", req->device), ND_KV_S("session", id ? id : "(looked up)"));
  return 0;
}

/* attach reserves a session at the endpoint and writes a token file */
const nd_backend nd_backend_accelerator = {"accelerator", accel_attach, accel_detach, NULL};
