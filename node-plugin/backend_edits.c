/* backend_edits.c: slice attributes, opaque parameters, CDI edits and private files shared
 * by the attach backends; see backend_edits.h. */
#include "backend_edits.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cleanup.h"

#define OUR_DOMAIN "netdra.dev/"

const char *nd_backend_attr_string(const json_t *slice_device, const char *key) {
  const json_t *attrs = json_object_get(slice_device, "attributes");
  const json_t *a = json_object_get(attrs, key);
  if (a == NULL && strchr(key, '/') == NULL) {
    char qualified[128];
    snprintf(qualified, sizeof(qualified), OUR_DOMAIN "%s", key);
    a = json_object_get(attrs, qualified);
  }
  return json_string_value(json_object_get(a, "string"));
}

const char *nd_backend_attr_required(const nd_attach_request *req, const char *key,
                                     nd_error_t *err) {
  const char *v = nd_backend_attr_string(req->slice_device, key);
  if (v == NULL || *v == '\0') {
    nd_error_make(err, EINVAL, "device %s/%s has no string attribute \"%s\"", req->pool,
                  req->device, key);
    return NULL;
  }
  return v;
}

const char *nd_backend_config_string(const json_t *config, const char *key, const char *def) {
  const char *v = json_string_value(json_object_get(config, key));
  return v ? v : def;
}

bool nd_backend_config_bool(const json_t *config, const char *key, bool def) {
  const json_t *v = json_object_get(config, key);
  return json_is_boolean(v) ? json_is_true(v) : def;
}

long long nd_backend_config_int(const json_t *config, const char *key, long long def) {
  const json_t *v = json_object_get(config, key);
  return json_is_integer(v) ? json_integer_value(v) : def;
}

json_t *nd_edits_new(void) { return json_object(); }

static json_t *edits_list(json_t *edits, const char *key) {
  json_t *list = json_object_get(edits, key);
  if (!json_is_array(list)) {
    list = json_array();
    json_object_set_new(edits, key, list);
  }
  return list;
}

void nd_edits_add_env(json_t *edits, const char *name, const char *value) {
  char *s = NULL;
  if (asprintf(&s, "%s=%s", name, value) < 0)
    return;
  json_array_append_new(edits_list(edits, "env"), json_string(s));
  free(s);
}

void nd_edits_add_mount_ro(json_t *edits, const char *host_path, const char *container_path) {
  json_array_append_new(edits_list(edits, "mounts"),
                        json_pack("{s:s, s:s, s:[s,s,s,s]}", "hostPath", host_path,
                                  "containerPath", container_path, "options", "ro", "nosuid",
                                  "nodev", "bind"));
}

void nd_edits_add_device_node(json_t *edits, const char *path, const char *host_path) {
  json_t *node = json_pack("{s:s}", "path", path);
  if (host_path && strcmp(host_path, path) != 0)
    json_object_set_new(node, "hostPath", json_string(host_path));
  json_array_append_new(edits_list(edits, "deviceNodes"), node);
}

char *nd_backend_host_path(const char *dev_root, const char *abs_path) {
  char *out = NULL;
  if (dev_root == NULL || *dev_root == '\0' || strcmp(dev_root, "/") == 0)
    return strdup(abs_path);
  size_t n = strlen(dev_root);
  while (n > 1 && dev_root[n - 1] == '/')
    n--;
  if (asprintf(&out, "%.*s%s", (int)n, dev_root, abs_path) < 0)
    return NULL;
  return out;
}

char *nd_backend_claim_file(const nd_attach_request *req, const char *suffix) {
  char *out = NULL;
  if (asprintf(&out, "%s/%s-%s.%s", req->claim_dir, req->request ? req->request : "req",
               req->device, suffix) < 0)
    return NULL;
  return out;
}

int nd_backend_write_secret_file(const char *path, const char *data, size_t len,
                                 nd_error_t *err) {
  /* the claim's directory is made here, by its first file (the driver does not make it) */
  cleanup_free char *copy = strdup(path);
  if (copy == NULL)
    return nd_error_make(err, ENOMEM, "%s: out of memory", path);
  if (nd_mkdir_p(dirname(copy), 0700, err) < 0)
    return -1;
  return nd_write_file_atomic(path, data, len, 0600, err);
}

int nd_backend_remove_file(const char *path, nd_error_t *err) {
  if (unlink(path) < 0 && errno != ENOENT)
    return nd_error_make(err, errno, "removing %s: %s", path, strerror(errno));
  return 0;
}
