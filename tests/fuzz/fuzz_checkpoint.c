/* fuzz_checkpoint.c: the node plugin's checkpoint file, read back at start-up
 * (nd_checkpoint_open), must never crash or leak: a corrupt file is an error, a valid one
 * yields entries that pass nd_checkpoint_check_entry. The input is written as
 * <tmpdir>/checkpoint.json next to a fixed boot id file. An input that is a JSON object without
 * a "checksum" field is taken as the data part and signed first, so the fuzzer gets past the
 * checksum to the entry validation. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"

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
  json_t *doc = json_loadb((const char *)data, size, 0, NULL);
  char *signed_text = NULL;
  if (json_is_object(doc) && json_object_get(doc, "checksum") == NULL)
    signed_text = sign(doc);
  json_decref(doc);
  int w = signed_text ? write_file(ckpt, (const uint8_t *)signed_text, strlen(signed_text))
                      : write_file(ckpt, data, size);
  free(signed_text);
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
    nd_checkpoint_free(cp);
  }
  unlink(ckpt);
  return 0;
}
