/*
 * keeper.c -- the keeper's lifecycle and its group commit.
 *
 * Opening unlocks the keystore, opens the database and loads the policy
 * snapshot. Each signed exchange runs inside a savepoint of the open batch
 * transaction (the hot ones under a light one, rg_exchange_light); the batch commits in the loop's check phase, once per loop
 * iteration, so that every exchange read in one iteration shares one fsync.
 * That fsync, and the receipts (receipt.h: one signed checkpoint for the
 * batch, each entry's proof in it), are the finisher's (finisher.h): its
 * thread makes a committed batch durable and completes its receipts while
 * this one runs the next. No reply to a signed exchange leaves
 * before its batch is durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"
#include "gateway/crashpoint.h"
#include "gateway/keeper_int.h"
#include "gateway/receipt.h"

/* A batch never holds more than this many exchanges; beyond it the keeper
 * commits before taking the next one, which bounds the memory held for
 * replies. */
#define RG_BATCH_MAX 4096
/* Expired nonce claims are pruned at most this often, at most
 * RG_PRUNE_CHUNK rows in a batch: at thousands of exchanges a second a
 * minute's claims are hundreds of thousands, whose deletion in one batch
 * held every exchange in it for a good part of a second; in chunks the
 * next batches share it, about a millisecond each. A row holds a batch's
 * claims (store.c), some 30 at full load: 2,048 such rows, half a MiB of
 * tags freed and overwritten (secure_delete), took 6 ms of one batch. */
#define RG_PRUNE_INTERVAL_MS 60000
#define RG_PRUNE_CHUNK 128

/*
 * The keeper's clock: the wall clock plus clock_offset_ms, which only
 * tests and drills set (to see grants expire, say, without waiting). One
 * keeper per process, so the offset is the process's.
 */
static int64_t rg_keeper_clock_offset_ms;

int64_t
rg_keeper_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	       rg_keeper_clock_offset_ms;
}

struct rg_dept_ctx {
	rg_policy *pol;
	int rc;
};

static int
rg_keeper_add_dept(void *ctx, const char *id, const char *name,
                   const char *status)
{
	struct rg_dept_ctx *dc = ctx;

	(void)name;
	if (rg_policy_add_department(dc->pol, id, strcmp(status, "active") == 0)
	    != 0) {
		dc->rc = -1;
		return 1;
	}
	return 0;
}

/* Build the policy snapshot from what the database holds. */
rg_policy *
rg_keeper_load_policy(rg_store *st, char *err, size_t errlen)
{
	struct rg_dept_ctx dc = {NULL, 0};
	rg_catalogue *cat;
	char perr[2048];
	void *text = NULL;
	size_t len = 0;

	if (rg_store_meta_get(st, "catalogue", &text, &len) != RG_STORE_OK) {
		snprintf(err, errlen, "the database holds no catalogue");
		return NULL;
	}
	cat = rg_catalogue_parse(text, len, perr, sizeof(perr));
	free(text);
	if (cat == NULL) {
		snprintf(err, errlen, "stored catalogue is invalid: %s", perr);
		return NULL;
	}
	dc.pol = rg_policy_new(cat); /* takes cat, even when it fails */
	if (dc.pol == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (rg_store_dept_each(st, rg_keeper_add_dept, &dc) != RG_STORE_OK ||
	    dc.rc != 0 || rg_keeper_load_grants(st, dc.pol) != 0 ||
	    rg_policy_seal(dc.pol) != 0) {
		rg_policy_free(dc.pol);
		snprintf(err, errlen, "cannot load the member departments");
		return NULL;
	}
	return dc.pol;
}

static void rg_keeper_commit_cb(uv_check_t *check);
static void rg_keeper_batch_done(void *ctx, struct rg_fin_job *job);
static int rg_keeper_begin(rg_keeper *kp);

/* The periodic checkpoint: only over what is committed, only when the log
 * grew since the last one. */
static void
rg_keeper_checkpoint_cb(uv_timer_t *t)
{
	rg_keeper *kp = t->data;
	int64_t now = rg_keeper_now_ms();

	if (kp->committed_size > kp->checkpoint_size || !kp->has_checkpoint)
		(void)rg_audit_checkpoint(kp, kp->committed_size, now);
	/* Refused authentications only counted while a flood lasted are
	 * entered once the budget allows, even if no more come. The entry
	 * commits with the batch it opens, in this loop iteration. */
	if (kp->auth_suppressed > 0 && !kp->in_batch && rg_keeper_begin(kp) == 0) {
		uint64_t before = kp->audit_size;

		if (rg_store_savepoint(kp->st) != RG_STORE_OK)
			return;
		if (rg_audit_auth_summary(kp, now) > 0 &&
		    rg_store_release(kp->st) == RG_STORE_OK)
			return;
		kp->audit_size = before;
		if (rg_store_undo(kp->st) != RG_STORE_OK) {
			rg_store_rollback(kp->st);
			kp->in_batch = 0;
			uv_check_stop(&kp->commit_check);
		}
	}
}

rg_keeper *
rg_keeper_open(const struct rg_config *cfg, uv_loop_t *loop, char *err,
               size_t errlen)
{
	rg_keystore_secret *secret = NULL;
	char kerr[512];
	rg_keeper *kp;
	uint32_t id;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return NULL;
	}
	kp = calloc(1, sizeof(*kp));
	if (kp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	kp->cfg = *cfg;
	rg_keeper_clock_offset_ms = cfg->clock_offset_ms;
	if (cfg->clock_offset_ms != 0)
		fprintf(stderr, "recgated: WARNING: the keeper's clock runs %lld ms "
		        "off the wall clock (clock_offset_ms, for tests and drills)\n",
		        (long long)cfg->clock_offset_ms);
	kp->loop = loop;
	if (rg_crashpoint_arm(cfg->crash_at) != 0) {
		snprintf(err, errlen, "crash_at: expected NAME or NAME:N");
		free(kp);
		return NULL;
	}
	if (cfg->crash_at[0] != '\0')
		fprintf(stderr, "recgated: WARNING: the keeper kills itself at "
		        "crash point %s (crash_at, for tests and drills)\n",
		        cfg->crash_at);
	/* The key file when one is configured, else the passphrase from the
	 * descriptor the service manager passed (read once, then closed). */
	if (cfg->master_key_file[0] != '\0') {
		secret = rg_keystore_secret_keyfile(cfg->master_key_file, kerr,
		                                    sizeof(kerr));
	} else if (cfg->passphrase_fd >= 0) {
		secret = rg_keystore_secret_passphrase_fd(cfg->passphrase_fd,
		                                          kerr, sizeof(kerr));
		close(cfg->passphrase_fd);
	} else {
		snprintf(kerr, sizeof(kerr), "no master secret configured");
	}
	if (secret == NULL) {
		snprintf(err, errlen, "%s", kerr);
		goto fail;
	}
	/* Kept for online rotations (ex_admin.c), in guarded memory made
	 * inaccessible until a rotation needs it. */
	kp->secret = secret;
	if (rg_keeper_open_keys(kp, err, errlen) != 0)
		goto fail;
	kp->pol = rg_keeper_load_policy(kp->st, err, errlen);
	if (kp->pol == NULL)
		goto fail;
	if (rg_store_audit_size(kp->st, &kp->audit_size) != RG_STORE_OK) {
		snprintf(err, errlen, "cannot read the audit log: %s",
		         rg_store_errmsg(kp->st));
		goto fail;
	}
	kp->stats.audit_size = kp->audit_size;
	kp->committed_size = kp->audit_size;
	if (rg_audit_open(kp, err, errlen) != 0)
		goto fail;
	rg_sigkey_public(rg_keystore_signing_key(kp->ks), kp->gw_pub);
	id = rg_sig_note_keyid(rg_keystore_origin(kp->ks), kp->gw_pub);
	snprintf(kp->gw_keyid, sizeof(kp->gw_keyid), "%08x", id);
	/* A database rekey a stop interrupted is finished before serving. */
	if (rg_dbrekey_recover(kp, err, errlen) != 0)
		goto fail;
	/* So is the entry of a restore this is the first start after. */
	if (rg_keeper_enter_restore(kp, err, errlen) != 0)
		goto fail;
	if (uv_check_init(loop, &kp->commit_check) != 0) {
		snprintf(err, errlen, "cannot set up the commit handle");
		goto fail;
	}
	kp->commit_check.data = kp;
	kp->open_handles = 1;
	/* Checkpoints at least every checkpoint_every_ms while the log grows;
	 * the timer alone never keeps the loop alive. */
	if (uv_timer_init(loop, &kp->checkpoint_timer) != 0) {
		snprintf(err, errlen, "cannot set up the checkpoint timer");
		uv_close((uv_handle_t *)&kp->commit_check, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		goto fail;
	}
	kp->checkpoint_timer.data = kp;
	kp->open_handles = 2;
	uv_timer_start(&kp->checkpoint_timer, rg_keeper_checkpoint_cb,
	               cfg->checkpoint_every_ms, cfg->checkpoint_every_ms);
	uv_unref((uv_handle_t *)&kp->checkpoint_timer);
	/* A re-encryption cut short by a stop or a crash resumes. */
	rg_reencrypt_init(kp);
	kp->open_handles = 3;
	/* Without its thread every batch is synced and signed inline. */
	kp->fin = rg_finisher_new(loop, rg_keeper_batch_done, kp);
	if (kp->fin == NULL)
		fprintf(stderr, "recgated: no finisher thread; committing "
		        "batches inline\n");
	return kp;
fail:
	rg_policy_free(kp->pol);
	rg_store_close(kp->st);
	rg_keystore_free(kp->ks);
	rg_keystore_secret_free(kp->secret);
	free(kp);
	return NULL;
}

/*
 * Swap in a snapshot of what the batch just committed (grants, catalogue),
 * before any reply is released, so that a caller who holds an approval's
 * (or a revocation's) receipt is judged by it. The old snapshot serves
 * until the new one is built. If it cannot be built the keeper is stale:
 * a revocation might not be in force, so it answers no signed request
 * until a rebuild succeeds (fail closed).
 */
static int
rg_keeper_reload_policy(rg_keeper *kp)
{
	char err[512];
	rg_policy *pol = rg_keeper_load_policy(kp->st, err, sizeof(err));

	if (pol == NULL) {
		fprintf(stderr, "recgated: policy not reloaded: %s\n", err);
		kp->pol_stale = 1;
		return -1;
	}
	rg_policy_free(kp->pol);
	kp->pol = pol;
	kp->pol_stale = 0;
	return 0;
}

/*
 * A committed batch on its way out: the finisher makes it durable and
 * completes its receipts, then rg_keeper_batch_done releases its replies.
 * The pending replies follow the header in the same allocation.
 */
struct rg_batch {
	struct rg_fin_job job;
	rg_receipts *receipts;     /* NULL: no reply in it has a receipt */
	struct rg_pending *pending;
	size_t n;
	uint64_t audit_size;       /* the log's size once this batch is durable */
};

static void
rg_batch_free(struct rg_batch *b)
{
	if (b != NULL)
		rg_receipts_free(b->receipts);
	free(b);
}

static int
rg_batch_work(void *arg)
{
	struct rg_batch *b = arg;

	return b->receipts != NULL ? rg_receipts_finish(b->receipts) : 0;
}

/* Send one held reply (an error instead when failed) and let go of it. */
static void
rg_pending_release(struct rg_pending *p, int failed)
{
	if (failed)
		rg_response_error(&p->resp, RG_ERR_STORAGE, NULL, NULL);
	p->done(p->ctx, &p->resp);
	rg_response_clear(&p->resp);
	p->receipt = (struct rg_receipt_later){0};
}

static void
rg_keeper_replies_out(rg_keeper *kp)
{
	if (kp->replies_out != NULL)
		kp->replies_out(kp->replies_ctx);
}

void
rg_keeper_on_replies_out(rg_keeper *kp, void (*fn)(void *ctx), void *ctx)
{
	kp->replies_out = fn;
	kp->replies_ctx = ctx;
}

/* Sign a checkpoint once enough durable entries are past the last one:
 * never over an entry that could still be lost or rolled back. */
static void
rg_keeper_checkpoint_due(rg_keeper *kp)
{
	if (kp->committed_size >= kp->checkpoint_size +
	                          kp->cfg.checkpoint_every_entries)
		(void)rg_audit_checkpoint(kp, kp->committed_size,
		                          rg_keeper_now_ms());
}

/* The finisher gave a batch back (loop thread): durable and signed. */
static void
rg_keeper_batch_done(void *ctx, struct rg_fin_job *job)
{
	rg_keeper *kp = ctx;
	struct rg_batch *b = job->arg;

	if (job->sync_us > 0) {
		kp->stats.syncs++;
		kp->stats.sync_us += job->sync_us;
		if (job->sync_us > kp->stats.sync_max_us)
			kp->stats.sync_max_us = job->sync_us;
		kp->stats.syncs_over_10ms += job->sync_us > 10000;
		kp->stats.syncs_over_100ms += job->sync_us > 100000;
	}
	for (size_t i = 0; i < b->n; i++)
		rg_pending_release(&b->pending[i], job->failed);
	rg_keeper_replies_out(kp);
	if (b->audit_size > kp->committed_size)
		kp->committed_size = b->audit_size;
	rg_batch_free(b);
	rg_keeper_checkpoint_due(kp);
}

/* rg_store_audit_each: one leaf of the batch into its receipts. */
static int
rg_batch_leaf(void *ctx, uint64_t index, const uint8_t *entry, size_t len,
              const uint8_t leaf[32])
{
	(void)entry;
	(void)len;
	return rg_receipts_leaf(ctx, index, leaf);
}

/*
 * The receipts of the open batch, whose replies are p[0..n): the frontier
 * of the log before it (kept from the last batch, or read from the subtree
 * table), the batch's leaves as the transaction holds them, and each reply
 * that waits for a receipt. Advances kp->frontier past the batch: the
 * caller clears frontier_ok if the batch does not commit. 0 (*out NULL
 * when no reply has a receipt), or -1.
 */
static int
rg_batch_receipts(rg_keeper *kp, struct rg_pending *p, size_t n,
                  rg_receipts **out)
{
	uint64_t base = kp->batch_base;
	size_t nrec = 0;
	rg_receipts *r;

	*out = NULL;
	for (size_t i = 0; i < n; i++)
		nrec += p[i].receipt.set;
	if (nrec == 0)
		return 0;
	if (!kp->frontier_ok || kp->frontier.size != base) {
		kp->frontier_ok = 0;
		if (rg_tlog_frontier_load(&kp->frontier, base, rg_audit_node,
		                          kp->st) != 0)
			return -1;
		kp->frontier_ok = 1;
	}
	r = rg_receipts_new(&kp->frontier, (size_t)(kp->audit_size - base),
	                    nrec, rg_keystore_origin(kp->ks),
	                    rg_keystore_signing_key(kp->ks));
	if (r == NULL)
		return -1;
	if (rg_store_audit_each(kp->st, base, kp->audit_size, rg_batch_leaf, r)
	    != RG_STORE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (p[i].receipt.set &&
		    rg_receipts_add(r, p[i].receipt.index, &p[i].resp) != 0)
			goto fail;
	rg_receipts_advance(r, &kp->frontier);
	*out = r;
	return 0;
fail:
	rg_receipts_free(r);
	return -1;
}

/* The open batch's replies and receipts, moved out of the keeper into one
 * allocation; NULL when that fails (kp's replies unchanged). */
static struct rg_batch *
rg_batch_take(rg_keeper *kp)
{
	size_t n = kp->npending;
	struct rg_batch *b = malloc(sizeof(*b) + n * sizeof(struct rg_pending));

	if (b == NULL)
		return NULL;
	*b = (struct rg_batch){0};
	b->pending = (struct rg_pending *)(b + 1);
	b->n = n;
	memcpy(b->pending, kp->pending, n * sizeof(struct rg_pending));
	if (rg_batch_receipts(kp, b->pending, n, &b->receipts) != 0) {
		free(b);
		return NULL;
	}
	b->job.sync_fd = -1;
	b->job.work = rg_batch_work;
	b->job.arg = b;
	b->audit_size = kp->audit_size;
	kp->npending = 0;
	return b;
}

void
rg_keeper_poll(rg_keeper *kp)
{
	if (kp->fin != NULL)
		(void)rg_finisher_poll(kp->fin);
}

void
rg_keeper_drain(rg_keeper *kp)
{
	if (kp->fin != NULL)
		rg_finisher_drain(kp->fin);
}

/*
 * Commit the open batch and release its replies. With the finisher, the
 * COMMIT does not wait for the disk: the batch goes to the finisher, which
 * syncs the log and completes the receipts while this thread takes the
 * next requests, and the replies leave when it gives the batch back. A
 * batch that changes keys or schedules a rekey waits for it here, since
 * what follows (a key swap, the rekey) must come after its durability.
 */
static void
rg_keeper_flush(rg_keeper *kp)
{
	size_t n = kp->npending;
	struct rg_batch *b = NULL;
	int failed = 0, unsent = 0, rc, keys_change;
	const char *why = NULL;

	if (!kp->in_batch)
		return;
	kp->in_batch = 0;
	uv_check_stop(&kp->commit_check);
	keys_change = kp->ks_next != NULL || kp->secret_next != NULL ||
	              kp->dbrekey.scheduled;
	if (n > 0 && (b = rg_batch_take(kp)) == NULL) {
		/* No receipts, no replies: undone as a failed commit is. */
		why = "its receipts could not be prepared";
		rc = RG_STORE_ERROR;
	} else if (b != NULL && kp->fin != NULL)
		rc = rg_store_commit_nosync(kp->st);
	else
		rc = rg_store_commit(kp->st);
	if (rc != RG_STORE_OK) {
		/* Nothing of the batch is durable: every exchange in it fails,
		 * and the log's length is what the database says it is. */
		fprintf(stderr, "recgated: commit failed: %s\n",
		        why != NULL ? why : rg_store_errmsg(kp->st));
		rg_store_rollback(kp->st);
		failed = 1;
		kp->frontier_ok = 0; /* it was moved past the batch */
		if (rg_store_audit_size(kp->st, &kp->audit_size) != RG_STORE_OK) {
			fprintf(stderr, "recgated: audit log unreadable; "
			                "stopping\n");
			abort();
		}
	} else {
		kp->stats.batches++;
		if (n > kp->stats.batch_max)
			kp->stats.batch_max = n;
		if (kp->pol_dirty)
			(void)rg_keeper_reload_policy(kp); /* sets pol_stale */
		if (b == NULL || kp->fin == NULL)
			kp->committed_size = kp->audit_size;
		if (kp->ks_next != NULL)
			rg_crashpoint("rotation.committed");
	}
	rg_crashpoint_commit(!failed);
	/* A failed batch changed nothing: the old snapshot stands. */
	kp->pol_dirty = 0;
	if (b != NULL && (failed || kp->fin == NULL)) {
		/* Inline, the commit having waited for the disk: the
		 * receipts are completed here, with the key they name,
		 * before a rotation below puts the next one in use. */
		if (!failed) {
			rg_finisher_work(&b->job);
			unsent = b->job.failed;
		}
		/* Back into the keeper's hands, answered below. */
		memcpy(kp->pending, b->pending, n * sizeof(struct rg_pending));
		kp->npending = n;
		rg_batch_free(b);
		b = NULL;
	}
	if (b != NULL) {
		b->job.sync_fd = rg_store_wal_fd(kp->st);
		if (b->job.sync_fd < 0) {
			/* The WAL hook opened it at this commit, or failed
			 * the commit: a broken invariant. */
			fprintf(stderr, "recgated: write-ahead log not open; "
			                "stopping\n");
			abort();
		}
		rg_finisher_submit(kp->fin, &b->job);
		if (keys_change)
			rg_keeper_drain(kp);
	}
	/* A rotated signing key signs from the next batch on, and the
	 * checkpoint below; a failed batch undoes the rotation. */
	rg_admin_rotation_end(kp, !failed);
	rg_reencrypt_batch_end(kp, !failed);
	kp->stats.audit_size = kp->audit_size;
	for (size_t i = 0; i < kp->npending; i++)
		rg_pending_release(&kp->pending[i], failed || unsent);
	if (kp->npending > 0)
		rg_keeper_replies_out(kp);
	kp->npending = 0;
	if (!failed && b == NULL)
		rg_keeper_checkpoint_due(kp);
	/* The replies are out: the WAL checkpoint delays none of them. */
	rg_store_wal_tidy(kp->st);
}

int
rg_keeper_batch_open(rg_keeper *kp)
{
	return rg_keeper_begin(kp);
}

static void
rg_keeper_commit_cb(uv_check_t *check)
{
	rg_keeper_flush(check->data);
	/* A database rekey scheduled in that batch runs now, between
	 * batches, its replies already out (dbrekey.c). */
	rg_dbrekey_run(check->data);
}

/* Open a batch if none is open. Returns 0 or -1. */
static int
rg_keeper_begin(rg_keeper *kp)
{
	int64_t now;

	if (kp->in_batch)
		return 0;
	if (rg_store_begin(kp->st) != RG_STORE_OK)
		return -1;
	kp->in_batch = 1;
	kp->batch_base = kp->audit_size;
	uv_check_start(&kp->commit_check, rg_keeper_commit_cb);
	now = rg_keeper_now_ms();
	if (kp->prune_more || now - kp->last_prune_ms >= RG_PRUNE_INTERVAL_MS) {
		int more = 0;

		/* A failed prune only leaves old nonces behind a while. */
		if (rg_store_nonce_prune(kp->st, now, RG_PRUNE_CHUNK, &more) ==
		    RG_STORE_OK) {
			if (!kp->prune_more)
				kp->last_prune_ms = now;
			kp->prune_more = more;
		}
	}
	return 0;
}

static int
rg_keeper_hold(rg_keeper *kp, struct rg_response *resp, rg_keeper_done done,
               void *ctx)
{
	if (kp->npending == kp->cap_pending) {
		size_t cap = kp->cap_pending ? kp->cap_pending * 2 : 64;
		struct rg_pending *p = realloc(kp->pending, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		kp->pending = p;
		kp->cap_pending = cap;
	}
	kp->pending[kp->npending++] = (struct rg_pending){*resp, done, ctx,
	                                                  kp->later};
	kp->later = (struct rg_receipt_later){0};
	return 0;
}

/* The running exchange left no reply to hold: forget its receipt. */
static void
rg_keeper_later_drop(rg_keeper *kp)
{
	kp->later = (struct rg_receipt_later){0};
}

void
rg_keeper_handle(rg_keeper *kp, const struct rg_request *req,
                 rg_keeper_done done, void *ctx)
{
	struct rg_response resp = {0};
	uint64_t size_before;
	int rc, light;

	kp->stats.requests++;
	if (rg_exchange_unsigned(kp, req, &resp)) {
		done(ctx, &resp);
		rg_response_clear(&resp);
		return;
	}
	if (kp->npending >= RG_BATCH_MAX)
		rg_keeper_flush(kp);
	if (kp->pol_stale && rg_keeper_reload_policy(kp) != 0) {
		rg_response_error(&resp, RG_ERR_UNAVAILABLE, NULL, NULL);
		goto reply_now;
	}
	/* Make room for the reply first, so that an exchange is never
	 * carried out and then lost for want of memory. */
	if (kp->npending == kp->cap_pending) {
		struct rg_response probe = {0};
		if (rg_keeper_hold(kp, &probe, done, ctx) != 0) {
			rg_response_error(&resp, RG_ERR_UNAVAILABLE, NULL, NULL);
			goto reply_now;
		}
		kp->npending--;
	}
	light = rg_exchange_light(req);
	if (rg_keeper_begin(kp) != 0 ||
	    (light ? rg_store_mark(kp->st) : rg_store_savepoint(kp->st)) !=
	    RG_STORE_OK) {
		fprintf(stderr, "recgated: cannot open a transaction: %s\n",
		        rg_store_errmsg(kp->st));
		rg_response_error(&resp, RG_ERR_STORAGE, NULL, NULL);
		goto reply_now;
	}
	size_before = kp->audit_size;
	rc = rg_exchange_run(kp, req, &resp);
	if (rc == 1 && (light ? rg_store_mark_keep(kp->st)
	                      : rg_store_release(kp->st)) == RG_STORE_OK) {
		rg_keeper_hold(kp, &resp, done, ctx); /* room reserved above */
		return;
	}
	rg_keeper_later_drop(kp);
	if (rc == 1)
		rg_response_error(&resp, RG_ERR_STORAGE, NULL, NULL);
	if ((light ? rg_store_mark_undo(kp->st) : rg_store_undo(kp->st)) !=
	    RG_STORE_OK) {
		/* The batch is in an unknown state: fail all of it, as a
		 * failed commit does (nothing of it stands: no grant change,
		 * no rotated key, no re-encryption step). */
		kp->audit_size = size_before;
		rg_store_rollback(kp->st);
		kp->in_batch = 0;
		uv_check_stop(&kp->commit_check);
		kp->pol_dirty = 0;
		rg_admin_rotation_end(kp, 0);
		rg_reencrypt_batch_end(kp, 0);
		for (size_t i = 0; i < kp->npending; i++)
			rg_pending_release(&kp->pending[i], 1);
		if (kp->npending > 0)
			rg_keeper_replies_out(kp);
		kp->npending = 0;
		if (rg_store_audit_size(kp->st, &kp->audit_size) != RG_STORE_OK)
			abort();
		rg_response_error(&resp, RG_ERR_STORAGE, NULL, NULL);
	} else {
		kp->audit_size = size_before;
	}
reply_now:
	done(ctx, &resp);
	rg_response_clear(&resp);
}

void
rg_keeper_stats(const rg_keeper *kp, struct rg_keeper_stats *out)
{
	*out = kp->stats;
}

/* The handles are embedded in the keeper: free it once both are closed. */
static void
rg_keeper_closed(uv_handle_t *h)
{
	rg_keeper *kp = h->data;

	if (--kp->open_handles > 0)
		return;
	free(kp->pending);
	rg_policy_free(kp->pol);
	rg_store_close(kp->st);
	rg_keystore_free(kp->ks);
	rg_keystore_free(kp->ks_next);
	free(kp->ks_undo);
	rg_keystore_secret_free(kp->secret);
	rg_keystore_secret_free(kp->secret_next);
	free(kp);
}

void
rg_keeper_close(rg_keeper *kp)
{
	if (kp == NULL)
		return;
	rg_keeper_flush(kp);
	/* Every committed batch's replies go out before anything closes. */
	rg_finisher_close(kp->fin);
	kp->fin = NULL;
	/* A rekey scheduled in that last batch was promised: carry it out. */
	rg_dbrekey_run(kp);
	uv_close((uv_handle_t *)&kp->checkpoint_timer, rg_keeper_closed);
	uv_close((uv_handle_t *)&kp->commit_check, rg_keeper_closed);
	uv_close((uv_handle_t *)&kp->reenc_idle, rg_keeper_closed);
}
