/*
 * test_jcanon.c -- rg_jcanon writes exactly what json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) writes, for random trees of every kind of value and for
 * the corners it hands back to jansson (reals, deep nesting, scalars).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/jcanon.h"
#include "tests/test.h"

static uint64_t rg_tj_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rg_tj_rand(uint32_t n)
{
	return rg_test_rand(&rg_tj_state, n);
}

/* Pieces strings and keys are made of: plain text, every character
 * jansson escapes, '/', DEL, and UTF-8 of two, three and four bytes. */
static const char *const rg_tj_piece[] = {
	"a", "ab", "b", "Z", "0", " ", "/", "\"", "\\", "\b", "\f", "\n",
	"\r", "\t", "\x01", "\x1f", "\x7f", "é", "中", "粉尘、噪声", "😀",
	"key", "",
};

static char *
rg_tj_text(void)
{
	char *s = calloc(1, 256);
	size_t n = rg_tj_rand(8);

	CHECK(s != NULL);
	for (size_t i = 0; i < n; i++)
		strcat(s, rg_tj_piece[rg_tj_rand(sizeof(rg_tj_piece) /
		                                  sizeof(rg_tj_piece[0]))]);
	return s;
}

static json_t *
rg_tj_value(int depth)
{
	static const json_int_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN,
	                                  1234567890123LL, -987654321};
	json_t *v = NULL;
	char *s;

	switch (depth > 4 ? 2 + rg_tj_rand(4) : rg_tj_rand(6)) {
	case 0:
		v = json_object();
		for (uint32_t i = rg_tj_rand(7); i > 0; i--) {
			s = rg_tj_text();
			json_object_set_new(v, s, rg_tj_value(depth + 1));
			free(s);
		}
		break;
	case 1:
		v = json_array();
		for (uint32_t i = rg_tj_rand(5); i > 0; i--)
			json_array_append_new(v, rg_tj_value(depth + 1));
		break;
	case 2:
		s = rg_tj_text();
		v = json_string(s);
		free(s);
		break;
	case 3: {
		/* Near each value, toward zero: no overflow at the ends. */
		json_int_t x = ints[rg_tj_rand(8)];
		json_int_t d = (json_int_t)rg_tj_rand(3);

		v = json_integer(x >= 0 ? x - d : x + d);
		break;
	}
	case 4:
		v = json_boolean(rg_tj_rand(2));
		break;
	default:
		v = json_null();
	}
	CHECK(v != NULL);
	return v;
}

/* rg_jcanon(v) and json_dumps agree byte for byte, NULL for NULL. */
static void
rg_tj_same(const json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	size_t len = 0;
	char *got = rg_jcanon(v, &len);

	if (want == NULL) {
		CHECK(got == NULL);
		return;
	}
	CHECK(got != NULL);
	CHECKF(strcmp(got, want) == 0, "got %s, want %s", got, want);
	CHECK_EQ_INT(len, strlen(want));
	free(got);
	free(want);
}

TEST(jcanon_writes_what_json_dumps_writes_for_random_trees)
{
	for (int i = 0; i < 3000; i++) {
		json_t *v = json_object();

		CHECK(v != NULL);
		/* Objects at the top, as records and entries are, and
		 * arrays of them, as submissions are. */
		for (uint32_t k = 1 + rg_tj_rand(12); k > 0; k--) {
			char *s = rg_tj_text();

			json_object_set_new(v, s, rg_tj_value(1));
			free(s);
		}
		rg_tj_same(v);
		if (i % 10 == 0) {
			json_t *a = json_pack("[O,O]", v, v);

			CHECK(a != NULL);
			rg_tj_same(a);
			json_decref(a);
		}
		json_decref(v);
	}
}

TEST(jcanon_hands_reals_deep_nesting_and_scalars_to_jansson)
{
	json_t *v = json_pack("{s:f, s:[i, f], s:s}", "dose", 0.125, "m", 3,
	                      1e300, "unit", "mg");
	json_t *deep = json_array(), *big = json_object();
	char key[16];

	CHECK(v != NULL && deep != NULL && big != NULL);
	rg_tj_same(v);
	for (int i = 0; i < 40; i++) {
		json_t *outer = json_array();

		CHECK(outer != NULL && json_array_append_new(outer, deep) == 0);
		deep = outer;
	}
	rg_tj_same(deep);
	/* More members than sorted on the stack. */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%03d", (i * 37) % 100);
		json_object_set_new(big, key, json_integer(i));
	}
	rg_tj_same(big);
	/* A scalar at the top: json_dumps refuses it without
	 * JSON_ENCODE_ANY, and so does rg_jcanon. */
	{
		json_t *s = json_string("x");

		CHECK(rg_jcanon(s, NULL) == NULL);
		CHECK(rg_jcanon(NULL, NULL) == NULL);
		json_decref(s);
	}
	json_decref(v);
	json_decref(deep);
	json_decref(big);
}

TEST(jcanon_writes_a_parsed_record_as_json_dumps_does)
{
	static const char text[] =
	    "{\"employer\": \"某某矿业有限公司\", \"worker_count\": 300, "
	    "\"a/b\": \"tab\\there, quote\\\" and \\\\ and \\u0001\", "
	    "\"nested\": {\"z\": [1, -2, true, false, null], \"\": \"\"}}";
	json_t *v = json_loadb(text, sizeof(text) - 1, JSON_REJECT_DUPLICATES,
	                       NULL);

	CHECK(v != NULL);
	rg_tj_same(v);
	/* Without a length asked for, the same text. */
	{
		char *want = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		char *got = rg_jcanon(v, NULL);

		CHECK(want != NULL && got != NULL && strcmp(got, want) == 0);
		free(got);
		free(want);
	}
	json_decref(v);
}
