/* names.c: Kubernetes / CDI name validation, DNS-label sanitising and message quoting. */
#include "names.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

/* Each checker returns NULL when s[0..len) is valid, else the rule it breaks. */
typedef const char *(*checker)(const char *s, size_t len);

static const char *check_dns_label(const char *s, size_t len) {
  if (len == 0)
    return "must not be empty";
  if (len > ND_DNS_LABEL_MAX)
    return "must be at most 63 characters";
  for (size_t i = 0; i < len; i++)
    if (!is_lower_alnum(s[i]) && s[i] != '-')
      return "must consist of lowercase letters, digits and '-'";
  if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
    return "must start and end with a lowercase letter or digit";
  return NULL;
}

static const char *check_dns_subdomain(const char *s, size_t len) {
  if (len == 0)
    return "must not be empty";
  if (len > ND_DNS_SUBDOMAIN_MAX)
    return "must be at most 253 characters";
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '.') {
      const char *why = check_dns_label(s + start, i - start);
      if (why != NULL)
        return i == start ? "must not have empty parts between dots"
                          : "must be lowercase letters, digits, '-' and '.', each part starting "
                            "and ending with a letter or digit";
      start = i + 1;
    }
  }
  return NULL;
}

static const char *check_label_name(const char *s, size_t len, bool allow_empty) {
  if (len == 0)
    return allow_empty ? NULL : "must not be empty";
  if (len > 63)
    return "must be at most 63 characters";
  for (size_t i = 0; i < len; i++)
    if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return "must consist of letters, digits, '-', '_' and '.'";
  if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
    return "must start and end with a letter or digit";
  return NULL;
}

static const char *check_qualified_name(const char *s, size_t len) {
  const char *slash = memchr(s, '/', len);
  if (slash == NULL)
    return check_label_name(s, len, false);
  size_t plen = (size_t)(slash - s);
  if (plen == 0)
    return "prefix before '/' must not be empty";
  if (check_dns_subdomain(s, plen) != NULL)
    return "prefix before '/' must be a DNS subdomain";
  const char *why = check_label_name(slash + 1, len - plen - 1, false);
  return why ? "name after '/' must be 1-63 letters, digits, '-', '_' or '.', starting and "
               "ending with a letter or digit"
             : NULL;
}

static const char *check_label_value(const char *s, size_t len) {
  return check_label_name(s, len, true);
}

static const char *check_c_identifier(const char *s, size_t len) {
  if (len == 0)
    return "must not be empty";
  if (len > ND_C_IDENTIFIER_MAX)
    return "must be at most 32 characters";
  if (!is_alpha(s[0]) && s[0] != '_')
    return "must start with a letter or '_'";
  for (size_t i = 0; i < len; i++)
    if (!is_alnum(s[i]) && s[i] != '_')
      return "must consist of letters, digits and '_'";
  return NULL;
}

static const char *check_driver_name(const char *s, size_t len) {
  if (len == 0)
    return "must not be empty";
  if (len > 63)
    return "must be at most 63 characters";
  return check_dns_subdomain(s, len) ? "must be a lowercase DNS subdomain (letters, digits, "
                                       "'-' and '.', alphanumeric at both ends of each part)"
                                     : NULL;
}

static const char *check_attribute_key(const char *s, size_t len) {
  const char *slash = memchr(s, '/', len);
  if (slash == NULL)
    return check_c_identifier(s, len);
  size_t dlen = (size_t)(slash - s);
  if (check_driver_name(s, dlen) != NULL)
    return "domain before '/' must be a lowercase DNS subdomain of at most 63 characters";
  if (check_c_identifier(slash + 1, len - dlen - 1) != NULL)
    return "name after '/' must be a C identifier of at most 32 characters";
  return NULL;
}

static const char *check_cdi_vendor(const char *s, size_t len) {
  if (len == 0)
    return "must not be empty";
  if (!is_alpha(s[0]))
    return "must start with a letter";
  for (size_t i = 0; i < len; i++)
    if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
      return "must consist of letters, digits, '_', '.' and '-'";
  if (!is_alnum(s[len - 1]))
    return "must end with a letter or digit";
  if (len > ND_DNS_SUBDOMAIN_MAX)
    return "must be at most 253 characters";
  return NULL;
}

static const char *check_cdi_class(const char *s, size_t len) {
  if (len > 63)
    return "must be at most 63 characters";
  return check_cdi_vendor(s, len);
}

static const char *check_cdi_device(const char *s, size_t len) {
  if (len == 0)
    return "must not be empty";
  for (size_t i = 0; i < len; i++)
    if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != ':' && s[i] != '-')
      return "must consist of letters, digits, '_', '.', ':' and '-'";
  if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
    return "must start and end with a letter or digit";
  return NULL;
}

static const char *check_cdi_kind(const char *s, size_t len) {
  const char *slash = memchr(s, '/', len);
  if (slash == NULL)
    return "must be <vendor>/<class>";
  size_t vlen = (size_t)(slash - s);
  if (check_cdi_vendor(s, vlen) != NULL)
    return "vendor before '/' must start with a letter, end with a letter or digit and "
           "contain only letters, digits, '_', '.' and '-'";
  if (check_cdi_class(slash + 1, len - vlen - 1) != NULL)
    return "class after '/' must start with a letter, end with a letter or digit, contain only "
           "letters, digits, '_', '.' and '-' and be at most 63 characters";
  return NULL;
}

static const struct {
  checker check;
  const char *name;
} kinds[] = {
    [ND_NAME_DNS_LABEL] = {check_dns_label, "DNS label"},
    [ND_NAME_DNS_SUBDOMAIN] = {check_dns_subdomain, "DNS subdomain"},
    [ND_NAME_QUALIFIED_NAME] = {check_qualified_name, "qualified name"},
    [ND_NAME_LABEL_VALUE] = {check_label_value, "label value"},
    [ND_NAME_C_IDENTIFIER] = {check_c_identifier, "C identifier"},
    [ND_NAME_DRIVER_NAME] = {check_driver_name, "driver name"},
    [ND_NAME_ATTRIBUTE_KEY] = {check_attribute_key, "attribute key"},
    [ND_NAME_CDI_VENDOR] = {check_cdi_vendor, "CDI vendor"},
    [ND_NAME_CDI_CLASS] = {check_cdi_class, "CDI class"},
    [ND_NAME_CDI_DEVICE] = {check_cdi_device, "CDI device name"},
    [ND_NAME_CDI_KIND] = {check_cdi_kind, "CDI kind"},
};

const char *nd_name_kind_str(nd_name_kind kind) {
  if ((size_t)kind >= sizeof(kinds) / sizeof(kinds[0]))
    return "name";
  return kinds[kind].name;
}

static const char *check(nd_name_kind kind, const char *s) {
  if ((size_t)kind >= sizeof(kinds) / sizeof(kinds[0]))
    return "unknown name kind";
  if (s == NULL)
    return "is missing";
  return kinds[kind].check(s, strlen(s));
}

bool nd_name_valid(nd_name_kind kind, const char *s) { return check(kind, s) == NULL; }

int nd_name_validate(nd_name_kind kind, const char *what, const char *s, nd_error_t *err) {
  const char *why = check(kind, s);
  if (why == NULL)
    return 0;
  char quoted[96];
  nd_name_quote(quoted, sizeof(quoted), s);
  return nd_error_make(err, EINVAL, "%s %s: not a valid %s: %s", what ? what : "name", quoted,
                       nd_name_kind_str(kind), why);
}

static uint32_t fnv1a_folded(const char *in, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)in[i];
    h *= 0x100000001b3ull;
  }
  return (uint32_t)(h ^ (h >> 32));
}

void nd_name_sanitize_dns_label(const char *in, size_t len, char out[ND_DNS_LABEL_MAX + 1]) {
  char base[ND_DNS_LABEL_MAX + 2]; /* one more than the limit: tells "too long" apart */
  size_t n = 0;
  bool changed = false, too_long = false, pending_dash = false;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c >= 'A' && c <= 'Z') {
      c = (char)(c - 'A' + 'a');
      changed = true;
    }
    if (is_lower_alnum(c)) {
      if (pending_dash && n > 0) {
        if (n < sizeof(base))
          base[n++] = '-';
        else
          too_long = true;
      }
      pending_dash = false;
      if (n < sizeof(base))
        base[n++] = c;
      else
        too_long = true;
    } else {
      /* a lone '-' between alphanumerics is kept as is; anything else is a change */
      if (c != '-' || pending_dash || n == 0)
        changed = true;
      pending_dash = true;
    }
  }
  if (pending_dash) /* trailing run trimmed */
    changed = true;
  if (n > ND_DNS_LABEL_MAX)
    too_long = true;
  if (!changed && !too_long && n > 0) {
    memcpy(out, base, n);
    out[n] = '\0';
    return;
  }
  uint32_t h = fnv1a_folded(in, len);
  if (n == 0) {
    snprintf(out, ND_DNS_LABEL_MAX + 1, "dev-%08" PRIx32, h);
    return;
  }
  if (n > ND_DNS_LABEL_MAX - 9)
    n = ND_DNS_LABEL_MAX - 9;
  while (n > 0 && base[n - 1] == '-')
    n--;
  memcpy(out, base, n);
  snprintf(out + n, ND_DNS_LABEL_MAX + 1 - n, "-%08" PRIx32, h);
}

static char *quote(char *buf, size_t size, const char *s, bool quotes) {
  if (size < 8) {
    if (size > 0)
      buf[0] = '\0';
    return buf;
  }
  if (s == NULL) {
    snprintf(buf, size, "(null)");
    return buf;
  }
  size_t o = 0;
  size_t limit = size - 4 - (quotes ? 1 : 0); /* room for "...", closing quote, NUL */
  if (quotes)
    buf[o++] = '"';
  const unsigned char *p = (const unsigned char *)s;
  bool cut = false;
  for (; *p; p++) {
    char esc[5];
    size_t el;
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      el = 2;
    } else if (*p == '\n') {
      memcpy(esc, "\\n", 2);
      el = 2;
    } else if (*p < 0x20 || *p >= 0x7f) {
      snprintf(esc, sizeof(esc), "\\x%02x", *p);
      el = 4;
    } else {
      esc[0] = (char)*p;
      el = 1;
    }
    if (o + el > limit) {
      cut = true;
      break;
    }
    memcpy(buf + o, esc, el);
    o += el;
  }
  if (cut) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  if (quotes)
    buf[o++] = '"';
  buf[o] = '\0';
  return buf;
}

char *nd_name_quote(char *buf, size_t size, const char *s) { return quote(buf, size, s, true); }
char *nd_name_quote_bare(char *buf, size_t size, const char *s) { return quote(buf, size, s, false); }
