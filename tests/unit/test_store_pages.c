/*
 * test_store_pages.c -- the store's cipher page size (set explicitly to
 * 4096 for new databases whatever the SQLCipher version's default; 1024-byte
 * databases, what recgate wrote before and SQLCipher 3's default, still
 * open and keep their size) and the statements the part files keep
 * prepared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"
#include "tests/test.h"

static const uint8_t rg_t_pkey[RG_STORE_KEYLEN] = {
	0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5,
	0xb4, 0xc3, 0xd2, 0xe1, 0xf0, 0x01, 0x12, 0x23, 0x34, 0x45, 0x56,
	0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf1};

static void
rg_t_ppath(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", rg_test_tmpdir(), name);
	CHECK(n > 0 && (size_t)n < len);
}

/* A raw SQLCipher connection with the store's key and a given page size;
 * with sql, runs it (creating the file). SQLite's result of reading the
 * schema, or of sql. */
static int
rg_t_raw(const char *path, int page_size, const char *sql)
{
	char stmt[200], hex[2 * RG_STORE_KEYLEN + 1];
	sqlite3 *db = NULL;
	int rc;

	sodium_bin2hex(hex, sizeof(hex), rg_t_pkey, sizeof(rg_t_pkey));
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(snprintf(stmt, sizeof(stmt), "PRAGMA key = \"x'%s'\";", hex) <
	      (int)sizeof(stmt));
	CHECK(sqlite3_exec(db, stmt, NULL, NULL, NULL) == SQLITE_OK);
	CHECK(snprintf(stmt, sizeof(stmt), "PRAGMA cipher_page_size = %d;",
	               page_size) < (int)sizeof(stmt));
	CHECK(sqlite3_exec(db, stmt, NULL, NULL, NULL) == SQLITE_OK);
	/* SQLCipher 3's HMAC and KDF, which recgate pins on 4.x too (3.4
	 * knows neither name and ignores both). */
	CHECK(sqlite3_exec(db, "PRAGMA cipher_hmac_algorithm = HMAC_SHA1;"
	                   "PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA1;",
	                   NULL, NULL, NULL) == SQLITE_OK);
	rc = sqlite3_exec(db, sql != NULL ? sql :
	                  "SELECT count(*) FROM sqlite_master;", NULL, NULL, NULL);
	sqlite3_close(db);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

TEST(store_new_database_uses_4096_byte_cipher_pages)
{
	char path[512], err[256] = "";
	rg_store *st;
	struct stat sb;

	rg_t_ppath(path, sizeof(path), "new.db");
	st = rg_store_open(path, rg_t_pkey, 1, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	CHECK(rg_store_meta_put(st, "probe", "x", 1) == RG_STORE_OK);
	rg_store_close(st);
	CHECK(stat(path, &sb) == 0);
	CHECK(sb.st_size > 0 && sb.st_size % 4096 == 0);
	/* Page 1 authenticates under 4096 only. */
	CHECK_EQ_INT(rg_t_raw(path, 4096, NULL), SQLITE_OK);
	CHECK(rg_t_raw(path, 1024, NULL) != SQLITE_OK);
}

TEST(store_opens_a_database_made_with_1024_byte_pages_and_keeps_them)
{
	char path[512], err[256] = "";
	void *val = NULL;
	size_t len = 0;
	rg_store *st;

	rg_t_ppath(path, sizeof(path), "old.db");
	/* As recgate made them before, and SQLCipher 3 by default. */
	CHECK_EQ_INT(rg_t_raw(path, 1024, "CREATE TABLE early(x);"), SQLITE_OK);
	st = rg_store_open(path, rg_t_pkey, 0, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	CHECK(rg_store_meta_put(st, "probe", "old", 3) == RG_STORE_OK);
	rg_store_close(st);
	st = rg_store_open(path, rg_t_pkey, 0, err, sizeof(err));
	CHECKF(st != NULL, "reopen: %s", err);
	CHECK(rg_store_meta_get(st, "probe", &val, &len) == RG_STORE_OK);
	CHECK(len == 3 && memcmp(val, "old", 3) == 0);
	free(val);
	rg_store_close(st);
	CHECK_EQ_INT(rg_t_raw(path, 1024, "SELECT count(*) FROM early;"), SQLITE_OK);
	CHECK(rg_t_raw(path, 4096, NULL) != SQLITE_OK);
}

TEST(store_wrong_key_is_still_refused_under_either_page_size)
{
	char path[512], err[256] = "";
	uint8_t other[RG_STORE_KEYLEN];
	rg_store *st;

	rg_t_ppath(path, sizeof(path), "old-wrong.db");
	CHECK_EQ_INT(rg_t_raw(path, 4096, "CREATE TABLE early(x);"), SQLITE_OK);
	memcpy(other, rg_t_pkey, sizeof(other));
	other[0] ^= 0x80;
	st = rg_store_open(path, other, 0, err, sizeof(err));
	CHECK(st == NULL);
	CHECKF(strstr(err, "wrong database key") != NULL, "err: %s", err);
}

TEST(store_part_statements_are_kept_prepared_up_to_a_limit)
{
	/* Distinct constants: the cache knows statements by address. */
	static char sql[40][24];
	sqlite3_stmt *s[40], *again, *nested;
	char path[512], err[256] = "";
	rg_store *st;

	rg_t_ppath(path, sizeof(path), "cache.db");
	st = rg_store_open(path, rg_t_pkey, 1, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	/* Put back and asked for again: the same prepared statement. */
	s[0] = rg_store_stmt_get(st, "SELECT count(*) FROM meta", "probe");
	CHECK(s[0] != NULL);
	CHECK_EQ_INT(sqlite3_step(s[0]), SQLITE_ROW);
	/* In use (a nested call): a statement of its own. */
	nested = rg_store_stmt_get(st, "SELECT count(*) FROM meta", "probe");
	CHECK(nested != NULL && nested != s[0]);
	CHECK_EQ_INT(sqlite3_step(nested), SQLITE_ROW);
	rg_store_stmt_put(st, nested);
	rg_store_stmt_put(st, s[0]);
	again = rg_store_stmt_get(st, "SELECT count(*) FROM meta", "probe");
	CHECK(again == s[0]);
	/* Reset on the way back: it runs from the start. */
	CHECK_EQ_INT(sqlite3_step(again), SQLITE_ROW);
	rg_store_stmt_put(st, again);
	/* Past the cache's limit statements still work (prepared per call);
	 * the sanitizer run proves none of them leaks. */
	for (int i = 0; i < 40; i++) {
		CHECK(snprintf(sql[i], sizeof(sql[i]), "SELECT %d", i) <
		      (int)sizeof(sql[i]));
		s[i] = rg_store_stmt_get(st, sql[i], "probe");
		CHECK(s[i] != NULL);
		CHECK_EQ_INT(sqlite3_step(s[i]), SQLITE_ROW);
		CHECK_EQ_INT(sqlite3_column_int(s[i], 0), i);
	}
	for (int i = 0; i < 40; i++)
		rg_store_stmt_put(st, s[i]);
	/* A bad statement is an error, not a cache entry. */
	CHECK(rg_store_stmt_get(st, "SELECT FROM nowhere", "probe") == NULL);
	CHECK(strstr(rg_store_errmsg(st), "probe") != NULL);
	rg_store_close(st);
}

static long long
rg_t_fsize(const char *path)
{
	struct stat sb;

	CHECK(stat(path, &sb) == 0);
	return (long long)sb.st_size;
}

TEST(store_wal_is_checkpointed_by_tidy_not_inside_commit)
{
	char path[512], err[256] = "", name[32], val[2048];
	rg_store *st;
	long long before;

	rg_t_ppath(path, sizeof(path), "wal.db");
	st = rg_store_open(path, rg_t_pkey, 1, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	before = rg_t_fsize(path);
	/* About 1300 pages of 4 KiB in one commit: past the tidy mark (1000
	 * pages), short of the hard one (8000). */
	memset(val, 'v', sizeof(val));
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	for (int i = 0; i < 2600; i++) {
		CHECK(snprintf(name, sizeof(name), "k%d", i) < (int)sizeof(name));
		CHECK(rg_store_meta_put(st, name, val, sizeof(val)) == RG_STORE_OK);
	}
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	/* Committed into the WAL only: the commit did not checkpoint. */
	CHECK_EQ_INT(rg_t_fsize(path), before);
	rg_store_wal_tidy(st);
	CHECK(rg_t_fsize(path) > before + 1024 * 1024);
	rg_store_close(st);
	/* And the data is all there, read back through the database. */
	st = rg_store_open(path, rg_t_pkey, 0, err, sizeof(err));
	CHECKF(st != NULL, "reopen: %s", err);
	{
		void *v = NULL;
		size_t len = 0;

		CHECK(rg_store_meta_get(st, "k2599", &v, &len) == RG_STORE_OK);
		CHECK(len == sizeof(val) && memcmp(v, val, len) == 0);
		free(v);
	}
	rg_store_close(st);
}
