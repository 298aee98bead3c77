/* k8s_watch.c: list-then-watch of one collection on the event loop (see k8s_client.h).
 *
 * States: LISTING (paged GETs) -> SYNCED callback -> WATCHING (a streamed GET with
 * allowWatchBookmarks, newline-delimited JSON events parsed as they arrive) -> on the stream's
 * end, re-watch from the last resourceVersion seen (bookmarks keep it fresh); on 410 Gone
 * (HTTP or an ERROR event) relist; on any failure back off with jitter (0.2 s doubling to 30 s)
 * and try again. The consumer sees SYNCED with the full list after every (re)list (or, with
 * list_items_as_added, each item as ADDED as its page arrives, then SYNCED with the items'
 * metadata). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "k8s_internal.h"
#include "log.h"

#define MAX_EVENT_LINE (16u << 20)
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 30000
#define LIST_PAGE 500

typedef enum { W_IDLE, W_LISTING, W_WATCHING } watch_state;

struct nd_k8s_watch {
  nd_k8s_client *c;
  char *path, *query;
  nd_k8s_watch_cb cb;
  void *data;
  nd_k8s_watch_options opts;
  watch_state state;
  char *rv;             /* last resourceVersion seen */
  json_t *pending_list; /* pages collected while LISTING */
  char *cont;
  nd_k8s_stream *stream;
  char *line;
  size_t line_len;
  bool need_relist;
  bool stopped;
  bool in_callback;
  uint64_t backoff_ms;
  nd_timer *retry;
  bool list_in_flight;
};

static void start_list(nd_k8s_watch *w);
static void start_watch(nd_k8s_watch *w);

static void watch_free(nd_k8s_watch *w) {
  if (w->retry)
    nd_loop_del_timer(nd_k8s_client_loop(w->c), w->retry);
  json_decref(w->pending_list);
  free(w->cont);
  free(w->line);
  free(w->rv);
  free(w->path);
  free(w->query);
  free(w);
}

static void on_retry(nd_loop *loop, nd_timer *t, void *data) {
  nd_k8s_watch *w = data;
  if (w->need_relist || w->rv == NULL)
    start_list(w);
  else
    start_watch(w);
}

static void retry_later(nd_k8s_watch *w, const char *why) {
  w->state = W_IDLE;
  w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : BACKOFF_MIN_MS;
  if (w->backoff_ms > BACKOFF_MAX_MS)
    w->backoff_ms = BACKOFF_MAX_MS;
  /* jitter: 75% .. 125% */
  uint64_t delay = w->backoff_ms * (75 + (uint64_t)(random() % 51)) / 100;
  ND_LOG_WARN("k8s", "watch-retry", ND_KV_S("path", w->path), ND_KV_S("reason", why),
              ND_KV_I("delay_ms", delay));
  nd_error_t err = NULL;
  if (w->retry == NULL)
    w->retry = nd_loop_add_timer(nd_k8s_client_loop(w->c), delay, 0, on_retry, w, &err);
  else
    nd_timer_rearm(w->retry, delay, 0);
  nd_error_release(&err);
}

static void set_rv(nd_k8s_watch *w, const char *rv) {
  if (rv == NULL || *rv == '\0')
    return;
  free(w->rv);
  w->rv = strdup(rv);
}

static void deliver(nd_k8s_watch *w, nd_watch_event ev, json_t *obj) {
  w->in_callback = true;
  w->cb(w->c, ev, obj, w->data);
  w->in_callback = false;
}

/* ---- listing ------------------------------------------------------------------------------ */

static void on_list_page(nd_k8s_client *c, nd_k8s_result *r, void *data);

static void request_page(nd_k8s_watch *w) {
  cleanup_free char *url = NULL;
  cleanup_free char *cont = w->cont ? nd_k8s_escape(w->cont) : NULL;
  if (asprintf(&url, "%s?limit=%d%s%s%s%s", w->path,
               w->opts.list_page > 0 ? w->opts.list_page : LIST_PAGE, w->query ? "&" : "",
               w->query ? w->query : "", cont ? "&continue=" : "", cont ? cont : "") < 0)
    return retry_later(w, "out of memory");
  nd_error_t err = NULL;
  if (nd_k8s_request_async(w->c, "GET", url, NULL, NULL, on_list_page, w, &err) < 0) {
    retry_later(w, nd_error_msg(err));
    nd_error_release(&err);
    return;
  }
  w->list_in_flight = true;
}

static void start_list(nd_k8s_watch *w) {
  w->state = W_LISTING;
  w->need_relist = false;
  json_decref(w->pending_list);
  w->pending_list = json_array();
  free(w->cont);
  w->cont = NULL;
  request_page(w);
}

static void on_list_page(nd_k8s_client *c, nd_k8s_result *r, void *data) {
  nd_k8s_watch *w = data;
  w->list_in_flight = false;
  if (w->stopped) {
    watch_free(w);
    return;
  }
  if (r->http_status != 200) {
    free(w->cont);
    w->cont = NULL; /* an expired continue token (410) restarts the list */
    retry_later(w, r->message ? r->message : "list failed");
    w->need_relist = true;
    return;
  }
  json_t *items = json_object_get(r->body, "items");
  if (!w->opts.list_items_as_added) {
    json_array_extend(w->pending_list, items);
  } else {
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      json_t *meta = json_object_get(it, "metadata"), *skeleton = json_object();
      static const char *const keep[] = {"name", "namespace", "resourceVersion"};
      for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
        if (json_object_get(meta, keep[k]) != NULL)
          json_object_set(skeleton, keep[k], json_object_get(meta, keep[k]));
      json_array_append_new(w->pending_list, json_pack("{s:o}", "metadata", skeleton));
      deliver(w, ND_WATCH_ADDED, it);
      if (w->stopped)
        return; /* stopped from the callback: freed after this batch */
    }
  }
  json_t *meta = json_object_get(r->body, "metadata");
  const char *next = json_string_value(json_object_get(meta, "continue"));
  free(w->cont);
  w->cont = next && *next ? strdup(next) : NULL;
  if (w->cont) {
    request_page(w);
    return;
  }
  set_rv(w, json_string_value(json_object_get(meta, "resourceVersion")));
  json_t *list = json_pack("{s:O,s:{s:s?},s:o}", "kind", json_object_get(r->body, "kind"),
                           "metadata", "resourceVersion", w->rv, "items", w->pending_list);
  w->pending_list = NULL;
  w->backoff_ms = 0;
  deliver(w, ND_WATCH_SYNCED, list);
  json_decref(list);
  if (w->stopped)
    return; /* stopped from the callback: freed after this batch */
  start_watch(w);
}

/* ---- watching ----------------------------------------------------------------------------- */

int nd_k8s_watch_decode(const char *line, size_t len, nd_k8s_watch_line *out, nd_error_t *err) {
  memset(out, 0, sizeof(*out));
  json_error_t jerr;
  json_t *ev = json_loadb(line, len, 0, &jerr);
  if (ev == NULL)
    return nd_error_make(err, EINVAL, "watch event: invalid JSON: %s", jerr.text);
  const char *type = json_string_value(json_object_get(ev, "type"));
  json_t *obj = json_object_get(ev, "object");
  if (type == NULL || !json_is_object(obj)) {
    json_decref(ev);
    return nd_error_make(err, EINVAL, "watch event: needs a type and an object");
  }
  out->event = ev;
  out->object = obj;
  if (strcmp(type, "ERROR") == 0) {
    out->is_error = true;
    out->error_code = (int)json_integer_value(json_object_get(obj, "code"));
    return 0;
  }
  out->kind = strcmp(type, "ADDED") == 0      ? ND_WATCH_ADDED
              : strcmp(type, "MODIFIED") == 0 ? ND_WATCH_MODIFIED
              : strcmp(type, "DELETED") == 0  ? ND_WATCH_DELETED
              : strcmp(type, "BOOKMARK") == 0 ? ND_WATCH_BOOKMARK
                                              : (nd_watch_event)-1;
  if ((int)out->kind < 0) {
    nd_error_make(err, EINVAL, "watch event: unknown type \"%.40s\"", type);
    json_decref(ev);
    out->event = out->object = NULL;
    return -1;
  }
  out->resource_version =
      json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
  return 0;
}

static void handle_line(nd_k8s_watch *w, const char *line, size_t len) {
  nd_k8s_watch_line ev;
  nd_error_t err = NULL;
  if (nd_k8s_watch_decode(line, len, &ev, &err) < 0) {
    ND_LOG_WARN("k8s", "watch-bad-event", ND_KV_S("path", w->path), ND_KV_S("error", nd_error_msg(err)));
    nd_error_release(&err);
    return;
  }
  if (ev.is_error) {
    ND_LOG_INFO("k8s", "watch-error-event", ND_KV_S("path", w->path), ND_KV_I("code", ev.error_code),
                ND_KV_S("message", json_string_value(json_object_get(ev.object, "message"))));
    if (ev.error_code == 410)
      w->need_relist = true;
  } else {
    set_rv(w, ev.resource_version);
    deliver(w, ev.kind, ev.object);
  }
  json_decref(ev.event);
}

static size_t on_stream_data(const char *data, size_t len, void *user) {
  nd_k8s_watch *w = user;
  if (w->stopped)
    return 0;
  w->backoff_ms = 0;
  for (size_t i = 0; i < len; i++) {
    if (data[i] != '\n') {
      if (w->line_len + 1 >= MAX_EVENT_LINE) {
        ND_LOG_ERROR("k8s", "watch-event-too-large", ND_KV_S("path", w->path),
                     ND_KV_I("limit", MAX_EVENT_LINE));
        w->need_relist = true;
        return 0; /* abort the stream; relist */
      }
      if ((w->line_len & 4095) == 0) {
        char *grown = realloc(w->line, w->line_len + 4096 + 1);
        if (grown == NULL)
          return 0;
        w->line = grown;
      }
      w->line[w->line_len++] = data[i];
      continue;
    }
    if (w->line_len == 0)
      continue;
    size_t line_len = w->line_len;
    w->line_len = 0;
    handle_line(w, w->line, line_len);
    if (w->stopped)
      return 0;
  }
  return len;
}

static void on_stream_done(nd_k8s_client *c, nd_k8s_result *r, void *data) {
  nd_k8s_watch *w = data;
  w->stream = NULL;
  w->line_len = 0;
  if (r->http_status == 410)
    w->need_relist = true;
  if (r->http_status == 200 && !w->need_relist) {
    start_watch(w); /* server closed a healthy stream (timeout): resume from the last RV */
    return;
  }
  if (w->need_relist && r->http_status == 200) {
    start_list(w);
    return;
  }
  retry_later(w, r->message ? r->message : "watch stream failed");
}

static void start_watch(nd_k8s_watch *w) {
  cleanup_free char *url = NULL;
  cleanup_free char *rv = nd_k8s_escape(w->rv ? w->rv : "0");
  /* the server ends a watch after timeoutSeconds; a fresh one follows at once */
  long timeout_s = 300 + random() % 300;
  if (asprintf(&url, "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld%s%s",
               w->path, rv, timeout_s, w->query ? "&" : "", w->query ? w->query : "") < 0)
    return retry_later(w, "out of memory");
  nd_error_t err = NULL;
  w->state = W_WATCHING;
  w->stream = nd_k8s_stream_start(w->c, url, on_stream_data, on_stream_done, w, &err);
  if (w->stream == NULL) {
    retry_later(w, nd_error_msg(err));
    nd_error_release(&err);
  }
}

nd_k8s_watch *nd_k8s_watch_start(nd_k8s_client *c, const char *path, const char *query,
                                 nd_k8s_watch_cb cb, void *data, nd_error_t *err) {
  return nd_k8s_watch_start_opts(c, path, query, NULL, cb, data, err);
}

nd_k8s_watch *nd_k8s_watch_start_opts(nd_k8s_client *c, const char *path, const char *query,
                                      const nd_k8s_watch_options *opts, nd_k8s_watch_cb cb,
                                      void *data, nd_error_t *err) {
  if (nd_k8s_client_loop(c) == NULL)
    return nd_error_make(err, EINVAL, "watching %s needs a client with an event loop", path), NULL;
  nd_k8s_watch *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return nd_error_make(err, ENOMEM, "allocating watch"), NULL;
  w->c = c;
  w->path = strdup(path);
  w->query = query && *query ? strdup(query) : NULL;
  w->cb = cb;
  w->data = data;
  if (opts != NULL)
    w->opts = *opts;
  start_list(w);
  return w;
}

static void free_later(nd_loop *loop, void *data) { watch_free(data); }

void nd_k8s_watch_stop(nd_k8s_watch *w) {
  if (w == NULL || w->stopped)
    return;
  w->stopped = true;
  if (w->stream) {
    nd_k8s_stream_cancel(w->c, w->stream);
    w->stream = NULL;
  }
  if (w->list_in_flight)
    return; /* on_list_page frees it */
  if (w->in_callback)
    nd_loop_defer(nd_k8s_client_loop(w->c), free_later, w);
  else
    watch_free(w);
}
