/* cleanup.h: scope-bound release of heap memory, file descriptors, FILE*, json_t and errors
 * with the compiler's cleanup attribute (gnu11). Declare, then steal with nd_steal() to keep. */
#ifndef NETDRA_CLEANUP_H
#define NETDRA_CLEANUP_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

static inline void nd_freep(void *p) { free(*(void **)p); }
static inline void nd_closep(int *fd) {
  if (*fd >= 0)
    close(*fd);
}
static inline void nd_fclosep(FILE **f) {
  if (*f)
    fclose(*f);
}
static inline void nd_json_decrefp(json_t **j) { json_decref(*j); }
static inline void nd_error_releasep(nd_error_t *e) { nd_error_release(e); }

#define cleanup_free __attribute__((cleanup(nd_freep)))
#define cleanup_close __attribute__((cleanup(nd_closep)))
#define cleanup_file __attribute__((cleanup(nd_fclosep)))
#define cleanup_json __attribute__((cleanup(nd_json_decrefp)))
#define cleanup_error __attribute__((cleanup(nd_error_releasep)))

/* Take ownership out of a cleanup variable: `return nd_steal(p);` */
#define nd_steal(p)                                                                                \
  ({                                                                                               \
    __typeof__(p) nd_tmp_ = (p);                                                                   \
    (p) = (__typeof__(p))0;                                                                        \
    nd_tmp_;                                                                                       \
  })
#define nd_steal_fd(fd)                                                                            \
  ({                                                                                               \
    int nd_tmpfd_ = (fd);                                                                          \
    (fd) = -1;                                                                                     \
    nd_tmpfd_;                                                                                     \
  })

#define ND_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
