/* test_binding_conditions.c: the binding-condition flow against the in-memory API of
 * fake_k8s.c and the simulated HTTP fabric manager (tests/peers/fabric_manager.py, python3): attach ->
 * condition True; an unknown region -> failure condition; a status conflict is retried without a
 * second attach; a follower does nothing. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "binding_conditions.h"
#include "cleanup.h"
#include "fake_k8s.h"

#define CLAIMS "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims"

/* ---- a registry double: nd_registry_find over a fixed device list ---------------------- */
struct nd_registry {
  const nd_device *devs;
  size_t n;
};

const nd_device *nd_registry_find(const nd_registry *r, const char *pool, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->devs[i].pool, pool) == 0 && strcmp(r->devs[i].name, name) == 0)
      return &r->devs[i];
  return NULL;
}

static const nd_device devices[] = {
    {.pool = "fab", .name = "cxl0", .id = "cxl0", .type = "cxl-memory", .fabric_region = "r0"},
    {.pool = "fab", .name = "cxl1", .id = "cxl1", .type = "cxl-memory", .fabric_region = "bad1"},
    {.pool = "fab", .name = "cxl2", .id = "cxl2", .type = "cxl-memory", .fabric_region = "r2"},
};
static nd_registry registry = {devices, 3};

/* ---- the fabric manager process -------------------------------------------------------- */
static pid_t fm_pid;
static char fm_url[64];
static char fm_dir[64];

static int start_fm(void **state) {
  snprintf(fm_dir, sizeof(fm_dir), "/tmp/netdra-fm-XXXXXX");
  assert_non_null(mkdtemp(fm_dir));
  char ready[128], devroot[128];
  snprintf(ready, sizeof(ready), "%s/ready", fm_dir);
  snprintf(devroot, sizeof(devroot), "%s/root", fm_dir);
  const char *src = getenv("NETDRA_SOURCE_DIR");
  const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
  char script[512];
  snprintf(script, sizeof(script), "%s/tests/peers/fabric_manager.py", src ? src : ".");
  fm_pid = fork();
  if (fm_pid == 0) {
    execl(py, py, script, "--ready-file", ready, "--dev-root", devroot, "--region", "r0:0:64Gi",
          "--region", "r2:1:64Gi", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    FILE *f = fopen(ready, "r");
    if (f != NULL) {
      char url[64] = "";
      if (fgets(url, sizeof(url), f) == NULL)
        url[0] = '\0';
      fclose(f);
      url[strcspn(url, "\r\n")] = '\0';
      if (url[0] != '\0') {
        snprintf(fm_url, sizeof(fm_url), "%s", url);
        return 0;
      }
    }
    struct timespec ts = {.tv_nsec = 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fail_msg("the fabric manager (%s) did not start", script);
  return -1;
}

static int stop_fm(void **state) {
  if (fm_pid > 0) {
    kill(fm_pid, SIGTERM);
    waitpid(fm_pid, NULL, 0);
  }
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fm_dir);
  if (system(cmd) != 0)
    return -1;
  return 0;
}

static size_t collect(char *p, size_t s, size_t n, void *d) {
  json_t **out = d;
  json_t *j = json_loadb(p, s * n, 0, NULL);
  if (j) {
    json_decref(*out);
    *out = j;
  }
  return s * n;
}

static json_t *fm_get(const char *path) {
  CURL *c = curl_easy_init();
  char url[256];
  snprintf(url, sizeof(url), "%s%s", fm_url, path);
  json_t *body = NULL;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_cleanup(c);
  return body;
}

/* Attach requests (POSTs) the fabric manager received. */
static size_t fm_posts(void) {
  json_t *body = fm_get("/_test/requests");
  size_t n = 0, i;
  json_t *a;
  json_array_foreach(json_object_get(body, "requests"), i, a) n +=
      strcmp(json_string_value(json_object_get(a, "method")), "POST") == 0;
  json_decref(body);
  return n;
}

/* Attachments of a region that exist at the fabric manager, with their node. */
static size_t fm_attached(const char *region, const char *node) {
  char path[128];
  snprintf(path, sizeof(path), "/v1/attachments?region=%s&node=%s", region, node);
  json_t *body = fm_get(path);
  size_t n = json_array_size(json_object_get(body, "attachments"));
  json_decref(body);
  return n;
}

/* ---- helpers ---------------------------------------------------------------------------- */
static json_t *claim(const char *name, const char *device) {
  return json_pack(
      "{s:s, s:s, s:{s:s, s:s}, s:{}, s:{s:{s:{s:[{s:s, s:s, s:s, s:s, s:[s], s:[s]}]}, "
      "s:{s:[{s:[{s:s, s:s, s:[s]}]}]}}}}",
      "apiVersion", "resource.k8s.io/v1", "kind", "ResourceClaim", "metadata", "name", name,
      "namespace", "default", "spec", "status", "allocation", "devices", "results", "request",
      "mem", "driver", "netdra.dev", "pool", "fab", "device", device, "bindingConditions",
      "netdra.dev/attached", "bindingFailureConditions", "netdra.dev/attach-failed",
      "nodeSelector", "nodeSelectorTerms", "matchFields", "key", "metadata.name", "operator", "In",
      "values", "node-1");
}

static const json_t *condition_of(fake_store *s, const char *name, const char *type) {
  char path[256];
  snprintf(path, sizeof(path), CLAIMS "/%s", name);
  const json_t *devs = json_object_get(json_object_get(fake_store_get(s, path), "status"), "devices");
  size_t i, k;
  const json_t *d, *c;
  json_array_foreach(devs, i, d) json_array_foreach(json_object_get(d, "conditions"), k, c) {
    if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
      return c;
  }
  return NULL;
}

typedef struct {
  fake_store *s;
  const char *claim, *type;
} cond_arg;

static bool has_condition(void *p) {
  cond_arg *a = p;
  return condition_of(a->s, a->claim, a->type) != NULL;
}

static bool run_until(nd_loop *loop, bool (*cond)(void *), void *arg, uint64_t max_ms) {
  uint64_t end = nd_now_ms() + max_ms;
  while (nd_now_ms() < end) {
    if (cond != NULL && cond(arg))
      return true;
    nd_error_t err = NULL;
    assert_int_equal(nd_loop_run_once(loop, 10, &err), 0);
  }
  return cond != NULL && cond(arg);
}

static void put_claim(fake_store *s, const char *name, const char *device) {
  char path[256];
  snprintf(path, sizeof(path), CLAIMS "/%s", name);
  json_t *c = claim(name, device);
  char uid[64];
  snprintf(uid, sizeof(uid), "uid-%s", name);
  json_object_set_new(json_object_get(c, "metadata"), "uid", json_string(uid));
  fake_store_put(s, path, c);
  json_decref(c);
}

static void test_binding_flow(void **state) {
  fake_store *store = fake_store_new();
  nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_k8s_client *k8s = nd_k8s_client_new(loop, NULL, &err);
  nd_binding_options o = {.driver = "netdra.dev", .api_version = "v1",
                          .fabric_manager_url = fm_url, .attach_timeout_ms = 5000};
  nd_binding_conditions *b = nd_binding_conditions_new(loop, k8s, &registry, &o, &err);
  assert_non_null(b);
  assert_int_equal(nd_binding_conditions_start(b, &err), 0);

  /* a follower does nothing */
  put_claim(store, "c0", "cxl0");
  run_until(loop, NULL, NULL, 300);
  assert_int_equal(fm_posts(), 0);
  assert_null(condition_of(store, "c0", "netdra.dev/attached"));

  /* leading: attach, then the condition */
  nd_binding_conditions_set_active(b, true);
  cond_arg a0 = {store, "c0", "netdra.dev/attached"};
  assert_true(run_until(loop, has_condition, &a0, 5000));
  const json_t *c = condition_of(store, "c0", "netdra.dev/attached");
  assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
  assert_string_equal(json_string_value(json_object_get(c, "reason")), "Attached");
  assert_int_equal(fm_attached("r0", "node-1"), 1);
  assert_int_equal(fm_posts(), 1);

  /* fabric failure (an unknown region: 404): the failure condition, with the error */
  put_claim(store, "c1", "cxl1");
  cond_arg a1 = {store, "c1", "netdra.dev/attach-failed"};
  assert_true(run_until(loop, has_condition, &a1, 5000));
  c = condition_of(store, "c1", "netdra.dev/attach-failed");
  assert_non_null(strstr(json_string_value(json_object_get(c, "message")), "404"));
  assert_null(condition_of(store, "c1", "netdra.dev/attached"));

  /* a conflict on the status write: retried, attached once */
  fake_store_fault(store, "PUT", "/resourceclaims/c2/status", 409, 1);
  put_claim(store, "c2", "cxl2");
  run_until(loop, NULL, NULL, 300);
  /* someone else touches the claim (the watch brings the fresh version) */
  char path[256];
  snprintf(path, sizeof(path), CLAIMS "/c2");
  json_t *touched = json_deep_copy(fake_store_get(store, path));
  json_object_set_new(json_object_get(touched, "metadata"), "labels", json_pack("{s:s}", "x", "y"));
  fake_store_put(store, path, touched);
  json_decref(touched);
  cond_arg a2 = {store, "c2", "netdra.dev/attached"};
  assert_true(run_until(loop, has_condition, &a2, 8000));
  assert_int_equal(fm_attached("r2", "node-1"), 1);
  assert_int_equal(fm_posts(), 3); /* c0, c1, c2: the conflict did not attach again */
  assert_true(nd_binding_conditions_stats(b)->status_conflicts >= 1);

  /* nothing more happens once reported */
  run_until(loop, NULL, NULL, 300);
  assert_int_equal(fm_posts(), 3);

  nd_binding_conditions_stop(b);
  nd_binding_conditions_free(b);
  run_until(loop, NULL, NULL, 20);
  nd_k8s_client_free(k8s);
  nd_loop_free(loop);
  fake_store_free(store);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_binding_flow)};
  int rc = cmocka_run_group_tests(tests, start_fm, stop_fm);
  curl_global_cleanup();
  return rc;
}
