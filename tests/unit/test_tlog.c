/*
 * test_tlog.c -- proofs built from stored subtree hashes (crypto/tlog.c)
 * are exactly the RFC 9162 proofs computed naively from all leaves, and
 * verify; the streaming frontier gives the RFC root; C2SP signed notes and
 * checkpoints are byte-exact and the spec's own example verifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/merkle.h"
#include "crypto/note.h"
#include "crypto/tlog.h"
#include "crypto/tlog_span.h"
#include "tests/test.h"

#define NMAX 70

struct mem_log {
	uint8_t leaves[NMAX][RG_HASHLEN];
	uint64_t n;
	unsigned lookups;
};

/* Subtree (level, idx), computed from the leaves: what the node table
 * holds. Refuses anything beyond the log, as the table would. */
static int
mem_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[RG_HASHLEN])
{
	struct mem_log *m = ctx;
	uint64_t lo = idx << level, w = UINT64_C(1) << level;

	m->lookups++;
	if (level > 10 || lo + w > m->n)
		return -1;
	rg_merkle_root((const uint8_t (*)[RG_HASHLEN])m->leaves + lo, (size_t)w, out);
	return 0;
}

static void
mem_fill(struct mem_log *m, uint64_t n)
{
	memset(m, 0, sizeof(*m));
	for (uint64_t i = 0; i < n; i++) {
		char e[32];
		int len = snprintf(e, sizeof(e), "{\"index\":%llu}",
		                   (unsigned long long)i);
		rg_merkle_leaf((const uint8_t *)e, (size_t)len, m->leaves[i]);
	}
	m->n = n;
}

static uint64_t
split(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void
naive_mth(struct mem_log *m, uint64_t lo, uint64_t n, uint8_t out[RG_HASHLEN])
{
	rg_merkle_root((const uint8_t (*)[RG_HASHLEN])m->leaves + lo, (size_t)n, out);
}

/* RFC 9162 2.1.3.1 PATH, over all leaves. */
static void
naive_path(struct mem_log *m, uint64_t idx, uint64_t lo, uint64_t n,
           uint8_t (*out)[RG_HASHLEN], size_t *len)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = split(n);
	if (idx < k) {
		naive_path(m, idx, lo, k, out, len);
		naive_mth(m, lo + k, n - k, out[(*len)++]);
	} else {
		naive_path(m, idx - k, lo + k, n - k, out, len);
		naive_mth(m, lo, k, out[(*len)++]);
	}
}

/* RFC 9162 2.1.4.1 SUBPROOF, over all leaves. */
static void
naive_sub(struct mem_log *m, uint64_t sz, uint64_t lo, uint64_t n, int b,
          uint8_t (*out)[RG_HASHLEN], size_t *len)
{
	uint64_t k;

	if (sz == n) {
		if (!b)
			naive_mth(m, lo, n, out[(*len)++]);
		return;
	}
	k = split(n);
	if (sz <= k) {
		naive_sub(m, sz, lo, k, b, out, len);
		naive_mth(m, lo + k, n - k, out[(*len)++]);
	} else {
		naive_sub(m, sz - k, lo + k, n - k, 0, out, len);
		naive_mth(m, lo, k, out[(*len)++]);
	}
}

TEST(tlog_inclusion_proofs_from_subtrees_equal_naive_proofs_and_verify)
{
	static struct mem_log m;
	uint8_t got[RG_TLOG_MAXPROOF][RG_HASHLEN], want[RG_TLOG_MAXPROOF][RG_HASHLEN];
	uint8_t root[RG_HASHLEN], nroot[RG_HASHLEN];

	mem_fill(&m, NMAX);
	for (uint64_t size = 1; size <= NMAX; size++) {
		m.n = size;
		CHECK(rg_tlog_root(size, mem_get, &m, root) == 0);
		naive_mth(&m, 0, size, nroot);
		CHECKF(memcmp(root, nroot, RG_HASHLEN) == 0, "root of %llu",
		       (unsigned long long)size);
		for (uint64_t i = 0; i < size; i++) {
			size_t glen = 0, wlen = 0;

			m.lookups = 0;
			CHECK(rg_tlog_inclusion(i, size, mem_get, &m, got, &glen) == 0);
			/* O(log n) lookups, not a scan. */
			CHECKF(m.lookups <= 2 * 8 + 8, "%u lookups", m.lookups);
			naive_path(&m, i, 0, size, want, &wlen);
			CHECK_EQ_INT(glen, wlen);
			CHECKF(memcmp(got, want, glen * RG_HASHLEN) == 0,
			       "inclusion %llu in %llu", (unsigned long long)i,
			       (unsigned long long)size);
			CHECK(rg_merkle_verify_inclusion(i, size, m.leaves[i],
			      (const uint8_t (*)[RG_HASHLEN])got, glen, root) == 0);
		}
		CHECK(rg_tlog_inclusion(size, size, mem_get, &m, got, &(size_t){0}) != 0);
	}
}

TEST(tlog_consistency_proofs_from_subtrees_equal_naive_proofs_and_verify)
{
	static struct mem_log m;
	uint8_t got[RG_TLOG_MAXPROOF][RG_HASHLEN], want[RG_TLOG_MAXPROOF][RG_HASHLEN];
	uint8_t r1[RG_HASHLEN], r2[RG_HASHLEN];

	mem_fill(&m, NMAX);
	for (uint64_t to = 1; to <= NMAX; to++) {
		m.n = to;
		CHECK(rg_tlog_root(to, mem_get, &m, r2) == 0);
		for (uint64_t from = 1; from <= to; from++) {
			size_t glen = 0, wlen = 0;

			CHECK(rg_tlog_root(from, mem_get, &m, r1) == 0);
			CHECK(rg_tlog_consistency(from, to, mem_get, &m, got, &glen) == 0);
			naive_sub(&m, from, 0, to, 1, want, &wlen);
			CHECK_EQ_INT(glen, wlen);
			CHECKF(memcmp(got, want, glen * RG_HASHLEN) == 0,
			       "consistency %llu..%llu", (unsigned long long)from,
			       (unsigned long long)to);
			CHECK(rg_merkle_verify_consistency(from, to, r1, r2,
			      (const uint8_t (*)[RG_HASHLEN])got, glen) == 0);
		}
	}
	CHECK(rg_tlog_consistency(0, 5, mem_get, &m, got, &(size_t){0}) != 0);
	CHECK(rg_tlog_consistency(6, 5, mem_get, &m, got, &(size_t){0}) != 0);
}

TEST(tlog_frontier_root_equals_rfc_root_at_every_size)
{
	static struct mem_log m;
	struct rg_tlog_frontier f;
	uint8_t a[RG_HASHLEN], b[RG_HASHLEN];

	mem_fill(&m, NMAX);
	memset(&f, 0, sizeof(f));
	rg_tlog_frontier_root(&f, a);
	naive_mth(&m, 0, 0, b);
	CHECK(memcmp(a, b, RG_HASHLEN) == 0);
	for (uint64_t n = 1; n <= NMAX; n++) {
		rg_tlog_frontier_add(&f, m.leaves[n - 1]);
		rg_tlog_frontier_root(&f, a);
		naive_mth(&m, 0, n, b);
		CHECKF(memcmp(a, b, RG_HASHLEN) == 0, "size %llu",
		       (unsigned long long)n);
	}
}

TEST(tlog_frontier_load_equals_the_streamed_frontier)
{
	static struct mem_log m;
	struct rg_tlog_frontier f, g;

	mem_fill(&m, NMAX);
	memset(&f, 0, sizeof(f));
	for (uint64_t n = 0; n <= NMAX; n++) {
		CHECK(rg_tlog_frontier_load(&g, n, mem_get, &m) == 0);
		CHECK(g.size == n);
		for (unsigned l = 0; l < 64; l++)
			if ((n >> l) & 1)
				CHECKF(memcmp(f.h[l], g.h[l], RG_HASHLEN) == 0,
				       "size %llu level %u", (unsigned long long)n, l);
		if (n < NMAX)
			rg_tlog_frontier_add(&f, m.leaves[n]);
	}
	/* A missing subtree fails the load. */
	m.n = 5;
	CHECK(rg_tlog_frontier_load(&g, 6, mem_get, &m) != 0);
}

/* The complete subtrees of the NMAX leaves, computed once: what mem_get
 * gives, for the many proofs below (mem_get recomputes each). */
struct mem_tab {
	uint8_t h[8][NMAX][RG_HASHLEN];
	uint64_t n;
};

static int
tab_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[RG_HASHLEN])
{
	struct mem_tab *t = ctx;

	if (level > 7 || (idx + 1) << level > t->n)
		return -1;
	memcpy(out, t->h[level][idx], RG_HASHLEN);
	return 0;
}

/* Every split of every log up to NMAX leaves into the first a and a batch
 * after them: the span's root is the RFC root, and each new leaf's proof
 * is the one built from all subtrees, and verifies. */
TEST(tlog_span_gives_the_root_and_every_new_leafs_proof)
{
	static struct mem_log m;
	static struct mem_tab t;
	uint8_t got[RG_TLOG_MAXPROOF][RG_HASHLEN], want[RG_TLOG_MAXPROOF][RG_HASHLEN];
	uint8_t root[RG_HASHLEN], nroot[RG_HASHLEN], h[RG_HASHLEN];

	mem_fill(&m, NMAX);
	for (unsigned l = 0; l < 8; l++)
		for (uint64_t i = 0; (i + 1) << l <= NMAX; i++)
			CHECK(mem_get(&m, l, i, t.h[l][i]) == 0);
	for (uint64_t n = 1; n <= NMAX; n++) {
		struct rg_tlog_frontier f;

		m.n = n;
		t.n = n;
		naive_mth(&m, 0, n, nroot);
		memset(&f, 0, sizeof(f));
		for (uint64_t a = 0; a <= n; a++) {
			rg_tlog_span *s = rg_tlog_span_new(&f,
			    (const uint8_t (*)[RG_HASHLEN])m.leaves + a,
			    (size_t)(n - a));

			CHECK(s != NULL);
			CHECK(rg_tlog_span_size(s) == n);
			CHECK(rg_tlog_span_root(s, root) == 0);
			CHECKF(memcmp(root, nroot, RG_HASHLEN) == 0, "root %llu+%llu",
			       (unsigned long long)a, (unsigned long long)(n - a));
			for (uint64_t i = a; i < n; i++) {
				size_t glen = 0, wlen = 0;

				CHECK(rg_tlog_span_inclusion(s, i, got, &glen) == 0);
				CHECK(rg_tlog_inclusion(i, n, tab_get, &t, want,
				                        &wlen) == 0);
				CHECK_EQ_INT(glen, wlen);
				CHECKF(memcmp(got, want, glen * RG_HASHLEN) == 0,
				       "proof of %llu in %llu+%llu",
				       (unsigned long long)i, (unsigned long long)a,
				       (unsigned long long)(n - a));
				CHECK(rg_merkle_verify_inclusion(i, n, m.leaves[i],
				      (const uint8_t (*)[RG_HASHLEN])got, glen,
				      root) == 0);
			}
			/* Only the batch's own leaves have proofs here. */
			if (a > 0)
				CHECK(rg_tlog_span_inclusion(s, a - 1, got,
				                             &(size_t){0}) != 0);
			CHECK(rg_tlog_span_inclusion(s, n, got, &(size_t){0}) != 0);
			/* Subtrees it does not hold are refused, not made up. */
			if (a >= 4)
				CHECK(rg_tlog_span_get(s, 0, 0, h) != 0);
			CHECK(rg_tlog_span_get(s, 0, n, h) != 0);
			CHECK(rg_tlog_span_get(s, 64, 0, h) != 0);
			rg_tlog_span_free(s);
			if (a < n)
				rg_tlog_frontier_add(&f, m.leaves[a]);
		}
	}
	rg_tlog_span_free(NULL);
}

/* ---- C2SP ------------------------------------------------------------- */

static char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 16);

	CHECKF(f != NULL, "%s", path);
	CHECK(buf != NULL);
	*len = fread(buf, 1, (1 << 16) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

TEST(c2sp_signed_note_example_verifies_with_the_note_verifier)
{
	char path[1024], name[RG_NOTE_MAXNAME + 1], *file, *vkey, *note, *nl;
	uint8_t pub[RG_SIG_PUBLEN];
	size_t len, textlen = 0, nlen;

	snprintf(path, sizeof(path), "%s/c2sp/signed-note-example.txt",
	         rg_test_data());
	file = read_all(path, &len);
	/* The verifier key is the first line not starting with '#'; the note
	 * follows the next comment line. */
	vkey = strstr(file, "\nexample.com/foo+");
	CHECK(vkey != NULL);
	vkey++;
	nl = strchr(vkey, '\n');
	CHECK(nl != NULL);
	*nl = '\0';
	note = strstr(nl + 1, "\nThis is an example message.");
	CHECK(note != NULL);
	note++;
	nlen = strlen(note);
	CHECK(rg_note_vkey_parse(vkey, name, sizeof(name), pub) == 0);
	CHECK_EQ_STR(name, "example.com/foo");
	CHECK_EQ_INT(rg_sig_note_keyid(name, pub), 0x530d903a);
	CHECK(rg_note_verify(note, nlen, name, pub, &textlen) == 0);
	CHECK_EQ_INT(textlen, strlen("This is an example message.\n"));
	/* Another name, or one changed byte of the text, verifies nothing. */
	CHECK(rg_note_verify(note, nlen, "example.com/bar", pub, NULL) != 0);
	note[0] = 't';
	CHECK(rg_note_verify(note, nlen, name, pub, NULL) != 0);
	free(file);
}

TEST(checkpoint_text_and_signed_note_are_byte_exact)
{
	uint8_t root[RG_HASHLEN], pub[RG_SIG_PUBLEN], seed[32] = {7}, got[RG_HASHLEN];
	uint8_t blob[68];
	char want[256], *text, *note, *b64, *sigline;
	size_t textlen = 0, blen;
	uint64_t size = 0;
	rg_sigkey *key = rg_sigkey_from_seed(seed);
	uint32_t id;

	CHECK(key != NULL);
	rg_sigkey_public(key, pub);
	for (int i = 0; i < RG_HASHLEN; i++)
		root[i] = (uint8_t)i;
	text = rg_note_checkpoint_text("recgate.demo/audit", 1234, root);
	CHECK(text != NULL);
	CHECK_EQ_STR(text, "recgate.demo/audit\n1234\n"
	                   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
	CHECK(rg_note_checkpoint_parse(text, strlen(text), "recgate.demo/audit",
	                               &size, got) == 0);
	CHECK_EQ_INT(size, 1234);
	CHECK(memcmp(got, root, RG_HASHLEN) == 0);
	CHECK(rg_note_checkpoint_parse(text, strlen(text), "other/origin", &size,
	                               got) != 0);
	CHECK(rg_note_checkpoint_parse("recgate.demo/audit\n01\nAAAA\n", 26,
	                               "recgate.demo/audit", &size, got) != 0);

	note = rg_note_sign(text, "recgate.demo/audit", key);
	CHECK(note != NULL);
	/* text, blank line, "— name base64(keyid || sig)\n". */
	snprintf(want, sizeof(want), "%s\n\xe2\x80\x94 recgate.demo/audit ", text);
	CHECK(strncmp(note, want, strlen(want)) == 0);
	sigline = note + strlen(want);
	b64 = strndup(sigline, strcspn(sigline, "\n"));
	CHECK(b64 != NULL);
	CHECK(sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &blen,
	                        NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	CHECK_EQ_INT(blen, 68);
	id = rg_sig_note_keyid("recgate.demo/audit", pub);
	CHECK(blob[0] == (uint8_t)(id >> 24) && blob[3] == (uint8_t)id);
	CHECK(rg_sig_verify(pub, (const uint8_t *)text, strlen(text), blob + 4) == 0);
	CHECK_EQ_INT(strlen(note), strlen(want) + strlen(b64) + 1);
	CHECK(rg_note_verify(note, strlen(note), "recgate.demo/audit", pub,
	                     &textlen) == 0);
	CHECK_EQ_INT(textlen, strlen(text));
	note[strlen(text) - 3] ^= 1;
	CHECK(rg_note_verify(note, strlen(note), "recgate.demo/audit", pub,
	                     NULL) != 0);
	free(b64);
	free(note);
	free(text);
	rg_sigkey_free(key);
}
