/* main.c: netdractl, the command-line tool for operators and developers of netdra.
 *
 *   netdractl [--kubeconfig F] [--driver D] [-o table|json|yaml] COMMAND [flags]
 *
 * COMMAND: devices, slices, announce, validate, prepare, unprepare ("netdractl help"). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "controller_config.h"
#include "log.h"
#include "plugin_config.h"
#include "netdractl.h"

static void usage(FILE *out) {
  fputs("usage: netdractl [--kubeconfig FILE] [--driver NAME] [-o table|json|yaml] COMMAND [flags]\n"
        "\n"
        "commands:\n"
        "  devices    what discovery sees, with health (from the controller's /debug/devices)\n"
        "  slices     the ResourceSlices published for the driver\n"
        "  announce   publish a device announcement over MQTT (for testing)\n"
        "  validate   check announcement, inventory or config files and say exactly what is wrong\n"
        "  prepare    call NodePrepareResources on a node plugin socket (debugging)\n"
        "  unprepare  call NodeUnprepareResources on a node plugin socket (debugging)\n"
        "  config-reference controller|node-plugin   every configuration key as Markdown\n"
        "\n"
        "Run 'netdractl COMMAND --help' for the flags of a command.\n",
        out);
}

/* Global flags may also follow the command (`netdractl slices -o yaml`): move them before it. */
static void hoist_globals(int argc, char **argv) {
  int cmd = 1;
  while (cmd < argc && argv[cmd][0] == '-') {
    bool takes_value = strcmp(argv[cmd], "--kubeconfig") == 0 || strcmp(argv[cmd], "--driver") == 0 ||
                       strcmp(argv[cmd], "-o") == 0 || strcmp(argv[cmd], "--output") == 0;
    cmd += takes_value ? 2 : 1;
  }
  for (int i = cmd + 1; i < argc; i++) {
    bool pair = (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0 ||
                 strcmp(argv[i], "--kubeconfig") == 0 || strcmp(argv[i], "--driver") == 0) &&
                i + 1 < argc;
    bool single = strncmp(argv[i], "--kubeconfig=", 13) == 0;
    if (!pair && !single)
      continue;
    int n = pair ? 2 : 1;
    char *moved[2] = {argv[i], pair ? argv[i + 1] : NULL};
    memmove(&argv[cmd + n], &argv[cmd], (size_t)(i - cmd) * sizeof(char *));
    for (int k = 0; k < n; k++)
      argv[cmd + k] = moved[k];
    cmd += n;
    i += n - 1;
  }
}

int main(int argc, char **argv) {
  ctl_globals g = {.kubeconfig = NULL, .driver = "netdra.dev", .output = OUT_TABLE};
  nd_log_set_level(ND_LOG_WARN);
  hoist_globals(argc, argv);
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--kubeconfig") == 0 && val) {
      g.kubeconfig = val;
      i++;
    } else if (strncmp(a, "--kubeconfig=", 13) == 0) {
      g.kubeconfig = a + 13;
    } else if (strcmp(a, "--driver") == 0 && val) {
      g.driver = val;
      i++;
    } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && val) {
      if (strcmp(val, "json") == 0)
        g.output = OUT_JSON;
      else if (strcmp(val, "yaml") == 0)
        g.output = OUT_YAML;
      else if (strcmp(val, "table") == 0)
        g.output = OUT_TABLE;
      else {
        fprintf(stderr, "netdractl: -o %s: expected table, json or yaml\n", val);
        return 2;
      }
      i++;
    } else if (strcmp(a, "-v") == 0) {
      nd_log_set_level(ND_LOG_DEBUG);
    } else {
      fprintf(stderr, "netdractl: unknown flag %s\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[i];
  int cargc = argc - i;
  char **cargv = argv + i;
  if (strcmp(cmd, "devices") == 0)
    return cmd_devices(&g, cargc, cargv);
  if (strcmp(cmd, "slices") == 0)
    return cmd_slices(&g, cargc, cargv);
  if (strcmp(cmd, "announce") == 0)
    return cmd_announce(&g, cargc, cargv);
  if (strcmp(cmd, "validate") == 0)
    return cmd_validate(&g, cargc, cargv);
#ifdef NETDRACTL_PREPARE
  if (strcmp(cmd, "prepare") == 0 || strcmp(cmd, "unprepare") == 0)
    return cmd_prepare(&g, cargc, cargv);
#endif
  if (strcmp(cmd, "config-reference") == 0) {
    if (cargc == 2 && strcmp(cargv[1], "controller") == 0)
      nd_controller_config_reference(stdout);
    else if (cargc == 2 && strcmp(cargv[1], "node-plugin") == 0)
      nd_plugin_config_reference(stdout);
    else {
      fputs("usage: netdractl config-reference controller|node-plugin\n", stderr);
      return 2;
    }
    return 0;
  }
  if (strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "netdractl: unknown command \"%s\"\n", cmd);
  usage(stderr);
  return 2;
}
