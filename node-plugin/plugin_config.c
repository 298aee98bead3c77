/* plugin_config.c: defaults, YAML file, environment and flags for netdra-node-plugin; see
 * plugin_config.h. The YAML file is a flat mapping of the field names in the table there. */
#include "plugin_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cleanup.h"
#include "log.h"
#include "names.h"

typedef enum { T_STR, T_INT, T_BOOL } value_type;
typedef struct {
  const char *yaml_key, *flag, *env;
  value_type type;
  size_t offset;
} option_spec;

#define STR(f) T_STR, offsetof(nd_plugin_config, f)
static const option_spec options[] = {
    {"nodeName", "node-name", "NODE_NAME", STR(node_name)},
    {"driverName", "driver-name", "NETDRA_DRIVER_NAME", STR(driver_name)},
    {"kubeletPluginDir", "plugin-dir", "NETDRA_PLUGIN_DIR", STR(plugin_dir)},
    {"kubeletRegistryDir", "registry-dir", "NETDRA_REGISTRY_DIR", STR(registry_dir)},
    {"cdiDir", "cdi-dir", "NETDRA_CDI_DIR", STR(cdi_dir)},
    {"stateDir", "state-dir", "NETDRA_STATE_DIR", STR(state_dir)},
    {"devRoot", "dev-root", "NETDRA_DEV_ROOT", STR(dev_root)},
    {"kubeconfig", "kubeconfig", "KUBECONFIG", STR(kubeconfig)},
    {"logFormat", "log-format", "NETDRA_LOG_FORMAT", STR(log_format)},
    {"logLevel", "log-level", "NETDRA_LOG_LEVEL", STR(log_level)},
    {"bootIdFile", "boot-id-file", "NETDRA_BOOT_ID_FILE", STR(boot_id_file)},
    {"workers", "workers", "NETDRA_WORKERS", T_INT, offsetof(nd_plugin_config, workers)},
    {"healthIntervalSeconds", "health-interval", "NETDRA_HEALTH_INTERVAL", T_INT,
     offsetof(nd_plugin_config, health_interval_s)},
    {"localGPUs", "local-gpus", "NETDRA_LOCAL_GPUS", T_BOOL,
     offsetof(nd_plugin_config, publish_local_gpus)},
    {"metricsAddress", "metrics-address", "NETDRA_METRICS_ADDRESS", STR(metrics_address)},
};

static int set_value(nd_plugin_config *cfg, const option_spec *o, const char *value,
                     const char *source, nd_error_t *err) {
  void *field = (char *)cfg + o->offset;
  switch (o->type) {
  case T_STR:
    if (*value == '\0')
      return nd_error_make(err, EINVAL, "%s: %s must not be empty", source, o->yaml_key);
    free(*(char **)field);
    *(char **)field = strdup(value);
    return 0;
  case T_INT: {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < 1 || v > 3600)
      return nd_error_make(err, EINVAL, "%s: %s \"%s\" must be an integer in 1..3600", source,
                           o->yaml_key, value);
    *(int *)field = (int)v;
    return 0;
  }
  case T_BOOL:
    if (strcmp(value, "true") == 0)
      *(bool *)field = true;
    else if (strcmp(value, "false") == 0)
      *(bool *)field = false;
    else
      return nd_error_make(err, EINVAL, "%s: %s \"%s\" must be true or false", source,
                           o->yaml_key, value);
    return 0;
  }
  return 0;
}

static const option_spec *find_yaml(const char *key) {
  for (size_t i = 0; i < ND_ARRAY_LEN(options); i++)
    if (strcmp(options[i].yaml_key, key) == 0)
      return &options[i];
  return NULL;
}

/* A flat YAML mapping of scalars: key: value. */
static int load_yaml(nd_plugin_config *cfg, const char *path, nd_error_t *err) {
  cleanup_file FILE *f = fopen(path, "r");
  if (f == NULL)
    return nd_error_make(err, errno, "config file %s: %s", path, strerror(errno));
  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_file(&parser, f);
  int depth = 0, rc = 0;
  cleanup_free char *key = NULL;
  for (bool done = false; !done && rc == 0;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = nd_error_make(err, EINVAL, "config file %s: line %zu: %s", path,
                         parser.problem_mark.line + 1, parser.problem ? parser.problem : "syntax");
      break;
    }
    size_t line = ev.start_mark.line + 1;
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = true;
      break;
    case YAML_MAPPING_START_EVENT:
      if (++depth > 1)
        rc = nd_error_make(err, EINVAL, "config file %s: line %zu: %s: nested mappings are not "
                                        "allowed (flat key: value only)",
                           path, line, key ? key : "(top)");
      break;
    case YAML_MAPPING_END_EVENT:
      depth--;
      break;
    case YAML_SEQUENCE_START_EVENT:
      rc = nd_error_make(err, EINVAL, "config file %s: line %zu: %s: lists are not allowed", path,
                         line, key ? key : "(top)");
      break;
    case YAML_SCALAR_EVENT: {
      const char *v = (const char *)ev.data.scalar.value;
      if (depth != 1) {
        rc = nd_error_make(err, EINVAL, "config file %s: line %zu: expected a mapping", path, line);
      } else if (key == NULL) {
        key = strdup(v);
        if (find_yaml(key) == NULL)
          rc = nd_error_make(err, EINVAL, "config file %s: line %zu: unknown key \"%s\"", path,
                             line, key);
      } else {
        char where[512];
        snprintf(where, sizeof(where), "config file %s: line %zu", path, line);
        rc = set_value(cfg, find_yaml(key), v, where, err);
        free(key);
        key = NULL;
      }
      break;
    }
    case YAML_ALIAS_EVENT:
      rc = nd_error_make(err, EINVAL, "config file %s: line %zu: aliases are not allowed", path,
                         line);
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return rc;
}

static void usage(const char *argv0) {
  printf("usage: %s [--config FILE] [options]\n", argv0);
  for (size_t i = 0; i < ND_ARRAY_LEN(options); i++)
    printf("  --%-22s (env %s, YAML %s)\n", options[i].flag, options[i].env, options[i].yaml_key);
}

static void set_default(char **field, const char *value) {
  if (*field == NULL)
    *field = strdup(value);
}

int nd_plugin_config_load(nd_plugin_config *cfg, int argc, char **argv, nd_error_t *err) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->workers = 4;
  cfg->health_interval_s = 10;
  cfg->publish_local_gpus = true;

  /* --config first (the file is the lowest of the explicit sources) */
  const char *config_file = getenv("NETDRA_CONFIG");
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(argv[0]);
      return 1;
    }
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      config_file = argv[i + 1];
    else if (strncmp(argv[i], "--config=", 9) == 0)
      config_file = argv[i] + 9;
  }
  if (config_file) {
    cfg->config_file = strdup(config_file);
    if (load_yaml(cfg, config_file, err) < 0)
      return -1;
  }
  for (size_t i = 0; i < ND_ARRAY_LEN(options); i++) {
    const char *v = getenv(options[i].env);
    char where[128];
    snprintf(where, sizeof(where), "environment variable %s", options[i].env);
    if (v && *v && set_value(cfg, &options[i], v, where, err) < 0)
      return -1;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0)
      return nd_error_make(err, EINVAL, "unexpected argument \"%s\" (see --help)", a);
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    if (nlen == 6 && strncmp(name, "config", 6) == 0) {
      if (!eq)
        i++;
      continue;
    }
    const option_spec *o = NULL;
    for (size_t k = 0; k < ND_ARRAY_LEN(options); k++)
      if (strlen(options[k].flag) == nlen && strncmp(options[k].flag, name, nlen) == 0)
        o = &options[k];
    if (o == NULL)
      return nd_error_make(err, EINVAL, "unknown flag --%.*s (see --help)", (int)nlen, name);
    const char *value = eq ? eq + 1 : NULL;
    if (value == NULL) {
      if (i + 1 >= argc)
        return nd_error_make(err, EINVAL, "flag --%s needs a value", o->flag);
      value = argv[++i];
    }
    char where[128];
    snprintf(where, sizeof(where), "flag --%s", o->flag);
    if (set_value(cfg, o, value, where, err) < 0)
      return -1;
  }
  if (cfg->node_name == NULL)
    return nd_error_make(err, EINVAL, "the node name is required (--node-name or NODE_NAME)");
  set_default(&cfg->driver_name, "netdra.dev");
  if (cfg->plugin_dir == NULL &&
      asprintf(&cfg->plugin_dir, "/var/lib/kubelet/plugins/%s", cfg->driver_name) < 0)
    return nd_error_make(err, ENOMEM, "out of memory");
  set_default(&cfg->registry_dir, "/var/lib/kubelet/plugins_registry");
  set_default(&cfg->cdi_dir, "/var/run/cdi");
  set_default(&cfg->state_dir, "/var/lib/netdra");
  set_default(&cfg->dev_root, "/");
  set_default(&cfg->log_format, "text");
  set_default(&cfg->log_level, "info");
  set_default(&cfg->boot_id_file, "/proc/sys/kernel/random/boot_id");
  if (nd_name_validate(ND_NAME_DRIVER_NAME, "driverName", cfg->driver_name, err) < 0 ||
      nd_name_validate(ND_NAME_DNS_SUBDOMAIN, "nodeName", cfg->node_name, err) < 0)
    return -1;
  nd_log_format fmt;
  nd_log_level lvl;
  if (nd_log_parse_format(cfg->log_format, &fmt) < 0)
    return nd_error_make(err, EINVAL, "logFormat \"%s\" must be text or json", cfg->log_format);
  if (nd_log_parse_level(cfg->log_level, &lvl) < 0)
    return nd_error_make(err, EINVAL, "logLevel \"%s\" must be debug, info, warn or error",
                         cfg->log_level);
  return 0;
}

void nd_plugin_config_clear(nd_plugin_config *cfg) {
  char **strs[] = {&cfg->config_file, &cfg->node_name,  &cfg->driver_name, &cfg->plugin_dir,
                   &cfg->registry_dir, &cfg->cdi_dir,   &cfg->state_dir,   &cfg->dev_root,
                   &cfg->kubeconfig,  &cfg->log_format, &cfg->log_level,   &cfg->boot_id_file,
                   &cfg->metrics_address};
  for (size_t i = 0; i < ND_ARRAY_LEN(strs); i++) {
    free(*strs[i]);
    *strs[i] = NULL;
  }
}

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
