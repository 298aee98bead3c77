/* fuzz_quantity.c: quantity parsing must never crash, and whatever parses must print a
 * canonical form that parses back to the same value and prints identically again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  nd_quantity q;
  nd_error_t err = NULL;
  if (nd_quantity_parse(s, &q, &err) == 0) {
    char a[ND_QUANTITY_STR_MAX], b[ND_QUANTITY_STR_MAX];
    nd_quantity_format_canonical(&q, a);
    nd_quantity again;
    if (nd_quantity_parse(a, &again, NULL) != 0)
      abort(); /* canonical text must parse */
    /* DecimalSI beyond 10^18 prints without a suffix like the API server: skip value checks */
    if (q.format == ND_QUANTITY_BINARY_SI || q.scale < 21) {
      if (nd_quantity_cmp(&q, &again) != 0)
        abort();
      /* re-parsing may change the family ("62.5Ki" prints "64000", which reads back as
       * DecimalSI and prints "64k", as in the API server); within one family it is stable */
      nd_quantity_format_canonical(&again, b);
      if (again.format == q.format && strcmp(a, b) != 0)
        abort();
    }
    int64_t v;
    nd_quantity_scaled_value(&q, 0, &v, NULL);
    nd_quantity sum;
    if (nd_quantity_add(&q, &again, &sum, NULL) == 0)
      nd_quantity_format_canonical(&sum, b);
  } else {
    if (err == NULL || strncmp(nd_error_msg(err), "quantity ", 9) != 0)
      abort();
    nd_error_release(&err);
  }
  free(s);
  return 0;
}
