/*
 * test_grant_keeper.c -- the keeper's policy snapshot across a grant step:
 * it changes only when the batch holding the step commits, and a batch
 * that fails leaves the old snapshot in force.
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

struct gk_req {
	struct rg_request req;
	struct rg_header hdrs[4];
	char *digest, *sig_input, *sig;
	char path[128];
};

struct gk_answer {
	int status;
	int count;
	json_t *body;
};

static const char *
gk_header(void *ctx, const char *lname)
{
	struct gk_req *t = ctx;

	return strcmp(lname, "content-digest") == 0 ? t->digest : NULL;
}

static void
gk_make(struct gk_req *t, const struct rg_client_key *k, const char *path,
        const char *body)
{
	static const char *comps[] = {"@method", "@path", "@query", "content-digest"};
	struct rg_httpsig_msg msg = {"POST", NULL, NULL, "gw", gk_header, t};
	char nonce[33];
	uint8_t raw[16];

	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "%s", path);
	msg.path = t->path;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
	t->digest = rg_content_digest((const uint8_t *)body, strlen(body));
	CHECK(rg_httpsig_sign(k->key, k->keyid, &msg, comps, 4, (int64_t)time(NULL),
	                      0, nonce, &t->sig_input, &t->sig) == RG_HTTPSIG_OK);
	snprintf(t->req.method, sizeof(t->req.method), "POST");
	t->req.path = t->req.target = t->path;
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
gk_free(struct gk_req *t)
{
	free(t->digest);
	free(t->sig_input);
	free(t->sig);
}

static void
gk_answer_cb(void *ctx, const struct rg_response *resp)
{
	struct gk_answer *a = ctx;

	a->status = resp->status;
	a->count++;
	json_decref(a->body);
	a->body = json_loadb(resp->body, resp->body_len, 0, NULL);
}

static void
gk_key(const char *dir, const char *who, struct rg_client_key *k)
{
	char path[700], err[512];

	snprintf(path, sizeof(path), "%s/clients/%s.key", dir, who);
	CHECKF(rg_client_key_load(path, k, err, sizeof(err)) == 0, "%s", err);
}

/* The medsec read of injury-insurance-fee under the snapshot in force. */
static const char *
gk_read_reason(rg_keeper *kp)
{
	struct rg_policy_request pr = {
		.department = "medsec", .action = RG_ACT_READ,
		.resource = "injury-insurance-fee", .purpose = "医保核对",
		.now_ms = (int64_t)time(NULL) * 1000,
	};
	struct rg_decision d;

	rg_policy_decide(kp->pol, &pr, &d);
	return rg_reason_code(d.reason);
}

TEST(grant_step_changes_the_snapshot_only_when_its_batch_commits)
{
	char dir[512], path[700], err[1024], body[512], v1[65];
	struct rg_client_key medsec, tax;
	struct rg_config cfg;
	struct gk_answer a = {0};
	struct gk_req t;
	uv_loop_t loop;
	rg_keeper *kp;
	const char *id;
	char gid[64];

	snprintf(dir, sizeof(dir), "%s/demo", rg_test_tmpdir());
	CHECKF(rg_demo_init(dir, err, sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/recgate.conf", dir);
	rg_config_defaults(&cfg);
	CHECKF(rg_config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(uv_loop_init(&loop) == 0);
	kp = rg_keeper_open(&cfg, &loop, err, sizeof(err));
	CHECKF(kp != NULL, "%s", err);
	gk_key(dir, "medsec", &medsec);
	gk_key(dir, "tax", &tax);

	snprintf(body, sizeof(body), "{\"resource\": \"injury-insurance-fee\","
	         " \"fields\": {\"employer\": \"raw\"}, \"purpose\": \"医保核对\","
	         " \"scenario\": \"s\", \"not_before\": 0, \"not_after\": %lld}",
	         (long long)time(NULL) * 1000 + 86400000);
	gk_make(&t, &medsec, "/v1/grants", body);
	rg_keeper_handle(kp, &t.req, gk_answer_cb, &a);
	uv_run(&loop, UV_RUN_NOWAIT);
	rg_keeper_drain(kp); /* the finisher gives the batch back */
	CHECK_EQ_INT(a.status, 200);
	id = json_string_value(json_object_get(json_object_get(json_object_get(
	    a.body, "result"), "grant"), "id"));
	CHECK(id != NULL);
	snprintf(gid, sizeof(gid), "%s", id);
	gk_free(&t);
	/* The pending request is in the snapshot now. */
	CHECK_EQ_INT(rg_policy_grant_count(kp->pol), 1);
	CHECK_EQ_STR(gk_read_reason(kp), "grant_pending");
	snprintf(v1, sizeof(v1), "%s", rg_policy_version(kp->pol));

	/* The approval's batch fails at COMMIT: nothing changes. */
	snprintf(path, sizeof(path), "/v1/grants/%s/approve", gid);
	gk_make(&t, &tax, path, "{}");
	a.count = 0;
	rg_keeper_handle(kp, &t.req, gk_answer_cb, &a);
	/* Held, and the snapshot has not moved while the batch is open. */
	CHECK_EQ_INT(a.count, 0);
	CHECK_EQ_STR(rg_policy_version(kp->pol), v1);
	rg_store_fail_after(kp->st, 1);
	uv_run(&loop, UV_RUN_NOWAIT);
	rg_keeper_drain(kp); /* the finisher gives the batch back */
	rg_store_fail_after(kp->st, 0);
	CHECK_EQ_INT(a.count, 1);
	CHECK_EQ_INT(a.status, 500);
	CHECK_EQ_STR(rg_policy_version(kp->pol), v1);
	CHECK_EQ_STR(gk_read_reason(kp), "grant_pending");
	gk_free(&t);

	/* Again, and it commits: the new snapshot is in force before the
	 * reply is released. */
	gk_make(&t, &tax, path, "{}");
	a.count = 0;
	rg_keeper_handle(kp, &t.req, gk_answer_cb, &a);
	uv_run(&loop, UV_RUN_NOWAIT);
	rg_keeper_drain(kp); /* the finisher gives the batch back */
	CHECK_EQ_INT(a.status, 200);
	CHECK(strcmp(rg_policy_version(kp->pol), v1) != 0);
	CHECK_EQ_STR(gk_read_reason(kp), "ok_grant");
	gk_free(&t);

	json_decref(a.body);
	rg_client_key_clear(&medsec);
	rg_client_key_clear(&tax);
	rg_keeper_close(kp);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}
