/*
 * test_keystore_master.c -- master secrets as the master they derive (the
 * online change): a passphrase derived with a fresh salt seals and opens
 * with no passphrase in hand, a derived secret opens only the file whose
 * salt and cost it was made for, the parts export and come back, and the
 * sealed message (gateway/master_box.c) opens only with the signing key it
 * was sealed to and refuses any changed byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keystore.h"
#include "crypto/sig.h"
#include "gateway/master_box.h"
#include "tests/test.h"

static const char *const ms_resources[] = {"cases", "clinics"};

static rg_keystore_secret *
ms_pass(const char *text)
{
	char err[256];
	rg_keystore_secret *s = rg_keystore_secret_passphrase(text, strlen(text),
	                                                      err, sizeof(err));

	CHECKF(s != NULL, "%s", err);
	/* libsodium's minimum cost keeps the tests fast. */
	CHECK(rg_keystore_secret_set_cost(s, crypto_pwhash_OPSLIMIT_MIN,
	                                  crypto_pwhash_MEMLIMIT_MIN) == 0);
	return s;
}

static void
ms_path(char *buf, size_t len, const char *name)
{
	CHECK(snprintf(buf, len, "%s/%s", rg_test_tmpdir(), name) < (int)len);
}

TEST(derived_passphrase_seals_and_opens_a_keystore_like_the_passphrase)
{
	char path[600], err[512];
	rg_keystore_secret *pass = ms_pass("correct horse battery"), *d, *again;
	struct rg_keystore_kdf p, fp;
	uint8_t *master = sodium_malloc(RG_KEYSTORE_MASTERLEN);
	rg_keystore *ks;

	CHECK(master != NULL);
	ms_path(path, sizeof(path), "ks");
	d = rg_keystore_secret_derive(pass, err, sizeof(err));
	CHECKF(d != NULL, "%s", err);
	CHECK_EQ_INT(rg_keystore_secret_kind(d), RG_KEYSTORE_KDF_PASSPHRASE);
	CHECK(rg_keystore_secret_export(d, master, &p) == 0);
	CHECK_EQ_INT((int)p.ops, (int)crypto_pwhash_OPSLIMIT_MIN);
	CHECK(!sodium_is_zero(p.salt, sizeof(p.salt)));
	/* Sealed under the derived secret: the header carries its salt and
	 * cost, and the passphrase itself opens the file. */
	CHECKF(rg_keystore_create_secret(path, d, "t.example/log", ms_resources,
	                                 2, err, sizeof(err)) == 0, "%s", err);
	CHECK(rg_keystore_file_kdf_params(path, &fp, err, sizeof(err)) == 0);
	CHECK_EQ_INT(fp.kind, RG_KEYSTORE_KDF_PASSPHRASE);
	CHECK(memcmp(fp.salt, p.salt, sizeof(p.salt)) == 0);
	CHECK(fp.ops == p.ops && fp.mem == p.mem);
	ks = rg_keystore_open_secret(path, pass, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	ks = rg_keystore_open_secret(path, d, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	/* Rewritten under the derived secret (as the keeper's rotations do):
	 * the same salt again, still the passphrase's. */
	CHECK(rg_keystore_rewrite(path, d, d, err, sizeof(err)) == 0);
	CHECK(rg_keystore_file_kdf_params(path, &fp, err, sizeof(err)) == 0);
	CHECK(memcmp(fp.salt, p.salt, sizeof(p.salt)) == 0);
	/* The parts make the same secret again. */
	again = rg_keystore_secret_derived(master, &p, err, sizeof(err));
	CHECKF(again != NULL, "%s", err);
	ks = rg_keystore_open_secret(path, again, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	/* A derived secret's cost is fixed. */
	CHECK(rg_keystore_secret_set_cost(d, crypto_pwhash_OPSLIMIT_MIN,
	                                  crypto_pwhash_MEMLIMIT_MIN) == -1);
	/* The passphrase before derivation has no master to export. */
	CHECK(rg_keystore_secret_export(pass, master, &p) == -1);
	rg_keystore_secret_free(again);
	rg_keystore_secret_free(d);
	rg_keystore_secret_free(pass);
	sodium_free(master);
}

TEST(derived_secret_opens_only_the_file_its_salt_was_made_for)
{
	char path[600], err[512];
	rg_keystore_secret *pass = ms_pass("the same passphrase"), *d1, *d2;
	rg_keystore *ks;

	ms_path(path, sizeof(path), "ks");
	d1 = rg_keystore_secret_derive(pass, err, sizeof(err));
	d2 = rg_keystore_secret_derive(pass, err, sizeof(err));
	CHECK(d1 != NULL && d2 != NULL);
	CHECKF(rg_keystore_create_secret(path, d1, "t.example/log", ms_resources,
	                                 2, err, sizeof(err)) == 0, "%s", err);
	/* Same passphrase, another salt: refused, and the error says why. */
	CHECK(rg_keystore_open_secret(path, d2, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "another salt") != NULL, "%s", err);
	/* derive_for takes the file's own salt: it opens. */
	rg_keystore_secret_free(d2);
	d2 = rg_keystore_secret_derive_for(path, pass, err, sizeof(err));
	CHECKF(d2 != NULL, "%s", err);
	ks = rg_keystore_open_secret(path, d2, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	rg_keystore_secret_free(d1);
	rg_keystore_secret_free(d2);
	rg_keystore_secret_free(pass);
}

TEST(derived_secrets_refuse_the_wrong_kind_and_out_of_range_costs)
{
	char path[600], err[512];
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	struct rg_keystore_kdf p;
	rg_keystore_secret *kf, *pass = ms_pass("a passphrase here"), *d;

	memset(master, 0x5a, sizeof(master));
	ms_path(path, sizeof(path), "ks");
	CHECK(rg_keystore_create(path, master, "t.example/log", ms_resources, 2,
	                         err, sizeof(err)) == 0);
	/* A passphrase for a key-file keystore: the file wants the other. */
	CHECK(rg_keystore_secret_derive_for(path, pass, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "master key file") != NULL, "%s", err);
	/* A key file derives to itself. */
	kf = rg_keystore_secret_master(master);
	d = rg_keystore_secret_derive_for(path, kf, err, sizeof(err));
	CHECKF(d != NULL, "%s", err);
	memset(master, 0, sizeof(master));
	CHECK(rg_keystore_secret_export(d, master, &p) == 0);
	CHECK_EQ_INT(p.kind, RG_KEYSTORE_KDF_KEYFILE);
	CHECK(master[0] == 0x5a && p.ops == 0 && sodium_is_zero(p.salt, 16));
	rg_keystore_secret_free(d);
	/* Costs the file header would refuse, and unknown kinds. */
	p.kind = RG_KEYSTORE_KDF_PASSPHRASE;
	p.ops = 17;
	p.mem = crypto_pwhash_MEMLIMIT_MIN;
	CHECK(rg_keystore_secret_derived(master, &p, err, sizeof(err)) == NULL);
	p.ops = 3;
	p.mem = (uint64_t)2 << 30;
	CHECK(rg_keystore_secret_derived(master, &p, err, sizeof(err)) == NULL);
	p.kind = 3;
	CHECK(rg_keystore_secret_derived(master, &p, err, sizeof(err)) == NULL);
	rg_keystore_secret_free(kf);
	rg_keystore_secret_free(pass);
}

TEST(master_box_opens_only_with_its_signing_key_and_refuses_changes)
{
	struct rg_master_change *c = sodium_malloc(sizeof(*c));
	struct rg_master_change *got = sodium_malloc(sizeof(*got));
	rg_sigkey *key = rg_sigkey_generate(), *other = rg_sigkey_generate();
	uint8_t pub[RG_SIG_PUBLEN];
	char *b64;
	size_t len;

	CHECK(c != NULL && got != NULL && key != NULL && other != NULL);
	memset(c, 0, sizeof(*c));
	c->next.kind = RG_KEYSTORE_KDF_PASSPHRASE;
	c->next.ops = 3;
	c->next.mem = 1 << 20;
	randombytes_buf(c->next.salt, sizeof(c->next.salt));
	randombytes_buf(c->next_master, sizeof(c->next_master));
	randombytes_buf(c->current_master, sizeof(c->current_master));
	randombytes_buf(c->file_sha256, sizeof(c->file_sha256));
	rg_sigkey_public(key, pub);
	CHECK((b64 = rg_master_box_seal(c, pub)) != NULL);
	len = strlen(b64);
	CHECK(rg_master_box_open(b64, len, key, got) == 0);
	CHECK(got->next.kind == c->next.kind && got->next.ops == 3 &&
	      got->next.mem == (1 << 20));
	CHECK(memcmp(got->next.salt, c->next.salt, 16) == 0);
	CHECK(sodium_memcmp(got->next_master, c->next_master, 32) == 0);
	CHECK(sodium_memcmp(got->current_master, c->current_master, 32) == 0);
	CHECK(memcmp(got->file_sha256, c->file_sha256, 32) == 0);
	/* Another key: does not open, and nothing is left in got. */
	CHECK(rg_master_box_open(b64, len, other, got) == -1);
	CHECK(sodium_is_zero((const uint8_t *)got, sizeof(*got)));
	/* Any changed character, a truncated or a longer text. */
	for (size_t i = 0; i + 2 < len; i += 7) {
		char saved = b64[i];

		b64[i] = saved == 'A' ? 'B' : 'A';
		CHECKF(rg_master_box_open(b64, len, key, got) == -1, "byte %zu", i);
		b64[i] = saved;
	}
	CHECK(rg_master_box_open(b64, len - 4, key, got) == -1);
	CHECK(rg_master_box_open(b64, len, key, got) == 0);
	free(b64);
	/* A key file with a cost or salt is malformed. */
	c->next.kind = RG_KEYSTORE_KDF_KEYFILE;
	CHECK((b64 = rg_master_box_seal(c, pub)) != NULL);
	CHECK(rg_master_box_open(b64, strlen(b64), key, got) == -1);
	free(b64);
	c->next.ops = c->next.mem = 0;
	memset(c->next.salt, 0, 16);
	CHECK((b64 = rg_master_box_seal(c, pub)) != NULL);
	CHECK(rg_master_box_open(b64, strlen(b64), key, got) == 0);
	free(b64);
	rg_sigkey_free(key);
	rg_sigkey_free(other);
	sodium_free(c);
	sodium_free(got);
}
