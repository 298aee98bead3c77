/* mdns_source.c: DNS-SD browsing with embedded avahi-core on nd_loop (see mdns_source.h).
 *
 * One browser per configured service type; one resolver per discovered instance and
 * interface, kept open so TXT changes re-announce the device. A device seen on several
 * interfaces is counted once and removed when its last instance goes (goodbye or TTL). */
#include "mdns_source.h"

#include <avahi-common/address.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-core/core.h>
#include <avahi-core/lookup.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avahi_poll.h"
#include "cleanup.h"
#include "discovery.h"
#include "log.h"

#define MAX_TXT_ENTRIES 64
#define MAX_SERVICES 10000

typedef struct mdns_instance {
  struct nd_mdns_source *src;
  const nd_mdns_service_map *map;
  AvahiIfIndex iface;
  AvahiProtocol proto;
  char *name, *type, *domain;
  char *device_id; /* id used in the registry (TXT id or instance name), NULL until resolved */
  AvahiSServiceResolver *resolver;
  struct mdns_instance *next;
} mdns_instance;

typedef struct browser {
  struct nd_mdns_source *src;
  const nd_mdns_service_map *map;
  AvahiSServiceBrowser *b;
} browser;

struct nd_mdns_source {
  nd_loop *loop;
  nd_registry *reg;
  char *pool;
  nd_mdns_service_map *maps;
  size_t n_maps;
  nd_avahi_poll poll;
  AvahiServer *server;
  browser *browsers;
  mdns_instance *instances;
  size_t n_instances;
};

static mdns_instance *find_instance(nd_mdns_source *s, AvahiIfIndex iface, AvahiProtocol proto,
                                    const char *name, const char *type, const char *domain) {
  for (mdns_instance *i = s->instances; i; i = i->next)
    if (i->iface == iface && i->proto == proto && strcmp(i->name, name) == 0 &&
        strcmp(i->type, type) == 0 && strcmp(i->domain, domain) == 0)
      return i;
  return NULL;
}

/* Other live instances (other interfaces/protocols) that resolved to the same device id. */
static size_t device_refs(nd_mdns_source *s, const char *device_id, const mdns_instance *except) {
  size_t n = 0;
  for (mdns_instance *i = s->instances; i; i = i->next)
    if (i != except && i->device_id && strcmp(i->device_id, device_id) == 0)
      n++;
  return n;
}

static void forget_device(nd_mdns_source *s, mdns_instance *inst, const char *why) {
  if (inst->device_id == NULL)
    return;
  if (device_refs(s, inst->device_id, inst) == 0) {
    nd_registry_remove(s->reg, "mdns", s->pool, inst->device_id);
    ND_LOG_INFO("mdns", "device-removed", ND_KV_S("pool", s->pool), ND_KV_S("id", inst->device_id),
                ND_KV_S("reason", why));
  }
  free(inst->device_id);
  inst->device_id = NULL;
}

static void free_instance(nd_mdns_source *s, mdns_instance *inst) {
  for (mdns_instance **pp = &s->instances; *pp; pp = &(*pp)->next)
    if (*pp == inst) {
      *pp = inst->next;
      break;
    }
  if (inst->resolver)
    avahi_s_service_resolver_free(inst->resolver);
  free(inst->device_id);
  free(inst->name);
  free(inst->type);
  free(inst->domain);
  free(inst);
  s->n_instances--;
}

static void on_resolve(AvahiSServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
                       AvahiResolverEvent event, const char *name, const char *type,
                       const char *domain, const char *host, const AvahiAddress *addr,
                       uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags,
                       void *data) {
  mdns_instance *inst = data;
  nd_mdns_source *s = inst->src;
  if (event != AVAHI_RESOLVER_FOUND) {
    ND_LOG_WARN("mdns", "resolve-failed", ND_KV_S("service", name), ND_KV_S("type", type),
                ND_KV_S("error", avahi_strerror(avahi_server_errno(s->server))));
    return; /* the browser's REMOVE (goodbye or TTL expiry) takes the device away */
  }
  char address[AVAHI_ADDRESS_STR_MAX] = "";
  if (addr)
    avahi_address_snprint(address, sizeof(address), addr);
  const char *entries[MAX_TXT_ENTRIES] = {0};
  char *owned[MAX_TXT_ENTRIES] = {0};
  size_t n = 0;
  for (AvahiStringList *l = txt; l && n < MAX_TXT_ENTRIES; l = avahi_string_list_get_next(l)) {
    size_t len = avahi_string_list_get_size(l);
    owned[n] = strndup((const char *)avahi_string_list_get_text(l), len);
    if (owned[n] == NULL)
      break;
    if (strlen(owned[n]) != len) { /* an embedded NUL: refuse the entry */
      free(owned[n]);
      continue;
    }
    entries[n] = owned[n];
    n++;
  }
  cleanup_error nd_error_t err = NULL;
  cleanup_json json_t *doc =
      nd_mdns_map_service(inst->map, name, addr ? address : NULL, port, entries, n, &err);
  for (size_t i = 0; i < n; i++)
    free(owned[i]);
  const char *id = doc ? json_string_value(json_object_get(doc, "id")) : NULL;
  nd_device *dev = doc ? nd_announcement_parse("mdns", s->pool, id, doc, &err) : NULL;
  if (dev == NULL) {
    ND_LOG_WARN("mdns", "service-rejected", ND_KV_S("service", name), ND_KV_S("type", type),
                ND_KV_S("host", host), ND_KV_S("reason", nd_error_msg(err)));
    forget_device(s, inst, "rejected");
    return;
  }
  if (inst->device_id && strcmp(inst->device_id, id) != 0)
    forget_device(s, inst, "id-changed");
  char *dev_id = strdup(id);
  if (nd_registry_upsert(s->reg, dev, &err) < 0) {
    ND_LOG_WARN("mdns", "registry-rejected", ND_KV_S("service", name),
                ND_KV_S("reason", nd_error_msg(err)));
    free(dev_id);
    forget_device(s, inst, "registry-rejected");
    return;
  }
  free(inst->device_id);
  inst->device_id = dev_id;
  ND_LOG_INFO("mdns", "device-resolved", ND_KV_S("service", name), ND_KV_S("type", type),
              ND_KV_S("address", address), ND_KV_I("port", port), ND_KV_S("pool", s->pool));
}

static void on_browse(AvahiSServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
                      AvahiBrowserEvent event, const char *name, const char *type,
                      const char *domain, AvahiLookupResultFlags flags, void *data) {
  browser *br = data;
  nd_mdns_source *s = br->src;
  switch (event) {
  case AVAHI_BROWSER_NEW: {
    if (find_instance(s, iface, proto, name, type, domain))
      return;
    if (s->n_instances >= MAX_SERVICES) {
      ND_LOG_WARN("mdns", "too-many-services", ND_KV_S("service", name),
                  ND_KV_I("limit", MAX_SERVICES));
      return;
    }
    mdns_instance *inst = calloc(1, sizeof(*inst));
    if (inst == NULL)
      return;
    *inst = (mdns_instance){.src = s, .map = br->map, .iface = iface, .proto = proto,
                            .name = strdup(name), .type = strdup(type), .domain = strdup(domain)};
    inst->next = s->instances;
    s->instances = inst;
    s->n_instances++;
    inst->resolver = avahi_s_service_resolver_new(s->server, iface, proto, name, type, domain,
                                                  AVAHI_PROTO_UNSPEC, 0, on_resolve, inst);
    if (inst->resolver == NULL) {
      ND_LOG_WARN("mdns", "resolver-failed", ND_KV_S("service", name),
                  ND_KV_S("error", avahi_strerror(avahi_server_errno(s->server))));
      free_instance(s, inst);
    }
    break;
  }
  case AVAHI_BROWSER_REMOVE: {
    mdns_instance *inst = find_instance(s, iface, proto, name, type, domain);
    if (inst) {
      forget_device(s, inst, "goodbye-or-expired");
      free_instance(s, inst);
    }
    break;
  }
  case AVAHI_BROWSER_FAILURE:
    ND_LOG_ERROR("mdns", "browser-failed", ND_KV_S("type", br->map->service_type),
                 ND_KV_S("error", avahi_strerror(avahi_server_errno(s->server))));
    break;
  case AVAHI_BROWSER_ALL_FOR_NOW:
  case AVAHI_BROWSER_CACHE_EXHAUSTED:
    break;
  }
}

static void on_server_state(AvahiServer *server, AvahiServerState state, void *data) {
  ND_LOG_DEBUG("mdns", "server-state", ND_KV_I("state", state));
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void free_maps(nd_mdns_service_map *maps, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free((char *)maps[i].service_type);
    free((char *)maps[i].device_type);
    free((char *)maps[i].vendor);
    free((char *)maps[i].scheme);
    free((char *)maps[i].path);
  }
  free(maps);
}

nd_mdns_source *nd_mdns_source_new(nd_loop *loop, nd_registry *reg,
                                   const nd_mdns_source_config *cfg, nd_error_t *err) {
  nd_mdns_source *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return nd_error_make(err, ENOMEM, "allocating mDNS source"), NULL;
  s->loop = loop;
  s->reg = reg;
  s->pool = strdup(cfg->pool ? cfg->pool : "mdns");
  const nd_mdns_service_map *maps = cfg->n_services ? cfg->services : nd_mdns_default_services;
  s->n_maps = cfg->n_services ? cfg->n_services : nd_mdns_n_default_services;
  s->maps = calloc(s->n_maps, sizeof(*s->maps));
  s->browsers = calloc(s->n_maps, sizeof(*s->browsers));
  for (size_t i = 0; i < s->n_maps; i++)
    s->maps[i] = (nd_mdns_service_map){.service_type = dup_or_null(maps[i].service_type),
                                       .device_type = dup_or_null(maps[i].device_type),
                                       .vendor = dup_or_null(maps[i].vendor),
                                       .scheme = dup_or_null(maps[i].scheme),
                                       .path = dup_or_null(maps[i].path)};
  nd_avahi_poll_init(&s->poll, loop);

  AvahiServerConfig sc;
  avahi_server_config_init(&sc);
  sc.use_ipv4 = 1;
  sc.use_ipv6 = cfg->use_ipv6 ? 1 : 0;
  sc.publish_hinfo = sc.publish_addresses = sc.publish_workstation = sc.publish_domain = 0;
  sc.disable_publishing = 1; /* we only listen */
  sc.enable_wide_area = 0;
  sc.allow_point_to_point = 1;
  char host[64];
  snprintf(host, sizeof(host), "netdra-%d", (int)getpid());
  sc.host_name = avahi_strdup(host);
  for (size_t i = 0; i < cfg->n_interfaces; i++)
    sc.allow_interfaces = avahi_string_list_add(sc.allow_interfaces, cfg->interfaces[i]);
  int aerr = 0;
  s->server = avahi_server_new(&s->poll.api, &sc, on_server_state, s, &aerr);
  avahi_server_config_free(&sc);
  if (s->server == NULL) {
    nd_error_make(err, EIO, "starting embedded mDNS (avahi-core): %s", avahi_strerror(aerr));
    nd_mdns_source_free(s);
    return NULL;
  }
  for (size_t i = 0; i < s->n_maps; i++) {
    s->browsers[i] = (browser){.src = s, .map = &s->maps[i]};
    s->browsers[i].b = avahi_s_service_browser_new(
        s->server, AVAHI_IF_UNSPEC, cfg->use_ipv6 ? AVAHI_PROTO_UNSPEC : AVAHI_PROTO_INET,
        s->maps[i].service_type, NULL, 0, on_browse, &s->browsers[i]);
    if (s->browsers[i].b == NULL) {
      nd_error_make(err, EINVAL, "browsing %s: %s", s->maps[i].service_type,
                    avahi_strerror(avahi_server_errno(s->server)));
      nd_mdns_source_free(s);
      return NULL;
    }
  }
  ND_LOG_INFO("mdns", "started", ND_KV_S("pool", s->pool), ND_KV_I("service_types", s->n_maps));
  return s;
}

void nd_mdns_source_free(nd_mdns_source *s) {
  if (s == NULL)
    return;
  /* shutdown leaves the registry alone: it may already be gone, and the devices did not */
  while (s->instances)
    free_instance(s, s->instances);
  for (size_t i = 0; s->browsers && i < s->n_maps; i++)
    if (s->browsers[i].b)
      avahi_s_service_browser_free(s->browsers[i].b);
  if (s->server)
    avahi_server_free(s->server);
  free(s->browsers);
  free_maps(s->maps, s->n_maps);
  free(s->pool);
  free(s);
}

size_t nd_mdns_source_count(const nd_mdns_source *s) { return s->n_instances; }
