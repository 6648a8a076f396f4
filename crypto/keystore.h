/*
 * keystore.h -- the gateway's keys, sealed in one file.
 *
 * The keystore owns the gateway's signing keys (versioned), the database
 * key, the record key-encryption keys (KEKs, versioned) and one or more
 * data keys per catalogue resource, each wrapped by a KEK version. The file
 * is sealed with XChaCha20-Poly1305 under a key derived from a master
 * secret: a 32-byte key file or a passphrase (Argon2id). In memory every
 * key lives in guarded memory (sodium_malloc) and is wiped on free; KEKs
 * and the master secret are wiped as soon as the file is open. Nothing here
 * ever prints a key.
 *
 * File layout, format 2 (all integers big-endian):
 *   "RGKS" | u8 format (2) | u8 kdf (1 = key file, 2 = passphrase) |
 *   [kdf 2 only: u64 opslimit | u64 memlimit | 16-byte salt] |
 *   24-byte nonce | ciphertext+tag of the inner blob (the header is the AD)
 * Sealing key = BLAKE2b-256 keyed with the 32-byte master over the context
 * "recgate keystore kek v1"; with a passphrase the master is
 * Argon2id(passphrase, salt, opslimit, memlimit).
 * Inner blob: a sequence of items
 *   u8 type | u16 name length | name | u32 version | u8 status |
 *   u64 created | u64 not_after | u64 last_used | u32 kek version |
 *   u16 key length | key
 * times in Unix seconds (0 = unknown / none); status 1 active, 2 retiring,
 * 3 retired, 4 destroyed (key length 0); type 1 = signing seed (name =
 * origin), 2 = database key (exactly one active; at most one other with
 * its bytes, retiring, while an online rekey is unfinished; the rest
 * destroyed), 3 = data key (name = resource id; key =
 * 24-byte nonce | XChaCha20-Poly1305(KEK, data key) with AD
 * "recgate data key" | u16 name length | name | u32 version | u32 kek
 * version), 4 = KEK.
 *
 * Format 1 (still opened; rewriting upgrades it): "RGKS" | 1 | 1 | nonce |
 * sealed items u8 type | u16 name length | name | u32 version | u16 key
 * length | key with types 1, 2 and 3 holding plain data keys.
 */
#ifndef RG_KEYSTORE_H
#define RG_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sig.h"

#define RG_KEYSTORE_MASTERLEN 32
#define RG_KEYSTORE_KEYLEN 32
#define RG_KEYSTORE_PASSMAX 1024

/* What unlocks a keystore file (the header's kdf byte). */
#define RG_KEYSTORE_KDF_KEYFILE 1
#define RG_KEYSTORE_KDF_PASSPHRASE 2

/* Key purposes and statuses (the numbers are the file's). */
#define RG_KEYSTORE_SIGNING 1
#define RG_KEYSTORE_DATABASE 2
#define RG_KEYSTORE_DATA 3
#define RG_KEYSTORE_KEK 4

#define RG_KEYSTORE_ACTIVE 1
#define RG_KEYSTORE_RETIRING 2
#define RG_KEYSTORE_RETIRED 3
#define RG_KEYSTORE_DESTROYED 4

typedef struct rg_keystore rg_keystore;
typedef struct rg_keystore_secret rg_keystore_secret;

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
 * Master secrets. Each constructor returns a secret in guarded memory that
 * the caller frees with rg_keystore_secret_free (which wipes it), or NULL
 * with err set. A passphrase is never taken from the command line: from a
 * file descriptor (up to a newline or end of file) or from the terminal
 * (/dev/tty, echo off; confirm asks twice). Passphrases are 1 to
 * RG_KEYSTORE_PASSMAX bytes.
 */
rg_keystore_secret *rg_keystore_secret_keyfile(const char *path, char *err,
                                               size_t errlen);
rg_keystore_secret *rg_keystore_secret_master(
    const uint8_t master[RG_KEYSTORE_MASTERLEN]);
rg_keystore_secret *rg_keystore_secret_passphrase(const char *pass, size_t len,
                                                  char *err, size_t errlen);
rg_keystore_secret *rg_keystore_secret_passphrase_fd(int fd, char *err,
                                                     size_t errlen);
rg_keystore_secret *rg_keystore_secret_passphrase_tty(const char *prompt,
                                                      int confirm, char *err,
                                                      size_t errlen);
/*
 * Argon2id cost used when a keystore is sealed under this passphrase
 * (opening uses the file's own). Defaults: RG_KEYSTORE_PWHASH_OPS and
 * RG_KEYSTORE_PWHASH_MEM, sized for a 2-core, 2 GB machine; the tests use
 * libsodium's minimums. Returns -1 for values outside libsodium's range.
 */
#define RG_KEYSTORE_PWHASH_OPS 3ULL
#define RG_KEYSTORE_PWHASH_MEM (128U << 20)
int rg_keystore_secret_set_cost(rg_keystore_secret *s, unsigned long long ops,
                                size_t mem);
/* RG_KEYSTORE_KDF_KEYFILE or RG_KEYSTORE_KDF_PASSPHRASE; its length. */
int rg_keystore_secret_kind(const rg_keystore_secret *s);
size_t rg_keystore_secret_len(const rg_keystore_secret *s);
void rg_keystore_secret_free(rg_keystore_secret *s);

/*
 * Create a new keystore (format 2) at path with a fresh signing key for
 * origin, a fresh database key, KEK version 1 and a data key for each of
 * the n resources. Fails if path exists. Written atomically (temporary
 * file, fsync, rename, fsync of the directory).
 */
int rg_keystore_create(const char *path, const uint8_t master[RG_KEYSTORE_MASTERLEN],
                       const char *origin, const char *const *resources,
                       size_t n, char *err, size_t errlen);
int rg_keystore_create_secret(const char *path, const rg_keystore_secret *secret,
                              const char *origin, const char *const *resources,
                              size_t n, char *err, size_t errlen);

/* The kdf byte of the file at path (which secret it wants), or -1. */
int rg_keystore_file_kdf(const char *path, char *err, size_t errlen);

/*
 * Open and unseal. NULL with err set on a wrong secret, the wrong kind of
 * secret, or a damaged file. rg_keystore_open takes a key file's bytes.
 */
rg_keystore *rg_keystore_open(const char *path,
                              const uint8_t master[RG_KEYSTORE_MASTERLEN],
                              char *err, size_t errlen);
rg_keystore *rg_keystore_open_secret(const char *path,
                                     const rg_keystore_secret *secret,
                                     char *err, size_t errlen);
void rg_keystore_free(rg_keystore *ks);

/*
 * Reseal the keystore at path under new_secret (may be old_secret itself)
 * in format 2, keys untouched: a format-1 file gains KEK version 1 wrapping
 * its data keys. old_secret must open it, else nothing changes. Atomic: a
 * crash leaves the old file or the new one.
 */
int rg_keystore_rewrite(const char *path, const rg_keystore_secret *old_secret,
                        const rg_keystore_secret *new_secret, char *err,
                        size_t errlen);

/* Fault injection for the tests: the next write stops (as if the process
 * died) at this point, then the seam disarms itself. */
#define RG_KEYSTORE_FAULT_NONE 0
#define RG_KEYSTORE_FAULT_PARTIAL_TEMP 1  /* half the temporary file written */
#define RG_KEYSTORE_FAULT_BEFORE_RENAME 2 /* temporary file complete, synced */
#define RG_KEYSTORE_FAULT_AFTER_RENAME 3  /* renamed, directory not synced */
void rg_keystore_test_fault(int point);

/* The file's format (1 or 2) and kdf when it was opened. */
int rg_keystore_format(const rg_keystore *ks);
int rg_keystore_kdf(const rg_keystore *ks);

/* The active signing key and its origin (the checkpoint/note name). Owned
 * by ks. */
const rg_sigkey *rg_keystore_signing_key(const rg_keystore *ks);
const char *rg_keystore_origin(const rg_keystore *ks);
/* The 32-byte database key (guarded memory owned by ks). */
const uint8_t *rg_keystore_db_key(const rg_keystore *ks);
/*
 * The current (highest active) data key of a resource and its version, or
 * NULL when the resource has none. Owned by ks, read-only.
 */
const uint8_t *rg_keystore_data_key(const rg_keystore *ks, const char *resource,
                                    uint32_t *version);
/* The data key of a resource at a given version, or NULL (also when that
 * version is retired or destroyed: reads accept keys not yet retired). */
const uint8_t *rg_keystore_data_key_at(const rg_keystore *ks,
                                       const char *resource, uint32_t version);

/*
 * Every key the file lists, for `recgatectl keys list` and GET /v1/keys:
 * metadata only, never key material. id: signing keys their note key id
 * (8 hex digits), others "<purpose>-<resource>-<version>". Strings owned
 * by ks.
 */
struct rg_keystore_info {
	int purpose;            /* RG_KEYSTORE_SIGNING ... */
	const char *resource;   /* data keys; NULL otherwise */
	uint32_t version;
	int status;             /* RG_KEYSTORE_ACTIVE ... */
	uint64_t created;       /* Unix seconds; 0 unknown */
	uint64_t not_after;     /* 0 none */
	uint64_t last_used;     /* 0 unknown */
	uint32_t kek_version;   /* data keys: the KEK that wraps it */
	char id[64];
	uint8_t pub[RG_SIG_PUBLEN]; /* signing keys: the public key */
};
size_t rg_keystore_count(const rg_keystore *ks);
int rg_keystore_info(const rg_keystore *ks, size_t i,
                     struct rg_keystore_info *out);
/* A signing key by version (any status but destroyed), for verification
 * with old keys; NULL if none. */
const rg_sigkey *rg_keystore_signing_key_at(const rg_keystore *ks,
                                            uint32_t version);

/*
 * Online signing-key rotation (the keeper, which keeps the master secret
 * for it: see rg_keystore_secret_protect). In the file at path: the
 * active signing key becomes retiring and a fresh one, version highest + 1
 * (*version), becomes active; written atomically under the directory lock
 * (format 2 only). Returns the changed keystore, loaded (caller frees;
 * the one in use is untouched), or NULL with err and the file unchanged.
 */
rg_keystore *rg_keystore_rotate_signing(const char *path,
                                        const rg_keystore_secret *secret,
                                        uint32_t *version, char *err,
                                        size_t errlen);
/* The newest retiring signing key (it co-signs checkpoints during the
 * overlap) and its version, or NULL. Owned by ks. */
const rg_sigkey *rg_keystore_signing_previous(const rg_keystore *ks,
                                              uint32_t *version);
/* The active signing key's version. */
uint32_t rg_keystore_signing_version(const rg_keystore *ks);
/*
 * Online KEK rotation: a fresh KEK, version highest + 1 (*version), wraps
 * every data key from now on; each data key is unwrapped and wrapped
 * again with it (*rewrapped), the old KEK is kept retired. The data keys
 * themselves, and so every record, are unchanged. Atomic, as above;
 * returns the changed keystore, loaded (caller frees), or NULL.
 */
rg_keystore *rg_keystore_rotate_kek(const char *path,
                                    const rg_keystore_secret *secret,
                                    uint32_t *version, size_t *rewrapped,
                                    char *err, size_t errlen);
/* The active KEK's version (0 when none: format 1). */
uint32_t rg_keystore_kek_version(const rg_keystore *ks);
/* The file's bytes (ciphertext; malloc'd, caller frees) before a change,
 * and putting them back atomically when the change must be undone. */
uint8_t *rg_keystore_snapshot(const char *path, size_t *len, char *err,
                              size_t errlen);
int rg_keystore_restore(const char *path, const uint8_t *file, size_t len,
                        char *err, size_t errlen);
/* Guard a secret kept for later rewrites: access 0 makes its memory
 * inaccessible (sodium_mprotect_noaccess), 1 readable. 0 or -1. */
int rg_keystore_secret_protect(rg_keystore_secret *s, int access);

/*
 * Online data-key rotation: each resource named (resource, or every
 * resource holding an active data key when NULL) gets a fresh data key,
 * version highest + 1, wrapped under the active KEK, active; the version
 * active before becomes retiring (still read until retired). *count: how
 * many resources. Atomic, as above; returns the changed keystore, loaded
 * (caller frees), or NULL with err and the file unchanged.
 */
/*
 * A first data key (version 1, under the active KEK) for each of the n
 * resources that has none, as a catalogue load adding resources needs;
 * *added says how many. Atomic, as above; returns the changed keystore,
 * loaded (caller frees), or NULL with err and the file unchanged.
 */
rg_keystore *rg_keystore_add_data(const char *path,
                                  const rg_keystore_secret *secret,
                                  const char *const *resources, size_t n,
                                  size_t *added, char *err, size_t errlen);
rg_keystore *rg_keystore_rotate_data(const char *path,
                                     const rg_keystore_secret *secret,
                                     const char *resource, size_t *count,
                                     char *err, size_t errlen);
/*
 * Retire or destroy one key version: purpose RG_KEYSTORE_DATA (resource
 * named) or RG_KEYSTORE_KEK (resource NULL); status RG_KEYSTORE_RETIRED
 * (from retiring, or a KEK's from retiring) or RG_KEYSTORE_DESTROYED (from
 * retired only; the key's bytes leave the file, its description stays).
 * The keystore refuses an active key, a KEK that still wraps a data key,
 * and any other move (*why one of RG_KEYSTORE_WHY_*); whether records
 * still use a data key is the caller's to check first. Atomic, as above;
 * the changed keystore, loaded, or NULL.
 */
#define RG_KEYSTORE_WHY_NONE 0
#define RG_KEYSTORE_WHY_NOTFOUND 1 /* no such key version */
#define RG_KEYSTORE_WHY_ACTIVE 2   /* it is the active version */
#define RG_KEYSTORE_WHY_STATE 3    /* its status does not allow the move */
#define RG_KEYSTORE_WHY_IN_USE 4   /* a KEK that still wraps data keys */
rg_keystore *rg_keystore_set_status(const char *path,
                                    const rg_keystore_secret *secret,
                                    int purpose, const char *resource,
                                    uint32_t version, int status, int *why,
                                    char *err, size_t errlen);
/* Would rg_keystore_set_status refuse this move on ks (as loaded)? One of
 * RG_KEYSTORE_WHY_*; *from: the key's current status when found. */
int rg_keystore_status_check(const rg_keystore *ks, int purpose,
                             const char *resource, uint32_t version,
                             int status, int *from);
/* The key that pseudonyms of a resource derive from: its oldest data key
 * still held (retired keys included, destroyed ones not), so that
 * pseudonyms stay the same across rotations and change only when that
 * key is destroyed. *version set; NULL when none. Owned by ks. */
const uint8_t *rg_keystore_pseudonym_key(const rg_keystore *ks,
                                         const char *resource,
                                         uint32_t *version);

/*
 * Master secrets as the 32-byte master they stand for, for the online
 * change of the master secret (gateway/ctl_master.c derives, the keeper's
 * gateway/ex_master.c reseals): a key file's bytes, or a passphrase's
 * Argon2id output together with the salt and cost it was made with. A
 * derived passphrase secret seals with that very salt and cost (no
 * Argon2id, so the keeper never sees a passphrase and never pays for one)
 * and opens only a file whose header names them.
 */
#define RG_KEYSTORE_SALTLEN 16
struct rg_keystore_kdf {
	int kind;                 /* RG_KEYSTORE_KDF_* */
	uint64_t ops, mem;        /* passphrase: Argon2id cost; else 0 */
	uint8_t salt[RG_KEYSTORE_SALTLEN]; /* passphrase; else zero */
};
/* s made ready to seal a file: a passphrase through Argon2id with a fresh
 * salt and s's cost; a key file copied. New secret (caller frees), or
 * NULL with err set. */
rg_keystore_secret *rg_keystore_secret_derive(const rg_keystore_secret *s,
                                              char *err, size_t errlen);
/* s as it opens the file at path (the header's salt and cost), without
 * trying it. NULL with err set when the file wants the other kind. */
rg_keystore_secret *rg_keystore_secret_derive_for(const char *path,
                                                  const rg_keystore_secret *s,
                                                  char *err, size_t errlen);
/* A secret from its parts (master copied; p checked: kind, cost within
 * the limits the file header takes). NULL with err set. */
rg_keystore_secret *rg_keystore_secret_derived(
    const uint8_t master[RG_KEYSTORE_MASTERLEN], const struct rg_keystore_kdf *p,
    char *err, size_t errlen);
/* The parts of a key-file or derived secret: master into the caller's
 * guarded memory, p filled. -1 for a passphrase not yet derived. The
 * secret must be readable (see rg_keystore_secret_protect). */
int rg_keystore_secret_export(const rg_keystore_secret *s,
                              uint8_t master[RG_KEYSTORE_MASTERLEN],
                              struct rg_keystore_kdf *p);
/* The kdf parameters in the header of the file at path. 0 or -1. */
int rg_keystore_file_kdf_params(const char *path, struct rg_keystore_kdf *p,
                                char *err, size_t errlen);

/*
 * Online database rekey (gateway/dbrekey.c). rg_keystore_db_key is the
 * active database key; while a rekey is unfinished the file also holds
 * the previous one (retiring), so that a database under either opens
 * after a crash.
 *
 * rotate_db: a fresh database key, version highest + 1 (*version),
 * becomes active and the active one retiring; refused while a previous
 * one is still held. db_settle: version in_use (the one the database is
 * under now) is made active and every other database key destroyed (its
 * bytes removed from the file). Both atomic, under the directory lock;
 * each returns the changed keystore, loaded (caller frees), or NULL with
 * err and the file unchanged.
 */
rg_keystore *rg_keystore_rotate_db(const char *path,
                                   const rg_keystore_secret *secret,
                                   uint32_t *version, char *err,
                                   size_t errlen);
rg_keystore *rg_keystore_db_settle(const char *path,
                                   const rg_keystore_secret *secret,
                                   uint32_t in_use, char *err, size_t errlen);
/* The active database key's version. */
uint32_t rg_keystore_db_version(const rg_keystore *ks);
/* The previous database key kept during a rekey and its version, or NULL
 * when none is held. Guarded memory owned by ks, read-only. */
const uint8_t *rg_keystore_db_previous(const rg_keystore *ks,
                                       uint32_t *version);

#endif
