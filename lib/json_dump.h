/* json_dump.h: json_t -> JSON text, byte for byte what jansson 2.14's json_dumps writes, at a
 * fraction of its cost.
 *
 * Why: json_dumps guards against cyclic trees by printing every object's and array's address
 * into a key of a freshly allocated hash table (a malloc and free per container), and hands
 * every piece of output to a callback; on the node plugin's checkpoint entries and CDI specs
 * that is most of the time spent serialising. nd_json_dumps writes into one growing buffer
 * and does no cycle check.
 *
 * The tree must be acyclic (a container that holds itself, directly or not, recurses without
 * end). Every tree in netdra is: built by our own code or parsed by jansson.
 *
 * Flags: JSON_COMPACT, JSON_INDENT(n), JSON_SORT_KEYS, JSON_ENCODE_ANY, JSON_PRESERVE_ORDER (a
 * no-op since jansson 2.8), JSON_ENSURE_ASCII, JSON_ESCAPE_SLASH and JSON_REAL_PRECISION(n),
 * in any combination, give exactly json_dumps's text (tests/lib-util/test_json_dump.c and
 * tests/fuzz/fuzz_json_dump.c compare the two). Any other flag (JSON_EMBED, bits jansson does
 * not define) is passed to json_dumps itself.
 *
 * The rules kept from jansson, for reference:
 *   - separators ", " and ": ", or "," and ":" with JSON_COMPACT; with JSON_INDENT(n) each
 *     member or element starts a new line indented n spaces per level, "," ends the line;
 *     empty containers are "{}" and "[]";
 *   - object members in the object's order (insertion order), or with JSON_SORT_KEYS by the
 *     bytes of the key (memcmp, a key before every longer key it is a prefix of);
 *   - strings: \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00XX (upper-case hex); DEL
 *     and non-ASCII as they are, or with JSON_ENSURE_ASCII as \uXXXX (a surrogate pair
 *     beyond U+FFFF); "/" as "\/" with JSON_ESCAPE_SLASH;
 *   - integers in decimal; reals as "%.17g" (or "%.<n>g" with JSON_REAL_PRECISION(n), n > 0),
 *     always with "." as the decimal point, ".0" appended when the text has neither "." nor
 *     "e", and the exponent without "+" or leading zeros ("1e+20" -> "1e20");
 *   - a string value that is not valid UTF-8 fails the whole dump (NULL); an object KEY that is
 *     not valid UTF-8 (only possible through the _nocheck setters) is, as in jansson, cut short
 *     without a closing quote and the dump goes on: `"` and the text up to the last escape
 *     before the bad byte are written, then the separator and the value;
 *   - a root that is neither an object nor an array needs JSON_ENCODE_ANY, else NULL. */
#ifndef NETDRA_JSON_DUMP_H
#define NETDRA_JSON_DUMP_H

#include <jansson.h>
#include <stddef.h>

/* The JSON text of json, malloc'd (free() it), or NULL when out of memory, for a NULL json, a
 * non-container root without JSON_ENCODE_ANY, or a string value that is not valid UTF-8. */
char *nd_json_dumps(const json_t *json, size_t flags);

#endif
