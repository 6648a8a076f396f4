/*
 * sig.c -- Ed25519 keys and signatures over libsodium. It owns the private
 * half of every signing key, readable only while one signature is made, and
 * must never copy it to ordinary memory, log it, or hand it out (save the
 * seed export the keystore needs).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/sig.h"

struct rg_sigkey {
	/* crypto_sign_SECRETKEYBYTES in sodium_malloc memory, PROT_NOACCESS
	 * except while rg_sig_lock() holds it open or a run of signatures
	 * (rg_sig_hold) is under way. */
	unsigned char *sk;
	uint8_t pub[RG_SIG_PUBLEN];
	/* Runs under way (rg_sig_hold minus rg_sig_release), under lock. */
	unsigned held;
	/*
	 * Opening the page and closing it again is not atomic: two threads
	 * signing with one key could close it under each other. The lock
	 * makes unlock-use-relock one step.
	 */
	pthread_mutex_t lock;
};

/* The mutex is part of the key's machinery, not of its value, so a const
 * key may still take it; the object itself is always heap memory. */
static pthread_mutex_t *
rg_sig_mutex(const rg_sigkey *key)
{
	return (pthread_mutex_t *)&key->lock;
}

/* Open the secret key for reading; 0 on success (lock held), -1 if not. */
static int
rg_sig_lock(const rg_sigkey *key)
{
	if (pthread_mutex_lock(rg_sig_mutex(key)) != 0)
		return -1;
	if (key->held == 0 && sodium_mprotect_readonly(key->sk) != 0) {
		pthread_mutex_unlock(rg_sig_mutex(key));
		return -1;
	}
	return 0;
}

static void
rg_sig_unlock(const rg_sigkey *key)
{
	/* Failing to close the page again is a broken invariant: we would
	 * leave a readable key behind, so stop rather than carry on. */
	if (key->held == 0 && sodium_mprotect_noaccess(key->sk) != 0)
		abort();
	pthread_mutex_unlock(rg_sig_mutex(key));
}

/* The mutable part of a const key, like its mutex: the count of runs. */
static unsigned *
rg_sig_held(const rg_sigkey *key)
{
	return (unsigned *)&key->held;
}

int
rg_sig_hold(const rg_sigkey *key)
{
	if (key == NULL || pthread_mutex_lock(rg_sig_mutex(key)) != 0)
		return -1;
	if (key->held == 0 && sodium_mprotect_readonly(key->sk) != 0) {
		pthread_mutex_unlock(rg_sig_mutex(key));
		return -1;
	}
	(*rg_sig_held(key))++;
	pthread_mutex_unlock(rg_sig_mutex(key));
	return 0;
}

void
rg_sig_release(const rg_sigkey *key)
{
	if (key == NULL)
		return;
	if (pthread_mutex_lock(rg_sig_mutex(key)) != 0)
		abort();
	if (key->held == 0)
		abort(); /* a release without its hold: a bug, not a state */
	if (--*rg_sig_held(key) == 0 && sodium_mprotect_noaccess(key->sk) != 0)
		abort();
	pthread_mutex_unlock(rg_sig_mutex(key));
}

static rg_sigkey *
rg_sig_alloc(void)
{
	rg_sigkey *key;

	if (sodium_init() < 0)
		return NULL;
	if ((key = calloc(1, sizeof(*key))) == NULL)
		return NULL;
	if ((key->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
		free(key);
		return NULL;
	}
	if (pthread_mutex_init(&key->lock, NULL) != 0) {
		sodium_free(key->sk);
		free(key);
		return NULL;
	}
	return key;
}

/* Seal a freshly filled key; frees it and returns NULL on failure. */
static rg_sigkey *
rg_sig_seal_new(rg_sigkey *key)
{
	if (sodium_mprotect_noaccess(key->sk) != 0) {
		rg_sigkey_free(key);
		return NULL;
	}
	return key;
}

rg_sigkey *
rg_sigkey_generate(void)
{
	rg_sigkey *key;

	if ((key = rg_sig_alloc()) == NULL)
		return NULL;
	if (crypto_sign_keypair(key->pub, key->sk) != 0) {
		rg_sigkey_free(key);
		return NULL;
	}
	return rg_sig_seal_new(key);
}

rg_sigkey *
rg_sigkey_from_seed(const uint8_t seed[RG_SIG_SEEDLEN])
{
	rg_sigkey *key;

	if (seed == NULL || (key = rg_sig_alloc()) == NULL)
		return NULL;
	if (crypto_sign_seed_keypair(key->pub, key->sk, seed) != 0) {
		rg_sigkey_free(key);
		return NULL;
	}
	return rg_sig_seal_new(key);
}

void
rg_sigkey_free(rg_sigkey *key)
{
	if (key == NULL)
		return;
	/* sodium_free lifts the protection itself and wipes the pages. */
	sodium_free(key->sk);
	pthread_mutex_destroy(&key->lock);
	sodium_memzero(key, sizeof(*key));
	free(key);
}

void
rg_sigkey_public(const rg_sigkey *key, uint8_t pub[RG_SIG_PUBLEN])
{
	memcpy(pub, key->pub, RG_SIG_PUBLEN);
}

void
rg_sigkey_seed(const rg_sigkey *key, uint8_t seed[RG_SIG_SEEDLEN])
{
	if (rg_sig_lock(key) != 0) {
		/* Fail closed: a zero seed never matches a real key. */
		sodium_memzero(seed, RG_SIG_SEEDLEN);
		return;
	}
	if (crypto_sign_ed25519_sk_to_seed(seed, key->sk) != 0)
		sodium_memzero(seed, RG_SIG_SEEDLEN);
	rg_sig_unlock(key);
}

int
rg_sig_sign(const rg_sigkey *key, const uint8_t *msg, size_t len,
            uint8_t sig[RG_SIG_LEN])
{
	int r;

	if (key == NULL || (msg == NULL && len != 0))
		return -1;
	if (rg_sig_lock(key) != 0)
		return -1;
	r = crypto_sign_detached(sig, NULL, msg, len, key->sk);
	rg_sig_unlock(key);
	if (r != 0) {
		sodium_memzero(sig, RG_SIG_LEN);
		return -1;
	}
	return 0;
}

int
rg_sig_verify(const uint8_t pub[RG_SIG_PUBLEN], const uint8_t *msg,
              size_t len, const uint8_t sig[RG_SIG_LEN])
{
	if (pub == NULL || sig == NULL || (msg == NULL && len != 0))
		return -1;
	if (sodium_init() < 0)
		return -1;
	return crypto_sign_verify_detached(sig, msg, len, pub) == 0 ? 0 : -1;
}

uint32_t
rg_sig_note_keyid(const char *name, const uint8_t pub[RG_SIG_PUBLEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	/* 0x01 is the signed-note signature type for Ed25519. */
	static const uint8_t sep[2] = {0x0a, 0x01};
	uint32_t id;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, sep, sizeof(sep));
	crypto_hash_sha256_update(&st, pub, RG_SIG_PUBLEN);
	crypto_hash_sha256_final(&st, h);
	id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	     (uint32_t)h[2] << 8 | (uint32_t)h[3];
	return id;
}
