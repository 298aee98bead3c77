/* metrics_server.c: Prometheus metrics and health endpoints of netdra-controller. */
#include "metrics_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding_conditions.h"
#include "cleanup.h"
#include "controller.h"
#include "http_endpoint.h"
#include "json_dump.h"
#include "metrics.h"

struct nd_metrics_server {
  nd_controller *c;
  nd_http_server *http;
  nd_metrics *reg;
  nd_metric *devices, *pool_devices, *skipped, *tainted, *slices, *writes, *reconciles, *leader,
      *transitions, *discovery, *k8s_requests, *k8s_errors, *attach;
  /* counters are raised to the components' own totals at each scrape (nd_metric_raise_to) */
  json_t *exported_pools;
};

static const char *const OPS[] = {"delete", "update", "create"};
static const char *const RESULTS[] = {"ok", "conflict", "retry", "invalid"};
static const char *const STATES[] = {"online", "stale", "offline"};
static const char *const KINDS[] = {"added", "updated", "health", "removed"};

static void refresh(nd_metrics_server *m) {
  nd_controller *c = m->c;
  uint64_t by_health[3], skipped;
  nd_controller_plan_totals(c, by_health, &skipped);
  for (int s = 0; s < 3; s++)
    nd_metric_set(m->devices, (const char *[]){STATES[s]}, (double)by_health[s]);
  nd_metric_set(m->skipped, NULL, (double)skipped);
  nd_metric_set(m->tainted, NULL, (double)nd_health_taints_count(c->taints));
  nd_metric_set(m->slices, NULL, (double)nd_reconciler_slice_count(c->reconciler));
  nd_metric_set(m->leader, NULL, c->leading && c->started && !c->shutting_down ? 1.0 : 0.0);
  /* devices per pool, from the registry; pools that went away are dropped */
  json_t *now = json_object();
  const char **pools = NULL;
  size_t np = nd_registry_pools(c->registry, &pools);
  for (size_t i = 0; i < np; i++) {
    const nd_device **devs = NULL;
    size_t n = nd_registry_pool_devices(c->registry, pools[i], &devs);
    nd_metric_set(m->pool_devices, (const char *[]){pools[i]}, (double)n);
    json_object_set_new(now, pools[i], json_true());
  }
  const char *pool;
  json_t *v;
  json_object_foreach(m->exported_pools, pool, v) {
    if (json_object_get(now, pool) == NULL)
      nd_metric_remove(m->pool_devices, (const char *[]){pool});
  }
  json_decref(m->exported_pools);
  m->exported_pools = now;

  const nd_reconciler_stats *rs = nd_reconciler_get_stats(c->reconciler);
  for (int o = 0; o < 3; o++)
    for (int r = 0; r < 4; r++)
      nd_metric_raise_to(m->writes, (const char *[]){OPS[o], RESULTS[r]},
                         (double)rs->writes[o][r]);
  nd_metric_raise_to(m->reconciles, NULL, (double)rs->reconciles);
  if (c->leader != NULL)
    nd_metric_raise_to(m->transitions, NULL, (double)nd_leader_election_transitions(c->leader));
  for (int k = 0; k < 4; k++)
    nd_metric_raise_to(m->discovery, (const char *[]){KINDS[k]}, (double)c->discovery_events[k]);
  const nd_k8s_stats *ks = nd_k8s_client_stats(c->k8s);
  nd_metric_raise_to(m->k8s_requests, NULL, (double)ks->requests);
  nd_metric_raise_to(m->k8s_errors, NULL, (double)ks->errors);
  if (c->binding != NULL) {
    const nd_binding_stats *bs = nd_binding_conditions_stats(c->binding);
    nd_metric_raise_to(m->attach, (const char *[]){"ok"}, (double)bs->attach_ok);
    nd_metric_raise_to(m->attach, (const char *[]){"failed"}, (double)bs->attach_failed);
  }
}

/* The REST client keeps its own latency buckets; they are rendered here as one histogram. */
static void append_latency(const nd_k8s_stats *ks, FILE *out) {
  static const double le_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};
  fprintf(out, "# HELP netdra_k8s_request_duration_seconds Kubernetes API request latency.\n"
               "# TYPE netdra_k8s_request_duration_seconds histogram\n");
  uint64_t cum = 0;
  for (size_t i = 0; i < ND_ARRAY_LEN(le_ms); i++) {
    cum += ks->latency_bucket[i];
    fprintf(out, "netdra_k8s_request_duration_seconds_bucket{le=\"%g\"} %llu\n", le_ms[i] / 1000.0,
            (unsigned long long)cum);
  }
  cum += ks->latency_bucket[11];
  fprintf(out, "netdra_k8s_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
          (unsigned long long)cum);
  fprintf(out, "netdra_k8s_request_duration_seconds_sum %.6f\n", ks->latency_sum_ms / 1000.0);
  fprintf(out, "netdra_k8s_request_duration_seconds_count %llu\n", (unsigned long long)cum);
}

static int on_metrics(const char *method, const char *path, nd_http_response *resp, void *data) {
  nd_metrics_server *m = data;
  refresh(m);
  cleanup_free char *text = nd_metrics_render(m->reg);
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  if (out == NULL)
    return -1;
  fputs(text ? text : "", out);
  append_latency(nd_k8s_client_stats(m->c->k8s), out);
  fclose(out);
  resp->content_type = ND_METRICS_CONTENT_TYPE;
  resp->body = buf;
  resp->body_len = len;
  return 0;
}

static int on_healthz(const char *method, const char *path, nd_http_response *resp, void *data) {
  resp->body = strdup("ok\n");
  return 0;
}

/* Ready once the slice watch synced: a follower is ready too (it can take over any time). */
static int on_readyz(const char *method, const char *path, nd_http_response *resp, void *data) {
  nd_metrics_server *m = data;
  bool ready = nd_reconciler_synced(m->c->reconciler);
  resp->status = ready ? 200 : 503;
  resp->body = strdup(ready ? "ok\n" : "slice watch not synced\n");
  return 0;
}

/* What discovery sees, for `netdractl devices`: a JSON array of the registry's devices. */
static int on_devices(const char *method, const char *path, nd_http_response *resp, void *data) {
  nd_metrics_server *m = data;
  static const char *const health[] = {"online", "stale", "offline"};
  json_t *out = json_array();
  const char **pools;
  size_t np = nd_registry_pools(m->c->registry, &pools);
  for (size_t p = 0; p < np; p++) {
    const nd_device **devs;
    size_t n = nd_registry_pool_devices(m->c->registry, pools[p], &devs);
    for (size_t i = 0; i < n; i++) {
      const nd_device *d = devs[i];
      json_array_append_new(
          out, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?,s:s,s:s,s:s?,s:I}", "pool", d->pool, "name",
                         d->name, "id", d->id, "type", d->type, "vendor", d->vendor, "model",
                         d->model, "health", health[d->health], "source", d->source, "endpoint",
                         d->endpoint, "healthSinceMs", (json_int_t)d->health_since_ms));
    }
  }
  resp->content_type = "application/json";
  resp->body = nd_json_dumps(out, JSON_COMPACT);
  json_decref(out);
  return resp->body ? 0 : -1;
}

nd_metrics_server *nd_metrics_server_start(nd_controller *c, const char *address,
                                           nd_error_t *err) {
  nd_metrics_server *m = calloc(1, sizeof(*m));
  if (m == NULL)
    abort();
  m->c = c;
  m->reg = nd_metrics_new();
  m->exported_pools = json_object();
  const char *state[] = {"state", NULL}, *pool[] = {"pool", NULL},
             *opres[] = {"op", "result", NULL}, *kind[] = {"kind", NULL},
             *result[] = {"result", NULL};
  m->devices = nd_metrics_gauge(m->reg, "netdra_controller_devices",
                                "Devices in the last plan by health state.", state, err);
  m->pool_devices = nd_metrics_gauge(m->reg, "netdra_controller_pool_devices",
                                     "Devices per pool in the registry.", pool, err);
  m->skipped = nd_metrics_gauge(m->reg, "netdra_controller_devices_skipped",
                                "Devices left out of slices for breaking an API limit.", NULL, err);
  m->tainted = nd_metrics_gauge(m->reg, "netdra_controller_tainted_devices",
                                "Devices carrying the unreachable taint.", NULL, err);
  m->slices = nd_metrics_gauge(m->reg, "netdra_controller_slices",
                               "ResourceSlices of this driver seen by the watch.", NULL, err);
  m->writes = nd_metrics_counter(m->reg, "netdra_controller_slice_writes_total",
                                 "ResourceSlice writes by operation and result.", opres, err);
  m->reconciles = nd_metrics_counter(m->reg, "netdra_controller_reconciles_total",
                                     "Reconcile rounds.", NULL, err);
  m->leader = nd_metrics_gauge(m->reg, "netdra_controller_leader",
                               "1 while this replica leads and writes.", NULL, err);
  m->transitions = nd_metrics_counter(m->reg, "netdra_controller_leader_transitions_total",
                                      "Times this replica became leader.", NULL, err);
  m->discovery = nd_metrics_counter(m->reg, "netdra_controller_discovery_events_total",
                                    "Registry changes by kind.", kind, err);
  m->k8s_requests = nd_metrics_counter(m->reg, "netdra_k8s_requests_total",
                                       "Kubernetes API requests.", NULL, err);
  m->k8s_errors = nd_metrics_counter(m->reg, "netdra_k8s_request_errors_total",
                                     "Kubernetes API requests that failed.", NULL, err);
  m->attach = nd_metrics_counter(m->reg, "netdra_controller_binding_attach_total",
                                 "Fabric-manager attaches by result.", result, err);
  if (m->devices == NULL || m->pool_devices == NULL || m->skipped == NULL || m->tainted == NULL ||
      m->slices == NULL || m->writes == NULL || m->reconciles == NULL || m->leader == NULL ||
      m->transitions == NULL || m->discovery == NULL || m->k8s_requests == NULL ||
      m->k8s_errors == NULL || m->attach == NULL)
    goto fail;
  m->http = nd_http_server_new(c->loop, err);
  if (m->http == NULL || nd_http_server_handle(m->http, "/metrics", on_metrics, m, err) < 0 ||
      nd_http_server_handle(m->http, "/healthz", on_healthz, m, err) < 0 ||
      nd_http_server_handle(m->http, "/readyz", on_readyz, m, err) < 0 ||
      nd_http_server_handle(m->http, "/debug/devices", on_devices, m, err) < 0 ||
      nd_http_server_listen_addr(m->http, address, err) < 0)
    goto fail;
  return m;
fail:
  nd_metrics_server_free(m);
  return NULL;
}

uint16_t nd_metrics_server_port(const nd_metrics_server *m) {
  return nd_http_server_port(m->http);
}

void nd_metrics_server_free(nd_metrics_server *m) {
  if (m == NULL)
    return;
  if (m->http)
    nd_http_server_free(m->http);
  nd_metrics_free(m->reg);
  json_decref(m->exported_pools);
  free(m);
}
