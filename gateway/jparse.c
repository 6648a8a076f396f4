/*
 * jparse.c -- request bodies parsed into jansson's tree, through yajl's
 * lexer where it reads them as jansson would (jparse.h says which), else
 * through jansson's own reader.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "gateway/jparse.h"

/* Deeper than any record the catalogue describes; jansson reads deeper
 * ones (and refuses past its own limit). */
#define RG_JPARSE_DEPTH 64
/* A key is kept here until its value comes; longer ones are not read. */
#define RG_JPARSE_KEYMAX 256

struct rg_jparse_build {
	json_t *root;
	json_t *open[RG_JPARSE_DEPTH];  /* the containers being filled */
	int depth;
	int has_key;                    /* key holds the next member's name */
	char key[RG_JPARSE_KEYMAX];
};

/*
 * Put v (a new reference, or NULL when it could not be made) into the
 * container being filled, or make it the root. 1, or 0 to stop the parse
 * (v released): a duplicate or invalid key, a value where none may go.
 */
static int
rg_jparse_add(struct rg_jparse_build *b, json_t *v)
{
	json_t *parent;

	if (v == NULL)
		return 0;
	if (b->depth == 0) {
		if (b->root != NULL) {
			json_decref(v);
			return 0;
		}
		b->root = v;
		return 1;
	}
	parent = b->open[b->depth - 1];
	if (json_is_array(parent))
		return json_array_append_new(parent, v) == 0;
	if (!b->has_key || json_object_get(parent, b->key) != NULL) {
		json_decref(v);
		return 0;
	}
	b->has_key = 0;
	/* Checks that the key is valid UTF-8, as jansson's reader does. */
	return json_object_set_new(parent, b->key, v) == 0;
}

static int
rg_jparse_null(void *ctx)
{
	return rg_jparse_add(ctx, json_null());
}

static int
rg_jparse_boolean(void *ctx, int v)
{
	return rg_jparse_add(ctx, json_boolean(v));
}

/* yajl refuses an integer outside long long, as jansson does (and also
 * the smallest one, which jansson then reads). */
static int
rg_jparse_integer(void *ctx, long long v)
{
	return rg_jparse_add(ctx, json_integer((json_int_t)v));
}

/* Both read a real with strtod and refuse one that overflows. */
static int
rg_jparse_double(void *ctx, double v)
{
	return rg_jparse_add(ctx, json_real(v));
}

/* Without escapes these are the bytes between the quotes, which yajl
 * checked only loosely: json_stringn checks them as jansson's reader does
 * (no overlong forms, no surrogates, nothing past U+10FFFF). */
static int
rg_jparse_string(void *ctx, const unsigned char *s, size_t len)
{
	return rg_jparse_add(ctx, json_stringn((const char *)s, len));
}

static int
rg_jparse_key(void *ctx, const unsigned char *s, size_t len)
{
	struct rg_jparse_build *b = ctx;

	if (len >= sizeof(b->key) || memchr(s, '\0', len) != NULL)
		return 0;
	memcpy(b->key, s, len);
	b->key[len] = '\0';
	b->has_key = 1;
	return 1;
}

/* A new container goes into its parent first, so that the root owns
 * everything made so far whenever the parse stops. */
static int
rg_jparse_open(struct rg_jparse_build *b, json_t *c)
{
	if (c == NULL || b->depth == RG_JPARSE_DEPTH) {
		json_decref(c);
		return 0;
	}
	if (!rg_jparse_add(b, c))
		return 0;
	b->open[b->depth++] = c;
	return 1;
}

static int
rg_jparse_start_map(void *ctx)
{
	return rg_jparse_open(ctx, json_object());
}

static int
rg_jparse_start_array(void *ctx)
{
	return rg_jparse_open(ctx, json_array());
}

static int
rg_jparse_close(void *ctx)
{
	struct rg_jparse_build *b = ctx;

	b->depth--;
	return 1;
}

static const yajl_callbacks rg_jparse_callbacks = {
	.yajl_null = rg_jparse_null,
	.yajl_boolean = rg_jparse_boolean,
	.yajl_integer = rg_jparse_integer,
	.yajl_double = rg_jparse_double,
	.yajl_string = rg_jparse_string,
	.yajl_start_map = rg_jparse_start_map,
	.yajl_map_key = rg_jparse_key,
	.yajl_end_map = rg_jparse_close,
	.yajl_start_array = rg_jparse_start_array,
	.yajl_end_array = rg_jparse_close,
};

/* Is text free of the bytes on whose meaning yajl and jansson differ? */
static int
rg_jparse_plain(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\\' || p[i] == '\v' || p[i] == '\f')
			return 0;
	return 1;
}

/* Is all of p JSON whitespace? */
static int
rg_jparse_space(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return 0;
	return 1;
}

json_t *
rg_jparse_fast(const void *text, size_t len)
{
	struct rg_jparse_build b = {0};
	yajl_handle h;
	int ok;

	if (len == 0 || !rg_jparse_plain(text, len))
		return NULL;
	/* yajl's defaults are jansson's rules (no comments, one value,
	 * strings checked as UTF-8) but for what follows the value: yajl
	 * ignores a string left open there ("[]\"x"). So it stops after the
	 * value, and the rest must be whitespace. */
	if ((h = yajl_alloc(&rg_jparse_callbacks, NULL, &b)) == NULL)
		return NULL;
	ok = yajl_config(h, yajl_allow_trailing_garbage, 1) &&
	     yajl_parse(h, text, len) == yajl_status_ok &&
	     rg_jparse_space((const unsigned char *)text + yajl_get_bytes_consumed(h),
	                     len - yajl_get_bytes_consumed(h)) &&
	     yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	/* Without JSON_DECODE_ANY jansson takes only an object or array. */
	if (!ok || b.depth != 0 || b.root == NULL ||
	    !(json_is_object(b.root) || json_is_array(b.root))) {
		json_decref(b.root);
		return NULL;
	}
	return b.root;
}

json_t *
rg_jparse(const void *text, size_t len, json_error_t *err)
{
	json_t *v = rg_jparse_fast(text, len);

	if (v != NULL)
		return v;
	return json_loadb(text, len, JSON_REJECT_DUPLICATES, err);
}
