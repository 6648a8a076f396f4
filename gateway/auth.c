/*
 * auth.c -- the keeper's check of a request's RFC 9421 signature.
 *
 * Which components must be covered, which key signed, whether it is in its
 * time window, whether its nonce is fresh, whether the body is the one the
 * Content-Digest names. Order matters: the signature is verified before the
 * nonce is claimed, so that forged requests cannot burn a real client's
 * nonces. Nothing here trusts a byte of the request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/httpsig.h"
#include "crypto/sha256.h"
#include "gateway/auth.h"
#include "gateway/preverify.h"

#define RG_NONCE_MAX 128

static const char *
rg_auth_header(void *ctx, const char *lname)
{
	return rg_request_header(ctx, lname);
}

/*
 * Did preverify.c already verify this very signature over this very base
 * under this very key (the one just read inside the batch)? Only then is
 * the Ed25519 computation not done again here.
 */
static int
rg_auth_preverified(const struct rg_request *req, const uint8_t *sig,
                    size_t siglen, const char *base, size_t baselen,
                    const uint8_t pub[32])
{
	uint8_t h[32];

	if (!req->sig_ok || sodium_memcmp(req->sig_pub, pub, 32) != 0 ||
	    rg_preverify_hash(sig, siglen, base, baselen, h) != 0)
		return 0;
	return sodium_memcmp(h, req->sig_hash, 32) == 0;
}

/* Components every signed request must cover. */
static const char *const rg_auth_required[] = {"@method", "@path", "@query"};

rg_err
rg_auth_check(rg_store *st, const struct rg_request *req, int64_t now_ms,
              unsigned skew_s, struct rg_auth *out)
{
	const char *si = rg_request_header(req, "signature-input");
	const char *sv = rg_request_header(req, "signature");
	struct rg_httpsig_msg msg = {0};
	rg_httpsig *own_hs = NULL;
	const rg_httpsig *hs;
	const char *keyid, *alg, *nonce;
	int64_t created, expires, now_s = now_ms / 1000;
	char *own_base = NULL;
	const char *base;
	size_t baselen;
	rg_err err;
	int rc, noted_digests;

	memset(out, 0, sizeof(*out));
	if (si == NULL || sv == NULL)
		return RG_ERR_SIGNATURE_MISSING;
	/* A noted request comes with the fields preverify.c parsed from
	 * these very headers: the same parse, not repeated. Every check
	 * below still runs on them. */
	if (req->sig_ok && req->pre_hs != NULL && req->pre_base != NULL) {
		hs = req->pre_hs;
	} else {
		switch (rg_httpsig_parse(si, sv, &own_hs)) {
		case RG_HTTPSIG_OK:
			break;
		case RG_HTTPSIG_MISSING:
			return RG_ERR_SIGNATURE_MISSING;
		case RG_HTTPSIG_NOMEM:
			return RG_ERR_INTERNAL;
		default:
			return RG_ERR_SIGNATURE_MALFORMED;
		}
		hs = own_hs;
	}
	keyid = rg_httpsig_keyid(hs);
	alg = rg_httpsig_alg(hs);
	nonce = rg_httpsig_nonce(hs);
	if (keyid != NULL)
		snprintf(out->claimed_keyid, sizeof(out->claimed_keyid), "%s",
		         keyid);
	if (keyid == NULL || nonce == NULL || !rg_httpsig_created(hs, &created)) {
		err = RG_ERR_SIGNATURE_MALFORMED;
		goto done;
	}
	if (strlen(nonce) < 8 || strlen(nonce) >= RG_NONCE_MAX) {
		err = RG_ERR_SIGNATURE_MALFORMED;
		goto done;
	}
	if (alg == NULL || strcmp(alg, "ed25519") != 0) {
		err = RG_ERR_ALG_UNSUPPORTED;
		goto done;
	}
	for (size_t i = 0; i < sizeof(rg_auth_required) / sizeof(*rg_auth_required); i++)
		if (!rg_httpsig_covers(hs, rg_auth_required[i])) {
			err = RG_ERR_SIGNATURE_COVERAGE;
			goto done;
		}
	if (req->body_len > 0 && !rg_httpsig_covers(hs, "content-digest")) {
		err = RG_ERR_SIGNATURE_COVERAGE;
		goto done;
	}
	if (rg_request_header(req, "recgate-purpose") != NULL &&
	    !rg_httpsig_covers(hs, "recgate-purpose")) {
		err = RG_ERR_SIGNATURE_COVERAGE;
		goto done;
	}

	rc = rg_store_key_get(st, keyid, &out->key);
	if (rc == RG_STORE_NOTFOUND) {
		err = RG_ERR_KEY_UNKNOWN;
		goto done;
	}
	if (rc != RG_STORE_OK) {
		err = RG_ERR_STORAGE;
		goto done;
	}
	/* Read inside the batch's transaction: a revocation entered earlier
	 * in the same batch already holds for this request. */
	if (strcmp(out->key.status, "revoked") == 0) {
		err = RG_ERR_KEY_REVOKED;
		goto done;
	}
	if (strcmp(out->key.status, "active") != 0 ||
	    strcmp(out->key.dept_status, "active") != 0) {
		err = RG_ERR_KEY_SUSPENDED;
		goto done;
	}
	if (created > now_s + (int64_t)skew_s || created < now_s - (int64_t)skew_s) {
		err = RG_ERR_CREATED_SKEW;
		goto done;
	}
	if (rg_httpsig_expires(hs, &expires) && expires < now_s) {
		err = RG_ERR_SIGNATURE_EXPIRED;
		goto done;
	}

	if (own_hs == NULL) {
		/* The note's own base and signature: it holds exactly when the
		 * key read now, inside the batch, is the key it verified. */
		size_t siglen;
		const uint8_t *sig = rg_httpsig_signature(hs, &siglen);

		base = req->pre_base;
		baselen = req->pre_baselen;
		if (siglen != crypto_sign_BYTES ||
		    (sodium_memcmp(req->sig_pub, out->key.pub, 32) != 0 &&
		     crypto_sign_verify_detached(sig, (const uint8_t *)base,
		                                 baselen, out->key.pub) != 0)) {
			err = RG_ERR_SIGNATURE_INVALID;
			goto done;
		}
		goto verified;
	}
	msg.method = req->method;
	msg.path = req->path;
	msg.query = req->query;
	msg.authority = rg_request_header(req, "host");
	msg.header = rg_auth_header;
	msg.ctx = (void *)req;
	switch (rg_httpsig_base(hs, &msg, &own_base, &baselen)) {
	case RG_HTTPSIG_OK:
		break;
	case RG_HTTPSIG_NOMEM:
		err = RG_ERR_INTERNAL;
		goto done;
	default:
		err = RG_ERR_SIGNATURE_COVERAGE;
		goto done;
	}
	base = own_base;
	{
		size_t siglen;
		const uint8_t *sig = rg_httpsig_signature(hs, &siglen);

		if (siglen != crypto_sign_BYTES ||
		    (!rg_auth_preverified(req, sig, siglen, base, baselen,
		                          out->key.pub) &&
		     crypto_sign_verify_detached(sig, (const uint8_t *)base,
		                                 baselen, out->key.pub) != 0)) {
			err = RG_ERR_SIGNATURE_INVALID;
			goto done;
		}
	}
verified:
	/* The helper's answers stand only with its own base (own_hs NULL):
	 * they were computed from that base and this request's body. */
	noted_digests = own_hs == NULL && req->pre_digest != NULL;
	if (req->body_len > 0) {
		const char *cd = rg_request_header(req, "content-digest");

		if (noted_digests)
			rc = req->pre_cd;
		else
			rc = cd != NULL ? rg_content_digest_check(cd, req->body,
			                                          req->body_len) : 1;
		if (rc == 1) {
			err = RG_ERR_DIGEST_MISSING;
			goto done;
		}
		if (rc != 0) {
			err = RG_ERR_DIGEST_MISMATCH;
			goto done;
		}
	}
	/* The nonce is reserved until the window in which this signature
	 * could still be accepted has passed. */
	{
		int64_t until = (created + (int64_t)skew_s) * 1000;

		rc = rg_store_nonce_claim_at(st, keyid, nonce, until, now_ms);
	}
	if (rc == RG_STORE_EXISTS) {
		err = RG_ERR_REPLAY;
		goto done;
	}
	if (rc != RG_STORE_OK) {
		err = RG_ERR_STORAGE;
		goto done;
	}
	if (noted_digests) {
		memcpy(out->request_digest, req->pre_digest,
		       sizeof(out->request_digest));
	} else {
		const struct rg_sha256_part parts[] = {{base, baselen},
		                                       {req->body, req->body_len}};

		rg_sha256_v(out->request_digest, parts, 2);
	}
	out->purpose = rg_request_header(req, "recgate-purpose");
	err = RG_OK;
done:
	free(own_base);
	rg_httpsig_free(own_hs);
	return err;
}
