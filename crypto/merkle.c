/*
 * merkle.c -- RFC 9162 Merkle tree hash, inclusion and consistency proofs.
 *
 * This file owns the hashing rules of the audit log's tree. It is pure: no
 * storage, no allocation. It must never accept a proof the RFC 9162
 * verification algorithms (sections 2.1.3.2 and 2.1.4.2) would reject.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/merkle.h"
#include "crypto/sha256.h"

_Static_assert(RG_HASHLEN == crypto_hash_sha256_BYTES, "SHA-256 hashes");

void
rg_merkle_leaf(const uint8_t *entry, size_t len, uint8_t out[RG_HASHLEN])
{
	static const uint8_t prefix = 0x00;
	const struct rg_sha256_part parts[] = {{&prefix, 1}, {entry, len}};

	rg_sha256_v(out, parts, 2);
}

void
rg_merkle_node(const uint8_t left[RG_HASHLEN], const uint8_t right[RG_HASHLEN],
               uint8_t out[RG_HASHLEN])
{
	static const uint8_t prefix = 0x01;
	const struct rg_sha256_part parts[] = {{&prefix, 1}, {left, RG_HASHLEN},
	                                       {right, RG_HASHLEN}};

	/* out may alias left or right: both are consumed before out is
	 * written. */
	rg_sha256_v(out, parts, 3);
}

/* Largest power of two strictly less than n (n >= 2). */
static size_t
rg_merkle_split(size_t n)
{
	size_t k = 1;

	while (k < n - k)
		k <<= 1;
	return k;
}

/* MTH(D[n]) for n >= 1; recursion depth is log2(n). */
static void
rg_merkle_mth(const uint8_t (*leaves)[RG_HASHLEN], size_t n,
              uint8_t out[RG_HASHLEN])
{
	uint8_t l[RG_HASHLEN], r[RG_HASHLEN];
	size_t k;

	if (n == 1) {
		memcpy(out, leaves[0], RG_HASHLEN);
		return;
	}
	k = rg_merkle_split(n);
	rg_merkle_mth(leaves, k, l);
	rg_merkle_mth(leaves + k, n - k, r);
	rg_merkle_node(l, r, out);
}

void
rg_merkle_root(const uint8_t (*leaves)[RG_HASHLEN], size_t n,
               uint8_t out[RG_HASHLEN])
{
	if (n == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return;
	}
	rg_merkle_mth(leaves, n, out);
}

/* Right-shift fn and sn together until LSB(fn) is set or fn is 0. */
static void
rg_merkle_shift_to_set(uint64_t *fn, uint64_t *sn)
{
	while (*fn != 0 && (*fn & 1) == 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

int
rg_merkle_verify_inclusion(uint64_t index, uint64_t size,
                           const uint8_t leaf[RG_HASHLEN],
                           const uint8_t (*proof)[RG_HASHLEN], size_t plen,
                           const uint8_t root[RG_HASHLEN])
{
	uint8_t r[RG_HASHLEN];
	uint64_t fn, sn;

	if (leaf == NULL || root == NULL || (proof == NULL && plen != 0))
		return -1;
	/* Step 1. */
	if (index >= size)
		return -1;
	/* Steps 2-3. */
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, RG_HASHLEN);
	/* Step 4. */
	for (size_t i = 0; i < plen; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) != 0 || fn == sn) {
			rg_merkle_node(proof[i], r, r);
			if ((fn & 1) == 0)
				rg_merkle_shift_to_set(&fn, &sn);
		} else
			rg_merkle_node(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	/* Step 5. */
	if (sn != 0 || sodium_memcmp(r, root, RG_HASHLEN) != 0)
		return -1;
	return 0;
}

int
rg_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                             const uint8_t root1[RG_HASHLEN],
                             const uint8_t root2[RG_HASHLEN],
                             const uint8_t (*proof)[RG_HASHLEN], size_t plen)
{
	uint8_t fr[RG_HASHLEN], sr[RG_HASHLEN];
	const uint8_t *c;
	uint64_t fn, sn;
	size_t i, n;
	int prepend;

	if (root1 == NULL || root2 == NULL || (proof == NULL && plen != 0))
		return -1;
	/*
	 * RFC 9162 defines the proof for 0 < size1 < size2. Equal sizes are
	 * consistent exactly when the roots are equal (and there is nothing
	 * to prove). A tree of size 0 proves nothing about any later tree, so
	 * asking for consistency with it is refused rather than waved through.
	 */
	if (size1 == 0 || size1 > size2)
		return -1;
	if (size1 == size2) {
		if (plen != 0 || sodium_memcmp(root1, root2, RG_HASHLEN) != 0)
			return -1;
		return 0;
	}
	/* Step 1. */
	if (plen == 0)
		return -1;
	/* Step 2: prepend root1 when size1 is a power of two; done by
	 * indexing instead of copying the proof. */
	prepend = (size1 & (size1 - 1)) == 0;
	n = plen + (prepend ? 1 : 0);
#define RG_PROOF_AT(j) (prepend ? ((j) == 0 ? root1 : proof[(j) - 1]) : proof[(j)])
	/* Steps 3-4. */
	fn = size1 - 1;
	sn = size2 - 1;
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	/* Step 5. */
	memcpy(fr, RG_PROOF_AT(0), RG_HASHLEN);
	memcpy(sr, RG_PROOF_AT(0), RG_HASHLEN);
	/* Step 6. */
	for (i = 1; i < n; i++) {
		c = RG_PROOF_AT(i);
		if (sn == 0)
			return -1;
		if ((fn & 1) != 0 || fn == sn) {
			rg_merkle_node(c, fr, fr);
			rg_merkle_node(c, sr, sr);
			if ((fn & 1) == 0)
				rg_merkle_shift_to_set(&fn, &sn);
		} else
			rg_merkle_node(sr, c, sr);
		fn >>= 1;
		sn >>= 1;
	}
#undef RG_PROOF_AT
	/* Step 7. */
	if (sn != 0 || sodium_memcmp(fr, root1, RG_HASHLEN) != 0 ||
	    sodium_memcmp(sr, root2, RG_HASHLEN) != 0)
		return -1;
	return 0;
}
