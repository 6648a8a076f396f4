/*
 * test_store_walvfs.c -- the store's VFS (gateway/store_walvfs.c): a
 * commit's log frames leave in one write, another connection reads a
 * commit the moment it returns, a transaction larger than the cache reads
 * back what it spilled, and a write the kernel refuses fails the commit
 * and loses nothing committed before it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"
#include "tests/test.h"

static const uint8_t rg_t_wkey[RG_STORE_KEYLEN] = {
	0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb,
	0xdc, 0xed, 0xfe, 0x0f, 0x10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
	0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};

static rg_store *
rg_t_wopen(const char *name, int create, char *path, size_t len)
{
	char err[256] = "";
	rg_store *st;
	int n = snprintf(path, len, "%s/%s", rg_test_tmpdir(), name);

	CHECK(n > 0 && (size_t)n < len);
	st = rg_store_open(path, rg_t_wkey, create, err, sizeof(err));
	CHECKF(st != NULL, "open %s: %s", name, err);
	return st;
}

static int
rg_t_exec(rg_store *st, const char *sql)
{
	return sqlite3_exec(rg_store_db(st), sql, NULL, NULL, NULL);
}

static long long
rg_t_int(rg_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	long long v = -1;

	CHECK(sqlite3_prepare_v2(rg_store_db(st), sql, -1, &s, NULL) ==
	      SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* PRAGMA integrity_check says "ok" (no table-valued pragmas before
 * SQLite 3.16, which Debian 12's SQLCipher predates). */
static int
rg_t_intact(rg_store *st)
{
	sqlite3_stmt *s = NULL;
	int ok;

	CHECK(sqlite3_prepare_v2(rg_store_db(st), "PRAGMA integrity_check;",
	                         -1, &s, NULL) == SQLITE_OK);
	ok = sqlite3_step(s) == SQLITE_ROW &&
	     strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0 &&
	     sqlite3_step(s) == SQLITE_DONE;
	sqlite3_finalize(s);
	return ok;
}

/* n rows into t as one statement: row k holds k in 3000 digits. */
static int
rg_t_fill(rg_store *st, int from, int n)
{
	char sql[200];

	CHECK(snprintf(sql, sizeof(sql),
	               "WITH RECURSIVE c(i) AS (SELECT %d UNION ALL SELECT i + 1"
	               " FROM c WHERE i < %d) INSERT INTO t(k, v) SELECT i,"
	               " printf('%%03000d', i) FROM c;",
	               from, from + n - 1) < (int)sizeof(sql));
	return rg_t_exec(st, sql);
}

TEST(walvfs_a_commit_s_frames_leave_in_one_write_and_another_connection_reads_them)
{
	char path[512], path2[512];
	rg_store *st, *reader;
	unsigned long long f0, w0, f1, w1;

	CHECK(rg_walvfs_name() != NULL);
	st = rg_t_wopen("walvfs.db", 1, path, sizeof(path));
	CHECK_EQ_INT(rg_t_exec(st, "CREATE TABLE t(k INTEGER PRIMARY KEY,"
	                           " v TEXT NOT NULL);"), SQLITE_OK);
	reader = rg_t_wopen("walvfs.db", 0, path2, sizeof(path2));
	CHECK_EQ_INT(rg_t_int(reader, "SELECT count(*) FROM t;"), 0);

	rg_walvfs_counts(&f0, &w0);
	CHECK_EQ_INT(rg_t_exec(st, "BEGIN;"), SQLITE_OK);
	CHECK_EQ_INT(rg_t_fill(st, 1, 20), SQLITE_OK);
	CHECK_EQ_INT(rg_t_exec(st, "COMMIT;"), SQLITE_OK);
	rg_walvfs_counts(&f1, &w1);
	/* A page a row and the tree's own: some twenty frames, as two writes
	 * each they would be forty; gathered, one. */
	CHECKF(f1 - f0 >= 20, "%llu frames", f1 - f0);
	CHECKF(w1 - w0 == 1, "%llu writes for %llu frames", w1 - w0, f1 - f0);

	/* The writer has made no call since: the frames are in the file, or
	 * the reader would find pages failing their HMAC. */
	CHECK_EQ_INT(rg_t_int(reader, "SELECT count(*) FROM t;"), 20);
	CHECK_EQ_INT(rg_t_int(reader, "SELECT count(*) FROM t"
	                              " WHERE v = printf('%03000d', k);"), 20);

	/* A commit of a single small frame, likewise. */
	CHECK_EQ_INT(rg_t_exec(st, "UPDATE t SET v = 'y' WHERE k = 7;"),
	             SQLITE_OK);
	CHECK_EQ_INT(rg_t_int(reader, "SELECT length(v) FROM t WHERE k = 7;"),
	             1);
	rg_store_close(reader);
	rg_store_close(st);
}

TEST(walvfs_a_transaction_larger_than_the_cache_reads_back_what_it_spilled)
{
	char path[512];
	rg_store *st;
	unsigned long long f0, w0, f1, w1;

	st = rg_t_wopen("spill.db", 1, path, sizeof(path));
	CHECK_EQ_INT(rg_t_exec(st, "PRAGMA cache_size = 20;"
	                           "CREATE TABLE t(k INTEGER PRIMARY KEY,"
	                           " v TEXT NOT NULL);"), SQLITE_OK);
	rg_walvfs_counts(&f0, &w0);
	CHECK_EQ_INT(rg_t_exec(st, "BEGIN;"), SQLITE_OK);
	/* About 400 pages, 1.6 MiB: most spilled to the log before the
	 * commit, a frame or two at a time between the reads that need them
	 * back (each read of the log writes what was gathered first). */
	CHECK_EQ_INT(rg_t_fill(st, 1, 400), SQLITE_OK);
	/* Read every row back inside the transaction: most come from the
	 * frames spilled, through the log's file. */
	CHECK_EQ_INT(rg_t_int(st, "SELECT count(*) FROM t"
	                          " WHERE v = printf('%03000d', k);"), 400);
	CHECK_EQ_INT(rg_t_exec(st, "UPDATE t SET v = 'x' WHERE k % 50 = 0;"),
	             SQLITE_OK);
	CHECK_EQ_INT(rg_t_exec(st, "COMMIT;"), SQLITE_OK);
	rg_walvfs_counts(&f1, &w1);
	CHECKF(f1 - f0 >= 400, "%llu frames", f1 - f0);
	/* Fewer writes than frames, and none past the gathering limit. */
	CHECKF(w1 - w0 < f1 - f0 && (w1 - w0) * 124 * 1024 >= (f1 - f0) * 4120,
	       "%llu writes for %llu frames", w1 - w0, f1 - f0);
	rg_store_close(st);

	st = rg_t_wopen("spill.db", 0, path, sizeof(path));
	CHECK_EQ_INT(rg_t_int(st, "SELECT count(*) FROM t;"), 400);
	CHECK_EQ_INT(rg_t_int(st, "SELECT count(*) FROM t WHERE v = 'x';"),
	             8);
	CHECK(rg_t_intact(st));
	rg_store_close(st);
}

TEST(walvfs_a_refused_write_fails_the_commit_and_loses_nothing_committed)
{
	char path[512];
	rg_store *st;
	struct stat sb;
	pid_t pid;
	int status;

	st = rg_t_wopen("full.db", 1, path, sizeof(path));
	CHECK_EQ_INT(rg_t_exec(st, "CREATE TABLE t(k INTEGER PRIMARY KEY,"
	                           " v TEXT NOT NULL);"), SQLITE_OK);
	CHECK_EQ_INT(rg_t_fill(st, 1, 10), SQLITE_OK);
	rg_store_close(st);

	/* A child whose files may not grow by more than 64 KiB past the
	 * database's size: its log's gathered write of 100 pages is cut
	 * short, then refused (EFBIG), and its commit must say so. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit rl;
		char p2[512];
		rg_store *c;
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		c = rg_t_wopen("full.db", 0, p2, sizeof(p2));
		if (stat(p2, &sb) != 0)
			_exit(10);
		rl.rlim_cur = rl.rlim_max = (rlim_t)sb.st_size + 64 * 1024;
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(11);
		if (rg_t_exec(c, "BEGIN;") != SQLITE_OK ||
		    rg_t_fill(c, 100, 100) != SQLITE_OK)
			_exit(12);
		rc = rg_t_exec(c, "COMMIT;");
		if (rc == SQLITE_OK)
			_exit(13);
		(void)rg_t_exec(c, "ROLLBACK;");
		rg_store_close(c);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "child status %d", status);

	st = rg_t_wopen("full.db", 0, path, sizeof(path));
	CHECK_EQ_INT(rg_t_int(st, "SELECT count(*) FROM t;"), 10);
	CHECK(rg_t_intact(st));
	/* And the store writes on as before. */
	CHECK_EQ_INT(rg_t_fill(st, 100, 5), SQLITE_OK);
	CHECK_EQ_INT(rg_t_int(st, "SELECT count(*) FROM t;"), 15);
	rg_store_close(st);
}
