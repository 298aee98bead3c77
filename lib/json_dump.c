/* json_dump.c: json_t -> JSON text identical to jansson 2.14's json_dumps (rules in
 * json_dump.h), written into one growing buffer: no per-container allocation, no cycle check.
 * Sorting keys uses one scratch stack of members shared by all the objects of a dump. */
#include "json_dump.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

/* the flags nd_json_dumps writes itself: indent (bits 0-4), JSON_COMPACT .. JSON_ESCAPE_SLASH,
 * real precision (bits 11-15); anything else goes to json_dumps */
#define HANDLED_FLAGS 0xFFFFu
#define FLAGS_INDENT(f) ((unsigned)((f) & JSON_MAX_INDENT))
#define FLAGS_PRECISION(f) ((int)(((f) >> 11) & 0x1F))

#define FIRST_CAPACITY 1024

/* one member of an object being written with sorted keys */
typedef struct {
  const char *key;
  size_t key_len;
  json_t *value;
} member;

typedef struct {
  char *text;
  size_t len, cap; /* cap > len always leaves room for the final NUL */
  bool out_of_memory;
  /* from the flags */
  unsigned indent;
  int precision;
  bool compact, sort_keys, ensure_ascii, escape_slash;
  /* sorted-keys scratch: the members of every object being written, innermost on top */
  member *members;
  size_t n_members, members_cap;
} dumper;

/* ---- output buffer ---- */

static bool grow_text(dumper *d, size_t more) {
  if (d->out_of_memory)
    return false;
  if (more >= SIZE_MAX - d->len ||
      ND_GROW_TRY(d->text, d->cap, d->len + more + 1, FIRST_CAPACITY) < 0) {
    d->out_of_memory = true;
    return false;
  }
  return true;
}

/* Room for `more` bytes (and the NUL) at d->text + d->len. */
static inline bool reserve(dumper *d, size_t more) {
  return d->cap - d->len > more || grow_text(d, more);
}

static inline bool put_bytes(dumper *d, const char *bytes, size_t n) {
  if (!reserve(d, n))
    return false;
  memcpy(d->text + d->len, bytes, n);
  d->len += n;
  return true;
}

static inline bool put_byte(dumper *d, char c) {
  if (!reserve(d, 1))
    return false;
  d->text[d->len++] = c;
  return true;
}

/* A line break and the indentation of `depth` with JSON_INDENT, else the single space that
 * follows "," in non-compact output when `after_comma`, else nothing. */
static bool put_break(dumper *d, int depth, bool after_comma) {
  if (d->indent > 0) {
    size_t spaces = (size_t)depth * d->indent;
    if (!reserve(d, spaces + 1))
      return false;
    d->text[d->len++] = '\n';
    memset(d->text + d->len, ' ', spaces);
    d->len += spaces;
    return true;
  }
  if (after_comma && !d->compact)
    return put_byte(d, ' ');
  return true;
}

/* ---- strings ---- */

/* The bytes that end a run of plain text, by what they need: the letter after the backslash
 * for an ASCII byte that is escaped ('u' for \u00XX), 'U' for a byte >= 0x80 (UTF-8 to check,
 * and to escape with JSON_ENSURE_ASCII). '/' only in the table for JSON_ESCAPE_SLASH. */
#define RUN_ENDERS                                                                                 \
  [0x00 ... 0x07] = 'u', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', [0x0B] = 'u', ['\f'] = 'f',     \
  ['\r'] = 'r', [0x0E ... 0x1F] = 'u', ['"'] = '"', ['\\'] = '\\', [0x80 ... 0xFF] = 'U'
static const unsigned char run_enders[256] = {RUN_ENDERS};
static const unsigned char run_enders_slash[256] = {RUN_ENDERS, ['/'] = '/'};

#define EVERY_BYTE(b) (0x0101010101010101ULL * (uint64_t)(b))

/* Whether one of the 8 bytes of w ends a plain run (a control, '"', '\\', >= 0x80, '/' with
 * slash): the has-less-than and has-zero-byte tests of "Bit Twiddling Hacks", which can err
 * only about bytes after one that does, so the answer for the word is exact. */
static inline bool word_ends_run(uint64_t w, bool slash) {
  uint64_t quote = w ^ EVERY_BYTE('"'), backslash = w ^ EVERY_BYTE('\\');
  uint64_t t = ((w - EVERY_BYTE(0x20)) & ~w) | ((quote - EVERY_BYTE(1)) & ~quote) |
               ((backslash - EVERY_BYTE(1)) & ~backslash) | w;
  if (slash) {
    uint64_t solidus = w ^ EVERY_BYTE('/');
    t |= (solidus - EVERY_BYTE(1)) & ~solidus;
  }
  return (t & EVERY_BYTE(0x80)) != 0;
}

static const char hex_digits[] = "0123456789ABCDEF";

static void write_u_escape(char *out, unsigned unit) {
  out[0] = '\\';
  out[1] = 'u';
  out[2] = hex_digits[(unit >> 12) & 0xF];
  out[3] = hex_digits[(unit >> 8) & 0xF];
  out[4] = hex_digits[(unit >> 4) & 0xF];
  out[5] = hex_digits[unit & 0xF];
}

/* The length (2..4) and code point of the UTF-8 sequence at s (lead byte >= 0x80), or 0 when
 * it is not valid UTF-8: a stray continuation byte, an overlong form, a surrogate, beyond
 * U+10FFFF or cut short by the end. */
static size_t utf8_sequence(const unsigned char *s, size_t avail, uint32_t *code_point) {
  unsigned char lead = s[0];
  size_t n;
  uint32_t cp, min;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2, cp = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3, cp = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n > avail)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  *code_point = cp;
  return n;
}

typedef enum { STRING_OK, STRING_BAD_UTF8, STRING_NO_MEMORY } string_result;

/* s[0..len) as a quoted JSON string. Plain text is copied in runs, each run when the escape
 * that ends it (or the closing quote) is reached; on a byte that is not valid UTF-8 the run
 * pending since the last escape is dropped and nothing more is written, which is exactly
 * what jansson leaves behind. */
static string_result put_string(dumper *d, const char *str, size_t len) {
  const unsigned char *p = (const unsigned char *)str, *end = p + len, *run = p;
  const unsigned char *enders = d->escape_slash ? run_enders_slash : run_enders;
  if (!reserve(d, len + 2))
    return STRING_NO_MEMORY;
  d->text[d->len++] = '"';
  for (;;) {
    /* to the next byte that ends the run: 8 at a time, then one by one */
    while (end - p >= 8) {
      uint64_t w;
      memcpy(&w, p, sizeof(w));
      if (word_ends_run(w, d->escape_slash))
        break;
      p += 8;
    }
    while (p < end && enders[*p] == 0)
      p++;
    if (p == end)
      break;
    unsigned char ender = enders[*p];
    char escaped[12];
    size_t escaped_len, consumed = 1;
    if (ender == 'U') {
      uint32_t cp;
      consumed = utf8_sequence(p, (size_t)(end - p), &cp);
      if (consumed == 0)
        return STRING_BAD_UTF8;
      if (!d->ensure_ascii) {
        p += consumed;
        continue;
      }
      if (cp < 0x10000) {
        write_u_escape(escaped, cp);
        escaped_len = 6;
      } else {
        cp -= 0x10000;
        write_u_escape(escaped, 0xD800 | (cp >> 10));
        write_u_escape(escaped + 6, 0xDC00 | (cp & 0x3FF));
        escaped_len = 12;
      }
    } else if (ender == 'u') {
      write_u_escape(escaped, *p);
      escaped_len = 6;
    } else {
      escaped[0] = '\\';
      escaped[1] = (char)ender;
      escaped_len = 2;
    }
    size_t run_len = (size_t)(p - run);
    if (!reserve(d, run_len + escaped_len + (size_t)(end - p) + 1))
      return STRING_NO_MEMORY;
    memcpy(d->text + d->len, run, run_len);
    memcpy(d->text + d->len + run_len, escaped, escaped_len);
    d->len += run_len + escaped_len;
    p += consumed;
    run = p;
  }
  size_t run_len = (size_t)(end - run);
  if (!reserve(d, run_len + 1))
    return STRING_NO_MEMORY;
  memcpy(d->text + d->len, run, run_len);
  d->len += run_len;
  d->text[d->len++] = '"';
  return STRING_OK;
}

/* ---- numbers ---- */

static bool put_integer(dumper *d, json_int_t value) {
  char digits[24];
  char *p = digits + sizeof(digits);
  unsigned long long magnitude =
      value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
  do {
    *--p = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude > 0);
  if (value < 0)
    *--p = '-';
  return put_bytes(d, p, (size_t)(digits + sizeof(digits) - p));
}

/* value as jansson's jsonp_dtostr writes it: "%.<precision>g" (17 for 0), the locale's
 * decimal point as '.', ".0" when there is neither '.' nor 'e', no '+' and no leading zeros
 * in the exponent. */
static bool put_real(dumper *d, double value) {
  char text[64];
  int n = snprintf(text, sizeof(text), "%.*g", d->precision ? d->precision : 17, value);
  if (n < 0 || (size_t)n >= sizeof(text))
    return false;
  size_t len = 0;
  bool has_point = false, has_exponent = false;
  for (int i = 0; i < n; i++) {
    char c = text[i];
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
      has_exponent |= c == 'e';
      text[len++] = c;
    } else if (!has_point) { /* the decimal point, whatever the locale spells it with */
      has_point = true;
      text[len++] = '.';
    } /* further bytes of a multi-byte decimal point are dropped */
  }
  if (!has_point && !has_exponent) {
    text[len++] = '.';
    text[len++] = '0';
  }
  char *e = memchr(text, 'e', len);
  if (e != NULL) {
    char *digits = e + 1;
    if (*digits == '-')
      digits++;
    char *from = e + 1 + (e[1] == '+' || e[1] == '-');
    while (from < text + len - 1 && *from == '0')
      from++;
    /* (a digit always remains: %g never writes the exponent 0) */
    memmove(digits, from, (size_t)(text + len - from));
    len -= (size_t)(from - digits);
  }
  return put_bytes(d, text, len);
}

/* ---- containers ---- */

static int compare_members(const member *a, const member *b) {
  size_t common = a->key_len < b->key_len ? a->key_len : b->key_len;
  int order = memcmp(a->key, b->key, common);
  if (order != 0)
    return order;
  return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

/* Sort m[0..n) by key with tmp[0..n) as scratch (keys are distinct, so any correct sort gives
 * jansson's order). */
static void sort_members(member *m, member *tmp, size_t n) {
  if (n <= 12) {
    for (size_t i = 1; i < n; i++) {
      member x = m[i];
      size_t j = i;
      for (; j > 0 && compare_members(&m[j - 1], &x) > 0; j--)
        m[j] = m[j - 1];
      m[j] = x;
    }
    return;
  }
  size_t half = n / 2;
  sort_members(m, tmp, half);
  sort_members(m + half, tmp, n - half);
  if (compare_members(&m[half - 1], &m[half]) <= 0)
    return; /* already in order */
  memcpy(tmp, m, half * sizeof(*m));
  size_t i = 0, j = half, k = 0;
  while (i < half && j < n)
    m[k++] = compare_members(&tmp[i], &m[j]) <= 0 ? tmp[i++] : m[j++];
  while (i < half)
    m[k++] = tmp[i++];
}

static bool reserve_members(dumper *d, size_t more) {
  if (ND_GROW_TRY(d->members, d->members_cap, d->n_members + more, 64) < 0) {
    d->out_of_memory = true;
    return false;
  }
  return true;
}

static bool put_value(dumper *d, const json_t *json, int depth);

/* One member: the key (a bad key is written cut short and the dump goes on, as jansson does),
 * the separator, the value. */
static bool put_member(dumper *d, const char *key, size_t key_len, const json_t *value, int depth) {
  if (put_string(d, key, key_len) == STRING_NO_MEMORY)
    return false;
  if (!(d->compact ? put_byte(d, ':') : put_bytes(d, ": ", 2)))
    return false;
  return put_value(d, value, depth + 1);
}

static bool put_object(dumper *d, const json_t *object, int depth) {
  void *iter = json_object_iter((json_t *)object);
  if (iter == NULL)
    return put_bytes(d, "{}", 2);
  if (!put_byte(d, '{') || !put_break(d, depth + 1, false))
    return false;
  if (!d->sort_keys) {
    while (iter != NULL) {
      void *next = json_object_iter_next((json_t *)object, iter);
      if (!put_member(d, json_object_iter_key(iter), json_object_iter_key_len(iter),
                      json_object_iter_value(iter), depth))
        return false;
      if (next != NULL ? !put_byte(d, ',') || !put_break(d, depth + 1, true)
                       : !put_break(d, depth, false))
        return false;
      iter = next;
    }
    return put_byte(d, '}');
  }
  /* this object's members at [base, base + n) of the scratch stack, sorted with
   * [base + n, base + 2n) as the merge buffer; objects inside the values push above */
  size_t n = json_object_size(object), base = d->n_members;
  if (!reserve_members(d, 2 * n))
    return false;
  size_t count = 0;
  for (; iter != NULL && count < n; iter = json_object_iter_next((json_t *)object, iter)) {
    member *m = &d->members[base + count++];
    m->key = json_object_iter_key(iter);
    m->key_len = json_object_iter_key_len(iter);
    m->value = json_object_iter_value(iter);
  }
  sort_members(d->members + base, d->members + base + count, count);
  d->n_members = base + count;
  bool ok = true;
  for (size_t i = 0; ok && i < count; i++) {
    member m = d->members[base + i]; /* a copy: nested objects may move the stack */
    ok = put_member(d, m.key, m.key_len, m.value, depth) &&
         (i + 1 < count ? put_byte(d, ',') && put_break(d, depth + 1, true)
                        : put_break(d, depth, false));
  }
  d->n_members = base;
  return ok && put_byte(d, '}');
}

static bool put_array(dumper *d, const json_t *array, int depth) {
  size_t n = json_array_size(array);
  if (n == 0)
    return put_bytes(d, "[]", 2);
  if (!put_byte(d, '[') || !put_break(d, depth + 1, false))
    return false;
  for (size_t i = 0; i < n; i++) {
    if (!put_value(d, json_array_get(array, i), depth + 1))
      return false;
    if (i + 1 < n ? !put_byte(d, ',') || !put_break(d, depth + 1, true)
                  : !put_break(d, depth, false))
      return false;
  }
  return put_byte(d, ']');
}

static bool put_value(dumper *d, const json_t *json, int depth) {
  if (json == NULL)
    return false;
  switch (json_typeof(json)) {
  case JSON_OBJECT:
    return put_object(d, json, depth);
  case JSON_ARRAY:
    return put_array(d, json, depth);
  case JSON_STRING:
    return put_string(d, json_string_value(json), json_string_length(json)) == STRING_OK;
  case JSON_INTEGER:
    return put_integer(d, json_integer_value(json));
  case JSON_REAL:
    return put_real(d, json_real_value(json));
  case JSON_TRUE:
    return put_bytes(d, "true", 4);
  case JSON_FALSE:
    return put_bytes(d, "false", 5);
  case JSON_NULL:
    return put_bytes(d, "null", 4);
  }
  return false;
}

char *nd_json_dumps(const json_t *json, size_t flags) {
  if ((flags & ~(size_t)HANDLED_FLAGS) != 0)
    return json_dumps(json, flags);
  if (json == NULL)
    return NULL;
  if (!(flags & JSON_ENCODE_ANY) && !json_is_object(json) && !json_is_array(json))
    return NULL;
  dumper d = {
      .indent = FLAGS_INDENT(flags),
      .precision = FLAGS_PRECISION(flags),
      .compact = (flags & JSON_COMPACT) != 0,
      .sort_keys = (flags & JSON_SORT_KEYS) != 0,
      .ensure_ascii = (flags & JSON_ENSURE_ASCII) != 0,
      .escape_slash = (flags & JSON_ESCAPE_SLASH) != 0,
  };
  bool ok = put_value(&d, json, 0) && reserve(&d, 0);
  free(d.members);
  if (!ok) {
    free(d.text);
    return NULL;
  }
  d.text[d.len] = '\0';
  if (d.cap - d.len > 64) { /* give back the slack of the last doubling */
    char *fitted = realloc(d.text, d.len + 1);
    if (fitted != NULL)
      d.text = fitted;
  }
  return d.text;
}
