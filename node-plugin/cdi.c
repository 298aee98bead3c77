/* cdi.c: builds, checks and writes the per-claim CDI spec files; see cdi.h. */
#include "cdi.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cleanup.h"
#include "json_dump.h"
#include "names.h"

/* The cdiVersion strings the CDI library knows, oldest first. */
static const char *const cdi_versions[] = {"0.3.0", "0.4.0", "0.5.0", "0.6.0",
                                           "0.7.0", "0.8.0", "1.0.0", "1.1.0"};

int nd_cdi_version_cmp(const char *a, const char *b) {
  int ia = -1, ib = -1;
  for (size_t i = 0; i < ND_ARRAY_LEN(cdi_versions); i++) {
    if (strcmp(a, cdi_versions[i]) == 0)
      ia = (int)i;
    if (strcmp(b, cdi_versions[i]) == 0)
      ib = (int)i;
  }
  return ia - ib;
}

static void need_version(const char **min_version, const char *v) {
  if (nd_cdi_version_cmp(v, *min_version) > 0)
    *min_version = v;
}

static bool is_name_char(char c) {
  return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '-';
}

char *nd_cdi_device_name(const char *claim_uid, const char *request, const char *device) {
  char *name = NULL;
  if (asprintf(&name, "%s-%s-%s", request, device, claim_uid) < 0)
    return NULL;
  for (char *p = name; *p; p++)
    if (!is_name_char(*p))
      *p = '-';
  /* A leading digit needs cdiVersion 0.5.0; request names are DNS labels and may start with
   * one, so prefix a letter in that case. The last character is the UID's (alphanumeric). */
  if (!isalpha((unsigned char)name[0])) {
    char *prefixed = NULL;
    int r = asprintf(&prefixed, "r%s", name);
    free(name);
    return r < 0 ? NULL : prefixed;
  }
  return name;
}

char *nd_cdi_qualified_id(const char *vendor, const char *name) {
  char *id = NULL;
  if (asprintf(&id, "%s/%s=%s", vendor, ND_CDI_CLASS, name) < 0)
    return NULL;
  return id;
}

bool nd_cdi_is_claim_spec_name(const char *file_name) {
  static const char marker[] = "-" ND_CDI_CLASS "_", suffix[] = ".json";
  const char *m = strstr(file_name, marker);
  if (m == NULL || m == file_name)
    return false;
  size_t rest = strlen(m + sizeof(marker) - 1);
  return rest > sizeof(suffix) - 1 &&
         strcmp(m + sizeof(marker) - 1 + rest - (sizeof(suffix) - 1), suffix) == 0;
}

char *nd_cdi_spec_path(const char *cdi_dir, const char *vendor, const char *claim_uid) {
  char *path = NULL;
  if (asprintf(&path, "%s/%s-%s_%s.json", cdi_dir, vendor, ND_CDI_CLASS, claim_uid) < 0)
    return NULL;
  for (char *p = path + strlen(cdi_dir) + 1; *p; p++)
    if (*p == '/')
      *p = '_';
  return path;
}

/* Device names: start and end alphanumeric, inside [A-Za-z0-9_.:-] (lib/names.h). */
static int check_device_name(const char *name, const char **min_version, nd_error_t *err) {
  if (nd_name_validate(ND_NAME_CDI_DEVICE, "CDI device name", name, err) < 0)
    return -1;
  if (isdigit((unsigned char)name[0]))
    need_version(min_version, "0.5.0");
  return 0;
}

static int check_vendor(const char *vendor, nd_error_t *err) {
  if (strlen(vendor) > 253)
    return nd_error_make(err, EINVAL, "CDI vendor is longer than 253 characters");
  return nd_name_validate(ND_NAME_CDI_VENDOR, "CDI vendor", vendor, err);
}

static bool key_in(const char *key, const char *const *allowed) {
  for (; *allowed; allowed++)
    if (strcmp(key, *allowed) == 0)
      return true;
  return false;
}

static int check_keys(const json_t *obj, const char *const *allowed, const char *what,
                      nd_error_t *err) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    if (!key_in(key, allowed))
      return nd_error_make(err, EINVAL, "%s: unknown field \"%s\"", what, key);
  }
  return 0;
}

static int check_string_array(const json_t *a, const char *what, nd_error_t *err) {
  if (!json_is_array(a))
    return nd_error_make(err, EINVAL, "%s must be an array of strings", what);
  size_t i;
  json_t *s;
  json_array_foreach(a, i, s) {
    if (!json_is_string(s))
      return nd_error_make(err, EINVAL, "%s[%zu] must be a string", what, i);
  }
  return 0;
}

static int check_env(const json_t *env, const char *what, nd_error_t *err) {
  if (check_string_array(env, what, err) < 0)
    return -1;
  size_t i;
  json_t *s;
  json_array_foreach(env, i, s) {
    const char *e = json_string_value(s);
    if (strchr(e, '=') == NULL || e[0] == '=')
      return nd_error_make(err, EINVAL, "%s[%zu] \"%s\" must be NAME=value", what, i, e);
  }
  return 0;
}

static int check_uint32(const json_t *v, const char *what, nd_error_t *err) {
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffLL)
    return nd_error_make(err, EINVAL, "%s must be an unsigned 32-bit integer", what);
  return 0;
}

static int check_device_node(const json_t *dn, const char *what, const char **min_version,
                             nd_error_t *err) {
  static const char *const keys[] = {"path", "hostPath", "type",        "major", "minor",
                                     "fileMode", "permissions", "uid", "gid",   NULL};
  if (!json_is_object(dn))
    return nd_error_make(err, EINVAL, "%s must be an object", what);
  if (check_keys(dn, keys, what, err) < 0)
    return -1;
  const json_t *path = json_object_get(dn, "path");
  if (!json_is_string(path) || json_string_length(path) == 0)
    return nd_error_make(err, EINVAL, "%s.path is required", what);
  const json_t *host = json_object_get(dn, "hostPath");
  if (host) {
    if (!json_is_string(host))
      return nd_error_make(err, EINVAL, "%s.hostPath must be a string", what);
    need_version(min_version, "0.5.0");
  }
  const json_t *type = json_object_get(dn, "type");
  if (type) {
    const char *t = json_string_value(type);
    if (t == NULL || (strcmp(t, "") && strcmp(t, "b") && strcmp(t, "c") && strcmp(t, "u") &&
                      strcmp(t, "p")))
      return nd_error_make(err, EINVAL, "%s.type must be one of \"\", b, c, u, p", what);
  }
  const json_t *perm = json_object_get(dn, "permissions");
  if (perm) {
    const char *p = json_string_value(perm);
    if (p == NULL)
      return nd_error_make(err, EINVAL, "%s.permissions must be a string", what);
    if (strcmp(p, "none") != 0)
      for (const char *c = p; *c; c++)
        if (*c != 'r' && *c != 'w' && *c != 'm')
          return nd_error_make(err, EINVAL, "%s.permissions \"%s\" must be a subset of rwm",
                               what, p);
  }
  const char *ints[] = {"major", "minor", "fileMode"};
  for (size_t i = 0; i < ND_ARRAY_LEN(ints); i++) {
    const json_t *v = json_object_get(dn, ints[i]);
    if (v && !json_is_integer(v))
      return nd_error_make(err, EINVAL, "%s.%s must be an integer", what, ints[i]);
  }
  const char *ids[] = {"uid", "gid"};
  for (size_t i = 0; i < ND_ARRAY_LEN(ids); i++) {
    const json_t *v = json_object_get(dn, ids[i]);
    if (v) {
      cleanup_free char *w = NULL;
      if (asprintf(&w, "%s.%s", what, ids[i]) < 0 || check_uint32(v, w, err) < 0)
        return -1;
    }
  }
  return 0;
}

static int check_mount(const json_t *m, const char *what, const char **min_version,
                       nd_error_t *err) {
  static const char *const keys[] = {"hostPath", "containerPath", "options", "type", NULL};
  if (!json_is_object(m))
    return nd_error_make(err, EINVAL, "%s must be an object", what);
  if (check_keys(m, keys, what, err) < 0)
    return -1;
  const char *req[] = {"hostPath", "containerPath"};
  for (size_t i = 0; i < ND_ARRAY_LEN(req); i++) {
    const json_t *v = json_object_get(m, req[i]);
    if (!json_is_string(v) || json_string_length(v) == 0)
      return nd_error_make(err, EINVAL, "%s.%s is required", what, req[i]);
  }
  const json_t *opts = json_object_get(m, "options");
  if (opts) {
    cleanup_free char *w = NULL;
    if (asprintf(&w, "%s.options", what) < 0 || check_string_array(opts, w, err) < 0)
      return -1;
  }
  const json_t *type = json_object_get(m, "type");
  if (type) {
    if (!json_is_string(type))
      return nd_error_make(err, EINVAL, "%s.type must be a string", what);
    need_version(min_version, "0.4.0");
  }
  return 0;
}

static int check_hook(const json_t *h, const char *what, nd_error_t *err) {
  static const char *const keys[] = {"hookName", "path", "args", "env", "timeout", NULL};
  static const char *const names[] = {"prestart",        "createRuntime", "createContainer",
                                      "startContainer",  "poststart",     "poststop",
                                      NULL};
  if (!json_is_object(h))
    return nd_error_make(err, EINVAL, "%s must be an object", what);
  if (check_keys(h, keys, what, err) < 0)
    return -1;
  const char *name = json_string_value(json_object_get(h, "hookName"));
  if (name == NULL || !key_in(name, names))
    return nd_error_make(err, EINVAL, "%s.hookName must be one of prestart, createRuntime, "
                                      "createContainer, startContainer, poststart, poststop",
                         what);
  const char *path = json_string_value(json_object_get(h, "path"));
  if (path == NULL || path[0] != '/')
    return nd_error_make(err, EINVAL, "%s.path must be an absolute path", what);
  const json_t *args = json_object_get(h, "args");
  const json_t *env = json_object_get(h, "env");
  cleanup_free char *w = NULL;
  if (asprintf(&w, "%s.args", what) < 0 || (args && check_string_array(args, w, err) < 0))
    return -1;
  cleanup_free char *we = NULL;
  if (asprintf(&we, "%s.env", what) < 0 || (env && check_env(env, we, err) < 0))
    return -1;
  const json_t *timeout = json_object_get(h, "timeout");
  if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) <= 0))
    return nd_error_make(err, EINVAL, "%s.timeout must be a positive integer", what);
  return 0;
}

int nd_cdi_check_edits(const json_t *edits, const char *what, const char **min_version,
                       nd_error_t *err) {
  static const char *const keys[] = {"env",    "deviceNodes",    "mounts",     "hooks",
                                     "intelRdt", "additionalGids", "netDevices", NULL};
  if (!json_is_object(edits))
    return nd_error_make(err, EINVAL, "%s: containerEdits must be an object", what);
  if (check_keys(edits, keys, what, err) < 0)
    return -1;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)edits, key, v) {
    cleanup_free char *w = NULL;
    if (asprintf(&w, "%s: containerEdits.%s", what, key) < 0)
      return nd_error_make(err, ENOMEM, "out of memory");
    if (strcmp(key, "env") == 0) {
      if (check_env(v, w, err) < 0)
        return -1;
      continue;
    }
    if (strcmp(key, "intelRdt") == 0) {
      if (!json_is_object(v))
        return nd_error_make(err, EINVAL, "%s must be an object", w);
      need_version(min_version, "0.7.0");
      if (json_object_get(v, "schemata") || json_object_get(v, "enableMonitoring"))
        need_version(min_version, "1.1.0");
      continue;
    }
    if (!json_is_array(v))
      return nd_error_make(err, EINVAL, "%s must be an array", w);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
      cleanup_free char *wi = NULL;
      if (asprintf(&wi, "%s[%zu]", w, i) < 0)
        return nd_error_make(err, ENOMEM, "out of memory");
      int r = 0;
      if (strcmp(key, "deviceNodes") == 0)
        r = check_device_node(item, wi, min_version, err);
      else if (strcmp(key, "mounts") == 0)
        r = check_mount(item, wi, min_version, err);
      else if (strcmp(key, "hooks") == 0)
        r = check_hook(item, wi, err);
      else if (strcmp(key, "additionalGids") == 0)
        r = check_uint32(item, wi, err);
      else if (strcmp(key, "netDevices") == 0) {
        const char *h = json_string_value(json_object_get(item, "hostInterfaceName"));
        const char *n = json_string_value(json_object_get(item, "name"));
        if (!json_is_object(item) || h == NULL || n == NULL || !*h || !*n)
          r = nd_error_make(err, EINVAL, "%s needs hostInterfaceName and name", wi);
      }
      if (r < 0)
        return -1;
    }
    if (strcmp(key, "additionalGids") == 0 && json_array_size(v) > 0)
      need_version(min_version, "0.7.0");
    if (strcmp(key, "netDevices") == 0 && json_array_size(v) > 0)
      need_version(min_version, "1.1.0");
  }
  return 0;
}

static bool edits_empty(const json_t *edits) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)edits, key, v) {
    if ((json_is_array(v) && json_array_size(v) > 0) || json_is_object(v))
      return false;
  }
  return true;
}

json_t *nd_cdi_spec_build(const char *vendor, const nd_cdi_device *devices, size_t n,
                          nd_error_t *err) {
  if (check_vendor(vendor, err) < 0)
    return NULL;
  if (n == 0) {
    nd_error_make(err, EINVAL, "a CDI spec needs at least one device");
    return NULL;
  }
  const char *version = "0.3.0";
  cleanup_json json_t *devs = json_array();
  for (size_t i = 0; i < n; i++) {
    cleanup_free char *what = NULL;
    if (asprintf(&what, "CDI device %s", devices[i].name) < 0)
      return NULL;
    if (check_device_name(devices[i].name, &version, err) < 0)
      return NULL;
    for (size_t j = 0; j < i; j++)
      if (strcmp(devices[j].name, devices[i].name) == 0) {
        nd_error_make(err, EINVAL, "CDI device name \"%s\" appears twice", devices[i].name);
        return NULL;
      }
    if (nd_cdi_check_edits(devices[i].edits, what, &version, err) < 0)
      return NULL;
    if (edits_empty(devices[i].edits)) {
      nd_error_make(err, EINVAL, "%s: containerEdits must not be empty", what);
      return NULL;
    }
    json_array_append_new(devs, json_pack("{s:s, s:O}", "name", devices[i].name,
                                          "containerEdits", devices[i].edits));
  }
  cleanup_free char *kind = NULL;
  if (asprintf(&kind, "%s/%s", vendor, ND_CDI_CLASS) < 0)
    return NULL;
  return json_pack("{s:s, s:s, s:O}", "cdiVersion", version, "kind", kind, "devices", devs);
}

int nd_cdi_write_claim_spec(const char *cdi_dir, const char *vendor, const char *claim_uid,
                            const nd_cdi_device *devices, size_t n, nd_error_t *err) {
  cleanup_json json_t *spec = nd_cdi_spec_build(vendor, devices, n, err);
  if (spec == NULL)
    return nd_error_wrap(err, "CDI spec of claim %s", claim_uid);
  cleanup_free char *text = nd_json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
  cleanup_free char *path = nd_cdi_spec_path(cdi_dir, vendor, claim_uid);
  if (text == NULL || path == NULL)
    return nd_error_make(err, ENOMEM, "CDI spec of claim %s: out of memory", claim_uid);
  /* not fsynced: the plugin rewrites the spec of every prepared claim at every start (from
   * the checkpoint), so a spec lost to a power cut is back before the kubelet can ask. The
   * directory is made only when the write finds it missing (the first spec, or someone removed
   * it): a mkdir and a stat less per prepare */
  size_t len = strlen(text);
  cleanup_error nd_error_t first = NULL;
  if (nd_replace_file(path, text, len, 0644, &first) == 0)
    return 0;
  if (first->status != ENOENT) {
    nd_error_move(err, &first);
    return -1;
  }
  if (nd_mkdir_p(cdi_dir, 0755, err) < 0)
    return nd_error_wrap(err, "CDI directory");
  return nd_replace_file(path, text, len, 0644, err);
}

int nd_cdi_remove_claim_spec(const char *cdi_dir, const char *vendor, const char *claim_uid,
                             nd_error_t *err) {
  cleanup_free char *path = nd_cdi_spec_path(cdi_dir, vendor, claim_uid);
  if (path == NULL)
    return nd_error_make(err, ENOMEM, "out of memory");
  if (unlink(path) < 0 && errno != ENOENT)
    return nd_error_make(err, errno, "removing CDI spec %s: %s", path, strerror(errno));
  return 0;
}

int nd_cdi_remove_stale_claim_specs(const char *cdi_dir, const char *vendor,
                                    bool (*keep)(const char *claim_uid, void *data), void *data,
                                    nd_error_t *err) {
  /* "<vendor>-claim_": the file name nd_cdi_spec_path makes, up to the claim UID */
  cleanup_free char *probe = nd_cdi_spec_path("", vendor, "");
  if (probe == NULL)
    return nd_error_make(err, ENOMEM, "out of memory");
  const char *prefix = probe + 1;
  size_t plen = strlen(prefix) - strlen(".json");
  DIR *dir = opendir(cdi_dir);
  if (dir == NULL)
    return errno == ENOENT ? 0
                           : nd_error_make(err, errno, "listing CDI directory %s: %s", cdi_dir,
                                           strerror(errno));
  int removed = 0;
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    const char *name = de->d_name;
    bool temp = name[0] == '.' && strncmp(name + 1, prefix, plen) == 0 &&
                strstr(name, ".json.tmp-") != NULL;
    size_t n = strlen(name);
    bool spec = !temp && n > plen + 5 && strncmp(name, prefix, plen) == 0 &&
                strcmp(name + n - 5, ".json") == 0;
    if (!temp && !spec)
      continue;
    if (spec) {
      cleanup_free char *uid = strndup(name + plen, n - plen - 5);
      if (uid == NULL || keep(uid, data))
        continue;
    }
    if (unlinkat(dirfd(dir), name, 0) < 0 && errno != ENOENT) {
      int e = errno;
      closedir(dir);
      return nd_error_make(err, e, "removing %s/%s: %s", cdi_dir, name, strerror(e));
    }
    removed++;
  }
  closedir(dir);
  return removed;
}
