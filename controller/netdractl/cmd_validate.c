/* cmd_validate.c: `netdractl validate FILE...`: checks announcement documents (JSON, as
 * published on MQTT) and static inventory files (YAML with a `devices:` list) with the same
 * parser the controller uses, and says exactly what is wrong: file, line, field, reason.
 * Exit 0 when every file is valid, 1 otherwise. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "controller_config.h"
#include "discovery.h"
#include "netdractl.h"
#include "plugin_config.h"

#define VALIDATE_MAX_BYTES (1u << 20)

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The device id of a file that does not name one: its base name, as a topic would. */
static char *id_from_file(const char *file) {
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  const char *dot = strrchr(base, '.');
  return strndup(base, dot ? (size_t)(dot - base) : strlen(base));
}

static int check_document(const char *file, int line, const json_t *doc) {
  cleanup_error nd_error_t err = NULL;
  const char *id = json_string_value(json_object_get(doc, "id"));
  cleanup_free char *fallback = id ? NULL : id_from_file(file);
  nd_device *d = nd_announcement_parse("mqtt", "validate", id ? id : fallback, doc, &err);
  if (d == NULL) {
    if (line > 0)
      fprintf(stdout, "%s:%d: %s\n", file, line, nd_error_msg(err));
    else
      fprintf(stdout, "%s: %s\n", file, nd_error_msg(err));
    return -1;
  }
  nd_device_free(d);
  return 0;
}

static int validate_json(const char *file) {
  json_error_t jerr;
  cleanup_json json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL) {
    fprintf(stdout, "%s:%d:%d: invalid JSON: %s\n", file, jerr.line, jerr.column, jerr.text);
    return -1;
  }
  if (!json_is_object(doc)) {
    fprintf(stdout, "%s: an announcement must be a JSON object\n", file);
    return -1;
  }
  return check_document(file, 0, doc);
}

/* An inventory file: the static source's own check, so the rules and messages are the
 * controller's. */
static int validate_yaml(const char *file) {
  cleanup_error nd_error_t err = NULL;
  size_t n = 0;
  if (nd_static_inventory_check(file, &n, &err) < 0) {
    fprintf(stdout, "%s\n", nd_error_msg(err));
    return -1;
  }
  return 0;
}

/* A daemon configuration file, through the daemon's own key table (lib/config.h). */
static int validate_config(const char *kind, const char *file) {
  cleanup_error nd_error_t err = NULL;
  char *args[] = {"netdractl", "--config", (char *)file, NULL};
  int rc;
  if (strcmp(kind, "controller") == 0) {
    nd_controller_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    rc = nd_controller_config_load(&cfg, 3, args, &err);
    nd_controller_config_clear(&cfg);
  } else {
    nd_plugin_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    /* the file alone, not this shell's environment; the DaemonSet gives NODE_NAME */
    char *const envp[] = {"NODE_NAME=validate", NULL};
    rc = nd_plugin_config_load(&cfg, 3, args, envp, &err);
    nd_plugin_config_clear(&cfg);
  }
  if (rc < 0) {
    fprintf(stdout, "%s\n", nd_error_msg(err));
    return -1;
  }
  return 0;
}

int cmd_validate(const ctl_globals *g, int argc, char **argv) {
  const char *kind = NULL;
  static const struct option opts[] = {{"kind", required_argument, NULL, 'k'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1;) {
    if (c == 'k') {
      kind = optarg;
      continue;
    }
    fputs("usage: netdractl validate [--kind announcement|inventory|controller|node-plugin] FILE...\n"
          "  announcement (default for *.json): one announcement (docs/announcements.md)\n"
          "  inventory (default for *.yaml): a static inventory file (`devices:` list)\n"
          "  controller, node-plugin: a daemon configuration file (docs/configuration.md)\n",
          c == 'h' ? stdout : stderr);
    return c == 'h' ? 0 : 2;
  }
  if (kind && strcmp(kind, "announcement") && strcmp(kind, "inventory") &&
      strcmp(kind, "controller") && strcmp(kind, "node-plugin")) {
    fprintf(stderr, "netdractl validate: --kind %s: expected announcement, inventory, controller or node-plugin\n", kind);
    return 2;
  }
  if (optind >= argc) {
    fputs("netdractl validate: no files given\n", stderr);
    return 2;
  }
  int bad = 0;
  for (int i = optind; i < argc; i++) {
    const char *file = argv[i];
    int rc = kind && (strcmp(kind, "controller") == 0 || strcmp(kind, "node-plugin") == 0)
                 ? validate_config(kind, file)
             : (kind && strcmp(kind, "announcement") == 0) || (!kind && has_suffix(file, ".json"))
                 ? validate_json(file)
             : (kind && strcmp(kind, "inventory") == 0) || has_suffix(file, ".yaml") || has_suffix(file, ".yml")
                 ? validate_yaml(file)
                 : -2;
    if (rc == -2) {
      fprintf(stdout, "%s: unknown file kind: expected .json (announcement) or .yaml (inventory)\n", file);
      rc = -1;
    }
    if (rc < 0)
      bad++;
    else if (g->output == OUT_TABLE)
      fprintf(stdout, "%s: valid\n", file);
  }
  return bad ? 1 : 0;
}
