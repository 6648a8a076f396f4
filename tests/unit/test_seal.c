/*
 * test_seal.c -- record envelopes open only with the right key, at the
 * right place (resource, record, version, key version), and untouched.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/seal.h"
#include "tests/test.h"

static const uint8_t rg_t_plain[] =
    "{\"name\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"diagnosis\":\"silicosis\"}";
#define RG_T_PLEN (sizeof(rg_t_plain) - 1)

static void
rg_t_seal(uint8_t key[RG_SEAL_KEYLEN], struct rg_seal_ad *ad,
          uint8_t sealed[RG_T_PLEN + RG_SEAL_OVERHEAD])
{
	randombytes_buf(key, RG_SEAL_KEYLEN);
	*ad = (struct rg_seal_ad){"hrss.injury", "rec-0001", 3, 1};
	CHECK_EQ_INT(rg_seal(key, ad, rg_t_plain, RG_T_PLEN, sealed), 0);
}

TEST(seal_then_open_round_trips)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad;

	rg_t_seal(key, &ad, sealed);
	CHECK_EQ_INT(rg_open(key, &ad, sealed, sizeof(sealed), out), 0);
	CHECK(memcmp(out, rg_t_plain, RG_T_PLEN) == 0);
}

TEST(seal_uses_a_fresh_nonce_each_time)
{
	uint8_t key[RG_SEAL_KEYLEN], a[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t b[RG_T_PLEN + RG_SEAL_OVERHEAD];
	struct rg_seal_ad ad;

	rg_t_seal(key, &ad, a);
	CHECK_EQ_INT(rg_seal(key, &ad, rg_t_plain, RG_T_PLEN, b), 0);
	CHECK(memcmp(a, b, 24) != 0);
	CHECK(memcmp(a + 24, b + 24, sizeof(a) - 24) != 0);
}

TEST(seal_refuses_any_flipped_byte)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad;

	rg_t_seal(key, &ad, sealed);
	/* Nonce, ciphertext and tag are all covered. */
	for (size_t i = 0; i < sizeof(sealed); i++) {
		sealed[i] ^= 0x01;
		memset(out, 0xAA, sizeof(out));
		CHECKF(rg_open(key, &ad, sealed, sizeof(sealed), out) == -1,
		       "byte %zu", i);
		/* No plaintext of a forged blob is left behind. */
		for (size_t j = 0; j < sizeof(out); j++)
			CHECK(out[j] == 0);
		sealed[i] ^= 0x01;
	}
	CHECK_EQ_INT(rg_open(key, &ad, sealed, sizeof(sealed), out), 0);
}

TEST(seal_refuses_wrong_key)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad;

	rg_t_seal(key, &ad, sealed);
	key[0] ^= 0x80;
	CHECK_EQ_INT(rg_open(key, &ad, sealed, sizeof(sealed), out), -1);
}

TEST(seal_refuses_body_moved_to_other_resource)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad, moved;

	rg_t_seal(key, &ad, sealed);
	moved = ad;
	moved.resource = "civil.assistance";
	CHECK_EQ_INT(rg_open(key, &moved, sealed, sizeof(sealed), out), -1);
}

TEST(seal_refuses_body_moved_to_other_record)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad, moved;

	rg_t_seal(key, &ad, sealed);
	moved = ad;
	moved.record_id = "rec-0002";
	CHECK_EQ_INT(rg_open(key, &moved, sealed, sizeof(sealed), out), -1);
}

TEST(seal_refuses_boundary_shift_between_resource_and_record)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad = {"ab", "c", 1, 1}, shifted = {"a", "bc", 1, 1};

	randombytes_buf(key, sizeof(key));
	CHECK_EQ_INT(rg_seal(key, &ad, rg_t_plain, RG_T_PLEN, sealed), 0);
	CHECK_EQ_INT(rg_open(key, &shifted, sealed, sizeof(sealed), out), -1);
	CHECK_EQ_INT(rg_open(key, &ad, sealed, sizeof(sealed), out), 0);
}

TEST(seal_refuses_body_replayed_as_other_version)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad, other;

	rg_t_seal(key, &ad, sealed);
	other = ad;
	other.version = 4;
	CHECK_EQ_INT(rg_open(key, &other, sealed, sizeof(sealed), out), -1);
	/* High bits of the 64-bit version count too. */
	other.version = ad.version | (1ULL << 40);
	CHECK_EQ_INT(rg_open(key, &other, sealed, sizeof(sealed), out), -1);
}

TEST(seal_refuses_other_key_version)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad, other;

	rg_t_seal(key, &ad, sealed);
	other = ad;
	other.key_version = 2;
	CHECK_EQ_INT(rg_open(key, &other, sealed, sizeof(sealed), out), -1);
}

TEST(seal_refuses_short_or_truncated_blob)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	uint8_t out[RG_T_PLEN];
	struct rg_seal_ad ad;

	rg_t_seal(key, &ad, sealed);
	CHECK_EQ_INT(rg_open(key, &ad, sealed, 0, out), -1);
	CHECK_EQ_INT(rg_open(key, &ad, sealed, RG_SEAL_OVERHEAD - 1, out), -1);
	CHECK_EQ_INT(rg_open(key, &ad, sealed, RG_SEAL_OVERHEAD, out), -1);
	CHECK_EQ_INT(rg_open(key, &ad, sealed, sizeof(sealed) - 1, out), -1);
}

TEST(seal_handles_empty_plaintext)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_SEAL_OVERHEAD], out[1];
	struct rg_seal_ad ad = {"r", "i", 0, 0}, other = {"r", "j", 0, 0};

	randombytes_buf(key, sizeof(key));
	CHECK_EQ_INT(rg_seal(key, &ad, NULL, 0, sealed), 0);
	CHECK_EQ_INT(rg_open(key, &ad, sealed, sizeof(sealed), out), 0);
	/* Even an empty body is bound to its place. */
	CHECK_EQ_INT(rg_open(key, &other, sealed, sizeof(sealed), out), -1);
}

TEST(seal_refuses_missing_place)
{
	uint8_t key[RG_SEAL_KEYLEN], sealed[RG_T_PLEN + RG_SEAL_OVERHEAD];
	struct rg_seal_ad ad = {NULL, "rec", 1, 1};

	randombytes_buf(key, sizeof(key));
	CHECK_EQ_INT(rg_seal(key, &ad, rg_t_plain, RG_T_PLEN, sealed), -1);
	CHECK_EQ_INT(rg_seal(key, NULL, rg_t_plain, RG_T_PLEN, sealed), -1);
}
