/* discovery_probe.c: test and benchmark harness that runs discovery sources (MQTT, mDNS,
 * static inventory) and the registry on one loop and prints the registry as one JSON line per
 * change batch ({"changes":N,"devices":[...]}), until SIGTERM or --timeout seconds. */
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "discovery.h"
#include "log.h"
#include "mdns_source.h"

static bool quiet;

static const char *attr_kind(nd_attr_type t) {
  switch (t) {
  case ND_ATTR_INT:
    return "int";
  case ND_ATTR_BOOL:
    return "bool";
  case ND_ATTR_VERSION:
    return "version";
  default:
    return "string";
  }
}

static void print_registry(nd_registry *r, const nd_change *changes, size_t n, void *data) {
  json_t *out = json_object(), *devs = json_array();
  const char **pools;
  size_t np = nd_registry_pools(r, &pools);
  for (size_t p = 0; p < np; p++) {
    const nd_device **list;
    size_t nd = nd_registry_pool_devices(r, pools[p], &list);
    for (size_t i = 0; i < nd; i++) {
      const nd_device *d = list[i];
      json_t *attrs = json_object();
      for (size_t a = 0; a < d->n_attrs; a++) {
        const nd_attr *at = &d->attrs[a];
        json_t *v = at->type == ND_ATTR_INT    ? json_integer(at->num)
                    : at->type == ND_ATTR_BOOL ? json_boolean(at->flag)
                                               : json_string(at->str);
        json_object_set_new(attrs, at->name, json_pack("{s:o}", attr_kind(at->type), v));
      }
      json_t *caps = json_object();
      for (size_t c = 0; c < d->n_caps; c++)
        json_object_set_new(caps, d->caps[c].name, json_string(d->caps[c].quantity));
          json_array_append_new(
          devs, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:o,s:o,s:b,s:i,s:s}", "pool",
                          d->pool, "name", d->name, "id", d->id, "type", d->type, "vendor",
                          d->vendor, "model", d->model, "endpoint", d->endpoint, "secretName",
                          d->secret_name, "attributes", attrs, "capacities", caps, "allNodes",
                          d->all_nodes, "health", (int)d->health, "source", d->source));
    }
  }
  json_object_set_new(out, "devices", devs);
  json_object_set_new(out, "changes", json_integer((json_int_t)n));
  if (quiet) {
    printf("{\"changes\":%zu,\"count\":%zu}\n", n, nd_registry_count(r));
    fflush(stdout);
    json_decref(out);
    return;
  }
  char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
  printf("%s\n", s);
  fflush(stdout);
  free(s);
  json_decref(out);
}

static void on_signal(nd_loop *loop, int signo, void *data) { nd_loop_stop(loop); }
static void on_timeout(nd_loop *loop, nd_timer *t, void *data) { nd_loop_stop(loop); }

int main(int argc, char **argv) {
  const char *ifaces[8];
  size_t n_ifaces = 0;
  int timeout_s = 30;
  bool mdns = false;
  const char *inventory = NULL;
  nd_mqtt_source_config mq = {0};
  nd_registry_options ropts = {0};
  enum { O_MQTT_HOST = 1000, O_MQTT_PORT, O_CA, O_CERT, O_KEY, O_USER, O_PWFILE, O_STATUS,
         O_PROTOCOL, O_INVENTORY, O_MDNS, O_QUIET, O_STALE, O_GRACE };
  static const struct option opts[] = {{"interface", required_argument, NULL, 'i'},
                                        {"timeout", required_argument, NULL, 't'},
                                        {"mqtt-host", required_argument, NULL, O_MQTT_HOST},
                                        {"mqtt-port", required_argument, NULL, O_MQTT_PORT},
                                        {"ca", required_argument, NULL, O_CA},
                                        {"cert", required_argument, NULL, O_CERT},
                                        {"key", required_argument, NULL, O_KEY},
                                        {"username", required_argument, NULL, O_USER},
                                        {"password-file", required_argument, NULL, O_PWFILE},
                                        {"publish-status", no_argument, NULL, O_STATUS},
                                        {"protocol", required_argument, NULL, O_PROTOCOL},
                                        {"inventory", required_argument, NULL, O_INVENTORY},
                                        {"mdns", no_argument, NULL, O_MDNS},
                                        {"quiet", no_argument, NULL, O_QUIET},
                                        {"stale-after-ms", required_argument, NULL, O_STALE},
                                        {"offline-grace-ms", required_argument, NULL, O_GRACE},
                                        {NULL, 0, NULL, 0}};
  for (int c; (c = getopt_long(argc, argv, "i:t:", opts, NULL)) != -1;) {
    switch (c) {
    case 'i': if (n_ifaces < 8) ifaces[n_ifaces++] = optarg; mdns = true; break;
    case 't': timeout_s = atoi(optarg); break;
    case O_MQTT_HOST: mq.host = optarg; break;
    case O_MQTT_PORT: mq.port = atoi(optarg); break;
    case O_CA: mq.ca_file = optarg; mq.tls = true; break;
    case O_CERT: mq.cert_file = optarg; break;
    case O_KEY: mq.key_file = optarg; break;
    case O_USER: mq.username = optarg; break;
    case O_PWFILE: mq.password_file = optarg; break;
    case O_STATUS: mq.publish_status = true; break;
    case O_PROTOCOL: mq.protocol = atoi(optarg); break;
    case O_INVENTORY: inventory = optarg; break;
    case O_MDNS: mdns = true; break;
    case O_QUIET: quiet = true; break;
    case O_STALE: ropts.stale_after_ms = (uint64_t)atoll(optarg); break;
    case O_GRACE: ropts.offline_grace_ms = (uint64_t)atoll(optarg); break;
    default:
      fprintf(stderr, "usage: discovery_probe [--mqtt-host H --mqtt-port P [--ca F] [--cert F --key F] "
                      "[--username U --password-file F] [--publish-status]] [--inventory PATH] "
                      "[--mdns] [--interface IF]... [--timeout S] [--quiet]\n");
      return 2;
    }
  }
  cleanup_error nd_error_t err = NULL;
  signal(SIGPIPE, SIG_IGN);
  nd_loop *loop = nd_loop_new(&err);
  nd_registry *reg = loop ? nd_registry_new(loop, &ropts, &err) : NULL;
  nd_mdns_source_config cfg = {.pool = "mdns-test", .interfaces = ifaces, .n_interfaces = n_ifaces};
  nd_mdns_source *src = NULL;
  nd_mqtt_source *mqtt = NULL;
  nd_static_source *stat = NULL;
  if (reg && mdns)
    src = nd_mdns_source_new(loop, reg, &cfg, &err);
  if (reg && mq.host && !err)
    mqtt = nd_mqtt_source_new(loop, reg, &mq, &err);
  if (reg && inventory && !err)
    stat = nd_static_source_new(loop, reg, inventory, &err);
  if (reg == NULL || err) {
    fprintf(stderr, "discovery_probe: %s\n", nd_error_msg(err));
    return 1;
  }
  nd_registry_subscribe(reg, print_registry, NULL);
  nd_loop_add_signal(loop, SIGTERM, on_signal, NULL, &err);
  nd_loop_add_signal(loop, SIGINT, on_signal, NULL, &err);
  nd_timer *t = nd_loop_add_timer(loop, (uint64_t)timeout_s * 1000, 0, on_timeout, NULL, &err);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  int rc = nd_loop_run(loop, &err) < 0 ? 1 : 0;
  nd_loop_del_timer(loop, t);
  nd_mdns_source_free(src);
  nd_mqtt_source_free(mqtt);
  nd_static_source_free(stat);
  nd_registry_free(reg);
  nd_loop_free(loop);
  return rc;
}
