/* mdns_source.h: the mDNS/DNS-SD discovery source (embedded avahi-core, no daemon).
 *
 * Browses the configured service types on the allowed interfaces, resolves SRV/TXT/address,
 * maps each service to an announcement (nd_mdns_map_service) and upserts it into the registry
 * as source "mdns"; a goodbye packet or a cache TTL expiry removes it. */
#ifndef NETDRA_MDNS_SOURCE_H
#define NETDRA_MDNS_SOURCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "evloop.h"

struct nd_registry;

/* How one DNS-SD service type becomes a device. For our own `_netdra._tcp` leave type NULL:
 * the TXT record says everything. For well-known types (`_rtsp._tcp`, `_axis-video._tcp`)
 * the map supplies what the TXT record does not. */
typedef struct {
  const char *service_type; /* "_rtsp._tcp" */
  const char *device_type;  /* "camera"; NULL: TXT key `type` is required */
  const char *vendor;       /* default vendor when TXT has none, or NULL */
  const char *scheme;       /* endpoint URL scheme: "rtsp", "http"; NULL: "http" */
  const char *path;         /* default endpoint path when TXT has no `path`, or NULL */
} nd_mdns_service_map;

typedef struct {
  const char *pool;                /* discovery domain (ResourceSlice pool); NULL: "mdns" */
  const char *const *interfaces;   /* interface allow list; NULL/0: all */
  size_t n_interfaces;
  const nd_mdns_service_map *services;
  size_t n_services;
  int use_ipv6;
} nd_mdns_source_config;

/* The built-in maps for `_netdra._tcp`, `_rtsp._tcp` and `_axis-video._tcp`. */
extern const nd_mdns_service_map nd_mdns_default_services[];
extern const size_t nd_mdns_n_default_services;

typedef struct nd_mdns_source nd_mdns_source;

nd_mdns_source *nd_mdns_source_new(nd_loop *loop, struct nd_registry *reg,
                                   const nd_mdns_source_config *cfg, nd_error_t *err);
void nd_mdns_source_free(nd_mdns_source *s);
/* Services currently resolved (for metrics and tests). */
size_t nd_mdns_source_count(const nd_mdns_source *s);

/* Pure mapping of one resolved service to an announcement JSON document (the format of
 * docs/announcements.md). txt holds "key=value" strings (a key alone means true).
 * On error (bad TXT key, missing type, value too long) *err names the key. */
json_t *nd_mdns_map_service(const nd_mdns_service_map *map, const char *instance,
                            const char *address, uint16_t port, const char *const *txt,
                            size_t n_txt, nd_error_t *err);

#endif
