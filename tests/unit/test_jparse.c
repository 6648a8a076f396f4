/*
 * test_jparse.c -- rg_jparse reads every body exactly as
 * json_loadb(JSON_REJECT_DUPLICATES) does: yajl's fast part accepts
 * nothing jansson refuses and gives the same tree (key order and number
 * kinds too) for what it accepts, over the corners where the two readers
 * differ and over thousands of mutated records; and the fast part does
 * take the records the gateway sees most.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/jparse.h"
#include "tests/test.h"

/* An occupational-disease diagnosis of 2 KiB, the size the bench submits:
 * text of one, two and three bytes a character, numbers of both kinds. */
static size_t
rg_tjp_record(char *buf, size_t cap)
{
	static const char head[] =
	    "{\"worker_name\": \"张三\", \"id_number\": \"110101199001011234\", "
	    "\"employer\": \"某某矿业有限公司\", \"diagnosis_date\": "
	    "\"2026-03-02\", \"disease_category\": \"职业性尘肺病\", "
	    "\"diagnosis_conclusion\": \"矽肺壹期\", \"certificate_number\": "
	    "\"ZYB-2026-0042\", \"exposure_years\": 12, \"dust_mg_m3\": 4.75, "
	    "\"notes\": \"";
	size_t n = strlen(head);

	if (cap < 2049)
		return 0;
	memcpy(buf, head, n);
	for (; n < 2046; n++)
		buf[n] = n % 7 ? (char)('a' + n % 26) : ' ';
	buf[n++] = '"';
	buf[n++] = '}';
	buf[n] = '\0';
	return n;
}

/* The tree's every byte as jansson writes it, members in their order. */
static char *
rg_tjp_dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	                     JSON_REAL_PRECISION(17));
}

/*
 * Do the readers agree on text? rg_jparse gives NULL exactly when jansson
 * does; the fast part, when it gives a tree, gives jansson's. *fast says
 * whether it did.
 */
static int
rg_tjp_agree(const char *text, size_t len, int *fast)
{
	json_t *f = rg_jparse_fast(text, len), *r = rg_jparse(text, len, NULL);
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	int ok = (r == NULL) == (j == NULL);

	if (f != NULL) {
		char *a = rg_tjp_dump(f), *b = j != NULL ? rg_tjp_dump(j) : NULL;

		ok = ok && j != NULL && json_equal(f, j) && a != NULL &&
		     b != NULL && strcmp(a, b) == 0;
		free(a);
		free(b);
	}
	if (r != NULL && j != NULL) {
		char *a = rg_tjp_dump(r), *b = rg_tjp_dump(j);

		ok = ok && a != NULL && b != NULL && strcmp(a, b) == 0;
		free(a);
		free(b);
	}
	if (fast != NULL)
		*fast = f != NULL;
	json_decref(f);
	json_decref(r);
	json_decref(j);
	return ok;
}

static int
rg_tjp_agree_str(const char *text, int *fast)
{
	return rg_tjp_agree(text, strlen(text), fast);
}

TEST(jparse_takes_the_common_records_fast_as_jansson_reads_them)
{
	char rec[4096];
	size_t n = rg_tjp_record(rec, sizeof(rec));
	int fast = 0;
	json_t *v;

	CHECK(n == 2048);
	CHECK(rg_tjp_agree(rec, n, &fast) && fast);
	CHECK(rg_tjp_agree_str("{}", &fast) && fast);
	CHECK(rg_tjp_agree_str(" [ ] ", &fast) && fast);
	CHECK(rg_tjp_agree_str("[{\"a\":1,\"b\":[true,false,null],\"c\":-0,"
	                       "\"d\":1.5e3,\"e\":\"\",\"\":2.25,\"f\":1E2,"
	                       "\"g\":-12345678901234}]", &fast) && fast);
	/* Members keep their order; integers and reals stay apart. */
	CHECK(rg_tjp_agree_str("{\"z\":1,\"a\":1.0,\"m\":{\"y\":[],\"b\":{}}}",
	                       &fast) && fast);
	v = rg_jparse_fast("{\"z\":1,\"a\":1.0}", 15);
	CHECK(v != NULL && json_is_integer(json_object_get(v, "z")) &&
	      json_is_real(json_object_get(v, "a")));
	json_decref(v);
	/* UTF-8 of every length, DEL, an underflowing real (0 to both). */
	CHECK(rg_tjp_agree_str("{\"k\":\"é中😀\x7f\",\"u\":1e-400}", &fast) && fast);
	CHECK(rg_tjp_agree_str("\t\r\n{\"a\" : [ 1 , 2 ] }\n", &fast) && fast);
}

TEST(jparse_leaves_to_jansson_what_yajl_reads_otherwise)
{
	/* Each: jansson's answer stands (refused or read), the fast part
	 * gives no tree of its own. */
	static const char *const corners[] = {
	    "{\"a\":\"\\n\"}",               /* escapes: jansson's alone */
	    "{\"a\":\"\\ud800\"}",           /* a lone surrogate: refused */
	    "{\"a\":\"\\u0000\"}",           /* NUL: refused */
	    "{\"a\\u0041\":1}",
	    "{\"a\":1}\f", "\v[]", "[1,\f2]",
	    "{\"a\":1,\"a\":2}",             /* duplicate keys */
	    "{\"a\":{\"b\":1,\"b\":1}}",
	    "{\"a\":\"\xed\xa0\x80\"}",      /* a surrogate in UTF-8 */
	    "{\"a\":\"\xc0\x80\"}",          /* overlong */
	    "{\"a\":\"\xf4\x90\x80\x80\"}",  /* past U+10FFFF */
	    "{\"\xc0\xaf\":1}", "{\"\xed\xbf\xbf\":1}",
	    "{\"a\":\"\xff\"}", "{\"a\":\"\x80\"}", "{\"a\":\"\xe4\xb8\"}",
	    "\"text\"", "1", "null", "true", "",  /* not an object or array */
	    " ", "{} x", "{}{}", "[]]", "{\"a\":1,}", "[1,]", "[,1]",
	    "[]\"", "{}\"x", "[] \"x]", "{}\"\n",  /* a string left open */
	    "/* c */{}", "{}// c", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
	    "{\"a\":+1}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":1e400}",
	    "{\"a\":-1e400}", "{\"a\":9223372036854775808}",
	    "{\"a\":-9223372036854775808}",  /* jansson reads it; yajl not */
	    "{\"a\":9223372036854775807}",
	    "{\"a\":\"\x01\"}", "{\"a\":\"\t\"}", "\xef\xbb\xbf{}",
	    "{\"a\":tru}", "{\"a\":nul}", "{\"a\" 1}", "{1:2}", "{\"a\"}",
	    "[\"a\"", "{", "[", "{\"a\":[1,2}", "{'a':1}", "[NaN]",
	    "[Infinity]", "[0x10]",
	};
	char deep[300], key[400];
	int fast = 0;

	for (size_t i = 0; i < sizeof(corners) / sizeof(corners[0]); i++)
		CHECKF(rg_tjp_agree_str(corners[i], &fast), "corner %zu", i);
	/* A NUL byte inside a string and between tokens. */
	CHECK(rg_tjp_agree("{\"a\":\"x\0y\"}", 11, &fast) && !fast);
	CHECK(rg_tjp_agree("{\"a\":1}\0", 8, &fast) && !fast);
	/* Escapes go to jansson, which reads them. */
	CHECK(rg_tjp_agree_str("{\"a\":\"\\u4e2d\\n\"}", &fast) && !fast);
	/* Deeper than the fast part's limit, a key longer than its buffer:
	 * jansson's. */
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = '\0';
	CHECK(rg_tjp_agree_str(deep, &fast) && !fast);
	memset(deep, '[', 60);
	memset(deep + 60, ']', 60);
	deep[120] = '\0';
	CHECK(rg_tjp_agree_str(deep, &fast) && fast);
	key[0] = '{';
	key[1] = '"';
	memset(key + 2, 'k', 300);
	memcpy(key + 302, "\":1}", 5);
	CHECK(rg_tjp_agree_str(key, &fast) && !fast);
}

static uint64_t rg_tjp_state = 0x2545f4914f6cdd1dULL;

static uint32_t
rg_tjp_rand(uint32_t n)
{
	return rg_test_rand(&rg_tjp_state, n);
}

/* Bytes a mutation puts in: JSON's punctuation and literals' letters,
 * digits and number signs, whitespace of both readers, controls, DEL,
 * and bytes of UTF-8 good and bad. */
static const char rg_tjp_bytes[] =
    "{}[],:\"\\ 0123456789-+.eEtrufalsn\t\r\n\v\f\x01\x1f\x7f"
    "\xc0\x80\xbf\xed\xa0\xf4\x90\xff\xe4\xb8\xad";

TEST(jparse_agrees_with_jansson_on_mutated_bodies)
{
	static const char *const seeds[] = {
	    "{\"a\":1,\"b\":[true,false,null,-2.5e-3],\"c\":{\"d\":\"中文\"}}",
	    "[{\"id\":\"x\",\"n\":12},{\"id\":\"y\",\"n\":-0.0}]",
	    "{\"worker_name\":\"张三\",\"id_number\":\"110101199001011234\","
	    "\"diagnosis_date\":\"2026-03-02\",\"exposure_years\":12}",
	};
	char rec[4096], buf[4200];
	size_t reclen = rg_tjp_record(rec, sizeof(rec));
	int fast_yes = 0, fast_no = 0, jansson_no = 0, bad = 0;

	for (int round = 0; round < 4000; round++) {
		const char *seed = round % 4 == 3 ? rec : seeds[round % 3];
		size_t len = round % 4 == 3 ? reclen : strlen(seed);
		int muts = 1 + (int)rg_tjp_rand(3), fast = 0;
		json_t *j;

		memcpy(buf, seed, len);
		for (int m = 0; m < muts && len > 0; m++) {
			size_t at = rg_tjp_rand((uint32_t)len);
			char c = rg_tjp_bytes[rg_tjp_rand(sizeof(rg_tjp_bytes) - 1)];

			switch (rg_tjp_rand(4)) {
			case 0: /* replace */
				buf[at] = c;
				break;
			case 1: /* insert */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = c;
					len++;
				}
				break;
			case 2: /* delete */
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			default: /* cut short */
				len = at;
				break;
			}
		}
		if (!rg_tjp_agree(buf, len, &fast)) {
			bad++;
			fprintf(stderr, "  disagree: %.*s\n",
			        (int)(len < 200 ? len : 200), buf);
		}
		if (fast) {
			fast_yes++;
		} else {
			fast_no++;
			j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
			jansson_no += j == NULL;
			json_decref(j);
		}
	}
	CHECK_EQ_INT(bad, 0);
	/* Both ways were taken often: the property was put to the test. */
	CHECK(fast_yes > 200);
	CHECK(jansson_no > 1000);
	CHECK(fast_no > jansson_no - 1);
}
