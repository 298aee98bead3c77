/* error.h: error values that carry an errno-like status and a message (crun style).
 *
 * A function that can fail takes `nd_error_t *err` as its last argument and returns a
 * negative number on failure after filling *err with nd_error_make(). The caller either
 * handles and releases the error, or wraps it with more context and passes it up. */
#ifndef NETDRA_ERROR_H
#define NETDRA_ERROR_H

#include <stdarg.h>

typedef struct nd_error_s {
  int status;  /* errno value, or 0 when the failure has no errno meaning */
  char *msg;   /* heap string, owned by the error */
} nd_error_s;
typedef nd_error_s *nd_error_t;

/* Fill *err (if err is not NULL and *err is NULL) and return -1.
 * A previous error in *err is kept: the first cause wins. */
int nd_error_make(nd_error_t *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int nd_error_makev(nd_error_t *err, int status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Prefix the message of *err with more context ("loading x.yaml: <old message>"); returns -1. */
int nd_error_wrap(nd_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Move *src into *dst (dst must be empty); src becomes NULL. */
void nd_error_move(nd_error_t *dst, nd_error_t *src);
void nd_error_release(nd_error_t *err);
const char *nd_error_msg(const nd_error_t err);

#endif
