/*
 * auth.h -- the keeper's authentication of a signed request (RFC 9421).
 * Owns no state: the key registry and the nonces are in the store.
 */
#ifndef RG_AUTH_H
#define RG_AUTH_H

#include <stdint.h>

#include "gateway/error.h"
#include "gateway/request.h"
#include "gateway/store.h"

struct rg_auth {
	struct rg_store_key key;      /* the verified key and its department */
	char claimed_keyid[128];      /* keyid as claimed, for refusals */
	uint8_t request_digest[32];   /* SHA-256(signature base || body) */
	const char *purpose;          /* recgate-purpose (points into req) */
};

/*
 * Authenticate req at now_ms with a created window of +-skew_s. On RG_OK
 * the nonce has been claimed in the current transaction. Any other code
 * names the first check that failed.
 */
rg_err rg_auth_check(rg_store *st, const struct rg_request *req,
                     int64_t now_ms, unsigned skew_s, struct rg_auth *out);

#endif
