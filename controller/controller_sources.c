/* controller_sources.c: starts the discovery sources the configuration names (MQTT broker,
 * static inventory files) on the controller's loop, feeding its registry; see
 * controller_sources.h. Every replica runs them, leader or not. */
#include "controller_sources.h"

#include <stdlib.h>

#include "controller.h"
#include "discovery.h"
#include "log.h"

struct nd_controller_sources {
  nd_mqtt_source *mqtt;
  nd_mdns_source *mdns;
  nd_static_source **statics;
  size_t n_statics;
};

int nd_controller_sources_start(nd_controller *c, nd_error_t *err) {
  struct nd_controller_sources *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return nd_error_make(err, 12, "allocating sources");
  c->sources = s;
  const nd_controller_config *cfg = &c->cfg;
  for (size_t i = 0; i < cfg->custom_types.count; i++)
    if (nd_announcement_allow_type(cfg->custom_types.items[i], err) < 0)
      return nd_error_wrap(err, "devices.customTypes");
  if (cfg->mqtt_host && *cfg->mqtt_host) {
    nd_mqtt_source_config mq = {.host = cfg->mqtt_host,
                                .port = (int)cfg->mqtt_port,
                                .tls = cfg->mqtt_tls,
                                .ca_file = cfg->mqtt_ca_file,
                                .cert_file = cfg->mqtt_cert_file,
                                .key_file = cfg->mqtt_key_file,
                                .username_file = cfg->mqtt_username_file,
                                .password_file = cfg->mqtt_password_file,
                                .topic_prefix = cfg->mqtt_topic_prefix,
                                .publish_status = cfg->mqtt_publish_rejections};
    s->mqtt = nd_mqtt_source_new(c->loop, c->registry, &mq, err);
    if (s->mqtt == NULL)
      return nd_error_wrap(err, "MQTT source");
  }
  if (cfg->inventory_paths.count) {
    s->statics = calloc(cfg->inventory_paths.count, sizeof(*s->statics));
    for (size_t i = 0; i < cfg->inventory_paths.count; i++) {
      s->statics[i] = nd_static_source_new(c->loop, c->registry, cfg->inventory_paths.items[i], err);
      if (s->statics[i] == NULL)
        return nd_error_wrap(err, "static inventory");
      s->n_statics++;
    }
  }
  if (cfg->mdns_enabled) {
    nd_mdns_source_config md = {.pool = cfg->mdns_pool,
                                .interfaces = (const char *const *)cfg->mdns_interfaces.items,
                                .n_interfaces = cfg->mdns_interfaces.count};
    s->mdns = nd_mdns_source_new(c->loop, c->registry, &md, err);
    if (s->mdns == NULL)
      return nd_error_wrap(err, "mDNS source");
  }
  ND_LOG_INFO("controller", "sources-started", ND_KV_B("mqtt", s->mqtt != NULL),
              ND_KV_B("mdns", s->mdns != NULL),
              ND_KV_I("inventories", s->n_statics));
  return 0;
}

void nd_controller_sources_stop(nd_controller *c) {
  struct nd_controller_sources *s = c->sources;
  if (s == NULL)
    return;
  nd_mqtt_source_free(s->mqtt);
  nd_mdns_source_free(s->mdns);
  for (size_t i = 0; i < s->n_statics; i++)
    nd_static_source_free(s->statics[i]);
  free(s->statics);
  free(s);
  c->sources = NULL;
}
