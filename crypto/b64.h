/*
 * b64.h -- standard base64 (RFC 4648 section 4, padded) decoded strictly,
 * for every base64 text recgate reads from outside: signatures and
 * Content-Digest in requests (RFC 8941 byte sequences), checkpoint notes,
 * public keys, key files. Each byte must be of the alphabet, '=' only as
 * the last one or two, the length a multiple of four, and all of it is
 * consumed.
 *
 * libsodium 1.0.18's sodium_base642bin decodes any byte with the high bit
 * set as some letter of the alphabet ("AAA\xc4" is accepted), so one text
 * that is not base64 could pass for another that is; the suite's fuzzing
 * found it. The check here runs first; libsodium then decodes.
 */
#ifndef RG_B64_H
#define RG_B64_H

#include <stddef.h>
#include <stdint.h>

/* in[0..inlen) into out (room outmax): 0 with *outlen set, or -1. */
int rg_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outmax,
                  size_t *outlen);

#endif
