/* test_plugin_driver.c: prepare/unprepare orchestration with a fake backend and a fake REST
 * client: per-claim errors beside successes, idempotent repeats, rollback on attach failure,
 * unprepare of unknown claims, startup recovery of interrupted prepares, and serialisation of
 * concurrent calls for one claim; one checkpoint write for a claim whose attaches leave nothing
 * behind, and the start-up removal of the CDI specs such a claim can leave after a crash; where
 * the time of a call goes, stage by stage; a claim answer cut short. The real REST client and
 * backends are covered by it_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "backend.h"
#include "cdi.h"
#include "checkpoint.h"
#include "cleanup.h"
#include "driver.h"
#include "slice_cache.h"

/* ---- fake REST client: GET of claims from a table, list of slices ---- */

static json_t *fake_claims; /* path -> claim */
static json_t *fake_slices; /* array of slices */

int nd_k8s_request(nd_k8s_client *c, const char *method, const char *path, const json_t *body,
                   const char *content_type, nd_k8s_result *r, nd_error_t *err) {
  memset(r, 0, sizeof(*r));
  json_t *obj = json_object_get(fake_claims, path);
  if (obj == NULL) {
    r->http_status = 404;
    r->message = strdup("not found");
    return 0;
  }
  r->http_status = 200;
  r->body = json_deep_copy(obj);
  return 0;
}
/* the claim's text as the API server would send it, through the caller's decoder */
int nd_k8s_request_decoded(nd_k8s_client *c, const char *method, const char *path,
                           const json_t *body, const char *content_type, nd_k8s_decode_fn decode,
                           void *decode_data, nd_k8s_result *r, nd_error_t *err) {
  if (nd_k8s_request(c, method, path, body, content_type, r, err) < 0 || r->http_status != 200)
    return 0;
  cleanup_free char *text = json_dumps(r->body, JSON_INDENT(2));
  json_decref(r->body);
  size_t len = strlen(text);
  if (strstr(path, "/truncated") != NULL) /* an answer cut short */
    len /= 2;
  cleanup_error nd_error_t derr = NULL;
  r->body = decode(text, len, decode_data, &derr);
  if (r->body == NULL) /* as the real client reports it */
    assert_true(asprintf(&r->message, "reading the body: %s", nd_error_msg(derr)) > 0);
  return 0;
}
int nd_k8s_list_all(nd_k8s_client *c, const char *path, const char *query, int limit,
                    json_t **list, char **resource_version, nd_error_t *err) {
  *list = json_pack("{s:O}", "items", fake_slices);
  *resource_version = strdup("1");
  return 0;
}
void nd_k8s_result_clear(nd_k8s_result *r) {
  json_decref(r->body);
  free(r->message);
  memset(r, 0, sizeof(*r));
}
char *nd_k8s_escape(const char *s) { return strdup(s); }
nd_k8s_watch *nd_k8s_watch_start(nd_k8s_client *c, const char *path, const char *query,
                                 nd_k8s_watch_cb cb, void *data, nd_error_t *err) {
  nd_error_make(err, ENOTSUP, "no watch in this test");
  return NULL;
}
void nd_k8s_watch_stop(nd_k8s_watch *w) {}

/* ---- fake backend: counts live attachments per device ---- */

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *attached;        /* device -> count of live attachments */
static int attach_calls;
static char fail_device[64];    /* attach of this device fails */
static char fail_detach[64];    /* detach of this device fails */
static int detach_calls;
static int attach_delay_ms;

static int fake_attach(const nd_attach_request *req, nd_attach_result *res, nd_error_t *err) {
  if (attach_delay_ms)
    usleep((useconds_t)attach_delay_ms * 1000);
  pthread_mutex_lock(&fake_mu);
  attach_calls++;
  if (strcmp(req->device, fail_device) == 0) {
    pthread_mutex_unlock(&fake_mu);
    return nd_error_make(err, EIO, "fake endpoint refused %s", req->device);
  }
  json_int_t n = json_integer_value(json_object_get(attached, req->device));
  json_object_set_new(attached, req->device, json_integer(n + 1));
  pthread_mutex_unlock(&fake_mu);
  const char *endpoint = nd_slice_device_string_attr(req->slice_device, "netdra.dev", "endpoint");
  char env[256];
  snprintf(env, sizeof(env), "FAKE_ENDPOINT=%s", endpoint ? endpoint : "none");
  res->edits = json_pack("{s:[s]}", "env", env);
  res->state = json_pack("{s:s}", "session", req->device);
  return 0;
}

static int fake_detach(const nd_attach_request *req, const json_t *state, nd_error_t *err) {
  pthread_mutex_lock(&fake_mu);
  detach_calls++;
  if (strcmp(req->device, fail_detach) == 0) {
    pthread_mutex_unlock(&fake_mu);
    return nd_error_make(err, EIO, "fake endpoint cannot release %s", req->device);
  }
  json_int_t n = json_integer_value(json_object_get(attached, req->device));
  if (n > 0)
    json_object_set_new(attached, req->device, json_integer(n - 1));
  pthread_mutex_unlock(&fake_mu);
  return 0;
}

static const nd_backend fake_backend = {"fake", fake_attach, fake_detach, NULL};
/* the same, for devices whose attach leaves nothing behind (as a GPU's) */
static bool leaves_nothing(const nd_attach_request *req) { return true; }
static const nd_backend pure_backend = {"pure", fake_attach, fake_detach, leaves_nothing};
const nd_backend *nd_backend_for_type(const char *type) {
  if (strcmp(type, "pure") == 0)
    return &pure_backend;
  return strcmp(type, "fake") == 0 ? &fake_backend : NULL;
}
void nd_attach_result_clear(nd_attach_result *r) {
  json_decref(r->edits);
  json_decref(r->state);
  free(r->vendor_cdi_id);
  memset(r, 0, sizeof(*r));
}

static int live(const char *device) {
  pthread_mutex_lock(&fake_mu);
  int n = (int)json_integer_value(json_object_get(attached, device));
  pthread_mutex_unlock(&fake_mu);
  return n;
}

/* ---- fixture ---- */

typedef struct {
  char dir[64];
  char *state, *cdi, *boot;
  nd_loop *loop;
  nd_checkpoint *cp;
  nd_slice_cache *sc;
  nd_driver *d;
} fixture;

static json_t *slice_device(const char *name, const char *type) {
  return json_pack("{s:s, s:{s:{s:s}, s:{s:s}}}", "name", name, "attributes", "type", "string",
                   type, "endpoint", "string", "http://192.0.2.1/x");
}

static void add_claim(const char *ns, const char *name, const char *uid, const char *devices[],
                      size_t n) {
  json_t *results = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(results, json_pack("{s:s, s:s, s:s, s:s}", "request", "req",
                                             "driver", "netdra.dev", "pool", "pool-a", "device",
                                             devices[i]));
  /* a result of another driver is ignored */
  json_array_append_new(results, json_pack("{s:s, s:s, s:s, s:s}", "request", "gpu", "driver",
                                           "gpu.example.com", "pool", "x", "device", "y"));
  char path[256];
  snprintf(path, sizeof(path), "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s", ns,
           name);
  json_object_set_new(fake_claims, path,
                      json_pack("{s:{s:s, s:s, s:s}, s:{s:{s:{s:o}}}}", "metadata", "name", name,
                                "namespace", ns, "uid", uid, "status", "allocation", "devices",
                                "results", results));
}

static nd_driver *make_driver(fixture *fx) {
  nd_driver_options o = {.driver_name = "netdra.dev",
                         .node_name = "node-1",
                         .cdi_dir = fx->cdi,
                         .state_dir = fx->state,
                         .dev_root = "/",
                         .workers = 3,
                         .loop = fx->loop,
                         .k8s = NULL,
                         .slices = fx->sc,
                         .checkpoint = fx->cp};
  cleanup_error nd_error_t err = NULL;
  nd_driver *d = nd_driver_new(&o, &err);
  assert_non_null(d);
  return d;
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_plugin_driver.XXXXXX");
  if (mkdtemp(fx->dir) == NULL)
    return -1;
  if (asprintf(&fx->state, "%s/state", fx->dir) < 0 || asprintf(&fx->cdi, "%s/cdi", fx->dir) < 0 ||
      asprintf(&fx->boot, "%s/boot_id", fx->dir) < 0)
    return -1;
  FILE *f = fopen(fx->boot, "w");
  fputs("boot-a\n", f);
  fclose(f);
  fake_claims = json_object();
  fake_slices = json_pack("[{s:{s:s}, s:{s:s, s:{s:s, s:i}, s:[o, o, o, o, o, o]}}]", "metadata",
                          "name", "s1", "spec", "driver", "netdra.dev", "pool", "name", "pool-a",
                          "generation", 1, "devices", slice_device("dev-a", "fake"),
                          slice_device("dev-b", "fake"), slice_device("dev-c", "fake"),
                          slice_device("dev-odd", "tape"), slice_device("dev-p", "pure"),
                          slice_device("dev-q", "pure"));
  attached = json_object();
  attach_calls = 0;
  fail_device[0] = '\0';
  fail_detach[0] = '\0';
  detach_calls = 0;
  attach_delay_ms = 0;
  cleanup_error nd_error_t err = NULL;
  fx->loop = nd_loop_new(&err);
  fx->cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  fx->sc = nd_slice_cache_new(NULL, "netdra.dev", &err);
  nd_slice_cache_replace(fx->sc, fake_slices);
  fx->d = make_driver(fx);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  nd_driver_free(fx->d);
  nd_slice_cache_free(fx->sc);
  nd_checkpoint_free(fx->cp);
  cleanup_error nd_error_t err = NULL;
  nd_loop_run_once(fx->loop, 0, &err);
  nd_loop_free(fx->loop);
  nd_remove_tree(fx->dir, &err);
  free(fx->state);
  free(fx->cdi);
  free(fx->boot);
  json_decref(fake_claims);
  json_decref(fake_slices);
  json_decref(attached);
  free(fx);
  return 0;
}

/* ---- running a call to completion ---- */

typedef struct {
  bool done;
  json_t *result; /* uid -> {"error": s} | {"devices": [[request,pool,device,cdi_id]...]} */
} call_result;

static void on_done(nd_claim_outcome *outs, size_t n, void *data) {
  call_result *cr = data;
  cr->result = json_object();
  for (size_t i = 0; i < n; i++) {
    json_t *v;
    if (outs[i].error) {
      v = json_pack("{s:s}", "error", outs[i].error);
    } else {
      json_t *devs = json_array();
      for (size_t j = 0; j < outs[i].n_devices; j++)
        json_array_append_new(devs, json_pack("[s,s,s,s?]", outs[i].devices[j].request,
                                              outs[i].devices[j].pool, outs[i].devices[j].device,
                                              outs[i].devices[j].cdi_id));
      v = json_pack("{s:o}", "devices", devs);
    }
    json_object_set_new(cr->result, outs[i].uid, v);
  }
  cr->done = true;
}

static void wait_done(fixture *fx, call_result *cr) {
  cleanup_error nd_error_t err = NULL;
  for (int i = 0; i < 500 && !cr->done; i++)
    nd_loop_run_once(fx->loop, 20, &err);
  assert_true(cr->done);
}

static json_t *prepare(fixture *fx, const nd_claim_ref *refs, size_t n) {
  call_result cr = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_driver_prepare(fx->d, refs, n, on_done, &cr, &err), 0);
  wait_done(fx, &cr);
  return cr.result;
}

static json_t *unprepare(fixture *fx, const nd_claim_ref *refs, size_t n) {
  call_result cr = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_driver_unprepare(fx->d, refs, n, on_done, &cr, &err), 0);
  wait_done(fx, &cr);
  return cr.result;
}

static char *spec_path(fixture *fx, const char *uid) {
  return nd_cdi_spec_path(fx->cdi, "netdra.dev", uid);
}

/* ---- tests ---- */

static void test_prepare_mixed_batch(void **state) {
  fixture *fx = *state;
  const char *devs[] = {"dev-a", "dev-b"};
  add_claim("ns1", "good", "uid-good", devs, 2);
  add_claim("ns1", "stale", "uid-other", devs + 1, 1);
  nd_claim_ref refs[] = {{"ns1", "uid-good", "good"},
                         {"ns1", "uid-stale", "stale"}, /* UID mismatch */
                         {"ns1", "uid-gone", "gone"}};  /* no such claim */
  cleanup_json json_t *res = prepare(fx, refs, 3);
  assert_int_equal(json_object_size(res), 3); /* every claim UID answered */
  json_t *good = json_object_get(res, "uid-good");
  assert_null(json_object_get(good, "error"));
  json_t *gd = json_object_get(good, "devices");
  assert_int_equal(json_array_size(gd), 2);
  assert_string_equal(json_string_value(json_array_get(json_array_get(gd, 0), 0)), "req");
  assert_string_equal(json_string_value(json_array_get(json_array_get(gd, 0), 3)),
                      "netdra.dev/claim=req-dev-a-uid-good");
  const char *stale = json_string_value(json_object_get(json_object_get(res, "uid-stale"), "error"));
  assert_non_null(stale);
  assert_non_null(strstr(stale, "has UID uid-other"));
  const char *gone = json_string_value(json_object_get(json_object_get(res, "uid-gone"), "error"));
  assert_non_null(strstr(gone, "404"));
  assert_int_equal(live("dev-a"), 1);
  assert_int_equal(live("dev-b"), 1); /* the stale claim attached nothing */

  cleanup_free char *spec = spec_path(fx, "uid-good");
  json_error_t jerr;
  cleanup_json json_t *s = json_load_file(spec, 0, &jerr);
  assert_non_null(s);
  assert_int_equal(json_array_size(json_object_get(s, "devices")), 2);
  cleanup_free char *text = json_dumps(s, 0);
  assert_non_null(strstr(text, "FAKE_ENDPOINT=http://192.0.2.1/x"));
  assert_non_null(strstr(text, "NETDRA_DEVICE_REQ_DEV_A=pool-a/dev-a"));
  cleanup_json json_t *entry = nd_checkpoint_get(fx->cp, "uid-good");
  assert_string_equal(json_string_value(json_object_get(entry, "phase")), ND_CKPT_PREPARE_COMPLETED);

  /* idempotent repeat: same answer, no new attach */
  int calls = attach_calls;
  unlink(spec); /* even a lost spec comes back */
  cleanup_json json_t *again = prepare(fx, refs, 1);
  assert_true(json_equal(json_object_get(again, "uid-good"), good));
  assert_int_equal(attach_calls, calls);
  assert_int_equal(access(spec, F_OK), 0);

  /* unprepare: detached, spec and entry gone; unknown claims succeed */
  nd_claim_ref un[] = {{"ns1", "uid-good", "good"}, {"ns1", "uid-never", "never"}};
  cleanup_json json_t *ures = unprepare(fx, un, 2);
  assert_int_equal(json_object_size(ures), 2);
  assert_null(json_object_get(json_object_get(ures, "uid-good"), "error"));
  assert_null(json_object_get(json_object_get(ures, "uid-never"), "error"));
  assert_int_equal(live("dev-a"), 0);
  assert_int_equal(live("dev-b"), 0);
  assert_int_equal(access(spec, F_OK), -1);
  assert_null(nd_checkpoint_get(fx->cp, "uid-good"));
  /* and again: still fine */
  cleanup_json json_t *ures2 = unprepare(fx, un, 1);
  assert_null(json_object_get(json_object_get(ures2, "uid-good"), "error"));
}

static void test_attach_failure_rolls_back(void **state) {
  fixture *fx = *state;
  const char *devs[] = {"dev-a", "dev-b", "dev-c"};
  add_claim("ns1", "c", "uid-c", devs, 3);
  snprintf(fail_device, sizeof(fail_device), "dev-b");
  nd_claim_ref refs[] = {{"ns1", "uid-c", "c"}};
  cleanup_json json_t *res = prepare(fx, refs, 1);
  const char *e = json_string_value(json_object_get(json_object_get(res, "uid-c"), "error"));
  assert_non_null(e);
  assert_non_null(strstr(e, "attaching fake device pool-a/dev-b"));
  assert_int_equal(live("dev-a"), 0); /* rolled back */
  assert_int_equal(live("dev-c"), 0); /* never attached */
  assert_null(nd_checkpoint_get(fx->cp, "uid-c"));
  cleanup_free char *spec = spec_path(fx, "uid-c");
  assert_int_equal(access(spec, F_OK), -1);
  /* the retry succeeds once the device answers */
  fail_device[0] = '\0';
  cleanup_json json_t *res2 = prepare(fx, refs, 1);
  assert_null(json_object_get(json_object_get(res2, "uid-c"), "error"));
  assert_int_equal(live("dev-a") + live("dev-b") + live("dev-c"), 3);
}

/* A detach that fails leaves the claim recorded with only the devices still attached; the
 * stored entry the unprepare read (shared with the checkpoint) is not changed. */
static void test_detach_failure_records_what_is_left(void **state) {
  fixture *fx = *state;
  const char *devs[] = {"dev-a", "dev-b"};
  add_claim("ns1", "d", "uid-d", devs, 2);
  nd_claim_ref refs[] = {{"ns1", "uid-d", "d"}};
  cleanup_json json_t *res = prepare(fx, refs, 1);
  assert_null(json_object_get(json_object_get(res, "uid-d"), "error"));
  cleanup_json json_t *stored = nd_checkpoint_get(fx->cp, "uid-d");
  cleanup_free char *stored_text = json_dumps(stored, JSON_COMPACT);
  snprintf(fail_detach, sizeof(fail_detach), "dev-b");
  cleanup_json json_t *un = unprepare(fx, refs, 1);
  const char *e = json_string_value(json_object_get(json_object_get(un, "uid-d"), "error"));
  assert_non_null(e);
  assert_non_null(strstr(e, "cannot release dev-b"));
  assert_int_equal(live("dev-a"), 0);
  assert_int_equal(live("dev-b"), 1);
  cleanup_free char *after_text = json_dumps(stored, JSON_COMPACT);
  assert_string_equal(after_text, stored_text); /* the shared entry is untouched */
  cleanup_json json_t *left = nd_checkpoint_get(fx->cp, "uid-d");
  assert_non_null(left);
  assert_ptr_not_equal(left, stored);
  json_t *ld = json_object_get(left, "devices");
  assert_string_equal(json_string_value(json_object_get(json_array_get(ld, 0), "status")),
                      ND_CKPT_DEV_PENDING);
  assert_true(json_is_null(json_object_get(json_array_get(ld, 0), "state")));
  assert_string_equal(json_string_value(json_object_get(json_array_get(ld, 1), "status")),
                      ND_CKPT_DEV_ATTACHED);
  /* the retry detaches only what is left */
  fail_detach[0] = '\0';
  int before = detach_calls;
  cleanup_json json_t *un2 = unprepare(fx, refs, 1);
  assert_null(json_object_get(json_object_get(un2, "uid-d"), "error"));
  assert_int_equal(detach_calls - before, 1);
  assert_int_equal(live("dev-b"), 0);
  assert_null(nd_checkpoint_get(fx->cp, "uid-d"));
}

static void test_unknown_type_and_missing_device(void **state) {
  fixture *fx = *state;
  const char *odd[] = {"dev-odd"};
  const char *missing[] = {"dev-zzz"};
  add_claim("ns1", "odd", "uid-odd", odd, 1);
  add_claim("ns1", "missing", "uid-missing", missing, 1);
  nd_claim_ref refs[] = {{"ns1", "uid-odd", "odd"}, {"ns1", "uid-missing", "missing"}};
  cleanup_json json_t *res = prepare(fx, refs, 2);
  assert_non_null(strstr(json_string_value(json_object_get(json_object_get(res, "uid-odd"), "error")),
                         "no backend for type \"tape\""));
  assert_non_null(
      strstr(json_string_value(json_object_get(json_object_get(res, "uid-missing"), "error")),
             "not in any ResourceSlice"));
  assert_int_equal(attach_calls, 0);
}

static void test_recover_interrupted_prepare(void **state) {
  fixture *fx = *state;
  /* simulate a crash: dev-a attached and dev-b in flight, recorded as prepare-started */
  json_object_set_new(attached, "dev-a", json_integer(1));
  json_object_set_new(attached, "dev-b", json_integer(1));
  cleanup_json json_t *started = json_pack(
      "{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:o, s:n, s:{s:s}}, "
      "{s:s, s:s, s:s, s:s, s:s, s:o, s:n, s:n}, {s:s, s:s, s:s, s:s, s:s, s:o, s:n, s:n}]}",
      "namespace", "ns1", "name", "crashed", "phase", ND_CKPT_PREPARE_STARTED, "devices",
      "request", "req", "pool", "pool-a", "device", "dev-a", "type", "fake", "status",
      ND_CKPT_DEV_ATTACHED, "sliceDevice", slice_device("dev-a", "fake"), "config", "state",
      "session", "dev-a", "request", "req", "pool", "pool-a", "device", "dev-b", "type", "fake",
      "status", ND_CKPT_DEV_ATTACHING, "sliceDevice", slice_device("dev-b", "fake"), "config",
      "state", "request", "req", "pool", "pool-a", "device", "dev-c", "type", "fake", "status",
      ND_CKPT_DEV_PENDING, "sliceDevice", slice_device("dev-c", "fake"), "config", "state");
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_checkpoint_put(fx->cp, "uid-crashed", started, &err), 0);
  /* and a completed claim whose CDI spec was lost (tmpfs after a reboot) */
  const char *devs[] = {"dev-c"};
  add_claim("ns1", "done", "uid-done", devs, 1);
  nd_claim_ref refs[] = {{"ns1", "uid-done", "done"}};
  cleanup_json json_t *res = prepare(fx, refs, 1);
  assert_null(json_object_get(json_object_get(res, "uid-done"), "error"));
  cleanup_free char *spec = spec_path(fx, "uid-done");
  unlink(spec);

  nd_driver_recover(fx->d);
  assert_int_equal(live("dev-a"), 0); /* recorded attachment undone */
  assert_int_equal(live("dev-b"), 0); /* in-flight attach undone too */
  assert_int_equal(live("dev-c"), 1); /* the completed claim keeps its device */
  assert_null(nd_checkpoint_get(fx->cp, "uid-crashed"));
  assert_int_equal(access(spec, F_OK), 0); /* rebuilt */
}

/* A claim whose devices all leave nothing behind is written once, complete; one with any other
 * device is recorded before its first attach too. */
static void test_checkpoint_writes_per_prepare(void **state) {
  fixture *fx = *state;
  const char *pure[] = {"dev-p", "dev-q"}, *mixed[] = {"dev-p", "dev-a"};
  add_claim("ns1", "pure", "uid-pure", pure, 2);
  add_claim("ns1", "mixed", "uid-mixed", mixed, 2);
  nd_claim_ref rp[] = {{"ns1", "uid-pure", "pure"}}, rm[] = {{"ns1", "uid-mixed", "mixed"}};
  unsigned long w0 = nd_checkpoint_writes(fx->cp);
  cleanup_json json_t *res = prepare(fx, rp, 1);
  assert_null(json_object_get(json_object_get(res, "uid-pure"), "error"));
  assert_int_equal(nd_checkpoint_writes(fx->cp) - w0, 1);
  cleanup_json json_t *entry = nd_checkpoint_get(fx->cp, "uid-pure");
  assert_string_equal(json_string_value(json_object_get(entry, "phase")), ND_CKPT_PREPARE_COMPLETED);
  assert_int_equal(live("dev-p") + live("dev-q"), 2);
  unsigned long w1 = nd_checkpoint_writes(fx->cp);
  cleanup_json json_t *res2 = prepare(fx, rm, 1);
  assert_null(json_object_get(json_object_get(res2, "uid-mixed"), "error"));
  assert_int_equal(nd_checkpoint_writes(fx->cp) - w1, 2);
  unsigned long w2 = nd_checkpoint_writes(fx->cp);
  cleanup_json json_t *un = unprepare(fx, rp, 1);
  assert_null(json_object_get(json_object_get(un, "uid-pure"), "error"));
  assert_int_equal(nd_checkpoint_writes(fx->cp) - w2, 1);
  cleanup_free char *spec = spec_path(fx, "uid-pure");
  assert_int_equal(access(spec, F_OK), -1);

  /* a failed attach of such a claim leaves no record, no spec, nothing attached, no write */
  const char *pq[] = {"dev-q", "dev-p"};
  add_claim("ns1", "pf", "uid-pf", pq, 2);
  snprintf(fail_device, sizeof(fail_device), "dev-p");
  nd_claim_ref rf[] = {{"ns1", "uid-pf", "pf"}};
  unsigned long w3 = nd_checkpoint_writes(fx->cp);
  cleanup_json json_t *res3 = prepare(fx, rf, 1);
  assert_non_null(json_object_get(json_object_get(res3, "uid-pf"), "error"));
  assert_int_equal(nd_checkpoint_writes(fx->cp) - w3, 0);
  assert_null(nd_checkpoint_get(fx->cp, "uid-pf"));
  assert_int_equal(live("dev-q"), 0);
  cleanup_free char *spec_pf = spec_path(fx, "uid-pf");
  assert_int_equal(access(spec_pf, F_OK), -1);
}

/* A crash between writing the CDI spec of such a claim and recording it leaves a spec with no
 * record (and a crash inside a spec write, a temporary file): the next start removes both and
 * nothing else. */
static void test_recover_removes_unrecorded_specs(void **state) {
  fixture *fx = *state;
  const char *devs[] = {"dev-p"};
  add_claim("ns1", "kept", "uid-kept", devs, 1);
  nd_claim_ref refs[] = {{"ns1", "uid-kept", "kept"}};
  cleanup_json json_t *res = prepare(fx, refs, 1);
  assert_null(json_object_get(json_object_get(res, "uid-kept"), "error"));
  cleanup_free char *kept = spec_path(fx, "uid-kept");
  cleanup_free char *ghost = spec_path(fx, "uid-ghost");
  const char *env = "NETDRA_X=1";
  cleanup_json json_t *edits = json_pack("{s:[s]}", "env", env);
  nd_cdi_device dev = {"req-dev-p-uid-ghost", edits};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_cdi_write_claim_spec(fx->cdi, "netdra.dev", "uid-ghost", &dev, 1, &err), 0);
  cleanup_free char *temp = NULL, *foreign = NULL, *other = NULL;
  assert_true(asprintf(&temp, "%s/.netdra.dev-claim_uid-torn.json.tmp-Ab12Cd", fx->cdi) > 0);
  assert_true(asprintf(&foreign, "%s/gpu.example.com-claim_uid-ghost.json", fx->cdi) > 0);
  assert_true(asprintf(&other, "%s/netdra.dev-claim_notes.txt", fx->cdi) > 0);
  assert_int_equal(nd_write_file_atomic(temp, "{", 1, 0644, &err), 0);
  assert_int_equal(nd_write_file_atomic(foreign, "{}", 2, 0644, &err), 0);
  assert_int_equal(nd_write_file_atomic(other, "x", 1, 0644, &err), 0);

  nd_driver_recover(fx->d);
  assert_int_equal(access(ghost, F_OK), -1);
  assert_int_equal(access(temp, F_OK), -1);
  assert_int_equal(access(kept, F_OK), 0);
  assert_int_equal(access(foreign, F_OK), 0);
  assert_int_equal(access(other, F_OK), 0);
  assert_int_equal(live("dev-p"), 1);
  /* a missing CDI directory is no fault */
  assert_int_equal(nd_remove_tree(fx->cdi, &err), 0);
  assert_int_equal(nd_cdi_remove_stale_claim_specs(fx->cdi, "netdra.dev", NULL, NULL, &err), 0);
}

typedef struct {
  fixture *fx;
  call_result a, b;
} race;

static void test_same_claim_serialised(void **state) {
  fixture *fx = *state;
  const char *devs[] = {"dev-a"};
  add_claim("ns1", "r", "uid-r", devs, 1);
  attach_delay_ms = 50;
  nd_claim_ref refs[] = {{"ns1", "uid-r", "r"}};
  call_result a = {0}, b = {0};
  cleanup_error nd_error_t err = NULL;
  assert_int_equal(nd_driver_prepare(fx->d, refs, 1, on_done, &a, &err), 0);
  assert_int_equal(nd_driver_prepare(fx->d, refs, 1, on_done, &b, &err), 0);
  assert_int_equal(nd_driver_in_flight(fx->d), 2);
  wait_done(fx, &a);
  wait_done(fx, &b);
  assert_int_equal(attach_calls, 1); /* the second call found the completed entry */
  assert_int_equal(live("dev-a"), 1);
  assert_true(json_equal(a.result, b.result));
  json_decref(a.result);
  json_decref(b.result);
  assert_int_equal(nd_driver_in_flight(fx->d), 0);
}

/* A claim whose answer is not JSON fails alone, naming where the text broke; nothing is
 * attached or recorded for it. */
static void test_malformed_claim_answer(void **state) {
  fixture *fx = *state;
  const char *devs[] = {"dev-a"};
  add_claim("ns1", "truncated", "uid-tr", devs, 1);
  add_claim("ns1", "fine", "uid-fine", devs + 0, 1);
  nd_claim_ref refs[] = {{"ns1", "uid-tr", "truncated"}, {"ns1", "uid-fine", "fine"}};
  cleanup_json json_t *res = prepare(fx, refs, 2);
  const char *e = json_string_value(json_object_get(json_object_get(res, "uid-tr"), "error"));
  assert_non_null(e);
  assert_non_null(strstr(e, "ns1/truncated"));
  assert_non_null(strstr(e, "reading the body: JSON: "));
  assert_non_null(strstr(e, "at byte "));
  assert_null(nd_checkpoint_get(fx->cp, "uid-tr"));
  assert_null(json_object_get(json_object_get(res, "uid-fine"), "error"));
}

/* The stage sums: an attach that takes 30 ms shows in "devices", every stage a prepare runs
 * through is counted, and the stages add up to no more than the calls' own total (which also
 * holds the hand-back to the loop thread); an unprepare reads no claim. */
static void test_stage_seconds(void **state) {
  fixture *fx = *state;
  const char *devs[] = {"dev-a"};
  add_claim("ns1", "t", "uid-t", devs, 1);
  attach_delay_ms = 30;
  nd_claim_ref refs[] = {{"ns1", "uid-t", "t"}};
  cleanup_json json_t *res = prepare(fx, refs, 1);
  assert_null(json_object_get(json_object_get(res, "uid-t"), "error"));
  cleanup_json json_t *un = unprepare(fx, refs, 1);
  assert_null(json_object_get(json_object_get(un, "uid-t"), "error"));
  nd_driver_stats st;
  nd_driver_get_stats(fx->d, &st);
  assert_true(st.prepare_stage_s[ND_STAGE_DEVICES] >= 0.030);
  assert_true(st.prepare_stage_s[ND_STAGE_DEVICES] < 0.030 + 5.0);
  double prepare_sum = 0, unprepare_sum = 0;
  for (int s = 0; s < ND_STAGE_COUNT; s++) {
    if (s != ND_STAGE_QUEUE) /* a queue wait can round to 0 ns on a fast clock; the rest cannot */
      assert_true(st.prepare_stage_s[s] > 0);
    prepare_sum += st.prepare_stage_s[s];
    unprepare_sum += st.unprepare_stage_s[s];
  }
  assert_true(st.unprepare_stage_s[ND_STAGE_CHECKPOINT] > 0);
  assert_true(st.unprepare_stage_s[ND_STAGE_CLAIM_GET] == 0);
  assert_true(prepare_sum <= st.prepare_ms_sum / 1000.0 + 1e-6);
  assert_true(unprepare_sum <= st.unprepare_ms_sum / 1000.0 + 1e-6);
  assert_string_equal(nd_driver_stage_name(ND_STAGE_CLAIM_GET), "claim_get");
  assert_string_equal(nd_driver_stage_name(ND_STAGE_CHECKPOINT), "checkpoint");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stage_seconds, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_claim_answer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prepare_mixed_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attach_failure_rolls_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_detach_failure_records_what_is_left, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_type_and_missing_device, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recover_interrupted_prepare, setup, teardown),
      cmocka_unit_test_setup_teardown(test_same_claim_serialised, setup, teardown),
      cmocka_unit_test_setup_teardown(test_checkpoint_writes_per_prepare, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recover_removes_unrecorded_specs, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
