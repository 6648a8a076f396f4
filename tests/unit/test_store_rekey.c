/*
 * test_store_rekey.c -- the store's side of an online database rekey: the
 * copy under a new key opens with that key alone (SQLCipher used directly),
 * not with the old one, holds every row, keeps a 1024-byte database's page
 * size, and a failed copy leaves the database as it was and no file behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"
#include "tests/test.h"

static void
rg_t_rpath(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", rg_test_tmpdir(), name);
	CHECK(n > 0 && (size_t)n < len);
}

/* Does key open path, asked of SQLCipher directly (PRAGMA key, the page
 * size given)? SQLite's result of reading the schema. */
static int
rg_t_opens(const char *path, const uint8_t key[32], int page_size)
{
	char stmt[200], hex[65];
	sqlite3 *db = NULL;
	int rc;

	sodium_bin2hex(hex, sizeof(hex), key, 32);
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	snprintf(stmt, sizeof(stmt), "PRAGMA key = \"x'%s'\";", hex);
	CHECK(sqlite3_exec(db, stmt, NULL, NULL, NULL) == SQLITE_OK);
	snprintf(stmt, sizeof(stmt), "PRAGMA cipher_page_size = %d;", page_size);
	CHECK(sqlite3_exec(db, stmt, NULL, NULL, NULL) == SQLITE_OK);
	/* SQLCipher 3's HMAC and KDF, which recgate pins on 4.x too (3.4
	 * knows neither name and ignores both). */
	CHECK(sqlite3_exec(db, "PRAGMA cipher_hmac_algorithm = HMAC_SHA1;"
	                   "PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA1;",
	                   NULL, NULL, NULL) == SQLITE_OK);
	rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master;", NULL, NULL,
	                  NULL);
	sqlite3_close(db);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

/* A store at path under key with n records and n audit entries. */
static rg_store *
rg_t_filled(const char *path, const uint8_t key[32], int n)
{
	char err[256] = "", id[32];
	uint8_t leaf[32] = {0}, body[64];
	rg_store *st = rg_store_open(path, key, 1, err, sizeof(err));
	int64_t seq;

	CHECKF(st != NULL, "%s", err);
	memset(body, 0x5a, sizeof(body));
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "rec-%04d", i);
		CHECK(rg_store_record_put(st, "res", id, 1, 1, 1000 + i, body,
		                          sizeof(body), &seq) == RG_STORE_OK);
		leaf[0] = (uint8_t)i;
		CHECK(rg_store_audit_append(st, (uint64_t)i, body, sizeof(body),
		                            leaf) == RG_STORE_OK);
	}
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	return st;
}

/* Does needle occur in the file at path? */
static int
rg_t_file_has(const char *path, const uint8_t *needle, size_t nlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t len;
	struct stat sb;
	int found = 0;

	if (f == NULL)
		return 0;
	CHECK(fstat(fileno(f), &sb) == 0);
	buf = malloc((size_t)sb.st_size + 1);
	CHECK(buf != NULL);
	len = fread(buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	for (size_t i = 0; i + nlen <= len && !found; i++)
		found = memcmp(buf + i, needle, nlen) == 0;
	free(buf);
	return found;
}

TEST(store_rekey_copy_opens_with_the_new_key_only_and_holds_every_row)
{
	char path[512], tmp[600], err[256] = "", hex[65];
	uint8_t oldk[32], newk[32];
	struct rg_store_rekey_info info;
	struct rg_store_record rec;
	uint64_t size = 0;
	rg_store *st;

	randombytes_buf(oldk, sizeof(oldk));
	randombytes_buf(newk, sizeof(newk));
	rg_t_rpath(path, sizeof(path), "r.db");
	snprintf(tmp, sizeof(tmp), "%s.rekey", path);
	st = rg_t_filled(path, oldk, 200);
	CHECKF(rg_store_rekey_export(st, tmp, newk, oldk, &info, err,
	                             sizeof(err)) == 0, "%s", err);
	CHECK_EQ_INT(info.records, 200);
	CHECK_EQ_INT(info.audit_entries, 200);
	CHECK_EQ_INT(info.page_size, 4096);
	CHECK(info.pages > 10);
	CHECK(info.bytes == info.pages * 4096);
	/* The copy: the new key opens it, the old one does not; the live
	 * database is untouched and still under the old key. */
	CHECK_EQ_INT(rg_t_opens(tmp, newk, 4096), SQLITE_OK);
	CHECK(rg_t_opens(tmp, oldk, 4096) != SQLITE_OK);
	CHECK_EQ_INT(rg_store_key_opens(tmp, newk, err, sizeof(err)), 1);
	CHECK_EQ_INT(rg_store_key_opens(tmp, oldk, err, sizeof(err)), 0);
	CHECK_EQ_INT(rg_store_key_opens(path, oldk, err, sizeof(err)), 1);
	/* Swap it in and open the database with the new key. */
	rg_store_close(st);
	CHECKF(rg_store_rekey_swap(path, tmp, err, sizeof(err)) == 0, "%s", err);
	CHECK(access(tmp, F_OK) != 0);
	CHECK(rg_t_opens(path, oldk, 4096) != SQLITE_OK);
	CHECK_EQ_INT(rg_t_opens(path, newk, 4096), SQLITE_OK);
	CHECK(rg_store_open(path, oldk, 0, err, sizeof(err)) == NULL);
	st = rg_store_open(path, newk, 0, err, sizeof(err));
	CHECKF(st != NULL, "%s", err);
	CHECK(rg_store_audit_size(st, &size) == RG_STORE_OK);
	CHECK_EQ_INT(size, 200);
	CHECK(rg_store_record_get(st, "res", "rec-0199", &rec) == RG_STORE_OK);
	CHECK_EQ_INT(rec.sealed_len, 64);
	rg_store_record_clear(&rec);
	rg_store_close(st);
	/* Neither key, raw or in hex, is in the file. */
	CHECK(!rg_t_file_has(path, newk, 32));
	CHECK(!rg_t_file_has(path, oldk, 32));
	sodium_bin2hex(hex, sizeof(hex), newk, 32);
	CHECK(!rg_t_file_has(path, (const uint8_t *)hex, 64));
}

TEST(store_rekey_keeps_a_1024_byte_database_at_1024)
{
	char path[512], tmp[600], err[256] = "", stmt[200], hex[65];
	uint8_t oldk[32], newk[32];
	struct rg_store_rekey_info info;
	sqlite3 *db = NULL;
	rg_store *st;

	randombytes_buf(oldk, sizeof(oldk));
	randombytes_buf(newk, sizeof(newk));
	rg_t_rpath(path, sizeof(path), "big.db");
	snprintf(tmp, sizeof(tmp), "%s.rekey", path);
	/* 1024-byte pages, what recgate wrote before and SQLCipher 3's
	 * default, with 3's HMAC and KDF (test_store_cipher.c has 4's). */
	sodium_bin2hex(hex, sizeof(hex), oldk, 32);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	snprintf(stmt, sizeof(stmt), "PRAGMA key = \"x'%s'\";", hex);
	CHECK(sqlite3_exec(db, stmt, NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA cipher_page_size = 1024;"
	                   "PRAGMA cipher_hmac_algorithm = HMAC_SHA1;"
	                   "PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA1;"
	                   "CREATE TABLE x(a); INSERT INTO x VALUES(1);", NULL,
	                   NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	st = rg_store_open(path, oldk, 0, err, sizeof(err));
	CHECKF(st != NULL, "%s", err);
	CHECKF(rg_store_rekey_export(st, tmp, newk, oldk, &info, err,
	                             sizeof(err)) == 0, "%s", err);
	CHECK_EQ_INT(info.page_size, 1024);
	CHECK_EQ_INT(rg_t_opens(tmp, newk, 1024), SQLITE_OK);
	CHECK(rg_t_opens(tmp, newk, 4096) != SQLITE_OK);
	rg_store_close(st);
	CHECKF(rg_store_rekey_swap(path, tmp, err, sizeof(err)) == 0, "%s", err);
	st = rg_store_open(path, newk, 0, err, sizeof(err));
	CHECKF(st != NULL, "%s", err);
	rg_store_close(st);
}

TEST(store_rekey_failure_leaves_the_database_and_no_copy)
{
	char path[512], tmp[600], err[256] = "";
	uint8_t oldk[32], newk[32];
	struct rg_store_rekey_info info;
	uint64_t size = 0;
	rg_store *st;

	randombytes_buf(oldk, sizeof(oldk));
	randombytes_buf(newk, sizeof(newk));
	rg_t_rpath(path, sizeof(path), "f.db");
	snprintf(tmp, sizeof(tmp), "%s.rekey", path);
	st = rg_t_filled(path, oldk, 20);
	/* The store's write-failure seam, as a full disk. */
	rg_store_fail_after(st, 1);
	CHECK(rg_store_rekey_export(st, tmp, newk, oldk, &info, err,
	                            sizeof(err)) != 0);
	CHECK(strstr(err, "injected failure") != NULL);
	CHECK(access(tmp, F_OK) != 0);
	rg_store_fail_after(st, 0);
	/* A path that cannot take a file: a directory in the way. */
	CHECK(mkdir(tmp, 0700) == 0);
	CHECK(rg_store_rekey_export(st, tmp, newk, oldk, &info, err,
	                            sizeof(err)) != 0);
	CHECK(rmdir(tmp) == 0);
	/* The live store goes on under the old key. */
	CHECK(rg_store_audit_size(st, &size) == RG_STORE_OK);
	CHECK_EQ_INT(size, 20);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_meta_put(st, "after", "x", 1) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	rg_store_close(st);
	CHECK_EQ_INT(rg_store_key_opens(path, oldk, err, sizeof(err)), 1);
	CHECK_EQ_INT(rg_store_key_opens(path, newk, err, sizeof(err)), 0);
}

TEST(store_rekey_swap_refuses_a_wal_with_frames)
{
	char path[512], tmp[600], wal[600], err[256] = "";
	uint8_t k[32];
	FILE *f;

	randombytes_buf(k, sizeof(k));
	rg_t_rpath(path, sizeof(path), "w.db");
	snprintf(tmp, sizeof(tmp), "%s.rekey", path);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	rg_store_close(rg_t_filled(path, k, 1));
	f = fopen(tmp, "w");
	CHECK(f != NULL && fclose(f) == 0);
	f = fopen(wal, "w");
	CHECK(f != NULL && fputs("frames", f) >= 0 && fclose(f) == 0);
	CHECK_EQ_INT(rg_store_rekey_swap(path, tmp, err, sizeof(err)), -1);
	CHECK(strstr(err, "WAL") != NULL);
	CHECK(access(tmp, F_OK) == 0);
	CHECK_EQ_INT(rg_store_rekey_discard(tmp), 0);
	CHECK(access(tmp, F_OK) != 0);
}
