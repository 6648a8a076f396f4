/*
 * error.h -- recgate's one list of stable error codes.
 *
 * Every refusal the gateway gives carries one of these codes: in the JSON body
 * ({"error": {"code": "...", "message": "..."}}), in the audit entry and in the
 * README. A code, once published, never changes its meaning or its string.
 */
#ifndef RG_ERROR_H
#define RG_ERROR_H

typedef enum rg_err {
	RG_OK = 0,
	/* Framing (front). */
	RG_ERR_MALFORMED_HTTP,     /* 400: bytes are not HTTP/1.1 */
	RG_ERR_HEADERS_TOO_LARGE,  /* 431: header section over the limit */
	RG_ERR_BODY_TOO_LARGE,     /* 413: body over max_body */
	RG_ERR_REQUEST_TIMEOUT,    /* 408: request not received in time */
	RG_ERR_NOT_FOUND,          /* 404: no such route */
	RG_ERR_METHOD_NOT_ALLOWED, /* 405: route exists, not with this method */
	/* Authentication (keeper). */
	RG_ERR_SIGNATURE_MISSING,  /* 401: no Signature / Signature-Input */
	RG_ERR_SIGNATURE_MALFORMED,/* 401: headers do not parse (RFC 9421/8941) */
	RG_ERR_SIGNATURE_COVERAGE, /* 401: a required component is not covered */
	RG_ERR_ALG_UNSUPPORTED,    /* 401: alg is not ed25519 */
	RG_ERR_KEY_UNKNOWN,        /* 401: keyid not registered */
	RG_ERR_KEY_SUSPENDED,      /* 401: key or its department not active */
	RG_ERR_SIGNATURE_INVALID,  /* 401: Ed25519 verification failed */
	RG_ERR_CREATED_SKEW,       /* 401: created too far from now */
	RG_ERR_SIGNATURE_EXPIRED,  /* 401: expires is in the past */
	RG_ERR_REPLAY,             /* 401: nonce already used inside the window */
	RG_ERR_DIGEST_MISSING,     /* 400: body without Content-Digest sha-256 */
	RG_ERR_DIGEST_MISMATCH,    /* 400: Content-Digest does not match body */
	/* Request content (keeper). */
	RG_ERR_BAD_JSON,           /* 400: body is not valid JSON */
	RG_ERR_SCHEMA,             /* 422: record does not match the schema */
	RG_ERR_BAD_PARAMETER,      /* 400: query parameter invalid */
	RG_ERR_UNKNOWN_RESOURCE,   /* 404: resource not in the catalogue */
	RG_ERR_RECORD_NOT_FOUND,   /* 404: no such record */
	RG_ERR_SECRET_REFUSED,     /* 403: classified (涉密) matter refused */
	/* Policy (keeper). */
	RG_ERR_FORBIDDEN,          /* 403: policy denies; reason code says why */
	RG_ERR_GRANT_NOT_FOUND,    /* 404: no such grant */
	RG_ERR_GRANT_CONFLICT,     /* 409: the grant's state does not allow it */
	/* Server side. */
	RG_ERR_STORAGE,            /* 500: database or audit append failed */
	RG_ERR_INTERNAL,           /* 500: broken invariant or out of memory */
	RG_ERR_UNAVAILABLE,        /* 503: gateway shutting down or overloaded */
	/* Key administration (keeper, ex_admin.c); appended so that the
	 * numbers above never move. */
	RG_ERR_KEY_REVOKED,        /* 401: the key was revoked */
	RG_ERR_ADMIN_TARGET,       /* 404: no such key or department */
	RG_ERR_ADMIN_CONFLICT,     /* 409: the key's or department's state does not allow it */
	/* Online master-secret change (ex_master.c). */
	RG_ERR_SEALED_INVALID,     /* 400: the sealed secret does not open or parse */
	RG_ERR_MASTER_STALE,       /* 409: sealed for another keystore file or key */
	RG_ERR_MASTER_WRONG,       /* 403: the current master secret given is wrong */
	RG_ERR__COUNT
} rg_err;

/* Stable code string ("signature_invalid"); never NULL. */
const char *rg_err_code(rg_err err);
/* HTTP status for the code. */
int rg_err_status(rg_err err);
/* Default human-readable message; never NULL. */
const char *rg_err_message(rg_err err);

#endif
