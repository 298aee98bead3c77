/* mqtt_source.h: the MQTT discovery source (libmosquitto, driven by nd_loop: no mosquitto
 * thread). Subscribes to <prefix>/+/+/{config,availability,heartbeat} with QoS 1 and feeds the
 * registry (source "mqtt", pool = the topic's domain). Topic layout and payloads:
 * docs/announcements.md. */
#ifndef NETDRA_MQTT_SOURCE_H
#define NETDRA_MQTT_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "evloop.h"

struct nd_registry;

typedef struct {
  const char *host; /* broker host */
  int port;         /* 0: 1883, or 8883 with TLS */
  const char *client_id;   /* NULL: netdra-<hostname>-<pid> */
  bool tls;
  const char *ca_file;     /* TLS: CA bundle (hostname is verified) */
  const char *cert_file;   /* TLS client certificate, or NULL */
  const char *key_file;
  const char *username;    /* or read from username_file */
  const char *username_file;
  const char *password_file; /* the password is only ever read from a file */
  const char *topic_prefix;  /* NULL: "netdra/v1" */
  bool publish_status;       /* publish rejection reasons to .../status */
  int keepalive_s;           /* 0: 30 */
  int protocol;              /* 0: MQTT 5 with fallback to 3.1.1; 5 or 4 to force one */
} nd_mqtt_source_config;

typedef struct {
  uint64_t messages, accepted, rejected, removed, connects, disconnects;
  bool connected;
  int protocol; /* 5 or 4 once connected */
} nd_mqtt_source_stats;

typedef struct nd_mqtt_source nd_mqtt_source;

nd_mqtt_source *nd_mqtt_source_new(nd_loop *loop, struct nd_registry *reg,
                                   const nd_mqtt_source_config *cfg, nd_error_t *err);
void nd_mqtt_source_free(nd_mqtt_source *s);
const nd_mqtt_source_stats *nd_mqtt_source_stats_get(const nd_mqtt_source *s);

#endif
