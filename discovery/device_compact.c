/* device_compact.c: one-block devices with shared strings (see device_compact.h).
 * Layout of the block: the nd_device, its attribute, capacity and node-requirement arrays,
 * the pointer arrays of requirement values and binding conditions, then the device's own
 * strings (attribute string values, id unless it equals the name, endpoint, Secret name,
 * fabric region). The name is the caller's. */
#include "device_compact.h"

#include <stdbool.h>
#include <string.h>

/* Sizing and copying share one walk over the device: with base == NULL it only counts (the
 * size of a compact device is counted again when it is released). */
typedef struct {
  char *base;   /* the block, or NULL while counting */
  size_t used;  /* bytes taken so far */
  nd_intern *shared;
} packer;

static void *take(packer *p, size_t size) {
  void *at = p->base ? p->base + p->used : NULL;
  p->used += size;
  return at;
}

static char *own(packer *p, const char *s) {
  if (s == NULL)
    return NULL;
  size_t len = strlen(s) + 1;
  char *at = take(p, len);
  if (at != NULL)
    memcpy(at, s, len);
  return at;
}

static char *share(packer *p, const char *s) {
  return p->base != NULL ? (char *)nd_intern_ref(p->shared, s) : NULL;
}

static char **share_strv(packer *p, char *const *v, size_t n) {
  if (n == 0)
    return NULL;
  char **out = take(p, n * sizeof(*out));
  for (size_t i = 0; out != NULL && i < n; i++)
    out[i] = share(p, v[i]);
  return out;
}

/* Pointer-aligned parts first (every element size is a multiple of 8), strings last.
 * id_is_name: the id is the name (not stored again). name is only read when filling. */
static nd_device *pack(packer *p, const nd_device *d, const char *name, bool id_is_name) {
  nd_device *c = take(p, sizeof(*c));
  nd_attr *attrs = d->n_attrs ? take(p, d->n_attrs * sizeof(*attrs)) : NULL;
  nd_capacity *caps = d->n_caps ? take(p, d->n_caps * sizeof(*caps)) : NULL;
  nd_node_requirement *reqs = d->n_node_reqs ? take(p, d->n_node_reqs * sizeof(*reqs)) : NULL;
  if (c != NULL) {
    *c = *d;
    c->attrs = attrs;
    c->caps = caps;
    c->node_reqs = reqs;
    c->source = share(p, d->source);
    c->pool = share(p, d->pool);
    c->type = share(p, d->type);
    c->vendor = share(p, d->vendor);
    c->model = share(p, d->model);
    c->secret_namespace = share(p, d->secret_namespace);
  }
  for (size_t i = 0; i < d->n_node_reqs; i++) {
    char **values = share_strv(p, d->node_reqs[i].values, d->node_reqs[i].n_values);
    if (reqs != NULL)
      reqs[i] = (nd_node_requirement){.key = share(p, d->node_reqs[i].key),
                                      .op = share(p, d->node_reqs[i].op),
                                      .values = values,
                                      .n_values = d->node_reqs[i].n_values};
  }
  char **conds = share_strv(p, d->binding_conditions, d->n_binding_conditions);
  char **failure_conds =
      share_strv(p, d->binding_failure_conditions, d->n_binding_failure_conditions);
  for (size_t i = 0; i < d->n_caps; i++) {
    if (caps != NULL)
      caps[i] = (nd_capacity){.name = share(p, d->caps[i].name),
                              .quantity = share(p, d->caps[i].quantity)};
  }
  for (size_t i = 0; i < d->n_attrs; i++) {
    char *str = own(p, d->attrs[i].str);
    if (attrs != NULL) {
      attrs[i] = d->attrs[i];
      attrs[i].name = share(p, d->attrs[i].name);
      attrs[i].str = str;
    }
  }
  char *id = id_is_name ? (char *)name : own(p, d->id), *endpoint = own(p, d->endpoint);
  char *secret_name = own(p, d->secret_name), *fabric_region = own(p, d->fabric_region);
  if (c != NULL) {
    c->binding_conditions = conds;
    c->binding_failure_conditions = failure_conds;
    c->id = id;
    c->name = (char *)name;
    c->endpoint = endpoint;
    c->secret_name = secret_name;
    c->fabric_region = fabric_region;
  }
  return c;
}

static size_t block_size(const nd_device *d, bool id_is_name) {
  packer count = {0};
  pack(&count, d, NULL, id_is_name);
  return count.used;
}

nd_device *nd_device_compact(const nd_device *d, const char *name, const nd_device_storage *st) {
  bool id_is_name = strcmp(d->id, name) == 0;
  packer fill = {.base = nd_slab_alloc(st->memory, block_size(d, id_is_name)),
                 .shared = st->strings};
  return pack(&fill, d, name, id_is_name);
}

static void unref_strv(nd_intern *shared, char *const *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    nd_intern_unref(shared, v[i]);
}

void nd_device_compact_free(nd_device *d, const nd_device_storage *st) {
  if (d == NULL)
    return;
  nd_intern *shared = st->strings;
  nd_intern_unref(shared, d->source);
  nd_intern_unref(shared, d->pool);
  nd_intern_unref(shared, d->type);
  nd_intern_unref(shared, d->vendor);
  nd_intern_unref(shared, d->model);
  nd_intern_unref(shared, d->secret_namespace);
  for (size_t i = 0; i < d->n_node_reqs; i++) {
    nd_intern_unref(shared, d->node_reqs[i].key);
    nd_intern_unref(shared, d->node_reqs[i].op);
    unref_strv(shared, d->node_reqs[i].values, d->node_reqs[i].n_values);
  }
  unref_strv(shared, d->binding_conditions, d->n_binding_conditions);
  unref_strv(shared, d->binding_failure_conditions, d->n_binding_failure_conditions);
  for (size_t i = 0; i < d->n_caps; i++) {
    nd_intern_unref(shared, d->caps[i].name);
    nd_intern_unref(shared, d->caps[i].quantity);
  }
  for (size_t i = 0; i < d->n_attrs; i++)
    nd_intern_unref(shared, d->attrs[i].name);
  nd_slab_release(st->memory, d, block_size(d, d->id == d->name));
}
