/*
 * store_grants.c -- the grants table: one document per grant, stored as
 * given. It decides nothing about a grant; policy/grant.c reads it and
 * policy.c decides with it.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gateway/store_int.h"


int
rg_store_grant_put(rg_store *st, const char *id, const char *doc, size_t len)
{
	sqlite3_stmt *s;
	int rc;

	if (len > INT_MAX)
		return RG_STORE_ERROR;
	if (!rg_store_write_allowed(st))
		return RG_STORE_ERROR;
	/* grants has no children, so REPLACE cascades nowhere. */
	s = rg_store_stmt_get(st, "INSERT OR REPLACE INTO grants(id, doc)"
	                           " VALUES(?1, ?2)", "storing a grant");
	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 2, doc, (int)len, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		rg_store_set_error(st, "storing a grant");
	rg_store_stmt_put(st, s);
	return rc == SQLITE_DONE ? RG_STORE_OK : RG_STORE_ERROR;
}

/* Copy the doc column as a NUL-terminated string. */
static int
rg_store_grant_doc(sqlite3_stmt *s, int col, char **doc, size_t *len)
{
	const void *v = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);
	char *p;

	if (n < 0 || (n > 0 && v == NULL) || (p = malloc((size_t)n + 1)) == NULL)
		return -1;
	if (n > 0)
		memcpy(p, v, (size_t)n);
	p[n] = '\0';
	*doc = p;
	*len = (size_t)n;
	return 0;
}

int
rg_store_grant_get(rg_store *st, const char *id, char **doc, size_t *len)
{
	sqlite3_stmt *s = rg_store_stmt_get(st,
	    "SELECT doc FROM grants WHERE id = ?1", "reading a grant");
	int rc, ret = RG_STORE_ERROR;

	if (s == NULL)
		return RG_STORE_ERROR;
	if (sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) != SQLITE_OK) {
		rg_store_set_error(st, "reading a grant");
		rg_store_stmt_put(st, s);
		return RG_STORE_ERROR;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ret = rg_store_grant_doc(s, 0, doc, len) == 0 ? RG_STORE_OK
		                                              : RG_STORE_ERROR;
	else if (rc == SQLITE_DONE)
		ret = RG_STORE_NOTFOUND;
	else
		rg_store_set_error(st, "reading a grant");
	rg_store_stmt_put(st, s);
	return ret;
}

int
rg_store_grant_each(rg_store *st,
                    int (*fn)(void *ctx, const char *id, const char *doc,
                              size_t len),
                    void *ctx)
{
	sqlite3_stmt *s = rg_store_stmt_get(st,
	    "SELECT id, doc FROM grants ORDER BY id", "listing grants");
	int rc;

	if (s == NULL)
		return RG_STORE_ERROR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(s, 0);
		char *doc;
		size_t len;
		int stop;

		if (id == NULL || rg_store_grant_doc(s, 1, &doc, &len) != 0) {
			rg_store_set_error(st, "listing grants");
			rg_store_stmt_put(st, s);
			return RG_STORE_ERROR;
		}
		stop = fn(ctx, (const char *)id, doc, len);
		free(doc);
		if (stop)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rg_store_set_error(st, "listing grants");
		rg_store_stmt_put(st, s);
		return RG_STORE_ERROR;
	}
	rg_store_stmt_put(st, s);
	return RG_STORE_OK;
}
