/* rss_floor.c: the memory floor of the node plugin's RSS, measured in the same run: a process
 * linked with the same libraries (libcurl and what it pulls in, OpenSSL, nghttp2, jansson,
 * libyaml, protobuf-c) that has made one GET with the same REST client, then waits for
 * SIGTERM so that its RSS can be read. Prints "ready" when the GET is done.
 * usage: rss_floor KUBECONFIG PATH */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cleanup.h"
#include "k8s_client.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: rss_floor KUBECONFIG PATH\n");
    return 2;
  }
  cleanup_error nd_error_t err = NULL;
  nd_k8s_options ko = {.kubeconfig_path = argv[1]};
  nd_k8s_client *k8s = nd_k8s_client_new(NULL, &ko, &err);
  if (k8s == NULL)
    return fprintf(stderr, "rss_floor: %s\n", nd_error_msg(err)), 1;
  nd_k8s_result r = {0};
  if (nd_k8s_request(k8s, "GET", argv[2], NULL, NULL, &r, &err) < 0 || r.http_status != 200)
    return fprintf(stderr, "rss_floor: GET %s failed\n", argv[2]), 1;
  nd_k8s_result_clear(&r);
  printf("ready\n");
  fflush(stdout);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sig;
  sigwait(&set, &sig);
  nd_k8s_client_free(k8s);
  return 0;
}
