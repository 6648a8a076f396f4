/*
 * test_auth_noted.c -- a request verified ahead (preverify.c) reaches
 * rg_auth_check with the Signature fields and base the helper verified;
 * auth.c takes them instead of parsing again, yet still runs every check
 * on them and trusts the note only for the key it reads itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sha256.h"
#include "gateway/keeper_int.h"
#include "gateway/preverify.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"

TEST(keeper_takes_the_noted_signature_fields_and_still_checks_key_and_nonce)
{
	struct fixture f;
	struct treq t[3];
	/* t[1] twice: the second is a replay, noted all the same. */
	struct rg_request *reqs[4];
	rg_pv_ticket tk[4];
	struct answer a[4] = {{0}};
	int noted[4] = {0};
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL);
	fixture_open(&f);
	for (int i = 0; i < 3; i++)
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	reqs[0] = &t[0].req;
	reqs[1] = &t[1].req;
	reqs[2] = &t[2].req;
	reqs[3] = &t[1].req;
	/* As keeper_main.c runs it: each request handled after its wait
	 * (all queued first: t[1]'s job is done before its replay's). */
	for (int i = 0; i < 4; i++)
		tk[i] = rg_preverify_add(pv, f.kp->st, reqs[i]);
	rg_preverify_settle(pv);
	for (int i = 0; i < 4; i++) {
		rg_preverify_wait(pv, tk[i]);
		noted[i] = reqs[i]->sig_ok && reqs[i]->pre_hs != NULL &&
		           reqs[i]->pre_base != NULL && reqs[i]->pre_baselen > 0;
		/* A note for some other key: the keeper must verify with the
		 * key it reads, over the noted base, and still accept. */
		if (i == 2)
			memset(reqs[i]->sig_pub, 0, sizeof(reqs[i]->sig_pub));
		rg_keeper_handle(f.kp, reqs[i], answer_cb, &a[i]);
		rg_preverify_done(pv, tk[i]);
	}
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(noted[0], 1);
	CHECK_EQ_INT(noted[1], 1);
	CHECK_EQ_INT(noted[2], 1);
	CHECK_EQ_INT(noted[3], 1);
	CHECK_EQ_INT(a[0].status, 200);
	CHECK_EQ_INT(a[1].status, 200);
	CHECK_EQ_INT(a[2].status, 200);
	CHECK_EQ_INT(a[3].status, 401);
	CHECK_EQ_STR(a[3].code, "replay");
	CHECK_EQ_INT(f.kp->stats.batches, 1);
	for (int i = 0; i < 3; i++)
		treq_free(&t[i]);
	fixture_close(&f);
	rg_preverify_free(pv);
}

TEST(keeper_refuses_a_noted_request_whose_key_was_revoked_in_the_batch)
{
	struct fixture f;
	struct treq t[2];
	struct rg_request *reqs[2];
	rg_pv_ticket tk[2];
	struct answer a = {0};
	struct rg_store_key key;
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL);
	fixture_open(&f);
	for (int i = 0; i < 2; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		reqs[i] = &t[i].req;
	}
	for (int i = 0; i < 2; i++)
		tk[i] = rg_preverify_add(pv, f.kp->st, reqs[i]);
	rg_preverify_settle(pv);
	rg_preverify_wait(pv, tk[0]);
	rg_preverify_wait(pv, tk[1]);
	CHECK(t[1].req.sig_ok && t[1].req.pre_hs != NULL);
	/* Revoked after the helper verified: the check the keeper runs on
	 * the noted fields reads the key inside the batch. */
	CHECK(rg_store_key_get(f.kp->st, f.health.keyid, &key) == RG_STORE_OK);
	snprintf(key.status, sizeof(key.status), "revoked");
	CHECK(rg_store_key_put(f.kp->st, &key) == RG_STORE_OK);
	rg_keeper_handle(f.kp, &t[1].req, answer_cb, &a);
	rg_preverify_done(pv, tk[0]);
	rg_preverify_done(pv, tk[1]);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a.count, 1);
	CHECK_EQ_INT(a.status, 401);
	CHECK_EQ_STR(a.code, "key_revoked");
	for (int i = 0; i < 2; i++)
		treq_free(&t[i]);
	fixture_close(&f);
	rg_preverify_free(pv);
}

TEST(keeper_verifies_a_noted_request_again_when_its_key_changed_in_the_batch)
{
	struct fixture f;
	struct treq t[2];
	struct rg_request *reqs[2];
	rg_pv_ticket tk[2];
	struct answer a = {0};
	struct rg_store_key key;
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL);
	fixture_open(&f);
	for (int i = 0; i < 2; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		reqs[i] = &t[i].req;
	}
	for (int i = 0; i < 2; i++)
		tk[i] = rg_preverify_add(pv, f.kp->st, reqs[i]);
	rg_preverify_settle(pv);
	rg_preverify_wait(pv, tk[0]);
	rg_preverify_wait(pv, tk[1]);
	CHECK(t[1].req.sig_ok && t[1].req.pre_hs != NULL);
	/* The key id now names another public key: the note (for the old
	 * one) is worth nothing, and the signature fails under the new. */
	CHECK(rg_store_key_get(f.kp->st, f.health.keyid, &key) == RG_STORE_OK);
	key.pub[0] ^= 0x01;
	CHECK(rg_store_key_put(f.kp->st, &key) == RG_STORE_OK);
	rg_keeper_handle(f.kp, &t[1].req, answer_cb, &a);
	rg_preverify_done(pv, tk[0]);
	rg_preverify_done(pv, tk[1]);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a.count, 1);
	CHECK_EQ_INT(a.status, 401);
	CHECK_EQ_STR(a.code, "signature_invalid");
	for (int i = 0; i < 2; i++)
		treq_free(&t[i]);
	fixture_close(&f);
	rg_preverify_free(pv);
}

TEST(keeper_takes_the_noted_body_digests_and_refuses_a_body_that_differs)
{
	struct fixture f;
	struct treq t[3];
	struct rg_request *reqs[3];
	rg_pv_ticket tk[3];
	struct answer a[3] = {{0}};
	uint8_t want[32];
	char *other = strdup(HAZARD_BODY);
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL && other != NULL);
	fixture_open(&f);
	for (int i = 0; i < 3; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		reqs[i] = &t[i].req;
	}
	/* Same length, one byte changed: the signature (over the
	 * Content-Digest header, not the body) still verifies. */
	other[1] = other[1] == 'x' ? 'y' : 'x';
	t[2].req.body = (uint8_t *)other;
	for (int i = 0; i < 3; i++)
		tk[i] = rg_preverify_add(pv, f.kp->st, reqs[i]);
	rg_preverify_settle(pv);
	for (int i = 0; i < 3; i++) {
		rg_preverify_wait(pv, tk[i]);
		if (i == 1) {
			const struct rg_sha256_part parts[] = {
			    {t[1].req.pre_base, t[1].req.pre_baselen},
			    {t[1].req.body, t[1].req.body_len}};

			CHECK(t[1].req.pre_digest != NULL);
			rg_sha256_v(want, parts, 2);
			CHECK(memcmp(want, t[1].req.pre_digest, 32) == 0);
			CHECK_EQ_INT(t[1].req.pre_cd, 0);
		}
		if (i == 2) {
			CHECK(t[2].req.sig_ok && t[2].req.pre_digest != NULL);
			CHECK(t[2].req.pre_cd != 0);
		}
		rg_keeper_handle(f.kp, reqs[i], answer_cb, &a[i]);
		rg_preverify_done(pv, tk[i]);
	}
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a[0].status, 200);
	CHECK_EQ_INT(a[1].status, 200);
	CHECK_EQ_INT(a[2].status, 400);
	CHECK_EQ_STR(a[2].code, "digest_mismatch");
	for (int i = 0; i < 3; i++)
		treq_free(&t[i]);
	free(other);
	fixture_close(&f);
	rg_preverify_free(pv);
}
