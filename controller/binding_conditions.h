/* binding_conditions.h: attach-before-start devices (feature-gated, bindingConditions.enabled).
 *
 * While leading, the controller watches ResourceClaims in all namespaces. For every allocated
 * device of our driver whose allocation result lists bindingConditions and whose claim has no
 * such condition yet in status.devices, it asks the fabric manager to attach the device's
 * region to the chosen node (allocation.nodeSelector), on a worker thread (libcurl), then
 * writes status.devices[] through the /status subresource: every binding condition True on
 * success, or the first bindingFailureCondition True with the error as message. Attach
 * outcomes are remembered per claim UID + device so a retried status write never attaches
 * twice.
 *
 * Fabric manager call (the API of tests/peers/fabric_manager.py): POST <base>/v1/attachments
 * with {"region": <fabricRegion>, "node": <node>, "claim": <claim uid>}; 201 (new) or 200 (the
 * same attachment exists: idempotent, so the node plugin's attach at prepare finds it) =
 * attached; 404 unknown region, 409 region busy, anything else = failed.
 * <base> is bindingConditions.fabricManagerURL, or the device's `endpoint` attribute. */
#ifndef NETDRA_CONTROLLER_BINDING_CONDITIONS_H
#define NETDRA_CONTROLLER_BINDING_CONDITIONS_H

#include <stdbool.h>

#include "discovery.h"
#include "evloop.h"
#include "k8s_client.h"

typedef struct nd_binding_conditions nd_binding_conditions;

typedef struct {
  const char *driver;
  const char *api_version;
  const char *fabric_manager_url; /* NULL: the device's endpoint */
  int attach_timeout_ms;          /* 0: 10000 */
} nd_binding_options;

typedef struct {
  uint64_t attach_ok, attach_failed, status_writes, status_conflicts;
} nd_binding_stats;

nd_binding_conditions *nd_binding_conditions_new(nd_loop *loop, nd_k8s_client *k8s,
                                                 const nd_registry *registry,
                                                 const nd_binding_options *opts,
                                                 nd_error_t *err);
int nd_binding_conditions_start(nd_binding_conditions *b, nd_error_t *err);
void nd_binding_conditions_set_active(nd_binding_conditions *b, bool active);
const nd_binding_stats *nd_binding_conditions_stats(const nd_binding_conditions *b);
/* Stop the claim watch and status writes (before freeing the REST client). */
void nd_binding_conditions_stop(nd_binding_conditions *b);
/* Stops the watch; waits for worker threads (bounded by the attach timeout). */
void nd_binding_conditions_free(nd_binding_conditions *b);

#endif
