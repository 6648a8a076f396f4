/*
 * sha256.c -- SHA-256 through OpenSSL, which uses the CPU's SHA extensions
 * where it has them (about five times libsodium's portable code on the
 * bench machine), and libsodium's when OpenSSL cannot be set up: the same
 * function either way. It owns one fetched digest and no other state; it
 * must never see key material.
 */
#include <pthread.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/sha256.h"

_Static_assert(RG_SHA256_LEN == crypto_hash_sha256_BYTES, "SHA-256 size");

static pthread_once_t rg_sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *rg_sha256_md;
/* Each thread's digest context, made at its first hash and freed when
 * it ends: a context a call cost an allocation and its setup, several
 * times an exchange, for hashes of a few dozen bytes (Merkle nodes). */
static pthread_key_t rg_sha256_ctx_key;
static int rg_sha256_have_key;

static void
rg_sha256_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

/* Fetched once, not per call: an implicit fetch costs more than hashing
 * a short message. OpenSSL is already set up by the store's cipher when
 * the keeper first hashes inside its sandbox, so this reads no file. */
static void
rg_sha256_fetch(void)
{
	rg_sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	rg_sha256_have_key = pthread_key_create(&rg_sha256_ctx_key,
	                                        rg_sha256_ctx_free) == 0;
}

/* This thread's context, or NULL (out of memory). */
static EVP_MD_CTX *
rg_sha256_ctx(void)
{
	EVP_MD_CTX *c = pthread_getspecific(rg_sha256_ctx_key);

	if (c == NULL && (c = EVP_MD_CTX_new()) != NULL &&
	    pthread_setspecific(rg_sha256_ctx_key, c) != 0) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

static int
rg_sha256_evp(uint8_t out[RG_SHA256_LEN], const struct rg_sha256_part *parts,
              size_t n)
{
	EVP_MD_CTX *c;
	unsigned int olen = 0;
	int ok;

	if (pthread_once(&rg_sha256_once, rg_sha256_fetch) != 0 ||
	    rg_sha256_md == NULL || !rg_sha256_have_key ||
	    (c = rg_sha256_ctx()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(c, rg_sha256_md, NULL) == 1;
	for (size_t i = 0; ok && i < n; i++)
		if (parts[i].len > 0)
			ok = EVP_DigestUpdate(c, parts[i].p, parts[i].len) == 1;
	ok = ok && EVP_DigestFinal_ex(c, out, &olen) == 1 &&
	     olen == RG_SHA256_LEN;
	return ok ? 0 : -1;
}

void
rg_sha256_v(uint8_t out[RG_SHA256_LEN], const struct rg_sha256_part *parts,
            size_t n)
{
	crypto_hash_sha256_state st;

	if (rg_sha256_evp(out, parts, n) == 0)
		return;
	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < n; i++)
		if (parts[i].len > 0)
			crypto_hash_sha256_update(&st, parts[i].p, parts[i].len);
	crypto_hash_sha256_final(&st, out);
}

void
rg_sha256(uint8_t out[RG_SHA256_LEN], const void *p, size_t len)
{
	struct rg_sha256_part part = {p, len};

	rg_sha256_v(out, &part, 1);
}
