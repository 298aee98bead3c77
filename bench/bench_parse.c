/* bench_parse.c: parse the worked camera announcement N times and upsert it into a registry
 * (the per-announcement work of the controller). Run under callgrind for a repeatable
 * instruction count per announcement; without valgrind it prints the wall time per parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "discovery.h"
#include "log.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_parse ANNOUNCEMENT.json N\n");
    return 2;
  }
  cleanup_file FILE *f = fopen(argv[1], "rb");
  if (f == NULL)
    return perror(argv[1]), 1;
  json_error_t jerr;
  cleanup_json json_t *doc = json_loadf(f, 0, &jerr);
  if (doc == NULL)
    return fprintf(stderr, "bench_parse: %s: %s\n", argv[1], jerr.text), 1;
  json_object_del(doc, "id"); /* each announcement gets the id of its topic */
  cleanup_free char *buf = json_dumps(doc, JSON_COMPACT);
  size_t len = strlen(buf);
  long n = atol(argv[2]);
  nd_log_set_level(ND_LOG_WARN); /* measure the work, not the log lines */
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_registry *reg = nd_registry_new(loop, NULL, &err);
  uint64_t start = nd_now_ms();
  for (long i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof(id), "dev-%ld", i % 1000);
    nd_device *d = nd_announcement_parse_bytes("mqtt", "bench", id, buf, len, &err);
    if (d == NULL || nd_registry_upsert(reg, d, &err) < 0) {
      fprintf(stderr, "bench_parse: %s\n", nd_error_msg(err));
      return 1;
    }
  }
  uint64_t ms = nd_now_ms() - start;
  nd_loop_run_once(loop, 0, &err);
  printf("parsed %ld announcements in %llu ms (%.2f us each), registry holds %zu\n", n,
         (unsigned long long)ms, n ? (double)ms * 1000.0 / (double)n : 0.0, nd_registry_count(reg));
  nd_registry_free(reg);
  nd_loop_free(loop);
  return 0;
}
