/* backend_test_peers.c: start/stop/admin of the simulated network devices for cmocka tests;
 * see backend_test_peers.h. */
#include "backend_test_peers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "backend_http.h"
#include "cleanup.h"

static char *expand(const char *arg, const char *dir) {
  const char *at = strstr(arg, "{dir}");
  char *out = NULL;
  if (at == NULL)
    return strdup(arg);
  if (asprintf(&out, "%.*s%s%s", (int)(at - arg), arg, dir, at + 5) < 0)
    return NULL;
  return out;
}

void test_peer_start(test_peer *p, const char *script, ...) {
  memset(p, 0, sizeof(*p));
  strcpy(p->dir, "/tmp/nd-peer-XXXXXX");
  assert_non_null(mkdtemp(p->dir));
  const char *src = getenv("NETDRA_SOURCE_DIR");
  assert_non_null(src);
  char path[512], ready[128], log[128];
  snprintf(path, sizeof(path), "%s/tests/peers/%s", src, script);
  snprintf(ready, sizeof(ready), "%s/ready", p->dir);
  snprintf(log, sizeof(log), "%s/peer.log", p->dir);
  char *argv[32];
  int n = 0;
  argv[n++] = strdup("/usr/bin/python3");
  argv[n++] = strdup(path);
  argv[n++] = strdup("--listen");
  argv[n++] = strdup("127.0.0.1:0");
  argv[n++] = strdup("--ready-file");
  argv[n++] = strdup(ready);
  argv[n++] = strdup("--log");
  argv[n++] = strdup(log);
  va_list ap;
  va_start(ap, script);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && n < 30)
    argv[n++] = expand(a, p->dir);
  va_end(ap);
  argv[n] = NULL;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
      dup2(devnull, 1);
    execv(argv[0], argv);
    _exit(127);
  }
  for (int i = 0; i < n; i++)
    free(argv[i]);
  p->pid = pid;
  for (int i = 0; i < 200; i++) { /* bounded: 10 s */
    cleanup_free char *data = NULL;
    size_t len = 0;
    nd_error_t err = NULL;
    if (nd_read_file(ready, sizeof(p->url), &data, &len, &err) == 0 && len > 0) {
      data[strcspn(data, "\n")] = '\0';
      snprintf(p->url, sizeof(p->url), "%s", data);
      return;
    }
    nd_error_release(&err);
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      p->pid = 0;
      fail_msg("peer %s exited before it was ready (status %d)", script, status);
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fail_msg("peer %s did not become ready within 10 s", script);
}

void test_peer_stop(test_peer *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGTERM);
    int status;
    for (int i = 0; i < 100 && waitpid(p->pid, &status, WNOHANG) == 0; i++) {
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (waitpid(p->pid, &status, WNOHANG) == 0) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, &status, 0);
    }
    p->pid = 0;
  }
  if (p->dir[0]) {
    nd_error_t err = NULL;
    nd_remove_tree(p->dir, &err);
    nd_error_release(&err);
    p->dir[0] = '\0';
  }
}

long test_peer_call(const test_peer *p, const char *method, const char *path, const char *body,
                    json_t **reply) {
  cleanup_free char *url = nd_backend_url(p->url, path);
  cleanup_json json_t *b = body ? json_loads(body, 0, NULL) : NULL;
  assert_true(body == NULL || b != NULL);
  long status = 0;
  json_t *r = NULL;
  nd_error_t err = NULL;
  if (nd_backend_http_json("test peer", method, url, b, 10000, &status, &r, &err) < 0)
    fail_msg("%s", nd_error_msg(err));
  if (reply)
    *reply = r;
  else
    json_decref(r);
  return status;
}

int test_peer_count(const test_peer *p, const char *method, const char *path_prefix) {
  json_t *reply = NULL;
  assert_int_equal(test_peer_call(p, "GET", "/_test/requests", NULL, &reply), 200);
  int n = 0;
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(reply, "requests"), i, r) {
    const char *m = json_string_value(json_object_get(r, "method"));
    const char *path = json_string_value(json_object_get(r, "path"));
    if (strcmp(m, method) == 0 && strncmp(path, path_prefix, strlen(path_prefix)) == 0)
      n++;
  }
  json_decref(reply);
  return n;
}
