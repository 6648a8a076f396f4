/*
 * preverify.h -- the Ed25519 verification of requests' signatures on
 * helper threads, queued as their frames arrive and running ahead of the
 * keeper's thread, which handles the requests one by one, those already
 * verified first (and verifies one itself rather than wait for a helper).
 */
#ifndef RG_PREVERIFY_H
#define RG_PREVERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/request.h"
#include "gateway/store.h"

/* Most requests queued at once; beyond them a request is verified inline. */
#define RG_PV_RING 256

typedef struct rg_preverify rg_preverify;
/* A queued request's place; 0 for one that was not queued. */
typedef uint64_t rg_pv_ticket;

/* NULL when out of memory. The helper threads start on the first job. */
rg_preverify *rg_preverify_new(void);
/* Stops and joins the helper threads, letting go of every job still
 * held. NULL is fine. */
void rg_preverify_free(rg_preverify *pv);

/*
 * Queue req's signature for the helpers, reading its signer's public key
 * from st (the job copies what the helpers read of req, which need stay
 * valid only until wait(t) returns). Returns
 * its ticket, or 0 when it was not queued (no signature to prepare, the
 * queue full, no helper): rg_auth_check then does it all inline.
 *
 * wait(t), before handling the request, gives it its note if its
 * signature verified (sig_ok / sig_pub / sig_hash, with the parsed fields
 * and base it verified, pre_hs / pre_base, the body's Content-Digest
 * answer and request digest, pre_cd / pre_digest, and for a verified
 * record submission its parsed body, pre_body / pre_canon: request.h),
 * verifying it on this thread when no helper has taken it yet. A request
 * whose signature does not verify is left as it was, for rg_auth_check to
 * check inline and refuse with the right error; so is one whose job a
 * helper took but has not finished within a bound (a few times what the
 * job should take: the helpers yield the processor to every other thread,
 * and on a busy machine may not get it back soon). rg_auth_check still does
 * every check in its order, and relies on a note only when the key it
 * reads then is the very same key. done(t), once the request was handled
 * (or dropped), lets go of the job and what the note borrowed from it
 * (a job a helper is still inside goes when it is through).
 * A ticket is waited for in the order given unless ready(t) says its job
 * is done (wait then only reads the note); done takes any order. 0 is fine
 * for all three.
 *
 * ready(t): 1 when wait(t) would not wait (the job done, or none).
 * run_next(last): this thread runs the first job no helper has taken, if
 * its ticket is last or before; its ticket, or 0 (none such).
 */
rg_pv_ticket rg_preverify_add(rg_preverify *pv, rg_store *st,
                              struct rg_request *req);
void rg_preverify_wait(rg_preverify *pv, rg_pv_ticket t);
void rg_preverify_done(rg_preverify *pv, rg_pv_ticket t);
int rg_preverify_ready(rg_preverify *pv, rg_pv_ticket t);
rg_pv_ticket rg_preverify_run_next(rg_preverify *pv, rg_pv_ticket last);
/* Wait until the helpers finished every queued job (tests: which notes a
 * request gets then no longer depends on which thread got there first). */
void rg_preverify_settle(rg_preverify *pv);
/* add each, settle, wait for each and done: notes only (no parsed
 * bodies, no fields borrowed). At most RG_PV_RING requests. */
void rg_preverify_run(rg_preverify *pv, rg_store *st,
                      struct rg_request **reqs, size_t n);

/* How many times wait(t) gave up waiting for a helper. */
uint64_t rg_preverify_gave_up(const rg_preverify *pv);
/* Tests: fn(arg) runs on a helper each time it has taken a job, before it
 * runs it (to hold a helper inside a job). Set before the first add. */
void rg_preverify_test_hook(rg_preverify *pv, void (*fn)(void *arg),
                            void *arg);

/* The hash a note carries: BLAKE2b-256 over the signature and the base,
 * keyed with a secret of this process. 0, or -1 (no note possible). */
int rg_preverify_hash(const uint8_t *sig, size_t siglen, const char *base,
                       size_t baselen, uint8_t out[32]);

#endif
