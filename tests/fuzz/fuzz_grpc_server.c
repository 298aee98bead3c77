/* fuzz_grpc_server.c: bytes from a kubelet-side peer must never crash the gRPC server or leak
 * a connection. One nd_loop + nd_grpc_server with an echo method listens on a unix socket in
 * a temporary directory (set up once); each input is written by a fresh client connection
 * (prefixed with the HTTP/2 client preface when the first byte is even), the client half-closes,
 * and the loop runs a bounded number of times until the server has dropped the connection.
 * The same bytes are then decoded as every request message of the kubelet plugin APIs
 * (protobuf-c unpack) and freed. */
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dra_health_v1.pb-c.h"
#include "dra_health_v1alpha1.pb-c.h"
#include "dra_v1.pb-c.h"
#include "dra_v1beta1.pb-c.h"
#include "grpc.h"
#include "pluginregistration.pb-c.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define MAX_ROUNDS 400

static nd_loop *loop;
static nd_grpc_server *srv;
static char sock_dir[64];
static char sock_path[100]; /* fits sun_path */

static void echo(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  (void)data;
  nd_grpc_call_reply(call, req, len);
}

/* at exit: the server removes its socket file, then the directory goes */
static void teardown(void) {
  nd_grpc_server_free(srv);
  nd_loop_free(loop);
  rmdir(sock_dir);
}

static void setup(void) {
  const char *tmp = getenv("TMPDIR");
  char *dir = sock_dir;
  if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 40)
    tmp = "/tmp"; /* keep the socket path short enough for sun_path */
  snprintf(dir, sizeof(sock_dir), "%s/nd-fuzz-grpc-XXXXXX", tmp);
  if (mkdtemp(dir) == NULL)
    abort();
  snprintf(sock_path, sizeof(sock_path), "%s/grpc.sock", dir);
  loop = nd_loop_new(NULL);
  srv = loop ? nd_grpc_server_new(loop, NULL) : NULL;
  if (srv == NULL)
    abort();
  nd_grpc_server_set_max_message(srv, 64 * 1024);
  if (nd_grpc_server_add_method(srv, "/fuzz.Echo/Echo", false, echo, NULL, NULL) < 0 ||
      nd_grpc_server_listen_unix(srv, sock_path, 0600, NULL) < 0)
    abort();
  atexit(teardown);
}

static void feed_server(const uint8_t *data, size_t size) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    abort();
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    abort();
  size_t preface = (size > 0 && data[0] % 2 == 0) ? strlen(PREFACE) : 0;
  size_t off = 0, total = preface + size;
  bool eof = false, half_closed = false;
  char buf[16384];
  for (int round = 0; round < MAX_ROUNDS && !eof; round++) {
    while (off < total) {
      ssize_t w = off < preface ? write(fd, &PREFACE[off], preface - off)
                                : write(fd, data + (off - preface), total - off);
      if (w <= 0)
        break;
      off += (size_t)w;
    }
    if (off >= total && !half_closed) {
      shutdown(fd, SHUT_WR);
      half_closed = true;
    }
    if (nd_loop_run_once(loop, 1, NULL) < 0)
      abort();
    for (;;) {
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r > 0)
        continue;
      if (r == 0 || (errno != EAGAIN && errno != EINTR))
        eof = true; /* the server closed (or reset) the connection */
      break;
    }
  }
  close(fd);
  /* the server must let go of the connection once the peer is gone */
  for (int round = 0; round < MAX_ROUNDS && nd_grpc_server_connections(srv) > 0; round++)
    if (nd_loop_run_once(loop, 1, NULL) < 0)
      abort();
  if (nd_grpc_server_connections(srv) != 0)
    abort();
}

static void decode_messages(const uint8_t *data, size_t size) {
  static const ProtobufCMessageDescriptor *const descriptors[] = {
      &k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__descriptor,
      &k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__descriptor,
      &k8s__io__kubelet__pkg__apis__dra__v1beta1__node_prepare_resources_request__descriptor,
      &k8s__io__kubelet__pkg__apis__dra__v1beta1__node_unprepare_resources_request__descriptor,
      &v1__node_watch_resources_request__descriptor,
      &v1alpha1__node_watch_resources_request__descriptor,
      &pluginregistration__info_request__descriptor,
      &pluginregistration__registration_status__descriptor,
  };
  for (size_t i = 0; i < sizeof(descriptors) / sizeof(descriptors[0]); i++) {
    ProtobufCMessage *m = protobuf_c_message_unpack(descriptors[i], NULL, size, data);
    if (m != NULL) {
      size_t n = protobuf_c_message_get_packed_size(m);
      uint8_t *out = malloc(n ? n : 1);
      if (out != NULL && protobuf_c_message_pack(m, out) != n)
        abort();
      free(out);
      protobuf_c_message_free_unpacked(m, NULL);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (srv == NULL)
    setup();
  feed_server(data, size);
  decode_messages(data, size);
  return 0;
}
