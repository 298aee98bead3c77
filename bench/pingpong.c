/* pingpong.c: the physical limit for request/response over a unix socket: a raw ping-pong of
 * SIZE-byte messages between two processes (socketpair), N round trips; prints p50/p99 in us. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"

static int full(int fd, char *buf, size_t n, int wr) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = wr ? write(fd, buf + off, n - off) : read(fd, buf + off, n - off);
    if (r <= 0)
      return -1;
    off += (size_t)r;
  }
  return 0;
}

int main(int argc, char **argv) {
  size_t size = argc > 1 ? (size_t)atol(argv[1]) : 256;
  int n = argc > 2 ? atoi(argv[2]) : 10000;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    return perror("socketpair"), 1;
  char *buf = calloc(1, size);
  pid_t child = fork();
  if (child == 0) {
    close(sv[0]);
    for (int i = 0; i < n; i++)
      if (full(sv[1], buf, size, 0) < 0 || full(sv[1], buf, size, 1) < 0)
        _exit(1);
    _exit(0);
  }
  close(sv[1]);
  uint64_t *lat = calloc((size_t)n, sizeof(uint64_t));
  for (int i = 0; i < n; i++) {
    uint64_t t = bench_now_ns();
    if (full(sv[0], buf, size, 1) < 0 || full(sv[0], buf, size, 0) < 0)
      return fprintf(stderr, "pingpong: peer gone\n"), 1;
    lat[i] = bench_now_ns() - t;
  }
  waitpid(child, NULL, 0);
  printf("{\"size\":%zu,\"n\":%d,\"p50_us\":%.2f,\"p99_us\":%.2f}\n", size, n,
         bench_percentile(lat, (size_t)n, 50) / 1000.0, bench_percentile(lat, (size_t)n, 99) / 1000.0);
  free(lat);
  free(buf);
  return 0;
}
