/*
 * preverify.c -- Ed25519 checks of requests on helper threads, ahead of
 * the keeper's thread handling the same requests in order (which does a
 * job itself when it gets there before any helper took it).
 *
 * A request is queued the moment its frame arrives, also while the keeper's
 * thread is still handling earlier ones or committing their batch: the
 * helpers verify the next requests while that thread works on the last.
 *
 * It owns the helper threads and nothing else. It never decides: it only
 * notes on a request that its signature verified under a given key over a
 * given base, handing over the parsed fields and that base, and
 * rg_auth_check (auth.c) runs every check on them and uses the note only
 * when the key it reads itself is the noted one. For a verified request it
 * also checks the body against its Content-Digest and hashes base and body
 * (the answers go with the note; the keeper refuses on them), and for a
 * record submission it parses the body and encodes each record
 * canonically, pure functions of the body that rg_ex_submit would
 * otherwise compute; checking the records against the catalogue stays with
 * the keeper. The helpers touch no shared state but the queued jobs, and
 * never the store, the keystore or the request itself: a job holds its own
 * copy of what they read, so that the keeper's thread can go on without a
 * helper that does not get the processor (rg_preverify_wait).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/httpsig.h"
#include "crypto/sha256.h"
#include "gateway/preverify.h"
#include "gateway/jcanon.h"
#include "gateway/jparse.h"

struct rg_pv_job {
	struct rg_request *req;  /* the keeper's thread only */
	/* What the helper reads of the request: its body and Content-Digest
	 * (NULL when it has none), copied. */
	uint8_t *raw;
	size_t raw_len;
	char *cd_value;
	rg_httpsig *hs;
	const uint8_t *sig;     /* owned by hs */
	size_t siglen;
	char *base;
	size_t baselen;
	uint8_t pub[32];
	int ok;
	/* A record submission: its body parsed and each record encoded by
	 * the helper once the signature verified (rg_pv_parse). */
	int parse;
	json_t *body;
	char **canon;
	size_t ncanon;
	/* The body's digests (rg_pv_digests), once the signature verified. */
	int digests;
	int cd;
	uint8_t digest[32];
	/* Set (under mu) once the results above are complete. */
	int done;
	/* The keeper's thread is through with it (rg_preverify_done). */
	int released;
};

/* Helper threads: a second one keeps the keeper's thread from waiting
 * while the first is still on a job (a verification and a parse take
 * about as long as the keeper's own work on a request). */
#define RG_PV_THREADS 2

/*
 * How long the keeper's thread waits for a job a helper took before it
 * verifies the request itself: a few times the longest a job should take
 * (≈ 50 µs for the signature, ≈ 30 ns a byte to parse and encode a
 * submission). The helpers run under SCHED_IDLE (rg_pv_main), and on a
 * machine busy with other work a helper can be kept off the processor for
 * a long time; the keeper's thread must not wait on it meanwhile.
 */
#define RG_PV_WAIT_BASE_NS 2000000L
#define RG_PV_WAIT_NS_PER_BYTE 128L

/*
 * Public keys by keyid, for choosing the key a job verifies with: a
 * lookup in the store cost the keeper's thread as much as the rest of
 * preparing a run. A stale entry is harmless (rg_auth_check reads the key
 * itself and ignores a note made with another one), and one whose
 * verification fails is dropped, so a replaced key is read again.
 * Direct-mapped; public keys only.
 */
#define RG_PV_KEYS 256

struct rg_pv_key {
	int used;
	char keyid[128];
	uint8_t pub[32];
};

struct rg_preverify {
	struct rg_pv_key keys[RG_PV_KEYS];   /* the keeper's thread only */
	pthread_t thread[RG_PV_THREADS];
	pthread_mutex_t mu;
	pthread_cond_t work_cv;    /* helpers wait for a job */
	pthread_cond_t done_cv;    /* the keeper's thread waits for one */
	int started;
	int quit;
	/*
	 * The queue: a job's ticket is its sequence number + 1 (0: none).
	 * Jobs [tail, head) are held, at jobs[seq % RG_PV_RING]; the
	 * keeper's thread adds at head (under mu) and lets go at tail; the
	 * first `taken` were taken, by a helper or that thread, each with a
	 * compare-and-swap of taken from its own number, so in order.
	 */
	struct rg_pv_job jobs[RG_PV_RING];
	/* Tests: called by a helper after it took a job, before it runs it
	 * (rg_preverify_test_hook). */
	void (*taken_hook)(void *arg);
	void *taken_hook_arg;
	uint64_t gave_up;          /* the keeper's thread only */
	uint64_t head;             /* under mu */
	uint64_t taken;            /* atomic */
	uint64_t tail;             /* the keeper's thread only */
};

/*
 * The body of a verified submission as rg_ex_submit reads it (rg_jparse:
 * duplicate keys refused; an object taken as a one-record array) and each record as
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) encodes it for sealing (the
 * same bytes by rg_jcanon, jcanon.h). On any
 * failure the job carries nothing and the keeper does it all itself.
 */
static void
rg_pv_parse(struct rg_pv_job *job)
{
	json_t *body = rg_jparse(job->raw, job->raw_len, NULL);
	size_t n;

	if (body != NULL && json_is_object(body)) {
		json_t *arr = json_array();

		if (arr == NULL || json_array_append_new(arr, body) != 0) {
			json_decref(arr);
			return;
		}
		body = arr;
	}
	if (body == NULL || !json_is_array(body) ||
	    (n = json_array_size(body)) == 0 ||
	    (job->canon = calloc(n, sizeof(*job->canon))) == NULL) {
		json_decref(body);
		return;
	}
	job->body = body;
	for (job->ncanon = 0; job->ncanon < n; job->ncanon++) {
		char *text = rg_jcanon(json_array_get(body, job->ncanon), NULL);

		if (text == NULL)
			break;
		job->canon[job->ncanon] = text;
	}
}

/*
 * What rg_auth_check computes from the body after the signature: the
 * Content-Digest check and SHA-256(base || body), both pure functions of
 * the request and the base just verified.
 */
static void
rg_pv_digests(struct rg_pv_job *job)
{
	const struct rg_sha256_part parts[] = {{job->base, job->baselen},
	                                       {job->raw, job->raw_len}};

	job->cd = 0;
	if (job->raw_len > 0)
		job->cd = job->cd_value != NULL
		    ? rg_content_digest_check(job->cd_value, job->raw,
		                              job->raw_len) : 1;
	rg_sha256_v(job->digest, parts, 2);
	job->digests = 1;
}

/* A POST to /v1/resources/{rid}/records with a body. */
static int
rg_pv_is_submission(const struct rg_request *req)
{
	static const char head[] = "/v1/resources/", tail[] = "/records";
	size_t len = strlen(req->path);

	return req->body_len > 0 && strcmp(req->method, "POST") == 0 &&
	       len > sizeof(head) - 1 + sizeof(tail) - 1 &&
	       strncmp(req->path, head, sizeof(head) - 1) == 0 &&
	       strcmp(req->path + len - (sizeof(tail) - 1), tail) == 0;
}

/* One job: the signature, then (when it verified) the body's digests and,
 * for a submission, its records. Marks it done. */
static void
rg_pv_run_job(struct rg_preverify *pv, struct rg_pv_job *job)
{
	int ok = crypto_sign_verify_detached(job->sig,
	    (const uint8_t *)job->base, job->baselen, job->pub) == 0;

	if (ok)
		rg_pv_digests(job);
	if (ok && job->parse)
		rg_pv_parse(job);
	pthread_mutex_lock(&pv->mu);
	job->ok = ok;
	job->done = 1;
	pthread_cond_broadcast(&pv->done_cv);
	pthread_mutex_unlock(&pv->mu);
}

/* Take job seq if nobody has: only the next one in order can be taken. */
static int
rg_pv_take(struct rg_preverify *pv, uint64_t seq)
{
	uint64_t expect = seq;

	return __atomic_compare_exchange_n(&pv->taken, &expect, seq + 1, 0,
	                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/*
 * A helper: takes the queued jobs in order, each as soon as it is there.
 *
 * It runs under SCHED_IDLE: on a processor the kernel counts as free, and
 * giving it up at once to any other thread that wakes. The helpers work
 * ahead of the keeper's thread, which every request passes through, and
 * the front, the finisher and the clients wake often for a short while:
 * each should have a core the moment it wakes, and the helpers take the
 * time they leave. On two cores, the bench's mix alternated with helpers
 * at nice 5 (the policy before) and at nice 19: 9,300-10,400 exchanges a
 * second at nice 5, 9,300-10,500 at nice 19, 9,800-11,400 under
 * SCHED_IDLE, which won every pair and left the machine idle 5-8 % of the
 * time instead of 15-18 %. A helper that cannot get a core costs little:
 * the keeper's thread does the jobs nobody took, and waits a bounded time
 * for one taken (rg_preverify_wait). The policy can only be taken, never
 * left (sandbox.c); where it is refused, the helper runs as it is.
 */
static void *
rg_pv_main(void *arg)
{
	struct rg_preverify *pv = arg;
	struct sched_param sp = {0};

	(void)sched_setscheduler(0, SCHED_IDLE, &sp);
	pthread_mutex_lock(&pv->mu);
	for (;;) {
		uint64_t seq = __atomic_load_n(&pv->taken, __ATOMIC_ACQUIRE);

		if (pv->quit)
			break;
		if (seq >= pv->head) {
			pthread_cond_wait(&pv->work_cv, &pv->mu);
			continue;
		}
		if (!rg_pv_take(pv, seq))
			continue;
		pthread_mutex_unlock(&pv->mu);
		if (pv->taken_hook != NULL)
			pv->taken_hook(pv->taken_hook_arg);
		rg_pv_run_job(pv, &pv->jobs[seq % RG_PV_RING]);
		pthread_mutex_lock(&pv->mu);
	}
	pthread_mutex_unlock(&pv->mu);
	return NULL;
}

rg_preverify *
rg_preverify_new(void)
{
	struct rg_preverify *pv = calloc(1, sizeof(*pv));
	pthread_condattr_t ca;

	if (pv == NULL)
		return NULL;
	if (pthread_mutex_init(&pv->mu, NULL) != 0) {
		free(pv);
		return NULL;
	}
	if (pthread_cond_init(&pv->work_cv, NULL) != 0) {
		pthread_mutex_destroy(&pv->mu);
		free(pv);
		return NULL;
	}
	/* rg_preverify_wait's deadline is on the monotonic clock. */
	if (pthread_condattr_init(&ca) != 0) {
		pthread_cond_destroy(&pv->work_cv);
		pthread_mutex_destroy(&pv->mu);
		free(pv);
		return NULL;
	}
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&pv->done_cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_cond_destroy(&pv->work_cv);
		pthread_mutex_destroy(&pv->mu);
		free(pv);
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	return pv;
}

static void rg_pv_clear(struct rg_pv_job *job);

void
rg_preverify_free(rg_preverify *pv)
{
	if (pv == NULL)
		return;
	if (pv->started > 0) {
		pthread_mutex_lock(&pv->mu);
		pv->quit = 1;
		pthread_cond_broadcast(&pv->work_cv);
		pthread_mutex_unlock(&pv->mu);
		for (int i = 0; i < pv->started; i++)
			pthread_join(pv->thread[i], NULL);
	}
	/* Jobs still held (nobody handled their requests): no helper is
	 * left to be inside one. */
	for (uint64_t seq = pv->tail; seq < pv->head; seq++)
		rg_pv_clear(&pv->jobs[seq % RG_PV_RING]);
	pthread_cond_destroy(&pv->done_cv);
	pthread_cond_destroy(&pv->work_cv);
	pthread_mutex_destroy(&pv->mu);
	free(pv);
}

/*
 * Notes are keyed with a secret of this process, drawn on first use: even
 * a request that reached the keeper by some other road than the wire
 * (which never carries a note) could not bring a note that matches.
 */
static uint8_t *rg_pv_key;

int
rg_preverify_hash(const uint8_t *sig, size_t siglen, const char *base,
                  size_t baselen, uint8_t out[32])
{
	crypto_generichash_state h;

	if (rg_pv_key == NULL) {
		if (sodium_init() < 0 ||
		    (rg_pv_key = sodium_malloc(crypto_generichash_KEYBYTES)) == NULL)
			return -1;
		randombytes_buf(rg_pv_key, crypto_generichash_KEYBYTES);
	}
	crypto_generichash_init(&h, rg_pv_key, crypto_generichash_KEYBYTES, 32);
	crypto_generichash_update(&h, sig, siglen);
	crypto_generichash_update(&h, (const uint8_t *)base, baselen);
	crypto_generichash_final(&h, out, 32);
	return 0;
}

/* The slot keyid maps to (FNV-1a). */
static struct rg_pv_key *
rg_pv_key_slot(struct rg_preverify *pv, const char *keyid)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)keyid; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &pv->keys[h % RG_PV_KEYS];
}

/* keyid's public key into pub, from the cache or the store. 0 or -1. */
static int
rg_pv_key_get(struct rg_preverify *pv, rg_store *st, const char *keyid,
              uint8_t pub[32])
{
	struct rg_pv_key *k = rg_pv_key_slot(pv, keyid);
	struct rg_store_key key;

	if (k->used && strcmp(k->keyid, keyid) == 0) {
		memcpy(pub, k->pub, 32);
		return 0;
	}
	if (strlen(keyid) >= sizeof(k->keyid) ||
	    rg_store_key_get(st, keyid, &key) != RG_STORE_OK)
		return -1;
	memcpy(pub, key.pub, 32);
	k->used = 1;
	memcpy(k->keyid, keyid, strlen(keyid) + 1);
	memcpy(k->pub, key.pub, sizeof(k->pub));
	return 0;
}

/* A verification with keyid's cached key failed: read it again next time. */
static void
rg_pv_key_drop(struct rg_preverify *pv, const char *keyid)
{
	struct rg_pv_key *k = rg_pv_key_slot(pv, keyid);

	if (k->used && strcmp(k->keyid, keyid) == 0)
		k->used = 0;
}

static const char *
rg_pv_header(void *ctx, const char *lname)
{
	return rg_request_header(ctx, lname);
}

/* Everything the verification needs, or 0 to leave req to rg_auth_check. */
static int
rg_pv_prepare(struct rg_preverify *pv, rg_store *st, struct rg_request *req,
              struct rg_pv_job *job)
{
	const char *si = rg_request_header(req, "signature-input");
	const char *sv = rg_request_header(req, "signature");
	struct rg_httpsig_msg msg = {0};
	const char *keyid, *alg;

	memset(job, 0, sizeof(*job));
	if (si == NULL || sv == NULL ||
	    rg_httpsig_parse(si, sv, &job->hs) != RG_HTTPSIG_OK)
		return 0;
	keyid = rg_httpsig_keyid(job->hs);
	alg = rg_httpsig_alg(job->hs);
	if (keyid == NULL || alg == NULL || strcmp(alg, "ed25519") != 0 ||
	    rg_pv_key_get(pv, st, keyid, job->pub) != 0)
		return 0;
	msg.method = req->method;
	msg.path = req->path;
	msg.query = req->query;
	msg.authority = rg_request_header(req, "host");
	msg.header = rg_pv_header;
	msg.ctx = req;
	if (rg_httpsig_base(job->hs, &msg, &job->base, &job->baselen) !=
	    RG_HTTPSIG_OK)
		return 0;
	job->sig = rg_httpsig_signature(job->hs, &job->siglen);
	if (job->sig == NULL || job->siglen != crypto_sign_BYTES)
		return 0;
	if (req->body_len > 0) {
		const char *cd = rg_request_header(req, "content-digest");

		if ((job->raw = malloc(req->body_len)) == NULL ||
		    (cd != NULL && (job->cd_value = strdup(cd)) == NULL))
			return 0;
		memcpy(job->raw, req->body, req->body_len);
		job->raw_len = req->body_len;
	}
	job->req = req;
	job->parse = rg_pv_is_submission(req);
	return 1;
}

static void
rg_pv_clear(struct rg_pv_job *job)
{
	/* Records are personal data: wiped as rg_ex_submit wipes its own. */
	for (size_t i = 0; i < job->ncanon; i++) {
		sodium_memzero(job->canon[i], strlen(job->canon[i]));
		free(job->canon[i]);
	}
	free(job->canon);
	json_decref(job->body);
	if (job->raw != NULL) {
		sodium_memzero(job->raw, job->raw_len);
		free(job->raw);
	}
	free(job->cd_value);
	free(job->base);
	rg_httpsig_free(job->hs);
	memset(job, 0, sizeof(*job));
}

/* Start the helpers on first use. 0, or -1 when none would start. */
static int
rg_pv_start_helpers(struct rg_preverify *pv)
{
	/* Inside the sandbox: clone(CLONE_THREAD) and futex are allowed for
	 * this (sandbox.c). Without a thread, no notes. */
	while (pv->started < RG_PV_THREADS &&
	       pthread_create(&pv->thread[pv->started], NULL, rg_pv_main, pv) ==
	       0)
		pv->started++;
	return pv->started > 0 ? 0 : -1;
}

rg_pv_ticket
rg_preverify_add(rg_preverify *pv, rg_store *st, struct rg_request *req)
{
	struct rg_pv_job *job;

	if (pv == NULL || pv->head - pv->tail >= RG_PV_RING)
		return 0;
	job = &pv->jobs[pv->head % RG_PV_RING];
	if (!rg_pv_prepare(pv, st, req, job) ||
	    (pv->started == 0 && rg_pv_start_helpers(pv) != 0)) {
		rg_pv_clear(job);
		return 0;
	}
	pthread_mutex_lock(&pv->mu);
	pv->head++;
	pthread_cond_signal(&pv->work_cv);
	pthread_mutex_unlock(&pv->mu);
	return pv->head;
}

/* The job of ticket t, or NULL when t holds none. */
static struct rg_pv_job *
rg_pv_job_of(struct rg_preverify *pv, rg_pv_ticket t)
{
	if (pv == NULL || t == 0 || t - 1 < pv->tail || t > pv->head)
		return NULL;
	return &pv->jobs[(t - 1) % RG_PV_RING];
}

/* Wait (under mu) until job is done. */
static void
rg_pv_wait_done(struct rg_preverify *pv, struct rg_pv_job *job)
{
	while (!job->done)
		pthread_cond_wait(&pv->done_cv, &pv->mu);
}

/* Wait (under mu) until job is done, for at most RG_PV_WAIT_*. 1 when it
 * is done. */
static int
rg_pv_wait_done_bounded(struct rg_preverify *pv, struct rg_pv_job *job)
{
	long ns = RG_PV_WAIT_BASE_NS;
	struct timespec until;

	if (job->done)
		return 1;
	if (job->raw_len > (size_t)(RG_PV_WAIT_BASE_NS / RG_PV_WAIT_NS_PER_BYTE))
		ns = (long)job->raw_len * RG_PV_WAIT_NS_PER_BYTE;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ns / 1000000000L;
	until.tv_nsec += ns % 1000000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!job->done)
		if (pthread_cond_timedwait(&pv->done_cv, &pv->mu, &until) ==
		    ETIMEDOUT)
			break;
	return job->done;
}

int
rg_preverify_ready(rg_preverify *pv, rg_pv_ticket t)
{
	struct rg_pv_job *job = rg_pv_job_of(pv, t);
	int done;

	if (job == NULL || job->released)
		return 1;
	pthread_mutex_lock(&pv->mu);
	done = job->done;
	pthread_mutex_unlock(&pv->mu);
	return done;
}

rg_pv_ticket
rg_preverify_run_next(rg_preverify *pv, rg_pv_ticket last)
{
	uint64_t seq;

	if (pv == NULL)
		return 0;
	seq = __atomic_load_n(&pv->taken, __ATOMIC_ACQUIRE);
	if (seq >= pv->head || seq + 1 > last || !rg_pv_take(pv, seq))
		return 0;
	rg_pv_run_job(pv, &pv->jobs[seq % RG_PV_RING]);
	return seq + 1;
}

void
rg_preverify_wait(rg_preverify *pv, rg_pv_ticket t)
{
	struct rg_pv_job *job = rg_pv_job_of(pv, t);
	struct rg_request *req;
	int done;

	if (job == NULL || job->released)
		return;
	/* Not taken yet (the helpers are behind): this thread does it
	 * rather than wait; the jobs before it are all taken. Taken by a
	 * helper that has not finished in a good while (kept off the
	 * processor): the request is left without a note, and
	 * rg_auth_check verifies it inline; the job is let go once the
	 * helper is through with it (rg_preverify_done). */
	if (rg_pv_take(pv, t - 1))
		rg_pv_run_job(pv, job);
	pthread_mutex_lock(&pv->mu);
	done = rg_pv_wait_done_bounded(pv, job);
	pthread_mutex_unlock(&pv->mu);
	if (!done) {
		pv->gave_up++;
		return;
	}
	req = job->req;
	if (!job->ok) {
		rg_pv_key_drop(pv, rg_httpsig_keyid(job->hs));
		return;
	}
	if (rg_preverify_hash(job->sig, job->siglen, job->base, job->baselen,
	                      req->sig_hash) != 0)
		return;
	req->sig_ok = 1;
	memcpy(req->sig_pub, job->pub, sizeof(req->sig_pub));
	req->pre_hs = job->hs;
	req->pre_base = job->base;
	req->pre_baselen = job->baselen;
	req->pre_digest = job->digests ? job->digest : NULL;
	req->pre_cd = job->cd;
	if (job->body != NULL && job->ncanon == json_array_size(job->body)) {
		req->pre_body = job->body;
		req->pre_canon = job->canon;
		req->pre_ncanon = job->ncanon;
	}
}

/*
 * Let go of the released jobs at the tail, in order, up to the first one a
 * helper is still inside (which a later call lets go of): never waiting,
 * since the keeper's thread gave up waiting for it. The ring's room for
 * new jobs is what such a job holds back.
 */
static void
rg_pv_let_go(struct rg_preverify *pv)
{
	struct rg_pv_job *job;

	while (pv->tail < pv->head &&
	       (job = &pv->jobs[pv->tail % RG_PV_RING])->released) {
		int done = 1;

		/* Taken here when never taken (nobody will then), else
		 * done by whoever took it. */
		if (!rg_pv_take(pv, pv->tail)) {
			pthread_mutex_lock(&pv->mu);
			done = job->done;
			pthread_mutex_unlock(&pv->mu);
		}
		if (!done)
			break;
		rg_pv_clear(job);
		pv->tail++;
	}
}

void
rg_preverify_done(rg_preverify *pv, rg_pv_ticket t)
{
	struct rg_pv_job *job = rg_pv_job_of(pv, t);

	if (job == NULL)
		return;
	job->released = 1;
	rg_pv_let_go(pv);
}

void
rg_preverify_settle(rg_preverify *pv)
{
	if (pv == NULL)
		return;
	pthread_mutex_lock(&pv->mu);
	for (uint64_t seq = pv->tail; seq < pv->head; seq++)
		rg_pv_wait_done(pv, &pv->jobs[seq % RG_PV_RING]);
	pthread_mutex_unlock(&pv->mu);
}

void
rg_preverify_run(rg_preverify *pv, rg_store *st, struct rg_request **reqs,
                 size_t n)
{
	rg_pv_ticket t[RG_PV_RING];

	if (n > RG_PV_RING)
		n = RG_PV_RING;
	for (size_t i = 0; i < n; i++)
		t[i] = rg_preverify_add(pv, st, reqs[i]);
	rg_preverify_settle(pv);
	for (size_t i = 0; i < n; i++) {
		rg_preverify_wait(pv, t[i]);
		/* The parsed bodies go with the jobs: the caller handles
		 * these requests later, on their notes alone. */
		reqs[i]->pre_body = NULL;
		reqs[i]->pre_canon = NULL;
		reqs[i]->pre_ncanon = 0;
		reqs[i]->pre_hs = NULL;
		reqs[i]->pre_base = NULL;
		reqs[i]->pre_baselen = 0;
		reqs[i]->pre_digest = NULL;
		rg_preverify_done(pv, t[i]);
	}
}

uint64_t
rg_preverify_gave_up(const rg_preverify *pv)
{
	return pv != NULL ? pv->gave_up : 0;
}

void
rg_preverify_test_hook(rg_preverify *pv, void (*fn)(void *arg), void *arg)
{
	pv->taken_hook = fn;
	pv->taken_hook_arg = arg;
}
