/* bench_checkpoint.c: one checkpoint write on a node that already holds K prepared claims.
 * A prepare writes the checkpoint twice and an unprepare once; each write used to serialise
 * every claim of the node, so its cost grew with K. Measures, in one run:
 *   write: put(prepare-started), put(prepare-completed), remove of one more claim, N times:
 *          wall p50/p99 per write and CPU time per write (this thread: serialising, joining,
 *          hashing; the fdatasync's wait is not CPU);
 *   limit: serialising all K claims once (json_dumps of the whole set, what a write cost
 *          before), and one raw in-place write + fdatasync of the payload's size.
 * usage: bench_checkpoint DIR K N    Prints one JSON object. Loops are bounded by K and N. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "bench_stats.h"
#include "checkpoint.h"
#include "cleanup.h"

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A camera + GPU claim as the driver records it (edits of a GPU included). */
static json_t *claim_entry(const char *phase, const char *status) {
  return json_pack(
      "{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:{s:{s:s}, s:{s:s}}}, s:{s:s}, "
      "s:{s:[s], s:[{s:s}]}}, {s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:n, "
      "s:{s:[{s:s}, {s:s}, {s:s}, {s:s}], s:[s, s]}}]}",
      "namespace", "default", "name", "bench-claim", "phase", phase, "devices", "request", "cam",
      "pool", "cams", "device", "cam-0", "type", "camera", "status", status, "sliceDevice", "name",
      "cam-0", "attributes", "type", "string", "camera", "endpoint", "string",
      "rtsp://127.0.0.1:554/0", "state", "session", "cam-0", "edits", "env",
      "NETDRA_CAMERA_URL=rtsp://127.0.0.1:554/0", "mounts", "hostPath", "/run/netdra/cam-0",
      "request", "gpu", "pool", "bench-node", "device", "gpu-0", "type", "gpu", "status", status,
      "sliceDevice", "name", "gpu-0", "state", "edits", "deviceNodes", "path", "/dev/nvidia0",
      "path", "/dev/nvidiactl", "path", "/dev/nvidia-uvm", "path", "/dev/nvidia-uvm-tools", "env",
      "NVIDIA_VISIBLE_DEVICES=0", "NETDRA_GPU=gpu-0");
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_checkpoint DIR K N\n");
    return 2;
  }
  const char *dir = argv[1];
  int k = atoi(argv[2]), n = atoi(argv[3]);
  char boot[512];
  snprintf(boot, sizeof(boot), "%s/boot_id", dir);
  FILE *f = fopen(boot, "w");
  if (f == NULL)
    return perror(boot), 1;
  fputs("bench-boot\n", f);
  fclose(f);
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(dir, boot, &err);
  if (cp == NULL)
    return fprintf(stderr, "bench_checkpoint: %s\n", nd_error_msg(err)), 1;
  cleanup_json json_t *started = claim_entry("prepare-started", "attaching");
  cleanup_json json_t *completed = claim_entry("prepare-completed", "attached");
  char uid[64];
  for (int i = 0; i < k; i++) {
    snprintf(uid, sizeof(uid), "00000000-0000-4000-8000-%012d", i);
    if (nd_checkpoint_put(cp, uid, completed, &err) < 0)
      return fprintf(stderr, "bench_checkpoint: %s\n", nd_error_msg(err)), 1;
  }
  uint64_t *wall = calloc((size_t)n * 3, sizeof(uint64_t));
  uint64_t cpu = 0;
  const char *bench_uid = "ffffffff-0000-4000-8000-000000000000";
  for (int i = 0; i < n; i++) {
    for (int step = 0; step < 3; step++) {
      uint64_t t = bench_now_ns(), c = thread_cpu_ns();
      int rc = step == 2 ? nd_checkpoint_remove(cp, bench_uid, &err)
                         : nd_checkpoint_put(cp, bench_uid, step ? completed : started, &err);
      if (rc < 0)
        return fprintf(stderr, "bench_checkpoint: %s\n", nd_error_msg(err)), 1;
      cpu += thread_cpu_ns() - c;
      wall[i * 3 + step] = bench_now_ns() - t;
    }
  }
  size_t writes = (size_t)n * 3;
  /* the limits: serialising every claim once (the old per-write cost) and a raw write */
  cleanup_json json_t *all = nd_checkpoint_all(cp);
  uint64_t c = thread_cpu_ns();
  size_t bytes = 0;
  int reps = 20;
  for (int i = 0; i < reps; i++) {
    cleanup_free char *text = json_dumps(all, JSON_COMPACT);
    bytes = strlen(text);
  }
  double dump_us = (double)(thread_cpu_ns() - c) / reps / 1000.0;
  char raw[512];
  snprintf(raw, sizeof(raw), "%s/raw-write", dir);
  int fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  char *buf = calloc(1, bytes + 1);
  uint64_t *rawlat = calloc((size_t)n, sizeof(uint64_t));
  if (fd < 0 || buf == NULL || rawlat == NULL || pwrite(fd, buf, bytes, 0) != (ssize_t)bytes)
    return perror("raw write"), 1;
  for (int i = 0; i < n; i++) {
    uint64_t t = bench_now_ns();
    if (pwrite(fd, buf, bytes, 0) != (ssize_t)bytes || fdatasync(fd) < 0)
      return perror("raw write"), 1;
    rawlat[i] = bench_now_ns() - t;
  }
  close(fd);
  unlink(raw);
  printf("{\"claims\":%d,\"writes\":%zu,\"write_p50_us\":%.1f,\"write_p99_us\":%.1f,"
         "\"write_cpu_us\":%.1f,\"serialise_all_cpu_us\":%.1f,\"payload_bytes\":%zu,"
         "\"raw_write_p50_us\":%.1f,\"raw_write_p99_us\":%.1f}\n",
         k, writes, bench_percentile(wall, writes, 50) / 1000.0,
         bench_percentile(wall, writes, 99) / 1000.0, (double)cpu / (double)writes / 1000.0, dump_us,
         bytes, bench_percentile(rawlat, (size_t)n, 50) / 1000.0,
         bench_percentile(rawlat, (size_t)n, 99) / 1000.0);
  nd_checkpoint_free(cp);
  free(wall);
  free(rawlat);
  free(buf);
  return 0;
}
