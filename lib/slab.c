/* slab.c: size-class object pools in 64 KiB blocks; see slab.h. A free object holds the
 * pointer to the next free object of its class.
 *
 * Under AddressSanitizer the blocks are poisoned except for the objects in use (exactly their
 * requested size), so a use after release, an overflow past an object's size or a read of
 * untouched space is reported as it would be with malloc. Without ASan the macros are no-ops. */
#include "slab.h"

#include <sanitizer/asan_interface.h>
#include <stdlib.h>

#include "grow.h"

#define GRAIN 8 /* size classes and alignment: pointers and 64-bit integers */
#define N_CLASSES (ND_SLAB_MAX / GRAIN)
#define BLOCK_BYTES (64 * 1024)

typedef struct free_object {
  struct free_object *next;
} free_object;

typedef struct {
  free_object *free; /* released objects */
  char *next;        /* untouched space of the newest block */
  size_t left;       /* bytes at next */
} size_class;

struct nd_slab {
  size_class classes[N_CLASSES];
  void **blocks;
  size_t n_blocks, cap_blocks;
};

nd_slab *nd_slab_new(void) {
  nd_slab *s = calloc(1, sizeof(*s));
  if (s == NULL)
    abort();
  return s;
}

void nd_slab_free(nd_slab *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n_blocks; i++) {
    ASAN_UNPOISON_MEMORY_REGION(s->blocks[i], BLOCK_BYTES);
    free(s->blocks[i]);
  }
  free(s->blocks);
  free(s);
}

static size_t class_of(size_t size) { return size == 0 ? 0 : (size - 1) / GRAIN; }

static char *new_block(nd_slab *s) {
  ND_GROW(s->blocks, s->cap_blocks, s->n_blocks + 1, 16);
  char *block = aligned_alloc(GRAIN, BLOCK_BYTES);
  if (block == NULL)
    abort();
  ASAN_POISON_MEMORY_REGION(block, BLOCK_BYTES);
  s->blocks[s->n_blocks++] = block;
  return block;
}

void *nd_slab_alloc(nd_slab *s, size_t size) {
  if (size > ND_SLAB_MAX) {
    void *p = malloc(size);
    if (p == NULL)
      abort();
    return p;
  }
  size_class *c = &s->classes[class_of(size)];
  if (c->free != NULL) {
    free_object *o = c->free;
    ASAN_UNPOISON_MEMORY_REGION(o, sizeof(*o));
    c->free = o->next;
    ASAN_POISON_MEMORY_REGION(o, (class_of(size) + 1) * GRAIN);
    ASAN_UNPOISON_MEMORY_REGION(o, size);
    return o;
  }
  size_t bytes = (class_of(size) + 1) * GRAIN;
  if (c->left < bytes) { /* the rest of the block (< one object) is left unused */
    c->next = new_block(s);
    c->left = BLOCK_BYTES;
  }
  void *p = c->next;
  c->next += bytes;
  c->left -= bytes;
  ASAN_UNPOISON_MEMORY_REGION(p, size);
  return p;
}

void nd_slab_release(nd_slab *s, void *p, size_t size) {
  if (p == NULL)
    return;
  if (size > ND_SLAB_MAX) {
    free(p);
    return;
  }
  size_class *c = &s->classes[class_of(size)];
  free_object *o = p;
  ASAN_UNPOISON_MEMORY_REGION(o, sizeof(*o));
  o->next = c->free;
  c->free = o;
  ASAN_POISON_MEMORY_REGION(o, (class_of(size) + 1) * GRAIN);
}

size_t nd_slab_block_bytes(const nd_slab *s) { return s->n_blocks * (size_t)BLOCK_BYTES; }
