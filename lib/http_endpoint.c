/* http_endpoint.c: minimal non-blocking HTTP/1.1 server for metrics and health checks on
 * nd_loop; behaviour in http_endpoint.h. */
#include "http_endpoint.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

typedef struct route {
  char *path;
  nd_http_handler handler;
  void *data;
  struct route *next;
} route;

typedef struct conn {
  nd_http_server *srv;
  int fd;
  nd_watch *watch;
  nd_timer *timer;
  char *in;
  size_t in_len;
  char *out;
  size_t out_len, out_off;
  bool close_after;
  bool writing;
  struct conn *prev, *next;
} conn;

struct nd_http_server {
  nd_loop *loop;
  nd_http_limits limits;
  int listen_fd;
  nd_watch *listen_watch;
  uint16_t port;
  route *routes;
  conn *conns;
  size_t nconns;
};

nd_http_server *nd_http_server_new(nd_loop *loop, nd_error_t *err) {
  nd_http_server *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return nd_error_make(err, ENOMEM, "http server: out of memory"), NULL;
  s->loop = loop;
  s->listen_fd = -1;
  s->limits = (nd_http_limits){.max_request = 8192, .timeout_ms = 10000, .max_conns = 256,
                               .keep_alive = true};
  return s;
}

void nd_http_server_set_limits(nd_http_server *s, const nd_http_limits *l) {
  if (l->max_request)
    s->limits.max_request = l->max_request;
  if (l->timeout_ms)
    s->limits.timeout_ms = l->timeout_ms;
  if (l->max_conns)
    s->limits.max_conns = l->max_conns;
  s->limits.keep_alive = l->keep_alive;
}

int nd_http_server_handle(nd_http_server *s, const char *path, nd_http_handler handler,
                          void *data, nd_error_t *err) {
  if (path == NULL || path[0] != '/' || handler == NULL)
    return nd_error_make(err, EINVAL, "http server: route \"%s\": path must start with '/'",
                         path ? path : "");
  for (route *r = s->routes; r; r = r->next)
    if (strcmp(r->path, path) == 0)
      return nd_error_make(err, EEXIST, "http server: route %s registered twice", path);
  route *r = calloc(1, sizeof(*r));
  if (r == NULL || (r->path = strdup(path)) == NULL)
    abort();
  r->handler = handler;
  r->data = data;
  r->next = s->routes;
  s->routes = r;
  return 0;
}

static int metrics_handler(const char *method, const char *path, nd_http_response *resp,
                           void *data) {
  resp->content_type = ND_METRICS_CONTENT_TYPE;
  resp->body = nd_metrics_render(data);
  return resp->body ? 0 : -1;
}

int nd_http_server_handle_metrics(nd_http_server *s, const char *path, nd_metrics *reg,
                                  nd_error_t *err) {
  return nd_http_server_handle(s, path, metrics_handler, reg, err);
}

uint16_t nd_http_server_port(const nd_http_server *s) { return s->port; }
size_t nd_http_server_connections(const nd_http_server *s) { return s->nconns; }

/* ---- connections ---- */

static void conn_close(conn *c) {
  nd_http_server *s = c->srv;
  if (c->watch)
    nd_loop_del_fd(s->loop, c->watch);
  if (c->timer)
    nd_loop_del_timer(s->loop, c->timer);
  close(c->fd);
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  s->nconns--;
  free(c->in);
  free(c->out);
  free(c);
}

static const char *status_text(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Payload Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Status";
  }
}

/* Queue a response (replaces nothing: called only when out is empty). */
static void queue_response(conn *c, int status, const char *content_type, const char *body,
                           size_t body_len, bool head, const char *extra_header) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    abort();
  fprintf(f,
          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n%s\r\n",
          status, status_text(status), content_type, body_len,
          c->close_after ? "close" : "keep-alive", extra_header ? extra_header : "");
  if (!head && body_len > 0)
    fwrite(body, 1, body_len, f);
  fclose(f);
  free(c->out);
  c->out = text;
  c->out_len = len;
  c->out_off = 0;
}

static void queue_error(conn *c, int status, const char *extra_header) {
  char body[64];
  int n = snprintf(body, sizeof(body), "%d %s\n", status, status_text(status));
  queue_response(c, status, "text/plain; charset=utf-8", body, (size_t)n, false, extra_header);
}

static bool header_has(const char *head, size_t head_len, const char *name, const char *token) {
  size_t nlen = strlen(name);
  const char *p = memchr(head, '\n', head_len);
  const char *end = head + head_len;
  while (p != NULL && p + 1 < end) {
    const char *line = p + 1;
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (eol == NULL)
      eol = end;
    if ((size_t)(eol - line) > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
      if (token == NULL)
        return true;
      size_t vlen = (size_t)(eol - line) - nlen - 1;
      char value[256];
      if (vlen >= sizeof(value))
        vlen = sizeof(value) - 1;
      memcpy(value, line + nlen + 1, vlen);
      value[vlen] = '\0';
      if (strcasestr(value, token) != NULL)
        return true;
    }
    p = eol < end ? eol : NULL;
  }
  return false;
}

/* Handle the request head in[0..head_len); queue its response. */
static void handle_request(conn *c, const char *head, size_t head_len) {
  nd_http_server *s = c->srv;
  const char *eol = memchr(head, '\n', head_len);
  size_t line_len = eol ? (size_t)(eol - head) : head_len;
  if (line_len > 0 && head[line_len - 1] == '\r')
    line_len--;
  char line[8192];
  if (line_len >= sizeof(line))
    line_len = sizeof(line) - 1;
  memcpy(line, head, line_len);
  line[line_len] = '\0';
  char *save = NULL;
  char *method = strtok_r(line, " ", &save);
  char *target = strtok_r(NULL, " ", &save);
  char *version = strtok_r(NULL, " ", &save);
  char *extra = strtok_r(NULL, " ", &save);
  if (method == NULL || target == NULL || version == NULL || extra != NULL ||
      strncmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1') ||
      version[8] != '\0' || target[0] != '/') {
    c->close_after = true;
    queue_error(c, 400, NULL);
    return;
  }
  bool http10 = version[7] == '0';
  if (!s->limits.keep_alive || header_has(head, head_len, "Connection", "close") ||
      (http10 && !header_has(head, head_len, "Connection", "keep-alive")))
    c->close_after = true;
  /* no request bodies: we cannot find the next request after one */
  if ((header_has(head, head_len, "Content-Length", NULL) &&
       !header_has(head, head_len, "Content-Length", ": 0") &&
       !header_has(head, head_len, "Content-Length", ":0")) ||
      header_has(head, head_len, "Transfer-Encoding", NULL))
    c->close_after = true;
  char *query = strchr(target, '?');
  if (query)
    *query = '\0';
  route *r = s->routes;
  while (r && strcmp(r->path, target) != 0)
    r = r->next;
  if (r == NULL) {
    queue_error(c, 404, NULL);
    return;
  }
  bool head_only = strcmp(method, "HEAD") == 0;
  if (!head_only && strcmp(method, "GET") != 0) {
    queue_error(c, 405, "Allow: GET, HEAD\r\n");
    return;
  }
  nd_http_response resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
  if (r->handler(method, target, &resp, r->data) < 0) {
    free(resp.body);
    queue_error(c, 500, NULL);
    return;
  }
  size_t len = resp.body ? (resp.body_len ? resp.body_len : strlen(resp.body)) : 0;
  queue_response(c, resp.status, resp.content_type, resp.body, len, head_only, NULL);
  free(resp.body);
}

static const char *find_head_end(const char *buf, size_t len, size_t *head_len) {
  for (size_t i = 0; i + 1 < len; i++) {
    if (buf[i] == '\n' && buf[i + 1] == '\n') {
      *head_len = i + 2;
      return buf + i;
    }
    if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0) {
      *head_len = i + 4;
      return buf + i;
    }
  }
  return NULL;
}

static void set_writing(conn *c, bool writing) {
  if (c->writing == writing)
    return;
  c->writing = writing;
  nd_loop_mod_fd(c->srv->loop, c->watch, writing ? EPOLLOUT : EPOLLIN, NULL);
}

static void restart_timer(conn *c) {
  nd_timer_rearm(c->timer, c->srv->limits.timeout_ms, 0);
}

static bool process(conn *c);

/* Write pending output; false when the connection was closed. */
static bool flush(conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        set_writing(c, true);
        return true;
      }
      if (errno == EINTR)
        continue;
      conn_close(c);
      return false;
    }
    c->out_off += (size_t)n;
  }
  free(c->out);
  c->out = NULL;
  c->out_len = c->out_off = 0;
  if (c->close_after) {
    conn_close(c);
    return false;
  }
  set_writing(c, false);
  restart_timer(c);
  return true;
}

/* Answer every complete request in the buffer; false when closed. */
static bool process(conn *c) {
  while (c->out == NULL && !c->close_after) {
    size_t head_len = 0;
    if (find_head_end(c->in, c->in_len, &head_len) == NULL) {
      if (c->in_len >= c->srv->limits.max_request) {
        c->close_after = true;
        queue_error(c, 413, NULL);
        return flush(c);
      }
      return true;
    }
    handle_request(c, c->in, head_len);
    memmove(c->in, c->in + head_len, c->in_len - head_len);
    c->in_len -= head_len;
    if (!flush(c))
      return false;
  }
  return true;
}

static void on_conn_io(nd_loop *loop, int fd, uint32_t events, void *data) {
  conn *c = data;
  if (events & EPOLLOUT) {
    if (!flush(c))
      return;
    if (!process(c))
      return;
    if (c->writing)
      return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    size_t room = c->srv->limits.max_request - c->in_len;
    if (room == 0) /* full: process() answered 413 or waits for output */
      return;
    ssize_t n = recv(fd, c->in + c->in_len, room, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      conn_close(c);
      return;
    }
    if (n > 0) {
      c->in_len += (size_t)n;
      process(c);
    }
  }
}

static void on_conn_timeout(nd_loop *loop, nd_timer *timer, void *data) {
  conn *c = data;
  if (c->in_len == 0 || c->out != NULL) { /* idle keep-alive, or a client that never reads */
    conn_close(c);
    return;
  }
  c->close_after = true;
  c->in_len = 0;
  queue_error(c, 408, NULL);
  restart_timer(c); /* a client that does not read the 408 is dropped at the next expiry */
  flush(c);
}

static void on_accept(nd_loop *loop, int fd, uint32_t events, void *data) {
  nd_http_server *s = data;
  for (int i = 0; i < 64; i++) {
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        ND_LOG_WARN("http", "accept_failed", ND_KV_S("error", strerror(errno)));
      return;
    }
    if (s->nconns >= s->limits.max_conns) {
      static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; "
                                 "charset=utf-8\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"
                                 "503 Service Unavailable\n";
      ssize_t ignored = send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
      (void)ignored;
      close(cfd);
      continue;
    }
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->in = malloc(s->limits.max_request)) == NULL)
      abort();
    c->srv = s;
    c->fd = cfd;
    nd_error_t err = NULL;
    c->watch = nd_loop_add_fd(loop, cfd, EPOLLIN, on_conn_io, c, &err);
    if (c->watch != NULL)
      c->timer = nd_loop_add_timer(loop, s->limits.timeout_ms, 0, on_conn_timeout, c, &err);
    if (c->watch == NULL || c->timer == NULL) {
      ND_LOG_WARN("http", "connection_setup_failed", ND_KV_S("error", nd_error_msg(err)));
      nd_error_release(&err);
      if (c->watch)
        nd_loop_del_fd(loop, c->watch);
      close(cfd);
      free(c->in);
      free(c);
      continue;
    }
    c->next = s->conns;
    if (s->conns)
      s->conns->prev = c;
    s->conns = c;
    s->nconns++;
  }
}

int nd_http_server_listen(nd_http_server *s, const char *host, uint16_t port, nd_error_t *err) {
  if (s->listen_fd >= 0)
    return nd_error_make(err, EBUSY, "http server: already listening on port %u", s->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  char portstr[8];
  snprintf(portstr, sizeof(portstr), "%u", port);
  int rc = getaddrinfo(host, portstr, &hints, &ai);
  if (rc != 0)
    return nd_error_make(err, EINVAL, "http server: address \"%s\": %s", host ? host : "",
                         gai_strerror(rc));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    freeaddrinfo(ai);
    return nd_error_make(err, e, "http server: socket: %s", strerror(e));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
    int e = errno;
    freeaddrinfo(ai);
    close(fd);
    return nd_error_make(err, e, "http server: listen on %s port %u: %s", host, port, strerror(e));
  }
  freeaddrinfo(ai);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
  s->listen_watch = nd_loop_add_fd(s->loop, fd, EPOLLIN, on_accept, s, err);
  if (s->listen_watch == NULL) {
    close(fd);
    return -1;
  }
  s->listen_fd = fd;
  return 0;
}

int nd_http_server_listen_addr(nd_http_server *s, const char *addr, nd_error_t *err) {
  const char *colon = addr ? strrchr(addr, ':') : NULL;
  if (colon == NULL)
    return nd_error_make(err, EINVAL, "http server: address \"%s\": expected host:port",
                         addr ? addr : "");
  char host[128];
  size_t hlen = (size_t)(colon - addr);
  if (hlen >= sizeof(host))
    return nd_error_make(err, EINVAL, "http server: address \"%s\": host too long", addr);
  memcpy(host, addr, hlen);
  host[hlen] = '\0';
  if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
    memmove(host, host + 1, hlen - 2);
    host[hlen - 2] = '\0';
  }
  char *end = NULL;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535)
    return nd_error_make(err, EINVAL, "http server: address \"%s\": bad port", addr);
  return nd_http_server_listen(s, host[0] ? host : "0.0.0.0", (uint16_t)port, err);
}

void nd_http_server_free(nd_http_server *s) {
  if (s == NULL)
    return;
  while (s->conns)
    conn_close(s->conns);
  if (s->listen_watch)
    nd_loop_del_fd(s->loop, s->listen_watch);
  if (s->listen_fd >= 0)
    close(s->listen_fd);
  route *r = s->routes;
  while (r) {
    route *next = r->next;
    free(r->path);
    free(r);
    r = next;
  }
  free(s);
}
