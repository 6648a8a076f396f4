/*
 * jcanon.c -- json_dumps(JSON_COMPACT | JSON_SORT_KEYS) without the
 * per-character callbacks: strings are copied in runs between the bytes
 * jansson escapes (rg_jbuf_str), object members are sorted as jansson
 * sorts them (the keys' bytes, then the shorter first). It owns nothing
 * but the buffer it fills; any value it is not sure to write exactly as
 * jansson does sends the whole value to json_dumps instead.
 */
#include <stdlib.h>
#include <string.h>

#include "gateway/jbuf.h"
#include "gateway/jcanon.h"

#define RG_JCANON_DEPTH 32
/* Members sorted on the stack; a larger object allocates. */
#define RG_JCANON_STACK 32

struct rg_jcanon_member {
	const char *key;
	size_t keylen;
	json_t *value;
};

static int
rg_jcanon_cmp(const void *a, const void *b)
{
	const struct rg_jcanon_member *x = a, *y = b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

static int rg_jcanon_value(struct rg_jbuf *b, const json_t *v, int depth);

static int
rg_jcanon_object(struct rg_jbuf *b, const json_t *obj, int depth)
{
	struct rg_jcanon_member stack[RG_JCANON_STACK], *m = stack;
	size_t n = json_object_size(obj), i = 0;
	void *it;
	int rc = 0;

	if (n > RG_JCANON_STACK && (m = calloc(n, sizeof(*m))) == NULL)
		return -1;
	/* jansson's iteration takes a non-const object, reads it only. */
	for (it = json_object_iter((json_t *)obj); it != NULL && i < n;
	     it = json_object_iter_next((json_t *)obj, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].keylen = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
		if (memchr(m[i].key, '\0', m[i].keylen) != NULL) {
			rc = -1;
			goto out;
		}
	}
	if (i != n || it != NULL) {
		rc = -1;
		goto out;
	}
	qsort(m, n, sizeof(*m), rg_jcanon_cmp);
	rg_jbuf_lit(b, "{");
	for (i = 0; i < n && rc == 0; i++) {
		if (i > 0)
			rg_jbuf_lit(b, ",");
		rg_jbuf_str(b, m[i].key);
		rg_jbuf_lit(b, ":");
		rc = rg_jcanon_value(b, m[i].value, depth + 1);
	}
	rg_jbuf_lit(b, "}");
out:
	if (m != stack)
		free(m);
	return rc;
}

static int
rg_jcanon_value(struct rg_jbuf *b, const json_t *v, int depth)
{
	size_t i;

	if (depth > RG_JCANON_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return rg_jcanon_object(b, v, depth);
	case JSON_ARRAY:
		rg_jbuf_lit(b, "[");
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				rg_jbuf_lit(b, ",");
			if (rg_jcanon_value(b, json_array_get(v, i), depth + 1) != 0)
				return -1;
		}
		rg_jbuf_lit(b, "]");
		return 0;
	case JSON_STRING:
		/* A NUL inside (JSON_ALLOW_NUL) would end rg_jbuf_str early. */
		if (memchr(json_string_value(v), '\0', json_string_length(v)) !=
		    NULL)
			return -1;
		rg_jbuf_str(b, json_string_value(v));
		return 0;
	case JSON_INTEGER:
		rg_jbuf_int(b, json_integer_value(v));
		return 0;
	case JSON_TRUE:
		rg_jbuf_lit(b, "true");
		return 0;
	case JSON_FALSE:
		rg_jbuf_lit(b, "false");
		return 0;
	case JSON_NULL:
		rg_jbuf_lit(b, "null");
		return 0;
	case JSON_REAL:
		break;  /* jansson's own formatting of doubles: its road */
	}
	return -1;
}

char *
rg_jcanon(const json_t *v, size_t *len)
{
	struct rg_jbuf b = {0};
	size_t n = 0;
	char *text;

	/* As json_dumps without JSON_ENCODE_ANY: an object or an array. */
	if (v == NULL || !(json_is_object(v) || json_is_array(v)))
		return NULL;
	if (rg_jcanon_value(&b, v, 0) == 0 && !b.failed) {
		if ((text = rg_jbuf_take(&b, &n)) != NULL && len != NULL)
			*len = n;
		return text;
	}
	rg_jbuf_clear(&b);
	if ((text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS)) != NULL &&
	    len != NULL)
		*len = strlen(text);
	return text;
}
