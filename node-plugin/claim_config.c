/* claim_config.c: validation and merging of the opaque device configuration; see claim_config.h. */
#include "claim_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"

typedef enum { F_STRING, F_BOOL, F_INT, F_ABS_PATH, F_ENV_PREFIX } field_kind;
typedef struct {
  const char *name;
  field_kind kind;
  long long min, max; /* F_INT range; string max length for strings */
} field_spec;
typedef struct {
  const char *kind;
  const char *device_type;
  field_spec fields[4];
} kind_spec;

static const kind_spec kinds[] = {
    {"CameraConfig",
     "camera",
     {{"envPrefix", F_ENV_PREFIX, 1, 32},
      {"credentialsPath", F_ABS_PATH, 2, 1024},
      {"streamProfile", F_STRING, 1, 64},
      {NULL, 0, 0, 0}}},
    {"CxlMemoryConfig",
     "cxl-memory",
     {{"containerPath", F_ABS_PATH, 6, 1024}, {"numaEnv", F_BOOL, 0, 0}, {NULL, 0, 0, 0}}},
    {"AcceleratorConfig",
     "accelerator",
     {{"sessionTimeoutSeconds", F_INT, 1, 86400},
      {"tokenPath", F_ABS_PATH, 2, 1024},
      {NULL, 0, 0, 0}}},
    {"GpuConfig", "gpu", {{"preferVendorCdi", F_BOOL, 0, 0}, {NULL, 0, 0, 0}}},
};

static const kind_spec *find_kind(const char *kind) {
  for (size_t i = 0; i < ND_ARRAY_LEN(kinds); i++)
    if (strcmp(kinds[i].kind, kind) == 0)
      return &kinds[i];
  return NULL;
}

static int check_field(const field_spec *f, const json_t *v, const char *what, const char *kind,
                       nd_error_t *err) {
  switch (f->kind) {
  case F_BOOL:
    if (!json_is_boolean(v))
      return nd_error_make(err, EINVAL, "%s: %s.%s must be a boolean", what, kind, f->name);
    return 0;
  case F_INT:
    if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
      return nd_error_make(err, EINVAL, "%s: %s.%s must be an integer in %lld..%lld", what, kind,
                           f->name, f->min, f->max);
    return 0;
  case F_STRING:
  case F_ABS_PATH:
  case F_ENV_PREFIX: {
    const char *s = json_string_value(v);
    if (s == NULL)
      return nd_error_make(err, EINVAL, "%s: %s.%s must be a string", what, kind, f->name);
    size_t n = strlen(s);
    if ((long long)n < f->min || (long long)n > f->max)
      return nd_error_make(err, EINVAL, "%s: %s.%s must be %lld to %lld characters long", what,
                           kind, f->name, f->min, f->max);
    if (f->kind == F_ABS_PATH) {
      if (s[0] != '/' || strstr(s, "/../") || (n >= 3 && strcmp(s + n - 3, "/..") == 0) ||
          strchr(s, ':') || strchr(s, ','))
        return nd_error_make(err, EINVAL,
                             "%s: %s.%s \"%s\" must be an absolute path without \"..\", ':' or ','",
                             what, kind, f->name, s);
      if (strcmp(f->name, "containerPath") == 0 && strncmp(s, "/dev/", 5) != 0)
        return nd_error_make(err, EINVAL, "%s: %s.%s \"%s\" must be under /dev/", what, kind,
                             f->name, s);
    }
    if (f->kind == F_ENV_PREFIX) {
      if (!isupper((unsigned char)s[0]))
        return nd_error_make(err, EINVAL, "%s: %s.%s \"%s\" must start with A-Z", what, kind,
                             f->name, s);
      for (const char *c = s; *c; c++)
        if (!isupper((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_')
          return nd_error_make(err, EINVAL, "%s: %s.%s \"%s\" may only hold A-Z, 0-9 and '_'",
                               what, kind, f->name, s);
    }
    return 0;
  }
  }
  return 0;
}

int nd_claim_config_check(const char *driver, const json_t *params, const char *what,
                          nd_error_t *err) {
  if (!json_is_object(params))
    return nd_error_make(err, EINVAL, "%s: parameters must be an object", what);
  char api_version[300];
  snprintf(api_version, sizeof(api_version), "%s/v1alpha1", driver);
  const char *av = json_string_value(json_object_get(params, "apiVersion"));
  if (av == NULL)
    return nd_error_make(err, EINVAL, "%s: parameters.apiVersion is missing (expected %s)", what,
                         api_version);
  if (strcmp(av, api_version) != 0)
    return nd_error_make(err, EINVAL, "%s: unknown apiVersion \"%s\" (expected %s)", what, av,
                         api_version);
  const char *kind = json_string_value(json_object_get(params, "kind"));
  if (kind == NULL)
    return nd_error_make(err, EINVAL, "%s: parameters.kind is missing", what);
  const kind_spec *ks = find_kind(kind);
  if (ks == NULL)
    return nd_error_make(err, EINVAL,
                         "%s: unknown kind \"%s\" (known: CameraConfig, CxlMemoryConfig, "
                         "AcceleratorConfig, GpuConfig)",
                         what, kind);
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)params, key, v) {
    if (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0)
      continue;
    const field_spec *f = NULL;
    for (const field_spec *c = ks->fields; c->name; c++)
      if (strcmp(c->name, key) == 0)
        f = c;
    if (f == NULL)
      return nd_error_make(err, EINVAL, "%s: unknown field \"%s\" in %s", what, key, kind);
    if (check_field(f, v, what, kind, err) < 0)
      return -1;
  }
  return 0;
}

/* The entry's parameters when it is ours, else NULL; malformed entries are errors. */
static int entry_params(const char *driver, const json_t *entry, size_t idx,
                        const json_t **params, nd_error_t *err) {
  *params = NULL;
  if (!json_is_object(entry))
    return nd_error_make(err, EINVAL, "allocation config[%zu] must be an object", idx);
  const json_t *opaque = json_object_get(entry, "opaque");
  if (opaque == NULL)
    return 0; /* not opaque: not for us */
  const char *d = json_string_value(json_object_get(opaque, "driver"));
  if (d == NULL || strcmp(d, driver) != 0)
    return 0;
  *params = json_object_get(opaque, "parameters");
  if (*params == NULL)
    return nd_error_make(err, EINVAL, "allocation config[%zu]: opaque.parameters is missing", idx);
  return 0;
}

int nd_claim_config_check_all(const char *driver, const json_t *config, nd_error_t *err) {
  if (config == NULL || json_is_null(config))
    return 0;
  if (!json_is_array(config))
    return nd_error_make(err, EINVAL, "allocation config must be an array");
  size_t i;
  json_t *entry;
  json_array_foreach(config, i, entry) {
    const json_t *params;
    if (entry_params(driver, entry, i, &params, err) < 0)
      return -1;
    if (params == NULL)
      continue;
    const char *source = json_string_value(json_object_get(entry, "source"));
    char what[96];
    snprintf(what, sizeof(what), "allocation config[%zu] (%s)", i, source ? source : "no source");
    if (nd_claim_config_check(driver, params, what, err) < 0)
      return -1;
  }
  return 0;
}

static bool applies_to(const json_t *entry, const char *request) {
  const json_t *reqs = json_object_get(entry, "requests");
  if (reqs == NULL || json_array_size(reqs) == 0)
    return true;
  size_t base_len = strcspn(request, "/");
  size_t i;
  json_t *r;
  json_array_foreach(reqs, i, r) {
    const char *s = json_string_value(r);
    if (s == NULL)
      continue;
    if (strcmp(s, request) == 0)
      return true;
    if (strlen(s) == base_len && strncmp(s, request, base_len) == 0)
      return true;
  }
  return false;
}

int nd_claim_config_for_request(const char *driver, const json_t *config, const char *request,
                                const char *device_type, json_t **out, nd_error_t *err) {
  *out = NULL;
  if (nd_claim_config_check_all(driver, config, err) < 0)
    return -1;
  if (config == NULL || json_is_null(config))
    return 0;
  cleanup_json json_t *merged = NULL;
  /* pass 0: FromClass entries, pass 1: everything else (FromClaim) */
  for (int pass = 0; pass < 2; pass++) {
    size_t i;
    json_t *entry;
    json_array_foreach(config, i, entry) {
      const json_t *params;
      if (entry_params(driver, entry, i, &params, err) < 0)
        return -1;
      if (params == NULL || !applies_to(entry, request))
        continue;
      const char *source = json_string_value(json_object_get(entry, "source"));
      bool from_class = source && strcmp(source, "FromClass") == 0;
      if ((pass == 0) != from_class)
        continue;
      const char *kind = json_string_value(json_object_get(params, "kind"));
      const kind_spec *ks = find_kind(kind);
      if (strcmp(ks->device_type, device_type) != 0)
        return nd_error_make(err, EINVAL,
                             "allocation config[%zu]: kind %s is for %s devices, but request "
                             "\"%s\" got a %s device",
                             i, kind, ks->device_type, request, device_type);
      if (merged == NULL)
        merged = json_object();
      json_object_update(merged, (json_t *)params);
    }
  }
  *out = nd_steal(merged);
  return 0;
}
