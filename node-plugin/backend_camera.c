/* backend_camera.c: attach backend of network cameras (type "camera").
 *
 * Injects the stream URL (slice attribute `endpoint`) and the camera id as env. When the
 * device names a Secret (`secretRef` = "<namespace>/<name>"), the Secret is read with the
 * synchronous REST client, its data (base64) decoded and written as "key=value" lines into a
 * 0600 file in the claim directory, mounted read-only into the container. Secret contents are
 * never logged and never appear in error messages (only key names do).
 * Opaque CameraConfig: envPrefix (default NETDRA_CAMERA), credentialsPath (default
 * /var/run/netdra/camera/credentials), streamProfile (-> <prefix>_STREAM_PROFILE). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_edits.h"
#include "cleanup.h"
#include "log.h"

#define DEFAULT_PREFIX "NETDRA_CAMERA"
#define DEFAULT_CREDENTIALS_PATH "/var/run/netdra/camera/credentials"
#define MAX_SECRET_VALUE (1 << 20)

/* Strict base64 (standard alphabet, padded) -> heap bytes. */
static int base64_decode(const char *in, unsigned char **out, size_t *out_len) {
  size_t n = strlen(in);
  if (n % 4 != 0 || n > MAX_SECRET_VALUE)
    return -1;
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || (c == '=' && i + 2 >= n);
    if (!ok)
      return -1;
  }
  size_t pad = (n >= 1 && in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
  if (pad == 1 && n >= 2 && in[n - 2] == '=')
    return -1;
  unsigned char *buf = malloc(n / 4 * 3 + 1);
  if (buf == NULL)
    return -1;
  int got = n ? EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n) : 0;
  if (got < 0) {
    free(buf);
    return -1;
  }
  *out_len = (size_t)got - pad;
  buf[*out_len] = '\0';
  *out = buf;
  return 0;
}

/* Append "key=value\n" to the credentials text; values with a newline or NUL cannot be
 * written in this format (error names the key, never the value). */
static int append_credential(char **text, size_t *len, const char *secret_name, const char *key,
                             const unsigned char *value, size_t value_len, nd_error_t *err) {
  if (memchr(value, '\n', value_len) || memchr(value, '\0', value_len))
    return nd_error_make(err, EINVAL,
                         "Secret %s: key \"%s\" holds a newline or NUL byte, which a "
                         "key=value credentials file cannot carry",
                         secret_name, key);
  size_t klen = strlen(key);
  char *grown = realloc(*text, *len + klen + value_len + 3);
  if (grown == NULL)
    return nd_error_make(err, ENOMEM, "out of memory");
  memcpy(grown + *len, key, klen);
  grown[*len + klen] = '=';
  memcpy(grown + *len + klen + 1, value, value_len);
  grown[*len + klen + 1 + value_len] = '\n';
  *len += klen + value_len + 2;
  grown[*len] = '\0';
  *text = grown;
  return 0;
}

/* Read Secret "<ns>/<name>" and build the credentials text (heap; *len set). */
static char *read_secret_credentials(const nd_attach_request *req, const char *ref, size_t *len,
                                     nd_error_t *err) {
  const char *slash = strchr(ref, '/');
  if (slash == NULL || slash == ref || slash[1] == '\0' || strchr(slash + 1, '/')) {
    nd_error_make(err, EINVAL, "device %s/%s: secretRef \"%s\" is not <namespace>/<name>",
                  req->pool, req->device, ref);
    return NULL;
  }
  if (req->k8s == NULL) {
    nd_error_make(err, EINVAL, "device %s/%s: secretRef %s needs an API server client",
                  req->pool, req->device, ref);
    return NULL;
  }
  cleanup_free char *ns = strndup(ref, (size_t)(slash - ref));
  cleanup_free char *ns_esc = nd_k8s_escape(ns);
  cleanup_free char *name_esc = nd_k8s_escape(slash + 1);
  cleanup_free char *path = NULL;
  if (ns_esc == NULL || name_esc == NULL ||
      asprintf(&path, "/api/v1/namespaces/%s/secrets/%s", ns_esc, name_esc) < 0) {
    nd_error_make(err, ENOMEM, "out of memory");
    return NULL;
  }
  nd_k8s_result r = {0};
  if (nd_k8s_request(req->k8s, "GET", path, NULL, NULL, &r, err) < 0) {
    nd_k8s_result_clear(&r);
    nd_error_wrap(err, "reading Secret %s (secretRef of camera %s/%s)", ref, req->pool,
                  req->device);
    return NULL;
  }
  if (r.http_status == 404) {
    nd_k8s_result_clear(&r);
    nd_error_make(err, ENOENT, "Secret %s (secretRef of camera %s/%s) not found", ref,
                  req->pool, req->device);
    return NULL;
  }
  if (r.http_status != 200 || !json_is_object(r.body)) {
    nd_error_make(err, EIO, "reading Secret %s (secretRef of camera %s/%s): HTTP %ld: %s", ref,
                  req->pool, req->device, r.http_status, r.message ? r.message : "no message");
    nd_k8s_result_clear(&r);
    return NULL;
  }
  char *text = strdup("");
  *len = 0;
  const char *key;
  json_t *v;
  int rc = 0;
  json_object_foreach(json_object_get(r.body, "data"), key, v) {
    unsigned char *bytes = NULL;
    size_t n = 0;
    if (!json_is_string(v) || base64_decode(json_string_value(v), &bytes, &n) < 0) {
      rc = nd_error_make(err, EINVAL, "Secret %s: data key \"%s\" is not valid base64", ref, key);
      break;
    }
    rc = append_credential(&text, len, ref, key, bytes, n, err);
    free(bytes);
    if (rc < 0)
      break;
  }
  /* stringData is write-only in a real API server; a stand-in may return it as is */
  if (rc == 0) {
    json_object_foreach(json_object_get(r.body, "stringData"), key, v) {
      if (!json_is_string(v))
        continue;
      rc = append_credential(&text, len, ref, key, (const unsigned char *)json_string_value(v),
                             json_string_length(v), err);
      if (rc < 0)
        break;
    }
  }
  nd_k8s_result_clear(&r);
  if (rc == 0 && *len == 0)
    rc = nd_error_make(err, EINVAL, "Secret %s (secretRef of camera %s/%s) has no data", ref,
                       req->pool, req->device);
  if (rc < 0) {
    if (text)
      explicit_bzero(text, *len);
    free(text);
    return NULL;
  }
  return text;
}

static void prefixed_env(json_t *edits, const char *prefix, const char *suffix, const char *v) {
  char name[128];
  snprintf(name, sizeof(name), "%s_%s", prefix, suffix);
  nd_edits_add_env(edits, name, v);
}

static int camera_attach(const nd_attach_request *req, nd_attach_result *res, nd_error_t *err) {
  const char *endpoint = nd_backend_attr_required(req, "endpoint", err);
  if (endpoint == NULL)
    return -1;
  const char *id = nd_backend_attr_string(req->slice_device, "id");
  if (id == NULL)
    id = req->device;
  const char *prefix = nd_backend_config_string(req->config, "envPrefix", DEFAULT_PREFIX);
  const char *profile = nd_backend_config_string(req->config, "streamProfile", NULL);
  const char *ref = nd_backend_attr_string(req->slice_device, "secretRef");

  cleanup_json json_t *edits = nd_edits_new();
  cleanup_json json_t *state = json_object();
  prefixed_env(edits, prefix, "URL", endpoint);
  prefixed_env(edits, prefix, "ID", id);
  if (profile)
    prefixed_env(edits, prefix, "STREAM_PROFILE", profile);
  if (ref && *ref) {
    size_t len = 0;
    char *text = read_secret_credentials(req, ref, &len, err);
    if (text == NULL)
      return -1;
    cleanup_free char *file = nd_backend_claim_file(req, "camera-credentials");
    int rc = file ? nd_backend_write_secret_file(file, text, len, err)
                  : nd_error_make(err, ENOMEM, "out of memory");
    explicit_bzero(text, len);
    free(text);
    if (rc < 0)
      return nd_error_wrap(err, "writing the credentials of camera %s/%s", req->pool,
                           req->device);
    const char *cpath =
        nd_backend_config_string(req->config, "credentialsPath", DEFAULT_CREDENTIALS_PATH);
    nd_edits_add_mount_ro(edits, file, cpath);
    prefixed_env(edits, prefix, "CREDENTIALS", cpath);
    json_object_set_new(state, "credentialsFile", json_string(file));
  }
  /* debug: the driver logs every attach at info (claim, pool, device, type) */
  ND_LOG_DEBUG("backend-camera", "attached", ND_KV_S("claim", req->claim_uid),
              ND_KV_S("device", req->device), ND_KV_S("camera", id),
              ND_KV_S("secretRef", ref ? ref : ""));
  res->edits = nd_steal(edits);
  res->state = nd_steal(state);
  return 0;
}

static int camera_detach(const nd_attach_request *req, const json_t *state, nd_error_t *err) {
  const char *file = json_string_value(json_object_get(state, "credentialsFile"));
  cleanup_free char *fallback = NULL;
  /* no state: the attach may have stopped between writing the file and recording it; a
   * recorded state without credentialsFile is a camera without credentials (nothing to remove,
   * and no unlink of a file that was never written on every unprepare) */
  if (file == NULL && !json_is_object(state) && req->claim_dir)
    file = fallback = nd_backend_claim_file(req, "camera-credentials");
  if (file && nd_backend_remove_file(file, err) < 0)
    return -1;
  ND_LOG_DEBUG("backend-camera", "detached", ND_KV_S("claim", req->claim_uid),
              ND_KV_S("device", req->device));
  return 0;
}

/* a camera without a secretRef gets env only; with one, attach writes the credentials file */
static bool camera_leaves_nothing(const nd_attach_request *req) {
  const char *ref = nd_backend_attr_string(req->slice_device, "secretRef");
  return ref == NULL || *ref == '\0';
}

const nd_backend nd_backend_camera = {"camera", camera_attach, camera_detach,
                                      camera_leaves_nothing};
