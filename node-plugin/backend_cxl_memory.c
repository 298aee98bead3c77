/* backend_cxl_memory.c: attach backend of CXL memory behind a fabric manager (type
 * "cxl-memory").
 *
 * The slice names the fabric manager (`endpoint`, http://) and the region (`fabricRegion`).
 * Attach first asks the fabric manager for an attachment of this region to this node for this
 * claim (GET /v1/attachments?node=&region=&claim=) and only creates one (POST
 * /v1/attachments) when there is none, so a repeated or resumed attach never attaches twice.
 * The answer names the DAX device node (/dev/daxN.M) and its NUMA node: the device node goes
 * into deviceNodes (hostPath under dev_root), NETDRA_CXL_NUMA_NODE and NETDRA_CXL_REGION into
 * env. Detach deletes the attachment (by the id in the state, or, when attach never recorded
 * one, every attachment of this claim, region and node); one already gone is fine.
 * Opaque CxlMemoryConfig: containerPath (device path inside the container), numaEnv (false =
 * no NETDRA_CXL_NUMA_NODE). Timeouts: nd_backend_timeout_ms(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_edits.h"
#include "backend_http.h"
#include "cleanup.h"
#include "log.h"

#define WHAT "fabric manager"

static char *attachments_query(const char *endpoint, const char *node, const char *region,
                               const char *claim) {
  cleanup_free char *n = nd_backend_url_escape(node);
  cleanup_free char *r = nd_backend_url_escape(region);
  cleanup_free char *c = nd_backend_url_escape(claim);
  cleanup_free char *path = NULL;
  if (!n || !r || !c ||
      asprintf(&path, "/v1/attachments?node=%s&region=%s&claim=%s", n, r, c) < 0)
    return NULL;
  return nd_backend_url(endpoint, path);
}

/* The attachments of (node, region, claim) at the fabric manager (new reference, array). */
static json_t *find_attachments(const char *endpoint, const char *node, const char *region,
                                const char *claim, nd_error_t *err) {
  cleanup_free char *url = attachments_query(endpoint, node, region, claim);
  if (url == NULL) {
    nd_error_make(err, ENOMEM, "out of memory");
    return NULL;
  }
  long status = 0;
  cleanup_json json_t *reply = NULL;
  if (nd_backend_http_json(WHAT, "GET", url, NULL, nd_backend_timeout_ms(), &status, &reply,
                           err) < 0)
    return NULL;
  if (status != 200) {
    nd_backend_http_status_error(err, WHAT, "GET", url, status, reply);
    return NULL;
  }
  json_t *list = json_object_get(reply, "attachments");
  if (!json_is_array(list)) {
    nd_error_make(err, EPROTO, WHAT " GET %s: reply has no \"attachments\" array", url);
    return NULL;
  }
  /* keep only exact matches, in case the fabric manager ignores a filter */
  json_t *mine = json_array();
  size_t i;
  json_t *a;
  json_array_foreach(list, i, a) {
    const char *an = json_string_value(json_object_get(a, "node"));
    const char *ar = json_string_value(json_object_get(a, "region"));
    const char *ac = json_string_value(json_object_get(a, "claim"));
    if (an && ar && ac && strcmp(an, node) == 0 && strcmp(ar, region) == 0 &&
        strcmp(ac, claim) == 0)
      json_array_append(mine, a);
  }
  return mine;
}

static json_t *create_attachment(const char *endpoint, const char *node, const char *region,
                                 const char *claim, nd_error_t *err) {
  cleanup_free char *url = nd_backend_url(endpoint, "/v1/attachments");
  cleanup_json json_t *body =
      json_pack("{s:s, s:s, s:s}", "region", region, "node", node, "claim", claim);
  long status = 0;
  json_t *reply = NULL;
  if (url == NULL || body == NULL) {
    nd_error_make(err, ENOMEM, "out of memory");
    return NULL;
  }
  if (nd_backend_http_json(WHAT, "POST", url, body, nd_backend_timeout_ms(), &status, &reply,
                           err) < 0)
    return NULL;
  if (status != 200 && status != 201) {
    nd_backend_http_status_error(err, WHAT, "POST", url, status, reply);
    json_decref(reply);
    return NULL;
  }
  return reply;
}

/* A device path from the fabric manager must be an absolute /dev path without "..". */
static bool device_path_ok(const char *p) {
  return p && strncmp(p, "/dev/", 5) == 0 && strstr(p, "..") == NULL && strchr(p, ',') == NULL &&
         strchr(p, ':') == NULL;
}

static int cxl_attach(const nd_attach_request *req, nd_attach_result *res, nd_error_t *err) {
  const char *endpoint = nd_backend_attr_required(req, "endpoint", err);
  const char *region = endpoint ? nd_backend_attr_required(req, "fabricRegion", err) : NULL;
  if (region == NULL)
    return -1;
  cleanup_json json_t *found =
      find_attachments(endpoint, req->node_name, region, req->claim_uid, err);
  if (found == NULL)
    return nd_error_wrap(err, "attaching CXL region %s to node %s", region, req->node_name);
  cleanup_json json_t *att = NULL;
  bool reused = json_array_size(found) > 0;
  if (reused)
    att = json_incref(json_array_get(found, 0));
  else if ((att = create_attachment(endpoint, req->node_name, region, req->claim_uid, err)) ==
           NULL)
    return nd_error_wrap(err, "attaching CXL region %s to node %s", region, req->node_name);
  const char *id = json_string_value(json_object_get(att, "id"));
  const char *dev = json_string_value(json_object_get(att, "devicePath"));
  json_t *numa = json_object_get(att, "numaNode");
  if (id == NULL || !device_path_ok(dev) || !json_is_integer(numa))
    return nd_error_make(err, EPROTO,
                         WHAT " %s: attachment of region %s lacks a valid id, devicePath "
                         "(/dev/...) or integer numaNode",
                         endpoint, region);
  cleanup_free char *host = nd_backend_host_path(req->dev_root, dev);
  const char *cpath = nd_backend_config_string(req->config, "containerPath", dev);
  cleanup_json json_t *edits = nd_edits_new();
  nd_edits_add_device_node(edits, cpath, host);
  char numa_s[32];
  snprintf(numa_s, sizeof(numa_s), "%lld", (long long)json_integer_value(numa));
  if (nd_backend_config_bool(req->config, "numaEnv", true))
    nd_edits_add_env(edits, "NETDRA_CXL_NUMA_NODE", numa_s);
  nd_edits_add_env(edits, "NETDRA_CXL_REGION", region);
  nd_edits_add_env(edits, "NETDRA_CXL_DEVICE", cpath);
  res->state = json_pack("{s:s, s:s, s:s, s:s}", "attachmentId", id, "endpoint", endpoint,
                         "region", region, "devicePath", dev);
  res->edits = nd_steal(edits);
  ND_LOG_INFO("backend-cxl", reused ? "attachment-reused" : "attached",
              ND_KV_S("claim", req->claim_uid), ND_KV_S("region", region),
              ND_KV_S("attachment", id), ND_KV_S("device", dev), ND_KV_S("numa", numa_s));
  return 0;
}

static int delete_attachment(const char *endpoint, const char *id, nd_error_t *err) {
  return nd_backend_http_delete(WHAT, endpoint, "/v1/attachments", id, err);
}

static int cxl_detach(const nd_attach_request *req, const json_t *state, nd_error_t *err) {
  const char *id = json_string_value(json_object_get(state, "attachmentId"));
  const char *endpoint = json_string_value(json_object_get(state, "endpoint"));
  const char *region = json_string_value(json_object_get(state, "region"));
  if (endpoint == NULL)
    endpoint = nd_backend_attr_string(req->slice_device, "endpoint");
  if (region == NULL)
    region = nd_backend_attr_string(req->slice_device, "fabricRegion");
  if (endpoint == NULL || region == NULL)
    return nd_error_make(err, EINVAL,
                         "detaching CXL device %s/%s: neither the state nor the slice names "
                         "the fabric manager endpoint and region",
                         req->pool, req->device);
  if (id) {
    if (delete_attachment(endpoint, id, err) < 0)
      return nd_error_wrap(err, "detaching CXL region %s (attachment %s)", region, id);
  } else {
    /* attach may have reached the fabric manager without recording the id: find it */
    cleanup_json json_t *found =
        find_attachments(endpoint, req->node_name, region, req->claim_uid, err);
    if (found == NULL)
      return nd_error_wrap(err, "detaching CXL region %s", region);
    size_t i;
    json_t *a;
    json_array_foreach(found, i, a) {
      const char *aid = json_string_value(json_object_get(a, "id"));
      if (aid && delete_attachment(endpoint, aid, err) < 0)
        return nd_error_wrap(err, "detaching CXL region %s (attachment %s)", region, aid);
    }
  }
  ND_LOG_INFO("backend-cxl", "detached", ND_KV_S("claim", req->claim_uid),
              ND_KV_S("region", region), ND_KV_S("attachment", id ? id : "(looked up)"));
  return 0;
}

/* attach binds the region to this node at the fabric manager */
const nd_backend nd_backend_cxl_memory = {"cxl-memory", cxl_attach, cxl_detach, NULL};
