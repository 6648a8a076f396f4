/*
 * reencrypt.c -- after a data-key rotation, re-seals record bodies under the
 * active key version, a few at a time between exchanges. It must never run
 * inside an exchange's savepoint, and keeps its cursor only in the database,
 * in the transaction of the rows it covers, so a crash loses and repeats nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/seal.h"
#include "gateway/crashpoint.h"
#include "gateway/keeper_int.h"

/* Record versions examined by one step: small enough that a step costs
 * an exchange's time, large enough that its commit is worth the fsync. */
#define RG_REENC_STEP 128
/* ... and at most about this many bytes of sealed bodies held at once. */
#define RG_REENC_STEP_BYTES (4 << 20)
/* After a failed step, the job waits at least this long, then resumes
 * with the next batch that commits (a storage failure is often brief). */
#define RG_REENC_RETRY_MS 1000

enum { RG_REENC_NONE, RG_REENC_RESET, RG_REENC_RUN };

/*
 * What a resource whose active data key is `active` needs: a new job
 * (none yet, or one for an older target: a rotation since), a step of a
 * running one, or nothing. -1 on a storage error.
 */
static int
rg_reenc_need(rg_keeper *kp, const char *resource, uint32_t active,
              struct rg_store_reencrypt *job)
{
	int rc = rg_store_reencrypt_get(kp->st, resource, job);

	if (rc == RG_STORE_NOTFOUND)
		return active > 1 ? RG_REENC_RESET : RG_REENC_NONE;
	if (rc != RG_STORE_OK)
		return -1;
	if (job->target != active)
		return RG_REENC_RESET;
	return strcmp(job->state, "running") == 0 ? RG_REENC_RUN : RG_REENC_NONE;
}

/* The i-th keystore item if it is a resource's active data key (the
 * highest active version, which seals new records): its resource. */
static const char *
rg_reenc_active_at(const rg_keeper *kp, size_t i, uint32_t *active)
{
	struct rg_keystore_info in;
	uint32_t v = 0;

	if (rg_keystore_info(kp->ks, i, &in) != 0 ||
	    in.purpose != RG_KEYSTORE_DATA || in.status != RG_KEYSTORE_ACTIVE ||
	    rg_keystore_data_key(kp->ks, in.resource, &v) == NULL ||
	    v != in.version)
		return NULL;
	*active = v;
	return in.resource;
}

/* The first resource with work, in keystore order: 1 (job, need, active
 * filled), 0 when there is none, -1 on a storage error. */
static int
rg_reenc_next(rg_keeper *kp, struct rg_store_reencrypt *job, int *need,
              uint32_t *active)
{
	size_t n = rg_keystore_count(kp->ks);

	for (size_t i = 0; i < n; i++) {
		const char *res = rg_reenc_active_at(kp, i, active);

		if (res == NULL || strlen(res) >= sizeof(job->resource))
			continue;
		if ((*need = rg_reenc_need(kp, res, *active, job)) < 0)
			return -1;
		if (*need != RG_REENC_NONE) {
			snprintf(job->resource, sizeof(job->resource), "%s", res);
			return 1;
		}
	}
	return 0;
}

/* A new job for job->resource: every record version under an older key
 * version, from the start. */
static int
rg_reenc_reset(rg_keeper *kp, struct rg_store_reencrypt *job, uint32_t active,
               int64_t now)
{
	int64_t count = 0;

	if (rg_store_records_sealed_under(kp->st, job->resource, active, 1,
	                                  &count) != RG_STORE_OK)
		return -1;
	job->target = active;
	job->cursor = 0;
	job->done = 0;
	job->total = count;
	snprintf(job->state, sizeof(job->state), "%s",
	         count > 0 ? "running" : "done");
	job->started_ms = now;
	job->finished_ms = count > 0 ? 0 : now;
	return rg_store_reencrypt_put(kp->st, job) == RG_STORE_OK ? 0 : -1;
}

struct rg_reenc_row {
	int64_t seq;
	uint32_t from;
	uint8_t *sealed;
	size_t len;
};

struct rg_reenc_step {
	rg_keeper *kp;
	const char *resource;
	uint32_t target;
	const uint8_t *key;            /* the target's data key */
	struct rg_reenc_row rows[RG_REENC_STEP];
	size_t n, seen;
	size_t bytes;                  /* sealed bytes held in rows */
	int full;                      /* stopped at RG_REENC_STEP_BYTES */
	int64_t last;                  /* seq of the last version examined */
	int64_t bad_seq;               /* a version that does not open */
	int failed;                    /* out of memory or sealing */
};

/* One record version of the step: opened with its own key version and
 * sealed under the target, kept for the update after the scan. */
static int
rg_reenc_row_cb(void *ctx, const struct rg_store_record *rec)
{
	struct rg_reenc_step *c = ctx;
	struct rg_seal_ad ad = {c->resource, rec->id, rec->version,
	                        rec->key_version};
	const uint8_t *old;
	uint8_t *plain, *sealed;
	size_t plen;

	if (rec->key_version >= c->target) {
		c->seen++;
		c->last = rec->seq;
		return 0;
	}
	old = rg_keystore_data_key_at(c->kp->ks, c->resource, rec->key_version);
	if (old == NULL || rec->sealed_len < RG_SEAL_OVERHEAD) {
		c->bad_seq = rec->seq;
		return 1;
	}
	plen = rec->sealed_len - RG_SEAL_OVERHEAD;
	plain = malloc(plen + 1);
	sealed = malloc(rec->sealed_len);
	if (plain == NULL || sealed == NULL) {
		free(plain);
		free(sealed);
		c->failed = 1;
		return 1;
	}
	if (rg_open(old, &ad, rec->sealed, rec->sealed_len, plain) != 0) {
		free(plain);
		free(sealed);
		c->bad_seq = rec->seq;
		return 1;
	}
	ad.key_version = c->target;
	if (rg_seal(c->key, &ad, plain, plen, sealed) != 0)
		c->failed = 1;
	sodium_memzero(plain, plen);
	free(plain);
	if (c->failed) {
		free(sealed);
		return 1;
	}
	c->rows[c->n++] = (struct rg_reenc_row){rec->seq, rec->key_version,
	                                        sealed, rec->sealed_len};
	c->seen++;
	c->last = rec->seq;
	c->bytes += rec->sealed_len;
	if (c->bytes >= RG_REENC_STEP_BYTES) {
		c->full = 1;
		return 1;
	}
	return 0;
}

/* The entry that says a resource's records are all under its new key. */
static int
rg_reenc_entry(rg_keeper *kp, const struct rg_store_reencrypt *job,
               int64_t now)
{
	return rg_audit_append_obj(kp, json_pack(
	    "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "time", (json_int_t)now,
	    "action", "keys.reencrypt.done", "decision", "allow",
	    "reason", "reencrypted", "resource", job->resource,
	    "key_version", (json_int_t)job->target,
	    "count", (json_int_t)job->done,
	    "since", (json_int_t)job->started_ms));
}

/*
 * One step of a running job: up to RG_REENC_STEP record versions after
 * the cursor, re-sealed, the cursor and progress moved in the same
 * savepoint. A version that does not open stops the job ("failed", with
 * a log line) rather than being skipped. 0 or -1.
 */
static int
rg_reenc_step(rg_keeper *kp, struct rg_store_reencrypt *job, int64_t now)
{
	struct rg_reenc_step *c = calloc(1, sizeof(*c));
	int rc = -1, put;

	if (c == NULL)
		return -1;
	c->kp = kp;
	c->resource = job->resource;
	c->target = job->target;
	c->last = job->cursor;
	c->key = rg_keystore_data_key(kp->ks, job->resource, NULL);
	if (c->key == NULL ||
	    rg_store_changes(kp->st, job->resource, job->cursor, RG_REENC_STEP,
	                     rg_reenc_row_cb, c) != RG_STORE_OK || c->failed)
		goto out;
	for (size_t i = 0; i < c->n; i++) {
		put = rg_store_record_reseal(kp->st, c->rows[i].seq,
		                             c->rows[i].from, c->target,
		                             c->rows[i].sealed, c->rows[i].len);
		if (put == RG_STORE_ERROR)
			goto out;
		if (put == RG_STORE_OK)
			job->done++;
	}
	job->cursor = c->last;
	if (c->bad_seq != 0) {
		fprintf(stderr, "recgated: re-encryption of %s stopped: record "
		        "version %lld does not open with its key version\n",
		        job->resource, (long long)c->bad_seq);
		snprintf(job->state, sizeof(job->state), "failed");
		job->finished_ms = now;
	} else if (!c->full && c->seen < RG_REENC_STEP) {
		/* Past the last version: new ones are sealed under the
		 * target already (the rotation was in use before the job). */
		snprintf(job->state, sizeof(job->state), "done");
		job->finished_ms = now;
		if (rg_reenc_entry(kp, job, now) != 0)
			goto out;
	}
	if (rg_store_reencrypt_put(kp->st, job) != RG_STORE_OK)
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < c->n; i++)
		free(c->rows[i].sealed);
	free(c);
	return rc;
}

static void
rg_reenc_stop(rg_keeper *kp)
{
	if (kp->reenc_running) {
		uv_idle_stop(&kp->reenc_idle);
		kp->reenc_running = 0;
	}
}

/* A storage failure: stop, and try again after a while (with the next
 * batch that commits after RG_REENC_RETRY_MS: rg_reencrypt_batch_end), at
 * the next keystore change, or at the next start. */
static void
rg_reenc_pause(rg_keeper *kp, int64_t now)
{
	fprintf(stderr, "recgated: re-encryption paused: %s\n",
	        rg_store_errmsg(kp->st));
	rg_reenc_stop(kp);
	kp->reenc_paused_ms = now != 0 ? now : 1;
}

static void
rg_reenc_cb(uv_idle_t *h)
{
	rg_keeper *kp = h->data;
	struct rg_store_reencrypt job;
	int64_t now = rg_keeper_now_ms();
	uint64_t before = kp->audit_size;
	uint32_t active = 0;
	int need = RG_REENC_NONE, rc;

	/* A rotation waiting for its batch may change the target. */
	if (kp->ks_next != NULL)
		return;
	rc = rg_reenc_next(kp, &job, &need, &active);
	if (rc == 0) {
		rg_reenc_stop(kp);
		return;
	}
	/* Its own savepoint of the open batch: it shares the batch's
	 * fsync, and a failed step takes nothing else with it. */
	if (rc < 0 || rg_keeper_batch_open(kp) != 0 ||
	    rg_store_savepoint(kp->st) != RG_STORE_OK) {
		rg_reenc_pause(kp, now);
		return;
	}
	rc = need == RG_REENC_RESET ? rg_reenc_reset(kp, &job, active, now)
	                            : rg_reenc_step(kp, &job, now);
	if (rc == 0 && rg_store_release(kp->st) == RG_STORE_OK) {
		if (need == RG_REENC_RUN) {
			kp->reenc_step_pending = 1;
			rg_crashpoint("reencrypt.step");
		}
		return;
	}
	kp->audit_size = before;
	if (rg_store_undo(kp->st) != RG_STORE_OK) {
		/* The batch is in an unknown state: give it up, and fail
		 * whatever waits in it (replies are released at each
		 * commit, so normally nothing does). */
		rg_store_rollback(kp->st);
		kp->in_batch = 0;
		uv_check_stop(&kp->commit_check);
		for (size_t i = 0; i < kp->npending; i++) {
			struct rg_pending *p = &kp->pending[i];

			rg_response_error(&p->resp, RG_ERR_STORAGE, NULL, NULL);
			p->done(p->ctx, &p->resp);
			rg_response_clear(&p->resp);
		}
		kp->npending = 0;
		if (rg_store_audit_size(kp->st, &kp->audit_size) != RG_STORE_OK)
			abort();
	}
	rg_reenc_pause(kp, now);
}

static void
rg_reenc_wake(rg_keeper *kp)
{
	if (!kp->reenc_running &&
	    uv_idle_start(&kp->reenc_idle, rg_reenc_cb) == 0)
		kp->reenc_running = 1;
}

void
rg_reencrypt_init(rg_keeper *kp)
{
	/* uv_idle_init cannot fail (libuv returns 0). */
	(void)uv_idle_init(kp->loop, &kp->reenc_idle);
	kp->reenc_idle.data = kp;
	kp->reenc_seen_ks = kp->ks;
	rg_reenc_wake(kp);
}

void
rg_reencrypt_batch_end(rg_keeper *kp, int committed)
{
	if (kp->reenc_step_pending && committed)
		rg_crashpoint("reencrypt.step_committed");
	kp->reenc_step_pending = 0;
	/* A rotated keystore is in use: its resources have a new target. */
	if (kp->ks != kp->reenc_seen_ks) {
		kp->reenc_seen_ks = kp->ks;
		kp->reenc_paused_ms = 0;
		rg_reenc_wake(kp);
	}
	if (committed && kp->reenc_paused_ms != 0 &&
	    rg_keeper_now_ms() - kp->reenc_paused_ms >= RG_REENC_RETRY_MS) {
		kp->reenc_paused_ms = 0;
		rg_reenc_wake(kp);
	}
}

json_t *
rg_reencrypt_status(rg_keeper *kp)
{
	struct rg_store_reencrypt job;
	json_t *list = json_array(), *item;
	size_t n = rg_keystore_count(kp->ks);
	int busy = 0;

	for (size_t i = 0; list != NULL && i < n; i++) {
		uint32_t active = 0;
		const char *res = rg_reenc_active_at(kp, i, &active), *state;
		int64_t left = 0;
		int need;

		if (res == NULL)
			continue;
		if ((need = rg_reenc_need(kp, res, active, &job)) < 0 ||
		    rg_store_records_sealed_under(kp->st, res, active, 1,
		                                  &left) != RG_STORE_OK)
			goto fail;
		/* "pending": a rotation's job that has not taken its first
		 * step yet; "none": never rotated. */
		state = need == RG_REENC_RESET ? "pending"
		      : job.target == 0 ? "none" : job.state;
		busy |= need != RG_REENC_NONE;
		item = json_pack("{s:s, s:I, s:s, s:I}", "resource", res,
		                 "key_version", (json_int_t)active, "state", state,
		                 "remaining", (json_int_t)left);
		if (item != NULL && need != RG_REENC_RESET && job.target != 0 &&
		    json_object_update_new(item, json_pack(
		        "{s:I, s:I, s:I, s:I, s:I}", "target",
		        (json_int_t)job.target, "done", (json_int_t)job.done,
		        "total", (json_int_t)job.total,
		        "started", (json_int_t)job.started_ms,
		        "finished", (json_int_t)job.finished_ms)) != 0) {
			json_decref(item);
			item = NULL;
		}
		if (item == NULL || json_array_append_new(list, item) != 0)
			goto fail;
	}
	if (list == NULL)
		return NULL;
	return json_pack("{s:b, s:o}", "running", busy, "resources", list);
fail:
	json_decref(list);
	return NULL;
}
