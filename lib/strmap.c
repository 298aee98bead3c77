/* strmap.c: open-addressing string map with linear probing and tombstones; see strmap.h.
 * A slot is two pointers (16 bytes): hashes are not stored but recomputed when the table
 * grows, which keeps a 100,000-entry index at 4 MiB instead of 6. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *key; /* NULL: empty; TOMBSTONE: deleted */
  void *value;
} slot;

struct nd_strmap {
  slot *slots;
  size_t cap, size, used; /* used counts tombstones too */
  bool borrowed;          /* keys are the caller's, not copies */
};

static char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

nd_strmap *nd_strmap_new(void) {
  nd_strmap *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return NULL;
  m->cap = 16;
  m->slots = calloc(m->cap, sizeof(slot));
  if (m->slots == NULL) {
    free(m);
    return NULL;
  }
  return m;
}

nd_strmap *nd_strmap_new_borrowed(void) {
  nd_strmap *m = nd_strmap_new();
  if (m != NULL)
    m->borrowed = true;
  return m;
}

void nd_strmap_free(nd_strmap *m, void (*free_value)(void *)) {
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key && m->slots[i].key != TOMBSTONE) {
      if (free_value)
        free_value(m->slots[i].value);
      if (!m->borrowed)
        free(m->slots[i].key);
    }
  free(m->slots);
  free(m);
}

static slot *find(const nd_strmap *m, const char *key, uint64_t h) {
  size_t i = h & (m->cap - 1);
  for (;;) {
    slot *s = &m->slots[i];
    if (s->key == NULL)
      return NULL;
    if (s->key != TOMBSTONE && strcmp(s->key, key) == 0)
      return s;
    i = (i + 1) & (m->cap - 1);
  }
}

void *nd_strmap_get(const nd_strmap *m, const char *key) {
  slot *s = find(m, key, fnv1a(key));
  return s ? s->value : NULL;
}

static void grow(nd_strmap *m) {
  size_t old_cap = m->cap;
  slot *old = m->slots;
  size_t cap = m->size * 4 > old_cap ? old_cap * 2 : old_cap; /* else only tombstones to purge */
  slot *slots = calloc(cap, sizeof(slot));
  if (slots == NULL)
    abort();
  m->slots = slots;
  m->cap = cap;
  m->used = m->size;
  for (size_t i = 0; i < old_cap; i++) {
    if (old[i].key == NULL || old[i].key == TOMBSTONE)
      continue;
    size_t j = fnv1a(old[i].key) & (cap - 1);
    while (slots[j].key)
      j = (j + 1) & (cap - 1);
    slots[j] = old[i];
  }
  free(old);
}

void *nd_strmap_put(nd_strmap *m, const char *key, void *value) {
  uint64_t h = fnv1a(key);
  slot *s = find(m, key, h);
  if (s) {
    void *prev = s->value;
    s->value = value;
    return prev;
  }
  if ((m->used + 1) * 4 >= m->cap * 3)
    grow(m);
  size_t i = h & (m->cap - 1);
  while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
    i = (i + 1) & (m->cap - 1);
  if (m->slots[i].key == NULL)
    m->used++;
  m->slots[i] = (slot){.key = m->borrowed ? (char *)key : strdup(key), .value = value};
  if (m->slots[i].key == NULL)
    abort();
  m->size++;
  return NULL;
}

void *nd_strmap_del(nd_strmap *m, const char *key) {
  slot *s = find(m, key, fnv1a(key));
  if (s == NULL)
    return NULL;
  void *v = s->value;
  if (!m->borrowed)
    free(s->key);
  s->key = TOMBSTONE;
  s->value = NULL;
  m->size--;
  return v;
}

size_t nd_strmap_size(const nd_strmap *m) { return m->size; }

bool nd_strmap_next(const nd_strmap *m, size_t *pos, const char **key, void **value) {
  for (; *pos < m->cap; (*pos)++) {
    slot *s = &m->slots[*pos];
    if (s->key && s->key != TOMBSTONE) {
      *key = s->key;
      *value = s->value;
      (*pos)++;
      return true;
    }
  }
  return false;
}
