/* plugin.c: startup, event loop and SIGTERM drain of netdra-node-plugin; see plugin.h.
 *
 * Order at start: checkpoint (recover interrupted prepares, restore CDI specs), slice cache
 * watch, DRA socket (the kubelet may call right after GetInfo), registration socket, local
 * GPU slice publisher. Order at SIGTERM: remove the registration socket (deregistration),
 * answer new calls UNAVAILABLE, wait up to 30 s for running calls, stop the loop. */
#include "plugin.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "cleanup.h"
#include "dra_service.h"
#include "driver.h"
#include "evloop.h"
#include "gpu_slice.h"
#include "grpc.h"
#include "health_service.h"
#include "k8s_client.h"
#include "local_slice.h"
#include "log.h"
#include "plugin_metrics.h"
#include "registration.h"
#include "slice_cache.h"

#define DRAIN_TIMEOUT_MS 30000

typedef struct {
  const nd_plugin_config *cfg;
  nd_loop *loop;
  nd_k8s_client *k8s;
  nd_checkpoint *cp;
  nd_slice_cache *slices;
  nd_driver *driver;
  nd_grpc_server *dra_srv;
  nd_dra_service *dra;
  nd_health_service *health;
  nd_registration *reg;
  nd_plugin_metrics *metrics;
  nd_local_slice *local;
  nd_timer *drain_timer;
  uint64_t drain_deadline;
} plugin;

static json_t *enumerate_gpus(const char *dev_root, nd_error_t *err) {
  return nd_gpu_slice_devices(dev_root, err);
}

/* Health of every device the kubelet may ask about: local GPUs and devices of prepared
 * claims (unhealthy when the controller tainted them unreachable, unknown when they are no
 * longer published). */
static json_t *health_source(void *data) {
  plugin *p = data;
  json_t *out = json_array();
  if (p->cfg->publish_local_gpus) {
    cleanup_error nd_error_t err = NULL;
    cleanup_json json_t *gpus = enumerate_gpus(p->cfg->dev_root, &err);
    size_t i;
    json_t *g;
    json_array_foreach(gpus, i, g) {
      json_array_append_new(out, json_pack("{s:s, s:O, s:s, s:s}", "pool", p->cfg->node_name,
                                           "device", json_object_get(g, "name"), "health",
                                           "healthy", "message", ""));
    }
  }
  cleanup_json json_t *prepared = nd_driver_prepared_devices(p->driver);
  size_t i;
  json_t *d;
  json_array_foreach(prepared, i, d) {
    const char *pool = json_string_value(json_object_get(d, "pool"));
    const char *dev = json_string_value(json_object_get(d, "device"));
    if (strcmp(pool, p->cfg->node_name) == 0)
      continue; /* a local GPU, already listed */
    cleanup_free char *node = NULL;
    cleanup_error nd_error_t err = NULL;
    cleanup_json json_t *sdev = nd_slice_cache_lookup(p->slices, pool, dev, false, &node, &err);
    const char *health = "healthy", *msg = "";
    if (sdev == NULL) {
      health = "unknown";
      msg = "device is no longer published in a ResourceSlice";
    } else if (nd_slice_device_unreachable(sdev, p->cfg->driver_name)) {
      health = "unhealthy";
      msg = "device does not answer (tainted unreachable by the controller)";
    }
    json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "pool", pool, "device", dev,
                                         "health", health, "message", msg));
  }
  return out;
}

static void on_slices_changed(void *data) {
  plugin *p = data;
  if (p->health)
    nd_health_service_changed(p->health);
}

static void drain_check(nd_loop *loop, nd_timer *t, void *data) {
  plugin *p = data;
  size_t pending = nd_dra_service_pending(p->dra);
  if (pending == 0 || nd_now_ms() >= p->drain_deadline) {
    if (pending)
      ND_LOG_WARN("plugin", "drain-timeout", ND_KV_I("pending_calls", pending));
    nd_loop_stop(loop);
  }
}

static void on_signal(nd_loop *loop, int signo, void *data) {
  plugin *p = data;
  if (p->drain_timer)
    return; /* already draining */
  ND_LOG_INFO("plugin", "draining", ND_KV_I("signal", signo));
  nd_registration_free(p->reg); /* removes the registration socket: kubelet deregisters */
  p->reg = NULL;
  nd_dra_service_drain(p->dra);
  p->drain_deadline = nd_now_ms() + DRAIN_TIMEOUT_MS;
  cleanup_error nd_error_t err = NULL;
  p->drain_timer = nd_loop_add_timer(loop, 0, 100, drain_check, p, &err);
  if (p->drain_timer == NULL)
    nd_loop_stop(loop);
}

static void plugin_close(plugin *p) {
  nd_plugin_metrics_free(p->metrics);
  nd_local_slice_stop(p->local);
  nd_registration_free(p->reg);
  if (p->drain_timer)
    nd_loop_del_timer(p->loop, p->drain_timer);
  nd_grpc_server_free(p->dra_srv); /* closes streams before the services go */
  nd_health_service_free(p->health);
  nd_dra_service_free(p->dra);
  nd_driver_free(p->driver);
  nd_slice_cache_free(p->slices);
  nd_checkpoint_free(p->cp);
  nd_k8s_client_free(p->k8s);
  if (p->loop) {
    /* run what workers posted while stopping, so nothing they own is lost */
    cleanup_error nd_error_t err = NULL;
    nd_loop_run_once(p->loop, 0, &err);
    nd_loop_free(p->loop);
  }
}

int nd_node_plugin_run(const nd_plugin_config *cfg, nd_error_t *err) {
  plugin p = {.cfg = cfg};
  int rc = -1;
  /* one claim GET per prepared claim: the client's default 50/s would cap prepares at 50/s */
  nd_k8s_options kopts = {.kubeconfig_path = cfg->kubeconfig,
                          .user_agent = "netdra-node-plugin",
                          .qps = 1000,
                          .burst = 2000};
  cleanup_free char *dra_sock = nd_plugin_config_dra_socket(cfg);
  cleanup_free char *reg_sock = nd_plugin_config_reg_socket(cfg);
  if ((p.loop = nd_loop_new(err)) == NULL)
    goto out;
  if ((p.k8s = nd_k8s_client_new(p.loop, &kopts, err)) == NULL) {
    nd_error_wrap(err, "Kubernetes client");
    goto out;
  }
  if ((p.cp = nd_checkpoint_open(cfg->state_dir, cfg->boot_id_file, err)) == NULL)
    goto out;
  if ((p.slices = nd_slice_cache_new(p.k8s, cfg->driver_name, err)) == NULL)
    goto out;
  nd_driver_options dopts = {.driver_name = cfg->driver_name,
                             .node_name = cfg->node_name,
                             .cdi_dir = cfg->cdi_dir,
                             .state_dir = cfg->state_dir,
                             .dev_root = cfg->dev_root,
                             .workers = cfg->workers,
                             .loop = p.loop,
                             .k8s = p.k8s,
                             .slices = p.slices,
                             .checkpoint = p.cp};
  if ((p.driver = nd_driver_new(&dopts, err)) == NULL)
    goto out;
  nd_driver_recover(p.driver);
  if (nd_slice_cache_start(p.slices, on_slices_changed, &p, err) < 0)
    goto out;

  if (nd_mkdir_p(cfg->plugin_dir, 0750, err) < 0 || nd_mkdir_p(cfg->registry_dir, 0750, err) < 0)
    goto out;
  if ((p.dra_srv = nd_grpc_server_new(p.loop, err)) == NULL)
    goto out;
  if ((p.dra = nd_dra_service_new(p.dra_srv, p.driver, err)) == NULL)
    goto out;
  if ((p.health = nd_health_service_new(p.loop, p.dra_srv, health_source, &p,
                                        cfg->health_interval_s, err)) == NULL)
    goto out;
  if (nd_grpc_server_listen_unix(p.dra_srv, dra_sock, 0660, err) < 0)
    goto out;
  ND_LOG_INFO("plugin", "dra-socket", ND_KV_S("path", dra_sock));

  if ((p.reg = nd_registration_new(p.loop, reg_sock, cfg->driver_name, dra_sock, err)) == NULL)
    goto out;
  ND_LOG_INFO("plugin", "registration-socket", ND_KV_S("path", reg_sock),
              ND_KV_S("driver", cfg->driver_name), ND_KV_S("node", cfg->node_name));

  if (cfg->metrics_address && *cfg->metrics_address &&
      (p.metrics = nd_plugin_metrics_start(p.loop, p.driver, cfg->metrics_address, err)) == NULL) {
    nd_error_wrap(err, "metrics endpoint %s", cfg->metrics_address);
    goto out;
  }
  if (cfg->publish_local_gpus &&
      (p.local = nd_local_slice_start(p.k8s, cfg->driver_name, cfg->node_name, cfg->dev_root,
                                      enumerate_gpus, 30, err)) == NULL)
    goto out;

  if (nd_loop_add_signal(p.loop, SIGTERM, on_signal, &p, err) < 0 ||
      nd_loop_add_signal(p.loop, SIGINT, on_signal, &p, err) < 0)
    goto out;
  signal(SIGPIPE, SIG_IGN);
  ND_LOG_INFO("plugin", "started", ND_KV_S("driver", cfg->driver_name),
              ND_KV_S("node", cfg->node_name), ND_KV_S("cdi_dir", cfg->cdi_dir),
              ND_KV_S("state_dir", cfg->state_dir));
  rc = nd_loop_run(p.loop, err);
  ND_LOG_INFO("plugin", "stopped");
out:
  plugin_close(&p);
  return rc;
}
