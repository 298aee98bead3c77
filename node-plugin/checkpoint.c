/* checkpoint.c: checksummed, atomically written record of prepared claims; see checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cleanup.h"

struct nd_checkpoint {
  pthread_mutex_t mu;
  char *path;
  char *boot_id;
  bool rebooted;
  json_t *claims; /* uid -> entry */
};

static int sha256_hex(const char *data, size_t len, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
    return -1;
  for (unsigned i = 0; i < mdlen; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return 0;
}

static char *read_boot_id(const char *path, nd_error_t *err) {
  cleanup_free char *data = NULL;
  size_t len = 0;
  if (nd_read_file(path, 4096, &data, &len, err) < 0)
    return NULL;
  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
    data[--len] = '\0';
  if (len == 0) {
    nd_error_make(err, EINVAL, "boot id file %s is empty", path);
    return NULL;
  }
  return nd_steal(data);
}

static const char *const entry_keys[] = {"namespace", "name", "phase", "devices", NULL};
static const char *const device_keys[] = {"request", "pool",  "device", "type",    "status",
                                          "sliceDevice", "config", "state", "edits", "cdiName",
                                          "vendorCdiId", NULL};

static bool in_list(const char *key, const char *const *list) {
  for (; *list; list++)
    if (strcmp(key, *list) == 0)
      return true;
  return false;
}

int nd_checkpoint_check_entry(const json_t *entry, const char *what, nd_error_t *err) {
  if (!json_is_object(entry))
    return nd_error_make(err, EINVAL, "%s: must be an object", what);
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)entry, key, v) {
    if (!in_list(key, entry_keys))
      return nd_error_make(err, EINVAL, "%s: unknown field \"%s\"", what, key);
  }
  const char *strs[] = {"namespace", "name", "phase"};
  for (size_t i = 0; i < ND_ARRAY_LEN(strs); i++)
    if (!json_is_string(json_object_get(entry, strs[i])))
      return nd_error_make(err, EINVAL, "%s: field \"%s\" must be a string", what, strs[i]);
  const char *phase = json_string_value(json_object_get(entry, "phase"));
  if (strcmp(phase, ND_CKPT_PREPARE_STARTED) != 0 && strcmp(phase, ND_CKPT_PREPARE_COMPLETED) != 0)
    return nd_error_make(err, EINVAL, "%s: phase \"%s\" is neither %s nor %s", what, phase,
                         ND_CKPT_PREPARE_STARTED, ND_CKPT_PREPARE_COMPLETED);
  const json_t *devs = json_object_get(entry, "devices");
  if (!json_is_array(devs))
    return nd_error_make(err, EINVAL, "%s: field \"devices\" must be an array", what);
  size_t i;
  json_t *d;
  json_array_foreach(devs, i, d) {
    if (!json_is_object(d))
      return nd_error_make(err, EINVAL, "%s: devices[%zu] must be an object", what, i);
    json_object_foreach(d, key, v) {
      if (!in_list(key, device_keys))
        return nd_error_make(err, EINVAL, "%s: devices[%zu]: unknown field \"%s\"", what, i, key);
    }
    const char *req[] = {"request", "pool", "device", "type", "status"};
    for (size_t k = 0; k < ND_ARRAY_LEN(req); k++)
      if (!json_is_string(json_object_get(d, req[k])))
        return nd_error_make(err, EINVAL, "%s: devices[%zu].%s must be a string", what, i, req[k]);
    const char *st = json_string_value(json_object_get(d, "status"));
    if (strcmp(st, ND_CKPT_DEV_PENDING) && strcmp(st, ND_CKPT_DEV_ATTACHING) &&
        strcmp(st, ND_CKPT_DEV_ATTACHED))
      return nd_error_make(err, EINVAL, "%s: devices[%zu].status \"%s\" is unknown", what, i, st);
    const char *opt_str[] = {"cdiName", "vendorCdiId"};
    for (size_t k = 0; k < ND_ARRAY_LEN(opt_str); k++) {
      const json_t *o = json_object_get(d, opt_str[k]);
      if (o && !json_is_null(o) && !json_is_string(o))
        return nd_error_make(err, EINVAL, "%s: devices[%zu].%s must be a string or null", what,
                             i, opt_str[k]);
    }
    const char *opt_obj[] = {"sliceDevice", "config", "edits"};
    for (size_t k = 0; k < ND_ARRAY_LEN(opt_obj); k++) {
      const json_t *o = json_object_get(d, opt_obj[k]);
      if (o && !json_is_null(o) && !json_is_object(o))
        return nd_error_make(err, EINVAL, "%s: devices[%zu].%s must be an object or null", what,
                             i, opt_obj[k]);
    }
  }
  return 0;
}

static int load(nd_checkpoint *cp, nd_error_t *err) {
  cleanup_free char *text = NULL;
  size_t len = 0;
  FILE *probe = fopen(cp->path, "r");
  if (probe == NULL && errno == ENOENT) {
    cp->claims = json_object();
    return 0;
  }
  if (probe)
    fclose(probe);
  if (nd_read_file(cp->path, ND_CKPT_MAX_BYTES, &text, &len, err) < 0)
    return nd_error_wrap(err, "checkpoint");
  json_error_t jerr;
  cleanup_json json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return nd_error_make(err, EINVAL, "checkpoint %s: line %d column %d: %s (file is corrupt)",
                         cp->path, jerr.line, jerr.column, jerr.text);
  const char *stored = json_string_value(json_object_get(root, "checksum"));
  json_t *data = json_object_get(root, "data");
  if (!json_is_object(root) || stored == NULL || !json_is_object(data) || json_object_size(root) != 2)
    return nd_error_make(err, EINVAL,
                         "checkpoint %s: expected exactly the fields \"checksum\" (string) and "
                         "\"data\" (object) (file is corrupt)",
                         cp->path);
  cleanup_free char *canon = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
  char hex[65];
  if (canon == NULL || sha256_hex(canon, strlen(canon), hex) < 0)
    return nd_error_make(err, ENOMEM, "checkpoint %s: computing the checksum failed", cp->path);
  if (strncmp(stored, "sha256:", 7) != 0 || strcmp(stored + 7, hex) != 0)
    return nd_error_make(err, EINVAL,
                         "checkpoint %s: checksum mismatch (stored %.80s, computed sha256:%s): "
                         "the file is corrupt",
                         cp->path, stored, hex);
  json_t *version = json_object_get(data, "version");
  if (!json_is_integer(version) || json_integer_value(version) != ND_CKPT_VERSION)
    return nd_error_make(err, EINVAL, "checkpoint %s: unsupported version (expected %d)",
                         cp->path, ND_CKPT_VERSION);
  const char *boot = json_string_value(json_object_get(data, "bootId"));
  json_t *claims = json_object_get(data, "claims");
  if (boot == NULL || !json_is_object(claims))
    return nd_error_make(err, EINVAL,
                         "checkpoint %s: data needs \"bootId\" (string) and \"claims\" (object)",
                         cp->path);
  const char *uid;
  json_t *entry;
  json_object_foreach(claims, uid, entry) {
    cleanup_free char *what = NULL;
    if (asprintf(&what, "checkpoint %s: claim %s", cp->path, uid) < 0)
      return nd_error_make(err, ENOMEM, "out of memory");
    if (nd_checkpoint_check_entry(entry, what, err) < 0)
      return -1;
  }
  cp->rebooted = strcmp(boot, cp->boot_id) != 0;
  cp->claims = json_incref(claims);
  return 0;
}

static int save_locked(nd_checkpoint *cp, nd_error_t *err) {
  cleanup_json json_t *data = json_pack("{s:i, s:s, s:O}", "version", ND_CKPT_VERSION, "bootId",
                                        cp->boot_id, "claims", cp->claims);
  if (data == NULL)
    return nd_error_make(err, ENOMEM, "checkpoint %s: out of memory", cp->path);
  cleanup_free char *canon = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
  char hex[65];
  if (canon == NULL || sha256_hex(canon, strlen(canon), hex) < 0)
    return nd_error_make(err, ENOMEM, "checkpoint %s: computing the checksum failed", cp->path);
  char sum[72];
  snprintf(sum, sizeof(sum), "sha256:%s", hex);
  cleanup_json json_t *root = json_pack("{s:s, s:O}", "checksum", sum, "data", data);
  cleanup_free char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL)
    return nd_error_make(err, ENOMEM, "checkpoint %s: out of memory", cp->path);
  if (nd_write_file_atomic(cp->path, text, strlen(text), 0600, err) < 0)
    return nd_error_wrap(err, "writing checkpoint");
  cp->rebooted = false;
  return 0;
}

nd_checkpoint *nd_checkpoint_open(const char *state_dir, const char *boot_id_path,
                                  nd_error_t *err) {
  if (nd_mkdir_p(state_dir, 0700, err) < 0) {
    nd_error_wrap(err, "state directory");
    return NULL;
  }
  nd_checkpoint *cp = calloc(1, sizeof(*cp));
  if (cp == NULL)
    return NULL;
  pthread_mutex_init(&cp->mu, NULL);
  if (asprintf(&cp->path, "%s/checkpoint.json", state_dir) < 0) {
    cp->path = NULL;
    nd_checkpoint_free(cp);
    nd_error_make(err, ENOMEM, "out of memory");
    return NULL;
  }
  cp->boot_id = read_boot_id(boot_id_path ? boot_id_path : "/proc/sys/kernel/random/boot_id", err);
  if (cp->boot_id == NULL || load(cp, err) < 0) {
    nd_checkpoint_free(cp);
    return NULL;
  }
  return cp;
}

void nd_checkpoint_free(nd_checkpoint *cp) {
  if (cp == NULL)
    return;
  pthread_mutex_destroy(&cp->mu);
  json_decref(cp->claims);
  free(cp->boot_id);
  free(cp->path);
  free(cp);
}

const char *nd_checkpoint_path(const nd_checkpoint *cp) { return cp->path; }
bool nd_checkpoint_rebooted(const nd_checkpoint *cp) { return cp->rebooted; }

json_t *nd_checkpoint_get(nd_checkpoint *cp, const char *claim_uid) {
  pthread_mutex_lock(&cp->mu);
  json_t *e = json_object_get(cp->claims, claim_uid);
  json_t *copy = e ? json_deep_copy(e) : NULL;
  pthread_mutex_unlock(&cp->mu);
  return copy;
}

json_t *nd_checkpoint_all(nd_checkpoint *cp) {
  pthread_mutex_lock(&cp->mu);
  json_t *copy = json_deep_copy(cp->claims);
  pthread_mutex_unlock(&cp->mu);
  return copy;
}

int nd_checkpoint_put(nd_checkpoint *cp, const char *claim_uid, const json_t *entry,
                      nd_error_t *err) {
  if (nd_checkpoint_check_entry(entry, claim_uid, err) < 0)
    return nd_error_wrap(err, "checkpoint entry");
  pthread_mutex_lock(&cp->mu);
  json_t *old = json_object_get(cp->claims, claim_uid);
  json_t *saved = old ? json_incref(old) : NULL;
  json_object_set_new(cp->claims, claim_uid, json_deep_copy(entry));
  int r = save_locked(cp, err);
  if (r < 0) {
    if (saved)
      json_object_set(cp->claims, claim_uid, saved);
    else
      json_object_del(cp->claims, claim_uid);
  }
  json_decref(saved);
  pthread_mutex_unlock(&cp->mu);
  return r;
}

int nd_checkpoint_remove(nd_checkpoint *cp, const char *claim_uid, nd_error_t *err) {
  pthread_mutex_lock(&cp->mu);
  json_t *old = json_object_get(cp->claims, claim_uid);
  int r = 0;
  if (old) {
    json_t *saved = json_incref(old);
    json_object_del(cp->claims, claim_uid);
    r = save_locked(cp, err);
    if (r < 0)
      json_object_set(cp->claims, claim_uid, saved);
    json_decref(saved);
  }
  pthread_mutex_unlock(&cp->mu);
  return r;
}
