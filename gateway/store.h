/*
 * store.h -- the keeper's SQLCipher database.
 *
 * The store owns the one database connection: departments and their keys,
 * used nonces, sealed record bodies, the change feed, the audit log and a
 * few meta values. It stores only what it is given; it never sees a record
 * in the clear and decides no policy. SQL stays inside store.c and must run
 * on SQLCipher 3.4 (SQLite 3.15: no UPSERT, RETURNING, JSON1 or window
 * functions) as well as 4.x.
 *
 * Return values: RG_STORE_OK (0), RG_STORE_NOTFOUND, RG_STORE_EXISTS, or
 * RG_STORE_ERROR (-1); on error rg_store_errmsg() says why.
 */
#ifndef RG_STORE_H
#define RG_STORE_H

#include <stddef.h>
#include <stdint.h>

enum {
	RG_STORE_ERROR = -1,
	RG_STORE_OK = 0,
	RG_STORE_NOTFOUND = 1,
	RG_STORE_EXISTS = 2
};

#define RG_STORE_KEYLEN 32

typedef struct rg_store rg_store;

/*
 * Open (create when create != 0) the database at path with a raw 256-bit
 * key. Checks that the linked library is SQLCipher (PRAGMA cipher_version),
 * that the key opens the file, and creates the schema when missing. WAL
 * mode, synchronous=FULL. NULL with err set on failure.
 */
/* The daemon's database (never created here): rg_store_open, plus a
 * second connection on a thread of its own that checkpoints the log in
 * the background (store_ckpt.c), so that the writer's thread does not.
 * Without that thread it works as rg_store_open's store does. */
rg_store *rg_store_open_live(const char *path,
                             const uint8_t key[RG_STORE_KEYLEN], char *err,
                             size_t errlen);
/* Checkpoints the background thread ran so far (0 without one; tests). */
unsigned long long rg_store_background_checkpoints(rg_store *st);
rg_store *rg_store_open(const char *path, const uint8_t key[RG_STORE_KEYLEN],
                        int create, char *err, size_t errlen);
/*
 * Another process's database, only to read (rg_store_backup): keyed and
 * checked as rg_store_open does, with nothing set up to write: no schema,
 * no statements, no WAL hook. Never creates the file.
 */
rg_store *rg_store_open_reader(const char *path,
                               const uint8_t key[RG_STORE_KEYLEN], char *err,
                               size_t errlen);
void rg_store_close(rg_store *st);
const char *rg_store_errmsg(const rg_store *st);
/* The SQLCipher version string reported by the library (owned by st). */
const char *rg_store_cipher_version(const rg_store *st);

/* Transactions. A batch is one transaction; each request inside it runs in
 * a savepoint so that a failed request leaves the batch intact. */
int rg_store_begin(rg_store *st);
int rg_store_commit(rg_store *st);   /* durable on return (fsync) */
/* Commit without waiting for the disk: the batch is in the write-ahead
 * log but not durable until rg_store_sync_fd(rg_store_wal_fd(st)) runs
 * (from any thread); nothing that depends on it may be released before. */
int rg_store_commit_nosync(rg_store *st);
/* The write-ahead log's descriptor (owned by st, valid until it closes),
 * or -1. fdatasync on it makes every commit before the call durable. */
int rg_store_wal_fd(rg_store *st);
/* fdatasync(fd): 0, or -1 for fd < 0. A failed sync stops the process
 * (the state of the disk is then unknown). Thread-safe. */
int rg_store_sync_fd(int fd);
/* Syncs made by commits so far (tests: which commits waited for the disk). */
unsigned long long rg_store_sync_count(const rg_store *st);
int rg_store_rollback(rg_store *st);
int rg_store_savepoint(rg_store *st);
int rg_store_release(rg_store *st);  /* keep the savepoint's work */
int rg_store_undo(rg_store *st);     /* roll back to and release the savepoint */
/* The light savepoint (no journal; one at a time): for work that writes
 * its rows last. keep drops the mark as release does; undo gives back the
 * nonce claims made since, and fails when a row changed since, in which
 * case the caller must roll back the whole transaction. */
int rg_store_mark(rg_store *st);
int rg_store_mark_keep(rg_store *st);
int rg_store_mark_undo(rg_store *st);
/* Outside a transaction: checkpoint the WAL if it grew past its mark (call
 * once replies are out; skipping it loses nothing, commits then do it). */
void rg_store_wal_tidy(rg_store *st);

/* Meta values (small blobs). get: *val malloc'd, caller frees. */
int rg_store_meta_put(rg_store *st, const char *name, const void *val, size_t len);
int rg_store_meta_get(rg_store *st, const char *name, void **val, size_t *len);
/* Removes the value if there is one (none is not an error). */
int rg_store_meta_del(rg_store *st, const char *name);
/*
 * The meta value `recgatectl restore` leaves in a restored database (a
 * JSON object: which backup, what it held, when it was restored) for the
 * keeper to enter in the audit log at its next start and then remove, in
 * one transaction (keeper_restore.c).
 */
#define RG_STORE_META_RESTORED "restored"

/* Departments: status is "active" or "suspended". */
int rg_store_dept_put(rg_store *st, const char *id, const char *name,
                      const char *status);
/* Call fn for each department; stops early if fn returns non-zero. */
int rg_store_dept_each(rg_store *st,
                       int (*fn)(void *ctx, const char *id, const char *name,
                                 const char *status),
                       void *ctx);

/* Department keys: role "department" (later "officer", "office"); status
 * "active", "suspended" or "revoked". */
struct rg_store_key {
	char keyid[128];
	char dept[64];
	char role[32];
	char status[16];
	char dept_status[16];
	uint8_t pub[32];
	int64_t created_ms;
};
int rg_store_key_put(rg_store *st, const struct rg_store_key *key);
int rg_store_key_get(rg_store *st, const char *keyid, struct rg_store_key *out);

/* Replay guard: RG_STORE_OK when (keyid, nonce) was unused and is now
 * recorded until expires_ms, RG_STORE_EXISTS when already used. */
int rg_store_nonce_claim(rg_store *st, const char *keyid, const char *nonce,
                         int64_t expires_ms);
/* The same with the caller's clock: a recorded (keyid, nonce) whose
 * expires_ms is before now_ms counts as unused. rg_store_nonce_claim uses
 * the wall clock (CLOCK_REALTIME, Unix milliseconds) for now_ms. */
int rg_store_nonce_claim_at(rg_store *st, const char *keyid, const char *nonce,
                            int64_t expires_ms, int64_t now_ms);
/*
 * Forget the claims expired at now_ms: at most limit rows of the claims'
 * table, oldest first (0: no limit), so that no batch stalls on a whole
 * minute's claims at once; then, once the table has none left, the claims
 * in memory, a part of them per call (limit × 16 slots). *more (may be
 * NULL) tells that work may be left for another call. Older files' nonces
 * rows go all at once, between the two (never written, they are gone one
 * window after the upgrade; their table has no index on the expiry, so it
 * is scanned once a prune, not once a call).
 */
int rg_store_nonce_prune(rg_store *st, int64_t now_ms, size_t limit,
                         int *more);

/* Records: sealed bodies by (resource, id, version); each put gets the next
 * change-feed sequence number. */
struct rg_store_record {
	char id[64];
	uint64_t version;
	uint32_t key_version;
	int64_t seq;
	int64_t time_ms;
	uint8_t *sealed;  /* malloc'd, caller frees (rg_store_record_clear) */
	size_t sealed_len;
};
int rg_store_record_put(rg_store *st, const char *resource, const char *id,
                        uint64_t version, uint32_t key_version, int64_t time_ms,
                        const uint8_t *sealed, size_t len, int64_t *seq);
/* The latest version of a record. */
int rg_store_record_get(rg_store *st, const char *resource, const char *id,
                        struct rg_store_record *out);
void rg_store_record_clear(struct rg_store_record *rec);
/* Change feed: versions with seq > after, ascending, at most limit; fn may
 * return non-zero to stop. rec->sealed is valid only during the call. */
int rg_store_changes(rg_store *st, const char *resource, int64_t after,
                     int limit,
                     int (*fn)(void *ctx, const struct rg_store_record *rec),
                     void *ctx);

/* Audit log: entries with dense indices from 0. */
int rg_store_audit_append(rg_store *st, uint64_t index, const uint8_t *entry,
                          size_t len, const uint8_t leaf[32]);
int rg_store_audit_size(rg_store *st, uint64_t *size);
/* Entry at index; *entry malloc'd, caller frees. */
int rg_store_audit_get(rg_store *st, uint64_t index, uint8_t **entry,
                       size_t *len, uint8_t leaf[32]);

/* ---- grants (store_grants.c) -------------------------------------------
 * Conditional-share grants: the current JSON document of each grant by id
 * (the format is policy/grant.h's). put inserts or replaces. */
int rg_store_grant_put(rg_store *st, const char *id, const char *doc,
                       size_t len);
/* *doc malloc'd and NUL-terminated, caller frees. */
int rg_store_grant_get(rg_store *st, const char *id, char **doc, size_t *len);
/* Every grant in id order; fn may return non-zero to stop. doc is valid
 * only during the call. */
int rg_store_grant_each(rg_store *st,
                        int (*fn)(void *ctx, const char *id, const char *doc,
                                  size_t len),
                        void *ctx);
/* ---- end grants ---------------------------------------------------------- */

/* ---- audit trail (store_audit.c) -----------------------------------------
 * rg_store_audit_append also stores the hash of every complete subtree the
 * new leaf closes, in the same transaction. */
/* Hash of the complete subtree (level, idx): leaves [idx << level,
 * (idx + 1) << level); level 0 is the leaf hash. NOTFOUND when the log is
 * not that long yet. */
int rg_store_audit_node(rg_store *st, unsigned level, uint64_t idx,
                        uint8_t out[32]);
/* Entries with from <= index < to, ascending; fn may return non-zero to
 * stop. entry and leaf are valid only during the call. */
int rg_store_audit_each(rg_store *st, uint64_t from, uint64_t to,
                        int (*fn)(void *ctx, uint64_t index,
                                  const uint8_t *entry, size_t len,
                                  const uint8_t leaf[32]),
                        void *ctx);
/* Signed checkpoints, one per tree size. */
struct rg_store_checkpoint {
	uint64_t size;
	uint8_t root[32];
	char *note;      /* the signed note; malloc'd (checkpoint_clear frees) */
	int64_t time_ms;
};
/* RG_STORE_EXISTS when a checkpoint of that size is already stored. */
int rg_store_checkpoint_put(rg_store *st, uint64_t size, const uint8_t root[32],
                            const char *note, int64_t time_ms);
/* The largest; NOTFOUND when none was issued. */
int rg_store_checkpoint_latest(rg_store *st, struct rg_store_checkpoint *out);
/* Checkpoints with size > after, ascending, at most limit; cp valid only
 * during the call; fn may return non-zero to stop. */
int rg_store_checkpoint_each(rg_store *st, uint64_t after, int limit,
                             int (*fn)(void *ctx,
                                       const struct rg_store_checkpoint *cp),
                             void *ctx);
void rg_store_checkpoint_clear(struct rg_store_checkpoint *cp);
/* ---- end audit trail ------------------------------------------------------ */

/* Per (resource, data-key version): how many records it sealed and the
 * newest one's time (store_usage.c). fn may return non-zero to stop. */
int rg_store_data_key_usage(rg_store *st,
                            int (*fn)(void *ctx, const char *resource,
                                      uint32_t key_version, int64_t records,
                                      int64_t last_ms),
                            void *ctx);

/* ---- key administration (store_keys.c) -----------------------------------
 * Status changes of one key or one department: NOTFOUND when there is no
 * such row. A key's status is "active", "suspended", "retired" or
 * "revoked"; only "active" authenticates. */
int rg_store_key_status_set(rg_store *st, const char *keyid, const char *status);
int rg_store_dept_status_set(rg_store *st, const char *id, const char *status);
/* A department's status into status (len bytes); NOTFOUND when none. */
int rg_store_dept_status_get(rg_store *st, const char *id, char *status,
                             size_t len);
/* OK when dept holds (or held) a key in role, NOTFOUND when never. */
int rg_store_dept_has_role(rg_store *st, const char *dept, const char *role);
/* The keys of one department, oldest first (keyid, role, status,
 * created_ms filled; pub is not); fn may return non-zero to stop. */
int rg_store_key_each_dept(rg_store *st, const char *dept,
                           int (*fn)(void *ctx, const struct rg_store_key *key),
                           void *ctx);
/* ---- end key administration ----------------------------------------------- */

/* ---- re-encryption (store_reencrypt.c) -----------------------------------
 * After a data-key rotation the keeper re-seals, step by step, every record
 * version still sealed under an older key version of its resource. A job
 * per resource: the version it re-seals under (target), its cursor (record
 * versions with seq <= cursor are done), progress, state "running", "done"
 * or "failed". */
struct rg_store_reencrypt {
	char resource[64];
	uint32_t target;
	int64_t cursor;
	int64_t done, total;
	char state[16];
	int64_t started_ms, finished_ms;
};
int rg_store_reencrypt_get(rg_store *st, const char *resource,
                           struct rg_store_reencrypt *out);
/* Insert or replace the job of job->resource. */
int rg_store_reencrypt_put(rg_store *st, const struct rg_store_reencrypt *job);
/* How many record versions of resource are sealed under key version
 * `version` (below 0) or under any version before it (below 1). */
int rg_store_records_sealed_under(rg_store *st, const char *resource,
                                  uint32_t version, int below, int64_t *count);
/* Replace the sealed body of the record version at seq, sealed under key
 * version from, by one sealed under to. NOTFOUND when that row is not (or
 * no longer) sealed under from: a body is never re-sealed twice. */
int rg_store_record_reseal(rg_store *st, int64_t seq, uint32_t from,
                           uint32_t to, const uint8_t *sealed, size_t len);
/* ---- end re-encryption ------------------------------------------------------ */

/* Test seam: make the nth write statement from now (1 = next) fail, and
 * every one after it until reset with 0. Counted: begin, commit and every
 * put, claim, prune and append; rollback, savepoint, release and undo are
 * never failed so that cleanup stays possible. The failure's errmsg is
 * "injected failure". */
void rg_store_fail_after(rg_store *st, int n);

/* ---- online database rekey (store_rekey.c) --------------------------------
 * The database is never rekeyed in place: it is copied into a new file
 * under the new key, the copy is checked by opening it, and the copy is
 * renamed over the database once the live connection is closed. */
struct rg_store_rekey_info {
	int64_t pages;          /* pages of the new file */
	int64_t bytes;          /* its size */
	int page_size;          /* its cipher page size (the old one's) */
	int64_t records;        /* rows in records, in both */
	int64_t audit_entries;  /* rows in audit, in both */
};
/*
 * Outside any transaction: checkpoint the WAL into the file (TRUNCATE),
 * copy the database into tmp under key with every cipher setting of the
 * live database set explicitly, fsync it, then open tmp with
 * rg_store_open and key alone and check it: quick_check, the same row
 * count in every table, and (old_key not NULL) old_key does not open it.
 * Counts as a write for rg_store_fail_after. 0, or -1 with err set and tmp
 * removed.
 */
int rg_store_rekey_export(rg_store *st, const char *tmp,
                          const uint8_t key[RG_STORE_KEYLEN],
                          const uint8_t *old_key,
                          struct rg_store_rekey_info *info, char *err,
                          size_t errlen);
/*
 * With the live database closed (rg_store_close): refuse if its WAL still
 * holds frames, remove the empty WAL and its index, rename tmp over path
 * and fsync the directory. 0 done; -1 nothing renamed (err set); 1
 * renamed but the directory sync failed.
 */
int rg_store_rekey_swap(const char *path, const char *tmp, char *err,
                        size_t errlen);
/* Whether key opens the database at path (1), does not (0: wrong key or
 * not a database), or it cannot be read (-1, err set). Only reads. */
int rg_store_key_opens(const char *path, const uint8_t key[RG_STORE_KEYLEN],
                       char *err, size_t errlen);
/* Remove tmp and its journal, WAL and WAL index (ENOENT is fine). 0 or
 * -1. */
int rg_store_rekey_discard(const char *tmp);
/*
 * A backup of the database st reads (rg_store_open_reader: the gateway may
 * be writing it meanwhile) into the new file out, under key (the
 * database's own) and its cipher settings: one read transaction copies
 * every row and counts them on both sides, and reads meta
 * "keystore_sha256" (ks_journal.h: the keystore the snapshot goes with;
 * "" when the keystore never changed online). The copy is synced, then
 * opened as the gateway would and quick-checked. st's file is never
 * written and its writer never waited for. 0, or -1 with err set and out
 * removed.
 */
struct rg_store_backup_info {
	int64_t bytes;          /* the copy's size */
	int page_size;
	int64_t records;        /* rows in records */
	int64_t audit_entries;  /* rows in audit: the log's size */
	int keystore_hashed;    /* 1: meta holds keystore_sha256 */
	uint8_t keystore_sha256[32];
};
int rg_store_backup(rg_store *st, const uint8_t key[RG_STORE_KEYLEN],
                    const char *out, struct rg_store_backup_info *info,
                    char *err, size_t errlen);
/* PRAGMA quick_check says ok, and the rows of records and audit. 0 or -1
 * (a restore's last check). */
int rg_store_check_counts(rg_store *st, int64_t *records, int64_t *audit);
/* ---- end database rekey ----------------------------------------------------- */

#endif
