/* registration.h: the kubelet plugin registration service (pluginregistration.Registration on
 * the registration socket in the kubelet's plugins_registry directory): GetInfo answers type
 * DRAPlugin, the driver name, the DRA socket and the supported versions, v1 first;
 * NotifyRegistrationStatus is recorded and logged. Freeing it removes the socket, which is
 * how a plugin deregisters. */
#ifndef NETDRA_REGISTRATION_H
#define NETDRA_REGISTRATION_H

#include <stdbool.h>

#include "error.h"
#include "evloop.h"

typedef struct nd_registration nd_registration;

nd_registration *nd_registration_new(nd_loop *loop, const char *reg_socket, const char *driver,
                                     const char *dra_socket, nd_error_t *err);
void nd_registration_free(nd_registration *r);
/* The last NotifyRegistrationStatus: registered (true/false), error text; calls counts GetInfo. */
bool nd_registration_registered(const nd_registration *r);
const char *nd_registration_error(const nd_registration *r);
unsigned nd_registration_info_calls(const nd_registration *r);

#endif
