/*
 * test_keystore.c -- the sealed key file: round trips, refusal of a wrong
 * master secret and of any damaged byte, atomic create, and the rules for
 * the master secret file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"
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
