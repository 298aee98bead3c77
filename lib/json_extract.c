/* json_extract.c: a syntax-checking scan of JSON text that hands only the values on the wanted
 * paths to jansson; see json_extract.h. */
#include "json_extract.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cleanup.h"

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH: nested objects and arrays */
#define MAX_PATHS 32

typedef struct {
  const char *s;
  size_t len, pos;
  const char *const *const *paths;
  nd_error_t *err;
} scanner;

static int fail(scanner *sc, const char *what) {
  return nd_error_make(sc->err, EINVAL, "JSON: %s at byte %zu", what, sc->pos);
}

static void skip_ws(scanner *sc) {
  while (sc->pos < sc->len) {
    char c = sc->s[sc->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return;
    sc->pos++;
  }
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The string whose opening quote is at pos; pos ends after its closing quote. *escaped: it
 * holds an escape (its bytes are not its value). */
static int skip_string(scanner *sc, bool *escaped) {
  bool esc = false;
  size_t p = sc->pos + 1;
  while (p < sc->len) {
    unsigned char c = (unsigned char)sc->s[p];
    if (c == '"') {
      sc->pos = p + 1;
      if (escaped)
        *escaped = esc;
      return 0;
    }
    if (c < 0x20) {
      sc->pos = p;
      return fail(sc, "control character in a string");
    }
    if (c != '\\') {
      p++;
      continue;
    }
    esc = true;
    char e = p + 1 < sc->len ? sc->s[p + 1] : '\0';
    if (e == 'u') {
      for (size_t k = p + 2; k < p + 6; k++)
        if (k >= sc->len || !is_hex(sc->s[k])) {
          sc->pos = p;
          return fail(sc, "invalid \\u escape");
        }
      p += 6;
    } else if (e != '\0' && strchr("\"\\/bfnrt", e) != NULL) {
      p += 2;
    } else {
      sc->pos = p;
      return fail(sc, "invalid escape");
    }
  }
  sc->pos = sc->len;
  return fail(sc, "unterminated string");
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int skip_number(scanner *sc) {
  size_t p = sc->pos;
  if (p < sc->len && sc->s[p] == '-')
    p++;
  if (p < sc->len && sc->s[p] == '0') {
    p++;
  } else if (p < sc->len && is_digit(sc->s[p])) {
    while (p < sc->len && is_digit(sc->s[p]))
      p++;
  } else {
    sc->pos = p;
    return fail(sc, "invalid number");
  }
  if (p < sc->len && sc->s[p] == '.') {
    size_t digits = ++p;
    while (p < sc->len && is_digit(sc->s[p]))
      p++;
    if (p == digits) {
      sc->pos = p;
      return fail(sc, "invalid number");
    }
  }
  if (p < sc->len && (sc->s[p] == 'e' || sc->s[p] == 'E')) {
    p++;
    if (p < sc->len && (sc->s[p] == '+' || sc->s[p] == '-'))
      p++;
    size_t digits = p;
    while (p < sc->len && is_digit(sc->s[p]))
      p++;
    if (p == digits) {
      sc->pos = p;
      return fail(sc, "invalid number");
    }
  }
  sc->pos = p;
  return 0;
}

static int skip_literal(scanner *sc, const char *word) {
  size_t n = strlen(word);
  if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
    return fail(sc, "invalid literal");
  sc->pos += n;
  return 0;
}

static int skip_value(scanner *sc, int depth);

/* After a member or element: ',' (0, more follow) or the closing bracket (1). */
static int after_item(scanner *sc, char close) {
  skip_ws(sc);
  if (sc->pos >= sc->len)
    return fail(sc, "unexpected end of text");
  char c = sc->s[sc->pos];
  if (c == ',' || c == close) {
    sc->pos++;
    return c == close;
  }
  return fail(sc, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* A key (its opening quote at pos after whitespace) and the ':' after it; the value's first
 * byte is at pos afterwards. *key_start and *escaped describe the key's text (quotes included
 * from key_start to pos of the ':' minus whitespace: *key_end). */
static int member_key(scanner *sc, size_t *key_start, size_t *key_end, bool *escaped) {
  skip_ws(sc);
  if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
    return fail(sc, "expected a string key");
  *key_start = sc->pos;
  if (skip_string(sc, escaped) < 0)
    return -1;
  *key_end = sc->pos;
  skip_ws(sc);
  if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
    return fail(sc, "expected ':'");
  sc->pos++;
  skip_ws(sc);
  return 0;
}

static int scan_object(scanner *sc, int depth, uint32_t active, int level, json_t *out);

/* The array at pos (depth: its nesting level, counting it). */
static int skip_array(scanner *sc, int depth) {
  if (depth > MAX_DEPTH)
    return fail(sc, "nested too deep");
  sc->pos++;
  skip_ws(sc);
  if (sc->pos < sc->len && sc->s[sc->pos] == ']') {
    sc->pos++;
    return 0;
  }
  for (;;) {
    if (skip_value(sc, depth) < 0)
      return -1;
    int r = after_item(sc, ']');
    if (r != 0)
      return r < 0 ? -1 : 0;
  }
}

/* The value at pos (after whitespace); depth: the nesting level of its container. */
static int skip_value(scanner *sc, int depth) {
  skip_ws(sc);
  if (sc->pos >= sc->len)
    return fail(sc, "unexpected end of text");
  switch (sc->s[sc->pos]) {
  case '"':
    return skip_string(sc, NULL);
  case '{':
    return scan_object(sc, depth + 1, 0, 0, NULL);
  case '[':
    return skip_array(sc, depth + 1);
  case 't':
    return skip_literal(sc, "true");
  case 'f':
    return skip_literal(sc, "false");
  case 'n':
    return skip_literal(sc, "null");
  default:
    return skip_number(sc);
  }
}

/* jansson's reading of the text from start to pos (one value), or NULL with err. */
static json_t *decode(scanner *sc, size_t start, size_t end) {
  json_error_t jerr;
  json_t *v = json_loadb(sc->s + start, end - start, JSON_DECODE_ANY, &jerr);
  if (v == NULL)
    nd_error_make(sc->err, EINVAL, "JSON: %s at byte %zu", jerr.text, start + (size_t)jerr.position);
  return v;
}

/* The value of the member whose key spans ks..ke (quotes included), in an object on the way of
 * the paths in `active` (all sharing their first `level` keys); out: the result object there. */
static int walk_member(scanner *sc, int depth, uint32_t active, int level, json_t *out,
                       size_t ks, size_t ke, bool escaped) {
  cleanup_json json_t *decoded_key = NULL;
  const char *key = sc->s + ks + 1;
  size_t key_len = ke - ks - 2;
  if (escaped) { /* rare: let jansson read the key (and refuse what it refuses) */
    decoded_key = decode(sc, ks, ke);
    if (decoded_key == NULL)
      return -1;
    key = json_string_value(decoded_key);
    key_len = json_string_length(decoded_key);
  }
  uint32_t ends = 0, through = 0;
  for (uint32_t left = active; left != 0; left &= left - 1) {
    int i = __builtin_ctz(left);
    const char *want = sc->paths[i][level];
    if (strlen(want) != key_len || memcmp(want, key, key_len) != 0)
      continue;
    if (sc->paths[i][level + 1] == NULL)
      ends |= UINT32_C(1) << i;
    else
      through |= UINT32_C(1) << i;
  }
  size_t start = sc->pos;
  if (ends) { /* a wanted value (a later duplicate replaces it, as in jansson) */
    json_t *v = NULL;
    if (skip_value(sc, depth) < 0 || (v = decode(sc, start, sc->pos)) == NULL)
      return -1;
    if (json_object_setn_new(out, key, key_len, v) < 0) /* v is released */
      return nd_error_make(sc->err, ENOMEM, "JSON: out of memory");
    return 0;
  }
  if (through && sc->pos < sc->len && sc->s[sc->pos] == '{') {
    json_t *child = json_object();
    if (child == NULL || json_object_setn_new(out, key, key_len, child) < 0)
      return nd_error_make(sc->err, ENOMEM, "JSON: out of memory");
    return scan_object(sc, depth + 1, through, level + 1, child);
  }
  if (through) /* not an object: a path through it is absent, also if an earlier one was */
    json_object_deln(out, key, key_len);
  return skip_value(sc, depth);
}

/* The object at pos (depth: its nesting level, counting it), walked for the paths in `active`
 * into out (0 and NULL: only checked and skipped). */
static int scan_object(scanner *sc, int depth, uint32_t active, int level, json_t *out) {
  if (depth > MAX_DEPTH)
    return fail(sc, "nested too deep");
  sc->pos++;
  skip_ws(sc);
  if (sc->pos < sc->len && sc->s[sc->pos] == '}') {
    sc->pos++;
    return 0;
  }
  for (;;) {
    size_t ks = 0, ke = 0; /* set by member_key (gcc -O2 cannot tell) */
    bool escaped = false;
    if (member_key(sc, &ks, &ke, &escaped) < 0)
      return -1;
    int rc = active ? walk_member(sc, depth, active, level, out, ks, ke, escaped)
                    : skip_value(sc, depth);
    if (rc < 0)
      return -1;
    int r = after_item(sc, '}');
    if (r != 0)
      return r < 0 ? -1 : 0;
  }
}

json_t *nd_json_extract(const char *text, size_t len, const char *const *const *paths,
                        nd_error_t *err) {
  uint32_t all = 0;
  for (int i = 0; paths != NULL && paths[i] != NULL; i++) {
    if (i == MAX_PATHS || paths[i][0] == NULL) {
      nd_error_make(err, EINVAL, "JSON: at most %d paths of at least one key", MAX_PATHS);
      return NULL;
    }
    all |= UINT32_C(1) << i;
  }
  scanner sc = {.s = text, .len = text ? len : 0, .paths = paths, .err = err};
  skip_ws(&sc);
  if (sc.pos >= sc.len || sc.s[sc.pos] != '{') {
    fail(&sc, "expected an object");
    return NULL;
  }
  json_t *out = json_object();
  if (out == NULL) {
    nd_error_make(err, ENOMEM, "JSON: out of memory");
    return NULL;
  }
  if (scan_object(&sc, 1, all, 0, out) < 0) {
    json_decref(out);
    return NULL;
  }
  skip_ws(&sc);
  if (sc.pos != sc.len) {
    fail(&sc, "text after the document");
    json_decref(out);
    return NULL;
  }
  return out;
}
