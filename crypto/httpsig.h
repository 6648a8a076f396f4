/*
 * httpsig.h -- RFC 9421 HTTP Message Signatures (Ed25519) and RFC 9530
 * Content-Digest.
 *
 * This module parses the Signature-Input and Signature fields (RFC 8941
 * structured fields), builds the signature base from a message view, and
 * signs requests for clients. It decides nothing about keys, time windows or
 * replay: the keeper does that with what this module extracts.
 */
#ifndef RG_HTTPSIG_H
#define RG_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sig.h"

/* A read-only view of an HTTP request, as the signer or verifier sees it. */
struct rg_httpsig_msg {
	const char *method;    /* "POST" */
	const char *path;      /* "/v1/resources/x/records", no query */
	const char *query;     /* "a=1&b=2" without '?', or NULL if none */
	const char *authority; /* Host, lower-case, or NULL */
	/* Value of a header by lower-case name, or NULL when absent. */
	const char *(*header)(void *ctx, const char *lname);
	void *ctx;
};

typedef enum rg_httpsig_status {
	RG_HTTPSIG_OK = 0,
	RG_HTTPSIG_MISSING,      /* no Signature-Input or no Signature */
	RG_HTTPSIG_MALFORMED,    /* does not parse, or labels do not match */
	RG_HTTPSIG_COMPONENT,    /* a covered component is absent or unknown */
	RG_HTTPSIG_NOMEM
} rg_httpsig_status;

typedef struct rg_httpsig rg_httpsig;

/*
 * Parse the two field values. When several signatures are present the first
 * label of Signature-Input is used and must also be in Signature. On success
 * *out is owned by the caller (rg_httpsig_free).
 */
rg_httpsig_status rg_httpsig_parse(const char *signature_input,
                                   const char *signature, rg_httpsig **out);
void rg_httpsig_free(rg_httpsig *hs);

/* Parameters; strings are owned by hs, NULL when absent. */
const char *rg_httpsig_label(const rg_httpsig *hs);
const char *rg_httpsig_keyid(const rg_httpsig *hs);
const char *rg_httpsig_alg(const rg_httpsig *hs);
const char *rg_httpsig_nonce(const rg_httpsig *hs);
/* Return 1 and set *v when present, 0 when absent. */
int rg_httpsig_created(const rg_httpsig *hs, int64_t *v);
int rg_httpsig_expires(const rg_httpsig *hs, int64_t *v);
/* 1 when the component (e.g. "@method", "content-digest") is covered. */
int rg_httpsig_covers(const rg_httpsig *hs, const char *component);
/* The raw signature bytes (owned by hs). */
const uint8_t *rg_httpsig_signature(const rg_httpsig *hs, size_t *len);

/*
 * Build the signature base (RFC 9421 section 2.5) for msg. *base is
 * NUL-terminated, malloc'd, owned by the caller. Derived components
 * supported: @method, @authority, @path, @query. Any other name is a header
 * field, looked up through msg->header; an absent one is an error.
 */
rg_httpsig_status rg_httpsig_base(const rg_httpsig *hs,
                                  const struct rg_httpsig_msg *msg,
                                  char **base, size_t *len);

/* Verify hs's signature over the base for msg with an Ed25519 public key.
 * Returns 0 when valid, -1 otherwise. */
int rg_httpsig_verify(const rg_httpsig *hs, const struct rg_httpsig_msg *msg,
                      const uint8_t pub[RG_SIG_PUBLEN]);

/*
 * Client side: sign msg with the given components (in order) and parameters
 * created, expires (0 = none), nonce (NULL = none), keyid, alg="ed25519",
 * under label "sig1". Writes malloc'd field values (caller frees) for
 * Signature-Input and Signature. Returns RG_HTTPSIG_OK or an error.
 */
rg_httpsig_status rg_httpsig_sign(const rg_sigkey *key, const char *keyid,
                                  const struct rg_httpsig_msg *msg,
                                  const char *const *components, size_t ncomp,
                                  int64_t created, int64_t expires,
                                  const char *nonce, char **signature_input,
                                  char **signature);

/* RFC 9530: "sha-256=:<base64>:" for body; malloc'd, caller frees. */
char *rg_content_digest(const uint8_t *body, size_t len);
/*
 * Check a Content-Digest field value against body: 0 when its sha-256 member
 * matches, 1 when there is no parsable sha-256 member, -1 on mismatch.
 */
int rg_content_digest_check(const char *field, const uint8_t *body, size_t len);

#endif
