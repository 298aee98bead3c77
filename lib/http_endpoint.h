/* http_endpoint.h: a small HTTP/1.1 server on nd_loop for /metrics, /healthz and /readyz.
 *
 * Non-blocking, many connections, GET and HEAD only, no request bodies. Each registered path
 * (exact match; the query string is ignored) has a handler that fills a response on the loop
 * thread. Built-in answers: 400 malformed request, 404 unknown path, 405 other methods (with
 * Allow: GET, HEAD), 413 request head larger than the limit, 408 request not complete within
 * the timeout, 500 handler failure, 503 when the connection limit is reached.
 * Keep-alive follows HTTP/1.1 (Connection: close and HTTP/1.0 close); pipelined requests are
 * answered in order; idle keep-alive connections close after the timeout. */
#ifndef NETDRA_HTTP_ENDPOINT_H
#define NETDRA_HTTP_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "evloop.h"
#include "metrics.h"

typedef struct nd_http_server nd_http_server;

typedef struct {
  int status;               /* preset to 200 */
  const char *content_type; /* static string; preset to "text/plain; charset=utf-8" */
  char *body;               /* malloc'd, taken by the server; NULL = empty */
  size_t body_len;          /* 0 with a body: strlen(body) */
} nd_http_response;

/* Fill *resp; return 0, or -1 to answer 500. method is "GET" or "HEAD" (HEAD bodies are
 * dropped by the server). */
typedef int (*nd_http_handler)(const char *method, const char *path, nd_http_response *resp,
                               void *data);

typedef struct {
  size_t max_request;  /* request line + headers, bytes; default 8192 */
  uint64_t timeout_ms; /* to receive a whole request, and keep-alive idle time; default 10000 */
  size_t max_conns;    /* default 256 */
  bool keep_alive;     /* default true */
} nd_http_limits;

nd_http_server *nd_http_server_new(nd_loop *loop, nd_error_t *err);
/* Call before listening; zero fields keep their defaults. */
void nd_http_server_set_limits(nd_http_server *srv, const nd_http_limits *limits);
int nd_http_server_handle(nd_http_server *srv, const char *path, nd_http_handler handler,
                          void *data, nd_error_t *err);
/* Serve reg's text at path with the Prometheus content type. */
int nd_http_server_handle_metrics(nd_http_server *srv, const char *path, nd_metrics *reg,
                                  nd_error_t *err);
/* host: numeric IPv4/IPv6 address ("127.0.0.1", "0.0.0.0", "::"); port 0 picks a free one. */
int nd_http_server_listen(nd_http_server *srv, const char *host, uint16_t port, nd_error_t *err);
/* Parse "host:port" / "[v6]:port" / ":port" and listen. */
int nd_http_server_listen_addr(nd_http_server *srv, const char *addr, nd_error_t *err);
uint16_t nd_http_server_port(const nd_http_server *srv);
size_t nd_http_server_connections(const nd_http_server *srv);
/* Closes every connection and the listener; call on the loop thread. */
void nd_http_server_free(nd_http_server *srv);

#endif
