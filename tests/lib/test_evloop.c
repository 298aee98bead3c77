/* test_evloop.c: fds, one-shot and periodic timers, signals and deferred calls on one loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "cleanup.h"
#include "evloop.h"

typedef struct {
  int reads, ticks, oneshots, signals, defers;
  nd_timer *periodic;
} counters;

static void on_read(nd_loop *loop, int fd, uint32_t events, void *data) {
  counters *c = data;
  char b[16];
  if (read(fd, b, sizeof(b)) > 0)
    c->reads++;
}
static void on_tick(nd_loop *loop, nd_timer *t, void *data) {
  counters *c = data;
  if (++c->ticks == 3)
    nd_loop_del_timer(loop, t);
}
static void on_oneshot(nd_loop *loop, nd_timer *t, void *data) { ((counters *)data)->oneshots++; }
static void on_signal(nd_loop *loop, int signo, void *data) {
  ((counters *)data)->signals++;
  nd_loop_stop(loop);
}
static void on_defer(nd_loop *loop, void *data) { ((counters *)data)->defers++; }

static void test_loop(void **state) {
  (void)state;
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  assert_non_null(loop);
  counters c = {0};
  int p[2];
  assert_int_equal(pipe(p), 0);
  nd_watch *w = nd_loop_add_fd(loop, p[0], EPOLLIN, on_read, &c, &err);
  assert_non_null(w);
  assert_non_null(nd_loop_add_timer(loop, 5, 5, on_tick, &c, &err));
  nd_timer *once = nd_loop_add_timer(loop, 0, 0, on_oneshot, &c, &err);
  assert_non_null(once);
  assert_int_equal(nd_loop_add_signal(loop, SIGUSR1, on_signal, &c, &err), 0);
  nd_loop_defer(loop, on_defer, &c);
  assert_int_equal(write(p[1], "x", 1), 1);
  uint64_t start = nd_now_ms();
  while (c.ticks < 3 && nd_now_ms() - start < 2000)
    assert_int_equal(nd_loop_run_once(loop, 50, &err), 0);
  assert_int_equal(c.reads, 1);
  assert_int_equal(c.ticks, 3);
  assert_int_equal(c.oneshots, 1);
  assert_false(nd_timer_armed(once));
  assert_int_equal(c.defers, 1);
  kill(getpid(), SIGUSR1);
  assert_int_equal(nd_loop_run(loop, &err), 0);
  assert_int_equal(c.signals, 1);
  nd_loop_del_fd(loop, w);
  nd_loop_del_timer(loop, once);
  nd_loop_free(loop);
  close(p[0]);
  close(p[1]);
}

static int posted;
static void on_post(nd_loop *loop, void *data) {
  if (++posted == 100)
    nd_loop_stop(loop);
}
static void *poster(void *arg) {
  for (int i = 0; i < 100; i++)
    nd_loop_post(arg, on_post, NULL);
  return NULL;
}

static void test_post_from_thread(void **state) {
  (void)state;
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  pthread_t th;
  pthread_create(&th, NULL, poster, loop);
  assert_int_equal(nd_loop_run(loop, &err), 0);
  pthread_join(th, NULL);
  assert_int_equal(posted, 100);
  nd_loop_free(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_loop),
                                     cmocka_unit_test(test_post_from_thread)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
