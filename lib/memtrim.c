/* memtrim.c: malloc_trim after a quiet spell, arena cap; see memtrim.h. */
#include "memtrim.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

struct nd_memtrim {
  nd_loop *loop;
  nd_timer *timer;
  uint64_t delay_ms;
  unsigned long count;
};

static void on_quiet(nd_loop *loop, nd_timer *timer, void *data) {
  (void)loop;
  (void)timer;
  nd_memtrim *t = data;
  malloc_trim(0);
  t->count++;
}

nd_memtrim *nd_memtrim_new(nd_loop *loop, uint64_t delay_ms, nd_error_t *err) {
  nd_memtrim *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    nd_error_make(err, ENOMEM, "memtrim: out of memory");
    return NULL;
  }
  t->loop = loop;
  t->delay_ms = delay_ms;
  t->timer = nd_loop_add_timer(loop, delay_ms, 0, on_quiet, t, err);
  if (t->timer == NULL) {
    free(t);
    return NULL;
  }
  nd_timer_disarm(t->timer);
  return t;
}

void nd_memtrim_free(nd_memtrim *t) {
  if (t == NULL)
    return;
  nd_loop_del_timer(t->loop, t->timer);
  free(t);
}

void nd_memtrim_poke(nd_memtrim *t) { nd_timer_rearm(t->timer, t->delay_ms, 0); }

unsigned long nd_memtrim_count(const nd_memtrim *t) { return t->count; }

int nd_malloc_limit_arenas(int n) {
  if (getenv("MALLOC_ARENA_MAX") != NULL)
    return 0; /* the operator's setting wins */
  return mallopt(M_ARENA_MAX, n) == 1 ? 0 : -1;
}
