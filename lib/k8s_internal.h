/* k8s_internal.h: what the files of the Kubernetes REST client share with each other and
 * nobody else (k8s_client.c, k8s_config.c, k8s_watch.c). The public face is k8s_client.h. */
#ifndef NETDRA_K8S_INTERNAL_H
#define NETDRA_K8S_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "k8s_client.h"

/* Where to talk to and how to authenticate, from a kubeconfig or the service account. */
typedef struct {
  char *server;     /* https://host:port */
  char *token;      /* static bearer token */
  char *token_file; /* re-read when it changes (rotation) */
  char *ca_file, *cert_file, *key_file;
  unsigned char *ca_data, *cert_data, *key_data; /* decoded *-data */
  size_t ca_len, cert_len, key_len;
  bool insecure;
  char *source; /* file path or "in-cluster", for messages */
} nd_k8s_config;

int nd_k8s_config_load(const char *kubeconfig, const char *context, nd_k8s_config *out,
                       nd_error_t *err);
int nd_k8s_config_from_kubeconfig(const char *path, const char *context, nd_k8s_config *out,
                                  nd_error_t *err);
int nd_k8s_config_in_cluster(nd_k8s_config *out, nd_error_t *err);
void nd_k8s_config_clear(nd_k8s_config *c);

/* A streaming request (watch): body bytes go to on_data as they arrive, done runs once. */
typedef size_t (*nd_k8s_data_cb)(const char *data, size_t len, void *user);
typedef struct nd_k8s_stream nd_k8s_stream;
nd_k8s_stream *nd_k8s_stream_start(nd_k8s_client *c, const char *path, nd_k8s_data_cb on_data,
                                   nd_k8s_done_cb done, void *user, nd_error_t *err);
/* Abort a stream; its done callback is not called afterwards. */
void nd_k8s_stream_cancel(nd_k8s_client *c, nd_k8s_stream *s);

nd_loop *nd_k8s_client_loop(nd_k8s_client *c);

/* One line of a watch stream, decoded (fuzzed on its own: tests/fuzz/fuzz_watch_event.c). */
typedef struct {
  json_t *event;  /* the whole event, owned: json_decref when done */
  json_t *object; /* borrowed from event */
  nd_watch_event kind;
  bool is_error;  /* an ERROR event carrying a Status */
  int error_code;
  const char *resource_version; /* borrowed, may be NULL */
} nd_k8s_watch_line;
int nd_k8s_watch_decode(const char *line, size_t len, nd_k8s_watch_line *out, nd_error_t *err);

#endif
