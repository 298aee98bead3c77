/* backend_test_peers.h: starts and stops the simulated network devices of tests/peers
 * (/usr/bin/python3) from cmocka tests, and talks to their admin API. */
#ifndef NETDRA_TEST_BACKEND_PEERS_H
#define NETDRA_TEST_BACKEND_PEERS_H

#include <jansson.h>
#include <sys/types.h>

typedef struct {
  pid_t pid;
  char url[128];
  char dir[64]; /* private temp dir (ready file, log, fake dev root) */
} test_peer;

/* Start tests/peers/<script> with extra args (NULL-terminated); "{dir}" in an argument is
 * replaced by the peer's temp dir. Waits (at most 10 s) for the ready file. Fails the test
 * when the peer cannot start. */
void test_peer_start(test_peer *p, const char *script, ...) __attribute__((sentinel));
void test_peer_stop(test_peer *p);
/* JSON request to the peer (admin or API); returns the HTTP status, *reply may be NULL. */
long test_peer_call(const test_peer *p, const char *method, const char *path, const char *body,
                    json_t **reply);
/* Number of requests with this method whose path starts with prefix, since start. */
int test_peer_count(const test_peer *p, const char *method, const char *path_prefix);

#endif
