/* test_http_endpoint.c: the HTTP endpoint over real loopback sockets: routes, 404/405/413/
 * 408/400, HEAD, keep-alive, pipelining, HTTP/1.0, many concurrent connections, /metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "evloop.h"
#include "http_endpoint.h"
#include "metrics.h"

typedef struct {
  nd_loop *loop;
  nd_http_server *srv;
  nd_metrics *reg;
  pthread_t thread;
  atomic_bool ready;
} fixture;

static int healthz(const char *method, const char *path, nd_http_response *resp, void *data) {
  resp->body = strdup("ok\n");
  return 0;
}

static int readyz(const char *method, const char *path, nd_http_response *resp, void *data) {
  fixture *f = data;
  if (!atomic_load(&f->ready)) {
    resp->status = 503;
    resp->body = strdup("not ready: no leader\n");
  } else {
    resp->body = strdup("ok\n");
  }
  return 0;
}

static int broken(const char *method, const char *path, nd_http_response *resp, void *data) {
  return -1;
}

static void *run_loop(void *data) {
  fixture *f = data;
  nd_error_t err = NULL;
  nd_loop_run(f->loop, &err);
  nd_error_release(&err);
  return NULL;
}

static void stop_loop(nd_loop *loop, void *data) { nd_loop_stop(loop); }

static int setup_with_timeout(void **state, uint64_t timeout_ms) {
  fixture *f = calloc(1, sizeof(*f));
  nd_error_t err = NULL;
  f->loop = nd_loop_new(&err);
  assert_non_null(f->loop);
  f->srv = nd_http_server_new(f->loop, &err);
  f->reg = nd_metrics_new();
  nd_metric *c = nd_metrics_counter(f->reg, "netdra_test_total", "Test counter.", NULL, NULL);
  nd_metric_add(c, NULL, 7);
  nd_http_limits limits = {.max_request = 1024, .timeout_ms = timeout_ms, .max_conns = 64,
                           .keep_alive = true};
  nd_http_server_set_limits(f->srv, &limits);
  assert_int_equal(nd_http_server_handle(f->srv, "/healthz", healthz, f, &err), 0);
  assert_int_equal(nd_http_server_handle(f->srv, "/readyz", readyz, f, &err), 0);
  assert_int_equal(nd_http_server_handle(f->srv, "/broken", broken, f, &err), 0);
  assert_int_equal(nd_http_server_handle_metrics(f->srv, "/metrics", f->reg, &err), 0);
  assert_int_equal(nd_http_server_handle(f->srv, "/healthz", healthz, f, &err), -1);
  nd_error_release(&err);
  if (nd_http_server_listen(f->srv, "127.0.0.1", 0, &err) < 0)
    fail_msg("%s", nd_error_msg(err));
  assert_true(nd_http_server_port(f->srv) > 0);
  pthread_create(&f->thread, NULL, run_loop, f);
  *state = f;
  return 0;
}

/* generous timeout: nothing in these tests may depend on the machine's speed */
static int setup(void **state) { return setup_with_timeout(state, 10000); }
/* short timeout for the 408 and idle keep-alive checks */
static int setup_fast(void **state) { return setup_with_timeout(state, 300); }

static int teardown(void **state) {
  fixture *f = *state;
  nd_loop_post(f->loop, stop_loop, NULL);
  pthread_join(f->thread, NULL);
  nd_http_server_free(f->srv);
  nd_loop_free(f->loop);
  nd_metrics_free(f->reg);
  free(f);
  return 0;
}

static int connect_to(fixture *f) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(nd_http_server_port(f->srv))};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  return fd;
}

static void send_all(int fd, const char *s, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
    assert_true(n > 0);
    s += n;
    len -= (size_t)n;
  }
}

/* Read until EOF (or 5 s); returns everything. */
static char *read_all(int fd) {
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0)
      break;
    ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
    if (n <= 0)
      break;
    len += (size_t)n;
    if (len + 1 >= cap)
      break;
  }
  buf[len] = '\0';
  return buf;
}

/* Read exactly one response (headers + Content-Length body). */
static char *read_response(int fd) {
  size_t cap = 65536, len = 0;
  char *buf = calloc(1, cap);
  for (;;) {
    char *end = strstr(buf, "\r\n\r\n");
    if (end != NULL) {
      const char *cl = strstr(buf, "Content-Length: ");
      size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
      bool head = strstr(buf, "X-Head-Request") != NULL;
      size_t want = (size_t)(end + 4 - buf) + (head ? 0 : body);
      if (len >= want) {
        buf[want] = '\0';
        return buf;
      }
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0)
      fail_msg("timeout reading a response; got \"%s\"", buf);
    ssize_t n = recv(fd, buf + len, 1, 0); /* byte by byte: never read past one response */
    if (n <= 0)
      fail_msg("connection closed; got \"%s\"", buf);
    len += (size_t)n;
  }
}

static char *request(fixture *f, const char *req) {
  int fd = connect_to(f);
  send_all(fd, req, strlen(req));
  char *resp = read_all(fd);
  close(fd);
  return resp;
}

static void test_routes(void **state) {
  fixture *f = *state;
  cleanup_free char *ok = request(f, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert_string_equal(ok, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: 3\r\nConnection: close\r\n\r\nok\n");
  cleanup_free char *q = request(f, "GET /healthz?verbose=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_non_null(strstr(q, "200 OK"));
  cleanup_free char *nf = request(f, "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_non_null(strstr(nf, "HTTP/1.1 404 Not Found\r\n"));
  cleanup_free char *na = request(f, "POST /healthz HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  assert_non_null(strstr(na, "HTTP/1.1 405 Method Not Allowed\r\n"));
  assert_non_null(strstr(na, "Allow: GET, HEAD\r\n"));
  cleanup_free char *bad = request(f, "GARBAGE\r\n\r\n");
  assert_non_null(strstr(bad, "HTTP/1.1 400 Bad Request\r\n"));
  cleanup_free char *v2 = request(f, "GET /healthz HTTP/2.0\r\n\r\n");
  assert_non_null(strstr(v2, "HTTP/1.1 400 Bad Request\r\n"));
  cleanup_free char *err = request(f, "GET /broken HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_non_null(strstr(err, "HTTP/1.1 500 Internal Server Error\r\n"));
  cleanup_free char *head = request(f, "HEAD /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_string_equal(head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                            "Content-Length: 3\r\nConnection: close\r\n\r\n");
  /* readiness flips */
  cleanup_free char *nr = request(f, "GET /readyz HTTP/1.0\r\n\r\n");
  assert_non_null(strstr(nr, "HTTP/1.1 503 Service Unavailable\r\n"));
  assert_non_null(strstr(nr, "not ready: no leader\n"));
  atomic_store(&f->ready, true);
  cleanup_free char *r = request(f, "GET /readyz HTTP/1.0\r\n\r\n"); /* 1.0: closes by itself */
  assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(r, "Connection: close\r\n"));
  /* metrics */
  cleanup_free char *m = request(f, "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_non_null(strstr(m, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  assert_non_null(strstr(m, "\r\n\r\n# HELP netdra_test_total Test counter.\n"
                            "# TYPE netdra_test_total counter\nnetdra_test_total 7\n"));
}

static void test_keep_alive_and_pipelining(void **state) {
  fixture *f = *state;
  int fd = connect_to(f);
  for (int i = 0; i < 3; i++) {
    send_all(fd, "GET /healthz HTTP/1.1\r\n\r\n", 25);
    cleanup_free char *resp = read_response(fd);
    assert_non_null(strstr(resp, "Connection: keep-alive\r\n"));
    assert_non_null(strstr(resp, "\r\n\r\nok\n"));
  }
  /* three pipelined requests in one write, the last one closes */
  static const char pipelined[] = "GET /healthz HTTP/1.1\r\n\r\n"
                                  "GET /nope HTTP/1.1\n\n"
                                  "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n";
  send_all(fd, pipelined, strlen(pipelined));
  cleanup_free char *all = read_all(fd); /* ends at EOF: the server closed */
  char *first = strstr(all, "200 OK"), *second = strstr(all, "404 Not Found"),
       *third = strstr(all, "netdra_test_total 7");
  assert_non_null(first);
  assert_non_null(second);
  assert_non_null(third);
  assert_true(first < second && second < third);
  close(fd);
}

static void test_limits(void **state) {
  fixture *f = *state;
  /* request head over 1024 bytes: 413 */
  char big[2048];
  int n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nX-Pad: ");
  memset(big + n, 'a', sizeof(big) - (size_t)n - 1);
  big[sizeof(big) - 1] = '\0';
  cleanup_free char *tl = request(f, big);
  assert_non_null(strstr(tl, "HTTP/1.1 413 Payload Too Large\r\n"));
  /* incomplete request: 408 after the 300 ms timeout */
  int fd = connect_to(f);
  send_all(fd, "GET /healthz HTTP/1.1\r\n", 23);
  uint64_t start = nd_now_ms();
  cleanup_free char *to = read_all(fd);
  uint64_t waited = nd_now_ms() - start;
  close(fd);
  assert_non_null(strstr(to, "HTTP/1.1 408 Request Timeout\r\n"));
  assert_true(waited >= 250 && waited < 4000);
  /* idle keep-alive connection: closed silently */
  fd = connect_to(f);
  send_all(fd, "GET /healthz HTTP/1.1\r\n\r\n", 25);
  cleanup_free char *one = read_response(fd);
  assert_non_null(strstr(one, "200 OK"));
  cleanup_free char *rest = read_all(fd);
  assert_string_equal(rest, "");
  close(fd);
}

static void test_many_connections(void **state) {
  fixture *f = *state;
  enum { N = 40 };
  int fds[N];
  for (int i = 0; i < N; i++)
    fds[i] = connect_to(f);
  for (int i = N - 1; i >= 0; i--)
    send_all(fds[i], "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 45);
  for (int i = 0; i < N; i++) {
    cleanup_free char *resp = read_all(fds[i]);
    assert_non_null(strstr(resp, "\r\n\r\nok\n"));
    close(fds[i]);
  }
  /* over the connection limit (64): 503 for the extra ones */
  enum { M = 70 };
  int more[M];
  for (int i = 0; i < M; i++)
    more[i] = connect_to(f);
  /* before any request: the server answers the ones beyond its limit by itself */
  int readable = 0;
  for (int round = 0; round < 1000 && readable < M - 64; round++) {
    struct pollfd p[M];
    for (int i = 0; i < M; i++)
      p[i] = (struct pollfd){.fd = more[i], .events = POLLIN};
    readable = poll(p, M, 10);
  }
  assert_int_equal(readable, M - 64);
  int busy = 0;
  for (int i = 0; i < M; i++)
    send(more[i], "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 45, MSG_NOSIGNAL);
  for (int i = 0; i < M; i++) {
    cleanup_free char *resp = read_all(more[i]);
    if (strstr(resp, "503 Service Unavailable"))
      busy++;
    else
      assert_non_null(strstr(resp, "200 OK"));
    close(more[i]);
  }
  assert_int_equal(busy, M - 64);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *data) {
  FILE *f = data;
  return fwrite(ptr, size, nmemb, f);
}

/* A real HTTP client (libcurl): two GETs on one handle reuse one keep-alive connection. */
static void test_curl_client(void **state) {
  fixture *f = *state;
  CURL *curl = curl_easy_init();
  assert_non_null(curl);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", nd_http_server_port(f->srv));
  long connects_total = 0;
  for (int i = 0; i < 2; i++) {
    char *body = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&body, &len);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    fclose(mem);
    long code = 0, connects = 0;
    char *ctype = NULL;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
    assert_int_equal(code, 200);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(body, "netdra_test_total 7\n"));
    connects_total += connects;
    free(body);
  }
  assert_int_equal(connects_total, 1); /* the second request reused the connection */
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/missing", nd_http_server_port(f->srv));
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, NULL);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, stderr);
  assert_int_equal(curl_easy_perform(curl), CURLE_OK);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  assert_int_equal(code, 404);
  curl_easy_cleanup(curl);
}

static void test_listen_errors(void **state) {
  (void)state;
  nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_http_server *s = nd_http_server_new(loop, &err);
  assert_int_equal(nd_http_server_listen_addr(s, "localhost", &err), -1);
  assert_string_equal(nd_error_msg(err), "http server: address \"localhost\": expected host:port");
  nd_error_release(&err);
  assert_int_equal(nd_http_server_listen_addr(s, "127.0.0.1:99999", &err), -1);
  nd_error_release(&err);
  assert_int_equal(nd_http_server_listen(s, "not-an-ip", 0, &err), -1);
  nd_error_release(&err);
  assert_int_equal(nd_http_server_listen_addr(s, "[::1]:0", &err), 0);
  assert_true(nd_http_server_port(s) > 0);
  nd_http_server_free(s);
  nd_loop_free(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keep_alive_and_pipelining, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits, setup_fast, teardown),
      cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_curl_client, setup, teardown),
      cmocka_unit_test(test_listen_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
