/*
 * independent.h -- RFC 9162 proofs and C2SP signed notes checked with
 * OpenSSL alone, apart from recgate's own crypto/ (independent.c).
 */
#ifndef RG_TEST_INDEPENDENT_H
#define RG_TEST_INDEPENDENT_H

#include <stddef.h>

/* Standard Base64 into out (CHECKs it fits); the decoded length. */
size_t ind_b64(const char *in, unsigned char *out, size_t outlen);
/* RFC 9162 node hash: SHA-256(0x01 || l || r). */
void ind_node(const unsigned char l[32], const unsigned char r[32],
              unsigned char out[32]);
/* RFC 9162 section 2.1.3.2: the root that the proof of leaf at index in a
 * tree of size leaves leads to; 0, or -1 when it has the wrong length. */
int ind_inclusion_root(unsigned long long index, unsigned long long size,
                       const unsigned char leaf[32],
                       unsigned char (*proof)[32], size_t plen,
                       unsigned char root[32]);
/* RFC 9162 section 2.1.3.2: 0 when the proof places leaf at index in the
 * tree of size leaves whose root is root, else -1. */
int ind_verify_inclusion(unsigned long long index, unsigned long long size,
                         const unsigned char leaf[32],
                         unsigned char (*proof)[32], size_t plen,
                         const unsigned char root[32]);
/* RFC 9162 section 2.1.4.2 (0 < size1 < size2): 0 or -1. */
int ind_verify_consistency(unsigned long long size1, unsigned long long size2,
                           const unsigned char root1[32],
                           const unsigned char root2[32],
                           unsigned char (*proof)[32], size_t plen);
/* A C2SP signed note with an Ed25519 signature line by (name, pub): the
 * length of its text part, or 0 when it does not verify. */
size_t ind_verify_note(const char *note, const char *name,
                       const unsigned char pub[32]);

#endif
