/* slot_file.c: two-slot file overwritten in place (one write + fdatasync per state), grown
 * through the atomic temp+rename path; see slot_file.h for the layout and the crash reasoning. */
#include "slot_file.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cleanup.h"

static const char file_magic[8] = {'N', 'D', 'C', 'K', 'P', 'T', 'F', '1'};
static const char slot_magic[8] = {'N', 'D', 'C', 'K', 'P', 'T', 'S', '1'};
enum { FILE_SUMMED = 24, SLOT_SUMMED = 32, SUM_BYTES = 32 };
/* the largest slot: a checkpoint is bounded far below (ND_CKPT_MAX_BYTES) */
#define MAX_SLOT_BYTES ((size_t)1 << 30)

struct nd_slot_file {
  char *path;
  unsigned mode;
  int fd;
  size_t slot_bytes;
  unsigned newest; /* the slot holding the newest durable state */
  uint64_t seq;    /* the highest sequence number written (or tried) */
  unsigned long growths;
};

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* sha256 of a then b (b may be empty) */
static int sha256_2(const void *a, size_t alen, const void *b, size_t blen,
                    unsigned char out[SUM_BYTES]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
           EVP_DigestUpdate(ctx, a, alen) == 1 && (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
           EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == SUM_BYTES;
  EVP_MD_CTX_free(ctx);
  return ok ? 0 : -1;
}

static size_t slot_offset(size_t slot_bytes, unsigned slot) {
  return ND_SLOT_FILE_HEADER_BYTES + (size_t)slot * slot_bytes;
}

/* header + payload of one slot into buf (ND_SLOT_HEADER_BYTES + len bytes) */
static int encode_slot(unsigned char *buf, unsigned slot, uint64_t seq, const char *payload,
                       size_t len) {
  memset(buf, 0, ND_SLOT_HEADER_BYTES);
  memcpy(buf, slot_magic, sizeof(slot_magic));
  put_u32(buf + 8, ND_SLOT_FILE_VERSION);
  put_u32(buf + 12, slot);
  put_u64(buf + 16, seq);
  put_u64(buf + 24, len);
  memcpy(buf + ND_SLOT_HEADER_BYTES, payload, len);
  return sha256_2(buf, SLOT_SUMMED, payload, len, buf + SLOT_SUMMED);
}

void nd_slot_content_clear(nd_slot_content *c) {
  free(c->payload);
  *c = (nd_slot_content){0};
}

bool nd_slot_file_detect(const char *data, size_t len) {
  return len >= sizeof(file_magic) && memcmp(data, file_magic, sizeof(file_magic)) == 0;
}

/* Why slot i of the file is not usable (NULL: it is valid; *seq, *plen set). */
static const char *check_slot(const unsigned char *file, size_t len, size_t slot_bytes,
                              unsigned i, uint64_t *seq, size_t *plen, char why[96]) {
  size_t off = slot_offset(slot_bytes, i);
  if (len < off + ND_SLOT_HEADER_BYTES)
    return "cut short";
  const unsigned char *h = file + off;
  static const unsigned char zeros[ND_SLOT_HEADER_BYTES];
  if (memcmp(h, zeros, sizeof(zeros)) == 0)
    return "empty";
  if (memcmp(h, slot_magic, sizeof(slot_magic)) != 0)
    return "bad magic";
  if (get_u32(h + 8) != ND_SLOT_FILE_VERSION) {
    snprintf(why, 96, "unsupported format version %u", get_u32(h + 8));
    return why;
  }
  if (get_u32(h + 12) != i)
    return "written for the other slot";
  uint64_t n = get_u64(h + 24);
  if (n > slot_bytes - ND_SLOT_HEADER_BYTES) {
    snprintf(why, 96, "payload length %llu over the slot's capacity", (unsigned long long)n);
    return why;
  }
  if (len < off + ND_SLOT_HEADER_BYTES + n)
    return "cut short";
  unsigned char sum[SUM_BYTES];
  if (sha256_2(h, SLOT_SUMMED, h + ND_SLOT_HEADER_BYTES, (size_t)n, sum) < 0)
    return "checksum could not be computed";
  if (memcmp(sum, h + SLOT_SUMMED, SUM_BYTES) != 0)
    return "checksum mismatch";
  *seq = get_u64(h + 16);
  *plen = (size_t)n;
  return NULL;
}

int nd_slot_file_parse(const char *path, const char *data, size_t len, nd_slot_content *out,
                       nd_error_t *err) {
  const unsigned char *file = (const unsigned char *)data;
  unsigned char sum[SUM_BYTES];
  if (len < ND_SLOT_FILE_HEADER_BYTES || !nd_slot_file_detect(data, len))
    return nd_error_make(err, EINVAL, "%s: %zu bytes, no complete file header (file is corrupt)",
                         path, len);
  if (sha256_2(file, FILE_SUMMED, NULL, 0, sum) < 0 || memcmp(sum, file + FILE_SUMMED, SUM_BYTES))
    return nd_error_make(err, EINVAL, "%s: file header checksum mismatch (file is corrupt)", path);
  if (get_u32(file + 8) != ND_SLOT_FILE_VERSION)
    return nd_error_make(err, EINVAL, "%s: unsupported format version %u (expected %u)", path,
                         get_u32(file + 8), ND_SLOT_FILE_VERSION);
  uint64_t slot_bytes = get_u64(file + 16);
  if (get_u32(file + 12) != ND_SLOT_FILE_HEADER_BYTES || slot_bytes < 4096 ||
      slot_bytes % 4096 != 0 || slot_bytes > MAX_SLOT_BYTES)
    return nd_error_make(err, EINVAL, "%s: file header gives impossible sizes (file is corrupt)",
                         path);
  int best = -1;
  uint64_t seqs[2] = {0, 0};
  size_t lens[2] = {0, 0};
  const char *why[2];
  char buf[2][96];
  for (unsigned i = 0; i < 2; i++) {
    why[i] = check_slot(file, len, (size_t)slot_bytes, i, &seqs[i], &lens[i], buf[i]);
    if (why[i] == NULL && (best < 0 || seqs[i] > seqs[best]))
      best = (int)i;
  }
  if (best < 0)
    return nd_error_make(err, EINVAL, "%s: no valid slot (slot 0: %s; slot 1: %s): the file is corrupt",
                         path, why[0], why[1]);
  char *p = malloc(lens[best] + 1);
  if (p == NULL)
    return nd_error_make(err, ENOMEM, "%s: out of memory", path);
  memcpy(p, data + slot_offset((size_t)slot_bytes, (unsigned)best) + ND_SLOT_HEADER_BYTES,
         lens[best]);
  p[lens[best]] = '\0';
  *out = (nd_slot_content){.payload = p,
                           .len = lens[best],
                           .seq = seqs[best],
                           .slot = (unsigned)best,
                           .slot_bytes = (size_t)slot_bytes,
                           .file_bytes = len};
  const char *other = why[1 - best];
  snprintf(out->other, sizeof(out->other), "%s",
           other ? other : "valid, older"); /* NULL: valid with a lower sequence number */
  return 0;
}

int nd_slot_file_image(const char *payload, size_t len, uint64_t seq, size_t min_slot_bytes,
                       char **image, size_t *image_len, nd_error_t *err) {
  size_t s = min_slot_bytes;
  if (s < 4096 || s % 4096 != 0 || s > MAX_SLOT_BYTES)
    return nd_error_make(err, EINVAL, "slot size %zu is not a multiple of 4096 up to 1 GiB", s);
  while (s - ND_SLOT_HEADER_BYTES < len) {
    if (s >= MAX_SLOT_BYTES)
      return nd_error_make(err, EFBIG, "a payload of %zu bytes is over the largest slot", len);
    s *= 2;
  }
  size_t total = ND_SLOT_FILE_HEADER_BYTES + 2 * s;
  cleanup_free unsigned char *img = calloc(1, total); /* zeros: every block gets written */
  if (img == NULL)
    return nd_error_make(err, ENOMEM, "out of memory for a %zu-byte slot file", total);
  memcpy(img, file_magic, sizeof(file_magic));
  put_u32(img + 8, ND_SLOT_FILE_VERSION);
  put_u32(img + 12, ND_SLOT_FILE_HEADER_BYTES);
  put_u64(img + 16, s);
  if (sha256_2(img, FILE_SUMMED, NULL, 0, img + FILE_SUMMED) < 0 ||
      encode_slot(img + slot_offset(s, 0), 0, seq, payload, len) < 0)
    return nd_error_make(err, EIO, "computing a checksum failed");
  *image_len = total;
  *image = (char *)nd_steal(img);
  return 0;
}

static nd_slot_file *file_new(const char *path, unsigned mode) {
  nd_slot_file *f = calloc(1, sizeof(*f));
  if (f == NULL || (f->path = strdup(path)) == NULL) {
    free(f);
    return NULL;
  }
  f->mode = mode;
  f->fd = -1;
  return f;
}

/* Replace the file by a new one holding payload in slot 0 (creation, growth, repair). */
static int replace(nd_slot_file *f, const char *payload, size_t len, uint64_t seq,
                   size_t min_slot_bytes, nd_error_t *err) {
  cleanup_free char *img = NULL;
  size_t img_len = 0;
  int fd = -1;
  if (nd_slot_file_image(payload, len, seq, min_slot_bytes, &img, &img_len, err) < 0)
    return -1;
  int rc = nd_write_file_atomic_open(f->path, img, img_len, f->mode, &fd, err);
  if (fd < 0) /* the old file is still the one in place */
    return -1;
  /* the new file is in place (durable unless rc < 0: the directory fsync failed); from now on
   * every write must go to it */
  if (f->fd >= 0)
    close(f->fd);
  f->fd = fd;
  f->slot_bytes = (img_len - ND_SLOT_FILE_HEADER_BYTES) / 2;
  f->newest = 0;
  f->seq = seq;
  return rc;
}

nd_slot_file *nd_slot_file_create(const char *path, unsigned mode, const char *payload,
                                  size_t len, uint64_t seq, size_t min_slot_bytes,
                                  nd_error_t *err) {
  nd_slot_file *f = file_new(path, mode);
  if (f == NULL) {
    nd_error_make(err, ENOMEM, "out of memory");
    return NULL;
  }
  if (replace(f, payload, len, seq, min_slot_bytes, err) < 0) {
    nd_slot_file_close(f);
    return NULL;
  }
  return f;
}

nd_slot_file *nd_slot_file_open(const char *path, unsigned mode, const nd_slot_content *c,
                                nd_error_t *err) {
  nd_slot_file *f = file_new(path, mode);
  if (f == NULL) {
    nd_error_make(err, ENOMEM, "out of memory");
    return NULL;
  }
  size_t want = ND_SLOT_FILE_HEADER_BYTES + 2 * c->slot_bytes;
  if (c->file_bytes != want) { /* cut short (or extended) behind our back: write it anew */
    if (replace(f, c->payload, c->len, c->seq + 1, c->slot_bytes, err) < 0) {
      nd_slot_file_close(f);
      return NULL;
    }
    return f;
  }
  f->fd = open(path, O_RDWR | O_CLOEXEC);
  if (f->fd < 0) {
    nd_error_make(err, errno, "opening %s: %s", path, strerror(errno));
    nd_slot_file_close(f);
    return NULL;
  }
  f->slot_bytes = c->slot_bytes;
  f->newest = c->slot;
  f->seq = c->seq;
  return f;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = pwrite(fd, p, len, off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return w < 0 ? -1 : (errno = EIO, -1);
    p += w;
    len -= (size_t)w;
    off += w;
  }
  return 0;
}

int nd_slot_file_write(nd_slot_file *f, const char *payload, size_t len, nd_error_t *err) {
  uint64_t seq = f->seq + 1;
  if (len > f->slot_bytes - ND_SLOT_HEADER_BYTES) {
    if (replace(f, payload, len, seq, f->slot_bytes * 2, err) < 0)
      return nd_error_wrap(err, "growing %s to hold %zu bytes", f->path, len);
    f->growths++;
    return 0;
  }
  unsigned target = 1 - f->newest;
  off_t off = (off_t)slot_offset(f->slot_bytes, target);
  cleanup_free unsigned char *buf = malloc(ND_SLOT_HEADER_BYTES + len);
  if (buf == NULL)
    return nd_error_make(err, ENOMEM, "writing %s: out of memory", f->path);
  if (encode_slot(buf, target, seq, payload, len) < 0)
    return nd_error_make(err, EIO, "writing %s: computing the checksum failed", f->path);
  f->seq = seq; /* taken even if the write fails: sequence numbers only grow */
  if (pwrite_all(f->fd, buf, ND_SLOT_HEADER_BYTES + len, off) < 0 || fdatasync(f->fd) < 0) {
    int e = errno;
    /* the slot may hold the state that failed: make it unreadable */
    static const unsigned char zeros[ND_SLOT_HEADER_BYTES];
    if (pwrite_all(f->fd, zeros, sizeof(zeros), off) == 0)
      fdatasync(f->fd);
    return nd_error_make(err, e, "writing slot %u of %s: %s", target, f->path, strerror(e));
  }
  f->newest = target;
  return 0;
}

void nd_slot_file_close(nd_slot_file *f) {
  if (f == NULL)
    return;
  if (f->fd >= 0)
    close(f->fd);
  free(f->path);
  free(f);
}

size_t nd_slot_file_slot_bytes(const nd_slot_file *f) { return f->slot_bytes; }
unsigned long nd_slot_file_growths(const nd_slot_file *f) { return f->growths; }
