/* main.c: entry point of netdra-node-plugin: load the configuration, set up logging, run. */
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "log.h"
#include "memtrim.h"
#include "plugin.h"
#include "plugin_config.h"

extern char **environ;

int main(int argc, char **argv) {
  /* The workers spend their time waiting on I/O: two malloc arenas are plenty, instead of
   * one per worker thread (each keeps its own free pages). MALLOC_ARENA_MAX still wins. */
  nd_malloc_limit_arenas(2);
  nd_plugin_config cfg;
  cleanup_error nd_error_t err = NULL;
  int r = nd_plugin_config_load(&cfg, argc, argv, environ, &err);
  if (r == 1) {
    nd_plugin_config_clear(&cfg);
    return 0;
  }
  if (r < 0) {
    fprintf(stderr, "netdra-node-plugin: %s\n", nd_error_msg(err));
    nd_plugin_config_clear(&cfg);
    return 2;
  }
  nd_log_format fmt = ND_LOG_TEXT;
  nd_log_level lvl = ND_LOG_INFO;
  nd_log_parse_format(cfg.log_format, &fmt);
  nd_log_parse_level(cfg.log_level, &lvl);
  nd_log_set_format(fmt);
  nd_log_set_level(lvl);
  r = nd_node_plugin_run(&cfg, &err);
  if (r < 0)
    ND_LOG_ERROR("plugin", "failed", ND_KV_S("error", nd_error_msg(err)));
  nd_plugin_config_clear(&cfg);
  return r < 0 ? 1 : 0;
}
