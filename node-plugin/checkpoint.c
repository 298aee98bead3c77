/* checkpoint.c: record of prepared claims: validation, group commit, reading (and converting)
 * the file; its slot format is slot_file.c's. See checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cleanup.h"
#include "json_dump.h"
#include "log.h"
#include "slot_file.h"

/* One change waiting for the write that makes it durable (lives on its caller's stack). */
typedef struct waiter {
  const char *uid;
  json_t *stored; /* the entry this change stored (NULL: removed); borrowed */
  bool done;
  int rc;
  nd_error_t err;
  sem_t wake; /* posted once: the change is done, or this caller is to write next */
  struct waiter *next;
} waiter;

/* Group commit: a change is applied to `claims` under `mu` and queued on `pending`; the first
 * caller that finds no write in progress becomes the writer, takes every queued change, copies
 * `claims` and `members` (shallow copies: stored entries are never modified, only replaced) and
 * writes that copy with the lock released. Callers that queue meanwhile wait and are all
 * covered by the next write, so concurrent prepares share one fsync instead of queueing behind
 * one another.
 *
 * Each entry is serialised once, when it is stored (`members`: its `"uid":{...}` text); a write
 * joins those texts instead of serialising every claim of the node again, so its CPU cost does
 * not grow with the number of prepared claims. */
struct nd_checkpoint {
  pthread_mutex_t mu;
  char *path;
  char *boot_id;
  bool rebooted;
  json_t *claims;  /* uid -> entry: the newest state (what get/all answer) */
  json_t *durable; /* uid -> entry: the state in the file on disk */
  json_t *members; /* uid -> string: the compact `"uid":{entry}` text of each entry in claims */
  json_t *durable_members; /* the same for durable */
  char *payload_head;      /* {"version":N,"bootId":"...","claims":{ */
  nd_slot_file *file; /* written only by the one writer (or open/free) */
  waiter *pending; /* changes no write has taken yet (newest first) */
  bool writing;
  unsigned long writes;
  nd_checkpoint_write_hook hook;
  void *hook_data;
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

/* The data part, whichever file format held it: {"version":1,"bootId":..,"claims":{..}}. On
 * success cp->claims and cp->rebooted are set. */
static int check_data(nd_checkpoint *cp, json_t *data, nd_error_t *err) {
  if (!json_is_object(data))
    return nd_error_make(err, EINVAL, "checkpoint %s: data is not an object (file is corrupt)",
                         cp->path);
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

/* The format before the slot file (read only, to convert it): one JSON document
 * {"checksum":"sha256:<hex of the compact, key-sorted dump of data>","data":{..}}. Returns data. */
static json_t *parse_legacy(nd_checkpoint *cp, const char *text, size_t len, nd_error_t *err) {
  json_error_t jerr;
  cleanup_json json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    nd_error_make(err, EINVAL, "checkpoint %s: line %d column %d: %s (file is corrupt)", cp->path,
                  jerr.line, jerr.column, jerr.text);
    return NULL;
  }
  const char *stored = json_string_value(json_object_get(root, "checksum"));
  json_t *data = json_object_get(root, "data");
  if (!json_is_object(root) || stored == NULL || !json_is_object(data) ||
      json_object_size(root) != 2) {
    nd_error_make(err, EINVAL,
                  "checkpoint %s: expected exactly the fields \"checksum\" (string) and "
                  "\"data\" (object) (file is corrupt)",
                  cp->path);
    return NULL;
  }
  cleanup_free char *canon = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
  char hex[65];
  if (canon == NULL || sha256_hex(canon, strlen(canon), hex) < 0) {
    nd_error_make(err, ENOMEM, "checkpoint %s: computing the checksum failed", cp->path);
    return NULL;
  }
  if (strncmp(stored, "sha256:", 7) != 0 || strcmp(stored + 7, hex) != 0) {
    nd_error_make(err, EINVAL,
                  "checkpoint %s: checksum mismatch (stored %.80s, computed sha256:%s): "
                  "the file is corrupt",
                  cp->path, stored, hex);
    return NULL;
  }
  return json_incref(data);
}

/* A slot's payload is at most ND_CKPT_MAX_PAYLOAD bytes. */
static int check_payload_size(const nd_checkpoint *cp, size_t len, nd_error_t *err) {
  if (len > ND_CKPT_MAX_PAYLOAD)
    return nd_error_make(err, EFBIG, "checkpoint %s: %zu bytes of claims is over the limit of %u",
                         cp->path, len, ND_CKPT_MAX_PAYLOAD);
  return 0;
}

/* The payload of a slot: the compact dump of data. */
static char *dump_data(nd_checkpoint *cp, json_t *data, size_t *len, nd_error_t *err) {
  char *text = json_dumps(data, JSON_COMPACT);
  if (text == NULL) {
    nd_error_make(err, ENOMEM, "checkpoint %s: out of memory", cp->path);
    return NULL;
  }
  *len = strlen(text);
  if (check_payload_size(cp, *len, err) < 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* Read the file (slot format, or the legacy format converted on the spot), or create it. */
static int load(nd_checkpoint *cp, nd_error_t *err) {
  cleanup_free char *text = NULL;
  size_t len = 0;
  cleanup_error nd_error_t rerr = NULL;
  if (nd_read_file(cp->path, ND_CKPT_MAX_BYTES, &text, &len, &rerr) < 0) {
    if (rerr->status != ENOENT)
      return nd_error_make(err, rerr->status, "checkpoint: %s", nd_error_msg(rerr));
    cleanup_json json_t *data = json_pack("{s:i, s:s, s:{}}", "version", ND_CKPT_VERSION, "bootId",
                                          cp->boot_id, "claims");
    if (data == NULL)
      return nd_error_make(err, ENOMEM, "checkpoint %s: out of memory", cp->path);
    cleanup_free char *payload = dump_data(cp, data, &len, err);
    if (payload == NULL || check_data(cp, data, err) < 0)
      return -1;
    cp->file = nd_slot_file_create(cp->path, 0600, payload, len, 1, ND_CKPT_SLOT_BYTES, err);
    return cp->file ? 0 : nd_error_wrap(err, "creating checkpoint");
  }
  if (nd_slot_file_detect(text, len)) {
    nd_slot_content c = {0};
    if (nd_slot_file_parse(cp->path, text, len, &c, err) < 0)
      return nd_error_wrap(err, "checkpoint");
    json_error_t jerr;
    cleanup_json json_t *data = json_loadb(c.payload, c.len, JSON_REJECT_DUPLICATES, &jerr);
    if (data == NULL) {
      nd_error_make(err, EINVAL,
                    "checkpoint %s: slot %u (sequence %llu): column %d: %s (file is corrupt)",
                    cp->path, c.slot, (unsigned long long)c.seq, jerr.column, jerr.text);
      nd_slot_content_clear(&c);
      return -1;
    }
    if (check_data(cp, data, err) < 0 ||
        (cp->file = nd_slot_file_open(cp->path, 0600, &c, err)) == NULL) {
      nd_slot_content_clear(&c);
      return -1;
    }
    /* a write the last run did not finish (or a damaged slot): worth a line */
    if (strcmp(c.other, "empty") != 0 && strcmp(c.other, "valid, older") != 0)
      ND_LOG_WARN("checkpoint", "slot-skipped", ND_KV_S("file", cp->path),
                  ND_KV_I("slot", 1 - c.slot), ND_KV_S("fault", c.other),
                  ND_KV_I("used_slot", c.slot), ND_KV_I("sequence", (long long)c.seq));
    nd_slot_content_clear(&c);
    return 0;
  }
  /* the legacy format: checked as before, then converted in one atomic replace */
  cleanup_json json_t *data = parse_legacy(cp, text, len, err);
  if (data == NULL || check_data(cp, data, err) < 0)
    return -1;
  cleanup_free char *payload = dump_data(cp, data, &len, err); /* boot id kept as found */
  if (payload == NULL)
    return -1;
  cp->file = nd_slot_file_create(cp->path, 0600, payload, len, 1, ND_CKPT_SLOT_BYTES, err);
  return cp->file ? 0 : nd_error_wrap(err, "converting checkpoint to the slot format");
}

/* The member text `"uid":{entry}` a write puts into the payload's claims object (a JSON
 * string value holding it; new reference, NULL when out of memory). */
static json_t *member_text(const char *uid, const json_t *entry) {
  cleanup_json json_t *key = json_string(uid);
  cleanup_free char *k = key ? nd_json_dumps(key, JSON_ENCODE_ANY) : NULL;
  cleanup_free char *v = nd_json_dumps(entry, JSON_COMPACT);
  cleanup_free char *text = NULL;
  if (k == NULL || v == NULL || asprintf(&text, "%s:%s", k, v) < 0)
    return NULL;
  return json_string_nocheck(text);
}

/* Stored entries are shared and must never change (checkpoint.h). With AddressSanitizer, the
 * test builds, every entry handed out or let go is checked against the text it was stored
 * as; a difference aborts, naming the claim. mu held. */
#if defined(__SANITIZE_ADDRESS__)
#define ND_CHECK_SHARED_ENTRIES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ND_CHECK_SHARED_ENTRIES 1
#endif
#endif
static void check_unchanged(nd_checkpoint *cp, const char *uid, const json_t *entry) {
#ifdef ND_CHECK_SHARED_ENTRIES
  json_t *stored = json_object_get(cp->members, uid);
  if (stored == NULL || json_object_get(cp->claims, uid) != entry)
    return;
  cleanup_json json_t *now = member_text(uid, entry);
  if (now == NULL || strcmp(json_string_value(now), json_string_value(stored)) != 0) {
    fprintf(stderr, "checkpoint: the stored entry of claim %s was changed after it was stored\n",
            uid);
    abort();
  }
#else
  (void)cp, (void)uid, (void)entry;
#endif
}

/* members for every entry of claims (after a load). */
static int build_members(nd_checkpoint *cp, nd_error_t *err) {
  cp->members = json_object();
  if (cp->members == NULL)
    return nd_error_make(err, ENOMEM, "checkpoint %s: out of memory", cp->path);
  const char *uid;
  json_t *entry;
  json_object_foreach(cp->claims, uid, entry) {
    json_t *m = member_text(uid, entry);
    if (m == NULL || json_object_set_new(cp->members, uid, m) < 0)
      return nd_error_make(err, ENOMEM, "checkpoint %s: out of memory", cp->path);
  }
  return 0;
}

/* Join the member texts into the payload and write it (members is a private copy: runs without
 * the lock, by the one writer). */
static int save(nd_checkpoint *cp, json_t *members, nd_error_t *err) {
  size_t head = strlen(cp->payload_head), n = json_object_size(members);
  size_t len = head + (n ? n - 1 : 0) + 2; /* the head, the commas, "}}" */
  const char *uid;
  json_t *m;
  json_object_foreach(members, uid, m) len += json_string_length(m);
  if (check_payload_size(cp, len, err) < 0)
    return -1;
  cleanup_free char *text = malloc(len + 1);
  if (text == NULL)
    return nd_error_make(err, ENOMEM, "checkpoint %s: out of memory", cp->path);
  char *at = text;
  memcpy(at, cp->payload_head, head);
  at += head;
  bool first = true;
  json_object_foreach(members, uid, m) {
    if (!first)
      *at++ = ',';
    first = false;
    memcpy(at, json_string_value(m), json_string_length(m));
    at += json_string_length(m);
  }
  memcpy(at, "}}", 2);
  at += 2;
  if (nd_slot_file_write(cp->file, text, (size_t)(at - text), err) < 0)
    return nd_error_wrap(err, "writing checkpoint");
  return 0;
}

/* Write every change queued so far (the caller's among them) as the one writer: mu held on
 * entry and on return, released during the write. Marks the group done; returns the group
 * (newest first) for the caller to wake once mu is released. */
static waiter *write_pending(nd_checkpoint *cp) {
  waiter *group = cp->pending;
  size_t n = 0;
  for (waiter *g = group; g; g = g->next)
    n++;
  cp->pending = NULL;
  json_t *snap = json_copy(cp->claims), *snap_members = json_copy(cp->members);
  nd_error_t werr = NULL;
  pthread_mutex_unlock(&cp->mu);
  if (cp->hook)
    cp->hook(cp->hook_data, n);
  int rc = snap && snap_members ? save(cp, snap_members, &werr)
                                : nd_error_make(&werr, ENOMEM, "checkpoint: out of memory");
  pthread_mutex_lock(&cp->mu);
  cp->writes++;
  if (rc == 0) {
    json_decref(cp->durable);
    json_decref(cp->durable_members);
    cp->durable = snap;
    cp->durable_members = snap_members;
    cp->rebooted = false;
  } else {
    json_decref(snap);
    json_decref(snap_members);
    /* undo the changes of this group that nothing replaced since: back to what is on disk */
    for (waiter *g = group; g; g = g->next) {
      if (json_object_get(cp->claims, g->uid) != g->stored)
        continue;
      json_t *on_disk = json_object_get(cp->durable, g->uid);
      if (on_disk) {
        json_object_set(cp->claims, g->uid, on_disk);
        json_object_set(cp->members, g->uid, json_object_get(cp->durable_members, g->uid));
      } else {
        json_object_del(cp->claims, g->uid);
        json_object_del(cp->members, g->uid);
      }
    }
  }
  for (waiter *g = group; g; g = g->next) {
    g->done = true;
    g->rc = rc;
    if (rc < 0)
      nd_error_make(&g->err, werr->status, "%s", nd_error_msg(werr));
  }
  nd_error_release(&werr);
  return group;
}

/* Called with mu held after the change of w was applied to claims and queued on pending;
 * returns with mu released once a write that covers the change has finished, with that
 * write's result. A caller that finds no write in progress writes; one that finds a write in
 * progress sleeps on its own semaphore until the writer either reports its change done or hands
 * it the writer's role for the changes queued meanwhile (the oldest of them: the writer's role
 * passes in arrival order). Each caller is woken once, by the thread that has its answer, and
 * never takes mu again for it: no thundering herd on a shared condition variable. */
static int commit_unlock(nd_checkpoint *cp, waiter *w, nd_error_t *err) {
  if (cp->writing) {
    pthread_mutex_unlock(&cp->mu);
    while (sem_wait(&w->wake) < 0 && errno == EINTR)
      ;
    if (w->done)
      goto answered;
    pthread_mutex_lock(&cp->mu); /* handed the writer's role; writing is still true */
  }
  cp->writing = true;
  waiter *group = write_pending(cp);
  waiter *next_writer = cp->pending;
  while (next_writer && next_writer->next)
    next_writer = next_writer->next;
  cp->writing = next_writer != NULL;
  pthread_mutex_unlock(&cp->mu);
  /* a waiter's stack frame may be gone as soon as it is posted: read next first */
  for (waiter *g = group, *after; g; g = after) {
    after = g->next;
    if (g != w)
      sem_post(&g->wake);
  }
  if (next_writer)
    sem_post(&next_writer->wake);
answered:
  sem_destroy(&w->wake);
  if (w->rc < 0)
    nd_error_move(err, &w->err);
  nd_error_release(&w->err);
  return w->rc;
}

/* Apply a change (entry NULL: remove; member: its text, both owned) and wait until it is on
 * disk. mu held on entry, released on return. */
static int change_unlock(nd_checkpoint *cp, const char *uid, json_t *entry, json_t *member,
                         nd_error_t *err) {
  json_t *before = json_object_get(cp->claims, uid);
  if (before)
    check_unchanged(cp, uid, before);
  if (entry) {
    json_object_set_new(cp->claims, uid, entry);
    json_object_set_new(cp->members, uid, member);
  } else {
    json_object_del(cp->claims, uid);
    json_object_del(cp->members, uid);
  }
  waiter w = {.uid = uid, .stored = entry, .next = cp->pending};
  sem_init(&w.wake, 0, 0);
  cp->pending = &w;
  return commit_unlock(cp, &w, err);
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
  if (cp->boot_id == NULL) {
    nd_checkpoint_free(cp);
    return NULL;
  }
  cleanup_json json_t *boot = json_string(cp->boot_id);
  cleanup_free char *boot_text = boot ? json_dumps(boot, JSON_ENCODE_ANY) : NULL;
  if (boot_text == NULL ||
      asprintf(&cp->payload_head, "{\"version\":%d,\"bootId\":%s,\"claims\":{", ND_CKPT_VERSION,
               boot_text) < 0) {
    cp->payload_head = NULL;
    nd_checkpoint_free(cp);
    nd_error_make(err, ENOMEM, "checkpoint: out of memory");
    return NULL;
  }
  if (load(cp, err) < 0 || build_members(cp, err) < 0 ||
      (cp->durable = json_copy(cp->claims)) == NULL ||
      (cp->durable_members = json_copy(cp->members)) == NULL) {
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
  json_decref(cp->durable);
  json_decref(cp->members);
  json_decref(cp->durable_members);
  free(cp->payload_head);
  nd_slot_file_close(cp->file);
  free(cp->boot_id);
  free(cp->path);
  free(cp);
}

const char *nd_checkpoint_path(const nd_checkpoint *cp) { return cp->path; }
bool nd_checkpoint_rebooted(const nd_checkpoint *cp) { return cp->rebooted; }

json_t *nd_checkpoint_get(nd_checkpoint *cp, const char *claim_uid) {
  pthread_mutex_lock(&cp->mu);
  json_t *e = json_incref(json_object_get(cp->claims, claim_uid));
  if (e)
    check_unchanged(cp, claim_uid, e);
  pthread_mutex_unlock(&cp->mu);
  return e;
}

json_t *nd_checkpoint_all(nd_checkpoint *cp) {
  pthread_mutex_lock(&cp->mu);
  json_t *all = json_copy(cp->claims); /* a new object; the entries are shared */
  pthread_mutex_unlock(&cp->mu);
  return all;
}

int nd_checkpoint_put(nd_checkpoint *cp, const char *claim_uid, json_t *entry, nd_error_t *err) {
  if (nd_checkpoint_check_entry(entry, claim_uid, err) < 0)
    return nd_error_wrap(err, "checkpoint entry");
  json_t *member = member_text(claim_uid, entry);
  if (member == NULL)
    return nd_error_make(err, ENOMEM, "checkpoint: out of memory");
  pthread_mutex_lock(&cp->mu);
  return change_unlock(cp, claim_uid, json_incref(entry), member, err);
}

int nd_checkpoint_remove(nd_checkpoint *cp, const char *claim_uid, nd_error_t *err) {
  pthread_mutex_lock(&cp->mu);
  if (json_object_get(cp->claims, claim_uid) == NULL) {
    pthread_mutex_unlock(&cp->mu);
    return 0;
  }
  return change_unlock(cp, claim_uid, NULL, NULL, err);
}

unsigned long nd_checkpoint_writes(nd_checkpoint *cp) {
  pthread_mutex_lock(&cp->mu);
  unsigned long n = cp->writes;
  pthread_mutex_unlock(&cp->mu);
  return n;
}

size_t nd_checkpoint_waiting(nd_checkpoint *cp) {
  pthread_mutex_lock(&cp->mu);
  size_t n = 0;
  for (waiter *w = cp->pending; w; w = w->next)
    n++;
  pthread_mutex_unlock(&cp->mu);
  return n;
}

void nd_checkpoint_set_write_hook(nd_checkpoint *cp, nd_checkpoint_write_hook hook, void *data) {
  pthread_mutex_lock(&cp->mu);
  cp->hook = hook;
  cp->hook_data = data;
  pthread_mutex_unlock(&cp->mu);
}
