/*
 * store_rekey.c -- the store's side of an online database rekey: copy the
 * open database into a new file under another key (sqlcipher_export), check
 * the copy by opening it as the gateway would, and swap it in. It never
 * changes the live database file in place and never lets a key into SQL
 * text, an error message or a log: keys travel as bound parameters built in
 * guarded memory and wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"
#include "gateway/wfile.h"

/* SQLCipher's keying call (its header declares it only for builds that
 * define SQLITE_HAS_CODEC; the library always has it). */
int sqlite3_key(sqlite3 *db, const void *key, int len);

/* "x'" + 64 hex digits + "'": SQLCipher's form of a raw 256-bit key. */
#define RG_REKEY_KEYTEXT (2 + RG_STORE_KEYLEN * 2 + 1)

/*
 * Every cipher setting SQLCipher 3.4 or 4.x lets a database choose. The
 * new file gets each one the live database is open with, set explicitly
 * and read back, because the defaults differ between versions (and an
 * attached database takes the library's defaults, not main's): the copy
 * must open exactly as the original does. A setting this version does not
 * know returns no row from main and is left alone.
 */
static const struct {
	const char *name;
	int quote_hex;  /* set as "x'VALUE'" (the salt mask reads back bare) */
} rg_rekey_params[] = {
	{"cipher_page_size", 0},
	{"kdf_iter", 0},
	{"fast_kdf_iter", 0},
	{"cipher_use_hmac", 0},
	{"cipher_hmac_pgno", 0},
	{"cipher_hmac_salt_mask", 1},
	{"cipher_hmac_algorithm", 0},
	{"cipher_kdf_algorithm", 0},
	{"cipher_plaintext_header_size", 0},
};


static void
rg_rekey_err(char *err, size_t errlen, const char *what, const char *detail)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s%s%s", what, detail != NULL ? ": " : "",
		         detail != NULL ? detail : "");
}

/* The key as SQLCipher's raw-key text, in guarded memory (NUL-terminated;
 * the caller wipes and frees it with sodium_free). */
static char *
rg_rekey_keytext(const uint8_t key[RG_STORE_KEYLEN])
{
	char *t = sodium_malloc(RG_REKEY_KEYTEXT + 1);

	if (t == NULL)
		return NULL;
	t[0] = 'x';
	t[1] = '\'';
	sodium_bin2hex(t + 2, RG_STORE_KEYLEN * 2 + 1, key, RG_STORE_KEYLEN);
	t[RG_REKEY_KEYTEXT - 1] = '\'';
	t[RG_REKEY_KEYTEXT] = '\0';
	return t;
}

static void
rg_rekey_keytext_free(char *t)
{
	if (t != NULL) {
		sodium_memzero(t, RG_REKEY_KEYTEXT + 1);
		sodium_free(t);
	}
}

/*
 * ATTACH path AS schema under key. The key is a bound parameter pointing
 * at guarded memory (SQLITE_STATIC: SQLite keeps no copy of it; SQLCipher
 * copies it into its own context, which it wipes). 0 or -1.
 */
static int
rg_rekey_attach(sqlite3 *db, const char *path, const char *schema,
                const uint8_t key[RG_STORE_KEYLEN])
{
	char sql[64], *kt;
	sqlite3_stmt *s = NULL;
	int rc;

	if (snprintf(sql, sizeof(sql), "ATTACH DATABASE ?1 AS %s KEY ?2",
	             schema) >= (int)sizeof(sql))
		return -1;
	if ((kt = rg_rekey_keytext(key)) == NULL)
		return -1;
	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 2, kt, RG_REKEY_KEYTEXT, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	sqlite3_finalize(s);
	rg_rekey_keytext_free(kt);
	return rc == SQLITE_OK ? 0 : -1;
}

/* One PRAGMA's single text answer into out; 1 with a row, 0 without
 * (unknown to this version), -1 on error. */
static int
rg_rekey_pragma(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int rc, ret = -1;

	out[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = 0;
	} else if (rc == SQLITE_ROW) {
		v = sqlite3_column_text(s, 0);
		if (v != NULL && (size_t)snprintf(out, outlen, "%s",
		                                  (const char *)v) < outlen)
			ret = 1;
	}
	sqlite3_finalize(s);
	return ret;
}

/* A setting's value goes into SQL text: only letters, digits, '_', '-'. */
static int
rg_rekey_value_ok(const char *v)
{
	if (v[0] == '\0')
		return 0;
	for (; *v != '\0'; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || *v == '_' || *v == '-'))
			return 0;
	return 1;
}

/* Give schema every cipher setting main has; *page_size main's. */
static int
rg_rekey_copy_params(sqlite3 *db, const char *schema, int *page_size,
                     char *err, size_t errlen)
{
	char sql[160], val[64], back[64];
	int rc;

	for (size_t i = 0; i < sizeof(rg_rekey_params) / sizeof(rg_rekey_params[0]);
	     i++) {
		const char *name = rg_rekey_params[i].name;

		snprintf(sql, sizeof(sql), "PRAGMA main.%s", name);
		rc = rg_rekey_pragma(db, sql, val, sizeof(val));
		if (rc == 0)
			continue;
		if (rc < 0 || !rg_rekey_value_ok(val)) {
			rg_rekey_err(err, errlen, "cannot read the cipher setting",
			             name);
			return -1;
		}
		if (rg_rekey_params[i].quote_hex)
			snprintf(sql, sizeof(sql), "PRAGMA %s.%s = \"x'%s'\"", schema,
			         name, val);
		else
			snprintf(sql, sizeof(sql), "PRAGMA %s.%s = %s", schema, name,
			         val);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			rg_rekey_err(err, errlen, "cannot set the cipher setting",
			             name);
			return -1;
		}
		snprintf(sql, sizeof(sql), "PRAGMA %s.%s", schema, name);
		if (rg_rekey_pragma(db, sql, back, sizeof(back)) != 1 ||
		    strcmp(val, back) != 0) {
			rg_rekey_err(err, errlen, "the new file does not take the "
			             "cipher setting", name);
			return -1;
		}
		if (strcmp(name, "cipher_page_size") == 0) {
			char *end;
			long n = strtol(val, &end, 10);

			*page_size = *end == '\0' && n >= 512 && n <= 65536 ?
			             (int)n : 0;
		}
	}
	if (*page_size <= 0) {
		rg_rekey_err(err, errlen, "the cipher page size is unknown", NULL);
		return -1;
	}
	return 0;
}

/* count(*) of table in schema into *n. 0 or -1. */
static int
rg_rekey_count(sqlite3 *db, const char *schema, const char *table, int64_t *n)
{
	char sql[128];
	sqlite3_stmt *s = NULL;
	int ret = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.%s", schema, table);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*n = sqlite3_column_int64(s, 0);
		ret = 0;
	}
	sqlite3_finalize(s);
	return ret;
}

/* fsync a file (or, with O_DIRECTORY, a directory) by path. */
static int
rg_rekey_sync(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

int
rg_store_rekey_discard(const char *tmp)
{
	static const char *const suffix[] = {"", "-journal", "-wal", "-shm"};
	char p[PATH_MAX];
	int saved = 0;

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (snprintf(p, sizeof(p), "%s%s", tmp, suffix[i]) >= (int)sizeof(p))
			return -1;
		if (unlink(p) != 0 && errno != ENOENT && saved == 0)
			saved = errno;
	}
	/* errno says why the first one could not go. */
	errno = saved;
	return saved == 0 ? 0 : -1;
}

int
rg_store_key_opens(const char *path, const uint8_t key[RG_STORE_KEYLEN],
                   char *err, size_t errlen)
{
	struct stat sb;
	char *kt;
	int ret = 0;

	if (stat(path, &sb) != 0) {
		rg_rekey_err(err, errlen, path, strerror(errno));
		return -1;
	}
	if ((kt = rg_rekey_keytext(key)) == NULL) {
		rg_rekey_err(err, errlen, "out of memory", NULL);
		return -1;
	}
	/* As rg_store_open keys a connection, with every cipher profile it
	 * accepts (store_cipher.c); the key through sqlite3_key, never in SQL
	 * text. Only page 1 is read. */
	for (int k = 0; k < rg_store_cipher_count() && ret == 0; k++) {
		int i = rg_store_cipher_probe(k);
		char n[32];
		sqlite3 *db = NULL;
		int rc;

		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
		        SQLITE_OK ||
		    sqlite3_key(db, kt, RG_REKEY_KEYTEXT) != SQLITE_OK) {
			rg_rekey_err(err, errlen, "cannot open", path);
			sqlite3_close(db);
			ret = -1;
			break;
		}
		sqlite3_extended_result_codes(db, 1);
		if ((rc = rg_store_cipher_apply(db, "main", i)) == 0) {
			/* A profile this SQLCipher cannot write or read. */
			sqlite3_close(db);
			continue;
		}
		rc = rc == 1 ? SQLITE_OK : SQLITE_ERROR;
		if (rc == SQLITE_OK)
			rc = rg_rekey_pragma(db, "SELECT count(*) FROM sqlite_master",
			                     n, sizeof(n)) == 1 ? SQLITE_OK :
			     sqlite3_extended_errcode(db);
		if (rc == SQLITE_OK)
			ret = 1;
		else if ((rc & 0xff) != SQLITE_NOTADB) {
			rg_rekey_err(err, errlen, "cannot read", path);
			ret = -1;
		}
		sqlite3_close(db);
	}
	rg_rekey_keytext_free(kt);
	return ret;
}

/* The same number of rows in every table of a's schema sa (whoever added
 * it) as in b's schema sb. 0 or -1 with err. */
static int
rg_rekey_same_rows(sqlite3 *a, const char *sa, sqlite3 *b, const char *sb,
                   char *err, size_t errlen)
{
	char sql[256];
	sqlite3_stmt *s = NULL;
	int ret = -1, rc, ntables = 0;

	snprintf(sql, sizeof(sql), "SELECT name FROM %s.sqlite_master WHERE "
	         "type = 'table' AND name NOT LIKE 'sqlite\\_%%' ESCAPE '\\' "
	         "ORDER BY name", sa);
	if (sqlite3_prepare_v2(a, sql, -1, &s, NULL) != SQLITE_OK) {
		rg_rekey_err(err, errlen, "cannot list the tables", NULL);
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		int64_t x = -1, y = -2;

		if (t == NULL || !rg_rekey_value_ok(t) ||
		    rg_rekey_count(a, sa, t, &x) != 0 ||
		    rg_rekey_count(b, sb, t, &y) != 0 || x != y) {
			rg_rekey_err(err, errlen, "the new file's rows differ in",
			             t != NULL ? t : "?");
			goto out;
		}
		ntables++;
	}
	if (rc != SQLITE_DONE || ntables == 0) {
		rg_rekey_err(err, errlen, "cannot list the tables", NULL);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

/* Open tmp as the gateway would (rg_store_open, key alone) and run its
 * quick check; the open copy in *copy. 0 or -1 with err. */
static int
rg_rekey_open_checked(const char *tmp, const uint8_t key[RG_STORE_KEYLEN],
                      rg_store **copy, char *err, size_t errlen)
{
	char oerr[256], qc[64];

	*copy = rg_store_open(tmp, key, 0, oerr, sizeof(oerr));
	if (*copy == NULL) {
		rg_rekey_err(err, errlen, "the new file does not open with its "
		             "key", oerr);
		return -1;
	}
	if (rg_rekey_pragma(rg_store_db(*copy), "PRAGMA quick_check", qc,
	                    sizeof(qc)) != 1 || strcmp(qc, "ok") != 0) {
		rg_rekey_err(err, errlen, "the new file fails its quick check",
		             NULL);
		return -1;
	}
	return 0;
}

/* Open tmp as the gateway would (rg_store_open, the new key alone) and
 * compare it with the live database. 0 or -1 with err. */
static int
rg_rekey_verify(sqlite3 *live, const char *tmp,
                const uint8_t key[RG_STORE_KEYLEN],
                const uint8_t *old_key, char *err, size_t errlen)
{
	char oerr[256];
	rg_store *copy;
	int ret = -1;

	if (rg_rekey_open_checked(tmp, key, &copy, err, errlen) == 0 &&
	    rg_rekey_same_rows(live, "main", rg_store_db(copy), "main", err,
	                       errlen) == 0)
		ret = 0;
	/* The last connection: SQLite checkpoints and removes its WAL. */
	rg_store_close(copy);
	/* SQLCipher's rekey can report success over a file it rolled back:
	 * never trust a write we did not read back. The old key must not
	 * open the copy either. */
	if (ret == 0 && old_key != NULL &&
	    rg_store_key_opens(tmp, old_key, oerr, sizeof(oerr)) != 0) {
		rg_rekey_err(err, errlen, "the new file still opens with the old "
		             "key", NULL);
		ret = -1;
	}
	return ret;
}

/*
 * Create tmp (0600 like the database, refusing one that appeared
 * meanwhile) and attach it to db as schema under key, with every cipher
 * setting of main: ATTACH takes the connection's open flags, and the live
 * one may not create files, so the empty file is made here (an empty file
 * is a new database to SQLite). The copy is garbage until it is synced
 * and checked: no journal, no fsync per commit, which halves the writes;
 * one fsync afterwards makes it durable before anything relies on it.
 * *attached is set once it is. 0 or -1 with err.
 */
static int
rg_rekey_attach_new(sqlite3 *db, const char *tmp, const char *schema,
                    const uint8_t key[RG_STORE_KEYLEN], int *page_size,
                    int *attached, char *err, size_t errlen)
{
	char sql[96];
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || close(fd) != 0) {
		rg_rekey_err(err, errlen, "cannot create the new file",
		             strerror(errno));
		return -1;
	}
	if (rg_rekey_attach(db, tmp, schema, key) != 0) {
		rg_rekey_err(err, errlen, "cannot create the new file",
		             sqlite3_errmsg(db));
		return -1;
	}
	*attached = 1;
	if (rg_rekey_copy_params(db, schema, page_size, err, errlen) != 0)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA %s.journal_mode = OFF", schema);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK) {
		snprintf(sql, sizeof(sql), "PRAGMA %s.synchronous = OFF", schema);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
			return 0;
	}
	rg_rekey_err(err, errlen, "cannot set up the new file",
	             sqlite3_errmsg(db));
	return -1;
}

/* The checks opened the copy in WAL mode; closing it must have folded its
 * WAL back in, or the file alone is not the copy. Synced; its size in
 * *bytes. 0 or -1 with err. */
static int
rg_rekey_complete(const char *tmp, int64_t *bytes, char *err, size_t errlen)
{
	char walpath[PATH_MAX];
	struct stat sb;

	if (snprintf(walpath, sizeof(walpath), "%s-wal", tmp) >=
	        (int)sizeof(walpath) ||
	    (stat(walpath, &sb) == 0 && sb.st_size > 0) ||
	    stat(tmp, &sb) != 0 || rg_rekey_sync(tmp, 0) != 0) {
		rg_rekey_err(err, errlen, "the new file is not complete", NULL);
		return -1;
	}
	*bytes = (int64_t)sb.st_size;
	return 0;
}

int
rg_store_rekey_export(rg_store *st, const char *tmp,
                      const uint8_t key[RG_STORE_KEYLEN],
                      const uint8_t *old_key,
                      struct rg_store_rekey_info *info, char *err,
                      size_t errlen)
{
	sqlite3 *db = rg_store_db(st);
	char pages[32];
	int attached = 0, log = -1, ckpt = -1, page_size = 0;

	memset(info, 0, sizeof(*info));
	if (!rg_store_write_allowed(st)) {
		rg_rekey_err(err, errlen, "exporting the database",
		             rg_store_errmsg(st));
		return -1;
	}
	if (!sqlite3_get_autocommit(db)) {
		rg_rekey_err(err, errlen, "a transaction is open", NULL);
		return -1;
	}
	/* The store is closed after the export whatever happens; its
	 * background checkpointer would only make this one busy. */
	rg_store_background_stop(st);
	/* Everything committed into the file and the WAL emptied: the copy
	 * is of the file alone, and closing the old one leaves no WAL whose
	 * frames (under the old key) could be replayed into the new one. */
	if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log,
	                              &ckpt) != SQLITE_OK || log != 0) {
		rg_rekey_err(err, errlen, "cannot checkpoint the WAL",
		             sqlite3_errmsg(db));
		return -1;
	}
	if (rg_store_rekey_discard(tmp) != 0) {
		rg_rekey_err(err, errlen, "cannot remove an old export",
		             strerror(errno));
		return -1;
	}
	if (rg_rekey_attach_new(db, tmp, "rk", key, &page_size, &attached, err,
	                        errlen) != 0)
		goto fail;
	if (sqlite3_exec(db, "SELECT sqlcipher_export('rk')", NULL, NULL, NULL) !=
	        SQLITE_OK) {
		rg_rekey_err(err, errlen, "sqlcipher_export failed",
		             sqlite3_errmsg(db));
		goto fail;
	}
	if (rg_rekey_pragma(db, "PRAGMA rk.page_count", pages, sizeof(pages)) !=
	    1) {
		rg_rekey_err(err, errlen, "cannot count the new file's pages",
		             sqlite3_errmsg(db));
		goto fail;
	}
	info->pages = strtoll(pages, NULL, 10);
	info->page_size = page_size;
	if (sqlite3_exec(db, "DETACH DATABASE rk", NULL, NULL, NULL) != SQLITE_OK) {
		rg_rekey_err(err, errlen, "cannot detach the new file",
		             sqlite3_errmsg(db));
		goto fail;
	}
	attached = 0;
	if (rg_rekey_sync(tmp, 0) != 0) {
		rg_rekey_err(err, errlen, "cannot sync the new file",
		             strerror(errno));
		goto fail;
	}
	if (rg_rekey_verify(db, tmp, key, old_key, err, errlen) != 0)
		goto fail;
	if (rg_rekey_count(db, "main", "records", &info->records) != 0 ||
	    rg_rekey_count(db, "main", "audit", &info->audit_entries) != 0) {
		rg_rekey_err(err, errlen, "cannot count rows", sqlite3_errmsg(db));
		goto fail;
	}
	if (rg_rekey_complete(tmp, &info->bytes, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	if (attached)
		(void)sqlite3_exec(db, "DETACH DATABASE rk", NULL, NULL, NULL);
	(void)rg_store_rekey_discard(tmp);
	return -1;
}

int
rg_store_rekey_swap(const char *path, const char *tmp, char *err,
                    size_t errlen)
{
	char p[PATH_MAX];
	struct stat sb;

	/* The live database was closed after a TRUNCATE checkpoint: a WAL
	 * with frames now would belong to the old file and must never meet
	 * the new one. */
	if (snprintf(p, sizeof(p), "%s-wal", path) >= (int)sizeof(p)) {
		rg_rekey_err(err, errlen, "database path too long", NULL);
		return -1;
	}
	if (stat(p, &sb) == 0 && sb.st_size > 0) {
		rg_rekey_err(err, errlen, "the old database's WAL is not empty",
		             NULL);
		return -1;
	}
	if (unlink(p) != 0 && errno != ENOENT) {
		rg_rekey_err(err, errlen, "cannot remove the old WAL",
		             strerror(errno));
		return -1;
	}
	if (snprintf(p, sizeof(p), "%s-shm", path) >= (int)sizeof(p) ||
	    (unlink(p) != 0 && errno != ENOENT)) {
		rg_rekey_err(err, errlen, "cannot remove the old WAL index",
		             strerror(errno));
		return -1;
	}
	if (rename(tmp, path) != 0) {
		rg_rekey_err(err, errlen, "cannot rename the new file",
		             strerror(errno));
		return -1;
	}
	if (rg_wfile_sync_dir(path) != 0) {
		/* Renamed: the new file is the database now, durable or not. */
		rg_rekey_err(err, errlen, "renamed, but the directory did not "
		             "sync", strerror(errno));
		return 1;
	}
	return 0;
}

/* main's meta "keystore_sha256" (32 bytes) into out: 1, 0 when absent,
 * -1 on error. */
static int
rg_backup_keystore_hash(sqlite3 *db, uint8_t out[32])
{
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(db, "SELECT value FROM main.meta WHERE name = "
	                       "'keystore_sha256'", -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		ret = 0;
	else if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32) {
		memcpy(out, sqlite3_column_blob(s, 0), 32);
		ret = 1;
	}
	sqlite3_finalize(s);
	return ret;
}

int
rg_store_backup(rg_store *st, const uint8_t key[RG_STORE_KEYLEN],
                const char *out, struct rg_store_backup_info *info,
                char *err, size_t errlen)
{
	sqlite3 *db = rg_store_db(st);
	int attached = 0, began = 0, page_size = 0;
	rg_store *copy = NULL;

	memset(info, 0, sizeof(*info));
	if (rg_rekey_attach_new(db, out, "bk", key, &page_size, &attached, err,
	                        errlen) != 0)
		goto fail;
	/* One read transaction: the export, the counts on both sides and
	 * the meta row all see the same snapshot of main, whatever the
	 * gateway commits meanwhile (a reader of a WAL database neither
	 * waits for the writer nor holds it up). */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rg_rekey_err(err, errlen, "cannot begin", sqlite3_errmsg(db));
		goto fail;
	}
	began = 1;
	if (sqlite3_exec(db, "SELECT sqlcipher_export('bk')", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		rg_rekey_err(err, errlen, "sqlcipher_export failed",
		             sqlite3_errmsg(db));
		goto fail;
	}
	if (rg_rekey_same_rows(db, "main", db, "bk", err, errlen) != 0)
		goto fail;
	if (rg_rekey_count(db, "main", "records", &info->records) != 0 ||
	    rg_rekey_count(db, "main", "audit", &info->audit_entries) != 0 ||
	    (info->keystore_hashed =
	         rg_backup_keystore_hash(db, info->keystore_sha256)) < 0) {
		rg_rekey_err(err, errlen, "cannot read the snapshot",
		             sqlite3_errmsg(db));
		goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rg_rekey_err(err, errlen, "cannot end the snapshot",
		             sqlite3_errmsg(db));
		goto fail;
	}
	began = 0;
	if (sqlite3_exec(db, "DETACH DATABASE bk", NULL, NULL, NULL) != SQLITE_OK) {
		rg_rekey_err(err, errlen, "cannot detach the copy",
		             sqlite3_errmsg(db));
		goto fail;
	}
	attached = 0;
	if (rg_rekey_sync(out, 0) != 0) {
		rg_rekey_err(err, errlen, "cannot sync the copy", strerror(errno));
		goto fail;
	}
	if (rg_rekey_open_checked(out, key, &copy, err, errlen) != 0)
		goto fail;
	rg_store_close(copy);
	copy = NULL;
	info->page_size = page_size;
	if (rg_rekey_complete(out, &info->bytes, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	rg_store_close(copy);
	if (began)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	if (attached)
		(void)sqlite3_exec(db, "DETACH DATABASE bk", NULL, NULL, NULL);
	(void)rg_store_rekey_discard(out);
	return -1;
}

int
rg_store_check_counts(rg_store *st, int64_t *records, int64_t *audit)
{
	sqlite3 *db = rg_store_db(st);
	char qc[64];

	if (rg_rekey_pragma(db, "PRAGMA quick_check", qc, sizeof(qc)) != 1 ||
	    strcmp(qc, "ok") != 0)
		return -1;
	return rg_rekey_count(db, "main", "records", records) == 0 &&
	       rg_rekey_count(db, "main", "audit", audit) == 0 ? 0 : -1;
}
