/* announcement.c: the announcement parser (docs/announcements.md, announcement.schema.json).
 * Every source (MQTT payloads, mDNS TXT after mapping, static inventory entries) goes through
 * here, so one set of rules and bounds protects the registry. On error nothing is returned
 * and the message names the field and the rule broken; credentials are refused outright. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "discovery.h"
#include "names.h"
#include "quantity.h"

#define ANNOUNCEMENT_MAX_BYTES (64 * 1024)
#define ID_MAX 64
#define TEXT_MAX 64
#define MAX_ATTRS_AND_CAPS 32
#define RESERVED_ATTRS 6 /* type, vendor, model, id, endpoint, secretRef/fabricRegion */
#define MAX_NODE_REQS 16
#define MAX_VALUES 16
#define MAX_BINDING 4
#define TTL_MAX 86400

static const char *const builtin_types[] = {"camera", "cxl-memory", "accelerator"};
static const char *const reserved_attrs[] = {"type", "vendor", "model", "id", "endpoint",
                                             "secretRef", "fabricRegion"};
static const char *const top_keys[] = {"schemaVersion", "id", "type", "vendor", "model",
                                       "attributes", "capacities", "reachability", "attach",
                                       "binding", "ttl", "name", "description"};
static const char *const credential_words[] = {"password", "passwd", "token", "credential",
                                               "credentials", "secret", "apikey", "apiKey",
                                               "privateKey", "key"};
static const char *const endpoint_schemes[] = {"rtsp://", "rtsps://", "http://", "https://",
                                               "tcp://", "grpc://", "grpcs://"};

static pthread_mutex_t custom_lock = PTHREAD_MUTEX_INITIALIZER;
static char *custom_types[32];
static size_t n_custom_types;

int nd_announcement_allow_type(const char *type, nd_error_t *err) {
  if (nd_name_validate(ND_NAME_DNS_LABEL, "custom device type", type, err) < 0)
    return -1;
  pthread_mutex_lock(&custom_lock);
  int rc = 0;
  bool known = false;
  for (size_t i = 0; i < n_custom_types; i++)
    known |= strcmp(custom_types[i], type) == 0;
  if (!known && n_custom_types == ND_ARRAY_LEN(custom_types))
    rc = nd_error_make(err, ENOSPC, "at most %zu custom device types", ND_ARRAY_LEN(custom_types));
  else if (!known)
    custom_types[n_custom_types++] = strdup(type);
  pthread_mutex_unlock(&custom_lock);
  return rc;
}

static bool type_known(const char *type) {
  for (size_t i = 0; i < ND_ARRAY_LEN(builtin_types); i++)
    if (strcmp(type, builtin_types[i]) == 0)
      return true;
  pthread_mutex_lock(&custom_lock);
  bool found = false;
  for (size_t i = 0; i < n_custom_types; i++)
    found |= strcmp(type, custom_types[i]) == 0;
  pthread_mutex_unlock(&custom_lock);
  return found;
}

static bool in_list(const char *s, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, list[i]) == 0)
      return true;
  return false;
}

/* printable UTF-8 text without control characters, at most max bytes */
static int check_text(const char *field, const char *s, size_t max, nd_error_t *err) {
  size_t n = strlen(s);
  if (n == 0)
    return nd_error_make(err, EINVAL, "%s: must not be empty", field);
  if (n > max)
    return nd_error_make(err, EINVAL, "%s: %zu bytes, at most %zu allowed", field, n, max);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return nd_error_make(err, EINVAL, "%s: control character 0x%02x not allowed", field, *p);
  return 0;
}

static int get_string(const json_t *obj, const char *key, const char *field, bool required,
                      size_t max, const char **out, nd_error_t *err) {
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (v == NULL || json_is_null(v)) {
    if (required)
      return nd_error_make(err, EINVAL, "%s: required", field);
    return 0;
  }
  if (!json_is_string(v))
    return nd_error_make(err, EINVAL, "%s: expected a string", field);
  if (check_text(field, json_string_value(v), max, err) < 0)
    return -1;
  *out = json_string_value(v);
  return 0;
}

static bool is_credential_key(const char *key) {
  for (size_t i = 0; i < ND_ARRAY_LEN(credential_words); i++)
    if (strcasecmp(key, credential_words[i]) == 0)
      return true;
  return strcasecmp(key, "username") == 0 || strcasecmp(key, "user") == 0;
}

/* An unexpected key: a credential gets its own message, anything else is unknown. */
static int unexpected_key(const char *where, const char *key, const char *allowed, nd_error_t *err) {
  char quoted[100];
  nd_name_quote_bare(quoted, sizeof(quoted), key);
  if (is_credential_key(key))
    return nd_error_make(err, EPERM,
                         "%s%s: credentials must never be announced: store them in a Kubernetes "
                         "Secret and announce attach.secretRef",
                         where, quoted);
  return nd_error_make(err, EINVAL, "%s%s: unknown field (%s)", where, quoted, allowed);
}

static int parse_attr_name(const char *name, const char *field, nd_error_t *err) {
  if (!nd_name_valid(ND_NAME_ATTRIBUTE_KEY, name))
    return nd_error_make(err, EINVAL,
                         "%s: name must be a C identifier of at most 32 characters or "
                         "<domain>/<identifier>",
                         field);
  if (in_list(name, reserved_attrs, ND_ARRAY_LEN(reserved_attrs)))
    return nd_error_make(err, EINVAL, "%s: \"%s\" is reserved: use the top-level field", field,
                         name);
  return 0;
}

static int parse_attributes(const json_t *attrs, nd_device *d, nd_error_t *err) {
  if (attrs == NULL)
    return 0;
  if (!json_is_object(attrs))
    return nd_error_make(err, EINVAL, "attributes: expected an object");
  d->attrs = calloc(json_object_size(attrs) + 1, sizeof(nd_attr));
  const char *name;
  json_t *v;
  json_object_foreach((json_t *)attrs, name, v) {
    char field[128];
    char quoted[100];
    snprintf(field, sizeof(field), "attributes.%s", nd_name_quote_bare(quoted, sizeof(quoted), name));
    if (parse_attr_name(name, field, err) < 0)
      return -1;
    nd_attr *a = &d->attrs[d->n_attrs];
    json_t *val = v;
    const char *kind = NULL;
    if (json_is_object(v)) {
      if (json_object_size(v) != 1)
        return nd_error_make(err, EINVAL,
                             "%s: a typed value has exactly one of string, int, bool, version", field);
      kind = json_object_iter_key(json_object_iter(v));
      val = json_object_iter_value(json_object_iter(v));
    }
    if ((kind == NULL && json_is_string(val)) || (kind && strcmp(kind, "string") == 0)) {
      if (!json_is_string(val))
        return nd_error_make(err, EINVAL, "%s.string: expected a string", field);
      if (check_text(field, json_string_value(val), TEXT_MAX, err) < 0)
        return -1;
      a->type = ND_ATTR_STRING;
      a->str = strdup(json_string_value(val));
    } else if (kind && strcmp(kind, "version") == 0) {
      if (!json_is_string(val) || check_text(field, json_string_value(val), TEXT_MAX, err) < 0)
        return nd_error_make(err, EINVAL, "%s.version: expected a semver string", field);
      const char *s = json_string_value(val);
      int maj, min, pat, used = 0;
      if (sscanf(s, "%d.%d.%d%n", &maj, &min, &pat, &used) != 3 || maj < 0 || min < 0 || pat < 0 ||
          (s[used] != '\0' && s[used] != '-' && s[used] != '+'))
        return nd_error_make(err, EINVAL, "%s.version: \"%s\" is not semver (MAJOR.MINOR.PATCH)",
                             field, s);
      a->type = ND_ATTR_VERSION;
      a->str = strdup(s);
    } else if ((kind == NULL && json_is_integer(val)) || (kind && strcmp(kind, "int") == 0)) {
      if (!json_is_integer(val))
        return nd_error_make(err, EINVAL, "%s.int: expected an integer", field);
      a->type = ND_ATTR_INT;
      a->num = json_integer_value(val);
    } else if ((kind == NULL && json_is_boolean(val)) || (kind && strcmp(kind, "bool") == 0)) {
      if (!json_is_boolean(val))
        return nd_error_make(err, EINVAL, "%s.bool: expected true or false", field);
      a->type = ND_ATTR_BOOL;
      a->flag = json_is_true(val);
    } else if (kind) {
      return nd_error_make(err, EINVAL, "%s: unknown value type \"%s\" (string, int, bool, version)",
                           field, kind);
    } else {
      return nd_error_make(err, EINVAL,
                           "%s: expected a string, integer, boolean or a typed value object", field);
    }
    a->name = strdup(name);
    d->n_attrs++;
  }
  return 0;
}

static int parse_capacities(const json_t *caps, nd_device *d, nd_error_t *err) {
  if (caps == NULL)
    return 0;
  if (!json_is_object(caps))
    return nd_error_make(err, EINVAL, "capacities: expected an object");
  d->caps = calloc(json_object_size(caps) + 1, sizeof(nd_capacity));
  const char *name;
  json_t *v;
  json_object_foreach((json_t *)caps, name, v) {
    char field[128], quoted[100];
    snprintf(field, sizeof(field), "capacities.%s", nd_name_quote_bare(quoted, sizeof(quoted), name));
    if (parse_attr_name(name, field, err) < 0)
      return -1;
    char text[64];
    if (json_is_integer(v))
      snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && strlen(json_string_value(v)) < sizeof(text))
      snprintf(text, sizeof(text), "%s", json_string_value(v));
    else
      return nd_error_make(err, EINVAL, "%s: expected a quantity such as \"64Gi\" or 4", field);
    if (!isdigit((unsigned char)text[0]) && text[0] != '.' && text[0] != '+' && text[0] != '-')
      return nd_error_make(err, EINVAL, "%s: \"%s\": a quantity starts with a number (\"64Gi\")",
                           field, text);
    nd_error_t qerr = NULL;
    char *canonical = nd_quantity_canonical(text, &qerr);
    if (canonical == NULL) {
      nd_error_make(err, EINVAL, "%s: %s", field, nd_error_msg(qerr));
      nd_error_release(&qerr);
      return -1;
    }
    nd_quantity q;
    if (nd_quantity_parse(canonical, &q, &qerr) == 0 && nd_quantity_sign(&q) < 0) {
      free(canonical);
      return nd_error_make(err, EINVAL, "%s: a capacity must not be negative", field);
    }
    nd_error_release(&qerr);
    d->caps[d->n_caps].name = strdup(name);
    d->caps[d->n_caps].quantity = canonical;
    d->n_caps++;
  }
  return 0;
}

static int parse_reachability(const json_t *reach, nd_device *d, nd_error_t *err) {
  if (reach == NULL) {
    d->all_nodes = true;
    return 0;
  }
  if (!json_is_object(reach))
    return nd_error_make(err, EINVAL, "reachability: expected an object");
  json_t *all = json_object_get(reach, "allNodes");
  json_t *sel = json_object_get(reach, "nodeSelector");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)reach, key, v) {
    if (strcmp(key, "allNodes") && strcmp(key, "nodeSelector"))
      return unexpected_key("reachability.", key, "allNodes, nodeSelector", err);
  }
  if ((all && json_is_true(all)) == (sel != NULL))
    return nd_error_make(err, EINVAL,
                         "reachability: exactly one of allNodes: true or nodeSelector is required");
  if (all) {
    if (!json_is_true(all))
      return nd_error_make(err, EINVAL, "reachability.allNodes: must be true when given");
    d->all_nodes = true;
    return 0;
  }
  if (!json_is_array(sel) || json_array_size(sel) == 0 || json_array_size(sel) > MAX_NODE_REQS)
    return nd_error_make(err, EINVAL,
                         "reachability.nodeSelector: expected a list of 1 to %d requirements",
                         MAX_NODE_REQS);
  d->node_reqs = calloc(json_array_size(sel), sizeof(nd_node_requirement));
  size_t i;
  json_t *req;
  json_array_foreach(sel, i, req) {
    char field[96];
    snprintf(field, sizeof(field), "reachability.nodeSelector[%zu]", i);
    const char *rkey, *op;
    if (!json_is_object(req))
      return nd_error_make(err, EINVAL, "%s: expected {key, operator, values}", field);
    char kfield[112], ofield[112];
    snprintf(kfield, sizeof(kfield), "%s.key", field);
    snprintf(ofield, sizeof(ofield), "%s.operator", field);
    if (get_string(req, "key", kfield, true, 317, &rkey, err) < 0 ||
        get_string(req, "operator", ofield, true, 16, &op, err) < 0)
      return -1;
    const char *slash = strrchr(rkey, '/');
    char prefix[254] = "";
    if (slash && (size_t)(slash - rkey) < sizeof(prefix))
      memcpy(prefix, rkey, (size_t)(slash - rkey));
    if (!nd_name_valid(ND_NAME_QUALIFIED_NAME, slash ? slash + 1 : rkey) ||
        (slash && !nd_name_valid(ND_NAME_DNS_SUBDOMAIN, prefix)))
      return nd_error_make(err, EINVAL, "%s.key: \"%s\" is not a valid label key", field, rkey);
    static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist"};
    if (!in_list(op, ops, ND_ARRAY_LEN(ops)))
      return nd_error_make(err, EINVAL, "%s.operator: \"%s\" (In, NotIn, Exists, DoesNotExist)",
                           field, op);
    json_t *values = json_object_get(req, "values");
    bool needs_values = strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0;
    if (needs_values && (!json_is_array(values) || json_array_size(values) == 0 ||
                         json_array_size(values) > MAX_VALUES))
      return nd_error_make(err, EINVAL, "%s.values: %s needs 1 to %d values", field, op, MAX_VALUES);
    if (!needs_values && values && json_array_size(values))
      return nd_error_make(err, EINVAL, "%s.values: must be empty for %s", field, op);
    nd_node_requirement *r = &d->node_reqs[d->n_node_reqs++];
    r->key = strdup(rkey);
    r->op = strdup(op);
    r->values = calloc(json_array_size(values) + 1, sizeof(char *));
    size_t j;
    json_t *val;
    json_array_foreach(values, j, val) {
      if (!json_is_string(val) || !nd_name_valid(ND_NAME_LABEL_VALUE, json_string_value(val)))
        return nd_error_make(err, EINVAL, "%s.values[%zu]: not a valid label value", field, j);
      r->values[r->n_values++] = strdup(json_string_value(val));
    }
  }
  return 0;
}

static int parse_attach(const json_t *attach, nd_device *d, nd_error_t *err) {
  if (attach == NULL)
    return 0;
  if (!json_is_object(attach))
    return nd_error_make(err, EINVAL, "attach: expected an object");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)attach, key, v) {
    if (strcmp(key, "endpoint") && strcmp(key, "secretRef") && strcmp(key, "fabricRegion"))
      return unexpected_key("attach.", key, "endpoint, secretRef, fabricRegion", err);
  }
  const char *endpoint, *region;
  if (get_string(attach, "endpoint", "attach.endpoint", false, TEXT_MAX, &endpoint, err) < 0)
    return nd_error_wrap(err, "the endpoint is published as a slice attribute (at most 64 bytes)");
  if (endpoint) {
    bool scheme_ok = false;
    for (size_t i = 0; i < ND_ARRAY_LEN(endpoint_schemes); i++)
      scheme_ok |= strncmp(endpoint, endpoint_schemes[i], strlen(endpoint_schemes[i])) == 0;
    if (!scheme_ok)
      return nd_error_make(err, EINVAL,
                           "attach.endpoint: \"%s\": scheme must be rtsp, rtsps, http, https, tcp, "
                           "grpc or grpcs", endpoint);
    if (strpbrk(endpoint, " \"'\\<>`"))
      return nd_error_make(err, EINVAL, "attach.endpoint: spaces, quotes and backslashes are not allowed");
    if (strstr(endpoint, "@"))
      return nd_error_make(err, EPERM,
                           "attach.endpoint: user information in the URL is a credential: use "
                           "attach.secretRef");
    d->endpoint = strdup(endpoint);
  }
  if (get_string(attach, "fabricRegion", "attach.fabricRegion", false, TEXT_MAX, &region, err) < 0)
    return -1;
  if (region) {
    for (const char *p = region; *p; p++)
      if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
        return nd_error_make(err, EINVAL, "attach.fabricRegion: only letters, digits, '-', '_', '.'");
    d->fabric_region = strdup(region);
  }
  json_t *ref = json_object_get(attach, "secretRef");
  if (ref) {
    const char *ns, *name;
    if (!json_is_object(ref))
      return nd_error_make(err, EINVAL, "attach.secretRef: expected {namespace, name}");
    if (get_string(ref, "namespace", "attach.secretRef.namespace", true, 63, &ns, err) < 0 ||
        get_string(ref, "name", "attach.secretRef.name", true, 253, &name, err) < 0)
      return -1;
    if (nd_name_validate(ND_NAME_DNS_LABEL, "attach.secretRef.namespace", ns, err) < 0 ||
        nd_name_validate(ND_NAME_DNS_SUBDOMAIN, "attach.secretRef.name", name, err) < 0)
      return -1;
    if (strlen(ns) + strlen(name) + 1 > TEXT_MAX)
      return nd_error_make(err, EINVAL, "attach.secretRef: namespace/name longer than %d bytes", TEXT_MAX);
    d->secret_namespace = strdup(ns);
    d->secret_name = strdup(name);
  }
  return 0;
}

static int parse_conditions(const json_t *list, const char *field, char ***out, uint32_t *n,
                            nd_error_t *err) {
  if (list == NULL)
    return 0;
  if (!json_is_array(list) || json_array_size(list) > MAX_BINDING)
    return nd_error_make(err, EINVAL, "%s: expected a list of at most %d condition types", field,
                         MAX_BINDING);
  *out = calloc(json_array_size(list) + 1, sizeof(char *));
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    const char *s = json_string_value(v);
    const char *slash = s ? strrchr(s, '/') : NULL;
    if (s == NULL || strlen(s) > 316 || !nd_name_valid(ND_NAME_QUALIFIED_NAME, slash ? slash + 1 : s))
      return nd_error_make(err, EINVAL, "%s[%zu]: a condition type is a qualified name", field, i);
    (*out)[(*n)++] = strdup(s);
  }
  return 0;
}

static int parse_binding(const json_t *b, nd_device *d, nd_error_t *err) {
  if (b == NULL)
    return 0;
  if (!json_is_object(b))
    return nd_error_make(err, EINVAL, "binding: expected an object");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)b, key, v) {
    if (strcmp(key, "bindsToNode") && strcmp(key, "conditions") && strcmp(key, "failureConditions"))
      return unexpected_key("binding.", key, "bindsToNode, conditions, failureConditions", err);
  }
  json_t *btn = json_object_get(b, "bindsToNode");
  if (btn && !json_is_boolean(btn))
    return nd_error_make(err, EINVAL, "binding.bindsToNode: expected true or false");
  d->binds_to_node = json_is_true(btn);
  if (parse_conditions(json_object_get(b, "conditions"), "binding.conditions",
                       &d->binding_conditions, &d->n_binding_conditions, err) < 0 ||
      parse_conditions(json_object_get(b, "failureConditions"), "binding.failureConditions",
                       &d->binding_failure_conditions, &d->n_binding_failure_conditions, err) < 0)
    return -1;
  if (d->n_binding_failure_conditions && !d->n_binding_conditions)
    return nd_error_make(err, EINVAL, "binding.failureConditions: needs binding.conditions");
  if (d->n_binding_conditions && !d->binds_to_node)
    return nd_error_make(err, EINVAL, "binding.conditions: need bindsToNode: true");
  return 0;
}

nd_device *nd_announcement_parse(const char *source, const char *pool, const char *id,
                                 const json_t *doc, nd_error_t *err) {
  if (!json_is_object(doc))
    return nd_error_make(err, EINVAL, "announcement: expected a JSON object"), NULL;
  if (id == NULL || *id == '\0')
    return nd_error_make(err, EINVAL, "id: required (from the topic or the document)"), NULL;
  if (check_text("id", id, ID_MAX, err) < 0)
    return NULL;
  if (pool == NULL || !nd_name_valid(ND_NAME_DNS_SUBDOMAIN, pool))
    return nd_error_make(err, EINVAL, "pool \"%s\": must be a DNS subdomain", pool ? pool : ""), NULL;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)doc, key, v) {
    if (!in_list(key, top_keys, ND_ARRAY_LEN(top_keys)))
      return unexpected_key("", key,
                            "schemaVersion, id, type, vendor, model, attributes, capacities, "
                            "reachability, attach, binding, ttl",
                            err),
             NULL;
  }
  json_t *sv = json_object_get(doc, "schemaVersion");
  if (sv && (!json_is_integer(sv) || json_integer_value(sv) != 1))
    return nd_error_make(err, EINVAL, "schemaVersion: only version 1 is understood"), NULL;
  json_t *doc_id = json_object_get(doc, "id");
  if (doc_id && (!json_is_string(doc_id) || strcmp(json_string_value(doc_id), id) != 0))
    return nd_error_make(err, EINVAL, "id: the document says \"%s\", the topic says \"%s\"",
                         json_is_string(doc_id) ? json_string_value(doc_id) : "?", id),
           NULL;
  nd_device *d = calloc(1, sizeof(*d));
  const char *type, *vendor, *model;
  if (get_string(doc, "type", "type", true, TEXT_MAX, &type, err) < 0 ||
      get_string(doc, "vendor", "vendor", false, TEXT_MAX, &vendor, err) < 0 ||
      get_string(doc, "model", "model", false, TEXT_MAX, &model, err) < 0)
    goto fail;
  if (!type_known(type)) {
    nd_error_make(err, EINVAL,
                  "type: \"%s\" is not a known device type (camera, cxl-memory, accelerator, or "
                  "a custom type from the configuration)", type);
    goto fail;
  }
  d->source = strdup(source);
  d->pool = strdup(pool);
  d->id = strdup(id);
  d->type = strdup(type);
  d->vendor = vendor ? strdup(vendor) : NULL;
  d->model = model ? strdup(model) : NULL;
  if (parse_attributes(json_object_get(doc, "attributes"), d, err) < 0 ||
      parse_capacities(json_object_get(doc, "capacities"), d, err) < 0)
    goto fail;
  if (d->n_attrs + d->n_caps + RESERVED_ATTRS > MAX_ATTRS_AND_CAPS) {
    nd_error_make(err, EINVAL,
                  "attributes and capacities: %zu given, at most %d (a slice device holds 32, "
                  "%d are netdra's own)",
                  (size_t)d->n_attrs + d->n_caps, MAX_ATTRS_AND_CAPS - RESERVED_ATTRS, RESERVED_ATTRS);
    goto fail;
  }
  if (parse_reachability(json_object_get(doc, "reachability"), d, err) < 0 ||
      parse_attach(json_object_get(doc, "attach"), d, err) < 0 ||
      parse_binding(json_object_get(doc, "binding"), d, err) < 0)
    goto fail;
  json_t *ttl = json_object_get(doc, "ttl");
  if (ttl) {
    if (!json_is_integer(ttl) || json_integer_value(ttl) < 0 || json_integer_value(ttl) > TTL_MAX) {
      nd_error_make(err, EINVAL, "ttl: expected seconds from 0 to %d", TTL_MAX);
      goto fail;
    }
    d->ttl_s = (int)json_integer_value(ttl);
  }
  d->health = ND_HEALTH_ONLINE;
  d->last_seen_ms = d->health_since_ms = nd_wall_ms();
  return d;
fail:
  nd_device_free(d);
  return NULL;
}

nd_device *nd_announcement_parse_bytes(const char *source, const char *pool, const char *id,
                                       const char *payload, size_t len, nd_error_t *err) {
  if (len > ANNOUNCEMENT_MAX_BYTES)
    return nd_error_make(err, EFBIG, "payload: %zu bytes, at most %d allowed", len,
                         ANNOUNCEMENT_MAX_BYTES),
           NULL;
  if (memchr(payload, '\0', len))
    return nd_error_make(err, EINVAL, "payload: contains a NUL byte"), NULL;
  json_error_t jerr;
  cleanup_json json_t *doc = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    return nd_error_make(err, EINVAL, "payload: invalid JSON at line %d column %d: %s", jerr.line,
                         jerr.column, jerr.text),
           NULL;
  return nd_announcement_parse(source, pool, id, doc, err);
}
