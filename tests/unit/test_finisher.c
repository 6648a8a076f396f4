/*
 * test_finisher.c -- the finisher thread (gateway/finisher.c): committed
 * batches come back in order, each with its work done on the finisher's
 * thread and a failed work marking its job failed, and drain returns only
 * with every job back (poll with those finished by now, and the keeper's
 * answers with them); a run
 * of signatures (rg_sig_hold) signs as single signatures do; the store's
 * commits sync the log unless rg_store_commit_nosync leaves it to the
 * caller.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "crypto/sig.h"
#include "gateway/finisher.h"
#include "gateway/store.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"

#define RG_T_JOBS 24

/* A job whose work hashes its message, and fails for every fifth job. */
struct rg_t_batch {
	struct rg_fin_job job;
	uint8_t msg[40];
	uint8_t digest[32];
	pthread_t ran_on;
	int ran;
	int index;
};

struct rg_t_back {
	int order[RG_T_JOBS];
	int n;
};

static void
rg_t_done(void *ctx, struct rg_fin_job *job)
{
	struct rg_t_back *back = ctx;
	struct rg_t_batch *b = job->arg;

	CHECK(back->n < RG_T_JOBS);
	back->order[back->n++] = b->index;
}

static int
rg_t_work(void *arg)
{
	struct rg_t_batch *b = arg;

	crypto_generichash(b->digest, sizeof(b->digest), b->msg,
	                   sizeof(b->msg), NULL, 0);
	b->ran_on = pthread_self();
	b->ran++;
	return b->index % 5 == 4 ? -1 : 0;
}

/* The job's work ran once, on the finisher's thread (on this one when
 * inline), and its outcome is the job's. */
static void
rg_t_check_batch(const struct rg_t_batch *b, int inline_)
{
	uint8_t want[32];

	CHECK_EQ_INT(b->ran, 1);
	CHECK(!pthread_equal(b->ran_on, pthread_self()) == !inline_);
	crypto_generichash(want, sizeof(want), b->msg, sizeof(b->msg), NULL, 0);
	CHECK(memcmp(b->digest, want, sizeof(want)) == 0);
	CHECK_EQ_INT(b->job.failed, b->index % 5 == 4);
}

static void
rg_t_batch_init(struct rg_t_batch *b, int index, int fd)
{
	memset(b, 0, sizeof(*b));
	b->index = index;
	b->job.sync_fd = fd;
	/* Every seventh job has no work: it only syncs. */
	b->job.work = index % 7 == 6 ? NULL : rg_t_work;
	b->job.arg = b;
	randombytes_buf(b->msg, sizeof(b->msg));
}

static void
rg_t_check(const struct rg_t_batch *b, int inline_)
{
	if (b->job.work == NULL) {
		CHECK_EQ_INT(b->ran, 0);
		CHECK_EQ_INT(b->job.failed, 0);
	} else
		rg_t_check_batch(b, inline_);
}

TEST(finisher_gives_batches_back_in_order_each_with_its_work_done)
{
	uv_loop_t loop;
	struct rg_t_batch *b = calloc(RG_T_JOBS, sizeof(*b));
	struct rg_t_back back = {{0}, 0};
	char path[512];
	rg_finisher *f;
	int fd, synced;

	CHECK(b != NULL);
	snprintf(path, sizeof(path), "%s/log", rg_test_tmpdir());
	CHECK((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	CHECK(write(fd, "x", 1) == 1);
	CHECK(uv_loop_init(&loop) == 0);
	CHECK((f = rg_finisher_new(&loop, rg_t_done, &back)) != NULL);
	CHECK_EQ_INT(rg_finisher_busy(f), 0);
	/* Some with nothing to sync, some with no work; all handed over
	 * before any comes back. */
	for (int i = 0; i < RG_T_JOBS; i++) {
		rg_t_batch_init(&b[i], i, i % 3 ? fd : -1);
		rg_finisher_submit(f, &b[i].job);
	}
	CHECK(rg_finisher_busy(f) <= RG_T_JOBS);
	/* The loop runs until the last one is back (the handle keeps it
	 * alive only while jobs are out), then has nothing left to do. */
	CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ_INT(back.n, RG_T_JOBS);
	CHECK_EQ_INT(rg_finisher_busy(f), 0);
	synced = 0;
	for (int i = 0; i < RG_T_JOBS; i++) {
		CHECK_EQ_INT(back.order[i], i);
		rg_t_check(&b[i], 0);
		/* A sync is timed on the job that asked for it; one with
		 * nothing to sync has no time. */
		if (b[i].job.sync_fd < 0)
			CHECK_EQ_INT(b[i].job.sync_us, 0);
		synced += b[i].job.sync_us > 0;
	}
	CHECK(synced > 0);
	/* Drain: every job is back when it returns, without the loop. */
	back.n = 0;
	for (int i = 0; i < RG_T_JOBS; i++) {
		rg_t_batch_init(&b[i], i, fd);
		rg_finisher_submit(f, &b[i].job);
	}
	rg_finisher_drain(f);
	CHECK_EQ_INT(back.n, RG_T_JOBS);
	CHECK_EQ_INT(rg_finisher_busy(f), 0);
	for (int i = 0; i < RG_T_JOBS; i++) {
		CHECK_EQ_INT(back.order[i], i);
		rg_t_check(&b[i], 0);
	}
	rg_finisher_close(f);
	CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	close(fd);
	free(b);
}

/* A millisecond's sleep, for the polling loops below. */
static void
rg_t_nap(void)
{
	struct timespec ms = {0, 1000000};

	nanosleep(&ms, NULL);
}

TEST(finisher_poll_gives_back_what_is_finished_in_order_without_the_loop)
{
	uv_loop_t loop;
	struct rg_t_batch *b = calloc(RG_T_JOBS, sizeof(*b));
	struct rg_t_back back = {{0}, 0};
	rg_finisher *f;
	int polls = 0, got = 0;

	CHECK(b != NULL);
	CHECK(uv_loop_init(&loop) == 0);
	CHECK((f = rg_finisher_new(&loop, rg_t_done, &back)) != NULL);
	CHECK_EQ_INT(rg_finisher_poll(NULL), 0);
	CHECK_EQ_INT(rg_finisher_poll(f), 0); /* nothing handed over */
	for (int i = 0; i < RG_T_JOBS; i++) {
		rg_t_batch_init(&b[i], i, -1);
		rg_finisher_submit(f, &b[i].job);
	}
	/* Each poll gives back a prefix of the jobs, never one twice. */
	while (back.n < RG_T_JOBS && polls++ < 10000) {
		int before = back.n;

		got += rg_finisher_poll(f);
		CHECK(back.n >= before);
		if (back.n == before)
			rg_t_nap();
	}
	CHECK_EQ_INT(back.n, RG_T_JOBS);
	CHECK(got >= 1);
	CHECK_EQ_INT(rg_finisher_busy(f), 0);
	CHECK_EQ_INT(rg_finisher_poll(f), 0);
	for (int i = 0; i < RG_T_JOBS; i++) {
		CHECK_EQ_INT(back.order[i], i);
		rg_t_check(&b[i], 0);
	}
	/* The loop wakes to nothing left: no job comes back twice. */
	CHECK_EQ_INT(uv_run(&loop, UV_RUN_NOWAIT), 0);
	CHECK_EQ_INT(back.n, RG_T_JOBS);
	rg_finisher_close(f);
	CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	free(b);
}

TEST(keeper_poll_answers_a_durable_batch_before_the_loop_wakes)
{
	struct fixture f;
	struct treq t;
	struct answer a = {0};
	int polls = 0;

	fixture_open(&f);
	treq_make(&t, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	rg_keeper_handle(f.kp, &t.req, answer_cb, &a);
	/* One iteration commits the batch in its check phase and hands it
	 * to the finisher; the answer waits for it. */
	uv_run(&f.loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(a.count, 0);
	while (a.count == 0 && polls++ < 10000) {
		rg_keeper_poll(f.kp);
		if (a.count == 0)
			rg_t_nap();
	}
	CHECK_EQ_INT(a.count, 1);
	CHECK_EQ_INT(a.status, 200);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a.count, 1);
	treq_free(&t);
	fixture_close(&f);
}

TEST(finisher_work_inline_does_what_the_thread_would)
{
	struct rg_t_batch b;
	char path[512];
	int fd;

	for (int i = 0; i < 7; i++) {
		rg_t_batch_init(&b, i, -1);
		rg_finisher_work(&b.job);
		rg_t_check(&b, 1);
		CHECK_EQ_INT(b.job.sync_us, 0);
	}
	/* With a file to sync, the sync is timed. */
	snprintf(path, sizeof(path), "%s/inline-log", rg_test_tmpdir());
	CHECK((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	CHECK(write(fd, "x", 1) == 1);
	rg_t_batch_init(&b, 1, fd);
	rg_finisher_work(&b.job);
	rg_t_check(&b, 1);
	CHECK(b.job.sync_us > 0);
	close(fd);
}

TEST(sig_run_signs_as_single_signatures_do_and_nests)
{
	static const uint8_t msg[] = "an audit entry";
	uint8_t a[RG_SIG_LEN], b[RG_SIG_LEN], c[RG_SIG_LEN], pub[RG_SIG_PUBLEN];
	rg_sigkey *k = rg_sigkey_generate();

	CHECK(k != NULL);
	rg_sigkey_public(k, pub);
	CHECK(rg_sig_sign(k, msg, sizeof(msg), a) == 0);
	CHECK(rg_sig_hold(k) == 0);
	CHECK(rg_sig_hold(k) == 0);
	CHECK(rg_sig_sign(k, msg, sizeof(msg), b) == 0);
	rg_sig_release(k);
	/* Still held once: signing goes on. */
	CHECK(rg_sig_sign(k, msg, sizeof(msg), c) == 0);
	rg_sig_release(k);
	/* Ed25519 is deterministic: one key, one message, one signature. */
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(memcmp(a, c, sizeof(a)) == 0);
	CHECK(rg_sig_verify(pub, msg, sizeof(msg), a) == 0);
	/* Closed again: signing still opens the key for itself. */
	CHECK(rg_sig_sign(k, msg, sizeof(msg), b) == 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(rg_sig_hold(NULL) == -1);
	rg_sigkey_free(k);
}

static const uint8_t rg_t_dbkey[RG_STORE_KEYLEN] = {
	0x5a, 0x17, 0x02, 0x93, 0x44, 0xe1, 0x0c, 0x7d, 0x21, 0x38, 0x99,
	0x4f, 0xa0, 0xb2, 0x6e, 0x13, 0x71, 0xc4, 0x08, 0x3b, 0x8d, 0xf0,
	0x62, 0x1a, 0x55, 0xe9, 0x2c, 0x90, 0x07, 0xbd, 0x46, 0xd8};

TEST(store_commit_syncs_the_log_and_commit_nosync_leaves_it_to_the_caller)
{
	char path[512], err[256] = "";
	unsigned long long before;
	rg_store *st;
	int64_t now = (int64_t)time(NULL) * 1000;

	snprintf(path, sizeof(path), "%s/db", rg_test_tmpdir());
	st = rg_store_open(path, rg_t_dbkey, 1, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	/* Creating the schema committed, synced, through the same hook. */
	CHECK(rg_store_sync_count(st) >= 1);
	CHECK(rg_store_wal_fd(st) >= 0);

	before = rg_store_sync_count(st);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim(st, "k1", "n1", now + 60000) ==
	      RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_store_sync_count(st), before + 1);

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim(st, "k1", "n2", now + 60000) ==
	      RG_STORE_OK);
	CHECK(rg_store_commit_nosync(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_store_sync_count(st), before + 1);
	/* The caller's sync, on the descriptor the store gives. */
	CHECK(rg_store_sync_fd(rg_store_wal_fd(st)) == 0);
	CHECK(rg_store_sync_fd(-1) == -1);
	/* Committed all the same: the nonce is taken. */
	CHECK(rg_store_nonce_claim(st, "k1", "n2", now + 60000) ==
	      RG_STORE_EXISTS);
	/* And the next plain commit syncs again. */
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim(st, "k1", "n3", now + 60000) ==
	      RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK_EQ_INT(rg_store_sync_count(st), before + 2);
	rg_store_close(st);
}

TEST(live_store_checkpoints_in_the_background_and_keeps_every_row)
{
	char path[512], walpath[600], err[256] = "", id[32];
	uint8_t blob[2048];
	struct rg_store_record rec;
	struct stat sb;
	rg_store *st;
	int64_t seq;
	int i, tries, restarted = 0;

	snprintf(path, sizeof(path), "%s/db", rg_test_tmpdir());
	snprintf(walpath, sizeof(walpath), "%s-wal", path);
	st = rg_store_open(path, rg_t_dbkey, 1, err, sizeof(err));
	CHECKF(st != NULL, "create: %s", err);
	CHECK_EQ_INT(rg_store_background_checkpoints(st), 0);
	rg_store_close(st);
	st = rg_store_open_live(path, rg_t_dbkey, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	/* A page a record or more: past the background mark many times,
	 * and the log's restart mark (4000 pages) too. */
	for (i = 0; i < 6000; i++) {
		if (i % 50 == 0)
			CHECK(rg_store_begin(st) == RG_STORE_OK);
		memset(blob, i & 0xff, sizeof(blob));
		snprintf(id, sizeof(id), "r%d", i);
		CHECK(rg_store_record_put(st, "hazard-declaration", id, 1, 1,
		                          1700000000000 + i, blob, sizeof(blob),
		                          &seq) == RG_STORE_OK);
		if (i % 50 == 49) {
			CHECK(rg_store_commit(st) == RG_STORE_OK);
			rg_store_wal_tidy(st);
		}
	}
	for (tries = 0; tries < 200 && rg_store_background_checkpoints(st) == 0;
	     tries++)
		usleep(10000);
	CHECK(rg_store_background_checkpoints(st) > 0);
	/*
	 * The log starts over once a checkpoint copied all of it: its
	 * header's checkpoint sequence (bytes 12-15, big-endian) counts the
	 * restarts. When it happens depends on the threads' timing (the
	 * writer's own checkpoint at the restart mark is refused while a
	 * background run holds the checkpoint, which under valgrind's
	 * one-thread-at-a-time scheduling is most of the time, and a run may
	 * outlast any quiet spell waited for), so each try lets the
	 * background runs finish, then the writer's mark and one more write
	 * must start it over; a refused try leaves the log at the mark for
	 * the next.
	 */
	for (int round = 0; round < 20 && !restarted; round++) {
		uint8_t hdr[16];
		FILE *f;

		for (tries = 0; tries < 500; tries++) {
			unsigned long long runs =
			    rg_store_background_checkpoints(st);

			usleep(20000);
			if (rg_store_background_checkpoints(st) == runs)
				break;
		}
		rg_store_wal_tidy(st);
		CHECK(rg_store_begin(st) == RG_STORE_OK);
		snprintf(id, sizeof(id), "last%d", round);
		CHECK(rg_store_record_put(st, "hazard-declaration", id, 1, 1,
		                          1700000009999, blob, sizeof(blob),
		                          &seq) == RG_STORE_OK);
		CHECK(rg_store_commit(st) == RG_STORE_OK);
		f = fopen(walpath, "rb");
		CHECK(f != NULL && fread(hdr, 1, sizeof(hdr), f) == sizeof(hdr));
		fclose(f);
		restarted = ((uint32_t)hdr[12] << 24 | (uint32_t)hdr[13] << 16 |
		             (uint32_t)hdr[14] << 8 | hdr[15]) >= 1;
	}
	CHECKF(restarted, "the log never started over");
	/* Restarted, it is reused from its start rather than grown: it
	 * never holds all 6000-odd pages plus the hard mark's worth. */
	CHECK(stat(walpath, &sb) == 0);
	CHECKF(sb.st_size < 40 * 1024 * 1024, "WAL is %lld bytes",
	       (long long)sb.st_size);
	rg_store_close(st);
	/* Everything is there, read back through a plain connection. */
	st = rg_store_open(path, rg_t_dbkey, 0, err, sizeof(err));
	CHECKF(st != NULL, "reopen: %s", err);
	for (i = 0; i < 6000; i += 499) {
		snprintf(id, sizeof(id), "r%d", i);
		CHECK(rg_store_record_get(st, "hazard-declaration", id, &rec) ==
		      RG_STORE_OK);
		memset(blob, i & 0xff, sizeof(blob));
		CHECK_EQ_INT(rec.sealed_len, sizeof(blob));
		CHECK(memcmp(rec.sealed, blob, sizeof(blob)) == 0);
		rg_store_record_clear(&rec);
	}
	rg_store_close(st);
}

/*
 * Small commits, each rewriting the same tails: the checkpointer is woken
 * each time the log has grown by a step (256 pages), not after each commit
 * past the mark, so that a run copies each tail once for many commits.
 */
TEST(live_store_wakes_its_checkpointer_by_the_log_s_growth_not_per_commit)
{
	char path[512], walpath[600], err[256] = "", id[32];
	uint8_t blob[600];
	unsigned long long runs;
	struct stat sb;
	rg_store *st;
	int64_t seq;
	int commits = 0, tries;

	snprintf(path, sizeof(path), "%s/db", rg_test_tmpdir());
	snprintf(walpath, sizeof(walpath), "%s-wal", path);
	st = rg_store_open(path, rg_t_dbkey, 1, err, sizeof(err));
	CHECKF(st != NULL, "create: %s", err);
	rg_store_close(st);
	st = rg_store_open_live(path, rg_t_dbkey, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	memset(blob, 7, sizeof(blob));
	/* Up to 3,500 pages in the log: past the mark (1,000), short of the
	 * restart mark (4,000), a few pages a commit. */
	do {
		CHECK(rg_store_begin(st) == RG_STORE_OK);
		snprintf(id, sizeof(id), "r%d", commits);
		CHECK(rg_store_record_put(st, "hazard-declaration", id, 1, 1,
		                          1700000000000 + commits, blob,
		                          sizeof(blob), &seq) == RG_STORE_OK);
		CHECK(rg_store_commit(st) == RG_STORE_OK);
		commits++;
		CHECK(stat(walpath, &sb) == 0);
	} while (sb.st_size < 3500LL * (4096 + 24) && commits < 100000);
	/* Let the last run finish. */
	for (tries = 0; tries < 500; tries++) {
		runs = rg_store_background_checkpoints(st);
		usleep(20000);
		if (rg_store_background_checkpoints(st) == runs)
			break;
	}
	runs = rg_store_background_checkpoints(st);
	/* (3,500 - 1,000) / 256 steps: ten wake-ups at most, against the
	 * hundreds of commits past the mark. */
	CHECKF(commits > 500, "only %d commits", commits);
	CHECKF(runs >= 1 && runs <= 11, "%llu checkpoints for %d commits",
	       runs, commits);
	rg_store_close(st);
}

/* Counts the hook's calls and the answers out at the last one. */
struct out_count {
	int calls;
	int answered_at_call;
	struct answer *a;
	int n;
};

static void
out_count_cb(void *ctx)
{
	struct out_count *o = ctx;

	o->calls++;
	o->answered_at_call = 0;
	for (int i = 0; i < o->n; i++)
		o->answered_at_call += o->a[i].count;
}

TEST(keeper_tells_when_a_batch_s_replies_are_all_out)
{
	struct fixture f;
	struct treq t[3];
	struct answer a[3] = {{0}};
	struct out_count o = {0, 0, a, 3};

	fixture_open(&f);
	rg_keeper_on_replies_out(f.kp, out_count_cb, &o);
	for (int i = 0; i < 3; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t[i].req, answer_cb, &a[i]);
	}
	CHECK_EQ_INT(o.calls, 0);
	keeper_run(&f.loop, f.kp);
	/* One batch: one call, after its three replies. */
	CHECK_EQ_INT(o.calls, 1);
	CHECK_EQ_INT(o.answered_at_call, 3);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(a[i].status, 200);
		treq_free(&t[i]);
	}
	/* A batch whose commit fails: its failed replies, then the call. */
	memset(a, 0, sizeof(a));
	o.calls = 0;
	for (int i = 0; i < 2; i++) {
		treq_make(&t[i], &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t[i].req, answer_cb, &a[i]);
	}
	o.n = 2;
	rg_store_fail_after(f.kp->st, 1);
	keeper_run(&f.loop, f.kp);
	rg_store_fail_after(f.kp->st, 0);
	CHECK_EQ_INT(o.calls, 1);
	CHECK_EQ_INT(o.answered_at_call, 2);
	CHECK_EQ_INT(a[0].status, 500);
	for (int i = 0; i < 2; i++)
		treq_free(&t[i]);
	/* A request refused before any batch (no such route) is answered
	 * at once, without the call: the caller sends it after handling. */
	memset(a, 0, sizeof(a));
	o.calls = 0;
	treq_make(&t[0], &f.health, "GET", "/v1/no-such-route", "");
	rg_keeper_handle(f.kp, &t[0].req, answer_cb, &a[0]);
	CHECK_EQ_INT(a[0].count, 1);
	CHECK_EQ_INT(a[0].status, 404);
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(o.calls, 0);
	treq_free(&t[0]);
	rg_keeper_on_replies_out(f.kp, NULL, NULL);
	fixture_close(&f);
}
