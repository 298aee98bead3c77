/* test_corpus.c: every payload of the malformed corpus (corpus/MANIFEST.tsv, made by
 * make_corpus.py) is rejected with a reason that contains the expected words, and a registry
 * fed with them stays exactly as it was. Runs under ASan in the sanitizer build (no leak). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "discovery.h"

static void test_corpus_rejected(void **state) {
  char dir[512], path[700], line[1024];
  snprintf(dir, sizeof(dir), "%s/tests/discovery/corpus", getenv("NETDRA_SOURCE_DIR"));
  snprintf(path, sizeof(path), "%s/MANIFEST.tsv", dir);
  cleanup_file FILE *m = fopen(path, "r");
  assert_non_null(m);
  cleanup_error nd_error_t err = NULL;
  nd_loop *loop = nd_loop_new(&err);
  nd_registry *reg = nd_registry_new(loop, NULL, &err);
  const char *good = "{\"type\":\"camera\",\"model\":\"keep\"}";
  assert_int_equal(nd_registry_upsert(reg, nd_announcement_parse_bytes("mqtt", "site-a", "dev", good,
                                                                         strlen(good), &err), &err), 0);
  nd_device *before = nd_device_clone(nd_registry_find(reg, "site-a", "dev"));
  int n = 0, reasons = 0;
  while (fgets(line, sizeof(line), m)) {
    line[strcspn(line, "\n")] = '\0';
    char *file = strtok(line, "\t"), *id = strtok(NULL, "\t"), *words = strtok(NULL, "\t");
    if (id && strcmp(id, "-") == 0)
      id = "";
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    cleanup_file FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[80000];
    size_t len = fread(buf, 1, sizeof(buf), f);
    nd_error_t perr = NULL;
    nd_device *d = nd_announcement_parse_bytes("mqtt", "site-a", id ? id : "dev", buf, len, &perr);
    if (d != NULL) {
      nd_device_free(d);
      fail_msg("%s was accepted", file);
    }
    if (perr == NULL || perr->msg == NULL || perr->msg[0] == '\0')
      fail_msg("%s rejected without a reason", file);
    if (words && *words && strstr(perr->msg, words) == NULL)
      fail_msg("%s: reason \"%s\" does not say \"%s\"", file, perr->msg, words);
    reasons += words && *words;
    nd_error_release(&perr);
    n++;
  }
  nd_loop_run_once(loop, 0, &err);
  assert_int_equal(n, 500);
  assert_int_equal(reasons, 320); /* the structured cases; the rest are byte-level mutations */
  assert_int_equal(nd_registry_count(reg), 1);
  assert_true(nd_device_equal(before, nd_registry_find(reg, "site-a", "dev")));
  nd_device_free(before);
  nd_registry_free(reg);
  nd_loop_free(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus_rejected)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
