/* intern.c: shared reference-counted strings (see intern.h), on an nd_strmap whose values
 * are the copies with their counts. */
#include "intern.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"

typedef struct {
  size_t refs;
  char str[];
} shared_string;

struct nd_intern {
  nd_strmap *strings; /* string -> shared_string */
};

nd_intern *nd_intern_new(void) {
  nd_intern *in = calloc(1, sizeof(*in));
  if (in == NULL || (in->strings = nd_strmap_new()) == NULL)
    abort();
  return in;
}

void nd_intern_free(nd_intern *in) {
  if (in == NULL)
    return;
  nd_strmap_free(in->strings, free);
  free(in);
}

const char *nd_intern_ref(nd_intern *in, const char *s) {
  if (s == NULL)
    return NULL;
  shared_string *ss = nd_strmap_get(in->strings, s);
  if (ss == NULL) {
    size_t len = strlen(s);
    ss = malloc(sizeof(*ss) + len + 1);
    if (ss == NULL)
      abort();
    ss->refs = 0;
    memcpy(ss->str, s, len + 1);
    nd_strmap_put(in->strings, s, ss);
  }
  ss->refs++;
  return ss->str;
}

void nd_intern_unref(nd_intern *in, const char *s) {
  if (s == NULL)
    return;
  shared_string *ss = nd_strmap_get(in->strings, s);
  if (ss == NULL || --ss->refs > 0)
    return;
  nd_strmap_del(in->strings, s);
  free(ss);
}

size_t nd_intern_count(const nd_intern *in) { return nd_strmap_size(in->strings); }
