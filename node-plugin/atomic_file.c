/* atomic_file.c: crash-safe writes, mkdir -p, bounded reads and tree removal; see atomic_file.h. */
#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

static int fsync_parent_dir(const char *path) {
  cleanup_free char *copy = strdup(path);
  if (copy == NULL)
    return -1;
  cleanup_close int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -1;
  return fsync(dfd);
}

/* keep_fd: NULL, or where the new file, open read-write, goes on success */
static int write_replace(const char *path, const char *data, size_t len, unsigned mode,
                         bool durable, int *keep_fd, nd_error_t *err) {
  cleanup_free char *copy = strdup(path);
  cleanup_free char *copy2 = strdup(path);
  cleanup_free char *tmp = NULL;
  if (copy == NULL || copy2 == NULL)
    return nd_error_make(err, ENOMEM, "writing %s: out of memory", path);
  if (asprintf(&tmp, "%s/.%s.tmp-XXXXXX", dirname(copy), basename(copy2)) < 0)
    return nd_error_make(err, ENOMEM, "writing %s: out of memory", path);
  cleanup_close int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return nd_error_make(err, errno, "writing %s: creating temp file: %s", path, strerror(errno));
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = errno;
      unlink(tmp);
      return nd_error_make(err, e, "writing %s: %s", tmp, strerror(e));
    }
    off += (size_t)w;
  }
  if (fchmod(fd, mode) < 0 || (durable && fsync(fd) < 0)) {
    int e = errno;
    unlink(tmp);
    return nd_error_make(err, e, "writing %s: chmod/fsync: %s", tmp, strerror(e));
  }
  if (rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return nd_error_make(err, e, "renaming %s to %s: %s", tmp, path, strerror(e));
  }
  /* from here the new file is in place: a caller that keeps it gets it even on an error */
  if (keep_fd)
    *keep_fd = nd_steal_fd(fd);
  if (durable && fsync_parent_dir(path) < 0)
    return nd_error_make(err, errno, "fsync of the directory of %s: %s", path, strerror(errno));
  return 0;
}

int nd_write_file_atomic(const char *path, const char *data, size_t len, unsigned mode,
                         nd_error_t *err) {
  return write_replace(path, data, len, mode, true, NULL, err);
}

int nd_write_file_atomic_open(const char *path, const char *data, size_t len, unsigned mode,
                              int *fd, nd_error_t *err) {
  *fd = -1;
  return write_replace(path, data, len, mode, true, fd, err);
}

int nd_replace_file(const char *path, const char *data, size_t len, unsigned mode,
                    nd_error_t *err) {
  return write_replace(path, data, len, mode, false, NULL, err);
}

int nd_mkdir_p(const char *path, unsigned mode, nd_error_t *err) {
  cleanup_free char *p = strdup(path);
  if (p == NULL || *p == '\0')
    return nd_error_make(err, EINVAL, "mkdir: empty path");
  /* the common case (a claim's directory under an existing state dir): one mkdir; the walk
   * from the root only when a parent is missing */
  bool made = mkdir(path, mode) == 0 || errno == EEXIST;
  for (char *s = p + 1; !made; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir(p, mode) < 0 && errno != EEXIST)
        return nd_error_make(err, errno, "creating directory %s: %s", p, strerror(errno));
      *s = c;
      if (c == '\0')
        break;
    }
  }
  struct stat st;
  if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
    return nd_error_make(err, ENOTDIR, "%s is not a directory", path);
  return 0;
}

int nd_read_file(const char *path, size_t max_len, char **data, size_t *len, nd_error_t *err) {
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return nd_error_make(err, errno, "reading %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0)
    return nd_error_make(err, errno, "reading %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return nd_error_make(err, EINVAL, "reading %s: not a regular file", path);
  if ((size_t)st.st_size > max_len)
    return nd_error_make(err, EFBIG, "reading %s: %lld bytes is over the limit of %zu", path,
                         (long long)st.st_size, max_len);
  /* read to EOF (files in /proc report a size of 0) into a buffer sized from the file's size,
   * grown while needed, never over max_len (not max_len up front: the checkpoint allows 64 MiB) */
  size_t cap = st.st_size > 0 ? (size_t)st.st_size : 4096;
  if (cap > max_len)
    cap = max_len;
  cleanup_free char *buf = malloc(cap + 1);
  if (buf == NULL)
    return nd_error_make(err, ENOMEM, "reading %s: out of memory", path);
  size_t off = 0;
  while (off < max_len) {
    if (off == cap) {
      size_t ncap = cap > max_len / 2 ? max_len : 2 * cap;
      char *nbuf = realloc(buf, ncap + 1);
      if (nbuf == NULL)
        return nd_error_make(err, ENOMEM, "reading %s: out of memory", path);
      buf = nbuf;
      cap = ncap;
    }
    ssize_t r = read(fd, buf + off, cap - off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return nd_error_make(err, errno, "reading %s: %s", path, strerror(errno));
    if (r == 0)
      break;
    off += (size_t)r;
  }
  if (off == max_len) {
    char extra;
    if (read(fd, &extra, 1) == 1)
      return nd_error_make(err, EFBIG, "reading %s: over the limit of %zu bytes", path, max_len);
  }
  buf[off] = '\0';
  *len = off;
  *data = nd_steal(buf);
  return 0;
}

int nd_remove_tree(const char *path, nd_error_t *err) {
  struct stat st;
  if (lstat(path, &st) < 0) {
    if (errno == ENOENT)
      return 0;
    return nd_error_make(err, errno, "removing %s: %s", path, strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d == NULL)
      return nd_error_make(err, errno, "removing %s: %s", path, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      cleanup_free char *child = NULL;
      if (asprintf(&child, "%s/%s", path, de->d_name) < 0) {
        closedir(d);
        return nd_error_make(err, ENOMEM, "removing %s: out of memory", path);
      }
      if (nd_remove_tree(child, err) < 0) {
        closedir(d);
        return -1;
      }
    }
    closedir(d);
    if (rmdir(path) < 0 && errno != ENOENT)
      return nd_error_make(err, errno, "removing %s: %s", path, strerror(errno));
    return 0;
  }
  if (unlink(path) < 0 && errno != ENOENT)
    return nd_error_make(err, errno, "removing %s: %s", path, strerror(errno));
  return 0;
}
