/* config_yaml.h: a YAML file -> JSON document (libyaml), for the controller's configuration.
 * Plain scalars resolve to null/bool/integer/real as YAML 1.2 core; quoted ones stay strings.
 * Errors name the file and line. Anchors, aliases and multi-document files are refused. */
#ifndef NETDRA_CONTROLLER_CONFIG_YAML_H
#define NETDRA_CONTROLLER_CONFIG_YAML_H

#include <jansson.h>

#include "error.h"

int nd_yaml_load_file(const char *path, json_t **out, nd_error_t *err);

#endif
