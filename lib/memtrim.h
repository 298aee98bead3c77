/* memtrim.h: give memory freed after a burst of work back to the kernel.
 *
 * glibc keeps the pages of freed heap chunks mapped, so a daemon's RSS stays at the high-water
 * mark of its busiest moment, and every thread that allocates gets an arena of its own (up to
 * 8 x cores). nd_memtrim_poke() after a unit of work (re)arms a one-shot timer on the loop;
 * when it fires, delay_ms after the last poke, malloc_trim(0) returns the free pages of every
 * arena. nd_malloc_limit_arenas() caps the number of arenas (call it before threads start).
 * Both daemons (controller, node plugin) use this one mechanism. */
#ifndef NETDRA_MEMTRIM_H
#define NETDRA_MEMTRIM_H

#include <stdint.h>

#include "error.h"
#include "evloop.h"

typedef struct nd_memtrim nd_memtrim;

nd_memtrim *nd_memtrim_new(nd_loop *loop, uint64_t delay_ms, nd_error_t *err);
void nd_memtrim_free(nd_memtrim *t);
/* Loop thread only: work just finished; trim once nothing more happened for delay_ms. */
void nd_memtrim_poke(nd_memtrim *t);
/* How many times memory was trimmed. */
unsigned long nd_memtrim_count(const nd_memtrim *t);

/* mallopt(M_ARENA_MAX, n) unless MALLOC_ARENA_MAX is set (the operator's setting wins);
 * returns 0, or -1 when the allocator refused. */
int nd_malloc_limit_arenas(int n);

#endif
