/*
 * store_int.h -- what the store's own files share (store.c: connection,
 * schema, transactions; store_*.c: the tables of one part of the API).
 * Nothing outside the store includes this: SQL stays inside store*.c.
 */
#ifndef RG_STORE_INT_H
#define RG_STORE_INT_H

#include <sqlite3.h>

#include "gateway/store.h"

/* The connection (owned by st). */
sqlite3 *rg_store_db(rg_store *st);
/* store_ckpt.c: the background checkpointer on its own connection (db,
 * keyed and open; closed by stop, or at once when start fails: NULL). */
struct rg_ckpt;
struct rg_ckpt *rg_ckpt_start(sqlite3 *db);
void rg_ckpt_kick(struct rg_ckpt *c);
unsigned long long rg_ckpt_runs(struct rg_ckpt *c);
void rg_ckpt_stop(struct rg_ckpt *c);
/* store_walvfs.c: the name of the VFS the store's connections open
 * through (registered on the first call; NULL when it cannot be: the
 * platform's then), and how many log frames it has seen written and in
 * how many writes it wrote them, over the process. */
const char *rg_walvfs_name(void);
void rg_walvfs_counts(unsigned long long *frames, unsigned long long *writes);
/* Stop st's background checkpointer, if any (before a TRUNCATE
 * checkpoint of its own, which a running one would make busy). */
void rg_store_background_stop(rg_store *st);
/* The write-failure seam: 1 when this write may go ahead, 0 (errmsg set)
 * when an injected failure stops it. Every write statement passes here. */
int rg_store_write_allowed(rg_store *st);
/* Record SQLite's error text with what we were doing. */
void rg_store_set_error(rg_store *st, const char *what);
/* Prepare a statement for one call (the caller finalizes it): for the
 * rarer statements of the part files. NULL with the error recorded. */
sqlite3_stmt *rg_store_prepare(rg_store *st, const char *sql, const char *what);
/* The same for the hot statements of the part files: sql must be a string
 * constant (it is cached by address); the statement stays prepared for the
 * connection's life. Give it back with rg_store_stmt_put, never finalize
 * it. NULL with the error recorded. */
sqlite3_stmt *rg_store_stmt_get(rg_store *st, const char *sql, const char *what);
/* Reset a statement from rg_store_stmt_get and clear its bindings. */
void rg_store_stmt_put(rg_store *st, sqlite3_stmt *s);
/* store_audit.c: store the subtree hashes that leaf index completes (its
 * entry is already in the audit table). Called by rg_store_audit_append. */
int rg_store_audit_nodes_add(rg_store *st, uint64_t index,
                             const uint8_t leaf[32]);

/* store_cipher.c: the cipher settings a file may have been written with,
 * profile 0 being what recgate writes on every SQLCipher version; the
 * others are tried in order when opening. */
int rg_store_cipher_count(void);
/* The profile to try k-th on an existing file (0 <= k < count), or -1. */
int rg_store_cipher_probe(int k);
/* A profile's short name, for messages. */
const char *rg_store_cipher_name(int profile);
/* The linked SQLCipher's major version (3, 4, ...), -1 if not SQLCipher. */
int rg_store_cipher_major(sqlite3 *db);
/* Give schema ("main" or an attached name) the settings of profile, on a
 * keyed connection before its first read, each read back: 1 set, 0 this
 * SQLCipher cannot express it (skip it), -1 failed. */
int rg_store_cipher_apply(sqlite3 *db, const char *schema, int profile);

/* A claim's replay tag (store_replay.c): BLAKE2b-128 of key id and nonce. */
#define RG_REPLAY_TAGLEN 16

/* store_nonce.c: the nonce claims of the open batch, with their tags,
 * inserted by store.c just before COMMIT (the set runs no SQL). add: 0, or
 * -1 when full or out of memory (the claim is then refused). mark/rewind/pop
 * follow SAVEPOINT / ROLLBACK TO / RELEASE; mark fails when nested too
 * deep. clear forgets every claim (and the marks when savepoints_too). */
struct rg_nonce_set;
struct rg_nonce_set *rg_nonce_set_new(void);
void rg_nonce_set_free(struct rg_nonce_set *ns);
int rg_nonce_set_has(const struct rg_nonce_set *ns, const char *keyid,
                     const char *nonce);
int rg_nonce_set_add(struct rg_nonce_set *ns, const char *keyid,
                     const char *nonce, const uint8_t tag[RG_REPLAY_TAGLEN],
                     int64_t expires_ms);
size_t rg_nonce_set_count(const struct rg_nonce_set *ns);
/* The i-th claim; the tag is the set's until it changes. */
void rg_nonce_set_get(const struct rg_nonce_set *ns, size_t i,
                      const uint8_t **tag, int64_t *expires_ms);
int rg_nonce_set_mark(struct rg_nonce_set *ns);
void rg_nonce_set_rewind(struct rg_nonce_set *ns);
void rg_nonce_set_pop(struct rg_nonce_set *ns);
void rg_nonce_set_clear(struct rg_nonce_set *ns, int savepoints_too);

/* store_replay.c: the committed nonce claims in memory, by tag (the
 * replay_batches table holds them on disk). find: 1 with the claim's expiry,
 * or 0. reserve makes room for n more puts (0, or -1 when out of memory),
 * after which put cannot fail; put keeps the later expiry of a tag seen
 * twice. A growth moves the claims to the larger table a part at each
 * reserve and sweep, never all in one call. sweep drops the claims
 * expired at now_ms from at most nslots slots, going on from where the
 * last call stopped, in place (no claim is hashed again; a move under way
 * is finished first): 1 when that finished a pass over every slot (and a
 * table less than an eighth full started to shrink, to a quarter at
 * most), 0 when slots are left. slots: the slots held, both tables while
 * claims move, 24 bytes a slot. */
struct rg_replay;
void rg_replay_tag(const char *keyid, const char *nonce,
                   uint8_t tag[RG_REPLAY_TAGLEN]);
struct rg_replay *rg_replay_new(void);
void rg_replay_free(struct rg_replay *r);
int rg_replay_find(const struct rg_replay *r,
                   const uint8_t tag[RG_REPLAY_TAGLEN], int64_t *expires_ms);
int rg_replay_reserve(struct rg_replay *r, size_t n);
void rg_replay_put(struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN],
                   int64_t expires_ms);
int rg_replay_sweep(struct rg_replay *r, int64_t now_ms, size_t nslots);
size_t rg_replay_slots(const struct rg_replay *r);
size_t rg_replay_count(const struct rg_replay *r);

#endif
