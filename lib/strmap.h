/* strmap.h: a string-keyed hash map (open addressing, FNV-1a) holding void* values; keys are
 * copied (or, in a map made by nd_strmap_new_borrowed, borrowed from the values that hold
 * them). For the registry's indexes and other lookups that must stay O(1) at 100k entries. */
#ifndef NETDRA_STRMAP_H
#define NETDRA_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct nd_strmap nd_strmap;

nd_strmap *nd_strmap_new(void);
/* A map that keeps the caller's key pointers instead of copies: each key must stay valid and
 * unchanged while its entry is in the map (for keys that live in the values themselves; a put
 * that replaces a value keeps the key pointer of the first put). */
nd_strmap *nd_strmap_new_borrowed(void);
/* free_value (may be NULL) is called for every value still held. */
void nd_strmap_free(nd_strmap *m, void (*free_value)(void *));
void *nd_strmap_get(const nd_strmap *m, const char *key);
/* Insert or replace; returns the previous value (or NULL). */
void *nd_strmap_put(nd_strmap *m, const char *key, void *value);
/* Remove; returns the value removed (or NULL). */
void *nd_strmap_del(nd_strmap *m, const char *key);
size_t nd_strmap_size(const nd_strmap *m);
/* Iterate: start with *pos = 0; returns false at the end. Do not modify while iterating. */
bool nd_strmap_next(const nd_strmap *m, size_t *pos, const char **key, void **value);

#endif
