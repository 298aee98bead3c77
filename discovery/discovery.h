/* discovery.h: the face of the discovery library that the controller links.
 *
 * Sources (MQTT announcements, mDNS/DNS-SD, static inventory files) turn what they hear into
 * one device model (nd_device) and hand it to the registry. The registry owns the devices,
 * names them (stable, unique DNS labels per pool), merges sources by precedence
 * (static > mqtt > mdns for the same pool+id), tracks health (online, stale, offline) and
 * tells its consumer about changes in batches (coalesced through nd_loop_defer).
 *
 * All calls run on the event loop thread. */
#ifndef NETDRA_DISCOVERY_H
#define NETDRA_DISCOVERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "evloop.h"

/* ---- device model ---------------------------------------------------------------------- */

typedef enum { ND_ATTR_STRING, ND_ATTR_INT, ND_ATTR_BOOL, ND_ATTR_VERSION } nd_attr_type;

typedef struct {
  char *name; /* C identifier (driver's domain) or "<domain>/<identifier>" */
  char *str;  /* ND_ATTR_STRING / ND_ATTR_VERSION, <= 64 bytes */
  int64_t num;
  nd_attr_type type;
  bool flag;
} nd_attr; /* (members ordered for size: the registry holds 100,000s of these) */

typedef struct {
  char *name;     /* as attribute names */
  char *quantity; /* canonical Kubernetes quantity string ("64Gi", "500m") */
} nd_capacity;

/* One nodeSelector requirement (matchExpressions entry) of the single term. */
typedef struct {
  char *key;
  char *op; /* In, NotIn, Exists, DoesNotExist */
  char **values;
  size_t n_values;
} nd_node_requirement;

typedef enum { ND_HEALTH_ONLINE = 0, ND_HEALTH_STALE, ND_HEALTH_OFFLINE } nd_health;

typedef struct nd_device {
  char *source; /* "mqtt", "mdns", "static" */
  char *pool;   /* discovery domain; the ResourceSlice pool name */
  char *id;     /* as announced; unique per pool and source */
  char *name;   /* registry-assigned DNS label, unique in the pool, stable for the id */
  char *type;   /* camera, cxl-memory, accelerator or a configured custom type */
  char *vendor, *model;
  nd_attr *attrs;
  nd_capacity *caps;
  /* reachability: all_nodes (below), or the requirements of one nodeSelector term */
  nd_node_requirement *node_reqs;
  /* attach information for the node plugin (no credentials, only references) */
  char *endpoint;         /* URL the node plugin talks to (stream, control, fabric manager) */
  char *secret_namespace; /* Secret holding credentials, or NULL */
  char *secret_name;
  char *fabric_region;    /* cxl-memory: region id at the fabric manager */
  /* binding conditions (cxl-memory and other attach-before-start devices; binds_to_node
   * below) */
  char **binding_conditions;
  char **binding_failure_conditions;
  /* set by the registry: a number no other device has had, kept while the device is announced
   * the same again (nd_device_equal) and changed with any change of what it publishes (not
   * with its health). 0: not from the registry (unknown). */
  uint64_t revision;
  /* health */
  uint64_t last_seen_ms;   /* nd_wall_ms() of the last announcement/heartbeat */
  uint64_t health_since_ms;
  nd_health health;
  int ttl_s;               /* 0 = no heartbeat expected */
  /* the counts of the arrays above (32 bits: the registry holds 100,000s of devices) */
  uint32_t n_attrs, n_caps, n_node_reqs, n_binding_conditions, n_binding_failure_conditions;
  /* the flags, here to leave no padding (the registry holds 100,000s of devices) */
  bool all_nodes;
  bool binds_to_node;
} nd_device;

void nd_device_free(nd_device *d);
nd_device *nd_device_clone(const nd_device *d);
/* true when the two describe the same published device (ignores health timestamps). */
bool nd_device_equal(const nd_device *a, const nd_device *b);

/* ---- announcement parsing (MQTT payloads, mDNS TXT after mapping, static files) --------- */

/* Parse one announcement JSON (docs/announcements.md, discovery/announcement.schema.json).
 * pool and id come from the topic (or file/mDNS instance); on error *err says exactly which
 * field is wrong and why, and nothing is returned. */
nd_device *nd_announcement_parse(const char *source, const char *pool, const char *id,
                                 const json_t *doc, nd_error_t *err);
/* Allow a custom device type (a DNS label) besides camera, cxl-memory and accelerator. */
int nd_announcement_allow_type(const char *type, nd_error_t *err);
nd_device *nd_announcement_parse_bytes(const char *source, const char *pool, const char *id,
                                       const char *payload, size_t len, nd_error_t *err);

/* ---- registry -------------------------------------------------------------------------- */

typedef struct nd_registry nd_registry;

typedef enum { ND_CHANGE_ADDED, ND_CHANGE_UPDATED, ND_CHANGE_HEALTH, ND_CHANGE_REMOVED } nd_change_kind;
typedef struct {
  nd_change_kind kind;
  const char *pool;
  const char *name; /* device name in the pool */
} nd_change;
/* Called once per loop iteration that had changes, with all of them. */
typedef void (*nd_registry_cb)(nd_registry *r, const nd_change *changes, size_t n, void *data);

typedef struct {
  size_t max_devices_per_source; /* 0: 100000 */
  size_t max_devices_per_pool;   /* 0: 100000 */
  uint64_t stale_after_ms;       /* missed-heartbeat -> stale: ttl; stale -> offline after this */
  uint64_t offline_grace_ms;     /* offline devices are removed after this; 0: 300000 */
} nd_registry_options;

nd_registry *nd_registry_new(nd_loop *loop, const nd_registry_options *opts, nd_error_t *err);
void nd_registry_free(nd_registry *r);
void nd_registry_subscribe(nd_registry *r, nd_registry_cb cb, void *data);

/* Takes ownership of d. Replaces the device with the same source+pool+id. */
int nd_registry_upsert(nd_registry *r, nd_device *d, nd_error_t *err);
int nd_registry_remove(nd_registry *r, const char *source, const char *pool, const char *id);
int nd_registry_set_health(nd_registry *r, const char *source, const char *pool, const char *id,
                           nd_health health);
/* Record a heartbeat (refreshes last_seen, brings a stale device back online). */
int nd_registry_touch(nd_registry *r, const char *source, const char *pool, const char *id);

/* Read access: the effective (merged) devices. */
size_t nd_registry_count(const nd_registry *r);
const nd_device *nd_registry_find(const nd_registry *r, const char *pool, const char *name);
/* Iterate pools (sorted) and devices of a pool (sorted by name). */
size_t nd_registry_pools(const nd_registry *r, const char ***pools /* owned by registry */);
size_t nd_registry_pool_devices(const nd_registry *r, const char *pool,
                                const nd_device ***devices /* owned by registry */);

#include "mdns_source.h"
#include "mqtt_source.h"
#include "static_source.h"

#endif
