/* quantity.c: parse, compare and print Kubernetes resource quantities; rules in quantity.h. */
#include "quantity.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define MAX_DIGITS 38 /* 10^38 < 2^127 */

typedef __int128 i128;

static const struct {
  const char *suffix;
  int base;     /* 2 or 10 */
  int exponent; /* power of base */
} suffixes[] = {
    {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"", 10, 0},   {"k", 10, 3},   {"M", 10, 6},
    {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18}, {"Ki", 2, 10},  {"Mi", 2, 20},
    {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
};

static int fail(nd_error_t *err, const char *str, const char *why) {
  char quoted[96];
  nd_name_quote(quoted, sizeof(quoted), str);
  return nd_error_make(err, EINVAL, "quantity %s: %s", quoted, why);
}

#define SUFFIX_HINT "(expected n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or e<exponent>)"

static int fail_suffix(nd_error_t *err, const char *str, const char *suffix) {
  char quoted[64], why[160];
  nd_name_quote_bare(quoted, sizeof(quoted), suffix);
  snprintf(why, sizeof(why), "unknown suffix %s " SUFFIX_HINT, quoted);
  return fail(err, str, why);
}

static i128 pow10_i128(int n) {
  i128 p = 1;
  while (n-- > 0)
    p *= 10;
  return p;
}

static int digit_count(i128 v) {
  if (v < 0)
    v = -v;
  int n = 1;
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

/* Strip trailing zeros of mant into scale; zero becomes {0, 0}. */
static void normalise(nd_quantity *q) {
  if (q->mant == 0) {
    q->scale = 0;
    return;
  }
  while (q->mant % 10 == 0) {
    q->mant /= 10;
    q->scale++;
  }
}

/* Parse a Go strconv.ParseInt-style signed decimal into int64; false on syntax or range. */
static bool parse_exponent(const char *s, int64_t *out) {
  const char *p = s;
  bool neg = false;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  if (*p == '\0')
    return false;
  uint64_t v = 0;
  for (; *p; p++) {
    if (*p < '0' || *p > '9')
      return false;
    if (v > (UINT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (uint64_t)(*p - '0');
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
      return false;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/* Multiply the decimal digit string digits[0..len) by 2^shift; writes the result to a fresh
 * buffer (no leading zeros) and returns its length. */
static size_t mul_pow2(const char *digits, size_t len, int shift, char **out) {
  size_t cap = len + 20;
  char *buf = malloc(cap + 1);
  if (buf == NULL)
    abort();
  size_t pos = cap; /* fill from the right */
  unsigned __int128 carry = 0;
  for (size_t i = len; i-- > 0;) {
    unsigned __int128 cur = ((unsigned __int128)(digits[i] - '0') << shift) + carry;
    buf[--pos] = (char)('0' + (int)(cur % 10));
    carry = cur / 10;
  }
  while (carry > 0) {
    buf[--pos] = (char)('0' + (int)(carry % 10));
    carry /= 10;
  }
  while (pos < cap - 1 && buf[pos] == '0')
    pos++;
  size_t n = cap - pos;
  memmove(buf, buf + pos, n);
  buf[n] = '\0';
  *out = buf;
  return n;
}

/* digits[0..len) * 10^exp10 (len >= 1, no leading zeros, not all zero) rounded up away from
 * zero to 10^-9 -> *out. Returns false when it needs more than MAX_DIGITS digits. */
static bool digits_to_quantity(const char *digits, size_t len, int64_t exp10, nd_quantity *out) {
  while (len > 1 && digits[len - 1] == '0') {
    len--;
    exp10++;
  }
  bool round_up = false;
  if (exp10 < -9) {
    int64_t drop = -9 - exp10;
    if ((uint64_t)drop >= len) {
      out->mant = 1;
      out->scale = -9;
      return true;
    }
    len -= (size_t)drop; /* the dropped part ends in a non-zero digit */
    round_up = true;
    exp10 = -9;
  }
  if (len > MAX_DIGITS)
    return false;
  i128 m = 0;
  for (size_t i = 0; i < len; i++)
    m = m * 10 + (digits[i] - '0');
  if (round_up)
    m += 1;
  out->mant = m;
  if (exp10 > INT32_MAX - MAX_DIGITS)
    return false;
  out->scale = (int32_t)exp10;
  normalise(out);
  return true;
}

int nd_quantity_parse(const char *str, nd_quantity *out, nd_error_t *err) {
  if (str == NULL || *str == '\0')
    return fail(err, str ? str : "",
                "empty; expected a number with an optional suffix like 500m, 64Gi or 1e3");
  const char *p = str;
  bool negative = false;
  if (*p == '+' || *p == '-')
    negative = *p++ == '-';
  while (*p == '0')
    p++;
  const char *num = p;
  while (*p >= '0' && *p <= '9')
    p++;
  size_t num_len = (size_t)(p - num);
  const char *denom = p;
  size_t denom_len = 0;
  if (*p == '.') {
    denom = ++p;
    while (*p >= '0' && *p <= '9')
      p++;
    denom_len = (size_t)(p - denom);
  }
  const char *suffix = p;
  while (*p && strchr("eEinumkKMGTP", *p) != NULL)
    p++;
  if (*p == '+' || *p == '-')
    p++;
  while (*p >= '0' && *p <= '9')
    p++;
  if (*p != '\0') {
    bool word = (*suffix >= 'a' && *suffix <= 'z') || (*suffix >= 'A' && *suffix <= 'Z');
    for (const char *r = suffix; word && *r; r++)
      word = (*r >= 'a' && *r <= 'z') || (*r >= 'A' && *r <= 'Z') || (*r >= '0' && *r <= '9');
    if (word)
      return fail_suffix(err, str, suffix);
    char c[8];
    unsigned char ch = (unsigned char)*p;
    if (ch >= 0x20 && ch < 0x7f && ch != '\'')
      snprintf(c, sizeof(c), "'%c'", ch);
    else
      snprintf(c, sizeof(c), "0x%02x", ch);
    char why[128];
    snprintf(why, sizeof(why), "unexpected character %s at offset %zu (expected a number like 1.5 and a suffix)", c, (size_t)(p - str));
    return fail(err, str, why);
  }

  int base = 10;
  int64_t exponent = 0;
  nd_quantity_format format = ND_QUANTITY_DECIMAL_SI;
  bool known = false;
  for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
    if (strcmp(suffix, suffixes[i].suffix) == 0) {
      base = suffixes[i].base;
      exponent = suffixes[i].exponent;
      format = base == 2 ? ND_QUANTITY_BINARY_SI : ND_QUANTITY_DECIMAL_SI;
      known = true;
      break;
    }
  }
  if (!known) {
    if (strlen(suffix) > 1 && (suffix[0] == 'e' || suffix[0] == 'E') &&
        parse_exponent(suffix + 1, &exponent)) {
      if (exponent < INT32_MIN || exponent > INT32_MAX)
        return fail(err, str, "decimal exponent out of the 32-bit range");
      format = ND_QUANTITY_DECIMAL_EXPONENT;
    } else {
      return fail_suffix(err, str, suffix);
    }
  }

  /* significant digits: num (leading zeros gone) followed by denom */
  size_t total = num_len + denom_len;
  char *digits = malloc(total + 1);
  if (digits == NULL)
    abort();
  memcpy(digits, num, num_len);
  memcpy(digits + num_len, denom, denom_len);
  digits[total] = '\0';
  size_t lead = 0;
  while (lead < total && digits[lead] == '0')
    lead++;
  nd_quantity q = {.mant = 0, .scale = 0, .format = format};
  if (lead == total) { /* zero */
    free(digits);
    *out = q;
    return 0;
  }
  const char *sig = digits + lead;
  size_t sig_len = total - lead;
  int64_t exp10 = -(int64_t)denom_len;
  bool ok;
  if (base == 10) {
    ok = digits_to_quantity(sig, sig_len, exp10 + exponent, &q);
  } else {
    char *shifted = NULL;
    size_t shifted_len = mul_pow2(sig, sig_len, (int)exponent, &shifted);
    /* cap at 2^63-1: count the integer digits first, exact compare after */
    bool cap = (int64_t)shifted_len + exp10 > 19;
    if (!cap) {
      ok = digits_to_quantity(shifted, shifted_len, exp10, &q);
      if (ok) {
        i128 limit = (i128)INT64_MAX * pow10_i128(9);
        int shift = q.scale + 9; /* q.scale >= -9 and q < 10^19 */
        i128 nano = q.mant * pow10_i128(shift);
        cap = nano > limit;
      }
    } else {
      ok = true;
    }
    free(shifted);
    if (cap) {
      q.mant = INT64_MAX;
      q.scale = 0;
    }
    if (ok && q.scale < 0 && digit_count(q.mant) + q.scale <= 0)
      q.format = ND_QUANTITY_DECIMAL_SI; /* 0 < |v| < 1 */
  }
  free(digits);
  if (!ok)
    return fail(err, str, "more than 38 significant digits or exponent out of range");
  if (negative)
    q.mant = -q.mant;
  *out = q;
  return 0;
}

static int cmp_magnitude(i128 ma, int32_t sa, i128 mb, int32_t sb) {
  /* both positive and normalised */
  int64_t oa = (int64_t)digit_count(ma) + sa, ob = (int64_t)digit_count(mb) + sb;
  if (oa != ob)
    return oa < ob ? -1 : 1;
  if (sa > sb)
    ma *= pow10_i128(sa - sb);
  else if (sb > sa)
    mb *= pow10_i128(sb - sa);
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

static char *append_i128(char *p, i128 v) {
  char tmp[48];
  int n = 0;
  unsigned __int128 u = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
  do {
    tmp[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u > 0);
  if (v < 0)
    *p++ = '-';
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

char *nd_quantity_format_canonical(const nd_quantity *q, char buf[ND_QUANTITY_STR_MAX]) {
  if (q->mant == 0) {
    strcpy(buf, "0");
    return buf;
  }
  nd_quantity_format format = q->format;
  if (format == ND_QUANTITY_BINARY_SI) {
    i128 a = q->mant < 0 ? -q->mant : q->mant;
    bool below_1024 = cmp_magnitude(a, q->scale, 1024, 0) < 0;
    bool too_big = (int64_t)digit_count(a) + q->scale > MAX_DIGITS; /* only sums get there */
    if (below_1024 || q->scale < 0 || too_big)
      format = ND_QUANTITY_DECIMAL_SI;
  }
  char *p = buf;
  if (format == ND_QUANTITY_BINARY_SI) {
    /* an integer below 2^63 here (binary values are capped) */
    i128 v = q->mant * pow10_i128(q->scale);
    i128 a = v < 0 ? -v : v;
    int times = 0;
    while (a >= 1024 && a % 1024 == 0) {
      a /= 1024;
      times++;
    }
    static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    p = append_i128(p, v < 0 ? -a : a);
    strcpy(p, times < 7 ? bin[times] : "");
    return buf;
  }
  int32_t exponent = q->scale;
  int extra = ((exponent % 3) + 3) % 3;
  exponent -= extra;
  p = append_i128(p, q->mant);
  for (int i = 0; i < extra; i++)
    *p++ = '0';
  *p = '\0';
  if (format == ND_QUANTITY_DECIMAL_EXPONENT) {
    if (exponent != 0)
      snprintf(p, (size_t)(ND_QUANTITY_STR_MAX - (p - buf)), "e%d", (int)exponent);
    return buf;
  }
  for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
    if (suffixes[i].base == 10 && suffixes[i].exponent == exponent) {
      strcpy(p, suffixes[i].suffix);
      break;
    }
  }
  return buf;
}

char *nd_quantity_canonical(const char *str, nd_error_t *err) {
  nd_quantity q;
  if (nd_quantity_parse(str, &q, err) < 0)
    return NULL;
  char buf[ND_QUANTITY_STR_MAX];
  char *s = strdup(nd_quantity_format_canonical(&q, buf));
  if (s == NULL)
    abort();
  return s;
}

int nd_quantity_sign(const nd_quantity *q) { return q->mant > 0 ? 1 : q->mant < 0 ? -1 : 0; }

bool nd_quantity_is_zero(const nd_quantity *q) { return q->mant == 0; }

int nd_quantity_cmp(const nd_quantity *a, const nd_quantity *b) {
  int sa = nd_quantity_sign(a), sb = nd_quantity_sign(b);
  if (sa != sb)
    return sa < sb ? -1 : 1;
  if (sa == 0)
    return 0;
  if (sa > 0)
    return cmp_magnitude(a->mant, a->scale, b->mant, b->scale);
  return cmp_magnitude(-b->mant, b->scale, -a->mant, a->scale);
}

nd_quantity nd_quantity_from_scaled(int64_t v, int32_t scale, nd_quantity_format format) {
  nd_quantity q = {.mant = v, .scale = scale, .format = format};
  normalise(&q);
  return q;
}

int nd_quantity_scaled_value(const nd_quantity *q, int32_t scale, int64_t *out, nd_error_t *err) {
  if (q->mant == 0) {
    *out = 0;
    return 0;
  }
  int64_t shift = (int64_t)q->scale - scale; /* value in units of 10^scale = mant * 10^shift */
  i128 a = q->mant < 0 ? -q->mant : q->mant;
  i128 r;
  if (shift >= 0) {
    if (digit_count(a) + shift > 19)
      goto overflow;
    r = a * pow10_i128((int)shift);
  } else if (-shift >= MAX_DIGITS) {
    r = 1;
  } else {
    i128 d = pow10_i128((int)-shift);
    r = a / d + (a % d != 0 ? 1 : 0);
  }
  if (r > INT64_MAX)
    goto overflow;
  *out = q->mant < 0 ? -(int64_t)r : (int64_t)r;
  return 0;
overflow:;
  char buf[ND_QUANTITY_STR_MAX];
  return nd_error_make(err, ERANGE, "quantity %s does not fit a 64-bit integer in units of 1e%d",
                       nd_quantity_format_canonical(q, buf), (int)scale);
}

int nd_quantity_add(const nd_quantity *a, const nd_quantity *b, nd_quantity *out, nd_error_t *err) {
  if (b->mant == 0) {
    *out = *a;
    return 0;
  }
  if (a->mant == 0) {
    *out = *b;
    out->format = b->format;
    return 0;
  }
  int32_t scale = a->scale < b->scale ? a->scale : b->scale;
  int64_t sha = (int64_t)a->scale - scale, shb = (int64_t)b->scale - scale;
  if (digit_count(a->mant) + sha > MAX_DIGITS - 1 || digit_count(b->mant) + shb > MAX_DIGITS - 1)
    return nd_error_make(err, ERANGE, "quantity sum exceeds %d significant digits", MAX_DIGITS);
  nd_quantity q = {.mant = a->mant * pow10_i128((int)sha) + b->mant * pow10_i128((int)shb),
                   .scale = scale,
                   .format = a->format};
  normalise(&q);
  *out = q;
  return 0;
}
