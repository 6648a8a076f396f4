/*
 * test_b64.c -- strict base64 (crypto/b64.c): what RFC 4648 section 4
 * allows is decoded, anything else refused, among it the bytes with the
 * high bit set that libsodium 1.0.18's decoder alone takes for letters.
 */
#include <string.h>

#include "crypto/b64.h"
#include "tests/test.h"

static int
b64(const char *s, uint8_t *out, size_t outmax, size_t *outlen)
{
	return rg_b64_decode(s, strlen(s), out, outmax, outlen);
}

TEST(b64_decodes_padded_base64_exactly)
{
	uint8_t out[32];
	size_t n;

	CHECK_EQ_INT(b64("aGVsbG8=", out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	CHECK_EQ_INT(b64("aGk=", out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(b64("aGVsbG8hIQ==", out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 7);
	CHECK_EQ_INT(b64("", out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(b64("+/+/", out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 3);
}

TEST(b64_refuses_what_is_not_base64)
{
	static const char *const bad[] = {
	    "aGVsbG8",     /* not a multiple of four */
	    "aGV=bG8=",    /* padding inside */
	    "a===",        /* three pads */
	    "====",
	    "aGVs bG8=",   /* white space */
	    "aGVsbG8\n",
	    "aGk-",        /* the URL-safe alphabet */
	    "aGk_",
	    "aGk=aGk=",    /* two padded groups */
	};
	uint8_t out[32];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(b64(bad[i], out, sizeof(out), &n) != 0, "%s", bad[i]);
	/* Too long for the room. */
	CHECK(b64("aGVsbG8=", out, 4, &n) != 0);
}

TEST(b64_refuses_every_byte_with_the_high_bit_set)
{
	uint8_t out[8];
	size_t n;

	for (int c = 0x80; c <= 0xff; c++) {
		char s[5] = {'A', 'A', 'A', (char)c, '\0'};
		char t[5] = {(char)c, 'A', 'A', 'A', '\0'};

		CHECKF(rg_b64_decode(s, 4, out, sizeof(out), &n) != 0, "%02x", c);
		CHECKF(rg_b64_decode(t, 4, out, sizeof(out), &n) != 0, "%02x", c);
	}
	/* And NUL inside the given length. */
	CHECK(rg_b64_decode("AA\0A", 4, out, sizeof(out), &n) != 0);
}
