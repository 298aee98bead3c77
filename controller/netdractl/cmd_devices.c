/* cmd_devices.c: `netdractl devices`: what discovery sees, with health, as the controller
 * reports it on its HTTP endpoint (GET <controller>/debug/devices, a JSON array). */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "netdractl.h"

typedef struct {
  char *data;
  size_t len;
} body_buf;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  body_buf *b = ud;
  size_t add = sz * n;
  if (b->len + add > 64u << 20)
    return 0; /* refuse bodies over 64 MiB */
  char *grown = realloc(b->data, b->len + add + 1);
  if (grown == NULL)
    return 0;
  b->data = grown;
  memcpy(b->data + b->len, p, add);
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

int cmd_devices(const ctl_globals *g, int argc, char **argv) {
  const char *controller = getenv("NETDRA_CONTROLLER");
  static const struct option opts[] = {{"controller", required_argument, NULL, 'c'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1;) {
    if (c == 'c') {
      controller = optarg;
      continue;
    }
    fputs("usage: netdractl devices [--controller URL]\n"
          "  URL of the controller's metrics endpoint (default $NETDRA_CONTROLLER or http://127.0.0.1:8080)\n",
          c == 'h' ? stdout : stderr);
    return c == 'h' ? 0 : 2;
  }
  if (controller == NULL)
    controller = "http://127.0.0.1:8080";
  cleanup_free char *url = NULL;
  if (asprintf(&url, "%s/debug/devices", controller) < 0)
    return 1;
  CURL *h = curl_easy_init();
  body_buf body = {0};
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  CURLcode cc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  cleanup_free char *data = body.data;
  if (cc != CURLE_OK || status != 200) {
    fprintf(stderr, "netdractl devices: GET %s: %s\n", url,
            cc != CURLE_OK ? curl_easy_strerror(cc) : "unexpected HTTP status");
    return 1;
  }
  json_error_t jerr;
  cleanup_json json_t *devices = json_loadb(data ? data : "", body.len, 0, &jerr);
  if (!json_is_array(devices)) {
    fprintf(stderr, "netdractl devices: %s: not a JSON array (%s)\n", url, jerr.text);
    return 1;
  }
  if (g->output == OUT_JSON) {
    ctl_print_json(stdout, devices);
    return 0;
  }
  if (g->output == OUT_YAML)
    return ctl_print_yaml(stdout, devices) < 0 ? 1 : 0;
  static const char *const header[] = {"POOL", "NAME", "TYPE", "VENDOR", "MODEL", "HEALTH", "SOURCE", "ENDPOINT"};
  static const char *const keys[] = {"pool", "name", "type", "vendor", "model", "health", "source", "endpoint"};
  ctl_table *t = ctl_table_new(8, header);
  size_t i;
  json_t *d;
  json_array_foreach(devices, i, d) {
    const char *row[8];
    for (size_t k = 0; k < 8; k++)
      row[k] = json_string_value(json_object_get(d, keys[k]));
    ctl_table_add(t, row);
  }
  ctl_table_print(stdout, t);
  ctl_table_free(t);
  return 0;
}
