/*
 * keystore.h -- the gateway's keys, sealed in one file.
 *
 * The keystore owns the gateway signing key, the database key and one data
 * key per catalogue resource. On disk they are sealed with
 * XChaCha20-Poly1305 under a key-encryption key derived (BLAKE2b, keyed) from
 * a 32-byte master secret. In memory every key lives in guarded memory
 * (sodium_malloc) and is wiped on free. Nothing here ever prints a key.
 *
 * File layout (all integers big-endian):
 *   "RGKS" | u8 format version (1) | u8 kdf (1 = key file) |
 *   24-byte nonce | ciphertext+tag of the inner blob
 * Inner blob: a sequence of items
 *   u8 type | u16 name length | name | u32 version | u16 key length | key
 * with type 1 = signing seed (name = origin), 2 = database key,
 * 3 = data key (name = resource id).
 */
#ifndef RG_KEYSTORE_H
#define RG_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sig.h"

#define RG_KEYSTORE_MASTERLEN 32
#define RG_KEYSTORE_KEYLEN 32

typedef struct rg_keystore rg_keystore;

/*
 * Read a master secret file (exactly 32 raw bytes, or 64 hex characters
 * with an optional trailing newline) into master (caller's guarded memory).
 * Refuses a file readable by group or others. Returns 0 or -1 with err set.
 */
int rg_keystore_read_master(const char *path, uint8_t master[RG_KEYSTORE_MASTERLEN],
                            char *err, size_t errlen);
/* Write a fresh random master secret file (mode 0600, O_EXCL). */
int rg_keystore_new_master(const char *path, char *err, size_t errlen);

/*
 * Create a new keystore at path with a fresh signing key for origin, a
 * fresh database key and a data key for each of the n resources. Fails if
 * path exists. Written atomically (temporary file, fsync, rename).
 */
int rg_keystore_create(const char *path, const uint8_t master[RG_KEYSTORE_MASTERLEN],
                       const char *origin, const char *const *resources,
                       size_t n, char *err, size_t errlen);

/* Open and unseal. NULL with err set on a wrong secret or damaged file. */
rg_keystore *rg_keystore_open(const char *path,
                              const uint8_t master[RG_KEYSTORE_MASTERLEN],
                              char *err, size_t errlen);
void rg_keystore_free(rg_keystore *ks);

/* The signing key and its origin (the checkpoint/note name). Owned by ks. */
const rg_sigkey *rg_keystore_signing_key(const rg_keystore *ks);
const char *rg_keystore_origin(const rg_keystore *ks);
/* The 32-byte database key (guarded memory owned by ks). */
const uint8_t *rg_keystore_db_key(const rg_keystore *ks);
/*
 * The current data key of a resource and its version, or NULL when the
 * resource has none. Owned by ks.
 */
const uint8_t *rg_keystore_data_key(const rg_keystore *ks, const char *resource,
                                    uint32_t *version);
/* The data key of a resource at a given version, or NULL. */
const uint8_t *rg_keystore_data_key_at(const rg_keystore *ks,
                                       const char *resource, uint32_t version);

#endif
