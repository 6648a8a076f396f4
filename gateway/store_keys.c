/*
 * store_keys.c -- the administrator's changes to the key registry: a key's
 * or a department's status, and the questions those changes ask first.
 * It decides nothing; ex_admin.c decides and audits every change.
 */
#include <string.h>

#include <sqlite3.h>

#include "gateway/store_int.h"

/* Run a one-row UPDATE of table's status column where key = id. */
static int
rg_store_status_update(rg_store *st, const char *sql, const char *id,
                       const char *status, const char *what)
{
	sqlite3_stmt *s;
	int rc;

	if (id == NULL || status == NULL)
		return RG_STORE_ERROR;
	if (!rg_store_write_allowed(st))
		return RG_STORE_ERROR;
	if ((s = rg_store_prepare(st, sql, what)) == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		rg_store_set_error(st, what);
		sqlite3_finalize(s);
		return RG_STORE_ERROR;
	}
	rc = sqlite3_changes(rg_store_db(st)) == 0 ? RG_STORE_NOTFOUND
	                                           : RG_STORE_OK;
	sqlite3_finalize(s);
	return rc;
}

int
rg_store_key_status_set(rg_store *st, const char *keyid, const char *status)
{
	return rg_store_status_update(st,
	    "UPDATE dept_keys SET status = ?1 WHERE keyid = ?2", keyid, status,
	    "setting a key's status");
}

int
rg_store_dept_status_set(rg_store *st, const char *id, const char *status)
{
	return rg_store_status_update(st,
	    "UPDATE departments SET status = ?1 WHERE id = ?2", id, status,
	    "setting a department's status");
}

int
rg_store_dept_status_get(rg_store *st, const char *id, char *status,
                         size_t len)
{
	sqlite3_stmt *s;
	const unsigned char *v;
	int rc;

	if (id == NULL || status == NULL || len == 0)
		return RG_STORE_ERROR;
	s = rg_store_prepare(st, "SELECT status FROM departments WHERE id = ?1",
	                     "reading a department");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v = sqlite3_column_text(s, 0);
		if (v == NULL || strlen((const char *)v) >= len)
			rc = SQLITE_ERROR;
		else
			memcpy(status, v, strlen((const char *)v) + 1);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rg_store_set_error(st, "reading a department");
		sqlite3_finalize(s);
		return RG_STORE_ERROR;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? RG_STORE_OK : RG_STORE_NOTFOUND;
}

int
rg_store_dept_has_role(rg_store *st, const char *dept, const char *role)
{
	sqlite3_stmt *s;
	int rc;

	if (dept == NULL || role == NULL)
		return RG_STORE_ERROR;
	s = rg_store_prepare(st, "SELECT 1 FROM dept_keys WHERE dept = ?1 AND"
	                         " role = ?2 LIMIT 1", "reading keys");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, dept, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rg_store_set_error(st, "reading keys");
		sqlite3_finalize(s);
		return RG_STORE_ERROR;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? RG_STORE_OK : RG_STORE_NOTFOUND;
}

int
rg_store_key_each_dept(rg_store *st, const char *dept,
                       int (*fn)(void *ctx, const struct rg_store_key *key),
                       void *ctx)
{
	sqlite3_stmt *s;
	struct rg_store_key k;
	int rc;

	if (dept == NULL || fn == NULL)
		return RG_STORE_ERROR;
	s = rg_store_prepare(st, "SELECT keyid, role, status, created_ms FROM"
	                         " dept_keys WHERE dept = ?1 ORDER BY created_ms,"
	                         " keyid", "listing keys");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, dept, -1, SQLITE_STATIC) != SQLITE_OK) {
		rg_store_set_error(st, "listing keys");
		sqlite3_finalize(s);
		return RG_STORE_ERROR;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(s, 0);
		const unsigned char *role = sqlite3_column_text(s, 1);
		const unsigned char *status = sqlite3_column_text(s, 2);

		memset(&k, 0, sizeof(k));
		if (id == NULL || role == NULL || status == NULL ||
		    strlen((const char *)id) >= sizeof(k.keyid) ||
		    strlen((const char *)role) >= sizeof(k.role) ||
		    strlen((const char *)status) >= sizeof(k.status) ||
		    strlen(dept) >= sizeof(k.dept)) {
			rc = SQLITE_ERROR;
			break;
		}
		memcpy(k.keyid, id, strlen((const char *)id) + 1);
		memcpy(k.role, role, strlen((const char *)role) + 1);
		memcpy(k.status, status, strlen((const char *)status) + 1);
		memcpy(k.dept, dept, strlen(dept) + 1);
		k.created_ms = sqlite3_column_int64(s, 3);
		if (fn(ctx, &k) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		rg_store_set_error(st, "listing keys");
		sqlite3_finalize(s);
		return RG_STORE_ERROR;
	}
	sqlite3_finalize(s);
	return RG_STORE_OK;
}
