/* yaml_json.c: YAML stream -> json_t (YAML 1.2 core schema) with source positions, and
 * json_t -> YAML text; rules in yaml_json.h. */
#include "yaml_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cleanup.h"
#include "grow.h"

#define MAX_DEPTH 256
#define MAX_NODES 1000000

/* ---- position table ---- */

typedef enum { POS_NODE, POS_MEMBER, POS_INDEX, POS_KEY } pos_kind;

typedef struct pos_entry {
  const void *node;
  char *key; /* POS_MEMBER */
  size_t index;
  pos_kind kind;
  nd_yaml_pos pos;
  struct pos_entry *next;
} pos_entry;

struct nd_yaml_lines {
  char *name;
  pos_entry **buckets;
  size_t nbuckets, count;
};

static size_t pos_hash(const void *node, pos_kind kind, const char *key, size_t index) {
  uint64_t h = (uint64_t)(uintptr_t)node * 0x9e3779b97f4a7c15ull;
  h ^= (uint64_t)kind * 0xff51afd7ed558ccdull + index * 0xc4ceb9fe1a85ec53ull;
  if (key != NULL)
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
      h = (h ^ *p) * 0x100000001b3ull;
  return (size_t)(h ^ (h >> 29));
}

static void lines_grow(nd_yaml_lines *t) {
  size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
  pos_entry **b = calloc(n, sizeof(*b));
  if (b == NULL)
    abort();
  for (size_t i = 0; i < t->nbuckets; i++) {
    pos_entry *e = t->buckets[i];
    while (e != NULL) {
      pos_entry *next = e->next;
      size_t h = pos_hash(e->node, e->kind, e->key, e->index) % n;
      e->next = b[h];
      b[h] = e;
      e = next;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
}

static void lines_put(nd_yaml_lines *t, const void *node, pos_kind kind, const char *key,
                      size_t index, nd_yaml_pos pos) {
  if (t == NULL)
    return;
  if (t->count >= t->nbuckets)
    lines_grow(t);
  pos_entry *e = calloc(1, sizeof(*e));
  if (e == NULL)
    abort();
  e->node = node;
  e->kind = kind;
  e->index = index;
  e->pos = pos;
  if (key != NULL && (e->key = strdup(key)) == NULL)
    abort();
  size_t h = pos_hash(node, kind, key, index) % t->nbuckets;
  e->next = t->buckets[h];
  t->buckets[h] = e;
  t->count++;
}

static nd_yaml_pos lines_get(const nd_yaml_lines *t, const void *node, pos_kind kind,
                             const char *key, size_t index) {
  nd_yaml_pos none = {0, 0};
  if (t == NULL || t->nbuckets == 0 || node == NULL)
    return none;
  size_t h = pos_hash(node, kind, key, index) % t->nbuckets;
  for (const pos_entry *e = t->buckets[h]; e != NULL; e = e->next)
    if (e->node == node && e->kind == kind && e->index == index &&
        (key == NULL ? e->key == NULL : (e->key != NULL && strcmp(e->key, key) == 0)))
      return e->pos; /* the newest entry wins: aliases share nodes */
  return none;
}

int nd_yaml_line_of(const nd_yaml_lines *lines, const json_t *node) {
  return lines_get(lines, node, POS_NODE, NULL, 0).line;
}
nd_yaml_pos nd_yaml_pos_of(const nd_yaml_lines *lines, const json_t *node) {
  return lines_get(lines, node, POS_NODE, NULL, 0);
}
nd_yaml_pos nd_yaml_pos_of_member(const nd_yaml_lines *lines, const json_t *object,
                                  const char *key) {
  return lines_get(lines, object, POS_MEMBER, key, 0);
}
nd_yaml_pos nd_yaml_pos_of_key(const nd_yaml_lines *lines, const json_t *object, const char *key) {
  return lines_get(lines, object, POS_KEY, key, 0);
}
nd_yaml_pos nd_yaml_pos_of_index(const nd_yaml_lines *lines, const json_t *array, size_t index) {
  return lines_get(lines, array, POS_INDEX, NULL, index);
}
const char *nd_yaml_source_name(const nd_yaml_lines *lines) {
  return lines && lines->name ? lines->name : "<yaml>";
}

void nd_yaml_lines_free(nd_yaml_lines *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->nbuckets; i++) {
    pos_entry *e = t->buckets[i];
    while (e != NULL) {
      pos_entry *next = e->next;
      free(e->key);
      free(e);
      e = next;
    }
  }
  free(t->buckets);
  free(t->name);
  free(t);
}

/* ---- scalar resolution (YAML 1.2 core schema) ---- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool all_in(const char *s, size_t len, const char *set) {
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++)
    if (strchr(set, s[i]) == NULL || s[i] == '\0')
      return false;
  return true;
}

static bool match_one(const char *s, size_t len, const char *const *words) {
  for (; *words; words++)
    if (strlen(*words) == len && memcmp(s, *words, len) == 0)
      return true;
  return false;
}

static bool looks_float(const char *s, size_t len) {
  size_t i = 0;
  if (i < len && (s[i] == '+' || s[i] == '-'))
    i++;
  size_t int_digits = 0, frac_digits = 0;
  while (i < len && is_digit(s[i]))
    i++, int_digits++;
  if (i < len && s[i] == '.') {
    i++;
    while (i < len && is_digit(s[i]))
      i++, frac_digits++;
  } else if (int_digits == 0) {
    return false;
  }
  if (int_digits == 0 && frac_digits == 0)
    return false;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
      i++;
    size_t exp_digits = 0;
    while (i < len && is_digit(s[i]))
      i++, exp_digits++;
    if (exp_digits == 0)
      return false;
  }
  return i == len;
}

typedef enum { T_STR, T_NULL, T_BOOL, T_INT, T_FLOAT } scalar_type;

static const char *const null_words[] = {"~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const inf_words[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
static const char *const ninf_words[] = {"-.inf", "-.Inf", "-.INF", NULL};
static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};

static scalar_type plain_type(const char *s, size_t len) {
  if (len == 0 || match_one(s, len, null_words))
    return T_NULL;
  if (match_one(s, len, true_words) || match_one(s, len, false_words))
    return T_BOOL;
  size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  if (i < len && all_in(s + i, len - i, "0123456789"))
    return T_INT;
  if (len > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, len - 2, "01234567"))
    return T_INT;
  if (len > 2 && s[0] == '0' && s[1] == 'x' && all_in(s + 2, len - 2, "0123456789abcdefABCDEF"))
    return T_INT;
  if (looks_float(s, len) || match_one(s, len, inf_words) || match_one(s, len, ninf_words) ||
      match_one(s, len, nan_words))
    return T_FLOAT;
  return T_STR;
}

/* value of s typed as t; NULL + *why on failure */
static json_t *typed_scalar(const char *s, size_t len, scalar_type t, const char **why) {
  char buf[128];
  switch (t) {
  case T_NULL:
    return json_null();
  case T_BOOL:
    return json_boolean(match_one(s, len, true_words));
  case T_INT: {
    if (len >= sizeof(buf)) {
      *why = "integer out of the 64-bit range";
      return NULL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    int base = 10;
    const char *start = buf;
    if (len > 2 && buf[0] == '0' && (buf[1] == 'o' || buf[1] == 'x')) {
      base = buf[1] == 'o' ? 8 : 16;
      start = buf + 2;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(start, &end, base);
    if (errno == ERANGE) {
      *why = "integer out of the 64-bit range";
      return NULL;
    }
    if (end == start || *end != '\0') {
      *why = "not an integer";
      return NULL;
    }
    return json_integer((json_int_t)v);
  }
  case T_FLOAT: {
    if (match_one(s, len, inf_words) || match_one(s, len, ninf_words) ||
        match_one(s, len, nan_words)) {
      *why = "infinite and NaN floats are not supported (JSON has no such values)";
      return NULL;
    }
    if (len >= sizeof(buf)) {
      *why = "float too long";
      return NULL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end = NULL;
    double d = strtod(buf, &end);
    if (end == buf || *end != '\0') {
      *why = "not a float";
      return NULL;
    }
    if (!isfinite(d)) {
      *why = "float out of range";
      return NULL;
    }
    return json_real(d);
  }
  case T_STR:
  default: {
    json_t *v = json_stringn(s, len);
    if (v == NULL)
      *why = "string is not valid UTF-8";
    return v;
  }
  }
}

/* ---- loader ---- */

typedef struct {
  json_t *container;
  bool is_map;
  char *key; /* pending key of a mapping */
  nd_yaml_pos key_pos;
  char *anchor;
  size_t nodes_before;
} frame;

typedef struct {
  char *name;
  json_t *value;
  size_t nodes;
} anchor_def;

typedef struct {
  const char *name;
  nd_yaml_lines *lines;
  frame stack[MAX_DEPTH];
  int depth;
  json_t *docs;
  json_t *root;
  bool have_root;
  anchor_def *anchors;
  size_t nanchors;
  size_t nodes;
  nd_error_t *err;
} loader;

static nd_yaml_pos mark_pos(yaml_mark_t m) {
  return (nd_yaml_pos){(int)m.line + 1, (int)m.column + 1};
}

__attribute__((format(printf, 3, 4))) static int fail_at(loader *ld, yaml_mark_t m,
                                                         const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return nd_error_make(ld->err, EINVAL, "%s:%d:%d: %s", ld->name, (int)m.line + 1,
                       (int)m.column + 1, msg);
}

static void record_node(loader *ld, json_t *v, nd_yaml_pos pos) {
  if (!json_is_true(v) && !json_is_false(v) && !json_is_null(v))
    lines_put(ld->lines, v, POS_NODE, NULL, 0, pos);
}

/* Attach v (a new reference, stolen) to the current parent, or make it the document root. */
static int add_value(loader *ld, json_t *v, yaml_mark_t m, bool record) {
  nd_yaml_pos pos = mark_pos(m);
  if (record)
    record_node(ld, v, pos);
  if (ld->depth == 0) {
    ld->root = v;
    ld->have_root = true;
    return 0;
  }
  frame *f = &ld->stack[ld->depth - 1];
  if (f->is_map) {
    if (json_object_get(f->container, f->key) != NULL) {
      json_decref(v);
      yaml_mark_t km = {0, (size_t)f->key_pos.line - 1, (size_t)f->key_pos.column - 1};
      return fail_at(ld, km, "duplicate key \"%.150s\"", f->key);
    }
    lines_put(ld->lines, f->container, POS_MEMBER, f->key, 0, pos);
    lines_put(ld->lines, f->container, POS_KEY, f->key, 0, f->key_pos);
    json_object_set_new(f->container, f->key, v);
    free(f->key);
    f->key = NULL;
  } else {
    lines_put(ld->lines, f->container, POS_INDEX, NULL, json_array_size(f->container), pos);
    json_array_append_new(f->container, v);
  }
  return 0;
}

static bool expecting_key(const loader *ld) {
  return ld->depth > 0 && ld->stack[ld->depth - 1].is_map && ld->stack[ld->depth - 1].key == NULL;
}

static int count_node(loader *ld, size_t n, yaml_mark_t m) {
  ld->nodes += n;
  if (ld->nodes > MAX_NODES)
    return fail_at(ld, m, "document too large (more than 1000000 nodes, aliases expanded)");
  return 0;
}

static int define_anchor(loader *ld, const char *name, json_t *v, size_t nodes) {
  anchor_def *a = realloc(ld->anchors, (ld->nanchors + 1) * sizeof(*a));
  if (a == NULL)
    abort();
  ld->anchors = a;
  a[ld->nanchors].name = strdup(name);
  if (a[ld->nanchors].name == NULL)
    abort();
  a[ld->nanchors].value = json_incref(v);
  a[ld->nanchors].nodes = nodes;
  ld->nanchors++;
  return 0;
}

static const anchor_def *find_anchor(const loader *ld, const char *name) {
  for (size_t i = ld->nanchors; i-- > 0;) /* the latest definition wins */
    if (strcmp(ld->anchors[i].name, name) == 0)
      return &ld->anchors[i];
  return NULL;
}

static int on_scalar(loader *ld, yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  if (expecting_key(ld)) {
    frame *f = &ld->stack[ld->depth - 1];
    if (memchr(s, '\0', len) != NULL)
      return fail_at(ld, ev->start_mark, "mapping key contains a NUL character");
    f->key = strndup(s, len);
    if (f->key == NULL)
      abort();
    f->key_pos = mark_pos(ev->start_mark);
    return count_node(ld, 1, ev->start_mark);
  }
  scalar_type t = T_STR;
  if (tag != NULL && strcmp(tag, "!") != 0) {
    if (strcmp(tag, YAML_STR_TAG) == 0)
      t = T_STR;
    else if (strcmp(tag, YAML_NULL_TAG) == 0)
      t = T_NULL;
    else if (strcmp(tag, YAML_BOOL_TAG) == 0)
      t = T_BOOL;
    else if (strcmp(tag, YAML_INT_TAG) == 0)
      t = T_INT;
    else if (strcmp(tag, YAML_FLOAT_TAG) == 0)
      t = T_FLOAT;
    else
      return fail_at(ld, ev->start_mark, "unsupported tag %s", tag);
    if (t != T_STR && t != plain_type(s, len) && !(t == T_FLOAT && plain_type(s, len) == T_INT))
      return fail_at(ld, ev->start_mark, "value does not match its tag %s", tag);
  } else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == NULL) {
    t = plain_type(s, len);
  }
  const char *why = NULL;
  json_t *v = typed_scalar(s, len, t, &why);
  if (v == NULL)
    return fail_at(ld, ev->start_mark, "%s", why ? why : "bad scalar");
  if (count_node(ld, 1, ev->start_mark) < 0) {
    json_decref(v);
    return -1;
  }
  if (ev->data.scalar.anchor != NULL)
    define_anchor(ld, (const char *)ev->data.scalar.anchor, v, 1);
  return add_value(ld, v, ev->start_mark, true);
}

static int on_start(loader *ld, yaml_event_t *ev, bool is_map) {
  if (expecting_key(ld))
    return fail_at(ld, ev->start_mark, "mapping keys must be scalars");
  if (ld->depth >= MAX_DEPTH)
    return fail_at(ld, ev->start_mark, "nesting deeper than 256 levels");
  if (count_node(ld, 1, ev->start_mark) < 0)
    return -1;
  json_t *c = is_map ? json_object() : json_array();
  if (c == NULL)
    abort();
  size_t before = ld->nodes;
  if (add_value(ld, c, ev->start_mark, true) < 0)
    return -1;
  frame *f = &ld->stack[ld->depth++];
  memset(f, 0, sizeof(*f));
  f->container = c;
  f->is_map = is_map;
  f->nodes_before = before;
  const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
  if (anchor != NULL && (f->anchor = strdup((const char *)anchor)) == NULL)
    abort();
  return 0;
}

static int on_end(loader *ld) {
  frame *f = &ld->stack[--ld->depth];
  if (f->anchor != NULL) /* defined at the end: an alias inside itself stays unknown */
    define_anchor(ld, f->anchor, f->container, ld->nodes - f->nodes_before + 1);
  free(f->anchor);
  free(f->key);
  f->anchor = f->key = NULL;
  return 0;
}

static int on_alias(loader *ld, yaml_event_t *ev) {
  const char *name = (const char *)ev->data.alias.anchor;
  const anchor_def *a = find_anchor(ld, name);
  if (a == NULL)
    return fail_at(ld, ev->start_mark, "unknown anchor *%s", name);
  if (expecting_key(ld)) {
    if (!json_is_string(a->value))
      return fail_at(ld, ev->start_mark, "mapping keys must be scalars");
    frame *f = &ld->stack[ld->depth - 1];
    f->key = strdup(json_string_value(a->value));
    if (f->key == NULL)
      abort();
    f->key_pos = mark_pos(ev->start_mark);
    return count_node(ld, 1, ev->start_mark);
  }
  if (count_node(ld, a->nodes, ev->start_mark) < 0)
    return -1;
  return add_value(ld, json_incref(a->value), ev->start_mark, false);
}

json_t *nd_yaml_load_string(const char *text, size_t len, const char *name, nd_yaml_lines **lines,
                            nd_error_t *err) {
  loader ld = {.name = name ? name : "<yaml>", .err = err};
  if (lines != NULL) {
    *lines = NULL;
    ld.lines = calloc(1, sizeof(*ld.lines));
    if (ld.lines == NULL || (ld.lines->name = strdup(ld.name)) == NULL)
      abort();
  }
  ld.docs = json_array();
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    abort();
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int rc = 0;
  bool done = false;
  while (!done && rc == 0) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      char msg[200];
      snprintf(msg, sizeof(msg), "%s%s%s", parser.problem ? parser.problem : "syntax error",
               parser.context ? " " : "", parser.context ? parser.context : "");
      rc = nd_error_make(err, EINVAL, "%s:%d:%d: %s", ld.name, (int)parser.problem_mark.line + 1,
                         (int)parser.problem_mark.column + 1, msg);
      break;
    }
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = true;
      break;
    case YAML_DOCUMENT_START_EVENT:
      ld.root = NULL;
      ld.have_root = false;
      break;
    case YAML_DOCUMENT_END_EVENT:
      json_array_append_new(ld.docs, ld.have_root ? ld.root : json_null());
      ld.root = NULL;
      ld.have_root = false;
      break;
    case YAML_SCALAR_EVENT:
      rc = on_scalar(&ld, &ev);
      break;
    case YAML_SEQUENCE_START_EVENT:
      rc = on_start(&ld, &ev, false);
      break;
    case YAML_MAPPING_START_EVENT:
      rc = on_start(&ld, &ev, true);
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      rc = on_end(&ld);
      break;
    case YAML_ALIAS_EVENT:
      rc = on_alias(&ld, &ev);
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  while (ld.depth > 0)
    on_end(&ld);
  for (size_t i = 0; i < ld.nanchors; i++) {
    free(ld.anchors[i].name);
    json_decref(ld.anchors[i].value);
  }
  free(ld.anchors);
  if (rc < 0) {
    if (ld.have_root)
      json_decref(ld.root);
    json_decref(ld.docs);
    nd_yaml_lines_free(ld.lines);
    return NULL;
  }
  if (lines != NULL)
    *lines = ld.lines;
  return ld.docs;
}

json_t *nd_yaml_load_file(const char *path, nd_yaml_lines **lines, nd_error_t *err) {
  cleanup_file FILE *f = fopen(path, "rb");
  if (f == NULL)
    return nd_error_make(err, errno, "%s: %s", path, strerror(errno)), NULL;
  cleanup_free char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (cap - len < 65536) {
      if (cap > (size_t)256 << 20)
        return nd_error_make(err, EFBIG, "%s: larger than 256 MiB", path), NULL;
      ND_GROW(buf, cap, len + 65536, 65536);
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) {
      if (ferror(f))
        return nd_error_make(err, EIO, "%s: read error", path), NULL;
      break;
    }
  }
  return nd_yaml_load_string(buf, len, path, lines, err);
}

/* ---- dumper ---- */

typedef struct {
  char *buf;
  size_t len, cap;
} out_buf;

static int write_cb(void *data, unsigned char *bytes, size_t size) {
  out_buf *o = data;
  ND_GROW(o->buf, o->cap, o->len + size + 1, 256);
  memcpy(o->buf + o->len, bytes, size);
  o->len += size;
  o->buf[o->len] = '\0';
  return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, size_t len, bool plain_ok) {
  yaml_event_t ev;
  yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, plain_ok ? 1 : 0, 1,
                               plain_ok ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
  return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_string(yaml_emitter_t *em, const char *s, size_t len) {
  /* plain only when it reads back as the same string */
  return emit_scalar(em, s, len, plain_type(s, len) == T_STR);
}

static int emit_value(yaml_emitter_t *em, const json_t *v, int depth) {
  yaml_event_t ev;
  char buf[64];
  if (depth > MAX_DEPTH)
    return -1;
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                        json_object_size(v) ? YAML_BLOCK_MAPPING_STYLE
                                                            : YAML_FLOW_MAPPING_STYLE);
    if (!yaml_emitter_emit(em, &ev))
      return -1;
    const char *key;
    json_t *child;
    json_object_foreach((json_t *)v, key, child) {
      if (emit_string(em, key, strlen(key)) < 0 || emit_value(em, child, depth + 1) < 0)
        return -1;
    }
    yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
  }
  case JSON_ARRAY: {
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                         json_array_size(v) ? YAML_BLOCK_SEQUENCE_STYLE
                                                            : YAML_FLOW_SEQUENCE_STYLE);
    if (!yaml_emitter_emit(em, &ev))
      return -1;
    size_t i;
    json_t *child;
    json_array_foreach(v, i, child) {
      if (emit_value(em, child, depth + 1) < 0)
        return -1;
    }
    yaml_sequence_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
  }
  case JSON_STRING:
    return emit_string(em, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return emit_scalar(em, buf, strlen(buf), true);
  case JSON_REAL: {
    snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
    if (strpbrk(buf, ".eE") == NULL)
      strcat(buf, ".0"); /* stays a float when read back */
    return emit_scalar(em, buf, strlen(buf), true);
  }
  case JSON_TRUE:
    return emit_scalar(em, "true", 4, true);
  case JSON_FALSE:
    return emit_scalar(em, "false", 5, true);
  case JSON_NULL:
  default:
    return emit_scalar(em, "null", 4, true);
  }
}

char *nd_yaml_dump(const json_t *value, nd_error_t *err) {
  yaml_emitter_t em;
  out_buf o = {0};
  if (!yaml_emitter_initialize(&em))
    abort();
  yaml_emitter_set_output(&em, write_cb, &o);
  yaml_emitter_set_unicode(&em, 1);
  yaml_emitter_set_width(&em, -1);
  yaml_emitter_set_indent(&em, 2);
  yaml_event_t ev;
  int rc = 0;
  yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
  if (!yaml_emitter_emit(&em, &ev))
    rc = -1;
  if (rc == 0) {
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    rc = yaml_emitter_emit(&em, &ev) ? 0 : -1;
  }
  if (rc == 0)
    rc = emit_value(&em, value, 0);
  if (rc == 0) {
    yaml_document_end_event_initialize(&ev, 1);
    rc = yaml_emitter_emit(&em, &ev) ? 0 : -1;
  }
  if (rc == 0) {
    yaml_stream_end_event_initialize(&ev);
    rc = yaml_emitter_emit(&em, &ev) ? 0 : -1;
  }
  if (rc < 0) {
    nd_error_make(err, EINVAL, "writing YAML: %s", em.problem ? em.problem : "nesting too deep");
    yaml_emitter_delete(&em);
    free(o.buf);
    return NULL;
  }
  yaml_emitter_delete(&em);
  if (o.buf == NULL && (o.buf = strdup("")) == NULL)
    abort();
  return o.buf;
}

int nd_yaml_dump_file(FILE *out, const json_t *value, nd_error_t *err) {
  cleanup_free char *text = nd_yaml_dump(value, err);
  if (text == NULL)
    return -1;
  if (fputs(text, out) == EOF)
    return nd_error_make(err, errno, "writing YAML: %s", strerror(errno));
  return 0;
}
