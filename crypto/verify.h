/*
 * verify.h -- the offline verifier of an exported audit log.
 *
 * Needs nothing but the export: the entries in order, the signed
 * checkpoints and the gateway's public keys (and, optionally, receipts
 * and checkpoints kept from earlier). It streams the entries through an
 * RFC 9162 frontier (O(log n) memory), recomputing every leaf and the root
 * at every checkpoint size, and stops at the first thing that does not
 * verify, naming the entry (or checkpoint, or receipt) and why.
 *
 * Export directory (written by `recgatectl audit export`):
 *   entries.jsonl   one line per entry, in index order, exactly
 *                   {"index":N,"entry":"<base64 of the entry bytes>",
 *                    "leaf":"<base64 of the stored leaf hash>"}
 *   checkpoints/    one C2SP signed note per checkpoint, <size>.note
 *   keys.json       GET /v1/keys as the gateway published it
 */
#ifndef RG_VERIFY_H
#define RG_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sig.h"

typedef struct rg_verify rg_verify;

/* NULL when out of memory. */
rg_verify *rg_verify_new(void);
void rg_verify_free(rg_verify *v);
/* Why the last call failed (owned by v). */
const char *rg_verify_error(const rg_verify *v);
/* Entries accepted so far. */
uint64_t rg_verify_count(const rg_verify *v);

/* A gateway key: note name (the log's origin) and Ed25519 public key. At
 * most 16. 0 or -1. */
int rg_verify_add_key(rg_verify *v, const char *name,
                      const uint8_t pub[RG_SIG_PUBLEN]);
/* Add every key of a GET /v1/keys document. 0 or -1. */
int rg_verify_add_keys_json(rg_verify *v, const char *json, size_t len);
/* A checkpoint note: its signature is checked now, its root when the
 * stream reaches its size. what names it in messages. Add before the
 * first entry. 0 or -1. */
int rg_verify_add_checkpoint(rg_verify *v, const char *note, size_t len,
                             const char *what);
/*
 * A receipt (the gateway's JSON response, or its "receipt" object), of
 * either form: an Ed25519 "signature" over the entry, or a signed
 * "checkpoint" of N > index entries with the entry's "inclusion" proof in
 * its tree (never both). The signature, or the checkpoint's signature by
 * the published key "keyid" and the proof against its root, are checked
 * now; that the log's entry at the index is the receipt's, and the root of
 * the log's first N entries the checkpoint's, when the stream gets there.
 * Add before the first entry. 0 or -1.
 */
int rg_verify_add_receipt(rg_verify *v, const char *json, size_t len,
                          const char *what);

/* The next entry: claimed is the index the export gives it, leaf the
 * stored leaf hash (NULL: none given). 0 or -1. */
int rg_verify_entry(rg_verify *v, uint64_t claimed, const uint8_t *entry,
                    size_t len, const uint8_t *leaf);
/* The next line of entries.jsonl (without its newline). 0 or -1. */
int rg_verify_line(rg_verify *v, const char *line, size_t len);
/* After the last entry: checkpoints and receipts beyond it mean the log
 * was cut short. 0 or -1. */
int rg_verify_finish(rg_verify *v);

/*
 * Verify an export directory, with extra receipt and checkpoint files.
 * progress != 0 prints progress to stderr. 0 (message in err says what
 * was checked) or -1 (err names the first failure).
 */
int rg_verify_dir(const char *dir, const char *const *receipts, size_t nrec,
                  const char *const *checkpoints, size_t ncp, int progress,
                  char *err, size_t errlen);

#endif
