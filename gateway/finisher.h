/*
 * finisher.h -- the last steps of a committed batch, on a thread of their
 * own: making it durable (fdatasync of the write-ahead log its COMMIT
 * wrote without waiting), then the job's own work (the keeper's: its
 * receipts, receipt.h), while the keeper's thread goes on with the next
 * batch. Batches come back to the loop
 * thread, in the order they were handed over, once both steps are done;
 * only then may their replies leave.
 */
#ifndef RG_FINISHER_H
#define RG_FINISHER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* A batch handed to the finisher; the caller owns it and what it points
 * to until it comes back through the done callback. */
struct rg_fin_job {
	int sync_fd;               /* fdatasync this first; -1: nothing to sync */
	/* Then, on the finisher's thread: 0, or -1 to fail the job. NULL:
	 * nothing to do. */
	int (*work)(void *arg);
	int failed;                /* set when work failed */
	/* How long the fdatasync this job's sync_fd asked for took, in
	 * microseconds; 0 when it had none of its own (an earlier job's
	 * covered it, or nothing to sync). */
	uint64_t sync_us;
	void *arg;                 /* the caller's, passed to work */
	struct rg_fin_job *next;   /* the finisher's */
};

typedef struct rg_finisher rg_finisher;
/* Called on the loop thread for each finished job, in submission order. */
typedef void (*rg_fin_done)(void *ctx, struct rg_fin_job *job);

/* Starts the thread. NULL on failure (the caller then finishes inline). */
rg_finisher *rg_finisher_new(uv_loop_t *loop, rg_fin_done done, void *ctx);
/* Hand a job over. Never fails. */
void rg_finisher_submit(rg_finisher *f, struct rg_fin_job *job);
/* Jobs handed over and not yet given back. */
size_t rg_finisher_busy(const rg_finisher *f);
/* Wait until every job handed over is finished and give them all back
 * (done callbacks run before this returns). Loop thread only. */
void rg_finisher_drain(rg_finisher *f);
/* Give back the jobs finished by now, without waiting for the loop to
 * wake on them (the keeper's thread asks between requests of a long
 * run). Loop thread only. 1 if any came back, else 0. NULL is fine. */
int rg_finisher_poll(rg_finisher *f);
/* Drain, stop the thread, and free f once its handle closed. NULL is fine. */
void rg_finisher_close(rg_finisher *f);

/* One job on the calling thread (the inline path, and what the thread
 * does): sync, then its work. */
void rg_finisher_work(struct rg_fin_job *job);

#endif
