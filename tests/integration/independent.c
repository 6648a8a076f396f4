/*
 * independent.c -- a verifier of recgate's log written with nothing but
 * OpenSSL and the RFC / C2SP text (no code shared with the gateway's
 * crypto/), so that the tests check the formats, not the code against
 * itself.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "tests/integration/independent.h"
#include "tests/test.h"

size_t
ind_b64(const char *in, unsigned char *out, size_t outlen)
{
	size_t inlen = strlen(in);
	unsigned char tmp[4096];
	int n;

	CHECK(inlen / 4 * 3 <= sizeof(tmp) && inlen % 4 == 0);
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)inlen);
	CHECK(n >= 0);
	if (inlen >= 1 && in[inlen - 1] == '=')
		n--;
	if (inlen >= 2 && in[inlen - 2] == '=')
		n--;
	CHECK((size_t)n <= outlen);
	memcpy(out, tmp, (size_t)n);
	return (size_t)n;
}

void
ind_node(const unsigned char l[32], const unsigned char r[32], unsigned char out[32])
{
	unsigned char buf[65];

	buf[0] = 1;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	SHA256(buf, sizeof(buf), out);
}

/* RFC 9162 section 2.1.3.2, transcribed: the root the proof leads to. */
int
ind_inclusion_root(unsigned long long index, unsigned long long size,
                   const unsigned char leaf[32], unsigned char (*proof)[32],
                   size_t plen, unsigned char root[32])
{
	unsigned long long fn = index, sn = size - 1;

	if (index >= size)
		return -1;
	memcpy(root, leaf, 32);
	for (size_t i = 0; i < plen; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) == 1 || fn == sn) {
			ind_node(proof[i], root, root);
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			ind_node(root, proof[i], root);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 ? 0 : -1;
}

int
ind_verify_inclusion(unsigned long long index, unsigned long long size,
                     const unsigned char leaf[32], unsigned char (*proof)[32],
                     size_t plen, const unsigned char root[32])
{
	unsigned char r[32];

	return ind_inclusion_root(index, size, leaf, proof, plen, r) == 0 &&
	       memcmp(r, root, 32) == 0 ? 0 : -1;
}

/* RFC 9162 section 2.1.4.2, transcribed (0 < size1 < size2). */
int
ind_verify_consistency(unsigned long long size1, unsigned long long size2,
                       const unsigned char root1[32], const unsigned char root2[32],
                       unsigned char (*proof)[32], size_t plen)
{
	unsigned char path[66][32], fr[32], sr[32];
	unsigned long long fn = size1 - 1, sn = size2 - 1;
	size_t n = 0;

	if (plen == 0 || plen > 64 || size1 == 0 || size1 >= size2)
		return -1;
	if ((size1 & (size1 - 1)) == 0)
		memcpy(path[n++], root1, 32);
	for (size_t i = 0; i < plen; i++)
		memcpy(path[n++], proof[i], 32);
	while ((fn & 1) == 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, path[0], 32);
	memcpy(sr, path[0], 32);
	for (size_t i = 1; i < n; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) == 1 || fn == sn) {
			ind_node(path[i], fr, fr);
			ind_node(path[i], sr, sr);
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			ind_node(sr, path[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(fr, root1, 32) == 0 && memcmp(sr, root2, 32) == 0
	    ? 0 : -1;
}

/*
 * C2SP signed note with one Ed25519 key: split text and signature lines,
 * check the key id (SHA-256(name || 0x0A || 0x01 || pub)[:4]) and the
 * signature over the text. Returns the text length or 0.
 */
size_t
ind_verify_note(const char *note, const char *name, const unsigned char pub[32])
{
	const char *sep = strstr(note, "\n\n"), *line;
	unsigned char idbuf[300], h[32], blob[128];
	size_t tlen, nlen = strlen(name), blen;
	char prefix[300];
	EVP_PKEY *pk;
	EVP_MD_CTX *md;
	int ok;

	if (sep == NULL)
		return 0;
	tlen = (size_t)(sep - note) + 1;
	line = sep + 2;
	snprintf(prefix, sizeof(prefix), "\xe2\x80\x94 %s ", name);
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		return 0;
	{
		char b64[200];
		size_t l = strcspn(line + strlen(prefix), "\n");
		CHECK(l < sizeof(b64));
		memcpy(b64, line + strlen(prefix), l);
		b64[l] = '\0';
		blen = ind_b64(b64, blob, sizeof(blob));
	}
	if (blen != 68)
		return 0;
	memcpy(idbuf, name, nlen);
	idbuf[nlen] = 0x0a;
	idbuf[nlen + 1] = 0x01;
	memcpy(idbuf + nlen + 2, pub, 32);
	SHA256(idbuf, nlen + 34, h);
	if (memcmp(h, blob, 4) != 0)
		return 0;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	md = EVP_MD_CTX_new();
	CHECK(pk != NULL && md != NULL);
	ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
	     EVP_DigestVerify(md, blob + 4, 64, (const unsigned char *)note, tlen) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return ok ? tlen : 0;
}
