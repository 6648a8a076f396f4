/*
 * jbuf.h -- JSON bytes built and read without a jansson tree, for the
 * keeper's hot paths: a growing buffer that writes compact JSON the way
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) would (the caller writes the
 * keys in order), and a reader of the members of an object in that very
 * form. Anything else is reported, never guessed at.
 */
#ifndef RG_JBUF_H
#define RG_JBUF_H

#include <stddef.h>
#include <stdint.h>

/* Zero-initialise. A failed allocation sticks: take() then gives NULL. */
struct rg_jbuf {
	char *p;
	size_t len, cap;
	int failed;
};

void rg_jbuf_bytes(struct rg_jbuf *b, const void *s, size_t n);
#define rg_jbuf_lit(b, s) rg_jbuf_bytes((b), (s), sizeof(s) - 1)
/* s as a JSON string, escaped as jansson escapes it. */
void rg_jbuf_str(struct rg_jbuf *b, const char *s);
void rg_jbuf_int(struct rg_jbuf *b, int64_t v);
/* Is s valid UTF-8 as json_string() requires (no overlong forms, no
 * surrogates, nothing past U+10FFFF)? json_string refuses the others. */
int rg_jbuf_utf8_ok(const char *s);
/* bin as a JSON string of its standard, padded Base64. Public bytes
 * only: the encoding is not constant-time. */
void rg_jbuf_b64(struct rg_jbuf *b, const uint8_t *bin, size_t len);
/* The text, NUL-terminated (the caller frees it), its length in *len;
 * NULL if an allocation failed. The buffer is empty afterwards. */
char *rg_jbuf_take(struct rg_jbuf *b, size_t *len);
void rg_jbuf_clear(struct rg_jbuf *b);

/* One member of an object: the key's bytes (no escapes) and the value's
 * text, both pointing into the scanned text. */
struct rg_jmember {
	const char *key;
	size_t keylen;
	const char *val;
	size_t vallen;
};

struct rg_jscan {
	const char *p, *end;
	const char *prev;
	size_t prevlen;
	int started;
};

/*
 * Read the members of the object text[0..len) one by one. The text must be
 * what json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes: no white space,
 * keys without escapes in strictly ascending byte order, and nothing after
 * the object. open: 0, or -1. next: 1 with *m filled, 0 after the last
 * member, -1 when the text is not in that form (read nothing from m then).
 */
int rg_jscan_open(struct rg_jscan *s, const char *text, size_t len);
int rg_jscan_next(struct rg_jscan *s, struct rg_jmember *m);

#endif
