/*
 * test_signing_rotation.c -- the gateway's signing key rotated online, twice,
 * while departments keep exchanging: each rotation is an entry signed by
 * the old key and the new one, receipts and checkpoints before, during and
 * after verify under the published keys, and an audit export verifies.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "crypto/note.h"
#include "crypto/sig.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define WORKERS 2
#define PER_WORKER 24

struct worker {
	struct rg_gw *gw;
	int id;
	int ok;
};

/* Sends PER_WORKER signed requests, keeping every answer as a file. */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char path[700];

	for (int i = 0; i < PER_WORKER; i++) {
		json_t *r;

		if (rg_gw_call(w->gw, "hrss", "GET", "/v1/catalogue", NULL, NULL,
		               NULL, &r) == 200) {
			snprintf(path, sizeof(path), "%s/r-%d-%02d.json",
			         rg_test_tmpdir(), w->id, i);
			if (json_dump_file(r, path, JSON_COMPACT) == 0)
				w->ok++;
		}
		json_decref(r);
	}
	return NULL;
}

/* Does a receipt's signature (or its cosignature) verify under the key
 * of that id in keys (the /v1/keys document)? */
static int
sig_verifies(const json_t *keys, const char *kid, const char *s64,
             const uint8_t *entry, size_t elen)
{
	const json_t *k;
	size_t i;

	json_array_foreach(json_object_get(keys, "keys"), i, k) {
		const char *vkey = json_string_value(json_object_get(k, "vkey"));
		char name[300], want[9];
		uint8_t pub[RG_SIG_PUBLEN], sig[RG_SIG_LEN];
		size_t slen;

		if (vkey == NULL || rg_note_vkey_parse(vkey, name, sizeof(name),
		                                       pub) != 0)
			continue;
		snprintf(want, sizeof(want), "%08x", rg_sig_note_keyid(name, pub));
		if (strcmp(want, kid) != 0)
			continue;
		if (sodium_base642bin(sig, sizeof(sig), s64, strlen(s64), NULL,
		                      &slen, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    slen != sizeof(sig))
			return 0;
		return rg_sig_verify(pub, entry, elen, sig) == 0;
	}
	return 0;
}

/* The entry bytes of a receipt, into buf. */
static size_t
entry_bytes(const json_t *receipt, uint8_t *buf, size_t max)
{
	const char *e64 = json_string_value(json_object_get(receipt, "entry"));
	size_t len = 0;

	CHECK(e64 != NULL);
	CHECK(sodium_base642bin(buf, max, e64, strlen(e64), NULL, &len, NULL,
	                        sodium_base64_VARIANT_ORIGINAL) == 0);
	return len;
}

/* Rotate as the administrator; returns the new key id (static buffer
 * per call site) after checking the announcement's two signatures. */
static void
rotate(struct rg_gw *gw, char *newkid, size_t len, char *oldkid, size_t oldlen)
{
	json_t *r, *rc, *e, *keys;
	uint8_t entry[8192];
	size_t elen;
	const char *kid;

	CHECK_EQ_INT(rg_gw_call(gw, "admin", "POST", "/v1/admin/signing-key/rotate",
	                        NULL, NULL, NULL, &r), 200);
	rc = json_object_get(r, "receipt");
	elen = entry_bytes(rc, entry, sizeof(entry));
	e = json_loadb((const char *)entry, elen, 0, NULL);
	CHECK(e != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(e, "action")),
	             "admin.signing.rotate");
	kid = json_string_value(json_object_get(json_object_get(json_object_get(
	    e, "admin"), "signing_key"), "keyid"));
	CHECK(kid != NULL);
	snprintf(newkid, len, "%s", kid);
	snprintf(oldkid, oldlen, "%s",
	         json_string_value(json_object_get(rc, "keyid")));
	CHECK(strcmp(newkid, oldkid) != 0);
	json_decref(e);
	/* Signed by the old key (receipt.keyid) and by the new one. */
	CHECK_EQ_INT(rg_gw_call(gw, NULL, "GET", "/v1/keys", NULL, NULL, NULL,
	                        &keys), 200);
	CHECK(sig_verifies(keys, oldkid, json_string_value(json_object_get(rc,
	                   "signature")), entry, elen));
	{
		const json_t *c = json_array_get(json_object_get(rc, "cosignatures"),
		                                 0);

		CHECK_EQ_STR(json_string_value(json_object_get(c, "keyid")), newkid);
		CHECK(sig_verifies(keys, newkid, json_string_value(json_object_get(c,
		                   "signature")), entry, elen));
	}
	json_decref(keys);
	json_decref(r);
}

/*
 * The newest key (taken from the keystore, as a thief would) signs the
 * checkpoint of a receipt from before that key was announced (the same
 * tree, the same proof): verify refuses the receipt although the
 * signature is good.
 */
static void
forged_early_receipt_is_refused(struct rg_gw *gw, const char *exp,
                                const char *newest)
{
	uint8_t pub[32];
	char path[900], out[4096], cmd[2400], kid[9], *text, *note, *cut;
	rg_keystore *ks;
	json_t *r, *rc;
	FILE *f;
	int st;

	ks = rg_gw_keystore(gw);
	rg_sigkey_public(rg_keystore_signing_key(ks), pub);
	snprintf(kid, sizeof(kid), "%08x",
	         rg_sig_note_keyid(rg_keystore_origin(ks), pub));
	CHECK_EQ_STR(kid, newest);
	/* A receipt from before any rotation. */
	snprintf(path, sizeof(path), "%s/r-early.json", rg_test_tmpdir());
	r = json_load_file(path, 0, NULL);
	CHECK(r != NULL);
	rc = json_object_get(r, "receipt");
	text = strdup(json_string_value(json_object_get(rc, "checkpoint")));
	CHECK(text != NULL && (cut = strstr(text, "\n\n")) != NULL);
	cut[1] = '\0'; /* the checkpoint's text, without its signature */
	note = rg_note_sign(text, rg_keystore_origin(ks),
	                    rg_keystore_signing_key(ks));
	CHECK(note != NULL);
	rg_keystore_free(ks);
	json_object_set_new(rc, "checkpoint", json_string(note));
	json_object_set_new(rc, "keyid", json_string(kid));
	free(text);
	free(note);
	snprintf(path, sizeof(path), "%s/forged.json", rg_test_tmpdir());
	CHECK(json_dump_file(r, path, JSON_COMPACT) == 0);
	json_decref(r);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit verify '%s' --receipt %s "
	         "> %s/forged.out 2>&1", rg_test_build(), exp, path,
	         rg_test_tmpdir());
	st = system(cmd);
	snprintf(path, sizeof(path), "%s/forged.out", rg_test_tmpdir());
	f = fopen(path, "r");
	CHECK(f != NULL);
	out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
	fclose(f);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1, "verify passed: %s", out);
	CHECKF(strstr(out, "which signed for entry") != NULL, "%s", out);
}

SLOW_TEST(signing_key_rotates_twice_while_exchanges_continue_and_all_verifies, 180)
{
	struct rg_gw gw;
	pthread_t th[WORKERS];
	struct worker w[WORKERS];
	char k1[16], k2[16], old1[16], old2[16], exp[700], cmd[8192], out[4096];
	char path[700];
	json_t *r, *keys;
	size_t off;
	int ok = 0, st;
	FILE *f;

	rg_gw_start(&gw, "checkpoint_every_entries = 8\n");
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	snprintf(path, sizeof(path), "%s/r-early.json", rg_test_tmpdir());
	CHECK(json_dump_file(r, path, JSON_COMPACT) == 0);
	json_decref(r);
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){&gw, i, 0};
		CHECK(pthread_create(&th[i], NULL, worker_run, &w[i]) == 0);
	}
	rotate(&gw, k1, sizeof(k1), old1, sizeof(old1));
	rotate(&gw, k2, sizeof(k2), old2, sizeof(old2));
	CHECK_EQ_STR(old2, k1);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
	}
	CHECK_EQ_INT(ok, WORKERS * PER_WORKER);
	/* After: receipts by the newest key, checkpoints by it and by the
	 * previous one (the overlap), all three keys published. */
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(r,
	             "receipt"), "keyid")), k2);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, NULL, "GET", "/v1/keys", NULL, NULL, NULL,
	                        &keys), 200);
	CHECK_EQ_INT(json_array_size(json_object_get(keys, "keys")), 3);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(
	             json_object_get(keys, "keys"), 0), "keyid")), k2);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(
	             json_object_get(keys, "keys"), 0), "status")), "active");
	/* Rotated-out keys say since when; the active one does not. */
	CHECK(json_object_get(json_array_get(json_object_get(keys, "keys"), 0),
	                      "not_after") == NULL);
	CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(
	      keys, "keys"), 1), "not_after")) > 0);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(
	             json_object_get(keys, "keys"), 1), "status")), "retiring");
	json_decref(keys);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/checkpoint",
	                        NULL, NULL, NULL, &r), 200);
	{
		const char *note = json_string_value(json_object_get(json_object_get(
		    r, "result"), "note"));
		size_t lines = 0;

		CHECKF(note != NULL, "no note in %s", json_dumps(r, 0));
		for (const char *p = note; (p = strstr(p, "\xe2\x80\x94 ")) != NULL;
		     p++)
			lines++;
		CHECK_EQ_INT(lines, 2);
	}
	json_decref(r);

	/* Every receipt, before, during and after, and the whole log. */
	snprintf(exp, sizeof(exp), "%s/export", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit export '%s' --url %s "
	         "--key %s/clients/officer.key > /dev/null", rg_test_build(), exp,
	         gw.url, gw.dir);
	CHECKF(system(cmd) == 0, "%s", cmd);
	rg_gw_stop(&gw);
	for (int t = 0; t < WORKERS; t++) {
		off = (size_t)snprintf(cmd, sizeof(cmd), "%s/recgatectl audit verify "
		                       "'%s'", rg_test_build(), exp);
		for (int i = 0; i < PER_WORKER; i++)
			off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
			                        " --receipt %s/r-%d-%02d.json",
			                        rg_test_tmpdir(), t, i);
		snprintf(path, sizeof(path), "%s/verify.out", rg_test_tmpdir());
		snprintf(cmd + off, sizeof(cmd) - off, " > %s 2>&1", path);
		st = system(cmd);
		f = fopen(path, "r");
		CHECK(f != NULL);
		out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
		fclose(f);
		CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	}
	forged_early_receipt_is_refused(&gw, exp, k2);
}
