/* k8s_config.c: where the Kubernetes REST client gets its server and credentials: a kubeconfig
 * file (libyaml through yaml_json: current-context or a named one, token/tokenFile, client
 * certificate and key as files or data, CA as file or data, insecure-skip-tls-verify) or the
 * in-cluster service account (KUBERNETES_SERVICE_HOST/PORT and the token/CA files; the
 * directory is $NETDRA_SERVICEACCOUNT_DIR in tests). Errors name file, line and key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "k8s_internal.h"
#include "yaml_json.h"

#define SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

void nd_k8s_config_clear(nd_k8s_config *c) {
  free(c->server);
  free(c->token);
  free(c->token_file);
  free(c->ca_file);
  free(c->cert_file);
  free(c->key_file);
  free(c->ca_data);
  free(c->cert_data);
  free(c->key_data);
  free(c->source);
  memset(c, 0, sizeof(*c));
}

/* base64 (standard alphabet, padding optional, whitespace ignored) -> malloc'd bytes */
static unsigned char *b64_decode(const char *in, size_t *out_len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(in);
  unsigned char *out = malloc(n / 4 * 3 + 4);
  if (out == NULL)
    return NULL;
  unsigned int acc = 0;
  int bits = 0;
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = in[i];
    if (ch == '=' || ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t')
      continue;
    const char *p = strchr(alphabet, ch);
    if (p == NULL || ch == '\0') {
      free(out);
      return NULL;
    }
    acc = (acc << 6) | (unsigned int)(p - alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[len++] = (unsigned char)((acc >> bits) & 0xff);
    }
  }
  *out_len = len;
  return out;
}

static const json_t *named(const json_t *list, const char *name, const char *inner) {
  size_t i;
  json_t *it;
  json_array_foreach(list, i, it) {
    const char *n = json_string_value(json_object_get(it, "name"));
    if (n && strcmp(n, name) == 0)
      return json_object_get(it, inner);
  }
  return NULL;
}

typedef struct {
  const char *path;
  nd_yaml_lines *lines;
} cfg_ctx;

static int fail_at(const cfg_ctx *x, const json_t *obj, const char *key, nd_error_t *err,
                   const char *what) {
  nd_yaml_pos pos = obj ? nd_yaml_pos_of_member(x->lines, obj, key) : (nd_yaml_pos){0, 0};
  if (pos.line > 0)
    return nd_error_make(err, EINVAL, "%s:%d: %s: %s", x->path, pos.line, key, what);
  return nd_error_make(err, EINVAL, "%s: %s: %s", x->path, key, what);
}

/* Read an optional string member; a present non-string is an error. */
static int opt_string(const cfg_ctx *x, const json_t *obj, const char *key, char **out,
                      nd_error_t *err) {
  json_t *v = json_object_get(obj, key);
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v))
    return fail_at(x, obj, key, err, "expected a string");
  *out = strdup(json_string_value(v));
  return 0;
}

static int opt_data(const cfg_ctx *x, const json_t *obj, const char *key, unsigned char **out,
                    size_t *len, nd_error_t *err) {
  char *text = NULL;
  if (opt_string(x, obj, key, &text, err) < 0)
    return -1;
  if (text == NULL)
    return 0;
  *out = b64_decode(text, len);
  free(text);
  if (*out == NULL)
    return fail_at(x, obj, key, err, "not valid base64");
  return 0;
}

int nd_k8s_config_from_kubeconfig(const char *path, const char *context, nd_k8s_config *out,
                                  nd_error_t *err) {
  cfg_ctx x = {.path = path};
  cleanup_json json_t *docs = nd_yaml_load_file(path, &x.lines, err);
  if (docs == NULL)
    return nd_error_wrap(err, "loading kubeconfig");
  int rc = -1;
  const json_t *doc = json_array_get(docs, 0);
  const json_t *cluster, *user = NULL, *ctx;
  const char *ctx_name = context;
  if (!json_is_object(doc)) {
    nd_error_make(err, EINVAL, "%s: a kubeconfig must be a YAML mapping", path);
    goto out;
  }
  if (ctx_name == NULL)
    ctx_name = json_string_value(json_object_get(doc, "current-context"));
  if (ctx_name == NULL || *ctx_name == '\0') {
    fail_at(&x, doc, "current-context", err, "no current context is set");
    goto out;
  }
  ctx = named(json_object_get(doc, "contexts"), ctx_name, "context");
  if (!json_is_object(ctx)) {
    nd_error_make(err, EINVAL, "%s: contexts: no context named \"%s\"", path, ctx_name);
    goto out;
  }
  const char *cluster_name = json_string_value(json_object_get(ctx, "cluster"));
  cluster = cluster_name ? named(json_object_get(doc, "clusters"), cluster_name, "cluster") : NULL;
  if (!json_is_object(cluster)) {
    fail_at(&x, ctx, "cluster", err, "names no cluster in clusters");
    goto out;
  }
  const char *user_name = json_string_value(json_object_get(ctx, "user"));
  if (user_name) {
    user = named(json_object_get(doc, "users"), user_name, "user");
    if (user != NULL && !json_is_object(user)) {
      fail_at(&x, ctx, "user", err, "names a user that is not a mapping");
      goto out;
    }
  }
  if (opt_string(&x, cluster, "server", &out->server, err) < 0)
    goto out;
  if (out->server == NULL || strncmp(out->server, "http", 4) != 0) {
    fail_at(&x, cluster, "server", err, "expected an http(s):// URL");
    goto out;
  }
  json_t *insecure = json_object_get(cluster, "insecure-skip-tls-verify");
  if (insecure && !json_is_boolean(insecure)) {
    fail_at(&x, cluster, "insecure-skip-tls-verify", err, "expected true or false");
    goto out;
  }
  out->insecure = json_is_true(insecure);
  if (opt_string(&x, cluster, "certificate-authority", &out->ca_file, err) < 0 ||
      opt_data(&x, cluster, "certificate-authority-data", &out->ca_data, &out->ca_len, err) < 0)
    goto out;
  if (user) {
    if (opt_string(&x, user, "token", &out->token, err) < 0 ||
        opt_string(&x, user, "tokenFile", &out->token_file, err) < 0 ||
        opt_string(&x, user, "client-certificate", &out->cert_file, err) < 0 ||
        opt_string(&x, user, "client-key", &out->key_file, err) < 0 ||
        opt_data(&x, user, "client-certificate-data", &out->cert_data, &out->cert_len, err) < 0 ||
        opt_data(&x, user, "client-key-data", &out->key_data, &out->key_len, err) < 0)
      goto out;
    if (json_object_get(user, "exec") || json_object_get(user, "auth-provider")) {
      fail_at(&x, user, json_object_get(user, "exec") ? "exec" : "auth-provider", err,
              "credential plugins are not supported: use a token, tokenFile or client certificate");
      goto out;
    }
  }
  if ((out->cert_file || out->cert_data) != (out->key_file || out->key_data)) {
    nd_error_make(err, EINVAL, "%s: user %s: a client certificate needs its key and vice versa",
                  path, user_name ? user_name : "?");
    goto out;
  }
  out->source = strdup(path);
  rc = 0;
out:
  nd_yaml_lines_free(x.lines);
  if (rc < 0)
    nd_k8s_config_clear(out);
  return rc;
}

int nd_k8s_config_in_cluster(nd_k8s_config *out, nd_error_t *err) {
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  if (host == NULL || *host == '\0' || port == NULL || *port == '\0')
    return nd_error_make(err, ENOENT,
                         "not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set and no "
                         "kubeconfig was given");
  const char *dir = getenv("NETDRA_SERVICEACCOUNT_DIR");
  if (dir == NULL)
    dir = SERVICEACCOUNT_DIR;
  bool v6 = strchr(host, ':') != NULL;
  if (asprintf(&out->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0 ||
      asprintf(&out->token_file, "%s/token", dir) < 0 || asprintf(&out->ca_file, "%s/ca.crt", dir) < 0)
    return nd_error_make(err, ENOMEM, "allocating in-cluster config");
  struct stat st;
  if (stat(out->token_file, &st) < 0) {
    nd_error_make(err, errno, "in-cluster token %s: %s", out->token_file, strerror(errno));
    nd_k8s_config_clear(out);
    return -1;
  }
  out->source = strdup("in-cluster");
  return 0;
}

int nd_k8s_config_load(const char *kubeconfig, const char *context, nd_k8s_config *out,
                       nd_error_t *err) {
  memset(out, 0, sizeof(*out));
  if (kubeconfig && *kubeconfig)
    return nd_k8s_config_from_kubeconfig(kubeconfig, context, out, err);
  const char *env = getenv("KUBECONFIG");
  if (env && *env) {
    /* the first file of a colon-separated list; merging several is not supported */
    cleanup_free char *first = strndup(env, strcspn(env, ":"));
    return nd_k8s_config_from_kubeconfig(first, context, out, err);
  }
  if (getenv("KUBERNETES_SERVICE_HOST"))
    return nd_k8s_config_in_cluster(out, err);
  const char *home = getenv("HOME");
  cleanup_free char *def = NULL;
  if (home && asprintf(&def, "%s/.kube/config", home) > 0 && access(def, R_OK) == 0)
    return nd_k8s_config_from_kubeconfig(def, context, out, err);
  return nd_error_make(err, ENOENT,
                       "no Kubernetes configuration: pass a kubeconfig, set $KUBECONFIG, or run in "
                       "a cluster");
}
