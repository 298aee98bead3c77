/* error.c: error values with a status and a message; see error.h. */
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nd_error_makev(nd_error_t *err, int status, const char *fmt, va_list ap) {
  if (err == NULL || *err != NULL)
    return -1;
  nd_error_s *e = calloc(1, sizeof(*e));
  if (e == NULL)
    abort();
  e->status = status;
  if (vasprintf(&e->msg, fmt, ap) < 0)
    abort();
  *err = e;
  return -1;
}

int nd_error_make(nd_error_t *err, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nd_error_makev(err, status, fmt, ap);
  va_end(ap);
  return -1;
}

int nd_error_wrap(nd_error_t *err, const char *fmt, ...) {
  if (err == NULL || *err == NULL)
    return -1;
  char *prefix = NULL, *joined = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&prefix, fmt, ap) < 0)
    abort();
  va_end(ap);
  if (asprintf(&joined, "%s: %s", prefix, (*err)->msg) < 0)
    abort();
  free(prefix);
  free((*err)->msg);
  (*err)->msg = joined;
  return -1;
}

void nd_error_move(nd_error_t *dst, nd_error_t *src) {
  if (*dst == NULL) {
    *dst = *src;
  } else {
    nd_error_release(src);
  }
  *src = NULL;
}

void nd_error_release(nd_error_t *err) {
  if (err == NULL || *err == NULL)
    return;
  free((*err)->msg);
  free(*err);
  *err = NULL;
}

const char *nd_error_msg(const nd_error_t err) { return err && err->msg ? err->msg : "(no error)"; }
