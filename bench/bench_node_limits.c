/* bench_node_limits.c: the physical limits a prepare is measured against, taken in the same
 * run as bench_prepare:
 *   get:   raw GET of a ResourceClaim from the same API server with the same REST client the
 *          node plugin uses (p50/p99 of one stream; GETs per second with T streams sharing
 *          one client, as the plugin's workers do);
 *   slot:  raw in-place write of a payload of the checkpoint's size into a slot file in the
 *          same directory (slot_file.h: one pwrite + one fdatasync: what one checkpoint write
 *          costs), p50/p99 and writes per second from one thread;
 *   write: raw durable replace of a file of that size (temp file, fsync, rename, fsync of the
 *          directory: what a checkpoint write cost before the slot file, and what its growth
 *          costs), the same figures, for comparison.
 * With PACE_US, the one-stream GET and the slot write are measured a second time at a prepare
 * cycle's pace: a GET every PACE_US, a slot write every PACE_US/2 (a single-stream cycle is
 * one GET and two checkpoint writes). Back to back, the API server and the disk never go
 * idle; between the prepares of one stream they do, and on this project's virtual machines
 * an idle peer answers later (a GET after 1 ms of idle: ~1.8x the back-to-back p50).
 * usage: bench_node_limits KUBECONFIG CLAIM_PATH THREADS N DIR BYTES [PACE_US]
 * Prints one JSON object. Loops are bounded by N. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic_file.h"
#include "bench_stats.h"
#include "cleanup.h"
#include "k8s_client.h"
#include "slot_file.h"

/* percentile of nanosecond samples, in us */
static double pct_us(uint64_t *v, size_t n, int p) { return (double)bench_percentile(v, n, p) / 1000.0; }

/* Sleeps until start_ns + i * pace_ns (nothing when pace_ns is 0). */
static void pace_wait(uint64_t start_ns, int i, uint64_t pace_ns) {
  if (pace_ns == 0)
    return;
  uint64_t at = start_ns + (uint64_t)i * pace_ns;
  struct timespec ts = {.tv_sec = (time_t)(at / 1000000000u), .tv_nsec = (long)(at % 1000000000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
    ;
}

/* mean of nanosecond samples, in us */
static double mean_us(const uint64_t *v, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += (double)v[i];
  return n ? sum / (double)n / 1000.0 : 0;
}

typedef struct {
  nd_k8s_client *k8s;
  const char *path;
  int n, failures;
  uint64_t *lat;
  uint64_t pace_ns; /* 0: back to back */
} getter;

static void *get_loop(void *arg) {
  getter *g = arg;
  uint64_t start = bench_now_ns();
  for (int i = 0; i < g->n; i++) {
    pace_wait(start, i, g->pace_ns);
    nd_k8s_result r = {0};
    nd_error_t err = NULL;
    uint64_t t = bench_now_ns();
    if (nd_k8s_request(g->k8s, "GET", g->path, NULL, NULL, &r, &err) < 0 || r.http_status != 200)
      g->failures++;
    if (g->lat)
      g->lat[i] = bench_now_ns() - t;
    nd_k8s_result_clear(&r);
    nd_error_release(&err);
  }
  return NULL;
}

/* n in-place writes of data, one every pace_ns (0: back to back); latencies into lat. */
static int slot_loop(nd_slot_file *sf, const char *data, size_t bytes, int n, uint64_t *lat,
                     uint64_t pace_ns, nd_error_t *err) {
  uint64_t start = bench_now_ns();
  for (int i = 0; i < n; i++) {
    pace_wait(start, i, pace_ns);
    uint64_t t = bench_now_ns();
    if (nd_slot_file_write(sf, data, bytes, err) < 0)
      return -1;
    lat[i] = bench_now_ns() - t;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: bench_node_limits KUBECONFIG CLAIM_PATH THREADS N DIR BYTES [PACE_US]\n");
    return 2;
  }
  int threads = atoi(argv[3]), n = atoi(argv[4]);
  uint64_t pace_ns = argc == 8 ? (uint64_t)atol(argv[7]) * 1000u : 0;
  size_t bytes = (size_t)atol(argv[6]);
  if (threads < 1 || n < 1)
    return 2;
  cleanup_error nd_error_t err = NULL;
  nd_k8s_options ko = {.kubeconfig_path = argv[1], .qps = 100000, .burst = 100000};
  nd_k8s_client *k8s = nd_k8s_client_new(NULL, &ko, &err);
  if (k8s == NULL)
    return fprintf(stderr, "bench_node_limits: %s\n", nd_error_msg(err)), 1;

  /* GET: one stream, then T streams */
  uint64_t *lat = calloc((size_t)n, sizeof(*lat));
  getter one = {.k8s = k8s, .path = argv[2], .n = n, .lat = lat};
  get_loop(&one);
  double get_p50 = pct_us(lat, (size_t)n, 50), get_p99 = pct_us(lat, (size_t)n, 99);
  getter *g = calloc((size_t)threads, sizeof(*g));
  pthread_t *th = calloc((size_t)threads, sizeof(*th));
  uint64_t start = bench_now_ns();
  for (int i = 0; i < threads; i++) {
    g[i] = (getter){.k8s = k8s, .path = argv[2], .n = n};
    pthread_create(&th[i], NULL, get_loop, &g[i]);
  }
  int failures = one.failures;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    failures += g[i].failures;
  }
  double gets_per_s = (double)n * threads / ((double)(bench_now_ns() - start) / 1e9);

  /* durable replace of a checkpoint-sized file */
  char *data = malloc(bytes + 1);
  memset(data, 'x', bytes);
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/bench-limit.json", argv[5]) < 0)
    return 1;
  start = bench_now_ns();
  for (int i = 0; i < n; i++) {
    uint64_t t = bench_now_ns();
    if (nd_write_file_atomic(path, data, bytes, 0600, &err) < 0)
      return fprintf(stderr, "bench_node_limits: %s\n", nd_error_msg(err)), 1;
    lat[i] = bench_now_ns() - t;
  }
  double writes_per_s = n / ((double)(bench_now_ns() - start) / 1e9);
  remove(path);
  double w_p50 = pct_us(lat, (size_t)n, 50), w_p99 = pct_us(lat, (size_t)n, 99);

  /* in-place slot write of the same payload (the file created once, as the checkpoint's is) */
  cleanup_free char *slot_path = NULL;
  if (asprintf(&slot_path, "%s/bench-limit.slots", argv[5]) < 0)
    return 1;
  nd_slot_file *sf = nd_slot_file_create(slot_path, 0600, data, bytes, 1, 4096, &err);
  if (sf == NULL)
    return fprintf(stderr, "bench_node_limits: %s\n", nd_error_msg(err)), 1;
  start = bench_now_ns();
  if (slot_loop(sf, data, bytes, n, lat, 0, &err) < 0)
    return fprintf(stderr, "bench_node_limits: %s\n", nd_error_msg(err)), 1;
  double slot_writes_per_s = n / ((double)(bench_now_ns() - start) / 1e9);
  double s_p50 = pct_us(lat, (size_t)n, 50), s_p99 = pct_us(lat, (size_t)n, 99);

  /* at a single-stream prepare cycle's pace */
  char paced[384] = "";
  if (pace_ns) {
    getter pg = {.k8s = k8s, .path = argv[2], .n = n, .lat = lat, .pace_ns = pace_ns};
    get_loop(&pg);
    failures += pg.failures;
    double pg50 = pct_us(lat, (size_t)n, 50), pg99 = pct_us(lat, (size_t)n, 99);
    double pg_mean = mean_us(lat, (size_t)n);
    if (slot_loop(sf, data, bytes, n, lat, pace_ns / 2, &err) < 0)
      return fprintf(stderr, "bench_node_limits: %s\n", nd_error_msg(err)), 1;
    snprintf(paced, sizeof(paced),
             ",\"pace_us\":%llu,\"paced_get_p50_us\":%.1f,\"paced_get_p99_us\":%.1f,"
             "\"paced_get_mean_us\":%.1f,\"paced_slot_write_p50_us\":%.1f,"
             "\"paced_slot_write_p99_us\":%.1f,\"paced_slot_write_mean_us\":%.1f",
             (unsigned long long)(pace_ns / 1000u), pg50, pg99, pg_mean, pct_us(lat, (size_t)n, 50),
             pct_us(lat, (size_t)n, 99), mean_us(lat, (size_t)n));
  }
  nd_slot_file_close(sf);
  remove(slot_path);
  printf("{\"get_p50_us\":%.1f,\"get_p99_us\":%.1f,\"gets_per_s\":%.0f,\"get_threads\":%d,"
         "\"get_failures\":%d,\"write_p50_us\":%.1f,\"write_p99_us\":%.1f,\"writes_per_s\":%.0f,"
         "\"slot_write_p50_us\":%.1f,\"slot_write_p99_us\":%.1f,\"slot_writes_per_s\":%.0f,"
         "\"write_bytes\":%zu%s}\n",
         get_p50, get_p99, gets_per_s, threads, failures, w_p50, w_p99, writes_per_s, s_p50, s_p99,
         slot_writes_per_s, bytes, paced);
  free(data);
  free(lat);
  free(g);
  free(th);
  nd_k8s_client_free(k8s);
  return failures ? 1 : 0;
}
