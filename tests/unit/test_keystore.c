/*
 * test_keystore.c -- the sealed key file: round trips (format 2 with several
 * signing-key and KEK versions, format 1 and its upgrade), wrapped data
 * keys bound to their place, refusal of a wrong key file or passphrase and
 * of any damaged byte, atomic create and rewrite (with injected crashes),
 * master secret changes, and the rules for the master secret file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"
#include "crypto/seal.h"
#include "tests/ks_layout.h"
#include "tests/test.h"

static const char *const rg_t_resources[] = {"cases", "exposures", "clinics"};

static void
rg_t_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", rg_test_tmpdir(), name);
	CHECK(n > 0 && (size_t)n < len);
}

static void
rg_t_master(uint8_t master[RG_KEYSTORE_MASTERLEN], uint8_t fill)
{
	memset(master, fill, RG_KEYSTORE_MASTERLEN);
	master[0] = 0x42;
}

/* Create a keystore "ks" under master; returns its path in path. */
static void
rg_t_create(char *path, size_t len, const uint8_t *master)
{
	char err[256] = "";

	rg_t_path(path, len, "ks");
	CHECKF(rg_keystore_create(path, master, "gw.example.gov/log",
	                          rg_t_resources, 3, err, sizeof(err)) == 0,
	       "create: %s", err);
}

static uint8_t *
rg_t_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	CHECK(f != NULL);
	CHECK(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CHECK(n > 0);
	CHECK(fseek(f, 0, SEEK_SET) == 0);
	buf = malloc((size_t)n);
	CHECK(buf != NULL);
	CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
rg_t_write(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	CHECK(fd >= 0);
	CHECK(write(fd, buf, len) == (ssize_t)len);
	CHECK(fchmod(fd, mode) == 0);
	CHECK(close(fd) == 0);
}

TEST(keystore_round_trip_keeps_every_key)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	uint8_t pub1[RG_SIG_PUBLEN], pub2[RG_SIG_PUBLEN], db1[RG_KEYSTORE_KEYLEN];
	uint8_t sig[RG_SIG_LEN];
	const uint8_t *k1, *k2;
	uint32_t version = 0;
	rg_keystore *a, *b;

	rg_t_master(master, 7);
	rg_t_create(path, sizeof(path), master);
	a = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(a != NULL, "open: %s", err);
	b = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(b != NULL, "reopen: %s", err);

	CHECK_EQ_STR(rg_keystore_origin(a), "gw.example.gov/log");
	rg_sigkey_public(rg_keystore_signing_key(a), pub1);
	rg_sigkey_public(rg_keystore_signing_key(b), pub2);
	CHECK(memcmp(pub1, pub2, sizeof(pub1)) == 0);
	CHECK(!sodium_is_zero(pub1, sizeof(pub1)));
	/* The reopened private key signs for the same public key. */
	CHECK(rg_sig_sign(rg_keystore_signing_key(b), (const uint8_t *)"m", 1,
	                  sig) == 0);
	CHECK(rg_sig_verify(pub1, (const uint8_t *)"m", 1, sig) == 0);

	memcpy(db1, rg_keystore_db_key(a), sizeof(db1));
	CHECK(sodium_memcmp(db1, rg_keystore_db_key(b), sizeof(db1)) == 0);
	CHECK(!sodium_is_zero(db1, sizeof(db1)));

	for (size_t i = 0; i < 3; i++) {
		version = 0;
		k1 = rg_keystore_data_key(a, rg_t_resources[i], &version);
		CHECK(k1 != NULL);
		CHECK_EQ_INT(version, 1);
		k2 = rg_keystore_data_key_at(b, rg_t_resources[i], 1);
		CHECK(k2 != NULL);
		CHECK(sodium_memcmp(k1, k2, RG_KEYSTORE_KEYLEN) == 0);
		CHECK(sodium_memcmp(k1, db1, RG_KEYSTORE_KEYLEN) != 0);
	}
	/* Each resource has its own key. */
	CHECK(sodium_memcmp(rg_keystore_data_key(a, "cases", NULL),
	                    rg_keystore_data_key(a, "clinics", NULL),
	                    RG_KEYSTORE_KEYLEN) != 0);
	CHECK(rg_keystore_data_key(a, "unknown", &version) == NULL);
	CHECK(rg_keystore_data_key_at(a, "cases", 2) == NULL);
	sodium_memzero(db1, sizeof(db1));
	rg_keystore_free(a);
	rg_keystore_free(b);
}

TEST(keystore_wrong_master_is_refused)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN], other[RG_KEYSTORE_MASTERLEN];

	rg_t_master(master, 7);
	rg_t_master(other, 7);
	other[31] ^= 0x01;
	rg_t_create(path, sizeof(path), master);
	CHECK(rg_keystore_open(path, other, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "wrong master secret or damaged file") != NULL,
	       "err: %s", err);
}

TEST(keystore_any_flipped_byte_is_refused)
{
	char path[512], bad[600], err[256];
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	uint8_t *buf;
	size_t len;
	rg_keystore *ks_ok;

	rg_t_master(master, 9);
	rg_t_create(path, sizeof(path), master);
	buf = rg_t_slurp(path, &len);
	snprintf(bad, sizeof(bad), "%s.bad", path);
	for (size_t i = 0; i < len; i++) {
		rg_keystore *ks;

		buf[i] ^= 0x80;
		rg_t_write(bad, buf, len, 0600);
		err[0] = '\0';
		ks = rg_keystore_open(bad, master, err, sizeof(err));
		CHECKF(ks == NULL, "byte %zu flipped but the keystore opened", i);
		CHECKF(err[0] != '\0', "byte %zu: no message", i);
		buf[i] ^= 0x80;
	}
	/* And the untouched bytes still open: the loop proved something. */
	rg_t_write(bad, buf, len, 0600);
	ks_ok = rg_keystore_open(bad, master, err, sizeof(err));
	CHECKF(ks_ok != NULL, "%s", err);
	rg_keystore_free(ks_ok);
	free(buf);
}

TEST(keystore_truncated_file_is_refused)
{
	char path[512], bad[600], err[256];
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	uint8_t *buf;
	size_t len;

	rg_t_master(master, 3);
	rg_t_create(path, sizeof(path), master);
	buf = rg_t_slurp(path, &len);
	snprintf(bad, sizeof(bad), "%s.short", path);
	for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 37)) {
		rg_t_write(bad, buf, cut, 0600);
		CHECK(truncate(bad, (off_t)cut) == 0);
		CHECKF(rg_keystore_open(bad, master, err, sizeof(err)) == NULL,
		       "opened when cut to %zu of %zu bytes", cut, len);
	}
	free(buf);
}

TEST(keystore_create_refuses_existing_path)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	uint8_t *before, *after;
	size_t blen, alen;

	rg_t_master(master, 5);
	rg_t_create(path, sizeof(path), master);
	before = rg_t_slurp(path, &blen);
	CHECK(rg_keystore_create(path, master, "gw.example.gov/log",
	                         rg_t_resources, 3, err, sizeof(err)) == -1);
	CHECKF(strstr(err, "exists") != NULL, "err: %s", err);
	after = rg_t_slurp(path, &alen);
	CHECK(blen == alen && memcmp(before, after, blen) == 0);
	free(before);
	free(after);
}

TEST(keystore_file_holds_no_plaintext_key)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN], seed[RG_SIG_SEEDLEN];
	uint8_t *buf;
	size_t len;
	rg_keystore *ks;
	const uint8_t *db, *dk;
	struct stat sb;

	rg_t_master(master, 11);
	rg_t_create(path, sizeof(path), master);
	CHECK(stat(path, &sb) == 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	db = rg_keystore_db_key(ks);
	dk = rg_keystore_data_key(ks, "cases", NULL);
	rg_sigkey_seed(rg_keystore_signing_key(ks), seed);
	buf = rg_t_slurp(path, &len);
	CHECK(len > 4 && memcmp(buf, "RGKS", 4) == 0);
	/* Not even 8 consecutive bytes of any key. */
	for (size_t i = 0; i + 8 <= len; i++) {
		CHECK(memcmp(buf + i, db, 8) != 0);
		CHECK(memcmp(buf + i, dk, 8) != 0);
		CHECK(memcmp(buf + i, seed, 8) != 0);
		CHECK(memcmp(buf + i, "cases", 5) != 0);
	}
	sodium_memzero(seed, sizeof(seed));
	free(buf);
	rg_keystore_free(ks);
}

TEST(keystore_master_file_readable_by_others_is_refused)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN];

	rg_t_path(path, sizeof(path), "master");
	rg_t_master(master, 1);
	rg_t_write(path, master, sizeof(master), 0644);
	memset(master, 0, sizeof(master));
	CHECK(rg_keystore_read_master(path, master, err, sizeof(err)) == -1);
	CHECKF(strstr(err, "readable by others; chmod 600 it") != NULL, "err: %s",
	       err);
	CHECK(sodium_is_zero(master, sizeof(master)));
	CHECK(chmod(path, 0640) == 0);
	CHECK(rg_keystore_read_master(path, master, err, sizeof(err)) == -1);
	CHECK(chmod(path, 0600) == 0);
	CHECK(rg_keystore_read_master(path, master, err, sizeof(err)) == 0);
	CHECK_EQ_INT(master[0], 0x42);
}

TEST(keystore_hex_master_file_is_accepted)
{
	char path[512], err[256] = "", hex[2 * RG_KEYSTORE_MASTERLEN + 2];
	uint8_t want[RG_KEYSTORE_MASTERLEN], got[RG_KEYSTORE_MASTERLEN];

	rg_t_path(path, sizeof(path), "master.hex");
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 7 + 1);
	sodium_bin2hex(hex, sizeof(hex) - 1, want, sizeof(want));
	hex[64] = '\n';
	hex[65] = '\0';
	rg_t_write(path, hex, 65, 0600);
	CHECKF(rg_keystore_read_master(path, got, err, sizeof(err)) == 0, "%s", err);
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	rg_t_write(path, hex, 64, 0600);
	memset(got, 0, sizeof(got));
	CHECK(rg_keystore_read_master(path, got, err, sizeof(err)) == 0);
	CHECK(memcmp(got, want, sizeof(want)) == 0);
}

TEST(keystore_master_file_of_wrong_shape_is_refused)
{
	char path[512], err[256] = "";
	char hex[2 * RG_KEYSTORE_MASTERLEN + 3];
	uint8_t got[RG_KEYSTORE_MASTERLEN];

	rg_t_path(path, sizeof(path), "master.bad");
	memset(hex, 'a', sizeof(hex));
	hex[10] = 'g';  /* not a hex digit */
	rg_t_write(path, hex, 64, 0600);
	CHECK(rg_keystore_read_master(path, got, err, sizeof(err)) == -1);
	CHECK(strstr(err, "32 raw bytes or 64 hex") != NULL);
	memset(hex, 'a', sizeof(hex));
	rg_t_write(path, hex, 66, 0600);  /* too long */
	CHECK(rg_keystore_read_master(path, got, err, sizeof(err)) == -1);
	rg_t_write(path, hex, 31, 0600);  /* too short */
	CHECK(rg_keystore_read_master(path, got, err, sizeof(err)) == -1);
	hex[64] = ' ';
	rg_t_write(path, hex, 65, 0600);  /* trailing byte not a newline */
	CHECK(rg_keystore_read_master(path, got, err, sizeof(err)) == -1);
}

TEST(keystore_new_master_is_private_random_and_exclusive)
{
	char path[512], p2[600], err[256] = "";
	uint8_t a[RG_KEYSTORE_MASTERLEN], b[RG_KEYSTORE_MASTERLEN];
	struct stat sb;

	rg_t_path(path, sizeof(path), "master");
	snprintf(p2, sizeof(p2), "%s2", path);
	CHECKF(rg_keystore_new_master(path, err, sizeof(err)) == 0, "%s", err);
	CHECK(stat(path, &sb) == 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	CHECK_EQ_INT(sb.st_size, RG_KEYSTORE_MASTERLEN);
	CHECK(rg_keystore_new_master(path, err, sizeof(err)) == -1);
	CHECK(rg_keystore_new_master(p2, err, sizeof(err)) == 0);
	CHECK(rg_keystore_read_master(path, a, err, sizeof(err)) == 0);
	CHECK(rg_keystore_read_master(p2, b, err, sizeof(err)) == 0);
	CHECK(sodium_memcmp(a, b, sizeof(a)) != 0);
}

TEST(keystore_bad_names_are_refused_at_create)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	const char *const dup[] = {"cases", "cases"};
	const char *const spaced[] = {"bad name"};
	struct stat sb;

	rg_t_master(master, 2);
	rg_t_path(path, sizeof(path), "ks");
	CHECK(rg_keystore_create(path, master, "gw+log", NULL, 0, err,
	                         sizeof(err)) == -1);
	CHECK(rg_keystore_create(path, master, "gw", dup, 2, err, sizeof(err)) ==
	      -1);
	CHECK(rg_keystore_create(path, master, "gw", spaced, 1, err,
	                         sizeof(err)) == -1);
	CHECK(stat(path, &sb) != 0);
	/* No resources is a valid keystore. */
	CHECK(rg_keystore_create(path, master, "gw", NULL, 0, err, sizeof(err)) == 0);
}

/*
 * Seal an inner blob exactly as keystore.h documents the format, so that
 * the tests below pin the layout and reach the parser with authentic but
 * malformed contents.
 */
static void
rg_t_seal_file(const char *path, const uint8_t master[RG_KEYSTORE_MASTERLEN],
               const uint8_t *inner, size_t len)
{
	static const char ctx[] = "recgate keystore kek v1";
	uint8_t kek[32], *out;
	unsigned long long clen = 0;
	size_t outlen = 6 + 24 + len + 16;

	CHECK(crypto_generichash(kek, sizeof(kek), (const uint8_t *)ctx,
	                         sizeof(ctx) - 1, master,
	                         RG_KEYSTORE_MASTERLEN) == 0);
	out = malloc(outlen);
	CHECK(out != NULL);
	memcpy(out, "RGKS\x01\x01", 6);
	randombytes_buf(out + 6, 24);
	CHECK(crypto_aead_xchacha20poly1305_ietf_encrypt(out + 30, &clen, inner,
	                                                 len, out, 6, NULL,
	                                                 out + 6, kek) == 0);
	CHECK(clen == len + 16);
	rg_t_write(path, out, outlen, 0600);
	free(out);
}

/* Append one item: u8 type | u16 name len | name | u32 version | u16 key
 * len | key (key bytes all equal to fill). */
static size_t
rg_t_item(uint8_t *p, uint8_t type, const char *name, uint32_t version,
          uint16_t keylen, uint8_t fill)
{
	size_t n = strlen(name);

	p[0] = type;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	memcpy(p + 3, name, n);
	p[3 + n] = (uint8_t)(version >> 24);
	p[4 + n] = (uint8_t)(version >> 16);
	p[5 + n] = (uint8_t)(version >> 8);
	p[6 + n] = (uint8_t)version;
	p[7 + n] = (uint8_t)(keylen >> 8);
	p[8 + n] = (uint8_t)keylen;
	memset(p + 9 + n, fill, keylen);
	return 9 + n + keylen;
}

TEST(keystore_opens_file_built_from_documented_layout)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN], inner[512], want[32];
	size_t len = 0;
	uint32_t version = 0;
	const uint8_t *k;
	rg_keystore *ks;

	rg_t_master(master, 4);
	rg_t_path(path, sizeof(path), "handmade");
	len += rg_t_item(inner + len, 3, "cases", 1, 32, 0xc1);
	len += rg_t_item(inner + len, 1, "gw.example", 1, 32, 0x5e);
	len += rg_t_item(inner + len, 3, "cases", 2, 32, 0xc2);
	len += rg_t_item(inner + len, 2, "", 1, 32, 0xdb);
	rg_t_seal_file(path, master, inner, len);

	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK_EQ_STR(rg_keystore_origin(ks), "gw.example");
	memset(want, 0xdb, sizeof(want));
	CHECK(memcmp(rg_keystore_db_key(ks), want, 32) == 0);
	/* The current data key is the highest version. */
	k = rg_keystore_data_key(ks, "cases", &version);
	CHECK_EQ_INT(version, 2);
	memset(want, 0xc2, sizeof(want));
	CHECK(k != NULL && memcmp(k, want, 32) == 0);
	memset(want, 0xc1, sizeof(want));
	k = rg_keystore_data_key_at(ks, "cases", 1);
	CHECK(k != NULL && memcmp(k, want, 32) == 0);
	rg_keystore_free(ks);
}

TEST(keystore_authentic_but_malformed_contents_are_refused)
{
	char path[512], err[256];
	uint8_t master[RG_KEYSTORE_MASTERLEN], inner[512];
	size_t base, len;
	int variant;

	rg_t_master(master, 6);
	rg_t_path(path, sizeof(path), "malformed");
	for (variant = 0; variant < 9; variant++) {
		len = rg_t_item(inner, 1, "gw", 1, 32, 0x5e);
		base = len;
		switch (variant) {
		case 0:  /* no database key */
			break;
		case 1:  /* two database keys */
			len += rg_t_item(inner + len, 2, "", 1, 32, 1);
			len += rg_t_item(inner + len, 2, "", 1, 32, 2);
			break;
		case 2:  /* unknown item type */
			len += rg_t_item(inner + len, 2, "", 1, 32, 1);
			len += rg_t_item(inner + len, 9, "x", 1, 32, 1);
			break;
		case 3:  /* short key */
			len += rg_t_item(inner + len, 2, "", 1, 31, 1);
			break;
		case 4:  /* key length runs past the end */
			len += rg_t_item(inner + len, 2, "", 1, 32, 1);
			inner[len - 34] = 0x01;  /* key length 0x0120 */
			break;
		case 5:  /* name length runs past the end */
			len += rg_t_item(inner + len, 2, "", 1, 32, 1);
			len += rg_t_item(inner + len, 3, "r", 1, 32, 1);
			inner[len - 41] = 0xff;
			break;
		case 6:  /* trailing partial item */
			len += rg_t_item(inner + len, 2, "", 1, 32, 1);
			inner[len++] = 3;
			break;
		case 7:  /* duplicate data key version */
			len += rg_t_item(inner + len, 2, "", 1, 32, 1);
			len += rg_t_item(inner + len, 3, "r", 1, 32, 1);
			len += rg_t_item(inner + len, 3, "r", 1, 32, 2);
			break;
		case 8:  /* version 0 */
			len += rg_t_item(inner + len, 2, "", 0, 32, 1);
			break;
		}
		CHECK(len > base || variant == 0);
		CHECK(unlink(path) == 0 || variant == 0);
		rg_t_seal_file(path, master, inner, len);
		err[0] = '\0';
		CHECKF(rg_keystore_open(path, master, err, sizeof(err)) == NULL,
		       "variant %d opened", variant);
		CHECKF(strstr(err, "bad contents") != NULL, "variant %d: %s",
		       variant, err);
	}
}

/* ---- format 2 ---- */

/* Format-2 files come from tests/ks_layout.c, which follows the layout
 * keystore.h documents without sharing code with the keystore. */
static void
rg_t_fill(uint8_t *k, uint8_t v)
{
	memset(k, v, 32);
}

/*
 * Two signing keys (1 retiring, 2 active), two KEKs (1 retiring, 2
 * active) and three data keys spread over them. mislabel: 0 for a good
 * file; 1 the clinics key carries the wrapping made for cases; 2 cases v1
 * claims KEK 2 though KEK 1 wrapped it.
 */
static void
rg_t_build_v2(const char *path, const uint8_t *master, int mislabel)
{
	uint8_t inner[2048], k[32], w[72], kek1[32], kek2[32];
	size_t len = 0;

	rg_t_fill(kek1, 0xa1);
	rg_t_fill(kek2, 0xa2);
	rg_t_fill(k, 0x11);
	len += rg_tks_item2(inner + len, 1, "gw.example", 1, 2, 1000, 5000, 0, k, 32);
	rg_t_fill(k, 0x22);
	len += rg_tks_item2(inner + len, 1, "gw.example", 2, 1, 2000, 0, 0, k, 32);
	rg_t_fill(k, 0xdb);
	len += rg_tks_item2(inner + len, 2, "", 1, 1, 1000, 0, 0, k, 32);
	len += rg_tks_item2(inner + len, 4, "", 1, 2, 1000, 0, 0, kek1, 32);
	len += rg_tks_item2(inner + len, 4, "", 2, 1, 2000, 0, 0, kek2, 32);
	rg_t_fill(k, 0xc1);
	rg_tks_wrap(kek1, "cases", 1, 1, k, w);
	len += rg_tks_item2(inner + len, 3, "cases", 1, 2, 1000, 0,
	                    mislabel == 2 ? 2 : 1, w, 72);
	rg_t_fill(k, 0xc2);
	rg_tks_wrap(kek2, "cases", 2, 2, k, w);
	len += rg_tks_item2(inner + len, 3, "cases", 2, 1, 2000, 0, 2, w, 72);
	rg_t_fill(k, 0xd1);
	if (mislabel == 1)
		rg_tks_wrap(kek2, "cases", 1, 2, k, w);
	else
		rg_tks_wrap(kek2, "clinics", 1, 2, k, w);
	len += rg_tks_item2(inner + len, 3, "clinics", 1, 1, 2000, 0, 2, w, 72);
	rg_tks_seal2(path, master, inner, len);
}

/* What rg_t_build_v2 put in, as the keystore must give it back. */
static void
rg_t_check_v2(const rg_keystore *ks)
{
	uint8_t seed[32], pk[32], sk[64], pub[32], want[32];
	struct rg_keystore_info in;
	const uint8_t *k;
	uint32_t version = 0;

	CHECK_EQ_INT(rg_keystore_format(ks), 2);
	CHECK_EQ_STR(rg_keystore_origin(ks), "gw.example");
	rg_t_fill(seed, 0x22);
	CHECK(crypto_sign_seed_keypair(pk, sk, seed) == 0);
	rg_sigkey_public(rg_keystore_signing_key(ks), pub);
	CHECK(memcmp(pub, pk, 32) == 0);
	rg_t_fill(seed, 0x11);
	CHECK(crypto_sign_seed_keypair(pk, sk, seed) == 0);
	CHECK(rg_keystore_signing_key_at(ks, 1) != NULL);
	rg_sigkey_public(rg_keystore_signing_key_at(ks, 1), pub);
	CHECK(memcmp(pub, pk, 32) == 0);
	CHECK(rg_keystore_signing_key_at(ks, 3) == NULL);
	rg_t_fill(want, 0xdb);
	CHECK(memcmp(rg_keystore_db_key(ks), want, 32) == 0);
	k = rg_keystore_data_key(ks, "cases", &version);
	rg_t_fill(want, 0xc2);
	CHECK_EQ_INT(version, 2);
	CHECK(k != NULL && memcmp(k, want, 32) == 0);
	k = rg_keystore_data_key_at(ks, "cases", 1);
	rg_t_fill(want, 0xc1);
	CHECK(k != NULL && memcmp(k, want, 32) == 0);
	k = rg_keystore_data_key_at(ks, "clinics", 1);
	rg_t_fill(want, 0xd1);
	CHECK(k != NULL && memcmp(k, want, 32) == 0);

	CHECK_EQ_INT(rg_keystore_count(ks), 8);
	CHECK(rg_keystore_info(ks, 8, &in) == -1);
	CHECK(rg_keystore_info(ks, 0, &in) == 0);
	CHECK_EQ_INT(in.purpose, RG_KEYSTORE_SIGNING);
	CHECK_EQ_INT(in.status, RG_KEYSTORE_RETIRING);
	CHECK_EQ_INT(in.created, 1000);
	CHECK_EQ_INT(in.not_after, 5000);
	CHECK(memcmp(in.pub, pk, 32) == 0);
	CHECK_EQ_INT(strlen(in.id), 8);
	CHECK(rg_keystore_info(ks, 4, &in) == 0);
	CHECK_EQ_INT(in.purpose, RG_KEYSTORE_KEK);
	CHECK_EQ_INT(in.version, 2);
	CHECK_EQ_STR(in.id, "kek-2");
	CHECK(rg_keystore_info(ks, 7, &in) == 0);
	CHECK_EQ_INT(in.purpose, RG_KEYSTORE_DATA);
	CHECK_EQ_STR(in.resource, "clinics");
	CHECK_EQ_INT(in.kek_version, 2);
	sodium_memzero(sk, sizeof(sk));
}

TEST(keystore_v2_keeps_signing_and_kek_versions_across_a_rewrite)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	rg_keystore_secret *s;
	rg_keystore *ks;
	uint8_t *buf;
	size_t len;

	rg_t_master(master, 12);
	rg_t_path(path, sizeof(path), "v2");
	rg_t_build_v2(path, master, 0);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_t_check_v2(ks);
	rg_keystore_free(ks);

	s = rg_keystore_secret_master(master);
	CHECK(s != NULL);
	CHECKF(rg_keystore_rewrite(path, s, s, err, sizeof(err)) == 0, "%s", err);
	rg_keystore_secret_free(s);
	buf = rg_t_slurp(path, &len);
	CHECK(memcmp(buf, "RGKS\x02\x01", 6) == 0);
	free(buf);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_t_check_v2(ks);
	rg_keystore_free(ks);
}

TEST(keystore_data_key_unwraps_only_in_its_own_place)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	rg_keystore *ks;

	rg_t_master(master, 13);
	rg_t_path(path, sizeof(path), "moved");
	/* The wrapping made for cases, put under clinics. */
	rg_t_build_v2(path, master, 1);
	CHECK(rg_keystore_open(path, master, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "does not unwrap") != NULL, "%s", err);
	/* Wrapped by KEK 1, labelled KEK 2 (which is a real KEK). */
	err[0] = '\0';
	rg_t_build_v2(path, master, 2);
	CHECK(rg_keystore_open(path, master, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "does not unwrap") != NULL, "%s", err);
	/* The good file opens: the two refusals were about the labels. */
	rg_t_build_v2(path, master, 0);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
}

TEST(keystore_v2_malformed_contents_are_refused)
{
	char path[512], err[256];
	uint8_t master[RG_KEYSTORE_MASTERLEN], inner[1024], k[32], w[72];
	size_t len;

	rg_t_master(master, 14);
	rg_t_path(path, sizeof(path), "bad2");
	rg_t_fill(k, 1);
	for (int variant = 0; variant < 5; variant++) {
		len = rg_tks_item2(inner, 2, "", 1, 1, 0, 0, 0, k, 32);
		switch (variant) {
		case 0:  /* two active signing keys */
			len += rg_tks_item2(inner + len, 1, "gw", 1, 1, 0, 0, 0, k, 32);
			len += rg_tks_item2(inner + len, 1, "gw", 2, 1, 0, 0, 0, k, 32);
			break;
		case 1:  /* a data key wrapped by a KEK that is not there */
			len += rg_tks_item2(inner + len, 1, "gw", 1, 1, 0, 0, 0, k, 32);
			rg_tks_wrap(k, "r", 1, 1, k, w);
			len += rg_tks_item2(inner + len, 3, "r", 1, 1, 0, 0, 1, w, 72);
			break;
		case 2:  /* destroyed but still holding bytes */
			len += rg_tks_item2(inner + len, 1, "gw", 1, 1, 0, 0, 0, k, 32);
			len += rg_tks_item2(inner + len, 4, "", 1, 4, 0, 0, 0, k, 32);
			break;
		case 3:  /* unknown status */
			len += rg_tks_item2(inner + len, 1, "gw", 1, 9, 0, 0, 0, k, 32);
			break;
		case 4:  /* signing keys of two origins */
			len += rg_tks_item2(inner + len, 1, "gw", 1, 1, 0, 0, 0, k, 32);
			len += rg_tks_item2(inner + len, 1, "gx", 2, 2, 0, 0, 0, k, 32);
			break;
		}
		rg_tks_seal2(path, master, inner, len);
		err[0] = '\0';
		CHECKF(rg_keystore_open(path, master, err, sizeof(err)) == NULL,
		       "variant %d opened", variant);
		CHECKF(strstr(err, "bad contents") != NULL, "variant %d: %s",
		       variant, err);
	}
}

/* A passphrase secret with libsodium's minimum Argon2id cost. */
static rg_keystore_secret *
rg_t_pass(const char *p)
{
	char err[256] = "";
	rg_keystore_secret *s = rg_keystore_secret_passphrase(p, strlen(p), err,
	                                                      sizeof(err));

	CHECKF(s != NULL, "%s", err);
	CHECK(rg_keystore_secret_set_cost(s, crypto_pwhash_OPSLIMIT_MIN,
	                                  crypto_pwhash_MEMLIMIT_MIN) == 0);
	return s;
}

TEST(keystore_passphrase_opens_it_and_a_wrong_one_is_refused)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	rg_keystore_secret *good = rg_t_pass("correct horse battery"),
	                   *bad = rg_t_pass("correct horse battery!");
	rg_keystore *ks;
	uint8_t *buf;
	size_t len;

	rg_t_path(path, sizeof(path), "pw");
	CHECKF(rg_keystore_create_secret(path, good, "gw", rg_t_resources, 3, err,
	                                 sizeof(err)) == 0, "%s", err);
	buf = rg_t_slurp(path, &len);
	CHECK(memcmp(buf, "RGKS\x02\x02", 6) == 0);
	CHECK(strstr((const char *)buf, "correct") == NULL);
	free(buf);
	CHECK_EQ_INT(rg_keystore_file_kdf(path, err, sizeof(err)),
	             RG_KEYSTORE_KDF_PASSPHRASE);
	ks = rg_keystore_open_secret(path, good, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK_EQ_INT(rg_keystore_kdf(ks), RG_KEYSTORE_KDF_PASSPHRASE);
	CHECK(rg_keystore_data_key(ks, "cases", NULL) != NULL);
	rg_keystore_free(ks);
	CHECK(rg_keystore_open_secret(path, bad, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "wrong passphrase or damaged file") != NULL, "%s", err);
	/* A key file's bytes are not a passphrase. */
	rg_t_master(master, 1);
	CHECK(rg_keystore_open(path, master, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "protected by a passphrase") != NULL, "%s", err);
	rg_keystore_secret_free(good);
	rg_keystore_secret_free(bad);
	/* Cost outside what libsodium accepts, or what we bound. */
	good = rg_t_pass("x");
	CHECK(rg_keystore_secret_set_cost(good, 0, crypto_pwhash_MEMLIMIT_MIN) ==
	      -1);
	CHECK(rg_keystore_secret_set_cost(good, 3, (size_t)4 << 30) == -1);
	rg_keystore_secret_free(good);
}

TEST(keystore_passphrase_is_read_from_a_descriptor_up_to_the_newline)
{
	char path[512], err[256] = "", rest[16] = "";
	rg_keystore_secret *s = rg_t_pass("from a pipe"), *r;
	rg_keystore *ks;
	int p[2];

	rg_t_path(path, sizeof(path), "pwfd");
	CHECK(rg_keystore_create_secret(path, s, "gw", NULL, 0, err,
	                                sizeof(err)) == 0);
	rg_keystore_secret_free(s);
	CHECK(pipe(p) == 0);
	CHECK(write(p[1], "from a pipe\nrest", 16) == 16);
	CHECK(close(p[1]) == 0);
	r = rg_keystore_secret_passphrase_fd(p[0], err, sizeof(err));
	CHECKF(r != NULL, "%s", err);
	CHECK_EQ_INT(rg_keystore_secret_len(r), 11);
	ks = rg_keystore_open_secret(path, r, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	rg_keystore_secret_free(r);
	/* Nothing after the newline was consumed. */
	CHECK(read(p[0], rest, sizeof(rest)) == 4);
	CHECK(memcmp(rest, "rest", 4) == 0);
	/* At end of file now: an empty passphrase is refused. */
	CHECK(rg_keystore_secret_passphrase_fd(p[0], err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "empty passphrase") != NULL, "%s", err);
	close(p[0]);
}

TEST(keystore_v1_file_opens_and_rewrite_upgrades_it)
{
	char path[512], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN], inner[512], want[32], pub1[32];
	uint8_t pub2[32];
	struct rg_keystore_info in;
	rg_keystore_secret *s;
	rg_keystore *ks;
	uint32_t version = 0;
	uint8_t *buf;
	size_t len = 0, i, nkek = 0;

	rg_t_master(master, 15);
	rg_t_path(path, sizeof(path), "v1");
	len += rg_t_item(inner + len, 1, "gw.example", 1, 32, 0x5e);
	len += rg_t_item(inner + len, 2, "", 1, 32, 0xdb);
	len += rg_t_item(inner + len, 3, "cases", 1, 32, 0xc1);
	len += rg_t_item(inner + len, 3, "cases", 2, 32, 0xc2);
	rg_t_seal_file(path, master, inner, len);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK_EQ_INT(rg_keystore_format(ks), 1);
	rg_sigkey_public(rg_keystore_signing_key(ks), pub1);
	rg_keystore_free(ks);

	s = rg_keystore_secret_master(master);
	CHECKF(rg_keystore_rewrite(path, s, s, err, sizeof(err)) == 0, "%s", err);
	rg_keystore_secret_free(s);
	buf = rg_t_slurp(path, &len);
	CHECK(memcmp(buf, "RGKS\x02\x01", 6) == 0);
	free(buf);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK_EQ_INT(rg_keystore_format(ks), 2);
	rg_sigkey_public(rg_keystore_signing_key(ks), pub2);
	CHECK(memcmp(pub1, pub2, 32) == 0);
	memset(want, 0xdb, 32);
	CHECK(memcmp(rg_keystore_db_key(ks), want, 32) == 0);
	memset(want, 0xc2, 32);
	CHECK(memcmp(rg_keystore_data_key(ks, "cases", &version), want, 32) == 0);
	CHECK_EQ_INT(version, 2);
	memset(want, 0xc1, 32);
	CHECK(memcmp(rg_keystore_data_key_at(ks, "cases", 1), want, 32) == 0);
	for (i = 0; rg_keystore_info(ks, i, &in) == 0; i++) {
		if (in.purpose == RG_KEYSTORE_KEK)
			nkek++;
		if (in.purpose == RG_KEYSTORE_DATA)
			CHECK_EQ_INT(in.kek_version, 1);
	}
	CHECK_EQ_INT(nkek, 1);
	rg_keystore_free(ks);
}

/* A file's bytes, for comparing before and after. */
static int
rg_t_same_file(const char *a, const uint8_t *b, size_t blen)
{
	size_t len;
	uint8_t *buf = rg_t_slurp(a, &len);
	int same = len == blen && memcmp(buf, b, len) == 0;

	free(buf);
	return same;
}

TEST(keystore_crash_during_rewrite_leaves_the_old_or_the_new_file)
{
	static const int points[] = {RG_KEYSTORE_FAULT_PARTIAL_TEMP,
	                             RG_KEYSTORE_FAULT_BEFORE_RENAME,
	                             RG_KEYSTORE_FAULT_AFTER_RENAME};
	char path[512], err[256] = "";
	uint8_t a[RG_KEYSTORE_MASTERLEN], b[RG_KEYSTORE_MASTERLEN], db[32];
	rg_keystore_secret *sa, *sb;
	rg_keystore *ks;

	rg_t_master(a, 16);
	rg_t_master(b, 17);
	sa = rg_keystore_secret_master(a);
	sb = rg_keystore_secret_master(b);
	rg_t_create(path, sizeof(path), a);
	ks = rg_keystore_open(path, a, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	memcpy(db, rg_keystore_db_key(ks), 32);
	rg_keystore_free(ks);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		int renamed = points[i] == RG_KEYSTORE_FAULT_AFTER_RENAME;
		const uint8_t *now = renamed ? b : a, *gone = renamed ? a : b;

		rg_keystore_test_fault(points[i]);
		CHECK(rg_keystore_rewrite(path, sa, sb, err, sizeof(err)) == -1);
		CHECKF(strstr(err, "injected fault") != NULL, "%s", err);
		/* Reopen as after a restart: one of the two, whole. */
		ks = rg_keystore_open(path, now, err, sizeof(err));
		CHECKF(ks != NULL, "point %d: %s", points[i], err);
		CHECK(memcmp(rg_keystore_db_key(ks), db, 32) == 0);
		rg_keystore_free(ks);
		CHECK(rg_keystore_open(path, gone, err, sizeof(err)) == NULL);
		/* Back to a, past any temporary file the crash left. */
		if (renamed)
			CHECKF(rg_keystore_rewrite(path, sb, sa, err, sizeof(err)) == 0,
			       "%s", err);
	}
	/* The seam disarmed itself: an ordinary rewrite goes through. */
	CHECKF(rg_keystore_rewrite(path, sa, sb, err, sizeof(err)) == 0, "%s", err);
	ks = rg_keystore_open(path, b, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	rg_keystore_secret_free(sa);
	rg_keystore_secret_free(sb);
}

TEST(keystore_master_secret_change_keeps_every_key)
{
	char path[512], err[256] = "";
	uint8_t a[RG_KEYSTORE_MASTERLEN], b[RG_KEYSTORE_MASTERLEN];
	uint8_t pub[32], pub2[32], db[32], sealed[64 + RG_SEAL_OVERHEAD];
	uint8_t plain[64], *before;
	struct rg_seal_ad ad = {"cases", "r-1", 1, 1};
	rg_keystore_secret *sa, *sp, *sb;
	rg_keystore *ks;
	size_t blen;
	uint32_t v = 0;

	rg_t_master(a, 18);
	rg_t_master(b, 19);
	sa = rg_keystore_secret_master(a);
	sb = rg_keystore_secret_master(b);
	sp = rg_t_pass("a new passphrase");
	rg_t_create(path, sizeof(path), a);
	ks = rg_keystore_open(path, a, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_sigkey_public(rg_keystore_signing_key(ks), pub);
	memcpy(db, rg_keystore_db_key(ks), 32);
	memset(plain, 'p', sizeof(plain));
	CHECK(rg_seal(rg_keystore_data_key(ks, "cases", &v), &ad, plain,
	              sizeof(plain), sealed) == 0);
	rg_keystore_free(ks);

	/* A wrong old secret changes nothing. */
	before = rg_t_slurp(path, &blen);
	CHECK(rg_keystore_rewrite(path, sb, sp, err, sizeof(err)) == -1);
	CHECK(strstr(err, "wrong master secret") != NULL);
	CHECK(rg_t_same_file(path, before, blen));
	free(before);

	/* Key file -> passphrase -> another key file. */
	CHECKF(rg_keystore_rewrite(path, sa, sp, err, sizeof(err)) == 0, "%s", err);
	CHECK(rg_keystore_open(path, a, err, sizeof(err)) == NULL);
	for (int round = 0; round < 2; round++) {
		ks = rg_keystore_open_secret(path, round == 0 ? sp : sb, err,
		                             sizeof(err));
		CHECKF(ks != NULL, "round %d: %s", round, err);
		rg_sigkey_public(rg_keystore_signing_key(ks), pub2);
		CHECK(memcmp(pub, pub2, 32) == 0);
		CHECK(memcmp(rg_keystore_db_key(ks), db, 32) == 0);
		memset(plain, 0, sizeof(plain));
		CHECK(rg_open(rg_keystore_data_key_at(ks, "cases", 1), &ad, sealed,
		              sizeof(sealed), plain) == 0);
		CHECK(plain[0] == 'p' && plain[63] == 'p');
		rg_keystore_free(ks);
		if (round == 0)
			CHECKF(rg_keystore_rewrite(path, sp, sb, err, sizeof(err)) ==
			       0, "%s", err);
	}
	CHECK(rg_keystore_open_secret(path, sp, err, sizeof(err)) == NULL);
	CHECK(rg_keystore_open(path, a, err, sizeof(err)) == NULL);
	rg_keystore_secret_free(sa);
	rg_keystore_secret_free(sb);
	rg_keystore_secret_free(sp);
}

TEST(keystore_second_concurrent_rewrite_is_refused)
{
	char path[512], err[256] = "";
	uint8_t a[RG_KEYSTORE_MASTERLEN], b[RG_KEYSTORE_MASTERLEN], *before;
	rg_keystore_secret *sa, *sb;
	size_t blen;
	int dfd;

	rg_t_master(a, 20);
	rg_t_master(b, 21);
	sa = rg_keystore_secret_master(a);
	sb = rg_keystore_secret_master(b);
	rg_t_create(path, sizeof(path), a);
	before = rg_t_slurp(path, &blen);
	/* Another rewrite holds the directory's lock. */
	dfd = open(rg_test_tmpdir(), O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	CHECK(flock(dfd, LOCK_EX) == 0);
	CHECK(rg_keystore_rewrite(path, sa, sb, err, sizeof(err)) == -1);
	CHECKF(strstr(err, "another rewrite is in progress") != NULL, "%s", err);
	CHECK(rg_t_same_file(path, before, blen));
	close(dfd);
	CHECKF(rg_keystore_rewrite(path, sa, sb, err, sizeof(err)) == 0, "%s", err);
	CHECK(!rg_t_same_file(path, before, blen));
	free(before);
	rg_keystore_secret_free(sa);
	rg_keystore_secret_free(sb);
}
