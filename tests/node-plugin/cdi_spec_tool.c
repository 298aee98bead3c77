/* cdi_spec_tool.c: test equipment: writes a claim's CDI spec with the node plugin's CDI writer.
 * usage: cdi_spec_tool write CDI_DIR VENDOR CLAIM_UID < [{"request","device","edits"}...]
 *        cdi_spec_tool remove CDI_DIR VENDOR CLAIM_UID
 * write prints the qualified CDI device IDs, one per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdi.h"
#include "cleanup.h"

int main(int argc, char **argv) {
  if (argc != 5 || (strcmp(argv[1], "write") && strcmp(argv[1], "remove"))) {
    fprintf(stderr, "usage: %s write|remove CDI_DIR VENDOR CLAIM_UID\n", argv[0]);
    return 2;
  }
  cleanup_error nd_error_t err = NULL;
  if (strcmp(argv[1], "remove") == 0) {
    if (nd_cdi_remove_claim_spec(argv[2], argv[3], argv[4], &err) < 0) {
      fprintf(stderr, "%s\n", nd_error_msg(err));
      return 1;
    }
    return 0;
  }
  json_error_t jerr;
  cleanup_json json_t *in = json_loadf(stdin, 0, &jerr);
  if (!json_is_array(in)) {
    fprintf(stderr, "stdin: line %d: %s\n", jerr.line, in ? "expected an array" : jerr.text);
    return 1;
  }
  size_t n = json_array_size(in);
  nd_cdi_device *devs = calloc(n ? n : 1, sizeof(*devs));
  char **names = calloc(n ? n : 1, sizeof(*names));
  for (size_t i = 0; i < n; i++) {
    json_t *d = json_array_get(in, i);
    names[i] = nd_cdi_device_name(argv[4], json_string_value(json_object_get(d, "request")),
                                  json_string_value(json_object_get(d, "device")));
    devs[i].name = names[i];
    devs[i].edits = json_object_get(d, "edits");
  }
  int rc = 0;
  if (nd_cdi_write_claim_spec(argv[2], argv[3], argv[4], devs, n, &err) < 0) {
    fprintf(stderr, "%s\n", nd_error_msg(err));
    rc = 1;
  }
  for (size_t i = 0; i < n; i++) {
    if (rc == 0) {
      char *id = nd_cdi_qualified_id(argv[3], names[i]);
      printf("%s\n", id);
      free(id);
    }
    free(names[i]);
  }
  free(names);
  free(devs);
  return rc;
}
