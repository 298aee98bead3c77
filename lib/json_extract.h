/* json_extract.h: decode only the members of a JSON document that a caller reads.
 *
 * A ResourceClaim as the API server returns it is mostly what a node plugin never reads
 * (managedFields, spec, ownerReferences, reservedFor); building all of it with jansson and
 * freeing it again was the largest cost of a prepare. nd_json_extract checks the syntax of the
 * whole text, skips what is not asked for without building anything, and hands only the
 * values at the given paths to jansson:
 *
 *   static const char *const uid[] = {"metadata", "uid", NULL};
 *   static const char *const alloc[] = {"status", "allocation", NULL};
 *   json_t *claim = nd_json_extract(text, len, (const char *const *[]){uid, alloc, NULL}, &err);
 *   // {"metadata": {"uid": "..."}, "status": {"allocation": {...}}}, or less
 *
 * The result holds the objects on the way to each value found and the values themselves, as
 * json_loadb would have given them (a later duplicate key replaces an earlier one, as in
 * jansson); a path whose members are missing, or cross a value that is not an object, is
 * simply absent. The document must be an object. Values on the paths are checked by jansson
 * in full; skipped text is checked for structure (strings and their escapes, numbers,
 * literals, nesting up to 2048 levels, nothing after the document) but not for UTF-8 or
 * number range. No path may be a prefix of another. */
#ifndef NETDRA_JSON_EXTRACT_H
#define NETDRA_JSON_EXTRACT_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

/* paths: NULL-terminated list of NULL-terminated key lists (at most 32 paths, each at least
 * one key). A new reference, or NULL with err (EINVAL with the byte offset of a syntax error;
 * ENOMEM). */
json_t *nd_json_extract(const char *text, size_t len, const char *const *const *paths,
                        nd_error_t *err);

#endif
