/* netdractl.h: the commands of netdractl, the operator's CLI, and the output helpers they
 * share (tables for people, -o json / -o yaml for scripts). */
#ifndef NETDRA_NETDRACTL_H
#define NETDRA_NETDRACTL_H

#include <jansson.h>
#include <stdio.h>

typedef enum { OUT_TABLE = 0, OUT_JSON, OUT_YAML } ctl_output;

typedef struct {
  const char *kubeconfig;
  const char *driver;
  ctl_output output;
} ctl_globals;

/* Each command parses its own flags from argv (argv[0] is the command name) and returns the
 * process exit code: 0 ok, 1 failure, 2 usage error. */
int cmd_devices(const ctl_globals *g, int argc, char **argv);
int cmd_slices(const ctl_globals *g, int argc, char **argv);
int cmd_announce(const ctl_globals *g, int argc, char **argv);
int cmd_validate(const ctl_globals *g, int argc, char **argv);
int cmd_prepare(const ctl_globals *g, int argc, char **argv);   /* also "unprepare" */

/* Output helpers (output.c). */
void ctl_print_json(FILE *out, const json_t *v);
int ctl_print_yaml(FILE *out, const json_t *v);
/* A table: header cells, then rows of the same width; columns padded to the widest cell. */
typedef struct ctl_table ctl_table;
ctl_table *ctl_table_new(size_t ncols, const char *const *header);
void ctl_table_add(ctl_table *t, const char *const *cells);
void ctl_table_print(FILE *out, const ctl_table *t);
void ctl_table_free(ctl_table *t);

#endif
