/*
 * store_reencrypt.c -- the re-encryption's tables: each resource's job and
 * cursor, and the re-sealing of one record version. It stores what it is
 * given, never sees a record in the clear and decides nothing.
 */
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "gateway/store_int.h"

static int
rg_store_rx_text(sqlite3_stmt *s, int col, char *out, size_t len)
{
	const unsigned char *v = sqlite3_column_text(s, col);

	if (v == NULL || strlen((const char *)v) >= len)
		return -1;
	memcpy(out, v, strlen((const char *)v) + 1);
	return 0;
}

int
rg_store_reencrypt_get(rg_store *st, const char *resource,
                       struct rg_store_reencrypt *out)
{
	sqlite3_stmt *s;
	sqlite3_int64 target;
	int rc, ret = RG_STORE_ERROR;

	memset(out, 0, sizeof(*out));
	if (resource == NULL || strlen(resource) >= sizeof(out->resource))
		return RG_STORE_ERROR;
	s = rg_store_stmt_get(st, "SELECT target, cursor, done, total, state,"
	                      " started_ms, finished_ms FROM reencrypt"
	                      " WHERE resource = ?1", "reading a re-encryption");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, resource, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = RG_STORE_NOTFOUND;
	} else if (rc == SQLITE_ROW) {
		target = sqlite3_column_int64(s, 0);
		memcpy(out->resource, resource, strlen(resource) + 1);
		out->target = (uint32_t)target;
		out->cursor = sqlite3_column_int64(s, 1);
		out->done = sqlite3_column_int64(s, 2);
		out->total = sqlite3_column_int64(s, 3);
		out->started_ms = sqlite3_column_int64(s, 5);
		out->finished_ms = sqlite3_column_int64(s, 6);
		if (target >= 1 && target <= UINT32_MAX &&
		    rg_store_rx_text(s, 4, out->state, sizeof(out->state)) == 0)
			ret = RG_STORE_OK;
		else
			rg_store_set_error(st, "a re-encryption row is damaged");
	} else {
		rg_store_set_error(st, "reading a re-encryption");
	}
	rg_store_stmt_put(st, s);
	return ret;
}

int
rg_store_reencrypt_put(rg_store *st, const struct rg_store_reencrypt *job)
{
	sqlite3_stmt *s;
	int rc;

	if (job == NULL || job->target == 0)
		return RG_STORE_ERROR;
	if (!rg_store_write_allowed(st))
		return RG_STORE_ERROR;
	/* The row has no children: REPLACE cascades nowhere. */
	s = rg_store_stmt_get(st, "INSERT OR REPLACE INTO reencrypt(resource,"
	                      " target, cursor, done, total, state, started_ms,"
	                      " finished_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	                      "storing a re-encryption");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, job->resource, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, job->target) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, job->cursor) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, job->done) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 5, job->total) != SQLITE_OK ||
	    sqlite3_bind_text(s, 6, job->state, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 7, job->started_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 8, job->finished_ms) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		rg_store_set_error(st, "storing a re-encryption");
	rg_store_stmt_put(st, s);
	return rc == SQLITE_DONE ? RG_STORE_OK : RG_STORE_ERROR;
}

int
rg_store_records_sealed_under(rg_store *st, const char *resource,
                              uint32_t version, int below, int64_t *count)
{
	sqlite3_stmt *s;
	int rc;

	*count = 0;
	if (resource == NULL)
		return RG_STORE_ERROR;
	/* Both use the (resource, key_version) index. */
	s = below
	    ? rg_store_stmt_get(st, "SELECT count(*) FROM records WHERE"
	                        " resource = ?1 AND key_version < ?2",
	                        "counting records under older keys")
	    : rg_store_stmt_get(st, "SELECT count(*) FROM records WHERE"
	                        " resource = ?1 AND key_version = ?2",
	                        "counting records under a key");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, resource, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, version) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(s, 0);
	else
		rg_store_set_error(st, "counting records under a key");
	rg_store_stmt_put(st, s);
	return rc == SQLITE_ROW ? RG_STORE_OK : RG_STORE_ERROR;
}

int
rg_store_record_reseal(rg_store *st, int64_t seq, uint32_t from, uint32_t to,
                       const uint8_t *sealed, size_t len)
{
	sqlite3_stmt *s;
	int rc;

	if (sealed == NULL || len == 0 || len > INT32_MAX || from == to)
		return RG_STORE_ERROR;
	if (!rg_store_write_allowed(st))
		return RG_STORE_ERROR;
	s = rg_store_stmt_get(st, "UPDATE records SET key_version = ?3,"
	                      " sealed = ?4 WHERE seq = ?1 AND key_version = ?2",
	                      "re-sealing a record");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_int64(s, 1, seq) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, from) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, to) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 4, sealed, (int)len, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		rg_store_set_error(st, "re-sealing a record");
		rg_store_stmt_put(st, s);
		return RG_STORE_ERROR;
	}
	rc = sqlite3_changes(rg_store_db(st)) == 0 ? RG_STORE_NOTFOUND
	                                           : RG_STORE_OK;
	rg_store_stmt_put(st, s);
	return rc;
}
