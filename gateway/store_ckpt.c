/*
 * store_ckpt.c -- the background checkpointer of the live database: a
 * second connection on a thread of its own copies committed pages from
 * the write-ahead log into the database file, so that the keeper's
 * thread, which runs every exchange, no longer stops for it.
 *
 * It owns that connection and its thread and nothing else; it never
 * writes a row. A PASSIVE checkpoint neither waits for nor blocks the
 * writer: it copies what is committed as far as no reader still needs the
 * log, syncing the log before and the file after (synchronous=NORMAL), so
 * it moves only what is durable and loses nothing when it is cut short.
 * The writer itself still checkpoints past a hard mark (store.c), when
 * this one cannot keep up, and restarts the log once it is all copied.
 */
#include <pthread.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"

struct rg_ckpt {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kicked;
	int quit;
	unsigned long long runs;
};

static void *
rg_ckpt_main(void *arg)
{
	struct rg_ckpt *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->kicked && !c->quit)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->quit)
			break;
		c->kicked = 0;
		pthread_mutex_unlock(&c->mu);
		/* SQLITE_BUSY (another checkpoint running) or an I/O error
		 * leaves the pages in the log for the next run. */
		(void)sqlite3_wal_checkpoint_v2(c->db, "main",
		                                SQLITE_CHECKPOINT_PASSIVE, NULL,
		                                NULL);
		pthread_mutex_lock(&c->mu);
		c->runs++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

struct rg_ckpt *
rg_ckpt_start(sqlite3 *db)
{
	struct rg_ckpt *c = calloc(1, sizeof(*c));

	if (c == NULL)
		goto fail;
	c->db = db;
	if (pthread_mutex_init(&c->mu, NULL) != 0)
		goto fail_c;
	if (pthread_cond_init(&c->cv, NULL) != 0)
		goto fail_mu;
	if (pthread_create(&c->thread, NULL, rg_ckpt_main, c) != 0)
		goto fail_cv;
	return c;
fail_cv:
	pthread_cond_destroy(&c->cv);
fail_mu:
	pthread_mutex_destroy(&c->mu);
fail_c:
	free(c);
fail:
	sqlite3_close(db);
	return NULL;
}

void
rg_ckpt_kick(struct rg_ckpt *c)
{
	pthread_mutex_lock(&c->mu);
	c->kicked = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

unsigned long long
rg_ckpt_runs(struct rg_ckpt *c)
{
	unsigned long long n;

	pthread_mutex_lock(&c->mu);
	n = c->runs;
	pthread_mutex_unlock(&c->mu);
	return n;
}

void
rg_ckpt_stop(struct rg_ckpt *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->quit = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	/* Not the last connection: closing it leaves the log in place. */
	sqlite3_close(c->db);
	free(c);
}
