/* grpc_server.c: the gRPC server on nghttp2 and nd_loop (see grpc.h).
 *
 * One connection = one nghttp2 server session fed with nghttp2_session_mem_recv and drained
 * with nghttp2_session_mem_send into a bounded output buffer. A stream collects its request
 * (headers, then length-prefixed DATA) and is dispatched on END_STREAM. A call is freed when it
 * is both answered (reply/fail/finish, or the deadline) and off the wire (stream closed or the
 * connection gone), whichever comes last. */
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "grpc.h"
#include "log.h"

#define MAX_OUTBUF (32u << 20)
#define MAX_PATH_LEN 256

typedef struct method {
  char *path;
  bool streaming;
  nd_grpc_handler handler;
  void *data;
  struct method *next;
} method;

typedef struct listener {
  int fd;
  char *path;
  nd_watch *watch;
  struct listener *next;
} listener;

typedef struct conn conn;

typedef struct msgbuf {
  uint8_t *data;
  size_t len, off;
  struct msgbuf *next;
} msgbuf;

struct nd_grpc_call {
  conn *c;           /* NULL once the connection is gone */
  int32_t stream_id;
  char path[MAX_PATH_LEN];
  bool content_type_ok;
  uint64_t timeout_ms, deadline_ms;
  uint8_t *in;
  size_t in_len;
  bool too_large;
  const method *m;
  bool dispatched;
  bool answered;      /* the application is done with it (reply/fail/finish, or on_close) */
  bool expired;       /* unary: the deadline answered the client; the handler still owes its reply */
  bool stream_done;   /* h2 stream closed or connection gone */
  bool headers_sent;
  bool trailers_pending; /* end the stream with trailers once the queue drains */
  int final_status;
  char *final_message;
  msgbuf *out_head, *out_tail;
  nd_timer *deadline;
  nd_grpc_close_cb on_close;
  void *on_close_data;
  nd_grpc_call *next_in_conn;
};

struct conn {
  nd_grpc_server *srv;
  int fd;
  nd_watch *watch;
  nghttp2_session *h2;
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  bool want_out;
  bool closing;
  nd_grpc_call *calls;
  conn *next;
};

struct nd_grpc_server {
  nd_loop *loop;
  method *methods;
  listener *listeners;
  conn *conns;
  size_t n_conns;
  size_t max_message;
};

static void conn_close(conn *c);
static void conn_flush(conn *c);

/* ---- call lifetime ---------------------------------------------------------------------- */

static void call_free(nd_grpc_call *call) {
  if (call->deadline && call->c)
    nd_loop_del_timer(call->c->srv->loop, call->deadline);
  while (call->out_head) {
    msgbuf *b = call->out_head;
    call->out_head = b->next;
    free(b->data);
    free(b);
  }
  free(call->in);
  free(call->final_message);
  free(call);
}

static void call_unlink(nd_grpc_call *call) {
  if (call->c == NULL)
    return;
  for (nd_grpc_call **pp = &call->c->calls; *pp; pp = &(*pp)->next_in_conn)
    if (*pp == call) {
      *pp = call->next_in_conn;
      break;
    }
}

/* Free when both sides are done. */
static void call_maybe_free(nd_grpc_call *call) {
  if (call->answered && call->stream_done) {
    if (call->deadline && call->c) {
      nd_loop_del_timer(call->c->srv->loop, call->deadline);
      call->deadline = NULL;
    }
    call_unlink(call);
    call_free(call);
  }
}

/* ---- sending ------------------------------------------------------------------------------ */

static ssize_t read_body(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *user) {
  nd_grpc_call *call = source->ptr;
  size_t n = 0;
  while (call->out_head && n < length) {
    msgbuf *b = call->out_head;
    size_t take = b->len - b->off;
    if (take > length - n)
      take = length - n;
    memcpy(buf + n, b->data + b->off, take);
    n += take;
    b->off += take;
    if (b->off == b->len) {
      call->out_head = b->next;
      if (call->out_head == NULL)
        call->out_tail = NULL;
      free(b->data);
      free(b);
    }
  }
  if (call->out_head == NULL) {
    if (call->trailers_pending) {
      *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      char status[12];
      snprintf(status, sizeof(status), "%d", call->final_status);
      char *msg = call->final_message ? nd_grpc_percent_encode(call->final_message) : NULL;
      nghttp2_nv trailers[2] = {
          {(uint8_t *)"grpc-status", (uint8_t *)status, 11, strlen(status), NGHTTP2_NV_FLAG_NONE},
          {(uint8_t *)"grpc-message", (uint8_t *)(msg ? msg : ""), 12, msg ? strlen(msg) : 0,
           NGHTTP2_NV_FLAG_NONE}};
      nghttp2_submit_trailer(h2, stream_id, trailers, msg ? 2 : 1);
      free(msg);
      call->trailers_pending = false;
    } else if (n == 0) {
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return (ssize_t)n;
}

static int queue_message(nd_grpc_call *call, const uint8_t *msg, size_t len) {
  msgbuf *b = calloc(1, sizeof(*b));
  if (b == NULL)
    return -1;
  b->data = malloc(len + 5);
  if (b->data == NULL) {
    free(b);
    return -1;
  }
  b->data[0] = 0;
  b->data[1] = (uint8_t)(len >> 24);
  b->data[2] = (uint8_t)(len >> 16);
  b->data[3] = (uint8_t)(len >> 8);
  b->data[4] = (uint8_t)len;
  if (len)
    memcpy(b->data + 5, msg, len);
  b->len = len + 5;
  if (call->out_tail)
    call->out_tail->next = b;
  else
    call->out_head = b;
  call->out_tail = b;
  return 0;
}

static int send_headers_with_body(nd_grpc_call *call) {
  nghttp2_nv hdrs[2] = {
      {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE}};
  nghttp2_data_provider prd = {.source.ptr = call, .read_callback = read_body};
  call->headers_sent = true;
  return nghttp2_submit_response(call->c->h2, call->stream_id, hdrs, 2, &prd);
}

/* A trailers-only response: status in the only HEADERS frame, END_STREAM. */
static void send_trailers_only(nd_grpc_call *call, int status, const char *message) {
  char st[12];
  snprintf(st, sizeof(st), "%d", status);
  char *msg = message ? nd_grpc_percent_encode(message) : NULL;
  nghttp2_nv hdrs[4] = {
      {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"grpc-status", (uint8_t *)st, 11, strlen(st), NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"grpc-message", (uint8_t *)(msg ? msg : ""), 12, msg ? strlen(msg) : 0,
       NGHTTP2_NV_FLAG_NONE}};
  nghttp2_submit_response(call->c->h2, call->stream_id, hdrs, msg ? 4 : 3, NULL);
  free(msg);
}

/* Put the final status on the wire: trailers after the queued messages of a started
 * response, or a trailers-only response. */
static void put_status(nd_grpc_call *call, int status, const char *message) {
  if (call->c == NULL || call->stream_done)
    return;
  if (call->headers_sent) {
    call->final_status = status;
    free(call->final_message);
    call->final_message = message ? strdup(message) : NULL;
    call->trailers_pending = true;
    nghttp2_session_resume_data(call->c->h2, call->stream_id);
  } else {
    send_trailers_only(call, status, message);
  }
}

/* End a call with status (and, for a started stream, after its queued messages). */
static int finish_call(nd_grpc_call *call, int status, const char *message) {
  if (call->answered)
    return -1;
  call->answered = true;
  if (call->expired) { /* the client already has DEADLINE_EXCEEDED */
    call_maybe_free(call);
    return -1;
  }
  conn *c = call->c;
  int rc = c && !call->stream_done ? 0 : -1;
  put_status(call, status, message);
  call_maybe_free(call);
  if (c)
    conn_flush(c);
  return rc;
}

int nd_grpc_call_reply(nd_grpc_call *call, const uint8_t *msg, size_t len) {
  if (call->answered)
    return -1;
  if (call->expired || call->stream_done || call->c == NULL) {
    call->answered = true;
    call_maybe_free(call);
    return -1;
  }
  if (queue_message(call, msg, len) < 0 || (!call->headers_sent && send_headers_with_body(call) != 0))
    return finish_call(call, GRPC_INTERNAL, "out of memory"), -1;
  return finish_call(call, GRPC_OK, NULL);
}

int nd_grpc_call_fail(nd_grpc_call *call, int status, const char *message) {
  if (call->answered) /* the deadline already answered it: just release */
    return -1;
  return finish_call(call, status, message);
}

int nd_grpc_call_finish(nd_grpc_call *call) { return nd_grpc_call_fail(call, GRPC_OK, NULL); }

int nd_grpc_call_send(nd_grpc_call *call, const uint8_t *msg, size_t len) {
  if (call->answered || call->stream_done || call->c == NULL)
    return -1;
  if (queue_message(call, msg, len) < 0)
    return -1;
  if (!call->headers_sent) {
    if (send_headers_with_body(call) != 0)
      return -1;
  } else {
    nghttp2_session_resume_data(call->c->h2, call->stream_id);
  }
  conn_flush(call->c);
  return 0;
}

void nd_grpc_call_on_close(nd_grpc_call *call, nd_grpc_close_cb cb, void *data) {
  call->on_close = cb;
  call->on_close_data = data;
}

uint64_t nd_grpc_call_deadline_ms(const nd_grpc_call *call) {
  if (call->deadline_ms == 0)
    return 0;
  uint64_t now = nd_now_ms();
  return call->deadline_ms > now ? call->deadline_ms - now : 1;
}

const char *nd_grpc_call_method(const nd_grpc_call *call) { return call->path; }

static void on_deadline(nd_loop *loop, nd_timer *t, void *data) {
  nd_grpc_call *call = data;
  nd_loop_del_timer(loop, t);
  call->deadline = NULL;
  if (call->answered || call->expired)
    return;
  ND_LOG_WARN("grpc", "deadline-exceeded", ND_KV_S("method", call->path),
              ND_KV_I("timeout_ms", call->timeout_ms));
  conn *c = call->c;
  put_status(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
  if (call->m && call->m->streaming) {
    /* the application owns a streaming call until on_close: tell it, then release */
    nd_grpc_close_cb cb = call->on_close;
    call->on_close = NULL;
    call->answered = true;
    if (cb)
      cb(call, call->on_close_data);
    call_maybe_free(call);
  } else {
    call->expired = true; /* the handler's reply later only releases the call */
  }
  if (c)
    conn_flush(c);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static void dispatch(conn *c, nd_grpc_call *call) {
  call->dispatched = true;
  const method *m = NULL;
  for (const method *it = c->srv->methods; it; it = it->next)
    if (strcmp(it->path, call->path) == 0)
      m = it;
  if (!call->content_type_ok) {
    call->m = NULL;
    finish_call(call, GRPC_INTERNAL, "content-type must be application/grpc");
    return;
  }
  if (m == NULL) {
    char msg[MAX_PATH_LEN + 32];
    snprintf(msg, sizeof(msg), "unknown method %s", call->path);
    finish_call(call, GRPC_UNIMPLEMENTED, msg);
    return;
  }
  call->m = m;
  if (call->too_large) {
    finish_call(call, GRPC_RESOURCE_EXHAUSTED, "request message larger than the limit");
    return;
  }
  if (call->in_len < 5) {
    finish_call(call, GRPC_INTERNAL, "request has no complete gRPC message");
    return;
  }
  if (call->in[0] != 0) {
    finish_call(call, GRPC_UNIMPLEMENTED, "compressed messages are not supported");
    return;
  }
  size_t len = ((size_t)call->in[1] << 24) | ((size_t)call->in[2] << 16) | ((size_t)call->in[3] << 8) | call->in[4];
  if (len != call->in_len - 5) {
    finish_call(call, GRPC_INTERNAL, "request must carry exactly one complete message");
    return;
  }
  if (call->timeout_ms) {
    nd_error_t err = NULL;
    call->deadline_ms = nd_now_ms() + call->timeout_ms;
    call->deadline = nd_loop_add_timer(c->srv->loop, call->timeout_ms, 0, on_deadline, call, &err);
    nd_error_release(&err);
  }
  m->handler(call, call->in + 5, len, m->data);
}

/* ---- nghttp2 callbacks -------------------------------------------------------------------- */

static nd_grpc_call *stream_call(conn *c, int32_t id) {
  return nghttp2_session_get_stream_user_data(c->h2, id);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user) {
  conn *c = user;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  nd_grpc_call *call = calloc(1, sizeof(*call));
  if (call == NULL)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  call->c = c;
  call->stream_id = frame->hd.stream_id;
  call->next_in_conn = c->calls;
  c->calls = call;
  nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, call);
  return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user) {
  conn *c = user;
  nd_grpc_call *call = stream_call(c, frame->hd.stream_id);
  if (call == NULL || call->dispatched)
    return 0;
  if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
    if (valuelen >= MAX_PATH_LEN)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    memcpy(call->path, value, valuelen);
    call->path[valuelen] = '\0';
  } else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
    call->content_type_ok = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0;
  } else if (namelen == 12 && memcmp(name, "grpc-timeout", 12) == 0) {
    char v[16];
    if (valuelen < sizeof(v)) {
      memcpy(v, value, valuelen);
      v[valuelen] = '\0';
      uint64_t ms;
      if (nd_grpc_parse_timeout(v, &ms) == 0)
        call->timeout_ms = ms ? ms : 1;
    }
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user) {
  conn *c = user;
  nd_grpc_call *call = stream_call(c, stream_id);
  if (call == NULL || call->dispatched || call->too_large)
    return 0;
  if (call->in_len + len > c->srv->max_message + 5) {
    call->too_large = true; /* answered at END_STREAM; the bytes are dropped */
    free(call->in);
    call->in = NULL;
    call->in_len = 0;
    return 0;
  }
  uint8_t *grown = realloc(call->in, call->in_len + len);
  if (grown == NULL)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  call->in = grown;
  memcpy(call->in + call->in_len, data, len);
  call->in_len += len;
  return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user) {
  conn *c = user;
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    nd_grpc_call *call = stream_call(c, frame->hd.stream_id);
    if (call && !call->dispatched)
      dispatch(c, call);
  }
  return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code,
                           void *user) {
  conn *c = user;
  nd_grpc_call *call = stream_call(c, stream_id);
  if (call == NULL)
    return 0;
  nghttp2_session_set_stream_user_data(h2, stream_id, NULL);
  call->stream_done = true;
  if (!call->dispatched) {
    call->answered = true; /* never reached a handler */
  } else if (!call->answered && call->on_close) {
    nd_grpc_close_cb cb = call->on_close;
    call->on_close = NULL;
    call->answered = true; /* a closed stream needs no answer */
    cb(call, call->on_close_data);
  }
  call_maybe_free(call);
  return 0;
}

/* ---- connection I/O ----------------------------------------------------------------------- */

static void update_events(conn *c) {
  bool want = c->out_len > c->out_off;
  if (want == c->want_out)
    return;
  c->want_out = want;
  nd_error_t err = NULL;
  nd_loop_mod_fd(c->srv->loop, c->watch, EPOLLIN | (want ? EPOLLOUT : 0), &err);
  nd_error_release(&err);
}

static void conn_flush(conn *c) {
  if (c->closing)
    return;
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(c->h2, &data);
    if (n < 0) {
      conn_close(c);
      return;
    }
    if (n == 0)
      break;
    if (c->out_len + (size_t)n > MAX_OUTBUF) {
      ND_LOG_WARN("grpc", "client-too-slow", ND_KV_I("buffered", c->out_len));
      conn_close(c);
      return;
    }
    if (c->out_len + (size_t)n > c->out_cap) {
      size_t cap = c->out_cap ? c->out_cap : 16384;
      while (cap < c->out_len + (size_t)n)
        cap *= 2;
      uint8_t *grown = realloc(c->out, cap);
      if (grown == NULL) {
        conn_close(c);
        return;
      }
      c->out = grown;
      c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, (size_t)n);
    c->out_len += (size_t)n;
  }
  while (c->out_off < c->out_len) {
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      conn_close(c);
      return;
    }
    c->out_off += (size_t)w;
  }
  if (c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  update_events(c);
  if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
      c->out_len == 0)
    conn_close(c);
}

static void on_conn_event(nd_loop *loop, int fd, uint32_t events, void *data) {
  conn *c = data;
  if (events & EPOLLIN) {
    uint8_t buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      conn_close(c);
      return;
    }
    if (n > 0) {
      ssize_t used = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
      if (used < 0) {
        ND_LOG_DEBUG("grpc", "bad-http2", ND_KV_S("error", nghttp2_strerror((int)used)));
        /* tell the peer (GOAWAY) and close */
        nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
        conn_flush(c);
        if (!c->closing)
          conn_close(c);
        return;
      }
    }
  } else if (events & (EPOLLERR | EPOLLHUP)) {
    conn_close(c);
    return;
  }
  conn_flush(c);
}

static void free_conn_later(nd_loop *loop, void *data) { free(data); }

static void conn_close(conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  nd_grpc_server *srv = c->srv;
  /* calls outlive the connection only as far as their owners need them */
  nd_grpc_call *calls = c->calls;
  c->calls = NULL;
  while (calls) {
    nd_grpc_call *call = calls;
    calls = call->next_in_conn;
    if (call->deadline) {
      nd_loop_del_timer(srv->loop, call->deadline);
      call->deadline = NULL;
    }
    call->c = NULL;
    call->stream_done = true;
    if (!call->dispatched) {
      call->answered = true;
    } else if (!call->answered && call->on_close) {
      nd_grpc_close_cb cb = call->on_close;
      call->on_close = NULL;
      call->answered = true;
      cb(call, call->on_close_data);
    }
    if (call->answered)
      call_free(call);
  }
  nd_loop_del_fd(srv->loop, c->watch);
  close(c->fd);
  nghttp2_session_del(c->h2);
  free(c->out);
  for (conn **pp = &srv->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  srv->n_conns--;
  /* the loop may still deliver an event for this connection in the current batch */
  nd_loop_defer(srv->loop, free_conn_later, c);
}

static void on_accept(nd_loop *loop, int fd, uint32_t events, void *data) {
  nd_grpc_server *srv = data;
  for (;;) {
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
      return;
    conn *c = calloc(1, sizeof(*c));
    c->srv = srv;
    c->fd = cfd;
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_send_header_block_length(opt, 65536);
    int rc = nghttp2_session_server_new2(&c->h2, cbs, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nd_error_t err = NULL;
    if (rc != 0 || (c->watch = nd_loop_add_fd(loop, cfd, EPOLLIN, on_conn_event, c, &err)) == NULL) {
      nd_error_release(&err);
      if (c->h2)
        nghttp2_session_del(c->h2);
      close(cfd);
      free(c);
      continue;
    }
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 256},
                                         {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, settings, 2);
    c->next = srv->conns;
    srv->conns = c;
    srv->n_conns++;
    conn_flush(c);
  }
}

/* ---- server ------------------------------------------------------------------------------- */

nd_grpc_server *nd_grpc_server_new(nd_loop *loop, nd_error_t *err) {
  nd_grpc_server *srv = calloc(1, sizeof(*srv));
  if (srv == NULL)
    return nd_error_make(err, ENOMEM, "allocating gRPC server"), NULL;
  srv->loop = loop;
  srv->max_message = ND_GRPC_DEFAULT_MAX_MESSAGE;
  return srv;
}

void nd_grpc_server_set_max_message(nd_grpc_server *srv, size_t bytes) { srv->max_message = bytes; }

size_t nd_grpc_server_connections(const nd_grpc_server *srv) { return srv->n_conns; }

int nd_grpc_server_add_method(nd_grpc_server *srv, const char *path, bool streaming,
                              nd_grpc_handler handler, void *data, nd_error_t *err) {
  if (path[0] != '/' || strlen(path) >= MAX_PATH_LEN)
    return nd_error_make(err, EINVAL, "gRPC method path \"%s\" must be /package.Service/Method", path);
  method *m = calloc(1, sizeof(*m));
  m->path = strdup(path);
  m->streaming = streaming;
  m->handler = handler;
  m->data = data;
  m->next = srv->methods;
  srv->methods = m;
  return 0;
}

int nd_grpc_server_listen_unix(nd_grpc_server *srv, const char *path, mode_t mode,
                               nd_error_t *err) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(addr.sun_path))
    return nd_error_make(err, ENAMETOOLONG, "socket path %s is longer than %zu bytes", path,
                         sizeof(addr.sun_path) - 1);
  strcpy(addr.sun_path, path);
  struct stat st;
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return nd_error_make(err, EEXIST, "%s exists and is not a socket: refusing to replace it", path);
    unlink(path); /* a stale socket from an earlier run */
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return nd_error_make(err, errno, "socket: %s", strerror(errno));
  mode_t old = umask(0177); /* no window where the socket is wider than asked */
  int rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
  umask(old);
  if (rc < 0 || chmod(path, mode) < 0 || listen(fd, 128) < 0) {
    int e = errno;
    close(fd);
    return nd_error_make(err, e, "listening on %s: %s", path, strerror(e));
  }
  listener *l = calloc(1, sizeof(*l));
  l->fd = fd;
  l->path = strdup(path);
  l->watch = nd_loop_add_fd(srv->loop, fd, EPOLLIN, on_accept, srv, err);
  if (l->watch == NULL) {
    close(fd);
    unlink(path);
    free(l->path);
    free(l);
    return -1;
  }
  l->next = srv->listeners;
  srv->listeners = l;
  return 0;
}

void nd_grpc_server_free(nd_grpc_server *srv) {
  if (srv == NULL)
    return;
  while (srv->conns)
    conn_close(srv->conns);
  while (srv->listeners) {
    listener *l = srv->listeners;
    srv->listeners = l->next;
    nd_loop_del_fd(srv->loop, l->watch);
    close(l->fd);
    unlink(l->path);
    free(l->path);
    free(l);
  }
  while (srv->methods) {
    method *m = srv->methods;
    srv->methods = m->next;
    free(m->path);
    free(m);
  }
  free(srv);
}
