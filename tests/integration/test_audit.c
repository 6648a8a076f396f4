/*
 * test_audit.c -- the officers' audit trail through the real daemon:
 * signed checkpoints and inclusion proofs checked by a verifier written
 * here with nothing but OpenSSL (no code shared with the gateway's log),
 * the officer role kept apart from department keys, audit reads audited,
 * and checkpoints issued as the log grows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "crypto/keystore.h"
#include "crypto/note.h"
#include "tests/integration/gw.h"
#include "tests/integration/independent.h"
#include "tests/test.h"

/* ---- the gateway, as a department and an officer see it ---------------- */

static void
gateway_key(struct rg_gw *gw, unsigned char pub[32], char *origin, size_t olen)
{
	json_t *keys;

	CHECK_EQ_INT(rg_gw_call(gw, NULL, "GET", "/v1/keys", NULL, NULL, NULL, &keys), 200);
	CHECK_EQ_INT(ind_b64(json_string_value(json_object_get(json_array_get(
	    json_object_get(keys, "keys"), 0), "public_key")), pub, 32), 32);
	snprintf(origin, olen, "%s", json_string_value(json_object_get(keys, "origin")));
	json_decref(keys);
}

static void
catalogue_reads(struct rg_gw *gw, const char *dept, int n)
{
	for (int i = 0; i < n; i++) {
		json_t *r;
		CHECK_EQ_INT(rg_gw_call(gw, dept, "GET", "/v1/catalogue", NULL, NULL,
		                        NULL, &r), 200);
		json_decref(r);
	}
}

static const char *
result_str(json_t *r, const char *key)
{
	return json_string_value(json_object_get(json_object_get(r, "result"), key));
}

static long long
result_int(json_t *r, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(r, "result"), key));
}

TEST(checkpoint_and_inclusion_proof_verify_with_an_independent_verifier)
{
	struct rg_gw gw;
	unsigned char pub[32], root[32], leaf[32], want[32], ent[4096], pre[4097];
	unsigned char proof[64][32];
	char origin[256], line[300], query[128];
	json_t *r, *cp, *pr, *p;
	size_t entlen, tlen, plen;
	long long index, size, base;
	const char *note;

	rg_gw_start(&gw, NULL);
	base = rg_gw_audit_size(&gw); /* the demo may start with entries */
	gateway_key(&gw, pub, origin, sizeof(origin));
	CHECK_EQ_STR(origin, "recgate.demo/audit");
	catalogue_reads(&gw, "hrss", 6);
	CHECK_EQ_INT(rg_gw_call(&gw, "tax", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	index = json_integer_value(json_object_get(json_object_get(r, "receipt"), "index"));
	entlen = ind_b64(json_string_value(json_object_get(json_object_get(r,
	                 "receipt"), "entry")), ent, sizeof(ent));
	json_decref(r);
	catalogue_reads(&gw, "union", 4);

	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/checkpoint",
	                        "fresh=1", NULL, NULL, &cp), 200);
	note = result_str(cp, "note");
	CHECK(note != NULL);
	tlen = ind_verify_note(note, origin, pub);
	CHECKF(tlen > 0, "checkpoint does not verify:\n%s", note);
	/* Exactly three lines: origin, size, base64 root. */
	size = result_int(cp, "size");
	CHECK_EQ_INT(size, base + 11);
	snprintf(line, sizeof(line), "%s\n%lld\n", origin, size);
	CHECK(strncmp(note, line, strlen(line)) == 0);
	{
		char b64[64];
		size_t l = tlen - strlen(line) - 1;
		CHECK(l < sizeof(b64) && note[tlen - 1] == '\n');
		memcpy(b64, note + strlen(line), l);
		b64[l] = '\0';
		CHECK_EQ_INT(ind_b64(b64, root, 32), 32);
	}

	snprintf(query, sizeof(query), "index=%lld&size=%lld", index, size);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/proof/inclusion",
	                        query, NULL, NULL, &pr), 200);
	pre[0] = 0;
	memcpy(pre + 1, ent, entlen);
	SHA256(pre, entlen + 1, want);
	CHECK_EQ_INT(ind_b64(result_str(pr, "leaf_hash"), leaf, 32), 32);
	CHECK(memcmp(leaf, want, 32) == 0);
	p = json_object_get(json_object_get(pr, "result"), "proof");
	plen = json_array_size(p);
	CHECK(plen > 0 && plen < 64);
	for (size_t i = 0; i < plen; i++)
		CHECK_EQ_INT(ind_b64(json_string_value(json_array_get(p, i)), proof[i],
		                     32), 32);
	CHECK(ind_verify_inclusion((unsigned long long)index,
	                           (unsigned long long)size, want, proof, plen,
	                           root) == 0);
	/* The same proof does not place a changed entry, nor another index. */
	want[0] ^= 1;
	CHECK(ind_verify_inclusion((unsigned long long)index,
	                           (unsigned long long)size, want, proof, plen,
	                           root) != 0);
	want[0] ^= 1;
	CHECK(ind_verify_inclusion((unsigned long long)index + 1,
	                           (unsigned long long)size, want, proof, plen,
	                           root) != 0);
	json_decref(pr);
	json_decref(cp);
	rg_gw_stop(&gw);
}

TEST(officer_routes_refuse_department_keys_and_department_routes_refuse_officers)
{
	struct rg_gw gw;
	json_t *r;
	const char *reason;
	long long base;

	rg_gw_start(&gw, NULL);
	base = rg_gw_audit_size(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", "/v1/audit/checkpoint", NULL,
	                        NULL, NULL, &r), 403);
	CHECK_EQ_STR(rg_gw_code(r), "forbidden");
	reason = json_string_value(json_object_get(json_object_get(r, "error"), "reason"));
	CHECK_EQ_STR(reason, "role_not_permitted");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", "/v1/audit/entries", "from=0",
	                        NULL, NULL, &r), 403);
	CHECK_EQ_STR(rg_gw_code(r), "forbidden");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 403);
	reason = json_string_value(json_object_get(json_object_get(r, "error"), "reason"));
	CHECK_EQ_STR(reason, "role_not_permitted");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET",
	                        "/v1/resources/hazard-declaration/changes", "after=0",
	                        NULL, NULL, &r), 403);
	json_decref(r);
	/* Every one of those refusals is in the log. */
	CHECK_EQ_INT(rg_gw_audit_size(&gw), base + 4);
	rg_gw_stop(&gw);
}

TEST(audit_reads_are_audited_and_entries_filter_by_department_and_action)
{
	struct rg_gw gw;
	json_t *r, *list, *e;
	int saw_read = 0;
	long long base;
	char q[96];

	rg_gw_start(&gw, NULL);
	base = rg_gw_audit_size(&gw);
	catalogue_reads(&gw, "hrss", 3);
	catalogue_reads(&gw, "tax", 2);
	snprintf(q, sizeof(q), "from=%lld&department=tax&action=catalogue.read",
	         base);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/entries", q,
	                        NULL, NULL, &r), 200);
	list = json_object_get(json_object_get(r, "result"), "entries");
	CHECK_EQ_INT(json_array_size(list), 2);
	e = json_array_get(list, 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(e, "index")), base + 3);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(e, "parsed"),
	             "department")), "tax");
	CHECK(json_string_value(json_object_get(e, "entry")) != NULL);
	CHECK(json_string_value(json_object_get(e, "leaf_hash")) != NULL);
	json_decref(r);
	/* The officer's query above is entry base + 5: read it back. */
	snprintf(q, sizeof(q), "from=%lld&to=%lld", base + 5, base + 6);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/entries", q,
	                        NULL, NULL, &r), 200);
	list = json_object_get(json_object_get(r, "result"), "entries");
	CHECK_EQ_INT(json_array_size(list), 1);
	e = json_object_get(json_array_get(list, 0), "parsed");
	if (strcmp(json_string_value(json_object_get(e, "action")), "audit.entries") == 0 &&
	    strncmp(json_string_value(json_object_get(e, "keyid")), "officer-", 8) == 0)
		saw_read = 1;
	CHECK(saw_read);
	json_decref(r);
	/* Bounded pages and strict parameters. */
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/entries",
	                        "limit=1001", NULL, NULL, &r), 400);
	CHECK_EQ_STR(rg_gw_code(r), "bad_parameter");
	json_decref(r);
	snprintf(q, sizeof(q), "from=%lld&limit=2", base);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/entries", q,
	                        NULL, NULL, &r), 200);
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r, "result"),
	             "entries")), 2);
	CHECK_EQ_INT(result_int(r, "next"), base + 2);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/entries",
	                        "colour=red", NULL, NULL, &r), 400);
	json_decref(r);
	rg_gw_stop(&gw);
}

/* The root of a signed checkpoint note of the given size. */
static void
note_root(const char *note, const char *origin, const unsigned char pub[32],
          long long size, unsigned char root[32])
{
	char head[300], b64[64];
	size_t tlen, l;

	CHECK(note != NULL);
	tlen = ind_verify_note(note, origin, pub);
	CHECKF(tlen > 0, "checkpoint does not verify:\n%s", note);
	snprintf(head, sizeof(head), "%s\n%lld\n", origin, size);
	CHECK(strncmp(note, head, strlen(head)) == 0);
	l = tlen - strlen(head) - 1;
	CHECK(l < sizeof(b64));
	memcpy(b64, note + strlen(head), l);
	b64[l] = '\0';
	CHECK_EQ_INT(ind_b64(b64, root, 32), 32);
}

TEST(checkpoints_are_issued_as_the_log_grows_and_are_consistent)
{
	struct rg_gw gw;
	json_t *r, *list, *c, *p;
	unsigned char pub[32], root1[32], root2[32], proof[64][32];
	long long prev = -1, first;
	char q[64], origin[256];
	size_t plen;

	rg_gw_start(&gw, "checkpoint_every_entries = 4\n");
	for (int i = 0; i < 10; i++)
		catalogue_reads(&gw, "hrss", 1);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/checkpoints",
	                        NULL, NULL, NULL, &r), 200);
	list = json_object_get(json_object_get(r, "result"), "checkpoints");
	CHECKF(json_array_size(list) >= 2, "%zu checkpoints", json_array_size(list));
	for (size_t i = 0; i < json_array_size(list); i++) {
		long long s = json_integer_value(json_object_get(json_array_get(list, i),
		                                                 "size"));
		CHECK(s > prev);
		prev = s;
	}
	/* The first and the last signed roots, from the notes themselves
	 * (each verified here), and a consistency proof between them. */
	gateway_key(&gw, pub, origin, sizeof(origin));
	c = json_array_get(list, 0);
	first = json_integer_value(json_object_get(c, "size"));
	note_root(json_string_value(json_object_get(c, "note")), origin, pub, first,
	          root1);
	note_root(json_string_value(json_object_get(json_array_get(list,
	          json_array_size(list) - 1), "note")), origin, pub, prev, root2);
	snprintf(q, sizeof(q), "from=%lld&to=%lld", first, prev);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/proof/consistency",
	                        q, NULL, NULL, &r), 200);
	p = json_object_get(json_object_get(r, "result"), "proof");
	plen = json_array_size(p);
	CHECK(plen > 0 && plen < 64);
	for (size_t i = 0; i < plen; i++)
		CHECK_EQ_INT(ind_b64(json_string_value(json_array_get(p, i)), proof[i],
		                     32), 32);
	CHECK(ind_verify_consistency((unsigned long long)first,
	                             (unsigned long long)prev, root1, root2, proof,
	                             plen) == 0);
	/* Against another root it fails. */
	root2[7] ^= 1;
	CHECK(ind_verify_consistency((unsigned long long)first,
	                             (unsigned long long)prev, root1, root2, proof,
	                             plen) != 0);
	json_decref(r);
	/* A checkpoint of a size the log does not have is refused. */
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/proof/inclusion",
	                        "index=0&size=100000", NULL, NULL, &r), 400);
	json_decref(r);
	rg_gw_stop(&gw);
	/* A restart keeps the checkpoints and signs nothing smaller. */
	rg_gw_restart(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/checkpoint",
	                        NULL, NULL, NULL, &r), 200);
	CHECK(result_int(r, "size") >= prev);
	json_decref(r);
	rg_gw_stop(&gw);
}

static size_t
count_action(struct rg_gw *gw, long long from, const char *action,
             long long *sum_count)
{
	json_t *r, *list, *e;
	char q[160];
	size_t n, i;

	snprintf(q, sizeof(q), "from=%lld&action=%s", from, action);
	CHECK_EQ_INT(rg_gw_call(gw, "officer", "GET", "/v1/audit/entries", q, NULL,
	                        NULL, &r), 200);
	list = json_object_get(json_object_get(r, "result"), "entries");
	n = json_array_size(list);
	json_array_foreach(list, i, e) {
		json_t *p = json_object_get(e, "parsed");
		if (sum_count != NULL)
			*sum_count += json_integer_value(json_object_get(p, "count"));
	}
	json_decref(r);
	return n;
}

TEST(refused_authentications_are_entered_and_the_rate_limit_caps_them)
{
	struct rg_gw gw;
	struct rg_client_key k = {0};
	uint8_t seed[32] = {9};
	json_t *r, *list, *p;
	long long base, suppressed = 0;
	size_t len, entered, summaries;
	char *raw, q[96];
	const int flood = 70;

	rg_gw_start(&gw, "auth_audit_per_minute = 60\ncheckpoint_every_ms = 200\n");
	base = rg_gw_audit_size(&gw);
	/* One with a key the gateway does not know: the claimed key id and
	 * the address go in the entry. */
	k.key = rg_sigkey_from_seed(seed);
	CHECK(k.key != NULL);
	snprintf(k.keyid, sizeof(k.keyid), "health-00000000");
	raw = rg_client_build(gw.authority, &k, "GET", "/v1/catalogue", NULL, NULL,
	                      0, NULL, &len);
	CHECK(raw != NULL);
	CHECK_EQ_INT(rg_gw_send(&gw, raw, len, &r), 401);
	json_decref(r);
	free(raw);
	rg_client_key_clear(&k);
	CHECK_EQ_INT(rg_gw_audit_size(&gw), base + 1);
	snprintf(q, sizeof(q), "from=%lld&to=%lld", base, base + 1);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/entries", q, NULL,
	                        NULL, &r), 200);
	list = json_object_get(json_object_get(r, "result"), "entries");
	p = json_object_get(json_array_get(list, 0), "parsed");
	CHECK_EQ_STR(json_string_value(json_object_get(p, "action")), "auth.refused");
	CHECK_EQ_STR(json_string_value(json_object_get(p, "reason")), "key_unknown");
	CHECK_EQ_STR(json_string_value(json_object_get(p, "keyid")), "health-00000000");
	CHECK_EQ_STR(json_string_value(json_object_get(p, "decision")), "reject");
	CHECK(strncmp(json_string_value(json_object_get(p, "address")), "127.0.0.1:",
	              10) == 0);
	CHECK(json_object_get(p, "department") == NULL);
	json_decref(r);

	/* A flood of unsigned requests: the bucket (60, refilled at one a
	 * second) enters what it can, the rest is counted. */
	for (int i = 0; i < flood; i++) {
		CHECK_EQ_INT(rg_gw_call(&gw, NULL, "GET", "/v1/catalogue", NULL, NULL,
		                        NULL, &r), 401);
		json_decref(r);
	}
	entered = count_action(&gw, base + 2, "auth.refused", NULL);
	CHECKF(entered >= 59 && entered < (size_t)flood, "%zu entered", entered);
	/* When the bucket has a token again, the count goes in by itself
	 * (the keeper's timer), even though the flood has stopped. */
	usleep(1500 * 1000);
	summaries = count_action(&gw, base, "auth.refused.suppressed", &suppressed);
	/* One, unless a slow run let the timer sum up part of the flood
	 * while it lasted. */
	CHECK(summaries >= 1 && summaries <= 3);
	entered = count_action(&gw, base + 2, "auth.refused", NULL);
	CHECK_EQ_INT((long long)entered + suppressed, flood);
	/* The summary took that token; with the next one, the next refusal
	 * is entered as usual. */
	usleep(1100 * 1000);
	CHECK_EQ_INT(rg_gw_call(&gw, NULL, "GET", "/v1/catalogue", NULL, NULL, NULL,
	                        &r), 401);
	json_decref(r);
	CHECK_EQ_INT(count_action(&gw, base + 2, "auth.refused", NULL), entered + 1);
	rg_gw_stop(&gw);
}

/*
 * Receipt r (a response) altered and written to path. spoil: a hash of its
 * proof changed. forge: a checkpoint the gateway's own key signs over
 * another tree of the same size, in which the same proof places the same
 * entry (what a gateway showing one holder a rewritten log would hand
 * out): the receipt holds up alone, only the log now can tell.
 */
static void
altered_receipt(struct rg_gw *gw, const json_t *r, int forge, const char *path)
{
	json_t *copy = json_deep_copy(r), *rc, *list;
	unsigned char leaf[32], proof[64][32], root[32];
	unsigned long long index, size;
	char origin[256], *text, *note;
	rg_keystore *ks;
	size_t plen;

	CHECK(copy != NULL);
	rc = json_object_get(copy, "receipt");
	list = json_object_get(rc, "inclusion");
	plen = json_array_size(list);
	CHECK(plen > 0 && plen < 64);
	if (!forge) {
		CHECK(json_array_set_new(list, 0, json_string(
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")) == 0);
		goto write;
	}
	index = (unsigned long long)json_integer_value(json_object_get(rc, "index"));
	CHECK(sscanf(json_string_value(json_object_get(rc, "checkpoint")),
	             "%255[^\n]\n%llu\n", origin, &size) == 2);
	CHECK_EQ_INT(ind_b64(json_string_value(json_object_get(rc, "leaf_hash")),
	                     leaf, 32), 32);
	for (size_t i = 0; i < plen; i++)
		CHECK_EQ_INT(ind_b64(json_string_value(json_array_get(list, i)),
		                     proof[i], 32), 32);
	proof[plen - 1][0] ^= 1; /* the other half of the tree, rewritten */
	CHECK(ind_inclusion_root(index, size, leaf, proof, plen, root) == 0);
	ks = rg_gw_keystore(gw);
	text = rg_note_checkpoint_text(rg_keystore_origin(ks), size, root);
	CHECK(text != NULL);
	note = rg_note_sign(text, rg_keystore_origin(ks),
	                    rg_keystore_signing_key(ks));
	CHECK(note != NULL);
	CHECK(json_object_set_new(rc, "checkpoint", json_string(note)) == 0);
	{
		char b64[64];

		EVP_EncodeBlock((unsigned char *)b64, proof[plen - 1], 32);
		CHECK(json_array_set_new(list, plen - 1, json_string(b64)) == 0);
	}
	free(text);
	free(note);
	rg_keystore_free(ks);
write:
	CHECK(json_dump_file(copy, path, JSON_COMPACT) == 0);
	json_decref(copy);
}

TEST(recgatectl_audit_prove_checks_a_receipt_and_report_lists_denials)
{
	struct rg_gw gw;
	char receipt[700], receipt2[700], receipt3[700], args[2048], out[16384];
	char key[700];
	long long index;
	json_t *r;

	rg_gw_start(&gw, NULL);
	snprintf(key, sizeof(key), "%s/clients/officer.key", gw.dir);
	catalogue_reads(&gw, "hrss", 2);
	CHECK_EQ_INT(rg_gw_call(&gw, "tax", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	index = json_integer_value(json_object_get(json_object_get(r, "receipt"),
	                                           "index"));
	snprintf(receipt, sizeof(receipt), "%s/receipt.json", rg_test_tmpdir());
	CHECK(json_dump_file(r, receipt, JSON_COMPACT) == 0);
	/* The same receipt with a hash of its proof changed, and with a
	 * checkpoint of a rewritten log signed by the gateway's key. */
	snprintf(receipt2, sizeof(receipt2), "%s/receipt2.json", rg_test_tmpdir());
	snprintf(receipt3, sizeof(receipt3), "%s/receipt3.json", rg_test_tmpdir());
	altered_receipt(&gw, r, 1, receipt2);
	altered_receipt(&gw, r, 0, receipt3);
	json_decref(r);
	/* A department key on an officer's route: refused, and entered. */
	CHECK_EQ_INT(rg_gw_call(&gw, "union", "GET", "/v1/audit/entries", NULL,
	                        NULL, NULL, &r), 403);
	json_decref(r);

	snprintf(args, sizeof(args), "audit prove %lld --url %s --key '%s' "
	         "--receipt '%s'", index, gw.url, key, receipt);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "OK") != NULL && strstr(out, "receipt matches") != NULL &&
	       strstr(out, "checkpoint is consistent") != NULL, "%s", out);
	/* The receipt is not entry index - 1. */
	snprintf(args, sizeof(args), "audit prove %lld --url %s --key '%s' "
	         "--receipt '%s'", index - 1, gw.url, key, receipt);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 1, "%s", out);
	CHECK(strstr(out, "FAILED") != NULL);
	snprintf(args, sizeof(args), "audit prove %lld --url %s --key '%s' "
	         "--receipt '%s'", index, gw.url, key, receipt2);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 1, "%s", out);
	CHECKF(strstr(out, "does not extend the receipt's checkpoint") != NULL,
	       "%s", out);
	snprintf(args, sizeof(args), "audit prove %lld --url %s --key '%s' "
	         "--receipt '%s'", index, gw.url, key, receipt3);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 1, "%s", out);
	CHECKF(strstr(out, "FAILED") != NULL && strstr(out, "the inclusion proof "
	       "does not verify against the checkpoint's root") != NULL, "%s", out);

	snprintf(args, sizeof(args), "audit report --from 0 --to 99999999999999 "
	         "--url %s --key '%s'", gw.url, key);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "tax") != NULL && strstr(out, "catalogue.read") != NULL,
	       "%s", out);
	CHECKF(strstr(out, "union audit.entries -: deny role_not_permitted") != NULL,
	       "%s", out);
	rg_gw_stop(&gw);
}
