/* leader_election.c: Lease-based leader election on the loop (see leader_election.h). */
#include "leader_election.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"

struct nd_leader_election {
  nd_loop *loop;
  nd_k8s_client *k8s;
  nd_leader_options opts;
  char *ns, *name, *identity, *path, *collection;
  nd_leader_cb cb;
  void *cb_data;
  nd_timer *timer;
  bool busy;      /* a request is in flight */
  bool leading;
  bool releasing; /* stop campaigning */
  nd_defer_cb release_done;
  void *release_data;
  bool release_sent;
  json_t *record;              /* the Lease object our last successful write returned */
  json_t *observed;            /* the last Lease spec we saw */
  uint64_t observed_at_ms;     /* monotonic time we saw it change */
  uint64_t last_renew_ms;      /* monotonic time of our last successful renewal */
  uint64_t transitions;
};

void nd_format_micro_time(uint64_t wall_ms, char *buf, size_t len) {
  time_t t = (time_t)(wall_ms / 1000u);
  struct tm tm;
  gmtime_r(&t, &tm);
  char base[32];
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%06uZ", base, (unsigned)(wall_ms % 1000u) * 1000u);
}

static void set_leading(nd_leader_election *le, bool leading) {
  if (le->leading == leading)
    return;
  le->leading = leading;
  if (leading)
    le->transitions++;
  ND_LOG_INFO("leader", leading ? "started_leading" : "stopped_leading",
              ND_KV_S("identity", le->identity), ND_KV_S("lease", le->name));
  if (le->cb)
    le->cb(le, leading, le->cb_data);
}

static void schedule(nd_leader_election *le) {
  if (le->releasing)
    return;
  /* jitter factor 1.2: retry .. 1.2 x retry */
  uint64_t delay = le->opts.retry_ms + (uint64_t)(rand() % 1000) * le->opts.retry_ms / 5000u;
  if (le->leading)
    delay = le->opts.retry_ms;
  nd_timer_rearm(le->timer, delay, 0);
}

static void check_deadline(nd_leader_election *le) {
  if (le->leading && nd_now_ms() - le->last_renew_ms > le->opts.renew_deadline_ms) {
    ND_LOG_WARN("leader", "renew_deadline_passed", ND_KV_S("identity", le->identity));
    set_leading(le, false);
  }
}

static json_t *lease_spec(nd_leader_election *le, const json_t *old_spec, bool release) {
  char now[40];
  nd_format_micro_time(nd_wall_ms(), now, sizeof(now));
  const char *old_holder = json_string_value(json_object_get(old_spec, "holderIdentity"));
  bool same = old_holder != NULL && strcmp(old_holder, le->identity) == 0;
  json_int_t trans = json_integer_value(json_object_get(old_spec, "leaseTransitions"));
  json_t *spec = json_object();
  if (release) {
    json_object_set_new(spec, "holderIdentity", json_string(""));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
    json_object_set_new(spec, "acquireTime", json_string(now));
    json_object_set_new(spec, "renewTime", json_string(now));
    json_object_set_new(spec, "leaseTransitions", json_integer(trans));
    return spec;
  }
  json_object_set_new(spec, "holderIdentity", json_string(le->identity));
  json_object_set_new(spec, "leaseDurationSeconds",
                      json_integer((json_int_t)((le->opts.lease_ms + 999) / 1000)));
  const json_t *acq = json_object_get(old_spec, "acquireTime");
  if (same && json_is_string(acq))
    json_object_set(spec, "acquireTime", (json_t *)acq);
  else
    json_object_set_new(spec, "acquireTime", json_string(now));
  json_object_set_new(spec, "renewTime", json_string(now));
  json_object_set_new(spec, "leaseTransitions",
                      json_integer(same || old_spec == NULL ? trans : trans + 1));
  return spec;
}

static void finish_release(nd_leader_election *le);

static void release_finished(nd_leader_election *le) {
  set_leading(le, false);
  if (le->release_done) {
    nd_defer_cb done = le->release_done;
    le->release_done = NULL;
    done(le->loop, le->release_data);
  }
}

static void on_written(nd_k8s_client *c, nd_k8s_result *r, void *data) {
  nd_leader_election *le = data;
  le->busy = false;
  bool ok = r->http_status == 200 || r->http_status == 201;
  if (le->release_sent) {
    ND_LOG_INFO("leader", "released", ND_KV_S("identity", le->identity),
                ND_KV_I("status", r->http_status));
    nd_k8s_result_clear(r);
    release_finished(le);
    return;
  }
  if (ok) {
    json_decref(le->record);
    le->record = json_incref(r->body);
    json_decref(le->observed);
    le->observed = json_deep_copy(json_object_get(r->body, "spec"));
    le->observed_at_ms = nd_now_ms();
    le->last_renew_ms = le->observed_at_ms;
    set_leading(le, true);
  } else {
    ND_LOG_INFO("leader", "acquire_failed", ND_KV_I("status", r->http_status),
                ND_KV_S("message", r->message ? r->message : ""));
    check_deadline(le);
  }
  nd_k8s_result_clear(r);
  if (le->releasing) {
    finish_release(le);
    return;
  }
  schedule(le);
}

static void write_lease(nd_leader_election *le, const char *method, const json_t *old,
                        bool release) {
  const json_t *old_spec = json_object_get(old, "spec");
  json_t *meta = json_pack("{s:s, s:s}", "name", le->name, "namespace", le->ns);
  const json_t *rv = json_object_get(json_object_get(old, "metadata"), "resourceVersion");
  if (rv != NULL)
    json_object_set(meta, "resourceVersion", (json_t *)rv);
  cleanup_json json_t *body =
      json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
                "metadata", meta, "spec", lease_spec(le, old_spec, release));
  cleanup_error nd_error_t err = NULL;
  le->busy = true;
  const char *path = strcmp(method, "POST") == 0 ? le->collection : le->path;
  le->release_sent = release;
  if (nd_k8s_request_async(le->k8s, method, path, body, NULL, on_written, le, &err) < 0) {
    le->busy = false;
    ND_LOG_WARN("leader", "request_failed", ND_KV_S("error", nd_error_msg(err)));
    if (release) {
      release_finished(le);
      return;
    }
    check_deadline(le);
    schedule(le);
  }
}

static void on_got(nd_k8s_client *c, nd_k8s_result *r, void *data) {
  nd_leader_election *le = data;
  le->busy = false;
  if (le->releasing) {
    nd_k8s_result_clear(r);
    finish_release(le);
    return;
  }
  if (r->http_status == 404) {
    nd_k8s_result_clear(r);
    write_lease(le, "POST", NULL, false);
    return;
  }
  if (r->http_status != 200 || r->body == NULL) {
    ND_LOG_WARN("leader", "get_failed", ND_KV_I("status", r->http_status),
                ND_KV_S("message", r->message ? r->message : ""));
    nd_k8s_result_clear(r);
    check_deadline(le);
    schedule(le);
    return;
  }
  json_t *spec = json_object_get(r->body, "spec");
  uint64_t now = nd_now_ms();
  if (le->observed == NULL || !json_equal(le->observed, spec)) {
    json_decref(le->observed);
    le->observed = json_deep_copy(spec);
    le->observed_at_ms = now;
  }
  const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
  json_int_t dur_s = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
  uint64_t dur_ms = dur_s > 0 ? (uint64_t)dur_s * 1000u : le->opts.lease_ms;
  bool mine = holder != NULL && strcmp(holder, le->identity) == 0;
  bool held = holder != NULL && holder[0] != '\0';
  if (held && !mine && now - le->observed_at_ms < dur_ms) {
    set_leading(le, false);
    nd_k8s_result_clear(r);
    schedule(le);
    return;
  }
  write_lease(le, "PUT", r->body, false);
  nd_k8s_result_clear(r);
}

static void on_tick(nd_loop *loop, nd_timer *t, void *data) {
  nd_leader_election *le = data;
  if (le->busy || le->releasing)
    return;
  check_deadline(le);
  cleanup_error nd_error_t err = NULL;
  le->busy = true;
  if (nd_k8s_request_async(le->k8s, "GET", le->path, NULL, NULL, on_got, le, &err) < 0) {
    le->busy = false;
    ND_LOG_WARN("leader", "request_failed", ND_KV_S("error", nd_error_msg(err)));
    schedule(le);
  }
}

nd_leader_election *nd_leader_election_new(nd_loop *loop, nd_k8s_client *k8s,
                                           const nd_leader_options *opts, nd_leader_cb cb,
                                           void *data, nd_error_t *err) {
  nd_leader_options o = *opts;
  if (o.lease_ms == 0)
    o.lease_ms = 15000;
  if (o.renew_deadline_ms == 0)
    o.renew_deadline_ms = 10000;
  if (o.retry_ms == 0)
    o.retry_ms = 2000;
  if (!(o.lease_ms > o.renew_deadline_ms && o.renew_deadline_ms * 10 > o.retry_ms * 12))
    return nd_error_make(err, EINVAL,
                         "leaderElection: need leaseDuration > renewDeadline > 1.2 x "
                         "retryPeriod (got %llu ms, %llu ms, %llu ms)",
                         (unsigned long long)o.lease_ms, (unsigned long long)o.renew_deadline_ms,
                         (unsigned long long)o.retry_ms),
           NULL;
  if (o.namespace_ == NULL || o.lease_name == NULL || o.identity == NULL || !o.identity[0])
    return nd_error_make(err, EINVAL, "leaderElection: namespace, leaseName and identity needed"),
           NULL;
  nd_leader_election *le = calloc(1, sizeof(*le));
  if (le == NULL)
    abort();
  le->loop = loop;
  le->k8s = k8s;
  le->opts = o;
  le->ns = strdup(o.namespace_);
  le->name = strdup(o.lease_name);
  le->identity = strdup(o.identity);
  cleanup_free char *ens = nd_k8s_escape(le->ns), *ename = nd_k8s_escape(le->name);
  if (asprintf(&le->collection, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", ens) < 0 ||
      asprintf(&le->path, "%s/%s", le->collection, ename) < 0)
    abort();
  le->cb = cb;
  le->cb_data = data;
  le->timer = nd_loop_add_timer(loop, 0, 0, on_tick, le, err);
  if (le->timer == NULL) {
    nd_leader_election_free(le);
    return NULL;
  }
  nd_timer_disarm(le->timer);
  return le;
}

int nd_leader_election_start(nd_leader_election *le, nd_error_t *err) {
  ND_LOG_INFO("leader", "campaigning", ND_KV_S("identity", le->identity),
              ND_KV_S("lease", le->name), ND_KV_S("namespace", le->ns));
  nd_timer_rearm(le->timer, 0, 0);
  return 0;
}

bool nd_leader_election_leading(const nd_leader_election *le) { return le->leading; }
uint64_t nd_leader_election_transitions(const nd_leader_election *le) { return le->transitions; }

static void finish_release(nd_leader_election *le) {
  if (le->leading && le->record != NULL) {
    json_t *rec = json_incref(le->record);
    write_lease(le, "PUT", rec, true);
    json_decref(rec);
    return;
  }
  release_finished(le);
}

void nd_leader_election_release(nd_leader_election *le, nd_defer_cb done, void *data) {
  le->releasing = true;
  nd_timer_disarm(le->timer);
  le->release_done = done;
  le->release_data = data;
  if (le->busy)
    return; /* the answer in flight continues with finish_release */
  finish_release(le);
}

void nd_leader_election_free(nd_leader_election *le) {
  if (le == NULL)
    return;
  if (le->timer)
    nd_loop_del_timer(le->loop, le->timer);
  json_decref(le->observed);
  json_decref(le->record);
  free(le->ns);
  free(le->name);
  free(le->identity);
  free(le->path);
  free(le->collection);
  free(le);
}
