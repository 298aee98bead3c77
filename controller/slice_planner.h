/* slice_planner.h: the pure part of the controller: one pool's devices -> the ResourceSlices
 * that should exist for it (names and specs). No I/O, no clock: the caller passes the taint
 * decisions (health_taints.h) and the reconciler fills in the pool generation.
 *
 * Rules (docs/controller.md):
 *  - one pool per discovery domain; at most 128 devices per slice, 64 when any device of the
 *    pool carries a taint;
 *  - sticky placement: a device stays in the slice that publishes it (the caller passes each
 *    device's current slice number) while that slice has room, so adding or changing one
 *    device rewrites one slice, not the pool; new devices fill the lowest-numbered slices
 *    with room; when removals leave the pool using more than one slice beyond the minimum,
 *    it is repacked in name order. Without placement, devices fill slices in name order.
 *    Within a slice devices are in name order;
 *  - slice names are stable: "<driver>-<pool as a DNS label>-<number>" (lib/names.h
 *    sanitiser: a hash of the pool name is appended when sanitising changed it, so two pools
 *    never share a name); numbers may have gaps after removals;
 *  - node selection: allNodes when every device is reachable from all nodes, one nodeSelector
 *    term when all devices agree on their requirements, perDeviceNodeSelection otherwise;
 *  - an empty pool still publishes one empty slice (allNodes). */
#ifndef NETDRA_CONTROLLER_SLICE_PLANNER_H
#define NETDRA_CONTROLLER_SLICE_PLANNER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discovery.h"
#include "error.h"
#include "slice_spec_digest.h"

#define ND_SLICE_MAX_DEVICES 128
#define ND_SLICE_MAX_DEVICES_TAINTED 64
#define ND_SLICE_NAME_MAX 253

typedef struct {
  const char *driver;         /* driver name, also the attribute domain */
  size_t max_devices;         /* 0: ND_SLICE_MAX_DEVICES */
  size_t max_devices_tainted; /* 0: ND_SLICE_MAX_DEVICES_TAINTED */
  bool binding_conditions;    /* publish bindsToNode / binding(Failure)Conditions */
} nd_planner_options;

/* The health decision for one device (from health_taints.h). */
typedef struct {
  bool tainted;
  uint64_t since_wall_ms; /* when the taint was first added (timeAdded) */
} nd_device_taint;

/* A planned slice is a name and a run of the pool's planned devices, not a document: its
 * spec is rendered when it is compared or written (nd_planned_slice_spec), one slice at a
 * time, so that no pool-wide tree of JSON exists. */
typedef struct {
  char *name;    /* metadata.name */
  size_t number; /* the number in the name */
  size_t first;  /* its devices: devices[first .. first + n_devices) of the pool */
  size_t n_devices;
} nd_planned_slice;

typedef enum { ND_NODES_ALL, ND_NODES_SELECTOR, ND_NODES_PER_DEVICE } nd_node_selection;

typedef struct {
  char *pool;
  nd_planned_slice *slices;
  size_t n_slices;
  size_t n_skipped; /* devices left out because they break an API limit (logged) */
  /* what rendering needs. The devices are borrowed: render while they are unchanged (within
   * the round that planned them); opts.driver is borrowed too. */
  nd_planner_options opts;
  const nd_device **devices; /* the planned devices, by slice, in name order within a slice */
  nd_device_taint *taints;   /* devices[i]'s taint, or NULL: none tainted */
  nd_node_selection nodes;
  const nd_device *selector; /* ND_NODES_SELECTOR: the device whose requirements all share */
} nd_planned_pool;

/* devs[i] with taints[i] (taints may be NULL: none tainted) and placement[i], the number of
 * the slice that publishes devs[i] now or -1 (placement may be NULL: none published). devs
 * must be sorted by name (the registry's order). Fills *out; on error *out is empty and err
 * names the device. */
int nd_plan_pool(const nd_planner_options *opts, const char *pool, const nd_device *const *devs,
                 const nd_device_taint *taints, const int *placement, size_t n,
                 nd_planned_pool *out, nd_error_t *err);
void nd_planned_pool_clear(nd_planned_pool *p);

/* The spec of slice s of p (pool.generation 0: the reconciler sets it); the caller owns it. */
json_t *nd_planned_slice_spec(const nd_planned_pool *p, size_t s);

/* The fingerprint of what slice s of p is rendered from at pool generation `generation`:
 * the pool-wide inputs (driver, options, pool name, resourceSliceCount, node selection and
 * the selector device's revision) and, per device in slice order, its registry revision and
 * its taint. Two equal fingerprints render equal specs, so a spec once found equal to a
 * published one need not be rendered again while its fingerprint stays (pool_sync.c). Returns
 * false, and writes nothing, when a device of the slice has no registry revision (0): the
 * fingerprint could not stand for its content. */
bool nd_planned_slice_fingerprint(const nd_planned_pool *p, size_t s, int64_t generation,
                                  nd_spec_digest *out);

/* Stable object name of slice `index` of a pool (heap). */
char *nd_slice_name(const char *driver, const char *pool, size_t index);
/* The number of a slice named by nd_slice_name for this driver and pool, or -1. */
long nd_slice_number(const char *driver, const char *pool, const char *slice_name);

/* One published device object (exposed for tests and netdractl). */
json_t *nd_plan_device(const nd_planner_options *opts, const nd_device *d,
                       const nd_device_taint *taint, bool per_device_nodes, nd_error_t *err);

/* RFC 3339 UTC with second precision ("2026-11-24T10:00:00Z"), into buf (>= 21 bytes). */
void nd_format_time_s(uint64_t wall_ms, char *buf, size_t len);

#endif
