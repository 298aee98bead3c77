/* binding_conditions.c: claim watch -> fabric-manager attach (worker threads) -> claim
 * status.devices conditions (see binding_conditions.h). */
#include "binding_conditions.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "json_dump.h"
#include "log.h"
#include "slice_planner.h"

typedef enum { OUT_PENDING, OUT_OK, OUT_FAILED } outcome_state;

typedef struct job {
  struct job *next;
  struct nd_binding_conditions *b;
  char *key, *url, *body;
  int timeout_ms;
  long http_status;
  char *error;
} job;

struct nd_binding_conditions {
  nd_loop *loop;
  nd_k8s_client *k8s;
  const nd_registry *registry;
  char *driver, *api_version, *fm_url, *collection;
  int timeout_ms;
  nd_k8s_watch *watch;
  nd_timer *recheck;
  bool active;
  json_t *claims;   /* uid -> claim */
  json_t *outcomes; /* "uid|pool|device" -> {"state": n, "message": s} */
  json_t *writing;  /* uid -> true while a status write is in flight */
  job *jobs;        /* posted back but not yet handled */
  atomic_int running;
  nd_binding_stats stats;
};

/* ---- attach worker --------------------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t n, void *data) { return size * n; }

static void job_done(nd_loop *loop, void *data);

static void *attach_thread(void *data) {
  job *j = data;
  nd_binding_conditions *b = j->b;
  CURL *curl = curl_easy_init();
  if (curl == NULL) {
    j->error = strdup("curl_easy_init failed");
  } else {
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, j->url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)j->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
      j->error = strdup(errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &j->http_status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(curl);
  }
  nd_loop_post(b->loop, job_done, j);
  atomic_fetch_sub(&b->running, 1);
  return NULL;
}

static void job_free(job *j) {
  free(j->key);
  free(j->url);
  free(j->body);
  free(j->error);
  free(j);
}

static void set_outcome(nd_binding_conditions *b, const char *key, outcome_state st,
                        const char *msg) {
  json_object_set_new(b->outcomes, key, json_pack("{s:i, s:s}", "state", (int)st, "message",
                                                  msg ? msg : ""));
}

static void evaluate(nd_binding_conditions *b, const json_t *claim);
static void evaluate_all(nd_binding_conditions *b);

static void job_done(nd_loop *loop, void *data) {
  job *j = data;
  nd_binding_conditions *b = j->b;
  for (job **p = &b->jobs; *p; p = &(*p)->next)
    if (*p == j) {
      *p = j->next;
      break;
    }
  if (j->error == NULL && j->http_status >= 200 && j->http_status < 300) {
    b->stats.attach_ok++;
    set_outcome(b, j->key, OUT_OK, "attached by the fabric manager");
    ND_LOG_INFO("binding", "attached", ND_KV_S("key", j->key));
  } else {
    b->stats.attach_failed++;
    char msg[256];
    if (j->error)
      snprintf(msg, sizeof(msg), "fabric manager unreachable: %s", j->error);
    else
      snprintf(msg, sizeof(msg), "fabric manager answered HTTP %ld", j->http_status);
    set_outcome(b, j->key, OUT_FAILED, msg);
    ND_LOG_WARN("binding", "attach_failed", ND_KV_S("key", j->key), ND_KV_S("error", msg));
  }
  /* re-evaluate the claim now that the outcome is known */
  char uid[256];
  snprintf(uid, sizeof(uid), "%s", j->key);
  char *bar = strchr(uid, '|');
  if (bar)
    *bar = '\0';
  job_free(j);
  const json_t *claim = json_object_get(b->claims, uid);
  if (claim != NULL)
    evaluate(b, claim);
}

static int start_attach(nd_binding_conditions *b, const char *key, const char *base,
                        const char *region, const char *node, const char *uid, nd_error_t *err) {
  job *j = calloc(1, sizeof(*j));
  if (j == NULL)
    abort();
  j->b = b;
  j->timeout_ms = b->timeout_ms;
  j->key = strdup(key);
  size_t bl = strlen(base);
  while (bl > 0 && base[bl - 1] == '/')
    bl--;
  if (asprintf(&j->url, "%.*s/v1/attachments", (int)bl, base) < 0)
    abort();
  cleanup_json json_t *body = json_pack("{s:s, s:s, s:s}", "region", region, "node", node,
                                        "claim", uid);
  j->body = nd_json_dumps(body, JSON_COMPACT);
  pthread_t t;
  atomic_fetch_add(&b->running, 1);
  j->next = b->jobs;
  b->jobs = j;
  int rc = nd_thread_start(&t, attach_thread, j);
  if (rc == 0)
    pthread_detach(t);
  if (rc != 0) {
    atomic_fetch_sub(&b->running, 1);
    b->jobs = j->next;
    job_free(j);
    return nd_error_make(err, rc, "starting the attach worker: %s", strerror(rc));
  }
  ND_LOG_INFO("binding", "attach_started", ND_KV_S("key", key), ND_KV_S("node", node),
              ND_KV_S("region", region));
  return 0;
}

/* ---- claim status ---------------------------------------------------------------------- */

static const char *str(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static bool same_device(const json_t *a, const json_t *b) {
  return json_equal(json_object_get(a, "driver"), json_object_get(b, "driver")) &&
         json_equal(json_object_get(a, "pool"), json_object_get(b, "pool")) &&
         json_equal(json_object_get(a, "device"), json_object_get(b, "device")) &&
         (json_object_get(a, "shareID") == NULL || json_object_get(b, "shareID") == NULL ||
          json_equal(json_object_get(a, "shareID"), json_object_get(b, "shareID")));
}

static bool array_has(const json_t *arr, const char *s) {
  size_t i;
  const json_t *v;
  json_array_foreach(arr, i, v) if (json_string_value(v) && strcmp(json_string_value(v), s) == 0)
      return true;
  return false;
}

/* true when status.devices already reports a binding or failure condition of result r */
static bool reported(const json_t *claim, const json_t *r) {
  size_t i, k;
  const json_t *d, *c;
  json_array_foreach(json_object_get(json_object_get(claim, "status"), "devices"), i, d) {
    if (!same_device(d, r))
      continue;
    json_array_foreach(json_object_get(d, "conditions"), k, c) {
      const char *type = str(c, "type"), *st = str(c, "status");
      if (type && st && strcmp(st, "True") == 0 &&
          (array_has(json_object_get(r, "bindingConditions"), type) ||
           array_has(json_object_get(r, "bindingFailureConditions"), type)))
        return true;
    }
  }
  return false;
}

static const char *chosen_node(const json_t *claim) {
  const json_t *terms = json_object_get(
      json_object_get(json_object_get(json_object_get(claim, "status"), "allocation"),
                      "nodeSelector"),
      "nodeSelectorTerms");
  size_t i, k;
  const json_t *t, *e;
  json_array_foreach(terms, i, t) {
    json_array_foreach(json_object_get(t, "matchFields"), k, e) {
      if (str(e, "key") && strcmp(str(e, "key"), "metadata.name") == 0 &&
          json_array_size(json_object_get(e, "values")) == 1)
        return json_string_value(json_array_get(json_object_get(e, "values"), 0));
    }
    json_array_foreach(json_object_get(t, "matchExpressions"), k, e) {
      if (str(e, "key") && strcmp(str(e, "key"), "kubernetes.io/hostname") == 0 &&
          json_array_size(json_object_get(e, "values")) == 1)
        return json_string_value(json_array_get(json_object_get(e, "values"), 0));
    }
  }
  return NULL;
}

typedef struct {
  nd_binding_conditions *b;
  char *uid;
} status_ctx;

static void on_status_written(nd_k8s_client *c, nd_k8s_result *r, void *data) {
  status_ctx *ctx = data;
  nd_binding_conditions *b = ctx->b;
  json_object_del(b->writing, ctx->uid);
  if (r->http_status == 200 || r->http_status == 201) {
    b->stats.status_writes++;
    if (r->body != NULL)
      json_object_set(b->claims, ctx->uid, r->body);
    ND_LOG_INFO("binding", "status_written", ND_KV_S("claim_uid", ctx->uid));
  } else {
    /* retried on the claim's next watch event or the periodic re-check */
    if (r->http_status == 409)
      b->stats.status_conflicts++;
    ND_LOG_WARN("binding", "status_write_failed", ND_KV_S("claim_uid", ctx->uid),
                ND_KV_I("status", r->http_status), ND_KV_S("message", r->message ? r->message : ""));
  }
  nd_k8s_result_clear(r);
  free(ctx->uid);
  free(ctx);
}

static json_t *condition(const char *type, const char *reason, const char *message) {
  char ts[32];
  nd_format_time_s(nd_wall_ms(), ts, sizeof(ts));
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", "True", "reason", reason,
                   "message", message, "lastTransitionTime", ts);
}

static void write_status(nd_binding_conditions *b, const json_t *claim, json_t *updates) {
  const char *uid = str(json_object_get(claim, "metadata"), "uid");
  const char *ns = str(json_object_get(claim, "metadata"), "namespace");
  const char *name = str(json_object_get(claim, "metadata"), "name");
  if (uid == NULL || ns == NULL || name == NULL || json_object_get(b->writing, uid))
    return;
  cleanup_json json_t *obj = json_deep_copy(claim);
  json_t *status = json_object_get(obj, "status");
  json_t *devices = json_object_get(status, "devices");
  if (!json_is_array(devices)) {
    devices = json_array();
    json_object_set_new(status, "devices", devices);
  }
  size_t i;
  json_t *u;
  json_array_foreach(updates, i, u) {
    json_t *entry = NULL;
    size_t k;
    json_t *d;
    json_array_foreach(devices, k, d) if (same_device(d, u)) entry = d;
    if (entry == NULL) {
      entry = json_pack("{s:O, s:O, s:O}", "driver", json_object_get(u, "driver"), "pool",
                        json_object_get(u, "pool"), "device", json_object_get(u, "device"));
      if (json_object_get(u, "shareID"))
        json_object_set(entry, "shareID", json_object_get(u, "shareID"));
      json_array_append_new(devices, entry);
    }
    json_t *conds = json_object_get(entry, "conditions");
    if (!json_is_array(conds)) {
      conds = json_array();
      json_object_set_new(entry, "conditions", conds);
    }
    size_t c;
    json_t *nc;
    json_array_foreach(json_object_get(u, "conditions"), c, nc) {
      size_t x;
      json_t *oc;
      bool replaced = false;
      json_array_foreach(conds, x, oc) {
        if (json_equal(json_object_get(oc, "type"), json_object_get(nc, "type"))) {
          json_array_set(conds, x, nc);
          replaced = true;
          break;
        }
      }
      if (!replaced)
        json_array_append(conds, nc);
    }
  }
  cleanup_free char *ens = nd_k8s_escape(ns), *ename = nd_k8s_escape(name);
  cleanup_free char *path = NULL;
  if (asprintf(&path, "/apis/resource.k8s.io/%s/namespaces/%s/resourceclaims/%s/status",
               b->api_version, ens, ename) < 0)
    abort();
  status_ctx *ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL)
    abort();
  ctx->b = b;
  ctx->uid = strdup(uid);
  cleanup_error nd_error_t err = NULL;
  json_object_set_new(b->writing, uid, json_true());
  if (nd_k8s_request_async(b->k8s, "PUT", path, obj, NULL, on_status_written, ctx, &err) < 0) {
    json_object_del(b->writing, uid);
    ND_LOG_WARN("binding", "request_failed", ND_KV_S("error", nd_error_msg(err)));
    free(ctx->uid);
    free(ctx);
  }
}

static void evaluate(nd_binding_conditions *b, const json_t *claim) {
  if (!b->active)
    return;
  const char *uid = str(json_object_get(claim, "metadata"), "uid");
  const json_t *results = json_object_get(
      json_object_get(json_object_get(json_object_get(claim, "status"), "allocation"), "devices"),
      "results");
  if (uid == NULL || !json_is_array(results))
    return;
  cleanup_json json_t *updates = json_array();
  size_t i;
  const json_t *r;
  json_array_foreach(results, i, r) {
    const char *drv = str(r, "driver"), *pool = str(r, "pool"), *dev = str(r, "device");
    if (drv == NULL || pool == NULL || dev == NULL || strcmp(drv, b->driver) != 0 ||
        json_array_size(json_object_get(r, "bindingConditions")) == 0 || reported(claim, r))
      continue;
    cleanup_free char *key = NULL;
    if (asprintf(&key, "%s|%s|%s", uid, pool, dev) < 0)
      abort();
    const json_t *out = json_object_get(b->outcomes, key);
    if (out == NULL) {
      const char *node = chosen_node(claim);
      const nd_device *d = nd_registry_find(b->registry, pool, dev);
      const char *base = b->fm_url ? b->fm_url : d ? d->endpoint : NULL;
      cleanup_error nd_error_t err = NULL;
      if (node == NULL)
        set_outcome(b, key, OUT_FAILED, "allocation.nodeSelector names no node");
      else if (d == NULL)
        set_outcome(b, key, OUT_FAILED, "device is not known to the controller");
      else if (d->fabric_region == NULL || base == NULL)
        set_outcome(b, key, OUT_FAILED, "device has no fabricRegion or fabric manager URL");
      else if (start_attach(b, key, base, d->fabric_region, node, uid, &err) < 0)
        set_outcome(b, key, OUT_FAILED, nd_error_msg(err));
      else
        set_outcome(b, key, OUT_PENDING, "");
      out = json_object_get(b->outcomes, key);
    }
    int st = (int)json_integer_value(json_object_get(out, "state"));
    if (st == OUT_PENDING)
      continue;
    json_t *conds = json_array();
    const char *msg = str(out, "message");
    if (st == OUT_OK) {
      size_t k;
      const json_t *c;
      json_array_foreach(json_object_get(r, "bindingConditions"), k, c)
          json_array_append_new(conds, condition(json_string_value(c), "Attached", msg));
    } else {
      const json_t *fc = json_array_get(json_object_get(r, "bindingFailureConditions"), 0);
      if (fc == NULL) {
        ND_LOG_WARN("binding", "no_failure_condition", ND_KV_S("key", key), ND_KV_S("error", msg));
        json_decref(conds);
        continue;
      }
      json_array_append_new(conds, condition(json_string_value(fc), "AttachFailed", msg));
    }
    json_t *u = json_pack("{s:s, s:s, s:s, s:o}", "driver", drv, "pool", pool, "device", dev,
                          "conditions", conds);
    if (json_object_get(r, "shareID"))
      json_object_set(u, "shareID", json_object_get(r, "shareID"));
    json_array_append_new(updates, u);
  }
  if (json_array_size(updates) > 0)
    write_status(b, claim, updates);
}

/* ---- watch ----------------------------------------------------------------------------- */

static void forget_outcomes(nd_binding_conditions *b, const char *uid) {
  size_t ul = strlen(uid);
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(b->outcomes, tmp, key, v) {
    if (strncmp(key, uid, ul) == 0 && key[ul] == '|')
      json_object_del(b->outcomes, key);
  }
}

static void on_claim(nd_k8s_client *c, nd_watch_event ev, json_t *obj, void *data) {
  nd_binding_conditions *b = data;
  if (ev == ND_WATCH_SYNCED) {
    json_object_clear(b->claims);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(obj, "items"), i, it) {
      const char *uid = str(json_object_get(it, "metadata"), "uid");
      if (uid)
        json_object_set(b->claims, uid, it);
    }
    evaluate_all(b);
    return;
  }
  const char *uid = str(json_object_get(obj, "metadata"), "uid");
  if (uid == NULL)
    return;
  if (ev == ND_WATCH_DELETED) {
    json_object_del(b->claims, uid);
    forget_outcomes(b, uid);
    return;
  }
  if (ev == ND_WATCH_ADDED || ev == ND_WATCH_MODIFIED) {
    json_object_set(b->claims, uid, obj);
    evaluate(b, obj);
  }
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void evaluate_all(nd_binding_conditions *b) {
  const char *uid;
  json_t *claim;
  void *tmp;
  json_object_foreach_safe(b->claims, tmp, uid, claim) evaluate(b, claim);
}

static void on_recheck(nd_loop *loop, nd_timer *t, void *data) { evaluate_all(data); }

nd_binding_conditions *nd_binding_conditions_new(nd_loop *loop, nd_k8s_client *k8s,
                                                 const nd_registry *registry,
                                                 const nd_binding_options *opts,
                                                 nd_error_t *err) {
  nd_binding_conditions *b = calloc(1, sizeof(*b));
  if (b == NULL)
    abort();
  b->loop = loop;
  b->k8s = k8s;
  b->registry = registry;
  b->driver = strdup(opts->driver);
  b->api_version = strdup(opts->api_version ? opts->api_version : "v1");
  b->fm_url = opts->fabric_manager_url && opts->fabric_manager_url[0]
                  ? strdup(opts->fabric_manager_url)
                  : NULL;
  b->timeout_ms = opts->attach_timeout_ms > 0 ? opts->attach_timeout_ms : 10000;
  if (asprintf(&b->collection, "/apis/resource.k8s.io/%s/resourceclaims", b->api_version) < 0)
    abort();
  b->claims = json_object();
  b->outcomes = json_object();
  b->writing = json_object();
  atomic_init(&b->running, 0);
  b->recheck = nd_loop_add_timer(loop, 5000, 5000, on_recheck, b, err);
  if (b->recheck == NULL) {
    nd_binding_conditions_free(b);
    return NULL;
  }
  return b;
}

int nd_binding_conditions_start(nd_binding_conditions *b, nd_error_t *err) {
  b->watch = nd_k8s_watch_start(b->k8s, b->collection, NULL, on_claim, b, err);
  if (b->watch == NULL)
    return nd_error_wrap(err, "watching %s", b->collection);
  return 0;
}

void nd_binding_conditions_set_active(nd_binding_conditions *b, bool active) {
  if (b->active == active)
    return;
  b->active = active;
  if (active)
    evaluate_all(b);
}

const nd_binding_stats *nd_binding_conditions_stats(const nd_binding_conditions *b) {
  return &b->stats;
}

void nd_binding_conditions_stop(nd_binding_conditions *b) {
  b->active = false;
  if (b->watch)
    nd_k8s_watch_stop(b->watch);
  b->watch = NULL;
}

void nd_binding_conditions_free(nd_binding_conditions *b) {
  if (b == NULL)
    return;
  nd_binding_conditions_stop(b);
  if (b->recheck)
    nd_loop_del_timer(b->loop, b->recheck);
  /* workers end within their timeout; wait for them, bounded */
  for (int i = 0; i < (b->timeout_ms + 2000) / 10 && atomic_load(&b->running) > 0; i++) {
    struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  while (b->jobs) {
    job *j = b->jobs;
    b->jobs = j->next;
    job_free(j);
  }
  json_decref(b->claims);
  json_decref(b->outcomes);
  json_decref(b->writing);
  free(b->driver);
  free(b->api_version);
  free(b->fm_url);
  free(b->collection);
  free(b);
}
