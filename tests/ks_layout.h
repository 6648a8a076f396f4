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

#endif
