/* avahi_poll.h: an AvahiPoll adapter that runs avahi-core's sockets and timers on nd_loop,
 * so the embedded mDNS stack shares the daemon's one event loop (no daemon, no thread). */
#ifndef NETDRA_AVAHI_POLL_H
#define NETDRA_AVAHI_POLL_H

#include <avahi-common/watch.h>

#include "evloop.h"

typedef struct nd_avahi_poll {
  AvahiPoll api; /* must be first: avahi hands back &api */
  nd_loop *loop;
} nd_avahi_poll;

void nd_avahi_poll_init(nd_avahi_poll *p, nd_loop *loop);

#endif
