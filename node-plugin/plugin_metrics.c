/* plugin_metrics.c: /healthz and /metrics of the node plugin (see plugin_metrics.h). The
 * counters are read from the driver at scrape time; nothing here holds a credential. */
#include "plugin_metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http_endpoint.h"
#include "metrics.h"

struct nd_plugin_metrics {
  nd_driver *driver;
  nd_http_server *http;
  nd_metrics *reg;
  nd_metric *stage_seconds; /* {operation, stage}: brought up to the driver's sums per scrape */
};

static nd_driver_stats stats_of(void *data) {
  nd_driver_stats st;
  nd_driver_get_stats(((nd_plugin_metrics *)data)->driver, &st);
  return st;
}

static double prepares(void *d) { return (double)stats_of(d).prepares; }
static double prepare_errors(void *d) { return (double)stats_of(d).prepare_errors; }
static double unprepares(void *d) { return (double)stats_of(d).unprepares; }
static double unprepare_errors(void *d) { return (double)stats_of(d).unprepare_errors; }
static double attach_errors(void *d) { return (double)stats_of(d).attach_errors; }
static double prepare_seconds(void *d) { return stats_of(d).prepare_ms_sum / 1000.0; }
static double unprepare_seconds(void *d) { return stats_of(d).unprepare_ms_sum / 1000.0; }
static double in_flight(void *d) {
  return (double)nd_driver_in_flight(((nd_plugin_metrics *)d)->driver);
}

/* Raises each stage series to the driver's sum (monotonic); with at_zero, also makes the series
 * still at 0, so that every one is there from the first scrape. */
static void sync_stage_seconds(nd_plugin_metrics *m, bool at_zero) {
  nd_driver_stats st;
  nd_driver_get_stats(m->driver, &st);
  for (int s = 0; s < ND_STAGE_COUNT; s++) {
    const char *stage = nd_driver_stage_name((nd_driver_stage)s);
    const char *prep[] = {"prepare", stage}, *unprep[] = {"unprepare", stage};
    if (at_zero) {
      nd_metric_add(m->stage_seconds, prep, 0);
      if (s != ND_STAGE_CLAIM_GET)
        nd_metric_add(m->stage_seconds, unprep, 0);
    }
    if (s != ND_STAGE_CLAIM_GET) /* an unprepare reads no claim */
      nd_metric_raise_to(m->stage_seconds, unprep, st.unprepare_stage_s[s]);
    nd_metric_raise_to(m->stage_seconds, prep, st.prepare_stage_s[s]);
  }
}

static int on_metrics(const char *method, const char *path, nd_http_response *resp, void *data) {
  nd_plugin_metrics *m = data;
  sync_stage_seconds(m, false);
  resp->content_type = ND_METRICS_CONTENT_TYPE;
  resp->body = nd_metrics_render(m->reg);
  return resp->body ? 0 : -1;
}

static int on_healthz(const char *method, const char *path, nd_http_response *resp, void *data) {
  resp->body = strdup("ok\n");
  return resp->body ? 0 : -1;
}

nd_plugin_metrics *nd_plugin_metrics_start(nd_loop *loop, nd_driver *driver, const char *address,
                                           nd_error_t *err) {
  nd_plugin_metrics *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return nd_error_make(err, ENOMEM, "allocating metrics"), NULL;
  m->driver = driver;
  m->reg = nd_metrics_new();
  static const struct {
    const char *name, *help;
    double (*fn)(void *);
  } gauges[] = {
      {"netdra_node_prepares_total", "NodePrepareResources claims handled", prepares},
      {"netdra_node_prepare_errors_total", "claims whose prepare failed", prepare_errors},
      {"netdra_node_unprepares_total", "NodeUnprepareResources claims handled", unprepares},
      {"netdra_node_unprepare_errors_total", "claims whose unprepare failed", unprepare_errors},
      {"netdra_node_attach_errors_total", "device attaches that failed", attach_errors},
      {"netdra_node_prepare_seconds_total", "time spent preparing claims", prepare_seconds},
      {"netdra_node_unprepare_seconds_total", "time spent unpreparing claims", unprepare_seconds},
      {"netdra_node_calls_in_flight", "prepare/unprepare calls accepted and not answered", in_flight},
  };
  for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
    if (nd_metrics_gauge_fn(m->reg, gauges[i].name, gauges[i].help, gauges[i].fn, m, err) == NULL)
      goto fail;
  m->stage_seconds = nd_metrics_counter(
      m->reg, "netdra_node_stage_seconds_total",
      "time spent in each stage of prepare and unprepare, summed over claims (queue: waiting for "
      "a worker; claim_get: the ResourceClaim GET; devices: the claim's lock, planning, the "
      "backends' attach or detach; cdi_spec: the claim's CDI spec; checkpoint: durable writes)",
      (const char *[]){"operation", "stage", NULL}, err);
  if (m->stage_seconds == NULL)
    goto fail;
  sync_stage_seconds(m, true);
  m->http = nd_http_server_new(loop, err);
  if (m->http == NULL || nd_http_server_handle(m->http, "/healthz", on_healthz, m, err) < 0 ||
      nd_http_server_handle(m->http, "/metrics", on_metrics, m, err) < 0 ||
      nd_http_server_listen_addr(m->http, address, err) < 0)
    goto fail;
  return m;
fail:
  nd_plugin_metrics_free(m);
  return NULL;
}

void nd_plugin_metrics_free(nd_plugin_metrics *m) {
  if (m == NULL)
    return;
  nd_http_server_free(m->http);
  nd_metrics_free(m->reg);
  free(m);
}
