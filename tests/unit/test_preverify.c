/*
 * test_preverify.c -- signatures verified ahead on the helper thread
 * (preverify.c): only good signatures get a note, and the keeper's own
 * check (auth.c) uses a note only for the very key and base it computes,
 * so a note can never let a bad signature through.
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
#include "gateway/preverify.h"
#include "tests/test.h"

#define HAZARD_PATH "/v1/resources/hazard-declaration/records"
#define HAZARD_BODY                                                            \
	"{\"employer\": \"甲公司\", \"employer_credit_code\": \"9111\","          \
	" \"hazard_categories\": \"噪声\", \"worker_count\": 10,"                   \
	" \"exposed_worker_count\": 3, \"declaration_type\": \"首次申报\","         \
	" \"declaration_date\": \"2026-02-01\"}"

struct treq {
	struct rg_request req;
	struct rg_header hdrs[4];
	char *digest, *sig_input, *sig;
};

struct answer {
	int status;
	char code[64];
	int count;
};

static const char *
treq_header(void *ctx, const char *lname)
{
	struct treq *t = ctx;
	return strcmp(lname, "content-digest") == 0 ? t->digest : NULL;
}

/* A request signed by the demo's health key, as the front would frame it. */
static void
treq_make(struct treq *t, const struct rg_client_key *k, const char *method,
          const char *path, const char *body)
{
	static const char *comps[] = {"@method", "@path", "@query", "content-digest"};
	struct rg_httpsig_msg msg = {method, path, NULL, "gw", treq_header, t};
	char nonce[33];
	uint8_t raw[16];

	memset(t, 0, sizeof(*t));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
	t->digest = rg_content_digest((const uint8_t *)body, strlen(body));
	CHECK(rg_httpsig_sign(k->key, k->keyid, &msg, comps, 4, (int64_t)time(NULL),
	                      0, nonce, &t->sig_input, &t->sig) == RG_HTTPSIG_OK);
	snprintf(t->req.method, sizeof(t->req.method), "%s", method);
	t->req.path = t->req.target = (char *)path;
	t->hdrs[0] = (struct rg_header){"host", "gw"};
	t->hdrs[1] = (struct rg_header){"content-digest", t->digest};
	t->hdrs[2] = (struct rg_header){"signature-input", t->sig_input};
	t->hdrs[3] = (struct rg_header){"signature", t->sig};
	t->req.headers = t->hdrs;
	t->req.nheaders = 4;
	t->req.body = (uint8_t *)body;
	t->req.body_len = strlen(body);
	snprintf(t->req.peer, sizeof(t->req.peer), "127.0.0.1:1");
}

static void
treq_free(struct treq *t)
{
	free(t->digest);
	free(t->sig_input);
	free(t->sig);
}

static void
answer_cb(void *ctx, const struct rg_response *resp)
{
	struct answer *a = ctx;
	json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
	const char *code = json_string_value(json_object_get(
	    json_object_get(j, "error"), "code"));

	a->status = resp->status;
	snprintf(a->code, sizeof(a->code), "%s", code ? code : "");
	a->count++;
	json_decref(j);
}

struct fixture {
	uv_loop_t loop;
	rg_keeper *kp;
	struct rg_client_key health;
};

static void
fixture_open(struct fixture *f)
{
	struct rg_config cfg;
	char dir[512], path[700], err[1024];

	snprintf(dir, sizeof(dir), "%s/demo", rg_test_tmpdir());
	CHECKF(rg_demo_init(dir, err, sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/recgate.conf", dir);
	rg_config_defaults(&cfg);
	CHECKF(rg_config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(uv_loop_init(&f->loop) == 0);
	f->kp = rg_keeper_open(&cfg, &f->loop, err, sizeof(err));
	CHECKF(f->kp != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/clients/health.key", dir);
	CHECKF(rg_client_key_load(path, &f->health, err, sizeof(err)) == 0, "%s", err);
}

static void
fixture_close(struct fixture *f)
{
	rg_client_key_clear(&f->health);
	rg_keeper_close(f->kp);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&f->loop) == 0);
}

TEST(preverify_notes_good_signatures_and_nothing_else)
{
	struct fixture f;
	struct treq t[6];
	struct rg_request *reqs[6];
	struct rg_store_key key;
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL);
	fixture_open(&f);
	for (int i = 0; i < 6; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		reqs[i] = &t[i].req;
	}
	/* Signed for another path: the base differs, the signature fails. */
	t[1].req.path = t[1].req.target = (char *)"/v1/resources/other/records";
	/* No signature at all. */
	t[3].req.nheaders = 2;
	rg_preverify_run(pv, f.kp->st, reqs, 6);
	CHECK(rg_store_key_get(f.kp->st, f.health.keyid, &key) == RG_STORE_OK);
	/* The first of a run is the keeper's to verify while the helper
	 * starts on the others: no note. */
	CHECK_EQ_INT(t[0].req.sig_ok, 0);
	CHECK_EQ_INT(t[1].req.sig_ok, 0);
	CHECK_EQ_INT(t[2].req.sig_ok, 1);
	CHECK_EQ_INT(t[3].req.sig_ok, 0);
	CHECK_EQ_INT(t[4].req.sig_ok, 1);
	CHECK_EQ_INT(t[5].req.sig_ok, 1);
	CHECK(memcmp(t[2].req.sig_pub, key.pub, 32) == 0);
	/* Each note is for its own request's base. */
	CHECK(memcmp(t[2].req.sig_hash, t[4].req.sig_hash, 32) != 0);
	for (int i = 0; i < 6; i++)
		treq_free(&t[i]);
	fixture_close(&f);
	rg_preverify_free(pv);
}

TEST(keeper_ignores_a_note_that_does_not_match_the_signature_it_checks)
{
	struct fixture f;
	struct treq good, bad, other;
	struct answer a = {0}, b = {0}, c = {0};

	fixture_open(&f);
	treq_make(&good, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	treq_make(&bad, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	treq_make(&other, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	/* A genuine note, for good's own signature and base. */
	{
		struct rg_request *one[2] = {&other.req, &good.req};
		rg_preverify *pv = rg_preverify_new();

		CHECK(pv != NULL);
		rg_preverify_run(pv, f.kp->st, one, 2);
		rg_preverify_free(pv);
	}
	CHECK_EQ_INT(good.req.sig_ok, 1);
	/* bad is signed for another path, yet carries good's note (key and
	 * hash): the keeper verifies it itself and refuses it. */
	bad.req.path = bad.req.target = (char *)"/v1/resources/other/records";
	bad.req.sig_ok = 1;
	memcpy(bad.req.sig_pub, good.req.sig_pub, 32);
	memcpy(bad.req.sig_hash, good.req.sig_hash, 32);
	rg_keeper_handle(f.kp, &bad.req, answer_cb, &b);
	/* A good request with a wrong note is verified inline and passes. */
	CHECK_EQ_INT(other.req.sig_ok, 0);
	other.req.sig_ok = 1;
	memcpy(other.req.sig_pub, good.req.sig_pub, 32);
	memset(other.req.sig_hash, 0, 32);
	rg_keeper_handle(f.kp, &other.req, answer_cb, &c);
	rg_keeper_handle(f.kp, &good.req, answer_cb, &a);
	uv_run(&f.loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(b.count, 1);
	CHECK_EQ_INT(b.status, 401);
	CHECK_EQ_STR(b.code, "signature_invalid");
	CHECK_EQ_INT(c.status, 200);
	CHECK_EQ_INT(a.status, 200);
	treq_free(&good);
	treq_free(&bad);
	treq_free(&other);
	fixture_close(&f);
}
