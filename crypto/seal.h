/*
 * seal.h -- record envelopes: XChaCha20-Poly1305 under a resource's data key.
 *
 * The associated data binds a sealed body to where it belongs (resource id,
 * record id, version, key version), so that a sealed body moved to another
 * record or replayed as another version fails to open. Layout of a sealed
 * blob: nonce (24 bytes) || ciphertext || tag (16 bytes).
 */
#ifndef RG_SEAL_H
#define RG_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define RG_SEAL_KEYLEN 32
#define RG_SEAL_OVERHEAD (24 + 16)

/* Where a sealed body belongs; all strings NUL-terminated, non-NULL. */
struct rg_seal_ad {
	const char *resource;
	const char *record_id;
	uint64_t version;
	uint32_t key_version;
};

/*
 * Seal plain[0..len) into out, which must hold len + RG_SEAL_OVERHEAD bytes.
 * Returns 0, or -1 on failure.
 */
int rg_seal(const uint8_t key[RG_SEAL_KEYLEN], const struct rg_seal_ad *ad,
            const uint8_t *plain, size_t len, uint8_t *out);
/*
 * Open sealed[0..len) into out (len - RG_SEAL_OVERHEAD bytes). Returns 0, or
 * -1 if the blob is short, forged, or bound to another place.
 */
int rg_open(const uint8_t key[RG_SEAL_KEYLEN], const struct rg_seal_ad *ad,
            const uint8_t *sealed, size_t len, uint8_t *out);

#endif
