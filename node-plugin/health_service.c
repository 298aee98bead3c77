/* health_service.c: DRAResourceHealth.NodeWatchResources server streams; see health_service.h.
 * v1alpha1 and v1 differ only in the package name, so one macro encodes both. */
#include "health_service.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "dra_health_v1.pb-c.h"
#include "dra_health_v1alpha1.pb-c.h"
#include "log.h"

#define MESSAGE_MAX 1024

typedef struct stream {
  nd_health_service *h;
  nd_grpc_call *call;
  int version; /* 1 = v1, 0 = v1alpha1 */
  struct stream *next;
} stream;

struct nd_health_service {
  nd_loop *loop;
  nd_health_source_fn source;
  void *data;
  nd_timer *timer;
  stream *streams;
  json_t *last; /* last list sent */
};

static int health_value(const char *h) {
  if (h && strcmp(h, "healthy") == 0)
    return 1;
  if (h && strcmp(h, "unhealthy") == 0)
    return 2;
  return 0;
}

#define HEALTH_ENCODE_IMPL(ver, T, f, M)                                                           \
  static uint8_t *encode_##ver(const json_t *list, size_t *len) {                                  \
    size_t n = json_array_size(list);                                                              \
    T##DeviceHealth *items = calloc(n ? n : 1, sizeof(*items));                                    \
    T##DeviceHealth **ptrs = calloc(n ? n : 1, sizeof(*ptrs));                                     \
    T##DeviceIdentifier *ids = calloc(n ? n : 1, sizeof(*ids));                                    \
    char **msgs = calloc(n ? n : 1, sizeof(*msgs));                                                \
    int64_t now = (int64_t)time(NULL);                                                             \
    for (size_t i = 0; i < n; i++) {                                                               \
      const json_t *d = json_array_get(list, i);                                                   \
      T##DeviceHealth item = M##DEVICE_HEALTH__INIT;                                               \
      T##DeviceIdentifier id = M##DEVICE_IDENTIFIER__INIT;                                         \
      items[i] = item;                                                                             \
      ids[i] = id;                                                                                 \
      ids[i].pool_name = (char *)json_string_value(json_object_get(d, "pool"));                    \
      ids[i].device_name = (char *)json_string_value(json_object_get(d, "device"));                \
      if (ids[i].pool_name == NULL)                                                                \
        ids[i].pool_name = (char *)"";                                                             \
      if (ids[i].device_name == NULL)                                                              \
        ids[i].device_name = (char *)"";                                                           \
      items[i].device = &ids[i];                                                                   \
      items[i].health =                                                                            \
          health_value(json_string_value(json_object_get(d, "health")));                           \
      items[i].last_updated_time = now;                                                            \
      const char *m = json_string_value(json_object_get(d, "message"));                            \
      msgs[i] = strndup(m ? m : "", MESSAGE_MAX);                                                  \
      items[i].message = msgs[i];                                                                  \
      ptrs[i] = &items[i];                                                                         \
    }                                                                                              \
    T##NodeWatchResourcesResponse resp = M##NODE_WATCH_RESOURCES_RESPONSE__INIT;                   \
    resp.n_devices = n;                                                                            \
    resp.devices = ptrs;                                                                           \
    *len = f##node_watch_resources_response__get_packed_size(&resp);                               \
    uint8_t *buf = malloc(*len ? *len : 1);                                                        \
    f##node_watch_resources_response__pack(&resp, buf);                                            \
    for (size_t i = 0; i < n; i++)                                                                 \
      free(msgs[i]);                                                                               \
    free(msgs);                                                                                    \
    free(ids);                                                                                     \
    free(ptrs);                                                                                    \
    free(items);                                                                                   \
    return buf;                                                                                    \
  }

HEALTH_ENCODE_IMPL(v1, V1__, v1__, V1__)
HEALTH_ENCODE_IMPL(v1alpha1, V1alpha1__, v1alpha1__, V1ALPHA1__)

static void send_to(stream *s, const json_t *list) {
  size_t len = 0;
  uint8_t *buf = s->version == 1 ? encode_v1(list, &len) : encode_v1alpha1(list, &len);
  nd_grpc_call_send(s->call, buf, len);
  free(buf);
}

static void send_all(nd_health_service *h, bool only_if_changed) {
  json_t *list = h->source(h->data);
  if (list == NULL)
    return;
  if (only_if_changed && h->last && json_equal(list, h->last)) {
    json_decref(list);
    return;
  }
  for (stream *s = h->streams; s; s = s->next)
    send_to(s, list);
  json_decref(h->last);
  h->last = list;
}

static void on_stream_closed(nd_grpc_call *call, void *data) {
  stream *s = data;
  nd_health_service *h = s->h;
  for (stream **pp = &h->streams; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  ND_LOG_INFO("health", "stream-closed", ND_KV_S("api", s->version ? "v1" : "v1alpha1"));
  free(s);
}

static void open_stream(nd_grpc_call *call, void *data, int version) {
  nd_health_service *h = data;
  stream *s = calloc(1, sizeof(*s));
  s->h = h;
  s->call = call;
  s->version = version;
  s->next = h->streams;
  h->streams = s;
  nd_grpc_call_on_close(call, on_stream_closed, s);
  ND_LOG_INFO("health", "stream-opened", ND_KV_S("api", version ? "v1" : "v1alpha1"));
  json_t *list = h->source(h->data);
  if (list) {
    send_to(s, list); /* the full list right away */
    json_decref(h->last);
    h->last = list;
  }
}

static void watch_v1(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  open_stream(call, data, 1);
}
static void watch_v1alpha1(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  open_stream(call, data, 0);
}

static void on_tick(nd_loop *loop, nd_timer *t, void *data) { send_all(data, false); }

nd_health_service *nd_health_service_new(nd_loop *loop, nd_grpc_server *srv,
                                         nd_health_source_fn source, void *data,
                                         int interval_s, nd_error_t *err) {
  nd_health_service *h = calloc(1, sizeof(*h));
  if (h == NULL) {
    nd_error_make(err, ENOMEM, "health service: out of memory");
    return NULL;
  }
  h->loop = loop;
  h->source = source;
  h->data = data;
  uint64_t ms = (uint64_t)(interval_s > 0 ? interval_s : 10) * 1000;
  if (nd_grpc_server_add_method(srv, "/v1alpha1.DRAResourceHealth/NodeWatchResources", true,
                                watch_v1alpha1, h, err) < 0 ||
      nd_grpc_server_add_method(srv, "/v1.DRAResourceHealth/NodeWatchResources", true, watch_v1, h,
                                err) < 0 ||
      (h->timer = nd_loop_add_timer(loop, ms, ms, on_tick, h, err)) == NULL) {
    free(h);
    return NULL;
  }
  return h;
}

void nd_health_service_changed(nd_health_service *h) { send_all(h, true); }

size_t nd_health_service_streams(const nd_health_service *h) {
  size_t n = 0;
  for (stream *s = h->streams; s; s = s->next)
    n++;
  return n;
}

void nd_health_service_free(nd_health_service *h) {
  if (h == NULL)
    return;
  nd_loop_del_timer(h->loop, h->timer);
  while (h->streams) {
    stream *s = h->streams;
    h->streams = s->next;
    free(s);
  }
  json_decref(h->last);
  free(h);
}
