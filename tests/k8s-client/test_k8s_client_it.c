/* test_k8s_client_it.c: the REST client against the stand-in API server (started by
 * it_k8s_client.sh with TLS and a token; its kubeconfig path is $NETDRA_TEST_KUBECONFIG and its
 * base URL $NETDRA_TEST_APISERVER). Sync and async requests, Status errors, pagination, 429
 * Retry-After, a caller's own decoder of 2xx bodies, watch with bookmarks, relist after 410, reconnect after a dropped stream,
 * in-cluster configuration with token rotation, discovery, rate limiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_extract.h"
#include "k8s_client.h"

#define SLICES "/apis/resource.k8s.io/v1/resourceslices"

static const char *kubeconfig, *server;

static void admin(const char *method, const char *what, const char *body) {
  char url[512];
  snprintf(url, sizeof(url), "%s/_netdra/%s", server, what);
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L); /* test equipment's admin API only */
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  FILE *devnull = fopen("/dev/null", "w");
  curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
  if (body)
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  assert_int_equal(curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  fclose(devnull);
}

/* The stand-in's count of TCP connections opened by clients so far. */
static long connections_accepted(void) {
  char url[512];
  snprintf(url, sizeof(url), "%s/_netdra/connections", server);
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L); /* test equipment's admin API only */
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  assert_int_equal(curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  fclose(out);
  cleanup_json json_t *body = json_loads(text, 0, NULL);
  free(text);
  assert_true(json_is_integer(json_object_get(body, "accepted")));
  return (long)json_integer_value(json_object_get(body, "accepted"));
}

static json_t *slice(const char *name, const char *driver) {
  return json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:{s:s,s:i,s:i},s:b,s:[{s:s}]}}", "apiVersion",
                   "resource.k8s.io/v1", "kind", "ResourceSlice", "metadata", "name", name, "spec",
                   "driver", driver, "pool", "name", "p", "generation", 0, "resourceSliceCount", 1,
                   "allNodes", 1, "devices", "name", "d0");
}

static nd_k8s_client *client(nd_loop *loop) {
  cleanup_error nd_error_t err = NULL;
  nd_k8s_options o = {.kubeconfig_path = kubeconfig};
  nd_k8s_client *c = nd_k8s_client_new(loop, &o, &err);
  if (c == NULL)
    fail_msg("client: %s", nd_error_msg(err));
  return c;
}

static void test_sync_crud_and_status_errors(void **state) {
  nd_k8s_client *c = client(NULL);
  cleanup_error nd_error_t err = NULL;
  nd_k8s_result r;
  cleanup_json json_t *s = slice("crud", "crud.dev");
  assert_int_equal(nd_k8s_request(c, "POST", SLICES, s, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 201);
  json_t *created = json_incref(r.body);
  nd_k8s_result_clear(&r);
  assert_int_equal(nd_k8s_request(c, "POST", SLICES, s, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 409);
  assert_string_equal(r.reason, "AlreadyExists");
  assert_non_null(strstr(r.message, "\"crud\" already exists"));
  nd_k8s_result_clear(&r);
  /* stale update */
  json_object_set_new(json_object_get(created, "metadata"), "resourceVersion", json_string("1"));
  assert_int_equal(nd_k8s_request(c, "PUT", SLICES "/crud", created, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 409);
  assert_string_equal(r.reason, "Conflict");
  assert_non_null(strstr(r.message, "the object has been modified"));
  nd_k8s_result_clear(&r);
  json_decref(created);
  /* merge patch */
  cleanup_json json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "a", "b");
  assert_int_equal(nd_k8s_request(c, "PATCH", SLICES "/crud", patch, "application/merge-patch+json",
                                  &r, &err), 0);
  assert_int_equal(r.http_status, 200);
  nd_k8s_result_clear(&r);
  assert_int_equal(nd_k8s_request(c, "DELETE", SLICES "/crud", NULL, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 200);
  nd_k8s_result_clear(&r);
  assert_int_equal(nd_k8s_request(c, "GET", SLICES "/crud", NULL, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 404);
  assert_string_equal(r.reason, "NotFound");
  assert_string_equal(r.message, "resourceslices.resource.k8s.io \"crud\" not found");
  nd_k8s_result_clear(&r);
  /* 422 carries the server's reason */
  cleanup_json json_t *bad = slice("Bad_Name", "crud.dev");
  assert_int_equal(nd_k8s_request(c, "POST", SLICES, bad, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 422);
  assert_non_null(strstr(r.message, "metadata.name"));
  nd_k8s_result_clear(&r);
  nd_k8s_client_free(c);
}

static json_t *decode_name(const char *text, size_t len, void *data, nd_error_t *err) {
  (*(int *)data)++;
  static const char *const name[] = {"metadata", "name", NULL};
  return nd_json_extract(text, len, (const char *const *const[]){name, NULL}, err);
}

static json_t *decode_refuse(const char *text, size_t len, void *data, nd_error_t *err) {
  (*(int *)data)++;
  nd_error_make(err, EINVAL, "refused on purpose");
  return NULL;
}

/* A decoded GET: the caller's decoder reads a 2xx body (here only metadata.name), a Status
 * body is read in full as ever, and a decoder's refusal becomes the result's message. */
static void test_decoded_request(void **state) {
  nd_k8s_client *c = client(NULL);
  cleanup_error nd_error_t err = NULL;
  nd_k8s_result r;
  cleanup_json json_t *s = slice("decoded", "decoded.dev");
  assert_int_equal(nd_k8s_request(c, "POST", SLICES, s, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 201);
  nd_k8s_result_clear(&r);
  int calls = 0;
  assert_int_equal(nd_k8s_request_decoded(c, "GET", SLICES "/decoded", NULL, NULL, decode_name,
                                          &calls, &r, &err), 0);
  assert_int_equal(r.http_status, 200);
  assert_int_equal(calls, 1);
  cleanup_free char *text = json_dumps(r.body, JSON_COMPACT);
  assert_string_equal(text, "{\"metadata\":{\"name\":\"decoded\"}}");
  nd_k8s_result_clear(&r);
  assert_int_equal(nd_k8s_request_decoded(c, "GET", SLICES "/decoded", NULL, NULL, decode_refuse,
                                          &calls, &r, &err), 0);
  assert_int_equal(r.http_status, 200);
  assert_int_equal(calls, 2);
  assert_null(r.body);
  assert_string_equal(r.message, "reading the body: refused on purpose");
  nd_k8s_result_clear(&r);
  assert_int_equal(nd_k8s_request_decoded(c, "GET", SLICES "/no-such", NULL, NULL, decode_refuse,
                                          &calls, &r, &err), 0);
  assert_int_equal(r.http_status, 404);
  assert_int_equal(calls, 2); /* a Status body is not the caller's to read */
  assert_string_equal(r.reason, "NotFound");
  nd_k8s_result_clear(&r);
  assert_int_equal(nd_k8s_request(c, "DELETE", SLICES "/decoded", NULL, NULL, &r, &err), 0);
  nd_k8s_result_clear(&r);
  nd_k8s_client_free(c);
}

static void test_pagination(void **state) {
  nd_k8s_client *c = client(NULL);
  cleanup_error nd_error_t err = NULL;
  for (int i = 0; i < 250; i++) {
    char name[32];
    snprintf(name, sizeof(name), "page-%03d", i);
    cleanup_json json_t *s = slice(name, "pager.dev");
    nd_k8s_result r;
    assert_int_equal(nd_k8s_request(c, "POST", SLICES, s, NULL, &r, &err), 0);
    assert_int_equal(r.http_status, 201);
    nd_k8s_result_clear(&r);
  }
  cleanup_json json_t *list = NULL;
  cleanup_free char *rv = NULL;
  assert_int_equal(nd_k8s_list_all(c, SLICES, "fieldSelector=spec.driver%3Dpager.dev", 100, &list,
                                   &rv, &err), 0);
  assert_int_equal(json_array_size(json_object_get(list, "items")), 250);
  assert_non_null(rv);
  nd_k8s_client_free(c);
}

static void test_retry_after_and_transport_error(void **state) {
  nd_k8s_client *c = client(NULL);
  cleanup_error nd_error_t err = NULL;
  admin("POST", "faults", "{\"method\":\"GET\",\"path\":\"deviceclasses$\",\"status\":429,\"retry_after\":2}");
  nd_k8s_result r;
  assert_int_equal(nd_k8s_request(c, "GET", "/apis/resource.k8s.io/v1/deviceclasses", NULL, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 429);
  assert_int_equal(r.retry_after_s, 2);
  assert_string_equal(r.reason, "TooManyRequests");
  nd_k8s_result_clear(&r);
  nd_k8s_client_free(c);
  /* nothing listens on port 1: a transport error with a clear message */
  char path[] = "/tmp/netdra-kc-XXXXXX";
  int fd = mkstemp(path);
  dprintf(fd, "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: x\n  cluster:\n"
              "    server: http://127.0.0.1:1\ncontexts:\n- name: x\n  context:\n    cluster: x\n");
  close(fd);
  nd_k8s_options o = {.kubeconfig_path = path, .timeout_ms = 2000};
  nd_k8s_client *dead = nd_k8s_client_new(NULL, &o, &err);
  assert_non_null(dead);
  assert_int_equal(nd_k8s_request(dead, "GET", "/api", NULL, NULL, &r, &err), -1);
  assert_non_null(strstr(err->msg, "GET /api"));
  assert_int_equal(r.http_status, 0);
  nd_k8s_result_clear(&r);
  nd_k8s_client_free(dead);
  unlink(path);
}

typedef struct {
  int done, status;
  int synced, added, modified, deleted, bookmarks;
  size_t last_sync_items;
  int added_at_sync;         /* ADDED events delivered before the last SYNCED */
  bool sync_items_have_spec; /* the last SYNCED's first item has a spec */
} async_state;

static void on_done(nd_k8s_client *c, nd_k8s_result *r, void *data) {
  async_state *s = data;
  s->done++;
  s->status = (int)r->http_status;
}

static void run_until(nd_loop *loop, int *counter, int want, int timeout_ms) {
  cleanup_error nd_error_t err = NULL;
  uint64_t start = nd_now_ms();
  while (*counter < want && nd_now_ms() - start < (uint64_t)timeout_ms)
    assert_int_equal(nd_loop_run_once(loop, 50, &err), 0);
}

static void test_async_requests(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_k8s_client *c = client(loop);
  async_state s = {0};
  for (int i = 0; i < 20; i++)
    assert_int_equal(nd_k8s_request_async(c, "GET", "/apis/resource.k8s.io", NULL, NULL, on_done, &s, &err), 0);
  run_until(loop, &s.done, 20, 10000);
  assert_int_equal(s.done, 20);
  assert_int_equal(s.status, 200);
  assert_true(nd_k8s_client_stats(c)->requests >= 20);
  /* a body given as text is sent as it is: created, then read back */
  s.done = 0;
  const char *cm = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                   "\"text-body\",\"namespace\":\"default\"},\"data\":{\"k\":\"v\"}}";
  assert_int_equal(nd_k8s_request_text_async(c, "POST", "/api/v1/namespaces/default/configmaps", cm,
                                             NULL, on_done, &s, &err), 0);
  run_until(loop, &s.done, 1, 10000);
  assert_int_equal(s.status, 201);
  nd_k8s_result r;
  assert_int_equal(nd_k8s_request(c, "GET", "/api/v1/namespaces/default/configmaps/text-body", NULL,
                                  NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 200);
  assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "data"), "k")), "v");
  nd_k8s_result_clear(&r);
  /* text that is not JSON: the API server's 400, no crash */
  s.done = 0;
  assert_int_equal(nd_k8s_request_text_async(c, "POST", "/api/v1/namespaces/default/configmaps",
                                             "{not json", NULL, on_done, &s, &err), 0);
  run_until(loop, &s.done, 1, 10000);
  assert_int_equal(s.status, 400);
  nd_k8s_client_free(c);
  nd_loop_free(loop);
}

typedef struct {
  nd_k8s_client *c;
  int failures;
} getter;

static void *get_loop(void *arg) {
  getter *g = arg;
  for (int i = 0; i < 25; i++) {
    nd_k8s_result r = {0};
    nd_error_t err = NULL;
    if (nd_k8s_request(g->c, "GET", "/apis/resource.k8s.io", NULL, NULL, &r, &err) < 0 ||
        r.http_status != 200)
      g->failures++;
    nd_error_release(&err);
    nd_k8s_result_clear(&r);
  }
  return NULL;
}

/* Eight threads making synchronous requests at once keep eight connections alive: libcurl
 * closes a kept connection beyond its default cache of 5 per handle, so without a larger cache
 * most of these requests would open a new connection (and a TLS handshake). */
static void test_concurrent_requests_keep_connections(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_k8s_client *c = client(loop);
  getter g[8];
  pthread_t t[8];
  long before = connections_accepted();
  for (int i = 0; i < 8; i++) {
    g[i] = (getter){.c = c};
    assert_int_equal(pthread_create(&t[i], NULL, get_loop, &g[i]), 0);
  }
  for (int i = 0; i < 8; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(g[i].failures, 0);
  }
  long opened = connections_accepted() - before - 1; /* less this count's own connection */
  print_message("200 requests from 8 threads opened %ld connections\n", opened);
  assert_true(opened >= 1);
  assert_true(opened <= 8);
  nd_k8s_client_free(c);
  nd_loop_free(loop);
}

static void on_watch(nd_k8s_client *c, nd_watch_event ev, json_t *obj, void *data) {
  async_state *s = data;
  switch (ev) {
  case ND_WATCH_SYNCED:
    s->synced++;
    s->last_sync_items = json_array_size(json_object_get(obj, "items"));
    s->added_at_sync = s->added;
    s->sync_items_have_spec =
        json_object_get(json_array_get(json_object_get(obj, "items"), 0), "spec") != NULL;
    break;
  case ND_WATCH_ADDED:
    s->added++;
    break;
  case ND_WATCH_MODIFIED:
    s->modified++;
    break;
  case ND_WATCH_DELETED:
    s->deleted++;
    break;
  case ND_WATCH_BOOKMARK:
    s->bookmarks++;
    break;
  }
}

static void test_watch_relist_and_reconnect(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_k8s_client *c = client(loop);
  nd_k8s_client *sync = client(NULL);
  async_state s = {0};
  nd_k8s_watch *w = nd_k8s_watch_start(c, SLICES, "fieldSelector=spec.driver%3Dwatch.dev", on_watch, &s, &err);
  assert_non_null(w);
  run_until(loop, &s.synced, 1, 5000);
  assert_int_equal(s.synced, 1);
  assert_int_equal(s.last_sync_items, 0);
  nd_k8s_result r;
  cleanup_json json_t *a = slice("watch-a", "watch.dev");
  assert_int_equal(nd_k8s_request(sync, "POST", SLICES, a, NULL, &r, &err), 0);
  nd_k8s_result_clear(&r);
  cleanup_json json_t *other = slice("watch-other", "other.dev");
  assert_int_equal(nd_k8s_request(sync, "POST", SLICES, other, NULL, &r, &err), 0);
  nd_k8s_result_clear(&r);
  run_until(loop, &s.added, 1, 5000);
  assert_int_equal(s.added, 1); /* the field selector keeps other drivers out */
  run_until(loop, &s.bookmarks, 2, 5000);
  assert_true(s.bookmarks >= 2);
  /* a dropped stream reconnects from the last resourceVersion without a relist */
  admin("POST", "drop-watches", NULL);
  assert_int_equal(nd_k8s_request(sync, "DELETE", SLICES "/watch-a", NULL, NULL, &r, &err), 0);
  nd_k8s_result_clear(&r);
  run_until(loop, &s.deleted, 1, 8000);
  assert_int_equal(s.deleted, 1);
  assert_int_equal(s.synced, 1);
  /* history compacted + stream dropped: the resume gets 410 and relists */
  cleanup_json json_t *b = slice("watch-b", "watch.dev");
  admin("POST", "compact", NULL);
  admin("POST", "drop-watches", NULL);
  assert_int_equal(nd_k8s_request(sync, "POST", SLICES, b, NULL, &r, &err), 0);
  nd_k8s_result_clear(&r);
  admin("POST", "compact", NULL);
  run_until(loop, &s.synced, 2, 10000);
  assert_int_equal(s.synced, 2);
  assert_int_equal(s.last_sync_items, 1);
  nd_k8s_watch_stop(w);
  nd_loop_run_once(loop, 0, &err);
  nd_k8s_client_free(sync);
  nd_k8s_client_free(c);
  nd_loop_free(loop);
}

/* A watch of large objects: small pages, each item delivered as ADDED as its page arrives,
 * then SYNCED with the items' names only. */
static void test_watch_paged_list(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_k8s_client *c = client(loop);
  nd_k8s_client *sync = client(NULL);
  for (int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof(name), "paged-%d", i);
    cleanup_json json_t *o = slice(name, "paged.dev");
    nd_k8s_result r;
    assert_int_equal(nd_k8s_request(sync, "POST", SLICES, o, NULL, &r, &err), 0);
    assert_int_equal(r.http_status, 201);
    nd_k8s_result_clear(&r);
  }
  async_state s = {0};
  nd_k8s_watch_options o = {.list_page = 2, .list_items_as_added = true};
  nd_k8s_watch *w = nd_k8s_watch_start_opts(c, SLICES, "fieldSelector=spec.driver%3Dpaged.dev",
                                            &o, on_watch, &s, &err);
  assert_non_null(w);
  run_until(loop, &s.synced, 1, 5000);
  assert_int_equal(s.synced, 1);
  assert_int_equal(s.added_at_sync, 5);
  assert_int_equal(s.last_sync_items, 5);
  assert_false(s.sync_items_have_spec);
  nd_k8s_watch_stop(w);
  nd_loop_run_once(loop, 0, &err);
  nd_k8s_client_free(sync);
  nd_k8s_client_free(c);
  nd_loop_free(loop);
}

static void test_discovery_and_rate_limit(void **state) {
  cleanup_error nd_error_t err = NULL;
  nd_k8s_options o = {.kubeconfig_path = kubeconfig, .qps = 5, .burst = 1};
  nd_k8s_client *c = nd_k8s_client_new(NULL, &o, &err);
  const char *version = NULL;
  assert_int_equal(nd_k8s_resource_api_version(c, &version, &err), 0);
  assert_string_equal(version, "v1");
  uint64_t start = nd_now_ms();
  for (int i = 0; i < 4; i++) {
    nd_k8s_result r;
    assert_int_equal(nd_k8s_request(c, "GET", "/version", NULL, NULL, &r, &err), 0);
    nd_k8s_result_clear(&r);
  }
  /* 4 requests at 5/s with a burst of 1 take at least 3 intervals of 200 ms, however slow or
   * fast each request is (a slow one refills the bucket, so count only what must wait) */
  uint64_t took = nd_now_ms() - start;
  nd_k8s_client_free(c);
  assert_true(took >= 550);
}

static void test_in_cluster_token_rotation(void **state) {
  cleanup_error nd_error_t err = NULL;
  const char *token = getenv("NETDRA_TEST_TOKEN");
  const char *ca = getenv("NETDRA_TEST_CA");
  char dir[] = "/tmp/netdra-sa-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[300], cmd[700];
  snprintf(cmd, sizeof(cmd), "cp %s %s/ca.crt && echo wrong-token > %s/token", ca, dir, dir);
  assert_int_equal(system(cmd), 0);
  const char *port = strrchr(server, ':') + 1;
  setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", port, 1);
  setenv("NETDRA_SERVICEACCOUNT_DIR", dir, 1);
  unsetenv("KUBECONFIG");
  nd_k8s_client *c = nd_k8s_client_new(NULL, NULL, &err);
  assert_non_null(c);
  nd_k8s_result r;
  assert_int_equal(nd_k8s_request(c, "GET", "/apis", NULL, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 401);
  nd_k8s_result_clear(&r);
  usleep(1200000); /* the token file is re-checked at most once a second, by mtime */
  snprintf(path, sizeof(path), "%s/token", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "%s\n", token);
  fclose(f);
  assert_int_equal(nd_k8s_request(c, "GET", "/apis", NULL, NULL, &r, &err), 0);
  assert_int_equal(r.http_status, 200);
  nd_k8s_result_clear(&r);
  nd_k8s_client_free(c);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  unsetenv("KUBERNETES_SERVICE_HOST");
}

int main(void) {
  kubeconfig = getenv("NETDRA_TEST_KUBECONFIG");
  server = getenv("NETDRA_TEST_APISERVER");
  if (kubeconfig == NULL || server == NULL) {
    fprintf(stderr, "run through it_k8s_client.sh (needs the stand-in API server)\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sync_crud_and_status_errors),
      cmocka_unit_test(test_decoded_request),
      cmocka_unit_test(test_pagination),
      cmocka_unit_test(test_retry_after_and_transport_error),
      cmocka_unit_test(test_async_requests),
      cmocka_unit_test(test_concurrent_requests_keep_connections),
      cmocka_unit_test(test_watch_relist_and_reconnect),
      cmocka_unit_test(test_watch_paged_list),
      cmocka_unit_test(test_discovery_and_rate_limit),
      cmocka_unit_test(test_in_cluster_token_rotation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
