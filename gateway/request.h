/*
 * request.h -- a framed HTTP request and the response to it.
 *
 * This is what crosses the seam between the front (which frames untrusted
 * bytes) and the keeper (which decides): plain data, no pointers back into
 * either side. When the front and keeper become separate processes these
 * structures are what the length-prefixed messages carry.
 */
#ifndef RG_REQUEST_H
#define RG_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/error.h"

struct rg_header {
	char *name;  /* lower-case */
	char *value; /* as received, leading/trailing white space removed */
};

struct rg_request {
	char method[16];            /* "GET", "POST", ... */
	char *target;               /* raw request-target, "/v1/x?a=1" */
	char *path;                 /* target up to '?' */
	char *query;                /* after '?', NULL when there is no '?' */
	struct rg_header *headers;  /* in arrival order; repeated names joined
	                               with ", " as RFC 9110 allows */
	size_t nheaders;
	uint8_t *body;              /* NULL when empty */
	size_t body_len;
	char peer[64];              /* "127.0.0.1:54321" */
	int64_t received_ms;        /* wall clock when the head was complete */
	/* A request the keeper decoded (wire.c): the one allocation that holds
	 * its header array, strings and body; NULL in the front's. */
	void *block;
	/* Only ever set inside the keeper (preverify.c), never carried on the
	 * wire: the signature verified under sig_pub over a base; sig_hash is
	 * rg_preverify_hash of the signature and that base. */
	int sig_ok;
	uint8_t sig_pub[32];
	uint8_t sig_hash[32];
	/* Also only set inside the keeper (preverify.c), for a record
	 * submission whose signature verified: its body parsed as
	 * rg_ex_submit parses it (an object made a one-record array) and each
	 * record's canonical encoding. Borrowed from the helper's run: valid
	 * while the keeper handles this request, NULL otherwise. */
	struct json_t *pre_body;
	char *const *pre_canon;
	size_t pre_ncanon;
	/* Set with sig_ok (preverify.c): the parsed Signature fields and the
	 * signature base the note is about, so that rg_auth_check need not
	 * compute them again. Borrowed like pre_body. */
	const struct rg_httpsig *pre_hs;
	const char *pre_base;
	size_t pre_baselen;
	/* With pre_hs, when the helper also did these (NULL otherwise):
	 * SHA-256(pre_base || body), and rg_content_digest_check's answer
	 * for the body (0 when there is none). Borrowed like pre_body. */
	const uint8_t *pre_digest;
	int pre_cd;
};

/* Header value by lower-case name, or NULL. */
const char *rg_request_header(const struct rg_request *req, const char *lname);

struct rg_response {
	int status;
	char *body;        /* malloc'd, owned by the response */
	size_t body_len;
	int text;          /* 1: the body is Prometheus text (GET /metrics),
	                    * 0: JSON, as every other answer */
};

void rg_response_clear(struct rg_response *resp);

/*
 * Fill resp with the JSON error body {"error": {"code", "message"[, "field"]}}
 * and the code's HTTP status. message NULL = the code's default message;
 * field names the offending field or parameter, or NULL. Returns 0, or -1
 * when out of memory (resp then holds a fixed 500 body).
 */
int rg_response_error(struct rg_response *resp, rg_err err,
                      const char *message, const char *field);

#endif
