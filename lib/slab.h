/* slab.h: memory for many long-lived small objects, kept apart from the general heap.
 *
 * Objects of up to ND_SLAB_MAX bytes are carved from 64 KiB blocks, one run of blocks per
 * 8-byte size class, and a released object is reused by the next one of its class. Two
 * gains over malloc for a registry of 100,000 devices: no per-object header, and no
 * fragmentation: the parser's short-lived garbage, allocated between the objects, would
 * otherwise pin the pages it shares with them after it is freed (malloc_trim returns only
 * whole free pages). Blocks are kept until nd_slab_free (memory stays at the peak number of
 * objects). The caller passes the object's size again when releasing it. Larger objects go
 * to malloc. Not thread-safe. */
#ifndef NETDRA_SLAB_H
#define NETDRA_SLAB_H

#include <stddef.h>

#define ND_SLAB_MAX 1024

typedef struct nd_slab nd_slab;

nd_slab *nd_slab_new(void);
/* Frees every block, and with them every object still allocated. */
void nd_slab_free(nd_slab *s);
/* size bytes, 8-byte aligned (pointers, 64-bit integers; not long double), not zeroed;
 * aborts when out of memory. */
void *nd_slab_alloc(nd_slab *s, size_t size);
/* Release p (NULL: nothing), allocated with the same size. */
void nd_slab_release(nd_slab *s, void *p, size_t size);
/* Bytes held in blocks (used or free). */
size_t nd_slab_block_bytes(const nd_slab *s);

#endif
