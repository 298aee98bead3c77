/* metrics_server.h: the controller's /metrics, /healthz and /readyz (lib/http_endpoint.h,
 * lib/metrics.h). Gauges and counters are refreshed from the controller's state at each
 * scrape; docs/operations.md lists them. */
#ifndef NETDRA_CONTROLLER_METRICS_SERVER_H
#define NETDRA_CONTROLLER_METRICS_SERVER_H

#include <stdint.h>

#include "error.h"

struct nd_controller;
typedef struct nd_metrics_server nd_metrics_server;

nd_metrics_server *nd_metrics_server_start(struct nd_controller *c, const char *address,
                                           nd_error_t *err);
uint16_t nd_metrics_server_port(const nd_metrics_server *m);
void nd_metrics_server_free(nd_metrics_server *m);

#endif
