/* plugin.h: the netdra-node-plugin daemon as a whole: startup in a safe order (checkpoint
 * recovery, DRA socket, then the registration socket), the event loop, and a SIGTERM drain
 * (deregister, refuse new calls, let running ones finish, then exit). */
#ifndef NETDRA_NODE_PLUGIN_PLUGIN_H
#define NETDRA_NODE_PLUGIN_PLUGIN_H

#include "error.h"
#include "plugin_config.h"

/* Run until SIGTERM/SIGINT; 0 after a clean drain, -1 with err when startup failed. */
int nd_node_plugin_run(const nd_plugin_config *cfg, nd_error_t *err);

#endif
