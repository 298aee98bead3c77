/* controller_sources.h: starts and stops the discovery sources the configuration names
 * (MQTT broker, static inventory files, mDNS) feeding the controller's registry. Every
 * replica runs them, leader or not, so a follower's registry is warm when it takes over. */
#ifndef NETDRA_CONTROLLER_SOURCES_H
#define NETDRA_CONTROLLER_SOURCES_H

#include "error.h"

struct nd_controller;

int nd_controller_sources_start(struct nd_controller *c, nd_error_t *err);
void nd_controller_sources_stop(struct nd_controller *c);

#endif
