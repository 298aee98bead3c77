/* controller_config.c: the controller's settings table and its three sources (YAML, env,
 * flags); see controller_config.h. */
#include "controller_config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "yaml_json.h"
#include "names.h"

typedef enum { OPT_STR, OPT_BOOL, OPT_INT, OPT_DURATION, OPT_DOUBLE } opt_type;

typedef struct {
  const char *flag; /* also NETDRA_<FLAG with '-' -> '_', upper case> */
  const char *yaml; /* dotted path in the YAML file */
  opt_type type;
  size_t offset;
  const char *help;
} opt_def;

#define F(field) offsetof(nd_controller_config, field)
static const opt_def OPTS[] = {
    {"driver-name", "driverName", OPT_STR, F(driver_name), "driver name and attribute domain"},
    {"kubeconfig", "kubeconfig", OPT_STR, F(kubeconfig), "kubeconfig (default: in-cluster)"},
    {"log-format", "logFormat", OPT_STR, F(log_format), "text|json"},
    {"log-level", "logLevel", OPT_STR, F(log_level), "debug|info|warn|error"},
    {"metrics-address", "metricsAddress", OPT_STR, F(metrics_address),
     "host:port of /metrics, /healthz, /readyz (empty: off)"},
    {"leader-election", "leaderElection.enabled", OPT_BOOL, F(leader_election),
     "campaign on a Lease before writing"},
    {"lease-namespace", "leaderElection.namespace", OPT_STR, F(lease_namespace),
     "namespace of the Lease"},
    {"lease-name", "leaderElection.leaseName", OPT_STR, F(lease_name), "name of the Lease"},
    {"identity", "leaderElection.identity", OPT_STR, F(identity),
     "holder identity (default: $POD_NAME, else hostname_pid)"},
    {"lease-duration", "leaderElection.leaseDuration", OPT_DURATION, F(lease_ms), "e.g. 15s"},
    {"renew-deadline", "leaderElection.renewDeadline", OPT_DURATION, F(renew_deadline_ms),
     "e.g. 10s"},
    {"retry-period", "leaderElection.retryPeriod", OPT_DURATION, F(retry_ms), "e.g. 2s"},
    {"mqtt-host", "mqtt.host", OPT_STR, F(mqtt_host), "MQTT broker host (empty: no MQTT)"},
    {"mqtt-port", "mqtt.port", OPT_INT, F(mqtt_port), "MQTT broker port"},
    {"mqtt-tls", "mqtt.tls", OPT_BOOL, F(mqtt_tls), "TLS to the broker"},
    {"mqtt-ca-file", "mqtt.caFile", OPT_STR, F(mqtt_ca_file), "CA bundle for the broker"},
    {"mqtt-username-file", "mqtt.usernameFile", OPT_STR, F(mqtt_username_file),
     "file holding the MQTT user name"},
    {"mqtt-password-file", "mqtt.passwordFile", OPT_STR, F(mqtt_password_file),
     "file holding the MQTT password"},
    {"mqtt-topic-prefix", "mqtt.topicPrefix", OPT_STR, F(mqtt_topic_prefix),
     "announcement topic prefix"},
    {"inventory", "static.inventory", OPT_STR, F(inventory_path), "static inventory YAML file"},
    {"pools", "pools", OPT_STR, F(pools), "comma-separated pools published even when empty"},
    {"stale-after", "health.staleAfter", OPT_DURATION, F(stale_after_ms),
     "stale -> offline after this"},
    {"taint-grace-period", "health.taintGracePeriod", OPT_DURATION, F(taint_grace_ms),
     "an offline (tainted) device is removed after this"},
    {"recovery-hysteresis", "health.recoveryHysteresis", OPT_DURATION, F(hysteresis_ms),
     "a device stays online this long before its taint is lifted"},
    {"always-bump-generation", "slices.alwaysBumpGeneration", OPT_BOOL,
     F(always_bump_generation), "bump the pool generation on every change"},
    {"startup-delay", "slices.startupDelay", OPT_DURATION, F(startup_delay_ms),
     "wait this long for discovery before the first reconcile"},
    {"debounce", "slices.debounce", OPT_DURATION, F(debounce_ms), "coalescing delay of writes"},
    {"resync-period", "slices.resyncPeriod", OPT_DURATION, F(resync_ms),
     "periodic level-triggered reconcile"},
    {"kube-api-qps", "kubeAPI.qps", OPT_DOUBLE, F(qps), "API request rate"},
    {"kube-api-burst", "kubeAPI.burst", OPT_INT, F(burst), "API request burst"},
    {"binding-conditions", "bindingConditions.enabled", OPT_BOOL, F(binding_conditions),
     "publish binding conditions and attach through the fabric manager"},
    {"fabric-manager-url", "bindingConditions.fabricManagerURL", OPT_STR, F(fabric_manager_url),
     "fabric manager base URL (default: the device's endpoint)"},
    {"binding-condition", "bindingConditions.condition", OPT_STR, F(binding_condition),
     "condition type set when the device is attached"},
    {"binding-failure-condition", "bindingConditions.failureCondition", OPT_STR,
     F(binding_failure_condition), "condition type set when attaching failed"},
};
#undef F

int nd_parse_duration_ms(const char *s, uint64_t *out) {
  if (s == NULL || *s == '\0')
    return -1;
  uint64_t total = 0;
  const char *p = s;
  while (*p) {
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || errno != 0 || v < 0)
      return -1;
    p = end;
    double mul;
    if (strncmp(p, "ms", 2) == 0) {
      mul = 1;
      p += 2;
    } else if (*p == 's') {
      mul = 1000;
      p++;
    } else if (*p == 'm') {
      mul = 60000;
      p++;
    } else if (*p == 'h') {
      mul = 3600000;
      p++;
    } else {
      return -1;
    }
    total += (uint64_t)(v * mul + 0.5);
  }
  *out = total;
  return 0;
}

static int set_value(nd_controller_config *cfg, const opt_def *o, const char *value,
                     const char *where, nd_error_t *err) {
  void *field = (char *)cfg + o->offset;
  switch (o->type) {
  case OPT_STR: {
    char **p = field;
    free(*p);
    *p = strdup(value);
    if (*p == NULL)
      abort();
    return 0;
  }
  case OPT_BOOL:
    if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0)
      *(bool *)field = true;
    else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0)
      *(bool *)field = false;
    else
      return nd_error_make(err, EINVAL, "%s: %s: expected true or false, got \"%s\"", where,
                           o->yaml, value);
    return 0;
  case OPT_INT: {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || errno != 0 || v < 0 || v > 1000000)
      return nd_error_make(err, EINVAL, "%s: %s: expected a number, got \"%s\"", where, o->yaml,
                           value);
    *(int *)field = (int)v;
    return 0;
  }
  case OPT_DOUBLE: {
    char *end;
    double v = strtod(value, &end);
    if (*value == '\0' || *end != '\0' || v <= 0)
      return nd_error_make(err, EINVAL, "%s: %s: expected a positive number, got \"%s\"", where,
                           o->yaml, value);
    *(double *)field = v;
    return 0;
  }
  case OPT_DURATION:
    if (nd_parse_duration_ms(value, (uint64_t *)field) < 0)
      return nd_error_make(err, EINVAL,
                           "%s: %s: expected a duration like 500ms, 15s, 5m, got \"%s\"", where,
                           o->yaml, value);
    return 0;
  }
  return 0;
}

static void defaults(nd_controller_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->driver_name = strdup("netdra.dev");
  cfg->log_format = strdup("text");
  cfg->log_level = strdup("info");
  cfg->metrics_address = strdup(":8080");
  cfg->leader_election = true;
  cfg->lease_namespace = strdup("netdra");
  cfg->lease_name = strdup("netdra-controller");
  cfg->lease_ms = 15000;
  cfg->renew_deadline_ms = 10000;
  cfg->retry_ms = 2000;
  cfg->mqtt_port = 1883;
  cfg->mqtt_topic_prefix = strdup("netdra/v1");
  cfg->stale_after_ms = 30000;
  cfg->taint_grace_ms = 300000;
  cfg->hysteresis_ms = 30000;
  cfg->startup_delay_ms = 2000;
  cfg->debounce_ms = 100;
  cfg->resync_ms = 60000;
  cfg->binding_condition = strdup("netdra.dev/attached");
  cfg->binding_failure_condition = strdup("netdra.dev/attach-failed");
}

void nd_controller_config_usage(FILE *out) {
  fprintf(out, "usage: netdra-controller [--config FILE] [--FLAG VALUE]...\n"
               "Every flag is also NETDRA_<FLAG> in the environment and a key in the file.\n\n");
  fprintf(out, "  %-28s %s\n", "--config", "YAML configuration file");
  for (size_t i = 0; i < ND_ARRAY_LEN(OPTS); i++)
    fprintf(out, "  --%-26s %s (%s)\n", OPTS[i].flag, OPTS[i].help, OPTS[i].yaml);
}

static char *env_name(const char *flag) {
  char *n = NULL;
  if (asprintf(&n, "NETDRA_%s", flag) < 0)
    abort();
  for (char *p = n; *p; p++)
    *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
  return n;
}

static const json_t *json_path(const json_t *doc, const char *dotted) {
  char buf[128];
  snprintf(buf, sizeof(buf), "%s", dotted);
  const json_t *cur = doc;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
    cur = json_object_get(cur, tok);
  return cur;
}

/* Keys of the file that no option knows: an error naming the key (typos must not pass). */
static int check_unknown(const json_t *obj, const char *prefix, const char *path,
                         nd_error_t *err) {
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    char full[160];
    snprintf(full, sizeof(full), "%s%s%s", prefix, prefix[0] ? "." : "", key);
    bool known = false, parent = false;
    size_t fl = strlen(full);
    for (size_t i = 0; i < ND_ARRAY_LEN(OPTS); i++) {
      known = known || strcmp(OPTS[i].yaml, full) == 0;
      parent = parent || (strncmp(OPTS[i].yaml, full, fl) == 0 && OPTS[i].yaml[fl] == '.');
    }
    if (parent && json_is_object(v)) {
      if (check_unknown(v, full, path, err) < 0)
        return -1;
    } else if (!known) {
      return nd_error_make(err, EINVAL, "%s: unknown key %s", path, full);
    }
  }
  return 0;
}

static int load_file(nd_controller_config *cfg, const char *path, nd_error_t *err) {
  nd_yaml_lines *lines = NULL;
  cleanup_json json_t *docs = nd_yaml_load_file(path, &lines, err);
  if (docs == NULL)
    return nd_error_wrap(err, "loading configuration");
  int rc = -1;
  const json_t *doc = json_array_get(docs, 0);
  if (json_array_size(docs) > 1) {
    nd_error_make(err, EINVAL, "%s: one YAML document expected, found %zu", path,
                  json_array_size(docs));
    goto out;
  }
  if (doc == NULL || json_is_null(doc)) {
    rc = 0; /* an empty file: defaults */
    goto out;
  }
  if (!json_is_object(doc)) {
    nd_error_make(err, EINVAL, "%s:%d: the top level must be a mapping", path,
                  nd_yaml_line_of(lines, doc));
    goto out;
  }
  if (check_unknown(doc, "", path, err) < 0)
    goto out;
  for (size_t i = 0; i < ND_ARRAY_LEN(OPTS); i++) {
    const json_t *v = json_path(doc, OPTS[i].yaml);
    if (v == NULL || json_is_null(v))
      continue;
    /* the line of the member, for messages */
    char where[512];
    const char *dot = strrchr(OPTS[i].yaml, '.');
    char parent_path[128];
    snprintf(parent_path, sizeof(parent_path), "%.*s", dot ? (int)(dot - OPTS[i].yaml) : 0,
             OPTS[i].yaml);
    const json_t *parent = dot ? json_path(doc, parent_path) : doc;
    nd_yaml_pos pos = nd_yaml_pos_of_member(lines, parent, dot ? dot + 1 : OPTS[i].yaml);
    snprintf(where, sizeof(where), "%s:%d", path, pos.line);
    char buf[64];
    const char *s;
    if (json_is_string(v))
      s = json_string_value(v);
    else if (json_is_boolean(v))
      s = json_is_true(v) ? "true" : "false";
    else if (json_is_integer(v))
      s = (snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v)), buf);
    else if (json_is_real(v))
      s = (snprintf(buf, sizeof(buf), "%g", json_real_value(v)), buf);
    else {
      nd_error_make(err, EINVAL, "%s: %s: expected a scalar", where, OPTS[i].yaml);
      goto out;
    }
    if (set_value(cfg, &OPTS[i], s, where, err) < 0)
      goto out;
  }
  rc = 0;
out:
  nd_yaml_lines_free(lines);
  return rc;
}

int nd_controller_config_load(nd_controller_config *cfg, int argc, char **argv, nd_error_t *err) {
  defaults(cfg);
  /* pass 1: --config and --help */
  const char *config = getenv("NETDRA_CONFIG");
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      nd_controller_config_usage(stdout);
      return 1;
    }
    if (strncmp(argv[i], "--config=", 9) == 0)
      config = argv[i] + 9;
    else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      config = argv[++i];
  }
  if (config != NULL) {
    cfg->config_path = strdup(config);
    if (load_file(cfg, config, err) < 0)
      return -1;
  }
  /* environment */
  for (size_t i = 0; i < ND_ARRAY_LEN(OPTS); i++) {
    cleanup_free char *name = env_name(OPTS[i].flag);
    const char *v = getenv(name);
    if (v != NULL && set_value(cfg, &OPTS[i], v, name, err) < 0)
      return -1;
  }
  /* flags: --name=value or --name value */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0)
      return nd_error_make(err, EINVAL, "unexpected argument \"%s\" (see --help)", a);
    a += 2;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    if (len == 6 && strncmp(a, "config", 6) == 0) {
      if (!eq)
        i++;
      continue;
    }
    const opt_def *o = NULL;
    for (size_t k = 0; k < ND_ARRAY_LEN(OPTS); k++)
      if (strlen(OPTS[k].flag) == len && strncmp(OPTS[k].flag, a, len) == 0)
        o = &OPTS[k];
    if (o == NULL)
      return nd_error_make(err, EINVAL, "unknown flag --%.*s (see --help)", (int)len, a);
    const char *value;
    if (eq)
      value = eq + 1;
    else if (o->type == OPT_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
      value = "true";
    else if (i + 1 < argc)
      value = argv[++i];
    else
      return nd_error_make(err, EINVAL, "flag --%s needs a value", o->flag);
    cleanup_free char *where = NULL;
    if (asprintf(&where, "flag --%s", o->flag) < 0)
      abort();
    if (set_value(cfg, o, value, where, err) < 0)
      return -1;
  }
  if (nd_name_validate(ND_NAME_DRIVER_NAME, "driverName", cfg->driver_name, err) < 0)
    return -1;
  if (cfg->leader_election &&
      (nd_name_validate(ND_NAME_DNS_SUBDOMAIN, "leaderElection.leaseName", cfg->lease_name, err) <
           0 ||
       nd_name_validate(ND_NAME_DNS_LABEL, "leaderElection.namespace", cfg->lease_namespace,
                        err) < 0))
    return -1;
  if (cfg->identity == NULL || cfg->identity[0] == '\0') {
    free(cfg->identity);
    const char *pod = getenv("POD_NAME");
    char host[256] = "netdra";
    gethostname(host, sizeof(host) - 1);
    if (pod != NULL && pod[0] != '\0')
      cfg->identity = strdup(pod);
    else if (asprintf(&cfg->identity, "%s_%d", host, (int)getpid()) < 0)
      abort();
  }
  return 0;
}

void nd_controller_config_clear(nd_controller_config *cfg) {
  free(cfg->config_path);
  for (size_t i = 0; i < ND_ARRAY_LEN(OPTS); i++)
    if (OPTS[i].type == OPT_STR)
      free(*(char **)((char *)cfg + OPTS[i].offset));
  memset(cfg, 0, sizeof(*cfg));
}
