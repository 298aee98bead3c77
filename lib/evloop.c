/* evloop.c: epoll event loop with timerfd timers, signalfd signals and deferred calls. */
#include "evloop.h"

#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIGNALS 8

typedef enum { SRC_FD, SRC_TIMER, SRC_SIGNAL, SRC_POST } source_kind;

struct nd_watch {
  source_kind kind; /* must be first: epoll data points at either struct */
  int fd;
  nd_fd_cb cb;
  void *data;
  bool dead;
  nd_watch *next_dead;
};

struct nd_timer {
  source_kind kind;
  int fd;
  nd_timer_cb cb;
  void *data;
  bool dead;
  bool armed;
  nd_timer *next_dead;
  nd_loop *loop;
};

typedef struct defer_item {
  nd_defer_cb cb;
  void *data;
  struct defer_item *next;
} defer_item;

struct nd_loop {
  int epfd;
  bool stop;
  source_kind signal_kind; /* epoll data target for the signalfd */
  int sigfd;
  sigset_t sigmask;
  struct {
    int signo;
    nd_signal_cb cb;
    void *data;
  } signals[MAX_SIGNALS];
  int nsignals;
  defer_item *defer_head, *defer_tail;
  nd_watch *dead_watches;
  nd_timer *dead_timers;
  source_kind post_kind; /* epoll data target for the eventfd */
  int postfd;
  pthread_mutex_t post_lock;
  defer_item *post_head, *post_tail;
};

uint64_t nd_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t nd_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

nd_loop *nd_loop_new(nd_error_t *err) {
  nd_loop *loop = calloc(1, sizeof(*loop));
  if (loop == NULL) {
    nd_error_make(err, ENOMEM, "allocating event loop");
    return NULL;
  }
  loop->sigfd = -1;
  loop->signal_kind = SRC_SIGNAL;
  loop->post_kind = SRC_POST;
  pthread_mutex_init(&loop->post_lock, NULL);
  sigemptyset(&loop->sigmask);
  loop->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (loop->epfd < 0) {
    nd_error_make(err, errno, "epoll_create1: %s", strerror(errno));
    free(loop);
    return NULL;
  }
  loop->postfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &loop->post_kind};
  if (loop->postfd < 0 || epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->postfd, &ev) < 0) {
    nd_error_make(err, errno, "eventfd: %s", strerror(errno));
    if (loop->postfd >= 0)
      close(loop->postfd);
    close(loop->epfd);
    free(loop);
    return NULL;
  }
  return loop;
}

static void reap(nd_loop *loop) {
  while (loop->dead_watches) {
    nd_watch *w = loop->dead_watches;
    loop->dead_watches = w->next_dead;
    free(w);
  }
  while (loop->dead_timers) {
    nd_timer *t = loop->dead_timers;
    loop->dead_timers = t->next_dead;
    free(t);
  }
}

void nd_loop_free(nd_loop *loop) {
  if (loop == NULL)
    return;
  while (loop->defer_head) {
    defer_item *d = loop->defer_head;
    loop->defer_head = d->next;
    free(d);
  }
  while (loop->post_head) {
    defer_item *d = loop->post_head;
    loop->post_head = d->next;
    free(d);
  }
  reap(loop);
  close(loop->postfd);
  pthread_mutex_destroy(&loop->post_lock);
  if (loop->sigfd >= 0) {
    close(loop->sigfd);
    sigprocmask(SIG_UNBLOCK, &loop->sigmask, NULL);
  }
  close(loop->epfd);
  free(loop);
}

void nd_loop_stop(nd_loop *loop) { loop->stop = true; }
bool nd_loop_stopping(const nd_loop *loop) { return loop->stop; }

nd_watch *nd_loop_add_fd(nd_loop *loop, int fd, uint32_t events, nd_fd_cb cb, void *data,
                         nd_error_t *err) {
  nd_watch *w = calloc(1, sizeof(*w));
  if (w == NULL) {
    nd_error_make(err, ENOMEM, "allocating fd watch");
    return NULL;
  }
  w->kind = SRC_FD;
  w->fd = fd;
  w->cb = cb;
  w->data = data;
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    nd_error_make(err, errno, "epoll_ctl add fd %d: %s", fd, strerror(errno));
    free(w);
    return NULL;
  }
  return w;
}

int nd_loop_mod_fd(nd_loop *loop, nd_watch *w, uint32_t events, nd_error_t *err) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
    return nd_error_make(err, errno, "epoll_ctl mod fd %d: %s", w->fd, strerror(errno));
  return 0;
}

void nd_loop_del_fd(nd_loop *loop, nd_watch *w) {
  if (w == NULL || w->dead)
    return;
  epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
  w->dead = true;
  w->next_dead = loop->dead_watches;
  loop->dead_watches = w;
}

static void ms_to_timespec(uint64_t ms, struct timespec *ts) {
  ts->tv_sec = (time_t)(ms / 1000);
  ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

int nd_timer_rearm(nd_timer *t, uint64_t delay_ms, uint64_t interval_ms) {
  struct itimerspec its = {0};
  /* 0 would disarm; a 1 ns expiry fires on the next loop iteration */
  if (delay_ms == 0)
    its.it_value.tv_nsec = 1;
  else
    ms_to_timespec(delay_ms, &its.it_value);
  ms_to_timespec(interval_ms, &its.it_interval);
  if (timerfd_settime(t->fd, 0, &its, NULL) < 0)
    return -1;
  t->armed = true;
  return 0;
}

void nd_timer_disarm(nd_timer *t) {
  struct itimerspec its = {0};
  timerfd_settime(t->fd, 0, &its, NULL);
  t->armed = false;
}

bool nd_timer_armed(const nd_timer *t) { return t->armed; }

nd_timer *nd_loop_add_timer(nd_loop *loop, uint64_t delay_ms, uint64_t interval_ms, nd_timer_cb cb,
                            void *data, nd_error_t *err) {
  nd_timer *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    nd_error_make(err, ENOMEM, "allocating timer");
    return NULL;
  }
  t->kind = SRC_TIMER;
  t->cb = cb;
  t->data = data;
  t->loop = loop;
  t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (t->fd < 0) {
    nd_error_make(err, errno, "timerfd_create: %s", strerror(errno));
    free(t);
    return NULL;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};
  if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, t->fd, &ev) < 0 ||
      nd_timer_rearm(t, delay_ms, interval_ms) < 0) {
    nd_error_make(err, errno, "arming timer: %s", strerror(errno));
    close(t->fd);
    free(t);
    return NULL;
  }
  return t;
}

void nd_loop_del_timer(nd_loop *loop, nd_timer *t) {
  if (t == NULL || t->dead)
    return;
  epoll_ctl(loop->epfd, EPOLL_CTL_DEL, t->fd, NULL);
  close(t->fd);
  t->fd = -1;
  t->dead = true;
  t->next_dead = loop->dead_timers;
  loop->dead_timers = t;
}

int nd_loop_add_signal(nd_loop *loop, int signo, nd_signal_cb cb, void *data, nd_error_t *err) {
  if (loop->nsignals >= MAX_SIGNALS)
    return nd_error_make(err, ENOSPC, "too many signal handlers");
  sigaddset(&loop->sigmask, signo);
  if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
    return nd_error_make(err, errno, "sigprocmask: %s", strerror(errno));
  int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0)
    return nd_error_make(err, errno, "signalfd: %s", strerror(errno));
  if (loop->sigfd < 0) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &loop->signal_kind};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      close(fd);
      return nd_error_make(err, errno, "epoll_ctl signalfd: %s", strerror(errno));
    }
    loop->sigfd = fd;
  }
  loop->signals[loop->nsignals].signo = signo;
  loop->signals[loop->nsignals].cb = cb;
  loop->signals[loop->nsignals].data = data;
  loop->nsignals++;
  return 0;
}

void nd_loop_defer(nd_loop *loop, nd_defer_cb cb, void *data) {
  defer_item *d = calloc(1, sizeof(*d));
  if (d == NULL)
    abort();
  d->cb = cb;
  d->data = data;
  if (loop->defer_tail)
    loop->defer_tail->next = d;
  else
    loop->defer_head = d;
  loop->defer_tail = d;
}

int nd_loop_post(nd_loop *loop, nd_defer_cb cb, void *data) {
  defer_item *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return -1;
  d->cb = cb;
  d->data = data;
  pthread_mutex_lock(&loop->post_lock);
  if (loop->post_tail)
    loop->post_tail->next = d;
  else
    loop->post_head = d;
  loop->post_tail = d;
  pthread_mutex_unlock(&loop->post_lock);
  uint64_t one = 1;
  return write(loop->postfd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

static void run_posted(nd_loop *loop) {
  uint64_t n;
  if (read(loop->postfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
    return;
  pthread_mutex_lock(&loop->post_lock);
  defer_item *list = loop->post_head;
  loop->post_head = loop->post_tail = NULL;
  pthread_mutex_unlock(&loop->post_lock);
  while (list) {
    defer_item *d = list;
    list = d->next;
    d->cb(loop, d->data);
    free(d);
  }
}

void nd_loop_cancel_defer(nd_loop *loop, nd_defer_cb cb, void *data) {
  defer_item **pp = &loop->defer_head;
  loop->defer_tail = NULL;
  while (*pp) {
    defer_item *d = *pp;
    if (d->cb == cb && d->data == data) {
      *pp = d->next;
      free(d);
      continue;
    }
    loop->defer_tail = d;
    pp = &d->next;
  }
}

static void run_deferred(nd_loop *loop) {
  /* callbacks may defer more work; that runs in the next round */
  defer_item *list = loop->defer_head;
  loop->defer_head = loop->defer_tail = NULL;
  while (list) {
    defer_item *d = list;
    list = d->next;
    d->cb(loop, d->data);
    free(d);
  }
}

static void dispatch_signals(nd_loop *loop) {
  struct signalfd_siginfo si;
  while (read(loop->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    for (int i = 0; i < loop->nsignals; i++)
      if (loop->signals[i].signo == (int)si.ssi_signo)
        loop->signals[i].cb(loop, (int)si.ssi_signo, loop->signals[i].data);
  }
}

int nd_loop_run_once(nd_loop *loop, int timeout_ms, nd_error_t *err) {
  struct epoll_event events[64];
  if (loop->defer_head)
    timeout_ms = 0;
  int n = epoll_wait(loop->epfd, events, 64, timeout_ms);
  if (n < 0) {
    if (errno == EINTR)
      return 0;
    return nd_error_make(err, errno, "epoll_wait: %s", strerror(errno));
  }
  for (int i = 0; i < n; i++) {
    source_kind *kind = events[i].data.ptr;
    if (*kind == SRC_FD) {
      nd_watch *w = (nd_watch *)kind;
      if (!w->dead)
        w->cb(loop, w->fd, events[i].events, w->data);
    } else if (*kind == SRC_TIMER) {
      nd_timer *t = (nd_timer *)kind;
      uint64_t expirations;
      if (t->dead || read(t->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
        continue;
      struct itimerspec cur;
      if (timerfd_gettime(t->fd, &cur) == 0 && cur.it_interval.tv_sec == 0 &&
          cur.it_interval.tv_nsec == 0)
        t->armed = false;
      t->cb(loop, t, t->data);
    } else if (*kind == SRC_POST) {
      run_posted(loop);
    } else {
      dispatch_signals(loop);
    }
  }
  run_deferred(loop);
  reap(loop);
  return 0;
}

int nd_loop_run(nd_loop *loop, nd_error_t *err) {
  loop->stop = false;
  while (!loop->stop)
    if (nd_loop_run_once(loop, -1, err) < 0)
      return -1;
  return 0;
}

int nd_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(thread, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}
