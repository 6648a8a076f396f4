/*
 * preverify.c -- Ed25519 checks of a run of requests on helper threads,
 * ahead of the keeper's thread handling the same requests in order (which
 * does a job itself when it gets there before the helper).
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
 * the keeper. The
 * helpers touch no shared state but the job slots handed to them, and
 * never the store or the keystore.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/httpsig.h"
#include "crypto/sha256.h"
#include "gateway/preverify.h"
#include "gateway/jcanon.h"

struct rg_pv_job {
	struct rg_request *req;
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
};

/* Helper threads: a second one keeps the keeper's thread from waiting
 * while the first is still on a job (a verification and a parse take
 * about as long as the keeper's own work on a request). */
#define RG_PV_THREADS 2

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
	pthread_cond_t cv;
	int started;
	int quit;
	/* The run handed to the helper (NULL once it took it); the next job
	 * nobody has taken yet (the helper takes them in order, the keeper's
	 * thread takes the one it needs when the helper has not reached it);
	 * whether the helper is still inside the run. */
	struct rg_pv_job *work;
	size_t nwork;
	unsigned gen;              /* runs handed out so far */
	size_t next;               /* atomic */
	int helper_busy;           /* helpers inside the current run */
	/* The current run, owned by the keeper's thread. */
	struct rg_pv_job jobs[RG_PREVERIFY_MAX];
	int job_of[RG_PREVERIFY_MAX];   /* request -> job, or -1 */
	struct rg_request **reqs;
	size_t nreqs, njobs;
};

/*
 * The body of a verified submission as rg_ex_submit reads it (duplicate
 * keys refused, an object taken as a one-record array) and each record as
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) encodes it for sealing (the
 * same bytes by rg_jcanon, jcanon.h). On any
 * failure the job carries nothing and the keeper does it all itself.
 */
static void
rg_pv_parse(struct rg_pv_job *job)
{
	const struct rg_request *req = job->req;
	json_t *body = json_loadb((const char *)req->body, req->body_len,
	                          JSON_REJECT_DUPLICATES, NULL);
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
	const struct rg_request *req = job->req;
	const struct rg_sha256_part parts[] = {{job->base, job->baselen},
	                                       {req->body, req->body_len}};

	job->cd = 0;
	if (req->body_len > 0) {
		const char *cd = rg_request_header(req, "content-digest");

		job->cd = cd != NULL ? rg_content_digest_check(cd, req->body,
		                                               req->body_len) : 1;
	}
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
	pthread_cond_broadcast(&pv->cv);
	pthread_mutex_unlock(&pv->mu);
}

/* The helper: takes the jobs of each run in order until none is left. */
static void *
rg_pv_main(void *arg)
{
	struct rg_preverify *pv = arg;

	unsigned seen = 0;

	for (;;) {
		struct rg_pv_job *work;
		size_t n, j;

		pthread_mutex_lock(&pv->mu);
		while ((pv->work == NULL || pv->gen == seen) && !pv->quit)
			pthread_cond_wait(&pv->cv, &pv->mu);
		if (pv->quit) {
			pthread_mutex_unlock(&pv->mu);
			return NULL;
		}
		seen = pv->gen;
		work = pv->work;
		n = pv->nwork;
		pv->helper_busy++;
		pthread_mutex_unlock(&pv->mu);
		while ((j = __atomic_fetch_add(&pv->next, 1, __ATOMIC_ACQ_REL)) < n)
			rg_pv_run_job(pv, &work[j]);
		pthread_mutex_lock(&pv->mu);
		pv->helper_busy--;
		pthread_cond_broadcast(&pv->cv);
		pthread_mutex_unlock(&pv->mu);
	}
}

rg_preverify *
rg_preverify_new(void)
{
	struct rg_preverify *pv = calloc(1, sizeof(*pv));

	if (pv == NULL)
		return NULL;
	if (pthread_mutex_init(&pv->mu, NULL) != 0) {
		free(pv);
		return NULL;
	}
	if (pthread_cond_init(&pv->cv, NULL) != 0) {
		pthread_mutex_destroy(&pv->mu);
		free(pv);
		return NULL;
	}
	return pv;
}

void
rg_preverify_free(rg_preverify *pv)
{
	if (pv == NULL)
		return;
	if (pv->started > 0) {
		pthread_mutex_lock(&pv->mu);
		pv->quit = 1;
		pthread_cond_broadcast(&pv->cv);
		pthread_mutex_unlock(&pv->mu);
		for (int i = 0; i < pv->started; i++)
			pthread_join(pv->thread[i], NULL);
	}
	pthread_cond_destroy(&pv->cv);
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
	free(job->base);
	rg_httpsig_free(job->hs);
	memset(job, 0, sizeof(*job));
}

void
rg_preverify_start(rg_preverify *pv, rg_store *st, struct rg_request **reqs,
                   size_t n)
{
	if (pv == NULL)
		return;
	pv->reqs = reqs;
	pv->nreqs = n <= RG_PREVERIFY_MAX ? n : 0;
	pv->njobs = 0;
	/* The first request is the caller's to verify (inline, in
	 * rg_auth_check) while the helper takes on the rest: nobody waits
	 * for the first verification of a run. */
	if (pv->nreqs > 0)
		pv->job_of[0] = -1;
	for (size_t i = 1; i < pv->nreqs; i++) {
		pv->job_of[i] = -1;
		if (rg_pv_prepare(pv, st, reqs[i], &pv->jobs[pv->njobs]))
			pv->job_of[i] = (int)pv->njobs++;
		else
			rg_pv_clear(&pv->jobs[pv->njobs]);
	}
	if (pv->njobs == 0)
		goto none;
	if (!pv->started) {
		/* Inside the sandbox: clone(CLONE_THREAD) and futex are allowed
		 * for this (sandbox.c). Without the thread, no notes. */
		while (pv->started < RG_PV_THREADS &&
		       pthread_create(&pv->thread[pv->started], NULL, rg_pv_main,
		                      pv) == 0)
			pv->started++;
		if (!pv->started)
			goto none;
	}
	pthread_mutex_lock(&pv->mu);
	__atomic_store_n(&pv->next, 0, __ATOMIC_RELEASE);
	pv->gen++;
	pv->work = pv->jobs;
	pv->nwork = pv->njobs;
	pthread_cond_broadcast(&pv->cv);
	pthread_mutex_unlock(&pv->mu);
	return;
none:
	for (size_t i = 0; i < pv->njobs; i++)
		rg_pv_clear(&pv->jobs[i]);
	for (size_t i = 0; i < pv->nreqs; i++)
		pv->job_of[i] = -1;
	pv->njobs = 0;
}

void
rg_preverify_wait(rg_preverify *pv, size_t i)
{
	struct rg_pv_job *job;
	int j;

	if (pv == NULL || i >= pv->nreqs || (j = pv->job_of[i]) < 0)
		return;
	job = &pv->jobs[j];
	/* Not taken yet (the helper is behind, or not yet running): this
	 * thread does it rather than wait; jobs before it are all done. */
	{
		size_t expect = (size_t)j;

		if (__atomic_compare_exchange_n(&pv->next, &expect, expect + 1, 0,
		                                __ATOMIC_ACQ_REL,
		                                __ATOMIC_ACQUIRE))
			rg_pv_run_job(pv, job);
	}
	pthread_mutex_lock(&pv->mu);
	while (!job->done)
		pthread_cond_wait(&pv->cv, &pv->mu);
	pthread_mutex_unlock(&pv->mu);
	if (!job->ok) {
		rg_pv_key_drop(pv, rg_httpsig_keyid(job->hs));
		return;
	}
	if (rg_preverify_hash(job->sig, job->siglen, job->base, job->baselen,
	                      job->req->sig_hash) != 0)
		return;
	job->req->sig_ok = 1;
	memcpy(job->req->sig_pub, job->pub, sizeof(job->req->sig_pub));
	job->req->pre_hs = job->hs;
	job->req->pre_base = job->base;
	job->req->pre_baselen = job->baselen;
	job->req->pre_digest = job->digests ? job->digest : NULL;
	job->req->pre_cd = job->cd;
	if (job->body != NULL && job->ncanon == json_array_size(job->body)) {
		job->req->pre_body = job->body;
		job->req->pre_canon = job->canon;
		job->req->pre_ncanon = job->ncanon;
	}
}

void
rg_preverify_end(rg_preverify *pv)
{
	if (pv == NULL)
		return;
	if (pv->njobs > 0) {
		/* Every job is done (each request waited for its own); the
		 * helper may still be leaving the run: the jobs are reused. */
		pthread_mutex_lock(&pv->mu);
		for (size_t i = 0; i < pv->njobs; i++)
			while (!pv->jobs[i].done)
				pthread_cond_wait(&pv->cv, &pv->mu);
		pv->work = NULL; /* a helper that wakes late finds nothing */
		while (pv->helper_busy)
			pthread_cond_wait(&pv->cv, &pv->mu);
		pthread_mutex_unlock(&pv->mu);
	}
	for (size_t i = 0; i < pv->njobs; i++)
		rg_pv_clear(&pv->jobs[i]);
	pv->njobs = pv->nreqs = 0;
	pv->reqs = NULL;
}

void
rg_preverify_run(rg_preverify *pv, rg_store *st, struct rg_request **reqs,
                 size_t n)
{
	rg_preverify_start(pv, st, reqs, n);
	for (size_t i = 0; i < n; i++)
		rg_preverify_wait(pv, i);
	/* The parsed bodies go with the run: the caller handles these
	 * requests after it, on their notes alone. */
	for (size_t i = 0; i < n; i++) {
		reqs[i]->pre_body = NULL;
		reqs[i]->pre_canon = NULL;
		reqs[i]->pre_ncanon = 0;
		reqs[i]->pre_hs = NULL;
		reqs[i]->pre_base = NULL;
		reqs[i]->pre_baselen = 0;
		reqs[i]->pre_digest = NULL;
	}
	rg_preverify_end(pv);
}
