/*
 * test_verify.c -- the offline verifier's core on logs built in memory:
 * a good log verifies; a checkpoint not signed by a published key, two
 * signed roots for one size, a line that is not strictly in the export
 * format, and a receipt whose signature fails are each refused by name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/merkle.h"
#include "crypto/note.h"
#include "crypto/tlog.h"
#include "crypto/verify.h"
#include "tests/test.h"

#define N 40
#define ORIGIN "test.example/audit"

struct mlog {
	char line[N][512];
	uint8_t leaf[N][RG_HASHLEN];
	char *note;       /* checkpoint of all N */
	char *note_half;  /* checkpoint of N / 2 */
};

static char *
checkpoint(const rg_sigkey *key, uint8_t (*leaves)[RG_HASHLEN], uint64_t n)
{
	uint8_t root[RG_HASHLEN];
	char *text, *note;

	rg_merkle_root((const uint8_t (*)[RG_HASHLEN])leaves, (size_t)n, root);
	text = rg_note_checkpoint_text(ORIGIN, n, root);
	CHECK(text != NULL);
	note = rg_note_sign(text, ORIGIN, key);
	CHECK(note != NULL);
	free(text);
	return note;
}

static void
mlog_build(struct mlog *m, const rg_sigkey *key)
{
	for (int i = 0; i < N; i++) {
		char e[128], e64[256], l64[64];

		snprintf(e, sizeof(e), "{\"action\":\"catalogue.read\",\"index\":%d,"
		         "\"time\":%d}", i, 1000 + i);
		rg_merkle_leaf((uint8_t *)e, strlen(e), m->leaf[i]);
		sodium_bin2base64(e64, sizeof(e64), (uint8_t *)e, strlen(e),
		                  sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(l64, sizeof(l64), m->leaf[i], RG_HASHLEN,
		                  sodium_base64_VARIANT_ORIGINAL);
		snprintf(m->line[i], sizeof(m->line[i]),
		         "{\"index\":%d,\"entry\":\"%s\",\"leaf\":\"%s\"}", i, e64, l64);
	}
	m->note = checkpoint(key, m->leaf, N);
	m->note_half = checkpoint(key, m->leaf, N / 2);
}

static rg_verify *
verifier(const rg_sigkey *key)
{
	uint8_t pub[RG_SIG_PUBLEN];
	rg_verify *v = rg_verify_new();

	CHECK(v != NULL);
	rg_sigkey_public(key, pub);
	CHECK(rg_verify_add_key(v, ORIGIN, pub) == 0);
	return v;
}

static int
feed(rg_verify *v, struct mlog *m, int upto)
{
	for (int i = 0; i < upto; i++)
		if (rg_verify_line(v, m->line[i], strlen(m->line[i])) != 0)
			return -1;
	return rg_verify_finish(v);
}

TEST(verify_accepts_a_good_log_and_refuses_foreign_or_forked_checkpoints)
{
	static struct mlog m;
	rg_sigkey *key = rg_sigkey_generate(), *other = rg_sigkey_generate();
	rg_verify *v;
	char *forged, *fork;
	uint8_t leaves2[N][RG_HASHLEN];

	CHECK(key != NULL && other != NULL);
	mlog_build(&m, key);
	v = verifier(key);
	CHECK(rg_verify_add_checkpoint(v, m.note_half, strlen(m.note_half), "a") == 0);
	CHECK(rg_verify_add_checkpoint(v, m.note, strlen(m.note), "b") == 0);
	CHECKF(feed(v, &m, N) == 0, "%s", rg_verify_error(v));
	CHECK_EQ_INT(rg_verify_count(v), N);
	rg_verify_free(v);

	/* Signed by a key that is not published. */
	forged = checkpoint(other, m.leaf, N);
	v = verifier(key);
	CHECK(rg_verify_add_checkpoint(v, forged, strlen(forged), "forged") != 0);
	CHECK(strstr(rg_verify_error(v), "forged: the signature does not verify") != NULL);
	rg_verify_free(v);
	free(forged);

	/* Two signed roots for one size: a fork, whatever the entries say. */
	memcpy(leaves2, m.leaf, sizeof(leaves2));
	leaves2[3][0] ^= 1;
	fork = checkpoint(key, leaves2, N);
	v = verifier(key);
	CHECK(rg_verify_add_checkpoint(v, m.note, strlen(m.note), "one") == 0);
	CHECK(rg_verify_add_checkpoint(v, fork, strlen(fork), "two") == 0);
	CHECK(feed(v, &m, N) != 0);
	CHECKF(strstr(rg_verify_error(v), "forked") != NULL, "%s", rg_verify_error(v));
	rg_verify_free(v);
	/* Alone, the forked root is caught at its size, with the range. */
	v = verifier(key);
	CHECK(rg_verify_add_checkpoint(v, fork, strlen(fork), "two") == 0);
	CHECK(feed(v, &m, N) != 0);
	CHECKF(strstr(rg_verify_error(v), "two: the root of the first 40 entries") !=
	       NULL, "%s", rg_verify_error(v));
	rg_verify_free(v);
	free(fork);

	free(m.note);
	free(m.note_half);
	rg_sigkey_free(key);
	rg_sigkey_free(other);
}

TEST(verify_refuses_lines_not_strictly_in_the_export_format)
{
	static struct mlog m;
	rg_sigkey *key = rg_sigkey_generate();
	const char *bad[] = {
		"{\"index\":5,\"entry\":\"e30=\",\"leaf\":\"AAAA\"}",     /* short leaf */
		"{\"index\": 5,\"entry\":\"e30=\",\"leaf\":\"AAAA\"}",    /* a space */
		"{\"index\":5,\"entry\":\"e31=\",\"leaf\":\"AAAA\"}",     /* bad padding bits */
		"{\"index\":5,\"entry\":\"e3 0=\",\"leaf\":\"AAAA\"}",    /* not base64 */
	};
	rg_verify *v;

	CHECK(key != NULL);
	mlog_build(&m, key);
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		v = verifier(key);
		CHECK(rg_verify_add_checkpoint(v, m.note, strlen(m.note), "cp") == 0);
		for (int i = 0; i < 5; i++)
			CHECK(rg_verify_line(v, m.line[i], strlen(m.line[i])) == 0);
		CHECK(rg_verify_line(v, bad[b], strlen(bad[b])) != 0);
		CHECKF(strstr(rg_verify_error(v), "entry 5: line 6") != NULL, "%s",
		       rg_verify_error(v));
		rg_verify_free(v);
	}
	free(m.note);
	free(m.note_half);
	rg_sigkey_free(key);
}

TEST(verify_refuses_a_receipt_with_a_bad_signature)
{
	rg_sigkey *key = rg_sigkey_generate();
	uint8_t sig[RG_SIG_LEN], leaf[RG_HASHLEN], pub[RG_SIG_PUBLEN];
	const char *entry = "{\"index\":0}";
	char json[1024], e64[64], s64[128], l64[64];
	rg_verify *v;

	CHECK(key != NULL);
	v = verifier(key);
	rg_sigkey_public(key, pub);
	CHECK(rg_sig_sign(key, (const uint8_t *)entry, strlen(entry), sig) == 0);
	rg_merkle_leaf((const uint8_t *)entry, strlen(entry), leaf);
	sodium_bin2base64(e64, sizeof(e64), (const uint8_t *)entry, strlen(entry),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(l64, sizeof(l64), leaf, sizeof(leaf),
	                  sodium_base64_VARIANT_ORIGINAL);
	sig[5] ^= 1;
	sodium_bin2base64(s64, sizeof(s64), sig, sizeof(sig),
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(json, sizeof(json), "{\"receipt\":{\"index\":0,\"entry\":\"%s\","
	         "\"leaf_hash\":\"%s\",\"keyid\":\"%08x\",\"signature\":\"%s\"}}",
	         e64, l64, rg_sig_note_keyid(ORIGIN, pub), s64);
	CHECK(rg_verify_add_receipt(v, json, strlen(json), "r.json") != 0);
	CHECKF(strstr(rg_verify_error(v), "r.json (entry 0): the signature does not "
	       "verify") != NULL, "%s", rg_verify_error(v));
	rg_verify_free(v);
	rg_sigkey_free(key);
}
