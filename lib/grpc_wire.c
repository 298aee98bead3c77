/* grpc_wire.c: small gRPC wire helpers shared by the server and the client: grpc-timeout
 * values and percent-encoded grpc-message text. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"

int nd_grpc_parse_timeout(const char *value, uint64_t *ms) {
  /* TimeoutValue: 1 to 8 ASCII digits; TimeoutUnit: H M S m u n */
  size_t n = strlen(value);
  if (n < 2 || n > 9)
    return -1;
  uint64_t v = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (!isdigit((unsigned char)value[i]))
      return -1;
    v = v * 10 + (uint64_t)(value[i] - '0');
  }
  switch (value[n - 1]) {
  case 'H':
    *ms = v * 3600000u;
    break;
  case 'M':
    *ms = v * 60000u;
    break;
  case 'S':
    *ms = v * 1000u;
    break;
  case 'm':
    *ms = v;
    break;
  case 'u':
    *ms = (v + 999) / 1000;
    break;
  case 'n':
    *ms = (v + 999999) / 1000000;
    break;
  default:
    return -1;
  }
  return 0;
}

void nd_grpc_format_timeout(uint64_t ms, char *buf, size_t size) {
  if (ms < 100000000u)
    snprintf(buf, size, "%llum", (unsigned long long)ms);
  else
    snprintf(buf, size, "%lluS", (unsigned long long)(ms / 1000 > 99999999u ? 99999999u : ms / 1000));
}

char *nd_grpc_percent_encode(const char *msg) {
  size_t n = strlen(msg);
  char *out = malloc(n * 3 + 1), *p = out;
  if (out == NULL)
    return NULL;
  for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
    if (*s >= 0x20 && *s <= 0x7e && *s != '%')
      *p++ = (char)*s;
    else
      p += sprintf(p, "%%%02X", *s);
  }
  *p = '\0';
  return out;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void nd_grpc_percent_decode(char *msg) {
  char *out = msg;
  for (char *s = msg; *s; s++) {
    if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
      int v = hexval(s[1]) * 16 + hexval(s[2]);
      *out++ = v ? (char)v : '?';
      s += 2;
    } else {
      *out++ = *s;
    }
  }
  *out = '\0';
}
