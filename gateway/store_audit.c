/*
 * store_audit.c -- the audit trail's other tables: the hash of every
 * complete subtree of the log (so that roots and proofs need O(log n)
 * lookups, never a scan), the signed checkpoints, and range reads of the
 * entries. Subtree hashes are written in the same transaction as the entry
 * that completes them; nothing here ever changes or deletes a row.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "crypto/merkle.h"
#include "gateway/store_int.h"


/* The key a subtree (level >= 1) is kept under in audit_tree: the log's
 * size when it closed. 0 when that is beyond what SQLite's integers hold. */
static uint64_t
rg_store_audit_tree_size(unsigned level, uint64_t idx)
{
	if (level == 0 || level > 62 || idx >= (UINT64_C(1) << (63 - level)) - 1)
		return 0;
	return (idx + 1) << level;
}

int
rg_store_audit_node(rg_store *st, unsigned level, uint64_t idx,
                    uint8_t out[32])
{
	sqlite3_stmt *s;
	uint64_t key = idx;
	int rc, ret = RG_STORE_ERROR;

	if (level > 0 && (key = rg_store_audit_tree_size(level, idx)) == 0)
		return RG_STORE_NOTFOUND;
	if (key > INT64_MAX)
		return RG_STORE_NOTFOUND;
	/* Level 0 is the leaf column of the log itself. */
	if (level == 0)
		s = rg_store_stmt_get(st, "SELECT leaf FROM audit WHERE idx = ?2"
		                           " AND ?1 = 0", "reading a leaf hash");
	else
		s = rg_store_stmt_get(st, "SELECT hash FROM audit_tree"
		                           " WHERE size = ?2 AND level = ?1",
		                           "reading a subtree hash");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_int(s, 1, (int)level) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)key) != SQLITE_OK) {
		rg_store_set_error(st, "reading a subtree hash");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		ret = RG_STORE_NOTFOUND;
	else if (rc != SQLITE_ROW)
		rg_store_set_error(st, "reading a subtree hash");
	else if (sqlite3_column_bytes(s, 0) != 32 || sqlite3_column_blob(s, 0) == NULL)
		rg_store_set_error(st, "reading a subtree hash: damaged row");
	else {
		memcpy(out, sqlite3_column_blob(s, 0), 32);
		ret = RG_STORE_OK;
	}
out:
	rg_store_stmt_put(st, s);
	return ret;
}

static int
rg_store_audit_node_put(rg_store *st, unsigned level, uint64_t idx,
                        const uint8_t hash[32])
{
	sqlite3_stmt *s;
	uint64_t key;
	int rc;

	if (!rg_store_write_allowed(st))
		return RG_STORE_ERROR;
	if ((key = rg_store_audit_tree_size(level, idx)) == 0) {
		rg_store_set_error(st, "storing a subtree hash: beyond the log");
		return RG_STORE_ERROR;
	}
	s = rg_store_stmt_get(st, "INSERT INTO audit_tree(size, level, hash)"
	                           " VALUES(?2, ?1, ?3)", "storing a subtree hash");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_int(s, 1, (int)level) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)key) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		rg_store_set_error(st, "storing a subtree hash");
	rg_store_stmt_put(st, s);
	return rc == SQLITE_DONE ? RG_STORE_OK : RG_STORE_ERROR;
}

int
rg_store_audit_nodes_add(rg_store *st, uint64_t index, const uint8_t leaf[32])
{
	uint8_t h[32], left[32];
	uint64_t n = index + 1;

	memcpy(h, leaf, 32);
	/* Leaf index closes the subtree at level l when index + 1 is a
	 * multiple of 2^l; its left half is the stored sibling. */
	for (unsigned l = 1; l < 64 && (n & ((UINT64_C(1) << l) - 1)) == 0; l++) {
		if (rg_store_audit_node(st, l - 1, (n >> (l - 1)) - 2, left) !=
		    RG_STORE_OK) {
			rg_store_set_error(st, "audit_append: a subtree hash is missing");
			return RG_STORE_ERROR;
		}
		rg_merkle_node(left, h, h);
		if (rg_store_audit_node_put(st, l, (n >> l) - 1, h) != RG_STORE_OK)
			return RG_STORE_ERROR;
	}
	return RG_STORE_OK;
}

int
rg_store_audit_each(rg_store *st, uint64_t from, uint64_t to,
                    int (*fn)(void *ctx, uint64_t index, const uint8_t *entry,
                              size_t len, const uint8_t leaf[32]),
                    void *ctx)
{
	sqlite3_stmt *s;
	int rc, ret = RG_STORE_OK;

	if (from > INT64_MAX || to > INT64_MAX)
		return RG_STORE_ERROR;
	s = rg_store_stmt_get(st, "SELECT idx, entry, leaf FROM audit"
	                           " WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
	                           "reading the audit log");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)from) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)to) != SQLITE_OK) {
		rg_store_set_error(st, "reading the audit log");
		rg_store_stmt_put(st, s);
		return RG_STORE_ERROR;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *e = sqlite3_column_blob(s, 1);
		int elen = sqlite3_column_bytes(s, 1);

		if (e == NULL || elen <= 0 || sqlite3_column_bytes(s, 2) != 32 ||
		    sqlite3_column_blob(s, 2) == NULL) {
			rg_store_set_error(st, "reading the audit log: damaged row");
			ret = RG_STORE_ERROR;
			break;
		}
		if (fn(ctx, (uint64_t)sqlite3_column_int64(s, 0), e, (size_t)elen,
		       sqlite3_column_blob(s, 2)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rg_store_set_error(st, "reading the audit log");
		ret = RG_STORE_ERROR;
	}
	rg_store_stmt_put(st, s);
	return ret;
}

int
rg_store_checkpoint_put(rg_store *st, uint64_t size, const uint8_t root[32],
                        const char *note, int64_t time_ms)
{
	sqlite3_stmt *s;
	int rc;

	if (size > INT64_MAX || note == NULL)
		return RG_STORE_ERROR;
	if (!rg_store_write_allowed(st))
		return RG_STORE_ERROR;
	s = rg_store_stmt_get(st, "INSERT INTO audit_checkpoints(size, root,"
	                           " note, time_ms) VALUES(?1, ?2, ?3, ?4)",
	                           "storing a checkpoint");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)size) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 2, root, 32, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, note, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, time_ms) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	rg_store_stmt_put(st, s);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return RG_STORE_EXISTS;
	if (rc != SQLITE_DONE) {
		rg_store_set_error(st, "storing a checkpoint");
		return RG_STORE_ERROR;
	}
	return RG_STORE_OK;
}

/* Fill cp from (size, root, note, time_ms). */
static int
rg_store_checkpoint_row(sqlite3_stmt *s, struct rg_store_checkpoint *cp)
{
	const unsigned char *note = sqlite3_column_text(s, 2);

	if (sqlite3_column_int64(s, 0) < 0 || sqlite3_column_bytes(s, 1) != 32 ||
	    sqlite3_column_blob(s, 1) == NULL || note == NULL)
		return -1;
	cp->size = (uint64_t)sqlite3_column_int64(s, 0);
	memcpy(cp->root, sqlite3_column_blob(s, 1), 32);
	cp->time_ms = sqlite3_column_int64(s, 3);
	cp->note = strdup((const char *)note);
	return cp->note != NULL ? 0 : -1;
}

void
rg_store_checkpoint_clear(struct rg_store_checkpoint *cp)
{
	if (cp == NULL)
		return;
	free(cp->note);
	memset(cp, 0, sizeof(*cp));
}

int
rg_store_checkpoint_latest(rg_store *st, struct rg_store_checkpoint *out)
{
	sqlite3_stmt *s;
	int rc, ret = RG_STORE_ERROR;

	memset(out, 0, sizeof(*out));
	s = rg_store_stmt_get(st, "SELECT size, root, note, time_ms FROM"
	                           " audit_checkpoints ORDER BY size DESC LIMIT 1",
	                           "reading the latest checkpoint");
	if (s == NULL)
		return RG_STORE_ERROR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		ret = RG_STORE_NOTFOUND;
	else if (rc != SQLITE_ROW)
		rg_store_set_error(st, "reading the latest checkpoint");
	else if (rg_store_checkpoint_row(s, out) != 0) {
		rg_store_checkpoint_clear(out);
		rg_store_set_error(st, "reading the latest checkpoint: damaged row");
	} else
		ret = RG_STORE_OK;
	rg_store_stmt_put(st, s);
	return ret;
}

int
rg_store_checkpoint_each(rg_store *st, uint64_t after, int limit,
                         int (*fn)(void *ctx,
                                   const struct rg_store_checkpoint *cp),
                         void *ctx)
{
	struct rg_store_checkpoint cp;
	sqlite3_stmt *s;
	int rc, ret = RG_STORE_OK;

	if (after > INT64_MAX || limit < 0)
		return RG_STORE_ERROR;
	s = rg_store_stmt_get(st, "SELECT size, root, note, time_ms FROM"
	                           " audit_checkpoints WHERE size > ?1"
	                           " ORDER BY size LIMIT ?2",
	                           "reading checkpoints");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)after) != SQLITE_OK ||
	    sqlite3_bind_int(s, 2, limit) != SQLITE_OK) {
		rg_store_set_error(st, "reading checkpoints");
		rg_store_stmt_put(st, s);
		return RG_STORE_ERROR;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int stop;

		memset(&cp, 0, sizeof(cp));
		if (rg_store_checkpoint_row(s, &cp) != 0) {
			rg_store_checkpoint_clear(&cp);
			rg_store_set_error(st, "reading checkpoints: damaged row");
			ret = RG_STORE_ERROR;
			break;
		}
		stop = fn(ctx, &cp);
		rg_store_checkpoint_clear(&cp);
		if (stop)
			break;
	}
	if (ret == RG_STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rg_store_set_error(st, "reading checkpoints");
		ret = RG_STORE_ERROR;
	}
	rg_store_stmt_put(st, s);
	return ret;
}
