/* evloop.c: epoll event loop with signalfd signals, an eventfd for posted calls, deferred calls,
 * and timers kept in the loop itself: a binary min-heap of CLOCK_MONOTONIC deadlines from which
 * the epoll timeout is computed, so adding, re-arming, disarming and deleting a timer costs no
 * system call (a timerfd per timer cost five per gRPC call deadline). */
#include "evloop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"

#define MAX_SIGNALS 8
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define NOT_ARMED SIZE_MAX /* nd_timer.heap_index of a timer that is not in the heap */

/* epoll_pwait2 (Linux 5.11, glibc 2.35) takes a nanosecond timeout; epoll_wait's is in ms. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define HAVE_EPOLL_PWAIT2 1
#endif

typedef enum { SRC_FD, SRC_SIGNAL, SRC_POST } source_kind;

struct nd_watch {
  source_kind kind; /* must be first: epoll data points at a watch or at a loop's kind field */
  int fd;
  nd_fd_cb cb;
  void *data;
  bool dead;
  nd_watch *next_dead;
};

struct nd_timer {
  uint64_t deadline_ns; /* CLOCK_MONOTONIC expiry while armed */
  uint64_t interval_ns; /* 0: one-shot */
  uint64_t arm_seq;     /* when it was armed: equal deadlines fire in arming order */
  size_t heap_index;    /* position in loop->heap, NOT_ARMED when not armed */
  nd_timer_cb cb;
  void *data;
  bool dead;
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
  bool no_pwait2; /* the kernel (or a seccomp filter) refused epoll_pwait2: use epoll_wait */
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
  /* armed timers, a binary min-heap on (deadline_ns, arm_seq); heap_cap is kept at least the
   * number of live timers so that arming never allocates and cannot fail */
  nd_timer **heap;
  size_t heap_len, heap_cap, live_timers;
  uint64_t next_arm_seq;
  source_kind post_kind; /* epoll data target for the eventfd */
  int postfd;
  pthread_mutex_t post_lock;
  defer_item *post_head, *post_tail;
};

uint64_t nd_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t nd_now_ms(void) { return nd_now_ns() / NS_PER_MS; }

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
  free(loop->heap);
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

/* ---- timer heap ---------------------------------------------------------------------------- */

static uint64_t ms_to_ns(uint64_t ms) { return ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX : ms * NS_PER_MS; }

static uint64_t add_saturating(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static bool fires_before(const nd_timer *a, const nd_timer *b) {
  return a->deadline_ns < b->deadline_ns || (a->deadline_ns == b->deadline_ns && a->arm_seq < b->arm_seq);
}

static void heap_put(nd_loop *loop, size_t i, nd_timer *t) {
  loop->heap[i] = t;
  t->heap_index = i;
}

static void heap_sift_up(nd_loop *loop, size_t i) {
  nd_timer *t = loop->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!fires_before(t, loop->heap[parent]))
      break;
    heap_put(loop, i, loop->heap[parent]);
    i = parent;
  }
  heap_put(loop, i, t);
}

static void heap_sift_down(nd_loop *loop, size_t i) {
  nd_timer *t = loop->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= loop->heap_len)
      break;
    if (child + 1 < loop->heap_len && fires_before(loop->heap[child + 1], loop->heap[child]))
      child++;
    if (!fires_before(loop->heap[child], t))
      break;
    heap_put(loop, i, loop->heap[child]);
    i = child;
  }
  heap_put(loop, i, t);
}

/* Restore the heap order around slot i after its timer's deadline changed. */
static void heap_fix(nd_loop *loop, size_t i) {
  if (i > 0 && fires_before(loop->heap[i], loop->heap[(i - 1) / 2]))
    heap_sift_up(loop, i);
  else
    heap_sift_down(loop, i);
}

static void heap_remove(nd_loop *loop, nd_timer *t) {
  size_t i = t->heap_index;
  t->heap_index = NOT_ARMED;
  nd_timer *last = loop->heap[--loop->heap_len];
  if (last == t)
    return;
  heap_put(loop, i, last);
  heap_fix(loop, i);
}

/* Arm t (or move it, when armed) to fire at deadline_ns. Never allocates: nd_loop_add_timer
 * reserved a heap slot for every live timer. */
static void timer_schedule(nd_timer *t, uint64_t deadline_ns) {
  nd_loop *loop = t->loop;
  t->deadline_ns = deadline_ns;
  t->arm_seq = loop->next_arm_seq++;
  if (t->heap_index == NOT_ARMED) {
    heap_put(loop, loop->heap_len++, t);
    heap_sift_up(loop, t->heap_index);
  } else {
    heap_fix(loop, t->heap_index);
  }
}

/* The first deadline + k * interval after now: a periodic timer that fell behind fires once
 * and keeps its phase, as a timerfd does. */
static uint64_t next_period(uint64_t deadline_ns, uint64_t interval_ns, uint64_t now) {
  uint64_t periods = deadline_ns > now ? 1 : (now - deadline_ns) / interval_ns + 1;
  if (periods > (UINT64_MAX - deadline_ns) / interval_ns)
    return UINT64_MAX;
  return deadline_ns + periods * interval_ns;
}

int nd_timer_rearm(nd_timer *t, uint64_t delay_ms, uint64_t interval_ms) {
  if (t->dead)
    return -1;
  t->interval_ns = ms_to_ns(interval_ms);
  /* delay 0: due now, so it fires on the next iteration (never in the dispatch that armed it) */
  timer_schedule(t, add_saturating(nd_now_ns(), ms_to_ns(delay_ms)));
  return 0;
}

void nd_timer_disarm(nd_timer *t) {
  if (t->heap_index != NOT_ARMED)
    heap_remove(t->loop, t);
}

bool nd_timer_armed(const nd_timer *t) { return t->heap_index != NOT_ARMED; }

nd_timer *nd_loop_add_timer(nd_loop *loop, uint64_t delay_ms, uint64_t interval_ms, nd_timer_cb cb,
                            void *data, nd_error_t *err) {
  if (ND_GROW_TRY(loop->heap, loop->heap_cap, loop->live_timers + 1, 16) < 0) {
    nd_error_make(err, ENOMEM, "allocating timer heap");
    return NULL;
  }
  nd_timer *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    nd_error_make(err, ENOMEM, "allocating timer");
    return NULL;
  }
  t->cb = cb;
  t->data = data;
  t->loop = loop;
  t->heap_index = NOT_ARMED;
  loop->live_timers++;
  nd_timer_rearm(t, delay_ms, interval_ms);
  return t;
}

void nd_loop_del_timer(nd_loop *loop, nd_timer *t) {
  if (t == NULL || t->dead)
    return;
  nd_timer_disarm(t);
  loop->live_timers--;
  t->dead = true; /* freed by reap() at the end of the iteration: callbacks may still hold it */
  t->next_dead = loop->dead_timers;
  loop->dead_timers = t;
}

/* Fire the timers due now that were armed before this iteration's wait (armed_before: the
 * loop's next_arm_seq then), in deadline order. A timer armed or re-armed by a callback waits
 * for the next iteration, so a callback that re-arms its timer with delay 0 cannot spin here. */
static void run_timers(nd_loop *loop, uint64_t armed_before) {
  if (loop->heap_len == 0)
    return;
  uint64_t now = nd_now_ns();
  while (loop->heap_len > 0) {
    nd_timer *t = loop->heap[0];
    if (t->deadline_ns > now || t->arm_seq >= armed_before)
      break;
    if (t->interval_ns)
      timer_schedule(t, next_period(t->deadline_ns, t->interval_ns, now));
    else
      heap_remove(loop, t); /* a one-shot is not armed any more unless its callback re-arms it */
    t->cb(loop, t, t->data);
  }
}

/* How long the next wait may last in ns (-1: forever): timeout_ms, shortened to the nearest
 * timer deadline; 0 when deferred calls are queued or a timer is already due. */
static int64_t wait_budget_ns(nd_loop *loop, int timeout_ms) {
  if (loop->defer_head || timeout_ms == 0)
    return 0;
  int64_t wait_ns = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * (int64_t)NS_PER_MS;
  if (loop->heap_len == 0)
    return wait_ns;
  uint64_t now = nd_now_ns(), due = loop->heap[0]->deadline_ns;
  uint64_t until_due = due > now ? due - now : 0;
  if (until_due > (uint64_t)INT64_MAX)
    return wait_ns;
  if (wait_ns < 0 || (int64_t)until_due < wait_ns)
    wait_ns = (int64_t)until_due;
  return wait_ns;
}

/* epoll_pwait2 with the exact budget when the kernel has it, else epoll_wait with the budget
 * rounded up to whole ms: a timer never fires early and a sub-ms wait never becomes 0 (a spin). */
static int wait_events(nd_loop *loop, struct epoll_event *events, int max, int64_t wait_ns) {
#ifdef HAVE_EPOLL_PWAIT2
  if (!loop->no_pwait2) {
    struct timespec ts = {.tv_sec = (time_t)(wait_ns / (int64_t)NS_PER_S),
                          .tv_nsec = (long)(wait_ns % (int64_t)NS_PER_S)};
    int n = epoll_pwait2(loop->epfd, events, max, wait_ns < 0 ? NULL : &ts, NULL);
    /* ENOSYS: kernel before 5.11; EPERM: a seccomp filter that does not know the call */
    if (n >= 0 || (errno != ENOSYS && errno != EPERM))
      return n;
    loop->no_pwait2 = true;
  }
#endif
  int timeout_ms = -1;
  if (wait_ns >= 0) {
    uint64_t ms = ((uint64_t)wait_ns + NS_PER_MS - 1) / NS_PER_MS;
    timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
  }
  return epoll_wait(loop->epfd, events, max, timeout_ms);
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
  uint64_t armed_before = loop->next_arm_seq;
  int n = wait_events(loop, events, 64, wait_budget_ns(loop, timeout_ms));
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
    } else if (*kind == SRC_POST) {
      run_posted(loop);
    } else {
      dispatch_signals(loop);
    }
  }
  run_timers(loop, armed_before);
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
