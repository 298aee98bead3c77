/* file_memo.c: values remembered per version of a file; see file_memo.h. */
#include "file_memo.h"

#include <stdlib.h>

typedef struct {
  ino_t ino;
  off_t size;
  struct timespec mtime;
  void *value;
} entry;

static bool same_version(const entry *e, const struct stat *st) {
  return e->ino == st->st_ino && e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
         e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

bool nd_file_memo_find(nd_file_memo *m, const char *key, const struct stat *st,
                       void (*use)(const void *value, void *data), void *data) {
  pthread_mutex_lock(&m->lock);
  const entry *e = m->entries ? nd_strmap_get(m->entries, key) : NULL;
  bool hit = e != NULL && same_version(e, st);
  if (hit)
    use(e->value, data);
  pthread_mutex_unlock(&m->lock);
  return hit;
}

void nd_file_memo_keep(nd_file_memo *m, const char *key, const struct stat *st, void *value) {
  entry *fresh = malloc(sizeof(*fresh));
  if (fresh == NULL) { /* not remembered: derived again next time */
    m->release(value);
    return;
  }
  *fresh = (entry){.ino = st->st_ino, .size = st->st_size, .mtime = st->st_mtim, .value = value};
  pthread_mutex_lock(&m->lock);
  if (m->entries == NULL)
    m->entries = nd_strmap_new();
  entry *old = nd_strmap_put(m->entries, key, fresh);
  pthread_mutex_unlock(&m->lock);
  if (old != NULL) {
    m->release(old->value);
    free(old);
  }
}
