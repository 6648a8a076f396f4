/*
 * test_verify.c -- the offline verifier's core on logs built in memory:
 * a good log verifies; a checkpoint not signed by a published key, two
 * signed roots for one size, a line that is not strictly in the export
 * format, and a receipt whose signature fails are each refused by name.
 * Receipts of both forms (an Ed25519 signature over the entry, or a signed
 * checkpoint and the entry's inclusion proof) verify against the log; a
 * checkpoint receipt that does not prove its entry, or whose checkpoint
 * the log does not match, is refused naming the receipt and its entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
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

/* The test log's entry i (at time 1000 + i), or one in its place. */
static void
entry_text(int i, int time, char *e, size_t len)
{
	snprintf(e, len, "{\"action\":\"catalogue.read\",\"index\":%d,"
	         "\"time\":%d}", i, time);
}

/* Entry i of m is e: its leaf and its line of the export. */
static void
mlog_set(struct mlog *m, int i, const char *e)
{
	char e64[256], l64[64];

	rg_merkle_leaf((const uint8_t *)e, strlen(e), m->leaf[i]);
	sodium_bin2base64(e64, sizeof(e64), (const uint8_t *)e, strlen(e),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(l64, sizeof(l64), m->leaf[i], RG_HASHLEN,
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(m->line[i], sizeof(m->line[i]),
	         "{\"index\":%d,\"entry\":\"%s\",\"leaf\":\"%s\"}", i, e64, l64);
}

static void
mlog_build(struct mlog *m, const rg_sigkey *key)
{
	for (int i = 0; i < N; i++) {
		char e[128];

		entry_text(i, 1000 + i, e, sizeof(e));
		mlog_set(m, i, e);
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

/* ---- receipts of both forms -------------------------------------------- */

/* The leaves of a log in memory, as rg_tlog_inclusion looks them up. */
struct leaves {
	const uint8_t (*leaf)[RG_HASHLEN];
	uint64_t n;
};

static int
leaves_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[RG_HASHLEN])
{
	const struct leaves *l = ctx;
	uint64_t first, count;

	if (level >= 32)
		return -1;
	first = idx << level;
	count = (uint64_t)1 << level;
	if (first >= l->n || count > l->n - first)
		return -1;
	rg_merkle_root(l->leaf + first, (size_t)count, out);
	return 0;
}

/* A receipt's parts, to be spoilt one at a time before rcpt_obj. */
struct rcpt {
	int index;
	char entry[128];
	uint8_t leaf[RG_HASHLEN];
	uint32_t keyid;
	int has_sig;
	uint8_t sig[RG_SIG_LEN];
	char *note;                 /* malloc'd; NULL: no checkpoint */
	uint8_t proof[RG_TLOG_MAXPROOF + 1][RG_HASHLEN];
	size_t plen;
};

static json_t *
b64(const uint8_t *p, size_t len)
{
	char buf[512];

	CHECK(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL) <=
	      sizeof(buf));
	sodium_bin2base64(buf, sizeof(buf), p, len, sodium_base64_VARIANT_ORIGINAL);
	return json_string(buf);
}

/* The entry of the test log at index, its leaf hash and key's key id. */
static void
rcpt_entry(struct rcpt *c, const rg_sigkey *key, int index)
{
	uint8_t pub[RG_SIG_PUBLEN];

	memset(c, 0, sizeof(*c));
	c->index = index;
	entry_text(index, 1000 + index, c->entry, sizeof(c->entry));
	rg_merkle_leaf((const uint8_t *)c->entry, strlen(c->entry), c->leaf);
	rg_sigkey_public(key, pub);
	c->keyid = rg_sig_note_keyid(ORIGIN, pub);
}

/* A signature receipt (v1) by key. */
static void
rcpt_v1(struct rcpt *c, const rg_sigkey *key, int index)
{
	rcpt_entry(c, key, index);
	CHECK(rg_sig_sign(key, (const uint8_t *)c->entry, strlen(c->entry),
	                  c->sig) == 0);
	c->has_sig = 1;
}

/* A checkpoint receipt (v2): key's checkpoint of the first size of
 * leaves, and the proof of index in that tree. */
static void
rcpt_v2(struct rcpt *c, const rg_sigkey *key, uint8_t (*leaves)[RG_HASHLEN],
        int index, uint64_t size)
{
	struct leaves l = {(const uint8_t (*)[RG_HASHLEN])leaves, size};

	rcpt_entry(c, key, index);
	c->note = checkpoint(key, leaves, size);
	CHECK(rg_tlog_inclusion((uint64_t)index, size, leaves_get, &l, c->proof,
	                        &c->plen) == 0);
}

/* The receipt as the gateway sends it; wrapped: inside a response. */
static json_t *
rcpt_obj(const struct rcpt *c, int wrapped)
{
	char kid[9];
	json_t *r, *list;

	snprintf(kid, sizeof(kid), "%08x", c->keyid);
	r = json_pack("{s:I, s:o, s:o, s:s}", "index", (json_int_t)c->index,
	              "entry", b64((const uint8_t *)c->entry, strlen(c->entry)),
	              "leaf_hash", b64(c->leaf, RG_HASHLEN), "keyid", kid);
	CHECK(r != NULL);
	if (c->has_sig)
		CHECK(json_object_set_new(r, "signature", b64(c->sig,
		                          RG_SIG_LEN)) == 0);
	if (c->note != NULL) {
		CHECK((list = json_array()) != NULL);
		for (size_t i = 0; i < c->plen; i++)
			CHECK(json_array_append_new(list, b64(c->proof[i],
			                            RG_HASHLEN)) == 0);
		CHECK(json_object_set_new(r, "checkpoint",
		                          json_string(c->note)) == 0);
		CHECK(json_object_set_new(r, "inclusion", list) == 0);
	}
	if (wrapped)
		CHECK((r = json_pack("{s:{}, s:o}", "result", "receipt", r)) != NULL);
	return r;
}

/*
 * v's judgement (v is freed) of receipt r (taken; named r.json) with m's
 * checkpoint of N / 2 and m's first upto entries: "" when all verify, or
 * the first failure.
 */
static const char *
judge(rg_verify *v, struct mlog *m, json_t *r, int upto)
{
	static char msg[512];
	char *text = json_dumps(r, JSON_COMPACT);
	int rc;

	CHECK(text != NULL);
	CHECK(rg_verify_add_checkpoint(v, m->note_half, strlen(m->note_half),
	                               "cp") == 0);
	rc = rg_verify_add_receipt(v, text, strlen(text), "r.json");
	if (rc == 0)
		rc = feed(v, m, upto);
	snprintf(msg, sizeof(msg), "%s", rc == 0 ? "" : rg_verify_error(v));
	rg_verify_free(v);
	free(text);
	json_decref(r);
	return msg;
}

#define CHECK_REFUSED(got, want)                                              \
	do {                                                                  \
		const char *got_ = (got);                                     \
		CHECKF(strstr(got_, (want)) != NULL, "got \"%s\"", got_);     \
	} while (0)

TEST(verify_accepts_checkpoint_receipts_and_still_signature_receipts)
{
	static struct mlog m;
	static struct rcpt c;
	rg_sigkey *key = rg_sigkey_generate();

	CHECK(key != NULL);
	mlog_build(&m, key);
	/* Inside the response or alone; anywhere in the tree, the first
	 * entry of a tree of one (an empty proof), the last entry. */
	rcpt_v2(&c, key, m.leaf, 5, N);
	CHECK_EQ_STR(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "");
	CHECK_EQ_STR(judge(verifier(key), &m, rcpt_obj(&c, 0), N), "");
	free(c.note);
	rcpt_v2(&c, key, m.leaf, 0, 1);
	CHECK_EQ_INT(c.plen, 0);
	CHECK_EQ_STR(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "");
	free(c.note);
	rcpt_v2(&c, key, m.leaf, N - 1, N);
	CHECK_EQ_STR(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "");
	free(c.note);
	/* The receipts issued before per-batch signing verify for ever. */
	rcpt_v1(&c, key, 7);
	CHECK_EQ_STR(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "");
	CHECK_EQ_STR(judge(verifier(key), &m, rcpt_obj(&c, 0), N), "");

	free(m.note);
	free(m.note_half);
	rg_sigkey_free(key);
}

TEST(verify_refuses_a_checkpoint_receipt_that_does_not_prove_its_entry)
{
	static struct mlog m;
	static struct rcpt c;
	rg_sigkey *key = rg_sigkey_generate(), *other = rg_sigkey_generate();
	uint8_t pub[RG_SIG_PUBLEN];
	char *p;
	json_t *r;

	CHECK(key != NULL && other != NULL);
	mlog_build(&m, key);
	rcpt_v2(&c, key, m.leaf, 5, N);
	CHECK(c.plen >= 2);

	/* One hash of the proof changed. */
	c.proof[1][7] ^= 1;
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the inclusion proof does not verify against the "
	              "checkpoint's root");
	c.proof[1][7] ^= 1;
	/* One hash short. */
	c.plen--;
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the inclusion proof does not verify");
	c.plen++;
	/* One hash not a hash. */
	r = rcpt_obj(&c, 0);
	CHECK(json_array_set_new(json_object_get(r, "inclusion"), 2,
	                         json_string("AAAA")) == 0);
	CHECK_REFUSED(judge(verifier(key), &m, r, N), "r.json (entry 5): hash 2 of the "
	              "inclusion proof is not base64 of 32 bytes");
	/* Longer than any proof can be. */
	c.plen = RG_TLOG_MAXPROOF + 1;
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the inclusion proof has more than 130 hashes");
	free(c.note);

	/* A byte of the checkpoint's signature changed (inside the base64
	 * of its 64 bytes, past the key id's). */
	rcpt_v2(&c, key, m.leaf, 5, N);
	p = strrchr(c.note, ' ') + 12;
	*p = *p == 'A' ? 'B' : 'A';
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the checkpoint's signature does not verify under the "
	              "published key");
	free(c.note);

	/* The checkpoint signed by a key that is not published: under its
	 * own key id, or under the published key's. */
	rcpt_v2(&c, other, m.leaf, 5, N);
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the checkpoint's signature does not verify");
	rg_sigkey_public(key, pub);
	c.keyid = rg_sig_note_keyid(ORIGIN, pub);
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the checkpoint's signature does not verify");
	free(c.note);
	/* And the published key's checkpoint under another key id. */
	rcpt_v2(&c, key, m.leaf, 5, N);
	rg_sigkey_public(other, pub);
	c.keyid = rg_sig_note_keyid(ORIGIN, pub);
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the checkpoint's signature does not verify");
	free(c.note);

	/* An entry the checkpoint's tree does not hold: index >= N. */
	rcpt_v2(&c, key, m.leaf, 25, N);
	free(c.note);
	c.note = checkpoint(key, m.leaf, 20);
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 25): "
	              "not in the checkpoint's tree of 20 entries");
	free(c.note);
	rcpt_v2(&c, key, m.leaf, 19, 20);
	c.index = 20;
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 20): "
	              "not in the checkpoint's tree of 20 entries");
	free(c.note);

	/* leaf_hash is not the entry's; the entry is not base64. */
	rcpt_v2(&c, key, m.leaf, 5, N);
	c.leaf[0] ^= 1;
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "leaf_hash is not the hash of the entry");
	c.leaf[0] ^= 1;
	r = rcpt_obj(&c, 0);
	CHECK(json_object_set_new(r, "entry", json_string("e3 0=")) == 0);
	CHECK_REFUSED(judge(verifier(key), &m, r, N), "r.json (entry 5): bad base64");
	free(c.note);

	/* A checkpoint longer than a checkpoint note can be. */
	CHECK((c.note = malloc(4098)) != NULL);
	memset(c.note, 'x', 4097);
	c.note[4097] = '\0';
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the checkpoint is longer than 4096 bytes");
	free(c.note);

	free(m.note);
	free(m.note_half);
	rg_sigkey_free(key);
	rg_sigkey_free(other);
}

TEST(verify_refuses_a_checkpoint_receipt_whose_checkpoint_the_log_does_not_match)
{
	static struct mlog m;
	static struct rcpt c;
	static uint8_t leaves2[N][RG_HASHLEN];
	rg_sigkey *key = rg_sigkey_generate();
	char alt[128];

	CHECK(key != NULL);
	mlog_build(&m, key);

	/* Another log of the same size, one entry after the receipt's
	 * changed: the proof holds against that log's root, which is not
	 * the root of the log verified. */
	memcpy(leaves2, m.leaf, sizeof(leaves2));
	leaves2[30][0] ^= 1;
	rcpt_v2(&c, key, leaves2, 5, N);
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json (entry 5): "
	              "the root of the first 40 entries is not the signed root");
	free(c.note);
	/* At the size of a checkpoint given as such: two signed roots. */
	leaves2[30][0] ^= 1;
	leaves2[12][0] ^= 1;
	rcpt_v2(&c, key, leaves2, 5, N / 2);
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "cp and r.json "
	              "(entry 5): two signed roots for size 20 (the log forked)");
	free(c.note);
	leaves2[12][0] ^= 1;

	/* The receipt's own entry replaced in the other log. */
	entry_text(5, 9999, alt, sizeof(alt));
	rg_merkle_leaf((const uint8_t *)alt, strlen(alt), leaves2[5]);
	rcpt_v2(&c, key, leaves2, 5, N);
	snprintf(c.entry, sizeof(c.entry), "%s", alt);
	memcpy(c.leaf, leaves2[5], RG_HASHLEN);
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "entry 5: not the "
	              "entry of r.json (altered or replaced)");
	free(c.note);

	/* The log ends before the checkpoint's size (past the entry, which
	 * alone would verify). */
	rcpt_v2(&c, key, m.leaf, 5, N);
	CHECK_REFUSED(judge(verifier(key), &m, rcpt_obj(&c, 1), 30), "r.json (entry 5): "
	              "signed for 40 entries but the log holds 30 (truncated");
	free(c.note);

	free(m.note);
	free(m.note_half);
	rg_sigkey_free(key);
}

TEST(verify_refuses_a_receipt_with_both_or_neither_signature_and_checkpoint)
{
	static struct mlog m;
	static struct rcpt c;
	rg_sigkey *key = rg_sigkey_generate();
	json_t *r;

	CHECK(key != NULL);
	mlog_build(&m, key);
	rcpt_v2(&c, key, m.leaf, 5, N);
	CHECK(rg_sig_sign(key, (const uint8_t *)c.entry, strlen(c.entry),
	                  c.sig) == 0);
	c.has_sig = 1;
	CHECK_EQ_STR(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json: not a receipt");
	free(c.note);
	c.note = NULL;
	c.has_sig = 0;
	CHECK_EQ_STR(judge(verifier(key), &m, rcpt_obj(&c, 1), N), "r.json: not a receipt");
	/* A checkpoint without its proof; one with cosignatures, which only
	 * a signing-key announcement carries, and that is signed. */
	rcpt_v2(&c, key, m.leaf, 5, N);
	r = rcpt_obj(&c, 0);
	CHECK(json_object_del(r, "inclusion") == 0);
	CHECK_EQ_STR(judge(verifier(key), &m, r, N), "r.json: not a receipt");
	r = rcpt_obj(&c, 0);
	CHECK(json_object_set_new(r, "cosignatures", json_array()) == 0);
	CHECK_EQ_STR(judge(verifier(key), &m, r, N), "r.json: not a receipt");
	free(c.note);

	free(m.note);
	free(m.note_half);
	rg_sigkey_free(key);
}

TEST(verify_takes_receipts_only_before_the_first_entry)
{
	static struct mlog m;
	static struct rcpt c;
	rg_sigkey *key = rg_sigkey_generate();
	rg_verify *v;
	char *text;
	json_t *r;

	CHECK(key != NULL);
	mlog_build(&m, key);
	rcpt_v2(&c, key, m.leaf, 5, N);
	r = rcpt_obj(&c, 1);
	CHECK((text = json_dumps(r, JSON_COMPACT)) != NULL);
	v = verifier(key);
	CHECK(rg_verify_line(v, m.line[0], strlen(m.line[0])) == 0);
	CHECK(rg_verify_add_receipt(v, text, strlen(text), "r.json") != 0);
	CHECK_EQ_STR(rg_verify_error(v), "r.json: receipts go before entries");
	rg_verify_free(v);
	free(text);
	json_decref(r);
	free(c.note);

	free(m.note);
	free(m.note_half);
	rg_sigkey_free(key);
}

TEST(verify_counts_a_checkpoint_receipts_key_at_its_checkpoint_not_its_entry)
{
	static struct mlog m;
	static struct rcpt c;
	rg_sigkey *key = rg_sigkey_generate(), *key2 = rg_sigkey_generate();
	uint8_t pub2[RG_SIG_PUBLEN];
	rg_verify *v;
	char e[256];

	CHECK(key != NULL && key2 != NULL);
	mlog_build(&m, key);
	/* Entry 4 announces key2 (a rotation). */
	rg_sigkey_public(key2, pub2);
	snprintf(e, sizeof(e), "{\"action\":\"admin.signing.rotate\",\"admin\":"
	         "{\"signing_key\":{\"keyid\":\"%08x\"}},\"decision\":\"allow\","
	         "\"index\":4}", rg_sig_note_keyid(ORIGIN, pub2));
	mlog_set(&m, 4, e);
	free(m.note_half);
	m.note_half = checkpoint(key, m.leaf, N / 2);

	/* After a rotation the new key signs the batches' checkpoints, whose
	 * trees hold entries from before it: a receipt for one verifies. */
	rcpt_v2(&c, key2, m.leaf, 2, 10);
	v = verifier(key);
	CHECK(rg_verify_add_key(v, ORIGIN, pub2) == 0);
	CHECK_EQ_STR(judge(v, &m, rcpt_obj(&c, 1), N), "");
	free(c.note);
	/* But not one whose tree ends before the announcement. */
	rcpt_v2(&c, key2, m.leaf, 2, 4);
	v = verifier(key);
	CHECK(rg_verify_add_key(v, ORIGIN, pub2) == 0);
	CHECK_REFUSED(judge(v, &m, rcpt_obj(&c, 1), N), "which signed for "
	              "entry 3 before it");
	free(c.note);
	/* Nor a signature by the new key over an entry before it. */
	rcpt_v1(&c, key2, 2);
	v = verifier(key);
	CHECK(rg_verify_add_key(v, ORIGIN, pub2) == 0);
	CHECK_REFUSED(judge(v, &m, rcpt_obj(&c, 1), N), "which signed for "
	              "entry 2 before it");

	free(m.note);
	free(m.note_half);
	rg_sigkey_free(key);
	rg_sigkey_free(key2);
}
