/* config.c: the table-driven configuration loader (defaults < file < env < flags), value
 * parsers for each type, and the Markdown/--help reference; see config.h. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "names.h"
#include "yaml_json.h"

extern char **environ;

#define PATH_MAX_LEN 256

static void *field_ptr(void *base, const nd_config_field *f) { return (char *)base + f->offset; }

static const char *type_expectation(nd_config_type t) {
  switch (t) {
  case ND_CFG_STRING:
    return "expected a string";
  case ND_CFG_INT:
    return "expected an integer";
  case ND_CFG_BOOL:
    return "expected true or false";
  case ND_CFG_DURATION:
    return "expected a duration like 15s";
  case ND_CFG_QUANTITY:
    return "expected a quantity like 64Gi or 500m";
  case ND_CFG_STRING_LIST:
    return "expected a list of strings";
  case ND_CFG_TABLE:
  default:
    return "expected a mapping";
  }
}

static const char *type_name(nd_config_type t) {
  switch (t) {
  case ND_CFG_STRING:
    return "string";
  case ND_CFG_INT:
    return "integer";
  case ND_CFG_BOOL:
    return "boolean";
  case ND_CFG_DURATION:
    return "duration";
  case ND_CFG_QUANTITY:
    return "quantity";
  case ND_CFG_STRING_LIST:
    return "list of strings";
  case ND_CFG_TABLE:
  default:
    return "table";
  }
}

static void join_path(char *out, const char *prefix, const char *key) {
  if (prefix == NULL || *prefix == '\0')
    snprintf(out, PATH_MAX_LEN, "%s", key);
  else
    snprintf(out, PATH_MAX_LEN, "%s.%s", prefix, key);
}

/* ---- durations ---- */

static void format_duration(int64_t ms, char *buf, size_t size) {
  if (ms != 0 && ms % 3600000 == 0)
    snprintf(buf, size, "%" PRId64 "h", ms / 3600000);
  else if (ms != 0 && ms % 60000 == 0)
    snprintf(buf, size, "%" PRId64 "m", ms / 60000);
  else if (ms != 0 && ms % 1000 == 0)
    snprintf(buf, size, "%" PRId64 "s", ms / 1000);
  else
    snprintf(buf, size, "%" PRId64 "ms", ms);
}

/* NULL when text is a valid duration (*ms set), else why not. */
static const char *parse_duration(const char *text, int64_t *ms) {
  const char *p = text;
  if (*p == '\0')
    return "empty";
  if (strcmp(p, "0") == 0) {
    *ms = 0;
    return NULL;
  }
  if (*p == '-')
    return "must not be negative";
  if (*p == '+')
    p++;
  int64_t total = 0;
  while (*p) {
    int64_t whole = 0, frac = 0, frac_scale = 1;
    bool digits = false;
    while (*p >= '0' && *p <= '9') {
      if (whole > (INT64_MAX - 9) / 10)
        return "out of range";
      whole = whole * 10 + (*p++ - '0');
      digits = true;
    }
    if (*p == '.') {
      p++;
      while (*p >= '0' && *p <= '9') {
        if (frac_scale < 1000000000LL) {
          frac = frac * 10 + (*p - '0');
          frac_scale *= 10;
        } else if (*p != '0') {
          return "finer than 1ms";
        }
        p++;
        digits = true;
      }
    }
    if (!digits)
      return "missing number";
    int64_t unit;
    if (strncmp(p, "ms", 2) == 0) {
      unit = 1;
      p += 2;
    } else if (*p == 's') {
      unit = 1000;
      p++;
    } else if (*p == 'm') {
      unit = 60000;
      p++;
    } else if (*p == 'h') {
      unit = 3600000;
      p++;
    } else if (strncmp(p, "us", 2) == 0 || strncmp(p, "ns", 2) == 0 ||
               strncmp(p, "\xc2\xb5s", 3) == 0) {
      return "finer than 1ms";
    } else if (*p == '\0') {
      return "missing unit (ms, s, m or h)";
    } else {
      return "unknown unit (use ms, s, m or h)";
    }
    if (whole > INT64_MAX / unit)
      return "out of range";
    int64_t part = whole * unit;
    if ((frac * unit) % frac_scale != 0)
      return "finer than 1ms";
    part += frac * unit / frac_scale;
    if (total > INT64_MAX - part)
      return "out of range";
    total += part;
  }
  *ms = total;
  return NULL;
}

int nd_config_parse_duration(const char *text, int64_t *ms, nd_error_t *err) {
  const char *why = parse_duration(text, ms);
  if (why == NULL)
    return 0;
  char quoted[96];
  nd_name_quote(quoted, sizeof(quoted), text);
  return nd_error_make(err, EINVAL, "duration %s: %s", quoted, why);
}

/* ---- setting values ---- */

static void free_strings(nd_config_strings *l) {
  for (size_t i = 0; i < l->count; i++)
    free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->count = 0;
}

static void strings_push(nd_config_strings *l, const char *s, size_t len) {
  char **items = realloc(l->items, (l->count + 1) * sizeof(*items));
  if (items == NULL)
    abort();
  l->items = items;
  l->items[l->count] = strndup(s, len);
  if (l->items[l->count] == NULL)
    abort();
  l->count++;
}

static void set_string(char **slot, const char *s) {
  char *copy = strdup(s);
  if (copy == NULL)
    abort();
  free(*slot);
  *slot = copy;
}

/* where: "controller.yaml:12", "environment X", "flag --x", "default"; got: the offending
 * value already quoted; detail: optional reason in parentheses. */
static int value_error(nd_error_t *err, const char *where, const char *path, nd_config_type t,
                       const char *got, const char *detail) {
  return nd_error_make(err, EINVAL, "%s: %s: %s, got %s%s%s%s", where, path, type_expectation(t),
                       got, detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
}

static int check_bounds(const nd_config_field *f, int64_t v, const char *where, const char *path,
                        nd_error_t *err) {
  if (f->min >= f->max || (v >= f->min && v <= f->max))
    return 0;
  char lo[32], hi[32], got[32];
  if (f->type == ND_CFG_DURATION) {
    format_duration(f->min, lo, sizeof(lo));
    format_duration(f->max, hi, sizeof(hi));
    format_duration(v, got, sizeof(got));
  } else {
    snprintf(lo, sizeof(lo), "%" PRId64, f->min);
    snprintf(hi, sizeof(hi), "%" PRId64, f->max);
    snprintf(got, sizeof(got), "%" PRId64, v);
  }
  return nd_error_make(err, ERANGE, "%s: %s: must be between %s and %s, got %s", where, path, lo,
                       hi, got);
}

static int set_quantity(const nd_config_field *f, void *base, const char *text, const char *where,
                        const char *path, const char *got, nd_error_t *err) {
  nd_quantity q;
  cleanup_error nd_error_t qerr = NULL;
  if (nd_quantity_parse(text, &q, &qerr) < 0) {
    const char *why = strstr(nd_error_msg(qerr), "\": ");
    return value_error(err, where, path, f->type, got, why ? why + 3 : NULL);
  }
  *(nd_quantity *)field_ptr(base, f) = q;
  return 0;
}

/* Set from text (defaults, environment, flags). */
static int set_from_text(const nd_config_field *f, void *base, const char *text, const char *where,
                         const char *path, nd_error_t *err) {
  char got[96];
  nd_name_quote(got, sizeof(got), text);
  void *slot = field_ptr(base, f);
  switch (f->type) {
  case ND_CFG_STRING:
    set_string(slot, text);
    return 0;
  case ND_CFG_INT: {
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    bool starts_ok = (*text >= '0' && *text <= '9') || *text == '-' || *text == '+';
    if (!starts_ok || *end != '\0' || errno == ERANGE)
      return value_error(err, where, path, f->type, got, NULL);
    if (check_bounds(f, v, where, path, err) < 0)
      return -1;
    *(int64_t *)slot = v;
    return 0;
  }
  case ND_CFG_BOOL:
    if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
      *(bool *)slot = true;
    else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
      *(bool *)slot = false;
    else
      return value_error(err, where, path, f->type, got, NULL);
    return 0;
  case ND_CFG_DURATION: {
    int64_t ms;
    const char *why = parse_duration(text, &ms);
    if (why != NULL) /* only semantic reasons are worth adding to "expected ..., got ..." */
      return value_error(err, where, path, f->type, got,
                         strstr(why, "range") || strstr(why, "finer") || strstr(why, "negative")
                             ? why
                             : NULL);
    if (check_bounds(f, ms, where, path, err) < 0)
      return -1;
    *(int64_t *)slot = ms;
    return 0;
  }
  case ND_CFG_QUANTITY:
    return set_quantity(f, base, text, where, path, got, err);
  case ND_CFG_STRING_LIST: {
    nd_config_strings *l = slot;
    free_strings(l);
    const char *p = text;
    while (*p) {
      while (*p == ' ')
        p++;
      const char *end = strchr(p, ',');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      size_t trimmed = len;
      while (trimmed > 0 && p[trimmed - 1] == ' ')
        trimmed--;
      if (trimmed > 0)
        strings_push(l, p, trimmed);
      p += len;
      if (*p == ',')
        p++;
    }
    return 0;
  }
  case ND_CFG_TABLE:
  default:
    return nd_error_make(err, EINVAL, "%s: %s: a table cannot be set from text", where, path);
  }
}

static void describe_json(const json_t *v, char *buf, size_t size) {
  if (json_is_string(v)) {
    nd_name_quote(buf, size, json_string_value(v));
  } else if (json_is_object(v)) {
    snprintf(buf, size, "a mapping");
  } else if (json_is_array(v)) {
    snprintf(buf, size, "a list");
  } else {
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, size, "%s", s ? s : "?");
    free(s);
  }
}

static int apply_object(const nd_config_field *table, void *base, const json_t *obj,
                        const char *prefix, const nd_yaml_lines *lines, nd_error_t *err);

/* Set from a YAML value. */
static int set_from_json(const nd_config_field *f, void *base, const json_t *v, const char *where,
                         const char *path, const nd_yaml_lines *lines, nd_error_t *err) {
  char got[96];
  describe_json(v, got, sizeof(got));
  void *slot = field_ptr(base, f);
  switch (f->type) {
  case ND_CFG_STRING:
    if (!json_is_string(v))
      return value_error(err, where, path, f->type, got,
                         json_is_object(v) || json_is_array(v) ? NULL : "quote it to make it text");
    if (strlen(json_string_value(v)) != json_string_length(v))
      return value_error(err, where, path, f->type, got, "contains a NUL character");
    set_string(slot, json_string_value(v));
    return 0;
  case ND_CFG_INT:
    if (!json_is_integer(v))
      return value_error(err, where, path, f->type, got, NULL);
    if (check_bounds(f, json_integer_value(v), where, path, err) < 0)
      return -1;
    *(int64_t *)slot = json_integer_value(v);
    return 0;
  case ND_CFG_BOOL:
    if (!json_is_boolean(v))
      return value_error(err, where, path, f->type, got, NULL);
    *(bool *)slot = json_is_true(v);
    return 0;
  case ND_CFG_DURATION:
    if (!json_is_string(v))
      return value_error(err, where, path, f->type, got,
                         json_is_number(v) ? "a number needs a unit: ms, s, m or h" : NULL);
    return set_from_text(f, base, json_string_value(v), where, path, err);
  case ND_CFG_QUANTITY: {
    char text[64];
    if (json_is_string(v)) {
      return set_quantity(f, base, json_string_value(v), where, path, got, err);
    } else if (json_is_integer(v)) {
      snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
      snprintf(text, sizeof(text), "%.15g", json_real_value(v));
      if (strtod(text, NULL) != json_real_value(v))
        snprintf(text, sizeof(text), "%.17g", json_real_value(v));
    } else {
      return value_error(err, where, path, f->type, got, NULL);
    }
    return set_quantity(f, base, text, where, path, got, err);
  }
  case ND_CFG_STRING_LIST: {
    if (!json_is_array(v))
      return value_error(err, where, path, f->type, got, NULL);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
      if (!json_is_string(item) || strlen(json_string_value(item)) != json_string_length(item)) {
        char item_path[PATH_MAX_LEN + 24], item_where[PATH_MAX_LEN];
        snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
        nd_yaml_pos pos = nd_yaml_pos_of_index(lines, v, i);
        snprintf(item_where, sizeof(item_where), "%s:%d", nd_yaml_source_name(lines), pos.line);
        describe_json(item, got, sizeof(got));
        return nd_error_make(err, EINVAL, "%s: %s: expected a string, got %s", item_where,
                             item_path, got);
      }
    }
    nd_config_strings *l = slot;
    free_strings(l);
    json_array_foreach(v, i, item) strings_push(l, json_string_value(item), json_string_length(item));
    return 0;
  }
  case ND_CFG_TABLE:
  default:
    if (json_is_null(v))
      return 0;
    if (!json_is_object(v))
      return value_error(err, where, path, f->type, got, NULL);
    return apply_object(f->fields, slot, v, path, lines, err);
  }
}

static int apply_object(const nd_config_field *table, void *base, const json_t *obj,
                        const char *prefix, const nd_yaml_lines *lines, nd_error_t *err) {
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    char path[PATH_MAX_LEN], where[PATH_MAX_LEN];
    join_path(path, prefix, key);
    nd_yaml_pos pos = nd_yaml_pos_of_member(lines, obj, key);
    snprintf(where, sizeof(where), "%s:%d", nd_yaml_source_name(lines), pos.line);
    const nd_config_field *f = NULL;
    for (const nd_config_field *c = table; c->key != NULL; c++)
      if (strcmp(c->key, key) == 0)
        f = c;
    if (f == NULL) {
      snprintf(where, sizeof(where), "%s:%d", nd_yaml_source_name(lines),
               nd_yaml_pos_of_key(lines, obj, key).line);
      char known[200] = "";
      size_t n = 0;
      for (const nd_config_field *c = table; c->key != NULL && n + 40 < sizeof(known); c++)
        n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", n ? ", " : "", c->key);
      char quoted[PATH_MAX_LEN + 8];
      nd_name_quote_bare(quoted, sizeof(quoted), path);
      return nd_error_make(err, EINVAL, "%s: %s: unknown key (known: %s)", where, quoted, known);
    }
    if (set_from_json(f, base, value, where, path, lines, err) < 0)
      return -1;
  }
  return 0;
}

/* ---- public entry points ---- */

static int defaults_rec(const nd_config_field *table, void *base, const char *prefix,
                        nd_error_t *err) {
  for (const nd_config_field *f = table; f->key != NULL; f++) {
    char path[PATH_MAX_LEN];
    join_path(path, prefix, f->key);
    void *slot = field_ptr(base, f);
    switch (f->type) {
    case ND_CFG_TABLE:
      if (defaults_rec(f->fields, slot, path, err) < 0)
        return -1;
      continue;
    case ND_CFG_STRING:
      free(*(char **)slot);
      *(char **)slot = NULL;
      break;
    case ND_CFG_STRING_LIST:
      free_strings(slot);
      break;
    case ND_CFG_INT:
    case ND_CFG_DURATION:
      *(int64_t *)slot = 0;
      break;
    case ND_CFG_BOOL:
      *(bool *)slot = false;
      break;
    case ND_CFG_QUANTITY:
      *(nd_quantity *)slot = nd_quantity_from_int64(0, ND_QUANTITY_DECIMAL_SI);
      break;
    }
    if (f->def != NULL && set_from_text(f, base, f->def, "default", path, err) < 0)
      return -1;
  }
  return 0;
}

int nd_config_defaults(const nd_config_field *table, void *out, nd_error_t *err) {
  return defaults_rec(table, out, "", err);
}

int nd_config_apply_yaml(const nd_config_field *table, void *out, const char *text, size_t len,
                         const char *name, nd_error_t *err) {
  nd_yaml_lines *lines = NULL;
  cleanup_json json_t *docs = nd_yaml_load_string(text, len, name, &lines, err);
  if (docs == NULL)
    return -1;
  int rc = 0;
  if (json_array_size(docs) > 1) {
    rc = nd_error_make(err, EINVAL, "%s:%d: expected one YAML document, found %zu", name,
                       nd_yaml_line_of(lines, json_array_get(docs, 1)), json_array_size(docs));
  } else if (json_array_size(docs) == 1) {
    json_t *doc = json_array_get(docs, 0);
    if (json_is_object(doc))
      rc = apply_object(table, out, doc, "", lines, err);
    else if (!json_is_null(doc)) {
      char got[96];
      describe_json(doc, got, sizeof(got));
      rc = nd_error_make(err, EINVAL, "%s:%d: expected a mapping of settings, got %s", name,
                         nd_yaml_line_of(lines, doc), got);
    }
  }
  nd_yaml_lines_free(lines);
  return rc;
}

int nd_config_apply_file(const nd_config_field *table, void *out, const char *path,
                         nd_error_t *err) {
  cleanup_file FILE *f = fopen(path, "rb");
  if (f == NULL)
    return nd_error_make(err, errno, "config file %s: %s", path, strerror(errno));
  cleanup_free char *buf = NULL;
  size_t len = 0;
  cleanup_file FILE *mem = open_memstream(&buf, &len);
  if (mem == NULL)
    abort();
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (len + n > (16u << 20))
      return nd_error_make(err, EFBIG, "config file %s: larger than 16 MiB", path);
    fwrite(chunk, 1, n, mem);
    fflush(mem);
  }
  if (ferror(f))
    return nd_error_make(err, EIO, "config file %s: read error", path);
  fclose(mem);
  mem = NULL;
  return nd_config_apply_yaml(table, out, buf, len, path, err);
}

static int env_rec(const nd_config_field *table, void *base, const char *prefix,
                   char *const *envp, nd_error_t *err) {
  for (const nd_config_field *f = table; f->key != NULL; f++) {
    char path[PATH_MAX_LEN];
    join_path(path, prefix, f->key);
    if (f->type == ND_CFG_TABLE) {
      if (env_rec(f->fields, field_ptr(base, f), path, envp, err) < 0)
        return -1;
      continue;
    }
    if (f->env == NULL)
      continue;
    size_t nlen = strlen(f->env);
    for (char *const *e = envp; *e != NULL; e++) {
      if (strncmp(*e, f->env, nlen) == 0 && (*e)[nlen] == '=') {
        char where[PATH_MAX_LEN];
        snprintf(where, sizeof(where), "environment %s", f->env);
        if (set_from_text(f, base, *e + nlen + 1, where, path, err) < 0)
          return -1;
        break;
      }
    }
  }
  return 0;
}

int nd_config_apply_env(const nd_config_field *table, void *out, char *const *envp,
                        nd_error_t *err) {
  return env_rec(table, out, "", envp ? envp : environ, err);
}

static const nd_config_field *find_flag(const nd_config_field *table, void *base,
                                        const char *prefix, const char *name, size_t nlen,
                                        void **field_base, char *path_out) {
  for (const nd_config_field *f = table; f->key != NULL; f++) {
    char path[PATH_MAX_LEN];
    join_path(path, prefix, f->key);
    if (f->type == ND_CFG_TABLE) {
      const nd_config_field *r =
          find_flag(f->fields, field_ptr(base, f), path, name, nlen, field_base, path_out);
      if (r != NULL)
        return r;
    } else if (f->flag != NULL && strlen(f->flag) == nlen && strncmp(f->flag, name, nlen) == 0) {
      *field_base = base;
      memcpy(path_out, path, PATH_MAX_LEN);
      return f;
    }
  }
  return NULL;
}

static bool in_list(const char *const *list, const char *name, size_t nlen) {
  for (; list && *list; list++)
    if (strlen(*list) == nlen && strncmp(*list, name, nlen) == 0)
      return true;
  return false;
}

int nd_config_apply_flags(const nd_config_field *table, void *out, int argc, char *const *argv,
                          const char *const *ignore, nd_error_t *err) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    char quoted[96];
    if (strcmp(arg, "--") == 0) {
      if (i + 1 < argc)
        return nd_error_make(err, EINVAL, "unexpected argument %s",
                             nd_name_quote(quoted, sizeof(quoted), argv[i + 1]));
      break;
    }
    if (arg[0] != '-' || arg[1] == '\0')
      return nd_error_make(err, EINVAL, "unexpected argument %s",
                           nd_name_quote(quoted, sizeof(quoted), arg));
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    const char *value = eq ? eq + 1 : NULL;
    if (in_list(ignore, name, nlen)) {
      if (value == NULL)
        i++;
      continue;
    }
    void *fbase = NULL;
    char path[PATH_MAX_LEN];
    const nd_config_field *f = find_flag(table, out, "", name, nlen, &fbase, path);
    if (f == NULL) {
      char flag[PATH_MAX_LEN];
      snprintf(flag, sizeof(flag), "%.*s", (int)(nlen > 200 ? 200 : nlen), name);
      return nd_error_make(err, EINVAL, "unknown flag --%s (see --help)",
                           nd_name_quote_bare(quoted, sizeof(quoted), flag));
    }
    if (value == NULL) {
      if (f->type == ND_CFG_BOOL) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return nd_error_make(err, EINVAL, "flag --%s needs a value", f->flag);
      }
    }
    char where[PATH_MAX_LEN];
    snprintf(where, sizeof(where), "flag --%s", f->flag);
    if (set_from_text(f, fbase, value, where, path, err) < 0)
      return -1;
  }
  return 0;
}

const char *nd_config_flag_value(int argc, char *const *argv, const char *name) {
  size_t nlen = strlen(name);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0)
      break;
    if (arg[0] != '-')
      continue;
    const char *n = arg + (arg[1] == '-' ? 2 : 1);
    if (strncmp(n, name, nlen) != 0)
      continue;
    if (n[nlen] == '=')
      return n + nlen + 1;
    if (n[nlen] == '\0' && i + 1 < argc)
      return argv[i + 1];
  }
  return NULL;
}

int nd_config_load(const nd_config_field *table, void *out, const char *config_path, int argc,
                   char *const *argv, char *const *envp, nd_error_t *err) {
  static const char *const ignore[] = {"config", NULL};
  const char *path = nd_config_flag_value(argc, argv, "config");
  if (path == NULL)
    path = config_path;
  if (nd_config_defaults(table, out, err) < 0)
    return -1;
  if (path != NULL && nd_config_apply_file(table, out, path, err) < 0)
    return -1;
  if (nd_config_apply_env(table, out, envp, err) < 0)
    return -1;
  return nd_config_apply_flags(table, out, argc, argv, ignore, err);
}

void nd_config_free(const nd_config_field *table, void *out) {
  for (const nd_config_field *f = table; f->key != NULL; f++) {
    void *slot = field_ptr(out, f);
    if (f->type == ND_CFG_TABLE) {
      nd_config_free(f->fields, slot);
    } else if (f->type == ND_CFG_STRING) {
      free(*(char **)slot);
      *(char **)slot = NULL;
    } else if (f->type == ND_CFG_STRING_LIST) {
      free_strings(slot);
    }
  }
}

/* ---- documentation ---- */

static void md_cell(FILE *out, const char *s) {
  for (; s && *s; s++) {
    if (*s == '|')
      fputs("\\|", out);
    else if (*s == '\n')
      fputc(' ', out);
    else
      fputc(*s, out);
  }
}

static void md_rows(const nd_config_field *table, const char *prefix, FILE *out) {
  for (const nd_config_field *f = table; f->key != NULL; f++) {
    char path[PATH_MAX_LEN];
    join_path(path, prefix, f->key);
    if (f->type == ND_CFG_TABLE) {
      md_rows(f->fields, path, out);
      continue;
    }
    fprintf(out, "| `%s` | %s | ", path, type_name(f->type));
    if (f->def != NULL && *f->def != '\0') {
      fputc('`', out);
      md_cell(out, f->def);
      fputc('`', out);
    }
    fputs(" | ", out);
    if (f->flag)
      fprintf(out, "`--%s`", f->flag);
    fputs(" | ", out);
    if (f->env)
      fprintf(out, "`%s`", f->env);
    fputs(" | ", out);
    md_cell(out, f->help);
    if (f->min < f->max) {
      char lo[32], hi[32];
      if (f->type == ND_CFG_DURATION) {
        format_duration(f->min, lo, sizeof(lo));
        format_duration(f->max, hi, sizeof(hi));
      } else {
        snprintf(lo, sizeof(lo), "%" PRId64, f->min);
        snprintf(hi, sizeof(hi), "%" PRId64, f->max);
      }
      fprintf(out, " (%s to %s)", lo, hi);
    }
    fputs(" |\n", out);
  }
}

void nd_config_reference_markdown(const nd_config_field *table, FILE *out) {
  fputs("Precedence: defaults < configuration file < environment < flags.\n\n", out);
  fputs("| Key | Type | Default | Flag | Environment | Description |\n", out);
  fputs("|---|---|---|---|---|---|\n", out);
  md_rows(table, "", out);
}

static void usage_rows(const nd_config_field *table, FILE *out) {
  for (const nd_config_field *f = table; f->key != NULL; f++) {
    if (f->type == ND_CFG_TABLE) {
      usage_rows(f->fields, out);
      continue;
    }
    if (f->flag == NULL)
      continue;
    char left[96];
    snprintf(left, sizeof(left), "--%s%s%s", f->flag, f->type == ND_CFG_BOOL ? "" : " ",
             f->type == ND_CFG_BOOL ? "" : type_name(f->type));
    fprintf(out, "  %-36s %s", left, f->help ? f->help : "");
    if (f->def && *f->def)
      fprintf(out, " (default %s)", f->def);
    if (f->env)
      fprintf(out, " [$%s]", f->env);
    fputc('\n', out);
  }
}

void nd_config_usage(const nd_config_field *table, FILE *out) { usage_rows(table, out); }
