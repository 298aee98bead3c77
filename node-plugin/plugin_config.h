/* plugin_config.h: configuration of netdra-node-plugin from defaults, a YAML file, the
 * environment and command-line flags (later sources win, in that order).
 *
 * | field            | flag              | env                    | default                             |
 * |------------------|-------------------|------------------------|-------------------------------------|
 * | nodeName         | --node-name       | NODE_NAME              | (required)                          |
 * | driverName       | --driver-name     | NETDRA_DRIVER_NAME     | netdra.dev                          |
 * | kubeletPluginDir | --plugin-dir      | NETDRA_PLUGIN_DIR      | /var/lib/kubelet/plugins/<driver>   |
 * | kubeletRegistryDir | --registry-dir    | NETDRA_REGISTRY_DIR    | /var/lib/kubelet/plugins_registry   |
 * | cdiDir           | --cdi-dir         | NETDRA_CDI_DIR         | /var/run/cdi                        |
 * | stateDir         | --state-dir       | NETDRA_STATE_DIR       | /var/lib/netdra                     |
 * | devRoot          | --dev-root        | NETDRA_DEV_ROOT        | /                                   |
 * | kubeconfig       | --kubeconfig      | KUBECONFIG             | (in-cluster)                        |
 * | logFormat        | --log-format      | NETDRA_LOG_FORMAT      | text                                |
 * | logLevel         | --log-level       | NETDRA_LOG_LEVEL       | info                                |
 * | workers          | --workers         | NETDRA_WORKERS         | 4                                   |
 * | bootIdFile       | --boot-id-file    | NETDRA_BOOT_ID_FILE    | /proc/sys/kernel/random/boot_id     |
 * | healthIntervalSeconds | --health-interval | NETDRA_HEALTH_INTERVAL | 10                          |
 * | localGPUs        | --local-gpus      | NETDRA_LOCAL_GPUS      | true                                |
 * | metricsAddress   | --metrics-address | NETDRA_METRICS_ADDRESS | (off) "host:port" of /metrics, /healthz |
 * The YAML file is given with --config FILE (or NETDRA_CONFIG); unknown keys are errors.
 * Loading is lib/config.h's table-driven loader. */
#ifndef NETDRA_NODE_PLUGIN_PLUGIN_CONFIG_H
#define NETDRA_NODE_PLUGIN_PLUGIN_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "error.h"

typedef struct {
  char *node_name, *driver_name, *plugin_dir, *registry_dir, *cdi_dir, *state_dir, *dev_root;
  char *kubeconfig, *log_format, *log_level, *boot_id_file, *metrics_address;
  int64_t workers;
  int64_t health_interval_s;
  bool publish_local_gpus;
} nd_plugin_config;

/* Fill cfg from all sources (envp: "NAME=value" strings, NULL-terminated). Returns 1 when
 * --help was printed (exit 0), 0 on success, -1 with an error naming the flag, variable or
 * file/line/key at fault. */
int nd_plugin_config_load(nd_plugin_config *cfg, int argc, char **argv, char *const *envp,
                          nd_error_t *err);
void nd_plugin_config_clear(nd_plugin_config *cfg);
/* Markdown reference of every key, flag and variable (docs/configuration.md). */
void nd_plugin_config_reference(FILE *out);
/* Derived paths (heap): <pluginDir>/dra.sock and <registryDir>/<driver>-reg.sock. */
char *nd_plugin_config_dra_socket(const nd_plugin_config *cfg);
char *nd_plugin_config_reg_socket(const nd_plugin_config *cfg);

#endif
