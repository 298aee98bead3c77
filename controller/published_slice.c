/* published_slice.c: ResourceSlice object -> its summary (see published_slice.h). */
#include "published_slice.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static char *xstrdup(const char *s) {
  char *c = strdup(s);
  if (c == NULL)
    abort();
  return c;
}

/* The device names of a spec, each NUL-terminated, in one allocation. */
static char *collect_device_names(const json_t *devices, size_t *n_out, size_t *len_out) {
  size_t len = 0, n = 0, i;
  const json_t *d;
  json_array_foreach(devices, i, d) {
    const char *name = json_string_value(json_object_get(d, "name"));
    if (name != NULL) {
      len += strlen(name) + 1;
      n++;
    }
  }
  char *names = malloc(len + 1), *p = names;
  if (names == NULL)
    abort();
  json_array_foreach(devices, i, d) {
    const char *name = json_string_value(json_object_get(d, "name"));
    if (name != NULL) {
      size_t l = strlen(name) + 1;
      memcpy(p, name, l);
      p += l;
    }
  }
  *n_out = n;
  *len_out = len;
  return names;
}

static json_t *collect_taints(const json_t *devices) {
  json_t *taints = NULL;
  size_t i;
  const json_t *d;
  json_array_foreach(devices, i, d) {
    const char *name = json_string_value(json_object_get(d, "name"));
    const json_t *t = json_object_get(d, "taints");
    if (name == NULL || !json_is_array(t) || json_array_size(t) == 0)
      continue;
    if (taints == NULL)
      taints = json_object();
    json_object_set_new(taints, name, json_deep_copy(t));
  }
  return taints;
}

nd_published_slice *nd_published_slice_new(const json_t *obj) {
  const json_t *meta = json_object_get(obj, "metadata");
  const json_t *spec = json_object_get(obj, "spec");
  const json_t *pool = json_object_get(spec, "pool");
  const char *name = json_string_value(json_object_get(meta, "name"));
  const char *pool_name = json_string_value(json_object_get(pool, "name"));
  if (name == NULL || pool_name == NULL)
    return NULL;
  nd_published_slice *s = calloc(1, sizeof(*s));
  if (s == NULL)
    abort();
  s->name = xstrdup(name);
  s->pool = xstrdup(pool_name);
  s->metadata = json_deep_copy(meta);
  if (s->metadata == NULL)
    abort();
  /* what an update must not send back */
  json_object_del(s->metadata, "managedFields");
  json_object_del(s->metadata, "creationTimestamp");
  json_object_del(s->metadata, "generation");
  s->resource_version = json_string_value(json_object_get(s->metadata, "resourceVersion"));
  s->generation = json_integer_value(json_object_get(pool, "generation"));
  s->digest = nd_slice_spec_digest(spec);
  const json_t *devices = json_object_get(spec, "devices");
  s->device_names = collect_device_names(devices, &s->n_devices, &s->device_names_len);
  s->taints = collect_taints(devices);
  return s;
}

void nd_published_slice_free(nd_published_slice *s) {
  if (s == NULL)
    return;
  free(s->name);
  free(s->pool);
  json_decref(s->metadata);
  free(s->device_names);
  json_decref(s->taints);
  free(s);
}

const json_t *nd_published_slice_taints(const nd_published_slice *s, const char *device) {
  return s->taints != NULL ? json_object_get(s->taints, device) : NULL;
}

const char *nd_published_slice_next_device(const nd_published_slice *s, const char *prev) {
  if (s->n_devices == 0)
    return NULL;
  if (prev == NULL)
    return s->device_names;
  const char *next = prev + strlen(prev) + 1;
  return next < s->device_names + s->device_names_len ? next : NULL;
}

bool nd_published_slice_same(const nd_published_slice *a, const nd_published_slice *b) {
  return nd_spec_digest_equal(&a->digest, &b->digest) && json_equal(a->metadata, b->metadata);
}
