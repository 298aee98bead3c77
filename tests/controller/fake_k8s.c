/* fake_k8s.c: test double of lib/k8s_client.h for controller unit tests: an in-memory API
 * server on the loop (objects by path, resourceVersions, optimistic concurrency, DELETE
 * preconditions, watches with an initial list, fault injection and a write log). Answers
 * arrive asynchronously (on a later loop iteration), as with the real client. */
#include "fake_k8s.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

struct fake_store {
  json_t *objects; /* item path -> object */
  long long rv;
  long long uid;
  json_t *log;    /* [{"method","path","status"}] */
  json_t *faults; /* [{"method","path_prefix","status","count"}] */
  struct nd_k8s_watch *watches;
  struct nd_k8s_client *clients; /* freed with the store: answers may still be in flight */
};

static fake_store *current;

struct nd_k8s_client {
  struct nd_k8s_client *next;
  bool dead;
  nd_loop *loop;
  fake_store *store;
  nd_k8s_stats stats;
  unsigned latency_ms; /* of async answers; 0: the default 2 */
};

void fake_client_set_latency(nd_k8s_client *c, unsigned ms) { c->latency_ms = ms; }

struct nd_k8s_watch {
  struct nd_k8s_watch *next;
  nd_k8s_client *c;
  char *collection;
  char *driver; /* fieldSelector spec.driver, or NULL */
  bool node_less; /* fieldSelector spec.nodeName= (slices without a node only) */
  nd_k8s_watch_cb cb;
  void *data;
  json_t *pending; /* events not yet delivered: [[type, obj]] */
  nd_timer *timer;
  bool synced;
};

fake_store *fake_store_new(void) {
  fake_store *s = calloc(1, sizeof(*s));
  s->objects = json_object();
  s->log = json_array();
  s->faults = json_array();
  s->rv = 100;
  current = s;
  return s;
}

void fake_store_free(fake_store *s) {
  while (s->clients) {
    struct nd_k8s_client *c = s->clients;
    s->clients = c->next;
    free(c);
  }
  json_decref(s->objects);
  json_decref(s->log);
  json_decref(s->faults);
  if (current == s)
    current = NULL;
  free(s);
}

void fake_store_use(fake_store *s) { current = s; }

size_t fake_store_writes(const fake_store *s, const char *path_part) {
  size_t n = 0, i;
  json_t *e;
  json_array_foreach(s->log, i, e) {
    const char *m = json_string_value(json_object_get(e, "method"));
    const char *p = json_string_value(json_object_get(e, "path"));
    if (strcmp(m, "GET") != 0 && strstr(p, path_part) != NULL)
      n++;
  }
  return n;
}

void fake_store_clear_log(fake_store *s) { json_array_clear(s->log); }

void fake_store_fault(fake_store *s, const char *method, const char *path_part, long status,
                      int count) {
  json_array_append_new(s->faults, json_pack("{s:s, s:s, s:I, s:i}", "method", method, "path",
                                             path_part, "status", (json_int_t)status, "count",
                                             count));
}

static bool is_collection(const char *path) {
  const char *last = strrchr(path, '/');
  return last && (strcmp(last, "/resourceslices") == 0 || strcmp(last, "/leases") == 0 ||
                  strcmp(last, "/resourceclaims") == 0);
}

static char *parent(const char *path) {
  char *p = strdup(path);
  char *last = strrchr(p, '/');
  if (last)
    *last = '\0';
  return p;
}

/* The collection path without its "/namespaces/<ns>" part (all-namespace lists and watches). */
static char *cluster_wide(const char *path) {
  char *p = strdup(path);
  char *ns = strstr(p, "/namespaces/");
  if (ns != NULL) {
    char *end = strchr(ns + strlen("/namespaces/"), '/');
    if (end != NULL)
      memmove(ns, end, strlen(end) + 1);
  }
  return p;
}

static bool in_collection(const char *item_path, const char *collection) {
  cleanup_free char *col = parent(item_path);
  if (strcmp(col, collection) == 0)
    return true;
  cleanup_free char *wide = cluster_wide(col);
  return strstr(collection, "/namespaces/") == NULL && strcmp(wide, collection) == 0;
}

static bool watch_matches(const struct nd_k8s_watch *w, const char *item_path, const json_t *obj) {
  if (!in_collection(item_path, w->collection))
    return false;
  if (w->driver == NULL)
    return true;
  const char *d = json_string_value(json_object_get(json_object_get(obj, "spec"), "driver"));
  const char *node = json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
  return d && strcmp(d, w->driver) == 0 && !(w->node_less && node && *node);
}

static void watch_flush(nd_loop *loop, nd_timer *t, void *data) {
  struct nd_k8s_watch *w = data;
  json_t *pending = w->pending;
  w->pending = json_array();
  size_t i;
  json_t *ev;
  json_array_foreach(pending, i, ev) {
    int type = (int)json_integer_value(json_array_get(ev, 0));
    w->cb(w->c, (nd_watch_event)type, json_array_get(ev, 1), w->data);
  }
  json_decref(pending);
}

static void notify(fake_store *s, const char *item_path, nd_watch_event ev, const json_t *obj) {
  for (struct nd_k8s_watch *w = s->watches; w; w = w->next) {
    if (!watch_matches(w, item_path, obj))
      continue;
    json_array_append_new(w->pending, json_pack("[i, O]", (int)ev, obj));
    if (!nd_timer_armed(w->timer))
      nd_timer_rearm(w->timer, 1, 0);
  }
}

static void bump(fake_store *s, json_t *obj) {
  char rv[32];
  snprintf(rv, sizeof(rv), "%lld", ++s->rv);
  json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
}

void fake_store_delete(fake_store *s, const char *item_path) {
  json_t *old = json_object_get(s->objects, item_path);
  if (old == NULL)
    return;
  json_incref(old);
  json_object_del(s->objects, item_path);
  bump(s, old);
  notify(s, item_path, ND_WATCH_DELETED, old);
  json_decref(old);
}

void fake_store_put(fake_store *s, const char *item_path, json_t *obj) {
  bool existed = json_object_get(s->objects, item_path) != NULL;
  bump(s, obj);
  json_object_set(s->objects, item_path, obj);
  notify(s, item_path, existed ? ND_WATCH_MODIFIED : ND_WATCH_ADDED, obj);
}

json_t *fake_store_get(fake_store *s, const char *item_path) {
  return json_object_get(s->objects, item_path);
}

size_t fake_store_count(fake_store *s, const char *collection) {
  size_t n = 0, cl = strlen(collection);
  const char *k;
  json_t *v;
  json_object_foreach(s->objects, k, v) n += strncmp(k, collection, cl) == 0 && k[cl] == '/' &&
                                              strchr(k + cl + 1, '/') == NULL;
  return n;
}

static json_t *status_body(const char *reason, const char *msg) {
  return json_pack("{s:s, s:s, s:s}", "kind", "Status", "reason", reason, "message", msg);
}

/* The server side of one request: fills status and body. */
static long serve(fake_store *s, const char *method, const char *path, const json_t *body,
                  json_t **out) {
  size_t i;
  json_t *f;
  json_array_foreach(s->faults, i, f) {
    int count = (int)json_integer_value(json_object_get(f, "count"));
    if (count > 0 && strcmp(json_string_value(json_object_get(f, "method")), method) == 0 &&
        strstr(path, json_string_value(json_object_get(f, "path"))) != NULL) {
      json_object_set_new(f, "count", json_integer(count - 1));
      *out = status_body("Injected", "injected fault");
      return (long)json_integer_value(json_object_get(f, "status"));
    }
  }
  if (strcmp(method, "GET") == 0 && is_collection(path)) {
    json_t *items = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(s->objects, k, v) {
      if (in_collection(k, path))
        json_array_append(items, v);
    }
    *out = json_pack("{s:s, s:{s:s+}, s:o}", "kind", "List", "metadata", "resourceVersion", "",
                     "0", "items", items);
    return 200;
  }
  if (strcmp(method, "POST") == 0) {
    const char *name = json_string_value(json_object_get(json_object_get(body, "metadata"), "name"));
    if (name == NULL) {
      *out = status_body("Invalid", "metadata.name required");
      return 422;
    }
    cleanup_free char *item = NULL;
    if (asprintf(&item, "%s/%s", path, name) < 0)
      abort();
    if (json_object_get(s->objects, item) != NULL) {
      *out = status_body("AlreadyExists", "already exists");
      return 409;
    }
    json_t *obj = json_deep_copy(body);
    char uid[32];
    snprintf(uid, sizeof(uid), "uid-%lld", ++s->uid);
    json_object_set_new(json_object_get(obj, "metadata"), "uid", json_string(uid));
    fake_store_put(s, item, obj);
    *out = obj;
    return 201;
  }
  size_t plen = strlen(path);
  if (strcmp(method, "PUT") == 0 && plen > 7 && strcmp(path + plen - 7, "/status") == 0) {
    /* the status subresource: only .status changes */
    cleanup_free char *item = strndup(path, plen - 7);
    json_t *obj = json_object_get(s->objects, item);
    if (obj == NULL) {
      *out = status_body("NotFound", "not found");
      return 404;
    }
    const json_t *rv = json_object_get(json_object_get(body, "metadata"), "resourceVersion");
    if (rv != NULL &&
        !json_equal((json_t *)rv, json_object_get(json_object_get(obj, "metadata"), "resourceVersion"))) {
      *out = status_body("Conflict", "the object has been modified");
      return 409;
    }
    json_t *next = json_deep_copy(obj);
    json_object_set(next, "status", json_object_get(body, "status"));
    fake_store_put(s, item, next);
    *out = next;
    return 200;
  }
  json_t *cur = json_object_get(s->objects, path);
  if (cur == NULL) {
    *out = status_body("NotFound", "not found");
    return 404;
  }
  if (strcmp(method, "GET") == 0) {
    *out = json_incref(cur);
    return 200;
  }
  const json_t *cmeta = json_object_get(cur, "metadata");
  if (strcmp(method, "PUT") == 0) {
    const json_t *rv = json_object_get(json_object_get(body, "metadata"), "resourceVersion");
    if (rv != NULL && !json_equal((json_t *)rv, json_object_get(cmeta, "resourceVersion"))) {
      *out = status_body("Conflict", "the object has been modified");
      return 409;
    }
    json_t *obj = json_deep_copy(body);
    json_object_set(json_object_get(obj, "metadata"), "uid", json_object_get(cmeta, "uid"));
    fake_store_put(s, path, obj);
    *out = obj;
    return 200;
  }
  if (strcmp(method, "DELETE") == 0) {
    const json_t *pre = json_object_get(body, "preconditions");
    if (pre != NULL &&
        ((json_object_get(pre, "uid") &&
          !json_equal(json_object_get(pre, "uid"), json_object_get(cmeta, "uid"))) ||
         (json_object_get(pre, "resourceVersion") &&
          !json_equal(json_object_get(pre, "resourceVersion"),
                      json_object_get(cmeta, "resourceVersion"))))) {
      *out = status_body("Conflict", "precondition failed");
      return 409;
    }
    *out = json_incref(cur);
    fake_store_delete(s, path);
    return 200;
  }
  *out = status_body("MethodNotAllowed", method);
  return 405;
}

/* ---- the client API ---------------------------------------------------------------------- */

void nd_k8s_result_clear(nd_k8s_result *r) {
  json_decref(r->body);
  free(r->message);
  memset(r, 0, sizeof(*r));
}

nd_k8s_client *nd_k8s_client_new(nd_loop *loop, const nd_k8s_options *opts, nd_error_t *err) {
  nd_k8s_client *c = calloc(1, sizeof(*c));
  c->loop = loop;
  c->store = current;
  c->next = current->clients;
  current->clients = c;
  return c;
}

void fake_client_kill(nd_k8s_client *c) { c->dead = true; }
void nd_k8s_client_free(nd_k8s_client *c) { c->dead = true; }
const char *nd_k8s_client_server(const nd_k8s_client *c) { return "fake://"; }
const nd_k8s_stats *nd_k8s_client_stats(const nd_k8s_client *c) { return &c->stats; }
char *nd_k8s_escape(const char *s) { return strdup(s); }

int nd_k8s_resource_api_version(nd_k8s_client *c, const char **version, nd_error_t *err) {
  *version = "v1";
  return 0;
}

typedef struct {
  nd_k8s_client *c;
  nd_timer *timer;
  char *method, *path;
  json_t *body;
  nd_k8s_done_cb done;
  void *data;
} pending_req;

static void complete(nd_loop *loop, nd_timer *t, void *data) {
  pending_req *p = data;
  fake_store *s = p->c->store;
  nd_k8s_result r = {0};
  json_t *out = NULL;
  if (p->c->dead) { /* a killed process: its request never reaches the server */
    nd_loop_del_timer(loop, p->timer);
    free(p->method);
    free(p->path);
    json_decref(p->body);
    free(p);
    return;
  }
  r.http_status = serve(s, p->method, p->path, p->body, &out);
  json_array_append_new(s->log, json_pack("{s:s, s:s, s:I}", "method", p->method, "path", p->path,
                                          "status", (json_int_t)r.http_status));
  r.body = out;
  if (r.http_status >= 400) {
    r.reason = json_string_value(json_object_get(out, "reason"));
    r.message = strdup(json_string_value(json_object_get(out, "message")));
  }
  p->c->stats.requests++;
  nd_loop_del_timer(loop, p->timer);
  if (!p->c->dead)
    p->done(p->c, &r, p->data);
  nd_k8s_result_clear(&r);
  free(p->method);
  free(p->path);
  json_decref(p->body);
  free(p);
}

int nd_k8s_request_async(nd_k8s_client *c, const char *method, const char *path,
                         const json_t *body, const char *content_type, nd_k8s_done_cb done,
                         void *data, nd_error_t *err) {
  pending_req *p = calloc(1, sizeof(*p));
  p->c = c;
  p->method = strdup(method);
  p->path = strdup(path);
  p->body = body ? json_deep_copy(body) : NULL;
  p->done = done;
  p->data = data;
  p->timer = nd_loop_add_timer(c->loop, c->latency_ms ? c->latency_ms : 2, 0, complete, p, err);
  return p->timer ? 0 : -1;
}

int nd_k8s_request_text_async(nd_k8s_client *c, const char *method, const char *path,
                              const char *body, const char *content_type, nd_k8s_done_cb done,
                              void *data, nd_error_t *err) {
  json_t *tree = NULL;
  if (body != NULL && (tree = json_loads(body, 0, NULL)) == NULL)
    return nd_error_make(err, EINVAL, "fake: request body is not JSON");
  int rc = nd_k8s_request_async(c, method, path, tree, content_type, done, data, err);
  json_decref(tree);
  return rc;
}

int nd_k8s_request(nd_k8s_client *c, const char *method, const char *path, const json_t *body,
                   const char *content_type, nd_k8s_result *r, nd_error_t *err) {
  json_t *out = NULL;
  memset(r, 0, sizeof(*r));
  r->http_status = serve(c->store, method, path, body, &out);
  r->body = out;
  return 0;
}

nd_k8s_watch *nd_k8s_watch_start(nd_k8s_client *c, const char *path, const char *query,
                                 nd_k8s_watch_cb cb, void *data, nd_error_t *err) {
  struct nd_k8s_watch *w = calloc(1, sizeof(*w));
  w->c = c;
  w->collection = strdup(path);
  const char *sel = query ? strstr(query, "spec.driver%3D") : NULL;
  if (sel) {
    sel += strlen("spec.driver%3D");
    const char *end = strstr(sel, "%2C"); /* further selectors (spec.nodeName=) follow */
    w->driver = end ? strndup(sel, (size_t)(end - sel)) : strdup(sel);
    w->node_less = query && strstr(query, "spec.nodeName%3D") != NULL;
  }
  w->cb = cb;
  w->data = data;
  w->pending = json_array();
  w->timer = nd_loop_add_timer(c->loop, 1, 0, watch_flush, w, err);
  /* the initial list */
  json_t *out = NULL;
  serve(c->store, "GET", path, NULL, &out);
  json_t *items = json_object_get(out, "items");
  for (size_t i = json_array_size(items); i-- > 0;) {
    const json_t *it = json_array_get(items, i);
    const char *d = json_string_value(json_object_get(json_object_get(it, "spec"), "driver"));
    const char *node = json_string_value(json_object_get(json_object_get(it, "spec"), "nodeName"));
    if ((w->driver && (d == NULL || strcmp(d, w->driver) != 0)) || (w->node_less && node && *node))
      json_array_remove(items, i);
  }
  json_array_append_new(w->pending, json_pack("[i, o]", (int)ND_WATCH_SYNCED, out));
  w->next = c->store->watches;
  c->store->watches = w;
  return w;
}

/* The fake lists in one go: the options (paging, items delivered as ADDED) change nothing
 * that a consumer may rely on, since SYNCED with full items is also a valid List. */
nd_k8s_watch *nd_k8s_watch_start_opts(nd_k8s_client *c, const char *path, const char *query,
                                      const nd_k8s_watch_options *opts, nd_k8s_watch_cb cb,
                                      void *data, nd_error_t *err) {
  return nd_k8s_watch_start(c, path, query, cb, data, err);
}

void nd_k8s_watch_stop(nd_k8s_watch *w) {
  fake_store *s = w->c->store;
  for (struct nd_k8s_watch **p = &s->watches; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  nd_loop_del_timer(w->c->loop, w->timer);
  json_decref(w->pending);
  free(w->collection);
  free(w->driver);
  free(w);
}

int nd_k8s_list_all(nd_k8s_client *c, const char *path, const char *query, int limit,
                    json_t **list, char **resource_version, nd_error_t *err) {
  serve(c->store, "GET", path, NULL, list);
  if (resource_version)
    *resource_version = strdup("0");
  return 0;
}
