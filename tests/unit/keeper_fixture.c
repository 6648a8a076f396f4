/*
 * keeper_fixture.c -- the in-process keeper of the unit tests (see
 * keeper_fixture.h). Test scaffolding only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/httpsig.h"
#include "crypto/merkle.h"
#include "crypto/note.h"
#include "crypto/tlog.h"
#include "gateway/config.h"
#include "gateway/demo.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"

static const char *
treq_header(void *ctx, const char *lname)
{
	struct treq *t = ctx;
	return strcmp(lname, "content-digest") == 0 ? t->digest : NULL;
}

/* A request signed by the demo's health key, as the front would frame it. */
void
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

void
treq_free(struct treq *t)
{
	free(t->digest);
	free(t->sig_input);
	free(t->sig);
}

void
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

void
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

void
fixture_close(struct fixture *f)
{
	rg_client_key_clear(&f->health);
	rg_client_key_clear(&f->admin);
	rg_keeper_close(f->kp);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&f->loop) == 0);
}

void
keeper_run(uv_loop_t *loop, rg_keeper *kp)
{
	uv_run(loop, UV_RUN_NOWAIT);
	rg_keeper_drain(kp);
}

static int
unb64(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	return s == NULL ||
	       sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL,
	                         sodium_base64_VARIANT_ORIGINAL) != 0 ? -1 : 0;
}

int
receipt_check(const char *body, size_t len, const char *origin,
              const uint8_t pub[32], struct receipt_seen *out)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	json_t *r = json_object_get(doc, "receipt");
	json_t *list = json_object_get(r, "inclusion");
	const char *note = json_string_value(json_object_get(r, "checkpoint"));
	uint8_t entry[4096], leaf[64], want[RG_HASHLEN];
	uint8_t proof[RG_TLOG_MAXPROOF][RG_HASHLEN];
	size_t elen, llen, tlen, plen = json_array_size(list), n;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_integer(json_object_get(r, "index")) || note == NULL ||
	    strlen(note) >= sizeof(out->note) || !json_is_array(list) ||
	    plen > RG_TLOG_MAXPROOF ||
	    json_object_get(r, "signature") != NULL ||
	    unb64(json_string_value(json_object_get(r, "entry")), entry,
	          sizeof(entry), &elen) != 0 ||
	    unb64(json_string_value(json_object_get(r, "leaf_hash")), leaf,
	          sizeof(leaf), &llen) != 0 || llen != RG_HASHLEN)
		goto out;
	out->index = (uint64_t)json_integer_value(json_object_get(r, "index"));
	snprintf(out->note, sizeof(out->note), "%s", note);
	rg_merkle_leaf(entry, elen, want);
	for (size_t i = 0; i < plen; i++)
		if (unb64(json_string_value(json_array_get(list, i)), proof[i],
		          RG_HASHLEN, &n) != 0 || n != RG_HASHLEN)
			goto out;
	if (memcmp(want, leaf, RG_HASHLEN) == 0 &&
	    rg_note_verify(note, strlen(note), origin, pub, &tlen) == 0 &&
	    rg_note_checkpoint_parse(note, tlen, origin, &out->size,
	                             out->root) == 0 &&
	    rg_merkle_verify_inclusion(out->index, out->size, leaf,
	                               (const uint8_t (*)[RG_HASHLEN])proof,
	                               plen, out->root) == 0)
		rc = 0;
out:
	json_decref(doc);
	return rc;
}
