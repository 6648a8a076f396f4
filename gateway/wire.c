/*
 * wire.c -- encoding and strict decoding of front<->keeper frames (layout
 * in wire.h). The decoder is the keeper's first line against a compromised
 * front: it reads nothing past a checked length and accepts nothing it
 * would not have produced itself.
 */
#include <stdlib.h>
#include <string.h>

#include "gateway/wire.h"

struct rg_wbuf {
	uint8_t *p;
	size_t len, cap;
	int bad;
};

static void
rg_wput(struct rg_wbuf *b, const void *data, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->bad = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
rg_wput_u(struct rg_wbuf *b, uint64_t v, int bytes)
{
	uint8_t tmp[8];

	for (int i = 0; i < bytes; i++)
		tmp[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	rg_wput(b, tmp, (size_t)bytes);
}

/* A string with a length prefix of `bytes` bytes, at most max long. */
static void
rg_wput_str(struct rg_wbuf *b, const char *s, int bytes, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > max) {
		b->bad = 1;
		return;
	}
	rg_wput_u(b, n, bytes);
	rg_wput(b, s, n);
}

static uint8_t *
rg_wire_finish(struct rg_wbuf *b, size_t *len)
{
	size_t body;

	if (b->bad || b->len < 4) {
		free(b->p);
		return NULL;
	}
	body = b->len - 4;
	if (body > UINT32_MAX) {
		free(b->p);
		return NULL;
	}
	b->p[0] = (uint8_t)(body >> 24);
	b->p[1] = (uint8_t)(body >> 16);
	b->p[2] = (uint8_t)(body >> 8);
	b->p[3] = (uint8_t)body;
	*len = b->len;
	return b->p;
}

size_t
rg_wire_max_frame(size_t max_body)
{
	/* Fixed fields, the target, every header at its largest, the body. */
	return RG_WIRE_HEAD + 8 + 1 + 255 + 2 + RG_WIRE_MAX_TARGET + 1 + 255 +
	       2 + (size_t)RG_WIRE_MAX_HEADERS * (1 + 255 + 2 + RG_WIRE_MAX_VALUE) +
	       4 + max_body;
}

uint8_t *
rg_wire_encode_request(uint64_t id, const struct rg_request *req, size_t *len)
{
	struct rg_wbuf b = {0};

	if (req->nheaders > RG_WIRE_MAX_HEADERS || req->body_len > UINT32_MAX)
		return NULL;
	rg_wput_u(&b, 0, 4);
	rg_wput_u(&b, RG_WIRE_REQUEST, 1);
	rg_wput_u(&b, id, 8);
	rg_wput_u(&b, (uint64_t)req->received_ms, 8);
	rg_wput_str(&b, req->method, 1, 255);
	rg_wput_str(&b, req->target, 2, RG_WIRE_MAX_TARGET);
	rg_wput_str(&b, req->peer, 1, 255);
	rg_wput_u(&b, req->nheaders, 2);
	for (size_t i = 0; i < req->nheaders; i++) {
		rg_wput_str(&b, req->headers[i].name, 1, 255);
		rg_wput_str(&b, req->headers[i].value, 2, RG_WIRE_MAX_VALUE);
	}
	rg_wput_u(&b, req->body_len, 4);
	if (req->body_len > 0)
		rg_wput(&b, req->body, req->body_len);
	return rg_wire_finish(&b, len);
}

uint8_t *
rg_wire_encode_response(uint64_t id, const struct rg_response *resp,
                        size_t *len)
{
	struct rg_wbuf b = {0};

	if (resp->status < 100 || resp->status > 599 || resp->body_len > UINT32_MAX)
		return NULL;
	rg_wput_u(&b, 0, 4);
	rg_wput_u(&b, RG_WIRE_RESPONSE, 1);
	rg_wput_u(&b, id, 8);
	rg_wput_u(&b, (uint64_t)resp->status, 2);
	rg_wput_u(&b, resp->text ? 1 : 0, 1);
	rg_wput_u(&b, resp->body_len, 4);
	if (resp->body_len > 0)
		rg_wput(&b, resp->body, resp->body_len);
	return rg_wire_finish(&b, len);
}

long long
rg_wire_frame_len(const uint8_t *buf, size_t avail, size_t max_frame)
{
	uint64_t n;

	if (avail < 4)
		return 0;
	n = ((uint64_t)buf[0] << 24) | ((uint64_t)buf[1] << 16) |
	    ((uint64_t)buf[2] << 8) | buf[3];
	if (n + 4 < RG_WIRE_HEAD || n + 4 > max_frame)
		return -1;
	return (long long)(n + 4);
}

/* ---- decoding ---------------------------------------------------------- */

struct rg_rbuf {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static uint64_t
rg_rget_u(struct rg_rbuf *r, int bytes)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->off < (size_t)bytes) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v = (v << 8) | r->p[r->off++];
	return v;
}

/* A length-prefixed string, checked by ok() character by character, left
 * where it is: *out points into the frame. Its length, or 0 when bad. */
static size_t
rg_rget_span(struct rg_rbuf *r, int bytes, size_t min, size_t max,
             int (*ok)(unsigned char c), const uint8_t **out)
{
	uint64_t n = rg_rget_u(r, bytes);

	*out = NULL;
	if (r->bad || n < min || n > max || r->len - r->off < n) {
		r->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (!ok(r->p[r->off + i])) {
			r->bad = 1;
			return 0;
		}
	*out = r->p + r->off;
	r->off += (size_t)n;
	return (size_t)n;
}

/* The request's block, filled front to back (its room is counted before). */
struct rg_rblock {
	char *p;
	size_t off;
};

/* n bytes from src as a string at the block's end. */
static char *
rg_rblock_str(struct rg_rblock *b, const uint8_t *src, size_t n)
{
	char *s = b->p + b->off;

	memcpy(s, src, n);
	s[n] = '\0';
	b->off += n + 1;
	return s;
}

/* A length-prefixed string copied into the block. NULL when bad. */
static char *
rg_rget_str(struct rg_rbuf *r, int bytes, size_t min, size_t max,
            int (*ok)(unsigned char c), struct rg_rblock *b)
{
	const uint8_t *src;
	size_t n = rg_rget_span(r, bytes, min, max, ok, &src);

	return r->bad ? NULL : rg_rblock_str(b, src, n);
}

static int
rg_ok_method(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

/* Visible ASCII: what a request-target and an address may hold. */
static int
rg_ok_visible(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* A header name as the front stores it: lower-case token characters. */
static int
rg_ok_name(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A header value: no control characters but tab (UTF-8 bytes pass). */
static int
rg_ok_value(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void
rg_wire_request_free(struct rg_request *req)
{
	free(req->block);
	memset(req, 0, sizeof(*req));
}

/*
 * One allocation per request: the header array, then every string and the
 * body, copied out of the frame into one block. Its room: the rest of the
 * frame after the target holds each header string and the body behind a
 * length prefix of at least one byte, which leaves room for each NUL; the
 * target and the path each take its length and a NUL.
 */
int
rg_wire_decode_request(const uint8_t *buf, size_t len, uint64_t *id,
                       struct rg_request *req)
{
	struct rg_rbuf r = {buf, len, 0, 0};
	struct rg_rblock b = {NULL, 0};
	const uint8_t *method, *target, *peer;
	size_t mlen, tlen, plen, hsize;
	char *q;
	uint64_t n, body;

	memset(req, 0, sizeof(*req));
	if (rg_rget_u(&r, 4) + 4 != len || rg_rget_u(&r, 1) != RG_WIRE_REQUEST)
		return -1;
	*id = rg_rget_u(&r, 8);
	req->received_ms = (int64_t)rg_rget_u(&r, 8);
	mlen = rg_rget_span(&r, 1, 1, sizeof(req->method) - 1, rg_ok_method,
	                    &method);
	tlen = rg_rget_span(&r, 2, 1, RG_WIRE_MAX_TARGET, rg_ok_visible, &target);
	plen = rg_rget_span(&r, 1, 0, sizeof(req->peer) - 1, rg_ok_visible, &peer);
	n = rg_rget_u(&r, 2);
	if (r.bad || target[0] != '/' || n > RG_WIRE_MAX_HEADERS)
		return -1;
	memcpy(req->method, method, mlen);
	memcpy(req->peer, peer, plen);
	hsize = (size_t)n * sizeof(*req->headers);
	if ((req->block = malloc(hsize + (len - r.off) + 2 * (tlen + 1))) == NULL)
		return -1;
	req->headers = n > 0 ? req->block : NULL;
	b.p = (char *)req->block + hsize;
	for (uint64_t i = 0; i < n; i++) {
		struct rg_header *h = &req->headers[req->nheaders];

		h->name = rg_rget_str(&r, 1, 1, 255, rg_ok_name, &b);
		h->value = rg_rget_str(&r, 2, 0, RG_WIRE_MAX_VALUE, rg_ok_value, &b);
		if (r.bad)
			goto bad;
		req->nheaders++;
	}
	body = rg_rget_u(&r, 4);
	if (r.bad || body != len - r.off)
		goto bad;
	if (body > 0) {
		req->body = (uint8_t *)b.p + b.off;
		memcpy(req->body, buf + r.off, (size_t)body);
		req->body_len = (size_t)body;
		b.off += (size_t)body;
	}
	/* Path and query come from the target, never from the front. */
	req->target = rg_rblock_str(&b, target, tlen);
	req->path = rg_rblock_str(&b, target, tlen);
	q = strchr(req->path, '?');
	if (q != NULL) {
		*q = '\0';
		req->query = q + 1;
	}
	return 0;
bad:
	rg_wire_request_free(req);
	return -1;
}

int
rg_wire_decode_response(const uint8_t *buf, size_t len, uint64_t *id,
                        struct rg_response *resp)
{
	struct rg_rbuf r = {buf, len, 0, 0};
	uint64_t status, kind, body;

	memset(resp, 0, sizeof(*resp));
	if (rg_rget_u(&r, 4) + 4 != len || rg_rget_u(&r, 1) != RG_WIRE_RESPONSE)
		return -1;
	*id = rg_rget_u(&r, 8);
	status = rg_rget_u(&r, 2);
	kind = rg_rget_u(&r, 1);
	body = rg_rget_u(&r, 4);
	if (r.bad || status < 100 || status > 599 || kind > 1 ||
	    body != len - r.off)
		return -1;
	resp->status = (int)status;
	resp->text = (int)kind;
	resp->body = malloc((size_t)body + 1);
	if (resp->body == NULL)
		return -1;
	memcpy(resp->body, buf + r.off, (size_t)body);
	resp->body[body] = '\0';
	resp->body_len = (size_t)body;
	return 0;
}
