/* slice_planner.c: registry pool -> desired ResourceSlices (pure; see slice_planner.h). */
#include "slice_planner.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"
#include "names.h"
#include "quantity.h"

#define ND_DEVICE_MAX_KEYS 32 /* attributes + capacities per device */
#define ND_TAINT_KEY_SUFFIX "/unreachable"

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    abort();
  va_end(ap);
  return s;
}

void nd_format_time_s(uint64_t wall_ms, char *buf, size_t len) {
  time_t t = (time_t)(wall_ms / 1000u);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *nd_slice_name(const char *driver, const char *pool, size_t index) {
  /* the pool as a DNS label: unchanged when it is one, else sanitised + hash (lib/names.h) */
  char label[ND_DNS_LABEL_MAX + 1];
  nd_name_sanitize_dns_label(pool, strlen(pool), label);
  return xasprintf("%s-%s-%zu", driver, label, index);
}

static json_t *attr_string(const char *s) { return json_pack("{s:s}", "string", s); }

static json_t *node_selector_term(const nd_device *d) {
  json_t *exprs = json_array();
  for (size_t i = 0; i < d->n_node_reqs; i++) {
    const nd_node_requirement *r = &d->node_reqs[i];
    json_t *e = json_pack("{s:s, s:s}", "key", r->key, "operator", r->op);
    if (r->n_values > 0) {
      json_t *vals = json_array();
      for (size_t v = 0; v < r->n_values; v++)
        json_array_append_new(vals, json_string(r->values[v]));
      json_object_set_new(e, "values", vals);
    }
    json_array_append_new(exprs, e);
  }
  return json_pack("{s:[{s:o}]}", "nodeSelectorTerms", "matchExpressions", exprs);
}

static bool device_all_nodes(const nd_device *d) { return d->all_nodes || d->n_node_reqs == 0; }

static bool same_reqs(const nd_device *a, const nd_device *b) {
  if (device_all_nodes(a) || device_all_nodes(b))
    return device_all_nodes(a) && device_all_nodes(b);
  if (a->n_node_reqs != b->n_node_reqs)
    return false;
  for (size_t i = 0; i < a->n_node_reqs; i++) {
    const nd_node_requirement *x = &a->node_reqs[i], *y = &b->node_reqs[i];
    if (strcmp(x->key, y->key) != 0 || strcmp(x->op, y->op) != 0 || x->n_values != y->n_values)
      return false;
    for (size_t v = 0; v < x->n_values; v++)
      if (strcmp(x->values[v], y->values[v]) != 0)
        return false;
  }
  return true;
}

static json_t *attr_value(const nd_attr *a) {
  switch (a->type) {
  case ND_ATTR_STRING:
    return a->str ? json_pack("{s:s}", "string", a->str) : NULL;
  case ND_ATTR_VERSION:
    return a->str ? json_pack("{s:s}", "version", a->str) : NULL;
  case ND_ATTR_INT:
    return json_pack("{s:I}", "int", (json_int_t)a->num);
  case ND_ATTR_BOOL:
    return json_pack("{s:b}", "bool", a->flag);
  }
  return NULL;
}

static json_t *string_array(char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

#define ND_MAX_BINDING_CONDITIONS 4

/* Our own attributes, in the order they are published; announced attributes never override
 * them. */
typedef struct {
  const char *key, *val;
} own_attr;

static size_t own_attrs(const nd_device *d, own_attr out[6]) {
  const own_attr all[] = {{"type", d->type},       {"vendor", d->vendor},
                          {"model", d->model},     {"id", d->id},
                          {"endpoint", d->endpoint}, {"fabricRegion", d->fabric_region}};
  size_t n = 0;
  for (size_t i = 0; i < ND_ARRAY_LEN(all); i++)
    if (all[i].val != NULL && all[i].val[0] != '\0')
      out[n++] = all[i];
  return n;
}

static bool has_secret(const nd_device *d) {
  return d->secret_name != NULL && d->secret_name[0] != '\0';
}

static char *secret_ref(const nd_device *d) {
  return xasprintf("%s/%s", d->secret_namespace ? d->secret_namespace : "default",
                   d->secret_name);
}

static bool key_in(const char *const *keys, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i], key) == 0)
      return true;
  return false;
}

/* The attribute and capacity keys the device publishes (own: its own attributes), each once
 * (the published maps keep the first attribute and the last capacity of a name); stops
 * counting past the limit. */
static size_t published_keys(const nd_device *d, const own_attr *own, size_t n_own) {
  const char *keys[ND_DEVICE_MAX_KEYS + 1];
  size_t n = 0;
  for (size_t i = 0; i < n_own; i++)
    keys[n++] = own[i].key;
  if (has_secret(d))
    keys[n++] = "secretRef";
  for (size_t i = 0; i < d->n_attrs && n <= ND_DEVICE_MAX_KEYS; i++)
    if (!key_in(keys, n, d->attrs[i].name))
      keys[n++] = d->attrs[i].name;
  size_t n_attr_keys = n;
  for (size_t i = 0; i < d->n_caps && n <= ND_DEVICE_MAX_KEYS; i++)
    if (!key_in(keys + n_attr_keys, n - n_attr_keys, d->caps[i].name))
      keys[n++] = d->caps[i].name;
  return n;
}

/* What the API server would reject in this device, checked without rendering it (so that one
 * bad device is left out instead of failing its whole slice). */
static int check_device(const nd_device *d, nd_error_t *err) {
  /* the device is named in an error only when there is one (this runs for every device of a
   * pool each time the pool is planned) */
  if (d->name == NULL || nd_name_validate(ND_NAME_DNS_LABEL, "name", d->name, NULL) < 0)
    return nd_error_make(err, EINVAL, "device %s/%s: no valid name", d->pool, d->id);
  own_attr own[6];
  size_t n_own = own_attrs(d, own);
  for (size_t i = 0; i < n_own; i++)
    if (strlen(own[i].val) > 64)
      return nd_error_make(err, EINVAL,
                           "device %s/%s: attribute %s is %zu characters long (limit 64)",
                           d->pool, d->id, own[i].key, strlen(own[i].val));
  if (has_secret(d)) {
    cleanup_free char *ref = secret_ref(d);
    if (strlen(ref) > 64)
      return nd_error_make(err, EINVAL, "device %s/%s: secretRef %s longer than 64 characters",
                           d->pool, d->id, ref);
  }
  for (size_t i = 0; i < d->n_attrs; i++) {
    if (nd_name_validate(ND_NAME_ATTRIBUTE_KEY, "attribute", d->attrs[i].name, err) < 0)
      return nd_error_wrap(err, "device %s/%s", d->pool, d->id);
    if ((d->attrs[i].type == ND_ATTR_STRING || d->attrs[i].type == ND_ATTR_VERSION) &&
        (d->attrs[i].str == NULL || strlen(d->attrs[i].str) > 64))
      return nd_error_make(err, EINVAL, "device %s/%s: attribute %s: value missing or longer "
                           "than 64 characters", d->pool, d->id, d->attrs[i].name);
  }
  for (size_t i = 0; i < d->n_caps; i++) {
    if (nd_name_validate(ND_NAME_ATTRIBUTE_KEY, "capacity", d->caps[i].name, err) < 0)
      return nd_error_wrap(err, "device %s/%s", d->pool, d->id);
    nd_quantity q; /* rendering writes its canonical form */
    if (nd_quantity_parse(d->caps[i].quantity, &q, err) < 0)
      return nd_error_wrap(err, "device %s/%s: capacity %s", d->pool, d->id, d->caps[i].name);
  }
  size_t keys = published_keys(d, own, n_own);
  if (keys > ND_DEVICE_MAX_KEYS)
    return nd_error_make(err, E2BIG,
                         "device %s/%s: more than %d attributes and capacities (the limit "
                         "per device)", d->pool, d->id, ND_DEVICE_MAX_KEYS);
  if (d->n_binding_conditions > ND_MAX_BINDING_CONDITIONS ||
      d->n_binding_failure_conditions > ND_MAX_BINDING_CONDITIONS)
    return nd_error_make(err, E2BIG, "device %s/%s: more than %d binding (failure) conditions",
                         d->pool, d->id, ND_MAX_BINDING_CONDITIONS);
  for (size_t i = 0; i < d->n_node_reqs; i++)
    if (nd_name_validate(ND_NAME_QUALIFIED_NAME, "node selector key", d->node_reqs[i].key,
                         err) < 0)
      return nd_error_wrap(err, "device %s/%s", d->pool, d->id);
  return 0;
}

/* The published device object of a device that check_device accepted. */
static json_t *render_device(const nd_planner_options *opts, const nd_device *d,
                             const nd_device_taint *taint, bool per_device_nodes) {
  cleanup_json json_t *attrs = json_object();
  own_attr own[6];
  size_t n_own = own_attrs(d, own);
  for (size_t i = 0; i < n_own; i++)
    json_object_set_new(attrs, own[i].key, attr_string(own[i].val));
  if (has_secret(d)) {
    cleanup_free char *ref = secret_ref(d);
    json_object_set_new(attrs, "secretRef", attr_string(ref));
  }
  for (size_t i = 0; i < d->n_attrs; i++)
    if (json_object_get(attrs, d->attrs[i].name) == NULL)
      json_object_set_new(attrs, d->attrs[i].name, attr_value(&d->attrs[i]));
  cleanup_json json_t *caps = json_object();
  for (size_t i = 0; i < d->n_caps; i++) {
    /* canonical, as the API server stores it: what we compare later is what it returns */
    cleanup_free char *q = nd_quantity_canonical(d->caps[i].quantity, NULL);
    json_object_set_new(caps, d->caps[i].name, json_pack("{s:s}", "value", q));
  }

  json_t *dev = json_pack("{s:s}", "name", d->name);
  if (json_object_size(attrs) > 0)
    json_object_set(dev, "attributes", attrs);
  if (json_object_size(caps) > 0)
    json_object_set(dev, "capacity", caps);
  if (per_device_nodes) {
    if (device_all_nodes(d))
      json_object_set_new(dev, "allNodes", json_true());
    else
      json_object_set_new(dev, "nodeSelector", node_selector_term(d));
  }
  if (taint != NULL && taint->tainted) {
    char ts[32];
    nd_format_time_s(taint->since_wall_ms, ts, sizeof(ts));
    cleanup_free char *key = xasprintf("%s%s", opts->driver, ND_TAINT_KEY_SUFFIX);
    json_object_set_new(dev, "taints",
                        json_pack("[{s:s, s:s, s:s, s:s}]", "key", key, "value", "true", "effect",
                                  "NoSchedule", "timeAdded", ts));
  }
  if (opts->binding_conditions && d->n_binding_conditions > 0) {
    if (d->binds_to_node)
      json_object_set_new(dev, "bindsToNode", json_true());
    json_object_set_new(dev, "bindingConditions",
                        string_array(d->binding_conditions, d->n_binding_conditions));
    if (d->n_binding_failure_conditions > 0)
      json_object_set_new(dev, "bindingFailureConditions",
                          string_array(d->binding_failure_conditions,
                                       d->n_binding_failure_conditions));
  }
  return dev;
}

json_t *nd_plan_device(const nd_planner_options *opts, const nd_device *d,
                       const nd_device_taint *taint, bool per_device_nodes, nd_error_t *err) {
  return check_device(d, err) < 0 ? NULL : render_device(opts, d, taint, per_device_nodes);
}

void nd_planned_pool_clear(nd_planned_pool *p) {
  for (size_t i = 0; i < p->n_slices; i++)
    free(p->slices[i].name);
  free(p->slices);
  free(p->pool);
  free(p->devices);
  free(p->taints);
  memset(p, 0, sizeof(*p));
}

/* Which slice each planned device goes into (see slice_planner.h): a device stays in the
 * slice that publishes it while that slice has room; new and displaced devices fill the
 * lowest-numbered slices with room. When holes left by removed devices make that take more
 * than one slice beyond the minimum, the pool is repacked in name order. Returns the number
 * of slice numbers used (the highest number + 1); slot[i] is device i's slice number. */
static size_t place_devices(const int *placement, const size_t *planned_to_dev, size_t n_dev,
                            size_t limit, size_t *slot) {
  size_t min_slices = n_dev == 0 ? 1 : (n_dev + limit - 1) / limit;
  size_t cap = min_slices + 1; /* slice numbers a sticky placement may use */
  if (placement != NULL) {
    cleanup_free size_t *fill = calloc(cap, sizeof(*fill));
    if (fill == NULL)
      abort();
    for (size_t i = 0; i < n_dev; i++) {
      int p = placement[planned_to_dev[i]];
      if (p >= 0 && (size_t)p < cap && fill[p] < limit) {
        slot[i] = (size_t)p;
        fill[p]++;
      } else {
        slot[i] = SIZE_MAX;
      }
    }
    size_t next = 0;
    bool fits = true;
    for (size_t i = 0; i < n_dev && fits; i++) {
      if (slot[i] != SIZE_MAX)
        continue;
      while (next < cap && fill[next] >= limit)
        next++;
      if (next == cap) {
        fits = false;
        break;
      }
      slot[i] = next;
      fill[next]++;
    }
    if (fits) {
      size_t used = 0, top = 0;
      for (size_t s = 0; s < cap; s++)
        if (fill[s] > 0) {
          used++;
          top = s + 1;
        }
      if (used <= min_slices + 1)
        return top == 0 ? 1 : top;
    }
  }
  for (size_t i = 0; i < n_dev; i++) /* repack in name order */
    slot[i] = i / limit;
  return min_slices;
}

int nd_plan_pool(const nd_planner_options *opts, const char *pool, const nd_device *const *devs,
                 const nd_device_taint *taints, const int *placement, size_t n,
                 nd_planned_pool *out, nd_error_t *err) {
  memset(out, 0, sizeof(*out));
  size_t limit = opts->max_devices ? opts->max_devices : ND_SLICE_MAX_DEVICES;
  size_t limit_tainted =
      opts->max_devices_tainted ? opts->max_devices_tainted : ND_SLICE_MAX_DEVICES_TAINTED;
  bool any_taint = false;
  for (size_t i = 0; taints != NULL && i < n; i++)
    any_taint = any_taint || taints[i].tainted;
  if (any_taint && limit_tainted < limit)
    limit = limit_tainted;

  /* node selection for the whole pool */
  bool all_nodes = true, uniform = true;
  for (size_t i = 0; i < n; i++) {
    all_nodes = all_nodes && device_all_nodes(devs[i]);
    if (i > 0 && !same_reqs(devs[0], devs[i]))
      uniform = false;
  }
  bool per_device = !uniform;

  /* devices, in order; a device that breaks an API limit is left out and logged (checked
   * without rendering it: slices are rendered when needed) */
  cleanup_free size_t *planned_to_dev = calloc(n + 1, sizeof(*planned_to_dev));
  if (planned_to_dev == NULL)
    abort();
  size_t n_dev = 0;
  for (size_t i = 0; i < n; i++) {
    cleanup_error nd_error_t derr = NULL;
    if (check_device(devs[i], &derr) < 0) {
      ND_LOG_WARN("planner", "device_skipped", ND_KV_S("pool", pool),
                  ND_KV_S("device", devs[i]->name), ND_KV_S("error", nd_error_msg(derr)));
      out->n_skipped++;
      continue;
    }
    planned_to_dev[n_dev++] = i;
  }
  out->nodes = per_device                  ? ND_NODES_PER_DEVICE
               : (all_nodes || n_dev == 0) ? ND_NODES_ALL
                                           : ND_NODES_SELECTOR;
  out->selector = out->nodes == ND_NODES_SELECTOR ? devs[0] : NULL;
  cleanup_free size_t *slot = calloc(n_dev + 1, sizeof(*slot));
  if (slot == NULL)
    abort();
  size_t n_numbers = place_devices(placement, planned_to_dev, n_dev, limit, slot);

  /* one slice per slice number that holds a device (number 0 for an empty pool); the devices
   * grouped by slice number, in name order within each */
  cleanup_free size_t *count = calloc(n_numbers + 1, sizeof(*count));
  cleanup_free size_t *start = calloc(n_numbers + 1, sizeof(*start));
  if (count == NULL || start == NULL)
    abort();
  for (size_t i = 0; i < n_dev; i++)
    count[slot[i]]++;
  size_t n_slices = 0;
  for (size_t s = 0, at = 0; s < n_numbers; s++) {
    start[s] = at;
    at += count[s];
    n_slices += count[s] > 0 || (n_dev == 0 && s == 0);
  }
  out->pool = strdup(pool);
  out->slices = calloc(n_slices, sizeof(*out->slices));
  out->devices = calloc(n_dev + 1, sizeof(*out->devices));
  if (out->pool == NULL || out->slices == NULL || out->devices == NULL)
    abort();
  if (taints != NULL && (out->taints = calloc(n_dev + 1, sizeof(*out->taints))) == NULL)
    abort();
  out->opts = *opts;
  out->n_slices = n_slices;
  cleanup_free size_t *fill = calloc(n_numbers + 1, sizeof(*fill));
  if (fill == NULL)
    abort();
  for (size_t i = 0; i < n_dev; i++) {
    size_t at = start[slot[i]] + fill[slot[i]]++;
    out->devices[at] = devs[planned_to_dev[i]];
    if (taints != NULL)
      out->taints[at] = taints[planned_to_dev[i]];
  }
  size_t k = 0;
  for (size_t s = 0; s < n_numbers; s++) {
    if (count[s] == 0 && !(n_dev == 0 && s == 0))
      continue;
    out->slices[k] = (nd_planned_slice){.name = nd_slice_name(opts->driver, pool, s),
                                        .number = s,
                                        .first = start[s],
                                        .n_devices = count[s]};
    k++;
  }
  (void)err;
  return 0;
}

json_t *nd_planned_slice_spec(const nd_planned_pool *p, size_t s) {
  const nd_planned_slice *sl = &p->slices[s];
  json_t *spec = json_pack("{s:s, s:{s:s, s:I, s:I}}", "driver", p->opts.driver, "pool", "name",
                           p->pool, "generation", (json_int_t)0, "resourceSliceCount",
                           (json_int_t)p->n_slices);
  if (spec == NULL)
    abort();
  if (p->nodes == ND_NODES_PER_DEVICE)
    json_object_set_new(spec, "perDeviceNodeSelection", json_true());
  else if (p->nodes == ND_NODES_ALL)
    json_object_set_new(spec, "allNodes", json_true());
  else
    json_object_set_new(spec, "nodeSelector", node_selector_term(p->selector));
  json_t *devices = json_array();
  for (size_t i = sl->first; i < sl->first + sl->n_devices; i++) /* checked when planned */
    json_array_append_new(devices, render_device(&p->opts, p->devices[i],
                                                 p->taints ? &p->taints[i] : NULL,
                                                 p->nodes == ND_NODES_PER_DEVICE));
  json_object_set_new(spec, "devices", devices);
  return spec;
}

static void feed_u64(nd_digest_builder *b, uint64_t v) { nd_digest_feed(b, &v, sizeof(v)); }

static void feed_str(nd_digest_builder *b, const char *s) { /* with its NUL: no two joined alike */
  nd_digest_feed(b, s ? s : "", s ? strlen(s) + 1 : 1);
}

bool nd_planned_slice_fingerprint(const nd_planned_pool *p, size_t s, int64_t generation,
                                  nd_spec_digest *out) {
  const nd_planned_slice *sl = &p->slices[s];
  for (size_t i = sl->first; i < sl->first + sl->n_devices; i++)
    if (p->devices[i]->revision == 0)
      return false;
  if (p->nodes == ND_NODES_SELECTOR && p->selector->revision == 0)
    return false;
  nd_digest_builder *b = nd_digest_begin();
  feed_str(b, p->opts.driver);
  feed_u64(b, p->opts.binding_conditions);
  feed_str(b, p->pool);
  feed_u64(b, (uint64_t)generation);
  feed_u64(b, p->n_slices);
  feed_u64(b, p->nodes);
  feed_u64(b, p->nodes == ND_NODES_SELECTOR ? p->selector->revision : 0);
  feed_u64(b, sl->n_devices);
  for (size_t i = sl->first; i < sl->first + sl->n_devices; i++) {
    const nd_device_taint *t = p->taints ? &p->taints[i] : NULL;
    uint64_t dev[3] = {p->devices[i]->revision, t != NULL && t->tainted,
                       t != NULL && t->tainted ? t->since_wall_ms : 0};
    nd_digest_feed(b, dev, sizeof(dev));
  }
  *out = nd_digest_end(b);
  return true;
}

long nd_slice_number(const char *driver, const char *pool, const char *slice_name) {
  const char *dash = strrchr(slice_name, '-');
  if (dash == NULL || dash[1] == '\0')
    return -1;
  char *end;
  errno = 0;
  long v = strtol(dash + 1, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > 1000000 || (dash[1] == '0' && dash[2] != '\0'))
    return -1;
  cleanup_free char *expect = nd_slice_name(driver, pool, (size_t)v);
  return strcmp(expect, slice_name) == 0 ? v : -1;
}
