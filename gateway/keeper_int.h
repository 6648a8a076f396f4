/*
 * keeper_int.h -- what the keeper's own files share (keeper.c: lifecycle
 * and group commit; exchange.c: one exchange from signature to receipt).
 * Nothing outside the keeper includes this.
 */
#ifndef RG_KEEPER_INT_H
#define RG_KEEPER_INT_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "crypto/keystore.h"
#include "crypto/tlog.h"
#include "gateway/dbrekey.h"
#include "gateway/finisher.h"
#include "gateway/keeper.h"
#include "gateway/store.h"
#include "policy/policy.h"

/*
 * A receipt completed once its batch is committed (receipt.h): the
 * reply's body ends inside the receipt of the entry at index.
 */
struct rg_receipt_later {
	int set;
	uint64_t index;
};

struct rg_pending {
	struct rg_response resp;
	rg_keeper_done done;
	void *ctx;
	struct rg_receipt_later receipt; /* !set: the reply is complete */
};

struct rg_keeper {
	struct rg_config cfg;
	uv_loop_t *loop;
	rg_keystore *ks;
	rg_store *st;
	rg_policy *pol;            /* committed snapshot */
	int pol_dirty;             /* the batch changed grants or catalogue:
	                              rebuild pol once it commits */
	int pol_stale;             /* a rebuild failed: answer nothing signed */
	uint8_t gw_pub[32];
	char gw_keyid[9];          /* C2SP note key id, 8 hex digits */
	uint64_t audit_size;       /* next audit index, including the batch */

	/* The open batch: one transaction, replies held until it commits. */
	int in_batch;
	struct rg_pending *pending;
	size_t npending, cap_pending;
	uv_check_t commit_check;
	int64_t last_prune_ms;
	int prune_more;         /* the last prune left expired claims */
	/* Committed batches being synced and signed (finisher.h), their
	 * replies released as each comes back; NULL: done inline. */
	rg_finisher *fin;
	/* Called once the replies that leave together have all been
	 * passed to their done callbacks (rg_keeper_on_replies_out). */
	void (*replies_out)(void *ctx);
	void *replies_ctx;
	/* The running exchange's receipt, when rg_ex_finish left it open;
	 * moved to its pending reply once held. */
	struct rg_receipt_later later;
	/* The log's size when the open batch began, and the frontier of the
	 * committed log (valid when frontier_ok, for frontier.size entries):
	 * what a batch's receipts are built over. */
	uint64_t batch_base;
	struct rg_tlog_frontier frontier;
	int frontier_ok;

	/* Failed-authentication log, rate-limited per minute. */
	int64_t authlog_window_ms;
	unsigned authlog_count;
	uint64_t authlog_suppressed;

	struct rg_keeper_stats stats;

	/* Signing-key rotation (ex_admin.c): the master secret, kept to
	 * reseal the keystore and inaccessible while idle; the rotated
	 * keystore, in use once the batch announcing it commits. */
	rg_keystore_secret *secret;
	rg_keystore *ks_next;
	uint8_t *ks_undo;          /* the keystore file before it (ciphertext) */
	size_t ks_undo_len;
	/* An online master-secret change (ex_master.c): the new secret,
	 * kp->secret once the batch holding its entry commits. */
	rg_keystore_secret *secret_next;
	/* Online database rekey (dbrekey.c): scheduled, last outcome. */
	struct rg_dbrekey dbrekey;

	/* Audit checkpoints (ex_audit.c): signed only over committed trees. */
	uint64_t committed_size;   /* audit entries durable on disk */
	uint64_t checkpoint_size;  /* size of the latest signed checkpoint */
	int64_t checkpoint_ms;     /* and when it was signed */
	int has_checkpoint;
	uv_timer_t checkpoint_timer;
	int open_handles;          /* closed one by one at rg_keeper_close */

	/* Failed authentications entered in the log: a token bucket of
	 * auth_audit_per_minute a minute, the rest counted and summarised. */
	double auth_tokens;
	int64_t auth_tokens_ms;
	uint64_t auth_suppressed;
	int64_t auth_suppressed_since_ms;

	/* Re-encryption of record bodies after a data-key rotation
	 * (reencrypt.c): steps run from this idle handle, between
	 * exchanges, each in its own savepoint of the open batch. */
	uv_idle_t reenc_idle;
	int reenc_running;         /* the idle handle is started */
	int reenc_step_pending;    /* a step's rows wait for their commit */
	const rg_keystore *reenc_seen_ks; /* the keystore last looked at */
	int64_t reenc_paused_ms;   /* a failed step stopped it then; 0 none */
};

/* ex_audit.c: sign and store a checkpoint over the first size entries
 * (size <= committed_size) unless one of that size or larger exists.
 * 0, or -1 (nothing signed or stored; errors are logged). */
int rg_audit_checkpoint(rg_keeper *kp, uint64_t size, int64_t now_ms);
/* rg_tlog_get_fn over the store's subtree hashes (ctx: the rg_store). */
int rg_audit_node(void *ctx, unsigned level, uint64_t idx,
                  uint8_t out[RG_HASHLEN]);
/* ex_audit.c: when refused authentications were only counted and the
 * budget allows one entry again, enter the count. 1 when entered, 0 when
 * there was nothing to do, -1 when the append failed. Runs in a savepoint. */
int rg_audit_auth_summary(rg_keeper *kp, int64_t now_ms);
/* ex_audit.c: read the latest stored checkpoint's size at open. */
int rg_audit_open(rg_keeper *kp, char *err, size_t errlen);

/* ex_grants.c: add every stored grant to an unsealed snapshot. A grant
 * that no longer reads against the catalogue gives nothing (skipped, with
 * a log line). 0, or -1 on a storage failure. */
int rg_keeper_load_grants(rg_store *st, rg_policy *pol);
/* A sealed snapshot of what the database holds now (catalogue, members,
 * grants), inside the current transaction if one is open. Caller owns it;
 * NULL with err on failure. */
rg_policy *rg_keeper_load_policy(rg_store *st, char *err, size_t errlen);

/* ex_admin.c: at the end of a batch, put a rotated keystore (signing key
 * or KEK) in use (committed) or put the file back (not committed). Also
 * for one exchange that failed after rotating (committed 0). */
void rg_admin_rotation_end(rg_keeper *kp, int committed);
/* ex_master.c: the same for a changed master secret: secret_next becomes
 * kp->secret (committed) or is wiped. Called by rg_admin_rotation_end. */
void rg_master_end(rg_keeper *kp, int committed);
/* ex_admin.c: note (signed by the active key; freed here) with the
 * previous key's signature line added during the overlap. malloc'd, or
 * NULL on failure. */
char *rg_admin_cosign_note(rg_keeper *kp, const char *text, char *note);

/* keeper_keys.c: with kp->secret set, open the keystore and the
 * database, settling an online keystore change a crash interrupted
 * (ks_journal.h). Sets kp->ks and kp->st; 0, or -1 with err set. */
int rg_keeper_open_keys(rg_keeper *kp, char *err, size_t errlen);

/* ex_audit.c: append a system entry the keeper built itself (index and
 * policy added here) in the open transaction; takes entry. 0 or -1. */
int rg_audit_append_obj(rg_keeper *kp, json_t *entry);

/* Wall clock in milliseconds. */
int64_t rg_keeper_now_ms(void);

/* keeper.c: wait for every committed batch to be durable and signed and
 * release their replies (before anything that must follow them: a key
 * swap, a database rekey, closing). */
void rg_keeper_drain(rg_keeper *kp);
/* keeper.c: open a batch (one transaction, committed in the loop's check
 * phase) unless one is open. 0 or -1. */
int rg_keeper_batch_open(rg_keeper *kp);
/* ex_audit.c: enter entry (taken) in a transaction of its own, between
 * batches, with one meta change in the same transaction (meta NULL: none;
 * val NULL: the value removed, else set to val[0..len)); durable on
 * return. 0, or -1 with nothing changed (rg_store_errmsg says why; the
 * log's length is read back). */
int rg_audit_enter_alone(rg_keeper *kp, json_t *entry, const char *meta,
                         const void *val, size_t len);
/* keeper_restore.c: at start, enter in the audit log the restore
 * `recgatectl restore` left a marker of (RG_STORE_META_RESTORED) and
 * remove the marker, in one transaction. 0 (also with no marker), or -1
 * with err set: the gateway does not serve a restore it cannot enter. */
int rg_keeper_enter_restore(rg_keeper *kp, char *err, size_t errlen);

/* reencrypt.c: set up the idle handle (kp->reenc_idle, data = kp) and
 * look for unfinished work, so that a job resumes after a restart. */
void rg_reencrypt_init(rg_keeper *kp);
/* reencrypt.c: after each batch (committed 1, or rolled back 0): passes
 * the crash point of a committed step, and looks for work again when a
 * rotated keystore came into use. */
void rg_reencrypt_batch_end(rg_keeper *kp, int committed);
/* reencrypt.c: each resource's active data-key version and its job's
 * progress, for the administrator. New reference, or NULL. */
json_t *rg_reencrypt_status(rg_keeper *kp);

/*
 * Carry out one signed exchange inside the current savepoint. Fills resp.
 * Returns 1 when an audit entry was appended (the savepoint must be kept
 * and the reply held for the commit) -- also for a refused authentication
 * that was entered --, 0 when nothing was written (reply at once, undo the
 * savepoint), -1 on a storage failure (undo; resp holds the error).
 */
int rg_exchange_run(rg_keeper *kp, const struct rg_request *req,
                    struct rg_response *resp);
/*
 * 1 when req's exchange runs under the light savepoint (store.h:
 * rg_store_mark) instead of a savepoint: the hot routes (record
 * submissions and reads, the change feed, the catalogue), which refuse
 * before they write and write only their rows and their audit entry. If
 * such an exchange fails after a write, its whole batch fails.
 */
int rg_exchange_light(const struct rg_request *req);
/* Requests that need no signature (/healthz, /v1/keys) and routing
 * errors: returns 1 and fills resp when it answered, 0 otherwise. */
int rg_exchange_unsigned(rg_keeper *kp, const struct rg_request *req,
                         struct rg_response *resp);

#endif
