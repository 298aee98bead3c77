/* config.h: table-driven configuration for the daemons: one table describes every setting
 * (YAML key path, type, where it is stored, default, environment variable, flag, help), and
 * the loader fills a struct from it with the precedence
 *
 *     defaults < YAML file < environment < command-line flags
 *
 * Types and their C storage at `offset` in the struct:
 *   ND_CFG_STRING       char *          (malloc'd; freed by nd_config_free)
 *   ND_CFG_INT          int64_t         (optional bounds min..max when min < max)
 *   ND_CFG_BOOL         bool            (YAML true/false; env/flags true|false|1|0)
 *   ND_CFG_DURATION     int64_t ms      ("500ms", "15s", "2m", "1h30m", "1.5s"; units ms s m h;
 *                                        bounds min..max in ms when min < max)
 *   ND_CFG_QUANTITY     nd_quantity     ("64Gi", "500m"; a YAML number is read as its text)
 *   ND_CFG_STRING_LIST  nd_config_strings (YAML list of strings; env/flags comma-separated)
 *   ND_CFG_TABLE        nested struct at offset, described by .fields
 *
 * Errors name the source, the line and the dotted key:
 *   controller.yaml:12: leaderElection.leaseDuration: expected a duration like 15s, got "abc"
 *   controller.yaml:3: leaderElection.leaseDuratoin: unknown key (known: leaseDuration, ...)
 *   environment NETDRA_LEASE_DURATION: leaderElection.leaseDuration: expected a duration ...
 *   flag --lease-duration: leaderElection.leaseDuration: expected a duration ...
 * The struct must start zeroed (= {0} or calloc). On error it keeps whatever was loaded so far;
 * call nd_config_free either way. */
#ifndef NETDRA_CONFIG_H
#define NETDRA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "quantity.h"

typedef enum {
  ND_CFG_STRING = 0,
  ND_CFG_INT,
  ND_CFG_BOOL,
  ND_CFG_DURATION,
  ND_CFG_QUANTITY,
  ND_CFG_STRING_LIST,
  ND_CFG_TABLE,
} nd_config_type;

typedef struct {
  char **items;
  size_t count;
} nd_config_strings;

typedef struct nd_config_field {
  const char *key;  /* YAML key at this level ("leaseDuration"); a {0} entry ends a table */
  nd_config_type type;
  size_t offset;    /* offsetof() in the struct this table describes */
  const char *def;  /* default, written as for a flag ("15s", "true", "a,b"); NULL: zero/empty */
  const char *env;  /* environment variable or NULL */
  const char *flag; /* flag name without dashes ("lease-duration") or NULL */
  const char *help; /* one line */
  const struct nd_config_field *fields; /* ND_CFG_TABLE only */
  int64_t min, max; /* ND_CFG_INT / ND_CFG_DURATION bounds, used when min < max */
} nd_config_field;

/* Set every field to its default. */
int nd_config_defaults(const nd_config_field *table, void *out, nd_error_t *err);
/* Apply a YAML file (one document, a mapping; an empty file changes nothing). */
int nd_config_apply_file(const nd_config_field *table, void *out, const char *path, nd_error_t *err);
/* Apply YAML text; name is used in messages. */
int nd_config_apply_yaml(const nd_config_field *table, void *out, const char *text, size_t len,
                         const char *name, nd_error_t *err);
/* Apply environment variables from envp ("NAME=value" strings, NULL-terminated). */
int nd_config_apply_env(const nd_config_field *table, void *out, char *const *envp,
                        nd_error_t *err);
/* Apply flags argv[1..argc): --name=value, --name value, -name value, --bool-flag. Flags named
 * in `ignore` (NULL-terminated, e.g. {"config", NULL}) take a value and are skipped. Unknown
 * flags and positional arguments are errors. */
int nd_config_apply_flags(const nd_config_field *table, void *out, int argc, char *const *argv,
                          const char *const *ignore, nd_error_t *err);
/* defaults, then the file named by --config (or config_path when none is given; NULL = no
 * file), then envp, then argv. --config itself is accepted by the flag parser. */
int nd_config_load(const nd_config_field *table, void *out, const char *config_path, int argc,
                   char *const *argv, char *const *envp, nd_error_t *err);
/* Value of --name / --name=value / -name value in argv, or NULL. */
const char *nd_config_flag_value(int argc, char *const *argv, const char *name);

/* Free strings and lists the loader allocated in out. */
void nd_config_free(const nd_config_field *table, void *out);

/* Parse a duration ("1h30m", "500ms") into milliseconds; -1 with a message on error. */
int nd_config_parse_duration(const char *text, int64_t *ms, nd_error_t *err);

/* Reference documentation: a Markdown table of every key (dotted), type, default, flag,
 * environment variable and help, in table order. */
void nd_config_reference_markdown(const nd_config_field *table, FILE *out);
/* Short --help text: one line per flag. */
void nd_config_usage(const nd_config_field *table, FILE *out);

#endif
