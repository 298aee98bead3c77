/* pool_sync.c: existing slices + planned slices -> ordered writes (see pool_sync.h). */
#include "pool_sync.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static const char *obj_name(const json_t *o) {
  return json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
}

static int64_t obj_generation(const json_t *o) {
  return json_integer_value(
      json_object_get(json_object_get(json_object_get(o, "spec"), "pool"), "generation"));
}

static bool empty_value(const json_t *v) {
  return json_is_null(v) || json_is_false(v) ||
         (json_is_string(v) && json_string_length(v) == 0) ||
         (json_is_array(v) && json_array_size(v) == 0) ||
         (json_is_object(v) && json_object_size(v) == 0);
}

/* A copy without object members that hold an empty value (null, false, "", [], {}): the API
 * server treats them as absent (omitempty), so they must not cause a write. */
static json_t *without_empty(const json_t *v) {
  if (json_is_object(v)) {
    json_t *out = json_object();
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
      json_t *c = without_empty(m);
      if (empty_value(c))
        json_decref(c);
      else
        json_object_set_new(out, k, c);
    }
    return out;
  }
  if (json_is_array(v)) {
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) json_array_append_new(out, without_empty(m));
    return out;
  }
  return json_incref((json_t *)v);
}

bool nd_slice_spec_equal(const json_t *a, const json_t *b) {
  /* objects compare key-wise (order-free), arrays in order: the semantics of a ResourceSlice
   * spec (devices and lists are ordered) */
  if (a == NULL || b == NULL)
    return false;
  if (json_equal((json_t *)a, (json_t *)b))
    return true;
  json_t *na = without_empty(a), *nb = without_empty(b);
  bool eq = json_equal(na, nb);
  json_decref(na);
  json_decref(nb);
  return eq;
}

static const json_t *find_device(const json_t *spec, const char *name) {
  const json_t *devs = json_object_get(spec, "devices");
  size_t i;
  const json_t *d;
  json_array_foreach(devs, i, d) {
    const char *n = json_string_value(json_object_get(d, "name"));
    if (n != NULL && strcmp(n, name) == 0)
      return d;
  }
  return NULL;
}

void nd_slice_keep_taint_times(json_t *spec, const json_t *existing_spec) {
  json_t *devs = json_object_get(spec, "devices");
  size_t i;
  json_t *d;
  json_array_foreach(devs, i, d) {
    json_t *taints = json_object_get(d, "taints");
    if (!json_is_array(taints))
      continue;
    const json_t *ed = find_device(existing_spec, json_string_value(json_object_get(d, "name")));
    const json_t *etaints = json_object_get(ed, "taints");
    size_t t;
    json_t *taint;
    json_array_foreach(taints, t, taint) {
      size_t u;
      const json_t *et;
      json_array_foreach(etaints, u, et) {
        if (json_equal(json_object_get(taint, "key"), json_object_get(et, "key")) &&
            json_equal(json_object_get(taint, "effect"), json_object_get(et, "effect")) &&
            json_equal(json_object_get(taint, "value"), json_object_get(et, "value")) &&
            json_is_string(json_object_get(et, "timeAdded"))) {
          json_object_set(taint, "timeAdded", json_object_get(et, "timeAdded"));
          break;
        }
      }
    }
  }
}

static void push(nd_pool_sync *s, nd_slice_op_kind kind, const char *name, json_t *object) {
  nd_slice_op *ops = realloc(s->ops, (s->n_ops + 1) * sizeof(*ops));
  if (ops == NULL)
    abort();
  s->ops = ops;
  s->ops[s->n_ops].kind = kind;
  s->ops[s->n_ops].name = strdup(name);
  if (s->ops[s->n_ops].name == NULL)
    abort();
  s->ops[s->n_ops].object = object;
  s->n_ops++;
}

static json_t *build_object(const char *api_version, const char *name, const json_t *existing,
                            const json_t *spec) {
  json_t *meta;
  if (existing != NULL) {
    meta = json_deep_copy(json_object_get(existing, "metadata"));
    json_object_del(meta, "managedFields");
    json_object_del(meta, "creationTimestamp");
    json_object_del(meta, "generation");
  } else {
    meta = json_pack("{s:s}", "name", name);
  }
  cleanup_free char *apiv = NULL;
  if (asprintf(&apiv, "resource.k8s.io/%s", api_version) < 0)
    abort();
  return json_pack("{s:s, s:s, s:o, s:O}", "apiVersion", apiv, "kind", "ResourceSlice",
                   "metadata", meta, "spec", spec);
}

static void set_generation(json_t *spec, int64_t gen) {
  json_object_set_new(json_object_get(spec, "pool"), "generation", json_integer(gen));
}

void nd_pool_sync_compute(const nd_planned_pool *desired, json_t *const *existing,
                          size_t n_existing, const char *api_version, bool always_bump,
                          nd_pool_sync *out) {
  memset(out, 0, sizeof(*out));
  int64_t g = 0;
  for (size_t i = 0; i < n_existing; i++)
    if (obj_generation(existing[i]) > g)
      g = obj_generation(existing[i]);
  size_t n_desired = desired ? desired->n_slices : 0;

  /* match planned slices to existing ones by name */
  const json_t **match = calloc(n_desired + 1, sizeof(*match));
  bool *kept = calloc(n_existing + 1, sizeof(*kept));
  json_t **specs = calloc(n_desired + 1, sizeof(*specs));
  if (match == NULL || kept == NULL || specs == NULL)
    abort();
  size_t n_new = 0, n_changed = 0;
  for (size_t d = 0; d < n_desired; d++) {
    specs[d] = json_deep_copy(desired->slices[d].spec);
    for (size_t e = 0; e < n_existing; e++) {
      const char *en = obj_name(existing[e]);
      if (!kept[e] && en != NULL && strcmp(en, desired->slices[d].name) == 0) {
        match[d] = existing[e];
        kept[e] = true;
        break;
      }
    }
    if (match[d] == NULL) {
      n_new++;
      continue;
    }
    const json_t *espec = json_object_get(match[d], "spec");
    nd_slice_keep_taint_times(specs[d], espec);
    set_generation(specs[d], g);
    if (!nd_slice_spec_equal(specs[d], espec))
      n_changed++;
  }
  size_t n_obsolete = 0;
  for (size_t e = 0; e < n_existing; e++)
    n_obsolete += !kept[e];

  bool bump = n_new > 0 || n_changed > 1 ||
              (always_bump && (n_changed > 0 || n_obsolete > 0) && n_desired > 0);
  int64_t gen = bump && n_existing > 0 ? g + 1 : g;
  out->generation = gen;

  for (size_t e = 0; e < n_existing; e++)
    if (!kept[e])
      push(out, ND_SLICE_DELETE, obj_name(existing[e]) ? obj_name(existing[e]) : "",
           json_incref(existing[e]));
  for (size_t d = 0; d < n_desired; d++) {
    if (match[d] == NULL)
      continue;
    set_generation(specs[d], gen);
    if (nd_slice_spec_equal(specs[d], json_object_get(match[d], "spec")))
      continue;
    push(out, ND_SLICE_UPDATE, desired->slices[d].name,
         build_object(api_version, desired->slices[d].name, match[d], specs[d]));
  }
  for (size_t d = 0; d < n_desired; d++) {
    if (match[d] != NULL)
      continue;
    set_generation(specs[d], gen);
    push(out, ND_SLICE_CREATE, desired->slices[d].name,
         build_object(api_version, desired->slices[d].name, NULL, specs[d]));
  }
  for (size_t d = 0; d < n_desired; d++)
    json_decref(specs[d]);
  free(specs);
  free(match);
  free(kept);
}

void nd_pool_sync_clear(nd_pool_sync *s) {
  for (size_t i = 0; i < s->n_ops; i++) {
    free(s->ops[i].name);
    json_decref(s->ops[i].object);
  }
  free(s->ops);
  memset(s, 0, sizeof(*s));
}
