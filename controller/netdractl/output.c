/* output.c: how netdractl prints: aligned tables, JSON, YAML (through lib/yaml_json). */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "netdractl.h"
#include "yaml_json.h"

struct ctl_table {
  size_t ncols, nrows, cap;
  char **cells; /* row-major, header first */
};

ctl_table *ctl_table_new(size_t ncols, const char *const *header) {
  ctl_table *t = calloc(1, sizeof(*t));
  t->ncols = ncols;
  ctl_table_add(t, header);
  return t;
}

void ctl_table_add(ctl_table *t, const char *const *cells) {
  t->cells = nd_grow(t->cells, &t->cap, t->nrows + 1, t->ncols * sizeof(char *), 16); /* rows */
  for (size_t c = 0; c < t->ncols; c++)
    t->cells[t->nrows * t->ncols + c] = strdup(cells[c] && *cells[c] ? cells[c] : "-");
  t->nrows++;
}

void ctl_table_print(FILE *out, const ctl_table *t) {
  size_t width[32] = {0};
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < t->ncols && c < 32; c++) {
      size_t w = strlen(t->cells[r * t->ncols + c]);
      if (w > width[c])
        width[c] = w;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[r * t->ncols + c];
      if (c + 1 == t->ncols)
        fprintf(out, "%s\n", cell);
      else
        fprintf(out, "%-*s  ", (int)width[c < 32 ? c : 31], cell);
    }
  }
}

void ctl_table_free(ctl_table *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}

void ctl_print_json(FILE *out, const json_t *v) {
  json_dumpf(v, out, JSON_INDENT(2) | JSON_SORT_KEYS);
  fputc('\n', out);
}

int ctl_print_yaml(FILE *out, const json_t *v) {
  nd_error_t err = NULL;
  if (nd_yaml_dump_file(out, v, &err) < 0) {
    fprintf(stderr, "netdractl: writing YAML: %s\n", nd_error_msg(err));
    nd_error_release(&err);
    return -1;
  }
  return 0;
}
