/* controller.h: the state of one netdra-controller process, shared by main.c and the parts it
 * wires together (registry -> planner -> reconciler, leader election, metrics). */
#ifndef NETDRA_CONTROLLER_CONTROLLER_H
#define NETDRA_CONTROLLER_CONTROLLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "controller_config.h"
#include "discovery.h"
#include "evloop.h"
#include "health_taints.h"
#include "k8s_client.h"
#include "leader_election.h"
#include "memtrim.h"
#include "slice_reconciler.h"

typedef struct nd_controller {
  nd_controller_config cfg;
  nd_loop *loop;
  nd_memtrim *trim; /* heap pages back to the kernel after a large registry batch */
  nd_k8s_client *k8s;
  const char *api_version;
  nd_registry *registry;
  nd_health_taints *taints;
  nd_reconciler *reconciler;
  nd_leader_election *leader;
  nd_timer *startup;
  bool started;        /* the startup delay passed */
  bool leading;        /* leader election says so (or it is off) */
  bool shutting_down;
  uint64_t discovery_events[4]; /* by nd_change_kind */
  json_t *pool_stats; /* pool -> [online, stale, offline, skipped] of its last plan */
  struct nd_metrics_server *metrics;
  struct nd_binding_conditions *binding;
  struct nd_controller_sources *sources; /* controller_sources.c */
} nd_controller;

/* The reconciler's plan callback: registry -> desired pools (health taints applied, devices
 * kept in the slices that publish them). only_pools: see nd_plan_fn. */
int nd_controller_plan(nd_reconciler *rc, const json_t *only_pools, nd_planned_pool **pools,
                       size_t *n_pools, uint64_t *recheck_wall_ms, void *data, nd_error_t *err);
/* Devices by health and devices skipped, summed over the pools' last plans. */
void nd_controller_plan_totals(const nd_controller *c, uint64_t by_health[3], uint64_t *skipped);

#endif
