/*
 * fuzz.c -- the fuzz targets' table, their failure report, and the
 * suite's mutation run (fuzz.h). The mutations are deliberately simple and
 * seeded: libFuzzer (`make fuzz`) is where coverage-guided search happens;
 * here every `make test` replays the same few thousand inputs per target.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

const struct rg_fuzz_target rg_fuzz_targets[] = {
	{"wire_request", rg_fuzz_wire_request, rg_fuzz_wire_request_seeds},
	{"wire_response", rg_fuzz_wire_response, rg_fuzz_wire_response_seeds},
	{"httpsig", rg_fuzz_httpsig, rg_fuzz_httpsig_seeds},
	{"content_digest", rg_fuzz_content_digest, rg_fuzz_content_digest_seeds},
	{"json_body", rg_fuzz_json_body, rg_fuzz_json_body_seeds},
	{"catalogue", rg_fuzz_catalogue, rg_fuzz_catalogue_seeds},
	{"note", rg_fuzz_note, rg_fuzz_note_seeds},
	{"receipt", rg_fuzz_receipt, rg_fuzz_receipt_seeds},
};
const size_t rg_fuzz_ntargets =
    sizeof(rg_fuzz_targets) / sizeof(rg_fuzz_targets[0]);

const struct rg_fuzz_target *
rg_fuzz_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < rg_fuzz_ntargets; i++)
		if (strcmp(rg_fuzz_targets[i].name, name) == 0)
			return &rg_fuzz_targets[i];
	return NULL;
}

unsigned long rg_fuzz_accepted;

static const uint8_t *rg_fuzz_input;
static size_t rg_fuzz_input_len;

void
rg_fuzz_set_input(const uint8_t *data, size_t len)
{
	rg_fuzz_input = data;
	rg_fuzz_input_len = len;
}

void
rg_fuzz_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "fuzz: %s:%d: %s does not hold; input (%zu bytes):\n",
	        file, line, expr, rg_fuzz_input_len);
	for (size_t i = 0; i < rg_fuzz_input_len && i < 4096; i++)
		fprintf(stderr, "%02x%s", rg_fuzz_input[i],
		        i % 32 == 31 ? "\n" : "");
	fprintf(stderr, "\n");
	abort();
}

char *
rg_fuzz_str(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

void
rg_fuzz_emit_all(rg_fuzz_emit emit, void *ctx, const char *const *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		emit(ctx, (const uint8_t *)s[i], strlen(s[i]));
}

/* ---- the suite's mutations ---------------------------------------------- */

struct rg_fuzz_seeds {
	uint8_t **data;
	size_t *len;
	size_t n, cap;
};

static void
rg_fuzz_collect(void *ctx, const uint8_t *data, size_t len)
{
	struct rg_fuzz_seeds *s = ctx;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->data = realloc(s->data, s->cap * sizeof(*s->data));
		s->len = realloc(s->len, s->cap * sizeof(*s->len));
		if (s->data == NULL || s->len == NULL)
			abort();
	}
	s->data[s->n] = malloc(len + 1);
	if (s->data[s->n] == NULL)
		abort();
	if (len > 0)
		memcpy(s->data[s->n], data, len);
	s->len[s->n++] = len;
}

/* xorshift64*: a fixed sequence from the seed. */
static uint64_t
rg_fuzz_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ULL;
}

/* Bytes the parsers give meaning to: quotes, escapes, separators, ends. */
static const uint8_t rg_fuzz_special[] = {
	0x00, 0xff, 0x80, 0xc0, 0xe0, 0xf0, '"', '\\', '{', '}', '[', ']', ',',
	':', ';', '=', '(', ')', '\n', '\r', ' ', '0', '9', '-', '.', 'e',
	'+', '/', '*', '?', '&', 0x7f,
};

/* One edit of buf (len, room cap), returning the new length. */
static size_t
rg_fuzz_edit(uint8_t *buf, size_t len, size_t cap, uint64_t *x,
             const struct rg_fuzz_seeds *s)
{
	size_t at = len > 0 ? (size_t)(rg_fuzz_next(x) % len) : 0;
	uint64_t r = rg_fuzz_next(x);

	switch (r % 8) {
	case 0: /* flip a bit */
		if (len > 0)
			buf[at] ^= (uint8_t)(1u << (r >> 8) % 8);
		return len;
	case 1: /* set a byte, often a special one */
		if (len > 0)
			buf[at] = (r >> 8) % 2
			    ? rg_fuzz_special[(r >> 16) % sizeof(rg_fuzz_special)]
			    : (uint8_t)(r >> 24);
		return len;
	case 2: /* insert a byte */
		if (len >= cap)
			return len;
		memmove(buf + at + 1, buf + at, len - at);
		buf[at] = rg_fuzz_special[(r >> 16) % sizeof(rg_fuzz_special)];
		return len + 1;
	case 3: /* delete a run */
		if (len == 0)
			return len;
		{
			size_t n = 1 + (size_t)((r >> 8) % 16);

			if (n > len - at)
				n = len - at;
			memmove(buf + at, buf + at + n, len - at - n);
			return len - n;
		}
	case 4: /* repeat a run */
		{
			size_t n = 1 + (size_t)((r >> 8) % 32);

			if (n > len - at)
				n = len - at;
			if (len + n > cap)
				return len;
			memmove(buf + at + n, buf + at, len - at);
			return len + n;
		}
	case 5: /* cut the end */
		return at;
	case 6: /* a 16-bit or 32-bit field set to an edge value */
		if (len >= at + 4) {
			static const uint32_t edge[] = {0, 1, 0x7f, 0x80, 0xff,
			                                0xffff, 0x7fffffff,
			                                0xffffffff};
			uint32_t v = edge[(r >> 8) % 8];

			memcpy(buf + at, &v, (r >> 16) % 2 ? 2 : 4);
		}
		return len;
	default: /* splice in the middle of another seed */
		{
			size_t k = (size_t)((r >> 8) % s->n), from, n;

			if (s->len[k] == 0)
				return len;
			from = (size_t)((r >> 20) % s->len[k]);
			n = s->len[k] - from;
			if (at + n > cap)
				n = cap - at;
			memcpy(buf + at, s->data[k] + from, n);
			return at + n > len ? at + n : len;
		}
	}
}

size_t
rg_fuzz_run_mutations(const struct rg_fuzz_target *t, size_t runs,
                      uint64_t seed)
{
	struct rg_fuzz_seeds s = {0};
	uint64_t x = seed | 1;
	size_t done = 0, cap;
	uint8_t *buf;

	t->seeds(rg_fuzz_collect, &s);
	if (s.n == 0)
		abort();
	cap = 0;
	for (size_t i = 0; i < s.n; i++)
		if (s.len[i] > cap)
			cap = s.len[i];
	cap = cap * 2 + 64;
	for (size_t i = 0; i < s.n; i++, done++) {
		/* Exactly the seed's bytes, nothing after them (ASan sees any
		 * read past the end). */
		uint8_t *exact = malloc(s.len[i] > 0 ? s.len[i] : 1);

		if (exact == NULL)
			abort();
		memcpy(exact, s.data[i], s.len[i]);
		rg_fuzz_set_input(exact, s.len[i]);
		t->run(exact, s.len[i]);
		free(exact);
	}
	if ((buf = malloc(cap)) == NULL)
		abort();
	for (size_t i = 0; i < runs; i++, done++) {
		size_t k = (size_t)(rg_fuzz_next(&x) % s.n), len = s.len[k];
		int edits = 1 + (int)(rg_fuzz_next(&x) % 4);
		uint8_t *exact;

		memcpy(buf, s.data[k], len);
		while (edits-- > 0)
			len = rg_fuzz_edit(buf, len, cap, &x, &s);
		if ((exact = malloc(len > 0 ? len : 1)) == NULL)
			abort();
		memcpy(exact, buf, len);
		rg_fuzz_set_input(exact, len);
		t->run(exact, len);
		free(exact);
	}
	rg_fuzz_set_input(NULL, 0);
	free(buf);
	for (size_t i = 0; i < s.n; i++)
		free(s.data[i]);
	free(s.data);
	free(s.len);
	return done;
}
