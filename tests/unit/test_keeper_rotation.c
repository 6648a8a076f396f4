/*
 * test_keeper_rotation.c -- the administrator's changes inside the keeper:
 * keystore rotations with storage faults injected (a rotation whose entry
 * does not commit leaves the keystore file byte for byte as it was and the
 * keys in use unchanged; one that commits is in use for the next
 * exchange), and a revocation or suspension that holds for the next
 * request of the same commit batch.
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
	struct rg_client_key admin;
	char keystore[4200];
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
	snprintf(path, sizeof(path), "%s/clients/admin.key", dir);
	CHECKF(rg_client_key_load(path, &f->admin, err, sizeof(err)) == 0, "%s", err);
	snprintf(f->keystore, sizeof(f->keystore), "%s", cfg.keystore);
}

static void
fixture_close(struct fixture *f)
{
	rg_client_key_clear(&f->health);
	rg_client_key_clear(&f->admin);
	rg_keeper_close(f->kp);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&f->loop) == 0);
}

/* The keystore file's bytes (caller frees). */
static uint8_t *
file_bytes(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);

	CHECK(fp != NULL && buf != NULL);
	*len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	return buf;
}

static void
rotation_under_faults(const char *path, int kek)
{
	struct fixture f;
	int saw_failure = 0, saw_success = 0;

	fixture_open(&f);
	for (int k = 1; k <= 8; k++) {
		struct treq t;
		struct answer a = {0};
		uint32_t sv = rg_keystore_signing_version(f.kp->ks);
		uint32_t kv = rg_keystore_kek_version(f.kp->ks);
		size_t blen, alen;
		uint8_t *before = file_bytes(f.keystore, &blen), *after;

		treq_make(&t, &f.admin, "POST", path, "");
		rg_store_fail_after(f.kp->st, k);
		rg_keeper_handle(f.kp, &t.req, answer_cb, &a);
		uv_run(&f.loop, UV_RUN_NOWAIT);
		rg_store_fail_after(f.kp->st, 0);
		CHECK_EQ_INT(a.count, 1);
		CHECK(f.kp->ks_next == NULL);
		after = file_bytes(f.keystore, &alen);
		if (a.status == 200) {
			saw_success = 1;
			CHECK(alen != blen || memcmp(before, after, alen) != 0);
			CHECK_EQ_INT(rg_keystore_signing_version(f.kp->ks),
			             kek ? sv : sv + 1);
			CHECK_EQ_INT(rg_keystore_kek_version(f.kp->ks),
			             kek ? kv + 1 : kv);
		} else {
			CHECKF(a.status == 500 && strcmp(a.code, "storage_failed") == 0,
			       "k=%d: status %d code %s", k, a.status, a.code);
			saw_failure = 1;
			CHECKF(alen == blen && memcmp(before, after, alen) == 0,
			       "k=%d: the keystore file changed", k);
			CHECK_EQ_INT(rg_keystore_signing_version(f.kp->ks), sv);
			CHECK_EQ_INT(rg_keystore_kek_version(f.kp->ks), kv);
		}
		free(before);
		free(after);
		treq_free(&t);
	}
	CHECK(saw_failure);
	CHECK(saw_success);
	/* The keeper goes on with the keys it ended with. */
	{
		struct treq t;
		struct answer a = {0};

		treq_make(&t, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t.req, answer_cb, &a);
		uv_run(&f.loop, UV_RUN_NOWAIT);
		CHECK_EQ_INT(a.status, 200);
		treq_free(&t);
	}
	fixture_close(&f);
}

TEST(signing_rotation_not_committed_leaves_the_keystore_file_unchanged)
{
	rotation_under_faults("/v1/admin/signing-key/rotate", 0);
}

TEST(kek_rotation_not_committed_leaves_the_keystore_file_unchanged)
{
	rotation_under_faults("/v1/admin/kek/rotate", 1);
}

/* The revocation and then a request by the revoked key, both in one
 * batch (handled before the loop runs the commit): auth reads the key's
 * status inside the batch's transaction. */
TEST(revocation_holds_for_the_next_request_in_the_same_batch)
{
	struct fixture f;
	struct treq t1, t2;
	struct answer a1 = {0}, a2 = {0};
	char path[300];

	fixture_open(&f);
	snprintf(path, sizeof(path), "/v1/admin/keys/%s/revoke", f.health.keyid);
	treq_make(&t1, &f.admin, "POST", path, "");
	treq_make(&t2, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	rg_keeper_handle(f.kp, &t1.req, answer_cb, &a1);
	rg_keeper_handle(f.kp, &t2.req, answer_cb, &a2);
	CHECK_EQ_INT(a1.count + a2.count, 0); /* both held for one commit */
	uv_run(&f.loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(a1.count, 1);
	CHECK_EQ_INT(a2.count, 1);
	CHECK_EQ_INT(a1.status, 200);
	CHECK_EQ_INT(a2.status, 401);
	CHECK_EQ_STR(a2.code, "key_revoked");
	treq_free(&t1);
	treq_free(&t2);
	fixture_close(&f);
}
