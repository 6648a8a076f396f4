/*
 * test_entry.c -- the canonical bytes of an audit entry: one entry, one
 * encoding, whatever order it was built in.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/entry.h"
#include "tests/test.h"

TEST(entry_encodes_small_entry_to_exact_bytes)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:b,s:n,s:[i,i]}", "index",
	                      (json_int_t)7, "dept", "hrss", "action", "read",
	                      "allowed", 1, "purpose", "versions", 1, 2);
	const char *want = "{\"action\":\"read\",\"allowed\":true,\"dept\":\"hrss\","
	                   "\"index\":7,\"purpose\":null,\"versions\":[1,2]}";
	size_t len = 0;
	char *s;

	CHECK(o != NULL);
	CHECK((s = rg_entry_encode(o, &len)) != NULL);
	CHECK_EQ_STR(s, want);
	CHECK_EQ_INT(len, strlen(want));
	free(s);
	json_decref(o);
}

TEST(entry_encoding_ignores_insertion_order)
{
	json_t *a = json_object(), *b = json_object();
	char *sa, *sb;
	size_t la, lb;

	CHECK(a != NULL && b != NULL);
	CHECK(json_object_set_new(a, "time", json_integer(1700000000000)) == 0);
	CHECK(json_object_set_new(a, "dept", json_string("civil")) == 0);
	CHECK(json_object_set_new(a, "decision", json_string("deny")) == 0);
	CHECK(json_object_set_new(b, "decision", json_string("deny")) == 0);
	CHECK(json_object_set_new(b, "time", json_integer(1700000000000)) == 0);
	CHECK(json_object_set_new(b, "dept", json_string("civil")) == 0);
	CHECK((sa = rg_entry_encode(a, &la)) != NULL);
	CHECK((sb = rg_entry_encode(b, &lb)) != NULL);
	CHECK_EQ_INT(la, lb);
	CHECK(memcmp(sa, sb, la) == 0);
	CHECK_EQ_STR(sa, "{\"decision\":\"deny\",\"dept\":\"civil\",\"time\":1700000000000}");
	free(sa);
	free(sb);
	json_decref(a);
	json_decref(b);
}

TEST(entry_sorts_nested_objects_by_bytes)
{
	json_t *o = json_pack("{s:{s:i,s:i,s:i},s:[{s:i,s:i}]}", "z", "b", 2,
	                      "a", 1, "B", 0, "list", "y", 1, "x", 2);
	char *s;

	CHECK(o != NULL);
	CHECK((s = rg_entry_encode(o, NULL)) != NULL);
	/* Upper case sorts before lower case: byte order, not locale. */
	CHECK_EQ_STR(s, "{\"list\":[{\"x\":2,\"y\":1}],\"z\":{\"B\":0,\"a\":1,\"b\":2}}");
	free(s);
	json_decref(o);
}

TEST(entry_refuses_real_numbers_anywhere)
{
	json_t *top = json_pack("{s:f}", "x", 1.5);
	json_t *nested = json_pack("{s:{s:[i,f]}}", "a", "b", 1, 2.0);
	json_t *ok = json_pack("{s:{s:[i,i]}}", "a", "b", 1, 2);
	char *s;

	CHECK(top != NULL && nested != NULL && ok != NULL);
	CHECK(rg_entry_encode(top, NULL) == NULL);
	CHECK(rg_entry_encode(nested, NULL) == NULL);
	CHECK((s = rg_entry_encode(ok, NULL)) != NULL);
	free(s);
	json_decref(top);
	json_decref(nested);
	json_decref(ok);
}

TEST(entry_refuses_non_object_top)
{
	json_t *arr = json_pack("[i]", 1), *str = json_string("x");
	json_t *i = json_integer(1);

	CHECK(arr != NULL && str != NULL && i != NULL);
	CHECK(rg_entry_encode(arr, NULL) == NULL);
	CHECK(rg_entry_encode(str, NULL) == NULL);
	CHECK(rg_entry_encode(i, NULL) == NULL);
	CHECK(rg_entry_encode(NULL, NULL) == NULL);
	json_decref(arr);
	json_decref(str);
	json_decref(i);
}

TEST(entry_keeps_utf8_and_slash_raw_and_escapes_controls)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "k", "\xe8\x81\x8c\xe4\xb8\x9a\xe7\x97\x85",
	                      "p", "a/b", "c", "q\"\\\n\t\x01\x1f");
	const char *want = "{\"c\":\"q\\\"\\\\\\n\\t\\u0001\\u001F\","
	                   "\"k\":\"\xe8\x81\x8c\xe4\xb8\x9a\xe7\x97\x85\","
	                   "\"p\":\"a/b\"}";
	char *s;
	size_t len;

	CHECK(o != NULL);
	CHECK((s = rg_entry_encode(o, &len)) != NULL);
	CHECK_EQ_STR(s, want);
	/* 职业病 as its nine UTF-8 bytes, not \u escapes. */
	CHECK(strstr(s, "\xe8\x81\x8c\xe4\xb8\x9a\xe7\x97\x85") != NULL);
	/* Only the two control characters became \u escapes. */
	CHECK(strstr(s, "\\u") == strstr(s, "\\u0001"));
	CHECK(strstr(strstr(s, "\\u0001") + 1, "\\u") == strstr(s, "\\u001F"));
	free(s);
	json_decref(o);
}

TEST(entry_refuses_nesting_beyond_bound)
{
	json_t *o = json_object(), *cur = o, *n;
	char *s;

	CHECK(o != NULL);
	for (int i = 0; i < 40; i++) {
		CHECK((n = json_object()) != NULL);
		CHECK(json_object_set_new(cur, "n", n) == 0);
		cur = n;
	}
	CHECK(rg_entry_encode(o, NULL) == NULL);
	json_decref(o);
	/* 30 levels is fine. */
	CHECK((o = json_object()) != NULL);
	cur = o;
	for (int i = 0; i < 30; i++) {
		CHECK((n = json_object()) != NULL);
		CHECK(json_object_set_new(cur, "n", n) == 0);
		cur = n;
	}
	CHECK((s = rg_entry_encode(o, NULL)) != NULL);
	free(s);
	json_decref(o);
}
