/* claim_config.h: the opaque configuration of netdra devices in DeviceClasses and claims.
 *
 * Entries come from status.allocation.devices.config[] ({source: FromClass|FromClaim,
 * requests[], opaque{driver, parameters}}). Entries of other drivers are skipped. For one
 * allocated device (request name, device type) the entries that apply are those with no
 * requests or naming the request ("<req>" or "<req>/<sub>"); class entries are applied first,
 * then claim entries, each later one overriding the fields of the earlier ones.
 * parameters: {"apiVersion":"<driver>/v1alpha1","kind":K, ...fields of K}:
 *   CameraConfig      envPrefix (C identifier in upper case, <= 32), credentialsPath
 *                     (absolute container path), streamProfile (string <= 64)
 *   CxlMemoryConfig   containerPath (absolute /dev path), numaEnv (bool)
 *   AcceleratorConfig sessionTimeoutSeconds (1..86400), tokenPath (absolute container path)
 *   GpuConfig         preferVendorCdi (bool)
 * The kind must match the device type (CameraConfig for camera, ...). Unknown kind or field,
 * wrong type or range -> an error naming the entry index, the kind and the field. */
#ifndef NETDRA_NODE_PLUGIN_CLAIM_CONFIG_H
#define NETDRA_NODE_PLUGIN_CLAIM_CONFIG_H

#include <jansson.h>

#include "error.h"

/* Validate one parameters object of our driver; what names it in messages. */
int nd_claim_config_check(const char *driver, const json_t *params, const char *what,
                          nd_error_t *err);
/* Validate every entry of our driver in allocation config (array or NULL). */
int nd_claim_config_check_all(const char *driver, const json_t *config, nd_error_t *err);
/* The merged parameters for one allocated device (new reference) in *out, or NULL when no
 * entry applies. request: the result's request name (may be "<req>/<sub>"). device_type:
 * the device's type attribute; entries whose kind belongs to another type are errors. */
int nd_claim_config_for_request(const char *driver, const json_t *config, const char *request,
                                const char *device_type, json_t **out, nd_error_t *err);

#endif
