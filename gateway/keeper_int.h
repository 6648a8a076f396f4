/*
 * keeper_int.h -- what the keeper's own files share (keeper.c: lifecycle
 * and group commit; exchange.c: one exchange from signature to receipt).
 * Nothing outside the keeper includes this.
 */
#ifndef RG_KEEPER_INT_H
#define RG_KEEPER_INT_H

#include <stdint.h>

#include <uv.h>

#include "crypto/keystore.h"
#include "gateway/keeper.h"
#include "gateway/store.h"
#include "policy/policy.h"

struct rg_pending {
	struct rg_response resp;
	rg_keeper_done done;
	void *ctx;
};

struct rg_keeper {
	struct rg_config cfg;
	uv_loop_t *loop;
	rg_keystore *ks;
	rg_store *st;
	rg_policy *pol;
	uint8_t gw_pub[32];
	char gw_keyid[9];          /* C2SP note key id, 8 hex digits */
	uint64_t audit_size;       /* next audit index, including the batch */

	/* The open batch: one transaction, replies held until it commits. */
	int in_batch;
	struct rg_pending *pending;
	size_t npending, cap_pending;
	uv_check_t commit_check;
	int64_t last_prune_ms;

	/* Failed-authentication log, rate-limited per minute. */
	int64_t authlog_window_ms;
	unsigned authlog_count;
	uint64_t authlog_suppressed;

	struct rg_keeper_stats stats;
};

/* Wall clock in milliseconds. */
int64_t rg_keeper_now_ms(void);

/*
 * Carry out one signed exchange inside the current savepoint. Fills resp.
 * Returns 1 when an audit entry was appended (the savepoint must be kept
 * and the reply held for the commit), 0 when nothing was written (reply at
 * once, undo the savepoint), -1 on a storage failure (undo; resp holds the
 * error).
 */
int rg_exchange_run(rg_keeper *kp, const struct rg_request *req,
                    struct rg_response *resp);
/* Requests that need no signature (/healthz, /v1/keys) and routing
 * errors: returns 1 and fills resp when it answered, 0 otherwise. */
int rg_exchange_unsigned(rg_keeper *kp, const struct rg_request *req,
                         struct rg_response *resp);

#endif
