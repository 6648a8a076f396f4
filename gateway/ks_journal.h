/*
 * ks_journal.h -- the keystore's undo journal, so that an online change to
 * the keystore file and the audit entry announcing it happen together or
 * not at all, even across kill -9.
 *
 * An online change (a rotation, a new master secret) writes the keystore
 * file before its entry commits. The journal keeps the file as it was in
 * KEYSTORE.undo (written atomically before the change) and the exchange
 * records the SHA-256 of the changed file in the database (meta
 * "keystore_sha256") in the same transaction as its entry. At start-up, an
 * undo file left behind is settled: if the keystore file is the one the
 * database names, the change committed and the undo file goes; otherwise
 * it did not, and the old file is put back.
 */
#ifndef RG_KS_JOURNAL_H
#define RG_KS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/store.h"

/* The undo file's path for a keystore path ("PATH.undo"). 0 or -1. */
int rg_ksj_undo_path(const char *keystore, char *out, size_t outlen);
/* Keep the file's current bytes (old, len) as the undo file, durably. */
int rg_ksj_begin(const char *keystore, const uint8_t *old, size_t len,
                 char *err, size_t errlen);
/* Record the changed file's hash in the open transaction. */
int rg_ksj_mark(rg_store *st, const char *keystore, char *err, size_t errlen);
/* The change committed or was put back: drop the undo file. */
int rg_ksj_end(const char *keystore, char *err, size_t errlen);
/* Whether an undo file exists (1), not (0). */
int rg_ksj_pending(const char *keystore);

/*
 * Settle an undo file left by a crash, given the database (opened with the
 * database key, which an online change never alters). *outcome is set to
 * RG_KSJ_NONE (no undo file), RG_KSJ_KEPT (the change had committed) or
 * RG_KSJ_RESTORED (the old file is back). 0, or -1 with err set.
 */
#define RG_KSJ_NONE 0
#define RG_KSJ_KEPT 1
#define RG_KSJ_RESTORED 2
int rg_ksj_settle(const char *keystore, rg_store *st, int *outcome, char *err,
                  size_t errlen);

#endif
