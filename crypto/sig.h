/*
 * sig.h -- Ed25519 signing keys and signatures.
 *
 * A rg_sigkey owns one private key in guarded memory (sodium_malloc, kept
 * PROT_NOACCESS between uses) and wipes it when freed. Public keys and
 * signatures are plain bytes. This module never logs and never hands out
 * the private key.
 */
#ifndef RG_SIG_H
#define RG_SIG_H

#include <stddef.h>
#include <stdint.h>

#define RG_SIG_PUBLEN 32
#define RG_SIG_SEEDLEN 32
#define RG_SIG_LEN 64

typedef struct rg_sigkey rg_sigkey;

/* Generate a fresh key. Returns NULL on allocation failure. Caller frees. */
rg_sigkey *rg_sigkey_generate(void);
/* Build a key from a 32-byte seed (the seed is copied; caller wipes its copy). */
rg_sigkey *rg_sigkey_from_seed(const uint8_t seed[RG_SIG_SEEDLEN]);
/* Wipe and free; NULL is fine. */
void rg_sigkey_free(rg_sigkey *key);

/* Copy the public key out. */
void rg_sigkey_public(const rg_sigkey *key, uint8_t pub[RG_SIG_PUBLEN]);
/* Copy the seed out into caller's buffer (which should be guarded memory);
 * used only to write the keystore and demo client key files. */
void rg_sigkey_seed(const rg_sigkey *key, uint8_t seed[RG_SIG_SEEDLEN]);

/* Sign msg. Returns 0, or -1 if the key could not be unlocked. */
int rg_sig_sign(const rg_sigkey *key, const uint8_t *msg, size_t len,
                uint8_t sig[RG_SIG_LEN]);
/*
 * A run of signatures: between rg_sig_hold and its rg_sig_release the
 * secret key's pages stay readable, so that the signatures of one batch
 * cost two page-protection changes in all instead of two each (each is a
 * system call and, with several threads, a TLB flush on every core). Runs
 * nest and may come from several threads; the key is closed again when
 * the last one ends. hold returns 0, or -1 (nothing held).
 */
int rg_sig_hold(const rg_sigkey *key);
void rg_sig_release(const rg_sigkey *key);
/* Verify. Returns 0 if valid, -1 otherwise. */
int rg_sig_verify(const uint8_t pub[RG_SIG_PUBLEN], const uint8_t *msg,
                  size_t len, const uint8_t sig[RG_SIG_LEN]);

/*
 * C2SP signed-note key id: first 4 bytes of
 * SHA-256(name || 0x0A || 0x01 || pub), as a big-endian integer.
 */
uint32_t rg_sig_note_keyid(const char *name, const uint8_t pub[RG_SIG_PUBLEN]);

#endif
