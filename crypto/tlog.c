/*
 * tlog.c -- RFC 9162 roots, inclusion and consistency proofs computed from
 * complete-subtree hashes, and the streaming frontier.
 *
 * This file owns the proof construction of RFC 9162 sections 2.1.3.1 and
 * 2.1.4.1. It never reads leaves one by one: every hash it needs is either a
 * complete aligned subtree (one lookup) or a right edge it folds from
 * O(log n) of them. It holds no storage and allocates nothing.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/tlog.h"

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t
rg_tlog_split(uint64_t n)
{
	uint64_t k = 1;

	while (k < n - k)
		k <<= 1;
	return k;
}

static int
rg_tlog_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

static unsigned
rg_tlog_log2(uint64_t n)
{
	unsigned l = 0;

	while (n > 1) {
		n >>= 1;
		l++;
	}
	return l;
}

/*
 * MTH(D[lo:lo+n]) for n >= 1. In RFC 9162's recursion every left part is
 * complete and aligned, so a range either is one stored subtree or splits
 * into one stored subtree and a shorter right part: depth <= 64.
 */
static int
rg_tlog_mth(uint64_t lo, uint64_t n, rg_tlog_get_fn get, void *ctx,
            uint8_t out[RG_HASHLEN])
{
	uint8_t l[RG_HASHLEN], r[RG_HASHLEN];
	uint64_t k;

	if (rg_tlog_pow2(n)) {
		unsigned lv = rg_tlog_log2(n);
		return get(ctx, lv, lo >> lv, out);
	}
	k = rg_tlog_split(n);
	if (rg_tlog_mth(lo, k, get, ctx, l) != 0 ||
	    rg_tlog_mth(lo + k, n - k, get, ctx, r) != 0)
		return -1;
	rg_merkle_node(l, r, out);
	return 0;
}

int
rg_tlog_root(uint64_t size, rg_tlog_get_fn get, void *ctx,
             uint8_t out[RG_HASHLEN])
{
	if (size == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return 0;
	}
	return rg_tlog_mth(0, size, get, ctx, out);
}

struct rg_tlog_proof {
	rg_tlog_get_fn get;
	void *ctx;
	uint8_t (*proof)[RG_HASHLEN];
	size_t n;
};

static int
rg_tlog_push(struct rg_tlog_proof *p, uint64_t lo, uint64_t n)
{
	if (p->n >= RG_TLOG_MAXPROOF)
		return -1;
	if (rg_tlog_mth(lo, n, p->get, p->ctx, p->proof[p->n]) != 0)
		return -1;
	p->n++;
	return 0;
}

/* PATH(m, D[lo:lo+n]): the deepest sibling first. */
static int
rg_tlog_path(struct rg_tlog_proof *p, uint64_t m, uint64_t lo, uint64_t n)
{
	uint64_t k;

	if (n <= 1)
		return 0;
	k = rg_tlog_split(n);
	if (m < k)
		return rg_tlog_path(p, m, lo, k) == 0 ? rg_tlog_push(p, lo + k, n - k)
		                                      : -1;
	return rg_tlog_path(p, m - k, lo + k, n - k) == 0 ? rg_tlog_push(p, lo, k)
	                                                  : -1;
}

int
rg_tlog_inclusion(uint64_t index, uint64_t size, rg_tlog_get_fn get,
                  void *ctx, uint8_t (*proof)[RG_HASHLEN], size_t *plen)
{
	struct rg_tlog_proof p = {get, ctx, proof, 0};

	*plen = 0;
	if (index >= size)
		return -1;
	if (rg_tlog_path(&p, index, 0, size) != 0)
		return -1;
	*plen = p.n;
	return 0;
}

/* SUBPROOF(m, D[lo:lo+n], b). */
static int
rg_tlog_subproof(struct rg_tlog_proof *p, uint64_t m, uint64_t lo, uint64_t n,
                 int b)
{
	uint64_t k;

	if (m == n)
		return b ? 0 : rg_tlog_push(p, lo, n);
	k = rg_tlog_split(n);
	if (m <= k)
		return rg_tlog_subproof(p, m, lo, k, b) == 0
		    ? rg_tlog_push(p, lo + k, n - k) : -1;
	return rg_tlog_subproof(p, m - k, lo + k, n - k, 0) == 0
	    ? rg_tlog_push(p, lo, k) : -1;
}

int
rg_tlog_consistency(uint64_t size1, uint64_t size2, rg_tlog_get_fn get,
                    void *ctx, uint8_t (*proof)[RG_HASHLEN], size_t *plen)
{
	struct rg_tlog_proof p = {get, ctx, proof, 0};

	*plen = 0;
	if (size1 == 0 || size1 > size2)
		return -1;
	if (rg_tlog_subproof(&p, size1, 0, size2, 1) != 0)
		return -1;
	*plen = p.n;
	return 0;
}

void
rg_tlog_frontier_add(struct rg_tlog_frontier *f, const uint8_t leaf[RG_HASHLEN])
{
	uint8_t h[RG_HASHLEN];
	unsigned l = 0;

	memcpy(h, leaf, RG_HASHLEN);
	/* Like a binary counter: each carry closes a complete subtree. */
	while (l < 63 && (f->size >> l) & 1) {
		rg_merkle_node(f->h[l], h, h);
		l++;
	}
	memcpy(f->h[l], h, RG_HASHLEN);
	f->size++;
}

void
rg_tlog_frontier_root(const struct rg_tlog_frontier *f, uint8_t out[RG_HASHLEN])
{
	uint8_t r[RG_HASHLEN];
	unsigned l = 0;

	if (f->size == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return;
	}
	while (((f->size >> l) & 1) == 0)
		l++;
	memcpy(r, f->h[l], RG_HASHLEN);
	/* The smaller subtrees sit to the right of the larger ones. */
	for (l++; l < 64; l++)
		if ((f->size >> l) & 1)
			rg_merkle_node(f->h[l], r, r);
	memcpy(out, r, RG_HASHLEN);
}

int
rg_tlog_frontier_load(struct rg_tlog_frontier *f, uint64_t size,
                      rg_tlog_get_fn get, void *ctx)
{
	memset(f, 0, sizeof(*f));
	f->size = size;
	/* Bit l of size: the subtree of 2^l leaves that ends where the
	 * larger ones to its left leave off. */
	for (unsigned l = 0; l < 64; l++)
		if (((size >> l) & 1) != 0 &&
		    get(ctx, l, (size >> l) - 1, f->h[l]) != 0)
			return -1;
	return 0;
}
