/* k8s_client.h: the Kubernetes REST client both daemons and the CLI share.
 *
 * libcurl + jansson. Two ways to call:
 *  - asynchronous, on the event loop (curl multi driven by nd_loop): the controller's
 *    reconcile writes, watches and leader election;
 *  - synchronous (curl easy, thread-safe, one handle per call): node-plugin worker threads,
 *    netdractl and tests.
 * Configuration comes from a kubeconfig (libyaml: current-context, server, token,
 * client-certificate(-data)/client-key(-data), certificate-authority(-data),
 * insecure-skip-tls-verify) or from the in-cluster service account (KUBERNETES_SERVICE_HOST/
 * PORT, token re-read when the file changes, CA file). Requests are limited by a token
 * bucket (QPS/burst). Non-2xx answers become nd_k8s_result.status + a message taken from the
 * Status body ("resourceslices.resource.k8s.io \"x\" already exists" / reason Conflict). */
#ifndef NETDRA_K8S_CLIENT_H
#define NETDRA_K8S_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "evloop.h"

typedef struct nd_k8s_client nd_k8s_client;

typedef struct {
  const char *kubeconfig_path; /* NULL: $KUBECONFIG, then in-cluster, then ~/.kube/config */
  const char *context;         /* NULL: current-context */
  double qps;                  /* 0: 50 */
  int burst;                   /* 0: 100 */
  int timeout_ms;              /* per request; 0: 30000 (watches have none) */
  const char *user_agent;      /* NULL: "netdra/<version>" */
} nd_k8s_options;

/* The outcome of one request. body is owned by the result (json_decref via nd_k8s_result_clear). */
typedef struct {
  long http_status;   /* 0 when no HTTP answer came (connection refused, timeout) */
  json_t *body;       /* parsed JSON body, or NULL */
  const char *reason; /* Status.reason for errors ("Conflict", "NotFound", "Expired", ...) */
  char *message;      /* Status.message or the transport error, heap */
  int retry_after_s;  /* from Retry-After on 429/503, else 0 */
} nd_k8s_result;

void nd_k8s_result_clear(nd_k8s_result *r);

/* loop may be NULL for a client that is only used synchronously. */
nd_k8s_client *nd_k8s_client_new(nd_loop *loop, const nd_k8s_options *opts, nd_error_t *err);
void nd_k8s_client_free(nd_k8s_client *c);
const char *nd_k8s_client_server(const nd_k8s_client *c); /* base URL */

/* Synchronous request. method: GET/POST/PUT/PATCH/DELETE. path starts with '/'.
 * content_type: NULL = application/json; for PATCH use application/merge-patch+json or
 * application/apply-patch+yaml (server-side apply; add ?fieldManager=...&force=true to path).
 * Returns 0 when an HTTP answer arrived (any status, see r->http_status), -1 with err on a
 * transport failure. */
int nd_k8s_request(nd_k8s_client *c, const char *method, const char *path, const json_t *body,
                   const char *content_type, nd_k8s_result *r, nd_error_t *err);

/* The same, with a successful (2xx) body read by decode instead of jansson's json_loadb: a
 * caller that reads a few members of a large object (nd_json_extract: a ResourceClaim's
 * allocation without its managedFields). decode returns a new reference, or NULL with err,
 * whose message then becomes r->message (r->body NULL). Error bodies (Status objects) are
 * read in full as always. */
typedef json_t *(*nd_k8s_decode_fn)(const char *text, size_t len, void *data, nd_error_t *err);
int nd_k8s_request_decoded(nd_k8s_client *c, const char *method, const char *path,
                           const json_t *body, const char *content_type, nd_k8s_decode_fn decode,
                           void *decode_data, nd_k8s_result *r, nd_error_t *err);

/* Asynchronous request on the loop; done runs on the loop thread exactly once. */
typedef void (*nd_k8s_done_cb)(nd_k8s_client *c, nd_k8s_result *r, void *data);
int nd_k8s_request_async(nd_k8s_client *c, const char *method, const char *path,
                         const json_t *body, const char *content_type, nd_k8s_done_cb done,
                         void *data, nd_error_t *err);
/* The same with the body given as JSON text (copied), for callers that keep bodies as text:
 * no parse and serialise again. */
int nd_k8s_request_text_async(nd_k8s_client *c, const char *method, const char *path,
                              const char *body, const char *content_type, nd_k8s_done_cb done,
                              void *data, nd_error_t *err);

/* Synchronous list with pagination: follows metadata.continue (limit per page) and returns
 * one List object whose items hold every page; resource_version gets the list's RV. */
int nd_k8s_list_all(nd_k8s_client *c, const char *path, const char *query, int limit,
                    json_t **list, char **resource_version, nd_error_t *err);

/* Watch: list, then watch from the list's resourceVersion with allowWatchBookmarks=true;
 * on 410 Gone (or an ERROR event with code 410) relist; on a dropped stream reconnect
 * with jittered exponential backoff (0.2 s .. 30 s). Events are delivered on the loop. */
typedef enum {
  ND_WATCH_SYNCED,   /* a (re)list finished: obj is the List; all ADDED before it are current */
  ND_WATCH_ADDED,
  ND_WATCH_MODIFIED,
  ND_WATCH_DELETED,
  ND_WATCH_BOOKMARK, /* obj carries only metadata.resourceVersion */
} nd_watch_event;
typedef void (*nd_k8s_watch_cb)(nd_k8s_client *c, nd_watch_event ev, json_t *obj, void *data);
typedef struct nd_k8s_watch nd_k8s_watch;
/* path: collection path, e.g. /apis/resource.k8s.io/v1/resourceslices;
 * query: extra selectors, e.g. "fieldSelector=spec.driver%3Dnetdra.dev" (already escaped). */
nd_k8s_watch *nd_k8s_watch_start(nd_k8s_client *c, const char *path, const char *query,
                                 nd_k8s_watch_cb cb, void *data, nd_error_t *err);
/* For collections of large objects (a ResourceSlice of 128 devices is ~0.5 MB as a tree): a
 * (re)list never holds the whole list as one tree. */
typedef struct {
  int list_page; /* items per list page; 0: 500 */
  /* each item of a (re)list is delivered as ND_WATCH_ADDED as its page arrives; SYNCED then
   * carries a List whose items hold only metadata (name, namespace, resourceVersion): what
   * the consumer needs to drop what is gone */
  bool list_items_as_added;
} nd_k8s_watch_options;
nd_k8s_watch *nd_k8s_watch_start_opts(nd_k8s_client *c, const char *path, const char *query,
                                      const nd_k8s_watch_options *opts, nd_k8s_watch_cb cb,
                                      void *data, nd_error_t *err);
void nd_k8s_watch_stop(nd_k8s_watch *w);

/* API discovery: the newest served version of group resource.k8s.io among v1, v1beta2,
 * v1beta1 (GET /apis/resource.k8s.io). *version is a static string. */
int nd_k8s_resource_api_version(nd_k8s_client *c, const char **version, nd_error_t *err);

/* URL-escape one query value (heap). */
char *nd_k8s_escape(const char *s);

/* Counters for /metrics. */
typedef struct {
  uint64_t requests, errors, throttled_waits;
  uint64_t latency_bucket[12]; /* le 1,2,5,10,25,50,100,250,500,1000,2500,+Inf ms */
  double latency_sum_ms;
} nd_k8s_stats;
const nd_k8s_stats *nd_k8s_client_stats(const nd_k8s_client *c);

#endif
