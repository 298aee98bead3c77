/* grpc_client.c: a blocking gRPC client over a unix socket on nghttp2 (see grpc.h): one
 * connection, sequential unary calls with a timeout, for netdractl, benchmarks and tests. */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "grpc.h"

struct nd_grpc_client {
  int fd;
  nghttp2_session *h2;
  /* the call in flight */
  int32_t stream_id;
  uint8_t *req;
  size_t req_len, req_off;
  uint8_t *resp;
  size_t resp_len;
  int status; /* -1 until grpc-status arrives */
  char *message;
  bool closed;
  bool broken;
  char path[256];
};

static ssize_t send_cb(nghttp2_session *h2, const uint8_t *data, size_t len, int flags, void *user) {
  nd_grpc_client *c = user;
  ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
  if (n < 0)
    return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
  return n;
}

static ssize_t read_req(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *source, void *user) {
  nd_grpc_client *c = user;
  size_t n = c->req_len - c->req_off;
  if (n > length)
    n = length;
  memcpy(buf, c->req + c->req_off, n);
  c->req_off += n;
  if (c->req_off == c->req_len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user) {
  nd_grpc_client *c = user;
  if (frame->hd.stream_id != c->stream_id)
    return 0;
  if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
    char v[12] = "";
    memcpy(v, value, valuelen < 11 ? valuelen : 11);
    c->status = atoi(v);
  } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
    free(c->message);
    c->message = strndup((const char *)value, valuelen);
    nd_grpc_percent_decode(c->message);
  }
  return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t stream_id, const uint8_t *data,
                   size_t len, void *user) {
  nd_grpc_client *c = user;
  if (stream_id != c->stream_id)
    return 0;
  uint8_t *grown = realloc(c->resp, c->resp_len + len);
  if (grown == NULL)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  c->resp = grown;
  memcpy(c->resp + c->resp_len, data, len);
  c->resp_len += len;
  return 0;
}

static int on_close(nghttp2_session *h2, int32_t stream_id, uint32_t code, void *user) {
  nd_grpc_client *c = user;
  if (stream_id == c->stream_id)
    c->closed = true;
  return 0;
}

nd_grpc_client *nd_grpc_client_connect(const char *socket_path, nd_error_t *err) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof(addr.sun_path))
    return nd_error_make(err, ENAMETOOLONG, "socket path too long: %s", socket_path), NULL;
  strcpy(addr.sun_path, socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return nd_error_make(err, e, "connecting to %s: %s", socket_path, strerror(e)), NULL;
  }
  nd_grpc_client *c = calloc(1, sizeof(*c));
  c->fd = fd;
  nghttp2_session_callbacks *cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  nghttp2_session_client_new(&c->h2, cbs, c);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, NULL, 0);
  return c;
}

void nd_grpc_client_close(nd_grpc_client *c) {
  if (c == NULL)
    return;
  nghttp2_session_del(c->h2);
  close(c->fd);
  free(c->resp);
  free(c->message);
  free(c);
}

int nd_grpc_client_call(nd_grpc_client *c, const char *method, const uint8_t *req, size_t len,
                        uint8_t **resp, size_t *resp_len, int timeout_ms, int *status,
                        char **message, nd_error_t *err) {
  *resp = NULL;
  *resp_len = 0;
  *status = -1;
  if (message)
    *message = NULL;
  if (c->broken)
    return nd_error_make(err, EPIPE, "connection is broken");
  free(c->resp);
  free(c->message);
  c->resp = NULL;
  c->message = NULL;
  c->resp_len = 0;
  c->status = -1;
  c->closed = false;
  c->req = malloc(len + 5);
  c->req[0] = 0;
  c->req[1] = (uint8_t)(len >> 24);
  c->req[2] = (uint8_t)(len >> 16);
  c->req[3] = (uint8_t)(len >> 8);
  c->req[4] = (uint8_t)len;
  if (len)
    memcpy(c->req + 5, req, len);
  c->req_len = len + 5;
  c->req_off = 0;
  char timeout[24];
  nd_grpc_format_timeout((uint64_t)(timeout_ms > 0 ? timeout_ms : 30000), timeout, sizeof(timeout));
  snprintf(c->path, sizeof(c->path), "%s", method);
  nghttp2_nv hdrs[] = {
      {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":path", (uint8_t *)c->path, 5, strlen(c->path), NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"grpc-timeout", (uint8_t *)timeout, 12, strlen(timeout), NGHTTP2_NV_FLAG_NONE},
  };
  nghttp2_data_provider prd = {.read_callback = read_req};
  c->stream_id = nghttp2_submit_request(c->h2, NULL, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), &prd, c);
  int rc = -1;
  if (c->stream_id < 0) {
    nd_error_make(err, EIO, "submitting %s: %s", method, nghttp2_strerror(c->stream_id));
    goto out;
  }
  uint64_t deadline = nd_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 30000);
  while (!c->closed) {
    if (nghttp2_session_send(c->h2) != 0) {
      c->broken = true;
      nd_error_make(err, EPIPE, "%s: sending failed (server gone?)", method);
      goto out;
    }
    uint64_t now = nd_now_ms();
    if (now >= deadline) {
      nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, c->stream_id, NGHTTP2_CANCEL);
      nghttp2_session_send(c->h2);
      nd_error_make(err, ETIMEDOUT, "%s: no answer within %d ms", method, timeout_ms);
      goto out;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN | (nghttp2_session_want_write(c->h2) ? POLLOUT : 0)};
    if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR) {
      nd_error_make(err, errno, "poll: %s", strerror(errno));
      goto out;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      uint8_t buf[16384];
      ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        c->broken = true;
        nd_error_make(err, ECONNRESET, "%s: connection closed by the server", method);
        goto out;
      }
      if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0) {
        c->broken = true;
        nd_error_make(err, EPROTO, "%s: bad HTTP/2 from the server", method);
        goto out;
      }
    }
  }
  if (c->status < 0) {
    nd_error_make(err, EPROTO, "%s: the stream ended without grpc-status", method);
    goto out;
  }
  *status = c->status;
  if (message) {
    *message = c->message;
    c->message = NULL;
  }
  if (c->status == GRPC_OK) {
    if (c->resp_len < 5) {
      nd_error_make(err, EPROTO, "%s: OK without a response message", method);
      goto out;
    }
    size_t mlen = ((size_t)c->resp[1] << 24) | ((size_t)c->resp[2] << 16) | ((size_t)c->resp[3] << 8) | c->resp[4];
    if (mlen != c->resp_len - 5) {
      nd_error_make(err, EPROTO, "%s: response framing is broken", method);
      goto out;
    }
    *resp = malloc(mlen ? mlen : 1);
    memcpy(*resp, c->resp + 5, mlen);
    *resp_len = mlen;
  }
  rc = 0;
out:
  free(c->req);
  c->req = NULL;
  return rc;
}

int nd_grpc_call_once(const char *socket_path, const char *method, const uint8_t *req,
                      size_t len, uint8_t **resp, size_t *resp_len, int timeout_ms, int *status,
                      char **message, nd_error_t *err) {
  nd_grpc_client *c = nd_grpc_client_connect(socket_path, err);
  if (c == NULL)
    return -1;
  int rc = nd_grpc_client_call(c, method, req, len, resp, resp_len, timeout_ms, status, message, err);
  nd_grpc_client_close(c);
  return rc;
}
