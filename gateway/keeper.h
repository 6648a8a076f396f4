/*
 * keeper.h -- the keeper: the only room that holds keys, the database and
 * the audit log.
 *
 * The front hands the keeper one framed request at a time; the keeper
 * authenticates it (RFC 9421), decides it (policy), carries it out (seal,
 * store) and appends its audit entry, all inside the current batch
 * transaction; each reply carries a receipt, completed with the batch's
 * signed checkpoint once the batch is committed. Replies are released only after the batch has
 * committed durably: many exchanges share one fsync (group commit). The
 * keeper trusts nothing in the request and signs only bytes it built.
 */
#ifndef RG_KEEPER_H
#define RG_KEEPER_H

#include <stdint.h>

#include <uv.h>

#include "gateway/config.h"
#include "gateway/request.h"

typedef struct rg_keeper rg_keeper;

/*
 * Called once per request with the response, after the batch holding the
 * request is durable (or has failed). resp is owned by the keeper and valid
 * only during the call.
 */
typedef void (*rg_keeper_done)(void *ctx, const struct rg_response *resp);

/*
 * Unlock the keystore, open the database and load the policy snapshot.
 * NULL with err set on failure (err never holds key material).
 */
rg_keeper *rg_keeper_open(const struct rg_config *cfg, uv_loop_t *loop,
                          char *err, size_t errlen);
/* Commit what is pending and answer it, then wipe every key and close;
 * the memory goes when the loop next runs (the keeper owns a handle). */
void rg_keeper_close(rg_keeper *kp);

/* Handle one request; done is called exactly once, possibly later. req must
 * stay valid until done is called. */
void rg_keeper_handle(rg_keeper *kp, const struct rg_request *req,
                      rg_keeper_done done, void *ctx);
/* Call the done callbacks of the committed batches that are durable and
 * signed by now (they are otherwise called when the loop next polls):
 * between the requests of a long run, so that their answers need not wait
 * for the run's end. Never inside rg_keeper_handle's callbacks. */
void rg_keeper_poll(rg_keeper *kp);
/* fn(ctx) after each run of replies that leave together (a batch's, or
 * a failed batch's), once all were passed to their done callbacks: a
 * caller that gathers them sends them at once. Replies made inside
 * rg_keeper_handle itself (refused before any batch) are not followed by
 * it: the caller sends those after handling. */
void rg_keeper_on_replies_out(rg_keeper *kp, void (*fn)(void *ctx),
                              void *ctx);

/* Counters for /metrics and tests. */
struct rg_keeper_stats {
	uint64_t requests;
	uint64_t auth_failures;
	uint64_t allowed;
	uint64_t denied;
	uint64_t batches;      /* committed transactions */
	uint64_t batch_max;    /* most exchanges in one commit */
	uint64_t read_ahead;   /* requests read while earlier ones were
	                        * handled (their verification started then) */
	uint64_t helper_late;  /* requests verified inline after a helper
	                        * that took them did not finish in time */
	uint64_t audit_size;
	/* The log's fdatasyncs on the finisher's thread: how many, the
	 * longest (µs), and how many took over 10 and over 100 ms: a disk
	 * that stalls shows here before anywhere else. */
	uint64_t syncs;
	uint64_t sync_us;      /* their time together */
	uint64_t sync_max_us;
	uint64_t syncs_over_10ms;
	uint64_t syncs_over_100ms;
};
void rg_keeper_stats(const rg_keeper *kp, struct rg_keeper_stats *out);

#endif
