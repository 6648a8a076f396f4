/*
 * preverify.h -- the Ed25519 verification of a run of requests' signatures
 * on helper threads, running ahead of the keeper's thread, which handles
 * the requests one by one in arrival order (and verifies one itself when
 * it reaches it before any helper took it).
 */
#ifndef RG_PREVERIFY_H
#define RG_PREVERIFY_H

#include <stddef.h>

#include "gateway/request.h"
#include "gateway/store.h"

/* Most requests one run verifies at once; a longer run is split. */
#define RG_PREVERIFY_MAX 64

typedef struct rg_preverify rg_preverify;

/* NULL when out of memory. The helper threads start on the first run. */
rg_preverify *rg_preverify_new(void);
/* Stops and joins the helper threads. NULL is fine. */
void rg_preverify_free(rg_preverify *pv);

/*
 * Verify the signatures of reqs[0..n) (n <= RG_PREVERIFY_MAX; reqs stays
 * valid until rg_preverify_end), reading each signer's public key from st:
 * start hands them to the helper threads, which verify them in order while
 * the caller handles request after request; wait(i) before handling
 * reqs[i] gives it its note if its signature verified (sig_ok / sig_pub /
 * sig_hash, with the parsed fields and base it verified, pre_hs / pre_base,
 * and the body's Content-Digest answer and request digest, pre_cd /
 * pre_digest, owned by the run like pre_body below, request.h); end waits for the helper and lets go of the run.
 * A request whose signature does not verify, or that was not prepared, is
 * left as it was, for rg_auth_check to check inline and refuse with the
 * right error. rg_auth_check still does every check in its order, and
 * relies on a note only when the key it reads then is the very same key.
 * A verified record submission also gets its parsed body (pre_body,
 * pre_canon, request.h), owned by the run: valid from wait(i) until end,
 * so the caller handles reqs[i] in between.
 */
void rg_preverify_start(rg_preverify *pv, rg_store *st,
                        struct rg_request **reqs, size_t n);
void rg_preverify_wait(rg_preverify *pv, size_t i);
void rg_preverify_end(rg_preverify *pv);
/* start, wait for each, end: all notes at once (no parsed bodies). */
void rg_preverify_run(rg_preverify *pv, rg_store *st,
                      struct rg_request **reqs, size_t n);

/* The hash a note carries: BLAKE2b-256 over the signature and the base,
 * keyed with a secret of this process. 0, or -1 (no note possible). */
int rg_preverify_hash(const uint8_t *sig, size_t siglen, const char *base,
                       size_t baselen, uint8_t out[32]);

#endif
