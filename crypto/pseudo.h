/*
 * pseudo.h -- per-consumer pseudonyms (DESIGN.md section 8).
 *
 * A pseudonym is a keyed hash of a field's value under a key unique to one
 * consumer department and one resource, so that the consumer can link
 * records holding the same value without learning it, and two consumers
 * cannot join their data on it. Pseudonyms are not reversible by anyone
 * holding only pseudonyms.
 */
#ifndef RG_PSEUDO_H
#define RG_PSEUDO_H

#include <stddef.h>
#include <stdint.h>

#define RG_PSEUDO_KEYLEN 32
/* "psn:" + 32 lower-case hex digits + NUL */
#define RG_PSEUDO_LEN 37

/*
 * out = "psn:" || hex(BLAKE2b-128(key = K, value)) where
 * K = BLAKE2b-256(key = resource_key,
 *                 "recgate pseudonym v1" || 0x00 || consumer || 0x00 || resource).
 * K lives in guarded memory and is wiped before return. 0, or -1 when
 * guarded memory is not available.
 */
int rg_pseudonym(const uint8_t resource_key[RG_PSEUDO_KEYLEN],
                 const char *consumer, const char *resource,
                 const uint8_t *value, size_t len, char out[RG_PSEUDO_LEN]);

#endif
