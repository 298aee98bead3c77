/* main.c: netdra-controller: configuration, the loop, and the wiring of discovery ->
 * registry -> planner -> reconciler under leader election; SIGTERM releases the Lease. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binding_conditions.h"
#include "cleanup.h"
#include "controller.h"
#include "controller_sources.h"
#include "log.h"
#include "memtrim.h"
#include "metrics_server.h"

#define ND_API_DISCOVERY_TRIES 30
/* a registry batch this large (an inventory load, a burst of announcements) leaves the
 * parser's peak as free heap; it is trimmed once the batches have been quiet this long */
#define TRIM_BATCH_MIN 256
#define TRIM_DELAY_MS 100

static void update_active(nd_controller *c) {
  bool active = c->started && c->leading && !c->shutting_down;
  nd_reconciler_set_active(c->reconciler, active);
  if (c->binding != NULL)
    nd_binding_conditions_set_active(c->binding, active);
}

static void on_leader(nd_leader_election *le, bool leading, void *data) {
  nd_controller *c = data;
  c->leading = leading;
  update_active(c);
}

static void on_startup(nd_loop *loop, nd_timer *t, void *data) {
  nd_controller *c = data;
  c->started = true;
  ND_LOG_INFO("controller", "startup_delay_passed", ND_KV_I("devices", nd_registry_count(c->registry)));
  update_active(c);
}

static void on_registry(nd_registry *r, const nd_change *changes, size_t n, void *data) {
  nd_controller *c = data;
  for (size_t i = 0; i < n; i++)
    if ((size_t)changes[i].kind < ND_ARRAY_LEN(c->discovery_events))
      c->discovery_events[changes[i].kind]++;
  for (size_t i = 0; i < n; i++)
    nd_reconciler_trigger_pool(c->reconciler, changes[i].pool);
  if (n >= TRIM_BATCH_MIN)
    nd_memtrim_poke(c->trim);
}

static void on_released(nd_loop *loop, void *data) { nd_loop_stop(loop); }

static void on_signal(nd_loop *loop, int signo, void *data) {
  nd_controller *c = data;
  if (c->shutting_down)
    return;
  ND_LOG_INFO("controller", "shutting_down", ND_KV_I("signal", signo));
  c->shutting_down = true;
  update_active(c);
  if (c->leader != NULL)
    nd_leader_election_release(c->leader, on_released, c);
  else
    nd_loop_stop(loop);
}

/* Which resource.k8s.io version to write; retried while the API server comes up. */
static int discover_api(nd_controller *c, nd_error_t *err) {
  for (int i = 0; i < ND_API_DISCOVERY_TRIES; i++) {
    cleanup_error nd_error_t e = NULL;
    if (nd_k8s_resource_api_version(c->k8s, &c->api_version, &e) == 0) {
      if (strcmp(c->api_version, "v1beta1") == 0)
        return nd_error_make(err, ENOTSUP,
                             "the API server serves only resource.k8s.io/v1beta1; netdra writes "
                             "the v1/v1beta2 shape (Kubernetes >= 1.33)");
      ND_LOG_INFO("controller", "api_version", ND_KV_S("version", c->api_version));
      return 0;
    }
    ND_LOG_WARN("controller", "api_discovery_failed", ND_KV_S("error", nd_error_msg(e)),
                ND_KV_I("attempt", i + 1));
    struct timespec ts = {.tv_sec = 1};
    nanosleep(&ts, NULL);
  }
  return nd_error_make(err, EIO, "resource.k8s.io API discovery failed %d times",
                       ND_API_DISCOVERY_TRIES);
}

static int setup(nd_controller *c, nd_error_t *err) {
  nd_log_level level;
  nd_log_format format;
  if (nd_log_parse_level(c->cfg.log_level, &level) < 0)
    return nd_error_make(err, EINVAL, "logLevel: unknown level \"%s\"", c->cfg.log_level);
  if (nd_log_parse_format(c->cfg.log_format, &format) < 0)
    return nd_error_make(err, EINVAL, "logFormat: unknown format \"%s\"", c->cfg.log_format);
  nd_log_set_level(level);
  nd_log_set_format(format);

  c->loop = nd_loop_new(err);
  if (c->loop == NULL)
    return -1;
  c->trim = nd_memtrim_new(c->loop, TRIM_DELAY_MS, err);
  if (c->trim == NULL)
    return -1;
  if (nd_loop_add_signal(c->loop, SIGTERM, on_signal, c, err) < 0 ||
      nd_loop_add_signal(c->loop, SIGINT, on_signal, c, err) < 0)
    return -1;
  nd_k8s_options kopts = {.kubeconfig_path = c->cfg.kubeconfig,
                          .qps = (double)c->cfg.qps,
                          .burst = (int)c->cfg.burst,
                          .user_agent = "netdra-controller"};
  c->k8s = nd_k8s_client_new(c->loop, &kopts, err);
  if (c->k8s == NULL)
    return nd_error_wrap(err, "Kubernetes client");
  if (discover_api(c, err) < 0)
    return -1;

  nd_registry_options ropts = {.stale_after_ms = (uint64_t)c->cfg.stale_after_ms,
                               .offline_grace_ms = (uint64_t)c->cfg.taint_grace_ms};
  c->registry = nd_registry_new(c->loop, &ropts, err);
  if (c->registry == NULL)
    return nd_error_wrap(err, "device registry");
  nd_registry_subscribe(c->registry, on_registry, c);
  c->taints = nd_health_taints_new((uint64_t)c->cfg.hysteresis_ms);
  c->pool_stats = json_object();

  nd_reconciler_options rcopts = {.driver = c->cfg.driver_name,
                                  .api_version = c->api_version,
                                  .always_bump = c->cfg.always_bump_generation,
                                  .debounce_ms = (uint64_t)c->cfg.debounce_ms,
                                  .debounce_max_ms = (uint64_t)c->cfg.debounce_max_ms,
                                  .resync_ms = (uint64_t)c->cfg.resync_ms,
                                  .trim = c->trim};
  c->reconciler = nd_reconciler_new(c->loop, c->k8s, &rcopts, nd_controller_plan, c, err);
  if (c->reconciler == NULL || nd_reconciler_start(c->reconciler, err) < 0)
    return -1;

  if (c->cfg.binding_conditions) {
    nd_binding_options bopts = {.driver = c->cfg.driver_name,
                                .api_version = c->api_version,
                                .fabric_manager_url = c->cfg.fabric_manager_url,
                                .attach_timeout_ms = (int)c->cfg.attach_timeout_ms};
    c->binding = nd_binding_conditions_new(c->loop, c->k8s, c->registry, &bopts, err);
    if (c->binding == NULL || nd_binding_conditions_start(c->binding, err) < 0)
      return nd_error_wrap(err, "binding conditions");
  }

  if (nd_controller_sources_start(c, err) < 0)
    return nd_error_wrap(err, "discovery");

  if (c->cfg.leader_election) {
    nd_leader_options lopts = {.namespace_ = c->cfg.lease_namespace,
                               .lease_name = c->cfg.lease_name,
                               .identity = c->cfg.identity,
                               .lease_ms = (uint64_t)c->cfg.lease_ms,
                               .renew_deadline_ms = (uint64_t)c->cfg.renew_deadline_ms,
                               .retry_ms = (uint64_t)c->cfg.retry_ms};
    c->leader = nd_leader_election_new(c->loop, c->k8s, &lopts, on_leader, c, err);
    if (c->leader == NULL || nd_leader_election_start(c->leader, err) < 0)
      return -1;
  } else {
    c->leading = true;
  }
  c->startup = nd_loop_add_timer(c->loop, (uint64_t)c->cfg.startup_delay_ms, 0, on_startup, c, err);
  if (c->startup == NULL)
    return -1;
  if (c->cfg.metrics_address != NULL && c->cfg.metrics_address[0] != '\0') {
    c->metrics = nd_metrics_server_start(c, c->cfg.metrics_address, err);
    if (c->metrics == NULL)
      return nd_error_wrap(err, "metrics endpoint %s", c->cfg.metrics_address);
  }
  ND_LOG_INFO("controller", "started", ND_KV_S("driver", c->cfg.driver_name),
              ND_KV_S("identity", c->cfg.identity), ND_KV_B("leader_election", c->cfg.leader_election));
  return 0;
}

static void teardown(nd_controller *c) {
  /* stop watches first, then free the REST client (it ends outstanding requests, whose
   * callbacks still find their owners alive), then the owners */
  if (c->reconciler)
    nd_reconciler_stop(c->reconciler);
  if (c->binding)
    nd_binding_conditions_stop(c->binding);
  nd_metrics_server_free(c->metrics);
  nd_controller_sources_stop(c);
  if (c->startup)
    nd_loop_del_timer(c->loop, c->startup);
  nd_k8s_client_free(c->k8s);
  nd_leader_election_free(c->leader);
  nd_reconciler_free(c->reconciler);
  nd_binding_conditions_free(c->binding);
  nd_registry_free(c->registry);
  nd_health_taints_free(c->taints);
  json_decref(c->pool_stats);
  nd_memtrim_free(c->trim);
  nd_loop_free(c->loop);
  nd_controller_config_clear(&c->cfg);
}

int main(int argc, char **argv) {
  nd_controller c = {0};
  cleanup_error nd_error_t err = NULL;
  int rc = nd_controller_config_load(&c.cfg, argc, argv, &err);
  if (rc != 0) {
    if (rc > 0) {
      nd_controller_config_clear(&c.cfg);
      return 0;
    }
    fprintf(stderr, "netdra-controller: %s\n", nd_error_msg(err));
    nd_controller_config_clear(&c.cfg);
    return 2;
  }
  srand((unsigned)(getpid() ^ (unsigned)nd_now_ms()));
  /* one loop thread, plus the fabric-manager workers of binding conditions: two malloc
   * arenas are plenty */
  nd_malloc_limit_arenas(2);
  int status = 0;
  if (setup(&c, &err) < 0 || nd_loop_run(c.loop, &err) < 0) {
    ND_LOG_ERROR("controller", "fatal", ND_KV_S("error", nd_error_msg(err)));
    status = 1;
  }
  ND_LOG_INFO("controller", "stopped");
  teardown(&c);
  return status;
}
