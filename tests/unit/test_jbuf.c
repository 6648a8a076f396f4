/*
 * test_jbuf.c -- JSON written and read without a tree (gateway/jbuf.c)
 * gives the very bytes jansson's canonical dump gives, and refuses any
 * text it could not copy exactly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "gateway/jbuf.h"
#include "tests/test.h"

#define CANON (JSON_COMPACT | JSON_SORT_KEYS)

TEST(jbuf_strings_are_escaped_exactly_as_jansson_dumps_them)
{
	static const char *const cases[] = {
		"", "plain", "quote \" and backslash \\ and slash /",
		"tab\tnewline\nreturn\rbackspace\bformfeed\f",
		"\x01\x02\x1f control", "职业病危害 UTF-8 é", "\x7f del"};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct rg_jbuf b = {0};
		json_t *s = json_string(cases[i]);
		char *want = json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY), *got;
		size_t len;

		CHECK(want != NULL);
		rg_jbuf_str(&b, cases[i]);
		CHECK((got = rg_jbuf_take(&b, &len)) != NULL);
		CHECK_EQ_STR(got, want);
		CHECK_EQ_INT(len, strlen(want));
		free(got);
		free(want);
		json_decref(s);
	}
}

TEST(jbuf_integers_and_pieces_build_the_canonical_text)
{
	struct rg_jbuf b = {0};
	json_t *o = json_pack("{s:I, s:I, s:s}", "b", (json_int_t)-9007199254740993LL,
	                      "a", (json_int_t)0, "c", "x");
	char *want = json_dumps(o, CANON), *got;
	size_t len;

	rg_jbuf_lit(&b, "{\"a\":");
	rg_jbuf_int(&b, 0);
	rg_jbuf_lit(&b, ",\"b\":");
	rg_jbuf_int(&b, -9007199254740993LL);
	rg_jbuf_lit(&b, ",\"c\":");
	rg_jbuf_str(&b, "x");
	rg_jbuf_lit(&b, "}");
	CHECK((got = rg_jbuf_take(&b, &len)) != NULL);
	CHECK_EQ_STR(got, want);
	CHECK(b.p == NULL && b.len == 0);
	free(got);
	free(want);
	json_decref(o);
}

TEST(jbuf_integers_are_written_as_printf_writes_them)
{
	static const int64_t edges[] = {0, 1, -1, 9, 10, -10, 99, 100,
	                                INT64_MAX, INT64_MIN, INT64_MIN + 1,
	                                1000000000000000000LL, -999999999999999999LL};
	char want[32];

	for (size_t i = 0; i < sizeof(edges) / sizeof(*edges) + 20000; i++) {
		/* The edges, then values of every length, both signs. */
		int64_t v = i < sizeof(edges) / sizeof(*edges)
		    ? edges[i]
		    : (int64_t)(((uint64_t)i * 0x9e3779b97f4a7c15ULL) >> (i % 64));
		struct rg_jbuf b = {0};
		size_t len;
		char *got;

		if (i % 2 == 1 && v != INT64_MIN)
			v = -v;
		rg_jbuf_int(&b, v);
		CHECK((got = rg_jbuf_take(&b, &len)) != NULL);
		snprintf(want, sizeof(want), "%" PRId64, v);
		CHECK_EQ_STR(got, want);
		CHECK_EQ_INT(len, strlen(want));
		free(got);
	}
}

/* Every member read back and written again gives the same text. */
static void
jbuf_roundtrip(const char *canon)
{
	struct rg_jscan sc;
	struct rg_jmember m;
	struct rg_jbuf b = {0};
	char *got;
	size_t len;
	int r, n = 0;

	CHECK(rg_jscan_open(&sc, canon, strlen(canon)) == 0);
	rg_jbuf_lit(&b, "{");
	while ((r = rg_jscan_next(&sc, &m)) == 1) {
		if (n++ > 0)
			rg_jbuf_lit(&b, ",");
		rg_jbuf_lit(&b, "\"");
		rg_jbuf_bytes(&b, m.key, m.keylen);
		rg_jbuf_lit(&b, "\":");
		rg_jbuf_bytes(&b, m.val, m.vallen);
	}
	CHECK_EQ_INT(r, 0);
	rg_jbuf_lit(&b, "}");
	CHECK((got = rg_jbuf_take(&b, &len)) != NULL);
	CHECK_EQ_STR(got, canon);
	free(got);
}

TEST(jscan_reads_every_member_of_a_canonical_dump)
{
	json_t *o = json_pack(
	    "{s:s, s:i, s:f, s:b, s:n, s:[i, s, {s:i, s:[]}], s:{}, s:{s:s}, "
	    "s:s, s:s, s:f}",
	    "name", "a \"quoted\" \\ name", "count", 42, "ratio", 0.1,
	    "ok", 1, "none", "list", 1, "two", "z", 1, "a", "empty",
	    "nested", "k", "v}]\"", "zh", "职业病", "z", "", "big", 1e300);
	char *canon = json_dumps(o, CANON);

	CHECK(canon != NULL);
	jbuf_roundtrip(canon);
	jbuf_roundtrip("{}");
	free(canon);
	json_decref(o);
}

TEST(jscan_refuses_text_it_could_not_copy_exactly)
{
	static const char *const bad[] = {
		"{\"b\":1,\"a\":2}",          /* keys out of order */
		"{\"a\":1,\"a\":2}",          /* a key twice */
		"{\"a\": 1}",                 /* white space */
		"{\"a\":1} ",                 /* something after the object */
		"{\"a\\u0062\":1}",           /* an escaped key */
		"{\"a\":\"unterminated}",
		"{\"a\":[1,2}",
		"{\"a\":tru}",
		"{\"a\":}",
		"{\"a\"1}",
		"[1]",
		"{\"a\":1,}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct rg_jscan sc;
		struct rg_jmember m;
		int r = -1;

		if (rg_jscan_open(&sc, bad[i], strlen(bad[i])) == 0)
			while ((r = rg_jscan_next(&sc, &m)) == 1)
				;
		CHECKF(r == -1, "accepted %s", bad[i]);
	}
}

TEST(jbuf_base64_is_the_string_sodium_encodes)
{
	static const uint8_t bin[] = {0xfb, 0xff, 0x00, 0x3e, 0x3f, 0x10, 0x20};

	for (size_t len = 0; len <= sizeof(bin); len++) {
		struct rg_jbuf b = {0};
		char want[64], *got;
		size_t n;

		want[0] = '"';
		sodium_bin2base64(want + 1, sizeof(want) - 2, bin, len,
		                  sodium_base64_VARIANT_ORIGINAL);
		n = strlen(want);
		want[n] = '"';
		want[n + 1] = '\0';
		rg_jbuf_b64(&b, bin, len);
		CHECK((got = rg_jbuf_take(&b, &n)) != NULL);
		CHECK_EQ_STR(got, want);
		CHECK_EQ_INT(n, strlen(want));
		free(got);
	}
}

TEST(jbuf_utf8_check_accepts_what_json_string_accepts)
{
	static const char *const cases[] = {
		"", "ascii", "职业病危害", "é", "\xf0\x9f\x98\x80",
		"\xc0\x80",             /* overlong NUL */
		"\xe0\x80\xaf",         /* overlong '/' */
		"\xed\xa0\x80",         /* a surrogate */
		"\xf4\x90\x80\x80",     /* past U+10FFFF */
		"\xf5\x80\x80\x80", "\x80", "\xc3", "\xe8\xaf", "a\xffz",
		"\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *s = json_string(cases[i]);

		CHECKF(rg_jbuf_utf8_ok(cases[i]) == (s != NULL), "case %zu", i);
		json_decref(s);
	}
}

TEST(jbuf_base64_is_libsodium_s_standard_padded_encoding)
{
	uint8_t bin[100];

	randombytes_buf(bin, sizeof(bin));
	/* Every length, so every padding case and each byte position. */
	for (size_t len = 0; len <= sizeof(bin); len++) {
		char want[sodium_base64_ENCODED_LEN(100,
		                                    sodium_base64_VARIANT_ORIGINAL)];
		struct rg_jbuf b = {0};
		size_t n;
		char *got;

		sodium_bin2base64(want, sizeof(want), bin, len,
		                  sodium_base64_VARIANT_ORIGINAL);
		rg_jbuf_b64(&b, bin, len);
		got = rg_jbuf_take(&b, &n);
		CHECK(got != NULL);
		CHECK_EQ_INT(n, strlen(want) + 2);
		CHECK(got[0] == '"' && got[n - 1] == '"');
		CHECK(strncmp(got + 1, want, strlen(want)) == 0);
		free(got);
	}
	/* All 256 byte values in each position of a group. */
	for (int shift = 0; shift < 3; shift++) {
		uint8_t all[3 * 256];
		char want[sodium_base64_ENCODED_LEN(sizeof(all),
		                                    sodium_base64_VARIANT_ORIGINAL)];
		struct rg_jbuf b = {0};
		size_t n;
		char *got;

		memset(all, 0, sizeof(all));
		for (int v = 0; v < 256; v++)
			all[3 * v + shift] = (uint8_t)v;
		sodium_bin2base64(want, sizeof(want), all, sizeof(all),
		                  sodium_base64_VARIANT_ORIGINAL);
		rg_jbuf_b64(&b, all, sizeof(all));
		got = rg_jbuf_take(&b, &n);
		CHECK(got != NULL && n == strlen(want) + 2);
		CHECK(strncmp(got + 1, want, strlen(want)) == 0);
		free(got);
	}
}
