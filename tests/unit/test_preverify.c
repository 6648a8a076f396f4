/*
 * test_preverify.c -- signatures verified ahead on the helper thread
 * (preverify.c): only good signatures get a note, and the keeper's own
 * check (auth.c) uses a note only for the very key and base it computes,
 * so a note can never let a bad signature through.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/httpsig.h"
#include "gateway/client.h"
#include "gateway/config.h"
#include "gateway/demo.h"
#include "gateway/keeper_int.h"
#include "gateway/preverify.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"


TEST(preverify_notes_good_signatures_and_nothing_else)
{
	struct fixture f;
	struct treq t[6];
	struct rg_request *reqs[6];
	struct rg_store_key key;
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL);
	fixture_open(&f);
	for (int i = 0; i < 6; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		reqs[i] = &t[i].req;
	}
	/* Signed for another path: the base differs, the signature fails. */
	t[1].req.path = t[1].req.target = (char *)"/v1/resources/other/records";
	/* No signature at all. */
	t[3].req.nheaders = 2;
	rg_preverify_run(pv, f.kp->st, reqs, 6);
	CHECK(rg_store_key_get(f.kp->st, f.health.keyid, &key) == RG_STORE_OK);
	CHECK_EQ_INT(t[0].req.sig_ok, 1);
	CHECK_EQ_INT(t[1].req.sig_ok, 0);
	CHECK_EQ_INT(t[2].req.sig_ok, 1);
	CHECK_EQ_INT(t[3].req.sig_ok, 0);
	CHECK_EQ_INT(t[4].req.sig_ok, 1);
	CHECK_EQ_INT(t[5].req.sig_ok, 1);
	CHECK(memcmp(t[2].req.sig_pub, key.pub, 32) == 0);
	/* Each note is for its own request's base. */
	CHECK(memcmp(t[2].req.sig_hash, t[4].req.sig_hash, 32) != 0);
	for (int i = 0; i < 6; i++)
		treq_free(&t[i]);
	fixture_close(&f);
	rg_preverify_free(pv);
}

TEST(keeper_ignores_a_note_that_does_not_match_the_signature_it_checks)
{
	struct fixture f;
	struct treq good, bad, other;
	struct answer a = {0}, b = {0}, c = {0};

	fixture_open(&f);
	treq_make(&good, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	treq_make(&bad, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	treq_make(&other, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	/* A genuine note, for good's own signature and base. */
	{
		struct rg_request *one[1] = {&good.req};
		rg_preverify *pv = rg_preverify_new();

		CHECK(pv != NULL);
		rg_preverify_run(pv, f.kp->st, one, 1);
		rg_preverify_free(pv);
	}
	CHECK_EQ_INT(good.req.sig_ok, 1);
	/* bad is signed for another path, yet carries good's note (key and
	 * hash): the keeper verifies it itself and refuses it. */
	bad.req.path = bad.req.target = (char *)"/v1/resources/other/records";
	bad.req.sig_ok = 1;
	memcpy(bad.req.sig_pub, good.req.sig_pub, 32);
	memcpy(bad.req.sig_hash, good.req.sig_hash, 32);
	rg_keeper_handle(f.kp, &bad.req, answer_cb, &b);
	/* A good request with a wrong note is verified inline and passes. */
	CHECK_EQ_INT(other.req.sig_ok, 0);
	other.req.sig_ok = 1;
	memcpy(other.req.sig_pub, good.req.sig_pub, 32);
	memset(other.req.sig_hash, 0, 32);
	rg_keeper_handle(f.kp, &other.req, answer_cb, &c);
	rg_keeper_handle(f.kp, &good.req, answer_cb, &a);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(b.count, 1);
	CHECK_EQ_INT(b.status, 401);
	CHECK_EQ_STR(b.code, "signature_invalid");
	CHECK_EQ_INT(c.status, 200);
	CHECK_EQ_INT(a.status, 200);
	treq_free(&good);
	treq_free(&bad);
	treq_free(&other);
	fixture_close(&f);
}

TEST(preverify_parses_verified_submissions_ahead_and_nothing_else)
{
	struct fixture f;
	struct treq t[4];
	struct rg_request *reqs[4];
	rg_pv_ticket tk[4];
	struct answer a[4] = {{0}};
	rg_preverify *pv = rg_preverify_new();
	json_t *want = json_loads(HAZARD_BODY, 0, NULL);
	char *canon = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);

	CHECK(pv != NULL && canon != NULL);
	fixture_open(&f);
	for (int i = 0; i < 4; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		reqs[i] = &t[i].req;
	}
	/* Signed for another path: its signature fails, nothing is parsed. */
	t[2].req.path = t[2].req.target = (char *)"/v1/resources/other/records";
	for (int i = 0; i < 4; i++)
		tk[i] = rg_preverify_add(pv, f.kp->st, reqs[i]);
	rg_preverify_settle(pv);
	for (int i = 0; i < 4; i++) {
		CHECK(tk[i] != 0);
		rg_preverify_wait(pv, tk[i]);
		if (i != 2) {
			/* The body as rg_ex_submit reads it, a one-record
			 * array, and the record's canonical bytes. */
			CHECK(t[i].req.pre_body != NULL);
			CHECK_EQ_INT(json_array_size(t[i].req.pre_body), 1);
			CHECK(json_equal(json_array_get(t[i].req.pre_body, 0), want));
			CHECK_EQ_INT(t[i].req.pre_ncanon, 1);
			CHECK_EQ_STR(t[i].req.pre_canon[0], canon);
		} else {
			CHECK(t[i].req.pre_body == NULL);
		}
		rg_keeper_handle(f.kp, &t[i].req, answer_cb, &a[i]);
		rg_preverify_done(pv, tk[i]);
	}
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a[0].status, 200);
	CHECK_EQ_INT(a[1].status, 200);
	CHECK_EQ_INT(a[2].status, 401);
	CHECK_EQ_INT(a[3].status, 200);
	/* rg_preverify_run hands out notes only. */
	for (int i = 0; i < 4; i++)
		treq_free(&t[i]);
	for (int i = 0; i < 4; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		reqs[i] = &t[i].req;
	}
	rg_preverify_run(pv, f.kp->st, reqs, 4);
	CHECK_EQ_INT(t[1].req.sig_ok, 1);
	CHECK(t[1].req.pre_body == NULL && t[1].req.pre_canon == NULL);
	for (int i = 0; i < 4; i++)
		treq_free(&t[i]);
	fixture_close(&f);
	rg_preverify_free(pv);
	free(canon);
	json_decref(want);
}

/* Run reqs[0..n) through pv and count the notes. */
static int
preverify_notes(rg_preverify *pv, rg_store *st, struct treq *t, int n)
{
	struct rg_request *reqs[8];
	int notes = 0;

	for (int i = 0; i < n; i++)
		reqs[i] = &t[i].req;
	rg_preverify_run(pv, st, reqs, (size_t)n);
	for (int i = 0; i < n; i++)
		notes += t[i].req.sig_ok;
	return notes;
}

TEST(preverify_reads_a_key_again_once_a_verification_with_it_failed)
{
	struct fixture f;
	struct treq t[3];
	struct rg_store_key key;
	struct rg_client_key other = {0};
	uint8_t old_pub[32];
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL);
	fixture_open(&f);
	/* The first run reads the key from the store and keeps it. */
	for (int i = 0; i < 3; i++)
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	CHECK_EQ_INT(preverify_notes(pv, f.kp->st, t, 3), 3);
	for (int i = 0; i < 3; i++)
		treq_free(&t[i]);
	/* The key id now names another key, and requests are signed with it. */
	CHECK(rg_store_key_get(f.kp->st, f.health.keyid, &key) == RG_STORE_OK);
	memcpy(old_pub, key.pub, 32);
	memcpy(other.department, f.health.department, sizeof(other.department));
	memcpy(other.keyid, f.health.keyid, sizeof(other.keyid));
	other.key = rg_sigkey_generate();
	CHECK(other.key != NULL);
	rg_sigkey_public(other.key, key.pub);
	CHECK(rg_store_key_put(f.kp->st, &key) == RG_STORE_OK);
	/* Verified with the key kept: no note, and the key is dropped... */
	for (int i = 0; i < 3; i++)
		treq_make(&t[i], &other, "POST", HAZARD_PATH, HAZARD_BODY);
	CHECK_EQ_INT(preverify_notes(pv, f.kp->st, t, 3), 0);
	for (int i = 0; i < 3; i++)
		treq_free(&t[i]);
	/* ...so the next run reads the new one, and notes under it. */
	for (int i = 0; i < 3; i++)
		treq_make(&t[i], &other, "POST", HAZARD_PATH, HAZARD_BODY);
	CHECK_EQ_INT(preverify_notes(pv, f.kp->st, t, 3), 3);
	CHECK(memcmp(t[2].req.sig_pub, key.pub, 32) == 0);
	CHECK(memcmp(t[2].req.sig_pub, old_pub, 32) != 0);
	for (int i = 0; i < 3; i++)
		treq_free(&t[i]);
	rg_sigkey_free(other.key);
	fixture_close(&f);
	rg_preverify_free(pv);
}

TEST(preverify_note_made_with_a_kept_key_the_store_replaced_is_refused)
{
	struct fixture f;
	struct treq t[2];
	struct rg_store_key key;
	struct answer a = {0};
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL);
	fixture_open(&f);
	for (int i = 0; i < 2; i++)
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	CHECK_EQ_INT(preverify_notes(pv, f.kp->st, t, 2), 2);
	for (int i = 0; i < 2; i++)
		treq_free(&t[i]);
	/* The store's key changes; the kept one still verifies the old
	 * signer's requests, and the note says so... */
	CHECK(rg_store_key_get(f.kp->st, f.health.keyid, &key) == RG_STORE_OK);
	key.pub[0] ^= 0x01;
	CHECK(rg_store_key_put(f.kp->st, &key) == RG_STORE_OK);
	for (int i = 0; i < 2; i++)
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	CHECK_EQ_INT(preverify_notes(pv, f.kp->st, t, 2), 2);
	CHECK(memcmp(t[1].req.sig_pub, key.pub, 32) != 0);
	/* ...but the keeper reads the store's key and refuses. */
	rg_keeper_handle(f.kp, &t[1].req, answer_cb, &a);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a.count, 1);
	CHECK_EQ_INT(a.status, 401);
	CHECK_EQ_STR(a.code, "signature_invalid");
	for (int i = 0; i < 2; i++)
		treq_free(&t[i]);
	fixture_close(&f);
	rg_preverify_free(pv);
}

TEST(preverify_queue_full_leaves_requests_to_the_inline_check)
{
	struct fixture f;
	struct treq *t = calloc(RG_PV_RING + 2, sizeof(*t));
	rg_pv_ticket *tk = calloc(RG_PV_RING + 2, sizeof(*tk));
	struct answer a = {0};
	rg_preverify *pv = rg_preverify_new();

	CHECK(pv != NULL && t != NULL && tk != NULL);
	fixture_open(&f);
	for (int i = 0; i < RG_PV_RING + 2; i++) {
		treq_make(&t[i], &f.health, "GET", "/v1/catalogue", "");
		tk[i] = rg_preverify_add(pv, f.kp->st, &t[i].req);
	}
	/* Every job done (a helper may otherwise still be inside one when
	 * it is let go of, which then keeps its slot a while longer). */
	rg_preverify_settle(pv);
	/* RG_PV_RING held at once, no more: the rest get no ticket. */
	for (int i = 0; i < RG_PV_RING; i++)
		CHECK(tk[i] == (rg_pv_ticket)i + 1);
	CHECK(tk[RG_PV_RING] == 0 && tk[RG_PV_RING + 1] == 0);
	/* Let go of two out of order: the first frees the slot for one more
	 * only once the one before it is let go of too. */
	rg_preverify_done(pv, tk[1]);
	treq_free(&t[RG_PV_RING]);
	treq_make(&t[RG_PV_RING], &f.health, "GET", "/v1/catalogue", "");
	CHECK(rg_preverify_add(pv, f.kp->st, &t[RG_PV_RING].req) == 0);
	rg_preverify_done(pv, tk[0]);
	tk[RG_PV_RING] = rg_preverify_add(pv, f.kp->st, &t[RG_PV_RING].req);
	CHECK(tk[RG_PV_RING] == (rg_pv_ticket)RG_PV_RING + 1);
	rg_preverify_settle(pv);
	/* A ticket let go of gives nothing any more; 0 is nothing. */
	rg_preverify_wait(pv, tk[0]);
	CHECK_EQ_INT(t[0].req.sig_ok, 0);
	rg_preverify_wait(pv, 0);
	rg_preverify_done(pv, 0);
	/* The one left out is verified by the keeper itself. */
	CHECK_EQ_INT(t[RG_PV_RING + 1].req.sig_ok, 0);
	rg_keeper_handle(f.kp, &t[RG_PV_RING + 1].req, answer_cb, &a);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a.status, 200);
	/* Waited for in order, the others get their notes. */
	for (int i = 2; i <= RG_PV_RING; i++) {
		rg_preverify_wait(pv, tk[i]);
		CHECK_EQ_INT(t[i].req.sig_ok, 1);
	}
	/* Freed with jobs still held: they go with it (valgrind sees). */
	rg_preverify_free(pv);
	for (int i = 0; i < RG_PV_RING + 2; i++)
		treq_free(&t[i]);
	free(t);
	free(tk);
	fixture_close(&f);
}

/* Field n (from 1, as proc(5) counts) of thread tid's stat, or -100. */
static int
thread_stat_field(const char *tid, int n)
{
	char path[128], buf[1024], *p;
	int value = -100;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
	if ((f = fopen(path, "r")) == NULL)
		return value;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL) {
		/* After the name: state is field 3. */
		int field = 2;

		for (p++; *p != '\0' && field < n; p++)
			if (*p == ' ')
				field++;
		if (field == n)
			value = atoi(p);
	}
	fclose(f);
	return value;
}

#define STAT_POLICY 41

TEST(preverify_helpers_run_under_the_idle_policy_the_keeper_s_thread_not)
{
	struct fixture f;
	struct treq t;
	rg_pv_ticket tk;
	rg_preverify *pv = rg_preverify_new();
	char self[32];
	int idle = 0;
	DIR *d;
	struct dirent *e;

	CHECK(pv != NULL);
	fixture_open(&f);
	treq_make(&t, &f.health, "GET", "/v1/catalogue", "");
	tk = rg_preverify_add(pv, f.kp->st, &t.req);
	CHECK(tk != 0);
	rg_preverify_settle(pv);
	snprintf(self, sizeof(self), "%d", (int)gettid());
	CHECK_EQ_INT(thread_stat_field(self, STAT_POLICY), SCHED_OTHER);
	/* Each helper takes the policy when it starts: the one that took the
	 * job has; the other may not have run yet on a busy machine, so look
	 * again for up to two seconds. */
	for (int tries = 0; tries < 200 && idle < 2; tries++) {
		if (tries > 0)
			usleep(10000);
		idle = 0;
		CHECK((d = opendir("/proc/self/task")) != NULL);
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' &&
			    thread_stat_field(e->d_name, STAT_POLICY) == SCHED_IDLE)
				idle++;
		closedir(d);
	}
	CHECK_EQ_INT(idle, 2);
	rg_preverify_done(pv, tk);
	rg_preverify_free(pv);
	treq_free(&t);
	fixture_close(&f);
}

/* Holds each helper inside the job it took until let_go. */
struct hold {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int inside;
	int let_go;
};

static void
hold_helper(void *arg)
{
	struct hold *h = arg;

	pthread_mutex_lock(&h->mu);
	h->inside++;
	pthread_cond_broadcast(&h->cv);
	while (!h->let_go)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * A helper that took a job and does not finish (here held; in life kept
 * off the processor, SCHED_IDLE on a busy machine) holds the keeper's
 * thread a bounded time: the request goes on without a note, is verified
 * inline and accepted, and is let go of while the helper is still inside
 * its job, which reads only its own copy of the request (freed here: ASan
 * and valgrind would see a read).
 */
TEST(preverify_keeper_s_thread_stops_waiting_for_a_helper_that_does_not_finish)
{
	struct fixture f;
	struct treq t[2];
	struct answer a = {0};
	struct hold h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	rg_preverify *pv = rg_preverify_new();
	size_t len = strlen(HAZARD_BODY);
	uint8_t *body = malloc(len);
	rg_pv_ticket tk[2];
	double t0, waited, t1;

	CHECK(pv != NULL && body != NULL);
	fixture_open(&f);
	rg_preverify_test_hook(pv, hold_helper, &h);
	memcpy(body, HAZARD_BODY, len);
	treq_make(&t[0], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	t[0].req.body = body;
	treq_make(&t[1], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	tk[0] = rg_preverify_add(pv, f.kp->st, &t[0].req);
	CHECK(tk[0] != 0);
	pthread_mutex_lock(&h.mu);
	while (h.inside == 0)
		pthread_cond_wait(&h.cv, &h.mu);
	pthread_mutex_unlock(&h.mu);

	t0 = now_ms();
	rg_preverify_wait(pv, tk[0]);
	waited = now_ms() - t0;
	CHECK_EQ_INT(t[0].req.sig_ok, 0);
	CHECK(t[0].req.pre_body == NULL);
	CHECK(rg_preverify_gave_up(pv) == 1);
	CHECKF(waited >= 1.9 && waited < 1000, "waited %.3f ms", waited);
	rg_keeper_handle(f.kp, &t[0].req, answer_cb, &a);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a.count, 1);
	CHECK_EQ_INT(a.status, 200);
	t1 = now_ms();
	rg_preverify_done(pv, tk[0]);
	CHECK(now_ms() - t1 < 1000);
	memset(body, 0, len);
	free(body);

	/* Let go, the helpers do their jobs again. */
	pthread_mutex_lock(&h.mu);
	h.let_go = 1;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	tk[1] = rg_preverify_add(pv, f.kp->st, &t[1].req);
	CHECK(tk[1] != 0);
	rg_preverify_settle(pv);
	rg_preverify_wait(pv, tk[1]);
	CHECK_EQ_INT(t[1].req.sig_ok, 1);
	CHECK(rg_preverify_gave_up(pv) == 1);
	rg_preverify_done(pv, tk[1]);
	rg_preverify_free(pv);
	for (int i = 0; i < 2; i++)
		treq_free(&t[i]);
	fixture_close(&f);
}

/*
 * While both helpers are inside jobs (held), ready says so of those and
 * of nothing else, and the keeper's thread runs the next job itself
 * (run_next) instead of waiting, but only one of those up to the ticket
 * it names; that request's note is then there without a wait, out of
 * order, and the held ones get theirs once let go.
 */
TEST(preverify_keeper_s_thread_runs_the_next_job_itself_while_helpers_are_inside)
{
	struct fixture f;
	struct treq t[4];
	struct hold h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	rg_preverify *pv = rg_preverify_new();
	rg_pv_ticket tk[4];

	CHECK(pv != NULL);
	fixture_open(&f);
	rg_preverify_test_hook(pv, hold_helper, &h);
	for (int i = 0; i < 4; i++) {
		treq_make(&t[i], &f.health, "GET", "/v1/catalogue", "");
		tk[i] = rg_preverify_add(pv, f.kp->st, &t[i].req);
		CHECK(tk[i] == (rg_pv_ticket)i + 1);
	}
	/* Both helpers inside the first two jobs. */
	pthread_mutex_lock(&h.mu);
	while (h.inside < 2)
		pthread_cond_wait(&h.cv, &h.mu);
	pthread_mutex_unlock(&h.mu);
	CHECK_EQ_INT(rg_preverify_ready(pv, tk[0]), 0);
	CHECK_EQ_INT(rg_preverify_ready(pv, tk[1]), 0);
	CHECK_EQ_INT(rg_preverify_ready(pv, tk[2]), 0);
	CHECK_EQ_INT(rg_preverify_ready(pv, 0), 1);
	/* Not beyond the ticket named: job 3 is after ticket 2. */
	CHECK(rg_preverify_run_next(pv, tk[1]) == 0);
	CHECK(rg_preverify_run_next(pv, tk[3]) == tk[2]);
	CHECK_EQ_INT(rg_preverify_ready(pv, tk[2]), 1);
	CHECK_EQ_INT(rg_preverify_ready(pv, tk[3]), 0);
	rg_preverify_wait(pv, tk[2]);
	CHECK_EQ_INT(t[2].req.sig_ok, 1);
	CHECK(rg_preverify_run_next(pv, tk[3]) == tk[3]);
	CHECK(rg_preverify_run_next(pv, tk[3]) == 0);
	rg_preverify_wait(pv, tk[3]);
	CHECK_EQ_INT(t[3].req.sig_ok, 1);
	CHECK(rg_preverify_gave_up(pv) == 0);

	pthread_mutex_lock(&h.mu);
	h.let_go = 1;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	rg_preverify_settle(pv);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(rg_preverify_ready(pv, tk[i]), 1);
		rg_preverify_wait(pv, tk[i]);
		CHECK_EQ_INT(t[i].req.sig_ok, 1);
	}
	for (int i = 0; i < 4; i++)
		rg_preverify_done(pv, tk[i]);
	CHECK_EQ_INT(rg_preverify_ready(pv, tk[0]), 1);
	rg_preverify_free(pv);
	for (int i = 0; i < 4; i++)
		treq_free(&t[i]);
	fixture_close(&f);
}
