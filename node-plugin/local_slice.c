/* local_slice.c: node-local GPU ResourceSlice publisher thread; see local_slice.h. */
#include "local_slice.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"

#define SLICES "/apis/resource.k8s.io/v1/resourceslices"

struct nd_local_slice {
  nd_k8s_client *k8s;
  char *driver, *node, *dev_root, *name, *query;
  nd_local_enumerate_fn enumerate;
  int interval_s;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop, kicked, started;
  unsigned long rounds;
};

static int request(nd_local_slice *ls, const char *method, const char *path, const json_t *body,
                   nd_k8s_result *r, nd_error_t *err) {
  if (nd_k8s_request(ls->k8s, method, path, body, NULL, r, err) < 0)
    return -1;
  if (r->http_status < 200 || r->http_status > 299) {
    nd_error_make(err, EIO, "%s %s: HTTP %ld: %s", method, path, r->http_status,
                  r->message ? r->message : "no message");
    return -1;
  }
  return 0;
}

static json_t *owner_refs(nd_local_slice *ls) {
  cleanup_free char *path = NULL;
  cleanup_free char *esc = nd_k8s_escape(ls->node);
  if (asprintf(&path, "/api/v1/nodes/%s", esc) < 0)
    return json_array();
  nd_k8s_result r = {0};
  cleanup_error nd_error_t err = NULL;
  json_t *refs = json_array();
  if (request(ls, "GET", path, NULL, &r, &err) == 0) {
    const char *uid = json_string_value(json_object_get(json_object_get(r.body, "metadata"), "uid"));
    if (uid)
      json_array_append_new(refs, json_pack("{s:s, s:s, s:s, s:s, s:b}", "apiVersion", "v1",
                                            "kind", "Node", "name", ls->node, "uid", uid,
                                            "controller", 1));
  }
  nd_k8s_result_clear(&r);
  return refs;
}

int nd_local_slice_sync(nd_local_slice *ls, nd_error_t *err) {
  cleanup_json json_t *devices = ls->enumerate(ls->dev_root, err);
  if (devices == NULL)
    return nd_error_wrap(err, "enumerating local GPUs under %s", ls->dev_root);
  cleanup_json json_t *list = NULL;
  cleanup_free char *rv = NULL;
  if (nd_k8s_list_all(ls->k8s, SLICES, ls->query, 100, &list, &rv, err) < 0)
    return nd_error_wrap(err, "listing this node's ResourceSlices");
  json_t *mine = NULL;
  long long max_gen = 0;
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(list, "items"), i, s) {
    long long g = json_integer_value(
        json_object_get(json_object_get(json_object_get(s, "spec"), "pool"), "generation"));
    if (g > max_gen)
      max_gen = g;
    const char *name = json_string_value(json_object_get(json_object_get(s, "metadata"), "name"));
    if (name && strcmp(name, ls->name) == 0) {
      mine = s;
      continue;
    }
    /* any other slice of this node and driver is obsolete */
    cleanup_free char *path = NULL;
    if (name == NULL || asprintf(&path, SLICES "/%s", name) < 0)
      continue;
    nd_k8s_result r = {0};
    cleanup_error nd_error_t derr = NULL;
    if (nd_k8s_request(ls->k8s, "DELETE", path, NULL, NULL, &r, &derr) == 0 &&
        (r.http_status < 300 || r.http_status == 404))
      ND_LOG_INFO("local-slice", "deleted-obsolete", ND_KV_S("slice", name));
    else
      ND_LOG_WARN("local-slice", "delete-failed", ND_KV_S("slice", name),
                  ND_KV_S("error", derr ? nd_error_msg(derr) : r.message));
    nd_k8s_result_clear(&r);
  }
  json_t *cur_spec = mine ? json_object_get(mine, "spec") : NULL;
  json_t *cur_devs = json_object_get(cur_spec, "devices");
  bool same = cur_devs ? json_equal(cur_devs, devices) : json_array_size(devices) == 0;
  if (mine && same)
    return 0; /* nothing changed: no write */
  /* a new device list is a new pool generation; consumers use only the highest one */
  long long gen = max_gen + 1;
  cleanup_json json_t *slice = json_pack(
      "{s:s, s:s, s:{s:s, s:o}, s:{s:s, s:s, s:{s:s, s:I, s:i}, s:O}}", "apiVersion",
      "resource.k8s.io/v1", "kind", "ResourceSlice", "metadata", "name", ls->name,
      "ownerReferences", owner_refs(ls), "spec", "driver", ls->driver, "nodeName", ls->node, "pool",
      "name", ls->node, "generation", (json_int_t)gen, "resourceSliceCount", 1, "devices", devices);
  nd_k8s_result r = {0};
  int rc;
  if (mine) {
    json_t *meta = json_object_get(mine, "metadata");
    json_object_set(json_object_get(slice, "metadata"), "resourceVersion",
                    json_object_get(meta, "resourceVersion"));
    cleanup_free char *path = NULL;
    if (asprintf(&path, SLICES "/%s", ls->name) < 0)
      return nd_error_make(err, ENOMEM, "out of memory");
    rc = request(ls, "PUT", path, slice, &r, err);
  } else {
    rc = request(ls, "POST", SLICES, slice, &r, err);
  }
  nd_k8s_result_clear(&r);
  if (rc == 0)
    ND_LOG_INFO("local-slice", mine ? "updated" : "created", ND_KV_S("slice", ls->name),
                ND_KV_I("devices", json_array_size(devices)), ND_KV_I("generation", gen));
  return rc;
}

static void *publisher_main(void *arg) {
  nd_local_slice *ls = arg;
  pthread_mutex_lock(&ls->mu);
  while (!ls->stop) {
    ls->kicked = false;
    pthread_mutex_unlock(&ls->mu);
    cleanup_error nd_error_t err = NULL;
    if (nd_local_slice_sync(ls, &err) < 0)
      ND_LOG_WARN("local-slice", "publish-failed", ND_KV_S("error", nd_error_msg(err)));
    pthread_mutex_lock(&ls->mu);
    if (err == NULL)
      ls->rounds++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += err ? (ls->interval_s < 5 ? ls->interval_s : 5) : ls->interval_s;
    while (!ls->stop && !ls->kicked)
      if (pthread_cond_timedwait(&ls->cv, &ls->mu, &until) == ETIMEDOUT)
        break;
  }
  pthread_mutex_unlock(&ls->mu);
  return NULL;
}

static void local_slice_free(nd_local_slice *ls) {
  pthread_mutex_destroy(&ls->mu);
  pthread_cond_destroy(&ls->cv);
  free(ls->driver);
  free(ls->node);
  free(ls->dev_root);
  free(ls->name);
  free(ls->query);
  free(ls);
}

nd_local_slice *nd_local_slice_start(nd_k8s_client *k8s, const char *driver, const char *node,
                                     const char *dev_root, nd_local_enumerate_fn enumerate,
                                     int interval_s, nd_error_t *err) {
  nd_local_slice *ls = calloc(1, sizeof(*ls));
  ls->k8s = k8s;
  ls->driver = strdup(driver);
  ls->node = strdup(node);
  ls->dev_root = strdup(dev_root);
  ls->enumerate = enumerate;
  ls->interval_s = interval_s > 0 ? interval_s : 30;
  pthread_mutex_init(&ls->mu, NULL);
  pthread_cond_init(&ls->cv, NULL);
  cleanup_free char *sel = NULL;
  cleanup_free char *esc = NULL;
  if (asprintf(&ls->name, "%s-%s-local", node, driver) < 0 ||
      asprintf(&sel, "spec.nodeName=%s,spec.driver=%s", node, driver) < 0 ||
      (esc = nd_k8s_escape(sel)) == NULL || asprintf(&ls->query, "fieldSelector=%s", esc) < 0) {
    nd_error_make(err, ENOMEM, "out of memory");
    local_slice_free(ls);
    return NULL;
  }
  for (char *p = ls->name; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  int e = nd_thread_start(&ls->thread, publisher_main, ls);
  if (e != 0) {
    nd_error_make(err, e, "starting the local slice publisher: %s", strerror(e));
    local_slice_free(ls);
    return NULL;
  }
  ls->started = true;
  return ls;
}

void nd_local_slice_kick(nd_local_slice *ls) {
  pthread_mutex_lock(&ls->mu);
  ls->kicked = true;
  pthread_cond_broadcast(&ls->cv);
  pthread_mutex_unlock(&ls->mu);
}

unsigned long nd_local_slice_rounds(nd_local_slice *ls) {
  pthread_mutex_lock(&ls->mu);
  unsigned long n = ls->rounds;
  pthread_mutex_unlock(&ls->mu);
  return n;
}

void nd_local_slice_stop(nd_local_slice *ls) {
  if (ls == NULL)
    return;
  pthread_mutex_lock(&ls->mu);
  ls->stop = true;
  pthread_cond_broadcast(&ls->cv);
  pthread_mutex_unlock(&ls->mu);
  if (ls->started)
    pthread_join(ls->thread, NULL);
  local_slice_free(ls);
}
