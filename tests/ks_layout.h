/*
 * ks_layout.h -- builds keystore files byte by byte from the layout
 * crypto/keystore.h documents, independently of crypto/keystore.c, so that
 * tests pin the format and can make files the library would not write
 * (several key versions, mislabelled or malformed items).
 */
#ifndef RG_TEST_KS_LAYOUT_H
#define RG_TEST_KS_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* One format-2 item into p; returns its size. */
size_t rg_tks_item2(uint8_t *p, uint8_t type, const char *name,
                    uint32_t version, uint8_t status, uint64_t created,
                    uint64_t not_after, uint32_t kekv, const uint8_t *key,
                    size_t keylen);
/* A wrapped data key (72 bytes) for resource res, version v, KEK kekv. */
void rg_tks_wrap(const uint8_t kek[32], const char *res, uint32_t v,
                 uint32_t kekv, const uint8_t dk[32], uint8_t out[72]);
/* Seal inner as a format-2 key-file keystore at path (replacing it). */
void rg_tks_seal2(const char *path, const uint8_t master[32],
                  const uint8_t *inner, size_t len);

/*
 * Open the format-2 key-file keystore at path with master and return
 * every key it holds in plaintext: signing seeds, the database key, KEKs
 * and the data keys (unwrapped with their KEK), at most cap of them into
 * keys (32 bytes each, with their item type in types if not NULL).
 * Returns how many; CHECKs that the file opens and parses.
 */
size_t rg_tks_keys2(const char *path, const uint8_t master[32],
                    uint8_t (*keys)[32], int *types, size_t cap);

#endif
