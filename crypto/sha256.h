/*
 * sha256.h -- SHA-256 of public bytes for the exchange's hot paths and the
 * audit tree: the request and response digests, Content-Digest, Merkle
 * leaves and nodes. Not for key material (nothing here is wiped).
 */
#ifndef RG_SHA256_H
#define RG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define RG_SHA256_LEN 32

/* One piece of the message: len bytes at p (p may be NULL when len is 0). */
struct rg_sha256_part {
	const void *p;
	size_t len;
};

/* SHA-256 of the concatenation of parts[0..n). Never fails. */
void rg_sha256_v(uint8_t out[RG_SHA256_LEN], const struct rg_sha256_part *parts,
                 size_t n);
/* SHA-256 of len bytes at p. */
void rg_sha256(uint8_t out[RG_SHA256_LEN], const void *p, size_t len);

#endif
