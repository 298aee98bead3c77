/* checkpoint.h: the node plugin's record of prepared claims, kept on disk across restarts.
 *
 * File <state dir>/checkpoint.json, a slot file (slot_file.h: two preallocated slots overwritten
 * in place in turn, each with a sequence number and a sha256 over its header and payload; the
 * valid slot with the highest sequence number is the state). The payload of a slot is the
 * compact JSON
 *   {"version":1,"bootId":"<boot id at the last write>","claims":{"<uid>":ENTRY}}
 * ENTRY = {"namespace","name","phase":"prepare-started"|"prepare-completed",
 *          "devices":[{"request","pool","device","type",
 *                      "status":"pending"|"attaching"|"attached",
 *                      "sliceDevice":{..},"config":{..}|null,"state":<backend state>|null,
 *                      "edits":{..}|null,"cdiName":"..."|null,"vendorCdiId":"..."|null}]}
 * The file keeps the name of the format before it, a JSON document
 *   {"checksum":"sha256:<hex of the compact, key-sorted dump of data>","data":<the same>},
 * which is still read and converted (one atomic replace) when the checkpoint is opened; an
 * older plugin finds a file it cannot parse and stops with a clear error instead of starting
 * with no record. The slot file is created (and preallocated) when the checkpoint is opened,
 * and grown (slot size doubled, through temp file + fsync + rename + directory fsync) when the
 * claims outgrow a slot: only then can a full disk fail a write.
 * Two phases: an entry is written as prepare-started, every device marked attaching, before
 * the first attach (skipped by the driver when no attach can leave anything behind), and
 * written again as prepare-completed (devices attached, with their
 * state) once the CDI spec is in place. A plugin that starts and
 * finds a prepare-started entry rolls it back (detaches every device that is attaching or
 * attached) so that nothing stays attached twice. The boot id tells a restart from a reboot
 * (CDI specs live on tmpfs and are rebuilt from completed entries).
 * All calls are thread-safe. Writes are group-committed: put and remove return once the state
 * holding the change is on disk (one in-place slot write and one fdatasync, or a growth), and
 * changes made by concurrent callers while a write is in progress share the next write. No
 * lock is held during the write; get and all never wait for one. Changes of one claim must not
 * be made concurrently (the driver serialises them per claim). */
#ifndef NETDRA_NODE_PLUGIN_CHECKPOINT_H
#define NETDRA_NODE_PLUGIN_CHECKPOINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define ND_CKPT_PREPARE_STARTED "prepare-started"
#define ND_CKPT_PREPARE_COMPLETED "prepare-completed"
#define ND_CKPT_DEV_PENDING "pending"
#define ND_CKPT_DEV_ATTACHING "attaching"
#define ND_CKPT_DEV_ATTACHED "attached"
#define ND_CKPT_VERSION 1
/* the largest file read; the claims' JSON is kept to a quarter of it, so that the file, two
 * slots of at most twice the payload, always stays readable */
#define ND_CKPT_MAX_BYTES (64u << 20)
#define ND_CKPT_MAX_PAYLOAD (ND_CKPT_MAX_BYTES / 4 - 64u)
/* slot size of a new file (it doubles when the claims outgrow it) */
#define ND_CKPT_SLOT_BYTES 4096u

typedef struct nd_checkpoint nd_checkpoint;

/* Open (or create) the checkpoint in state_dir (created 0700 when missing). boot_id_path:
 * NULL = /proc/sys/kernel/random/boot_id. A file in the legacy format is converted. A corrupt
 * file (no slot with a valid checksum, a bad file header, bad JSON, legacy checksum mismatch,
 * unknown version, malformed entry) is an error that names the file and the fault; the file is
 * left untouched for inspection. */
nd_checkpoint *nd_checkpoint_open(const char *state_dir, const char *boot_id_path,
                                  nd_error_t *err);
void nd_checkpoint_free(nd_checkpoint *cp);
const char *nd_checkpoint_path(const nd_checkpoint *cp);
/* True when the file was last written under another boot id (the node rebooted). */
bool nd_checkpoint_rebooted(const nd_checkpoint *cp);

/* Entries are shared, not copied: put keeps the very tree it is given, and get and all hand
 * out the stored trees. A stored entry is never changed, by the checkpoint or by anyone else:
 * to change one, change a json_deep_copy of it and put that. (A deep copy and its release cost
 * about as much as the whole rest of the checkpoint's CPU per prepare.) Builds with
 * AddressSanitizer check this: an entry that no longer reads as it did when stored aborts. */

/* The stored entry of a claim (a new reference; read only), or NULL when there is none. */
json_t *nd_checkpoint_get(nd_checkpoint *cp, const char *claim_uid);
/* A new object {"<uid>": ENTRY, ...} holding the stored entries (read only). */
json_t *nd_checkpoint_all(nd_checkpoint *cp);
/* Store the entry of a claim (a new reference to it: from now on it must not change) and
 * write the file. On a write failure the in-memory state is restored to what is on disk. */
int nd_checkpoint_put(nd_checkpoint *cp, const char *claim_uid, json_t *entry, nd_error_t *err);
/* Remove the entry of a claim and write the file; no entry is not an error. On a write
 * failure the entry is restored. */
int nd_checkpoint_remove(nd_checkpoint *cp, const char *claim_uid, nd_error_t *err);

/* Number of file writes so far (each covers one or more changes; failed ones included). */
unsigned long nd_checkpoint_writes(nd_checkpoint *cp);
/* Number of changes queued for the next write (those not yet taken by a writer). */
size_t nd_checkpoint_waiting(nd_checkpoint *cp);
/* Test seam: hook(data, changes) runs in the writing thread, without the lock, right before
 * each file write; changes is how many changes that write covers. NULL removes it. */
typedef void (*nd_checkpoint_write_hook)(void *data, size_t changes);
void nd_checkpoint_set_write_hook(nd_checkpoint *cp, nd_checkpoint_write_hook hook, void *data);

/* Validate one entry (shape described above); what names it in messages. */
int nd_checkpoint_check_entry(const json_t *entry, const char *what, nd_error_t *err);

#endif
