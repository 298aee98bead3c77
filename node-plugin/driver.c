/* driver.c: prepare/unprepare orchestration on a worker-thread pool; see driver.h. */
#include "driver.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "backend.h"
#include "cdi.h"
#include "claim_config.h"
#include "cleanup.h"
#include "json_extract.h"
#include "log.h"
#include "memtrim.h"

typedef enum { JOB_PREPARE, JOB_UNPREPARE } job_kind;

typedef struct batch {
  nd_driver *d;
  job_kind kind;
  nd_claim_outcome *outcomes;
  size_t n;
  size_t remaining; /* jobs not yet run (atomic); the worker that ends it at 0 posts the batch */
  nd_driver_done_cb cb;
  void *data;
  uint64_t submitted_ns;
} batch;

typedef struct job {
  batch *b;
  size_t index;
  char *ns, *uid, *name;
  struct job *next;
} job;

typedef struct claim_lock {
  char *uid;
  int refs;
  pthread_mutex_t mu;
  struct claim_lock *next;
} claim_lock;

struct nd_driver {
  char *driver_name, *node_name, *cdi_dir, *state_dir, *dev_root;
  nd_loop *loop;
  nd_k8s_client *k8s;
  nd_slice_cache *slices;
  nd_checkpoint *cp;
  pthread_mutex_t mu; /* the queue: head, tail, stopping */
  /* one post per queued job (and one per worker at stop): a hand-off is one futex wake and
   * one wait, where a condition variable took a third (glibc's wake confirmation) */
  sem_t queued;
  job *head, *tail;
  bool stopping;
  pthread_t *threads;
  int n_threads;
  pthread_mutex_t locks_mu; /* the claim locks; apart from mu, which the loop thread takes */
  claim_lock *locks;
  size_t in_flight; /* loop thread only */
  nd_memtrim *trim; /* heap pages back to the kernel once calls stop */
  nd_driver_stats stats;
  uint64_t stage_ns[2][ND_STAGE_COUNT]; /* [JOB_PREPARE or JOB_UNPREPARE][stage], atomic adds */
};

/* after the last call of a burst, how long to wait before trimming the heap */
#define TRIM_DELAY_MS 1000

/* ---- where a claim's time goes ---- */

const char *nd_driver_stage_name(nd_driver_stage stage) {
  static const char *const names[ND_STAGE_COUNT] = {"queue", "claim_get", "devices", "cdi_spec",
                                                    "checkpoint"};
  return stage < ND_STAGE_COUNT ? names[stage] : "?";
}

/* One claim's prepare or unprepare: each mark adds the time since the previous one to a
 * stage's sum (a clock read, no lock). */
typedef struct {
  uint64_t *sums;
  uint64_t last_ns;
} stage_clock;

static void stage_mark(stage_clock *clk, nd_driver_stage stage) {
  uint64_t now = nd_now_ns();
  __atomic_add_fetch(&clk->sums[stage], now - clk->last_ns, __ATOMIC_RELAXED);
  clk->last_ns = now;
}

/* ---- per-claim serialisation ---- */

static claim_lock *claim_lock_take(nd_driver *d, const char *uid) {
  pthread_mutex_lock(&d->locks_mu);
  claim_lock *l = d->locks;
  while (l && strcmp(l->uid, uid) != 0)
    l = l->next;
  if (l == NULL) {
    l = calloc(1, sizeof(*l));
    l->uid = strdup(uid);
    pthread_mutex_init(&l->mu, NULL);
    l->next = d->locks;
    d->locks = l;
  }
  l->refs++;
  pthread_mutex_unlock(&d->locks_mu);
  pthread_mutex_lock(&l->mu);
  return l;
}

static void claim_lock_release(nd_driver *d, claim_lock *l) {
  pthread_mutex_unlock(&l->mu);
  pthread_mutex_lock(&d->locks_mu);
  if (--l->refs == 0) {
    for (claim_lock **pp = &d->locks; *pp; pp = &(*pp)->next)
      if (*pp == l) {
        *pp = l->next;
        break;
      }
    pthread_mutex_destroy(&l->mu);
    free(l->uid);
    free(l);
  }
  pthread_mutex_unlock(&d->locks_mu);
}

/* ---- helpers ---- */

static char *claim_dir_path(nd_driver *d, const char *uid) {
  char *p = NULL;
  if (asprintf(&p, "%s/claims/%s", d->state_dir, uid) < 0)
    return NULL;
  return p;
}

static char *base_request(const char *request) {
  return strndup(request, strcspn(request, "/"));
}

/* NETDRA_DEVICE_<REQ>_<DEV>=<pool>/<device>: every device gets at least this edit, so the
 * CDI device is never empty and the container can tell which device it got. */
static void add_device_env(json_t *edits, const char *request, const char *pool,
                           const char *device) {
  char *env = NULL;
  if (asprintf(&env, "NETDRA_DEVICE_%s_%s=%s/%s", request, device, pool, device) < 0)
    return;
  for (char *p = env; *p != '='; p++)
    *p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
  json_t *list = json_object_get(edits, "env");
  if (!json_is_array(list)) {
    list = json_array();
    json_object_set_new(edits, "env", list);
  }
  json_array_append_new(list, json_string(env));
  free(env);
}

static void fill_request(nd_driver *d, const char *uid, const json_t *entry, const json_t *dev,
                         const char *claim_dir, nd_attach_request *req) {
  memset(req, 0, sizeof(*req));
  req->claim_uid = uid;
  req->claim_namespace = json_string_value(json_object_get(entry, "namespace"));
  req->claim_name = json_string_value(json_object_get(entry, "name"));
  req->request = json_string_value(json_object_get(dev, "request"));
  req->pool = json_string_value(json_object_get(dev, "pool"));
  req->device = json_string_value(json_object_get(dev, "device"));
  req->slice_device = json_object_get(dev, "sliceDevice");
  const json_t *cfg = json_object_get(dev, "config");
  req->config = json_is_object(cfg) ? cfg : NULL;
  req->claim_dir = claim_dir;
  req->k8s = d->k8s;
  req->node_name = d->node_name;
  req->dev_root = d->dev_root;
}

/* Detach every device of the entry that is attaching or attached, last first. The entry is
 * not changed (it may be the checkpoint's, which is shared). Returns 0, or -1 with the first
 * error and, in *left, a copy of the entry in which the devices that did detach are pending:
 * what to record so that a later unprepare or restart retries only the others. */
static int detach_entry(nd_driver *d, const char *uid, const json_t *entry, json_t **left,
                        nd_error_t *err) {
  cleanup_free char *claim_dir = claim_dir_path(d, uid);
  const json_t *devs = json_object_get(entry, "devices");
  size_t n = json_array_size(devs);
  cleanup_free bool *detached = calloc(n ? n : 1, sizeof(*detached));
  if (detached == NULL)
    return nd_error_make(err, ENOMEM, "out of memory");
  int rc = 0;
  for (size_t i = n; i-- > 0;) {
    json_t *dev = json_array_get(devs, i);
    const char *st = json_string_value(json_object_get(dev, "status"));
    if (strcmp(st, ND_CKPT_DEV_PENDING) == 0)
      continue;
    const char *type = json_string_value(json_object_get(dev, "type"));
    const nd_backend *be = nd_backend_for_type(type);
    nd_attach_request req;
    fill_request(d, uid, entry, dev, claim_dir, &req);
    cleanup_error nd_error_t derr = NULL;
    const json_t *state = json_object_get(dev, "state");
    if (be == NULL) {
      nd_error_make(&derr, EINVAL, "no backend for device type \"%s\"", type);
    } else if (be->detach(&req, json_is_null(state) ? NULL : state, &derr) == 0) {
      detached[i] = true;
      ND_LOG_INFO("driver", "detached", ND_KV_S("claim", uid), ND_KV_S("pool", req.pool),
                  ND_KV_S("device", req.device), ND_KV_S("type", type));
      continue;
    }
    ND_LOG_ERROR("driver", "detach-failed", ND_KV_S("claim", uid), ND_KV_S("pool", req.pool),
                 ND_KV_S("device", req.device), ND_KV_S("error", nd_error_msg(derr)));
    if (rc == 0) {
      nd_error_make(err, derr->status, "detaching %s/%s: %s", req.pool, req.device,
                    nd_error_msg(derr));
      rc = -1;
    }
  }
  if (rc < 0) {
    *left = json_deep_copy(entry);
    json_t *left_devs = json_object_get(*left, "devices");
    for (size_t i = 0; *left && i < n; i++) {
      if (!detached[i])
        continue;
      json_t *dev = json_array_get(left_devs, i);
      json_object_set_new(dev, "status", json_string(ND_CKPT_DEV_PENDING));
      json_object_set_new(dev, "state", json_null());
    }
  }
  return rc;
}

/* Write (or remove, when no device has our CDI name) the CDI spec of an entry. */
static int write_spec(nd_driver *d, const char *uid, const json_t *entry, nd_error_t *err) {
  const json_t *devs = json_object_get(entry, "devices");
  size_t n = json_array_size(devs);
  nd_cdi_device *cdi = calloc(n ? n : 1, sizeof(*cdi));
  if (cdi == NULL)
    return nd_error_make(err, ENOMEM, "out of memory");
  size_t n_cdi = 0;
  size_t i;
  json_t *dev;
  json_array_foreach(devs, i, dev) {
    const char *name = json_string_value(json_object_get(dev, "cdiName"));
    if (name) {
      cdi[n_cdi].name = name;
      cdi[n_cdi].edits = json_object_get(dev, "edits");
      n_cdi++;
    }
  }
  int r = n_cdi ? nd_cdi_write_claim_spec(d->cdi_dir, d->driver_name, uid, cdi, n_cdi, err)
                : nd_cdi_remove_claim_spec(d->cdi_dir, d->driver_name, uid, err);
  free(cdi);
  return r;
}

/* Fill the outcome's device list from a completed entry. */
static void fill_outcome(nd_driver *d, const json_t *entry, nd_claim_outcome *out) {
  const json_t *devs = json_object_get(entry, "devices");
  size_t n = json_array_size(devs);
  out->devices = calloc(n ? n : 1, sizeof(*out->devices));
  size_t i;
  json_t *dev;
  json_array_foreach(devs, i, dev) {
    nd_prepared_device *pd = &out->devices[out->n_devices++];
    pd->request = strdup(json_string_value(json_object_get(dev, "request")));
    pd->pool = strdup(json_string_value(json_object_get(dev, "pool")));
    pd->device = strdup(json_string_value(json_object_get(dev, "device")));
    const char *vendor = json_string_value(json_object_get(dev, "vendorCdiId"));
    const char *name = json_string_value(json_object_get(dev, "cdiName"));
    pd->cdi_id = vendor ? strdup(vendor) : name ? nd_cdi_qualified_id(d->driver_name, name) : NULL;
  }
}

/* What a prepare reads of a ResourceClaim: its UID and its allocation. The rest (managedFields,
 * spec, reservedFor, ownerReferences: most of the text) is checked but not built. */
static json_t *decode_claim(const char *text, size_t len, void *data, nd_error_t *err) {
  static const char *const uid[] = {"metadata", "uid", NULL};
  static const char *const allocation[] = {"status", "allocation", NULL};
  return nd_json_extract(text, len, (const char *const *const[]){uid, allocation, NULL}, err);
}

static json_t *get_claim(nd_driver *d, const char *ns, const char *name, const char *uid,
                         nd_error_t *err) {
  cleanup_free char *path = NULL;
  cleanup_free char *ens = nd_k8s_escape(ns);
  cleanup_free char *ename = nd_k8s_escape(name);
  if (asprintf(&path, "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s", ens, ename) < 0)
    return NULL;
  nd_k8s_result r = {0};
  if (nd_k8s_request_decoded(d->k8s, "GET", path, NULL, NULL, decode_claim, NULL, &r, err) < 0) {
    nd_error_wrap(err, "getting ResourceClaim %s/%s", ns, name);
    return NULL;
  }
  if (r.http_status != 200 || !json_is_object(r.body)) {
    nd_error_make(err, r.http_status == 404 ? ENOENT : EIO, "getting ResourceClaim %s/%s: HTTP %ld: %s",
                  ns, name, r.http_status, r.message ? r.message : "no message");
    nd_k8s_result_clear(&r);
    return NULL;
  }
  json_t *claim = json_incref(r.body);
  nd_k8s_result_clear(&r);
  const char *got = json_string_value(json_object_get(json_object_get(claim, "metadata"), "uid"));
  if (got == NULL || strcmp(got, uid) != 0) {
    nd_error_make(err, ESTALE, "ResourceClaim %s/%s has UID %s, the kubelet asked for %s", ns, name,
                  got ? got : "(none)", uid);
    json_decref(claim);
    return NULL;
  }
  if (!json_is_object(json_object_get(json_object_get(claim, "status"), "allocation"))) {
    nd_error_make(err, EINVAL, "ResourceClaim %s/%s is not allocated (no status.allocation)", ns,
                  name);
    json_decref(claim);
    return NULL;
  }
  return claim;
}

/* Build the prepare-started entry (every device pending) from the claim's allocation. */
static json_t *plan_entry(nd_driver *d, const json_t *claim, const char *ns, const char *name,
                          nd_error_t *err) {
  const json_t *alloc_devs =
      json_object_get(json_object_get(json_object_get(claim, "status"), "allocation"), "devices");
  const json_t *config = json_object_get(alloc_devs, "config");
  cleanup_json json_t *devices = json_array();
  size_t i;
  json_t *res;
  json_array_foreach(json_object_get(alloc_devs, "results"), i, res) {
    const char *drv = json_string_value(json_object_get(res, "driver"));
    const char *request = json_string_value(json_object_get(res, "request"));
    const char *pool = json_string_value(json_object_get(res, "pool"));
    const char *device = json_string_value(json_object_get(res, "device"));
    if (drv == NULL || strcmp(drv, d->driver_name) != 0)
      continue;
    if (request == NULL || pool == NULL || device == NULL) {
      nd_error_make(err, EINVAL, "allocation result %zu lacks request, pool or device", i);
      return NULL;
    }
    cleanup_free char *node = NULL;
    cleanup_json json_t *sdev = nd_slice_cache_lookup(d->slices, pool, device, true, &node, err);
    if (sdev == NULL)
      return NULL;
    if (node && strcmp(node, d->node_name) != 0) {
      ND_LOG_INFO("driver", "skip-other-node-device", ND_KV_S("pool", pool),
                  ND_KV_S("device", device), ND_KV_S("node", node));
      continue;
    }
    const char *type = nd_slice_device_string_attr(sdev, d->driver_name, "type");
    if (type == NULL) {
      nd_error_make(err, EINVAL, "device %s/%s has no \"type\" attribute", pool, device);
      return NULL;
    }
    if (nd_backend_for_type(type) == NULL) {
      nd_error_make(err, EINVAL, "device %s/%s: no backend for type \"%s\"", pool, device, type);
      return NULL;
    }
    json_t *cfg = NULL;
    if (nd_claim_config_for_request(d->driver_name, config, request, type, &cfg, err) < 0)
      return NULL;
    cleanup_free char *base = base_request(request);
    json_array_append_new(
        devices, json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:o, s:n, s:n, s:n, s:n}", "request",
                           base, "pool", pool, "device", device, "type", type, "status",
                           ND_CKPT_DEV_PENDING, "sliceDevice", sdev, "config",
                           cfg ? cfg : json_null(), "state", "edits", "cdiName", "vendorCdiId"));
  }
  return json_pack("{s:s, s:s, s:s, s:O}", "namespace", ns, "name", name, "phase",
                   ND_CKPT_PREPARE_STARTED, "devices", devices);
}

static int rollback_and_forget(nd_driver *d, const char *uid, const json_t *entry) {
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *left = NULL;
  if (detach_entry(d, uid, entry, &left, &err) < 0) {
    /* keep the record so a later unprepare or restart retries the detach */
    cleanup_error nd_error_t perr = NULL;
    if (left == NULL || nd_checkpoint_put(d->cp, uid, left, &perr) < 0)
      ND_LOG_ERROR("driver", "rollback-record-failed", ND_KV_S("claim", uid),
                   ND_KV_S("error", perr ? nd_error_msg(perr) : "out of memory"));
    ND_LOG_ERROR("driver", "rollback-incomplete", ND_KV_S("claim", uid),
                 ND_KV_S("error", nd_error_msg(err)));
    return -1;
  }
  cleanup_free char *dir = claim_dir_path(d, uid);
  nd_remove_tree(dir, &err);
  nd_cdi_remove_claim_spec(d->cdi_dir, d->driver_name, uid, &err);
  nd_checkpoint_remove(d->cp, uid, &err);
  if (err)
    ND_LOG_WARN("driver", "rollback-cleanup", ND_KV_S("claim", uid),
                ND_KV_S("error", nd_error_msg(err)));
  return 0;
}

/* Whether no device of the entry can leave anything behind when its attach is cut short. */
static bool attaches_leave_nothing(nd_driver *d, const char *uid, const json_t *entry) {
  size_t i;
  const json_t *dev;
  json_array_foreach(json_object_get(entry, "devices"), i, dev) {
    const nd_backend *be = nd_backend_for_type(json_string_value(json_object_get(dev, "type")));
    nd_attach_request req;
    fill_request(d, uid, entry, dev, NULL, &req);
    if (be == NULL || be->attach_leaves_nothing == NULL || !be->attach_leaves_nothing(&req))
      return false;
  }
  return true;
}

static int prepare_locked(nd_driver *d, const json_t *claim, const char *ns, const char *name,
                          const char *uid, stage_clock *clk, nd_claim_outcome *out,
                          nd_error_t *err) {
  cleanup_json json_t *entry = nd_checkpoint_get(d->cp, uid);
  cleanup_free char *claim_dir = claim_dir_path(d, uid);
  if (entry && strcmp(json_string_value(json_object_get(entry, "phase")),
                      ND_CKPT_PREPARE_COMPLETED) == 0) {
    /* idempotent repeat: same answer, spec rewritten in case it went missing */
    stage_mark(clk, ND_STAGE_DEVICES);
    if (write_spec(d, uid, entry, err) < 0)
      return -1;
    stage_mark(clk, ND_STAGE_CDI_SPEC);
    fill_outcome(d, entry, out);
    return 0;
  }
  /* a failed earlier attempt whose rollback did not finish: finish it first */
  if (entry && rollback_and_forget(d, uid, entry) < 0)
    return nd_error_make(err, EBUSY, "an earlier prepare of this claim could not be rolled back "
                                     "(detach failed); retry later");
  json_decref(entry);
  entry = plan_entry(d, claim, ns, name, err);
  if (entry == NULL)
    return -1;
  /* the claim's private directory (<stateDir>/claims/<uid>) is made by the backend that writes
   * a file into it (nd_backend_write_secret_file): most claims have none, and a mkdir + rmdir
   * per claim is an ext4 inode allocation and free on the prepare path */
  /* One durable write before the first backend call: every device recorded attaching. A crash
   * from here until prepare-completed is on disk rolls all of them back at the next start, and
   * the backends' detach accepts a null state (an attach that may or may not have happened),
   * so no per-device write is needed: two checkpoint writes per prepare whatever the number of
   * devices. When no device's attach can leave anything behind (a GPU, a camera without
   * credentials), there is nothing a crash could leave attached, and the write is skipped: one
   * checkpoint write per prepare. What such a crash can leave is the claim's CDI spec (written
   * before prepare-completed), which the next start removes (nd_driver_recover). */
  json_t *devs = json_object_get(entry, "devices");
  size_t i;
  json_t *dev;
  json_array_foreach(devs, i, dev)
    json_object_set_new(dev, "status", json_string(ND_CKPT_DEV_ATTACHING));
  if (!attaches_leave_nothing(d, uid, entry)) {
    stage_mark(clk, ND_STAGE_DEVICES);
    if (nd_checkpoint_put(d->cp, uid, entry, err) < 0)
      return -1;
    stage_mark(clk, ND_STAGE_CHECKPOINT);
    /* the checkpoint now shares that tree: go on with a copy of our own */
    json_t *own = json_deep_copy(entry);
    if (own == NULL) {
      nd_error_make(err, ENOMEM, "out of memory");
      goto fail;
    }
    json_decref(entry);
    entry = own;
    devs = json_object_get(entry, "devices");
  }
  json_array_foreach(devs, i, dev) {
    const char *type = json_string_value(json_object_get(dev, "type"));
    const nd_backend *be = nd_backend_for_type(type);
    nd_attach_request req;
    fill_request(d, uid, entry, dev, claim_dir, &req);
    nd_attach_result res = {0};
    if (be->attach(&req, &res, err) < 0) {
      nd_attach_result_clear(&res);
      __atomic_add_fetch(&d->stats.attach_errors, 1, __ATOMIC_RELAXED);
      nd_error_wrap(err, "attaching %s device %s/%s", type, req.pool, req.device);
      goto fail_at;
    }
    json_object_set_new(dev, "status", json_string(ND_CKPT_DEV_ATTACHED));
    json_object_set(dev, "state", res.state ? res.state : json_null());
    if (res.vendor_cdi_id) {
      json_object_set_new(dev, "vendorCdiId", json_string(res.vendor_cdi_id));
    } else {
      json_t *edits = res.edits ? nd_steal(res.edits) : json_object(); /* handed over */
      add_device_env(edits, req.request, req.pool, req.device);
      const char *min_version = "0.3.0";
      if (nd_cdi_check_edits(edits, req.device, &min_version, err) < 0) {
        json_decref(edits);
        nd_attach_result_clear(&res);
        nd_error_wrap(err, "backend %s returned invalid CDI edits", type);
        goto fail_at;
      }
      json_object_set_new(dev, "edits", edits);
      char *cdi_name = nd_cdi_device_name(uid, req.request, req.device);
      json_object_set_new(dev, "cdiName", json_string(cdi_name));
      free(cdi_name);
    }
    const char *vendor_id = json_string_value(json_object_get(dev, "vendorCdiId"));
    ND_LOG_INFO("driver", "attached", ND_KV_S("claim", uid), ND_KV_S("pool", req.pool),
                ND_KV_S("device", req.device), ND_KV_S("type", type),
                ND_KV_S("vendorCdiId", vendor_id ? vendor_id : ""));
    nd_attach_result_clear(&res);
  }
  stage_mark(clk, ND_STAGE_DEVICES);
  if (write_spec(d, uid, entry, err) < 0)
    goto fail;
  stage_mark(clk, ND_STAGE_CDI_SPEC);
  json_object_set_new(entry, "phase", json_string(ND_CKPT_PREPARE_COMPLETED));
  if (nd_checkpoint_put(d->cp, uid, entry, err) < 0)
    goto fail;
  stage_mark(clk, ND_STAGE_CHECKPOINT);
  fill_outcome(d, entry, out);
  return 0;
fail_at:
  /* the backend of device i was called (its attach may have half happened): detach it; those
   * after it were never called: nothing to detach */
  for (size_t k = i + 1; k < json_array_size(devs); k++)
    json_object_set_new(json_array_get(devs, k), "status", json_string(ND_CKPT_DEV_PENDING));
fail:
  rollback_and_forget(d, uid, entry);
  return -1;
}

static int prepare_claim(nd_driver *d, const char *ns, const char *name, const char *uid,
                         stage_clock *clk, nd_claim_outcome *out, nd_error_t *err) {
  /* The GET happens before taking the claim's lock (as the reference helper does). */
  cleanup_json json_t *claim = get_claim(d, ns, name, uid, err);
  stage_mark(clk, ND_STAGE_CLAIM_GET);
  if (claim == NULL)
    return -1;
  claim_lock *lock = claim_lock_take(d, uid);
  int rc = prepare_locked(d, claim, ns, name, uid, clk, out, err);
  claim_lock_release(d, lock);
  return rc;
}
static int unprepare_locked(nd_driver *d, const char *uid, stage_clock *clk, nd_error_t *err) {
  cleanup_json json_t *entry = nd_checkpoint_get(d->cp, uid);
  cleanup_free char *dir = claim_dir_path(d, uid);
  if (entry == NULL) {
    ND_LOG_INFO("driver", "unprepare-unknown-claim", ND_KV_S("claim", uid));
    stage_mark(clk, ND_STAGE_DEVICES);
    return 0;
  }
  cleanup_json json_t *left = NULL;
  int rc = detach_entry(d, uid, entry, &left, err);
  stage_mark(clk, ND_STAGE_DEVICES);
  if (rc < 0) {
    cleanup_error nd_error_t perr = NULL;
    if (left) /* remember which devices are already gone */
      nd_checkpoint_put(d->cp, uid, left, &perr);
    stage_mark(clk, ND_STAGE_CHECKPOINT);
    return -1;
  }
  if (nd_cdi_remove_claim_spec(d->cdi_dir, d->driver_name, uid, err) < 0 ||
      nd_remove_tree(dir, err) < 0)
    return -1;
  stage_mark(clk, ND_STAGE_CDI_SPEC);
  rc = nd_checkpoint_remove(d->cp, uid, err);
  stage_mark(clk, ND_STAGE_CHECKPOINT);
  return rc;
}

static int unprepare_claim(nd_driver *d, const char *uid, stage_clock *clk, nd_error_t *err) {
  claim_lock *lock = claim_lock_take(d, uid);
  int rc = unprepare_locked(d, uid, clk, err);
  claim_lock_release(d, lock);
  return rc;
}

/* ---- worker pool ---- */

static void outcome_clear(nd_claim_outcome *o) {
  for (size_t i = 0; i < o->n_devices; i++) {
    free(o->devices[i].request);
    free(o->devices[i].pool);
    free(o->devices[i].device);
    free(o->devices[i].cdi_id);
  }
  free(o->devices);
  free(o->uid);
  free(o->error);
}

static void batch_done_on_loop(nd_loop *loop, void *data) {
  batch *b = data;
  nd_driver *d = b->d;
  d->in_flight--;
  double ms = (double)(nd_now_ns() - b->submitted_ns) / 1e6;
  if (b->kind == JOB_PREPARE)
    d->stats.prepare_ms_sum += ms;
  else
    d->stats.unprepare_ms_sum += ms;
  b->cb(b->outcomes, b->n, b->data);
  for (size_t i = 0; i < b->n; i++)
    outcome_clear(&b->outcomes[i]);
  free(b->outcomes);
  free(b);
  if (d->in_flight == 0 && d->trim)
    nd_memtrim_poke(d->trim);
}

static void run_job(nd_driver *d, job *j) {
  nd_claim_outcome *out = &j->b->outcomes[j->index];
  cleanup_error nd_error_t err = NULL;
  int r;
  stage_clock clk = {d->stage_ns[j->b->kind], j->b->submitted_ns};
  stage_mark(&clk, ND_STAGE_QUEUE);
  if (j->b->kind == JOB_PREPARE) {
    __atomic_add_fetch(&d->stats.prepares, 1, __ATOMIC_RELAXED);
    r = prepare_claim(d, j->ns, j->name, j->uid, &clk, out, &err);
  } else {
    __atomic_add_fetch(&d->stats.unprepares, 1, __ATOMIC_RELAXED);
    r = unprepare_claim(d, j->uid, &clk, &err);
  }
  if (r < 0) {
    __atomic_add_fetch(j->b->kind == JOB_PREPARE ? &d->stats.prepare_errors
                                                 : &d->stats.unprepare_errors,
                       1, __ATOMIC_RELAXED);
    out->error = strdup(err ? nd_error_msg(err) : "unknown error");
    for (size_t i = 0; i < out->n_devices; i++) {
      free(out->devices[i].request);
      free(out->devices[i].pool);
      free(out->devices[i].device);
      free(out->devices[i].cdi_id);
    }
    free(out->devices);
    out->devices = NULL;
    out->n_devices = 0;
  }
  ND_LOG(r < 0 ? ND_LOG_WARN : ND_LOG_INFO, "driver",
         j->b->kind == JOB_PREPARE ? "prepare" : "unprepare", ND_KV_S("claim", j->uid),
         ND_KV_S("namespace", j->ns), ND_KV_S("name", j->name),
         ND_KV_S("result", r < 0 ? out->error : "ok"));
}

static void *worker_main(void *arg) {
  nd_driver *d = arg;
  for (;;) {
    while (sem_wait(&d->queued) < 0) /* EINTR: the workers block every signal, but still */
      ;
    pthread_mutex_lock(&d->mu);
    job *j = d->head;
    if (j == NULL) { /* a post of nd_driver_free: stopping, and nothing left queued */
      bool stopping = d->stopping;
      pthread_mutex_unlock(&d->mu);
      if (stopping)
        return NULL;
      continue; /* cannot happen: a job's post follows its push */
    }
    d->head = j->next;
    if (d->head == NULL)
      d->tail = NULL;
    pthread_mutex_unlock(&d->mu);

    run_job(d, j);

    batch *b = j->b;
    bool last = __atomic_sub_fetch(&b->remaining, 1, __ATOMIC_ACQ_REL) == 0;
    if (last && nd_loop_post(d->loop, batch_done_on_loop, b) < 0) {
      for (size_t i = 0; i < b->n; i++)
        outcome_clear(&b->outcomes[i]);
      free(b->outcomes);
      free(b);
    }
    free(j->ns);
    free(j->uid);
    free(j->name);
    free(j);
  }
}

static int submit(nd_driver *d, job_kind kind, const nd_claim_ref *claims, size_t n,
                  nd_driver_done_cb cb, void *data, nd_error_t *err) {
  batch *b = calloc(1, sizeof(*b));
  b->d = d;
  b->kind = kind;
  b->n = n;
  b->remaining = n; /* published to the workers by the queue's mutex */
  b->cb = cb;
  b->data = data;
  b->submitted_ns = nd_now_ns();
  b->outcomes = calloc(n ? n : 1, sizeof(*b->outcomes));
  for (size_t i = 0; i < n; i++)
    b->outcomes[i].uid = strdup(claims[i].uid ? claims[i].uid : "");
  d->in_flight++;
  if (n == 0) {
    if (nd_loop_post(d->loop, batch_done_on_loop, b) < 0) {
      d->in_flight--;
      free(b->outcomes);
      free(b);
      return nd_error_make(err, EIO, "driver: cannot post to the event loop");
    }
    return 0;
  }
  pthread_mutex_lock(&d->mu);
  for (size_t i = 0; i < n; i++) {
    job *j = calloc(1, sizeof(*j));
    j->b = b;
    j->index = i;
    j->ns = strdup(claims[i].namespace_ ? claims[i].namespace_ : "");
    j->uid = strdup(claims[i].uid ? claims[i].uid : "");
    j->name = strdup(claims[i].name ? claims[i].name : "");
    if (d->tail)
      d->tail->next = j;
    else
      d->head = j;
    d->tail = j;
  }
  pthread_mutex_unlock(&d->mu);
  /* one worker per job (a broadcast woke every worker for each claim: 8 context switches and
   * a mutex convoy per prepare on the bench's 8 workers); posted after the unlock, or the
   * woken worker runs only to sleep again on the mutex this thread still holds */
  for (size_t i = 0; i < n; i++)
    sem_post(&d->queued);
  return 0;
}

int nd_driver_prepare(nd_driver *d, const nd_claim_ref *claims, size_t n, nd_driver_done_cb cb,
                      void *data, nd_error_t *err) {
  return submit(d, JOB_PREPARE, claims, n, cb, data, err);
}

int nd_driver_unprepare(nd_driver *d, const nd_claim_ref *claims, size_t n, nd_driver_done_cb cb,
                        void *data, nd_error_t *err) {
  return submit(d, JOB_UNPREPARE, claims, n, cb, data, err);
}

size_t nd_driver_in_flight(const nd_driver *d) { return d->in_flight; }

static bool claim_recorded(const char *uid, void *all) {
  return json_object_get(all, uid) != NULL;
}

void nd_driver_recover(nd_driver *d) {
  cleanup_json json_t *all = nd_checkpoint_all(d->cp);
  bool rebooted = nd_checkpoint_rebooted(d->cp);
  const char *uid;
  json_t *entry;
  json_object_foreach(all, uid, entry) {
    const char *phase = json_string_value(json_object_get(entry, "phase"));
    if (strcmp(phase, ND_CKPT_PREPARE_STARTED) == 0) {
      ND_LOG_WARN("driver", "rollback-interrupted-prepare", ND_KV_S("claim", uid));
      rollback_and_forget(d, uid, entry);
      continue;
    }
    cleanup_error nd_error_t err = NULL;
    if (write_spec(d, uid, entry, &err) < 0)
      ND_LOG_ERROR("driver", "cdi-rebuild-failed", ND_KV_S("claim", uid),
                   ND_KV_S("error", nd_error_msg(err)));
    else
      ND_LOG_INFO("driver", "cdi-spec-restored", ND_KV_S("claim", uid),
                  ND_KV_B("reboot", rebooted));
  }
  /* a prepare whose devices leave nothing behind records its claim only once it is complete
   * (prepare_locked): a crash before that can leave its CDI spec, and no record of it */
  cleanup_error nd_error_t err = NULL;
  int stale = nd_cdi_remove_stale_claim_specs(d->cdi_dir, d->driver_name, claim_recorded, all, &err);
  if (stale < 0)
    ND_LOG_ERROR("driver", "cdi-sweep-failed", ND_KV_S("error", nd_error_msg(err)));
  else if (stale > 0)
    ND_LOG_WARN("driver", "cdi-stale-specs-removed", ND_KV_I("files", stale));
}

json_t *nd_driver_prepared_devices(nd_driver *d) {
  cleanup_json json_t *all = nd_checkpoint_all(d->cp);
  json_t *out = json_array();
  const char *uid;
  json_t *entry;
  json_object_foreach(all, uid, entry) {
    size_t i;
    json_t *dev;
    json_array_foreach(json_object_get(entry, "devices"), i, dev) {
      json_array_append_new(out, json_pack("{s:O, s:O, s:s, s:O}", "pool",
                                           json_object_get(dev, "pool"), "device",
                                           json_object_get(dev, "device"), "claim", uid, "type",
                                           json_object_get(dev, "type")));
    }
  }
  return out;
}

void nd_driver_get_stats(nd_driver *d, nd_driver_stats *out) {
  out->prepares = __atomic_load_n(&d->stats.prepares, __ATOMIC_RELAXED);
  out->prepare_errors = __atomic_load_n(&d->stats.prepare_errors, __ATOMIC_RELAXED);
  out->unprepares = __atomic_load_n(&d->stats.unprepares, __ATOMIC_RELAXED);
  out->unprepare_errors = __atomic_load_n(&d->stats.unprepare_errors, __ATOMIC_RELAXED);
  out->attach_errors = __atomic_load_n(&d->stats.attach_errors, __ATOMIC_RELAXED);
  out->prepare_ms_sum = d->stats.prepare_ms_sum;
  out->unprepare_ms_sum = d->stats.unprepare_ms_sum;
  for (int s = 0; s < ND_STAGE_COUNT; s++) {
    out->prepare_stage_s[s] = (double)__atomic_load_n(&d->stage_ns[JOB_PREPARE][s], __ATOMIC_RELAXED) / 1e9;
    out->unprepare_stage_s[s] =
        (double)__atomic_load_n(&d->stage_ns[JOB_UNPREPARE][s], __ATOMIC_RELAXED) / 1e9;
  }
}

nd_driver *nd_driver_new(const nd_driver_options *o, nd_error_t *err) {
  nd_driver *d = calloc(1, sizeof(*d));
  if (d == NULL) {
    nd_error_make(err, ENOMEM, "driver: out of memory");
    return NULL;
  }
  d->driver_name = strdup(o->driver_name);
  d->node_name = strdup(o->node_name);
  d->cdi_dir = strdup(o->cdi_dir);
  d->state_dir = strdup(o->state_dir);
  d->dev_root = strdup(o->dev_root ? o->dev_root : "/");
  d->loop = o->loop;
  d->k8s = o->k8s;
  d->slices = o->slices;
  d->cp = o->checkpoint;
  pthread_mutex_init(&d->mu, NULL);
  sem_init(&d->queued, 0, 0);
  pthread_mutex_init(&d->locks_mu, NULL);
  if (d->loop && (d->trim = nd_memtrim_new(d->loop, TRIM_DELAY_MS, err)) == NULL) {
    nd_driver_free(d);
    return NULL;
  }
  int n = o->workers > 0 ? o->workers : 4;
  d->threads = calloc((size_t)n, sizeof(pthread_t));
  for (int i = 0; i < n; i++) {
    int e = nd_thread_start(&d->threads[i], worker_main, d);
    if (e != 0) {
      nd_error_make(err, e, "driver: starting worker thread: %s", strerror(e));
      nd_driver_free(d);
      return NULL;
    }
    d->n_threads++;
  }
  return d;
}

void nd_driver_free(nd_driver *d) {
  if (d == NULL)
    return;
  pthread_mutex_lock(&d->mu);
  d->stopping = true;
  pthread_mutex_unlock(&d->mu);
  for (int i = 0; i < d->n_threads; i++) /* each worker runs what is queued, then sees no job */
    sem_post(&d->queued);
  for (int i = 0; i < d->n_threads; i++)
    pthread_join(d->threads[i], NULL);
  free(d->threads);
  nd_memtrim_free(d->trim);
  pthread_mutex_destroy(&d->mu);
  sem_destroy(&d->queued);
  pthread_mutex_destroy(&d->locks_mu);
  free(d->driver_name);
  free(d->node_name);
  free(d->cdi_dir);
  free(d->state_dir);
  free(d->dev_root);
  free(d);
}
