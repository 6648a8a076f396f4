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
		uv_run(&f.loop, UV_RUN_NOWAIT);
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
	uv_run(&f.loop, UV_RUN_NOWAIT);
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
		uv_run(&f.loop, UV_RUN_NOWAIT);
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
	uv_run(&f.loop, UV_RUN_NOWAIT);
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
