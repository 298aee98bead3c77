/* bench_grpc.c: round trip of our gRPC layer over a unix socket: a child process serves an
 * echo method on nd_loop, the parent calls it N times with SIZE-byte messages through the
 * blocking client; prints p50/p99 in us (compare with pingpong of the same size). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"
#include "cleanup.h"
#include "grpc.h"

static void echo(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  nd_grpc_call_reply(call, req, len);
}

static void stop(nd_loop *loop, int signo, void *data) { nd_loop_stop(loop); }

int main(int argc, char **argv) {
  size_t size = argc > 1 ? (size_t)atol(argv[1]) : 256;
  int n = argc > 2 ? atoi(argv[2]) : 10000;
  char sock[] = "/tmp/netdra-bench-grpc-XXXXXX";
  if (mkdtemp(sock) == NULL)
    return perror("mkdtemp"), 1;
  char path[128];
  snprintf(path, sizeof(path), "%s/echo.sock", sock);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t child = fork();
  if (child == 0) {
    cleanup_error nd_error_t err = NULL;
    nd_loop *loop = nd_loop_new(&err);
    nd_grpc_server *srv = nd_grpc_server_new(loop, &err);
    nd_loop_add_signal(loop, SIGTERM, stop, NULL, &err);
    if (nd_grpc_server_add_method(srv, "/bench.Echo/Echo", false, echo, NULL, &err) < 0 ||
        nd_grpc_server_listen_unix(srv, path, 0600, &err) < 0) {
      fprintf(stderr, "bench_grpc: %s\n", nd_error_msg(err));
      _exit(1);
    }
    nd_loop_run(loop, &err);
    nd_grpc_server_free(srv);
    nd_loop_free(loop);
    _exit(0);
  }
  cleanup_error nd_error_t err = NULL;
  nd_grpc_client *c = NULL;
  for (int i = 0; i < 200 && c == NULL; i++) {
    c = nd_grpc_client_connect(path, &err);
    if (c == NULL) {
      nd_error_release(&err);
      usleep(10000);
    }
  }
  if (c == NULL)
    return fprintf(stderr, "bench_grpc: server did not start\n"), 1;
  uint8_t *msg = calloc(1, size);
  uint64_t *lat = calloc((size_t)n, sizeof(uint64_t));
  for (int i = 0; i < n; i++) {
    uint8_t *resp;
    size_t rlen;
    int status;
    uint64_t t = bench_now_ns();
    if (nd_grpc_client_call(c, "/bench.Echo/Echo", msg, size, &resp, &rlen, 5000, &status, NULL,
                            &err) < 0 || status != 0 || rlen != size)
      return fprintf(stderr, "bench_grpc: call %d failed: %s\n", i, nd_error_msg(err)), 1;
    lat[i] = bench_now_ns() - t;
    free(resp);
  }
  nd_grpc_client_close(c);
  kill(child, SIGTERM);
  waitpid(child, NULL, 0);
  rmdir(sock);
  printf("{\"size\":%zu,\"n\":%d,\"p50_us\":%.2f,\"p99_us\":%.2f}\n", size, n,
         bench_percentile(lat, (size_t)n, 50) / 1000.0, bench_percentile(lat, (size_t)n, 99) / 1000.0);
  free(lat);
  free(msg);
  return 0;
}
