/*
 * fuzz_wire.c -- the frames between the front and the keeper. The keeper
 * trusts nothing a front sends (a front runs the HTTP parser on the
 * network's bytes and may be the one compromised), and the front nothing
 * the keeper's frames could be cut to. What holds: a frame that decodes
 * encodes back to exactly its bytes, and its length is what
 * rg_wire_frame_len measures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/wire.h"
#include "tests/fuzz/fuzz.h"

#define RG_FUZZ_MAX_FRAME (1u << 20)

void
rg_fuzz_wire_request(const uint8_t *data, size_t len)
{
	struct rg_request req;
	uint64_t id;
	uint8_t *again;
	size_t alen;
	long long flen = rg_wire_frame_len(data, len, RG_FUZZ_MAX_FRAME);

	memset(&req, 0, sizeof(req));
	if (rg_wire_decode_request(data, len, &id, &req) != 0) {
		RG_FUZZ_ASSERT(req.block == NULL);
		return;
	}
	rg_fuzz_accepted++;
	RG_FUZZ_ASSERT(flen == (long long)len || len > RG_FUZZ_MAX_FRAME);
	/* Every string the keeper reads is terminated inside the block. */
	RG_FUZZ_ASSERT(req.target != NULL && req.path != NULL);
	RG_FUZZ_ASSERT(strlen(req.method) < sizeof(req.method));
	for (size_t i = 0; i < req.nheaders; i++)
		RG_FUZZ_ASSERT(req.headers[i].name != NULL &&
		               req.headers[i].value != NULL &&
		               strlen(req.headers[i].name) < 256);
	again = rg_wire_encode_request(id, &req, &alen);
	RG_FUZZ_ASSERT(again != NULL);
	RG_FUZZ_ASSERT(alen == len && memcmp(again, data, len) == 0);
	free(again);
	rg_wire_request_free(&req);
}

void
rg_fuzz_wire_response(const uint8_t *data, size_t len)
{
	struct rg_response resp;
	uint64_t id;
	uint8_t *again;
	size_t alen;

	if (rg_wire_decode_response(data, len, &id, &resp) != 0) {
		RG_FUZZ_ASSERT(resp.body == NULL);
		return;
	}
	rg_fuzz_accepted++;
	RG_FUZZ_ASSERT(resp.status >= 100 && resp.status <= 599);
	RG_FUZZ_ASSERT(resp.body[resp.body_len] == '\0');
	again = rg_wire_encode_response(id, &resp, &alen);
	RG_FUZZ_ASSERT(again != NULL);
	RG_FUZZ_ASSERT(alen == len && memcmp(again, data, len) == 0);
	free(again);
	rg_response_clear(&resp);
}

/* A signed submission as the front hands it over, and smaller ones. */
void
rg_fuzz_wire_request_seeds(rg_fuzz_emit emit, void *ctx)
{
	static const char body[] = "{\"id\":\"a\",\"n\":1}";
	struct rg_header h[] = {
	    {"host", "127.0.0.1:8443"},
	    {"content-type", "application/json"},
	    {"content-digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"},
	    {"signature-input", "sig1=(\"@method\" \"@path\" \"content-digest\");"
	                        "created=1700000000;keyid=\"health-1\";nonce=\"n\""},
	    {"signature", "sig1=:AAAA:"},
	};
	struct rg_request req;
	uint8_t *f;
	size_t len;

	memset(&req, 0, sizeof(req));
	snprintf(req.method, sizeof(req.method), "POST");
	req.target = "/v1/resources/hazard-declaration/records?x=1";
	req.path = "/v1/resources/hazard-declaration/records";
	req.query = "x=1";
	req.headers = h;
	req.nheaders = sizeof(h) / sizeof(h[0]);
	req.body = (uint8_t *)body;
	req.body_len = sizeof(body) - 1;
	snprintf(req.peer, sizeof(req.peer), "127.0.0.1:40000");
	if ((f = rg_wire_encode_request(42, &req, &len)) != NULL) {
		emit(ctx, f, len);
		free(f);
	}
	snprintf(req.method, sizeof(req.method), "GET");
	req.target = req.path = "/healthz";
	req.query = NULL;
	req.nheaders = 1;
	req.body = NULL;
	req.body_len = 0;
	if ((f = rg_wire_encode_request(1, &req, &len)) != NULL) {
		emit(ctx, f, len);
		free(f);
	}
}

void
rg_fuzz_wire_response_seeds(rg_fuzz_emit emit, void *ctx)
{
	struct rg_response r = {200, "{\"result\":{\"id\":\"a\"}}", 21, 0};
	uint8_t *f;
	size_t len;

	if ((f = rg_wire_encode_response(7, &r, &len)) != NULL) {
		emit(ctx, f, len);
		free(f);
	}
	r = (struct rg_response){200, "# TYPE x counter\nx 1\n", 21, 1};
	if ((f = rg_wire_encode_response(8, &r, &len)) != NULL) {
		emit(ctx, f, len);
		free(f);
	}
}
