/* bench_announce.c: MQTT announcement -> ResourceSlice, against a running controller, a real
 * mosquitto broker and the stand-in API server. Measures, in one run:
 *   limits: raw PUT round trip to the same API server (p50/p99, sequential PUTs per second) of
 *           a small object and of ResourceSlices holding the devices the controller published
 *           (1..128 of them, the sizes the latency test writes; the stand-in validates every
 *           slice against the OpenAPI schema, so a slice PUT costs it more than a ConfigMap),
 *           and raw MQTT publish->receive round trip through the same broker (p50/p99);
 *   latency: N devices announced one at a time, each timed until a watch shows it in a slice;
 *   burst:   B devices announced at once, time until all are published, API writes made;
 *   steady:  nothing changes for S seconds: API writes made.
 * Prints one JSON object. Loops are bounded in count and time. */
#include <curl/curl.h>
#include <getopt.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"
#include "cleanup.h"
#include "k8s_client.h"
#include "strmap.h"

/* percentile of microsecond samples, in ms */
static double pct(uint64_t *v, size_t n, int p) { return (double)bench_percentile(v, n, p) / 1000.0; }

/* ---- MQTT (libmosquitto's own thread) ----------------------------------------------------- */

static pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mcond = PTHREAD_COND_INITIALIZER;
static int echo_seen;

static void on_msg(struct mosquitto *m, void *d, const struct mosquitto_message *msg) {
  pthread_mutex_lock(&mlock);
  echo_seen++;
  pthread_cond_signal(&mcond);
  pthread_mutex_unlock(&mlock);
}

static struct mosquitto *mqtt_connect(const char *host, int port) {
  struct mosquitto *m = mosquitto_new(NULL, true, NULL);
  mosquitto_message_callback_set(m, on_msg);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1); /* as the controller's client: no Nagle delay */
  if (mosquitto_connect(m, host, port, 30) != MOSQ_ERR_SUCCESS || mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
    fprintf(stderr, "bench_announce: cannot connect to the broker %s:%d\n", host, port);
    exit(1);
  }
  return m;
}

/* ---- slices seen through a watch ---------------------------------------------------------- */

static nd_strmap *seen; /* device name -> first time seen (us, boxed) */
static size_t seen_count;

static void note_slice(json_t *obj) {
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(json_object_get(obj, "spec"), "devices"), i, d) {
    const char *name = json_string_value(json_object_get(d, "name"));
    if (name && nd_strmap_get(seen, name) == NULL) {
      uint64_t *t = malloc(sizeof(*t));
      *t = bench_now_us();
      nd_strmap_put(seen, name, t);
      seen_count++;
    }
  }
}

static void on_watch(nd_k8s_client *c, nd_watch_event ev, json_t *obj, void *data) {
  if (ev == ND_WATCH_SYNCED) {
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(obj, "items"), i, s) note_slice(s);
  } else if (ev == ND_WATCH_ADDED || ev == ND_WATCH_MODIFIED) {
    note_slice(obj);
  }
}

static bool spin_until(nd_loop *loop, const char *name, size_t count, uint64_t timeout_us) {
  nd_error_t err = NULL;
  uint64_t end = bench_now_us() + timeout_us;
  while (bench_now_us() < end) {
    if (name ? nd_strmap_get(seen, name) != NULL : seen_count >= count)
      return true;
    nd_loop_run_once(loop, 5, &err);
  }
  nd_error_release(&err);
  return false;
}

/* ---- the stand-in's request log (test equipment admin API) -------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  json_t **out = ud;
  static char *acc;
  static size_t len;
  if (p == NULL) { /* reset */
    free(acc);
    acc = NULL;
    len = 0;
    return 0;
  }
  acc = realloc(acc, len + sz * n + 1);
  memcpy(acc + len, p, sz * n);
  len += sz * n;
  acc[len] = '\0';
  json_decref(*out);
  *out = json_loads(acc, 0, NULL);
  return sz * n;
}

static long slice_writes(const char *admin, bool reset) {
  char url[512];
  snprintf(url, sizeof(url), "%s/_netdra/requests", admin);
  CURL *h = curl_easy_init();
  json_t *out = NULL;
  on_body(NULL, 0, 0, NULL);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
  if (reset)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  curl_easy_perform(h);
  curl_easy_cleanup(h);
  long writes = 0;
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(out, "requests"), i, r) {
    const char *m = json_string_value(json_object_get(r, "method"));
    const char *p = json_string_value(json_object_get(r, "path"));
    if (m && p && strstr(p, "resourceslices") && strcmp(m, "GET") != 0)
      writes++;
  }
  json_decref(out);
  return writes;
}

int main(int argc, char **argv) {
  const char *kubeconfig = NULL, *host = "127.0.0.1";
  int port = 0, n = 1000, burst = 10000, steady_s = 60;
  static const struct option opts[] = {{"kubeconfig", required_argument, NULL, 'k'},
                                        {"broker-port", required_argument, NULL, 'p'},
                                        {"n", required_argument, NULL, 'n'},
                                        {"burst", required_argument, NULL, 'b'},
                                        {"steady", required_argument, NULL, 's'},
                                        {NULL, 0, NULL, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    if (c == 'k') kubeconfig = optarg;
    else if (c == 'p') port = atoi(optarg);
    else if (c == 'n') n = atoi(optarg);
    else if (c == 'b') burst = atoi(optarg);
    else if (c == 's') steady_s = atoi(optarg);
    else return 2;
  }
  if (kubeconfig == NULL || port == 0) {
    fprintf(stderr, "usage: bench_announce --kubeconfig K --broker-port P [--n N] [--burst B] [--steady S]\n");
    return 2;
  }
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_k8s_options ko = {.kubeconfig_path = kubeconfig, .qps = 100000, .burst = 100000};
  nd_k8s_client *k8s = nd_k8s_client_new(loop, &ko, &err);
  if (k8s == NULL)
    return fprintf(stderr, "bench_announce: %s\n", nd_error_msg(err)), 1;
  const char *admin = nd_k8s_client_server(k8s);
  mosquitto_lib_init();

  /* limit 1: raw PUT round trip */
  enum { LIMIT_N = 200 };
  uint64_t put[LIMIT_N];
  nd_k8s_result r;
  cleanup_json json_t *cm = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind",
                                      "ConfigMap", "metadata", "name", "bench-put", "namespace",
                                      "default", "data", "i", "0");
  nd_k8s_request(k8s, "POST", "/api/v1/namespaces/default/configmaps", cm, NULL, &r, &err);
  nd_k8s_result_clear(&r);
  uint64_t put_start = bench_now_us();
  for (int i = 0; i < LIMIT_N; i++) {
    char v[16];
    snprintf(v, sizeof(v), "%d", i + 1);
    json_object_set_new(json_object_get(cm, "data"), "i", json_string(v));
    uint64_t t = bench_now_us();
    if (nd_k8s_request(k8s, "PUT", "/api/v1/namespaces/default/configmaps/bench-put", cm, NULL, &r, &err) < 0 ||
        r.http_status != 200)
      return fprintf(stderr, "bench_announce: raw PUT failed\n"), 1;
    put[i] = bench_now_us() - t;
    nd_k8s_result_clear(&r);
  }
  double put_per_s = LIMIT_N / ((bench_now_us() - put_start) / 1e6);
  double put_p50 = pct(put, LIMIT_N, 50), put_p99 = pct(put, LIMIT_N, 99);

  /* limit 2: raw MQTT publish -> receive */
  struct mosquitto *m = mqtt_connect(host, port);
  mosquitto_subscribe(m, NULL, "bench/echo", 1);
  usleep(200000);
  uint64_t mq[LIMIT_N];
  for (int i = 0; i < LIMIT_N; i++) {
    pthread_mutex_lock(&mlock);
    int want = echo_seen + 1;
    uint64_t t = bench_now_us();
    mosquitto_publish(m, NULL, "bench/echo", 2, "hi", 1, false);
    while (echo_seen < want)
      pthread_cond_wait(&mcond, &mlock);
    mq[i] = bench_now_us() - t;
    pthread_mutex_unlock(&mlock);
  }
  double mq_p50 = pct(mq, LIMIT_N, 50), mq_p99 = pct(mq, LIMIT_N, 99);

  /* latency: one announcement at a time until it is in a slice */
  seen = nd_strmap_new();
  nd_k8s_watch *w = nd_k8s_watch_start(k8s, "/apis/resource.k8s.io/v1/resourceslices", NULL, on_watch, NULL, &err);
  spin_until(loop, NULL, 0, 500000);
  uint64_t *lat = calloc((size_t)n, sizeof(uint64_t));
  int done = 0;
  for (int i = 0; i < n; i++) {
    char topic[128], name[32];
    snprintf(name, sizeof(name), "lat-%d", i);
    snprintf(topic, sizeof(topic), "netdra/v1/bench-lat/%s/config", name);
    const char *payload = "{\"type\":\"camera\",\"vendor\":\"bench\",\"attributes\":{\"fps\":30}}";
    uint64_t t = bench_now_us();
    mosquitto_publish(m, NULL, topic, (int)strlen(payload), payload, 1, true);
    if (!spin_until(loop, name, 0, 10000000))
      break;
    lat[i] = bench_now_us() - t;
    done++;
  }
  double lat_p50 = pct(lat, (size_t)done, 50), lat_p99 = pct(lat, (size_t)done, 99);

  /* limit 3: raw PUTs of slices made of the devices the controller published, by another
   * driver (so the controller leaves them alone): sizes 1..128 in turn, then full slices */
  json_t *tmpl = json_array();
  if (nd_k8s_request(k8s, "GET", "/apis/resource.k8s.io/v1/resourceslices", NULL, NULL, &r, &err) == 0) {
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r.body, "items"), i, it) {
      json_t *devs = json_object_get(json_object_get(it, "spec"), "devices");
      if (json_array_size(devs) > json_array_size(tmpl)) {
        json_decref(tmpl);
        tmpl = json_deep_copy(devs);
      }
    }
  }
  nd_k8s_result_clear(&r);
  enum { SLICE_N = 256, FULL_N = 30 };
  uint64_t sput[SLICE_N];
  double full_put_per_s = 0;
  size_t tmpl_n = json_array_size(tmpl);
  if (tmpl_n > 0) {
    json_t *sl = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:{s:s,s:i,s:i},s:b,s:[]}}", "apiVersion",
                           "resource.k8s.io/v1", "kind", "ResourceSlice", "metadata", "name",
                           "bench-raw-slice", "spec", "driver", "bench.netdra.test", "pool", "name",
                           "raw", "generation", 1, "resourceSliceCount", 1, "allNodes", 1,
                           "devices");
    nd_k8s_request(k8s, "POST", "/apis/resource.k8s.io/v1/resourceslices", sl, NULL, &r, &err);
    nd_k8s_result_clear(&r);
    for (int i = 0; i < SLICE_N + FULL_N; i++) {
      size_t k = i < SLICE_N ? 1 + (size_t)i % tmpl_n : tmpl_n;
      json_t *devs = json_array();
      for (size_t j = 0; j < k; j++)
        json_array_append(devs, json_array_get(tmpl, j));
      json_object_set_new(json_object_get(sl, "spec"), "devices", devs);
      json_object_del(json_object_get(sl, "metadata"), "resourceVersion");
      uint64_t t = bench_now_us();
      if (nd_k8s_request(k8s, "PUT", "/apis/resource.k8s.io/v1/resourceslices/bench-raw-slice", sl, NULL,
                         &r, &err) < 0 || r.http_status != 200)
        return fprintf(stderr, "bench_announce: raw slice PUT failed (%ld)\n", r.http_status), 1;
      uint64_t dt = bench_now_us() - t;
      nd_k8s_result_clear(&r);
      if (i < SLICE_N)
        sput[i] = dt;
      else
        full_put_per_s += dt;
    }
    full_put_per_s = FULL_N / (full_put_per_s / 1e6);
    nd_k8s_request(k8s, "DELETE", "/apis/resource.k8s.io/v1/resourceslices/bench-raw-slice", NULL, NULL, &r, &err);
    nd_k8s_result_clear(&r);
    json_decref(sl);
  }
  double sput_p50 = tmpl_n ? pct(sput, SLICE_N, 50) : 0, sput_p99 = tmpl_n ? pct(sput, SLICE_N, 99) : 0;
  json_decref(tmpl);

  /* burst: B announcements at once */
  slice_writes(admin, true);
  size_t before = seen_count;
  uint64_t b0 = bench_now_us();
  for (int i = 0; i < burst; i++) {
    char topic[128];
    snprintf(topic, sizeof(topic), "netdra/v1/bench-burst/b-%d/config", i);
    const char *payload = "{\"type\":\"camera\",\"vendor\":\"bench\"}";
    while (mosquitto_publish(m, NULL, topic, (int)strlen(payload), payload, 1, true) == MOSQ_ERR_NOMEM)
      usleep(1000);
  }
  bool all = spin_until(loop, NULL, before + (size_t)burst, 120000000);
  double burst_s = (bench_now_us() - b0) / 1e6;
  usleep(500000);
  nd_loop_run_once(loop, 0, &err);
  long burst_writes = slice_writes(admin, false);

  /* steady state: nothing changes */
  slice_writes(admin, true);
  uint64_t s_end = bench_now_us() + (uint64_t)steady_s * 1000000u;
  while (bench_now_us() < s_end)
    nd_loop_run_once(loop, 100, &err);
  long steady_writes = slice_writes(admin, false);

  printf("{\"slice_put_p50_ms\":%.3f,\"slice_put_p99_ms\":%.3f,\"slice_put_max_devices\":%zu,"
         "\"full_slice_put_per_s\":%.1f,",
         sput_p50, sput_p99, tmpl_n, full_put_per_s);
  printf("\"put_p50_ms\":%.3f,\"put_p99_ms\":%.3f,\"put_per_s\":%.0f,\"mqtt_p50_ms\":%.3f,"
         "\"mqtt_p99_ms\":%.3f,\"latency_n\":%d,\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,"
         "\"burst\":%d,\"burst_all_published\":%s,\"burst_s\":%.3f,\"burst_writes\":%ld,"
         "\"steady_s\":%d,\"steady_writes\":%ld}\n",
         put_p50, put_p99, put_per_s, mq_p50, mq_p99, done, lat_p50, lat_p99, burst,
         all ? "true" : "false", burst_s, burst_writes, steady_s, steady_writes);
  nd_k8s_watch_stop(w);
  nd_loop_run_once(loop, 0, &err);
  mosquitto_loop_stop(m, true);
  return done == n && all ? 0 : 1;
}
