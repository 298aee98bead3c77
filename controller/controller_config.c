/* controller_config.c: the controller's settings table (lib/config.h) and its checks. */
#include "controller_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"

extern char **environ;

#define F(field) offsetof(nd_controller_config, field)
#define MS_DAY (24LL * 3600 * 1000)

static const nd_config_field LEADER[] = {
    {"enabled", ND_CFG_BOOL, F(leader_election), "true", "NETDRA_LEADER_ELECTION",
     "leader-election", "campaign on a Lease before writing (off: a single replica)", .fields = NULL},
    {"namespace", ND_CFG_STRING, F(lease_namespace), "netdra", "NETDRA_LEASE_NAMESPACE",
     "lease-namespace", "namespace of the Lease", .fields = NULL},
    {"leaseName", ND_CFG_STRING, F(lease_name), "netdra-controller", "NETDRA_LEASE_NAME",
     "lease-name", "name of the Lease", .fields = NULL},
    {"identity", ND_CFG_STRING, F(identity), NULL, "NETDRA_IDENTITY", "identity",
     "holder identity (default: $POD_NAME, else <hostname>_<pid>)", .fields = NULL},
    {"leaseDuration", ND_CFG_DURATION, F(lease_ms), "15s", "NETDRA_LEASE_DURATION",
     "lease-duration", "how long followers wait after the last renewal", .min = 1000,
     .max = MS_DAY},
    {"renewDeadline", ND_CFG_DURATION, F(renew_deadline_ms), "10s", "NETDRA_RENEW_DEADLINE",
     "renew-deadline", "the leader stops when it could not renew for this long", .min = 100,
     .max = MS_DAY},
    {"retryPeriod", ND_CFG_DURATION, F(retry_ms), "2s", "NETDRA_RETRY_PERIOD", "retry-period",
     "interval of acquire/renew attempts", .min = 50, .max = MS_DAY},
    {0}};

static const nd_config_field MQTT[] = {
    {"host", ND_CFG_STRING, F(mqtt_host), NULL, "NETDRA_MQTT_HOST", "mqtt-host",
     "MQTT broker host (empty: no MQTT source)", .fields = NULL},
    {"port", ND_CFG_INT, F(mqtt_port), "1883", "NETDRA_MQTT_PORT", "mqtt-port",
     "MQTT broker port", .min = 1, .max = 65535},
    {"tls", ND_CFG_BOOL, F(mqtt_tls), "false", "NETDRA_MQTT_TLS", "mqtt-tls", "TLS to the broker", .fields = NULL},
    {"caFile", ND_CFG_STRING, F(mqtt_ca_file), NULL, "NETDRA_MQTT_CA_FILE", "mqtt-ca-file",
     "CA bundle for the broker", .fields = NULL},
    {"usernameFile", ND_CFG_STRING, F(mqtt_username_file), NULL, "NETDRA_MQTT_USERNAME_FILE",
     "mqtt-username-file", "file holding the MQTT user name", .fields = NULL},
    {"passwordFile", ND_CFG_STRING, F(mqtt_password_file), NULL, "NETDRA_MQTT_PASSWORD_FILE",
     "mqtt-password-file", "file holding the MQTT password", .fields = NULL},
    {"topicPrefix", ND_CFG_STRING, F(mqtt_topic_prefix), "netdra/v1", "NETDRA_MQTT_TOPIC_PREFIX",
     "mqtt-topic-prefix", "announcement topic prefix", .fields = NULL},
    {"certFile", ND_CFG_STRING, F(mqtt_cert_file), NULL, "NETDRA_MQTT_CERT_FILE",
     "mqtt-cert-file", "TLS client certificate for the broker", .fields = NULL},
    {"keyFile", ND_CFG_STRING, F(mqtt_key_file), NULL, "NETDRA_MQTT_KEY_FILE", "mqtt-key-file",
     "key of the TLS client certificate", .fields = NULL},
    {"publishRejections", ND_CFG_BOOL, F(mqtt_publish_rejections), "true",
     "NETDRA_MQTT_PUBLISH_REJECTIONS", "mqtt-publish-rejections",
     "publish the reason of a rejected announcement back to the device", .fields = NULL},
    {0}};

static const nd_config_field STATIC_SRC[] = {
    {"inventory", ND_CFG_STRING_LIST, F(inventory_paths), NULL, "NETDRA_INVENTORY", "inventory",
     "static inventory YAML files", .fields = NULL},
    {0}};

static const nd_config_field MDNS[] = {
    {"enabled", ND_CFG_BOOL, F(mdns_enabled), "false", "NETDRA_MDNS", "mdns",
     "browse DNS-SD services with the embedded mDNS stack", .fields = NULL},
    {"interfaces", ND_CFG_STRING_LIST, F(mdns_interfaces), NULL, "NETDRA_MDNS_INTERFACES",
     "mdns-interfaces", "interfaces to browse on (default: all)", .fields = NULL},
    {"pool", ND_CFG_STRING, F(mdns_pool), "mdns", "NETDRA_MDNS_POOL", "mdns-pool",
     "pool (discovery domain) of mDNS devices", .fields = NULL},
    {0}};

static const nd_config_field DEVICES[] = {
    {"customTypes", ND_CFG_STRING_LIST, F(custom_types), NULL, "NETDRA_CUSTOM_TYPES",
     "custom-types", "device types accepted besides camera, cxl-memory and accelerator", .fields = NULL},
    {0}};

static const nd_config_field HEALTH[] = {
    {"staleAfter", ND_CFG_DURATION, F(stale_after_ms), "30s", "NETDRA_STALE_AFTER",
     "stale-after", "a stale device (missed heartbeats) becomes offline after this", .min = 100,
     .max = MS_DAY},
    {"taintGracePeriod", ND_CFG_DURATION, F(taint_grace_ms), "5m", "NETDRA_TAINT_GRACE_PERIOD",
     "taint-grace-period", "an offline (tainted) device is removed after this", .min = 100,
     .max = 30 * MS_DAY},
    {"recoveryHysteresis", ND_CFG_DURATION, F(hysteresis_ms), "30s",
     "NETDRA_RECOVERY_HYSTERESIS", "recovery-hysteresis",
     "a device must stay online this long before its taint is lifted", .min = 0, .max = MS_DAY},
    {0}};

static const nd_config_field SLICES[] = {
    {"alwaysBumpGeneration", ND_CFG_BOOL, F(always_bump_generation), "false",
     "NETDRA_ALWAYS_BUMP_GENERATION", "always-bump-generation",
     "bump the pool generation on every change (default: the reference controller's rule)", .fields = NULL},
    {"startupDelay", ND_CFG_DURATION, F(startup_delay_ms), "2s", "NETDRA_STARTUP_DELAY",
     "startup-delay", "wait this long for discovery before the first reconcile", .min = 0,
     .max = 600000},
    {"debounce", ND_CFG_DURATION, F(debounce_ms), "100ms", "NETDRA_DEBOUNCE", "debounce",
     "a change that finds nothing being written is written at once; changes that come while "
     "writes are in flight are held until none has come for this long", .min = 1, .max = 60000},
    {"debounceMax", ND_CFG_DURATION, F(debounce_max_ms), "3s", "NETDRA_DEBOUNCE_MAX",
     "debounce-max", "the longest a stream of changes is held before it is written", .min = 1,
     .max = 600000},
    {"resyncPeriod", ND_CFG_DURATION, F(resync_ms), "60s", "NETDRA_RESYNC_PERIOD",
     "resync-period", "periodic level-triggered reconcile", .min = 1000, .max = MS_DAY},
    {0}};

static const nd_config_field KUBE[] = {
    {"qps", ND_CFG_INT, F(qps), "50", "NETDRA_KUBE_API_QPS", "kube-api-qps",
     "API requests per second", .min = 1, .max = 100000},
    {"burst", ND_CFG_INT, F(burst), "100", "NETDRA_KUBE_API_BURST", "kube-api-burst",
     "API request burst", .min = 1, .max = 100000},
    {0}};

static const nd_config_field BINDING[] = {
    {"enabled", ND_CFG_BOOL, F(binding_conditions), "false", "NETDRA_BINDING_CONDITIONS",
     "binding-conditions",
     "publish binding conditions and attach through the fabric manager (DRADeviceBindingConditions)", .fields = NULL},
    {"fabricManagerURL", ND_CFG_STRING, F(fabric_manager_url), NULL, "NETDRA_FABRIC_MANAGER_URL",
     "fabric-manager-url", "fabric manager base URL (default: the device's endpoint)", .fields = NULL},
    {"attachTimeout", ND_CFG_DURATION, F(attach_timeout_ms), "10s", "NETDRA_ATTACH_TIMEOUT",
     "attach-timeout", "timeout of one fabric-manager call", .min = 100, .max = 600000},
    {0}};

static const nd_config_field TABLE[] = {
    {"driverName", ND_CFG_STRING, F(driver_name), "netdra.dev", "NETDRA_DRIVER_NAME",
     "driver-name", "driver name and attribute domain", .fields = NULL},
    {"kubeconfig", ND_CFG_STRING, F(kubeconfig), NULL, "KUBECONFIG", "kubeconfig",
     "kubeconfig file (default: in-cluster)", .fields = NULL},
    {"logFormat", ND_CFG_STRING, F(log_format), "text", "NETDRA_LOG_FORMAT", "log-format",
     "text or json", .fields = NULL},
    {"logLevel", ND_CFG_STRING, F(log_level), "info", "NETDRA_LOG_LEVEL", "log-level",
     "debug, info, warn or error", .fields = NULL},
    {"metricsAddress", ND_CFG_STRING, F(metrics_address), ":8080", "NETDRA_METRICS_ADDRESS",
     "metrics-address", "host:port of /metrics, /healthz, /readyz (empty: off)", .fields = NULL},
    {"pools", ND_CFG_STRING_LIST, F(pools), NULL, "NETDRA_POOLS", "pools",
     "pools published even when they have no device", .fields = NULL},
    {"leaderElection", ND_CFG_TABLE, 0, .fields = LEADER},
    {"mqtt", ND_CFG_TABLE, 0, .fields = MQTT},
    {"static", ND_CFG_TABLE, 0, .fields = STATIC_SRC},
    {"mdns", ND_CFG_TABLE, 0, .fields = MDNS},
    {"devices", ND_CFG_TABLE, 0, .fields = DEVICES},
    {"health", ND_CFG_TABLE, 0, .fields = HEALTH},
    {"slices", ND_CFG_TABLE, 0, .fields = SLICES},
    {"kubeAPI", ND_CFG_TABLE, 0, .fields = KUBE},
    {"bindingConditions", ND_CFG_TABLE, 0, .fields = BINDING},
    {0}};
#undef F

void nd_controller_config_reference(FILE *out) { nd_config_reference_markdown(TABLE, out); }

int nd_controller_config_load(nd_controller_config *cfg, int argc, char **argv, nd_error_t *err) {
  memset(cfg, 0, sizeof(*cfg));
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: netdra-controller [--config FILE] [--FLAG VALUE]...\n");
      nd_config_usage(TABLE, stdout);
      return 1;
    }
  }
  if (nd_config_load(TABLE, cfg, getenv("NETDRA_CONFIG"), argc, argv, environ, err) < 0)
    return -1;
  if (nd_name_validate(ND_NAME_DRIVER_NAME, "driverName", cfg->driver_name, err) < 0)
    return -1;
  if (cfg->leader_election &&
      (nd_name_validate(ND_NAME_DNS_SUBDOMAIN, "leaderElection.leaseName", cfg->lease_name, err) <
           0 ||
       nd_name_validate(ND_NAME_DNS_LABEL, "leaderElection.namespace", cfg->lease_namespace,
                        err) < 0))
    return -1;
  if (cfg->leader_election &&
      !(cfg->lease_ms > cfg->renew_deadline_ms && cfg->renew_deadline_ms * 10 > cfg->retry_ms * 12))
    return nd_error_make(err, EINVAL,
                         "leaderElection: need leaseDuration > renewDeadline > 1.2 x retryPeriod "
                         "(got %lld ms, %lld ms, %lld ms)",
                         (long long)cfg->lease_ms, (long long)cfg->renew_deadline_ms,
                         (long long)cfg->retry_ms);
  if (cfg->identity == NULL || cfg->identity[0] == '\0') {
    free(cfg->identity);
    cfg->identity = NULL;
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
  nd_config_free(TABLE, cfg);
  memset(cfg, 0, sizeof(*cfg));
}
