/* driver.h: prepare/unprepare orchestration of the node plugin.
 *
 * Runs the claims of one kubelet call on a small pool of worker threads (claims in parallel,
 * calls for the same claim serialised) and reports the outcome of the whole batch back on the
 * event loop with nd_loop_post. Prepare of one claim: GET the ResourceClaim (namespace/name,
 * UID must match, status.allocation required), take the results of our driver whose device is
 * usable on this node, look the device up in the ResourceSlices, apply the opaque config,
 * attach through the backend of the device's type (two-phase checkpoint around every step),
 * write the claim's CDI spec and answer with CDI device IDs. Unprepare detaches, removes the
 * CDI spec and the checkpoint entry; an unknown claim is a success. */
#ifndef NETDRA_NODE_PLUGIN_DRIVER_H
#define NETDRA_NODE_PLUGIN_DRIVER_H

#include <jansson.h>
#include <stddef.h>

#include "checkpoint.h"
#include "error.h"
#include "evloop.h"
#include "k8s_client.h"
#include "slice_cache.h"

typedef struct nd_driver nd_driver;

typedef struct {
  const char *driver_name; /* also the CDI vendor and the opaque-config API group */
  const char *node_name;
  const char *cdi_dir;
  const char *state_dir; /* per-claim dirs go to <state_dir>/claims/<uid> */
  const char *dev_root;
  int workers; /* 0: 4 */
  nd_loop *loop;
  nd_k8s_client *k8s; /* synchronous calls from workers */
  nd_slice_cache *slices;
  nd_checkpoint *checkpoint;
} nd_driver_options;

typedef struct {
  const char *namespace_, *uid, *name;
} nd_claim_ref;

typedef struct {
  char *request; /* base request name */
  char *pool, *device;
  char *cdi_id;  /* fully qualified CDI device ID */
} nd_prepared_device;

typedef struct {
  char *uid;
  char *error; /* NULL: success */
  nd_prepared_device *devices;
  size_t n_devices;
} nd_claim_outcome;

/* Runs on the loop thread once every claim of the call has an outcome; outcomes are freed
 * after it returns. */
typedef void (*nd_driver_done_cb)(nd_claim_outcome *outcomes, size_t n, void *data);

nd_driver *nd_driver_new(const nd_driver_options *opts, nd_error_t *err);
/* Stops the workers after the queued jobs ran (their results are dropped if the loop no
 * longer runs) and frees everything. */
void nd_driver_free(nd_driver *d);

/* Startup recovery, before serving: roll back entries stuck in prepare-started (detach what
 * was recorded), rewrite the CDI specs of completed entries (tmpfs is empty after a reboot)
 * and remove our CDI specs of claims the checkpoint does not hold (a crash inside a prepare
 * that records its claim only when complete). Blocking; errors of single claims are logged
 * and kept for a later unprepare. */
void nd_driver_recover(nd_driver *d);

int nd_driver_prepare(nd_driver *d, const nd_claim_ref *claims, size_t n, nd_driver_done_cb cb,
                      void *data, nd_error_t *err);
int nd_driver_unprepare(nd_driver *d, const nd_claim_ref *claims, size_t n, nd_driver_done_cb cb,
                        void *data, nd_error_t *err);
/* Calls accepted but not yet reported (loop thread). */
size_t nd_driver_in_flight(const nd_driver *d);

/* Devices of prepared claims: [{"pool","device","claim"}] (new reference; for health). */
json_t *nd_driver_prepared_devices(nd_driver *d);

/* The stages of one claim's prepare or unprepare, for where the time goes (/metrics). */
typedef enum {
  ND_STAGE_QUEUE,      /* accepted on the loop thread -> a worker starts on it */
  ND_STAGE_CLAIM_GET,  /* the ResourceClaim GET (prepare only) */
  ND_STAGE_DEVICES,    /* the claim's lock, planning, the backends' attach or detach */
  ND_STAGE_CDI_SPEC,   /* writing (removing) the claim's CDI spec and private directory */
  ND_STAGE_CHECKPOINT, /* the durable checkpoint writes */
  ND_STAGE_COUNT
} nd_driver_stage;
/* "queue", "claim_get", "devices", "cdi_spec", "checkpoint" */
const char *nd_driver_stage_name(nd_driver_stage stage);

/* Counters for /metrics and logs. The stage sums are seconds over every claim handled (failed
 * ones up to where they failed): divided by prepares/unprepares, the mean of each stage. */
typedef struct {
  unsigned long long prepares, prepare_errors, unprepares, unprepare_errors, attach_errors;
  double prepare_ms_sum, unprepare_ms_sum;
  double prepare_stage_s[ND_STAGE_COUNT], unprepare_stage_s[ND_STAGE_COUNT];
} nd_driver_stats;
void nd_driver_get_stats(nd_driver *d, nd_driver_stats *out);

#endif
