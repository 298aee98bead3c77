/* dra_service.h: the kubelet-facing DRA node service, v1 and v1beta1
 * (k8s.io.kubelet.pkg.apis.dra.{v1,v1beta1}.DRAPlugin/NodePrepareResources and
 * /NodeUnprepareResources), decoded and encoded with the protoc-c types. Every claim UID of a
 * request gets an entry in the response; one failing claim never fails the others; an
 * undecodable request is answered with INVALID_ARGUMENT. */
#ifndef NETDRA_NODE_PLUGIN_DRA_SERVICE_H
#define NETDRA_NODE_PLUGIN_DRA_SERVICE_H

#include <stdbool.h>

#include "driver.h"
#include "error.h"
#include "grpc.h"

typedef struct nd_dra_service nd_dra_service;

/* Register the four methods on srv. */
nd_dra_service *nd_dra_service_new(nd_grpc_server *srv, nd_driver *driver, nd_error_t *err);
/* After this, new calls are answered UNAVAILABLE (SIGTERM drain); running ones finish. */
void nd_dra_service_drain(nd_dra_service *s);
/* Calls accepted and not yet answered. */
size_t nd_dra_service_pending(const nd_dra_service *s);
void nd_dra_service_free(nd_dra_service *s);

#endif
