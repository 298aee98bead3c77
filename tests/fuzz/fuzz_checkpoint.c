/* fuzz_checkpoint.c: the node plugin's checkpoint file, read back at start-up
 * (nd_checkpoint_open), must never crash or leak: a corrupt file is an error, a valid one
 * yields entries that pass nd_checkpoint_check_entry, and the opened checkpoint takes one more
 * write. The input is written as <tmpdir>/checkpoint.json next to a fixed boot id file: as it
 * is (slot files, legacy JSON files, anything), except that, so that the fuzzer gets past the
 * checksums to the entry validation, an input "slots:<payload>" is packed into a valid slot
 * file (slot_file.h) holding <payload>, and a JSON object without a "checksum" field is taken as
 * the data part of a legacy file and signed first. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "log.h"
#include "slot_file.h"

static char dir[512], ckpt[600], boot[600];

static int write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    return -1;
  size_t w = fwrite(data, 1, size, f);
  fclose(f);
  return w == size ? 0 : -1;
}

/* at exit: remove the boot id file, any temporary file left by the atomic writer, the dir */
static void teardown(void) {
  unlink(boot);
  unlink(ckpt);
  rmdir(dir);
}

/* {"checksum":"sha256:<hex of compact sorted data>","data":data}, as checkpoint.c writes it. */
static char *sign(const json_t *data) {
  char *canon = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
  if (canon == NULL)
    return NULL;
  unsigned char md[32];
  unsigned int mdlen = 0;
  char sum[7 + 65] = "sha256:";
  if (EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
    free(canon);
    return NULL;
  }
  for (unsigned i = 0; i < 32; i++)
    snprintf(sum + 7 + 2 * i, 3, "%02x", md[i]);
  free(canon);
  json_t *root = json_pack("{s:s, s:O}", "checksum", sum, "data", data);
  char *text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(root);
  return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (dir[0] == '\0') {
    nd_log_set_level(ND_LOG_ERROR); /* a skipped slot is logged as a warning: not per input */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/nd-fuzz-ckpt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
      abort();
    snprintf(ckpt, sizeof(ckpt), "%s/checkpoint.json", dir);
    snprintf(boot, sizeof(boot), "%s/boot_id", dir);
    const char *id = "0b9c6f3e-6a7d-4c39-9b1e-1f2a3b4c5d6e\n";
    if (write_file(boot, (const uint8_t *)id, strlen(id)) < 0)
      abort();
    atexit(teardown);
  }
  char *made = NULL;
  size_t made_len = 0;
  static const char slots[] = "slots:";
  if (size >= sizeof(slots) - 1 && memcmp(data, slots, sizeof(slots) - 1) == 0) {
    nd_error_t ierr = NULL;
    if (nd_slot_file_image((const char *)data + sizeof(slots) - 1, size - (sizeof(slots) - 1), 7,
                           4096, &made, &made_len, &ierr) < 0)
      nd_error_release(&ierr);
  } else {
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (json_is_object(doc) && json_object_get(doc, "checksum") == NULL &&
        (made = sign(doc)) != NULL)
      made_len = strlen(made);
    json_decref(doc);
  }
  int w = made ? write_file(ckpt, (const uint8_t *)made, made_len) : write_file(ckpt, data, size);
  free(made);
  if (w < 0)
    return 0;
  nd_error_t err = NULL;
  nd_checkpoint *cp = nd_checkpoint_open(dir, boot, &err);
  if (cp == NULL) {
    if (err == NULL)
      abort();
    nd_error_release(&err);
  } else {
    json_t *all = nd_checkpoint_all(cp);
    const char *uid;
    json_t *entry;
    json_object_foreach(all, uid, entry) {
      if (nd_checkpoint_check_entry(entry, uid, NULL) != 0)
        abort();
    }
    json_decref(all);
    /* and one write, in place or growing the file */
    json_t *e = json_pack("{s:s, s:s, s:s, s:[]}", "namespace", "n", "name", "c", "phase",
                          ND_CKPT_PREPARE_STARTED, "devices");
    if (nd_checkpoint_put(cp, "fuzz-uid", e, &err) < 0)
      abort();
    json_decref(e);
    nd_checkpoint_free(cp);
  }
  unlink(ckpt);
  return 0;
}
