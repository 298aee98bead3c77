/* mdns_probe.c: test harness that runs the mDNS source and the registry on one loop and prints
 * the registry as one JSON line per change batch, until SIGTERM or --timeout seconds. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "discovery.h"
#include "log.h"
#include "mdns_source.h"

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
          devs, json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s?,s:o,s:o,s:b,s:i}", "pool", d->pool, "name",
                          d->name, "id", d->id, "type", d->type, "vendor", d->vendor, "endpoint",
                          d->endpoint, "attributes", attrs, "capacities", caps, "allNodes",
                          d->all_nodes, "health", (int)d->health));
    }
  }
  json_object_set_new(out, "devices", devs);
  json_object_set_new(out, "changes", json_integer((json_int_t)n));
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
  static const struct option opts[] = {{"interface", required_argument, NULL, 'i'},
                                        {"timeout", required_argument, NULL, 't'},
                                        {NULL, 0, NULL, 0}};
  for (int c; (c = getopt_long(argc, argv, "i:t:", opts, NULL)) != -1;) {
    if (c == 'i' && n_ifaces < 8)
      ifaces[n_ifaces++] = optarg;
    else if (c == 't')
      timeout_s = atoi(optarg);
    else {
      fprintf(stderr, "usage: mdns_probe [--interface IF]... [--timeout S]\n");
      return 2;
    }
  }
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_registry_options ropts = {0};
  nd_registry *reg = loop ? nd_registry_new(loop, &ropts, &err) : NULL;
  nd_mdns_source_config cfg = {.pool = "mdns-test", .interfaces = ifaces, .n_interfaces = n_ifaces};
  nd_mdns_source *src = reg ? nd_mdns_source_new(loop, reg, &cfg, &err) : NULL;
  if (src == NULL) {
    fprintf(stderr, "mdns_probe: %s\n", nd_error_msg(err));
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
  nd_registry_free(reg);
  nd_loop_free(loop);
  return rc;
}
