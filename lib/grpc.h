/* grpc.h: our own small gRPC layer on nghttp2, for unix sockets (the kubelet plugin APIs).
 *
 * Server (on nd_loop): HTTP/2 with prior knowledge, `application/grpc`, 5-byte length-prefixed
 * messages (compression refused), unary and server-streaming methods, `grpc-timeout`
 * deadlines, trailers with `grpc-status`/`grpc-message`, trailers-only errors, UNIMPLEMENTED
 * for unknown methods, RESOURCE_EXHAUSTED past the message size limit; malformed HTTP/2 or
 * garbage closes that connection only. Handlers run on the loop and may reply later (from any
 * later loop callback): a call lives until it is answered and its stream is gone.
 *
 * Client (blocking): one connection, many sequential calls (netdractl, benchmarks, tests). */
#ifndef NETDRA_GRPC_H
#define NETDRA_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "evloop.h"

/* gRPC status codes */
enum {
  GRPC_OK = 0,
  GRPC_CANCELLED = 1,
  GRPC_UNKNOWN = 2,
  GRPC_INVALID_ARGUMENT = 3,
  GRPC_DEADLINE_EXCEEDED = 4,
  GRPC_NOT_FOUND = 5,
  GRPC_RESOURCE_EXHAUSTED = 8,
  GRPC_FAILED_PRECONDITION = 9,
  GRPC_UNIMPLEMENTED = 12,
  GRPC_INTERNAL = 13,
  GRPC_UNAVAILABLE = 14,
};

#define ND_GRPC_DEFAULT_MAX_MESSAGE (4u << 20)

typedef struct nd_grpc_server nd_grpc_server;
typedef struct nd_grpc_call nd_grpc_call;

/* A method handler: req/len is the request message (valid during the call only). */
typedef void (*nd_grpc_handler)(nd_grpc_call *call, const uint8_t *req, size_t len, void *data);
/* A streaming call ended (client cancel, connection closed, deadline): do not use call after. */
typedef void (*nd_grpc_close_cb)(nd_grpc_call *call, void *data);

nd_grpc_server *nd_grpc_server_new(nd_loop *loop, nd_error_t *err);
void nd_grpc_server_set_max_message(nd_grpc_server *srv, size_t bytes);
/* path: "/package.Service/Method". streaming: server-streaming response. */
int nd_grpc_server_add_method(nd_grpc_server *srv, const char *path, bool streaming,
                              nd_grpc_handler handler, void *data, nd_error_t *err);
/* Listen on a unix socket (a stale socket file is replaced; the file gets mode). */
int nd_grpc_server_listen_unix(nd_grpc_server *srv, const char *path, mode_t mode,
                               nd_error_t *err);
/* Closes every connection (streaming calls get their close callback) and the listeners; the
 * socket files are removed. */
void nd_grpc_server_free(nd_grpc_server *srv);
size_t nd_grpc_server_connections(const nd_grpc_server *srv);

/* Unary: answer with a message (status OK). Frees the call. Returns -1 when the client is gone
 * or the deadline passed (the call is freed all the same). */
int nd_grpc_call_reply(nd_grpc_call *call, const uint8_t *msg, size_t len);
/* Any call: finish with an error status (message may be NULL). Frees the call. */
int nd_grpc_call_fail(nd_grpc_call *call, int status, const char *message);
/* Streaming: send one message; returns -1 when the stream is gone. */
int nd_grpc_call_send(nd_grpc_call *call, const uint8_t *msg, size_t len);
/* Streaming: end the stream with status OK. Frees the call. */
int nd_grpc_call_finish(nd_grpc_call *call);
void nd_grpc_call_on_close(nd_grpc_call *call, nd_grpc_close_cb cb, void *data);
/* Milliseconds left before the client's deadline; 0 when it set none. */
uint64_t nd_grpc_call_deadline_ms(const nd_grpc_call *call);
const char *nd_grpc_call_method(const nd_grpc_call *call);

/* ---- wire helpers (grpc_wire.c), exposed for tests and fuzzing ---------------------------- */

/* Parse a grpc-timeout header value ("100m", "5S", "1H"): 0 with *ms, -1 when malformed. */
int nd_grpc_parse_timeout(const char *value, uint64_t *ms);
/* Format ms as a grpc-timeout value into buf (at least 16 bytes). */
void nd_grpc_format_timeout(uint64_t ms, char *buf, size_t size);
/* Percent-encode a grpc-message (malloc'd) and decode one in place. */
char *nd_grpc_percent_encode(const char *msg);
void nd_grpc_percent_decode(char *msg);

/* ---- blocking client ---------------------------------------------------------------------- */

typedef struct nd_grpc_client nd_grpc_client;

nd_grpc_client *nd_grpc_client_connect(const char *socket_path, nd_error_t *err);
void nd_grpc_client_close(nd_grpc_client *c);
/* One unary call. Returns 0 when a gRPC status arrived (see *status, *message (malloc'd or
 * NULL), *resp (malloc'd) on OK), -1 with err on a transport failure or timeout. */
int nd_grpc_client_call(nd_grpc_client *c, const char *method, const uint8_t *req, size_t len,
                        uint8_t **resp, size_t *resp_len, int timeout_ms, int *status,
                        char **message, nd_error_t *err);
/* Connect, call, close. */
int nd_grpc_call_once(const char *socket_path, const char *method, const uint8_t *req,
                      size_t len, uint8_t **resp, size_t *resp_len, int timeout_ms, int *status,
                      char **message, nd_error_t *err);

#endif
