/* backend_test_no_k8s.c: REST client stand-in for backend tests that make no API call (the
 * camera backend is linked in through the registry): any call fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_client.h"

int nd_k8s_request(nd_k8s_client *c, const char *method, const char *path, const json_t *body,
                   const char *content_type, nd_k8s_result *r, nd_error_t *err) {
  fail_msg("unexpected API call %s %s", method, path);
  return -1;
}
void nd_k8s_result_clear(nd_k8s_result *r) { memset(r, 0, sizeof(*r)); }
char *nd_k8s_escape(const char *s) { return strdup(s); }
