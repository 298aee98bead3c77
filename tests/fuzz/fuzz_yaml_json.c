/* fuzz_yaml_json.c: YAML loading must never crash or leak, and every loaded document must
 * dump to YAML that loads back to an equal document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_yaml_lines *lines = NULL;
  nd_error_t err = NULL;
  json_t *docs = nd_yaml_load_string((const char *)data, size, "fuzz.yaml", &lines, &err);
  if (docs == NULL) {
    if (err == NULL)
      abort();
    nd_error_release(&err);
    return 0;
  }
  size_t i;
  json_t *doc;
  json_array_foreach(docs, i, doc) {
    nd_yaml_line_of(lines, doc);
    char *text = nd_yaml_dump(doc, &err);
    if (text == NULL)
      abort();
    json_t *back = nd_yaml_load_string(text, strlen(text), "dump.yaml", NULL, &err);
    if (back == NULL || json_array_size(back) != 1 || !json_equal(json_array_get(back, 0), doc))
      abort();
    json_decref(back);
    free(text);
  }
  nd_yaml_lines_free(lines);
  json_decref(docs);
  return 0;
}
