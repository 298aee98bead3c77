/* bench_prepare.c: NodePrepareResources + NodeUnprepareResources against a running node plugin
 * with the C gRPC client: N cycles on each of T connections (threads); prints p50/p99 of each
 * call in us, cycles per second, and the request size (for the ping-pong limit). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_stats.h"
#include "dra_v1.pb-c.h"
#include "grpc.h"

typedef struct {
  const char *sock, *ns, *name, *uid;
  int n;
  uint64_t *prep, *unprep;
  int failures;
} worker;

static size_t request(const worker *w, uint8_t *buf, size_t cap, bool prepare) {
  K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim claim = K8S__IO__KUBELET__PKG__APIS__DRA__V1__CLAIM__INIT;
  claim.namespace_ = (char *)w->ns;
  claim.name = (char *)w->name;
  claim.uid = (char *)w->uid;
  K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim *claims[] = {&claim};
  if (prepare) {
    K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesRequest r =
        K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_PREPARE_RESOURCES_REQUEST__INIT;
    r.n_claims = 1;
    r.claims = claims;
    if (k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__get_packed_size(&r) > cap)
      return 0;
    return k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__pack(&r, buf);
  }
  K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesRequest r =
      K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_UNPREPARE_RESOURCES_REQUEST__INIT;
  r.n_claims = 1;
  r.claims = claims;
  return k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__pack(&r, buf);
}

static int call(nd_grpc_client *c, const char *method, const uint8_t *req, size_t len, bool prepare) {
  uint8_t *resp = NULL;
  size_t rlen;
  int status;
  nd_error_t err = NULL;
  int rc = nd_grpc_client_call(c, method, req, len, &resp, &rlen, 45000, &status, NULL, &err);
  nd_error_release(&err);
  if (rc < 0 || status != 0) {
    free(resp);
    return -1;
  }
  int bad = 0;
  if (prepare) {
    K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesResponse *r =
        k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__unpack(NULL, rlen, resp);
    bad = r == NULL || r->n_claims != 1 || r->claims[0]->value == NULL ||
          (r->claims[0]->value->error && *r->claims[0]->value->error) || r->claims[0]->value->n_devices == 0;
    if (r)
      k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__free_unpacked(r, NULL);
  }
  free(resp);
  return bad ? -1 : 0;
}

static void *run(void *arg) {
  worker *w = arg;
  nd_error_t err = NULL;
  nd_grpc_client *c = nd_grpc_client_connect(w->sock, &err);
  if (c == NULL) {
    fprintf(stderr, "bench_prepare: %s\n", nd_error_msg(err));
    nd_error_release(&err);
    w->failures = w->n;
    return NULL;
  }
  uint8_t prep[512], unprep[512];
  size_t plen = request(w, prep, sizeof(prep), true), ulen = request(w, unprep, sizeof(unprep), false);
  for (int i = 0; i < w->n; i++) {
    uint64_t t = bench_now_ns();
    if (call(c, "/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources", prep, plen, true) < 0)
      w->failures++;
    uint64_t t2 = bench_now_ns();
    if (call(c, "/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodeUnprepareResources", unprep, ulen, false) < 0)
      w->failures++;
    w->prep[i] = t2 - t;
    w->unprep[i] = bench_now_ns() - t2;
  }
  nd_grpc_client_close(c);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: bench_prepare SOCKET NAMESPACE NAME UID CYCLES THREADS\n"
                    "  (THREADS claims: NAME-0..NAME-(T-1) with UIDs from UID.T files are not\n"
                    "   needed: each thread uses NAME and UID with a suffix -<thread> when T > 1)\n");
    return 2;
  }
  int n = atoi(argv[5]), t = atoi(argv[6]);
  worker *w = calloc((size_t)t, sizeof(*w));
  pthread_t *th = calloc((size_t)t, sizeof(*th));
  char **names = calloc((size_t)t, sizeof(char *)), **uids = calloc((size_t)t, sizeof(char *));
  for (int i = 0; i < t; i++) {
    if (t > 1) {
      if (asprintf(&names[i], "%s-%d", argv[3], i) < 0 || asprintf(&uids[i], "%s", argv[4 + 0]) < 0)
        return 1;
      /* the uid of claim NAME-i is given by the environment BENCH_UID_<i> */
      char var[32];
      snprintf(var, sizeof(var), "BENCH_UID_%d", i);
      if (getenv(var)) {
        free(uids[i]);
        uids[i] = strdup(getenv(var));
      }
    } else {
      names[i] = strdup(argv[3]);
      uids[i] = strdup(argv[4]);
    }
    w[i] = (worker){.sock = argv[1], .ns = argv[2], .name = names[i], .uid = uids[i], .n = n,
                    .prep = calloc((size_t)n, 8), .unprep = calloc((size_t)n, 8)};
  }
  uint64_t start = bench_now_ns();
  for (int i = 0; i < t; i++)
    pthread_create(&th[i], NULL, run, &w[i]);
  int failures = 0;
  for (int i = 0; i < t; i++) {
    pthread_join(th[i], NULL);
    failures += w[i].failures;
  }
  double secs = (bench_now_ns() - start) / 1e9;
  size_t total = (size_t)n * (size_t)t;
  uint64_t *p = calloc(total, 8), *u = calloc(total, 8);
  for (int i = 0; i < t; i++) {
    memcpy(p + (size_t)i * (size_t)n, w[i].prep, (size_t)n * 8);
    memcpy(u + (size_t)i * (size_t)n, w[i].unprep, (size_t)n * 8);
  }
  uint8_t buf[512];
  printf("{\"threads\":%d,\"cycles\":%zu,\"failures\":%d,\"prepare_p50_us\":%.1f,\"prepare_p99_us\":%.1f,"
         "\"unprepare_p50_us\":%.1f,\"unprepare_p99_us\":%.1f,\"prepares_per_s\":%.0f,\"request_bytes\":%zu}\n",
         t, total, failures, bench_percentile(p, total, 50) / 1000.0, bench_percentile(p, total, 99) / 1000.0,
         bench_percentile(u, total, 50) / 1000.0, bench_percentile(u, total, 99) / 1000.0, (double)total / secs, request(&w[0], buf, sizeof(buf), true));
  return failures ? 1 : 0;
}
