/* health_taints.h: which devices carry the `<driver>/unreachable` NoSchedule taint.
 *
 * A device that is stale or offline is tainted at once. A tainted device that comes back
 * online keeps the taint until it has stayed online for the hysteresis period, so a flapping
 * device does not make the controller rewrite its slice on every flap. Removing a device that
 * stays offline is the registry's job (its offline grace period). After a restart or a leader
 * change the published taint is the starting point: an online device whose slice shows the
 * taint keeps it for one more hysteresis period, and timeAdded is kept. */
#ifndef NETDRA_CONTROLLER_HEALTH_TAINTS_H
#define NETDRA_CONTROLLER_HEALTH_TAINTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "discovery.h"
#include "slice_planner.h"

typedef struct nd_health_taints nd_health_taints;

nd_health_taints *nd_health_taints_new(uint64_t hysteresis_ms);
void nd_health_taints_free(nd_health_taints *h);

/* Start a planning round; at its end, devices of the round's pools (only_pools, a JSON object
 * used as a set; NULL: every pool) that were not decided during the round are forgotten. */
void nd_health_taints_begin(nd_health_taints *h);
void nd_health_taints_end(nd_health_taints *h, const json_t *only_pools);

/* The taint of one device at now_ms (wall clock). published: the device's slice shows the
 * taint (published_since_ms its timeAdded, 0 when unknown). *recheck_ms is lowered to the
 * time when this decision changes by itself (the end of the hysteresis), if any. */
nd_device_taint nd_health_taints_decide(nd_health_taints *h, const char *pool, const char *name,
                                        nd_health health, bool published,
                                        uint64_t published_since_ms, uint64_t now_ms,
                                        uint64_t *recheck_ms);

/* Devices whose state is kept (tainted, not online, or lifted while the published slice still
 * shows the taint); healthy devices keep none. */
size_t nd_health_taints_tracked(const nd_health_taints *h);

/* Number of devices tainted after the last round (for /metrics). */
size_t nd_health_taints_count(const nd_health_taints *h);

#endif
