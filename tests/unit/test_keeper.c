/*
 * test_keeper.c -- the keeper in-process, with storage faults injected
 * through the store's seam: whatever write fails, the exchange is refused,
 * nothing of it is committed, and the audit log stays dense.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/httpsig.h"
#include "gateway/client.h"
#include "gateway/config.h"
#include "gateway/demo.h"
#include "gateway/keeper_int.h"
#include "crypto/merkle.h"
#include "crypto/tlog.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"


static int
count_row(void *ctx, const struct rg_store_record *rec)
{
	(void)rec;
	(*(int64_t *)ctx)++;
	return 0;
}

/* Records the store holds for the resource, and the audit log's length as
 * the database (not the keeper's counter) says. */
static int64_t
record_count(struct fixture *f)
{
	int64_t n = 0;

	CHECK(rg_store_changes(f->kp->st, "hazard-declaration", 0, 1000000,
	                       count_row, &n) == RG_STORE_OK);
	return n;
}

static uint64_t
stored_audit_size(struct fixture *f)
{
	uint64_t n;

	CHECK(rg_store_audit_size(f->kp->st, &n) == RG_STORE_OK);
	return n;
}

TEST(keeper_any_failed_write_refuses_the_exchange_and_commits_nothing)
{
	struct fixture f;
	int64_t stored = 0;
	int saw_failure = 0, saw_success = 0;

	fixture_open(&f);
	/* Fail the k-th write from now, for every k until an exchange gets
	 * through untouched. */
	for (int k = 1; k <= 12; k++) {
		struct treq t;
		struct answer a = {0};

		treq_make(&t, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_store_fail_after(f.kp->st, k);
		rg_keeper_handle(f.kp, &t.req, answer_cb, &a);
		keeper_run(&f.loop, f.kp);
		rg_store_fail_after(f.kp->st, 0);
		CHECK_EQ_INT(a.count, 1);
		if (a.status == 200) {
			stored++;
			saw_success = 1;
		} else {
			CHECKF(a.status == 500 && strcmp(a.code, "storage_failed") == 0,
			       "k=%d: status %d code %s", k, a.status, a.code);
			saw_failure = 1;
		}
		CHECKF(record_count(&f) == stored, "k=%d: %lld records, expected %lld",
		       k, (long long)record_count(&f), (long long)stored);
		/* The log holds exactly one entry per acknowledged exchange. */
		CHECK_EQ_INT(stored_audit_size(&f), stored);
		CHECK_EQ_INT(f.kp->audit_size, stored);
		treq_free(&t);
	}
	CHECK(saw_failure);
	CHECK(saw_success);
	fixture_close(&f);
}

TEST(keeper_failed_commit_fails_every_exchange_in_the_batch)
{
	struct fixture f;
	struct treq t[3];
	struct answer a[3] = {{0}};

	fixture_open(&f);
	for (int i = 0; i < 3; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t[i].req, answer_cb, &a[i]);
		/* Held for the commit, not answered yet. */
		CHECK_EQ_INT(a[i].count, 0);
	}
	rg_store_fail_after(f.kp->st, 1); /* the next write is the COMMIT */
	keeper_run(&f.loop, f.kp);
	rg_store_fail_after(f.kp->st, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(a[i].count, 1);
		CHECK_EQ_INT(a[i].status, 500);
		CHECK_EQ_STR(a[i].code, "storage_failed");
		treq_free(&t[i]);
	}
	CHECK_EQ_INT(record_count(&f), 0);
	CHECK_EQ_INT(stored_audit_size(&f), 0);
	CHECK_EQ_INT(f.kp->audit_size, 0);
	/* And the keeper goes on: the next exchange is stored at index 0. */
	{
		struct treq t4;
		struct answer a4 = {0};

		treq_make(&t4, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t4.req, answer_cb, &a4);
		keeper_run(&f.loop, f.kp);
		CHECK_EQ_INT(a4.status, 200);
		CHECK_EQ_INT(stored_audit_size(&f), 1);
		treq_free(&t4);
	}
	fixture_close(&f);
}

TEST(keeper_batches_exchanges_into_one_commit)
{
	struct fixture f;
	struct treq t[5];
	struct answer a[5] = {{0}};
	struct rg_keeper_stats st;

	fixture_open(&f);
	for (int i = 0; i < 5; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t[i].req, answer_cb, &a[i]);
	}
	keeper_run(&f.loop, f.kp);
	rg_keeper_stats(f.kp, &st);
	CHECK_EQ_INT(st.batches, 1);
	CHECK_EQ_INT(st.batch_max, 5);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(a[i].status, 200);
		treq_free(&t[i]);
	}
	CHECK_EQ_INT(record_count(&f), 5);
	fixture_close(&f);
}

/* The reply's receipt: its entry's proof in a checkpoint the gateway
 * key signed. */
struct signed_answer {
	int count;
	int status;
	int receipt_ok;
	const uint8_t *pub;
	const char *origin;
	struct receipt_seen seen;
};

static void
signed_answer_cb(void *ctx, const struct rg_response *resp)
{
	struct signed_answer *a = ctx;

	a->count++;
	a->status = resp->status;
	a->receipt_ok = receipt_check(resp->body, resp->body_len, a->origin,
	                              a->pub, &a->seen) == 0;
}

TEST(keeper_holds_replies_until_the_finisher_gives_their_batch_back_signed)
{
	struct fixture f;
	struct treq t[4];
	struct signed_answer a[4] = {{0}};
	uint8_t root[RG_HASHLEN];
	uint64_t committed;

	fixture_open(&f);
	CHECK(f.kp->fin != NULL);
	committed = f.kp->committed_size;
	for (int i = 0; i < 4; i++) {
		a[i].pub = f.kp->gw_pub;
		a[i].origin = rg_keystore_origin(f.kp->ks);
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t[i].req, signed_answer_cb, &a[i]);
	}
	/* One iteration: the batch commits (check phase) and goes to the
	 * finisher; it comes back through the loop, not in this iteration. */
	uv_run(&f.loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(f.kp->in_batch, 0);
	CHECK_EQ_INT(f.kp->audit_size, committed + 4);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(a[i].count, 0);
	/* Checkpoints and proofs go only as far as what is durable. */
	CHECK_EQ_INT(f.kp->committed_size, committed);
	rg_keeper_drain(f.kp);
	CHECK_EQ_INT(rg_finisher_busy(f.kp->fin), 0);
	CHECK_EQ_INT(f.kp->committed_size, committed + 4);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ_INT(a[i].count, 1);
		CHECK_EQ_INT(a[i].status, 200);
		CHECKF(a[i].receipt_ok, "receipt %d does not verify", i);
		/* One checkpoint for the batch: the log as it left it,
		 * the same root the stored subtrees give. */
		CHECK(a[i].seen.index == committed + (uint64_t)i);
		CHECK(a[i].seen.size == committed + 4);
		CHECK(strcmp(a[i].seen.note, a[0].seen.note) == 0);
		treq_free(&t[i]);
	}
	CHECK(rg_tlog_root(committed + 4, rg_audit_node, f.kp->st, root) == 0);
	CHECK(memcmp(root, a[0].seen.root, sizeof(root)) == 0);
	fixture_close(&f);
}

/* n submissions in one batch, answered once it is back from the finisher. */
static void
signed_batch(struct fixture *f, struct signed_answer *a, int n, int fail_commit)
{
	struct treq t[8];

	CHECK(n <= 8);
	for (int i = 0; i < n; i++) {
		a[i] = (struct signed_answer){0};
		a[i].pub = f->kp->gw_pub;
		a[i].origin = rg_keystore_origin(f->kp->ks);
		treq_make(&t[i], &f->health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f->kp, &t[i].req, signed_answer_cb, &a[i]);
	}
	if (fail_commit)
		rg_store_fail_after(f->kp->st, 1); /* the COMMIT */
	keeper_run(&f->loop, f->kp);
	rg_store_fail_after(f->kp->st, 0);
	rg_keeper_drain(f->kp);
	for (int i = 0; i < n; i++) {
		CHECK_EQ_INT(a[i].count, 1);
		treq_free(&t[i]);
	}
}

/*
 * Batch after batch, each reply's receipt proves its entry in the
 * checkpoint its batch signed: the log's true root at that size (the
 * kept frontier carried from batch to batch, and read again after a batch
 * that failed had moved it), consistent with the checkpoints before.
 */
TEST(keeper_receipts_prove_each_entry_in_its_batch_s_checkpoint)
{
	static const int sizes[] = {3, 5, 2, 1, 4};
	struct fixture f;
	struct signed_answer a[8];
	uint8_t root[RG_HASHLEN], last_root[RG_HASHLEN];
	uint8_t proof[RG_TLOG_MAXPROOF][RG_HASHLEN];
	uint64_t size = 0, last = 0;

	fixture_open(&f);
	size = f.kp->audit_size;
	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		int n = sizes[b], fail = b == 2;

		signed_batch(&f, a, n, fail);
		if (fail) {
			/* Nothing of it stands, and no receipt was sent. */
			for (int i = 0; i < n; i++)
				CHECK_EQ_INT(a[i].status, 500);
			CHECK(f.kp->audit_size == size);
			continue;
		}
		size += (uint64_t)n;
		CHECK(rg_tlog_root(size, rg_audit_node, f.kp->st, root) == 0);
		for (int i = 0; i < n; i++) {
			size_t plen;

			CHECK_EQ_INT(a[i].status, 200);
			CHECKF(a[i].receipt_ok, "batch %zu: receipt %d", b, i);
			CHECK(a[i].seen.index == size - (uint64_t)n + (uint64_t)i);
			CHECK(a[i].seen.size == size);
			CHECK(memcmp(a[i].seen.root, root, sizeof(root)) == 0);
			CHECK(strcmp(a[i].seen.note, a[0].seen.note) == 0);
			if (i > 0 || last == 0)
				continue;
			CHECK(rg_tlog_consistency(last, size, rg_audit_node,
			                          f.kp->st, proof, &plen) == 0);
			CHECK(rg_merkle_verify_consistency(last, size, last_root,
			      root, (const uint8_t (*)[RG_HASHLEN])proof,
			      plen) == 0);
		}
		last = size;
		memcpy(last_root, root, sizeof(root));
	}
	/* Without the finisher (its thread could not start) the receipts
	 * are completed inline, the same way. */
	rg_finisher_close(f.kp->fin);
	f.kp->fin = NULL;
	signed_batch(&f, a, 3, 0);
	size += 3;
	CHECK(rg_tlog_root(size, rg_audit_node, f.kp->st, root) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(a[i].status, 200);
		CHECKF(a[i].receipt_ok, "inline receipt %d", i);
		CHECK(a[i].seen.size == size);
		CHECK(memcmp(a[i].seen.root, root, sizeof(root)) == 0);
	}
	fixture_close(&f);
}

/*
 * Hot exchanges run under the light savepoint (rg_exchange_light): one that
 * fails before its first write leaves the rest of its batch alone; one that
 * fails after a write (here: its record stored, its audit entry refused)
 * takes the whole batch down with it, and nothing of the batch is stored.
 */
/* Three submissions in one batch, the third's fail_at-th write failing. */
static void
submit_three(struct fixture *f, struct treq t[3], struct answer a[3],
             int fail_at)
{
	for (int i = 0; i < 3; i++) {
		treq_make(&t[i], &f->health, "POST", HAZARD_PATH, HAZARD_BODY);
		if (i == 2)
			rg_store_fail_after(f->kp->st, fail_at);
		rg_keeper_handle(f->kp, &t[i].req, answer_cb, &a[i]);
		rg_store_fail_after(f->kp->st, 0);
	}
	keeper_run(&f->loop, f->kp);
}

TEST(keeper_hot_exchange_failing_after_a_write_fails_its_whole_batch)
{
	struct fixture f;
	struct treq t[3];
	struct answer a[3] = {{0}};

	fixture_open(&f);
	/* Before any write (its nonce claim): only the third fails. */
	submit_three(&f, t, a, 1);
	CHECK_EQ_INT(a[0].status, 200);
	CHECK_EQ_INT(a[1].status, 200);
	CHECK_EQ_INT(a[2].status, 500);
	CHECK_EQ_STR(a[2].code, "storage_failed");
	CHECK_EQ_INT(record_count(&f), 2);
	CHECK_EQ_INT(stored_audit_size(&f), 2);
	for (int i = 0; i < 3; i++) {
		treq_free(&t[i]);
		a[i] = (struct answer){0};
	}
	/* After a write (claim, record in, entry refused): all three fail,
	 * none is stored, the log is whole. */
	submit_three(&f, t, a, 3);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(a[i].count, 1);
		CHECK_EQ_INT(a[i].status, 500);
		CHECK_EQ_STR(a[i].code, "storage_failed");
		treq_free(&t[i]);
	}
	CHECK_EQ_INT(record_count(&f), 2);
	CHECK_EQ_INT(stored_audit_size(&f), 2);
	CHECK_EQ_INT(f.kp->audit_size, 2);
	/* And the next batch goes through. */
	treq_make(&t[0], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	a[0] = (struct answer){0};
	rg_keeper_handle(f.kp, &t[0].req, answer_cb, &a[0]);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a[0].status, 200);
	CHECK_EQ_INT(record_count(&f), 3);
	CHECK_EQ_INT(stored_audit_size(&f), 3);
	treq_free(&t[0]);
	fixture_close(&f);
}

TEST(store_light_mark_gives_back_claims_and_refuses_undo_after_a_write)
{
	struct fixture f;
	rg_store *st;
	int64_t now = rg_keeper_now_ms();

	fixture_open(&f);
	st = f.kp->st;
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	/* A claim under a mark, undone: the nonce is free again. */
	CHECK(rg_store_mark(st) == RG_STORE_OK);
	CHECK(rg_store_mark(st) == RG_STORE_ERROR); /* marks do not nest */
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", now + 60000, now) ==
	      RG_STORE_OK);
	CHECK(rg_store_mark_undo(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "n1", now + 60000, now) ==
	      RG_STORE_OK);
	/* Kept: the claim stands. */
	CHECK(rg_store_mark(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "n2", now + 60000, now) ==
	      RG_STORE_OK);
	CHECK(rg_store_mark_keep(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k", "n2", now + 60000, now) ==
	      RG_STORE_EXISTS);
	/* A row written under the mark: undo refuses, the caller rolls back. */
	CHECK(rg_store_mark(st) == RG_STORE_OK);
	CHECK(rg_store_meta_put(st, "probe", "x", 1) == RG_STORE_OK);
	CHECK(rg_store_mark_undo(st) == RG_STORE_ERROR);
	CHECK(rg_store_mark_keep(st) == RG_STORE_ERROR); /* no mark left */
	CHECK(rg_store_rollback(st) == RG_STORE_OK);
	fixture_close(&f);
}

/* The id of the first record a submission's answer names, or "". */
struct id_answer {
	int count;
	char id[64];
};

static void
id_answer_cb(void *ctx, const struct rg_response *resp)
{
	struct id_answer *a = ctx;
	json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
	json_t *rec = json_array_get(json_object_get(json_object_get(j,
	    "result"), "records"), 0);
	const char *id = json_string_value(json_object_get(rec, "id"));

	a->count++;
	snprintf(a->id, sizeof(a->id), "%s", id != NULL ? id : "");
	json_decref(j);
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(keeper_record_ids_lead_with_their_time_and_sort_in_the_order_made)
{
	struct fixture f;
	struct treq t[3];
	struct id_answer a[3] = {{0}};
	int64_t before, after;

	fixture_open(&f);
	before = wall_ms();
	for (int i = 0; i < 3; i++) {
		struct timespec ms2 = {0, 2000000};

		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t[i].req, id_answer_cb, &a[i]);
		keeper_run(&f.loop, f.kp);
		nanosleep(&ms2, NULL); /* the next one a later millisecond */
	}
	after = wall_ms();
	for (int i = 0; i < 3; i++) {
		long long t_ms = 0;

		CHECK_EQ_INT(a[i].count, 1);
		CHECK_EQ_INT(strlen(a[i].id), 32);
		CHECK_EQ_INT(strspn(a[i].id, "0123456789abcdef"), 32);
		/* 48 bits of milliseconds, then 80 random ones. */
		CHECK(sscanf(a[i].id, "%12llx", &t_ms) == 1);
		CHECK(t_ms >= before && t_ms <= after);
		if (i > 0)
			CHECK(strcmp(a[i - 1].id, a[i].id) < 0);
	}
	/* Two of the same millisecond still differ (the random part). */
	CHECK(strcmp(a[0].id + 12, a[1].id + 12) != 0);
	for (int i = 0; i < 3; i++)
		treq_free(&t[i]);
	fixture_close(&f);
}
