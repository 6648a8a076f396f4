/*
 * error.c -- the table behind error.h: code strings, HTTP statuses and
 * default messages, in one place so that they cannot drift apart.
 */
#include "gateway/error.h"

struct rg_err_info {
	const char *code;
	int status;
	const char *message;
};

static const struct rg_err_info rg_err_table[RG_ERR__COUNT] = {
	[RG_OK] = {"ok", 200, "ok"},
	[RG_ERR_MALFORMED_HTTP] = {"malformed_http", 400, "the request is not valid HTTP/1.1"},
	[RG_ERR_HEADERS_TOO_LARGE] = {"headers_too_large", 431, "the header section is larger than allowed"},
	[RG_ERR_BODY_TOO_LARGE] = {"body_too_large", 413, "the body is larger than allowed"},
	[RG_ERR_REQUEST_TIMEOUT] = {"request_timeout", 408, "the request was not received in time"},
	[RG_ERR_NOT_FOUND] = {"not_found", 404, "no such endpoint"},
	[RG_ERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "the endpoint does not take this method"},
	[RG_ERR_SIGNATURE_MISSING] = {"signature_missing", 401, "the request carries no HTTP message signature"},
	[RG_ERR_SIGNATURE_MALFORMED] = {"signature_malformed", 401, "Signature or Signature-Input does not parse"},
	[RG_ERR_SIGNATURE_COVERAGE] = {"signature_coverage", 401, "the signature does not cover a required component"},
	[RG_ERR_ALG_UNSUPPORTED] = {"alg_unsupported", 401, "the signature algorithm must be ed25519"},
	[RG_ERR_KEY_UNKNOWN] = {"key_unknown", 401, "the key id is not registered"},
	[RG_ERR_KEY_SUSPENDED] = {"key_suspended", 401, "the key or its department is not active"},
	[RG_ERR_SIGNATURE_INVALID] = {"signature_invalid", 401, "the signature does not verify"},
	[RG_ERR_CREATED_SKEW] = {"created_out_of_window", 401, "created is too far from the gateway's clock"},
	[RG_ERR_SIGNATURE_EXPIRED] = {"signature_expired", 401, "the signature has expired"},
	[RG_ERR_REPLAY] = {"replay", 401, "this nonce was already used by this key"},
	[RG_ERR_DIGEST_MISSING] = {"digest_missing", 400, "a body needs a Content-Digest with sha-256"},
	[RG_ERR_DIGEST_MISMATCH] = {"digest_mismatch", 400, "the body does not match its Content-Digest"},
	[RG_ERR_BAD_JSON] = {"bad_json", 400, "the body is not valid JSON"},
	[RG_ERR_SCHEMA] = {"schema_violation", 422, "a record does not match the resource schema"},
	[RG_ERR_BAD_PARAMETER] = {"bad_parameter", 400, "a parameter is missing or invalid"},
	[RG_ERR_UNKNOWN_RESOURCE] = {"unknown_resource", 404, "no such resource in the catalogue"},
	[RG_ERR_RECORD_NOT_FOUND] = {"record_not_found", 404, "no such record"},
	[RG_ERR_SECRET_REFUSED] = {"secret_refused", 403, "classified (secret) matters are never handled here"},
	[RG_ERR_FORBIDDEN] = {"forbidden", 403, "the access policy denies this request"},
	[RG_ERR_GRANT_NOT_FOUND] = {"grant_not_found", 404, "no such grant"},
	[RG_ERR_GRANT_CONFLICT] = {"grant_conflict", 409, "the grant's state does not allow this step"},
	[RG_ERR_STORAGE] = {"storage_failed", 500, "the exchange could not be stored; nothing was committed"},
	[RG_ERR_INTERNAL] = {"internal", 500, "internal error"},
	[RG_ERR_UNAVAILABLE] = {"unavailable", 503, "the gateway is not accepting requests now"},
	[RG_ERR_KEY_REVOKED] = {"key_revoked", 401, "the key was revoked"},
	[RG_ERR_ADMIN_TARGET] = {"admin_target_not_found", 404, "no such key or department"},
	[RG_ERR_ADMIN_CONFLICT] = {"admin_conflict", 409, "the key's or department's state does not allow this step"},
	[RG_ERR_SEALED_INVALID] = {"sealed_invalid", 400, "the sealed master secret does not open with the gateway's key or is malformed"},
	[RG_ERR_MASTER_STALE] = {"master_stale", 409, "the sealed master secret was made for another keystore file or signing key: seal it again"},
	[RG_ERR_MASTER_WRONG] = {"master_wrong", 403, "the current master secret given does not open the keystore"},
};

static const struct rg_err_info *
rg_err_info(rg_err err)
{
	if ((unsigned)err >= RG_ERR__COUNT || rg_err_table[err].code == 0)
		return &rg_err_table[RG_ERR_INTERNAL];
	return &rg_err_table[err];
}

const char *
rg_err_code(rg_err err)
{
	return rg_err_info(err)->code;
}

int
rg_err_status(rg_err err)
{
	return rg_err_info(err)->status;
}

const char *
rg_err_message(rg_err err)
{
	return rg_err_info(err)->message;
}
