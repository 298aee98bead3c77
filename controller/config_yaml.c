/* config_yaml.c: YAML -> JSON with line numbers in errors (see config_yaml.h). */
#include "config_yaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cleanup.h"

#define ND_YAML_MAX_DEPTH 32

static json_t *scalar(const yaml_event_t *ev) {
  const char *v = (const char *)ev->data.scalar.value;
  if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return json_string(v);
  if (strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0)
    return json_null();
  if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0)
    return json_true();
  if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0)
    return json_false();
  char *end;
  errno = 0;
  long long i = strtoll(v, &end, 10);
  if (*end == '\0' && errno == 0)
    return json_integer(i);
  double d = strtod(v, &end);
  if (*end == '\0' && (v[0] == '-' || v[0] == '.' || (v[0] >= '0' && v[0] <= '9')))
    return json_real(d);
  return json_string(v);
}

static json_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, const char *path, int depth,
                          nd_error_t *err);

static int next(yaml_parser_t *p, yaml_event_t *ev, const char *path, nd_error_t *err) {
  if (!yaml_parser_parse(p, ev))
    return nd_error_make(err, EINVAL, "%s:%zu: %s", path, p->problem_mark.line + 1,
                         p->problem ? p->problem : "YAML syntax error");
  return 0;
}

static json_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, const char *path, int depth,
                          nd_error_t *err) {
  size_t line = ev->start_mark.line + 1;
  if (depth > ND_YAML_MAX_DEPTH)
    return nd_error_make(err, EINVAL, "%s:%zu: nested too deep", path, line), NULL;
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    return scalar(ev);
  case YAML_ALIAS_EVENT:
    return nd_error_make(err, EINVAL, "%s:%zu: aliases are not supported", path, line), NULL;
  case YAML_SEQUENCE_START_EVENT: {
    cleanup_json json_t *arr = json_array();
    for (;;) {
      yaml_event_t e;
      if (next(p, &e, path, err) < 0)
        return NULL;
      if (e.type == YAML_SEQUENCE_END_EVENT) {
        yaml_event_delete(&e);
        return nd_steal(arr);
      }
      json_t *v = parse_node(p, &e, path, depth + 1, err);
      yaml_event_delete(&e);
      if (v == NULL)
        return NULL;
      json_array_append_new(arr, v);
    }
  }
  case YAML_MAPPING_START_EVENT: {
    cleanup_json json_t *obj = json_object();
    for (;;) {
      yaml_event_t k;
      if (next(p, &k, path, err) < 0)
        return NULL;
      if (k.type == YAML_MAPPING_END_EVENT) {
        yaml_event_delete(&k);
        return nd_steal(obj);
      }
      if (k.type != YAML_SCALAR_EVENT) {
        size_t kl = k.start_mark.line + 1;
        yaml_event_delete(&k);
        return nd_error_make(err, EINVAL, "%s:%zu: mapping keys must be scalars", path, kl), NULL;
      }
      cleanup_free char *key = strdup((const char *)k.data.scalar.value);
      size_t kline = k.start_mark.line + 1;
      yaml_event_delete(&k);
      if (json_object_get(obj, key) != NULL)
        return nd_error_make(err, EINVAL, "%s:%zu: duplicate key %s", path, kline, key), NULL;
      yaml_event_t v;
      if (next(p, &v, path, err) < 0)
        return NULL;
      json_t *val = parse_node(p, &v, path, depth + 1, err);
      yaml_event_delete(&v);
      if (val == NULL)
        return NULL;
      json_object_set_new(obj, key, val);
    }
  }
  default:
    return nd_error_make(err, EINVAL, "%s:%zu: unexpected YAML event", path, line), NULL;
  }
}

int nd_yaml_load_file(const char *path, json_t **out, nd_error_t *err) {
  cleanup_file FILE *f = fopen(path, "r");
  if (f == NULL)
    return nd_error_make(err, errno, "%s: %s", path, strerror(errno));
  yaml_parser_t p;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_file(&p, f);
  json_t *doc = NULL;
  int rc = -1;
  bool in_doc = false;
  for (;;) {
    yaml_event_t ev;
    if (next(&p, &ev, path, err) < 0)
      break;
    yaml_event_type_t t = ev.type;
    if (t == YAML_STREAM_END_EVENT) {
      yaml_event_delete(&ev);
      rc = 0;
      break;
    }
    if (t == YAML_DOCUMENT_START_EVENT) {
      if (doc != NULL) {
        yaml_event_delete(&ev);
        nd_error_make(err, EINVAL, "%s:%zu: only one YAML document is allowed", path,
                      ev.start_mark.line + 1);
        break;
      }
      in_doc = true;
    } else if (in_doc && t != YAML_DOCUMENT_END_EVENT) {
      doc = parse_node(&p, &ev, path, 0, err);
      if (doc == NULL) {
        yaml_event_delete(&ev);
        break;
      }
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  if (rc < 0) {
    json_decref(doc);
    return -1;
  }
  *out = doc ? doc : json_object();
  return 0;
}
