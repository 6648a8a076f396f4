/*
 * dbrekey.h -- the keeper's online database rekey: a new database key
 * while the gateway runs, and finishing one a crash cut short.
 *
 * An administrator schedules it (POST /v1/admin/db-key/rotate, ex_dbkey.c);
 * it runs between batches, right after the batch holding that entry has
 * committed and been answered, because the copy cannot run inside a
 * transaction. Requests that arrive meanwhile wait in the loop (the pause);
 * none fails. Steps, each safe to die after:
 *   1. keystore: a fresh database key active, the old one retiring
 *      ("dbkey.keystore_written");
 *   2. the database copied into DATABASE.rekey under the new key, synced,
 *      opened with the new key alone and checked ("dbkey.exported");
 *   3. the live database closed, the copy renamed over it, the directory
 *      synced ("dbkey.renamed"), the database opened again;
 *   4. an entry admin.dbkey.rekeyed (with meta "dbkey_version", in one
 *      transaction: "dbkey.done"), then the old key destroyed in the
 *      keystore.
 * A failure before the rename puts the old key back (the new one is
 * destroyed) and enters admin.dbkey.failed. At start-up the database is
 * opened with the active key or, failing that, the retiring one; a rekey
 * left unfinished is then carried to its end before the gateway serves.
 */
#ifndef RG_DBREKEY_H
#define RG_DBREKEY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keystore.h"
#include "gateway/store.h"

/* The keeper's rekey state (embedded in struct rg_keeper, zeroed). */
struct rg_dbrekey {
	int scheduled;          /* a rotate entry waits for its commit */
	uint64_t index;         /* that entry's audit index */
	uint32_t open_version;  /* the key the database was opened with */
	/* The latest outcome since start (GET /v1/admin/db-key). */
	int last;               /* 0 none, 1 rekeyed, -1 failed */
	uint32_t last_version;  /* rekeyed: the new key; failed: the one tried */
	uint64_t last_entry;    /* its audit entry's index */
	int64_t last_for;       /* the index of the request it answers; -1
	                           when finished at start-up */
	int64_t last_time_ms;
	int64_t last_pause_ms;
	int64_t last_pages, last_bytes;
	char last_step[32];     /* failed: "keystore", "export", "swap" */
};

struct rg_keeper;

/*
 * Open the database with ks's active key or, when that one does not open
 * it and ks still holds the previous key of an unfinished rekey, with
 * that one (noted for rg_dbrekey_recover). NULL with err set.
 */
rg_store *rg_dbrekey_open_store(struct rg_keeper *kp, const rg_keystore *ks,
                                char *err, size_t errlen);
/*
 * At the end of rg_keeper_open: remove a stale copy, and carry an
 * unfinished rekey to its end (or back: the old key). 0, or -1 with err
 * set when the keeper cannot go on.
 */
int rg_dbrekey_recover(struct rg_keeper *kp, char *err, size_t errlen);
/* After a batch committed and its replies went out: run a scheduled
 * rekey if its entry is in that batch. */
void rg_dbrekey_run(struct rg_keeper *kp);
/* The version the next rekey will give the database key. */
uint32_t rg_dbrekey_next_version(const rg_keystore *ks);

#endif
