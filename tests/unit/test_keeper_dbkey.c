/*
 * test_keeper_dbkey.c -- the database rekey inside the keeper: it runs once
 * the batch scheduling it commits (a second request in the same batch is
 * refused), never when that batch fails, and a copy stopped by a storage
 * fault leaves the database under the key in use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gateway/keeper_int.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"

#define ROTATE "/v1/admin/db-key/rotate"

static void
dbk_submit_ok(struct fixture *f)
{
	struct treq t;
	struct answer a = {0};

	treq_make(&t, &f->health, "POST", HAZARD_PATH, HAZARD_BODY);
	rg_keeper_handle(f->kp, &t.req, answer_cb, &a);
	keeper_run(&f->loop, f->kp);
	CHECK_EQ_INT(a.status, 200);
	treq_free(&t);
}

/* The keeper's database opens with the key it says it is under. */
static void
dbk_consistent(struct fixture *f)
{
	char err[256];

	CHECK(rg_keystore_db_previous(f->kp->ks, NULL) == NULL);
	CHECK_EQ_INT(rg_store_key_opens(f->kp->cfg.database,
	                                rg_keystore_db_key(f->kp->ks), err,
	                                sizeof(err)), 1);
}

TEST(dbkey_rotation_runs_once_after_commit_and_a_second_in_the_batch_is_refused)
{
	struct fixture f;
	struct treq t1, t2;
	struct answer a1 = {0}, a2 = {0};

	fixture_open(&f);
	CHECK_EQ_INT(rg_keystore_db_version(f.kp->ks), 1);
	treq_make(&t1, &f.admin, "POST", ROTATE, "");
	treq_make(&t2, &f.admin, "POST", ROTATE, "");
	/* Both handled before the loop commits: one batch. */
	rg_keeper_handle(f.kp, &t1.req, answer_cb, &a1);
	rg_keeper_handle(f.kp, &t2.req, answer_cb, &a2);
	CHECK_EQ_INT(a1.count, 0);  /* held for the commit */
	CHECK_EQ_INT(rg_keystore_db_version(f.kp->ks), 1);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a1.status, 200);
	CHECK_EQ_INT(a2.status, 409);
	CHECK_EQ_STR(a2.code, "admin_conflict");
	/* Carried out right after that commit, once. */
	CHECK_EQ_INT(rg_keystore_db_version(f.kp->ks), 2);
	CHECK_EQ_INT(f.kp->dbrekey.last, 1);
	CHECK_EQ_INT(f.kp->dbrekey.scheduled, 0);
	CHECK_EQ_INT(f.kp->committed_size, f.kp->audit_size);
	dbk_consistent(&f);
	dbk_submit_ok(&f);
	treq_free(&t1);
	treq_free(&t2);
	fixture_close(&f);
}

TEST(dbkey_rotation_whose_batch_fails_never_runs)
{
	struct fixture f;
	int saw_failure = 0, saw_stopped = 0, saw_done = 0;

	fixture_open(&f);
	for (int k = 1; k <= 6; k++) {
		struct treq t;
		struct answer a = {0};
		uint32_t v = rg_keystore_db_version(f.kp->ks);

		treq_make(&t, &f.admin, "POST", ROTATE, "");
		f.kp->dbrekey.last = 0;
		rg_store_fail_after(f.kp->st, k);
		rg_keeper_handle(f.kp, &t.req, answer_cb, &a);
		keeper_run(&f.loop, f.kp);
		rg_store_fail_after(f.kp->st, 0);
		CHECK_EQ_INT(a.count, 1);
		if (a.status != 200) {
			/* Not entered: nothing promised, nothing done. */
			saw_failure = 1;
			CHECK_EQ_STR(a.code, "storage_failed");
			CHECK_EQ_INT(rg_keystore_db_version(f.kp->ks), v);
			CHECK_EQ_INT(f.kp->dbrekey.last, 0);
		} else if (rg_keystore_db_version(f.kp->ks) == v) {
			/* Entered, then the fault stopped the copy. */
			saw_stopped = 1;
			CHECK_EQ_INT(f.kp->dbrekey.last, -1);
		} else {
			saw_done = 1;
			CHECK_EQ_INT(rg_keystore_db_version(f.kp->ks),
			             rg_dbrekey_next_version(f.kp->ks) - 1);
		}
		CHECK_EQ_INT(f.kp->dbrekey.scheduled, 0);
		dbk_consistent(&f);
		treq_free(&t);
	}
	CHECK(saw_failure);
	CHECK(saw_stopped || saw_done);
	/* The keeper goes on, and a rekey without faults works. */
	dbk_submit_ok(&f);
	{
		struct treq t;
		struct answer a = {0};
		uint32_t v = rg_keystore_db_version(f.kp->ks);

		treq_make(&t, &f.admin, "POST", ROTATE, "");
		rg_keeper_handle(f.kp, &t.req, answer_cb, &a);
		keeper_run(&f.loop, f.kp);
		CHECK_EQ_INT(a.status, 200);
		CHECK(rg_keystore_db_version(f.kp->ks) > v);
		CHECK_EQ_INT(f.kp->dbrekey.last, 1);
		treq_free(&t);
	}
	dbk_consistent(&f);
	dbk_submit_ok(&f);
	fixture_close(&f);
}
