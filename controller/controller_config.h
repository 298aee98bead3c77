/* controller_config.h: netdra-controller settings, loaded through lib/config.h with the
 * precedence defaults < YAML file (--config / NETDRA_CONFIG) < environment < flags. The table
 * in controller_config.c is the one list of keys; docs/controller.md shows them. */
#ifndef NETDRA_CONTROLLER_CONFIG_H
#define NETDRA_CONTROLLER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "error.h"

typedef struct {
  char *driver_name;
  char *kubeconfig;
  char *log_format, *log_level;
  char *metrics_address; /* "host:port" or ":port"; empty = no endpoint */
  /* leader election */
  bool leader_election;
  char *lease_namespace, *lease_name, *identity;
  int64_t lease_ms, renew_deadline_ms, retry_ms;
  /* discovery sources */
  char *mqtt_host;
  int64_t mqtt_port;
  bool mqtt_tls, mqtt_publish_rejections;
  char *mqtt_ca_file, *mqtt_username_file, *mqtt_password_file, *mqtt_topic_prefix;
  char *mqtt_cert_file, *mqtt_key_file;
  bool mdns_enabled;
  nd_config_strings mdns_interfaces;
  char *mdns_pool;
  nd_config_strings custom_types; /* device types besides the built-in three */
  nd_config_strings inventory_paths; /* static inventory files */
  nd_config_strings pools;           /* pools always published, even when empty */
  /* health */
  int64_t stale_after_ms, taint_grace_ms, hysteresis_ms;
  /* slices */
  bool always_bump_generation;
  int64_t startup_delay_ms, debounce_ms, debounce_max_ms, resync_ms;
  int64_t qps, burst;
  /* binding conditions */
  bool binding_conditions;
  char *fabric_manager_url;
  int64_t attach_timeout_ms;
} nd_controller_config;

/* Load from argv/environ. Returns 1 when --help was printed, 0 on success, -1 with err naming
 * the source, line and key. */
int nd_controller_config_load(nd_controller_config *cfg, int argc, char **argv, nd_error_t *err);
void nd_controller_config_clear(nd_controller_config *cfg);
/* Markdown reference of every key (docs). */
void nd_controller_config_reference(FILE *out);

#endif
