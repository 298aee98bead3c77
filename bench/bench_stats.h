/* bench_stats.h: the clock and percentile helpers every benchmark program shares. Header-only
 * (static inline) because each bench is one translation unit and pingpong links nothing. */
#ifndef NETDRA_BENCH_STATS_H
#define NETDRA_BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Monotonic clock, nanoseconds. */
static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Monotonic clock, microseconds. */
static inline uint64_t bench_now_us(void) { return bench_now_ns() / 1000u; }

static inline int bench_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of n samples, in the samples' unit; sorts v in place (so asking
 * for several percentiles of the same samples costs one real sort). 0 when there are none. */
static inline uint64_t bench_percentile(uint64_t *v, size_t n, int p) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof(*v), bench_cmp_u64);
  size_t i = n * (size_t)p / 100;
  return v[i < n ? i : n - 1];
}

#endif
