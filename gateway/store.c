/*
 * store.c -- the keeper's SQLCipher database: schema, cached statements,
 * transactions and the write-failure seam. It stores what it is given and
 * never holds a record in the clear; the database key is kept only for the
 * moment it takes to key the connection, in guarded memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"

/*
 * The SQL runs on SQLite 3.15 (SQLCipher 3.4) and later: no UPSERT,
 * RETURNING, JSON1 or window functions. Departments are updated in place
 * rather than with INSERT OR REPLACE, because REPLACE deletes the old row
 * first and would trip (or, with ON DELETE actions, cascade through) the
 * foreign keys from dept_keys.
 */
#define RG_STORE_SCHEMA_VERSION "3"

static const char rg_store_schema[] =
    "CREATE TABLE IF NOT EXISTS meta("
    " name TEXT PRIMARY KEY,"
    " value BLOB);"
    "CREATE TABLE IF NOT EXISTS departments("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('active','suspended')));"
    "CREATE TABLE IF NOT EXISTS dept_keys("
    " keyid TEXT PRIMARY KEY,"
    " dept TEXT NOT NULL REFERENCES departments(id),"
    " role TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " pub BLOB NOT NULL CHECK(length(pub)=32),"
    " created_ms INTEGER NOT NULL);"
    /* The replay guard's claims as files before schema 2 kept them:
     * still read at open, pruned as they expire, never written. */
    "CREATE TABLE IF NOT EXISTS nonces("
    " keyid TEXT NOT NULL,"
    " nonce TEXT NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " PRIMARY KEY(keyid, nonce)) WITHOUT ROWID;"
    /* The replay guard's claims (tags: store_replay.c), a row a batch
     * in the order they were committed: its tags end to end, and the
     * latest expiry among them, which holds for them all (a claim kept a
     * little longer refuses nothing a signature could still use). Read
     * back into memory when first needed; pruned from the oldest row on,
     * up to the first not yet expired, so no index on the expiry: one
     * B-tree tail a commit. */
    "CREATE TABLE IF NOT EXISTS replay_batches("
    " batch INTEGER PRIMARY KEY,"
    " expires_ms INTEGER NOT NULL,"
    " tags BLOB NOT NULL CHECK(length(tags) > 0 AND length(tags) % 16 = 0));"
    "CREATE TABLE IF NOT EXISTS records("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " resource TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " key_version INTEGER NOT NULL,"
    " time_ms INTEGER NOT NULL,"
    " sealed BLOB NOT NULL,"
    " UNIQUE(resource, id, version));"
    "CREATE INDEX IF NOT EXISTS records_resource_seq ON records(resource, seq);"
    /* Re-encryption after a data-key rotation (store_reencrypt.c): which
     * record versions a key version still seals, and each resource's job
     * with its cursor (records with seq <= cursor are done). */
    "CREATE INDEX IF NOT EXISTS records_resource_kv"
    " ON records(resource, key_version);"
    "CREATE TABLE IF NOT EXISTS reencrypt("
    " resource TEXT PRIMARY KEY,"
    " target INTEGER NOT NULL,"
    " cursor INTEGER NOT NULL,"
    " done INTEGER NOT NULL,"
    " total INTEGER NOT NULL,"
    " state TEXT NOT NULL CHECK(state IN ('running','done','failed')),"
    " started_ms INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL);"
    /* Conditional-share grants (store_grants.c): the current document of
     * each grant; its history is in the audit log. */
    "CREATE TABLE IF NOT EXISTS grants("
    " id TEXT PRIMARY KEY,"
    " doc BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit("
    " idx INTEGER PRIMARY KEY,"
    " entry BLOB NOT NULL,"
    " leaf BLOB NOT NULL CHECK(length(leaf)=32));"
    /* The audit trail's subtree hashes and signed checkpoints
     * (store_audit.c). The subtree (level, idx) covers leaves
     * [idx << level, (idx + 1) << level), level >= 1 (level 0 is
     * audit.leaf), and is kept under the log's size when it closed,
     * (idx + 1) << level, then its level: the subtrees a batch closes sit
     * together at the end of one B-tree, one page to rewrite, where keys
     * led by the level put them at the ends of as many ranges. */
    "CREATE TABLE IF NOT EXISTS audit_tree("
    " size INTEGER NOT NULL,"
    " level INTEGER NOT NULL,"
    " hash BLOB NOT NULL CHECK(length(hash)=32),"
    " PRIMARY KEY(size, level)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS audit_checkpoints("
    " size INTEGER PRIMARY KEY,"
    " root BLOB NOT NULL CHECK(length(root)=32),"
    " note TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL);";

/* Every statement the store runs after open, prepared once. */
enum rg_store_sql {
	RG_SQL_BEGIN,
	RG_SQL_COMMIT,
	RG_SQL_ROLLBACK,
	RG_SQL_SAVEPOINT,
	RG_SQL_RELEASE,
	RG_SQL_ROLLBACK_TO,
	RG_SQL_META_PUT,
	RG_SQL_META_GET,
	RG_SQL_META_DEL,
	RG_SQL_DEPT_UPDATE,
	RG_SQL_DEPT_INSERT,
	RG_SQL_DEPT_EACH,
	RG_SQL_KEY_PUT,
	RG_SQL_KEY_GET,
	RG_SQL_NONCE_INSERT,
	RG_SQL_NONCE_PRUNE,
	RG_SQL_NONCE_PRUNE_OLD,
	RG_SQL_RECORD_PUT,
	RG_SQL_RECORD_GET,
	RG_SQL_CHANGES,
	RG_SQL_AUDIT_SIZE,
	RG_SQL_AUDIT_PUT,
	RG_SQL_AUDIT_GET,
	RG_SQL__COUNT
};

static const char *const rg_store_sql_text[RG_SQL__COUNT] = {
	[RG_SQL_BEGIN] = "BEGIN IMMEDIATE",
	[RG_SQL_COMMIT] = "COMMIT",
	[RG_SQL_ROLLBACK] = "ROLLBACK",
	/* One fixed name: savepoints nest and each RELEASE/ROLLBACK TO
	 * acts on the innermost one of that name. */
	[RG_SQL_SAVEPOINT] = "SAVEPOINT rq",
	[RG_SQL_RELEASE] = "RELEASE rq",
	[RG_SQL_ROLLBACK_TO] = "ROLLBACK TO rq",
	[RG_SQL_META_PUT] = "INSERT OR REPLACE INTO meta(name, value) VALUES(?1, ?2)",
	[RG_SQL_META_GET] = "SELECT value FROM meta WHERE name = ?1",
	[RG_SQL_META_DEL] = "DELETE FROM meta WHERE name = ?1",
	[RG_SQL_DEPT_UPDATE] =
	    "UPDATE departments SET name = ?2, status = ?3 WHERE id = ?1",
	[RG_SQL_DEPT_INSERT] =
	    "INSERT INTO departments(id, name, status) VALUES(?1, ?2, ?3)",
	[RG_SQL_DEPT_EACH] = "SELECT id, name, status FROM departments ORDER BY id",
	/* dept_keys has no children, so REPLACE cascades nowhere. */
	[RG_SQL_KEY_PUT] =
	    "INSERT OR REPLACE INTO dept_keys(keyid, dept, role, status, pub,"
	    " created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[RG_SQL_KEY_GET] =
	    "SELECT k.keyid, k.dept, k.role, k.status, d.status, k.pub,"
	    " k.created_ms FROM dept_keys k JOIN departments d ON d.id = k.dept"
	    " WHERE k.keyid = ?1",
	[RG_SQL_NONCE_INSERT] =
	    "INSERT INTO replay_batches(expires_ms, tags) VALUES(?1, ?2)",
	/* Oldest first, at most ?2 rows (-1: all), those before the first
	 * row not expired at ?1: the scan for it reads only rows that go. */
	[RG_SQL_NONCE_PRUNE] = "DELETE FROM replay_batches WHERE rowid IN"
	                       " (SELECT rowid FROM replay_batches WHERE rowid <"
	                       " ifnull((SELECT rowid FROM replay_batches"
	                       " WHERE expires_ms >= ?1 ORDER BY rowid LIMIT 1),"
	                       " 9223372036854775807)"
	                       " ORDER BY rowid LIMIT ?2)",
	[RG_SQL_NONCE_PRUNE_OLD] = "DELETE FROM nonces WHERE expires_ms < ?1",
	[RG_SQL_RECORD_PUT] =
	    "INSERT INTO records(resource, id, version, key_version, time_ms,"
	    " sealed) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[RG_SQL_RECORD_GET] =
	    "SELECT seq, id, version, key_version, time_ms, sealed FROM records"
	    " WHERE resource = ?1 AND id = ?2 ORDER BY version DESC LIMIT 1",
	[RG_SQL_CHANGES] =
	    "SELECT seq, id, version, key_version, time_ms, sealed FROM records"
	    " WHERE resource = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	[RG_SQL_AUDIT_SIZE] = "SELECT coalesce(max(idx) + 1, 0) FROM audit",
	[RG_SQL_AUDIT_PUT] = "INSERT INTO audit(idx, entry, leaf) VALUES(?1, ?2, ?3)",
	[RG_SQL_AUDIT_GET] = "SELECT entry, leaf FROM audit WHERE idx = ?1",
};

/* Statements of the part files kept prepared (rg_store_stmt_get): more
 * than they have; past the limit a statement is prepared per call. */
#define RG_STORE_XCACHE 24

/*
 * The WAL is copied into the database (checkpointed) once it holds this
 * many pages, by rg_store_wal_tidy after a batch's replies went out, so
 * that no reply waits for it (SQLite's autocheckpoint runs inside COMMIT).
 * Past the hard mark, when nobody tidied in time, the commit does it as
 * SQLite would. Either way only committed pages move: nothing durable
 * depends on when.
 */
#define RG_STORE_WAL_TIDY 1000
#define RG_STORE_WAL_RESTART 4000
#define RG_STORE_WAL_HARD 8000
/*
 * Past the tidy mark the checkpointer is woken each time the log has grown
 * by this many pages, not after every commit. A checkpoint copies each page
 * once, its latest version: the tails of the tables, which nearly every
 * commit rewrites (about nine pages a commit when batches are small), are
 * copied once a run instead of once a commit, and the run's two syncs
 * (the log before, the file after) are shared too. From the restart mark
 * on it is woken after every commit again, so that what the writer has
 * left to copy when it lets the log start over stays small.
 */
#define RG_STORE_CKPT_STEP 256

/* Claims in one row of replay_batches at most (64 KiB of tags). */
#define RG_STORE_TAGS_PER_ROW 4096

struct rg_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[RG_SQL__COUNT];
	struct {
		const char *sql;        /* the caller's constant, by address */
		sqlite3_stmt *s;
		int busy;               /* handed out and not yet put back */
	} xcache[RG_STORE_XCACHE];
	int iterating;          /* inside dept_each or changes */
	int wal_pages;          /* in the WAL after the last commit */
	int wal_kicked;         /* wal_pages when the checkpointer was kicked */
	int fail_at;            /* rg_store_fail_after: 0 = off */
	int writes;             /* write statements since fail_after */
	/* The open batch's nonce claims (store_nonce.c), inserted just
	 * before COMMIT: outside a savepoint an insert costs a tenth of one
	 * inside, SQLCipher encrypting every page a savepoint journals. */
	struct rg_nonce_set *claims;
	/* Every committed claim, once the first claim loaded them. */
	struct rg_replay *replay;
	int prune_sweeping;     /* a prune's table part is done, memory's not */
	int in_batch;           /* between rg_store_begin and commit/rollback */
	/* Durability (rg_store_wal_hook): the WAL, opened once it exists,
	 * is synced after every commit but those rg_store_commit_nosync
	 * makes, whose caller syncs it (rg_store_wal_fd). */
	int wal_fd;
	int defer_sync;
	unsigned long long syncs;
	int profile;            /* the cipher settings the file opened with */
	/* rg_store_mark: the connection's row changes when it was set, or
	 * -1 when no mark is set (marks do not nest). */
	int mark_changes;
	struct rg_ckpt *ckpt;   /* background checkpointer (live store), or NULL */
	char cipher_version[64];
	char err[256];
};

/* Record the connection's error text with what we were doing. */
static void
rg_store_seterr(rg_store *st, const char *what)
{
	snprintf(st->err, sizeof(st->err), "%s: %s", what,
	         st->db != NULL ? sqlite3_errmsg(st->db) : "no database");
}

static void
rg_store_setmsg(rg_store *st, const char *msg)
{
	snprintf(st->err, sizeof(st->err), "%s", msg);
}

/*
 * The fault seam: every write operation passes here once. When armed, the
 * nth one and all after it fail without touching the database, the way a
 * full disk would, so callers' rollback paths can be proved. Rollback,
 * undo and release never pass here: cleanup must always be possible.
 */
static int
rg_store_write_ok(rg_store *st)
{
	if (st->fail_at <= 0)
		return 1;
	if (st->writes < INT_MAX)
		st->writes++;
	if (st->writes >= st->fail_at) {
		rg_store_setmsg(st, "injected failure");
		return 0;
	}
	return 1;
}

void
rg_store_fail_after(rg_store *st, int n)
{
	st->fail_at = n > 0 ? n : 0;
	st->writes = 0;
}

/* store_int.h: the door for the store's other files. */
sqlite3 *
rg_store_db(rg_store *st)
{
	return st->db;
}

int
rg_store_write_allowed(rg_store *st)
{
	return rg_store_write_ok(st);
}

void
rg_store_set_error(rg_store *st, const char *what)
{
	rg_store_seterr(st, what);
}

sqlite3_stmt *
rg_store_prepare(rg_store *st, const char *sql, const char *what)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		rg_store_set_error(st, what);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

sqlite3_stmt *
rg_store_stmt_get(rg_store *st, const char *sql, const char *what)
{
	int freeslot = -1;

	for (int i = 0; i < RG_STORE_XCACHE; i++) {
		if (st->xcache[i].sql == sql && !st->xcache[i].busy) {
			st->xcache[i].busy = 1;
			return st->xcache[i].s;
		}
		if (st->xcache[i].sql == NULL && freeslot < 0)
			freeslot = i;
	}
	/* Compiling costs more than running most of these statements: keep
	 * it. A statement already in use (a nested call) gets its own. */
	if (freeslot >= 0) {
		sqlite3_stmt *s = rg_store_prepare(st, sql, what);

		if (s == NULL)
			return NULL;
		st->xcache[freeslot].sql = sql;
		st->xcache[freeslot].s = s;
		st->xcache[freeslot].busy = 1;
		return s;
	}
	return rg_store_prepare(st, sql, what);
}

void
rg_store_stmt_put(rg_store *st, sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < RG_STORE_XCACHE; i++) {
		if (st->xcache[i].s == s) {
			/* Reset ends any read it held open; bindings may point
			 * at the caller's memory. */
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			st->xcache[i].busy = 0;
			return;
		}
	}
	sqlite3_finalize(s);
}

/* A statement ready for binding; cached statements are always left reset. */
static sqlite3_stmt *
rg_store_stmt(rg_store *st, enum rg_store_sql which)
{
	return st->stmt[which];
}

static void
rg_store_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static int
rg_store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* A zero-length blob must stay a blob, not become NULL. */
static int
rg_store_bind_blob(sqlite3_stmt *s, int i, const void *v, size_t len)
{
	static const uint8_t empty[1];

	if (len > INT_MAX)
		return SQLITE_TOOBIG;
	return sqlite3_bind_blob(s, i, len == 0 ? empty : v, (int)len,
	                         SQLITE_STATIC);
}

/* Copy a text column into a fixed field; fails when it would not fit. */
static int
rg_store_col_text(sqlite3_stmt *s, int col, char *dst, size_t dstlen)
{
	const unsigned char *v = sqlite3_column_text(s, col);
	int n = sqlite3_column_bytes(s, col);

	if (v == NULL || n < 0 || (size_t)n >= dstlen || memchr(v, '\0', (size_t)n))
		return -1;
	memcpy(dst, v, (size_t)n);
	dst[n] = '\0';
	return 0;
}

/* Copy a blob column into fresh malloc'd memory (never NULL on success). */
static int
rg_store_col_blob(sqlite3_stmt *s, int col, uint8_t **out, size_t *len)
{
	const void *v = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);
	uint8_t *p;

	if (n < 0 || (n > 0 && v == NULL))
		return -1;
	if ((p = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return -1;
	if (n > 0)
		memcpy(p, v, (size_t)n);
	*out = p;
	*len = (size_t)n;
	return 0;
}

/* Run a cached statement that returns no rows. */
static int
rg_store_run(rg_store *st, enum rg_store_sql which, const char *what)
{
	sqlite3_stmt *s = rg_store_stmt(st, which);
	int rc = sqlite3_step(s);

	rg_store_done(s);
	if (rc != SQLITE_DONE) {
		rg_store_seterr(st, what);
		return RG_STORE_ERROR;
	}
	return RG_STORE_OK;
}

/* Run one statement at open time, before the cache exists. */
static int
rg_store_exec(rg_store *st, const char *sql, const char *what)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		rg_store_seterr(st, what);
		return -1;
	}
	return 0;
}

/*
 * Key the connection: PRAGMA key with the raw key in SQLCipher's x'..'
 * form. The statement text is the only place the hex ever exists, and it
 * lives in guarded memory that is wiped before it is freed.
 */
static int
rg_store_key(rg_store *st, const uint8_t key[RG_STORE_KEYLEN])
{
	static const char head[] = "PRAGMA key = \"x'";
	static const char tail[] = "'\";";
	const size_t hexlen = RG_STORE_KEYLEN * 2;
	const size_t len = sizeof(head) - 1 + hexlen + sizeof(tail);
	sqlite3_stmt *s = NULL;
	char *sql;
	int ret = 0, rc;

	if ((sql = sodium_malloc(len)) == NULL) {
		rg_store_setmsg(st, "out of memory");
		return -1;
	}
	memcpy(sql, head, sizeof(head) - 1);
	/* sodium_bin2hex runs in constant time and writes hexlen + NUL. */
	sodium_bin2hex(sql + sizeof(head) - 1, hexlen + 1, key, RG_STORE_KEYLEN);
	memcpy(sql + sizeof(head) - 1 + hexlen, tail, sizeof(tail));
	/* The legacy sqlite3_prepare, unlike _v2 and sqlite3_exec, keeps no
	 * copy of the statement text in the prepared statement. SQLCipher 3
	 * answers with no row, 4 with the row "ok". */
	if (sqlite3_prepare(st->db, sql, -1, &s, NULL) != SQLITE_OK ||
	    ((rc = sqlite3_step(s)) != SQLITE_DONE &&
	     (rc != SQLITE_ROW || sqlite3_column_text(s, 0) == NULL ||
	      strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0 ||
	      sqlite3_step(s) != SQLITE_DONE))) {
		/* SQLite's message may quote the statement: use our own. */
		rg_store_setmsg(st, "PRAGMA key failed");
		ret = -1;
	}
	sqlite3_finalize(s);
	sodium_memzero(sql, len);
	sodium_free(sql);
	return ret;
}

static int
rg_store_check_cipher(rg_store *st)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA cipher_version", -1, &s, NULL) !=
	    SQLITE_OK) {
		rg_store_seterr(st, "PRAGMA cipher_version");
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && (v = sqlite3_column_text(s, 0)) != NULL &&
	    v[0] != '\0') {
		snprintf(st->cipher_version, sizeof(st->cipher_version), "%s",
		         (const char *)v);
		ret = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rg_store_setmsg(st, "the linked SQLite is not SQLCipher "
		                    "(PRAGMA cipher_version returned nothing)");
	} else {
		rg_store_seterr(st, "PRAGMA cipher_version");
	}
	sqlite3_finalize(s);
	return ret;
}

/* The first read decrypts page 1: this is where a wrong key (or a wrong
 * page size) shows, as -2; other failures are -1. */
static int
rg_store_check_key(rg_store *st)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1,
	                        &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sqlite3_finalize(s);
		return 0;
	}
	if ((rc & 0xff) == SQLITE_NOTADB ||
	    (sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_NOTADB) {
		rg_store_setmsg(st, "wrong database key or not a recgate database");
		sqlite3_finalize(s);
		return -2;
	}
	rg_store_seterr(st, "reading the schema");
	sqlite3_finalize(s);
	return -1;
}

/*
 * Open and key the connection with the cipher settings of one profile
 * (store_cipher.c), each set explicitly because the defaults differ
 * between SQLCipher 3 and 4. New databases get profile 0, with 4096-byte
 * pages: a 2 KiB record fits a page or two instead of a cell and three
 * overflow pages, each its own WAL frame. (While every exchange ran in a
 * savepoint, whose journal SQLCipher 3.4 encrypts page by page, bigger
 * pages cost more than they saved; the hot exchanges no longer take one.)
 * SQLCipher keeps no settings
 * in the file, so a database written with others is opened by trying the
 * next profile (rg_store_open); page 1's HMAC fails under wrong settings
 * as under a wrong key, so neither is mistaken for success. The HMAC of
 * every page stays on. -2: the key or the settings do not fit; -3: this
 * SQLCipher cannot express the profile.
 */
static int
rg_store_connect(rg_store *st, const char *path, int flags,
                 const uint8_t key[RG_STORE_KEYLEN], int profile)
{
	int rc;

	/* Through the VFS that writes a commit's log frames at once
	 * (store_walvfs.c), or the platform's when it could not be set up. */
	if (sqlite3_open_v2(path, &st->db, flags, rg_walvfs_name()) !=
	    SQLITE_OK) {
		snprintf(st->err, sizeof(st->err), "cannot open %s: %s",
		         path, st->db != NULL ? sqlite3_errmsg(st->db) :
		                                "out of memory");
		return -1;
	}
	sqlite3_extended_result_codes(st->db, 1);
	/* Order matters: the key and settings before anything reads a page. */
	if (rg_store_key(st, key) != 0 || rg_store_check_cipher(st) != 0)
		return -1;
	rc = rg_store_cipher_apply(st->db, "main", profile);
	if (rc == 0)
		return -3;
	if (rc < 0) {
		snprintf(st->err, sizeof(st->err), "cannot set the cipher "
		         "settings %s", rg_store_cipher_name(profile));
		return -1;
	}
	return rg_store_check_key(st);
}

/* journal_mode answers with the mode in force; anything but wal is refused
 * because durability and concurrent readers rely on it. */
static int
rg_store_set_wal(rg_store *st)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int ok = 0;

	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
	                       NULL) != SQLITE_OK) {
		rg_store_seterr(st, "PRAGMA journal_mode");
		return -1;
	}
	if (sqlite3_step(s) == SQLITE_ROW &&
	    (v = sqlite3_column_text(s, 0)) != NULL &&
	    sqlite3_stricmp((const char *)v, "wal") == 0)
		ok = 1;
	if (!ok)
		rg_store_seterr(st, "cannot switch to WAL journal mode");
	sqlite3_finalize(s);
	return ok ? 0 : -1;
}

/*
 * The write-ahead log's descriptor, opened the first time it is needed
 * (the file exists once the database is in WAL mode and has been read).
 * Read-only: fdatasync needs no write access, and recgate never writes
 * the WAL but through SQLite. -1 when it cannot be opened.
 */
static int
rg_store_wal_open(rg_store *st)
{
	const char *db;
	char path[PATH_MAX];

	if (st->wal_fd >= 0)
		return st->wal_fd;
	db = sqlite3_db_filename(st->db, "main");
	if (db == NULL || db[0] == '\0' ||
	    snprintf(path, sizeof(path), "%s-wal", db) >= (int)sizeof(path))
		return -1;
	st->wal_fd = open(path, O_RDONLY | O_CLOEXEC);
	return st->wal_fd;
}

/*
 * Make everything written to the log so far durable. The connection runs
 * with synchronous=NORMAL, under which SQLite syncs the log only at a
 * checkpoint; recgate syncs it after each commit itself (here, from the
 * WAL hook), which is what synchronous=FULL does, or, for a batch
 * committed with rg_store_commit_nosync, leaves that to its caller, who
 * holds the batch's replies until then.
 *
 * A failed sync stops the process: the kernel may have dropped the pages
 * it could not write and report the next sync as a success, so no later
 * answer could be trusted to be durable (the lesson PostgreSQL drew in
 * 2018). The keeper restarts from what the disk holds.
 */
int
rg_store_sync_fd(int fd)
{
	if (fd < 0)
		return -1;
	if (fdatasync(fd) != 0) {
		fprintf(stderr, "recgated: fdatasync of the write-ahead log "
		        "failed: %s; stopping\n", strerror(errno));
		abort();
	}
	return 0;
}

/* Replaces SQLite's autocheckpoint hook: called after each commit. */
static int
rg_store_wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
	rg_store *st = ctx;

	/* Only the main database has recgate's durability promise; an
	 * attached copy (rekey) is synced by whoever made it. */
	if (strcmp(name, "main") != 0)
		return SQLITE_OK;
	if (rg_store_wal_open(st) < 0)
		return SQLITE_IOERR; /* committed, but not known to be durable */
	if (!st->defer_sync) {
		rg_store_sync_fd(st->wal_fd);
		st->syncs++;
	}
	st->wal_pages = pages;
	if (pages < st->wal_kicked)
		st->wal_kicked = 0; /* the log started over */
	if (st->ckpt != NULL && pages >= RG_STORE_WAL_TIDY &&
	    (pages - st->wal_kicked >= RG_STORE_CKPT_STEP ||
	     pages >= RG_STORE_WAL_RESTART)) {
		st->wal_kicked = pages;
		rg_ckpt_kick(st->ckpt);
	}
	if (pages >= RG_STORE_WAL_HARD &&
	    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
	                              NULL) == SQLITE_OK)
		st->wal_pages = 0;
	return SQLITE_OK;
}

int
rg_store_wal_fd(rg_store *st)
{
	return rg_store_wal_open(st);
}

unsigned long long
rg_store_sync_count(const rg_store *st)
{
	return st->syncs;
}

void
rg_store_wal_tidy(rg_store *st)
{
	/* With a background checkpointer the writer steps in only at the
	 * restart mark, to let the log start over (most of it is copied by
	 * then, so little is left to do). */
	int mark = st->ckpt != NULL ? RG_STORE_WAL_RESTART : RG_STORE_WAL_TIDY;

	if (st->wal_pages < mark || !sqlite3_get_autocommit(st->db))
		return;
	/* A failure leaves the pages in the WAL for the next try. */
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	                              NULL, NULL) == SQLITE_OK)
		st->wal_pages = 0;
}

/* Schema 1 to 2: the subtree hashes, kept by (level, idx) in audit_nodes,
 * move to audit_tree under the size each closed at. */
static const char rg_store_migrate_1[] =
    "CREATE TABLE IF NOT EXISTS audit_nodes("
    " level INTEGER NOT NULL,"
    " idx INTEGER NOT NULL,"
    " hash BLOB NOT NULL CHECK(length(hash)=32),"
    " PRIMARY KEY(level, idx)) WITHOUT ROWID;"
    "INSERT INTO audit_tree(size, level, hash)"
    " SELECT (idx + 1) << level, level, hash FROM audit_nodes;"
    "DROP TABLE audit_nodes;"
    "UPDATE meta SET value = CAST('2' AS BLOB)"
    " WHERE name = 'schema_version';";

/* Schema 2 to 3: the replay log's claims, a row each (and an index on
 * their expiry), become rows of replay_batches, a claim each (a file
 * older still may not have the table: it is made empty first). */
static const char rg_store_migrate_2[] =
    "CREATE TABLE IF NOT EXISTS replay_log("
    " tag BLOB NOT NULL CHECK(length(tag)=16),"
    " expires_ms INTEGER NOT NULL);"
    "INSERT INTO replay_batches(expires_ms, tags)"
    " SELECT expires_ms, tag FROM replay_log ORDER BY rowid;"
    "DROP TABLE replay_log;"
    "UPDATE meta SET value = CAST('3' AS BLOB)"
    " WHERE name = 'schema_version';";

/* Is the stored schema version v (n bytes) the text want? */
static int
rg_store_version_is(const void *v, int n, const char *want)
{
	return v != NULL && n == (int)strlen(want) && memcmp(v, want, (size_t)n) == 0;
}

/* Create missing tables and check the schema version, bringing an older
 * one up to this one, in one transaction. */
static int
rg_store_schema_init(rg_store *st)
{
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;

	if (rg_store_exec(st, "BEGIN IMMEDIATE", "creating the schema") != 0)
		return -1;
	if (rg_store_exec(st, rg_store_schema, "creating the schema") != 0)
		goto out;
	if (sqlite3_prepare_v2(st->db,
	                       "SELECT value FROM meta WHERE name = 'schema_version'",
	                       -1, &s, NULL) != SQLITE_OK) {
		rg_store_seterr(st, "reading the schema version");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		if (rg_store_exec(st, "INSERT INTO meta(name, value) VALUES("
		                      "'schema_version', CAST('"
		                      RG_STORE_SCHEMA_VERSION "' AS BLOB))",
		                  "recording the schema version") != 0)
			goto out;
	} else if (rc == SQLITE_ROW) {
		const void *v = sqlite3_column_blob(s, 0);
		int n = sqlite3_column_bytes(s, 0);

		int v1 = rg_store_version_is(v, n, "1");
		int v2 = rg_store_version_is(v, n, "2");

		if (!v1 && !v2 &&
		    !rg_store_version_is(v, n, RG_STORE_SCHEMA_VERSION)) {
			rg_store_setmsg(st, "unsupported schema version");
			goto out;
		}
		/* Done with the row: tables are dropped below. */
		sqlite3_finalize(s);
		s = NULL;
		if (v1 && rg_store_exec(st, rg_store_migrate_1,
		                        "moving the audit subtrees") != 0)
			goto out;
		if ((v1 || v2) && rg_store_exec(st, rg_store_migrate_2,
		                                "moving the replay claims") != 0)
			goto out;
	} else {
		rg_store_seterr(st, "reading the schema version");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	if (ret == 0 && rg_store_exec(st, "COMMIT", "creating the schema") != 0)
		ret = -1;
	if (ret != 0 && !sqlite3_get_autocommit(st->db))
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

static int
rg_store_prepare_all(rg_store *st)
{
	for (int i = 0; i < RG_SQL__COUNT; i++) {
		if (sqlite3_prepare_v2(st->db, rg_store_sql_text[i], -1,
		                       &st->stmt[i], NULL) != SQLITE_OK) {
			rg_store_seterr(st, "preparing statements");
			return -1;
		}
	}
	return 0;
}

void
rg_store_close(rg_store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < RG_SQL__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	for (int i = 0; i < RG_STORE_XCACHE; i++)
		sqlite3_finalize(st->xcache[i].s);
	/* The checkpointer's connection first: the last one to close
	 * checkpoints and removes the log, and that must be this one. */
	rg_ckpt_stop(st->ckpt);
	st->ckpt = NULL;
	rg_nonce_set_free(st->claims);
	rg_replay_free(st->replay);
	if (st->wal_fd >= 0)
		close(st->wal_fd);
	/* With every statement finalized close cannot be busy; an open
	 * transaction is rolled back by SQLite. */
	if (st->db != NULL)
		sqlite3_close(st->db);
	sodium_memzero(st, sizeof(*st));
	free(st);
}

/*
 * Connect st->db to the existing or new file at path under key: a new (or
 * empty) file gets what recgate writes; an existing one is tried with
 * every setting recgate opens, in probe order (a wrong key fails every
 * one with the same message). With a 5 s busy timeout. 0 or -1 (st->err).
 */
static int
rg_store_probe(rg_store *st, const char *path, int flags,
               const uint8_t key[RG_STORE_KEYLEN])
{
	struct stat sb;
	int existing = stat(path, &sb) == 0 && sb.st_size > 0, rc = -2;

	for (int k = 0; k < rg_store_cipher_count() && (rc == -2 || rc == -3);
	     k++) {
		if (st->db != NULL) {
			sqlite3_close(st->db);
			st->db = NULL;
		}
		st->profile = existing ? rg_store_cipher_probe(k) : k;
		rc = rg_store_connect(st, path, flags, key, st->profile);
	}
	if (rc != 0)
		return -1;
	if (sqlite3_busy_timeout(st->db, 5000) != SQLITE_OK) {
		rg_store_seterr(st, "busy_timeout");
		return -1;
	}
	return 0;
}

/* A store not yet connected, or NULL with err set. */
static rg_store *
rg_store_alloc(const char *path, const uint8_t *key, char *err, size_t errlen)
{
	rg_store *st;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || key == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no database path or key");
		return NULL;
	}
	/* Guarded memory needs libsodium initialised; repeated calls are
	 * harmless. */
	if (sodium_init() < 0 || (st = calloc(1, sizeof(*st))) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->wal_fd = -1;
	st->mark_changes = -1;
	return st;
}

rg_store *
rg_store_open_reader(const char *path, const uint8_t key[RG_STORE_KEYLEN],
                     char *err, size_t errlen)
{
	rg_store *st = rg_store_alloc(path, key, err, errlen);

	if (st == NULL)
		return NULL;
	if (rg_store_probe(st, path, SQLITE_OPEN_READWRITE, key) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", st->err);
		rg_store_close(st);
		return NULL;
	}
	return st;
}

rg_store *
rg_store_open(const char *path, const uint8_t key[RG_STORE_KEYLEN], int create,
              char *err, size_t errlen)
{
	rg_store *st = rg_store_alloc(path, key, err, errlen);
	int flags = SQLITE_OPEN_READWRITE;

	if (st == NULL)
		return NULL;
	/* Without CREATE a missing file is an error, not a new database. */
	if (create)
		flags |= SQLITE_OPEN_CREATE;
	if (rg_store_probe(st, path, flags, key) != 0)
		goto fail;
	if (rg_store_set_wal(st) != 0 ||
	    /* NORMAL: SQLite leaves syncing the log after a commit to
	     * rg_store_wal_hook, which does it unless the commit was
	     * rg_store_commit_nosync; checkpoints sync as under FULL. */
	    rg_store_exec(st, "PRAGMA synchronous = NORMAL", "PRAGMA synchronous") != 0 ||
	    /* 32 MiB of decrypted pages instead of SQLite's 2 MiB: the nonce
	     * and record-id indexes take inserts at random places, and each
	     * page read back from the file costs a pread and a decryption. */
	    rg_store_exec(st, "PRAGMA cache_size = -32768", "PRAGMA cache_size") != 0 ||
	    rg_store_exec(st, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys") != 0 ||
	    rg_store_exec(st, "PRAGMA secure_delete = ON", "PRAGMA secure_delete") != 0)
		goto fail;
	(void)sqlite3_wal_hook(st->db, rg_store_wal_hook, st);
	if (rg_store_schema_init(st) != 0 || rg_store_prepare_all(st) != 0)
		goto fail;
	return st;
fail:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", st->err);
	rg_store_close(st);
	return NULL;
}

rg_store *
rg_store_open_live(const char *path, const uint8_t key[RG_STORE_KEYLEN],
                   char *err, size_t errlen)
{
	rg_store *st = rg_store_open(path, key, 0, err, errlen), *c;

	if (st == NULL)
		return NULL;
	/* A second connection with the same key and settings, for the
	 * checkpointer alone: no schema work, a small cache (it reads the
	 * log, not the tables). Without it the writer checkpoints itself. */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return st;
	c->wal_fd = -1;
	if (rg_store_connect(c, path, SQLITE_OPEN_READWRITE, key,
	                     st->profile) == 0 &&
	    rg_store_exec(c, "PRAGMA synchronous = NORMAL", "synchronous") == 0 &&
	    rg_store_exec(c, "PRAGMA cache_size = 16", "cache_size") == 0) {
		st->ckpt = rg_ckpt_start(c->db); /* closes it on failure */
		c->db = NULL;
	}
	if (st->ckpt == NULL)
		fprintf(stderr, "recgated: no background checkpointer (%s); "
		        "the keeper checkpoints itself\n",
		        c->err[0] != '\0' ? c->err : "no thread");
	rg_store_close(c);
	return st;
}

unsigned long long
rg_store_background_checkpoints(rg_store *st)
{
	return st->ckpt != NULL ? rg_ckpt_runs(st->ckpt) : 0;
}

void
rg_store_background_stop(rg_store *st)
{
	rg_ckpt_stop(st->ckpt);
	st->ckpt = NULL;
}

const char *
rg_store_errmsg(const rg_store *st)
{
	return st != NULL ? st->err : "database not open";
}

const char *
rg_store_cipher_version(const rg_store *st)
{
	return st->cipher_version;
}

/* ---- transactions ---- */

static int rg_store_nonce_insert(rg_store *st, const uint8_t *tags,
                                 size_t ntags, int64_t expires_ms);
static int rg_store_replay_load(rg_store *st);

int
rg_store_begin(rg_store *st)
{
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	if (st->claims == NULL && (st->claims = rg_nonce_set_new()) == NULL) {
		rg_store_setmsg(st, "begin: out of memory");
		return RG_STORE_ERROR;
	}
	if (rg_store_run(st, RG_SQL_BEGIN, "begin") != RG_STORE_OK)
		return RG_STORE_ERROR;
	rg_nonce_set_clear(st->claims, 1);
	st->in_batch = 1;
	return RG_STORE_OK;
}

/* The batch's nonce claims become rows, outside any savepoint of the
 * keeper's (its exchanges' are all released or undone by now). A claim
 * that cannot be written fails the commit, and so the whole batch: none of
 * its exchanges is acknowledged without its nonce recorded. Room for them
 * in memory is made first, so that rg_store_claims_keep cannot fail once
 * they are committed. */
static int
rg_store_claims_write(rg_store *st)
{
	size_t n = st->claims != NULL ? rg_nonce_set_count(st->claims) : 0;

	/* One write operation for the seam, when there is anything to write. */
	if (n > 0 && !rg_store_write_ok(st))
		return RG_STORE_ERROR;
	if (n > 0 && (rg_store_replay_load(st) != RG_STORE_OK ||
	              rg_replay_reserve(st->replay, n) != 0)) {
		rg_store_setmsg(st, "commit: nonce claims: out of memory");
		return RG_STORE_ERROR;
	}
	/* A row for the batch (for each RG_STORE_TAGS_PER_ROW of it). */
	for (size_t i = 0; i < n;) {
		uint8_t *tags;
		size_t m = n - i < RG_STORE_TAGS_PER_ROW ? n - i
		                                        : RG_STORE_TAGS_PER_ROW;
		int64_t latest = INT64_MIN;
		int rc;

		if ((tags = malloc(m * RG_REPLAY_TAGLEN)) == NULL) {
			rg_store_setmsg(st, "commit: nonce claims: out of memory");
			return RG_STORE_ERROR;
		}
		for (size_t j = 0; j < m; j++) {
			const uint8_t *tag;
			int64_t expires_ms;

			rg_nonce_set_get(st->claims, i + j, &tag, &expires_ms);
			memcpy(tags + j * RG_REPLAY_TAGLEN, tag, RG_REPLAY_TAGLEN);
			if (expires_ms > latest)
				latest = expires_ms;
		}
		rc = rg_store_nonce_insert(st, tags, m, latest);
		free(tags);
		if (rc != SQLITE_DONE) {
			rg_store_seterr(st, "commit: nonce claims");
			return RG_STORE_ERROR;
		}
		i += m;
	}
	return RG_STORE_OK;
}

/* The batch committed: its claims join the committed ones in memory. */
static void
rg_store_claims_keep(rg_store *st)
{
	size_t n = st->claims != NULL ? rg_nonce_set_count(st->claims) : 0;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *tag;
		int64_t expires_ms;

		rg_nonce_set_get(st->claims, i, &tag, &expires_ms);
		rg_replay_put(st->replay, tag, expires_ms);
	}
}

int
rg_store_commit(rg_store *st)
{
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	if (rg_store_claims_write(st) != RG_STORE_OK)
		return RG_STORE_ERROR;
	/* The WAL hook syncs the log before COMMIT returns, unless
	 * rg_store_commit_nosync asked it not to. */
	if (rg_store_run(st, RG_SQL_COMMIT, "commit") != RG_STORE_OK)
		return RG_STORE_ERROR;
	st->in_batch = 0;
	rg_store_claims_keep(st);
	if (st->claims != NULL)
		rg_nonce_set_clear(st->claims, 1);
	return RG_STORE_OK;
}

int
rg_store_commit_nosync(rg_store *st)
{
	int rc;

	st->defer_sync = 1;
	rc = rg_store_commit(st);
	st->defer_sync = 0;
	return rc;
}

int
rg_store_rollback(rg_store *st)
{
	/* Whatever happens below, no claim of this batch stands. */
	st->in_batch = 0;
	st->mark_changes = -1;
	if (st->claims != NULL)
		rg_nonce_set_clear(st->claims, 1);
	/* SQLite rolls back by itself after some errors (I/O, full disk);
	 * the caller's rollback then has nothing left to do. */
	if (sqlite3_get_autocommit(st->db))
		return RG_STORE_OK;
	return rg_store_run(st, RG_SQL_ROLLBACK, "rollback");
}

int
rg_store_savepoint(rg_store *st)
{
	/* The claim set follows SQLite's savepoint stack exactly. */
	if (st->claims != NULL && rg_nonce_set_mark(st->claims) != 0) {
		rg_store_setmsg(st, "savepoint: nested too deep");
		return RG_STORE_ERROR;
	}
	if (rg_store_run(st, RG_SQL_SAVEPOINT, "savepoint") != RG_STORE_OK) {
		if (st->claims != NULL)
			rg_nonce_set_pop(st->claims);
		return RG_STORE_ERROR;
	}
	return RG_STORE_OK;
}

int
rg_store_release(rg_store *st)
{
	if (rg_store_run(st, RG_SQL_RELEASE, "release") != RG_STORE_OK)
		return RG_STORE_ERROR;
	/* Its claims now belong to the enclosing savepoint or the batch. */
	if (st->claims != NULL)
		rg_nonce_set_pop(st->claims);
	return RG_STORE_OK;
}

int
rg_store_undo(rg_store *st)
{
	/* ROLLBACK TO keeps the savepoint open; RELEASE then drops it. */
	if (rg_store_run(st, RG_SQL_ROLLBACK_TO, "undo") != RG_STORE_OK)
		return RG_STORE_ERROR;
	/* The undone exchange's nonce goes with the rest of its work. */
	if (st->claims != NULL)
		rg_nonce_set_rewind(st->claims);
	return rg_store_release(st);
}

/*
 * The light savepoint. SQLCipher 3.4 encrypts every page a savepoint
 * journals, even in memory, which made the savepoint a third of the
 * keeper's work on an exchange; the exchanges that take this mark
 * instead write their rows only once nothing can refuse them any more,
 * so their undo is "nothing was written": the nonce claims go back, and
 * if a row did change after all (a storage failure half way), undo says
 * so and the caller rolls back the whole batch. SQLite itself rolls back
 * the whole transaction on an I/O error, a full disk or no memory,
 * savepoint or not.
 */
int
rg_store_mark(rg_store *st)
{
	if (st->mark_changes >= 0) {
		rg_store_setmsg(st, "mark: already set");
		return RG_STORE_ERROR;
	}
	if (st->claims != NULL && rg_nonce_set_mark(st->claims) != 0) {
		rg_store_setmsg(st, "mark: nested too deep");
		return RG_STORE_ERROR;
	}
	st->mark_changes = sqlite3_total_changes(st->db);
	return RG_STORE_OK;
}

int
rg_store_mark_keep(rg_store *st)
{
	if (st->mark_changes < 0)
		return RG_STORE_ERROR;
	st->mark_changes = -1;
	if (st->claims != NULL)
		rg_nonce_set_pop(st->claims);
	return RG_STORE_OK;
}

int
rg_store_mark_undo(rg_store *st)
{
	int changed;

	if (st->mark_changes < 0)
		return RG_STORE_ERROR;
	changed = sqlite3_total_changes(st->db) != st->mark_changes;
	st->mark_changes = -1;
	if (st->claims != NULL) {
		rg_nonce_set_rewind(st->claims);
		rg_nonce_set_pop(st->claims);
	}
	if (changed) {
		rg_store_setmsg(st, "undo: rows changed since the mark");
		return RG_STORE_ERROR;
	}
	return RG_STORE_OK;
}

/* ---- meta ---- */

int
rg_store_meta_put(rg_store *st, const char *name, const void *val, size_t len)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_META_PUT);

	if (name == NULL || (val == NULL && len != 0)) {
		rg_store_setmsg(st, "meta_put: bad arguments");
		return RG_STORE_ERROR;
	}
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	if (rg_store_bind_text(s, 1, name) != SQLITE_OK ||
	    rg_store_bind_blob(s, 2, val, len) != SQLITE_OK) {
		rg_store_seterr(st, "meta_put");
		rg_store_done(s);
		return RG_STORE_ERROR;
	}
	return rg_store_run(st, RG_SQL_META_PUT, "meta_put");
}

int
rg_store_meta_get(rg_store *st, const char *name, void **val, size_t *len)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_META_GET);
	uint8_t *p = NULL;
	int rc, ret = RG_STORE_ERROR;

	*val = NULL;
	*len = 0;
	if (name == NULL || rg_store_bind_text(s, 1, name) != SQLITE_OK) {
		rg_store_setmsg(st, "meta_get: bad arguments");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = RG_STORE_NOTFOUND;
	} else if (rc != SQLITE_ROW) {
		rg_store_seterr(st, "meta_get");
	} else if (rg_store_col_blob(s, 0, &p, len) != 0) {
		rg_store_setmsg(st, "meta_get: out of memory");
	} else {
		*val = p;
		ret = RG_STORE_OK;
	}
out:
	rg_store_done(s);
	return ret;
}

int
rg_store_meta_del(rg_store *st, const char *name)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_META_DEL);

	if (name == NULL) {
		rg_store_setmsg(st, "meta_del: bad arguments");
		return RG_STORE_ERROR;
	}
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	if (rg_store_bind_text(s, 1, name) != SQLITE_OK) {
		rg_store_seterr(st, "meta_del");
		rg_store_done(s);
		return RG_STORE_ERROR;
	}
	return rg_store_run(st, RG_SQL_META_DEL, "meta_del");
}

/* ---- departments ---- */

int
rg_store_dept_put(rg_store *st, const char *id, const char *name,
                  const char *status)
{
	sqlite3_stmt *s;
	int i;

	if (id == NULL || name == NULL || status == NULL) {
		rg_store_setmsg(st, "dept_put: bad arguments");
		return RG_STORE_ERROR;
	}
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	/* Update first, insert when there was no row: see the note at the
	 * top about REPLACE and foreign keys. */
	for (i = RG_SQL_DEPT_UPDATE; i <= RG_SQL_DEPT_INSERT; i++) {
		s = rg_store_stmt(st, (enum rg_store_sql)i);
		if (rg_store_bind_text(s, 1, id) != SQLITE_OK ||
		    rg_store_bind_text(s, 2, name) != SQLITE_OK ||
		    rg_store_bind_text(s, 3, status) != SQLITE_OK) {
			rg_store_seterr(st, "dept_put");
			rg_store_done(s);
			return RG_STORE_ERROR;
		}
		if (rg_store_run(st, (enum rg_store_sql)i, "dept_put") != RG_STORE_OK)
			return RG_STORE_ERROR;
		if (i == RG_SQL_DEPT_UPDATE && sqlite3_changes(st->db) > 0)
			break;
	}
	return RG_STORE_OK;
}

int
rg_store_dept_each(rg_store *st,
                   int (*fn)(void *ctx, const char *id, const char *name,
                             const char *status),
                   void *ctx)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_DEPT_EACH);
	int rc, ret = RG_STORE_OK;

	/* The cached statement cannot be stepped by two loops at once. */
	if (st->iterating) {
		rg_store_setmsg(st, "dept_each: called from inside an iteration");
		return RG_STORE_ERROR;
	}
	st->iterating = 1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		const char *name = (const char *)sqlite3_column_text(s, 1);
		const char *status = (const char *)sqlite3_column_text(s, 2);

		if (id == NULL || name == NULL || status == NULL) {
			rg_store_setmsg(st, "dept_each: damaged row");
			ret = RG_STORE_ERROR;
			break;
		}
		if (fn(ctx, id, name, status) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rg_store_seterr(st, "dept_each");
		ret = RG_STORE_ERROR;
	}
	rg_store_done(s);
	st->iterating = 0;
	return ret;
}

/* ---- department keys ---- */

int
rg_store_key_put(rg_store *st, const struct rg_store_key *key)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_KEY_PUT);

	/* The fixed-size fields must be terminated strings. */
	if (key == NULL || memchr(key->keyid, '\0', sizeof(key->keyid)) == NULL ||
	    memchr(key->dept, '\0', sizeof(key->dept)) == NULL ||
	    memchr(key->role, '\0', sizeof(key->role)) == NULL ||
	    memchr(key->status, '\0', sizeof(key->status)) == NULL) {
		rg_store_setmsg(st, "key_put: bad arguments");
		return RG_STORE_ERROR;
	}
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	if (rg_store_bind_text(s, 1, key->keyid) != SQLITE_OK ||
	    rg_store_bind_text(s, 2, key->dept) != SQLITE_OK ||
	    rg_store_bind_text(s, 3, key->role) != SQLITE_OK ||
	    rg_store_bind_text(s, 4, key->status) != SQLITE_OK ||
	    rg_store_bind_blob(s, 5, key->pub, sizeof(key->pub)) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 6, key->created_ms) != SQLITE_OK) {
		rg_store_seterr(st, "key_put");
		rg_store_done(s);
		return RG_STORE_ERROR;
	}
	return rg_store_run(st, RG_SQL_KEY_PUT, "key_put");
}

int
rg_store_key_get(rg_store *st, const char *keyid, struct rg_store_key *out)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_KEY_GET);
	int rc, ret = RG_STORE_ERROR;

	memset(out, 0, sizeof(*out));
	if (keyid == NULL || rg_store_bind_text(s, 1, keyid) != SQLITE_OK) {
		rg_store_setmsg(st, "key_get: bad arguments");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = RG_STORE_NOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rg_store_seterr(st, "key_get");
		goto out;
	}
	if (rg_store_col_text(s, 0, out->keyid, sizeof(out->keyid)) != 0 ||
	    rg_store_col_text(s, 1, out->dept, sizeof(out->dept)) != 0 ||
	    rg_store_col_text(s, 2, out->role, sizeof(out->role)) != 0 ||
	    rg_store_col_text(s, 3, out->status, sizeof(out->status)) != 0 ||
	    rg_store_col_text(s, 4, out->dept_status, sizeof(out->dept_status)) != 0 ||
	    sqlite3_column_bytes(s, 5) != (int)sizeof(out->pub) ||
	    sqlite3_column_blob(s, 5) == NULL) {
		rg_store_setmsg(st, "key_get: damaged row");
		memset(out, 0, sizeof(*out));
		goto out;
	}
	memcpy(out->pub, sqlite3_column_blob(s, 5), sizeof(out->pub));
	out->created_ms = sqlite3_column_int64(s, 6);
	ret = RG_STORE_OK;
out:
	rg_store_done(s);
	return ret;
}

/* ---- nonces ---- */

/* Write a row of ntags claims, all kept until expires_ms; SQLite's
 * result code. */
static int
rg_store_nonce_insert(rg_store *st, const uint8_t *tags, size_t ntags,
                      int64_t expires_ms)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_NONCE_INSERT);
	int rc;

	if (sqlite3_bind_int64(s, 1, expires_ms) != SQLITE_OK ||
	    rg_store_bind_blob(s, 2, tags, ntags * RG_REPLAY_TAGLEN) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	rg_store_done(s);
	return rc;
}

/* Put the claims sql reads into r: key id, nonce and expiry (legacy), or
 * a row's expiry and tags. */
static int
rg_store_replay_read(rg_store *st, struct rg_replay *r, const char *sql,
                     int legacy)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		rg_store_seterr(st, "loading the nonce claims");
		return RG_STORE_ERROR;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint8_t one[RG_REPLAY_TAGLEN];
		const uint8_t *tags = one;
		size_t n = 1;
		int64_t expires_ms;

		if (legacy) {
			const char *keyid = (const char *)sqlite3_column_text(s, 0);
			const char *nonce = (const char *)sqlite3_column_text(s, 1);

			if (keyid == NULL || nonce == NULL)
				continue;
			rg_replay_tag(keyid, nonce, one);
			expires_ms = sqlite3_column_int64(s, 2);
		} else {
			int len = sqlite3_column_bytes(s, 1);

			tags = sqlite3_column_blob(s, 1);
			/* The CHECK keeps anything else out. */
			if (tags == NULL || len <= 0 || len % RG_REPLAY_TAGLEN != 0)
				continue;
			n = (size_t)len / RG_REPLAY_TAGLEN;
			expires_ms = sqlite3_column_int64(s, 0);
		}
		if (rg_replay_reserve(r, n) != 0) {
			rg_store_setmsg(st, "loading the nonce claims: out of "
			                    "memory");
			sqlite3_finalize(s);
			return RG_STORE_ERROR;
		}
		for (size_t i = 0; i < n; i++)
			rg_replay_put(r, tags + i * RG_REPLAY_TAGLEN, expires_ms);
	}
	if (rc != SQLITE_DONE) {
		rg_store_seterr(st, "loading the nonce claims");
		sqlite3_finalize(s);
		return RG_STORE_ERROR;
	}
	sqlite3_finalize(s);
	return RG_STORE_OK;
}

/*
 * Every committed claim into memory, once per open store: those of
 * replay_batches and those older files kept in nonces. Expired ones too (the
 * prune drops them): which are expired depends on the caller's clock.
 */
static int
rg_store_replay_load(rg_store *st)
{
	struct rg_replay *r;

	if (st->replay != NULL)
		return RG_STORE_OK;
	if ((r = rg_replay_new()) == NULL) {
		rg_store_setmsg(st, "loading the nonce claims: out of memory");
		return RG_STORE_ERROR;
	}
	if (rg_store_replay_read(st, r, "SELECT keyid, nonce, expires_ms FROM "
	                         "nonces", 1) != RG_STORE_OK ||
	    rg_store_replay_read(st, r, "SELECT expires_ms, tags FROM "
	                         "replay_batches", 0) != RG_STORE_OK) {
		rg_replay_free(r);
		return RG_STORE_ERROR;
	}
	st->replay = r;
	return RG_STORE_OK;
}

/* A claim that an earlier one still guards: RG_STORE_EXISTS, else OK (an
 * expired claim guards nothing: the signature it came from is outside
 * the window too), or RG_STORE_ERROR. The claim's tag into tag. */
static int
rg_store_nonce_check(rg_store *st, const char *keyid, const char *nonce,
                     int64_t now_ms, uint8_t tag[RG_REPLAY_TAGLEN])
{
	int64_t expires_ms;

	if (rg_store_replay_load(st) != RG_STORE_OK)
		return RG_STORE_ERROR;
	rg_replay_tag(keyid, nonce, tag);
	if (rg_replay_find(st->replay, tag, &expires_ms) && expires_ms >= now_ms)
		return RG_STORE_EXISTS;
	return RG_STORE_OK;
}

int
rg_store_nonce_claim_at(rg_store *st, const char *keyid, const char *nonce,
                        int64_t expires_ms, int64_t now_ms)
{
	uint8_t tag[RG_REPLAY_TAGLEN];
	int rc;

	if (keyid == NULL || nonce == NULL) {
		rg_store_setmsg(st, "nonce_claim: bad arguments");
		return RG_STORE_ERROR;
	}
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	if (st->in_batch && st->claims != NULL &&
	    !sqlite3_get_autocommit(st->db)) {
		/* In the batch's set until rg_store_commit writes it; the
		 * batch holds the write lock, so nothing else can claim it
		 * in between. */
		if (rg_nonce_set_has(st->claims, keyid, nonce))
			return RG_STORE_EXISTS;
		if ((rc = rg_store_nonce_check(st, keyid, nonce, now_ms, tag)) !=
		    RG_STORE_OK)
			return rc;
		if (rg_nonce_set_add(st->claims, keyid, nonce, tag,
		                     expires_ms) != 0) {
			rg_store_setmsg(st, "nonce_claim: too many in one batch");
			return RG_STORE_ERROR;
		}
		return RG_STORE_OK;
	}
	/* Outside a batch: the row now, in memory once it is written. */
	if ((rc = rg_store_nonce_check(st, keyid, nonce, now_ms, tag)) !=
	    RG_STORE_OK)
		return rc;
	if (rg_replay_reserve(st->replay, 1) != 0) {
		rg_store_setmsg(st, "nonce_claim: out of memory");
		return RG_STORE_ERROR;
	}
	if (rg_store_nonce_insert(st, tag, 1, expires_ms) != SQLITE_DONE) {
		rg_store_seterr(st, "nonce_claim");
		return RG_STORE_ERROR;
	}
	rg_replay_put(st->replay, tag, expires_ms);
	return RG_STORE_OK;
}

int
rg_store_nonce_claim(rg_store *st, const char *keyid, const char *nonce,
                     int64_t expires_ms)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
		rg_store_setmsg(st, "nonce_claim: no clock");
		return RG_STORE_ERROR;
	}
	return rg_store_nonce_claim_at(st, keyid, nonce, expires_ms,
	                               (int64_t)ts.tv_sec * 1000 +
	                                   ts.tv_nsec / 1000000);
}

/* Delete the rows of one prune statement expired at now_ms; limit binds
 * ?2 when the statement has it. *deleted: how many went. */
static int
rg_store_nonce_prune_one(rg_store *st, enum rg_store_sql which, int64_t now_ms,
                         int64_t limit, int64_t *deleted)
{
	sqlite3_stmt *s = rg_store_stmt(st, which);

	if (sqlite3_bind_int64(s, 1, now_ms) != SQLITE_OK ||
	    (sqlite3_bind_parameter_count(s) >= 2 &&
	     sqlite3_bind_int64(s, 2, limit) != SQLITE_OK)) {
		rg_store_seterr(st, "nonce_prune");
		rg_store_done(s);
		return RG_STORE_ERROR;
	}
	if (rg_store_run(st, which, "nonce_prune") != RG_STORE_OK)
		return RG_STORE_ERROR;
	*deleted = sqlite3_changes(st->db);
	return RG_STORE_OK;
}

/* Slots of the claims in memory a prune sweeps for each row it may delete
 * (a row holds a batch's claims): with the keeper's 128 rows a call, a
 * pass over a table of two million slots (the five-minute window at
 * 6,000 claims/s) in some 64 calls, a millisecond or less each, instead of
 * 80 ms in one. */
#define RG_STORE_SWEEP_PER_ROW 256

int
rg_store_nonce_prune(rg_store *st, int64_t now_ms, size_t limit, int *more)
{
	int64_t lim = limit > 0 && limit < INT64_MAX ? (int64_t)limit : -1;
	int64_t deleted = 0, old = 0;

	if (more != NULL)
		*more = 0;
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	/* First the table, a chunk a call, then the older files' table,
	 * whose prune scans it whole (it has no index on the expiry), once. */
	if (!st->prune_sweeping) {
		if (rg_store_nonce_prune_one(st, RG_SQL_NONCE_PRUNE, now_ms, lim,
		                             &deleted) != RG_STORE_OK)
			return RG_STORE_ERROR;
		if (lim > 0 && deleted >= lim) {
			if (more != NULL)
				*more = 1;
			return RG_STORE_OK;
		}
		if (rg_store_nonce_prune_one(st, RG_SQL_NONCE_PRUNE_OLD, now_ms, lim,
		                             &old) != RG_STORE_OK)
			return RG_STORE_ERROR;
		st->prune_sweeping = 1;
	}
	/* Then memory, a part of it per call. Whether or not the rows'
	 * deletion commits, what it deleted had expired: memory may forget
	 * them now. */
	if (st->replay != NULL &&
	    !rg_replay_sweep(st->replay, now_ms,
	                     lim > 0 ? (size_t)lim * RG_STORE_SWEEP_PER_ROW
	                             : SIZE_MAX)) {
		if (more != NULL)
			*more = 1;
		return RG_STORE_OK;
	}
	st->prune_sweeping = 0;
	return RG_STORE_OK;
}

/* ---- records ---- */

int
rg_store_record_put(rg_store *st, const char *resource, const char *id,
                    uint64_t version, uint32_t key_version, int64_t time_ms,
                    const uint8_t *sealed, size_t len, int64_t *seq)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_RECORD_PUT);
	struct rg_store_record probe;
	int rc;

	/* Whatever goes in must come back out through rg_store_record. */
	if (resource == NULL || id == NULL || strlen(id) >= sizeof(probe.id) ||
	    version > INT64_MAX || (sealed == NULL && len != 0)) {
		rg_store_setmsg(st, "record_put: bad arguments");
		return RG_STORE_ERROR;
	}
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	if (rg_store_bind_text(s, 1, resource) != SQLITE_OK ||
	    rg_store_bind_text(s, 2, id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, (int64_t)version) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, key_version) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 5, time_ms) != SQLITE_OK ||
	    rg_store_bind_blob(s, 6, sealed, len) != SQLITE_OK) {
		rg_store_seterr(st, "record_put");
		rg_store_done(s);
		return RG_STORE_ERROR;
	}
	rc = sqlite3_step(s);
	rg_store_done(s);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		rg_store_setmsg(st, "record_put: this version already exists");
		return RG_STORE_EXISTS;
	}
	if (rc != SQLITE_DONE) {
		rg_store_seterr(st, "record_put");
		return RG_STORE_ERROR;
	}
	if (seq != NULL)
		*seq = sqlite3_last_insert_rowid(st->db);
	return RG_STORE_OK;
}

/* Fill rec from a row of (seq, id, version, key_version, time_ms, sealed). */
static int
rg_store_record_row(sqlite3_stmt *s, struct rg_store_record *rec)
{
	sqlite3_int64 version = sqlite3_column_int64(s, 2);
	sqlite3_int64 kv = sqlite3_column_int64(s, 3);

	if (version < 0 || kv < 0 || kv > UINT32_MAX ||
	    rg_store_col_text(s, 1, rec->id, sizeof(rec->id)) != 0)
		return -1;
	rec->seq = sqlite3_column_int64(s, 0);
	rec->version = (uint64_t)version;
	rec->key_version = (uint32_t)kv;
	rec->time_ms = sqlite3_column_int64(s, 4);
	return rg_store_col_blob(s, 5, &rec->sealed, &rec->sealed_len);
}

void
rg_store_record_clear(struct rg_store_record *rec)
{
	if (rec == NULL)
		return;
	free(rec->sealed);
	memset(rec, 0, sizeof(*rec));
}

int
rg_store_record_get(rg_store *st, const char *resource, const char *id,
                    struct rg_store_record *out)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_RECORD_GET);
	int rc, ret = RG_STORE_ERROR;

	memset(out, 0, sizeof(*out));
	if (resource == NULL || id == NULL ||
	    rg_store_bind_text(s, 1, resource) != SQLITE_OK ||
	    rg_store_bind_text(s, 2, id) != SQLITE_OK) {
		rg_store_setmsg(st, "record_get: bad arguments");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = RG_STORE_NOTFOUND;
	} else if (rc != SQLITE_ROW) {
		rg_store_seterr(st, "record_get");
	} else if (rg_store_record_row(s, out) != 0) {
		rg_store_setmsg(st, "record_get: damaged row or out of memory");
		rg_store_record_clear(out);
	} else {
		ret = RG_STORE_OK;
	}
out:
	rg_store_done(s);
	return ret;
}

int
rg_store_changes(rg_store *st, const char *resource, int64_t after, int limit,
                 int (*fn)(void *ctx, const struct rg_store_record *rec),
                 void *ctx)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_CHANGES);
	struct rg_store_record rec;
	int rc, ret = RG_STORE_OK;

	/* A negative LIMIT means "no limit" to SQLite: refuse it. */
	if (resource == NULL || fn == NULL || limit < 0) {
		rg_store_setmsg(st, "changes: bad arguments");
		return RG_STORE_ERROR;
	}
	if (st->iterating) {
		rg_store_setmsg(st, "changes: called from inside an iteration");
		return RG_STORE_ERROR;
	}
	if (rg_store_bind_text(s, 1, resource) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, after) != SQLITE_OK ||
	    sqlite3_bind_int(s, 3, limit) != SQLITE_OK) {
		rg_store_seterr(st, "changes");
		rg_store_done(s);
		return RG_STORE_ERROR;
	}
	st->iterating = 1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int stop;

		memset(&rec, 0, sizeof(rec));
		if (rg_store_record_row(s, &rec) != 0) {
			rg_store_record_clear(&rec);
			rg_store_setmsg(st, "changes: damaged row or out of memory");
			ret = RG_STORE_ERROR;
			break;
		}
		stop = fn(ctx, &rec);
		rg_store_record_clear(&rec);
		if (stop != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rg_store_seterr(st, "changes");
		ret = RG_STORE_ERROR;
	}
	rg_store_done(s);
	st->iterating = 0;
	return ret;
}

/* ---- audit log ---- */

int
rg_store_audit_size(rg_store *st, uint64_t *size)
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_AUDIT_SIZE);
	sqlite3_int64 n;
	int rc;

	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rg_store_seterr(st, "audit_size");
		rg_store_done(s);
		return RG_STORE_ERROR;
	}
	n = sqlite3_column_int64(s, 0);
	rg_store_done(s);
	if (n < 0) {
		rg_store_setmsg(st, "audit_size: damaged log");
		return RG_STORE_ERROR;
	}
	*size = (uint64_t)n;
	return RG_STORE_OK;
}

int
rg_store_audit_append(rg_store *st, uint64_t index, const uint8_t *entry,
                      size_t len, const uint8_t leaf[32])
{
	sqlite3_stmt *s;
	uint64_t size;

	if (entry == NULL || len == 0 || leaf == NULL) {
		rg_store_setmsg(st, "audit_append: bad arguments");
		return RG_STORE_ERROR;
	}
	if (!rg_store_write_ok(st))
		return RG_STORE_ERROR;
	/* Dense indices: the log's proofs assume entry i is the (i+1)th. */
	if (rg_store_audit_size(st, &size) != RG_STORE_OK)
		return RG_STORE_ERROR;
	if (index != size) {
		snprintf(st->err, sizeof(st->err),
		         "audit_append: index %llu but the log holds %llu "
		         "entries", (unsigned long long)index,
		         (unsigned long long)size);
		return RG_STORE_ERROR;
	}
	s = rg_store_stmt(st, RG_SQL_AUDIT_PUT);
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)index) != SQLITE_OK ||
	    rg_store_bind_blob(s, 2, entry, len) != SQLITE_OK ||
	    rg_store_bind_blob(s, 3, leaf, 32) != SQLITE_OK) {
		rg_store_seterr(st, "audit_append");
		rg_store_done(s);
		return RG_STORE_ERROR;
	}
	if (rg_store_run(st, RG_SQL_AUDIT_PUT, "audit_append") != RG_STORE_OK)
		return RG_STORE_ERROR;
	/* The subtree hashes this leaf completes go in with it, so that no
	 * committed tree lacks what its proofs need (store_audit.c). */
	return rg_store_audit_nodes_add(st, index, leaf);
}

int
rg_store_audit_get(rg_store *st, uint64_t index, uint8_t **entry, size_t *len,
                   uint8_t leaf[32])
{
	sqlite3_stmt *s = rg_store_stmt(st, RG_SQL_AUDIT_GET);
	int rc, ret = RG_STORE_ERROR;

	*entry = NULL;
	*len = 0;
	if (index > INT64_MAX) {
		rg_store_setmsg(st, "audit_get: index out of range");
		return RG_STORE_NOTFOUND;
	}
	if (sqlite3_bind_int64(s, 1, (sqlite3_int64)index) != SQLITE_OK) {
		rg_store_seterr(st, "audit_get");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = RG_STORE_NOTFOUND;
	} else if (rc != SQLITE_ROW) {
		rg_store_seterr(st, "audit_get");
	} else if (sqlite3_column_bytes(s, 1) != 32 ||
	           sqlite3_column_blob(s, 1) == NULL) {
		rg_store_setmsg(st, "audit_get: damaged row");
	} else if (rg_store_col_blob(s, 0, entry, len) != 0) {
		rg_store_setmsg(st, "audit_get: out of memory");
	} else {
		memcpy(leaf, sqlite3_column_blob(s, 1), 32);
		ret = RG_STORE_OK;
	}
out:
	rg_store_done(s);
	return ret;
}
