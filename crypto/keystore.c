/*
 * keystore.c -- the sealed key file and the master secret that opens it.
 *
 * This file owns every long-lived secret of the gateway while it is being
 * read or written: plaintext keys exist only in guarded memory and are wiped
 * before it is freed. It must never put key material in an error message,
 * a log line or ordinary heap memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"

#define RG_KS_MAGIC "RGKS"
#define RG_KS_FORMAT 1
#define RG_KS_KDF_KEYFILE 1
#define RG_KS_HDRLEN 6
#define RG_KS_NONCELEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define RG_KS_TAGLEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define RG_KS_MINFILE (RG_KS_HDRLEN + RG_KS_NONCELEN + RG_KS_TAGLEN)
/* Far more than 16 departments' resources need; bounds a hostile file. */
#define RG_KS_MAXFILE (1024 * 1024)
#define RG_KS_MAXITEMS 4096
#define RG_KS_NAMEMAX 255

/* Item types of the inner blob (see keystore.h). */
#define RG_KS_ITEM_SEED 1
#define RG_KS_ITEM_DBKEY 2
#define RG_KS_ITEM_DATAKEY 3

/* u8 type | u16 name length | name | u32 version | u16 key length | key */
#define RG_KS_ITEM_FIXED (1 + 2 + 4 + 2)

/* Changing this string changes every key-encryption key. */
static const char rg_ks_kek_context[] = "recgate keystore kek v1";

struct rg_ks_datakey {
	char *resource;
	uint32_t version;
	size_t slot;            /* index into rg_keystore.keys, in keys */
};

struct rg_keystore {
	rg_sigkey *sig;
	char *origin;
	/* One guarded, read-only region: slot 0 is the database key, then
	 * one slot per data key. */
	uint8_t *keys;
	struct rg_ks_datakey *data;
	size_t ndata;
};

/* One parsed item; name and key point into the (guarded) inner blob. */
struct rg_ks_item {
	uint8_t type;
	const char *name;
	size_t namelen;
	uint32_t version;
	const uint8_t *key;
	size_t keylen;
};

static void rg_ks_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rg_ks_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Names are printable ASCII without spaces, so that they can be used as
 * note names and resource ids without quoting. */
static int
rg_ks_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > RG_KS_NAMEMAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return 0;
	return 1;
}

/* A C2SP note name additionally may not contain '+'. */
static int
rg_ks_origin_ok(const char *name, size_t len)
{
	return rg_ks_name_ok(name, len) && memchr(name, '+', len) == NULL;
}

/* KEK = BLAKE2b-256 keyed with the master secret over a fixed context.
 * Returns guarded memory the caller frees, or NULL. */
static uint8_t *
rg_ks_kek(const uint8_t master[RG_KEYSTORE_MASTERLEN])
{
	uint8_t *kek = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

	if (kek == NULL)
		return NULL;
	if (crypto_generichash(kek, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	                       (const unsigned char *)rg_ks_kek_context,
	                       sizeof(rg_ks_kek_context) - 1, master,
	                       RG_KEYSTORE_MASTERLEN) != 0) {
		sodium_free(kek);
		return NULL;
	}
	return kek;
}

static int
rg_ks_write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read up to max bytes until end of file; returns the count or -1. */
static ssize_t
rg_ks_read_upto(int fd, uint8_t *buf, size_t max)
{
	size_t got = 0;

	while (got < max) {
		ssize_t n = read(fd, buf + got, max - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Make a rename or a new file in path's directory survive a crash. */
static int
rg_ks_sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, ret;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -1;
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* ---- master secret ---- */

int
rg_keystore_read_master(const char *path, uint8_t master[RG_KEYSTORE_MASTERLEN],
                        char *err, size_t errlen)
{
	/* Room for 64 hex digits, a newline and one byte to detect more. */
	const size_t cap = 2 * RG_KEYSTORE_MASTERLEN + 2;
	uint8_t *buf = NULL;
	struct stat sb;
	ssize_t n;
	size_t binlen = 0;
	const char *end = NULL;
	int fd, ret = -1;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		rg_ks_err(err, errlen, "master secret file %s: %s", path,
		          strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rg_ks_err(err, errlen, "master secret file %s is not a regular file",
		          path);
		goto out;
	}
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		rg_ks_err(err, errlen, "master secret file %s is readable by "
		          "others; chmod 600 it", path);
		goto out;
	}
	if ((buf = sodium_malloc(cap)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto out;
	}
	if ((n = rg_ks_read_upto(fd, buf, cap)) < 0) {
		rg_ks_err(err, errlen, "master secret file %s: %s", path,
		          strerror(errno));
		goto out;
	}
	if ((size_t)n == RG_KEYSTORE_MASTERLEN) {
		memcpy(master, buf, RG_KEYSTORE_MASTERLEN);
		ret = 0;
	} else if (((size_t)n == 2 * RG_KEYSTORE_MASTERLEN ||
	            ((size_t)n == 2 * RG_KEYSTORE_MASTERLEN + 1 &&
	             buf[2 * RG_KEYSTORE_MASTERLEN] == '\n')) &&
	           sodium_hex2bin(master, RG_KEYSTORE_MASTERLEN, (const char *)buf,
	                          2 * RG_KEYSTORE_MASTERLEN, NULL, &binlen,
	                          &end) == 0 &&
	           binlen == RG_KEYSTORE_MASTERLEN &&
	           end == (const char *)buf + 2 * RG_KEYSTORE_MASTERLEN) {
		ret = 0;
	} else {
		rg_ks_err(err, errlen, "master secret file %s must hold 32 raw "
		          "bytes or 64 hex characters", path);
	}
out:
	if (ret != 0)
		sodium_memzero(master, RG_KEYSTORE_MASTERLEN);
	if (buf != NULL)
		sodium_free(buf);  /* wipes */
	close(fd);
	return ret;
}

int
rg_keystore_new_master(const char *path, char *err, size_t errlen)
{
	uint8_t *secret;
	int fd, ret = -1;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	if ((secret = sodium_malloc(RG_KEYSTORE_MASTERLEN)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rg_ks_err(err, errlen, "master secret file %s: %s", path,
		          strerror(errno));
		sodium_free(secret);
		return -1;
	}
	randombytes_buf(secret, RG_KEYSTORE_MASTERLEN);
	if (rg_ks_write_all(fd, secret, RG_KEYSTORE_MASTERLEN) != 0 ||
	    fsync(fd) != 0) {
		rg_ks_err(err, errlen, "master secret file %s: write failed: %s",
		          path, strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) != 0 || rg_ks_sync_dir(path) != 0) {
		rg_ks_err(err, errlen, "master secret file %s: %s", path,
		          strerror(errno));
		goto out;
	}
	ret = 0;
out:
	/* A half-written secret must not be mistaken for a good one. */
	if (ret != 0)
		unlink(path);
	sodium_free(secret);
	return ret;
}

/* ---- inner blob ---- */

static size_t
rg_ks_item_size(size_t namelen)
{
	return RG_KS_ITEM_FIXED + namelen + RG_KEYSTORE_KEYLEN;
}

/* Append an item and return where its key bytes go (filled by caller). */
static uint8_t *
rg_ks_put_item(uint8_t *blob, size_t *pos, uint8_t type, const char *name,
               uint32_t version)
{
	size_t namelen = name != NULL ? strlen(name) : 0;
	uint8_t *p = blob + *pos;

	p[0] = type;
	p[1] = (uint8_t)(namelen >> 8);
	p[2] = (uint8_t)namelen;
	if (namelen > 0)
		memcpy(p + 3, name, namelen);
	p += 3 + namelen;
	p[0] = (uint8_t)(version >> 24);
	p[1] = (uint8_t)(version >> 16);
	p[2] = (uint8_t)(version >> 8);
	p[3] = (uint8_t)version;
	p[4] = (uint8_t)(RG_KEYSTORE_KEYLEN >> 8);
	p[5] = (uint8_t)RG_KEYSTORE_KEYLEN;
	*pos += rg_ks_item_size(namelen);
	return p + 6;
}

/*
 * Parse the item at *pos. 1 with it filled, 0 at the clean end, -1 when
 * the bytes do not form a valid item: every length is checked against what
 * is left before it is used, and every field against what it may hold.
 */
static int
rg_ks_next_item(const uint8_t *blob, size_t len, size_t *pos,
                struct rg_ks_item *it)
{
	size_t left = len - *pos;
	const uint8_t *p = blob + *pos;

	if (*pos == len)
		return 0;
	if (left < 3)
		return -1;
	it->type = p[0];
	it->namelen = (size_t)p[1] << 8 | p[2];
	p += 3;
	left -= 3;
	if (it->namelen > left)
		return -1;
	it->name = (const char *)p;
	p += it->namelen;
	left -= it->namelen;
	if (left < 6)
		return -1;
	it->version = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	              (uint32_t)p[2] << 8 | p[3];
	it->keylen = (size_t)p[4] << 8 | p[5];
	p += 6;
	left -= 6;
	if (it->keylen > left)
		return -1;
	it->key = p;
	*pos = len - (left - it->keylen);

	if (it->keylen != RG_KEYSTORE_KEYLEN || it->version == 0)
		return -1;
	switch (it->type) {
	case RG_KS_ITEM_SEED:
		return rg_ks_origin_ok(it->name, it->namelen) ? 1 : -1;
	case RG_KS_ITEM_DBKEY:
		return it->namelen == 0 ? 1 : -1;
	case RG_KS_ITEM_DATAKEY:
		return rg_ks_name_ok(it->name, it->namelen) ? 1 : -1;
	default:
		return -1;
	}
}

static char *
rg_ks_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Build ks from a verified plaintext blob; what: a reason on failure. */
static int
rg_ks_load(rg_keystore *ks, const uint8_t *blob, size_t len, const char **what)
{
	struct rg_ks_item it;
	size_t pos = 0, nseed = 0, ndb = 0, ndata = 0, nitems = 0, d = 0;
	int rc;

	/* First pass: shape and counts, before anything is allocated. */
	while ((rc = rg_ks_next_item(blob, len, &pos, &it)) == 1) {
		if (++nitems > RG_KS_MAXITEMS) {
			*what = "too many items";
			return -1;
		}
		if (it.type == RG_KS_ITEM_SEED)
			nseed++;
		else if (it.type == RG_KS_ITEM_DBKEY)
			ndb++;
		else
			ndata++;
	}
	if (rc != 0) {
		*what = "malformed item";
		return -1;
	}
	if (nseed != 1 || ndb != 1) {
		*what = "needs exactly one signing key and one database key";
		return -1;
	}
	ks->keys = sodium_malloc((1 + ndata) * RG_KEYSTORE_KEYLEN);
	ks->data = calloc(ndata > 0 ? ndata : 1, sizeof(*ks->data));
	if (ks->keys == NULL || ks->data == NULL) {
		*what = "out of memory";
		return -1;
	}

	pos = 0;
	while (rg_ks_next_item(blob, len, &pos, &it) == 1) {
		switch (it.type) {
		case RG_KS_ITEM_SEED:
			ks->origin = rg_ks_strndup(it.name, it.namelen);
			ks->sig = rg_sigkey_from_seed(it.key);
			if (ks->origin == NULL || ks->sig == NULL) {
				*what = "cannot load the signing key";
				return -1;
			}
			break;
		case RG_KS_ITEM_DBKEY:
			memcpy(ks->keys, it.key, RG_KEYSTORE_KEYLEN);
			break;
		default:
			/* Two keys under one (resource, version) would make
			 * the choice of key depend on file order. */
			for (size_t i = 0; i < d; i++) {
				if (ks->data[i].version == it.version &&
				    strlen(ks->data[i].resource) == it.namelen &&
				    memcmp(ks->data[i].resource, it.name,
				           it.namelen) == 0) {
					*what = "duplicate data key";
					return -1;
				}
			}
			if ((ks->data[d].resource =
			         rg_ks_strndup(it.name, it.namelen)) == NULL) {
				*what = "out of memory";
				return -1;
			}
			ks->data[d].version = it.version;
			ks->data[d].slot = 1 + d;
			memcpy(ks->keys + (1 + d) * RG_KEYSTORE_KEYLEN, it.key,
			       RG_KEYSTORE_KEYLEN);
			ks->ndata = ++d;
			break;
		}
	}
	/* Loaded keys are never written again. */
	if (sodium_mprotect_readonly(ks->keys) != 0) {
		*what = "cannot protect key memory";
		return -1;
	}
	return 0;
}

/* ---- create ---- */

/* Move tmp to path, never replacing an existing path. */
static int
rg_ks_publish(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* Filesystems without RENAME_NOREPLACE: link() refuses an existing
	 * target just the same. */
	if (link(tmp, path) != 0)
		return -1;
	return unlink(tmp);
}

static int
rg_ks_write_file(const char *path, const uint8_t *buf, size_t len, char *err,
                 size_t errlen)
{
	char tmp[PATH_MAX];
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		rg_ks_err(err, errlen, "keystore path too long");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rg_ks_err(err, errlen, "keystore %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (rg_ks_write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		rg_ks_err(err, errlen, "keystore %s: write failed: %s", tmp,
		          strerror(saved));
		return -1;
	}
	if (close(fd) != 0 || rg_ks_publish(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		rg_ks_err(err, errlen, "keystore %s: %s", path, strerror(saved));
		return -1;
	}
	if (rg_ks_sync_dir(path) != 0) {
		rg_ks_err(err, errlen, "keystore %s: syncing its directory: %s",
		          path, strerror(errno));
		return -1;
	}
	return 0;
}

int
rg_keystore_create(const char *path, const uint8_t master[RG_KEYSTORE_MASTERLEN],
                   const char *origin, const char *const *resources, size_t n,
                   char *err, size_t errlen)
{
	rg_sigkey *sig = NULL;
	uint8_t *blob = NULL, *kek = NULL, *out = NULL, *slot;
	unsigned long long clen = 0;
	struct stat sb;
	size_t size, pos = 0, outlen;
	int ret = -1;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	if (path == NULL || master == NULL || origin == NULL ||
	    (resources == NULL && n > 0)) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return -1;
	}
	if (!rg_ks_origin_ok(origin, strlen(origin))) {
		rg_ks_err(err, errlen, "keystore: origin must be 1-%d printable "
		          "characters without spaces or '+'", RG_KS_NAMEMAX);
		return -1;
	}
	if (n > RG_KS_MAXITEMS - 2) {
		rg_ks_err(err, errlen, "keystore: too many resources");
		return -1;
	}
	size = rg_ks_item_size(strlen(origin)) + rg_ks_item_size(0);
	for (size_t i = 0; i < n; i++) {
		if (resources[i] == NULL ||
		    !rg_ks_name_ok(resources[i], strlen(resources[i]))) {
			rg_ks_err(err, errlen, "keystore: bad resource name");
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(resources[i], resources[j]) == 0) {
				rg_ks_err(err, errlen, "keystore: resource %s "
				          "listed twice", resources[i]);
				return -1;
			}
		}
		size += rg_ks_item_size(strlen(resources[i]));
	}
	/* Refuse early with a clear message; publishing refuses again
	 * atomically should the path appear meanwhile. */
	if (lstat(path, &sb) == 0) {
		rg_ks_err(err, errlen, "keystore %s already exists", path);
		return -1;
	}
	if (errno != ENOENT) {
		rg_ks_err(err, errlen, "keystore %s: %s", path, strerror(errno));
		return -1;
	}

	outlen = RG_KS_HDRLEN + RG_KS_NONCELEN + size + RG_KS_TAGLEN;
	if ((sig = rg_sigkey_generate()) == NULL ||
	    (blob = sodium_malloc(size)) == NULL || (kek = rg_ks_kek(master)) == NULL ||
	    (out = malloc(outlen)) == NULL) {
		rg_ks_err(err, errlen, "keystore: out of memory");
		goto out;
	}
	/* Keys are generated straight into the guarded blob. */
	slot = rg_ks_put_item(blob, &pos, RG_KS_ITEM_SEED, origin, 1);
	rg_sigkey_seed(sig, slot);
	if (sodium_is_zero(slot, RG_KEYSTORE_KEYLEN)) {
		rg_ks_err(err, errlen, "keystore: cannot export the signing key");
		goto out;
	}
	slot = rg_ks_put_item(blob, &pos, RG_KS_ITEM_DBKEY, NULL, 1);
	randombytes_buf(slot, RG_KEYSTORE_KEYLEN);
	for (size_t i = 0; i < n; i++) {
		slot = rg_ks_put_item(blob, &pos, RG_KS_ITEM_DATAKEY, resources[i], 1);
		randombytes_buf(slot, RG_KEYSTORE_KEYLEN);
	}
	if (pos != size)
		abort();  /* the size computation above is wrong */

	memcpy(out, RG_KS_MAGIC, 4);
	out[4] = RG_KS_FORMAT;
	out[5] = RG_KS_KDF_KEYFILE;
	randombytes_buf(out + RG_KS_HDRLEN, RG_KS_NONCELEN);
	/* The header is authenticated: a file relabelled with another
	 * format or kdf does not open. */
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
	        out + RG_KS_HDRLEN + RG_KS_NONCELEN, &clen, blob, size, out,
	        RG_KS_HDRLEN, NULL, out + RG_KS_HDRLEN, kek) != 0 ||
	    clen != size + RG_KS_TAGLEN) {
		rg_ks_err(err, errlen, "keystore: sealing failed");
		goto out;
	}
	if (rg_ks_write_file(path, out, outlen, err, errlen) != 0)
		goto out;
	ret = 0;
out:
	free(out);
	if (kek != NULL)
		sodium_free(kek);
	if (blob != NULL)
		sodium_free(blob);
	rg_sigkey_free(sig);
	return ret;
}

/* ---- open ---- */

void
rg_keystore_free(rg_keystore *ks)
{
	if (ks == NULL)
		return;
	rg_sigkey_free(ks->sig);
	/* sodium_free lifts the read-only protection and wipes. */
	if (ks->keys != NULL)
		sodium_free(ks->keys);
	for (size_t i = 0; i < ks->ndata; i++)
		free(ks->data[i].resource);
	free(ks->data);
	free(ks->origin);
	free(ks);
}

/* The whole file, at most RG_KS_MAXFILE bytes, in malloc'd memory. */
static uint8_t *
rg_ks_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat sb;
	uint8_t *buf = NULL;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		rg_ks_err(err, errlen, "keystore %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rg_ks_err(err, errlen, "keystore %s is not a regular file", path);
		goto fail;
	}
	if (sb.st_size < RG_KS_MINFILE || sb.st_size > RG_KS_MAXFILE) {
		rg_ks_err(err, errlen, "keystore %s: wrong size, not a keystore or "
		          "truncated", path);
		goto fail;
	}
	/* One byte more than stat said, to notice a file that grew. */
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto fail;
	}
	n = rg_ks_read_upto(fd, buf, (size_t)sb.st_size + 1);
	if (n != (ssize_t)sb.st_size) {
		rg_ks_err(err, errlen, "keystore %s: read failed", path);
		goto fail;
	}
	close(fd);
	*len = (size_t)n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

rg_keystore *
rg_keystore_open(const char *path, const uint8_t master[RG_KEYSTORE_MASTERLEN],
                 char *err, size_t errlen)
{
	rg_keystore *ks = NULL;
	uint8_t *file = NULL, *kek = NULL, *blob = NULL;
	unsigned long long plen = 0;
	size_t len = 0, clen;
	const char *what = NULL;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	if (path == NULL || master == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return NULL;
	}
	if ((file = rg_ks_read_file(path, &len, err, errlen)) == NULL)
		return NULL;
	if (memcmp(file, RG_KS_MAGIC, 4) != 0) {
		rg_ks_err(err, errlen, "keystore %s: not a recgate keystore", path);
		goto fail;
	}
	if (file[4] != RG_KS_FORMAT || file[5] != RG_KS_KDF_KEYFILE) {
		rg_ks_err(err, errlen, "keystore %s: unsupported format %u or "
		          "kdf %u", path, file[4], file[5]);
		goto fail;
	}
	clen = len - RG_KS_HDRLEN - RG_KS_NONCELEN;
	if ((kek = rg_ks_kek(master)) == NULL ||
	    (blob = sodium_malloc(clen - RG_KS_TAGLEN + 1)) == NULL ||
	    (ks = calloc(1, sizeof(*ks))) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto fail;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        blob, &plen, NULL, file + RG_KS_HDRLEN + RG_KS_NONCELEN, clen,
	        file, RG_KS_HDRLEN, file + RG_KS_HDRLEN, kek) != 0 ||
	    plen != clen - RG_KS_TAGLEN) {
		rg_ks_err(err, errlen, "keystore %s: wrong master secret or "
		          "damaged file", path);
		goto fail;
	}
	if (rg_ks_load(ks, blob, (size_t)plen, &what) != 0) {
		/* Authentic but not understood: written by something else. */
		rg_ks_err(err, errlen, "keystore %s: bad contents (%s)", path, what);
		goto fail;
	}
	sodium_free(blob);
	sodium_free(kek);
	free(file);
	return ks;
fail:
	rg_keystore_free(ks);
	if (blob != NULL)
		sodium_free(blob);
	if (kek != NULL)
		sodium_free(kek);
	free(file);
	return NULL;
}

/* ---- accessors ---- */

const rg_sigkey *
rg_keystore_signing_key(const rg_keystore *ks)
{
	return ks->sig;
}

const char *
rg_keystore_origin(const rg_keystore *ks)
{
	return ks->origin;
}

const uint8_t *
rg_keystore_db_key(const rg_keystore *ks)
{
	return ks->keys;
}

const uint8_t *
rg_keystore_data_key(const rg_keystore *ks, const char *resource,
                     uint32_t *version)
{
	const struct rg_ks_datakey *best = NULL;

	if (resource == NULL)
		return NULL;
	for (size_t i = 0; i < ks->ndata; i++)
		if (strcmp(ks->data[i].resource, resource) == 0 &&
		    (best == NULL || ks->data[i].version > best->version))
			best = &ks->data[i];
	if (best == NULL)
		return NULL;
	if (version != NULL)
		*version = best->version;
	return ks->keys + best->slot * RG_KEYSTORE_KEYLEN;
}

const uint8_t *
rg_keystore_data_key_at(const rg_keystore *ks, const char *resource,
                        uint32_t version)
{
	if (resource == NULL)
		return NULL;
	for (size_t i = 0; i < ks->ndata; i++)
		if (ks->data[i].version == version &&
		    strcmp(ks->data[i].resource, resource) == 0)
			return ks->keys + ks->data[i].slot * RG_KEYSTORE_KEYLEN;
	return NULL;
}
