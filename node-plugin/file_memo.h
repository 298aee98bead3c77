/* file_memo.h: values derived from files, remembered per version of the file.
 *
 * Attaching a GPU at every prepare reads what cannot change unless a file changes (what each
 * PCI function is, the vendor CDI specs); a memo keeps each derived value with the version of
 * the file it came from (inode, size, mtime: a replaced or rewritten file is a new version),
 * for the process's lifetime. A memo is shared by the workers: find and keep take its lock, and
 * a value is only used inside find's callback or through a reference it takes there. */
#ifndef NETDRA_NODE_PLUGIN_FILE_MEMO_H
#define NETDRA_NODE_PLUGIN_FILE_MEMO_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "strmap.h"

typedef struct {
  pthread_mutex_t lock;
  nd_strmap *entries;           /* key -> the value and its file's version */
  void (*release)(void *value); /* frees a value that is replaced */
} nd_file_memo;

#define ND_FILE_MEMO_INIT(release_fn) {PTHREAD_MUTEX_INITIALIZER, NULL, (release_fn)}

/* When key's value was derived from the version of its file that st describes, use(value,
 * data) runs under the lock and true is returned; false otherwise. */
bool nd_file_memo_find(nd_file_memo *m, const char *key, const struct stat *st,
                       void (*use)(const void *value, void *data), void *data);
/* Remember value (owned by the memo from here on) for key and that version of its file. */
void nd_file_memo_keep(nd_file_memo *m, const char *key, const struct stat *st, void *value);

#endif
