/*
 * master_box.h -- the sealed message that carries a new master secret from
 * `recgatectl keys ... --online` (ctl_master.c) to the keeper (ex_master.c).
 * This file owns its layout and nothing else; it never logs or prints what
 * it carries.
 *
 * Plaintext, 134 bytes (integers big-endian):
 *   "RGMC" | u8 version (1) | u8 kind of the new secret (1 key file,
 *   2 passphrase) | u64 opslimit | u64 memlimit | 16-byte salt (passphrase;
 *   zero otherwise) | 32-byte new master | 32-byte current master (the
 *   one that opens the keystore now: the caller proves it knows it) |
 *   SHA-256 of the keystore file it replaces (so that the message is good
 *   for one state of the file only: replayed after the change, or after a
 *   rotation, it is stale)
 * sealed with libsodium's crypto_box_seal to the gateway's active Ed25519
 * signing key converted to X25519 (crypto_sign_ed25519_pk_to_curve25519),
 * and sent base64 in {"to": "<that key's id>", "sealed": "..."}.
 */
#ifndef RG_MASTER_BOX_H
#define RG_MASTER_BOX_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keystore.h"
#include "crypto/sig.h"

#define RG_MASTER_BOX_PLAIN 134

/* What the message says; keep it in guarded memory (sodium_malloc). */
struct rg_master_change {
	struct rg_keystore_kdf next;  /* kind, cost and salt of the new one */
	uint8_t next_master[RG_KEYSTORE_MASTERLEN];
	uint8_t current_master[RG_KEYSTORE_MASTERLEN];
	uint8_t file_sha256[32];
};

/* Seal c to the Ed25519 public key pub: base64 (standard, padded),
 * malloc'd (caller frees), or NULL. */
char *rg_master_box_seal(const struct rg_master_change *c,
                         const uint8_t pub[RG_SIG_PUBLEN]);
/* Open b64 with key's private half into c (caller's guarded memory).
 * 0, or -1 when it does not open or its contents are malformed (c wiped). */
int rg_master_box_open(const char *b64, size_t len, const rg_sigkey *key,
                       struct rg_master_change *c);

#endif
