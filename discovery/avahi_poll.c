/* avahi_poll.c: AvahiPoll on nd_loop (see avahi_poll.h). avahi may free a watch or timeout
 * from inside its own callback; nd_loop defers the release, so that is safe. */
#include "avahi_poll.h"

#include <stdlib.h>
#include <sys/time.h>

#include "log.h"

struct AvahiWatch {
  nd_avahi_poll *poll;
  nd_watch *watch;
  int fd;
  AvahiWatchEvent events;  /* wanted */
  AvahiWatchEvent revents; /* seen in the last dispatch */
  AvahiWatchCallback cb;
  void *data;
};

struct AvahiTimeout {
  nd_avahi_poll *poll;
  nd_timer *timer;
  AvahiTimeoutCallback cb;
  void *data;
};

/* AVAHI_WATCH_IN/OUT/ERR/HUP carry poll(2) values, which equal EPOLLIN/OUT/ERR/HUP. */
static void on_fd(nd_loop *loop, int fd, uint32_t events, void *data) {
  AvahiWatch *w = data;
  w->revents = (AvahiWatchEvent)(events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP));
  w->cb(w, fd, w->revents, w->data);
}

static AvahiWatch *watch_new(const AvahiPoll *api, int fd, AvahiWatchEvent event,
                             AvahiWatchCallback cb, void *data) {
  nd_avahi_poll *p = (nd_avahi_poll *)api;
  AvahiWatch *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return NULL;
  *w = (AvahiWatch){.poll = p, .fd = fd, .events = event, .cb = cb, .data = data};
  nd_error_t err = NULL;
  w->watch = nd_loop_add_fd(p->loop, fd, (uint32_t)event, on_fd, w, &err);
  if (w->watch == NULL) {
    ND_LOG_ERROR("mdns", "watch-failed", ND_KV_S("error", nd_error_msg(err)));
    nd_error_release(&err);
    free(w);
    return NULL;
  }
  return w;
}

static void watch_update(AvahiWatch *w, AvahiWatchEvent event) {
  nd_error_t err = NULL;
  w->events = event;
  if (nd_loop_mod_fd(w->poll->loop, w->watch, (uint32_t)event, &err) < 0) {
    ND_LOG_ERROR("mdns", "watch-update-failed", ND_KV_S("error", nd_error_msg(err)));
    nd_error_release(&err);
  }
}

static AvahiWatchEvent watch_get_events(AvahiWatch *w) { return w->revents; }

static void watch_free(AvahiWatch *w) {
  nd_loop_del_fd(w->poll->loop, w->watch);
  free(w);
}

static void on_timer(nd_loop *loop, nd_timer *t, void *data) {
  AvahiTimeout *to = data;
  to->cb(to, to->data);
}

/* avahi passes absolute wall-clock deadlines (gettimeofday); NULL disables the timeout. */
static uint64_t delay_until(const struct timeval *tv) {
  struct timeval now;
  gettimeofday(&now, NULL);
  long long us = (long long)(tv->tv_sec - now.tv_sec) * 1000000LL + (tv->tv_usec - now.tv_usec);
  return us <= 0 ? 0 : (uint64_t)((us + 999) / 1000);
}

static void timeout_update(AvahiTimeout *to, const struct timeval *tv) {
  if (tv == NULL)
    nd_timer_disarm(to->timer);
  else
    nd_timer_rearm(to->timer, delay_until(tv), 0);
}

static AvahiTimeout *timeout_new(const AvahiPoll *api, const struct timeval *tv,
                                 AvahiTimeoutCallback cb, void *data) {
  nd_avahi_poll *p = (nd_avahi_poll *)api;
  AvahiTimeout *to = calloc(1, sizeof(*to));
  if (to == NULL)
    return NULL;
  *to = (AvahiTimeout){.poll = p, .cb = cb, .data = data};
  nd_error_t err = NULL;
  to->timer = nd_loop_add_timer(p->loop, 0, 0, on_timer, to, &err);
  if (to->timer == NULL) {
    ND_LOG_ERROR("mdns", "timer-failed", ND_KV_S("error", nd_error_msg(err)));
    nd_error_release(&err);
    free(to);
    return NULL;
  }
  timeout_update(to, tv);
  return to;
}

static void timeout_free(AvahiTimeout *to) {
  nd_loop_del_timer(to->poll->loop, to->timer);
  free(to);
}

void nd_avahi_poll_init(nd_avahi_poll *p, nd_loop *loop) {
  p->loop = loop;
  p->api = (AvahiPoll){.userdata = p,
                       .watch_new = watch_new,
                       .watch_update = watch_update,
                       .watch_get_events = watch_get_events,
                       .watch_free = watch_free,
                       .timeout_new = timeout_new,
                       .timeout_update = timeout_update,
                       .timeout_free = timeout_free};
}
