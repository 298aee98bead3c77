/* pool_sync.c: existing slices + planned slices -> ordered writes (see pool_sync.h). */
#include "pool_sync.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_dump.h"
#include "strmap.h"

void nd_slice_keep_taint_times(json_t *spec, const nd_published_slice *existing) {
  json_t *devs = json_object_get(spec, "devices");
  size_t i;
  json_t *d;
  json_array_foreach(devs, i, d) {
    json_t *taints = json_object_get(d, "taints");
    const char *name = json_string_value(json_object_get(d, "name"));
    if (!json_is_array(taints) || name == NULL)
      continue;
    const json_t *etaints = nd_published_slice_taints(existing, name);
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

static void push(nd_pool_sync *s, nd_slice_op_kind kind, const char *name, json_t *body) {
  nd_slice_op *ops = realloc(s->ops, (s->n_ops + 1) * sizeof(*ops));
  if (ops == NULL)
    abort();
  s->ops = ops;
  s->ops[s->n_ops] = (nd_slice_op){.kind = kind, .name = strdup(name)};
  s->ops[s->n_ops].body = nd_json_dumps(body, JSON_COMPACT);
  if (s->ops[s->n_ops].name == NULL || s->ops[s->n_ops].body == NULL)
    abort();
  json_decref(body);
  s->n_ops++;
}

static json_t *build_object(const char *api_version, const char *name,
                            const nd_published_slice *existing, json_t *spec) {
  json_t *meta;
  if (existing != NULL) {
    meta = json_deep_copy(existing->metadata);
  } else {
    meta = json_pack("{s:s}", "name", name);
  }
  cleanup_free char *apiv = NULL;
  if (asprintf(&apiv, "resource.k8s.io/%s", api_version) < 0)
    abort();
  return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", apiv, "kind", "ResourceSlice",
                   "metadata", meta, "spec", spec);
}

static json_t *delete_options(const nd_published_slice *existing) {
  json_t *meta = existing->metadata;
  json_t *body = json_pack("{s:s, s:s, s:{s:O, s:O}}", "apiVersion", "v1", "kind",
                           "DeleteOptions", "preconditions", "uid", json_object_get(meta, "uid"),
                           "resourceVersion", json_object_get(meta, "resourceVersion"));
  if (body == NULL) /* no uid/rv known: unconditional delete */
    body = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "DeleteOptions");
  return body;
}

static void set_generation(json_t *spec, int64_t gen) {
  json_object_set_new(json_object_get(spec, "pool"), "generation", json_integer(gen));
}

/* Planned slice d as it would be published over `existing` (NULL: a new slice) at generation
 * gen: the taint times that `existing` publishes are kept. */
static json_t *planned_spec(const nd_planned_pool *desired, size_t d,
                            const nd_published_slice *existing, int64_t gen) {
  json_t *spec = nd_planned_slice_spec(desired, d);
  if (existing != NULL)
    nd_slice_keep_taint_times(spec, existing);
  set_generation(spec, gen);
  return spec;
}

/* Queue the write of planned slice d over `existing` (NULL: create it) at generation gen, with
 * the digest of the spec sent and the fingerprint of its plan. */
static void push_write(nd_pool_sync *out, const char *api_version, const nd_planned_pool *desired,
                       size_t d, const nd_published_slice *existing, int64_t gen) {
  const char *name = desired->slices[d].name;
  json_t *spec = planned_spec(desired, d, existing, gen);
  nd_spec_digest sent = nd_slice_spec_digest(spec);
  nd_spec_digest fp;
  bool has_fp = nd_planned_slice_fingerprint(desired, d, gen, &fp);
  push(out, existing ? ND_SLICE_UPDATE : ND_SLICE_CREATE, name,
       build_object(api_version, name, existing, spec));
  nd_slice_op *op = &out->ops[out->n_ops - 1];
  op->sent_digest = sent;
  if (has_fp) {
    op->sent_fingerprint = fp;
    op->has_sent_fingerprint = true;
  }
}

static bool same_spec(const json_t *spec, const nd_published_slice *existing) {
  nd_spec_digest d = nd_slice_spec_digest(spec);
  return nd_spec_digest_equal(&d, &existing->digest);
}

/* Is planned slice d at generation g unchanged from `existing`? Known without rendering when
 * its fingerprint is the one last found equal to `existing`; else rendered and compared, and
 * the fingerprint remembered when equal. */
static bool unchanged(const nd_planned_pool *desired, size_t d, nd_published_slice *existing,
                      int64_t g, nd_pool_sync *out) {
  nd_spec_digest fp;
  bool has_fp = nd_planned_slice_fingerprint(desired, d, g, &fp);
  if (has_fp && existing->has_same_as_planned &&
      nd_spec_digest_equal(&fp, &existing->same_as_planned)) {
    out->n_unchanged_by_fingerprint++;
    return true;
  }
  out->n_compared++;
  json_t *spec = planned_spec(desired, d, existing, g);
  bool same = same_spec(spec, existing);
  json_decref(spec);
  if (same && has_fp) {
    existing->same_as_planned = fp;
    existing->has_same_as_planned = true;
  }
  return same;
}

/* Each planned slice is known unchanged by its fingerprint, or rendered, compared (by digest)
 * and dropped, one at a time; those to write are rendered again once the generation is known,
 * and kept as text. */
void nd_pool_sync_compute(const nd_planned_pool *desired,
                          nd_published_slice *const *existing, size_t n_existing,
                          const char *api_version, bool always_bump, nd_pool_sync *out) {
  memset(out, 0, sizeof(*out));
  int64_t g = 0;
  for (size_t i = 0; i < n_existing; i++)
    if (existing[i]->generation > g)
      g = existing[i]->generation;
  size_t n_desired = desired ? desired->n_slices : 0;

  /* match planned slices to existing ones by name (slice names are unique: the API's key) */
  nd_published_slice **match = calloc(n_desired + 1, sizeof(*match));
  bool *kept = calloc(n_existing + 1, sizeof(*kept));
  bool *changed = calloc(n_desired + 1, sizeof(*changed)); /* at generation g */
  nd_strmap *by_name = nd_strmap_new_borrowed(); /* name -> index + 1 in existing */
  if (match == NULL || kept == NULL || changed == NULL || by_name == NULL)
    abort();
  for (size_t e = 0; e < n_existing; e++)
    nd_strmap_put(by_name, existing[e]->name, (void *)(uintptr_t)(e + 1));
  size_t n_new = 0, n_changed = 0;
  for (size_t d = 0; d < n_desired; d++) {
    size_t e = (uintptr_t)nd_strmap_del(by_name, desired->slices[d].name);
    if (e > 0) {
      match[d] = existing[e - 1];
      kept[e - 1] = true;
    }
    if (match[d] == NULL) {
      n_new++;
      continue;
    }
    changed[d] = !unchanged(desired, d, match[d], g, out);
    n_changed += changed[d];
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
      push(out, ND_SLICE_DELETE, existing[e]->name, delete_options(existing[e]));
  for (size_t d = 0; d < n_desired; d++) {
    /* at G+1 every kept slice differs (their generations are at most G) */
    if (match[d] == NULL || (gen == g && !changed[d]))
      continue;
    push_write(out, api_version, desired, d, match[d], gen);
  }
  for (size_t d = 0; d < n_desired; d++) {
    if (match[d] != NULL)
      continue;
    push_write(out, api_version, desired, d, NULL, gen);
  }
  nd_strmap_free(by_name, NULL);
  free(changed);
  free(match);
  free(kept);
}

void nd_pool_sync_clear(nd_pool_sync *s) {
  for (size_t i = 0; i < s->n_ops; i++) {
    free(s->ops[i].name);
    free(s->ops[i].body);
  }
  free(s->ops);
  memset(s, 0, sizeof(*s));
}
