/* evloop.h: the one event loop each daemon runs (epoll, signalfd, and timers kept in the loop:
 * a min-heap of CLOCK_MONOTONIC deadlines that sets epoll's timeout, so timers cost no syscall).
 *
 * File descriptors, timers, signals and deferred callbacks all run on one thread.
 * Callbacks must not block. Removing a watch or a timer from inside any callback is safe. */
#ifndef NETDRA_EVLOOP_H
#define NETDRA_EVLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "error.h"

typedef struct nd_loop nd_loop;
typedef struct nd_watch nd_watch; /* an fd watch */
typedef struct nd_timer nd_timer;

/* events: EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP bits */
typedef void (*nd_fd_cb)(nd_loop *loop, int fd, uint32_t events, void *data);
typedef void (*nd_timer_cb)(nd_loop *loop, nd_timer *timer, void *data);
typedef void (*nd_signal_cb)(nd_loop *loop, int signo, void *data);
typedef void (*nd_defer_cb)(nd_loop *loop, void *data);

nd_loop *nd_loop_new(nd_error_t *err);
void nd_loop_free(nd_loop *loop);

/* Run until nd_loop_stop(); returns 0, or -1 with err on an epoll failure. */
int nd_loop_run(nd_loop *loop, nd_error_t *err);
/* Run one iteration, waiting at most timeout_ms (-1 = forever), less when a timer is due earlier,
 * not at all when deferred calls are queued; for tests and tools. */
int nd_loop_run_once(nd_loop *loop, int timeout_ms, nd_error_t *err);
void nd_loop_stop(nd_loop *loop);
bool nd_loop_stopping(const nd_loop *loop);

nd_watch *nd_loop_add_fd(nd_loop *loop, int fd, uint32_t events, nd_fd_cb cb, void *data,
                         nd_error_t *err);
int nd_loop_mod_fd(nd_loop *loop, nd_watch *w, uint32_t events, nd_error_t *err);
void nd_loop_del_fd(nd_loop *loop, nd_watch *w); /* does not close the fd */

/* One-shot when interval_ms == 0, periodic otherwise. delay_ms 0 fires on the next iteration.
 * A timer never fires before its deadline; timers due together fire in deadline order. A one-shot
 * timer is not armed any more once it fired (unless its callback re-arms it). A periodic timer
 * that fell behind fires once and keeps its phase (next: first deadline + k * interval after now).
 * nd_timer_rearm re-arms an armed or disarmed timer (no syscall; returns 0). */
nd_timer *nd_loop_add_timer(nd_loop *loop, uint64_t delay_ms, uint64_t interval_ms, nd_timer_cb cb,
                            void *data, nd_error_t *err);
int nd_timer_rearm(nd_timer *timer, uint64_t delay_ms, uint64_t interval_ms);
void nd_timer_disarm(nd_timer *timer);
bool nd_timer_armed(const nd_timer *timer);
void nd_loop_del_timer(nd_loop *loop, nd_timer *timer);

/* Deliver signo through the loop (blocks it for the thread; at most 8 signals). */
int nd_loop_add_signal(nd_loop *loop, int signo, nd_signal_cb cb, void *data, nd_error_t *err);

/* Run cb once after the current batch of events (coalescing point). */
void nd_loop_defer(nd_loop *loop, nd_defer_cb cb, void *data);
/* Drop deferred calls of cb with data that have not run yet (for an owner being freed). */
void nd_loop_cancel_defer(nd_loop *loop, nd_defer_cb cb, void *data);

/* Thread-safe: queue cb to run on the loop thread (wakes the loop through an eventfd).
 * The only evloop call that may be made from another thread. */
int nd_loop_post(nd_loop *loop, nd_defer_cb cb, void *data);

/* Start a worker thread with every signal blocked, so that signals reach the loop's signalfd
 * and never a worker (a worker must not take SIGTERM's default action). Returns 0 or errno. */
int nd_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* Monotonic time in nanoseconds and milliseconds, wall-clock time in milliseconds. */
uint64_t nd_now_ns(void);
uint64_t nd_now_ms(void);
uint64_t nd_wall_ms(void);

#endif
