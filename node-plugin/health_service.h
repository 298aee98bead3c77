/* health_service.h: the DRAResourceHealth NodeWatchResources streams (v1alpha1 and v1).
 * Each open stream gets the complete device list of the driver on connect, on every change
 * (nd_health_service_changed) and every interval (the kubelet marks devices it has not heard
 * of for 30 s as Unknown). */
#ifndef NETDRA_NODE_PLUGIN_HEALTH_SERVICE_H
#define NETDRA_NODE_PLUGIN_HEALTH_SERVICE_H

#include <jansson.h>

#include "error.h"
#include "evloop.h"
#include "grpc.h"

/* Current device health as [{"pool","device","health":"healthy"|"unhealthy"|"unknown",
 * "message"}] (new reference); runs on the loop. */
typedef json_t *(*nd_health_source_fn)(void *data);

typedef struct nd_health_service nd_health_service;

nd_health_service *nd_health_service_new(nd_loop *loop, nd_grpc_server *srv,
                                         nd_health_source_fn source, void *data,
                                         int interval_s, nd_error_t *err);
/* Resend the list to every open stream when it differs from the last one sent. */
void nd_health_service_changed(nd_health_service *h);
size_t nd_health_service_streams(const nd_health_service *h);
void nd_health_service_free(nd_health_service *h);

#endif
