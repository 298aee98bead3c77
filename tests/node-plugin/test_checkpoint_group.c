/* test_checkpoint_group.c: group commit of the checkpoint: changes made while a write is in
 * progress share the next write, every caller gets the result of the write that covered its
 * change, and a failed write restores each change of its group to what is on disk. The
 * interleaving is forced with the checkpoint's write hook (it holds the first write until the
 * other changes are queued); nothing here depends on timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "cleanup.h"

typedef struct {
  char dir[64];
  char *state, *boot;
  /* write hook: each of the first `blocking` writes (1 unless a test sets it) waits until
   * `released` exceeds its number; sizes of every write's group */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t blocking, started, released;
  size_t calls, sizes[16];
  pthread_t writers[16]; /* the thread of each write */
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_ckpt_group.XXXXXX");
  if (mkdtemp(fx->dir) == NULL)
    return -1;
  if (asprintf(&fx->state, "%s/state", fx->dir) < 0 || asprintf(&fx->boot, "%s/boot_id", fx->dir) < 0)
    return -1;
  FILE *f = fopen(fx->boot, "w");
  fputs("boot-1\n", f);
  fclose(f);
  pthread_mutex_init(&fx->mu, NULL);
  pthread_cond_init(&fx->cv, NULL);
  fx->blocking = 1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_remove_tree(fx->dir, &err);
  pthread_mutex_destroy(&fx->mu);
  pthread_cond_destroy(&fx->cv);
  free(fx->state);
  free(fx->boot);
  free(fx);
  return 0;
}

static void hook(void *data, size_t changes) {
  fixture *fx = data;
  pthread_mutex_lock(&fx->mu);
  size_t call = fx->calls++;
  if (call < ND_ARRAY_LEN(fx->sizes))
    fx->sizes[call] = changes, fx->writers[call] = pthread_self();
  if (call < fx->blocking) {
    fx->started = call + 1;
    pthread_cond_broadcast(&fx->cv);
    while (fx->released <= call)
      pthread_cond_wait(&fx->cv, &fx->mu);
  }
  pthread_mutex_unlock(&fx->mu);
}

/* until write number `call` (0: the first) is held in the hook */
static void wait_blocked(fixture *fx, size_t call) {
  pthread_mutex_lock(&fx->mu);
  while (fx->started <= call)
    pthread_cond_wait(&fx->cv, &fx->mu);
  pthread_mutex_unlock(&fx->mu);
}

static void release_write(fixture *fx, size_t call) {
  pthread_mutex_lock(&fx->mu);
  fx->released = call + 1;
  pthread_cond_broadcast(&fx->cv);
  pthread_mutex_unlock(&fx->mu);
}


/* wait (no time limit of our own: ctest's timeout bounds it) until n changes are queued */
static void wait_queued(nd_checkpoint *cp, size_t n) {
  while (nd_checkpoint_waiting(cp) < n)
    usleep(1000);
}

static json_t *entry(const char *name) {
  return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s}]}", "namespace", "default",
                   "name", name, "phase", ND_CKPT_PREPARE_STARTED, "devices", "request", "cam",
                   "pool", "p", "device", "cam0", "type", "camera", "status",
                   ND_CKPT_DEV_ATTACHING);
}

/* An entry that alone does not fit a slot of a new checkpoint: writing it grows the file. */
static json_t *big_entry(const char *name) {
  json_t *e = entry(name);
  char *pad = calloc(1, ND_CKPT_SLOT_BYTES + 1);
  memset(pad, 'x', ND_CKPT_SLOT_BYTES);
  json_object_set_new(json_array_get(json_object_get(e, "devices"), 0), "sliceDevice",
                      json_pack("{s:s}", "pad", pad));
  free(pad);
  return e;
}

typedef struct {
  nd_checkpoint *cp;
  char uid[16];
  bool remove, big;
  int rc;
  char *msg;
} change;

static void *do_change(void *arg) {
  change *c = arg;
  nd_error_t err = NULL;
  if (c->remove) {
    c->rc = nd_checkpoint_remove(c->cp, c->uid, &err);
  } else {
    char name[32];
    snprintf(name, sizeof(name), "%s-new", c->uid);
    cleanup_json json_t *e = c->big ? big_entry(name) : entry(name);
    c->rc = nd_checkpoint_put(c->cp, c->uid, e, &err);
  }
  c->msg = err ? strdup(nd_error_msg(err)) : NULL;
  nd_error_release(&err);
  return NULL;
}

/* A checkpoint of the fixture with its write hook, and n puts of u0..u(n-1) ready to run. */
static nd_checkpoint *open_hooked(fixture *fx, change *c, int n) {
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  nd_checkpoint_set_write_hook(cp, hook, fx);
  for (int i = 0; i < n; i++) {
    c[i] = (change){.cp = cp};
    snprintf(c[i].uid, sizeof(c[i].uid), "u%d", i);
  }
  return cp;
}

/* Close cp, open the file again: every claim in it, n of them. */
static json_t *reopened(fixture *fx, nd_checkpoint *cp, size_t n) {
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint_free(cp);
  cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  json_t *all = nd_checkpoint_all(cp);
  assert_int_equal(json_object_size(all), n);
  nd_checkpoint_free(cp);
  return all;
}

static void test_concurrent_changes_share_one_write(void **state) {
  fixture *fx = *state;
  enum { N = 7 };
  change c[N];
  pthread_t th[N];
  nd_checkpoint *cp = open_hooked(fx, c, N);
  assert_int_equal(pthread_create(&th[0], NULL, do_change, &c[0]), 0);
  wait_blocked(fx, 0); /* u0's write is in progress, the lock is free */
  for (int i = 1; i < N; i++)
    assert_int_equal(pthread_create(&th[i], NULL, do_change, &c[i]), 0);
  wait_queued(cp, N - 1);
  /* readers see queued changes at once, before they are on disk */
  cleanup_json json_t *seen = nd_checkpoint_get(cp, "u6");
  assert_non_null(seen);
  release_write(fx, 0);
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(c[i].rc, 0);
    assert_null(c[i].msg);
  }
  /* one write for u0, one shared by the six queued behind it */
  assert_int_equal(nd_checkpoint_writes(cp), 2);
  assert_int_equal(fx->calls, 2);
  assert_int_equal(fx->sizes[0], 1);
  assert_int_equal(fx->sizes[1], N - 1);
  json_decref(reopened(fx, cp, N)); /* everything is on disk */
}

static void test_failed_write_restores_its_group(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  cleanup_json json_t *keep = entry("keep");
  assert_int_equal(nd_checkpoint_put(cp, "keep", keep, &err), 0);
  assert_int_equal(nd_checkpoint_put(cp, "gone", keep, &err), 0);
  nd_checkpoint_set_write_hook(cp, hook, fx);
  /* both writes need a larger file (an in-place write of the preallocated slots cannot fail
   * for want of space or of the directory; a growth can) */
  change a = {.cp = cp, .uid = "u0", .big = true};
  change b = {.cp = cp, .uid = "keep", .big = true}; /* replaces keep ("keep" -> "keep-new") */
  change r = {.cp = cp, .uid = "gone", .remove = true};
  pthread_t ta, tb, tr;
  assert_int_equal(pthread_create(&ta, NULL, do_change, &a), 0);
  wait_blocked(fx, 0);
  assert_int_equal(pthread_create(&tb, NULL, do_change, &b), 0);
  assert_int_equal(pthread_create(&tr, NULL, do_change, &r), 0);
  wait_queued(cp, 2);
  assert_null(nd_checkpoint_get(cp, "gone")); /* removed in memory, not yet on disk */
  /* take the directory away: both writes (u0's, then the one shared by keep and gone) must
   * grow the file and fail */
  cleanup_free char *away = NULL;
  assert_true(asprintf(&away, "%s.away", fx->state) > 0);
  assert_int_equal(rename(fx->state, away), 0);
  release_write(fx, 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  pthread_join(tr, NULL);
  change *all[] = {&a, &b, &r};
  for (size_t i = 0; i < ND_ARRAY_LEN(all); i++) {
    assert_int_equal(all[i]->rc, -1);
    assert_non_null(all[i]->msg);
    assert_non_null(strstr(all[i]->msg, "writing checkpoint"));
    free(all[i]->msg);
  }
  assert_int_equal(fx->sizes[1], 2);
  /* memory matches the disk again: u0 absent, keep and gone as last written */
  assert_null(nd_checkpoint_get(cp, "u0"));
  cleanup_json json_t *k = nd_checkpoint_get(cp, "keep");
  assert_true(json_equal(k, keep));
  cleanup_json json_t *g = nd_checkpoint_get(cp, "gone");
  assert_non_null(g);
  /* with the directory back, the next write succeeds and holds exactly that state + u3 */
  assert_int_equal(rename(away, fx->state), 0);
  cleanup_json json_t *u3 = entry("u3");
  assert_int_equal(nd_checkpoint_put(cp, "u3", u3, &err), 0);
  cleanup_json json_t *disk = reopened(fx, cp, 3);
  assert_non_null(json_object_get(disk, "keep"));
  assert_non_null(json_object_get(disk, "gone"));
  assert_non_null(json_object_get(disk, "u3"));
}

/* The writer's role passes on: changes queued during the second write are written by a third,
 * whose writer is the oldest of them, and each caller returns with its own write's result. */
static void test_writer_role_passes_in_arrival_order(void **state) {
  fixture *fx = *state;
  fx->blocking = 2;
  enum { N = 6 };
  change c[N];
  pthread_t th[N];
  nd_checkpoint *cp = open_hooked(fx, c, N);
  assert_int_equal(pthread_create(&th[0], NULL, do_change, &c[0]), 0);
  wait_blocked(fx, 0);
  for (int i = 1; i <= 3; i++) { /* u1..u3, queued in this order: the second write */
    assert_int_equal(pthread_create(&th[i], NULL, do_change, &c[i]), 0);
    wait_queued(cp, (size_t)i);
  }
  release_write(fx, 0);
  pthread_join(th[0], NULL); /* u0 is answered; its thread wrote nothing more */
  assert_int_equal(c[0].rc, 0);
  wait_blocked(fx, 1);
  for (int i = 4; i < N; i++) { /* u4, u5: the third write */
    assert_int_equal(pthread_create(&th[i], NULL, do_change, &c[i]), 0);
    wait_queued(cp, (size_t)i - 3);
  }
  release_write(fx, 1);
  for (int i = 1; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(c[i].rc, 0);
    assert_null(c[i].msg);
  }
  assert_int_equal(nd_checkpoint_writes(cp), 3);
  assert_int_equal(fx->sizes[0], 1);
  assert_int_equal(fx->sizes[1], 3);
  assert_int_equal(fx->sizes[2], 2);
  assert_true(pthread_equal(fx->writers[0], th[0])); /* each write by the oldest it covers */
  assert_true(pthread_equal(fx->writers[1], th[1]));
  assert_true(pthread_equal(fx->writers[2], th[4]));
  assert_int_equal(nd_checkpoint_waiting(cp), 0);
  json_decref(reopened(fx, cp, N));
}

/* Many callers, no hook: every change is answered (none left asleep), none is lost, and the
 * writes are shared. Bounded: 8 threads x 200 changes. */
typedef struct {
  nd_checkpoint *cp;
  int id, failures;
} churn;

static void *do_churn(void *arg) {
  churn *ch = arg;
  char uid[16], name[32];
  snprintf(uid, sizeof(uid), "c%d", ch->id);
  for (int i = 0; i < 200; i++) {
    nd_error_t err = NULL;
    int rc;
    if (i % 2 == 0) {
      snprintf(name, sizeof(name), "%s-%d", uid, i);
      cleanup_json json_t *e = entry(name);
      rc = nd_checkpoint_put(ch->cp, uid, e, &err);
    } else {
      rc = nd_checkpoint_remove(ch->cp, uid, &err);
    }
    ch->failures += rc != 0;
    nd_error_release(&err);
  }
  snprintf(name, sizeof(name), "%s-last", uid);
  cleanup_json json_t *e = entry(name);
  nd_error_t err = NULL;
  ch->failures += nd_checkpoint_put(ch->cp, uid, e, &err) != 0;
  nd_error_release(&err);
  return NULL;
}

static void test_many_callers_all_answered(void **state) {
  fixture *fx = *state;
  cleanup_error nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(fx->state, fx->boot, &err);
  assert_non_null(cp);
  enum { T = 8 };
  churn ch[T];
  pthread_t th[T];
  for (int i = 0; i < T; i++) {
    ch[i] = (churn){.cp = cp, .id = i};
    assert_int_equal(pthread_create(&th[i], NULL, do_churn, &ch[i]), 0);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(ch[i].failures, 0);
  }
  assert_true(nd_checkpoint_writes(cp) <= T * 201);
  assert_int_equal(nd_checkpoint_waiting(cp), 0);
  cleanup_json json_t *all = reopened(fx, cp, T);
  for (int i = 0; i < T; i++) {
    char uid[16], name[32];
    snprintf(uid, sizeof(uid), "c%d", i);
    snprintf(name, sizeof(name), "c%d-last", i);
    assert_string_equal(json_string_value(json_object_get(json_object_get(all, uid), "name")), name);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_concurrent_changes_share_one_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_write_restores_its_group, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer_role_passes_in_arrival_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_callers_all_answered, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
