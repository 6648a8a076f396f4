/*
 * test_keystore_dbkey.c -- the keystore's two steps of a database rekey:
 * a new database key active with the old one kept retiring (both readable,
 * nothing else changed), then settling on the one the database is under,
 * the other destroyed (its bytes gone from the file), whichever it is.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"
#include "tests/test.h"

static const char *const rg_t_dres[] = {"hazard", "cases"};

static rg_keystore_secret *
rg_t_dbk_new(char *path, size_t len)
{
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	rg_keystore_secret *s;
	char err[256];

	randombytes_buf(master, sizeof(master));
	CHECK(snprintf(path, len, "%s/keystore", rg_test_tmpdir()) < (int)len);
	CHECKF(rg_keystore_create(path, master, "test.example/log", rg_t_dres, 2,
	                          err, sizeof(err)) == 0, "%s", err);
	s = rg_keystore_secret_master(master);
	sodium_memzero(master, sizeof(master));
	CHECK(s != NULL);
	return s;
}

/* The status of database key version v in ks (0 when absent). */
static int
rg_t_dbk_status(const rg_keystore *ks, uint32_t v)
{
	struct rg_keystore_info in;

	for (size_t i = 0; rg_keystore_info(ks, i, &in) == 0; i++)
		if (in.purpose == RG_KEYSTORE_DATABASE && in.version == v)
			return in.status;
	return 0;
}

TEST(keystore_db_rotation_keeps_the_old_key_until_settled_on_the_new)
{
	char path[512], err[256];
	uint8_t k1[32], k2[32], d1[32];
	rg_keystore_secret *s = rg_t_dbk_new(path, sizeof(path));
	rg_keystore *ks, *r, *again;
	uint32_t v = 0, pv = 0;

	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK_EQ_INT(rg_keystore_db_version(ks), 1);
	CHECK(rg_keystore_db_previous(ks, NULL) == NULL);
	memcpy(k1, rg_keystore_db_key(ks), 32);
	memcpy(d1, rg_keystore_data_key(ks, "hazard", NULL), 32);
	rg_keystore_free(ks);

	r = rg_keystore_rotate_db(path, s, &v, err, sizeof(err));
	CHECKF(r != NULL, "%s", err);
	CHECK_EQ_INT(v, 2);
	CHECK_EQ_INT(rg_keystore_db_version(r), 2);
	memcpy(k2, rg_keystore_db_key(r), 32);
	CHECK(sodium_memcmp(k1, k2, 32) != 0);
	CHECK(rg_keystore_db_previous(r, &pv) != NULL);
	CHECK_EQ_INT(pv, 1);
	CHECK(sodium_memcmp(rg_keystore_db_previous(r, NULL), k1, 32) == 0);
	CHECK_EQ_INT(rg_t_dbk_status(r, 1), RG_KEYSTORE_RETIRING);
	/* Nothing else changed. */
	CHECK(sodium_memcmp(rg_keystore_data_key(r, "hazard", NULL), d1, 32) == 0);
	rg_keystore_free(r);
	/* The file says the same, and a second rekey waits for this one. */
	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK(sodium_memcmp(rg_keystore_db_key(ks), k2, 32) == 0);
	CHECK(sodium_memcmp(rg_keystore_db_previous(ks, NULL), k1, 32) == 0);
	rg_keystore_free(ks);
	again = rg_keystore_rotate_db(path, s, &v, err, sizeof(err));
	CHECK(again == NULL);
	CHECKF(strstr(err, "unfinished") != NULL, "%s", err);

	/* Settled on the new key: the old one destroyed. */
	r = rg_keystore_db_settle(path, s, 2, err, sizeof(err));
	CHECKF(r != NULL, "%s", err);
	rg_keystore_free(r);
	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	CHECK(sodium_memcmp(rg_keystore_db_key(ks), k2, 32) == 0);
	CHECK(rg_keystore_db_previous(ks, NULL) == NULL);
	CHECK_EQ_INT(rg_t_dbk_status(ks, 1), RG_KEYSTORE_DESTROYED);
	CHECK_EQ_INT(rg_t_dbk_status(ks, 2), RG_KEYSTORE_ACTIVE);
	rg_keystore_free(ks);
	/* A version that is not there cannot be settled on. */
	CHECK(rg_keystore_db_settle(path, s, 7, err, sizeof(err)) == NULL);
	rg_keystore_secret_free(s);
}

TEST(keystore_db_rotation_settled_on_the_old_key_destroys_the_new)
{
	char path[512], err[256];
	uint8_t k1[32];
	rg_keystore_secret *s = rg_t_dbk_new(path, sizeof(path));
	rg_keystore *ks, *r;
	uint32_t v = 0;

	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	memcpy(k1, rg_keystore_db_key(ks), 32);
	rg_keystore_free(ks);
	r = rg_keystore_rotate_db(path, s, &v, err, sizeof(err));
	CHECKF(r != NULL, "%s", err);
	rg_keystore_free(r);
	/* The copy failed: back to key 1; version 2 is spent, never reused. */
	r = rg_keystore_db_settle(path, s, 1, err, sizeof(err));
	CHECKF(r != NULL, "%s", err);
	CHECK_EQ_INT(rg_keystore_db_version(r), 1);
	CHECK(sodium_memcmp(rg_keystore_db_key(r), k1, 32) == 0);
	CHECK(rg_keystore_db_previous(r, NULL) == NULL);
	CHECK_EQ_INT(rg_t_dbk_status(r, 2), RG_KEYSTORE_DESTROYED);
	rg_keystore_free(r);
	r = rg_keystore_rotate_db(path, s, &v, err, sizeof(err));
	CHECKF(r != NULL, "%s", err);
	CHECK_EQ_INT(v, 3);
	rg_keystore_free(r);
	rg_keystore_secret_free(s);
}
