/*
 * seal.c -- record envelopes: XChaCha20-Poly1305 with a random nonce.
 *
 * This file owns the binding of a sealed body to its place (resource,
 * record, version, key version). It never opens a body without checking
 * that binding, and never hands back plaintext from a blob that failed.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/seal.h"

#define RG_SEAL_NONCELEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define RG_SEAL_TAGLEN crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(RG_SEAL_OVERHEAD == RG_SEAL_NONCELEN + RG_SEAL_TAGLEN,
               "seal.h overhead must match the AEAD");
_Static_assert(RG_SEAL_KEYLEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "seal.h key length must match the AEAD");

/* Domain label: a blob from any other use of the same key cannot open here. */
static const char rg_seal_label[] = "recgate-record-v1";

static uint8_t *
rg_seal_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

/*
 * Associated data:
 *   "recgate-record-v1" || u32 len || resource || u32 len || record_id ||
 *   u64 version || u32 key_version          (integers big-endian)
 * Every variable part is length-prefixed, so no two different places
 * encode to the same bytes ("ab"+"c" vs "a"+"bc"). Returns malloc'd bytes.
 */
static uint8_t *
rg_seal_ad_encode(const struct rg_seal_ad *ad, size_t *adlen)
{
	size_t rlen, ilen, n;
	uint8_t *buf, *p;

	if (ad == NULL || ad->resource == NULL || ad->record_id == NULL)
		return NULL;
	rlen = strlen(ad->resource);
	ilen = strlen(ad->record_id);
	if (rlen > UINT32_MAX || ilen > UINT32_MAX)
		return NULL;
	n = sizeof(rg_seal_label) - 1;
	if (rlen > SIZE_MAX - n - 4 - 4 - 8 - 4 ||
	    ilen > SIZE_MAX - n - 4 - 4 - 8 - 4 - rlen)
		return NULL;
	n += 4 + rlen + 4 + ilen + 8 + 4;
	if ((buf = malloc(n)) == NULL)
		return NULL;
	p = buf;
	memcpy(p, rg_seal_label, sizeof(rg_seal_label) - 1);
	p += sizeof(rg_seal_label) - 1;
	p = rg_seal_put32(p, (uint32_t)rlen);
	memcpy(p, ad->resource, rlen);
	p += rlen;
	p = rg_seal_put32(p, (uint32_t)ilen);
	memcpy(p, ad->record_id, ilen);
	p += ilen;
	p = rg_seal_put32(p, (uint32_t)(ad->version >> 32));
	p = rg_seal_put32(p, (uint32_t)ad->version);
	p = rg_seal_put32(p, ad->key_version);
	*adlen = (size_t)(p - buf);
	return buf;
}

int
rg_seal(const uint8_t key[RG_SEAL_KEYLEN], const struct rg_seal_ad *ad,
        const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t *adb;
	size_t adlen;
	unsigned long long clen;
	int r;

	if (key == NULL || out == NULL || (plain == NULL && len != 0))
		return -1;
	if (len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
	    len > SIZE_MAX - RG_SEAL_OVERHEAD)
		return -1;
	if (sodium_init() < 0)
		return -1;
	if ((adb = rg_seal_ad_encode(ad, &adlen)) == NULL)
		return -1;
	/* 192-bit random nonces: collisions are negligible for any number of
	 * records one key will ever seal, so no counter state is needed. */
	randombytes_buf(out, RG_SEAL_NONCELEN);
	r = crypto_aead_xchacha20poly1305_ietf_encrypt(out + RG_SEAL_NONCELEN,
	    &clen, plain, len, adb, adlen, NULL, out, key);
	free(adb);
	if (r != 0 || clen != (unsigned long long)len + RG_SEAL_TAGLEN) {
		sodium_memzero(out, len + RG_SEAL_OVERHEAD);
		return -1;
	}
	return 0;
}

int
rg_open(const uint8_t key[RG_SEAL_KEYLEN], const struct rg_seal_ad *ad,
        const uint8_t *sealed, size_t len, uint8_t *out)
{
	uint8_t *adb;
	size_t adlen;
	unsigned long long mlen;
	int r;

	if (key == NULL || sealed == NULL || len < RG_SEAL_OVERHEAD)
		return -1;
	if (out == NULL && len != RG_SEAL_OVERHEAD)
		return -1;
	if (sodium_init() < 0)
		return -1;
	if ((adb = rg_seal_ad_encode(ad, &adlen)) == NULL)
		return -1;
	r = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL,
	    sealed + RG_SEAL_NONCELEN, len - RG_SEAL_NONCELEN, adb, adlen,
	    sealed, key);
	free(adb);
	if (r != 0 || mlen != len - RG_SEAL_OVERHEAD) {
		/* Never leave a partial plaintext of a forged blob behind. */
		if (out != NULL)
			sodium_memzero(out, len - RG_SEAL_OVERHEAD);
		return -1;
	}
	return 0;
}
