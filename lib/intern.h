/* intern.h: one shared, reference-counted copy of each distinct string.
 *
 * For values that many objects repeat (a device's source, pool, type, vendor, model, attribute
 * and capacity names): each holder keeps a pointer to the one copy and releases it when done;
 * the copy is freed with its last reference, so the table holds only strings in use. */
#ifndef NETDRA_INTERN_H
#define NETDRA_INTERN_H

#include <stddef.h>

typedef struct nd_intern nd_intern;

nd_intern *nd_intern_new(void);
/* Every reference must have been released (the copies still held are freed regardless). */
void nd_intern_free(nd_intern *in);
/* The shared copy of s, with one more reference; NULL for NULL. */
const char *nd_intern_ref(nd_intern *in, const char *s);
/* Release one reference of a string returned by nd_intern_ref (NULL: nothing). */
void nd_intern_unref(nd_intern *in, const char *s);
/* Distinct strings held. */
size_t nd_intern_count(const nd_intern *in);

#endif
