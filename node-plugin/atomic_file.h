/* atomic_file.h: crash-safe file writes for the node plugin's credential files and for creating
 * or growing its checkpoint (temp file in the same directory, fchmod, fsync, rename, fsync of
 * the directory), the same without the fsyncs for files rebuilt at every start (CDI specs),
 * mkdir -p, bounded reads. */
#ifndef NETDRA_NODE_PLUGIN_ATOMIC_FILE_H
#define NETDRA_NODE_PLUGIN_ATOMIC_FILE_H

#include <stddef.h>

#include "error.h"

/* Write len bytes of data to path atomically with the given mode. The temp file starts with
 * '.' and does not end in .json, so CDI runtimes never read a half-written file. */
int nd_write_file_atomic(const char *path, const char *data, size_t len, unsigned mode,
                         nd_error_t *err);
/* The same, and *fd (set to -1 first) is the new file, open read-write (O_CLOEXEC; the caller
 * closes it), for a caller that goes on overwriting the file in place (the checkpoint's slots).
 * *fd is set whenever the file was renamed into place, also when the fsync of the directory
 * failed afterwards (an error: the rename may not be durable). */
int nd_write_file_atomic_open(const char *path, const char *data, size_t len, unsigned mode,
                              int *fd, nd_error_t *err);
/* The same as nd_write_file_atomic (readers see the old or the new file, never a part), but not durable: no fsync of
 * the file or the directory, so after a power loss the old, the new or an empty file may be
 * found. For files the plugin rewrites at every start anyway (CDI specs). */
int nd_replace_file(const char *path, const char *data, size_t len, unsigned mode,
                    nd_error_t *err);
/* mkdir -p; created components get mode. An existing directory is fine. */
int nd_mkdir_p(const char *path, unsigned mode, nd_error_t *err);
/* Read a whole file (heap, NUL-terminated) of at most max_len bytes. */
int nd_read_file(const char *path, size_t max_len, char **data, size_t *len, nd_error_t *err);
/* Remove a directory tree (files and sub-directories); a missing path is fine. */
int nd_remove_tree(const char *path, nd_error_t *err);

#endif
