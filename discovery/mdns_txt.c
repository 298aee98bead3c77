/* mdns_txt.c: maps a resolved DNS-SD service (instance, address, port, TXT) to an
 * announcement document, so mDNS devices go through the same parser as MQTT ones.
 *
 * TXT keys (docs/announcements.md, "mDNS"): id, type, vendor, model, path, endpoint,
 * secret=<ns>/<name>, region, zone; a.<name>=<value> (attribute: int, bool or string by its
 * form), av.<name>=<semver> (version attribute), as.<name>=<value> (string attribute),
 * c.<name>=<quantity> (capacity). Unknown keys are ignored (devices add their own). */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "mdns_source.h"

#define TXT_VALUE_MAX 255 /* one TXT string is at most 255 bytes on the wire */

const nd_mdns_service_map nd_mdns_default_services[] = {
    {.service_type = "_netdra._tcp", .device_type = NULL, .vendor = NULL, .scheme = "http"},
    {.service_type = "_rtsp._tcp", .device_type = "camera", .vendor = NULL, .scheme = "rtsp"},
    {.service_type = "_axis-video._tcp",
     .device_type = "camera",
     .vendor = "axis",
     .scheme = "rtsp",
     .path = "/axis-media/media.amp"},
};
const size_t nd_mdns_n_default_services = ND_ARRAY_LEN(nd_mdns_default_services);

static bool is_integer(const char *s) {
  if (*s == '-' || *s == '+')
    s++;
  if (!isdigit((unsigned char)*s))
    return false;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s))
      return false;
  return true;
}

static json_t *infer_attribute(const char *v) {
  if (strcmp(v, "true") == 0)
    return json_pack("{s:b}", "bool", 1);
  if (strcmp(v, "false") == 0)
    return json_pack("{s:b}", "bool", 0);
  if (is_integer(v) && strlen(v) < 19)
    return json_pack("{s:I}", "int", (json_int_t)strtoll(v, NULL, 10));
  return json_pack("{s:s}", "string", v);
}

/* Split "key=value"; returns false for an empty key. value is "" for "key" alone. */
static bool split_txt(const char *kv, char *key, size_t keylen, const char **value) {
  const char *eq = strchr(kv, '=');
  size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
  if (n == 0 || n >= keylen)
    return false;
  memcpy(key, kv, n);
  key[n] = '\0';
  for (char *p = key; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  *value = eq ? eq + 1 : "";
  return true;
}

static int set_string(json_t *obj, const char *key, const char *value, nd_error_t *err) {
  json_t *s = json_string(value);
  if (s == NULL)
    return nd_error_make(err, EINVAL, "TXT %s: value is not UTF-8", key);
  json_object_set_new(obj, key, s);
  return 0;
}

json_t *nd_mdns_map_service(const nd_mdns_service_map *map, const char *instance,
                            const char *address, uint16_t port, const char *const *txt,
                            size_t n_txt, nd_error_t *err) {
  cleanup_json json_t *doc = json_object();
  cleanup_json json_t *attrs = json_object();
  cleanup_json json_t *caps = json_object();
  cleanup_json json_t *attach = json_object();
  const char *path = map->path, *endpoint = NULL, *zone = NULL;
  json_object_set_new(doc, "schemaVersion", json_integer(1));
  if (set_string(doc, "id", instance, err) < 0)
    return NULL;
  if (map->device_type)
    json_object_set_new(doc, "type", json_string(map->device_type));
  if (map->vendor)
    json_object_set_new(doc, "vendor", json_string(map->vendor));

  for (size_t i = 0; i < n_txt; i++) {
    char key[64];
    const char *value;
    if (!split_txt(txt[i], key, sizeof(key), &value))
      return nd_error_make(err, EINVAL, "TXT entry %zu: empty or over-long key", i), NULL;
    if (strlen(value) > TXT_VALUE_MAX)
      return nd_error_make(err, EINVAL, "TXT %s: value longer than %d bytes", key, TXT_VALUE_MAX),
             NULL;
    if (strcmp(key, "id") == 0 || strcmp(key, "model") == 0 || strcmp(key, "vendor") == 0 ||
        (strcmp(key, "type") == 0 && map->device_type == NULL)) {
      if (set_string(doc, key, value, err) < 0)
        return NULL;
    } else if (strcmp(key, "manufacturer") == 0 && !json_object_get(doc, "vendor")) {
      if (set_string(doc, "vendor", value, err) < 0)
        return NULL;
    } else if (strcmp(key, "path") == 0) {
      path = value;
    } else if (strcmp(key, "endpoint") == 0) {
      endpoint = value;
    } else if (strcmp(key, "zone") == 0) {
      zone = value;
    } else if (strcmp(key, "region") == 0) {
      if (set_string(attach, "fabricRegion", value, err) < 0)
        return NULL;
    } else if (strcmp(key, "secret") == 0) {
      const char *slash = strchr(value, '/');
      if (slash == NULL || slash == value || slash[1] == '\0')
        return nd_error_make(err, EINVAL, "TXT secret: expected <namespace>/<name>, got \"%s\"",
                             value),
               NULL;
      json_object_set_new(attach, "secretRef",
                          json_pack("{s:s%,s:s}", "namespace", value, (size_t)(slash - value),
                                    "name", slash + 1));
    } else if (strncmp(key, "a.", 2) == 0 || strncmp(key, "as.", 3) == 0 ||
               strncmp(key, "av.", 3) == 0) {
      const char *name = strchr(key, '.') + 1;
      if (*name == '\0')
        return nd_error_make(err, EINVAL, "TXT %s: attribute name missing", key), NULL;
      json_t *v = key[1] == 's'   ? json_pack("{s:s}", "string", value)
                  : key[1] == 'v' ? json_pack("{s:s}", "version", value)
                                  : infer_attribute(value);
      if (v == NULL)
        return nd_error_make(err, EINVAL, "TXT %s: value is not UTF-8", key), NULL;
      json_object_set_new(attrs, name, v);
    } else if (strncmp(key, "c.", 2) == 0) {
      if (key[2] == '\0')
        return nd_error_make(err, EINVAL, "TXT %s: capacity name missing", key), NULL;
      if (set_string(caps, key + 2, value, err) < 0)
        return NULL;
    }
  }

  if (json_object_get(doc, "type") == NULL)
    return nd_error_make(err, EINVAL, "service %s: TXT key type is required", instance), NULL;
  if (endpoint) {
    if (set_string(attach, "endpoint", endpoint, err) < 0)
      return NULL;
  } else if (address) {
    char url[512];
    bool v6 = strchr(address, ':') != NULL;
    snprintf(url, sizeof(url), "%s://%s%s%s:%u%s", map->scheme ? map->scheme : "http",
             v6 ? "[" : "", address, v6 ? "]" : "", port, path ? path : "");
    json_object_set_new(attach, "endpoint", json_string(url));
  }
  if (zone) {
    json_t *values = json_array();
    json_array_append_new(values, json_string(zone));
    json_object_set_new(
        doc, "reachability",
        json_pack("{s:[{s:s,s:s,s:o}]}", "nodeSelector", "key", "topology.kubernetes.io/zone",
                  "operator", "In", "values", values));
  } else {
    json_object_set_new(doc, "reachability", json_pack("{s:b}", "allNodes", 1));
  }
  if (json_object_size(attrs))
    json_object_set(doc, "attributes", attrs);
  if (json_object_size(caps))
    json_object_set(doc, "capacities", caps);
  if (json_object_size(attach))
    json_object_set(doc, "attach", attach);
  return nd_steal(doc);
}
