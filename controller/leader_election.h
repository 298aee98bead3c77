/* leader_election.h: client-go style leader election on a coordination.k8s.io/v1 Lease.
 *
 * Every retry period (jittered x1.2) the candidate GETs the Lease (404 -> CREATE). Another
 * holder is respected while the record it last saw changed less than one lease duration ago,
 * measured on this candidate's own monotonic clock; otherwise it takes the Lease with a PUT
 * carrying metadata.resourceVersion (409 = lost the race). The leader renews every retry
 * period and stops leading when no renewal succeeded within the renew deadline. On release
 * (SIGTERM) the leader writes an empty holder with leaseDurationSeconds 1, so a follower takes
 * over at its next retry. Times are MicroTime (RFC 3339, 6 fractional digits, UTC). */
#ifndef NETDRA_CONTROLLER_LEADER_ELECTION_H
#define NETDRA_CONTROLLER_LEADER_ELECTION_H

#include <stdbool.h>
#include <stdint.h>

#include "evloop.h"
#include "k8s_client.h"

typedef struct nd_leader_election nd_leader_election;

typedef struct {
  const char *namespace_;
  const char *lease_name;
  const char *identity;       /* unique per replica */
  uint64_t lease_ms;          /* 0: 15000 */
  uint64_t renew_deadline_ms; /* 0: 10000 */
  uint64_t retry_ms;          /* 0: 2000 */
} nd_leader_options;

/* Called on the loop when leadership starts (true) or ends (false). */
typedef void (*nd_leader_cb)(nd_leader_election *le, bool leading, void *data);

/* Validates lease > renew deadline > 1.2 x retry. */
nd_leader_election *nd_leader_election_new(nd_loop *loop, nd_k8s_client *k8s,
                                           const nd_leader_options *opts, nd_leader_cb cb,
                                           void *data, nd_error_t *err);
int nd_leader_election_start(nd_leader_election *le, nd_error_t *err);
bool nd_leader_election_leading(const nd_leader_election *le);
uint64_t nd_leader_election_transitions(const nd_leader_election *le);
/* Give the Lease up (if held) and stop campaigning; done runs on the loop once the release
 * was answered or failed (at most one request timeout). */
void nd_leader_election_release(nd_leader_election *le, nd_defer_cb done, void *data);
void nd_leader_election_free(nd_leader_election *le);

/* MicroTime of a wall-clock time in ms, into buf (>= 28 bytes). */
void nd_format_micro_time(uint64_t wall_ms, char *buf, size_t len);

#endif
