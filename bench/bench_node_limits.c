/* bench_node_limits.c: the physical limits a prepare is measured against, taken in the same
 * run as bench_prepare:
 *   get:   raw GET of a ResourceClaim from the same API server with the same REST client the
 *          node plugin uses (p50/p99 of one stream; GETs per second with T streams sharing
 *          one client, as the plugin's workers do);
 *   write: raw durable replace of a file of the checkpoint's size in the same directory
 *          (temp file, fsync, rename, fsync of the directory: what one checkpoint write costs),
 *          p50/p99 and writes per second from one thread.
 * usage: bench_node_limits KUBECONFIG CLAIM_PATH THREADS N DIR BYTES
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

/* percentile of nanosecond samples, in us */
static double pct_us(uint64_t *v, size_t n, int p) { return (double)bench_percentile(v, n, p) / 1000.0; }

typedef struct {
  nd_k8s_client *k8s;
  const char *path;
  int n, failures;
  uint64_t *lat;
} getter;

static void *get_loop(void *arg) {
  getter *g = arg;
  for (int i = 0; i < g->n; i++) {
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

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: bench_node_limits KUBECONFIG CLAIM_PATH THREADS N DIR BYTES\n");
    return 2;
  }
  int threads = atoi(argv[3]), n = atoi(argv[4]);
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
  printf("{\"get_p50_us\":%.1f,\"get_p99_us\":%.1f,\"gets_per_s\":%.0f,\"get_threads\":%d,"
         "\"get_failures\":%d,\"write_p50_us\":%.1f,\"write_p99_us\":%.1f,\"writes_per_s\":%.0f,"
         "\"write_bytes\":%zu}\n",
         get_p50, get_p99, gets_per_s, threads, failures, w_p50, w_p99, writes_per_s, bytes);
  free(data);
  free(lat);
  free(g);
  free(th);
  nd_k8s_client_free(k8s);
  return failures ? 1 : 0;
}
