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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"

#define RG_KS_MAGIC "RGKS"
#define RG_KS_FORMAT1 1
#define RG_KS_FORMAT2 2
#define RG_KS_HDRLEN 6
#define RG_KS_SALTLEN crypto_pwhash_SALTBYTES
/* kdf 2 adds u64 opslimit | u64 memlimit | salt to the header. */
#define RG_KS_HDRLEN_PW (RG_KS_HDRLEN + 8 + 8 + RG_KS_SALTLEN)
#define RG_KS_NONCELEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define RG_KS_TAGLEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define RG_KS_MINFILE (RG_KS_HDRLEN + RG_KS_NONCELEN + RG_KS_TAGLEN)
/* Far more than 16 departments' resources need; bounds a hostile file. */
#define RG_KS_MAXFILE (1024 * 1024)
#define RG_KS_MAXITEMS 4096
#define RG_KS_NAMEMAX 255
/* A hostile header must not make us spend minutes or gigabytes. */
#define RG_KS_PW_MAXOPS 16ULL
#define RG_KS_PW_MAXMEM (1024ULL << 20)

/* Item types of the inner blob (see keystore.h). */
#define RG_KS_ITEM_SEED RG_KEYSTORE_SIGNING
#define RG_KS_ITEM_DBKEY RG_KEYSTORE_DATABASE
#define RG_KS_ITEM_DATAKEY RG_KEYSTORE_DATA
#define RG_KS_ITEM_KEK RG_KEYSTORE_KEK

/* Format 1: u8 type | u16 name length | name | u32 version | u16 key
 * length | key */
#define RG_KS_ITEM1_FIXED (1 + 2 + 4 + 2)
/* Format 2 adds u8 status | u64 created | u64 not_after | u64 last_used |
 * u32 kek version. */
#define RG_KS_ITEM2_FIXED (1 + 2 + 4 + 1 + 8 + 8 + 8 + 4 + 2)
/* A wrapped data key: nonce | ciphertext | tag. */
#define RG_KS_WRAPLEN (RG_KS_NONCELEN + RG_KEYSTORE_KEYLEN + RG_KS_TAGLEN)

/* Changing this string changes every key-encryption key. */
static const char rg_ks_kek_context[] = "recgate keystore kek v1";
/* Prefix of a wrapped data key's associated data. */
static const char rg_ks_wrap_context[] = "recgate data key";

static int rg_ks_fault_point = RG_KEYSTORE_FAULT_NONE;

struct rg_keystore_secret {
	int kind;               /* RG_KEYSTORE_KDF_* */
	uint8_t *bytes;         /* guarded: 32-byte master, or the passphrase */
	size_t len;
	unsigned long long ops; /* Argon2id cost when sealing */
	size_t mem;
	/* A passphrase already through Argon2id (the online change): bytes
	 * hold the 32-byte master for this salt and cost, the passphrase
	 * itself is not here. */
	int derived;
	uint8_t salt[RG_KS_SALTLEN];
};

/* What the file says about one key; the key itself is elsewhere. */
struct rg_ks_meta {
	int purpose;
	int status;
	char *resource;         /* data keys */
	uint32_t version;
	uint32_t kek_version;
	uint64_t created, not_after, last_used;
	rg_sigkey *sig;         /* signing keys not destroyed */
	size_t slot;            /* data keys: index into keys; 0 if none */
};

struct rg_keystore {
	int format, kdf;
	char *origin;
	const rg_sigkey *active;
	struct rg_ks_meta *items;
	size_t nitems;
	/* One guarded, read-only region: slot 0 is the database key, then
	 * one slot per live data key. */
	uint8_t *keys;
};

/* One parsed item; name and key point into the (guarded) inner blob. */
struct rg_ks_item {
	uint8_t type;
	uint8_t status;
	const char *name;
	size_t namelen;
	uint32_t version;
	uint32_t kek_version;
	uint64_t created, not_after, last_used;
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

/* ---- secrets ---- */

static rg_keystore_secret *
rg_ks_secret_new(int kind, size_t len)
{
	rg_keystore_secret *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	/* One byte more so that an empty passphrase still has memory. */
	if ((s->bytes = sodium_malloc(len + 1)) == NULL) {
		free(s);
		return NULL;
	}
	s->kind = kind;
	s->len = len;
	s->ops = RG_KEYSTORE_PWHASH_OPS;
	s->mem = RG_KEYSTORE_PWHASH_MEM;
	return s;
}

void
rg_keystore_secret_free(rg_keystore_secret *s)
{
	if (s == NULL)
		return;
	sodium_free(s->bytes);  /* wipes */
	free(s);
}

int
rg_keystore_secret_kind(const rg_keystore_secret *s)
{
	return s->kind;
}

size_t
rg_keystore_secret_len(const rg_keystore_secret *s)
{
	return s->len;
}

int
rg_keystore_secret_set_cost(rg_keystore_secret *s, unsigned long long ops,
                            size_t mem)
{
	if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > RG_KS_PW_MAXOPS ||
	    mem < crypto_pwhash_MEMLIMIT_MIN || mem > RG_KS_PW_MAXMEM ||
	    s->derived)
		return -1;
	s->ops = ops;
	s->mem = mem;
	return 0;
}

rg_keystore_secret *
rg_keystore_secret_master(const uint8_t master[RG_KEYSTORE_MASTERLEN])
{
	rg_keystore_secret *s;

	if (sodium_init() < 0)
		return NULL;
	if ((s = rg_ks_secret_new(RG_KEYSTORE_KDF_KEYFILE,
	                          RG_KEYSTORE_MASTERLEN)) == NULL)
		return NULL;
	memcpy(s->bytes, master, RG_KEYSTORE_MASTERLEN);
	return s;
}

rg_keystore_secret *
rg_keystore_secret_keyfile(const char *path, char *err, size_t errlen)
{
	rg_keystore_secret *s;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	if ((s = rg_ks_secret_new(RG_KEYSTORE_KDF_KEYFILE,
	                          RG_KEYSTORE_MASTERLEN)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return NULL;
	}
	if (rg_keystore_read_master(path, s->bytes, err, errlen) != 0) {
		rg_keystore_secret_free(s);
		return NULL;
	}
	return s;
}

rg_keystore_secret *
rg_keystore_secret_passphrase(const char *pass, size_t len, char *err,
                              size_t errlen)
{
	rg_keystore_secret *s;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	if (pass == NULL || len == 0 || len > RG_KEYSTORE_PASSMAX) {
		rg_ks_err(err, errlen, "a passphrase is 1 to %d bytes",
		          RG_KEYSTORE_PASSMAX);
		return NULL;
	}
	if ((s = rg_ks_secret_new(RG_KEYSTORE_KDF_PASSPHRASE, len)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(s->bytes, pass, len);
	return s;
}

/*
 * One line from fd into a new secret, a byte at a time so that nothing
 * after the newline is consumed. The line never leaves guarded memory.
 */
static rg_keystore_secret *
rg_ks_read_line(int fd, char *err, size_t errlen)
{
	rg_keystore_secret *s;
	size_t len = 0;

	if ((s = rg_ks_secret_new(RG_KEYSTORE_KDF_PASSPHRASE,
	                          RG_KEYSTORE_PASSMAX + 1)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return NULL;
	}
	for (;;) {
		uint8_t c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rg_ks_err(err, errlen, "reading the passphrase: %s",
			          strerror(errno));
			goto fail;
		}
		if (n == 0 || c == '\n')
			break;
		if (len == RG_KEYSTORE_PASSMAX) {
			rg_ks_err(err, errlen, "passphrase longer than %d bytes",
			          RG_KEYSTORE_PASSMAX);
			goto fail;
		}
		s->bytes[len++] = c;
	}
	if (len == 0) {
		rg_ks_err(err, errlen, "empty passphrase");
		goto fail;
	}
	s->len = len;
	return s;
fail:
	rg_keystore_secret_free(s);
	return NULL;
}

rg_keystore_secret *
rg_keystore_secret_passphrase_fd(int fd, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	if (fd < 0) {
		rg_ks_err(err, errlen, "bad passphrase file descriptor");
		return NULL;
	}
	return rg_ks_read_line(fd, err, errlen);
}

/*
 * Prompt on the terminal with echo off; the terminal is restored before
 * returning, whatever happened. Signals that would stop or end the process
 * are held meanwhile (and delivered after) so that an interrupt never
 * leaves the terminal without echo.
 */
static rg_keystore_secret *
rg_ks_tty_line(int tty, const char *prompt, char *err, size_t errlen)
{
	struct termios old, quiet;
	sigset_t hold, saved;
	rg_keystore_secret *s;

	if (tcgetattr(tty, &old) != 0) {
		rg_ks_err(err, errlen, "/dev/tty: %s", strerror(errno));
		return NULL;
	}
	sigemptyset(&hold);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGQUIT);
	sigaddset(&hold, SIGTSTP);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &hold, &saved) != 0) {
		rg_ks_err(err, errlen, "sigprocmask: %s", strerror(errno));
		return NULL;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(tty, TCSAFLUSH, &quiet) != 0) {
		rg_ks_err(err, errlen, "/dev/tty: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &saved, NULL);
		return NULL;
	}
	if (rg_ks_write_all(tty, (const uint8_t *)prompt, strlen(prompt)) != 0) {
		rg_ks_err(err, errlen, "/dev/tty: %s", strerror(errno));
		s = NULL;
	} else {
		s = rg_ks_read_line(tty, err, errlen);
	}
	if (tcsetattr(tty, TCSAFLUSH, &old) != 0) {
		rg_keystore_secret_free(s);
		s = NULL;
		rg_ks_err(err, errlen, "/dev/tty: cannot restore echo");
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return s;
}

rg_keystore_secret *
rg_keystore_secret_passphrase_tty(const char *prompt, int confirm, char *err,
                                  size_t errlen)
{
	rg_keystore_secret *s = NULL, *again = NULL;
	int tty;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	if ((tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		rg_ks_err(err, errlen, "no terminal to ask for the passphrase "
		          "(use --passphrase-fd N): %s", strerror(errno));
		return NULL;
	}
	s = rg_ks_tty_line(tty, prompt, err, errlen);
	if (s != NULL && confirm) {
		again = rg_ks_tty_line(tty, "Again: ", err, errlen);
		if (again == NULL || again->len != s->len ||
		    sodium_memcmp(again->bytes, s->bytes, s->len) != 0) {
			if (again != NULL)
				rg_ks_err(err, errlen, "the passphrases differ");
			rg_keystore_secret_free(s);
			s = NULL;
		}
		rg_keystore_secret_free(again);
	}
	close(tty);
	return s;
}

/*
 * The 32-byte master behind a secret for a file's kdf parameters, in new
 * guarded memory, or NULL with err set.
 */
static uint8_t *
rg_ks_derive_master(const rg_keystore_secret *s, int kdf,
                    unsigned long long ops, size_t mem, const uint8_t *salt,
                    char *err, size_t errlen)
{
	uint8_t *master;

	if (s->kind != kdf) {
		rg_ks_err(err, errlen, "it is protected by a %s, not a %s",
		          kdf == RG_KEYSTORE_KDF_PASSPHRASE ? "passphrase" :
		                                              "master key file",
		          s->kind == RG_KEYSTORE_KDF_PASSPHRASE ? "passphrase" :
		                                                  "master key file");
		return NULL;
	}
	if ((master = sodium_malloc(RG_KEYSTORE_MASTERLEN)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return NULL;
	}
	if (kdf == RG_KEYSTORE_KDF_KEYFILE) {
		memcpy(master, s->bytes, RG_KEYSTORE_MASTERLEN);
		return master;
	}
	if (s->derived) {
		/* Derived for one salt and cost: any other file was sealed
		 * by someone else since (another passphrase change). */
		if (s->ops != ops || s->mem != mem ||
		    sodium_memcmp(s->salt, salt, RG_KS_SALTLEN) != 0) {
			rg_ks_err(err, errlen, "wrong passphrase or damaged file "
			          "(the kept key was derived for another salt)");
			sodium_free(master);
			return NULL;
		}
		memcpy(master, s->bytes, RG_KEYSTORE_MASTERLEN);
		return master;
	}
	if (crypto_pwhash(master, RG_KEYSTORE_MASTERLEN, (const char *)s->bytes,
	                  s->len, salt, ops, mem,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		rg_ks_err(err, errlen, "Argon2id failed (out of memory?)");
		sodium_free(master);
		return NULL;
	}
	return master;
}

/* ---- inner blob ---- */

static void
rg_ks_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
rg_ks_put64(uint8_t *p, uint64_t v)
{
	rg_ks_put32(p, (uint32_t)(v >> 32));
	rg_ks_put32(p + 4, (uint32_t)v);
}

static uint32_t
rg_ks_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
rg_ks_get64(const uint8_t *p)
{
	return (uint64_t)rg_ks_get32(p) << 32 | rg_ks_get32(p + 4);
}

static size_t
rg_ks_item2_size(size_t namelen, size_t keylen)
{
	return RG_KS_ITEM2_FIXED + namelen + keylen;
}

/* Append a format-2 item and return where its keylen key bytes go (filled
 * by the caller). */
static uint8_t *
rg_ks_put_item(uint8_t *blob, size_t *pos, const struct rg_ks_item *it)
{
	uint8_t *p = blob + *pos;

	p[0] = it->type;
	p[1] = (uint8_t)(it->namelen >> 8);
	p[2] = (uint8_t)it->namelen;
	if (it->namelen > 0)
		memcpy(p + 3, it->name, it->namelen);
	p += 3 + it->namelen;
	rg_ks_put32(p, it->version);
	p[4] = it->status;
	rg_ks_put64(p + 5, it->created);
	rg_ks_put64(p + 13, it->not_after);
	rg_ks_put64(p + 21, it->last_used);
	rg_ks_put32(p + 29, it->kek_version);
	p[33] = (uint8_t)(it->keylen >> 8);
	p[34] = (uint8_t)it->keylen;
	*pos += rg_ks_item2_size(it->namelen, it->keylen);
	return p + 35;
}

/*
 * Parse the item at *pos. 1 with it filled, 0 at the clean end, -1 when
 * the bytes do not form a valid item: every length is checked against what
 * is left before it is used, and every field against what it may hold.
 */
static int
rg_ks_next_item(int format, const uint8_t *blob, size_t len, size_t *pos,
                struct rg_ks_item *it)
{
	size_t left = len - *pos;
	const uint8_t *p = blob + *pos;
	size_t fixed = format == RG_KS_FORMAT1 ? 6 : 35;

	if (*pos == len)
		return 0;
	if (left < 3)
		return -1;
	memset(it, 0, sizeof(*it));
	it->type = p[0];
	it->namelen = (size_t)p[1] << 8 | p[2];
	p += 3;
	left -= 3;
	if (it->namelen > left)
		return -1;
	it->name = (const char *)p;
	p += it->namelen;
	left -= it->namelen;
	if (left < fixed)
		return -1;
	it->version = rg_ks_get32(p);
	if (format == RG_KS_FORMAT1) {
		it->status = RG_KEYSTORE_ACTIVE;
		p += 4;
	} else {
		it->status = p[4];
		it->created = rg_ks_get64(p + 5);
		it->not_after = rg_ks_get64(p + 13);
		it->last_used = rg_ks_get64(p + 21);
		it->kek_version = rg_ks_get32(p + 29);
		p += 33;
	}
	it->keylen = (size_t)p[0] << 8 | p[1];
	p += 2;
	left -= fixed;
	if (it->keylen > left)
		return -1;
	it->key = p;
	*pos = len - (left - it->keylen);

	if (it->version == 0 || it->status < RG_KEYSTORE_ACTIVE ||
	    it->status > RG_KEYSTORE_DESTROYED)
		return -1;
	/* A destroyed key keeps its description and loses its bytes. */
	if ((it->status == RG_KEYSTORE_DESTROYED) != (it->keylen == 0))
		return -1;
	if (format == RG_KS_FORMAT1) {
		if (it->keylen != RG_KEYSTORE_KEYLEN ||
		    it->type == RG_KS_ITEM_KEK)
			return -1;
	} else if (it->keylen != 0 &&
	           it->keylen != (it->type == RG_KS_ITEM_DATAKEY ?
	                          RG_KS_WRAPLEN : RG_KEYSTORE_KEYLEN)) {
		return -1;
	}
	/* Only format-2 data keys name the KEK that wraps them. */
	if ((it->kek_version != 0) !=
	    (format == RG_KS_FORMAT2 && it->type == RG_KS_ITEM_DATAKEY &&
	     it->keylen != 0))
		return -1;
	switch (it->type) {
	case RG_KS_ITEM_SEED:
		return rg_ks_origin_ok(it->name, it->namelen) ? 1 : -1;
	case RG_KS_ITEM_DBKEY:
		/* A database key rotated out (rg_keystore_rotate_db) is kept
		 * destroyed: its description stays, its bytes go. */
		return it->namelen == 0 ? 1 : -1;
	case RG_KS_ITEM_DATAKEY:
		return rg_ks_name_ok(it->name, it->namelen) ? 1 : -1;
	case RG_KS_ITEM_KEK:
		return it->namelen == 0 ? 1 : -1;
	default:
		return -1;
	}
}

/* The associated data binding a wrapped data key to its place: moving it
 * to another resource, version or KEK makes it fail to unwrap. */
static size_t
rg_ks_wrap_ad(uint8_t ad[sizeof(rg_ks_wrap_context) + 2 + RG_KS_NAMEMAX + 8],
              const char *name, size_t namelen, uint32_t version,
              uint32_t kek_version)
{
	size_t n = sizeof(rg_ks_wrap_context) - 1;

	memcpy(ad, rg_ks_wrap_context, n);
	ad[n] = (uint8_t)(namelen >> 8);
	ad[n + 1] = (uint8_t)namelen;
	memcpy(ad + n + 2, name, namelen);
	n += 2 + namelen;
	rg_ks_put32(ad + n, version);
	rg_ks_put32(ad + n + 4, kek_version);
	return n + 8;
}

static int
rg_ks_wrap(const uint8_t *kek, const struct rg_ks_item *it, const uint8_t *dk,
           uint8_t out[RG_KS_WRAPLEN])
{
	uint8_t ad[sizeof(rg_ks_wrap_context) + 2 + RG_KS_NAMEMAX + 8];
	size_t adlen = rg_ks_wrap_ad(ad, it->name, it->namelen, it->version,
	                             it->kek_version);
	unsigned long long clen = 0;

	randombytes_buf(out, RG_KS_NONCELEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
	        out + RG_KS_NONCELEN, &clen, dk, RG_KEYSTORE_KEYLEN, ad, adlen,
	        NULL, out, kek) != 0 ||
	    clen != RG_KEYSTORE_KEYLEN + RG_KS_TAGLEN)
		return -1;
	return 0;
}

static int
rg_ks_unwrap(const uint8_t *kek, const struct rg_ks_item *it,
             uint8_t dk[RG_KEYSTORE_KEYLEN])
{
	uint8_t ad[sizeof(rg_ks_wrap_context) + 2 + RG_KS_NAMEMAX + 8];
	size_t adlen = rg_ks_wrap_ad(ad, it->name, it->namelen, it->version,
	                             it->kek_version);
	unsigned long long plen = 0;

	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        dk, &plen, NULL, it->key + RG_KS_NONCELEN,
	        RG_KEYSTORE_KEYLEN + RG_KS_TAGLEN, ad, adlen, it->key,
	        kek) != 0 ||
	    plen != RG_KEYSTORE_KEYLEN)
		return -1;
	return 0;
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

static int
rg_ks_same_name(const struct rg_ks_item *a, const struct rg_ks_item *b)
{
	return a->namelen == b->namelen &&
	       memcmp(a->name, b->name, a->namelen) == 0;
}

/* The key of KEK version v (not destroyed) in the blob, or NULL. */
static const uint8_t *
rg_ks_find_kek(int format, const uint8_t *blob, size_t len, uint32_t v)
{
	struct rg_ks_item it;
	size_t pos = 0;

	while (rg_ks_next_item(format, blob, len, &pos, &it) == 1)
		if (it.type == RG_KS_ITEM_KEK && it.version == v &&
		    it.keylen != 0)
			return it.key;
	return NULL;
}

/*
 * Check the blob as a whole: the shape of every item, and that it is one
 * keystore (one database key, one active signing key of one origin, no two
 * items of the same kind, name and version, every wrapped data key's KEK
 * present). Counts items in *nitems and live data keys in *ndata.
 */
static int
rg_ks_check(int format, const uint8_t *blob, size_t len, size_t *nitems,
            size_t *ndata, const char **what)
{
	struct rg_ks_item it, other;
	size_t pos = 0, n = 0, nseed = 0, nactive = 0, ndb = 0, nkek = 0;
	size_t ndbold = 0;
	const struct rg_ks_item *origin = NULL;
	struct rg_ks_item first = {0};
	int rc;

	*ndata = 0;
	while ((rc = rg_ks_next_item(format, blob, len, &pos, &it)) == 1) {
		size_t pos2 = 0, before = pos;

		if (++n > RG_KS_MAXITEMS) {
			*what = "too many items";
			return -1;
		}
		/* Quadratic, but bounded by RG_KS_MAXITEMS and run once. */
		while (rg_ks_next_item(format, blob, len, &pos2, &other) == 1 &&
		       pos2 < before) {
			if (other.type == it.type && other.version == it.version &&
			    rg_ks_same_name(&other, &it)) {
				*what = it.type == RG_KS_ITEM_DATAKEY ?
				        "duplicate data key" : "duplicate key version";
				return -1;
			}
		}
		switch (it.type) {
		case RG_KS_ITEM_SEED:
			if (origin != NULL && !rg_ks_same_name(origin, &it)) {
				*what = "signing keys of two origins";
				return -1;
			}
			first = it;
			origin = &first;
			nseed++;
			nactive += it.status == RG_KEYSTORE_ACTIVE;
			break;
		case RG_KS_ITEM_DBKEY:
			/* One active database key. While an online rekey is
			 * unfinished the previous one is kept too (retiring),
			 * in a key slot of its own. */
			if (it.status == RG_KEYSTORE_ACTIVE) {
				ndb++;
			} else if (it.keylen != 0) {
				ndbold++;
				(*ndata)++;
			}
			break;
		case RG_KS_ITEM_KEK:
			nkek += it.status == RG_KEYSTORE_ACTIVE;
			break;
		default:
			if (it.keylen == 0)
				break;
			(*ndata)++;
			if (format == RG_KS_FORMAT2 &&
			    rg_ks_find_kek(format, blob, len, it.kek_version) ==
			        NULL) {
				*what = "data key wrapped by a missing KEK";
				return -1;
			}
			break;
		}
	}
	if (rc != 0) {
		*what = "malformed item";
		return -1;
	}
	if (nseed == 0 || nactive != 1 || ndb != 1 || ndbold > 1) {
		*what = "needs exactly one active signing key and one database key";
		return -1;
	}
	if (nkek > 1) {
		*what = "more than one active KEK";
		return -1;
	}
	*nitems = n;
	return 0;
}

/* Build ks from a verified plaintext blob; what: a reason on failure. */
static int
rg_ks_load(rg_keystore *ks, int format, const uint8_t *blob, size_t len,
           const char **what)
{
	struct rg_ks_item it;
	size_t nitems = 0, ndata = 0, pos = 0, d = 0;
	const uint8_t *kek;

	if (rg_ks_check(format, blob, len, &nitems, &ndata, what) != 0)
		return -1;
	ks->format = format;
	ks->items = calloc(nitems, sizeof(*ks->items));
	ks->keys = sodium_malloc((1 + ndata) * RG_KEYSTORE_KEYLEN);
	if (ks->items == NULL || ks->keys == NULL) {
		*what = "out of memory";
		return -1;
	}
	while (rg_ks_next_item(format, blob, len, &pos, &it) == 1) {
		struct rg_ks_meta *m = &ks->items[ks->nitems++];

		m->purpose = it.type;
		m->status = it.status;
		m->version = it.version;
		m->kek_version = it.kek_version;
		m->created = it.created;
		m->not_after = it.not_after;
		m->last_used = it.last_used;
		switch (it.type) {
		case RG_KS_ITEM_SEED:
			if (ks->origin == NULL &&
			    (ks->origin = rg_ks_strndup(it.name, it.namelen)) ==
			        NULL) {
				*what = "out of memory";
				return -1;
			}
			if (it.keylen == 0)
				break;
			if ((m->sig = rg_sigkey_from_seed(it.key)) == NULL) {
				*what = "cannot load a signing key";
				return -1;
			}
			if (it.status == RG_KEYSTORE_ACTIVE)
				ks->active = m->sig;
			break;
		case RG_KS_ITEM_DBKEY:
			/* Slot 0 is the active database key; a previous one
			 * kept during a rekey gets a slot after it. */
			if (it.keylen == 0)
				break;
			if (it.status == RG_KEYSTORE_ACTIVE) {
				memcpy(ks->keys, it.key, RG_KEYSTORE_KEYLEN);
				break;
			}
			m->slot = 1 + d++;
			memcpy(ks->keys + m->slot * RG_KEYSTORE_KEYLEN, it.key,
			       RG_KEYSTORE_KEYLEN);
			break;
		case RG_KS_ITEM_KEK:
			/* Used below to unwrap, then wiped with the blob. */
			break;
		default:
			if ((m->resource = rg_ks_strndup(it.name, it.namelen)) ==
			    NULL) {
				*what = "out of memory";
				return -1;
			}
			if (it.keylen == 0)
				break;
			m->slot = 1 + d++;
			if (format == RG_KS_FORMAT1) {
				memcpy(ks->keys + m->slot * RG_KEYSTORE_KEYLEN,
				       it.key, RG_KEYSTORE_KEYLEN);
				break;
			}
			kek = rg_ks_find_kek(format, blob, len, it.kek_version);
			if (kek == NULL ||
			    rg_ks_unwrap(kek, &it, ks->keys +
			                 m->slot * RG_KEYSTORE_KEYLEN) != 0) {
				*what = "a data key does not unwrap with its KEK";
				return -1;
			}
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

/* ---- writing ---- */

void
rg_keystore_test_fault(int point)
{
	rg_ks_fault_point = point;
}

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

/*
 * Write buf as path through path.tmp: write, fsync, rename, fsync the
 * directory, so that a crash at any point leaves the old file or the new
 * one whole. replace: 0 to create (refusing an existing path), 1 to
 * replace. The test seam stops at the chosen point as a crash would:
 * without cleaning up.
 */
static int
rg_ks_write_file(const char *path, const uint8_t *buf, size_t len, int replace,
                 char *err, size_t errlen)
{
	int fault = rg_ks_fault_point;
	char tmp[PATH_MAX];
	struct stat sb;
	int fd, saved;

	rg_ks_fault_point = RG_KEYSTORE_FAULT_NONE;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		rg_ks_err(err, errlen, "keystore path too long");
		return -1;
	}
	/* A temporary file left by a crashed rewrite is garbage. */
	if (replace && unlink(tmp) != 0 && errno != ENOENT) {
		rg_ks_err(err, errlen, "keystore %s: %s", tmp, strerror(errno));
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rg_ks_err(err, errlen, "keystore %s: %s", tmp, strerror(errno));
		return -1;
	}
	/* Rewritten by root for a gateway that runs as its own user: the new
	 * file keeps the old one's owner. */
	if (replace && stat(path, &sb) == 0 &&
	    (sb.st_uid != geteuid() || sb.st_gid != getegid()) &&
	    fchown(fd, sb.st_uid, sb.st_gid) != 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		rg_ks_err(err, errlen, "keystore %s: keeping its owner: %s", path,
		          strerror(saved));
		return -1;
	}
	if (fault == RG_KEYSTORE_FAULT_PARTIAL_TEMP) {
		(void)rg_ks_write_all(fd, buf, len / 2);
		close(fd);
		rg_ks_err(err, errlen, "keystore %s: injected fault", path);
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
	if (close(fd) != 0) {
		saved = errno;
		unlink(tmp);
		rg_ks_err(err, errlen, "keystore %s: %s", tmp, strerror(saved));
		return -1;
	}
	if (fault == RG_KEYSTORE_FAULT_BEFORE_RENAME) {
		rg_ks_err(err, errlen, "keystore %s: injected fault", path);
		return -1;
	}
	if ((replace ? rename(tmp, path) : rg_ks_publish(tmp, path)) != 0) {
		saved = errno;
		unlink(tmp);
		rg_ks_err(err, errlen, "keystore %s: %s", path, strerror(saved));
		return -1;
	}
	if (fault == RG_KEYSTORE_FAULT_AFTER_RENAME) {
		rg_ks_err(err, errlen, "keystore %s: injected fault", path);
		return -1;
	}
	if (rg_ks_sync_dir(path) != 0) {
		rg_ks_err(err, errlen, "keystore %s: syncing its directory: %s",
		          path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Seal a format-2 blob under s and write it to path. */
static int
rg_ks_seal_write(const char *path, const rg_keystore_secret *s,
                 const uint8_t *blob, size_t len, int replace, char *err,
                 size_t errlen)
{
	size_t hdrlen = s->kind == RG_KEYSTORE_KDF_PASSPHRASE ? RG_KS_HDRLEN_PW :
	                                                        RG_KS_HDRLEN;
	size_t outlen = hdrlen + RG_KS_NONCELEN + len + RG_KS_TAGLEN;
	uint8_t *out, *master = NULL, *kek = NULL;
	unsigned long long clen = 0;
	int ret = -1;

	if ((out = malloc(outlen)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return -1;
	}
	memcpy(out, RG_KS_MAGIC, 4);
	out[4] = RG_KS_FORMAT2;
	out[5] = (uint8_t)s->kind;
	if (s->kind == RG_KEYSTORE_KDF_PASSPHRASE) {
		rg_ks_put64(out + 6, s->ops);
		rg_ks_put64(out + 14, s->mem);
		if (s->derived)
			memcpy(out + 22, s->salt, RG_KS_SALTLEN);
		else
			randombytes_buf(out + 22, RG_KS_SALTLEN);
	}
	if ((master = rg_ks_derive_master(s, s->kind, s->ops, s->mem, out + 22,
	                                  err, errlen)) == NULL)
		goto out;
	if ((kek = rg_ks_kek(master)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto out;
	}
	randombytes_buf(out + hdrlen, RG_KS_NONCELEN);
	/* The header is authenticated: a file relabelled with another
	 * format, kdf or cost does not open. */
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
	        out + hdrlen + RG_KS_NONCELEN, &clen, blob, len, out, hdrlen,
	        NULL, out + hdrlen, kek) != 0 ||
	    clen != len + RG_KS_TAGLEN) {
		rg_ks_err(err, errlen, "keystore: sealing failed");
		goto out;
	}
	ret = rg_ks_write_file(path, out, outlen, replace, err, errlen);
out:
	if (kek != NULL)
		sodium_free(kek);
	if (master != NULL)
		sodium_free(master);
	free(out);
	return ret;
}

/* ---- create ---- */

int
rg_keystore_create(const char *path, const uint8_t master[RG_KEYSTORE_MASTERLEN],
                   const char *origin, const char *const *resources, size_t n,
                   char *err, size_t errlen)
{
	rg_keystore_secret *s;
	int ret;

	if (master == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return -1;
	}
	if ((s = rg_keystore_secret_master(master)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return -1;
	}
	ret = rg_keystore_create_secret(path, s, origin, resources, n, err,
	                                errlen);
	rg_keystore_secret_free(s);
	return ret;
}

int
rg_keystore_create_secret(const char *path, const rg_keystore_secret *secret,
                          const char *origin, const char *const *resources,
                          size_t n, char *err, size_t errlen)
{
	rg_sigkey *sig = NULL;
	uint8_t *blob = NULL, *dk = NULL, *slot, *kek;
	struct rg_ks_item it = {0};
	struct stat sb;
	size_t size, pos = 0;
	uint64_t now = (uint64_t)time(NULL);
	int ret = -1;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	if (path == NULL || secret == NULL || origin == NULL ||
	    (resources == NULL && n > 0)) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return -1;
	}
	if (!rg_ks_origin_ok(origin, strlen(origin))) {
		rg_ks_err(err, errlen, "keystore: origin must be 1-%d printable "
		          "characters without spaces or '+'", RG_KS_NAMEMAX);
		return -1;
	}
	if (n > RG_KS_MAXITEMS - 3) {
		rg_ks_err(err, errlen, "keystore: too many resources");
		return -1;
	}
	size = rg_ks_item2_size(strlen(origin), RG_KEYSTORE_KEYLEN) +
	       2 * rg_ks_item2_size(0, RG_KEYSTORE_KEYLEN);
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
		size += rg_ks_item2_size(strlen(resources[i]), RG_KS_WRAPLEN);
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

	if ((sig = rg_sigkey_generate()) == NULL ||
	    (blob = sodium_malloc(size)) == NULL ||
	    (dk = sodium_malloc(RG_KEYSTORE_KEYLEN)) == NULL) {
		rg_ks_err(err, errlen, "keystore: out of memory");
		goto out;
	}
	/* Keys are generated straight into the guarded blob. */
	it.status = RG_KEYSTORE_ACTIVE;
	it.version = 1;
	it.created = now;
	it.keylen = RG_KEYSTORE_KEYLEN;
	it.type = RG_KS_ITEM_SEED;
	it.name = origin;
	it.namelen = strlen(origin);
	slot = rg_ks_put_item(blob, &pos, &it);
	rg_sigkey_seed(sig, slot);
	if (sodium_is_zero(slot, RG_KEYSTORE_KEYLEN)) {
		rg_ks_err(err, errlen, "keystore: cannot export the signing key");
		goto out;
	}
	it.type = RG_KS_ITEM_DBKEY;
	it.name = NULL;
	it.namelen = 0;
	randombytes_buf(rg_ks_put_item(blob, &pos, &it), RG_KEYSTORE_KEYLEN);
	it.type = RG_KS_ITEM_KEK;
	kek = rg_ks_put_item(blob, &pos, &it);
	randombytes_buf(kek, RG_KEYSTORE_KEYLEN);
	it.type = RG_KS_ITEM_DATAKEY;
	it.keylen = RG_KS_WRAPLEN;
	it.kek_version = 1;
	for (size_t i = 0; i < n; i++) {
		it.name = resources[i];
		it.namelen = strlen(resources[i]);
		slot = rg_ks_put_item(blob, &pos, &it);
		randombytes_buf(dk, RG_KEYSTORE_KEYLEN);
		if (rg_ks_wrap(kek, &it, dk, slot) != 0) {
			rg_ks_err(err, errlen, "keystore: wrapping failed");
			goto out;
		}
	}
	if (pos != size)
		abort();  /* the size computation above is wrong */
	if (rg_ks_seal_write(path, secret, blob, size, 0, err, errlen) != 0)
		goto out;
	ret = 0;
out:
	if (dk != NULL)
		sodium_free(dk);
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
	for (size_t i = 0; i < ks->nitems; i++) {
		rg_sigkey_free(ks->items[i].sig);
		free(ks->items[i].resource);
	}
	/* sodium_free lifts the read-only protection and wipes. */
	if (ks->keys != NULL)
		sodium_free(ks->keys);
	free(ks->items);
	free(ks->origin);
	free(ks);
}

/* The whole file, at most RG_KS_MAXFILE bytes, in malloc'd memory (it is
 * ciphertext). */
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

/* Check the clear header; its length, or 0 with err set. */
static size_t
rg_ks_header(const char *path, const uint8_t *file, size_t len, int *format,
             int *kdf, char *err, size_t errlen)
{
	size_t hdrlen = RG_KS_HDRLEN;

	if (memcmp(file, RG_KS_MAGIC, 4) != 0) {
		rg_ks_err(err, errlen, "keystore %s: not a recgate keystore", path);
		return 0;
	}
	*format = file[4];
	*kdf = file[5];
	if (*format == RG_KS_FORMAT1 && *kdf == RG_KEYSTORE_KDF_KEYFILE)
		return hdrlen;
	if (*format != RG_KS_FORMAT2 || (*kdf != RG_KEYSTORE_KDF_KEYFILE &&
	                                 *kdf != RG_KEYSTORE_KDF_PASSPHRASE)) {
		rg_ks_err(err, errlen, "keystore %s: unsupported format %u or "
		          "kdf %u", path, file[4], file[5]);
		return 0;
	}
	if (*kdf == RG_KEYSTORE_KDF_PASSPHRASE) {
		uint64_t ops, mem;

		hdrlen = RG_KS_HDRLEN_PW;
		if (len < hdrlen + RG_KS_NONCELEN + RG_KS_TAGLEN) {
			rg_ks_err(err, errlen, "keystore %s: truncated", path);
			return 0;
		}
		ops = rg_ks_get64(file + 6);
		mem = rg_ks_get64(file + 14);
		if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > RG_KS_PW_MAXOPS ||
		    mem < crypto_pwhash_MEMLIMIT_MIN || mem > RG_KS_PW_MAXMEM) {
			rg_ks_err(err, errlen, "keystore %s: passphrase cost out "
			          "of range", path);
			return 0;
		}
	}
	return hdrlen;
}

int
rg_keystore_file_kdf(const char *path, char *err, size_t errlen)
{
	uint8_t *file;
	size_t len = 0;
	int format = 0, kdf = -1;

	if ((file = rg_ks_read_file(path, &len, err, errlen)) == NULL)
		return -1;
	if (rg_ks_header(path, file, len, &format, &kdf, err, errlen) == 0)
		kdf = -1;
	free(file);
	return kdf;
}

/*
 * Read and unseal the file: the plaintext inner blob in new guarded memory
 * (*plen bytes), or NULL with err set. Nothing of the secret survives.
 */
static uint8_t *
rg_ks_unseal(const char *path, const rg_keystore_secret *s, int *format,
             int *kdf, size_t *plen, char *err, size_t errlen)
{
	uint8_t *file = NULL, *master = NULL, *kek = NULL, *blob = NULL;
	unsigned long long got = 0;
	size_t len = 0, hdrlen, clen;
	char why[160];

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	if (path == NULL || s == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return NULL;
	}
	if ((file = rg_ks_read_file(path, &len, err, errlen)) == NULL)
		return NULL;
	if ((hdrlen = rg_ks_header(path, file, len, format, kdf, err,
	                           errlen)) == 0)
		goto fail;
	if ((master = rg_ks_derive_master(s, *kdf, rg_ks_get64(file + 6),
	                                  (size_t)rg_ks_get64(file + 14),
	                                  file + 22, why, sizeof(why))) == NULL) {
		rg_ks_err(err, errlen, "keystore %s: %s", path, why);
		goto fail;
	}
	clen = len - hdrlen - RG_KS_NONCELEN;
	if ((kek = rg_ks_kek(master)) == NULL ||
	    (blob = sodium_malloc(clen - RG_KS_TAGLEN + 1)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto fail;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        blob, &got, NULL, file + hdrlen + RG_KS_NONCELEN, clen, file,
	        hdrlen, file + hdrlen, kek) != 0 ||
	    got != clen - RG_KS_TAGLEN) {
		rg_ks_err(err, errlen, "keystore %s: wrong %s or damaged file",
		          path, *kdf == RG_KEYSTORE_KDF_PASSPHRASE ?
		          "passphrase" : "master secret");
		goto fail;
	}
	sodium_free(kek);
	sodium_free(master);
	free(file);
	*plen = (size_t)got;
	return blob;
fail:
	if (blob != NULL)
		sodium_free(blob);
	if (kek != NULL)
		sodium_free(kek);
	if (master != NULL)
		sodium_free(master);
	free(file);
	return NULL;
}

rg_keystore *
rg_keystore_open_secret(const char *path, const rg_keystore_secret *secret,
                        char *err, size_t errlen)
{
	rg_keystore *ks;
	uint8_t *blob;
	size_t len = 0;
	int format = 0, kdf = 0;
	const char *what = NULL;

	if ((blob = rg_ks_unseal(path, secret, &format, &kdf, &len, err,
	                         errlen)) == NULL)
		return NULL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		sodium_free(blob);
		return NULL;
	}
	ks->kdf = kdf;
	if (rg_ks_load(ks, format, blob, len, &what) != 0) {
		/* Authentic but not understood: written by something else. */
		rg_ks_err(err, errlen, "keystore %s: bad contents (%s)", path, what);
		rg_keystore_free(ks);
		ks = NULL;
	}
	/* The KEKs were only in the blob: wiped here. */
	sodium_free(blob);
	return ks;
}

rg_keystore *
rg_keystore_open(const char *path, const uint8_t master[RG_KEYSTORE_MASTERLEN],
                 char *err, size_t errlen)
{
	rg_keystore_secret *s;
	rg_keystore *ks;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	if (path == NULL || master == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return NULL;
	}
	if ((s = rg_keystore_secret_master(master)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return NULL;
	}
	ks = rg_keystore_open_secret(path, s, err, errlen);
	rg_keystore_secret_free(s);
	return ks;
}

/* ---- rewrite ---- */

/* An exclusive lock on the keystore's directory, held while the returned
 * descriptor is open; -1 with err set when someone else holds it. */
static int
rg_ks_lock_dir(const char *path, char *err, size_t errlen)
{
	char copy[PATH_MAX];
	int fd;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
		rg_ks_err(err, errlen, "keystore path too long");
		return -1;
	}
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rg_ks_err(err, errlen, "keystore %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rg_ks_err(err, errlen, "keystore %s: %s", path,
		          errno == EWOULDBLOCK ? "another rewrite is in progress" :
		                                 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A format-1 blob as format 2, keys unchanged: a new KEK version 1 wraps
 * the data keys. Creation times are unknown (0). New guarded memory.
 */
static uint8_t *
rg_ks_upgrade(const uint8_t *blob, size_t len, size_t *outlen)
{
	struct rg_ks_item it, kit = {0};
	size_t pos = 0, size = rg_ks_item2_size(0, RG_KEYSTORE_KEYLEN), o = 0;
	uint8_t *out, *kek, *slot;

	while (rg_ks_next_item(RG_KS_FORMAT1, blob, len, &pos, &it) == 1)
		size += rg_ks_item2_size(it.namelen,
		                         it.type == RG_KS_ITEM_DATAKEY ?
		                         RG_KS_WRAPLEN : RG_KEYSTORE_KEYLEN);
	if ((out = sodium_malloc(size)) == NULL)
		return NULL;
	kit.type = RG_KS_ITEM_KEK;
	kit.version = 1;
	kit.status = RG_KEYSTORE_ACTIVE;
	kit.created = (uint64_t)time(NULL);
	kit.keylen = RG_KEYSTORE_KEYLEN;
	kek = rg_ks_put_item(out, &o, &kit);
	randombytes_buf(kek, RG_KEYSTORE_KEYLEN);
	pos = 0;
	while (rg_ks_next_item(RG_KS_FORMAT1, blob, len, &pos, &it) == 1) {
		const uint8_t *key = it.key;

		if (it.type == RG_KS_ITEM_DATAKEY) {
			it.kek_version = 1;
			it.keylen = RG_KS_WRAPLEN;
			slot = rg_ks_put_item(out, &o, &it);
			if (rg_ks_wrap(kek, &it, key, slot) != 0) {
				sodium_free(out);
				return NULL;
			}
		} else {
			memcpy(rg_ks_put_item(out, &o, &it), key, it.keylen);
		}
	}
	if (o != size)
		abort();  /* the size computation above is wrong */
	*outlen = size;
	return out;
}

int
rg_keystore_rewrite(const char *path, const rg_keystore_secret *old_secret,
                    const rg_keystore_secret *new_secret, char *err,
                    size_t errlen)
{
	rg_keystore *check;
	uint8_t *blob, *up = NULL;
	size_t len = 0, uplen = 0;
	int format = 0, kdf = 0, ret = -1, lockfd;
	const char *what = NULL;

	if (new_secret == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return -1;
	}
	/* One rewrite at a time: two would each start from the old file and
	 * the second rename would silently drop the first's change. */
	if ((lockfd = rg_ks_lock_dir(path, err, errlen)) < 0)
		return -1;
	if ((blob = rg_ks_unseal(path, old_secret, &format, &kdf, &len, err,
	                         errlen)) == NULL) {
		close(lockfd);
		return -1;
	}
	/* Never write out what would not open again: every data key must
	 * unwrap before the file is resealed. */
	if ((check = calloc(1, sizeof(*check))) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto out;
	}
	if (rg_ks_load(check, format, blob, len, &what) != 0) {
		rg_ks_err(err, errlen, "keystore %s: bad contents (%s)", path, what);
		goto out;
	}
	if (format == RG_KS_FORMAT1 &&
	    (up = rg_ks_upgrade(blob, len, &uplen)) == NULL) {
		rg_ks_err(err, errlen, "keystore %s: cannot upgrade", path);
		goto out;
	}
	ret = rg_ks_seal_write(path, new_secret, up != NULL ? up : blob,
	                       up != NULL ? uplen : len, 1, err, errlen);
out:
	rg_keystore_free(check);
	if (up != NULL)
		sodium_free(up);
	sodium_free(blob);
	close(lockfd);  /* releases the lock */
	return ret;
}

/* ---- accessors ---- */

int
rg_keystore_format(const rg_keystore *ks)
{
	return ks->format;
}

int
rg_keystore_kdf(const rg_keystore *ks)
{
	return ks->kdf;
}

const rg_sigkey *
rg_keystore_signing_key(const rg_keystore *ks)
{
	return ks->active;
}

const rg_sigkey *
rg_keystore_signing_key_at(const rg_keystore *ks, uint32_t version)
{
	for (size_t i = 0; i < ks->nitems; i++)
		if (ks->items[i].purpose == RG_KEYSTORE_SIGNING &&
		    ks->items[i].version == version)
			return ks->items[i].sig;
	return NULL;
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

/* Reads accept a data key until it is retired. */
static int
rg_ks_readable(const struct rg_ks_meta *m)
{
	return m->slot != 0 && (m->status == RG_KEYSTORE_ACTIVE ||
	                        m->status == RG_KEYSTORE_RETIRING);
}

/*
 * A resource's data key that is held (not destroyed): the highest active
 * version (oldest 0) or the oldest version of any status (oldest 1). Its
 * bytes and *version, or NULL.
 */
static const uint8_t *
rg_ks_data_pick(const rg_keystore *ks, const char *resource, int oldest,
                uint32_t *version)
{
	const struct rg_ks_meta *best = NULL;

	if (resource == NULL)
		return NULL;
	for (size_t i = 0; i < ks->nitems; i++) {
		const struct rg_ks_meta *m = &ks->items[i];

		if (m->purpose != RG_KEYSTORE_DATA || m->slot == 0 ||
		    strcmp(m->resource, resource) != 0 ||
		    (!oldest && m->status != RG_KEYSTORE_ACTIVE))
			continue;
		if (best == NULL || (oldest ? m->version < best->version
		                            : m->version > best->version))
			best = m;
	}
	if (best == NULL)
		return NULL;
	if (version != NULL)
		*version = best->version;
	return ks->keys + best->slot * RG_KEYSTORE_KEYLEN;
}

const uint8_t *
rg_keystore_data_key(const rg_keystore *ks, const char *resource,
                     uint32_t *version)
{
	return rg_ks_data_pick(ks, resource, 0, version);
}

const uint8_t *
rg_keystore_data_key_at(const rg_keystore *ks, const char *resource,
                        uint32_t version)
{
	if (resource == NULL)
		return NULL;
	for (size_t i = 0; i < ks->nitems; i++) {
		const struct rg_ks_meta *m = &ks->items[i];

		if (m->purpose == RG_KEYSTORE_DATA && m->version == version &&
		    rg_ks_readable(m) && strcmp(m->resource, resource) == 0)
			return ks->keys + m->slot * RG_KEYSTORE_KEYLEN;
	}
	return NULL;
}

size_t
rg_keystore_count(const rg_keystore *ks)
{
	return ks->nitems;
}

int
rg_keystore_info(const rg_keystore *ks, size_t i, struct rg_keystore_info *out)
{
	const struct rg_ks_meta *m;
	static const char *const names[] = {"", "signing", "database", "data",
	                                    "kek"};

	if (i >= ks->nitems)
		return -1;
	m = &ks->items[i];
	memset(out, 0, sizeof(*out));
	out->purpose = m->purpose;
	out->resource = m->resource;
	out->version = m->version;
	out->status = m->status;
	out->created = m->created;
	out->not_after = m->not_after;
	out->last_used = m->last_used;
	out->kek_version = m->kek_version;
	if (m->sig != NULL) {
		rg_sigkey_public(m->sig, out->pub);
		snprintf(out->id, sizeof(out->id), "%08x",
		         rg_sig_note_keyid(ks->origin, out->pub));
	} else if (m->resource != NULL) {
		snprintf(out->id, sizeof(out->id), "data-%s-%u", m->resource,
		         m->version);
	} else {
		snprintf(out->id, sizeof(out->id), "%s-%u", names[m->purpose],
		         m->version);
	}
	return 0;
}

/* ---- online signing-key rotation ---- */

int
rg_keystore_secret_protect(rg_keystore_secret *s, int access)
{
	if (s == NULL)
		return -1;
	return access ? sodium_mprotect_readonly(s->bytes)
	              : sodium_mprotect_noaccess(s->bytes);
}

#define RG_KS_SIGNING_ROTATE 1
#define RG_KS_KEK_ROTATE 2

/*
 * The blob with a fresh KEK, version highest + 1 (*version), active; the
 * active one retired (kept, wrapping nothing); every data key unwrapped
 * with its KEK and wrapped again with the new one (*count). New guarded
 * memory, *outlen; NULL when a data key does not unwrap.
 */
static uint8_t *
rg_ks_kek_blob(const uint8_t *blob, size_t len, uint32_t *version,
               size_t *count, size_t *outlen)
{
	struct rg_ks_item it, fresh = {0};
	size_t pos = 0, size, o = 0;
	uint32_t maxv = 0;
	uint8_t *out, *kek, *slot, *dk;

	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1)
		if (it.type == RG_KS_ITEM_KEK && it.version > maxv)
			maxv = it.version;
	if (maxv == UINT32_MAX)
		return NULL;
	size = len + rg_ks_item2_size(0, RG_KEYSTORE_KEYLEN);
	if ((out = sodium_malloc(size)) == NULL)
		return NULL;
	if ((dk = sodium_malloc(RG_KEYSTORE_KEYLEN)) == NULL) {
		sodium_free(out);
		return NULL;
	}
	fresh.type = RG_KS_ITEM_KEK;
	fresh.version = maxv + 1;
	fresh.status = RG_KEYSTORE_ACTIVE;
	fresh.created = (uint64_t)time(NULL);
	fresh.keylen = RG_KEYSTORE_KEYLEN;
	kek = rg_ks_put_item(out, &o, &fresh);
	randombytes_buf(kek, RG_KEYSTORE_KEYLEN);
	*count = 0;
	pos = 0;
	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		const uint8_t *key = it.key, *old;

		if (it.type == RG_KS_ITEM_KEK && it.status == RG_KEYSTORE_ACTIVE) {
			it.status = RG_KEYSTORE_RETIRED;
			it.not_after = fresh.created;
		}
		if (it.type == RG_KS_ITEM_DATAKEY && it.keylen > 0) {
			old = rg_ks_find_kek(RG_KS_FORMAT2, blob, len,
			                     it.kek_version);
			if (old == NULL || rg_ks_unwrap(old, &it, dk) != 0)
				goto fail;
			it.kek_version = fresh.version;
			it.last_used = fresh.created;
			slot = rg_ks_put_item(out, &o, &it);
			if (rg_ks_wrap(kek, &it, dk, slot) != 0)
				goto fail;
			(*count)++;
			continue;
		}
		slot = rg_ks_put_item(out, &o, &it);
		if (it.keylen > 0)
			memcpy(slot, key, it.keylen);
	}
	if (o != size)
		abort();  /* the size computation above is wrong */
	sodium_free(dk);
	*version = fresh.version;
	*outlen = size;
	return out;
fail:
	sodium_free(dk);
	sodium_free(out);
	return NULL;
}

/*
 * The blob with a fresh signing key (new guarded memory, *outlen): the
 * active key becomes retiring (not_after = now) and a fresh key, version
 * highest + 1 (*version), becomes active.
 */
static uint8_t *
rg_ks_signing_blob(const uint8_t *blob, size_t len, uint32_t *version,
                   size_t *outlen)
{
	struct rg_ks_item it, fresh = {0};
	size_t pos = 0, size = 0, o = 0;
	uint32_t maxv = 0;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t *out, *slot;

	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		if (it.type == RG_KS_ITEM_SEED) {
			if (fresh.name == NULL)
				fresh = it;
			if (it.version > maxv)
				maxv = it.version;
		}
		size += rg_ks_item2_size(it.namelen, it.keylen);
	}
	if (fresh.name == NULL || maxv == UINT32_MAX)
		return NULL;
	size += rg_ks_item2_size(fresh.namelen, RG_SIG_SEEDLEN);
	if ((out = sodium_malloc(size)) == NULL)
		return NULL;
	pos = 0;
	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		const uint8_t *key = it.key;

		if (it.type == RG_KS_ITEM_SEED && it.status == RG_KEYSTORE_ACTIVE) {
			it.status = RG_KEYSTORE_RETIRING;
			it.not_after = now;
		}
		slot = rg_ks_put_item(out, &o, &it);
		if (it.keylen > 0)
			memcpy(slot, key, it.keylen);
	}
	fresh.version = maxv + 1;
	fresh.status = RG_KEYSTORE_ACTIVE;
	fresh.created = now;
	fresh.not_after = 0;
	fresh.last_used = 0;
	fresh.kek_version = 0;
	fresh.keylen = RG_SIG_SEEDLEN;
	slot = rg_ks_put_item(out, &o, &fresh);
	randombytes_buf(slot, RG_SIG_SEEDLEN);
	*version = fresh.version;
	if (o != size)
		abort();  /* the size computation above is wrong */
	*outlen = size;
	return out;
}

/* Build the changed inner blob (new guarded memory, *outlen) from the
 * current one, or NULL with err set. */
typedef uint8_t *(*rg_ks_blob_fn)(void *ctx, const uint8_t *blob, size_t len,
                                  size_t *outlen, char *err, size_t errlen);

/* Lock, unseal, change with fn, check that the result opens, reseal,
 * publish: the changed keystore, loaded, or NULL with the file as it was. */
static rg_keystore *
rg_ks_apply(const char *path, const rg_keystore_secret *secret,
            rg_ks_blob_fn fn, void *ctx, char *err, size_t errlen)
{
	rg_keystore *ks = NULL;
	uint8_t *blob, *changed = NULL;
	size_t len = 0, clen = 0;
	int format = 0, kdf = 0, lockfd;
	const char *what = NULL;

	if (path == NULL || secret == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return NULL;
	}
	if ((lockfd = rg_ks_lock_dir(path, err, errlen)) < 0)
		return NULL;
	if ((blob = rg_ks_unseal(path, secret, &format, &kdf, &len, err,
	                         errlen)) == NULL) {
		close(lockfd);
		return NULL;
	}
	if (format != RG_KS_FORMAT2) {
		rg_ks_err(err, errlen, "keystore %s: format 1: rewrite it first "
		          "(recgatectl keys rewrite)", path);
		goto out;
	}
	if ((changed = fn(ctx, blob, len, &clen, err, errlen)) == NULL)
		goto out;
	/* Never write out what would not open again. */
	if ((ks = calloc(1, sizeof(*ks))) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto out;
	}
	ks->kdf = kdf;
	if (rg_ks_load(ks, format, changed, clen, &what) != 0) {
		rg_ks_err(err, errlen, "keystore %s: bad contents (%s)", path, what);
		goto fail;
	}
	if (rg_ks_seal_write(path, secret, changed, clen, 1, err, errlen) != 0)
		goto fail;
	goto out;
fail:
	rg_keystore_free(ks);
	ks = NULL;
out:
	if (changed != NULL)
		sodium_free(changed);
	sodium_free(blob);
	close(lockfd);
	return ks;
}

struct rg_ks_change_op {
	int mode;               /* RG_KS_KEK_ROTATE or RG_KS_SIGNING_ROTATE */
	uint32_t *version;
	size_t *count;
};

static uint8_t *
rg_ks_change_blob(void *ctx, const uint8_t *blob, size_t len, size_t *outlen,
                  char *err, size_t errlen)
{
	struct rg_ks_change_op *op = ctx;
	uint8_t *changed = op->mode == RG_KS_KEK_ROTATE
	    ? rg_ks_kek_blob(blob, len, op->version, op->count, outlen)
	    : rg_ks_signing_blob(blob, len, op->version, outlen);

	if (changed == NULL)
		rg_ks_err(err, errlen, "keystore: cannot change the %s",
		          op->mode == RG_KS_KEK_ROTATE ? "KEKs" : "signing keys");
	return changed;
}

/* Rotate the signing keys or the KEKs: the changed keystore, loaded, or
 * NULL with the file as it was. */
static rg_keystore *
rg_ks_change(const char *path, const rg_keystore_secret *secret,
                     int mode, uint32_t *version, size_t *count, char *err,
                     size_t errlen)
{
	struct rg_ks_change_op op = {mode, version, count};

	if (version == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return NULL;
	}
	return rg_ks_apply(path, secret, rg_ks_change_blob, &op, err, errlen);
}

rg_keystore *
rg_keystore_rotate_signing(const char *path, const rg_keystore_secret *secret,
                           uint32_t *version, char *err, size_t errlen)
{
	*version = 0;
	return rg_ks_change(path, secret, RG_KS_SIGNING_ROTATE, version,
	                            NULL, err, errlen);
}

const rg_sigkey *
rg_keystore_signing_previous(const rg_keystore *ks, uint32_t *version)
{
	const struct rg_ks_meta *best = NULL;

	for (size_t i = 0; i < ks->nitems; i++) {
		const struct rg_ks_meta *m = &ks->items[i];

		if (m->purpose == RG_KEYSTORE_SIGNING &&
		    m->status == RG_KEYSTORE_RETIRING && m->sig != NULL &&
		    (best == NULL || m->version > best->version))
			best = m;
	}
	if (best != NULL && version != NULL)
		*version = best->version;
	return best != NULL ? best->sig : NULL;
}

uint32_t
rg_keystore_signing_version(const rg_keystore *ks)
{
	for (size_t i = 0; i < ks->nitems; i++)
		if (ks->items[i].purpose == RG_KEYSTORE_SIGNING &&
		    ks->items[i].sig == ks->active)
			return ks->items[i].version;
	return 0;
}

rg_keystore *
rg_keystore_rotate_kek(const char *path, const rg_keystore_secret *secret,
                       uint32_t *version, size_t *rewrapped, char *err,
                       size_t errlen)
{
	*version = 0;
	*rewrapped = 0;
	return rg_ks_change(path, secret, RG_KS_KEK_ROTATE, version,
	                            rewrapped, err, errlen);
}

uint8_t *
rg_keystore_snapshot(const char *path, size_t *len, char *err, size_t errlen)
{
	return rg_ks_read_file(path, len, err, errlen);
}

int
rg_keystore_restore(const char *path, const uint8_t *file, size_t len,
                    char *err, size_t errlen)
{
	int lockfd, rc;

	if ((lockfd = rg_ks_lock_dir(path, err, errlen)) < 0)
		return -1;
	rc = rg_ks_write_file(path, file, len, 1, err, errlen);
	close(lockfd);
	return rc;
}

uint32_t
rg_keystore_kek_version(const rg_keystore *ks)
{
	uint32_t v = 0;

	for (size_t i = 0; i < ks->nitems; i++)
		if (ks->items[i].purpose == RG_KEYSTORE_KEK &&
		    ks->items[i].status == RG_KEYSTORE_ACTIVE)
			v = ks->items[i].version;
	return v;
}

/* ---- online database rekey ---- */

/*
 * The database key of an online rekey (gateway/dbrekey.c) goes through
 * two rewrites: rg_keystore_rotate_db adds version highest + 1 as active
 * and keeps the one the database is under as retiring (both open a
 * database after a crash between the two), and rg_keystore_db_settle,
 * once the database is under one of them, keeps that one active and
 * destroys the other (its bytes leave the file; its description stays).
 */
#define RG_KS_DB_ROTATE 1
#define RG_KS_DB_SETTLE 2

/* The changed blob (new guarded memory, *outlen) or NULL with *what. */
static uint8_t *
rg_ks_db_blob(const uint8_t *blob, size_t len, int mode, uint32_t *version,
              size_t *outlen, const char **what)
{
	struct rg_ks_item it, fresh = {0};
	size_t pos = 0, size = 0, o = 0;
	uint32_t maxv = 0;
	uint64_t now = (uint64_t)time(NULL);
	int found = 0, old = 0;
	uint8_t *out, *slot;

	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		size_t keylen = it.keylen;

		if (it.type == RG_KS_ITEM_DBKEY) {
			if (it.version > maxv)
				maxv = it.version;
			old += it.status != RG_KEYSTORE_ACTIVE && it.keylen != 0;
			if (mode == RG_KS_DB_SETTLE && it.keylen != 0 &&
			    it.version == *version)
				found = 1;
			else if (mode == RG_KS_DB_SETTLE)
				keylen = 0;
		}
		size += rg_ks_item2_size(it.namelen, keylen);
	}
	if (mode == RG_KS_DB_ROTATE) {
		if (old != 0) {
			*what = "a database rekey is unfinished";
			return NULL;
		}
		if (maxv == 0 || maxv == UINT32_MAX) {
			*what = "no database key to rotate";
			return NULL;
		}
		size += rg_ks_item2_size(0, RG_KEYSTORE_KEYLEN);
	} else if (!found) {
		*what = "no such database key version";
		return NULL;
	}
	if ((out = sodium_malloc(size)) == NULL) {
		*what = "out of memory";
		return NULL;
	}
	pos = 0;
	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		const uint8_t *key = it.key;

		if (it.type == RG_KS_ITEM_DBKEY && mode == RG_KS_DB_ROTATE &&
		    it.status == RG_KEYSTORE_ACTIVE) {
			it.status = RG_KEYSTORE_RETIRING;
			it.not_after = now;
		} else if (it.type == RG_KS_ITEM_DBKEY && mode == RG_KS_DB_SETTLE) {
			if (it.version == *version && it.keylen != 0) {
				it.status = RG_KEYSTORE_ACTIVE;
				it.not_after = 0;
			} else if (it.keylen != 0) {
				it.status = RG_KEYSTORE_DESTROYED;
				it.keylen = 0;
				if (it.not_after == 0)
					it.not_after = now;
			}
		}
		slot = rg_ks_put_item(out, &o, &it);
		if (it.keylen > 0)
			memcpy(slot, key, it.keylen);
	}
	if (mode == RG_KS_DB_ROTATE) {
		fresh.type = RG_KS_ITEM_DBKEY;
		fresh.version = maxv + 1;
		fresh.status = RG_KEYSTORE_ACTIVE;
		fresh.created = now;
		fresh.keylen = RG_KEYSTORE_KEYLEN;
		slot = rg_ks_put_item(out, &o, &fresh);
		randombytes_buf(slot, RG_KEYSTORE_KEYLEN);
		*version = fresh.version;
	}
	if (o != size)
		abort();  /* the size computation above is wrong */
	*outlen = size;
	return out;
}

struct rg_ks_db_op {
	int mode;
	uint32_t *version;
};

static uint8_t *
rg_ks_db_change_blob(void *ctx, const uint8_t *blob, size_t len,
                     size_t *outlen, char *err, size_t errlen)
{
	struct rg_ks_db_op *op = ctx;
	const char *what = NULL;
	uint8_t *changed = rg_ks_db_blob(blob, len, op->mode, op->version,
	                                 outlen, &what);

	if (changed == NULL)
		rg_ks_err(err, errlen, "keystore: %s", what != NULL ? what : "?");
	return changed;
}

/* Change the database keys: the same steps as rg_ks_change. */
static rg_keystore *
rg_ks_db_change(const char *path, const rg_keystore_secret *secret, int mode,
                uint32_t *version, char *err, size_t errlen)
{
	struct rg_ks_db_op op = {mode, version};

	if (version == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return NULL;
	}
	return rg_ks_apply(path, secret, rg_ks_db_change_blob, &op, err, errlen);
}

rg_keystore *
rg_keystore_rotate_db(const char *path, const rg_keystore_secret *secret,
                      uint32_t *version, char *err, size_t errlen)
{
	if (version != NULL)
		*version = 0;
	return rg_ks_db_change(path, secret, RG_KS_DB_ROTATE, version, err,
	                       errlen);
}

rg_keystore *
rg_keystore_db_settle(const char *path, const rg_keystore_secret *secret,
                      uint32_t in_use, char *err, size_t errlen)
{
	return rg_ks_db_change(path, secret, RG_KS_DB_SETTLE, &in_use, err,
	                       errlen);
}

uint32_t
rg_keystore_db_version(const rg_keystore *ks)
{
	for (size_t i = 0; i < ks->nitems; i++)
		if (ks->items[i].purpose == RG_KEYSTORE_DATABASE &&
		    ks->items[i].status == RG_KEYSTORE_ACTIVE)
			return ks->items[i].version;
	return 0;
}

const uint8_t *
rg_keystore_db_previous(const rg_keystore *ks, uint32_t *version)
{
	for (size_t i = 0; i < ks->nitems; i++) {
		const struct rg_ks_meta *m = &ks->items[i];

		if (m->purpose == RG_KEYSTORE_DATABASE && m->slot != 0) {
			if (version != NULL)
				*version = m->version;
			return ks->keys + m->slot * RG_KEYSTORE_KEYLEN;
		}
	}
	return NULL;
}

/* ---- derived secrets (the online master-secret change) ---- */

/* The file's own salt and cost are what a derived secret must carry:
 * the sizes must agree with the header layout above. */
_Static_assert(RG_KEYSTORE_SALTLEN == RG_KS_SALTLEN, "salt length");

int
rg_keystore_file_kdf_params(const char *path, struct rg_keystore_kdf *p,
                            char *err, size_t errlen)
{
	uint8_t *file;
	size_t len = 0;
	int format = 0, kdf = 0, ret = -1;

	memset(p, 0, sizeof(*p));
	if ((file = rg_ks_read_file(path, &len, err, errlen)) == NULL)
		return -1;
	if (rg_ks_header(path, file, len, &format, &kdf, err, errlen) != 0) {
		p->kind = kdf;
		if (kdf == RG_KEYSTORE_KDF_PASSPHRASE) {
			p->ops = rg_ks_get64(file + 6);
			p->mem = rg_ks_get64(file + 14);
			memcpy(p->salt, file + 22, RG_KS_SALTLEN);
		}
		ret = 0;
	}
	free(file);
	return ret;
}

rg_keystore_secret *
rg_keystore_secret_derived(const uint8_t master[RG_KEYSTORE_MASTERLEN],
                           const struct rg_keystore_kdf *p, char *err,
                           size_t errlen)
{
	rg_keystore_secret *s;

	if (sodium_init() < 0) {
		rg_ks_err(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	if (p->kind != RG_KEYSTORE_KDF_KEYFILE &&
	    p->kind != RG_KEYSTORE_KDF_PASSPHRASE) {
		rg_ks_err(err, errlen, "unknown kind of master secret");
		return NULL;
	}
	/* The same bounds the header of a file is held to. */
	if (p->kind == RG_KEYSTORE_KDF_PASSPHRASE &&
	    (p->ops < crypto_pwhash_OPSLIMIT_MIN || p->ops > RG_KS_PW_MAXOPS ||
	     p->mem < crypto_pwhash_MEMLIMIT_MIN || p->mem > RG_KS_PW_MAXMEM)) {
		rg_ks_err(err, errlen, "passphrase cost out of range");
		return NULL;
	}
	if ((s = rg_ks_secret_new(p->kind, RG_KEYSTORE_MASTERLEN)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(s->bytes, master, RG_KEYSTORE_MASTERLEN);
	if (p->kind == RG_KEYSTORE_KDF_PASSPHRASE) {
		s->derived = 1;
		s->ops = p->ops;
		s->mem = (size_t)p->mem;
		memcpy(s->salt, p->salt, RG_KS_SALTLEN);
	}
	return s;
}

/* s through its kdf with these parameters; a new secret or NULL. */
static rg_keystore_secret *
rg_ks_derive_with(const rg_keystore_secret *s, struct rg_keystore_kdf *p,
                  char *err, size_t errlen)
{
	rg_keystore_secret *out;
	uint8_t *master;

	if ((master = rg_ks_derive_master(s, p->kind, p->ops, (size_t)p->mem,
	                                  p->salt, err, errlen)) == NULL)
		return NULL;
	out = rg_keystore_secret_derived(master, p, err, errlen);
	sodium_free(master);
	return out;
}

rg_keystore_secret *
rg_keystore_secret_derive(const rg_keystore_secret *s, char *err,
                          size_t errlen)
{
	struct rg_keystore_kdf p;

	if (sodium_init() < 0 || s == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	p.kind = s->kind;
	if (s->kind == RG_KEYSTORE_KDF_PASSPHRASE) {
		p.ops = s->ops;
		p.mem = s->mem;
		if (s->derived)
			memcpy(p.salt, s->salt, RG_KS_SALTLEN);
		else
			randombytes_buf(p.salt, RG_KS_SALTLEN);
	}
	return rg_ks_derive_with(s, &p, err, errlen);
}

rg_keystore_secret *
rg_keystore_secret_derive_for(const char *path, const rg_keystore_secret *s,
                              char *err, size_t errlen)
{
	struct rg_keystore_kdf p;
	char why[256];

	if (sodium_init() < 0 || s == NULL || path == NULL) {
		rg_ks_err(err, errlen, "keystore: bad arguments");
		return NULL;
	}
	if (rg_keystore_file_kdf_params(path, &p, err, errlen) != 0)
		return NULL;
	if (p.kind != s->kind) {
		/* rg_ks_derive_master words the mismatch. */
		(void)rg_ks_derive_master(s, p.kind, 0, 0, NULL, why, sizeof(why));
		rg_ks_err(err, errlen, "keystore %s: %s", path, why);
		return NULL;
	}
	return rg_ks_derive_with(s, &p, err, errlen);
}

int
rg_keystore_secret_export(const rg_keystore_secret *s,
                          uint8_t master[RG_KEYSTORE_MASTERLEN],
                          struct rg_keystore_kdf *p)
{
	if (s == NULL || (s->kind == RG_KEYSTORE_KDF_PASSPHRASE && !s->derived))
		return -1;
	memset(p, 0, sizeof(*p));
	p->kind = s->kind;
	if (s->derived) {
		p->ops = s->ops;
		p->mem = s->mem;
		memcpy(p->salt, s->salt, RG_KS_SALTLEN);
	}
	memcpy(master, s->bytes, RG_KEYSTORE_MASTERLEN);
	return 0;
}

/* ---- data keys: rotation, retirement, destruction ---- */


static int
rg_ks_name_is(const struct rg_ks_item *it, const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	return it->namelen == n && (n == 0 || memcmp(it->name, name, n) == 0);
}

/* The highest version of any item of it's type and name (destroyed ones
 * included: a version number is never given twice). */
static uint32_t
rg_ks_max_version(const uint8_t *blob, size_t len, const struct rg_ks_item *it)
{
	struct rg_ks_item o;
	size_t pos = 0;
	uint32_t v = 0;

	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &o) == 1)
		if (o.type == it->type && rg_ks_same_name(&o, it) && o.version > v)
			v = o.version;
	return v;
}

/* The resource's highest active data key? (Only it gets a successor.) */
static int
rg_ks_top_active(const uint8_t *blob, size_t len, const struct rg_ks_item *it)
{
	struct rg_ks_item o;
	size_t pos = 0;

	if (it->type != RG_KS_ITEM_DATAKEY || it->status != RG_KEYSTORE_ACTIVE ||
	    it->keylen == 0)
		return 0;
	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &o) == 1)
		if (o.type == RG_KS_ITEM_DATAKEY && o.status == RG_KEYSTORE_ACTIVE &&
		    o.keylen != 0 && rg_ks_same_name(&o, it) &&
		    o.version > it->version)
			return 0;
	return 1;
}

struct rg_ks_data_rotation {
	const char *resource;   /* NULL: every resource */
	size_t count;
};

static int
rg_ks_data_match(const struct rg_ks_data_rotation *rd,
                 const struct rg_ks_item *it)
{
	return it->type == RG_KS_ITEM_DATAKEY &&
	       (rd->resource == NULL || rg_ks_name_is(it, rd->resource));
}

/*
 * The blob with a fresh data key after each matching resource's highest
 * active one, wrapped under the active KEK; the matching active keys
 * become retiring (not_after = now).
 */
static uint8_t *
rg_ks_data_blob(void *ctx, const uint8_t *blob, size_t len, size_t *outlen,
                char *err, size_t errlen)
{
	struct rg_ks_data_rotation *rd = ctx;
	struct rg_ks_item it, fresh;
	const uint8_t *kek = NULL;
	uint32_t kekv = 0, maxv;
	size_t pos = 0, size = len, o = 0, n = 0;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t *out = NULL, *slot, *dk = NULL;

	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		if (it.type == RG_KS_ITEM_KEK && it.status == RG_KEYSTORE_ACTIVE &&
		    it.keylen != 0) {
			kek = it.key;
			kekv = it.version;
		}
		if (rg_ks_data_match(rd, &it) && rg_ks_top_active(blob, len, &it)) {
			size += rg_ks_item2_size(it.namelen, RG_KS_WRAPLEN);
			n++;
		}
	}
	if (kek == NULL) {
		rg_ks_err(err, errlen, "keystore: no active KEK to wrap a new "
		          "data key");
		return NULL;
	}
	if (n == 0) {
		rg_ks_err(err, errlen, "keystore: no active data key for %s",
		          rd->resource != NULL ? rd->resource : "any resource");
		return NULL;
	}
	if ((out = sodium_malloc(size)) == NULL ||
	    (dk = sodium_malloc(RG_KEYSTORE_KEYLEN)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto fail;
	}
	pos = 0;
	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		const uint8_t *key = it.key;
		int top = rg_ks_data_match(rd, &it) &&
		          rg_ks_top_active(blob, len, &it);

		if (rg_ks_data_match(rd, &it) && it.status == RG_KEYSTORE_ACTIVE) {
			it.status = RG_KEYSTORE_RETIRING;
			it.not_after = now;
		}
		slot = rg_ks_put_item(out, &o, &it);
		if (it.keylen > 0)
			memcpy(slot, key, it.keylen);
		if (!top)
			continue;
		if ((maxv = rg_ks_max_version(blob, len, &it)) == UINT32_MAX) {
			rg_ks_err(err, errlen, "keystore: data key versions "
			          "exhausted");
			goto fail;
		}
		memset(&fresh, 0, sizeof(fresh));
		fresh.type = RG_KS_ITEM_DATAKEY;
		fresh.name = it.name;
		fresh.namelen = it.namelen;
		fresh.version = maxv + 1;
		fresh.status = RG_KEYSTORE_ACTIVE;
		fresh.created = now;
		fresh.kek_version = kekv;
		fresh.keylen = RG_KS_WRAPLEN;
		slot = rg_ks_put_item(out, &o, &fresh);
		randombytes_buf(dk, RG_KEYSTORE_KEYLEN);
		if (rg_ks_wrap(kek, &fresh, dk, slot) != 0) {
			rg_ks_err(err, errlen, "keystore: wrapping failed");
			goto fail;
		}
	}
	if (o != size)
		abort();  /* the size computation above is wrong */
	sodium_free(dk);
	rd->count = n;
	*outlen = size;
	return out;
fail:
	if (dk != NULL)
		sodium_free(dk);
	if (out != NULL)
		sodium_free(out);
	return NULL;
}

rg_keystore *
rg_keystore_rotate_data(const char *path, const rg_keystore_secret *secret,
                        const char *resource, size_t *count, char *err,
                        size_t errlen)
{
	struct rg_ks_data_rotation rd = {resource, 0};
	rg_keystore *ks;

	*count = 0;
	ks = rg_ks_apply(path, secret, rg_ks_data_blob, &rd, err, errlen);
	if (ks != NULL)
		*count = rd.count;
	return ks;
}

/* The one rule for retiring and destroying, whatever holds the keys. */
static int
rg_ks_move_why(int purpose, int from, int to, int in_use)
{
	if (to != RG_KEYSTORE_RETIRED && to != RG_KEYSTORE_DESTROYED)
		return RG_KEYSTORE_WHY_STATE;
	if (from == RG_KEYSTORE_ACTIVE)
		return RG_KEYSTORE_WHY_ACTIVE;
	if (from != (to == RG_KEYSTORE_RETIRED ? RG_KEYSTORE_RETIRING
	                                       : RG_KEYSTORE_RETIRED))
		return RG_KEYSTORE_WHY_STATE;
	/* A KEK that still wraps a data key is that key's only way in. */
	if (purpose == RG_KEYSTORE_KEK && in_use)
		return RG_KEYSTORE_WHY_IN_USE;
	return RG_KEYSTORE_WHY_NONE;
}

struct rg_ks_status_op {
	int purpose;
	const char *resource;
	uint32_t version;
	int status;
	int why;
};

static int
rg_ks_op_target(const struct rg_ks_status_op *op, const struct rg_ks_item *it)
{
	return it->type == op->purpose && it->version == op->version &&
	       (op->purpose == RG_KS_ITEM_DATAKEY
	        ? op->resource != NULL && rg_ks_name_is(it, op->resource)
	        : op->purpose == RG_KS_ITEM_KEK && it->namelen == 0);
}

static uint8_t *
rg_ks_status_blob(void *ctx, const uint8_t *blob, size_t len, size_t *outlen,
                  char *err, size_t errlen)
{
	struct rg_ks_status_op *op = ctx;
	struct rg_ks_item it, target = {0};
	size_t pos = 0, size, o = 0;
	int found = 0, in_use = 0;
	uint8_t *out, *slot;

	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		if (rg_ks_op_target(op, &it)) {
			target = it;
			found = 1;
		}
		if (it.type == RG_KS_ITEM_DATAKEY && it.keylen != 0 &&
		    it.kek_version == op->version)
			in_use = 1;
	}
	op->why = found ? rg_ks_move_why(op->purpose, target.status,
	                                 op->status, in_use)
	                : RG_KEYSTORE_WHY_NOTFOUND;
	if (op->why != RG_KEYSTORE_WHY_NONE) {
		rg_ks_err(err, errlen, "keystore: that key version cannot be "
		          "%s now", op->status == RG_KEYSTORE_RETIRED ? "retired"
		                                                     : "destroyed");
		return NULL;
	}
	size = len - (op->status == RG_KEYSTORE_DESTROYED ? target.keylen : 0);
	if ((out = sodium_malloc(size)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		return NULL;
	}
	pos = 0;
	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1) {
		const uint8_t *key = it.key;

		if (rg_ks_op_target(op, &it)) {
			it.status = (uint8_t)op->status;
			if (it.not_after == 0)
				it.not_after = (uint64_t)time(NULL);
			/* Crypto-shredding: the bytes go, the description
			 * stays so that the key is still listed. */
			if (op->status == RG_KEYSTORE_DESTROYED) {
				it.keylen = 0;
				it.kek_version = 0;
			}
		}
		slot = rg_ks_put_item(out, &o, &it);
		if (it.keylen > 0)
			memcpy(slot, key, it.keylen);
	}
	if (o != size)
		abort();  /* the size computation above is wrong */
	*outlen = size;
	return out;
}

rg_keystore *
rg_keystore_set_status(const char *path, const rg_keystore_secret *secret,
                       int purpose, const char *resource, uint32_t version,
                       int status, int *why, char *err, size_t errlen)
{
	struct rg_ks_status_op op = {purpose, resource, version, status,
	                             RG_KEYSTORE_WHY_NONE};
	rg_keystore *ks;

	ks = rg_ks_apply(path, secret, rg_ks_status_blob, &op, err, errlen);
	if (why != NULL)
		*why = op.why;
	return ks;
}

int
rg_keystore_status_check(const rg_keystore *ks, int purpose,
                         const char *resource, uint32_t version, int status,
                         int *from)
{
	const struct rg_ks_meta *target = NULL;
	int in_use = 0;

	for (size_t i = 0; i < ks->nitems; i++) {
		const struct rg_ks_meta *m = &ks->items[i];

		if (m->purpose == purpose && m->version == version &&
		    (purpose == RG_KEYSTORE_DATA
		     ? resource != NULL && strcmp(m->resource, resource) == 0
		     : purpose == RG_KEYSTORE_KEK))
			target = m;
		if (m->purpose == RG_KEYSTORE_DATA && m->slot != 0 &&
		    m->kek_version == version)
			in_use = 1;
	}
	if (target == NULL)
		return RG_KEYSTORE_WHY_NOTFOUND;
	if (from != NULL)
		*from = target->status;
	return rg_ks_move_why(purpose, target->status, status, in_use);
}

const uint8_t *
rg_keystore_pseudonym_key(const rg_keystore *ks, const char *resource,
                          uint32_t *version)
{
	return rg_ks_data_pick(ks, resource, 1, version);
}

struct rg_ks_data_add {
	const char *const *resources;
	size_t n;
	size_t added;
};

/* Does the blob hold any data key (any status) named name? */
static int
rg_ks_has_data(const uint8_t *blob, size_t len, const char *name)
{
	struct rg_ks_item it;
	size_t pos = 0;

	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1)
		if (it.type == RG_KS_ITEM_DATAKEY && rg_ks_name_is(&it, name))
			return 1;
	return 0;
}

/*
 * The blob with, at its end, a data key version 1 under the active KEK for
 * each named resource that has none yet (a version number is never given
 * twice, so a resource whose keys were all destroyed gets none here).
 */
static uint8_t *
rg_ks_add_data_blob(void *ctx, const uint8_t *blob, size_t len,
                    size_t *outlen, char *err, size_t errlen)
{
	struct rg_ks_data_add *ad = ctx;
	struct rg_ks_item it, fresh;
	const uint8_t *kek = NULL;
	uint32_t kekv = 0;
	size_t pos = 0, size = len, o = 0;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t *out = NULL, *slot, *dk = NULL;

	while (rg_ks_next_item(RG_KS_FORMAT2, blob, len, &pos, &it) == 1)
		if (it.type == RG_KS_ITEM_KEK && it.status == RG_KEYSTORE_ACTIVE &&
		    it.keylen != 0) {
			kek = it.key;
			kekv = it.version;
		}
	if (kek == NULL) {
		rg_ks_err(err, errlen, "keystore: no active KEK to wrap a new "
		          "data key");
		return NULL;
	}
	for (size_t i = 0; i < ad->n; i++) {
		size_t nl = strlen(ad->resources[i]);

		if (nl == 0 || nl > RG_KS_NAMEMAX) {
			rg_ks_err(err, errlen, "keystore: bad resource name");
			return NULL;
		}
		if (!rg_ks_has_data(blob, len, ad->resources[i]))
			size += rg_ks_item2_size(nl, RG_KS_WRAPLEN);
	}
	if ((out = sodium_malloc(size)) == NULL ||
	    (dk = sodium_malloc(RG_KEYSTORE_KEYLEN)) == NULL) {
		rg_ks_err(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(out, blob, len);
	o = len;
	ad->added = 0;
	for (size_t i = 0; i < ad->n; i++) {
		if (rg_ks_has_data(blob, len, ad->resources[i]))
			continue;
		memset(&fresh, 0, sizeof(fresh));
		fresh.type = RG_KS_ITEM_DATAKEY;
		fresh.name = ad->resources[i];
		fresh.namelen = strlen(ad->resources[i]);
		fresh.version = 1;
		fresh.status = RG_KEYSTORE_ACTIVE;
		fresh.created = now;
		fresh.kek_version = kekv;
		fresh.keylen = RG_KS_WRAPLEN;
		slot = rg_ks_put_item(out, &o, &fresh);
		randombytes_buf(dk, RG_KEYSTORE_KEYLEN);
		if (rg_ks_wrap(kek, &fresh, dk, slot) != 0) {
			rg_ks_err(err, errlen, "keystore: wrapping failed");
			goto fail;
		}
		ad->added++;
	}
	if (o != size)
		abort();  /* the size computation above is wrong */
	sodium_free(dk);
	*outlen = size;
	return out;
fail:
	if (dk != NULL)
		sodium_free(dk);
	if (out != NULL)
		sodium_free(out);
	return NULL;
}

rg_keystore *
rg_keystore_add_data(const char *path, const rg_keystore_secret *secret,
                     const char *const *resources, size_t n, size_t *added,
                     char *err, size_t errlen)
{
	struct rg_ks_data_add ad = {resources, n, 0};
	rg_keystore *ks;

	*added = 0;
	ks = rg_ks_apply(path, secret, rg_ks_add_data_blob, &ad, err, errlen);
	if (ks != NULL)
		*added = ad.added;
	return ks;
}
