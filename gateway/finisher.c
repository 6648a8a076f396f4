/*
 * finisher.c -- the finisher thread: sync committed batches and do their
 * last work (the keeper's receipts) while the keeper's thread runs the
 * next ones.
 *
 * It owns its thread, its queue of jobs and the async handle that wakes
 * the loop; it never touches the store or the keystore, only the
 * descriptor each job names and what its work function holds. Jobs
 * waiting together share one fdatasync: a sync made after a batch's
 * COMMIT returned covers it, whichever batch asked for it (the group
 * commit of the disk, as the keeper's batches are the group commit of the
 * transactions).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/finisher.h"
#include "gateway/store.h"

struct rg_finisher {
	uv_async_t async;          /* the thread -> the loop: jobs are back */
	rg_fin_done done;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;    /* the thread waits for jobs */
	pthread_cond_t back_cv;    /* drain waits for finished jobs */
	int quit;
	size_t busy;               /* submitted, not yet handed back */
	int any_ready;             /* atomic: ready is not empty */
	/* FIFO lists under mu: handed over, and finished. */
	struct rg_fin_job *todo, **todo_tail;
	struct rg_fin_job *ready, **ready_tail;
};

/* fdatasync fd, timed: how long it took in microseconds (at least 1). */
static uint64_t
rg_finisher_sync(int fd)
{
	struct timespec a, b;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &a);
	rg_store_sync_fd(fd);
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = (int64_t)(b.tv_sec - a.tv_sec) * 1000000 +
	     (b.tv_nsec - a.tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 1;
}

static void
rg_finisher_run(struct rg_fin_job *job)
{
	if (job->work != NULL && job->work(job->arg) != 0)
		job->failed = 1;
}

void
rg_finisher_work(struct rg_fin_job *job)
{
	job->sync_us = job->sync_fd >= 0 ? rg_finisher_sync(job->sync_fd) : 0;
	rg_finisher_run(job);
}

static void *
rg_finisher_main(void *arg)
{
	rg_finisher *f = arg;
	struct rg_fin_job *run, *job, **tail;
	int synced;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (f->todo == NULL && !f->quit)
			pthread_cond_wait(&f->work_cv, &f->mu);
		if (f->todo == NULL)
			break;
		run = f->todo;
		f->todo = NULL;
		f->todo_tail = &f->todo;
		pthread_mutex_unlock(&f->mu);

		/* One sync for all the jobs taken together: every COMMIT of
		 * theirs returned before they were handed over. */
		synced = -1;
		for (job = run; job != NULL; job = job->next) {
			job->sync_us = 0;
			if (job->sync_fd >= 0 && job->sync_fd != synced) {
				job->sync_us = rg_finisher_sync(job->sync_fd);
				synced = job->sync_fd;
			}
		}
		tail = &run;
		for (job = run; job != NULL; job = job->next) {
			rg_finisher_run(job);
			tail = &job->next;
		}

		pthread_mutex_lock(&f->mu);
		*f->ready_tail = run;
		f->ready_tail = tail;
		__atomic_store_n(&f->any_ready, 1, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&f->back_cv);
		uv_async_send(&f->async);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* Give the finished jobs back, in order. Loop thread. */
static void
rg_finisher_deliver(rg_finisher *f)
{
	struct rg_fin_job *job, *next;

	pthread_mutex_lock(&f->mu);
	job = f->ready;
	f->ready = NULL;
	f->ready_tail = &f->ready;
	__atomic_store_n(&f->any_ready, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&f->mu);
	for (; job != NULL; job = next) {
		next = job->next;
		job->next = NULL;
		pthread_mutex_lock(&f->mu);
		if (--f->busy == 0)
			uv_unref((uv_handle_t *)&f->async);
		pthread_mutex_unlock(&f->mu);
		f->done(f->ctx, job);
	}
}

int
rg_finisher_poll(rg_finisher *f)
{
	/* One load when nothing is back: cheap enough between requests. */
	if (f == NULL || !__atomic_load_n(&f->any_ready, __ATOMIC_ACQUIRE))
		return 0;
	rg_finisher_deliver(f);
	return 1;
}

static void
rg_finisher_async_cb(uv_async_t *a)
{
	rg_finisher_deliver(a->data);
}

rg_finisher *
rg_finisher_new(uv_loop_t *loop, rg_fin_done done, void *ctx)
{
	rg_finisher *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->done = done;
	f->ctx = ctx;
	f->todo_tail = &f->todo;
	f->ready_tail = &f->ready;
	if (pthread_mutex_init(&f->mu, NULL) != 0)
		goto fail_mu;
	if (pthread_cond_init(&f->work_cv, NULL) != 0)
		goto fail_work;
	if (pthread_cond_init(&f->back_cv, NULL) != 0)
		goto fail_back;
	if (uv_async_init(loop, &f->async, rg_finisher_async_cb) != 0)
		goto fail_async;
	f->async.data = f;
	if (pthread_create(&f->thread, NULL, rg_finisher_main, f) != 0) {
		/* The handle is closed through the loop; f goes with it. */
		uv_close((uv_handle_t *)&f->async, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		goto fail_async;
	}
	/* The handle keeps the loop alive only while jobs are out. */
	uv_unref((uv_handle_t *)&f->async);
	return f;
fail_async:
	pthread_cond_destroy(&f->back_cv);
fail_back:
	pthread_cond_destroy(&f->work_cv);
fail_work:
	pthread_mutex_destroy(&f->mu);
fail_mu:
	free(f);
	return NULL;
}

void
rg_finisher_submit(rg_finisher *f, struct rg_fin_job *job)
{
	job->next = NULL;
	job->failed = 0;
	pthread_mutex_lock(&f->mu);
	*f->todo_tail = job;
	f->todo_tail = &job->next;
	if (f->busy++ == 0)
		uv_ref((uv_handle_t *)&f->async); /* loop thread, like deliver */
	pthread_cond_signal(&f->work_cv);
	pthread_mutex_unlock(&f->mu);
}

size_t
rg_finisher_busy(const rg_finisher *f)
{
	size_t n;

	pthread_mutex_lock((pthread_mutex_t *)&f->mu);
	n = f->busy;
	pthread_mutex_unlock((pthread_mutex_t *)&f->mu);
	return n;
}

void
rg_finisher_drain(rg_finisher *f)
{
	size_t ready;
	struct rg_fin_job *j;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		ready = 0;
		for (j = f->ready; j != NULL; j = j->next)
			ready++;
		if (ready == f->busy)
			break;
		pthread_cond_wait(&f->back_cv, &f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	rg_finisher_deliver(f);
}

static void
rg_finisher_closed(uv_handle_t *h)
{
	rg_finisher *f = h->data;

	pthread_cond_destroy(&f->back_cv);
	pthread_cond_destroy(&f->work_cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void
rg_finisher_close(rg_finisher *f)
{
	if (f == NULL)
		return;
	rg_finisher_drain(f);
	pthread_mutex_lock(&f->mu);
	f->quit = 1;
	pthread_cond_signal(&f->work_cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	uv_close((uv_handle_t *)&f->async, rg_finisher_closed);
}
