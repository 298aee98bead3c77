/* plugin_metrics.h: the node plugin's HTTP endpoint: /healthz (the liveness probe of the
 * DaemonSet) and /metrics (Prometheus text: prepares, unprepares, errors, time spent, claims
 * in flight), on the daemon's loop. */
#ifndef NETDRA_PLUGIN_METRICS_H
#define NETDRA_PLUGIN_METRICS_H

#include "driver.h"
#include "error.h"
#include "evloop.h"

typedef struct nd_plugin_metrics nd_plugin_metrics;

/* address: "host:port" or ":port". */
nd_plugin_metrics *nd_plugin_metrics_start(nd_loop *loop, nd_driver *driver, const char *address,
                                           nd_error_t *err);
void nd_plugin_metrics_free(nd_plugin_metrics *m);

#endif
