/*
 * tlog.h -- RFC 9162 roots and proofs from stored subtree hashes, and the
 * incremental frontier that streams a log into its root.
 *
 * A log keeps the hash of every complete, aligned subtree: (level, idx)
 * covers leaves [idx << level, (idx + 1) << level). Any root, inclusion
 * proof or consistency proof needs O(log n) of them; callers hand one
 * lookup function over whatever holds them (the database, memory).
 */
#ifndef RG_TLOG_H
#define RG_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/merkle.h"

/* A proof never has more hashes than this (2 * 64 levels, rounded up). */
#define RG_TLOG_MAXPROOF 130

/*
 * Fetch the hash of the complete subtree (level, idx) into out. Returns 0,
 * or -1 when it cannot (storage error, missing node): the caller fails.
 */
typedef int (*rg_tlog_get_fn)(void *ctx, unsigned level, uint64_t idx,
                              uint8_t out[RG_HASHLEN]);

/* Root of the tree of the first size leaves (size 0: SHA-256 of nothing). */
int rg_tlog_root(uint64_t size, rg_tlog_get_fn get, void *ctx,
                 uint8_t out[RG_HASHLEN]);
/*
 * RFC 9162 section 2.1.3.1 inclusion proof of leaf index in the tree of
 * size leaves. proof has room for RG_TLOG_MAXPROOF hashes; *plen is set.
 * -1 when index >= size or a lookup fails.
 */
int rg_tlog_inclusion(uint64_t index, uint64_t size, rg_tlog_get_fn get,
                      void *ctx, uint8_t (*proof)[RG_HASHLEN], size_t *plen);
/*
 * RFC 9162 section 2.1.4.1 consistency proof between trees of size1 and
 * size2 leaves, 0 < size1 <= size2 (equal sizes: an empty proof).
 */
int rg_tlog_consistency(uint64_t size1, uint64_t size2, rg_tlog_get_fn get,
                        void *ctx, uint8_t (*proof)[RG_HASHLEN], size_t *plen);

/*
 * The right edge of a growing tree: one complete subtree hash per set bit
 * of size. Adding a leaf is amortised O(1); the root is O(log n). Plain
 * data: zero it to start.
 */
struct rg_tlog_frontier {
	uint64_t size;
	uint8_t h[64][RG_HASHLEN]; /* h[l]: the subtree at level l, if bit l */
};

/* Append one leaf hash. */
void rg_tlog_frontier_add(struct rg_tlog_frontier *f,
                          const uint8_t leaf[RG_HASHLEN]);
void rg_tlog_frontier_root(const struct rg_tlog_frontier *f,
                           uint8_t out[RG_HASHLEN]);
/* The frontier of the first size leaves, from stored subtrees: one lookup
 * per set bit of size. 0, or -1 when a lookup fails (f then undefined). */
int rg_tlog_frontier_load(struct rg_tlog_frontier *f, uint64_t size,
                          rg_tlog_get_fn get, void *ctx);

#endif
