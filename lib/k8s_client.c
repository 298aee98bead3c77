/* k8s_client.c: the request core of the Kubernetes REST client (see k8s_client.h): one curl
 * setup for every request, synchronous calls on curl easy handles, asynchronous ones on curl
 * multi driven by nd_loop, a QPS/burst token bucket, Status bodies turned into results,
 * bearer tokens re-read on rotation, and request counters for /metrics. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_dump.h"
#include "k8s_internal.h"
#include "log.h"

#define MAX_BODY (64u << 20)
#define TOKEN_MAX 16384
/* idle connections to the API server kept for reuse: more than the node plugin's workers and
 * the watches and async requests of the loop together */
#define ND_K8S_KEPT_CONNECTIONS 32L

static const double latency_bounds_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};

typedef struct request request;

struct nd_k8s_client {
  nd_loop *loop;
  nd_k8s_config cfg;
  double qps;
  int burst;
  int timeout_ms;
  char *user_agent;
  pthread_mutex_t lock; /* token, bucket and stats: sync calls may come from worker threads */
  char *token;          /* current bearer token (static or from token_file) */
  struct timespec token_mtime;
  uint64_t token_checked_ms;
  double bucket;
  uint64_t bucket_ms;
  nd_k8s_stats stats;
  /* sync calls share connections, DNS and TLS sessions (thread-safe through the locks) */
  CURLSH *share;
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
  /* async */
  CURLM *multi;
  nd_timer *multi_timer;
  request *pending_head, *pending_tail; /* waiting for the rate limiter */
  nd_timer *pending_timer;
  request *active; /* in curl multi */
  /* finished requests' easy handles, reset, for the next request (under lock): a new handle
   * per request cost an allocation of curl's transfer state and buffers and, for sync calls,
   * a fresh internal multi handle with its wake-up socketpair, on every claim GET. Sync and
   * async handles are kept apart: a handle that made TLS connections on the loop holds its own
   * TLS session cache, which curl drops without freeing when the handle joins the share
   * (CURLOPT_SHARE replaces the cache pointer: 920 bytes and the cached sessions leaked, ASan). */
  CURL *idle_easy[2][8]; /* [sync] */
  size_t n_idle_easy[2];
};

struct request {
  nd_k8s_client *c;
  CURL *easy;
  bool sync; /* curl_easy_perform on the caller's thread, through the share */
  struct curl_slist *headers;
  char *body_out; /* request body */
  char *buf;      /* response body (non-streaming) */
  size_t len;
  int retry_after_s;
  uint64_t start_ms;
  nd_k8s_done_cb done;
  nd_k8s_data_cb on_data; /* streaming */
  void *user;
  bool streaming, cancelled, detached;
  request *prev, *next; /* in active or pending */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void nd_k8s_result_clear(nd_k8s_result *r) {
  json_decref(r->body);
  free(r->message);
  memset(r, 0, sizeof(*r));
}

nd_loop *nd_k8s_client_loop(nd_k8s_client *c) { return c->loop; }
const char *nd_k8s_client_server(const nd_k8s_client *c) { return c->cfg.server; }

const nd_k8s_stats *nd_k8s_client_stats(const nd_k8s_client *c) { return &c->stats; }

char *nd_k8s_escape(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(n * 3 + 1), *p = out;
  if (out == NULL)
    return NULL;
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~')
      *p++ = (char)ch;
    else
      p += sprintf(p, "%%%02X", ch);
  }
  *p = '\0';
  return out;
}

/* ---- credentials -------------------------------------------------------------------------- */

static bool is_loopback_url(const char *url) {
  const char *host = strstr(url, "://");
  host = host ? host + 3 : url;
  return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost", 9) == 0 ||
         strncmp(host, "[::1]", 5) == 0;
}

/* Re-read the token file at most once a second, and only when its mtime changed. */
static void refresh_token_locked(nd_k8s_client *c) {
  if (c->cfg.token_file == NULL)
    return;
  uint64_t now = nd_now_ms();
  if (c->token && now - c->token_checked_ms < 1000)
    return;
  c->token_checked_ms = now;
  struct stat st;
  if (stat(c->cfg.token_file, &st) < 0) {
    ND_LOG_WARN("k8s", "token-file-unreadable", ND_KV_S("path", c->cfg.token_file),
                ND_KV_S("error", strerror(errno)));
    return;
  }
  if (c->token && st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
      st.st_mtim.tv_nsec == c->token_mtime.tv_nsec)
    return;
  cleanup_file FILE *f = fopen(c->cfg.token_file, "r");
  char buf[TOKEN_MAX];
  size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
  if (n == 0)
    return;
  buf[n] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  free(c->token);
  c->token = strdup(buf);
  c->token_mtime = st.st_mtim;
  ND_LOG_INFO("k8s", "token-loaded", ND_KV_S("path", c->cfg.token_file));
}

/* ---- rate limiter ------------------------------------------------------------------------- */

/* Take one token; returns 0, or the milliseconds to wait before one is available. */
static uint64_t bucket_take_locked(nd_k8s_client *c) {
  uint64_t now = nd_now_ms();
  c->bucket += (double)(now - c->bucket_ms) * c->qps / 1000.0;
  if (c->bucket > c->burst)
    c->bucket = c->burst;
  c->bucket_ms = now;
  if (c->bucket >= 1.0) {
    c->bucket -= 1.0;
    return 0;
  }
  c->stats.throttled_waits++;
  return (uint64_t)((1.0 - c->bucket) * 1000.0 / c->qps) + 1;
}

/* ---- connection sharing between sync calls ------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user) {
  nd_k8s_client *c = user;
  pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *user) {
  nd_k8s_client *c = user;
  pthread_mutex_unlock(&c->share_locks[data]);
}

/* ---- client ------------------------------------------------------------------------------- */

static int on_multi_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
static int on_multi_timer(CURLM *multi, long timeout_ms, void *userp);

nd_k8s_client *nd_k8s_client_new(nd_loop *loop, const nd_k8s_options *opts, nd_error_t *err) {
  pthread_once(&curl_once, curl_init_once);
  nd_k8s_options defaults = {0};
  if (opts == NULL)
    opts = &defaults;
  nd_k8s_client *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return nd_error_make(err, ENOMEM, "allocating REST client"), NULL;
  if (nd_k8s_config_load(opts->kubeconfig_path, opts->context, &c->cfg, err) < 0) {
    free(c);
    return NULL;
  }
  size_t n = strlen(c->cfg.server);
  while (n > 0 && c->cfg.server[n - 1] == '/')
    c->cfg.server[--n] = '\0';
  bool has_credentials = c->cfg.token || c->cfg.token_file;
  if (has_credentials && strncmp(c->cfg.server, "https://", 8) != 0 &&
      !is_loopback_url(c->cfg.server)) {
    nd_error_make(err, EPERM,
                  "%s: refusing to send a bearer token over plain http to %s (use https)",
                  c->cfg.source, c->cfg.server);
    nd_k8s_config_clear(&c->cfg);
    free(c);
    return NULL;
  }
  c->loop = loop;
  c->qps = opts->qps > 0 ? opts->qps : 50;
  c->burst = opts->burst > 0 ? opts->burst : 100;
  c->bucket = c->burst;
  c->bucket_ms = nd_now_ms();
  c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
  c->user_agent = strdup(opts->user_agent ? opts->user_agent : "netdra/0.1");
  pthread_mutex_init(&c->lock, NULL);
  if (c->cfg.token)
    c->token = strdup(c->cfg.token);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&c->share_locks[i], NULL);
  c->share = curl_share_init();
  curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if (loop) {
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_multi_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_multi_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, ND_K8S_KEPT_CONNECTIONS);
  }
  ND_LOG_DEBUG("k8s", "client-ready", ND_KV_S("server", c->cfg.server),
               ND_KV_S("config", c->cfg.source));
  return c;
}

static void request_free(request *r);

static void reap_cancelled(nd_loop *loop, void *data);

void nd_k8s_client_free(nd_k8s_client *c) {
  if (c == NULL)
    return;
  while (c->active) {
    request *r = c->active;
    c->active = r->next;
    if (r->cancelled) /* its deferred reap must not run on freed memory */
      nd_loop_cancel_defer(c->loop, reap_cancelled, r);
    curl_multi_remove_handle(c->multi, r->easy);
    request_free(r);
  }
  while (c->pending_head) {
    request *r = c->pending_head;
    c->pending_head = r->next;
    request_free(r);
  }
  if (c->multi_timer)
    nd_loop_del_timer(c->loop, c->multi_timer);
  if (c->pending_timer)
    nd_loop_del_timer(c->loop, c->pending_timer);
  for (int sync = 0; sync < 2; sync++)
    while (c->n_idle_easy[sync])
      curl_easy_cleanup(c->idle_easy[sync][--c->n_idle_easy[sync]]);
  if (c->multi)
    curl_multi_cleanup(c->multi);
  if (c->share)
    curl_share_cleanup(c->share);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy(&c->share_locks[i]);
  nd_k8s_config_clear(&c->cfg);
  free(c->token);
  free(c->user_agent);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

/* ---- one request -------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  request *r = ud;
  size_t add = sz * n;
  if (r->streaming)
    return r->cancelled ? 0 : r->on_data(p, add, r->user);
  if (r->len + add > MAX_BODY)
    return 0;
  char *grown = realloc(r->buf, r->len + add + 1);
  if (grown == NULL)
    return 0;
  r->buf = grown;
  memcpy(r->buf + r->len, p, add);
  r->len += add;
  r->buf[r->len] = '\0';
  return add;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  request *r = ud;
  size_t len = sz * n;
  if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
    r->retry_after_s = atoi(p + 12);
  return len;
}

/* The compact JSON text of body into *text (NULL when body is NULL). */
static int body_text(const json_t *body, char **text, nd_error_t *err) {
  *text = NULL;
  if (body != NULL && (*text = nd_json_dumps(body, JSON_COMPACT)) == NULL)
    return nd_error_make(err, EINVAL, "serialising request body");
  return 0;
}

/* owned_body: the request body text, owned by the request from here on (also on failure), or
 * NULL. */
static request *request_new(nd_k8s_client *c, bool sync, const char *method, const char *path,
                            char *owned_body, const char *content_type, nd_error_t *err) {
  request *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    free(owned_body);
    return nd_error_make(err, ENOMEM, "allocating request"), NULL;
  }
  r->body_out = owned_body;
  r->c = c;
  r->sync = sync;
  pthread_mutex_lock(&c->lock);
  r->easy = c->n_idle_easy[sync] ? c->idle_easy[sync][--c->n_idle_easy[sync]] : NULL;
  pthread_mutex_unlock(&c->lock);
  if (r->easy == NULL)
    r->easy = curl_easy_init();
  cleanup_free char *url = NULL;
  if (r->easy == NULL || asprintf(&url, "%s%s", c->cfg.server, path) < 0) {
    request_free(r);
    return nd_error_make(err, ENOMEM, "allocating curl handle"), NULL;
  }
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* the connections every handle shares (CURLSHOPT_SHARE CONNECT): libcurl closes a returned
   * connection when the cache holds more than this, 5 by default, so eight worker threads
   * making requests at once opened a new connection (and TLS session) for most of them */
  curl_easy_setopt(e, CURLOPT_MAXCONNECTS, ND_K8S_KEPT_CONNECTIONS);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  if (c->cfg.insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (c->cfg.ca_data) {
    struct curl_blob blob = {.data = c->cfg.ca_data, .len = c->cfg.ca_len, .flags = CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
  } else if (c->cfg.ca_file) {
    curl_easy_setopt(e, CURLOPT_CAINFO, c->cfg.ca_file);
  }
  if (c->cfg.cert_data) {
    struct curl_blob cert = {.data = c->cfg.cert_data, .len = c->cfg.cert_len, .flags = CURL_BLOB_COPY};
    struct curl_blob key = {.data = c->cfg.key_data, .len = c->cfg.key_len, .flags = CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (c->cfg.cert_file) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, c->cfg.cert_file);
    curl_easy_setopt(e, CURLOPT_SSLKEY, c->cfg.key_file);
  }
  r->headers = curl_slist_append(r->headers, "Accept: application/json");
  char hdr[TOKEN_MAX + 64];
  snprintf(hdr, sizeof(hdr), "Content-Type: %s", content_type ? content_type : "application/json");
  r->headers = curl_slist_append(r->headers, hdr);
  pthread_mutex_lock(&c->lock);
  refresh_token_locked(c);
  if (c->token) {
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", c->token);
    r->headers = curl_slist_append(r->headers, hdr);
  }
  pthread_mutex_unlock(&c->lock);
  explicit_bzero(hdr, sizeof(hdr));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  if (r->body_out) { /* JSON, also for apply-patch+yaml: JSON is YAML */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body_out);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body_out));
  }
  return r;
}

/* Keeps a finished request's handle for the next request, or cleans it up when enough are kept.
 * The handle is out of every multi handle here. */
static void easy_release(nd_k8s_client *c, CURL *e, bool sync) {
  curl_easy_setopt(e, CURLOPT_SHARE, NULL); /* detached before curl_share_cleanup can run */
  curl_easy_reset(e);
  pthread_mutex_lock(&c->lock);
  if (c->n_idle_easy[sync] < ND_ARRAY_LEN(c->idle_easy[sync])) {
    c->idle_easy[sync][c->n_idle_easy[sync]++] = e;
    e = NULL;
  }
  pthread_mutex_unlock(&c->lock);
  if (e)
    curl_easy_cleanup(e);
}

static void request_free(request *r) {
  if (r == NULL)
    return;
  if (r->easy)
    easy_release(r->c, r->easy, r->sync);
  curl_slist_free_all(r->headers);
  free(r->body_out);
  free(r->buf);
  free(r);
}

static void record_latency(nd_k8s_client *c, uint64_t start_ms, bool failed) {
  double ms = (double)(nd_now_ms() - start_ms);
  pthread_mutex_lock(&c->lock);
  c->stats.requests++;
  if (failed)
    c->stats.errors++;
  c->stats.latency_sum_ms += ms;
  size_t b = 0;
  while (b < ND_ARRAY_LEN(latency_bounds_ms) && ms > latency_bounds_ms[b])
    b++;
  c->stats.latency_bucket[b]++;
  pthread_mutex_unlock(&c->lock);
}

/* Turn a finished transfer into a result. Returns 0, or -1 with err on a transport failure.
 * decode (NULL: json_loadb) reads a 2xx body. */
static int finish(request *r, CURLcode cc, nd_k8s_decode_fn decode, void *decode_data,
                  nd_k8s_result *res, nd_error_t *err) {
  memset(res, 0, sizeof(*res));
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res->http_status);
  res->retry_after_s = r->retry_after_s;
  bool failed = cc != CURLE_OK || res->http_status >= 400;
  record_latency(r->c, r->start_ms, failed);
  if (cc != CURLE_OK && !(r->streaming && cc == CURLE_WRITE_ERROR && r->cancelled)) {
    char *url = NULL;
    curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
    res->http_status = 0;
    res->message = strdup(curl_easy_strerror(cc));
    return nd_error_make(err, EIO, "%s: %s", url ? url : "request", curl_easy_strerror(cc));
  }
  if (r->buf && r->len && decode && res->http_status >= 200 && res->http_status < 300) {
    cleanup_error nd_error_t derr = NULL;
    res->body = decode(r->buf, r->len, decode_data, &derr);
    if (res->body == NULL && asprintf(&res->message, "reading the body: %s",
                                      derr ? nd_error_msg(derr) : "no value") < 0)
      res->message = NULL;
  } else if (r->buf && r->len) {
    json_error_t jerr;
    res->body = json_loadb(r->buf, r->len, 0, &jerr);
  }
  if (res->http_status >= 400) {
    const char *msg = json_string_value(json_object_get(res->body, "message"));
    const char *reason = json_string_value(json_object_get(res->body, "reason"));
    res->reason = reason; /* points into body */
    if (msg)
      res->message = strdup(msg);
    else if (asprintf(&res->message, "HTTP %ld%s%.200s", res->http_status, r->buf ? ": " : "",
                      r->buf ? r->buf : "") < 0)
      res->message = NULL;
  }
  return 0;
}

int nd_k8s_request(nd_k8s_client *c, const char *method, const char *path, const json_t *body,
                   const char *content_type, nd_k8s_result *res, nd_error_t *err) {
  return nd_k8s_request_decoded(c, method, path, body, content_type, NULL, NULL, res, err);
}

int nd_k8s_request_decoded(nd_k8s_client *c, const char *method, const char *path,
                           const json_t *body, const char *content_type, nd_k8s_decode_fn decode,
                           void *decode_data, nd_k8s_result *res, nd_error_t *err) {
  memset(res, 0, sizeof(*res));
  for (;;) {
    pthread_mutex_lock(&c->lock);
    uint64_t wait = bucket_take_locked(c);
    pthread_mutex_unlock(&c->lock);
    if (wait == 0)
      break;
    usleep((useconds_t)(wait * 1000));
  }
  char *text = NULL;
  if (body_text(body, &text, err) < 0)
    return nd_error_wrap(err, "%s %s", method, path);
  request *r = request_new(c, true, method, path, text, content_type, err);
  if (r == NULL)
    return -1;
  curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
  curl_easy_setopt(r->easy, CURLOPT_SHARE, c->share);
  r->start_ms = nd_now_ms();
  CURLcode cc = curl_easy_perform(r->easy);
  int rc = finish(r, cc, decode, decode_data, res, err);
  request_free(r);
  if (rc < 0)
    nd_error_wrap(err, "%s %s", method, path);
  return rc;
}

/* ---- async on the loop -------------------------------------------------------------------- */

static void list_remove(request **head, request *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    *head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void list_push(request **head, request *r) {
  r->prev = NULL;
  r->next = *head;
  if (*head)
    (*head)->prev = r;
  *head = r;
}

static void check_multi_info(nd_k8s_client *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    request *r = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    CURLcode cc = msg->data.result;
    curl_multi_remove_handle(c->multi, r->easy);
    list_remove(&c->active, r);
    if (r->cancelled) {
      r->detached = true; /* reap_cancelled frees it */
      continue;
    }
    {
      nd_k8s_result res;
      nd_error_t err = NULL;
      if (finish(r, cc, NULL, NULL, &res, &err) < 0) {
        ND_LOG_DEBUG("k8s", "request-failed", ND_KV_S("error", nd_error_msg(err)));
        nd_error_release(&err);
      }
      r->done(c, &res, r->user);
      nd_k8s_result_clear(&res);
    }
    request_free(r);
  }
}

static void on_socket_event(nd_loop *loop, int fd, uint32_t events, void *data) {
  nd_k8s_client *c = data;
  int flags = 0, running;
  if (events & EPOLLIN)
    flags |= CURL_CSELECT_IN;
  if (events & EPOLLOUT)
    flags |= CURL_CSELECT_OUT;
  if (events & (EPOLLERR | EPOLLHUP))
    flags |= CURL_CSELECT_ERR;
  curl_multi_socket_action(c->multi, fd, flags, &running);
  check_multi_info(c);
}

static int on_multi_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  nd_k8s_client *c = userp;
  nd_watch *w = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (w)
      nd_loop_del_fd(c->loop, w);
    curl_multi_assign(c->multi, s, NULL);
    return 0;
  }
  uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
  nd_error_t err = NULL;
  if (w == NULL) {
    w = nd_loop_add_fd(c->loop, s, ev, on_socket_event, c, &err);
    if (w == NULL) {
      ND_LOG_ERROR("k8s", "watch-socket-failed", ND_KV_S("error", nd_error_msg(err)));
      nd_error_release(&err);
      return -1;
    }
    curl_multi_assign(c->multi, s, w);
  } else if (nd_loop_mod_fd(c->loop, w, ev, &err) < 0) {
    nd_error_release(&err);
    return -1;
  }
  return 0;
}

static void on_timer_fired(nd_loop *loop, nd_timer *t, void *data) {
  nd_k8s_client *c = data;
  int running;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_info(c);
}

static int on_multi_timer(CURLM *multi, long timeout_ms, void *userp) {
  nd_k8s_client *c = userp;
  if (timeout_ms < 0) {
    if (c->multi_timer)
      nd_timer_disarm(c->multi_timer);
    return 0;
  }
  if (c->multi_timer == NULL) {
    nd_error_t err = NULL;
    c->multi_timer = nd_loop_add_timer(c->loop, (uint64_t)timeout_ms, 0, on_timer_fired, c, &err);
    if (c->multi_timer == NULL) {
      nd_error_release(&err);
      return -1;
    }
    return 0;
  }
  return nd_timer_rearm(c->multi_timer, (uint64_t)timeout_ms, 0);
}

static void start_active(nd_k8s_client *c, request *r) {
  r->start_ms = nd_now_ms();
  list_push(&c->active, r);
  curl_multi_add_handle(c->multi, r->easy);
}

static void drain_pending(nd_loop *loop, nd_timer *t, void *data) {
  nd_k8s_client *c = data;
  while (c->pending_tail) {
    pthread_mutex_lock(&c->lock);
    uint64_t wait = bucket_take_locked(c);
    pthread_mutex_unlock(&c->lock);
    if (wait) {
      nd_timer_rearm(c->pending_timer, wait, 0);
      return;
    }
    request *r = c->pending_tail; /* FIFO: oldest at the tail */
    c->pending_tail = r->prev;
    if (c->pending_tail == NULL)
      c->pending_head = NULL;
    else
      c->pending_tail->next = NULL;
    r->prev = r->next = NULL;
    start_active(c, r);
  }
}

static int submit(nd_k8s_client *c, request *r, nd_error_t *err) {
  if (c->pending_head == NULL) {
    pthread_mutex_lock(&c->lock);
    uint64_t wait = bucket_take_locked(c);
    pthread_mutex_unlock(&c->lock);
    if (wait == 0) {
      start_active(c, r);
      return 0;
    }
    if (c->pending_timer == NULL) {
      c->pending_timer = nd_loop_add_timer(c->loop, wait, 0, drain_pending, c, err);
      if (c->pending_timer == NULL)
        return -1;
    } else {
      nd_timer_rearm(c->pending_timer, wait, 0);
    }
  }
  list_push(&c->pending_head, r);
  if (c->pending_tail == NULL)
    c->pending_tail = r;
  return 0;
}

/* owned_body is the request's from here on. */
static int request_async(nd_k8s_client *c, const char *method, const char *path,
                         char *owned_body, const char *content_type, nd_k8s_done_cb done,
                         void *data, nd_error_t *err) {
  if (c->multi == NULL) {
    free(owned_body);
    return nd_error_make(err, EINVAL, "REST client has no event loop: async calls need one");
  }
  request *r = request_new(c, false, method, path, owned_body, content_type, err);
  if (r == NULL)
    return nd_error_wrap(err, "%s %s", method, path);
  curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
  r->done = done;
  r->user = data;
  if (submit(c, r, err) < 0) {
    request_free(r);
    return -1;
  }
  return 0;
}

int nd_k8s_request_async(nd_k8s_client *c, const char *method, const char *path,
                         const json_t *body, const char *content_type, nd_k8s_done_cb done,
                         void *data, nd_error_t *err) {
  char *text = NULL;
  if (body_text(body, &text, err) < 0)
    return nd_error_wrap(err, "%s %s", method, path);
  return request_async(c, method, path, text, content_type, done, data, err);
}

int nd_k8s_request_text_async(nd_k8s_client *c, const char *method, const char *path,
                              const char *body, const char *content_type, nd_k8s_done_cb done,
                              void *data, nd_error_t *err) {
  char *text = NULL;
  if (body != NULL && (text = strdup(body)) == NULL)
    return nd_error_make(err, ENOMEM, "%s %s: copying the request body", method, path);
  return request_async(c, method, path, text, content_type, done, data, err);
}


nd_k8s_stream *nd_k8s_stream_start(nd_k8s_client *c, const char *path, nd_k8s_data_cb on_data,
                                   nd_k8s_done_cb done, void *user, nd_error_t *err) {
  if (c->multi == NULL)
    return nd_error_make(err, EINVAL, "REST client has no event loop: watches need one"), NULL;
  request *r = request_new(c, false, "GET", path, NULL, NULL, err);
  if (r == NULL)
    return NULL;
  r->streaming = true;
  r->on_data = on_data;
  r->done = done;
  r->user = user;
  /* no overall timeout: a stalled stream is caught by the server's timeoutSeconds and by
   * curl's low-speed check (no byte for 3 minutes: bookmarks arrive far more often) */
  curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, 180L);
  if (submit(c, r, err) < 0) {
    request_free(r);
    return NULL;
  }
  return (nd_k8s_stream *)r;
}

/* curl forbids removing a handle from inside its own callbacks, and a watch is often stopped
 * from inside its event callback: an active stream is marked, then removed after the batch. */
static void reap_cancelled(nd_loop *loop, void *data) {
  request *r = data;
  if (!r->detached) {
    curl_multi_remove_handle(r->c->multi, r->easy);
    list_remove(&r->c->active, r);
  }
  request_free(r);
}

void nd_k8s_stream_cancel(nd_k8s_client *c, nd_k8s_stream *s) {
  request *r = (request *)s;
  r->cancelled = true;
  for (request *a = c->active; a; a = a->next)
    if (a == r) {
      nd_loop_defer(c->loop, reap_cancelled, r);
      return;
    }
  if (c->pending_tail == r)
    c->pending_tail = r->prev;
  list_remove(&c->pending_head, r);
  request_free(r);
}

/* ---- conveniences ------------------------------------------------------------------------- */

int nd_k8s_list_all(nd_k8s_client *c, const char *path, const char *query, int limit,
                    json_t **list, char **resource_version, nd_error_t *err) {
  *list = NULL;
  if (resource_version)
    *resource_version = NULL;
  cleanup_json json_t *items = json_array();
  cleanup_free char *cont = NULL;
  json_t *last = NULL;
  for (int page = 0; page < 100000; page++) {
    cleanup_free char *url = NULL;
    cleanup_free char *cont_esc = cont ? nd_k8s_escape(cont) : NULL;
    if (asprintf(&url, "%s?limit=%d%s%s%s%s", path, limit > 0 ? limit : 500, query ? "&" : "",
                 query ? query : "", cont_esc ? "&continue=" : "", cont_esc ? cont_esc : "") < 0)
      return nd_error_make(err, ENOMEM, "allocating URL");
    nd_k8s_result r;
    if (nd_k8s_request(c, "GET", url, NULL, NULL, &r, err) < 0)
      return -1;
    if (r.http_status != 200) {
      nd_error_make(err, r.http_status == 410 ? ESTALE : EIO, "listing %s: %s", path,
                    r.message ? r.message : "no answer");
      nd_k8s_result_clear(&r);
      return -1;
    }
    json_array_extend(items, json_object_get(r.body, "items"));
    free(cont);
    const char *next = json_string_value(json_object_get(json_object_get(r.body, "metadata"), "continue"));
    cont = next && *next ? strdup(next) : NULL;
    json_decref(last);
    last = json_incref(r.body);
    nd_k8s_result_clear(&r);
    if (cont == NULL)
      break;
  }
  json_t *meta = json_object_get(last, "metadata");
  if (resource_version) {
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
    *resource_version = rv ? strdup(rv) : NULL;
  }
  json_object_del(meta, "continue");
  json_object_del(meta, "remainingItemCount");
  json_object_set(last, "items", items);
  *list = last;
  return 0;
}

int nd_k8s_resource_api_version(nd_k8s_client *c, const char **version, nd_error_t *err) {
  static const char *const preferred[] = {"v1", "v1beta2", "v1beta1"};
  nd_k8s_result r;
  if (nd_k8s_request(c, "GET", "/apis/resource.k8s.io", NULL, NULL, &r, err) < 0)
    return -1;
  if (r.http_status != 200) {
    nd_error_make(err, ENOENT, "the API server does not serve resource.k8s.io: %s",
                  r.message ? r.message : "no answer");
    nd_k8s_result_clear(&r);
    return -1;
  }
  json_t *versions = json_object_get(r.body, "versions");
  for (size_t p = 0; p < ND_ARRAY_LEN(preferred); p++) {
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v) {
      const char *name = json_string_value(json_object_get(v, "version"));
      if (name && strcmp(name, preferred[p]) == 0) {
        *version = preferred[p];
        nd_k8s_result_clear(&r);
        return 0;
      }
    }
  }
  nd_k8s_result_clear(&r);
  return nd_error_make(err, ENOENT, "resource.k8s.io is served, but none of v1, v1beta2, v1beta1");
}
