/* fake_k8s.h: controls of the in-memory API server behind the fake lib/k8s_client.h used by
 * the controller's unit tests (fake_k8s.c). Clients made with nd_k8s_client_new attach to the
 * store made last (or chosen with fake_store_use). */
#ifndef NETDRA_TESTS_FAKE_K8S_H
#define NETDRA_TESTS_FAKE_K8S_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "k8s_client.h"

typedef struct fake_store fake_store;

fake_store *fake_store_new(void);
void fake_store_free(fake_store *s);
void fake_store_use(fake_store *s);
/* Non-GET requests whose path contains path_part. */
size_t fake_store_writes(const fake_store *s, const char *path_part);
void fake_store_clear_log(fake_store *s);
/* The next `count` requests with this method and a path containing path_part fail. */
void fake_store_fault(fake_store *s, const char *method, const char *path_part, long status,
                      int count);
/* Direct changes, as someone else would make them (watchers are told). */
void fake_store_put(fake_store *s, const char *item_path, json_t *obj);
void fake_store_delete(fake_store *s, const char *item_path);
json_t *fake_store_get(fake_store *s, const char *item_path);
size_t fake_store_count(fake_store *s, const char *collection);
/* A client whose answers are dropped from now on (a killed process). */
void fake_client_kill(nd_k8s_client *c);
/* Async answers of this client come after ms milliseconds (default 2): tests whose point is
 * what happens while a write is in flight make it longer than a loop iteration can be on a
 * loaded machine under the sanitizers. */
void fake_client_set_latency(nd_k8s_client *c, unsigned ms);

#endif
