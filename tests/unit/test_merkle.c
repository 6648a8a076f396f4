/*
 * test_merkle.c -- RFC 9162 tree hashing and proof verification, checked
 * against every inclusion and consistency vector of transparency-dev/merkle
 * (tests/data/merkle) and against a naive transcription of the RFC's
 * recursive definitions (MTH, PATH, PROOF).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/merkle.h"
#include "tests/test.h"

/* ---- The RFC's definitions, transcribed without cleverness. ---------- */

static void
rg_t_sha(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
         const uint8_t *c, size_t clen, uint8_t out[RG_HASHLEN])
{
	uint8_t buf[1 + 2 * RG_HASHLEN + 64];

	CHECK(alen + blen + clen <= sizeof(buf));
	memcpy(buf, a, alen);
	if (blen != 0)
		memcpy(buf + alen, b, blen);
	if (clen != 0)
		memcpy(buf + alen + blen, c, clen);
	crypto_hash_sha256(out, buf, alen + blen + clen);
}

static size_t
rg_t_k(size_t n)
{
	size_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* MTH over leaf hashes. */
static void
rg_t_mth(uint8_t (*d)[RG_HASHLEN], size_t n, uint8_t out[RG_HASHLEN])
{
	static const uint8_t one = 1;
	uint8_t l[RG_HASHLEN], r[RG_HASHLEN];
	size_t k;

	if (n == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], RG_HASHLEN);
		return;
	}
	k = rg_t_k(n);
	rg_t_mth(d, k, l);
	rg_t_mth(d + k, n - k, r);
	rg_t_sha(&one, 1, l, RG_HASHLEN, r, RG_HASHLEN, out);
}

#define RG_T_MAXPROOF 64
struct rg_t_proof {
	uint8_t h[RG_T_MAXPROOF][RG_HASHLEN];
	size_t n;
};

static void
rg_t_push(struct rg_t_proof *p, const uint8_t h[RG_HASHLEN])
{
	CHECK(p->n < RG_T_MAXPROOF);
	memcpy(p->h[p->n++], h, RG_HASHLEN);
}

/* RFC 9162 2.1.3.1 PATH(m, D[n]). */
static void
rg_t_path(size_t m, uint8_t (*d)[RG_HASHLEN], size_t n, struct rg_t_proof *p)
{
	uint8_t h[RG_HASHLEN];
	size_t k;

	if (n == 1)
		return;
	k = rg_t_k(n);
	if (m < k) {
		rg_t_path(m, d, k, p);
		rg_t_mth(d + k, n - k, h);
	} else {
		rg_t_path(m - k, d + k, n - k, p);
		rg_t_mth(d, k, h);
	}
	rg_t_push(p, h);
}

/* RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b). */
static void
rg_t_subproof(size_t m, uint8_t (*d)[RG_HASHLEN], size_t n, int b,
              struct rg_t_proof *p)
{
	uint8_t h[RG_HASHLEN];
	size_t k;

	if (m == n) {
		if (!b) {
			rg_t_mth(d, n, h);
			rg_t_push(p, h);
		}
		return;
	}
	k = rg_t_k(n);
	if (m <= k) {
		rg_t_subproof(m, d, k, b, p);
		rg_t_mth(d + k, n - k, h);
	} else {
		rg_t_subproof(m - k, d + k, n - k, 0, p);
		rg_t_mth(d, k, h);
	}
	rg_t_push(p, h);
}

static void
rg_t_leaves(uint8_t (*d)[RG_HASHLEN], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char e[32];
		int w = snprintf(e, sizeof(e), "entry %zu", i);

		CHECK(w > 0);
		rg_merkle_leaf((const uint8_t *)e, (size_t)w, d[i]);
	}
}

TEST(merkle_empty_tree_root_is_sha256_of_nothing)
{
	uint8_t root[RG_HASHLEN], want[RG_HASHLEN];
	/* e3b0c442...b855, RFC 9162 section 2.1.1 */
	static const uint8_t e3b0[4] = {0xe3, 0xb0, 0xc4, 0x42};

	rg_merkle_root(NULL, 0, root);
	crypto_hash_sha256(want, NULL, 0);
	CHECK(memcmp(root, want, RG_HASHLEN) == 0);
	CHECK(memcmp(root, e3b0, sizeof(e3b0)) == 0);
}

TEST(merkle_leaf_and_node_use_rfc9162_prefixes)
{
	static const uint8_t zero = 0, one = 1;
	const uint8_t e[] = "entry";
	uint8_t a[RG_HASHLEN], b[RG_HASHLEN], n[RG_HASHLEN], w[RG_HASHLEN];

	rg_merkle_leaf(e, 5, a);
	rg_t_sha(&zero, 1, e, 5, NULL, 0, w);
	CHECK(memcmp(a, w, RG_HASHLEN) == 0);
	rg_merkle_leaf(NULL, 0, b);
	rg_t_sha(&zero, 1, NULL, 0, NULL, 0, w);
	CHECK(memcmp(b, w, RG_HASHLEN) == 0);
	rg_merkle_node(a, b, n);
	rg_t_sha(&one, 1, a, RG_HASHLEN, b, RG_HASHLEN, w);
	CHECK(memcmp(n, w, RG_HASHLEN) == 0);
	/* Order matters. */
	rg_merkle_node(b, a, w);
	CHECK(memcmp(n, w, RG_HASHLEN) != 0);
}

TEST(merkle_root_matches_rfc_definition_for_small_trees)
{
	uint8_t d[33][RG_HASHLEN], got[RG_HASHLEN], want[RG_HASHLEN];
	uint8_t ab[RG_HASHLEN], cd[RG_HASHLEN], abcd[RG_HASHLEN];

	rg_t_leaves(d, 33);
	for (size_t n = 0; n <= 33; n++) {
		rg_merkle_root((const uint8_t (*)[RG_HASHLEN])d, n, got);
		rg_t_mth(d, n, want);
		CHECKF(memcmp(got, want, RG_HASHLEN) == 0, "n=%zu", n);
	}
	/* n = 5 by hand: ((ab)(cd)) e. */
	rg_merkle_node(d[0], d[1], ab);
	rg_merkle_node(d[2], d[3], cd);
	rg_merkle_node(ab, cd, abcd);
	rg_merkle_node(abcd, d[4], want);
	rg_merkle_root((const uint8_t (*)[RG_HASHLEN])d, 5, got);
	CHECK(memcmp(got, want, RG_HASHLEN) == 0);
	/* n = 3: (ab) c, not a (bc). */
	rg_merkle_node(ab, d[2], want);
	rg_merkle_root((const uint8_t (*)[RG_HASHLEN])d, 3, got);
	CHECK(memcmp(got, want, RG_HASHLEN) == 0);
}

TEST(merkle_inclusion_proofs_from_rfc_path_verify_and_tampering_fails)
{
	uint8_t d[20][RG_HASHLEN], root[RG_HASHLEN];
	struct rg_t_proof p;

	rg_t_leaves(d, 20);
	for (size_t n = 1; n <= 20; n++) {
		rg_t_mth(d, n, root);
		for (size_t m = 0; m < n; m++) {
			const uint8_t (*pp)[RG_HASHLEN] =
			    (const uint8_t (*)[RG_HASHLEN])p.h;

			p.n = 0;
			rg_t_path(m, d, n, &p);
			CHECKF(rg_merkle_verify_inclusion(m, n, d[m], pp, p.n,
			                                  root) == 0,
			       "m=%zu n=%zu", m, n);
			if (n > 1) {
				CHECK(rg_merkle_verify_inclusion((m + 1) % n, n,
				      d[m], pp, p.n, root) == -1);
				CHECK(rg_merkle_verify_inclusion(m, n, d[m], pp,
				      p.n - 1, root) == -1);
			}
			CHECK(rg_merkle_verify_inclusion(m, n, d[(m + 1) % 20],
			      pp, p.n, root) == -1);
			for (size_t i = 0; i < p.n; i++) {
				p.h[i][7] ^= 0x10;
				CHECK(rg_merkle_verify_inclusion(m, n, d[m], pp,
				      p.n, root) == -1);
				p.h[i][7] ^= 0x10;
			}
		}
	}
}

TEST(merkle_consistency_proofs_from_rfc_proof_verify_and_tampering_fails)
{
	uint8_t d[20][RG_HASHLEN], r1[RG_HASHLEN], r2[RG_HASHLEN];
	struct rg_t_proof p;

	rg_t_leaves(d, 20);
	for (size_t n = 1; n <= 20; n++) {
		rg_t_mth(d, n, r2);
		for (size_t m = 1; m <= n; m++) {
			const uint8_t (*pp)[RG_HASHLEN] =
			    (const uint8_t (*)[RG_HASHLEN])p.h;

			rg_t_mth(d, m, r1);
			p.n = 0;
			rg_t_subproof(m, d, n, 1, &p);
			CHECKF(rg_merkle_verify_consistency(m, n, r1, r2, pp,
			                                    p.n) == 0,
			       "m=%zu n=%zu", m, n);
			if (m == n)
				continue;
			CHECK(rg_merkle_verify_consistency(m, n, r2, r1, pp,
			                                   p.n) == -1);
			CHECK(rg_merkle_verify_consistency(m, n, r1, r2, pp,
			                                   p.n - 1) == -1);
			for (size_t i = 0; i < p.n; i++) {
				p.h[i][0] ^= 0x01;
				CHECK(rg_merkle_verify_consistency(m, n, r1, r2,
				      pp, p.n) == -1);
				p.h[i][0] ^= 0x01;
			}
		}
	}
}

/* ---- transparency-dev/merkle vectors. --------------------------------- */

/*
 * A vector's hash as our fixed-size array. Absent and null fields are
 * empty. Values shorter than 32 bytes (the vectors' "wrong-root", empty
 * and garbage entries) are zero-padded and handed to the verifier, which
 * must refuse them on its own; *exact says whether no padding was needed.
 */
static void
rg_t_hash(json_t *v, uint8_t out[RG_HASHLEN], int *exact)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";
	uint8_t buf[128];
	size_t len = 0;

	CHECKF(sodium_base642bin(buf, sizeof(buf), s, strlen(s), NULL, &len,
	                         NULL, sodium_base64_VARIANT_ORIGINAL) == 0,
	       "bad base64 %s", s);
	CHECKF(len <= RG_HASHLEN, "%zu-byte hash", len);
	memset(out, 0, RG_HASHLEN);
	memcpy(out, buf, len);
	*exact = len == RG_HASHLEN;
}

/*
 * An unsigned field, read from the file's text: the vectors use the full
 * uint64 range (index 0 minus 1 is 18446744073709551615), beyond jansson's
 * json_int_t. Absent or null is 0.
 */
static uint64_t
rg_t_u64(const char *text, json_t *o, const char *k)
{
	char pat[64];
	const char *p;
	char *end;
	unsigned long long v;
	json_t *j = json_object_get(o, k);

	if (j == NULL || json_is_null(j))
		return 0;
	CHECKF(json_is_number(j), "field %s", k);
	snprintf(pat, sizeof(pat), "\"%s\":", k);
	CHECKF((p = strstr(text, pat)) != NULL, "field %s", k);
	CHECKF(strstr(p + 1, pat) == NULL, "field %s twice", k);
	p += strlen(pat);
	while (*p == ' ')
		p++;
	CHECKF(*p >= '0' && *p <= '9', "field %s", k);
	errno = 0;
	v = strtoull(p, &end, 10);
	CHECKF(errno == 0 && end != p, "field %s", k);
	return (uint64_t)v;
}

struct rg_t_tally {
	unsigned pass, refused, files;
};

static void
rg_t_slurp(const char *path, char *buf, size_t cap)
{
	FILE *f;
	size_t n;

	CHECKF((f = fopen(path, "rb")) != NULL, "cannot open %s", path);
	n = fread(buf, 1, cap - 1, f);
	CHECKF(feof(f) && !ferror(f), "%s: too long", path);
	fclose(f);
	buf[n] = '\0';
}

/* Verify one vector file; 0 when the verifier accepted it. */
static int
rg_t_vector(const char *path, int inclusion, int *want_err)
{
	json_error_t jerr;
	json_t *o, *proofs, *we;
	char text[8192];
	struct rg_t_proof p = {.n = 0};
	uint8_t a[RG_HASHLEN], b[RG_HASHLEN];
	int ex, leaf_exact = 1, r;

	rg_t_slurp(path, text, sizeof(text));
	/* Integers as reals only so that the parse succeeds; their exact
	 * values come from the text (rg_t_u64). */
	CHECKF((o = json_loads(text, JSON_DECODE_INT_AS_REAL, &jerr)) != NULL,
	       "%s: %s", path, jerr.text);
	we = json_object_get(o, "wantErr");
	CHECKF(json_is_boolean(we), "%s: no wantErr", path);
	*want_err = json_is_true(we);
	proofs = json_object_get(o, "proof");
	if (proofs != NULL && !json_is_null(proofs)) {
		CHECK(json_is_array(proofs));
		for (size_t i = 0; i < json_array_size(proofs); i++) {
			CHECK(p.n < RG_T_MAXPROOF);
			rg_t_hash(json_array_get(proofs, i), p.h[p.n++], &ex);
		}
	}
	if (inclusion) {
		rg_t_hash(json_object_get(o, "leafHash"), a, &leaf_exact);
		rg_t_hash(json_object_get(o, "root"), b, &ex);
		/*
		 * A leaf hash that is not 32 bytes cannot be passed through
		 * our fixed-size API at all: a caller must refuse it while
		 * decoding, as the reference verifier does.
		 */
		if (!leaf_exact)
			r = -1;
		else
			r = rg_merkle_verify_inclusion(
			    rg_t_u64(text, o, "leafIdx"), rg_t_u64(text, o, "treeSize"), a,
			    (const uint8_t (*)[RG_HASHLEN])p.h, p.n, b);
	} else {
		rg_t_hash(json_object_get(o, "root1"), a, &ex);
		rg_t_hash(json_object_get(o, "root2"), b, &ex);
		r = rg_merkle_verify_consistency(
		    rg_t_u64(text, o, "size1"), rg_t_u64(text, o, "size2"), a, b,
		    (const uint8_t (*)[RG_HASHLEN])p.h, p.n);
	}
	json_decref(o);
	return r;
}

static void
rg_t_walk(const char *dir, int inclusion, struct rg_t_tally *t)
{
	DIR *dp;
	struct dirent *de;
	char path[1024];
	int want_err, r, w;
	size_t nl;

	CHECKF((dp = opendir(dir)) != NULL, "cannot open %s", dir);
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		w = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		CHECK(w > 0 && (size_t)w < sizeof(path));
		nl = strlen(de->d_name);
		if (nl > 5 && strcmp(de->d_name + nl - 5, ".json") == 0) {
			r = rg_t_vector(path, inclusion, &want_err);
			CHECKF(want_err ? r == -1 : r == 0,
			       "%s: wantErr=%d but verifier returned %d", path,
			       want_err, r);
			t->files++;
			if (want_err)
				t->refused++;
			else
				t->pass++;
			continue;
		}
		/* Directories (0, 1, ..., additional, single-entry). */
		{
			DIR *sub = opendir(path);

			if (sub != NULL) {
				closedir(sub);
				rg_t_walk(path, inclusion, t);
			}
		}
	}
	closedir(dp);
}

TEST(merkle_passes_every_transparency_dev_inclusion_vector)
{
	struct rg_t_tally t = {0, 0, 0};
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/merkle/inclusion", rg_test_data());
	rg_t_walk(dir, 1, &t);
	/* 5 happy paths and the single-entry match; the rest must fail. */
	CHECK_EQ_INT(t.pass, 6);
	CHECKF(t.refused >= 60, "only %u refusals", t.refused);
}

TEST(merkle_passes_every_transparency_dev_consistency_vector)
{
	struct rg_t_tally t = {0, 0, 0};
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/merkle/consistency", rg_test_data());
	rg_t_walk(dir, 0, &t);
	/* 5 happy paths and equal sizes with equal roots. */
	CHECK_EQ_INT(t.pass, 6);
	CHECKF(t.refused >= 60, "only %u refusals", t.refused);
}

TEST(merkle_consistency_refuses_size_zero_and_shrinking_trees)
{
	uint8_t d[4][RG_HASHLEN], r0[RG_HASHLEN], r4[RG_HASHLEN];

	rg_t_leaves(d, 4);
	rg_t_mth(d, 0, r0);
	rg_t_mth(d, 4, r4);
	CHECK_EQ_INT(rg_merkle_verify_consistency(0, 4, r0, r4, NULL, 0), -1);
	CHECK_EQ_INT(rg_merkle_verify_consistency(0, 0, r0, r0, NULL, 0), -1);
	CHECK_EQ_INT(rg_merkle_verify_consistency(4, 2, r4, r0, NULL, 0), -1);
	CHECK_EQ_INT(rg_merkle_verify_consistency(4, 4, r4, r4, NULL, 0), 0);
	CHECK_EQ_INT(rg_merkle_verify_consistency(4, 4, r4, r0, NULL, 0), -1);
	CHECK_EQ_INT(rg_merkle_verify_inclusion(0, 0, d[0], NULL, 0, r0), -1);
}
