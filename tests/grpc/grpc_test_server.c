/* grpc_test_server.c: test equipment for the gRPC layer: serves on a unix socket
 *   /test.Test/Echo      unary, answers the request bytes
 *   /test.Test/Slow      unary, answers after 2 s (deadlines)
 *   /test.Test/Fail      unary, fails with INVALID_ARGUMENT and a message with non-ASCII text
 *   /test.Test/Stream    server streaming: 5 messages 50 ms apart, then OK; counts cancels
 * Max message 1 MiB. Prints "ready" on stdout; on SIGTERM prints its counters as JSON. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "grpc.h"

typedef struct {
  nd_loop *loop;
  int closed_streams, finished_streams;
} state;

static void echo(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  nd_grpc_call_reply(call, req, len);
}

typedef struct {
  nd_grpc_call *call;
  uint8_t *msg;
  size_t len;
} pending;

static void slow_done(nd_loop *loop, nd_timer *t, void *data) {
  pending *p = data;
  nd_grpc_call_reply(p->call, p->msg, p->len); /* after a deadline: dropped, call released */
  free(p->msg);
  free(p);
  nd_loop_del_timer(loop, t);
}

static void slow(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  state *s = data;
  pending *p = calloc(1, sizeof(*p));
  p->call = call;
  p->msg = malloc(len ? len : 1);
  memcpy(p->msg, req, len);
  p->len = len;
  nd_error_t err = NULL;
  nd_loop_add_timer(s->loop, 2000, 0, slow_done, p, &err);
  nd_error_release(&err);
}

static void fail(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  nd_grpc_call_fail(call, GRPC_INVALID_ARGUMENT, "bad request: 100% wrong, caf\xc3\xa9");
}

typedef struct {
  state *s;
  nd_grpc_call *call;
  nd_timer *timer;
  int sent;
} stream;

static void stream_closed(nd_grpc_call *call, void *data) {
  stream *st = data;
  st->s->closed_streams++;
  nd_loop_del_timer(st->s->loop, st->timer);
  free(st);
}

static void stream_tick(nd_loop *loop, nd_timer *t, void *data) {
  stream *st = data;
  char msg[32];
  int n = snprintf(msg, sizeof(msg), "message %d", st->sent);
  nd_grpc_call_send(st->call, (const uint8_t *)msg, (size_t)n);
  if (++st->sent == 5) {
    st->s->finished_streams++;
    nd_loop_del_timer(loop, st->timer);
    nd_grpc_call_finish(st->call);
    free(st);
  }
}

static void stream_start(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  state *s = data;
  stream *st = calloc(1, sizeof(*st));
  st->s = s;
  st->call = call;
  nd_error_t err = NULL;
  st->timer = nd_loop_add_timer(s->loop, 50, 50, stream_tick, st, &err);
  nd_error_release(&err);
  nd_grpc_call_on_close(call, stream_closed, st);
}

static void on_term(nd_loop *loop, int signo, void *data) { nd_loop_stop(loop); }

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: grpc_test_server SOCKET\n");
    return 2;
  }
  cleanup_error nd_error_t err = NULL;
  state s = {.loop = nd_loop_new(&err)};
  nd_grpc_server *srv = nd_grpc_server_new(s.loop, &err);
  nd_grpc_server_set_max_message(srv, 1u << 20);
  if (nd_grpc_server_add_method(srv, "/test.Test/Echo", false, echo, &s, &err) < 0 ||
      nd_grpc_server_add_method(srv, "/test.Test/Slow", false, slow, &s, &err) < 0 ||
      nd_grpc_server_add_method(srv, "/test.Test/Fail", false, fail, &s, &err) < 0 ||
      nd_grpc_server_add_method(srv, "/test.Test/Stream", true, stream_start, &s, &err) < 0 ||
      nd_grpc_server_listen_unix(srv, argv[1], 0600, &err) < 0 ||
      nd_loop_add_signal(s.loop, SIGTERM, on_term, NULL, &err) < 0) {
    fprintf(stderr, "grpc_test_server: %s\n", nd_error_msg(err));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  nd_loop_run(s.loop, &err);
  printf("{\"closed_streams\":%d,\"finished_streams\":%d,\"connections\":%zu}\n", s.closed_streams,
         s.finished_streams, nd_grpc_server_connections(srv));
  fflush(stdout);
  nd_grpc_server_free(srv);
  /* let deferred frees run */
  nd_loop_run_once(s.loop, 0, &err);
  nd_loop_free(s.loop);
  return 0;
}
