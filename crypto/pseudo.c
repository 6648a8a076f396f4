/*
 * pseudo.c -- per-consumer pseudonyms: two BLAKE2b calls, the derived key
 * only ever in guarded memory. It never sees more than one value at a time
 * and keeps nothing.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/pseudo.h"

static const char rg_pseudo_context[] = "recgate pseudonym v1";

int
rg_pseudonym(const uint8_t resource_key[RG_PSEUDO_KEYLEN],
             const char *consumer, const char *resource,
             const uint8_t *value, size_t len, char out[RG_PSEUDO_LEN])
{
	crypto_generichash_state st;
	static const uint8_t zero = 0;
	uint8_t *k, h[16];

	if ((k = sodium_malloc(RG_PSEUDO_KEYLEN)) == NULL)
		return -1;
	/* The NUL separators keep ("ab","c") and ("a","bc") apart. */
	if (crypto_generichash_init(&st, resource_key, RG_PSEUDO_KEYLEN,
	                            RG_PSEUDO_KEYLEN) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)rg_pseudo_context,
	                              sizeof(rg_pseudo_context) - 1) != 0 ||
	    crypto_generichash_update(&st, &zero, 1) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)consumer,
	                              strlen(consumer)) != 0 ||
	    crypto_generichash_update(&st, &zero, 1) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)resource,
	                              strlen(resource)) != 0 ||
	    crypto_generichash_final(&st, k, RG_PSEUDO_KEYLEN) != 0 ||
	    crypto_generichash(h, sizeof(h), value, len, k,
	                       RG_PSEUDO_KEYLEN) != 0) {
		sodium_memzero(&st, sizeof(st));
		sodium_free(k);
		return -1;
	}
	sodium_memzero(&st, sizeof(st));
	sodium_free(k);
	memcpy(out, "psn:", 4);
	sodium_bin2hex(out + 4, RG_PSEUDO_LEN - 4, h, sizeof(h));
	return 0;
}
