/* plugin_config.c: the configuration table of netdra-node-plugin for lib/config.h's loader
 * (defaults < YAML file < environment < flags), plus derived values and checks; see
 * plugin_config.h. */
#include "plugin_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "names.h"

#define F(field) offsetof(nd_plugin_config, field)
static const nd_config_field plugin_table[] = {
    {"nodeName", ND_CFG_STRING, F(node_name), NULL, "NODE_NAME", "node-name",
     "name of this node (downward API spec.nodeName); required", NULL, 0, 0},
    {"driverName", ND_CFG_STRING, F(driver_name), "netdra.dev", "NETDRA_DRIVER_NAME",
     "driver-name", "DRA driver name, CDI vendor and opaque-config API group", NULL, 0, 0},
    {"kubeletPluginDir", ND_CFG_STRING, F(plugin_dir), NULL, "NETDRA_PLUGIN_DIR", "plugin-dir",
     "directory of the DRA socket (default /var/lib/kubelet/plugins/<driver>)", NULL, 0, 0},
    {"kubeletRegistryDir", ND_CFG_STRING, F(registry_dir), "/var/lib/kubelet/plugins_registry",
     "NETDRA_REGISTRY_DIR", "registry-dir", "kubelet plugin registration directory", NULL, 0, 0},
    {"cdiDir", ND_CFG_STRING, F(cdi_dir), "/var/run/cdi", "NETDRA_CDI_DIR", "cdi-dir",
     "where CDI specs of prepared claims are written", NULL, 0, 0},
    {"stateDir", ND_CFG_STRING, F(state_dir), "/var/lib/netdra", "NETDRA_STATE_DIR", "state-dir",
     "checkpoint and per-claim files", NULL, 0, 0},
    {"devRoot", ND_CFG_STRING, F(dev_root), "/", "NETDRA_DEV_ROOT", "dev-root",
     "root under which /sys and /dev of the host are found", NULL, 0, 0},
    {"kubeconfig", ND_CFG_STRING, F(kubeconfig), NULL, "KUBECONFIG", "kubeconfig",
     "kubeconfig file (default: in-cluster service account)", NULL, 0, 0},
    {"logFormat", ND_CFG_STRING, F(log_format), "text", "NETDRA_LOG_FORMAT", "log-format",
     "text or json", NULL, 0, 0},
    {"logLevel", ND_CFG_STRING, F(log_level), "info", "NETDRA_LOG_LEVEL", "log-level",
     "debug, info, warn or error", NULL, 0, 0},
    {"bootIdFile", ND_CFG_STRING, F(boot_id_file), "/proc/sys/kernel/random/boot_id",
     "NETDRA_BOOT_ID_FILE", "boot-id-file", "file holding the boot id (reboot detection)", NULL, 0, 0},
    {"workers", ND_CFG_INT, F(workers), "4", "NETDRA_WORKERS", "workers",
     "prepare/unprepare worker threads", NULL, 1, 64},
    {"healthIntervalSeconds", ND_CFG_INT, F(health_interval_s), "10", "NETDRA_HEALTH_INTERVAL",
     "health-interval", "seconds between full health lists on the health stream", NULL, 1, 25},
    {"localGPUs", ND_CFG_BOOL, F(publish_local_gpus), "true", "NETDRA_LOCAL_GPUS", "local-gpus",
     "publish the node's GPUs as a node-local ResourceSlice", NULL, 0, 0},
    {"metricsAddress", ND_CFG_STRING, F(metrics_address), NULL, "NETDRA_METRICS_ADDRESS",
     "metrics-address", "host:port of /metrics and /healthz (empty: off)", NULL, 0, 0},
    {0},
};

int nd_plugin_config_load(nd_plugin_config *cfg, int argc, char **argv, char *const *envp,
                          nd_error_t *err) {
  memset(cfg, 0, sizeof(*cfg));
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: %s [--config FILE] [flags]\n", argv[0]);
      nd_config_usage(plugin_table, stdout);
      return 1;
    }
  const char *config_path = NULL;
  for (char *const *e = envp; e && *e; e++)
    if (strncmp(*e, "NETDRA_CONFIG=", 14) == 0 && (*e)[14])
      config_path = *e + 14;
  if (nd_config_load(plugin_table, cfg, config_path, argc, argv, envp, err) < 0)
    return -1;
  if (cfg->node_name == NULL)
    return nd_error_make(err, EINVAL, "the node name is required (nodeName, --node-name or NODE_NAME)");
  if (nd_name_validate(ND_NAME_DRIVER_NAME, "driverName", cfg->driver_name, err) < 0 ||
      nd_name_validate(ND_NAME_DNS_SUBDOMAIN, "nodeName", cfg->node_name, err) < 0)
    return -1;
  if (cfg->plugin_dir == NULL &&
      asprintf(&cfg->plugin_dir, "/var/lib/kubelet/plugins/%s", cfg->driver_name) < 0)
    return nd_error_make(err, ENOMEM, "out of memory");
  nd_log_format fmt;
  nd_log_level lvl;
  if (nd_log_parse_format(cfg->log_format, &fmt) < 0)
    return nd_error_make(err, EINVAL, "logFormat \"%s\" must be text or json", cfg->log_format);
  if (nd_log_parse_level(cfg->log_level, &lvl) < 0)
    return nd_error_make(err, EINVAL, "logLevel \"%s\" must be debug, info, warn or error",
                         cfg->log_level);
  return 0;
}

void nd_plugin_config_clear(nd_plugin_config *cfg) { nd_config_free(plugin_table, cfg); }

char *nd_plugin_config_dra_socket(const nd_plugin_config *cfg) {
  char *p = NULL;
  if (asprintf(&p, "%s/dra.sock", cfg->plugin_dir) < 0)
    return NULL;
  return p;
}

char *nd_plugin_config_reg_socket(const nd_plugin_config *cfg) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s-reg.sock", cfg->registry_dir, cfg->driver_name) < 0)
    return NULL;
  return p;
}

void nd_plugin_config_reference(FILE *out) { nd_config_reference_markdown(plugin_table, out); }
