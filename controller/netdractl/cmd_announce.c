/* cmd_announce.c: `netdractl announce`: publish a device announcement over MQTT for testing,
 * from flags or from a JSON file; the document is checked with the controller's own parser
 * before anything is published. Also takes a device offline or removes it. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "discovery.h"
#include "netdractl.h"

#define ANNOUNCE_MAX 65536

typedef struct {
  const char *host, *cafile, *cert, *key, *username, *password_file, *prefix, *domain;
  int port;
} mqtt_target;

static json_t *typed_value(const char *v) {
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (*v && *end == '\0' && errno == 0)
    return json_pack("{s:I}", "int", (json_int_t)n);
  if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
    return json_pack("{s:b}", "bool", v[0] == 't');
  return json_pack("{s:s}", "string", v);
}

static int add_pair(json_t *obj, const char *kv, bool typed, const char *flag) {
  const char *eq = strchr(kv, '=');
  if (eq == NULL || eq == kv) {
    fprintf(stderr, "netdractl announce: %s %s: expected NAME=VALUE\n", flag, kv);
    return -1;
  }
  char name[128];
  snprintf(name, sizeof(name), "%.*s", (int)(eq - kv), kv);
  json_object_set_new(obj, name, typed ? typed_value(eq + 1) : json_string(eq + 1));
  return 0;
}

static char *read_file(const char *path, size_t *len) {
  cleanup_file FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  char *buf = malloc(ANNOUNCE_MAX + 1);
  *len = fread(buf, 1, ANNOUNCE_MAX + 1, f);
  if (*len > ANNOUNCE_MAX) {
    free(buf);
    errno = EFBIG;
    return NULL;
  }
  buf[*len] = '\0';
  return buf;
}

static volatile int published;
static void on_publish(struct mosquitto *m, void *ud, int mid) { published++; }

static int publish_all(const mqtt_target *t, const char *topics[], const char *payloads[], size_t n) {
  mosquitto_lib_init();
  struct mosquitto *m = mosquitto_new(NULL, true, NULL);
  int rc = MOSQ_ERR_SUCCESS;
  if (t->cafile)
    rc = mosquitto_tls_set(m, t->cafile, NULL, t->cert, t->key, NULL);
  char password[256] = "";
  if (rc == MOSQ_ERR_SUCCESS && t->password_file) {
    cleanup_file FILE *f = fopen(t->password_file, "r");
    if (f == NULL || fgets(password, sizeof(password), f) == NULL) {
      fprintf(stderr, "netdractl announce: reading %s: %s\n", t->password_file, strerror(errno));
      mosquitto_destroy(m);
      return 1;
    }
    password[strcspn(password, "\r\n")] = '\0';
  }
  if (rc == MOSQ_ERR_SUCCESS && t->username)
    rc = mosquitto_username_pw_set(m, t->username, t->password_file ? password : NULL);
  mosquitto_publish_callback_set(m, on_publish);
  if (rc == MOSQ_ERR_SUCCESS)
    rc = mosquitto_connect(m, t->host, t->port, 30);
  for (size_t i = 0; rc == MOSQ_ERR_SUCCESS && i < n; i++)
    rc = mosquitto_publish(m, NULL, topics[i], (int)strlen(payloads[i]), payloads[i], 1, true);
  for (int spins = 0; rc == MOSQ_ERR_SUCCESS && published < (int)n && spins < 100; spins++)
    rc = mosquitto_loop(m, 100, 1);
  if (rc == MOSQ_ERR_SUCCESS && published < (int)n)
    rc = MOSQ_ERR_TLS; /* never acknowledged */
  if (rc != MOSQ_ERR_SUCCESS)
    fprintf(stderr, "netdractl announce: broker %s:%d: %s\n", t->host, t->port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
  mosquitto_disconnect(m);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return rc == MOSQ_ERR_SUCCESS ? 0 : 1;
}

static void usage(FILE *out) {
  fputs("usage: netdractl announce [broker flags] (--file F | --id ID --type T [device flags]) [--offline|--remove]\n"
        "broker: --broker HOST:PORT (127.0.0.1:1883) --cafile F --cert F --key F --username U\n"
        "        --password-file F --prefix netdra/v1 --domain DOMAIN (default)\n"
        "device: --vendor V --model M --attr NAME=VALUE... --cap NAME=QUANTITY... --endpoint URL\n"
        "        --secret NS/NAME --region ID --zone ZONE --ttl SECONDS\n"
        "--offline publishes availability offline; --remove clears the retained config.\n",
        out);
}

int cmd_announce(const ctl_globals *g, int argc, char **argv) {
  mqtt_target t = {.host = "127.0.0.1", .port = 1883, .prefix = "netdra/v1", .domain = "default"};
  const char *file = NULL, *id = NULL, *type = NULL, *vendor = NULL, *model = NULL;
  const char *endpoint = NULL, *secret = NULL, *region = NULL, *zone = NULL;
  int ttl = 0, offline = 0, remove_dev = 0;
  cleanup_json json_t *attrs = json_object();
  cleanup_json json_t *caps = json_object();
  static char broker_host[256];
  enum { O_BROKER = 1000, O_CAFILE, O_CERT, O_KEY, O_USER, O_PWFILE, O_PREFIX, O_DOMAIN, O_FILE,
         O_ID, O_TYPE, O_VENDOR, O_MODEL, O_ATTR, O_CAP, O_ENDPOINT, O_SECRET, O_REGION, O_ZONE,
         O_TTL, O_OFFLINE, O_REMOVE };
  static const struct option opts[] = {
      {"broker", required_argument, NULL, O_BROKER},     {"cafile", required_argument, NULL, O_CAFILE},
      {"cert", required_argument, NULL, O_CERT},         {"key", required_argument, NULL, O_KEY},
      {"username", required_argument, NULL, O_USER},     {"password-file", required_argument, NULL, O_PWFILE},
      {"prefix", required_argument, NULL, O_PREFIX},     {"domain", required_argument, NULL, O_DOMAIN},
      {"file", required_argument, NULL, O_FILE},         {"id", required_argument, NULL, O_ID},
      {"type", required_argument, NULL, O_TYPE},         {"vendor", required_argument, NULL, O_VENDOR},
      {"model", required_argument, NULL, O_MODEL},       {"attr", required_argument, NULL, O_ATTR},
      {"cap", required_argument, NULL, O_CAP},           {"endpoint", required_argument, NULL, O_ENDPOINT},
      {"secret", required_argument, NULL, O_SECRET},     {"region", required_argument, NULL, O_REGION},
      {"zone", required_argument, NULL, O_ZONE},         {"ttl", required_argument, NULL, O_TTL},
      {"offline", no_argument, NULL, O_OFFLINE},         {"remove", no_argument, NULL, O_REMOVE},
      {"help", no_argument, NULL, 'h'},                  {NULL, 0, NULL, 0}};
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    switch (c) {
    case O_BROKER: {
      const char *colon = strrchr(optarg, ':');
      if (colon == NULL || atoi(colon + 1) <= 0) {
        fprintf(stderr, "netdractl announce: --broker %s: expected HOST:PORT\n", optarg);
        return 2;
      }
      snprintf(broker_host, sizeof(broker_host), "%.*s", (int)(colon - optarg), optarg);
      t.host = broker_host;
      t.port = atoi(colon + 1);
      break;
    }
    case O_CAFILE: t.cafile = optarg; break;
    case O_CERT: t.cert = optarg; break;
    case O_KEY: t.key = optarg; break;
    case O_USER: t.username = optarg; break;
    case O_PWFILE: t.password_file = optarg; break;
    case O_PREFIX: t.prefix = optarg; break;
    case O_DOMAIN: t.domain = optarg; break;
    case O_FILE: file = optarg; break;
    case O_ID: id = optarg; break;
    case O_TYPE: type = optarg; break;
    case O_VENDOR: vendor = optarg; break;
    case O_MODEL: model = optarg; break;
    case O_ATTR: if (add_pair(attrs, optarg, true, "--attr") < 0) return 2; break;
    case O_CAP: if (add_pair(caps, optarg, false, "--cap") < 0) return 2; break;
    case O_ENDPOINT: endpoint = optarg; break;
    case O_SECRET: secret = optarg; break;
    case O_REGION: region = optarg; break;
    case O_ZONE: zone = optarg; break;
    case O_TTL: ttl = atoi(optarg); break;
    case O_OFFLINE: offline = 1; break;
    case O_REMOVE: remove_dev = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  cleanup_json json_t *doc = NULL;
  if (file) {
    size_t len = 0;
    cleanup_free char *buf = read_file(file, &len);
    if (buf == NULL) {
      fprintf(stderr, "netdractl announce: %s: %s\n", file, strerror(errno));
      return 1;
    }
    json_error_t jerr;
    doc = json_loadb(buf, len, 0, &jerr);
    if (doc == NULL) {
      fprintf(stderr, "netdractl announce: %s:%d:%d: %s\n", file, jerr.line, jerr.column, jerr.text);
      return 1;
    }
    if (id == NULL)
      id = json_string_value(json_object_get(doc, "id"));
  } else if (!offline && !remove_dev) {
    if (id == NULL || type == NULL) {
      fputs("netdractl announce: --id and --type are required without --file\n", stderr);
      return 2;
    }
    doc = json_pack("{s:i,s:s,s:s}", "schemaVersion", 1, "id", id, "type", type);
    if (vendor) json_object_set_new(doc, "vendor", json_string(vendor));
    if (model) json_object_set_new(doc, "model", json_string(model));
    if (json_object_size(attrs)) json_object_set(doc, "attributes", attrs);
    if (json_object_size(caps)) json_object_set(doc, "capacities", caps);
    json_t *attach = json_object();
    if (endpoint) json_object_set_new(attach, "endpoint", json_string(endpoint));
    if (region) json_object_set_new(attach, "fabricRegion", json_string(region));
    if (secret) {
      const char *slash = strchr(secret, '/');
      if (slash == NULL) {
        json_decref(attach);
        fprintf(stderr, "netdractl announce: --secret %s: expected NAMESPACE/NAME\n", secret);
        return 2;
      }
      json_object_set_new(attach, "secretRef", json_pack("{s:s%,s:s}", "namespace", secret,
                                                         (size_t)(slash - secret), "name", slash + 1));
    }
    if (json_object_size(attach)) json_object_set(doc, "attach", attach);
    json_decref(attach);
    if (zone)
      json_object_set_new(doc, "reachability",
                          json_pack("{s:[{s:s,s:s,s:[s]}]}", "nodeSelector", "key",
                                    "topology.kubernetes.io/zone", "operator", "In", "values", zone));
    else
      json_object_set_new(doc, "reachability", json_pack("{s:b}", "allNodes", 1));
    if (ttl > 0) json_object_set_new(doc, "ttl", json_integer(ttl));
  }
  if (id == NULL) {
    fputs("netdractl announce: no device id (--id, or \"id\" in the file)\n", stderr);
    return 2;
  }
  char config_topic[512], avail_topic[512];
  snprintf(config_topic, sizeof(config_topic), "%s/%s/%s/config", t.prefix, t.domain, id);
  snprintf(avail_topic, sizeof(avail_topic), "%s/%s/%s/availability", t.prefix, t.domain, id);
  if (remove_dev) {
    const char *topics[] = {config_topic};
    const char *payloads[] = {""};
    return publish_all(&t, topics, payloads, 1);
  }
  if (offline) {
    const char *topics[] = {avail_topic};
    const char *payloads[] = {"offline"};
    return publish_all(&t, topics, payloads, 1);
  }
  cleanup_error nd_error_t err = NULL;
  nd_device *dev = nd_announcement_parse("mqtt", t.domain, id, doc, &err);
  if (dev == NULL) {
    fprintf(stderr, "netdractl announce: %s: %s\n", file ? file : id, nd_error_msg(err));
    return 1;
  }
  nd_device_free(dev);
  cleanup_free char *payload = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  const char *topics[] = {config_topic, avail_topic};
  const char *payloads[] = {payload, "online"};
  int rc = publish_all(&t, topics, payloads, 2);
  if (rc == 0 && g->output == OUT_TABLE)
    printf("announced %s on %s\n", id, config_topic);
  return rc;
}
