/* fuzz_names.c: the DNS-label sanitiser must turn any bytes into a valid, deterministic label;
 * validators and quoting must never crash or overrun. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char a[ND_DNS_LABEL_MAX + 1], b[ND_DNS_LABEL_MAX + 1];
  nd_name_sanitize_dns_label((const char *)data, size, a);
  if (!nd_name_valid(ND_NAME_DNS_LABEL, a))
    abort();
  nd_name_sanitize_dns_label((const char *)data, size, b);
  if (strcmp(a, b) != 0)
    abort();
  /* a valid label is kept as it is */
  char c[ND_DNS_LABEL_MAX + 1];
  nd_name_sanitize_dns_label(a, strlen(a), c);
  if (strcmp(a, c) != 0)
    abort();
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  for (int kind = ND_NAME_DNS_LABEL; kind <= ND_NAME_CDI_KIND; kind++) {
    nd_error_t err = NULL;
    bool valid = nd_name_valid((nd_name_kind)kind, s);
    if ((nd_name_validate((nd_name_kind)kind, "fuzz", s, &err) == 0) != valid)
      abort();
    nd_error_release(&err);
  }
  char q[40];
  nd_name_quote(q, sizeof(q), s);
  if (strlen(q) >= sizeof(q))
    abort();
  free(s);
  return 0;
}
