/* mqtt_source.c: MQTT announcements into the registry (see mqtt_source.h).
 *
 * libmosquitto runs on nd_loop: its socket is watched for reads (and writes while it wants
 * to write), a 1 s timer runs mosquitto_loop_misc for keepalives, and a lost connection is
 * retried with jittered exponential backoff (0.5 s .. 30 s); every connect resubscribes.
 * MQTT 5 is tried first; a broker that refuses the protocol version gets 3.1.1.
 *
 * No flapping on reconnect: a retained config that is delivered again is an upsert of an
 * equal device (no change); a retained config does not count as a sign of life (only live
 * messages, heartbeats and availability do); devices not re-delivered keep their state until
 * their own availability, ttl or an empty config says otherwise. */
#include "mqtt_source.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "discovery.h"
#include "log.h"
#include "names.h"
#include "strmap.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define SECRET_MAX 1024

struct nd_mqtt_source {
  nd_loop *loop;
  nd_registry *reg;
  struct mosquitto *mosq;
  char *host, *prefix, *client_id;
  int port, keepalive;
  bool publish_status;
  int protocol;      /* current attempt: 5 or 4 */
  bool allow_fallback;
  nd_watch *watch;
  int watched_fd;
  uint32_t watched_events;
  nd_timer *misc_timer;
  nd_timer *reconnect_timer;
  uint64_t backoff_ms;
  nd_strmap *availability; /* "domain/id" -> "online"/"offline" heard before the config */
  nd_mqtt_source_stats stats;
  /* what a fresh client needs: each (re)connect builds one, so no state from a broken
   * connection leaks into the next */
  char fail_reason[96]; /* set by callbacks; acted on after mosquitto returns */
  bool tls;
  char *ca_file, *cert_file, *key_file, *username, *password;
};

static int build_client(nd_mqtt_source *s, nd_error_t *err);

static void schedule_reconnect(nd_mqtt_source *s, const char *why);

static char *read_secret_file(const char *path, nd_error_t *err) {
  cleanup_file FILE *f = fopen(path, "r");
  if (f == NULL)
    return nd_error_make(err, errno, "reading %s: %s", path, strerror(errno)), NULL;
  char buf[SECRET_MAX];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  char *out = strdup(buf);
  explicit_bzero(buf, sizeof(buf));
  return out;
}

/* ---- socket plumbing ---------------------------------------------------------------------- */

static void update_watch(nd_mqtt_source *s);

static void on_io(nd_loop *loop, int fd, uint32_t events, void *data) {
  nd_mqtt_source *s = data;
  if (s->mosq == NULL)
    return;
  int rc = MOSQ_ERR_SUCCESS;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    rc = mosquitto_loop_read(s->mosq, 1);
  if (rc == MOSQ_ERR_SUCCESS && (events & EPOLLOUT) && !s->fail_reason[0])
    rc = mosquitto_loop_write(s->mosq, 1);
  if (s->fail_reason[0]) {
    char why[sizeof(s->fail_reason)];
    memcpy(why, s->fail_reason, sizeof(why));
    s->fail_reason[0] = '\0';
    schedule_reconnect(s, why);
    return;
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    schedule_reconnect(s, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    return;
  }
  if (events & (EPOLLERR | EPOLLHUP)) {
    /* a connect that failed (refused, reset) shows only as an error on the socket, and
     * mosquitto_loop_read does not report it while the connect is pending */
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) {
      schedule_reconnect(s, strerror(soerr));
      return;
    }
    if ((events & EPOLLHUP) && !s->stats.connected) {
      schedule_reconnect(s, "connection closed");
      return;
    }
  }
  update_watch(s);
}

static void unwatch(nd_mqtt_source *s) {
  if (s->watch) {
    nd_loop_del_fd(s->loop, s->watch);
    s->watch = NULL;
    s->watched_fd = -1;
  }
}

static void update_watch(nd_mqtt_source *s) {
  int fd = mosquitto_socket(s->mosq);
  if (fd < 0) {
    unwatch(s);
    return;
  }
  uint32_t ev = EPOLLIN | (mosquitto_want_write(s->mosq) ? EPOLLOUT : 0);
  nd_error_t err = NULL;
  if (s->watch && s->watched_fd != fd)
    unwatch(s);
  if (s->watch == NULL) {
    s->watch = nd_loop_add_fd(s->loop, fd, ev, on_io, s, &err);
    s->watched_fd = fd;
  } else if (ev != s->watched_events) {
    nd_loop_mod_fd(s->loop, s->watch, ev, &err);
  }
  s->watched_events = ev;
  if (err) {
    ND_LOG_ERROR("mqtt", "watch-failed", ND_KV_S("error", nd_error_msg(err)));
    nd_error_release(&err);
  }
}

static void on_misc(nd_loop *loop, nd_timer *t, void *data) {
  nd_mqtt_source *s = data;
  if (s->mosq == NULL || mosquitto_socket(s->mosq) < 0)
    return;
  int rc = mosquitto_loop_misc(s->mosq);
  if (s->fail_reason[0] || (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)) {
    schedule_reconnect(s, s->fail_reason[0] ? s->fail_reason : mosquitto_strerror(rc));
    s->fail_reason[0] = '\0';
    return;
  }
  update_watch(s);
}

static int start_connect(nd_mqtt_source *s) {
  nd_error_t err = NULL;
  if (s->mosq == NULL && build_client(s, &err) < 0) {
    ND_LOG_ERROR("mqtt", "client-failed", ND_KV_S("error", nd_error_msg(err)));
    nd_error_release(&err);
    return MOSQ_ERR_NOMEM;
  }
  mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                       s->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_int_option(s->mosq, MOSQ_OPT_TCP_NODELAY, 1);
  int rc = mosquitto_connect_async(s->mosq, s->host, s->port, s->keepalive);
  if (rc != MOSQ_ERR_SUCCESS)
    return rc;
  update_watch(s);
  return MOSQ_ERR_SUCCESS;
}

static void on_reconnect_timer(nd_loop *loop, nd_timer *t, void *data) {
  nd_mqtt_source *s = data;
  int rc = start_connect(s);
  if (rc != MOSQ_ERR_SUCCESS)
    schedule_reconnect(s, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

static void drop_client(nd_mqtt_source *s) {
  unwatch(s);
  if (s->mosq) {
    mosquitto_destroy(s->mosq);
    s->mosq = NULL;
  }
}

static void schedule_reconnect(nd_mqtt_source *s, const char *why) {
  drop_client(s);
  if (s->stats.connected)
    s->stats.disconnects++;
  s->stats.connected = false;
  s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
  if (s->backoff_ms > BACKOFF_MAX_MS)
    s->backoff_ms = BACKOFF_MAX_MS;
  uint64_t delay = s->backoff_ms * (75 + (uint64_t)(random() % 51)) / 100;
  ND_LOG_WARN("mqtt", "disconnected", ND_KV_S("broker", s->host), ND_KV_I("port", s->port),
              ND_KV_S("reason", why), ND_KV_I("retry_ms", delay));
  nd_timer_rearm(s->reconnect_timer, delay, 0);
}

/* ---- protocol callbacks (run inside mosquitto_loop_read) ---------------------------------- */

static void on_connect(struct mosquitto *m, void *data, int rc, int flags,
                       const mosquitto_property *props) {
  nd_mqtt_source *s = data;
  if (rc != 0) {
    bool version_refused = rc == CONNACK_REFUSED_PROTOCOL_VERSION || rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION;
    if (version_refused && s->protocol == 5 && s->allow_fallback) {
      ND_LOG_INFO("mqtt", "protocol-fallback", ND_KV_S("from", "5"), ND_KV_S("to", "3.1.1"));
      s->protocol = 4;
      s->backoff_ms = 0;
    }
    snprintf(s->fail_reason, sizeof(s->fail_reason), "connection refused: %s",
             s->protocol == 5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc));
    return;
  }
  s->stats.connected = true;
  s->stats.connects++;
  s->stats.protocol = s->protocol;
  s->backoff_ms = 0;
  static const char *const kinds[] = {"config", "availability", "heartbeat"};
  for (size_t i = 0; i < ND_ARRAY_LEN(kinds); i++) {
    char topic[512];
    snprintf(topic, sizeof(topic), "%s/+/+/%s", s->prefix, kinds[i]);
    int src = mosquitto_subscribe(m, NULL, topic, 1);
    if (src != MOSQ_ERR_SUCCESS)
      ND_LOG_ERROR("mqtt", "subscribe-failed", ND_KV_S("topic", topic),
                   ND_KV_S("error", mosquitto_strerror(src)));
  }
  ND_LOG_INFO("mqtt", "connected", ND_KV_S("broker", s->host), ND_KV_I("port", s->port),
              ND_KV_I("protocol", s->protocol == 5 ? 5 : 311));
}

static void on_disconnect(struct mosquitto *m, void *data, int rc, const mosquitto_property *p) {
  nd_mqtt_source *s = data;
  /* mosquitto calls this from loop_read/misc: the client is rebuilt after it returns */
  if (rc != 0 && !s->fail_reason[0])
    snprintf(s->fail_reason, sizeof(s->fail_reason), "%s", mosquitto_strerror(rc));
}

static void publish_status(nd_mqtt_source *s, const char *domain, const char *id,
                           const char *reason) {
  if (!s->publish_status)
    return;
  char topic[512];
  snprintf(topic, sizeof(topic), "%s/%s/%s/status", s->prefix, domain, id);
  cleanup_json json_t *doc = json_pack("{s:b,s:s?,s:I}", "accepted", reason == NULL, "reason",
                                       reason, "time", (json_int_t)(nd_wall_ms() / 1000));
  cleanup_free char *payload = json_dumps(doc, JSON_COMPACT);
  mosquitto_publish(s->mosq, NULL, topic, (int)strlen(payload), payload, 1, true);
}

/* <prefix>/<domain>/<id>/<kind>: split into parts; false when the layout is wrong */
static bool split_topic(nd_mqtt_source *s, const char *topic, char *domain, char *id, char *kind) {
  size_t pl = strlen(s->prefix);
  if (strncmp(topic, s->prefix, pl) != 0 || topic[pl] != '/')
    return false;
  const char *p = topic + pl + 1;
  const char *slash1 = strchr(p, '/');
  const char *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
  if (!slash1 || !slash2 || strchr(slash2 + 1, '/'))
    return false;
  size_t dl = (size_t)(slash1 - p), il = (size_t)(slash2 - slash1 - 1);
  if (dl == 0 || dl > 253 || il == 0 || il > 64 || strlen(slash2 + 1) > 15)
    return false;
  memcpy(domain, p, dl);
  domain[dl] = '\0';
  memcpy(id, slash1 + 1, il);
  id[il] = '\0';
  strcpy(kind, slash2 + 1);
  return true;
}

static void on_message(struct mosquitto *m, void *data, const struct mosquitto_message *msg,
                       const mosquitto_property *props) {
  nd_mqtt_source *s = data;
  char domain[254], id[65], kind[16];
  s->stats.messages++;
  if (!split_topic(s, msg->topic, domain, id, kind)) {
    char quoted[300];
    ND_LOG_WARN("mqtt", "bad-topic", ND_KV_S("topic", nd_name_quote_bare(quoted, sizeof(quoted), msg->topic)));
    s->stats.rejected++;
    return;
  }
  char key[330];
  snprintf(key, sizeof(key), "%s/%s", domain, id);
  const char *payload = msg->payload ? (const char *)msg->payload : "";
  size_t len = (size_t)msg->payloadlen;
  if (strcmp(kind, "config") == 0) {
    if (len == 0) {
      if (nd_registry_remove(s->reg, "mqtt", domain, id) == 0)
        s->stats.removed++;
      free(nd_strmap_del(s->availability, key));
      return;
    }
    cleanup_error nd_error_t err = NULL;
    nd_device *d = nd_announcement_parse_bytes("mqtt", domain, id, payload, len, &err);
    if (d == NULL || nd_registry_upsert(s->reg, d, &err) < 0) {
      char quoted[200];
      s->stats.rejected++;
      ND_LOG_WARN("mqtt", "announcement-rejected", ND_KV_S("domain", domain),
                  ND_KV_S("id", nd_name_quote_bare(quoted, sizeof(quoted), id)),
                  ND_KV_S("reason", nd_error_msg(err)));
      publish_status(s, domain, id, nd_error_msg(err));
      return;
    }
    s->stats.accepted++;
    publish_status(s, domain, id, NULL);
    const char *avail = nd_strmap_get(s->availability, key);
    if (avail && strcmp(avail, "offline") == 0)
      nd_registry_set_health(s->reg, "mqtt", domain, id, ND_HEALTH_OFFLINE);
    else if (!msg->retain)
      nd_registry_touch(s->reg, "mqtt", domain, id);
  } else if (strcmp(kind, "availability") == 0) {
    bool online = len == 6 && memcmp(payload, "online", 6) == 0;
    bool offline = len == 7 && memcmp(payload, "offline", 7) == 0;
    if (!online && !offline) {
      s->stats.rejected++;
      ND_LOG_WARN("mqtt", "bad-availability", ND_KV_S("domain", domain), ND_KV_S("id", id),
                  ND_KV_S("reason", "payload must be \"online\" or \"offline\""));
      return;
    }
    if (nd_strmap_size(s->availability) < 200000)
      free(nd_strmap_put(s->availability, key, strdup(online ? "online" : "offline")));
    nd_registry_set_health(s->reg, "mqtt", domain, id, online ? ND_HEALTH_ONLINE : ND_HEALTH_OFFLINE);
  } else if (strcmp(kind, "heartbeat") == 0) {
    if (!msg->retain)
      nd_registry_touch(s->reg, "mqtt", domain, id);
  }
}

static void on_log(struct mosquitto *m, void *data, int level, const char *str) {
  if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
    ND_LOG_DEBUG("mqtt", "client", ND_KV_S("message", str));
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

nd_mqtt_source *nd_mqtt_source_new(nd_loop *loop, nd_registry *reg,
                                   const nd_mqtt_source_config *cfg, nd_error_t *err) {
  if (cfg->host == NULL || *cfg->host == '\0')
    return nd_error_make(err, EINVAL, "mqtt: a broker host is required"), NULL;
  static bool lib_ready;
  if (!lib_ready) {
    mosquitto_lib_init();
    lib_ready = true;
  }
  nd_mqtt_source *s = calloc(1, sizeof(*s));
  s->loop = loop;
  s->reg = reg;
  s->host = strdup(cfg->host);
  s->port = cfg->port ? cfg->port : (cfg->tls ? 8883 : 1883);
  s->prefix = strdup(cfg->topic_prefix ? cfg->topic_prefix : "netdra/v1");
  s->keepalive = cfg->keepalive_s > 0 ? cfg->keepalive_s : 30;
  s->publish_status = cfg->publish_status;
  s->protocol = cfg->protocol == 4 ? 4 : 5;
  s->allow_fallback = cfg->protocol == 0;
  s->watched_fd = -1;
  s->availability = nd_strmap_new();
  if (cfg->client_id) {
    s->client_id = strdup(cfg->client_id);
  } else {
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    if (asprintf(&s->client_id, "netdra-%.40s-%d", host, (int)getpid()) < 0)
      s->client_id = NULL;
  }
  s->tls = cfg->tls;
  s->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
  s->cert_file = cfg->cert_file ? strdup(cfg->cert_file) : NULL;
  s->key_file = cfg->key_file ? strdup(cfg->key_file) : NULL;
  if (cfg->username)
    s->username = strdup(cfg->username);
  else if (cfg->username_file && (s->username = read_secret_file(cfg->username_file, err)) == NULL)
    goto fail;
  if (cfg->password_file && (s->password = read_secret_file(cfg->password_file, err)) == NULL)
    goto fail;
  if (build_client(s, err) < 0) /* checks TLS files and credentials now, not at first connect */
    goto fail;
  s->misc_timer = nd_loop_add_timer(loop, 1000, 1000, on_misc, s, err);
  s->reconnect_timer = nd_loop_add_timer(loop, 0, 0, on_reconnect_timer, s, err);
  if (s->misc_timer == NULL || s->reconnect_timer == NULL)
    goto fail;
  nd_timer_disarm(s->reconnect_timer);
  int rc = start_connect(s);
  if (rc != MOSQ_ERR_SUCCESS)
    schedule_reconnect(s, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
  return s;
fail:
  nd_mqtt_source_free(s);
  return NULL;
}

static int build_client(nd_mqtt_source *s, nd_error_t *err) {
  s->mosq = mosquitto_new(s->client_id, true, s);
  if (s->mosq == NULL)
    return nd_error_make(err, errno, "mqtt: creating the client: %s", strerror(errno));
  mosquitto_connect_v5_callback_set(s->mosq, on_connect);
  mosquitto_disconnect_v5_callback_set(s->mosq, on_disconnect);
  mosquitto_message_v5_callback_set(s->mosq, on_message);
  mosquitto_log_callback_set(s->mosq, on_log);
  int rc;
  if (s->tls) {
    rc = mosquitto_tls_set(s->mosq, s->ca_file, NULL, s->cert_file, s->key_file, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
      drop_client(s);
      return nd_error_make(err, EINVAL, "mqtt: TLS setup (ca %s, cert %s): %s",
                           s->ca_file ? s->ca_file : "-", s->cert_file ? s->cert_file : "-",
                           mosquitto_strerror(rc));
    }
  }
  if (s->username || s->password) {
    rc = mosquitto_username_pw_set(s->mosq, s->username, s->password);
    if (rc != MOSQ_ERR_SUCCESS) {
      drop_client(s);
      return nd_error_make(err, EINVAL, "mqtt: credentials: %s", mosquitto_strerror(rc));
    }
  }
  return 0;
}

static void free_value(void *v) { free(v); }

void nd_mqtt_source_free(nd_mqtt_source *s) {
  if (s == NULL)
    return;
  unwatch(s);
  if (s->misc_timer)
    nd_loop_del_timer(s->loop, s->misc_timer);
  if (s->reconnect_timer)
    nd_loop_del_timer(s->loop, s->reconnect_timer);
  if (s->mosq)
    mosquitto_disconnect(s->mosq);
  drop_client(s);
  nd_strmap_free(s->availability, free_value);
  free(s->ca_file);
  free(s->cert_file);
  free(s->key_file);
  free(s->username);
  if (s->password)
    explicit_bzero(s->password, strlen(s->password));
  free(s->password);
  free(s->host);
  free(s->prefix);
  free(s->client_id);
  free(s);
}

const nd_mqtt_source_stats *nd_mqtt_source_stats_get(const nd_mqtt_source *s) { return &s->stats; }
