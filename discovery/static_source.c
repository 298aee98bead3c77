/* static_source.c: static inventory files into the registry (see static_source.h).
 * The directory holding the path is watched with inotify; any event schedules a rescan after
 * 100 ms (editors and ConfigMap updates write in several steps). Each file is parsed whole:
 * valid -> its devices are upserted and the ones it no longer lists removed; broken -> logged
 * with file:line, nothing changes. */
#include "static_source.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "discovery.h"
#include "log.h"
#include "strmap.h"
#include "yaml_json.h"

#define MAX_FILES 1024
#define MAX_DEVICES_PER_FILE 100000
#define RESCAN_DELAY_MS 100

/* The devices a file last described: their keys ("pool\nid"), each NUL-terminated, one
 * after another in one allocation (not one per device). */
typedef struct {
  size_t n;
  char text[];
} file_devices;

/* Walk the keys: for (const char *k = first_key(fd, &i); k; k = next_key(fd, k, &i)) */
static const char *first_key(const file_devices *fd, size_t *i) {
  *i = 0;
  return fd->n > 0 ? fd->text : NULL;
}
static const char *next_key(const file_devices *fd, const char *key, size_t *i) {
  return ++*i < fd->n ? key + strlen(key) + 1 : NULL;
}

struct nd_static_source {
  nd_loop *loop;
  nd_registry *reg;
  char *path;
  bool is_dir;
  int inotify_fd;
  nd_watch *watch;
  nd_timer *rescan;
  nd_strmap *files; /* file path -> file_devices */
};

static void free_file_devices(void *v) { free(v); }

/* Parse a file into devices (owned array). Returns count, or -1 with err. */
static ssize_t parse_file(const char *path, nd_device ***out, nd_error_t *err) {
  *out = NULL;
  nd_yaml_lines *lines = NULL;
  cleanup_json json_t *docs = nd_yaml_load_file(path, &lines, err);
  if (docs == NULL)
    return -1;
  ssize_t rc = -1;
  size_t n = 0;
  nd_device **devs = NULL;
  json_t *doc = json_array_get(docs, 0);
  if (json_array_size(docs) > 1) {
    nd_error_make(err, EINVAL, "%s: one YAML document per inventory file", path);
    goto out;
  }
  if (!json_is_object(doc)) {
    nd_error_make(err, EINVAL, "%s: expected a mapping with `pool` and `devices`", path);
    goto out;
  }
  const char *key;
  json_t *v;
  json_object_foreach(doc, key, v) {
    if (strcmp(key, "pool") && strcmp(key, "devices")) {
      nd_error_make(err, EINVAL, "%s:%d: %s: unknown field (pool, devices)", path,
                    nd_yaml_pos_of_member(lines, doc, key).line, key);
      goto out;
    }
  }
  json_t *pool = json_object_get(doc, "pool");
  if (pool && !json_is_string(pool)) {
    nd_error_make(err, EINVAL, "%s:%d: pool: expected a string", path,
                  nd_yaml_pos_of_member(lines, doc, "pool").line);
    goto out;
  }
  const char *pool_name = pool ? json_string_value(pool) : "static";
  json_t *list = json_object_get(doc, "devices");
  if (!json_is_array(list)) {
    nd_error_make(err, EINVAL, "%s:%d: devices: expected a list", path,
                  list ? nd_yaml_pos_of_member(lines, doc, "devices").line : 1);
    goto out;
  }
  if (json_array_size(list) > MAX_DEVICES_PER_FILE) {
    nd_error_make(err, ENOSPC, "%s: %zu devices, at most %d per file", path, json_array_size(list),
                  MAX_DEVICES_PER_FILE);
    goto out;
  }
  devs = calloc(json_array_size(list) + 1, sizeof(*devs));
  nd_strmap *seen = nd_strmap_new();
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    int line = nd_yaml_pos_of_index(lines, list, i).line;
    const char *id = json_string_value(json_object_get(item, "id"));
    if (!json_is_object(item) || id == NULL) {
      nd_error_make(err, EINVAL, "%s:%d: devices[%zu]: an entry needs an id", path, line, i);
      nd_strmap_free(seen, NULL);
      goto out;
    }
    if (nd_strmap_put(seen, id, item) != NULL) {
      nd_error_make(err, EINVAL, "%s:%d: devices[%zu]: id \"%s\" listed twice", path, line, i, id);
      nd_strmap_free(seen, NULL);
      goto out;
    }
    nd_error_t derr = NULL;
    nd_device *d = nd_announcement_parse("static", pool_name, id, item, &derr);
    if (d == NULL) {
      nd_error_make(err, EINVAL, "%s:%d: devices[%zu] (%s): %s", path, line, i, id, nd_error_msg(derr));
      nd_error_release(&derr);
      nd_strmap_free(seen, NULL);
      goto out;
    }
    devs[n++] = d;
  }
  nd_strmap_free(seen, NULL);
  *out = devs;
  devs = NULL;
  rc = (ssize_t)n;
out:
  for (size_t k = 0; devs && k < n; k++)
    nd_device_free(devs[k]);
  free(devs);
  nd_yaml_lines_free(lines);
  return rc;
}

int nd_static_inventory_check(const char *path, size_t *n_devices, nd_error_t *err) {
  nd_device **devs;
  ssize_t n = parse_file(path, &devs, err);
  if (n < 0)
    return -1;
  for (ssize_t i = 0; i < n; i++)
    nd_device_free(devs[i]);
  free(devs);
  if (n_devices)
    *n_devices = (size_t)n;
  return 0;
}

/* The keys ("pool\nid") of devs. */
static file_devices *file_devices_of(nd_device *const *devs, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += strlen(devs[i]->pool) + 1 + strlen(devs[i]->id) + 1;
  file_devices *fd = malloc(sizeof(*fd) + len + 1);
  if (fd == NULL)
    abort();
  fd->n = n;
  char *at = fd->text;
  for (size_t i = 0; i < n; i++)
    at += sprintf(at, "%s\n%s", devs[i]->pool, devs[i]->id) + 1;
  return fd;
}

static void remove_key(nd_static_source *s, const char *key) {
  cleanup_free char *pool = strdup(key);
  char *nl = strchr(pool, '\n');
  *nl = '\0';
  nd_registry_remove(s->reg, "static", pool, nl + 1);
}

/* Returns 0 when applied (or nothing changed), -1 when the file is broken. */
static int apply_file(nd_static_source *s, const char *path) {
  nd_device **devs;
  cleanup_error nd_error_t err = NULL;
  ssize_t n = parse_file(path, &devs, &err);
  if (n < 0) {
    ND_LOG_ERROR("static", "inventory-rejected", ND_KV_S("file", path), ND_KV_S("reason", nd_error_msg(err)));
    return -1;
  }
  file_devices *now = file_devices_of(devs, (size_t)n);
  nd_strmap *keep = nd_strmap_new_borrowed();
  size_t walked;
  for (const char *k = first_key(now, &walked); k != NULL; k = next_key(now, k, &walked))
    nd_strmap_put(keep, k, (void *)k);
  for (ssize_t i = 0; i < n; i++) {
    if (nd_registry_upsert(s->reg, devs[i], &err) < 0) {
      ND_LOG_ERROR("static", "device-rejected", ND_KV_S("file", path), ND_KV_S("reason", nd_error_msg(err)));
      nd_error_release(&err);
    }
  }
  free(devs);
  file_devices *before = nd_strmap_put(s->files, path, now);
  for (const char *k = before ? first_key(before, &walked) : NULL; k != NULL;
       k = next_key(before, k, &walked))
    if (nd_strmap_get(keep, k) == NULL)
      remove_key(s, k);
  nd_strmap_free(keep, NULL);
  if (before)
    free_file_devices(before);
  ND_LOG_INFO("static", "inventory-loaded", ND_KV_S("file", path), ND_KV_I("devices", n));
  return 0;
}

static bool is_yaml(const char *name) {
  size_t n = strlen(name);
  return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

int nd_static_source_reload(nd_static_source *s) {
  int broken = 0;
  nd_strmap *present = nd_strmap_new();
  if (s->is_dir) {
    DIR *dir = opendir(s->path);
    struct dirent *e;
    size_t count = 0;
    while (dir && (e = readdir(dir)) && count < MAX_FILES) {
      if (!is_yaml(e->d_name))
        continue;
      char *full = NULL;
      if (asprintf(&full, "%s/%s", s->path, e->d_name) < 0)
        continue;
      nd_strmap_put(present, full, full);
      count++;
    }
    if (dir)
      closedir(dir);
  } else if (access(s->path, R_OK) == 0) {
    nd_strmap_put(present, s->path, strdup(s->path));
  }
  size_t pos = 0;
  const char *k;
  void *v;
  while (nd_strmap_next(present, &pos, &k, &v))
    if (apply_file(s, k) < 0)
      broken++;
  /* files that disappeared: their devices go */
  char **gone = calloc(nd_strmap_size(s->files) + 1, sizeof(char *));
  size_t n_gone = 0;
  pos = 0;
  while (nd_strmap_next(s->files, &pos, &k, &v))
    if (nd_strmap_get(present, k) == NULL)
      gone[n_gone++] = strdup(k);
  for (size_t i = 0; i < n_gone; i++) {
    file_devices *fd = nd_strmap_del(s->files, gone[i]);
    size_t j;
    for (const char *key = first_key(fd, &j); key != NULL; key = next_key(fd, key, &j))
      remove_key(s, key);
    ND_LOG_INFO("static", "inventory-removed", ND_KV_S("file", gone[i]));
    free_file_devices(fd);
    free(gone[i]);
  }
  free(gone);
  nd_strmap_free(present, free);
  return broken;
}

static void on_rescan(nd_loop *loop, nd_timer *t, void *data) { nd_static_source_reload(data); }

static void on_inotify(nd_loop *loop, int fd, uint32_t events, void *data) {
  nd_static_source *s = data;
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  while (read(fd, buf, sizeof(buf)) > 0)
    ;
  nd_timer_rearm(s->rescan, RESCAN_DELAY_MS, 0);
}

nd_static_source *nd_static_source_new(nd_loop *loop, nd_registry *reg, const char *path,
                                       nd_error_t *err) {
  struct stat st;
  if (stat(path, &st) < 0)
    return nd_error_make(err, errno, "static inventory %s: %s", path, strerror(errno)), NULL;
  nd_static_source *s = calloc(1, sizeof(*s));
  s->loop = loop;
  s->reg = reg;
  s->path = strdup(path);
  s->is_dir = S_ISDIR(st.st_mode);
  s->files = nd_strmap_new();
  s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  cleanup_free char *dir = NULL;
  if (s->is_dir) {
    dir = strdup(path);
  } else {
    const char *slash = strrchr(path, '/');
    dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    if (*dir == '\0') {
      free(dir);
      dir = strdup("/");
    }
  }
  if (s->inotify_fd < 0 ||
      inotify_add_watch(s->inotify_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                                IN_DELETE | IN_CREATE | IN_ATTRIB) < 0) {
    nd_error_make(err, errno, "watching %s: %s", dir, strerror(errno));
    nd_static_source_free(s);
    return NULL;
  }
  s->watch = nd_loop_add_fd(loop, s->inotify_fd, EPOLLIN, on_inotify, s, err);
  s->rescan = nd_loop_add_timer(loop, 0, 0, on_rescan, s, err);
  if (s->watch == NULL || s->rescan == NULL) {
    nd_static_source_free(s);
    return NULL;
  }
  nd_timer_disarm(s->rescan);
  nd_static_source_reload(s);
  return s;
}

void nd_static_source_free(nd_static_source *s) {
  if (s == NULL)
    return;
  if (s->watch)
    nd_loop_del_fd(s->loop, s->watch);
  if (s->rescan)
    nd_loop_del_timer(s->loop, s->rescan);
  if (s->inotify_fd >= 0)
    close(s->inotify_fd);
  nd_strmap_free(s->files, free_file_devices);
  free(s->path);
  free(s);
}
