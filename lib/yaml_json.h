/* yaml_json.h: YAML (libyaml) to jansson json_t and back, remembering where every node came
 * from so that later checks can say "file:line: key: what is wrong".
 *
 * Loading:
 *   - every document of a stream becomes one element of the returned JSON array;
 *     an empty document is null;
 *   - plain scalars are typed by the YAML 1.2 core schema: null (~, null, Null, NULL, empty),
 *     bool (true/True/TRUE/false/False/FALSE), int ([-+]digits, 0o octal, 0x hex; out of
 *     int64 range is an error), float ([-+](.d|d[.d])[e[-+]d], .inf, -.inf, .nan), otherwise
 *     string. Quoted and block scalars are strings. Tags !!str !!int !!float !!bool !!null
 *     force the type; other tags are an error;
 *   - mapping keys are scalars taken as text; a duplicate key is an error;
 *   - anchors/aliases are supported (the alias shares the anchored json_t); nesting depth is
 *     limited to 256 and the node count, aliases expanded, to 1,000,000 (alias bombs fail);
 *   - errors read "<name>:<line>:<column>: <problem>" (1-based).
 *
 * Source positions: jansson shares one json_t for every true/false/null, so positions are
 * kept both per node (containers, strings, numbers) and per member (object + key, array +
 * index). Ask for a member's position when the value may be a bool or null. */
#ifndef NETDRA_YAML_JSON_H
#define NETDRA_YAML_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"

typedef struct nd_yaml_lines nd_yaml_lines;

typedef struct {
  int line;   /* 1-based; 0 when unknown */
  int column; /* 1-based; 0 when unknown */
} nd_yaml_pos;

/* Load every document of text (len bytes; name is used in messages and kept in the table).
 * Returns a new JSON array of documents, or NULL with err. lines may be NULL; otherwise
 * *lines receives a new table (free with nd_yaml_lines_free) that refers to the returned
 * nodes by address: keep the documents alive while using it. */
json_t *nd_yaml_load_string(const char *text, size_t len, const char *name, nd_yaml_lines **lines,
                            nd_error_t *err);
json_t *nd_yaml_load_file(const char *path, nd_yaml_lines **lines, nd_error_t *err);

/* Position of a node (not reliable for true/false/null, see above). */
int nd_yaml_line_of(const nd_yaml_lines *lines, const json_t *node);
nd_yaml_pos nd_yaml_pos_of(const nd_yaml_lines *lines, const json_t *node);
/* Position of the value of object member key (the key's line for an empty value). */
nd_yaml_pos nd_yaml_pos_of_member(const nd_yaml_lines *lines, const json_t *object,
                                  const char *key);
/* Position of the key of object member key. */
nd_yaml_pos nd_yaml_pos_of_key(const nd_yaml_lines *lines, const json_t *object, const char *key);
/* Position of array element index. */
nd_yaml_pos nd_yaml_pos_of_index(const nd_yaml_lines *lines, const json_t *array, size_t index);
/* The name given when loading ("config.yaml"). */
const char *nd_yaml_source_name(const nd_yaml_lines *lines);
void nd_yaml_lines_free(nd_yaml_lines *lines);

/* YAML text of value (one document, block style, strings quoted when they would read back as
 * another type). malloc'd, or NULL with err. */
char *nd_yaml_dump(const json_t *value, nd_error_t *err);
/* Write nd_yaml_dump(value) to out. */
int nd_yaml_dump_file(FILE *out, const json_t *value, nd_error_t *err);

#endif
