/*
 * master_box.c -- seal and open the new-master-secret message (layout in
 * master_box.h). Every intermediate secret (the plaintext, the X25519
 * private key) lives in guarded memory and is wiped before returning.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/b64.h"
#include "gateway/master_box.h"

static const char rg_mbox_magic[4] = {'R', 'G', 'M', 'C'};
#define RG_MBOX_VERSION 1
#define RG_MBOX_SEALED (RG_MASTER_BOX_PLAIN + crypto_box_SEALBYTES)

static void
rg_mbox_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
rg_mbox_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

char *
rg_master_box_seal(const struct rg_master_change *c,
                   const uint8_t pub[RG_SIG_PUBLEN])
{
	uint8_t xpub[crypto_box_PUBLICKEYBYTES], sealed[RG_MBOX_SEALED], *p;
	size_t b64len = sodium_base64_encoded_len(sizeof(sealed),
	                                          sodium_base64_VARIANT_ORIGINAL);
	char *out = NULL;

	if (sodium_init() < 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(xpub, pub) != 0 ||
	    (p = sodium_malloc(RG_MASTER_BOX_PLAIN)) == NULL)
		return NULL;
	memcpy(p, rg_mbox_magic, 4);
	p[4] = RG_MBOX_VERSION;
	p[5] = (uint8_t)c->next.kind;
	rg_mbox_put64(p + 6, c->next.ops);
	rg_mbox_put64(p + 14, c->next.mem);
	memcpy(p + 22, c->next.salt, RG_KEYSTORE_SALTLEN);
	memcpy(p + 38, c->next_master, RG_KEYSTORE_MASTERLEN);
	memcpy(p + 70, c->current_master, RG_KEYSTORE_MASTERLEN);
	memcpy(p + 102, c->file_sha256, 32);
	if (crypto_box_seal(sealed, p, RG_MASTER_BOX_PLAIN, xpub) == 0 &&
	    (out = malloc(b64len)) != NULL)
		sodium_bin2base64(out, b64len, sealed, sizeof(sealed),
		                  sodium_base64_VARIANT_ORIGINAL);
	sodium_free(p); /* wipes */
	return out;
}

int
rg_master_box_open(const char *b64, size_t len, const rg_sigkey *key,
                   struct rg_master_change *c)
{
	uint8_t sealed[RG_MBOX_SEALED + 1], pub[RG_SIG_PUBLEN];
	uint8_t xpub[crypto_box_PUBLICKEYBYTES];
	uint8_t *seed = NULL, *sk = NULL, *xsk = NULL, *p = NULL;
	size_t slen = 0;
	int ret = -1;

	sodium_memzero(c, sizeof(*c));
	/* Exactly one message's worth of base64: a longer one is not ours. */
	if (rg_b64_decode(b64, len, sealed, sizeof(sealed), &slen) != 0 ||
	    slen != RG_MBOX_SEALED)
		return -1;
	seed = sodium_malloc(RG_SIG_SEEDLEN);
	sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	xsk = sodium_malloc(crypto_box_SECRETKEYBYTES);
	p = sodium_malloc(RG_MASTER_BOX_PLAIN);
	if (seed == NULL || sk == NULL || xsk == NULL || p == NULL)
		goto out;
	/* The X25519 half of the signing key, for this one message. */
	rg_sigkey_seed(key, seed);
	if (sodium_is_zero(seed, RG_SIG_SEEDLEN) ||
	    crypto_sign_seed_keypair(pub, sk, seed) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(xpub, pub) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(xsk, sk) != 0)
		goto out;
	if (crypto_box_seal_open(p, sealed, RG_MBOX_SEALED, xpub, xsk) != 0)
		goto out;
	if (memcmp(p, rg_mbox_magic, 4) != 0 || p[4] != RG_MBOX_VERSION ||
	    (p[5] != RG_KEYSTORE_KDF_KEYFILE && p[5] != RG_KEYSTORE_KDF_PASSPHRASE))
		goto out;
	c->next.kind = p[5];
	c->next.ops = rg_mbox_get64(p + 6);
	c->next.mem = rg_mbox_get64(p + 14);
	memcpy(c->next.salt, p + 22, RG_KEYSTORE_SALTLEN);
	/* A key file has no cost and no salt: anything else is malformed. */
	if (c->next.kind == RG_KEYSTORE_KDF_KEYFILE &&
	    (c->next.ops != 0 || c->next.mem != 0 ||
	     !sodium_is_zero(c->next.salt, RG_KEYSTORE_SALTLEN)))
		goto out;
	memcpy(c->next_master, p + 38, RG_KEYSTORE_MASTERLEN);
	memcpy(c->current_master, p + 70, RG_KEYSTORE_MASTERLEN);
	memcpy(c->file_sha256, p + 102, 32);
	ret = 0;
out:
	if (ret != 0)
		sodium_memzero(c, sizeof(*c));
	sodium_free(seed);
	sodium_free(sk);
	sodium_free(xsk);
	sodium_free(p);
	sodium_memzero(sealed, sizeof(sealed));
	return ret;
}
