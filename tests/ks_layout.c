/*
 * ks_layout.c -- keystore files from the documented layout, for tests. It
 * shares no code with crypto/keystore.c on purpose.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/ks_layout.h"
#include "tests/test.h"

static void
rg_tks_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
rg_tks_put64(uint8_t *p, uint64_t v)
{
	rg_tks_put32(p, (uint32_t)(v >> 32));
	rg_tks_put32(p + 4, (uint32_t)v);
}

size_t
rg_tks_item2(uint8_t *p, uint8_t type, const char *name, uint32_t version,
             uint8_t status, uint64_t created, uint64_t not_after,
             uint32_t kekv, const uint8_t *key, size_t keylen)
{
	size_t n = strlen(name);

	p[0] = type;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	memcpy(p + 3, name, n);
	p += 3 + n;
	rg_tks_put32(p, version);
	p[4] = status;
	rg_tks_put64(p + 5, created);
	rg_tks_put64(p + 13, not_after);
	rg_tks_put64(p + 21, 0);
	rg_tks_put32(p + 29, kekv);
	p[33] = (uint8_t)(keylen >> 8);
	p[34] = (uint8_t)keylen;
	memcpy(p + 35, key, keylen);
	return 38 + n + keylen;
}

void
rg_tks_wrap(const uint8_t kek[32], const char *res, uint32_t v, uint32_t kekv,
            const uint8_t dk[32], uint8_t out[72])
{
	uint8_t ad[300];
	size_t n = strlen(res);
	unsigned long long clen = 0;

	CHECK(n <= 255);
	memcpy(ad, "recgate data key", 16);
	ad[16] = (uint8_t)(n >> 8);
	ad[17] = (uint8_t)n;
	memcpy(ad + 18, res, n);
	rg_tks_put32(ad + 18 + n, v);
	rg_tks_put32(ad + 22 + n, kekv);
	randombytes_buf(out, 24);
	CHECK(crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, &clen, dk, 32,
	                                                 ad, 26 + n, NULL, out,
	                                                 kek) == 0);
}

void
rg_tks_seal2(const char *path, const uint8_t master[32], const uint8_t *inner,
             size_t len)
{
	static const char ctx[] = "recgate keystore kek v1";
	uint8_t kek[32], *out;
	unsigned long long clen = 0;
	size_t outlen = 6 + 24 + len + 16;
	int fd;

	CHECK(crypto_generichash(kek, sizeof(kek), (const uint8_t *)ctx,
	                         sizeof(ctx) - 1, master, 32) == 0);
	out = malloc(outlen);
	CHECK(out != NULL);
	memcpy(out, "RGKS\x02\x01", 6);
	randombytes_buf(out + 6, 24);
	CHECK(crypto_aead_xchacha20poly1305_ietf_encrypt(out + 30, &clen, inner,
	                                                 len, out, 6, NULL,
	                                                 out + 6, kek) == 0);
	sodium_memzero(kek, sizeof(kek));
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, out, outlen) == (ssize_t)outlen);
	CHECK(close(fd) == 0);
	free(out);
}

static uint32_t
rg_tks_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* One parsed format-2 item. */
struct rg_tks_it {
	uint8_t type;
	const uint8_t *name;
	size_t namelen;
	uint32_t version, kekv;
	const uint8_t *key;
	size_t keylen;
};

/* The item at *pos (1), or the end (0); CHECKs the lengths. */
static int
rg_tks_next(const uint8_t *b, size_t len, size_t *pos, struct rg_tks_it *it)
{
	const uint8_t *p = b + *pos;

	if (*pos == len)
		return 0;
	CHECK(len - *pos >= 38);
	it->type = p[0];
	it->namelen = (size_t)p[1] << 8 | p[2];
	CHECK(len - *pos >= 38 + it->namelen);
	it->name = p + 3;
	p += 3 + it->namelen;
	it->version = rg_tks_get32(p);
	it->kekv = rg_tks_get32(p + 29);
	it->keylen = (size_t)p[33] << 8 | p[34];
	it->key = p + 35;
	CHECK(len - *pos >= 38 + it->namelen + it->keylen);
	*pos += 38 + it->namelen + it->keylen;
	return 1;
}

size_t
rg_tks_keys2(const char *path, const uint8_t master[32], uint8_t (*keys)[32],
             int *types, size_t cap)
{
	static const char ctx[] = "recgate keystore kek v1";
	uint8_t kek[32], file[1 << 16], *inner;
	unsigned long long plen = 0;
	size_t flen, pos = 0, n = 0;
	struct rg_tks_it it, k;
	ssize_t got;
	int fd;

	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	got = read(fd, file, sizeof(file));
	close(fd);
	CHECK(got > 6 + 24 + 16 && got < (ssize_t)sizeof(file));
	flen = (size_t)got;
	/* Key-file keystores only: "RGKS" | 2 | 1 | nonce | sealed. */
	CHECK(memcmp(file, "RGKS\x02\x01", 6) == 0);
	CHECK(crypto_generichash(kek, sizeof(kek), (const uint8_t *)ctx,
	                         sizeof(ctx) - 1, master, 32) == 0);
	inner = malloc(flen);
	CHECK(inner != NULL);
	CHECK(crypto_aead_xchacha20poly1305_ietf_decrypt(inner, &plen, NULL,
	      file + 30, flen - 30, file, 6, file + 6, kek) == 0);
	sodium_memzero(kek, sizeof(kek));
	while (rg_tks_next(inner, (size_t)plen, &pos, &it) == 1) {
		if (it.keylen == 0 || n == cap)
			continue;
		if (it.type != 3) {
			CHECK(it.keylen == 32);
			memcpy(keys[n], it.key, 32);
		} else {
			/* A wrapped data key: find its KEK and unwrap. */
			uint8_t ad[300];
			unsigned long long dlen = 0;
			size_t p2 = 0;
			const uint8_t *kk = NULL;

			while (rg_tks_next(inner, (size_t)plen, &p2, &k) == 1)
				if (k.type == 4 && k.version == it.kekv &&
				    k.keylen == 32)
					kk = k.key;
			CHECK(kk != NULL && it.keylen == 72 && it.namelen <= 255);
			memcpy(ad, "recgate data key", 16);
			ad[16] = (uint8_t)(it.namelen >> 8);
			ad[17] = (uint8_t)it.namelen;
			memcpy(ad + 18, it.name, it.namelen);
			rg_tks_put32(ad + 18 + it.namelen, it.version);
			rg_tks_put32(ad + 22 + it.namelen, it.kekv);
			CHECK(crypto_aead_xchacha20poly1305_ietf_decrypt(keys[n],
			      &dlen, NULL, it.key + 24, 48, ad, 26 + it.namelen,
			      it.key, kk) == 0 && dlen == 32);
		}
		if (types != NULL)
			types[n] = it.type;
		n++;
	}
	sodium_memzero(inner, flen);
	free(inner);
	return n;
}
