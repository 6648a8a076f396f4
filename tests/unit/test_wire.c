/*
 * test_wire.c -- the front<->keeper frames: round trips, and a decoder
 * that refuses every truncation and survives random mutation (run it
 * under the sanitizers: any read past a length is a failure there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/wire.h"
#include "tests/test.h"

static struct rg_header sample_headers[] = {
	{"host", "127.0.0.1:8443"},
	{"content-digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"},
	{"recgate-purpose", "工伤认定"},
};

static void
sample_request(struct rg_request *req)
{
	memset(req, 0, sizeof(*req));
	snprintf(req->method, sizeof(req->method), "POST");
	req->target = "/v1/resources/hazard-declaration/records?x=1";
	req->headers = sample_headers;
	req->nheaders = 3;
	req->body = (uint8_t *)"{\"a\": 1}";
	req->body_len = 8;
	snprintf(req->peer, sizeof(req->peer), "127.0.0.1:5555");
	req->received_ms = 1795621753370;
}

TEST(wire_request_round_trips_and_path_comes_from_target)
{
	struct rg_request in, out;
	uint8_t *frame;
	size_t len;
	uint64_t id;

	sample_request(&in);
	frame = rg_wire_encode_request(42, &in, &len);
	CHECK(frame != NULL);
	CHECK_EQ_INT(rg_wire_frame_len(frame, len, rg_wire_max_frame(1 << 20)),
	             (long long)len);
	CHECK_EQ_INT(rg_wire_decode_request(frame, len, &id, &out), 0);
	CHECK_EQ_INT(id, 42);
	CHECK_EQ_STR(out.method, "POST");
	CHECK_EQ_STR(out.target, in.target);
	CHECK_EQ_STR(out.path, "/v1/resources/hazard-declaration/records");
	CHECK_EQ_STR(out.query, "x=1");
	CHECK_EQ_STR(out.peer, "127.0.0.1:5555");
	CHECK_EQ_INT(out.nheaders, 3);
	CHECK_EQ_STR(rg_request_header(&out, "recgate-purpose"), "工伤认定");
	CHECK_EQ_INT(out.body_len, 8);
	CHECK(memcmp(out.body, "{\"a\": 1}", 8) == 0);
	CHECK_EQ_INT(out.received_ms, in.received_ms);
	/* One allocation holds it all: each string and the body inside the
	 * block, which is no longer than the frame and two copies of the
	 * target beside the header array, and none of it in the frame. */
	{
		const char *lo = out.block;
		const char *hi = lo + 3 * sizeof(struct rg_header) + len +
		                 2 * (strlen(in.target) + 1);
		const char *ptrs[] = {out.target, out.path, out.query,
		    (const char *)out.body, out.headers[0].name,
		    out.headers[0].value, out.headers[2].name, out.headers[2].value};

		CHECK(lo != NULL && (const void *)out.headers == out.block);
		for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++)
			CHECKF(ptrs[i] >= lo && ptrs[i] < hi, "string %zu", i);
		CHECK((const char *)out.body + out.body_len <= hi);
		CHECK(out.path + strlen(out.path) < hi);
	}
	rg_wire_request_free(&out);
	CHECK(out.block == NULL && out.headers == NULL);
	free(frame);
}

TEST(wire_response_round_trips)
{
	struct rg_response in = {403, "{\"error\":{}}", 12}, out;
	uint8_t *frame;
	size_t len;
	uint64_t id;

	frame = rg_wire_encode_response(7, &in, &len);
	CHECK(frame != NULL);
	CHECK_EQ_INT(rg_wire_decode_response(frame, len, &id, &out), 0);
	CHECK_EQ_INT(id, 7);
	CHECK_EQ_INT(out.status, 403);
	CHECK_EQ_STR(out.body, "{\"error\":{}}");
	CHECK_EQ_INT(out.text, 0);
	rg_response_clear(&out);
	free(frame);
	/* A text body (the metrics) keeps its kind; a kind the front does
	 * not know is refused. */
	in.text = 1;
	frame = rg_wire_encode_response(8, &in, &len);
	CHECK(frame != NULL);
	CHECK_EQ_INT(rg_wire_decode_response(frame, len, &id, &out), 0);
	CHECK_EQ_INT(out.text, 1);
	rg_response_clear(&out);
	frame[4 + 1 + 8 + 2] = 2;
	CHECK_EQ_INT(rg_wire_decode_response(frame, len, &id, &out), -1);
	free(frame);
	/* Statuses outside 100..599 are not encodable. */
	in.status = 42;
	CHECK(rg_wire_encode_response(7, &in, &len) == NULL);
}

TEST(wire_decoder_refuses_every_truncation_and_extension)
{
	struct rg_request in, out;
	uint8_t *frame, *longer;
	size_t len;
	uint64_t id;

	sample_request(&in);
	frame = rg_wire_encode_request(1, &in, &len);
	CHECK(frame != NULL);
	for (size_t cut = 0; cut < len; cut++)
		CHECKF(rg_wire_decode_request(frame, cut, &id, &out) == -1,
		       "a frame cut at %zu bytes was accepted", cut);
	/* One trailing byte, with the length prefix telling the truth. */
	longer = malloc(len + 1);
	CHECK(longer != NULL);
	memcpy(longer, frame, len);
	longer[len] = 'x';
	longer[3]++;
	CHECK_EQ_INT(rg_wire_decode_request(longer, len + 1, &id, &out), -1);
	free(longer);
	free(frame);
}

/* Encode with one field replaced, expect the decoder to refuse it. */
static void
expect_refused(struct rg_request *req, const char *what)
{
	struct rg_request out;
	uint8_t *frame;
	size_t len;
	uint64_t id;

	frame = rg_wire_encode_request(1, req, &len);
	if (frame == NULL)
		return; /* not even encodable: fine */
	CHECKF(rg_wire_decode_request(frame, len, &id, &out) == -1,
	       "%s was accepted", what);
	free(frame);
}

TEST(wire_decoder_refuses_bad_characters)
{
	struct rg_request req;
	struct rg_header bad[1];

	sample_request(&req);
	snprintf(req.method, sizeof(req.method), "get");
	expect_refused(&req, "a lower-case method");
	sample_request(&req);
	req.target = "v1/catalogue";
	expect_refused(&req, "a target not starting with /");
	req.target = "/v1/cata logue";
	expect_refused(&req, "a target with a space");
	sample_request(&req);
	bad[0] = (struct rg_header){"Host", "x"};
	req.headers = bad;
	req.nheaders = 1;
	expect_refused(&req, "an upper-case header name");
	bad[0] = (struct rg_header){"x-a", "line\r\nsignature: forged"};
	expect_refused(&req, "a header value with CR LF");
	bad[0] = (struct rg_header){"", "x"};
	expect_refused(&req, "an empty header name");
}

TEST(wire_frame_length_is_bounded)
{
	uint8_t huge[4] = {0x7f, 0xff, 0xff, 0xff}, tiny[4] = {0, 0, 0, 2};

	CHECK_EQ_INT(rg_wire_frame_len(huge, 4, rg_wire_max_frame(1 << 20)), -1);
	CHECK_EQ_INT(rg_wire_frame_len(tiny, 4, rg_wire_max_frame(1 << 20)), -1);
	CHECK_EQ_INT(rg_wire_frame_len(tiny, 3, rg_wire_max_frame(1 << 20)), 0);
}

/* xorshift64*, seeded: a failure names its seed. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

TEST(wire_decoder_survives_random_mutation)
{
	struct rg_request in, out;
	uint8_t *frame, *m;
	size_t len;
	uint64_t id, seed = 0x9e3779b97f4a7c15ULL;
	int accepted = 0;

	sample_request(&in);
	frame = rg_wire_encode_request(9, &in, &len);
	CHECK(frame != NULL);
	m = malloc(len + 64);
	CHECK(m != NULL);
	for (int round = 0; round < 20000; round++) {
		size_t mlen = len;
		int flips = 1 + (int)(rnd(&seed) % 4);

		memcpy(m, frame, len);
		for (int f = 0; f < flips; f++)
			m[rnd(&seed) % len] = (uint8_t)rnd(&seed);
		if (rnd(&seed) % 8 == 0)
			mlen = (size_t)(rnd(&seed) % (len + 64));
		if (rg_wire_decode_request(m, mlen, &id, &out) == 0) {
			/* What is accepted is well-formed all the same. */
			CHECK(out.target != NULL && out.target[0] == '/');
			CHECK(out.nheaders <= RG_WIRE_MAX_HEADERS);
			accepted++;
			rg_wire_request_free(&out);
		}
		/* Pure noise as well. */
		for (size_t i = 0; i < mlen && i < len + 64; i++)
			m[i] = (uint8_t)rnd(&seed);
		if (rg_wire_decode_request(m, mlen, &id, &out) == 0)
			rg_wire_request_free(&out);
	}
	/* Mutations that only touch the body or a value keep the frame
	 * valid: the decoder must not refuse everything either. */
	CHECK(accepted > 0);
	free(m);
	free(frame);
}
