/*
 * test_nonce_batch.c -- the replay guard inside a batch: claims are kept in
 * memory and written just before COMMIT, and must refuse a replay within
 * the batch, across batches and after a reopen exactly as rows would; an
 * undone exchange frees its nonce, and a claim that cannot be written
 * fails the whole batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"

static const uint8_t rg_nb_key[RG_STORE_KEYLEN] = {
	0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
	0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

static rg_store *
rg_nb_open(void)
{
	char path[512], err[256] = "";
	rg_store *st;
	int n = snprintf(path, sizeof(path), "%s/nb.db", rg_test_tmpdir());

	CHECK(n > 0 && (size_t)n < sizeof(path));
	st = rg_store_open(path, rg_nb_key, 1, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	return st;
}

/* Rows in a table, as the database says. */
static int
rg_nb_count(rg_store *st, const char *table)
{
	sqlite3_stmt *s = NULL;
	char sql[64];
	int n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	CHECK(sqlite3_prepare_v2(rg_store_db(st), sql, -1, &s, NULL) ==
	      SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Claims in the replay log (its rows hold a batch's each). */
static int
rg_nb_rows(rg_store *st)
{
	sqlite3_stmt *s = NULL;
	int n = -1;

	CHECK(sqlite3_prepare_v2(rg_store_db(st), "SELECT coalesce(sum("
	                         "length(tags) / 16), 0) FROM replay_batches",
	                         -1, &s, NULL) == SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

TEST(batch_nonce_claim_refuses_a_replay_within_the_batch_and_after_reopen)
{
	rg_store *st = rg_nb_open();

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", 5000, 1000) == RG_STORE_OK);
	CHECK(rg_store_release(st) == RG_STORE_OK);
	/* Not yet a row: held for the commit. */
	CHECK_EQ_INT(rg_nb_rows(st), 0);
	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", 5000, 1000) == RG_STORE_EXISTS);
	/* Another key's nonce of the same text is another claim. */
	CHECK(rg_store_nonce_claim_at(st, "k2", "n1", 5000, 1000) == RG_STORE_OK);
	CHECK(rg_store_release(st) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_rows(st), 2);

	/* The next batch sees the committed rows. */
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", 5000, 2000) == RG_STORE_EXISTS);
	CHECK(rg_store_nonce_claim_at(st, "k2", "n1", 5000, 2000) == RG_STORE_EXISTS);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	rg_store_close(st);

	/* And so does the next process. */
	st = rg_nb_open();
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", 5000, 3000) == RG_STORE_EXISTS);
	/* An expired claim guards nothing: reclaimed, and written once (the
	 * expired row stays until the prune). */
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", 9000, 6000) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", 9000, 6000) == RG_STORE_EXISTS);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_rows(st), 3);
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", 9000, 7000) == RG_STORE_EXISTS);
	rg_store_close(st);
}

TEST(batch_nonce_claim_undone_with_its_savepoint_is_free_again)
{
	rg_store *st = rg_nb_open();

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	/* Nested: the inner undo drops only the inner claim. */
	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "outer", 5000, 0) == RG_STORE_OK);
	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "inner", 5000, 0) == RG_STORE_OK);
	CHECK(rg_store_undo(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "outer", 5000, 0) == RG_STORE_EXISTS);
	CHECK(rg_store_release(st) == RG_STORE_OK);

	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "undone", 5000, 0) == RG_STORE_OK);
	CHECK(rg_store_undo(st) == RG_STORE_OK);
	/* The undone exchange's nonce can be used by its retry. */
	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "undone", 5000, 0) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "inner", 5000, 0) == RG_STORE_OK);
	CHECK(rg_store_release(st) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_rows(st), 3);
	rg_store_close(st);
}

TEST(batch_nonce_claims_go_with_a_rolled_back_batch)
{
	rg_store *st = rg_nb_open();

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	for (int i = 0; i < 200; i++) {
		char n[32];

		snprintf(n, sizeof(n), "nonce-%d", i);
		CHECK(rg_store_nonce_claim_at(st, "k", n, 5000, 0) == RG_STORE_OK);
	}
	CHECK(rg_store_rollback(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_rows(st), 0);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "nonce-7", 5000, 0) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_rows(st), 1);
	rg_store_close(st);
}

TEST(batch_nonce_claim_that_cannot_be_written_fails_the_commit)
{
	rg_store *st = rg_nb_open();

	/* The claims' rows cannot be written: the commit fails, the
	 * caller's rollback leaves no row, and memory took none of them. */
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "a", 5000, 0) == RG_STORE_OK);
	rg_store_fail_after(st, 2); /* 1: the commit, 2: the claims' rows */
	CHECK(rg_store_commit(st) == RG_STORE_ERROR);
	rg_store_fail_after(st, 0);
	CHECK(rg_store_rollback(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_rows(st), 0);
	/* The nonce is free: the next batch takes it. */
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "a", 5000, 0) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_rows(st), 1);
	rg_store_close(st);
}

TEST(batch_savepoints_nested_past_the_limit_are_refused)
{
	rg_store *st = rg_nb_open();
	int opened = 0;

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	while (opened < 100 && rg_store_savepoint(st) == RG_STORE_OK)
		opened++;
	CHECK_EQ_INT(opened, 32);
	CHECK(strstr(rg_store_errmsg(st), "nested too deep") != NULL);
	/* The stack still matches SQLite's: each level undoes its claim. */
	CHECK(rg_store_nonce_claim_at(st, "k", "deep", 5000, 0) == RG_STORE_OK);
	CHECK(rg_store_undo(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "deep", 5000, 0) == RG_STORE_OK);
	for (int i = 1; i < opened; i++)
		CHECK(rg_store_release(st) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_rows(st), 1);
	rg_store_close(st);
}

/* ---- the keeper ---- */

TEST(keeper_replay_within_one_batch_is_refused_and_the_batch_commits)
{
	struct fixture f;
	struct treq t, u;
	struct answer a[3] = {{0}}, late = {0};

	fixture_open(&f);
	treq_make(&t, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	treq_make(&u, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	rg_keeper_handle(f.kp, &t.req, answer_cb, &a[0]);
	rg_keeper_handle(f.kp, &t.req, answer_cb, &a[1]); /* the replay */
	rg_keeper_handle(f.kp, &u.req, answer_cb, &a[2]);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a[0].status, 200);
	CHECK_EQ_INT(a[1].status, 401);
	CHECK_EQ_STR(a[1].code, "replay");
	CHECK_EQ_INT(a[2].status, 200);
	/* One batch: the replay was refused inside it, not by a failure. */
	CHECK_EQ_INT(f.kp->stats.batches, 1);
	/* In a later batch, the committed nonce still refuses it. */
	rg_keeper_handle(f.kp, &u.req, answer_cb, &late);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(late.status, 401);
	CHECK_EQ_STR(late.code, "replay");
	treq_free(&t);
	treq_free(&u);
	fixture_close(&f);
}

TEST(keeper_failed_nonce_write_at_commit_fails_the_batch_and_burns_nothing)
{
	struct fixture f;
	struct treq t[3];
	struct answer a[3] = {{0}}, b[3] = {{0}};

	fixture_open(&f);
	for (int i = 0; i < 3; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t[i].req, answer_cb, &a[i]);
		CHECK_EQ_INT(a[i].count, 0);
	}
	rg_store_fail_after(f.kp->st, 2); /* the COMMIT passes, its claims fail */
	keeper_run(&f.loop, f.kp);
	rg_store_fail_after(f.kp->st, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(a[i].status, 500);
		CHECK_EQ_STR(a[i].code, "storage_failed");
	}
	CHECK_EQ_INT(f.kp->audit_size, 0);
	/* Nothing was acknowledged, so the very same requests go through. */
	for (int i = 0; i < 3; i++)
		rg_keeper_handle(f.kp, &t[i].req, answer_cb, &b[i]);
	keeper_run(&f.loop, f.kp);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(b[i].status, 200);
		treq_free(&t[i]);
	}
	CHECK_EQ_INT(f.kp->audit_size, 3);
	fixture_close(&f);
}

/* ---- the committed claims in memory (store_replay.c) ---- */

/* The claims "nonce-<i>" of key k into tags, one at a time. */
static void
rg_nb_tag(int i, uint8_t tag[RG_REPLAY_TAGLEN])
{
	char n[32];

	snprintf(n, sizeof(n), "nonce-%d", i);
	rg_replay_tag("k", n, tag);
}

TEST(replay_set_finds_what_it_took_grows_and_sweeps_the_expired)
{
	struct rg_replay *r = rg_replay_new();
	uint8_t a[RG_REPLAY_TAGLEN], b[RG_REPLAY_TAGLEN];
	int64_t exp = 0;
	int found = 0;

	CHECK(r != NULL);
	/* Tags: key id and nonce kept apart, and each pair its own. */
	rg_replay_tag("ab", "c", a);
	rg_replay_tag("a", "bc", b);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	rg_replay_tag("k", "n", a);
	rg_replay_tag("k", "n", b);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK_EQ_INT(rg_replay_find(r, a, &exp), 0); /* empty */
	/* Ten thousand claims, half expiring at 1000 and half at 5000,
	 * through several growths. */
	for (int i = 0; i < 10000; i++) {
		uint8_t t[RG_REPLAY_TAGLEN];

		rg_nb_tag(i, t);
		CHECK(rg_replay_reserve(r, 1) == 0);
		rg_replay_put(r, t, i % 2 ? 5000 : 1000);
	}
	CHECK_EQ_INT(rg_replay_count(r), 10000);
	for (int i = 0; i < 10000; i++) {
		uint8_t t[RG_REPLAY_TAGLEN];

		rg_nb_tag(i, t);
		if (rg_replay_find(r, t, &exp) && exp == (i % 2 ? 5000 : 1000))
			found++;
	}
	CHECK_EQ_INT(found, 10000);
	rg_replay_tag("k", "nonce-10000", a);
	CHECK_EQ_INT(rg_replay_find(r, a, &exp), 0);
	/* A tag seen again keeps the later expiry, and counts once. */
	rg_replay_tag("k", "nonce-0", a);
	CHECK(rg_replay_reserve(r, 1) == 0);
	rg_replay_put(r, a, 3000);
	rg_replay_put(r, a, 2000);
	CHECK(rg_replay_find(r, a, &exp) && exp == 3000);
	CHECK_EQ_INT(rg_replay_count(r), 10000);
	/* The sweep at 2000 drops the 4999 that expired at 1000. */
	CHECK(rg_replay_sweep(r, 2000, SIZE_MAX) == 1);
	CHECK_EQ_INT(rg_replay_count(r), 5001);
	rg_replay_tag("k", "nonce-2", b);
	CHECK_EQ_INT(rg_replay_find(r, b, &exp), 0);
	CHECK(rg_replay_find(r, a, &exp) && exp == 3000);
	rg_replay_tag("k", "nonce-9999", b);
	CHECK(rg_replay_find(r, b, &exp) && exp == 5000);
	rg_replay_free(r);
}

TEST(store_nonces_an_older_file_kept_still_refuse_their_replay)
{
	rg_store *st = rg_nb_open();

	/* A file from before the replay log: its claims in nonces. */
	CHECK(sqlite3_exec(rg_store_db(st),
	                   "INSERT INTO nonces VALUES('k', 'old', 5000);"
	                   "INSERT INTO nonces VALUES('k', 'gone', 1500)",
	                   NULL, NULL, NULL) == SQLITE_OK);
	rg_store_close(st);
	st = rg_nb_open();
	CHECK(rg_store_nonce_claim_at(st, "k", "old", 5000, 1000) ==
	      RG_STORE_EXISTS);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "old", 5000, 1000) ==
	      RG_STORE_EXISTS);
	CHECK(rg_store_nonce_claim_at(st, "k", "gone", 5000, 2000) ==
	      RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	/* The prune takes expired rows from both tables. */
	CHECK(rg_store_nonce_prune(st, 6000, 0, NULL) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_count(st, "nonces"), 0);
	CHECK_EQ_INT(rg_nb_rows(st), 0);
	CHECK(rg_store_nonce_claim_at(st, "k", "old", 9000, 6000) == RG_STORE_OK);
	rg_store_close(st);
}

/* One batch's claims as a committed row. */
static void
rg_nb_batch(rg_store *st, const char *prefix, int n, int64_t expires_ms)
{
	char nonce[32];

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	for (int i = 0; i < n; i++) {
		snprintf(nonce, sizeof(nonce), "%s%d", prefix, i);
		CHECK(rg_store_nonce_claim_at(st, "k", nonce, expires_ms + i, 1000) ==
		      RG_STORE_OK);
	}
	CHECK(rg_store_commit(st) == RG_STORE_OK);
}

TEST(store_nonce_prune_in_chunks_takes_the_oldest_and_says_when_more_are_left)
{
	rg_store *st = rg_nb_open();
	char nonce[16];
	int more = -1;

	/* Ten batches of two claims expiring at 2000-2011, then a batch of
	 * three still live at 5000, then one more expired: a row each. */
	for (int i = 0; i < 10; i++) {
		snprintf(nonce, sizeof(nonce), "e%d-", i);
		rg_nb_batch(st, nonce, 2, 2000 + i);
	}
	rg_nb_batch(st, "live", 3, 9000);
	rg_nb_batch(st, "after", 1, 2000);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 12);
	CHECK_EQ_INT(rg_nb_rows(st), 24);
	/* An older file's expired claims, in the table without an index on
	 * the expiry: scanned once a prune, after the chunks, not with each. */
	CHECK(sqlite3_exec(rg_store_db(st),
	                   "INSERT INTO nonces VALUES('k', 'old1', 1500);"
	                   "INSERT INTO nonces VALUES('k', 'old2', 1600)",
	                   NULL, NULL, NULL) == SQLITE_OK);
	/* Four rows at a time, oldest first. */
	CHECK(rg_store_nonce_prune(st, 5000, 4, &more) == RG_STORE_OK);
	CHECK_EQ_INT(more, 1);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 8);
	CHECK_EQ_INT(rg_nb_count(st, "nonces"), 2);
	CHECK(rg_store_nonce_prune(st, 5000, 4, &more) == RG_STORE_OK);
	CHECK_EQ_INT(more, 1);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 4);
	/* Up to the live row and no further: the expired one after it waits
	 * for it (rows go in commit order; claims outlive their expiry by
	 * no more than the window). */
	CHECK(rg_store_nonce_prune(st, 5000, 4, &more) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 2);
	CHECK_EQ_INT(rg_nb_rows(st), 4);
	/* The table is done; the claims in memory go a part a call, so a
	 * call or two more, and then nothing is left. */
	for (int calls = 0; more && calls < 3; calls++)
		CHECK(rg_store_nonce_prune(st, 5000, 4, &more) == RG_STORE_OK);
	CHECK_EQ_INT(more, 0);
	CHECK(rg_store_nonce_prune(st, 5000, 4, &more) == RG_STORE_OK);
	CHECK_EQ_INT(more, 0);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 2);
	CHECK_EQ_INT(rg_nb_count(st, "nonces"), 0);
	CHECK(rg_store_nonce_claim_at(st, "k", "live1", 9000, 5000) ==
	      RG_STORE_EXISTS);
	/* Memory went by each claim's own expiry: "after0" is free. */
	CHECK(rg_store_nonce_claim_at(st, "k", "after0", 9000, 5000) ==
	      RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "e3-1", 9000, 5000) ==
	      RG_STORE_OK);
	/* Once the live row expires the rest go. */
	CHECK(rg_store_nonce_prune(st, 9010, 0, NULL) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 0);
	rg_store_close(st);
	/* Read back from the table after reopening: what is left answers
	 * the same (the prune at 9010 took what the row still held). */
	st = rg_nb_open();
	CHECK(rg_store_nonce_claim_at(st, "k", "live2", 9000, 5000) ==
	      RG_STORE_OK);
	rg_store_close(st);
}

/* A file of schema 2 kept a row a claim in replay_log, indexed by expiry:
 * opened, its claims are rows of replay_batches and still refuse. */
TEST(store_schema_2_moves_its_replay_claims_and_they_still_refuse)
{
	rg_store *st = rg_nb_open();
	sqlite3 *db = rg_store_db(st);
	sqlite3_stmt *s = NULL;
	uint8_t tag[RG_REPLAY_TAGLEN];
	void *v = NULL;
	size_t len = 0;

	CHECK(sqlite3_exec(db,
	    "DROP TABLE replay_batches;"
	    "CREATE TABLE replay_log(tag BLOB NOT NULL CHECK(length(tag)=16),"
	    " expires_ms INTEGER NOT NULL);"
	    "CREATE INDEX replay_log_expires ON replay_log(expires_ms);"
	    "UPDATE meta SET value = CAST('2' AS BLOB)"
	    " WHERE name = 'schema_version';", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "INSERT INTO replay_log VALUES(?1, ?2)", -1,
	                         &s, NULL) == SQLITE_OK);
	rg_replay_tag("k", "kept", tag);
	CHECK(sqlite3_bind_blob(s, 1, tag, sizeof(tag), SQLITE_TRANSIENT) ==
	      SQLITE_OK && sqlite3_bind_int64(s, 2, 5000) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_DONE);
	sqlite3_reset(s);
	rg_replay_tag("k", "expired", tag);
	CHECK(sqlite3_bind_blob(s, 1, tag, sizeof(tag), SQLITE_TRANSIENT) ==
	      SQLITE_OK && sqlite3_bind_int64(s, 2, 1500) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_DONE);
	sqlite3_finalize(s);
	rg_store_close(st);

	st = rg_nb_open();
	CHECK(rg_store_meta_get(st, "schema_version", &v, &len) == RG_STORE_OK);
	CHECK(len == 1 && memcmp(v, "3", 1) == 0);
	free(v);
	CHECK(sqlite3_exec(rg_store_db(st), "SELECT count(*) FROM replay_log",
	                   NULL, NULL, NULL) != SQLITE_OK);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 2);
	CHECK(rg_store_nonce_claim_at(st, "k", "kept", 9000, 2000) ==
	      RG_STORE_EXISTS);
	CHECK(rg_store_nonce_claim_at(st, "k", "expired", 9000, 2000) ==
	      RG_STORE_OK);
	/* Pruned like any other rows, in order: the expired one waits for
	 * the live one before it; then both go, and the new claim stays. */
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 3);
	CHECK(rg_store_nonce_prune(st, 2000, 0, NULL) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 3);
	CHECK(rg_store_nonce_prune(st, 6000, 0, NULL) == RG_STORE_OK);
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 1);
	CHECK(rg_store_nonce_claim_at(st, "k", "expired", 9000, 6000) ==
	      RG_STORE_EXISTS);
	rg_store_close(st);
}

/* A row keeps a batch's claims until the latest of their expiries. */
TEST(store_nonce_claims_of_a_batch_reopen_under_its_latest_expiry)
{
	rg_store *st = rg_nb_open();

	rg_nb_batch(st, "n", 3, 2000); /* expiries 2000, 2001, 2002 */
	CHECK_EQ_INT(rg_nb_count(st, "replay_batches"), 1);
	rg_store_close(st);
	st = rg_nb_open();
	/* "n0" expired at 2000 on its own, but its row holds until 2002. */
	CHECK(rg_store_nonce_claim_at(st, "k", "n0", 9000, 2001) ==
	      RG_STORE_EXISTS);
	CHECK(rg_store_nonce_claim_at(st, "k", "n2", 9000, 2002) ==
	      RG_STORE_EXISTS);
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", 9000, 2003) ==
	      RG_STORE_OK);
	rg_store_close(st);
}

TEST(replay_set_sweeps_in_parts_in_place_and_shrinks_once_mostly_empty)
{
	struct rg_replay *r = rg_replay_new();
	uint8_t t[RG_REPLAY_TAGLEN];
	int64_t exp;
	int calls = 0, live = 0, gone = 0;

	CHECK(r != NULL);
	/* Three in four expire at 1000, the rest at 9000. */
	for (int i = 0; i < 20000; i++) {
		rg_nb_tag(i, t);
		CHECK(rg_replay_reserve(r, 1) == 0);
		rg_replay_put(r, t, i % 4 ? 1000 : 9000);
	}
	CHECK(rg_replay_slots(r) >= 20000);
	/* A part of the slots per call; claims put between the parts
	 * (without a growth) are kept and found. */
	while (!rg_replay_sweep(r, 2000, 500)) {
		if (++calls == 10) {
			for (int i = 20000; i < 20100; i++) {
				rg_nb_tag(i, t);
				CHECK(rg_replay_reserve(r, 1) == 0);
				rg_replay_put(r, t, 9000);
			}
		}
		CHECK(calls < 1000);
	}
	CHECK((size_t)calls >= rg_replay_slots(r) / 500 - 1);
	CHECK_EQ_INT(rg_replay_count(r), 5100);
	for (int i = 0; i < 20100; i++) {
		rg_nb_tag(i, t);
		if (rg_replay_find(r, t, &exp))
			live += exp == 9000;
		else
			gone += i < 20000 && i % 4 != 0;
	}
	CHECK_EQ_INT(live, 5100);
	CHECK_EQ_INT(gone, 15000);
	/* Everything expired: a pass empties the table and it shrinks, to
	 * a quarter a pass, down to the smallest table. */
	CHECK(rg_replay_slots(r) == 32768);
	CHECK(rg_replay_sweep(r, 10000, SIZE_MAX) == 1);
	CHECK_EQ_INT(rg_replay_count(r), 0);
	CHECK_EQ_INT(rg_replay_slots(r), 8192);
	calls = 0;
	while (rg_replay_slots(r) > 64 && calls++ < 10)
		CHECK(rg_replay_sweep(r, 10000, SIZE_MAX) == 1);
	CHECK_EQ_INT(calls, 4);
	CHECK_EQ_INT(rg_replay_slots(r), 64);
	rg_nb_tag(7, t);
	CHECK_EQ_INT(rg_replay_find(r, t, &exp), 0);
	rg_replay_free(r);
}

/* The expiry claim i was put with: 9000 for i % 3 == 0 and for those
 * renewed (i % 3 == 1 and i % 97 == 0, once renewal started), 5000 for
 * the others. */
static int64_t
rg_nb_expiry(int i, int renewed)
{
	if (i % 3 == 0 || (renewed && i % 3 == 1 && i % 97 == 0))
		return 9000;
	return 5000;
}

/* Are claims [0, n) all found with the expiry each was put with? */
static int
rg_nb_all_found(const struct rg_replay *r, int n, int renewed)
{
	uint8_t t[RG_REPLAY_TAGLEN];
	int64_t exp;

	for (int i = 0; i < n; i++) {
		rg_nb_tag(i, t);
		if (!rg_replay_find(r, t, &exp) || exp != rg_nb_expiry(i, renewed))
			return 0;
	}
	return 1;
}

TEST(replay_set_grows_a_part_a_call_and_finds_claims_in_either_table)
{
	struct rg_replay *r = rg_replay_new();
	uint8_t t[RG_REPLAY_TAGLEN];
	int64_t exp;
	size_t before = 0, peak = 0;
	int growths = 0, during = 0, renewed = 0, upto = 0, i, kept = 0;

	CHECK(r != NULL);
	/*
	 * Claims a reserve each. A growth holds both tables (slots not a
	 * power of two) over many calls, not one: 4 old slots a claim and
	 * 64 more a call, so a move from 2^k slots spans 2^k / 68 calls.
	 * Half way through the first large one, every claim put so far is
	 * found, whichever table holds it; then claims spread over both
	 * tables are renewed with a later expiry, and one with an earlier
	 * expiry keeps its later one.
	 */
	for (i = 0; i < 100000; i++) {
		size_t slots;

		rg_nb_tag(i, t);
		CHECK(rg_replay_reserve(r, 1) == 0);
		rg_replay_put(r, t, rg_nb_expiry(i, 0));
		slots = rg_replay_slots(r);
		if ((slots & (slots - 1)) != 0) {
			if (before == 0) {
				growths++;
				before = slots;
			}
			if (++during == 200 && i > 20000 && !renewed) {
				CHECK(rg_nb_all_found(r, i + 1, 0));
				for (int j = 0; j <= i; j++) {
					if (rg_nb_expiry(j, 1) == rg_nb_expiry(j, 0))
						continue;
					rg_nb_tag(j, t);
					rg_replay_put(r, t, 9000);
				}
				rg_nb_tag(0, t);
				rg_replay_put(r, t, 4000);
				renewed = 1;
				upto = i + 1;
			}
		} else if (before != 0) {
			CHECK((size_t)during >= (before / 3) / 68);
			if (slots > peak)
				peak = slots;
			before = 0;
			during = 0;
		}
	}
	CHECK(renewed);
	CHECK(growths >= 10);
	CHECK(peak >= 131072);
	CHECK(rg_nb_all_found(r, upto, 1));
	CHECK_EQ_INT(rg_replay_count(r), 100000);
	/* A sweep during a move finishes it first, dropping the expired. */
	while ((rg_replay_slots(r) & (rg_replay_slots(r) - 1)) == 0) {
		rg_nb_tag(i, t);
		CHECK(rg_replay_reserve(r, 1) == 0);
		rg_replay_put(r, t, rg_nb_expiry(i, 0));
		i++;
	}
	CHECK(rg_replay_sweep(r, 6000, SIZE_MAX) == 1);
	CHECK((rg_replay_slots(r) & (rg_replay_slots(r) - 1)) == 0);
	for (int j = 0; j < i; j++)
		kept += rg_nb_expiry(j, j < upto) == 9000;
	CHECK(kept > (i + 2) / 3);
	CHECK_EQ_INT(rg_replay_count(r), kept);
	rg_nb_tag(1, t);
	CHECK_EQ_INT(rg_replay_find(r, t, &exp), 0);
	rg_nb_tag(97, t);
	CHECK(rg_replay_find(r, t, &exp) && exp == 9000);
	rg_nb_tag(0, t);
	CHECK(rg_replay_find(r, t, &exp) && exp == 9000);
	rg_replay_free(r);
}
