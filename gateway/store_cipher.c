/*
 * store_cipher.c -- the SQLCipher settings recgate writes its database with
 * on every SQLCipher version, and the other settings it still opens. It
 * only sets cipher parameters on a keyed connection before its first read:
 * it never sees a key and never changes or migrates a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"

/*
 * SQLCipher keeps none of these in the file: a connection must be given
 * the ones the file was written with, or page 1's HMAC fails exactly as
 * under a wrong key. The defaults changed in SQLCipher 4 (Debian 13) from
 * 3.4 (Debian 12): pages of 4096 bytes instead of 1024, HMAC-SHA512 and
 * PBKDF2-HMAC-SHA512 instead of SHA1, 256000 KDF iterations instead of
 * 64000. So recgate never relies on a default: it pins the 3.4 settings
 * with 4096-byte pages (profile 0) on every version, and a file moves
 * between the two Debian releases both ways, with no migration that a
 * package rollback could not undo. With raw keys, which are all recgate
 * uses, the KDF iterations are not run; the KDF algorithm still derives
 * the HMAC key (two rounds) and the HMAC authenticates each page.
 * HMAC-SHA1 is still a sound MAC (HMAC needs no collision resistance);
 * AES-256 encrypts on both.
 *
 * Why 4096-byte pages: a 2 KiB record took a cell and three overflow
 * pages at 1024 bytes, each a WAL frame with its own encryption, HMAC and
 * two writes; at 4096 it takes one page or two, and the keeper handles
 * about 15 % more exchanges a second (tests/bench/results/profile.md).
 *
 * The other profiles only open files recgate did not make that way: the
 * 3.4 settings with 1024-byte pages (what recgate wrote until then), a
 * database made on SQLCipher 4 before the settings were pinned (4.x's HMAC
 * and KDF with 1024-byte pages), and one with 4.x's defaults throughout.
 * Such a file is used as it is; a database rekey copies the settings it
 * was opened with (store_rekey.c).
 */
static const struct rg_store_cipher_profile {
	const char *name;
	int page_size;
	int kdf_iter;
	const char *hmac;  /* NULL: set nothing (SQLCipher 3 has only SHA1) */
	const char *kdf;
	int needs4;        /* only SQLCipher 4 can write or read it */
} rg_store_cipher_profiles[] = {
	{"sqlcipher3-4096", 4096, 64000, "HMAC_SHA1", "PBKDF2_HMAC_SHA1", 0},
	{"sqlcipher3-1024", 1024, 64000, "HMAC_SHA1", "PBKDF2_HMAC_SHA1", 0},
	{"sqlcipher4-1024", 1024, 256000, "HMAC_SHA512", "PBKDF2_HMAC_SHA512", 1},
	{"sqlcipher4-4096", 4096, 256000, "HMAC_SHA512", "PBKDF2_HMAC_SHA512", 1},
};

#define RG_STORE_NPROFILES \
	((int)(sizeof(rg_store_cipher_profiles) / sizeof(rg_store_cipher_profiles[0])))

int
rg_store_cipher_count(void)
{
	return RG_STORE_NPROFILES;
}

/*
 * The order an existing file is tried in: the smaller pages first. Tried
 * with pages larger than its own, a file whose WAL a crash left behind
 * has SQLCipher 3.4 authenticate a page buffer that the short frames
 * never filled (valgrind sees the HMAC compare read it; the page fails
 * either way). Smaller pages only ever read bytes the file holds. A new
 * file gets profile 0.
 */
static const int rg_store_cipher_probes[RG_STORE_NPROFILES] = {1, 2, 0, 3};

int
rg_store_cipher_probe(int k)
{
	if (k < 0 || k >= RG_STORE_NPROFILES)
		return -1;
	return rg_store_cipher_probes[k];
}

const char *
rg_store_cipher_name(int profile)
{
	if (profile < 0 || profile >= RG_STORE_NPROFILES)
		return "?";
	return rg_store_cipher_profiles[profile].name;
}

/* One text answer of sql into out (empty without a row). 0 or -1. */
static int
rg_store_cipher_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int rc;

	out[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && (v = sqlite3_column_text(s, 0)) != NULL)
		snprintf(out, outlen, "%s", (const char *)v);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
rg_store_cipher_major(sqlite3 *db)
{
	char v[64], *end;
	long major;

	if (rg_store_cipher_text(db, "PRAGMA cipher_version", v, sizeof(v)) != 0 ||
	    v[0] < '0' || v[0] > '9')
		return -1;
	major = strtol(v, &end, 10);
	if (*end != '.' || major < 1 || major > 99)
		return -1;
	return (int)major;
}

/* Set one setting on schema and read it back; 0 when it holds. */
static int
rg_store_cipher_set(sqlite3 *db, const char *schema, const char *name,
                    const char *value)
{
	char sql[128], back[64];

	if (snprintf(sql, sizeof(sql), "PRAGMA %s.%s = %s", schema, name,
	             value) >= (int)sizeof(sql) ||
	    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA %s.%s", schema, name);
	if (rg_store_cipher_text(db, sql, back, sizeof(back)) != 0 ||
	    strcmp(back, value) != 0)
		return -1;
	return 0;
}

int
rg_store_cipher_apply(sqlite3 *db, const char *schema, int profile)
{
	const struct rg_store_cipher_profile *p;
	char num[16];
	int major = rg_store_cipher_major(db);

	if (profile < 0 || profile >= RG_STORE_NPROFILES || major < 3)
		return -1;
	p = &rg_store_cipher_profiles[profile];
	if (p->needs4 && major < 4)
		return 0;
	snprintf(num, sizeof(num), "%d", p->page_size);
	if (rg_store_cipher_set(db, schema, "cipher_page_size", num) != 0)
		return -1;
	snprintf(num, sizeof(num), "%d", p->kdf_iter);
	if (rg_store_cipher_set(db, schema, "kdf_iter", num) != 0)
		return -1;
	/* SQLCipher 3 has neither setting (it answers nothing, and always
	 * uses SHA1); from 4 on both are set and must read back. */
	if (major >= 4 &&
	    (rg_store_cipher_set(db, schema, "cipher_hmac_algorithm",
	                         p->hmac) != 0 ||
	     rg_store_cipher_set(db, schema, "cipher_kdf_algorithm",
	                         p->kdf) != 0))
		return -1;
	return 1;
}
