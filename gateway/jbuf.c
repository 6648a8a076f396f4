/*
 * jbuf.c -- compact JSON written into a growing buffer, and the members of
 * a compact, key-sorted object read in place. It owns no state but the
 * buffer it is handed; it never accepts text it cannot read exactly (the
 * callers then take jansson's road).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gateway/jbuf.h"

#define RG_JSCAN_DEPTH 64

static int
rg_jbuf_grow(struct rg_jbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + n + 1) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL)
		goto fail;
	b->p = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

void
rg_jbuf_bytes(struct rg_jbuf *b, const void *s, size_t n)
{
	if (rg_jbuf_grow(b, n) != 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* As jansson's dump: '"', '\\' and control characters escaped, '/' and
 * everything from 0x20 up (UTF-8 included) as it is. */
void
rg_jbuf_str(struct rg_jbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	rg_jbuf_lit(b, "\"");
	for (const char *run = s;; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		rg_jbuf_bytes(b, run, (size_t)(s - run));
		if (c == '\0')
			break;
		run = s + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		rg_jbuf_bytes(b, esc, elen);
	}
	rg_jbuf_lit(b, "\"");
}

void
rg_jbuf_int(struct rg_jbuf *b, int64_t v)
{
	/* Digits from the end, as "%" PRId64 writes them: without
	 * snprintf's format parsing, several times a request. */
	char num[21];
	size_t i = sizeof(num);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		num[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		num[--i] = '-';
	rg_jbuf_bytes(b, num + i, sizeof(num) - i);
}

int
rg_jbuf_utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned char c = *p++;
		uint32_t v, min;
		int n;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			v = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			v = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			v = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		for (int i = 0; i < n; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			v = (v << 6) | (*p & 0x3f);
		}
		if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return 0;
	}
	return 1;
}

/*
 * Standard base64 with padding, by table. Only for public bytes (a
 * receipt's entry, its leaf hash, the gateway's signature): libsodium's
 * encoder runs in constant time, which secrets need and these do not, and
 * it took a few percent of the keeper's thread.
 */
void
rg_jbuf_b64(struct rg_jbuf *b, const uint8_t *bin, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = (len + 2) / 3 * 4, i;
	char *o;

	rg_jbuf_lit(b, "\"");
	if (rg_jbuf_grow(b, n) != 0)
		return;
	o = b->p + b->len;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)bin[i] << 16 | (uint32_t)bin[i + 1] << 8 |
		             bin[i + 2];

		*o++ = abc[v >> 18];
		*o++ = abc[(v >> 12) & 63];
		*o++ = abc[(v >> 6) & 63];
		*o++ = abc[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)bin[i] << 16 |
		             (i + 1 < len ? (uint32_t)bin[i + 1] << 8 : 0);

		*o++ = abc[v >> 18];
		*o++ = abc[(v >> 12) & 63];
		*o++ = i + 1 < len ? abc[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	b->len += n;
	rg_jbuf_lit(b, "\"");
}

char *
rg_jbuf_take(struct rg_jbuf *b, size_t *len)
{
	char *p;

	if (b->failed || rg_jbuf_grow(b, 0) != 0) {
		rg_jbuf_clear(b);
		return NULL;
	}
	p = b->p;
	p[b->len] = '\0';
	*len = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}

void
rg_jbuf_clear(struct rg_jbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- reading ----------------------------------------------------------- */

/* Past the string starting at *p ('"'); NULL if it is not one. */
static const char *
rg_jscan_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\' && ++p >= end)
			return NULL;
	}
	return NULL;
}

/* Past the value starting at p; NULL if there is none in compact form. */
static const char *
rg_jscan_value(const char *p, const char *end, int depth)
{
	if (p >= end || depth > RG_JSCAN_DEPTH)
		return NULL;
	switch (*p) {
	case '"':
		return rg_jscan_string(p, end);
	case '{':
		if (++p < end && *p == '}')
			return p + 1;
		for (;;) {
			if (p >= end || *p != '"' ||
			    (p = rg_jscan_string(p, end)) == NULL ||
			    p >= end || *p++ != ':' ||
			    (p = rg_jscan_value(p, end, depth + 1)) == NULL ||
			    p >= end)
				return NULL;
			if (*p == '}')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case '[':
		if (++p < end && *p == ']')
			return p + 1;
		for (;;) {
			if ((p = rg_jscan_value(p, end, depth + 1)) == NULL ||
			    p >= end)
				return NULL;
			if (*p == ']')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case 't':
		return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default: {
		const char *q = p;

		while (q < end && ((*q >= '0' && *q <= '9') || *q == '-' ||
		                   *q == '+' || *q == '.' || *q == 'e' ||
		                   *q == 'E'))
			q++;
		return q > p ? q : NULL;
	}
	}
}

int
rg_jscan_open(struct rg_jscan *s, const char *text, size_t len)
{
	memset(s, 0, sizeof(*s));
	if (len < 2 || text[0] != '{' || text[len - 1] != '}')
		return -1;
	s->p = text + 1;
	s->end = text + len;
	return 0;
}

int
rg_jscan_next(struct rg_jscan *s, struct rg_jmember *m)
{
	const char *p = s->p, *k, *v;
	size_t klen;
	int cmp;

	if (p >= s->end)
		return -1;
	if (*p == '}')
		return p + 1 == s->end ? 0 : -1;
	if (s->started && *p++ != ',')
		return -1;
	if (p >= s->end || *p != '"' || (v = rg_jscan_string(p, s->end)) == NULL)
		return -1;
	k = p + 1;
	klen = (size_t)(v - 1 - k);
	if (memchr(k, '\\', klen) != NULL)
		return -1;
	if (s->started) {
		cmp = memcmp(s->prev, k, klen < s->prevlen ? klen : s->prevlen);
		if (cmp > 0 || (cmp == 0 && s->prevlen >= klen))
			return -1;
	}
	if (v >= s->end || *v++ != ':' ||
	    (p = rg_jscan_value(v, s->end, 1)) == NULL)
		return -1;
	m->key = k;
	m->keylen = klen;
	m->val = v;
	m->vallen = (size_t)(p - v);
	s->prev = k;
	s->prevlen = klen;
	s->started = 1;
	s->p = p;
	return 1;
}
