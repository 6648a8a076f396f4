/*
 * merkle.h -- RFC 9162 Merkle tree hashing for the audit log.
 *
 * leaf hash = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right).
 * Pure functions over hashes; storage of the log lives with the keeper.
 */
#ifndef RG_MERKLE_H
#define RG_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define RG_HASHLEN 32

void rg_merkle_leaf(const uint8_t *entry, size_t len, uint8_t out[RG_HASHLEN]);
void rg_merkle_node(const uint8_t left[RG_HASHLEN],
                    const uint8_t right[RG_HASHLEN], uint8_t out[RG_HASHLEN]);
/* Root of n leaf hashes (RFC 9162 MTH); n == 0 gives SHA-256(""). */
void rg_merkle_root(const uint8_t (*leaves)[RG_HASHLEN], size_t n,
                    uint8_t out[RG_HASHLEN]);
/* RFC 9162 section 2.1.3.2: 0 when the inclusion proof is valid, -1 if not. */
int rg_merkle_verify_inclusion(uint64_t index, uint64_t size,
                               const uint8_t leaf[RG_HASHLEN],
                               const uint8_t (*proof)[RG_HASHLEN], size_t plen,
                               const uint8_t root[RG_HASHLEN]);
/*
 * RFC 9162 section 2.1.4.2: 0 when the consistency proof is valid, -1 if not.
 * size1 == size2 is valid only with an empty proof and equal roots; size1 == 0
 * is refused (the RFC defines proofs for 0 < size1, and the empty tree proves
 * nothing about a later one: callers that need it treat it separately).
 */
int rg_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                 const uint8_t root1[RG_HASHLEN],
                                 const uint8_t root2[RG_HASHLEN],
                                 const uint8_t (*proof)[RG_HASHLEN],
                                 size_t plen);

#endif
