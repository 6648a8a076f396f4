/*
 * test_store_cipher.c -- the cipher settings across SQLCipher 3.4 and 4.x:
 * new databases get 3.4's settings on every version (so a file moves
 * between Debian 12 and 13 both ways), files written with the library's
 * own defaults (4.x: 4096-byte pages, HMAC-SHA512) still open, even with a
 * WAL a crash left, keep their settings through a reopen and a rekey, and
 * a wrong key is refused under every profile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"
#include "tests/test.h"

static const uint8_t rg_tc_key[RG_STORE_KEYLEN] = {
	0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb,
	0xdc, 0xed, 0xfe, 0x0f, 0x10, 0x2f, 0x3e, 0x4d, 0x5c, 0x6b, 0x7a,
	0x89, 0x98, 0xa7, 0xb6, 0xc5, 0xd4, 0xe3, 0xf2, 0x01, 0x13};

/* The cipher settings a connection reports, one "name=value;" each. */
static const char *const rg_tc_settings[] = {
	"cipher_page_size", "kdf_iter", "fast_kdf_iter", "cipher_use_hmac",
	"cipher_hmac_pgno", "cipher_hmac_salt_mask", "cipher_hmac_algorithm",
	"cipher_kdf_algorithm", "cipher_plaintext_header_size",
};

static void
rg_tc_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", rg_test_tmpdir(), name);
	CHECK(n > 0 && (size_t)n < len);
}

/* One text answer (empty without a row). */
static void
rg_tc_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;

	out[0] = '\0';
	CHECKF(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s", sql);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    (v = sqlite3_column_text(s, 0)) != NULL)
		snprintf(out, outlen, "%s", (const char *)v);
	sqlite3_finalize(s);
}

static void
rg_tc_describe(sqlite3 *db, char *out, size_t outlen)
{
	char sql[96], v[64];
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(rg_tc_settings) / sizeof(rg_tc_settings[0]);
	     i++) {
		snprintf(sql, sizeof(sql), "PRAGMA %s", rg_tc_settings[i]);
		rg_tc_text(db, sql, v, sizeof(v));
		off += (size_t)snprintf(out + off, outlen - off, "%s=%s;",
		                        rg_tc_settings[i], v);
		CHECK(off < outlen);
	}
}

/*
 * A raw SQLCipher connection under key with the library's own defaults,
 * apart from settings (SQL run before the first read, may be NULL); runs
 * sql (the schema read when NULL). SQLite's result.
 */
static int
rg_tc_raw(const char *path, const uint8_t key[RG_STORE_KEYLEN],
          const char *settings, const char *sql)
{
	char stmt[200], hex[2 * RG_STORE_KEYLEN + 1];
	sqlite3 *db = NULL;
	int rc;

	sodium_bin2hex(hex, sizeof(hex), key, RG_STORE_KEYLEN);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(snprintf(stmt, sizeof(stmt), "PRAGMA key = \"x'%s'\";", hex) <
	      (int)sizeof(stmt));
	CHECK(sqlite3_exec(db, stmt, NULL, NULL, NULL) == SQLITE_OK);
	if (settings != NULL)
		CHECK(sqlite3_exec(db, settings, NULL, NULL, NULL) == SQLITE_OK);
	rc = sqlite3_exec(db, sql != NULL ? sql :
	                  "SELECT count(*) FROM sqlite_master;", NULL, NULL, NULL);
	sqlite3_close(db);
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(stmt, sizeof(stmt));
	return rc;
}

/* The major version of the linked SQLCipher. */
static int
rg_tc_major(void)
{
	sqlite3 *db = NULL;
	int major;

	CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
	major = rg_store_cipher_major(db);
	sqlite3_close(db);
	return major;
}

/* SQLCipher 3.4's settings, as recgate pinned them until it moved to
 * 4096-byte pages (3.4 ignores the two algorithm names, having SHA1 only). */
#define RG_TC_V3 "PRAGMA cipher_page_size = 1024; PRAGMA kdf_iter = 64000;"   \
	"PRAGMA cipher_hmac_algorithm = HMAC_SHA1;"                            \
	"PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA1;"
/* What recgate gives a new database: the same with 4096-byte pages. */
#define RG_TC_PINNED "PRAGMA cipher_page_size = 4096; PRAGMA kdf_iter = 64000;" \
	"PRAGMA cipher_hmac_algorithm = HMAC_SHA1;"                            \
	"PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA1;"

/* What a store opened on path reports about itself. */
static void
rg_tc_store_settings(const char *path, const uint8_t key[RG_STORE_KEYLEN],
                     char *out, size_t outlen)
{
	char err[256] = "";
	rg_store *st = rg_store_open(path, key, 0, err, sizeof(err));

	CHECKF(st != NULL, "open %s: %s", path, err);
	rg_tc_describe(rg_store_db(st), out, outlen);
	rg_store_close(st);
}

TEST(store_links_sqlcipher_of_the_major_version_the_run_expects)
{
	const char *want = getenv("RG_EXPECT_SQLCIPHER");
	int major = rg_tc_major();

	CHECKF(major >= 3, "major %d", major);
	/* tests/compat/sqlcipher4.sh sets it: the run must not silently
	 * fall back to the system's library. */
	if (want != NULL)
		CHECK_EQ_INT(major, strtol(want, NULL, 10));
}

TEST(store_new_database_gets_sqlcipher3_settings_on_every_version)
{
	char path[512], err[256] = "", v[64];
	rg_store *st;

	rg_tc_path(path, sizeof(path), "new.db");
	st = rg_store_open(path, rg_tc_key, 1, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	CHECK(rg_store_meta_put(st, "probe", "x", 1) == RG_STORE_OK);
	rg_tc_text(rg_store_db(st), "PRAGMA cipher_page_size", v, sizeof(v));
	CHECK_EQ_STR(v, "4096");
	rg_tc_text(rg_store_db(st), "PRAGMA cipher_hmac_algorithm", v, sizeof(v));
	/* 3.4 has no such setting and answers nothing; 4.x must say SHA1. */
	CHECK_EQ_STR(v, rg_tc_major() >= 4 ? "HMAC_SHA1" : "");
	rg_tc_text(rg_store_db(st), "PRAGMA cipher_kdf_algorithm", v, sizeof(v));
	CHECK_EQ_STR(v, rg_tc_major() >= 4 ? "PBKDF2_HMAC_SHA1" : "");
	rg_store_close(st);
	/* A connection given those settings reads it, whatever the library;
	 * 3.4's own page size does not. */
	CHECK_EQ_INT(rg_tc_raw(path, rg_tc_key, RG_TC_PINNED,
	                       "SELECT count(*) FROM meta;"), SQLITE_OK);
	CHECK(rg_tc_raw(path, rg_tc_key, RG_TC_V3, NULL) != SQLITE_OK);
	/* On 4.x its own defaults do not: the settings are really pinned. */
	if (rg_tc_major() >= 4)
		CHECK(rg_tc_raw(path, rg_tc_key, NULL, NULL) != SQLITE_OK);
}

TEST(store_opens_a_file_with_the_library_defaults_and_keeps_them)
{
	char path[512], err[256] = "", before[512], after[512];
	void *val = NULL;
	size_t len = 0;
	rg_store *st;

	rg_tc_path(path, sizeof(path), "defaults.db");
	/* As any SQLCipher program makes it (on 4.x: 4096-byte pages,
	 * HMAC-SHA512, PBKDF2-HMAC-SHA512). */
	CHECK_EQ_INT(rg_tc_raw(path, rg_tc_key, NULL,
	                       "CREATE TABLE early(x); INSERT INTO early "
	                       "VALUES(42);"), SQLITE_OK);
	st = rg_store_open(path, rg_tc_key, 0, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	rg_tc_describe(rg_store_db(st), before, sizeof(before));
	CHECK(rg_store_meta_put(st, "probe", "kept", 4) == RG_STORE_OK);
	rg_store_close(st);
	st = rg_store_open(path, rg_tc_key, 0, err, sizeof(err));
	CHECKF(st != NULL, "reopen: %s", err);
	CHECK(rg_store_meta_get(st, "probe", &val, &len) == RG_STORE_OK);
	CHECK(len == 4 && memcmp(val, "kept", 4) == 0);
	free(val);
	rg_tc_describe(rg_store_db(st), after, sizeof(after));
	rg_store_close(st);
	CHECK_EQ_STR(after, before);
	/* Not migrated: the library's defaults still read it all. */
	CHECK_EQ_INT(rg_tc_raw(path, rg_tc_key, NULL,
	                       "SELECT count(*) FROM early, meta;"), SQLITE_OK);
	if (rg_tc_major() >= 4) {
		CHECK(strstr(before, "cipher_page_size=4096;") != NULL);
		CHECK(strstr(before, "cipher_hmac_algorithm=HMAC_SHA512;") != NULL);
	}
}

TEST(store_opens_a_file_with_1024_byte_pages_and_the_library_hmac)
{
	char path[512], err[256] = "";
	void *val = NULL;
	size_t len = 0;
	rg_store *st;

	rg_tc_path(path, sizeof(path), "p1024.db");
	/* What recgate wrote on SQLCipher 4 while it set only the page size. */
	CHECK_EQ_INT(rg_tc_raw(path, rg_tc_key, "PRAGMA cipher_page_size = 1024;",
	                       "CREATE TABLE early(x);"), SQLITE_OK);
	st = rg_store_open(path, rg_tc_key, 0, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	CHECK(rg_store_meta_put(st, "probe", "p", 1) == RG_STORE_OK);
	rg_store_close(st);
	st = rg_store_open(path, rg_tc_key, 0, err, sizeof(err));
	CHECKF(st != NULL, "reopen: %s", err);
	CHECK(rg_store_meta_get(st, "probe", &val, &len) == RG_STORE_OK);
	CHECK(len == 1 && memcmp(val, "p", 1) == 0);
	free(val);
	rg_store_close(st);
	CHECK_EQ_INT(rg_tc_raw(path, rg_tc_key, "PRAGMA cipher_page_size = 1024;",
	                       "SELECT count(*) FROM early, meta;"), SQLITE_OK);
}

TEST(store_opens_a_library_default_file_with_the_wal_a_crash_left)
{
	char path[512], err[256] = "";
	void *val = NULL;
	size_t len = 0;
	rg_store *st;
	pid_t pid;
	int status;

	rg_tc_path(path, sizeof(path), "crashed.db");
	/* A process writes in WAL mode with its library's defaults and dies
	 * without closing: the rows are only in the WAL. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char stmt[200], hex[2 * RG_STORE_KEYLEN + 1];
		sqlite3 *db = NULL;

		sodium_bin2hex(hex, sizeof(hex), rg_tc_key, RG_STORE_KEYLEN);
		snprintf(stmt, sizeof(stmt), "PRAGMA key = \"x'%s'\";", hex);
		if (sqlite3_open(path, &db) != SQLITE_OK ||
		    sqlite3_exec(db, stmt, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
		                 "PRAGMA wal_autocheckpoint = 0;"
		                 "CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB);"
		                 "INSERT INTO meta VALUES('schema_version',"
		                 " CAST('1' AS BLOB));"
		                 "INSERT INTO meta VALUES('probe', CAST('wal' AS BLOB));",
		                 NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rg_tc_path(err, sizeof(err), "crashed.db-wal");
	CHECK(access(err, F_OK) == 0);
	st = rg_store_open(path, rg_tc_key, 0, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	CHECK(rg_store_meta_get(st, "probe", &val, &len) == RG_STORE_OK);
	CHECK(len == 3 && memcmp(val, "wal", 3) == 0);
	free(val);
	rg_store_close(st);
}

TEST(store_rekey_copy_keeps_the_cipher_settings_of_the_file)
{
	char path[512], tmp[600], err[256] = "", before[512], after[512];
	uint8_t newk[RG_STORE_KEYLEN];
	struct rg_store_rekey_info info;
	rg_store *st;

	randombytes_buf(newk, sizeof(newk));
	rg_tc_path(path, sizeof(path), "rk.db");
	snprintf(tmp, sizeof(tmp), "%s.rekey", path);
	CHECK_EQ_INT(rg_tc_raw(path, rg_tc_key, NULL,
	                       "CREATE TABLE early(x); INSERT INTO early "
	                       "VALUES(1);"), SQLITE_OK);
	rg_tc_store_settings(path, rg_tc_key, before, sizeof(before));
	st = rg_store_open(path, rg_tc_key, 0, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	CHECKF(rg_store_rekey_export(st, tmp, newk, rg_tc_key, &info, err,
	                             sizeof(err)) == 0, "%s", err);
	rg_store_close(st);
	rg_tc_store_settings(tmp, newk, after, sizeof(after));
	CHECK_EQ_STR(after, before);
	/* The library's defaults read the copy with the new key alone. */
	CHECK_EQ_INT(rg_tc_raw(tmp, newk, NULL, "SELECT count(*) FROM early;"),
	             SQLITE_OK);
	CHECK(rg_tc_raw(tmp, rg_tc_key, NULL, NULL) != SQLITE_OK);
	CHECK_EQ_INT(rg_store_key_opens(tmp, newk, err, sizeof(err)), 1);
	CHECK_EQ_INT(rg_store_key_opens(tmp, rg_tc_key, err, sizeof(err)), 0);
}

TEST(store_wrong_key_is_refused_under_every_cipher_profile)
{
	char path[512], err[256] = "";
	uint8_t other[RG_STORE_KEYLEN];

	memcpy(other, rg_tc_key, sizeof(other));
	other[31] ^= 0x01;
	rg_tc_path(path, sizeof(path), "wrong.db");
	CHECK_EQ_INT(rg_tc_raw(path, rg_tc_key, NULL, "CREATE TABLE early(x);"),
	             SQLITE_OK);
	CHECK(rg_store_open(path, other, 0, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "wrong database key") != NULL, "err: %s", err);
	CHECK_EQ_INT(rg_store_key_opens(path, other, err, sizeof(err)), 0);
	CHECK_EQ_INT(rg_store_key_opens(path, rg_tc_key, err, sizeof(err)), 1);
	/* Every profile was tried and none fitted: nothing was written. */
	CHECK_EQ_INT(rg_tc_raw(path, rg_tc_key, NULL,
	                       "SELECT count(*) FROM early;"), SQLITE_OK);
}

/* Existing files are tried smaller pages first, each profile once, and a
 * new file gets profile 0 (4096-byte pages). */
TEST(store_probes_existing_files_with_smaller_pages_first)
{
	int seen[16] = {0}, last = 0, n = rg_store_cipher_count();

	CHECK(n > 0 && n <= 16);
	CHECK_EQ_STR(rg_store_cipher_name(0), "sqlcipher3-4096");
	for (int k = 0; k < n; k++) {
		int p = rg_store_cipher_probe(k), size;
		const char *name;

		CHECK(p >= 0 && p < n);
		CHECK_EQ_INT(seen[p], 0);
		seen[p] = 1;
		name = rg_store_cipher_name(p);
		CHECK(strrchr(name, '-') != NULL);
		size = atoi(strrchr(name, '-') + 1);
		CHECKF(size >= last, "probe %d: %s after %d-byte pages", k, name,
		       last);
		last = size;
	}
	CHECK_EQ_INT(rg_store_cipher_probe(n), -1);
	CHECK_EQ_INT(rg_store_cipher_probe(-1), -1);
}
