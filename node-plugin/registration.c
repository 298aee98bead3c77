/* registration.c: the kubelet plugin registration service (see registration.h). */
#include "registration.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"
#include "log.h"
#include "pluginregistration.pb-c.h"

/* the kubelet takes the first entry it knows, in this order (fact sheet 1.4) */
static const char *const supported_versions[] = {"v1.DRAPlugin", "v1beta1.DRAPlugin",
                                                 "v1alpha1.DRAResourceHealth"};

struct nd_registration {
  nd_grpc_server *srv;
  char *driver, *dra_socket;
  bool registered;
  char *error;
  unsigned info_calls;
};

static void get_info(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  nd_registration *r = data;
  Pluginregistration__InfoRequest *in = pluginregistration__info_request__unpack(NULL, len, req);
  if (in == NULL) {
    nd_grpc_call_fail(call, GRPC_INVALID_ARGUMENT, "cannot decode InfoRequest");
    return;
  }
  pluginregistration__info_request__free_unpacked(in, NULL);
  r->info_calls++;
  Pluginregistration__PluginInfo info = PLUGINREGISTRATION__PLUGIN_INFO__INIT;
  info.type = "DRAPlugin";
  info.name = r->driver;
  info.endpoint = r->dra_socket;
  info.n_supported_versions = sizeof(supported_versions) / sizeof(supported_versions[0]);
  info.supported_versions = (char **)supported_versions;
  uint8_t buf[1024];
  size_t n = pluginregistration__plugin_info__get_packed_size(&info);
  if (n > sizeof(buf)) {
    nd_grpc_call_fail(call, GRPC_INTERNAL, "plugin info too large");
    return;
  }
  pluginregistration__plugin_info__pack(&info, buf);
  nd_grpc_call_reply(call, buf, n);
}

static void notify(nd_grpc_call *call, const uint8_t *req, size_t len, void *data) {
  nd_registration *r = data;
  Pluginregistration__RegistrationStatus *st =
      pluginregistration__registration_status__unpack(NULL, len, req);
  if (st == NULL) {
    nd_grpc_call_fail(call, GRPC_INVALID_ARGUMENT, "cannot decode RegistrationStatus");
    return;
  }
  r->registered = st->plugin_registered;
  free(r->error);
  r->error = st->error && *st->error ? strdup(st->error) : NULL;
  if (st->plugin_registered)
    ND_LOG_INFO("registration", "registered", ND_KV_S("driver", r->driver));
  else
    ND_LOG_ERROR("registration", "rejected-by-kubelet", ND_KV_S("driver", r->driver),
                 ND_KV_S("error", st->error));
  pluginregistration__registration_status__free_unpacked(st, NULL);
  Pluginregistration__RegistrationStatusResponse resp = PLUGINREGISTRATION__REGISTRATION_STATUS_RESPONSE__INIT;
  uint8_t buf[16];
  size_t n = pluginregistration__registration_status_response__pack(&resp, buf);
  nd_grpc_call_reply(call, buf, n);
}

nd_registration *nd_registration_new(nd_loop *loop, const char *reg_socket, const char *driver,
                                     const char *dra_socket, nd_error_t *err) {
  nd_registration *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return nd_error_make(err, ENOMEM, "allocating registration"), NULL;
  r->driver = strdup(driver);
  r->dra_socket = strdup(dra_socket);
  r->srv = nd_grpc_server_new(loop, err);
  if (r->srv == NULL ||
      nd_grpc_server_add_method(r->srv, "/pluginregistration.Registration/GetInfo", false,
                                get_info, r, err) < 0 ||
      nd_grpc_server_add_method(r->srv, "/pluginregistration.Registration/NotifyRegistrationStatus",
                                false, notify, r, err) < 0 ||
      nd_grpc_server_listen_unix(r->srv, reg_socket, 0600, err) < 0) {
    nd_registration_free(r);
    return NULL;
  }
  return r;
}

void nd_registration_free(nd_registration *r) {
  if (r == NULL)
    return;
  nd_grpc_server_free(r->srv);
  free(r->driver);
  free(r->dra_socket);
  free(r->error);
  free(r);
}

bool nd_registration_registered(const nd_registration *r) { return r->registered; }
const char *nd_registration_error(const nd_registration *r) { return r->error; }
unsigned nd_registration_info_calls(const nd_registration *r) { return r->info_calls; }
