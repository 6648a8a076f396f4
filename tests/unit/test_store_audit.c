/*
 * test_store_audit.c -- the audit trail's tables in a real SQLCipher file:
 * the subtree hashes stored with each entry give the RFC 9162 root of every
 * prefix of the log; they go in and out with the entry's savepoint, and a
 * failed write of one fails the append; checkpoints are one per size; a
 * file of schema 1, which kept them by level, is brought up to date.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "crypto/merkle.h"
#include "crypto/tlog.h"
#include "gateway/store.h"
#include "gateway/store_int.h"
#include "tests/test.h"

#define N 70

static const uint8_t key[RG_STORE_KEYLEN] = {1, 2, 3};

static rg_store *
open_store(void)
{
	char path[600], err[512];
	rg_store *st;

	snprintf(path, sizeof(path), "%s/audit.db", rg_test_tmpdir());
	st = rg_store_open(path, key, 1, err, sizeof(err));
	CHECKF(st != NULL, "%s", err);
	return st;
}

static int
db_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[RG_HASHLEN])
{
	return rg_store_audit_node(ctx, level, idx, out) == RG_STORE_OK ? 0 : -1;
}

static void
entry_for(uint64_t i, char *buf, size_t len, uint8_t leaf[RG_HASHLEN])
{
	snprintf(buf, len, "{\"index\":%llu}", (unsigned long long)i);
	rg_merkle_leaf((const uint8_t *)buf, strlen(buf), leaf);
}

TEST(store_audit_subtree_hashes_give_the_root_of_every_prefix)
{
	rg_store *st = open_store();
	static uint8_t leaves[N][RG_HASHLEN];
	uint8_t got[RG_HASHLEN], want[RG_HASHLEN];
	char e[64];

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	for (uint64_t i = 0; i < N; i++) {
		entry_for(i, e, sizeof(e), leaves[i]);
		CHECK(rg_store_audit_append(st, i, (const uint8_t *)e, strlen(e),
		                            leaves[i]) == RG_STORE_OK);
	}
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	for (uint64_t n = 0; n <= N; n++) {
		CHECK(rg_tlog_root(n, db_get, st, got) == 0);
		rg_merkle_root((const uint8_t (*)[RG_HASHLEN])leaves, (size_t)n, want);
		CHECKF(memcmp(got, want, RG_HASHLEN) == 0, "root of %llu",
		       (unsigned long long)n);
	}
	/* Nothing beyond the log is there to be used. */
	CHECK(rg_store_audit_node(st, 0, N, got) == RG_STORE_NOTFOUND);
	CHECK(rg_store_audit_node(st, 7, 0, got) == RG_STORE_NOTFOUND);
	CHECK(rg_store_audit_node(st, 6, 0, got) == RG_STORE_OK);
	rg_store_close(st);
}

TEST(store_audit_undone_entry_takes_its_subtree_hashes_with_it)
{
	rg_store *st = open_store();
	uint8_t leaf[RG_HASHLEN], h[RG_HASHLEN];
	char e[64];

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	for (uint64_t i = 0; i < 3; i++) {
		entry_for(i, e, sizeof(e), leaf);
		CHECK(rg_store_audit_append(st, i, (const uint8_t *)e, strlen(e),
		                            leaf) == RG_STORE_OK);
	}
	/* Entry 3 closes subtrees (1, 1) and (2, 0); undone, they go. */
	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	entry_for(3, e, sizeof(e), leaf);
	CHECK(rg_store_audit_append(st, 3, (const uint8_t *)e, strlen(e), leaf) ==
	      RG_STORE_OK);
	CHECK(rg_store_audit_node(st, 2, 0, h) == RG_STORE_OK);
	CHECK(rg_store_undo(st) == RG_STORE_OK);
	CHECK(rg_store_audit_node(st, 2, 0, h) == RG_STORE_NOTFOUND);
	CHECK(rg_store_audit_node(st, 1, 1, h) == RG_STORE_NOTFOUND);
	/* A failed write of a subtree hash fails the append as a whole:
	 * entry 3's own row is the first write, its level-1 hash the next. */
	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	rg_store_fail_after(st, 2);
	CHECK(rg_store_audit_append(st, 3, (const uint8_t *)e, strlen(e), leaf) !=
	      RG_STORE_OK);
	rg_store_fail_after(st, 0);
	CHECK(rg_store_undo(st) == RG_STORE_OK);
	CHECK(rg_store_audit_node(st, 0, 3, h) == RG_STORE_NOTFOUND);
	/* And the log goes on densely from there. */
	CHECK(rg_store_audit_append(st, 3, (const uint8_t *)e, strlen(e), leaf) ==
	      RG_STORE_OK);
	CHECK(rg_store_audit_node(st, 2, 0, h) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	rg_store_close(st);
}

TEST(store_audit_keeps_one_checkpoint_per_size_and_finds_the_latest)
{
	rg_store *st = open_store();
	struct rg_store_checkpoint cp;
	uint8_t root[32] = {5};

	CHECK(rg_store_checkpoint_latest(st, &cp) == RG_STORE_NOTFOUND);
	CHECK(rg_store_checkpoint_put(st, 10, root, "note 10\n", 1) == RG_STORE_OK);
	CHECK(rg_store_checkpoint_put(st, 20, root, "note 20\n", 2) == RG_STORE_OK);
	CHECK(rg_store_checkpoint_put(st, 10, root, "other\n", 3) == RG_STORE_EXISTS);
	CHECK(rg_store_checkpoint_latest(st, &cp) == RG_STORE_OK);
	CHECK_EQ_INT(cp.size, 20);
	CHECK_EQ_STR(cp.note, "note 20\n");
	CHECK_EQ_INT(cp.time_ms, 2);
	rg_store_checkpoint_clear(&cp);
	rg_store_close(st);
}

/* Run sql on st's connection, as another tool would. SQLite's code. */
static int
raw_exec(rg_store *st, const char *sql)
{
	return sqlite3_exec(rg_store_db(st), sql, NULL, NULL, NULL);
}

/* Roots of every prefix of the first n entries, as entry_for made them. */
static void
check_roots(rg_store *st, uint64_t n)
{
	static uint8_t leaves[N][RG_HASHLEN];
	uint8_t got[RG_HASHLEN], want[RG_HASHLEN];
	char e[64];

	for (uint64_t i = 0; i < n; i++)
		entry_for(i, e, sizeof(e), leaves[i]);
	for (uint64_t k = 0; k <= n; k++) {
		CHECK(rg_tlog_root(k, db_get, st, got) == 0);
		rg_merkle_root((const uint8_t (*)[RG_HASHLEN])leaves, (size_t)k, want);
		CHECKF(memcmp(got, want, RG_HASHLEN) == 0, "root of %llu",
		       (unsigned long long)k);
	}
}

TEST(store_schema_1_moves_its_subtree_hashes_and_a_newer_one_is_refused)
{
	char path[600], err[512], e[64];
	uint8_t leaf[RG_HASHLEN];
	rg_store *st = open_store();
	void *v = NULL;
	size_t len = 0;

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	for (uint64_t i = 0; i < N; i++) {
		entry_for(i, e, sizeof(e), leaf);
		CHECK(rg_store_audit_append(st, i, (const uint8_t *)e, strlen(e),
		                            leaf) == RG_STORE_OK);
	}
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	/* The file as schema 1 left it: the subtrees by (level, idx). */
	CHECK(raw_exec(st,
	    "CREATE TABLE audit_nodes(level INTEGER NOT NULL,"
	    " idx INTEGER NOT NULL, hash BLOB NOT NULL CHECK(length(hash)=32),"
	    " PRIMARY KEY(level, idx)) WITHOUT ROWID;"
	    "INSERT INTO audit_nodes SELECT level, (size >> level) - 1, hash"
	    " FROM audit_tree;"
	    "DROP TABLE audit_tree;"
	    "UPDATE meta SET value = CAST('1' AS BLOB)"
	    " WHERE name = 'schema_version';") == SQLITE_OK);
	rg_store_close(st);

	st = open_store();
	CHECK(rg_store_meta_get(st, "schema_version", &v, &len) == RG_STORE_OK);
	CHECK(len == 1 && memcmp(v, "3", 1) == 0); /* by way of 2 */
	free(v);
	check_roots(st, N);
	CHECK(raw_exec(st, "SELECT count(*) FROM audit_nodes") != SQLITE_OK);
	/* And the log goes on from there. */
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	entry_for(N, e, sizeof(e), leaf);
	CHECK(rg_store_audit_append(st, N, (const uint8_t *)e, strlen(e), leaf) ==
	      RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK(rg_store_audit_node(st, 1, N / 2, leaf) == RG_STORE_NOTFOUND);
	CHECK(rg_store_audit_node(st, 0, N, leaf) == RG_STORE_OK);
	/* A schema this recgate does not know is not opened. */
	CHECK(raw_exec(st, "UPDATE meta SET value = CAST('4' AS BLOB)"
	                   " WHERE name = 'schema_version';") == SQLITE_OK);
	rg_store_close(st);
	snprintf(path, sizeof(path), "%s/audit.db", rg_test_tmpdir());
	CHECK(rg_store_open(path, key, 1, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "unsupported schema version") != NULL, "%s", err);
}
