/* names.h: validation of the names Kubernetes and CDI accept, a sanitiser that turns any
 * string (a device id from the network) into a DNS label, and quoting of hostile strings
 * for error messages.
 *
 * Kinds (what the API server / the CDI library accept):
 *   DNS_LABEL       1..63, [a-z0-9-], starts and ends alphanumeric (RFC 1123 label)
 *   DNS_SUBDOMAIN   1..253, DNS labels joined by '.'
 *   QUALIFIED_NAME  label keys: [prefix/]name; prefix a DNS subdomain, name 1..63 of
 *                   [A-Za-z0-9-_.] starting and ending alphanumeric
 *   LABEL_VALUE     0..63, empty or like the name part of a qualified name
 *   C_IDENTIFIER    1..32, [A-Za-z_][A-Za-z0-9_]* (device attribute / capacity names)
 *   DRIVER_NAME     1..63, a lowercase DNS subdomain (ResourceSlice spec.driver, CSI rules)
 *   ATTRIBUTE_KEY   C_IDENTIFIER, or <DRIVER_NAME>/<C_IDENTIFIER> (device attribute keys)
 *   CDI_VENDOR      starts with a letter, [A-Za-z0-9_.-], ends alphanumeric
 *   CDI_CLASS       as CDI_VENDOR, at most 63
 *   CDI_DEVICE      starts and ends alphanumeric, [A-Za-z0-9_.:-] inside
 *   CDI_KIND        <CDI_VENDOR>/<CDI_CLASS>
 *
 * Sanitising (nd_name_sanitize_dns_label): ASCII letters are lowercased; every run of bytes
 * that are not [a-z0-9] after that (including '-', '/', '.', NUL, newline, non-ASCII bytes)
 * becomes one '-'; '-' is trimmed from both ends. If that changed anything, or the result is
 * longer than 63, the result is cut to 54 characters (trailing '-' trimmed again) and
 * "-<h>" is appended, h = 8 hex digits of the 64-bit FNV-1a hash of the original bytes
 * (folded to 32 bits). Inputs that are already valid labels stay unchanged; distinct inputs
 * that sanitise to the same text keep distinct names. An empty result becomes "dev-<h>". */
#ifndef NETDRA_NAMES_H
#define NETDRA_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef enum {
  ND_NAME_DNS_LABEL = 0,
  ND_NAME_DNS_SUBDOMAIN,
  ND_NAME_QUALIFIED_NAME,
  ND_NAME_LABEL_VALUE,
  ND_NAME_C_IDENTIFIER,
  ND_NAME_DRIVER_NAME,
  ND_NAME_ATTRIBUTE_KEY,
  ND_NAME_CDI_VENDOR,
  ND_NAME_CDI_CLASS,
  ND_NAME_CDI_DEVICE,
  ND_NAME_CDI_KIND,
} nd_name_kind;

#define ND_DNS_LABEL_MAX 63
#define ND_DNS_SUBDOMAIN_MAX 253
#define ND_C_IDENTIFIER_MAX 32

bool nd_name_valid(nd_name_kind kind, const char *s);
/* As nd_name_valid, with an error `<what> "<s>": <why>` (why names the rule broken). */
int nd_name_validate(nd_name_kind kind, const char *what, const char *s, nd_error_t *err);
/* "dns label", "c identifier", ... */
const char *nd_name_kind_str(nd_name_kind kind);

/* Sanitise len bytes of in (may hold NUL) into a valid DNS label (rule above). */
void nd_name_sanitize_dns_label(const char *in, size_t len, char out[ND_DNS_LABEL_MAX + 1]);

/* Write s as a double-quoted, escaped (\n, \", \\, \xNN for other bytes outside printable
 * ASCII), possibly shortened ("..." at the end) string into buf; returns buf. NULL -> "(null)".
 * size >= 8. */
char *nd_name_quote(char *buf, size_t size, const char *s);
/* The same without the surrounding quotes. */
char *nd_name_quote_bare(char *buf, size_t size, const char *s);

#endif
