/* backend_http.h: blocking JSON-over-HTTP calls of the network backends (fabric manager,
 * accelerator control endpoint) with libcurl easy: one handle per call, a whole-request
 * timeout, no proxy, no redirects. Private to node-plugin/backend_*.c. */
#ifndef NETDRA_NODE_PLUGIN_BACKEND_HTTP_H
#define NETDRA_NODE_PLUGIN_BACKEND_HTTP_H

#include <jansson.h>

#include "error.h"

/* method url (body: JSON or NULL). On an HTTP answer returns 0 with *status and *reply (the
 * parsed JSON body or NULL when empty / not JSON). A transport failure (refused, timeout
 * after timeout_ms) returns -1 with an error naming the method, URL and the cause.
 * what: the peer in messages ("fabric manager"). The reply body never goes into logs. */
int nd_backend_http_json(const char *what, const char *method, const char *url,
                         const json_t *body, int timeout_ms, long *status, json_t **reply,
                         nd_error_t *err);
/* An error for an unexpected HTTP status, with the peer's "error" message when it sent one. */
int nd_backend_http_status_error(nd_error_t *err, const char *what, const char *method,
                                 const char *url, long status, const json_t *reply);
/* URL-escape one path segment or query value (heap, free()). */
char *nd_backend_url_escape(const char *s);
/* DELETE <base><collection>/<escaped id>; 200, 204 and 404 (already gone) count as done. */
int nd_backend_http_delete(const char *what, const char *base, const char *collection,
                           const char *id, nd_error_t *err);
/* base + path without a doubled '/' (heap). */
char *nd_backend_url(const char *base, const char *path);

#endif
