/*
 * test_reencrypt.c -- data-key versions in the keystore, and the keeper's
 * re-encryption step by step in-process: bounded steps, retargeting, a
 * failed step, a retirement refused while records still need the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"

static const char *const rg_rx_resources[] = {"cases", "clinics"};

TEST(keystore_data_rotation_keeps_the_old_version_readable_until_retired)
{
	uint8_t master[RG_KEYSTORE_MASTERLEN], v1[32];
	rg_keystore_secret *s;
	rg_keystore *ks;
	char path[600], err[256];
	size_t n = 0;
	uint32_t v = 0;
	int why = -1;

	memset(master, 7, sizeof(master));
	snprintf(path, sizeof(path), "%s/ks", rg_test_tmpdir());
	CHECKF(rg_keystore_create(path, master, "gw.example/log", rg_rx_resources,
	                          2, err, sizeof(err)) == 0, "%s", err);
	s = rg_keystore_secret_master(master);
	CHECK(s != NULL);
	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	memcpy(v1, rg_keystore_data_key(ks, "cases", NULL), 32);
	rg_keystore_free(ks);

	/* One resource: only it moves. */
	ks = rg_keystore_rotate_data(path, s, "cases", &n, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK_EQ_INT(n, 1);
	CHECK(rg_keystore_data_key(ks, "cases", &v) != NULL);
	CHECK_EQ_INT(v, 2);
	CHECK(sodium_memcmp(rg_keystore_data_key(ks, "cases", NULL), v1, 32) != 0);
	CHECK(rg_keystore_data_key(ks, "clinics", &v) != NULL);
	CHECK_EQ_INT(v, 1);
	rg_keystore_free(ks);
	/* Every resource. */
	ks = rg_keystore_rotate_data(path, s, NULL, &n, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK_EQ_INT(n, 2);
	CHECK(rg_keystore_data_key(ks, "cases", &v) != NULL);
	CHECK_EQ_INT(v, 3);
	rg_keystore_free(ks);
	CHECK(rg_keystore_rotate_data(path, s, "nothing", &n, err, sizeof(err))
	      == NULL);

	/* Version 1 is retiring: read, not yet destroyable; the active
	 * version is neither retired nor destroyed. */
	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK(sodium_memcmp(rg_keystore_data_key_at(ks, "cases", 1), v1, 32) == 0);
	CHECK_EQ_INT(rg_keystore_status_check(ks, RG_KEYSTORE_DATA, "cases", 1,
	                                      RG_KEYSTORE_DESTROYED, NULL),
	             RG_KEYSTORE_WHY_STATE);
	CHECK_EQ_INT(rg_keystore_status_check(ks, RG_KEYSTORE_DATA, "cases", 3,
	                                      RG_KEYSTORE_RETIRED, NULL),
	             RG_KEYSTORE_WHY_ACTIVE);
	CHECK_EQ_INT(rg_keystore_status_check(ks, RG_KEYSTORE_DATA, "cases", 9,
	                                      RG_KEYSTORE_RETIRED, NULL),
	             RG_KEYSTORE_WHY_NOTFOUND);
	CHECK_EQ_INT(rg_keystore_status_check(ks, RG_KEYSTORE_KEK, NULL, 1,
	                                      RG_KEYSTORE_RETIRED, NULL),
	             RG_KEYSTORE_WHY_ACTIVE);
	rg_keystore_free(ks);
	CHECK(rg_keystore_set_status(path, s, RG_KEYSTORE_DATA, "cases", 1,
	                             RG_KEYSTORE_DESTROYED, &why, err,
	                             sizeof(err)) == NULL);
	CHECK_EQ_INT(why, RG_KEYSTORE_WHY_STATE);

	/* Retired: no longer read, but pseudonyms still derive from it. */
	ks = rg_keystore_set_status(path, s, RG_KEYSTORE_DATA, "cases", 1,
	                            RG_KEYSTORE_RETIRED, &why, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK(rg_keystore_data_key_at(ks, "cases", 1) == NULL);
	CHECK(rg_keystore_data_key_at(ks, "cases", 2) != NULL);
	CHECK(sodium_memcmp(rg_keystore_pseudonym_key(ks, "cases", &v), v1, 32)
	      == 0);
	CHECK_EQ_INT(v, 1);
	rg_keystore_free(ks);
	/* Destroyed: its bytes leave the file, the file still opens. */
	ks = rg_keystore_set_status(path, s, RG_KEYSTORE_DATA, "cases", 1,
	                            RG_KEYSTORE_DESTROYED, &why, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK(rg_keystore_pseudonym_key(ks, "cases", &v) != NULL);
	CHECK_EQ_INT(v, 2);
	CHECK_EQ_INT(rg_keystore_status_check(ks, RG_KEYSTORE_DATA, "cases", 1,
	                                      RG_KEYSTORE_DESTROYED, NULL),
	             RG_KEYSTORE_WHY_STATE);
	for (size_t i = 0; i < rg_keystore_count(ks); i++) {
		struct rg_keystore_info in;

		CHECK(rg_keystore_info(ks, i, &in) == 0);
		if (in.purpose == RG_KEYSTORE_DATA && in.version == 1 &&
		    strcmp(in.resource, "cases") == 0)
			CHECK_EQ_INT(in.status, RG_KEYSTORE_DESTROYED);
	}
	rg_keystore_free(ks);
	rg_keystore_secret_free(s);
}

TEST(keystore_refuses_to_destroy_a_kek_that_still_wraps_a_data_key)
{
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	rg_keystore_secret *s;
	rg_keystore *ks;
	char path[600], err[256];
	size_t n = 0;
	uint32_t v = 0;
	int why = -1;

	memset(master, 9, sizeof(master));
	snprintf(path, sizeof(path), "%s/ks", rg_test_tmpdir());
	CHECKF(rg_keystore_create(path, master, "gw.example/log", rg_rx_resources,
	                          2, err, sizeof(err)) == 0, "%s", err);
	s = rg_keystore_secret_master(master);
	ks = rg_keystore_rotate_kek(path, s, &v, &n, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	/* KEK 1 is retired and wraps nothing: it goes; KEK 2 wraps all. */
	ks = rg_keystore_set_status(path, s, RG_KEYSTORE_KEK, NULL, 1,
	                            RG_KEYSTORE_DESTROYED, &why, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	CHECK(rg_keystore_set_status(path, s, RG_KEYSTORE_KEK, NULL, 2,
	                             RG_KEYSTORE_DESTROYED, &why, err,
	                             sizeof(err)) == NULL);
	CHECK_EQ_INT(why, RG_KEYSTORE_WHY_ACTIVE);
	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK(rg_keystore_data_key(ks, "clinics", NULL) != NULL);
	rg_keystore_free(ks);
	rg_keystore_secret_free(s);
}

/* Hand one request to the keeper and run the loop once (its batch
 * commits); the answer in a. */
static void
rx_exchange(struct fixture *f, const struct rg_client_key *k,
            const char *method, const char *path, const char *body,
            struct answer *a)
{
	struct treq t;

	memset(a, 0, sizeof(*a));
	treq_make(&t, k, method, path, body);
	rg_keeper_handle(f->kp, &t.req, answer_cb, a);
	keeper_run(&f->loop, f->kp);
	CHECK_EQ_INT(a->count, 1);
	treq_free(&t);
}

TEST(reencryption_runs_in_bounded_steps_and_retire_waits_for_it)
{
	struct fixture f;
	struct answer a;
	struct rg_store_reencrypt job;
	json_t *arr = json_array();
	char *body;
	int64_t left = 0, last_done = 0;
	int steps = 0;

	fixture_open(&f);
	for (int i = 0; i < 300; i++)
		json_array_append_new(arr, json_loads(HAZARD_BODY, 0, NULL));
	body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	rx_exchange(&f, &f.health, "POST", HAZARD_PATH, body, &a);
	CHECK_EQ_INT(a.status, 200);
	free(body);
	rx_exchange(&f, &f.admin, "POST", "/v1/admin/data-keys/rotate",
	            "{\"resource\": \"hazard-declaration\"}", &a);
	CHECK_EQ_INT(a.status, 200);
	/* Committed and in use, the records not yet re-sealed: version 1
	 * is still needed, so it cannot be retired. */
	rx_exchange(&f, &f.admin, "POST",
	            "/v1/admin/data-keys/hazard-declaration/1/retire", "", &a);
	CHECK_EQ_INT(a.status, 409);
	CHECK_EQ_STR(a.code, "admin_conflict");
	/* One step per loop turn, never more than 128 versions each. */
	for (int i = 0; i < 50; i++) {
		keeper_run(&f.loop, f.kp);
		CHECK(rg_store_reencrypt_get(f.kp->st, "hazard-declaration", &job)
		      != RG_STORE_ERROR);
		if (job.target == 0)
			continue;
		CHECK_EQ_INT(job.target, 2);
		CHECK(job.done - last_done <= 128);
		steps += job.done > last_done;
		last_done = job.done;
		if (strcmp(job.state, "done") == 0)
			break;
	}
	CHECK_EQ_STR(job.state, "done");
	CHECK_EQ_INT(job.done, 300);
	CHECK_EQ_INT(job.total, 300);
	CHECK(steps >= 3);
	CHECK(rg_store_records_sealed_under(f.kp->st, "hazard-declaration", 1, 0,
	                                    &left) == RG_STORE_OK);
	CHECK_EQ_INT(left, 0);
	CHECK(rg_store_records_sealed_under(f.kp->st, "hazard-declaration", 2, 0,
	                                    &left) == RG_STORE_OK);
	CHECK_EQ_INT(left, 300);
	rx_exchange(&f, &f.admin, "POST",
	            "/v1/admin/data-keys/hazard-declaration/1/retire", "", &a);
	CHECK_EQ_INT(a.status, 200);
	rx_exchange(&f, &f.admin, "POST",
	            "/v1/admin/data-keys/hazard-declaration/1/destroy", "", &a);
	CHECK_EQ_INT(a.status, 200);
	CHECK(rg_keystore_data_key_at(f.kp->ks, "hazard-declaration", 1) == NULL);
	/* The handle is idle again once there is no work. */
	keeper_run(&f.loop, f.kp);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(f.kp->reenc_running, 0);
	fixture_close(&f);
}

TEST(reencryption_step_that_fails_to_store_changes_nothing_and_resumes)
{
	struct fixture f;
	struct answer a;
	struct rg_store_reencrypt job, before;
	json_t *arr = json_array();
	char *body;

	fixture_open(&f);
	for (int i = 0; i < 200; i++)
		json_array_append_new(arr, json_loads(HAZARD_BODY, 0, NULL));
	body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	rx_exchange(&f, &f.health, "POST", HAZARD_PATH, body, &a);
	CHECK_EQ_INT(a.status, 200);
	free(body);
	rx_exchange(&f, &f.admin, "POST", "/v1/admin/data-keys/rotate",
	            "{\"resource\": \"hazard-declaration\"}", &a);
	CHECK_EQ_INT(a.status, 200);
	/* The job's first turn sets it up; then a step whose writes fail. */
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(rg_store_reencrypt_get(f.kp->st, "hazard-declaration",
	                                    &before), RG_STORE_OK);
	CHECK_EQ_STR(before.state, "running");
	rg_store_fail_after(f.kp->st, 2);
	keeper_run(&f.loop, f.kp);
	rg_store_fail_after(f.kp->st, 0);
	CHECK_EQ_INT(f.kp->reenc_running, 0);
	CHECK_EQ_INT(rg_store_reencrypt_get(f.kp->st, "hazard-declaration", &job),
	             RG_STORE_OK);
	CHECK_EQ_INT(job.done, before.done);
	CHECK_EQ_INT(job.cursor, before.cursor);
	/* Reads still work, under the old key; a while later the next
	 * committed batch wakes the job and it ends. */
	rx_exchange(&f, &f.health, "GET",
	            "/v1/resources/hazard-declaration/changes", "", &a);
	CHECK_EQ_INT(a.status, 200);
	usleep(1100 * 1000);
	rx_exchange(&f, &f.health, "POST", HAZARD_PATH, HAZARD_BODY, &a);
	CHECK_EQ_INT(a.status, 200);
	for (int i = 0; i < 20 && strcmp(job.state, "done") != 0; i++) {
		keeper_run(&f.loop, f.kp);
		CHECK_EQ_INT(rg_store_reencrypt_get(f.kp->st, "hazard-declaration",
		                                    &job), RG_STORE_OK);
	}
	CHECK_EQ_STR(job.state, "done");
	CHECK_EQ_INT(job.done, 200);
	fixture_close(&f);
}

TEST(a_second_rotation_during_a_job_retargets_it_to_the_newest_version)
{
	struct fixture f;
	struct answer a;
	struct rg_store_reencrypt job = {0};
	json_t *arr = json_array();
	char *body;
	int64_t n1 = 0, n2 = 0;

	fixture_open(&f);
	for (int i = 0; i < 300; i++)
		json_array_append_new(arr, json_loads(HAZARD_BODY, 0, NULL));
	body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	rx_exchange(&f, &f.health, "POST", HAZARD_PATH, body, &a);
	CHECK_EQ_INT(a.status, 200);
	free(body);
	rx_exchange(&f, &f.admin, "POST", "/v1/admin/data-keys/rotate",
	            "{\"resource\": \"hazard-declaration\"}", &a);
	CHECK_EQ_INT(a.status, 200);
	/* Set up, and one step under version 2. */
	keeper_run(&f.loop, f.kp);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(rg_store_reencrypt_get(f.kp->st, "hazard-declaration", &job),
	             RG_STORE_OK);
	CHECK_EQ_INT(job.target, 2);
	CHECK_EQ_INT(job.done, 128);
	CHECK(rg_store_records_sealed_under(f.kp->st, "hazard-declaration", 1, 0,
	                                    &n1) == RG_STORE_OK);
	CHECK(rg_store_records_sealed_under(f.kp->st, "hazard-declaration", 2, 0,
	                                    &n2) == RG_STORE_OK);
	CHECK_EQ_INT(n1, 172);
	CHECK_EQ_INT(n2, 128);
	/* Every resource now: the job starts over for version 3, counting
	 * the versions under 1 and under 2. */
	rx_exchange(&f, &f.admin, "POST", "/v1/admin/data-keys/rotate", "{}", &a);
	CHECK_EQ_INT(a.status, 200);
	for (int i = 0; i < 60 && (job.target != 3 ||
	                           strcmp(job.state, "done") != 0); i++) {
		keeper_run(&f.loop, f.kp);
		CHECK_EQ_INT(rg_store_reencrypt_get(f.kp->st, "hazard-declaration",
		                                    &job), RG_STORE_OK);
	}
	CHECK_EQ_INT(job.target, 3);
	CHECK_EQ_STR(job.state, "done");
	CHECK_EQ_INT(job.total, 300);
	CHECK_EQ_INT(job.done, 300);
	rx_exchange(&f, &f.admin, "POST",
	            "/v1/admin/data-keys/hazard-declaration/2/retire", "", &a);
	CHECK_EQ_INT(a.status, 200);
	rx_exchange(&f, &f.admin, "POST",
	            "/v1/admin/data-keys/hazard-declaration/1/retire", "", &a);
	CHECK_EQ_INT(a.status, 200);
	/* Records read under version 3 and every reader is answered. */
	rx_exchange(&f, &f.health, "GET",
	            "/v1/resources/hazard-declaration/changes", "", &a);
	CHECK_EQ_INT(a.status, 200);
	fixture_close(&f);
}
