/* cmd_slices.c: `netdractl slices`: the ResourceSlices of the driver, as a table (one row per
 * slice: pool, generation, devices, where usable), or the objects as JSON/YAML. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "k8s_client.h"
#include "netdractl.h"

static void where_usable(const json_t *spec, char *buf, size_t len) {
  if (json_string_value(json_object_get(spec, "nodeName")))
    snprintf(buf, len, "node %s", json_string_value(json_object_get(spec, "nodeName")));
  else if (json_is_true(json_object_get(spec, "allNodes")))
    snprintf(buf, len, "all nodes");
  else if (json_is_true(json_object_get(spec, "perDeviceNodeSelection")))
    snprintf(buf, len, "per device");
  else if (json_object_get(spec, "nodeSelector"))
    snprintf(buf, len, "node selector");
  else
    snprintf(buf, len, "?");
}

int cmd_slices(const ctl_globals *g, int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    fputs("usage: netdractl slices\n  Lists the ResourceSlices of the driver (-o json|yaml for the objects).\n",
          c == 'h' ? stdout : stderr);
    return c == 'h' ? 0 : 2;
  }
  cleanup_error nd_error_t err = NULL;
  nd_k8s_options kopts = {.kubeconfig_path = g->kubeconfig};
  nd_k8s_client *k = nd_k8s_client_new(NULL, &kopts, &err);
  if (k == NULL) {
    fprintf(stderr, "netdractl slices: %s\n", nd_error_msg(err));
    return 1;
  }
  cleanup_free char *driver = nd_k8s_escape(g->driver);
  cleanup_free char *query = NULL;
  if (asprintf(&query, "fieldSelector=spec.driver%%3D%s", driver) < 0)
    return 1;
  cleanup_json json_t *list = NULL;
  cleanup_free char *rv = NULL;
  int rc = nd_k8s_list_all(k, "/apis/resource.k8s.io/v1/resourceslices", query, 500, &list, &rv, &err);
  nd_k8s_client_free(k);
  if (rc < 0) {
    fprintf(stderr, "netdractl slices: %s\n", nd_error_msg(err));
    return 1;
  }
  json_t *items = json_object_get(list, "items");
  if (g->output == OUT_JSON) {
    ctl_print_json(stdout, items);
    return 0;
  }
  if (g->output == OUT_YAML)
    return ctl_print_yaml(stdout, items) < 0 ? 1 : 0;
  static const char *const header[] = {"NAME", "POOL", "GENERATION", "SLICES", "DEVICES", "TAINTED", "USABLE ON"};
  ctl_table *t = ctl_table_new(7, header);
  size_t idx;
  json_t *s;
  json_array_foreach(items, idx, s) {
    json_t *spec = json_object_get(s, "spec");
    json_t *pool = json_object_get(spec, "pool");
    json_t *devices = json_object_get(spec, "devices");
    size_t tainted = 0, di;
    json_t *d;
    json_array_foreach(devices, di, d) if (json_array_size(json_object_get(d, "taints"))) tainted++;
    char gen[32], count[32], ndev[32], nt[32], where[300];
    snprintf(gen, sizeof(gen), "%lld", (long long)json_integer_value(json_object_get(pool, "generation")));
    snprintf(count, sizeof(count), "%lld",
             (long long)json_integer_value(json_object_get(pool, "resourceSliceCount")));
    snprintf(ndev, sizeof(ndev), "%zu", json_array_size(devices));
    snprintf(nt, sizeof(nt), "%zu", tainted);
    where_usable(spec, where, sizeof(where));
    const char *row[] = {json_string_value(json_object_get(json_object_get(s, "metadata"), "name")),
                         json_string_value(json_object_get(pool, "name")), gen, count, ndev, nt, where};
    ctl_table_add(t, row);
  }
  ctl_table_print(stdout, t);
  ctl_table_free(t);
  return 0;
}
