/*
 * store_usage.c -- which data-key version sealed how many records, and
 * when last: what `recgatectl keys list` shows as a key's use. Read-only.
 */
#include <stdint.h>
#include <string.h>

#include "gateway/store_int.h"

int
rg_store_data_key_usage(rg_store *st,
                        int (*fn)(void *ctx, const char *resource,
                                  uint32_t key_version, int64_t records,
                                  int64_t last_ms),
                        void *ctx)
{
	sqlite3_stmt *s = rg_store_prepare(st,
	    "SELECT resource, key_version, COUNT(*), MAX(time_ms) FROM records"
	    " GROUP BY resource, key_version", "counting records per key");
	int rc;

	if (s == NULL)
		return RG_STORE_ERROR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(s, 0);
		int64_t kv = sqlite3_column_int64(s, 1);

		if (res == NULL || kv < 0 || kv > UINT32_MAX)
			continue;
		if (fn(ctx, res, (uint32_t)kv, sqlite3_column_int64(s, 2),
		       sqlite3_column_int64(s, 3)) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		rg_store_set_error(st, "counting records per key");
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? RG_STORE_OK : RG_STORE_ERROR;
}
