/* controller_config.h: netdra-controller settings from defaults < YAML file < environment
 * (NETDRA_<KEY>) < command-line flags. Every setting has one YAML key, one flag and one
 * environment variable, listed in one table (controller_config.c) and in docs/controller.md. */
#ifndef NETDRA_CONTROLLER_CONFIG_H
#define NETDRA_CONTROLLER_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef struct {
  char *config_path;
  char *driver_name;
  char *kubeconfig;
  char *log_format, *log_level;
  char *metrics_address; /* "host:port" or ":port"; empty = no endpoint */
  /* leader election */
  bool leader_election;
  char *lease_namespace, *lease_name, *identity;
  uint64_t lease_ms, renew_deadline_ms, retry_ms;
  /* discovery sources */
  char *mqtt_host;
  int mqtt_port;
  bool mqtt_tls;
  char *mqtt_ca_file, *mqtt_username_file, *mqtt_password_file, *mqtt_topic_prefix;
  char *inventory_path; /* static inventory file, or NULL */
  char *pools;          /* comma-separated pools always published, even when empty */
  /* health */
  uint64_t stale_after_ms, taint_grace_ms, hysteresis_ms;
  /* slices */
  bool always_bump_generation;
  uint64_t startup_delay_ms, debounce_ms, resync_ms;
  double qps;
  int burst;
  /* binding conditions */
  bool binding_conditions;
  char *fabric_manager_url;
  char *binding_condition, *binding_failure_condition;
} nd_controller_config;

/* Parse argv (and the file named by --config / NETDRA_CONFIG, and the environment).
 * Returns 1 when --help was printed, 0 on success, -1 with err naming the flag/key. */
int nd_controller_config_load(nd_controller_config *cfg, int argc, char **argv, nd_error_t *err);
void nd_controller_config_clear(nd_controller_config *cfg);
void nd_controller_config_usage(FILE *out);

/* "500ms", "15s", "5m", "1h", "1h30m" -> milliseconds. */
int nd_parse_duration_ms(const char *s, uint64_t *out);

#endif
