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
/* A profile's short name, for messages. */
const char *rg_store_cipher_name(int profile);
/* The linked SQLCipher's major version (3, 4, ...), -1 if not SQLCipher. */
int rg_store_cipher_major(sqlite3 *db);
/* Give schema ("main" or an attached name) the settings of profile, on a
 * keyed connection before its first read, each read back: 1 set, 0 this
 * SQLCipher cannot express it (skip it), -1 failed. */
int rg_store_cipher_apply(sqlite3 *db, const char *schema, int profile);

#endif
