/* backend_http.c: JSON-over-HTTP calls of the network backends; see backend_http.h. */
#include "backend_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cleanup.h"
#include "json_dump.h"

#define MAX_REPLY (4 << 20)

typedef struct {
  char *data;
  size_t len;
  bool too_big;
} buffer;

static size_t on_data(char *ptr, size_t size, size_t n, void *userdata) {
  buffer *b = userdata;
  size_t add = size * n;
  if (b->len + add > MAX_REPLY) {
    b->too_big = true;
    return 0;
  }
  char *grown = realloc(b->data, b->len + add + 1);
  if (grown == NULL)
    return 0;
  memcpy(grown + b->len, ptr, add);
  b->len += add;
  grown[b->len] = '\0';
  b->data = grown;
  return add;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

char *nd_backend_url_escape(const char *s) {
  pthread_once(&curl_once, curl_init);
  char *e = curl_easy_escape(NULL, s, 0);
  char *out = e ? strdup(e) : NULL;
  curl_free(e);
  return out;
}

char *nd_backend_url(const char *base, const char *path) {
  size_t n = strlen(base);
  while (n > 0 && base[n - 1] == '/')
    n--;
  char *out = NULL;
  if (asprintf(&out, "%.*s%s", (int)n, base, path) < 0)
    return NULL;
  return out;
}

int nd_backend_http_json(const char *what, const char *method, const char *url,
                         const json_t *body, int timeout_ms, long *status, json_t **reply,
                         nd_error_t *err) {
  *status = 0;
  *reply = NULL;
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
    return nd_error_make(err, EINVAL, "%s endpoint \"%s\" is not an http:// or https:// URL",
                         what, url);
  pthread_once(&curl_once, curl_init);
  CURL *h = curl_easy_init();
  if (h == NULL)
    return nd_error_make(err, ENOMEM, "%s %s: cannot create a curl handle", method, url);
  cleanup_free char *payload = body ? nd_json_dumps(body, JSON_COMPACT) : NULL;
  struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
  if (payload)
    headers = curl_slist_append(headers, "Content-Type: application/json");
  buffer b = {0};
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (payload)
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
  CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  int ret = 0;
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    ret = nd_error_make(err, ETIMEDOUT, "%s %s %s: no answer within %d ms", what, method, url,
                        timeout_ms);
  } else if (b.too_big) {
    ret = nd_error_make(err, EMSGSIZE, "%s %s %s: reply larger than %d bytes", what, method,
                        url, MAX_REPLY);
  } else if (rc != CURLE_OK) {
    ret = nd_error_make(err, EIO, "%s %s %s: %s", what, method, url,
                        errbuf[0] ? errbuf : curl_easy_strerror(rc));
  } else {
    *status = code;
    if (b.data && b.len)
      *reply = json_loadb(b.data, b.len, 0, NULL);
  }
  if (b.data)
    explicit_bzero(b.data, b.len); /* may hold a session token */
  free(b.data);
  return ret;
}

int nd_backend_http_status_error(nd_error_t *err, const char *what, const char *method,
                                 const char *url, long status, const json_t *reply) {
  const char *msg = json_string_value(json_object_get(reply, "error"));
  return nd_error_make(err, status >= 500 ? EIO : EINVAL, "%s %s %s: HTTP %ld%s%s", what, method,
                       url, status, msg ? ": " : "", msg ? msg : "");
}

int nd_backend_http_delete(const char *what, const char *base, const char *collection,
                           const char *id, nd_error_t *err) {
  cleanup_free char *esc = nd_backend_url_escape(id);
  cleanup_free char *path = NULL;
  if (esc == NULL || asprintf(&path, "%s/%s", collection, esc) < 0)
    return nd_error_make(err, ENOMEM, "out of memory");
  cleanup_free char *url = nd_backend_url(base, path);
  long status = 0;
  cleanup_json json_t *reply = NULL;
  if (nd_backend_http_json(what, "DELETE", url, NULL, nd_backend_timeout_ms(), &status, &reply,
                           err) < 0)
    return -1;
  if (status != 200 && status != 204 && status != 404)
    return nd_backend_http_status_error(err, what, "DELETE", url, status, reply);
  return 0;
}
