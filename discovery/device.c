/* device.c: the one device model every discovery source produces (discovery.h): release,
 * deep copy and "same published device" comparison (health timestamps ignored). */
#include <stdlib.h>
#include <string.h>

#include "discovery.h"

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void nd_device_free(nd_device *d) {
  if (d == NULL)
    return;
  free(d->source);
  free(d->pool);
  free(d->id);
  free(d->name);
  free(d->type);
  free(d->vendor);
  free(d->model);
  for (size_t i = 0; i < d->n_attrs; i++) {
    free(d->attrs[i].name);
    free(d->attrs[i].str);
  }
  free(d->attrs);
  for (size_t i = 0; i < d->n_caps; i++) {
    free(d->caps[i].name);
    free(d->caps[i].quantity);
  }
  free(d->caps);
  for (size_t i = 0; i < d->n_node_reqs; i++) {
    free(d->node_reqs[i].key);
    free(d->node_reqs[i].op);
    free_strv(d->node_reqs[i].values, d->node_reqs[i].n_values);
  }
  free(d->node_reqs);
  free(d->endpoint);
  free(d->secret_namespace);
  free(d->secret_name);
  free(d->fabric_region);
  free_strv(d->binding_conditions, d->n_binding_conditions);
  free_strv(d->binding_failure_conditions, d->n_binding_failure_conditions);
  free(d);
}

static char *dup(const char *s) { return s ? strdup(s) : NULL; }

static char **dup_strv(char *const *v, size_t n) {
  if (n == 0)
    return NULL;
  char **out = calloc(n, sizeof(char *));
  for (size_t i = 0; i < n; i++)
    out[i] = strdup(v[i]);
  return out;
}

nd_device *nd_device_clone(const nd_device *d) {
  nd_device *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  *c = *d;
  c->source = dup(d->source);
  c->pool = dup(d->pool);
  c->id = dup(d->id);
  c->name = dup(d->name);
  c->type = dup(d->type);
  c->vendor = dup(d->vendor);
  c->model = dup(d->model);
  c->attrs = d->n_attrs ? calloc(d->n_attrs, sizeof(nd_attr)) : NULL;
  for (size_t i = 0; i < d->n_attrs; i++) {
    c->attrs[i] = d->attrs[i];
    c->attrs[i].name = dup(d->attrs[i].name);
    c->attrs[i].str = dup(d->attrs[i].str);
  }
  c->caps = d->n_caps ? calloc(d->n_caps, sizeof(nd_capacity)) : NULL;
  for (size_t i = 0; i < d->n_caps; i++) {
    c->caps[i].name = dup(d->caps[i].name);
    c->caps[i].quantity = dup(d->caps[i].quantity);
  }
  c->node_reqs = d->n_node_reqs ? calloc(d->n_node_reqs, sizeof(nd_node_requirement)) : NULL;
  for (size_t i = 0; i < d->n_node_reqs; i++) {
    c->node_reqs[i].key = dup(d->node_reqs[i].key);
    c->node_reqs[i].op = dup(d->node_reqs[i].op);
    c->node_reqs[i].values = dup_strv(d->node_reqs[i].values, d->node_reqs[i].n_values);
    c->node_reqs[i].n_values = d->node_reqs[i].n_values;
  }
  c->endpoint = dup(d->endpoint);
  c->secret_namespace = dup(d->secret_namespace);
  c->secret_name = dup(d->secret_name);
  c->fabric_region = dup(d->fabric_region);
  c->binding_conditions = dup_strv(d->binding_conditions, d->n_binding_conditions);
  c->binding_failure_conditions =
      dup_strv(d->binding_failure_conditions, d->n_binding_failure_conditions);
  return c;
}

static bool str_eq(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb) {
  if (na != nb)
    return false;
  for (size_t i = 0; i < na; i++)
    if (!str_eq(a[i], b[i]))
      return false;
  return true;
}

bool nd_device_equal(const nd_device *a, const nd_device *b) {
  if (!str_eq(a->source, b->source) || !str_eq(a->pool, b->pool) || !str_eq(a->id, b->id) ||
      !str_eq(a->type, b->type) || !str_eq(a->vendor, b->vendor) || !str_eq(a->model, b->model) ||
      !str_eq(a->endpoint, b->endpoint) || !str_eq(a->secret_namespace, b->secret_namespace) ||
      !str_eq(a->secret_name, b->secret_name) || !str_eq(a->fabric_region, b->fabric_region) ||
      a->all_nodes != b->all_nodes || a->binds_to_node != b->binds_to_node ||
      a->ttl_s != b->ttl_s || a->n_attrs != b->n_attrs || a->n_caps != b->n_caps ||
      a->n_node_reqs != b->n_node_reqs ||
      !strv_eq(a->binding_conditions, a->n_binding_conditions, b->binding_conditions,
               b->n_binding_conditions) ||
      !strv_eq(a->binding_failure_conditions, a->n_binding_failure_conditions,
               b->binding_failure_conditions, b->n_binding_failure_conditions))
    return false;
  for (size_t i = 0; i < a->n_attrs; i++) {
    const nd_attr *x = &a->attrs[i], *y = &b->attrs[i];
    if (!str_eq(x->name, y->name) || x->type != y->type || !str_eq(x->str, y->str) ||
        x->num != y->num || x->flag != y->flag)
      return false;
  }
  for (size_t i = 0; i < a->n_caps; i++)
    if (!str_eq(a->caps[i].name, b->caps[i].name) ||
        !str_eq(a->caps[i].quantity, b->caps[i].quantity))
      return false;
  for (size_t i = 0; i < a->n_node_reqs; i++) {
    const nd_node_requirement *x = &a->node_reqs[i], *y = &b->node_reqs[i];
    if (!str_eq(x->key, y->key) || !str_eq(x->op, y->op) ||
        !strv_eq(x->values, x->n_values, y->values, y->n_values))
      return false;
  }
  return true;
}
