/* slot_file.h: a file of two preallocated slots, overwritten in place in turn, each holding a
 * sequence-numbered, checksummed payload; made durable by one write and one fdatasync, with no
 * rename and no directory fsync (the node plugin's checkpoint lives in one).
 *
 * Layout (integers little-endian):
 *   file header, 4096 bytes, written only when the file is created or grown (temp file, fsync,
 *   rename, fsync of the directory), never in place:
 *     0 magic "NDCKPTF1" | 8 u32 format version (1) | 12 u32 header bytes (4096)
 *     16 u64 slot bytes S | 24 sha256 of bytes 0..23 | zero padding
 *   slot i (i = 0, 1) at 4096 + i*S, S a multiple of 4096 (so a write of one slot never
 *   touches a block of the other):
 *     0 magic "NDCKPTS1" | 8 u32 format version (1) | 12 u32 slot index i | 16 u64 sequence
 *     24 u64 payload length | 32 sha256 of bytes 0..31 and the payload | 64 payload
 * Every block of the file is written (zeros) when it is created, so an in-place write changes
 * neither its size nor its allocation: fdatasync has only data to flush. (fallocate alone would
 * leave unwritten extents on ext4/xfs, whose first overwrite is a metadata change that
 * fdatasync must commit to the journal; writing the zeros is the preallocation.)
 *
 * A write goes to the slot that does not hold the newest state, with the next sequence number;
 * a write torn by a crash leaves that slot invalid (checksum) and the other one, the previous
 * state, intact. A reader takes the valid slot with the highest sequence number. A payload that
 * does not fit a slot grows the file: a new file, slot size doubled until it fits, the payload
 * in slot 0, replaces the old one through the temp+fsync+rename+directory-fsync path. Only one
 * thread may write at a time. */
#ifndef NETDRA_NODE_PLUGIN_SLOT_FILE_H
#define NETDRA_NODE_PLUGIN_SLOT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ND_SLOT_FILE_HEADER_BYTES 4096u
#define ND_SLOT_HEADER_BYTES 64u
#define ND_SLOT_FILE_VERSION 1u

/* The newest valid slot of a file (nd_slot_file_parse). */
typedef struct {
  char *payload; /* heap, NUL-terminated; owned */
  size_t len;
  uint64_t seq;
  unsigned slot;     /* 0 or 1 */
  size_t slot_bytes; /* S of the file header */
  size_t file_bytes; /* size of what was parsed */
  char other[96];    /* why the other slot was not taken: "valid, older", "empty" (never
                      * written), or its fault ("checksum mismatch", "bad magic", ...) */
} nd_slot_content;
void nd_slot_content_clear(nd_slot_content *c);

/* True when data (the start of a file, len bytes) begins with the slot file's magic. */
bool nd_slot_file_detect(const char *data, size_t len);
/* Parse the whole content of a slot file: the valid slot with the highest sequence number. A
 * bad file header, or no valid slot, is an error naming path and, for each slot, why it was
 * rejected. A file cut short only invalidates the slots it cuts. */
int nd_slot_file_parse(const char *path, const char *data, size_t len, nd_slot_content *out,
                       nd_error_t *err);
/* The image of a new file: slot 0 holding payload with sequence seq, slot 1 empty (zeros), S the
 * smallest min_slot_bytes * 2^k that holds the payload (min_slot_bytes: a multiple of 4096). */
int nd_slot_file_image(const char *payload, size_t len, uint64_t seq, size_t min_slot_bytes,
                       char **image, size_t *image_len, nd_error_t *err);

typedef struct nd_slot_file nd_slot_file;
/* Create (or replace) path with a new file holding payload (nd_slot_file_image, then temp,
 * fsync, rename, directory fsync), mode as given, open for writing. */
nd_slot_file *nd_slot_file_create(const char *path, unsigned mode, const char *payload,
                                  size_t len, uint64_t seq, size_t min_slot_bytes,
                                  nd_error_t *err);
/* Open a parsed file for writing: the next write goes to the slot other than c->slot. A file
 * whose size is not the one its header gives (cut short) is replaced first by a new one holding
 * c's payload with the next sequence number. */
nd_slot_file *nd_slot_file_open(const char *path, unsigned mode, const nd_slot_content *c,
                                nd_error_t *err);
/* Write payload durably: in place into the slot that does not hold the newest state, then one
 * fdatasync; or, when it does not fit, grow the file (see above). A failed in-place write
 * zeroes the header of the slot it was writing (best effort), so the failed state cannot be
 * read back after a crash; the newest state stays where it was. */
int nd_slot_file_write(nd_slot_file *f, const char *payload, size_t len, nd_error_t *err);
void nd_slot_file_close(nd_slot_file *f);
size_t nd_slot_file_slot_bytes(const nd_slot_file *f);
/* Number of times the file was grown since it was opened. */
unsigned long nd_slot_file_growths(const nd_slot_file *f);

#endif
