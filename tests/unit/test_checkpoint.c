/*
 * test_checkpoint.c -- the keeper signs checkpoints only over committed
 * entries: never over a batch still open, never over one whose commit
 * failed, and never a size smaller than one it signed before; each one
 * verifies with the gateway's key and matches the stored tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/httpsig.h"
#include "crypto/note.h"
#include "crypto/tlog.h"
#include "gateway/client.h"
#include "gateway/config.h"
#include "gateway/demo.h"
#include "gateway/keeper_int.h"
#include "tests/test.h"

struct treq {
	struct rg_request req;
	struct rg_header hdrs[3];
	char *sig_input, *sig;
};

static const char *
no_header(void *ctx, const char *lname)
{
	(void)ctx;
	(void)lname;
	return NULL;
}

/* GET /v1/catalogue signed by k, framed as the front would. */
static void
treq_make(struct treq *t, const struct rg_client_key *k)
{
	static const char *comps[] = {"@method", "@path", "@query"};
	struct rg_httpsig_msg msg = {"GET", "/v1/catalogue", NULL, "gw", no_header,
	                             NULL};
	char nonce[33];
	uint8_t raw[16];

	memset(t, 0, sizeof(*t));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
	CHECK(rg_httpsig_sign(k->key, k->keyid, &msg, comps, 3, (int64_t)time(NULL),
	                      0, nonce, &t->sig_input, &t->sig) == RG_HTTPSIG_OK);
	snprintf(t->req.method, sizeof(t->req.method), "GET");
	t->req.path = t->req.target = (char *)"/v1/catalogue";
	t->hdrs[0] = (struct rg_header){"host", "gw"};
	t->hdrs[1] = (struct rg_header){"signature-input", t->sig_input};
	t->hdrs[2] = (struct rg_header){"signature", t->sig};
	t->req.headers = t->hdrs;
	t->req.nheaders = 3;
	snprintf(t->req.peer, sizeof(t->req.peer), "127.0.0.1:1");
}

static void
treq_free(struct treq *t)
{
	free(t->sig_input);
	free(t->sig);
}

static void
answer_cb(void *ctx, const struct rg_response *resp)
{
	*(int *)ctx = resp->status;
}

static int
node_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[RG_HASHLEN])
{
	return rg_store_audit_node(ctx, level, idx, out) == RG_STORE_OK ? 0 : -1;
}

/* The latest stored checkpoint verifies and matches the stored tree. */
static uint64_t
latest_checkpoint(rg_keeper *kp)
{
	struct rg_store_checkpoint cp;
	uint8_t root[RG_HASHLEN], nroot[RG_HASHLEN];
	uint64_t size;
	size_t tlen;
	int rc = rg_store_checkpoint_latest(kp->st, &cp);

	if (rc == RG_STORE_NOTFOUND)
		return 0;
	CHECK(rc == RG_STORE_OK);
	CHECK(rg_note_verify(cp.note, strlen(cp.note), rg_keystore_origin(kp->ks),
	                     kp->gw_pub, &tlen) == 0);
	CHECK(rg_note_checkpoint_parse(cp.note, tlen, rg_keystore_origin(kp->ks),
	                               &size, root) == 0);
	CHECK_EQ_INT(size, cp.size);
	CHECK(rg_tlog_root(size, node_get, kp->st, nroot) == 0);
	CHECK(memcmp(root, nroot, RG_HASHLEN) == 0);
	rg_store_checkpoint_clear(&cp);
	return size;
}

TEST(keeper_signs_checkpoints_only_over_committed_entries)
{
	struct rg_config cfg;
	struct rg_client_key health;
	struct treq t[4];
	int status[4] = {0};
	char dir[512], path[700], err[1024];
	uv_loop_t loop;
	rg_keeper *kp;
	uint64_t base, cp;

	snprintf(dir, sizeof(dir), "%s/demo", rg_test_tmpdir());
	CHECKF(rg_demo_init(dir, err, sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/recgate.conf", dir);
	rg_config_defaults(&cfg);
	CHECKF(rg_config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	cfg.checkpoint_every_entries = 1;
	CHECK(uv_loop_init(&loop) == 0);
	kp = rg_keeper_open(&cfg, &loop, err, sizeof(err));
	CHECKF(kp != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/clients/health.key", dir);
	CHECKF(rg_client_key_load(path, &health, err, sizeof(err)) == 0, "%s", err);
	base = kp->audit_size;

	/* Two exchanges in an open batch: appended, not committed, and no
	 * checkpoint covers them. */
	for (int i = 0; i < 2; i++) {
		treq_make(&t[i], &health);
		rg_keeper_handle(kp, &t[i].req, answer_cb, &status[i]);
	}
	CHECK_EQ_INT(kp->audit_size, base + 2);
	CHECK_EQ_INT(status[0], 0);
	CHECK(latest_checkpoint(kp) <= base);
	/* Their commit fails: still nothing signed over them. */
	rg_store_fail_after(kp->st, 1);
	uv_run(&loop, UV_RUN_NOWAIT);
	rg_keeper_drain(kp); /* the finisher gives the batch back */
	rg_store_fail_after(kp->st, 0);
	CHECK_EQ_INT(status[0], 500);
	CHECK(latest_checkpoint(kp) <= base);
	CHECK_EQ_INT(kp->committed_size, base);
	/* Committed: signed over exactly what is durable. */
	for (int i = 2; i < 4; i++) {
		treq_make(&t[i], &health);
		rg_keeper_handle(kp, &t[i].req, answer_cb, &status[i]);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	rg_keeper_drain(kp); /* the finisher gives the batch back */
	CHECK_EQ_INT(status[2], 200);
	CHECK_EQ_INT(status[3], 200);
	cp = latest_checkpoint(kp);
	CHECK_EQ_INT(cp, base + 2);
	CHECK_EQ_INT(kp->committed_size, base + 2);
	/* Asked for a smaller one, it signs nothing. */
	CHECK(rg_audit_checkpoint(kp, base + 1, 0) == 0);
	CHECK_EQ_INT(latest_checkpoint(kp), cp);
	/* Nor one over more than is committed. */
	CHECK(rg_audit_checkpoint(kp, base + 3, 0) != 0);
	for (int i = 0; i < 4; i++)
		treq_free(&t[i]);
	rg_client_key_clear(&health);
	rg_keeper_close(kp);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}

TEST(keeper_refuses_to_start_on_a_log_shorter_than_its_checkpoint)
{
	struct rg_config cfg;
	char dir[512], path[700], err[1024];
	uint8_t *master = sodium_malloc(RG_KEYSTORE_MASTERLEN), root[32] = {0};
	rg_keystore *ks;
	rg_store *st;
	uv_loop_t loop;

	snprintf(dir, sizeof(dir), "%s/demo", rg_test_tmpdir());
	CHECKF(rg_demo_init(dir, err, sizeof(err)) == 0, "%s", err);
	/* A checkpoint for more entries than the log holds: entries lost,
	 * or the database swapped for an older copy. */
	CHECK(master != NULL);
	snprintf(path, sizeof(path), "%s/master.key", dir);
	CHECKF(rg_keystore_read_master(path, master, err, sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/keystore", dir);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	sodium_free(master);
	CHECKF(ks != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/recgate.db", dir);
	st = rg_store_open(path, rg_keystore_db_key(ks), 0, err, sizeof(err));
	CHECKF(st != NULL, "%s", err);
	CHECK(rg_store_checkpoint_put(st, 1000, root, "signed elsewhere\n", 1) ==
	      RG_STORE_OK);
	rg_store_close(st);
	rg_keystore_free(ks);

	snprintf(path, sizeof(path), "%s/recgate.conf", dir);
	rg_config_defaults(&cfg);
	CHECKF(rg_config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(uv_loop_init(&loop) == 0);
	CHECK(rg_keeper_open(&cfg, &loop, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "a checkpoint of 1000 was signed") != NULL, "%s", err);
	CHECK(uv_loop_close(&loop) == 0);
}
