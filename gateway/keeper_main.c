/*
 * keeper_main.c -- the keeper process: holds the keys and the database,
 * answers framed requests from the current front. It trusts nothing a front
 * sends: a frame that does not decode drops that front (the monitor starts
 * another). A front that goes away leaves its exchanges to commit; their
 * answers are dropped.
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "gateway/channel.h"
#include "gateway/keeper.h"
#include "gateway/keeper_int.h"
#include "gateway/preverify.h"
#include "gateway/procs.h"
#include "gateway/wire.h"

/* Requests rg_kmain_pick looks through for one verified: a helper that
 * took a job is never more than a few ahead. */
#define RG_KMAIN_LOOKAHEAD 64

struct rg_kmain {
	uv_loop_t *loop;
	rg_keeper *kp;
	rg_channel *front;      /* the current front's channel, or NULL */
	uv_poll_t control;
	uv_signal_t sigterm;
	size_t max_frame;
	int control_fd;
	int stopping;
	/*
	 * The requests read from the front and not handled yet, in arrival
	 * order: queue[qhead, qlen). Each is queued for the verification
	 * helpers (preverify.c) on arrival. Frames read while the keeper's
	 * thread handles earlier ones (rg_channel_pump) wait here for the
	 * next loop iteration, after the batch in hand has committed; `later`
	 * runs them then.
	 */
	rg_preverify *pv;
	struct rg_kreq **queue;
	size_t qhead, qlen, qcap;
	int running;           /* inside rg_kmain_work */
	uv_idle_t later;
	/* The channel whose answers are gathered (rg_channel_gather), to be
	 * flushed when the replies that leave together are all out: one
	 * wake-up of the front per batch rather than one per answer. Holds
	 * a reference. */
	rg_channel *out_ch;
};

/* One request in the keeper's hands; it owns its decoded copy. */
struct rg_kreq {
	struct rg_kmain *km;
	rg_channel *ch;
	uint64_t id;
	rg_pv_ticket ticket;    /* its verification ahead, or 0 */
	struct rg_request req;
};

/* Send the gathered answers. */
static void
rg_kmain_out_flush(void *ctx)
{
	struct rg_kmain *km = ctx;
	rg_channel *ch = km->out_ch;

	if (ch == NULL)
		return;
	km->out_ch = NULL;
	rg_channel_flush(ch);
	rg_channel_unref(ch);
}

static void
rg_kmain_done(void *ctx, const struct rg_response *resp)
{
	struct rg_kreq *kr = ctx;
	uint8_t *frame;
	size_t len;

	if (rg_channel_alive(kr->ch)) {
		frame = rg_wire_encode_response(kr->id, resp, &len);
		if (kr->km->out_ch != kr->ch) {
			/* Answers to an older front leave before this one's. */
			rg_kmain_out_flush(kr->km);
			kr->km->out_ch = kr->ch;
			rg_channel_ref(kr->ch);
		}
		if (frame == NULL || rg_channel_gather(kr->ch, frame, len) != 0)
			rg_channel_close(kr->ch);
	}
	rg_channel_unref(kr->ch);
	rg_wire_request_free(&kr->req);
	free(kr);
}

static void rg_kmain_later(uv_idle_t *h);

/* Let go of a request nobody will answer (the keeper is stopping). */
static void
rg_kreq_drop(struct rg_kreq *kr)
{
	rg_preverify_done(kr->km->pv, kr->ticket);
	rg_channel_unref(kr->ch);
	rg_wire_request_free(&kr->req);
	free(kr);
}

/*
 * Move to queue[qhead] the request of the run (the n from qhead) to handle
 * next: the first whose verification is done. At 80 % of the gateway's
 * rate this thread, every request's path, otherwise spent a quarter of
 * its time asleep in rg_preverify_wait, 20 to 200 us at a time, for a
 * helper inside the very job it had reached while later ones were ready.
 * With none ready it verifies the first job no helper took (of this run)
 * itself, meanwhile, rather than sleep; only with none of those either
 * does the first request wait. Any order is one the requests of a run
 * could have come in: all were sent before any was answered (the front
 * passes on one request of a connection at a time), and all are answered
 * together, after the batch commits.
 */
static void
rg_kmain_pick(struct rg_kmain *km, size_t n)
{
	struct rg_kreq **q = km->queue + km->qhead;
	size_t lim = n < RG_KMAIN_LOOKAHEAD ? n : RG_KMAIN_LOOKAHEAD;
	rg_pv_ticket last = 0;
	int ran = 0;

	for (;;) {
		for (size_t i = 0; i < lim; i++) {
			struct rg_kreq *kr = q[i];

			if (kr->ticket > last)
				last = kr->ticket;
			if (!rg_preverify_ready(km->pv, kr->ticket))
				continue;
			memmove(q + 1, q, i * sizeof(*q));
			q[0] = kr;
			return;
		}
		if (ran || rg_preverify_run_next(km->pv, last) == 0)
			return;
		ran = 1;
	}
}

/*
 * Handle the requests queued when it was called, each after its
 * verification ahead, those verified first (rg_kmain_pick). Between two
 * of them, frames the front sent meanwhile are read and queued (the
 * helpers start on them while this thread goes on), and earlier batches'
 * answers that are durable leave.
 */
static void
rg_kmain_work(struct rg_kmain *km)
{
	size_t left = km->qlen - km->qhead;

	if (km->running)
		return;
	km->running = 1;
	while (left-- > 0) {
		struct rg_kreq *kr;
		rg_pv_ticket t;

		if (km->kp != NULL)
			rg_kmain_pick(km, left + 1);
		kr = km->queue[km->qhead++];
		t = kr->ticket;

		if (km->kp == NULL) {
			rg_kreq_drop(kr);
			continue;
		}
		rg_preverify_wait(km->pv, t);
		km->kp->stats.helper_late = rg_preverify_gave_up(km->pv);
		/* kr may be gone once handled (answered at once). */
		rg_keeper_handle(km->kp, &kr->req, rg_kmain_done, kr);
		rg_preverify_done(km->pv, t);
		if (!km->stopping)
			km->kp->stats.read_ahead +=
			    (uint64_t)rg_channel_pump(km->front);
		/* Earlier batches' answers leave as soon as they are durable,
		 * not after this run: their senders' next requests then join
		 * the batch after this one. */
		rg_keeper_poll(km->kp);
	}
	if (km->qhead == km->qlen)
		km->qhead = km->qlen = 0;
	else if (!km->stopping)
		/* Frames read meanwhile: after this batch commits (the loop's
		 * check phase), in the next iteration; the idle handle keeps
		 * the loop from waiting for I/O until then. */
		uv_idle_start(&km->later, rg_kmain_later);
	km->running = 0;
	/* Answers made while handling (refusals before any batch). */
	rg_kmain_out_flush(km);
}

static void
rg_kmain_later(uv_idle_t *h)
{
	struct rg_kmain *km = h->data;

	if (km->qhead == km->qlen) {
		uv_idle_stop(h);
		return;
	}
	rg_kmain_work(km);
}

/* The frames of one read are all queued: handle them. */
static void
rg_kmain_drained(void *ctx, rg_channel *ch)
{
	(void)ch;
	rg_kmain_work(ctx);
}

/* Append kr to the queue. 0 or -1 (out of memory). */
static int
rg_kmain_enqueue(struct rg_kmain *km, struct rg_kreq *kr)
{
	/* rg_kmain_work reads queue[qhead] afresh for each request, so the
	 * handled ones can go even while it runs. */
	if (km->qlen == km->qcap && km->qhead > 0) {
		memmove(km->queue, km->queue + km->qhead,
		        (km->qlen - km->qhead) * sizeof(*km->queue));
		km->qlen -= km->qhead;
		km->qhead = 0;
	}
	if (km->qlen == km->qcap) {
		size_t cap = km->qcap ? km->qcap * 2 : 256;
		struct rg_kreq **q = realloc(km->queue, cap * sizeof(*q));

		if (q == NULL)
			return -1;
		km->queue = q;
		km->qcap = cap;
	}
	km->queue[km->qlen++] = kr;
	return 0;
}

static int
rg_kmain_frame(void *ctx, rg_channel *ch, const uint8_t *frame, size_t len)
{
	struct rg_kmain *km = ctx;
	struct rg_kreq *kr;

	if (frame == NULL) {
		/* The front went away (or was dropped). */
		if (km->front == ch) {
			km->front = NULL;
			rg_channel_unref(ch);
		}
		return 0;
	}
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL)
		return -1;
	if (rg_wire_decode_request(frame, len, &kr->id, &kr->req) != 0) {
		fprintf(stderr, "recgated[keeper]: malformed frame from the front; "
		                "dropping it\n");
		free(kr);
		return -1;
	}
	kr->km = km;
	kr->ch = ch;
	rg_channel_ref(ch);
	if (rg_kmain_enqueue(km, kr) != 0) {
		rg_kreq_drop(kr);
		return -1;
	}
	if (km->kp != NULL)
		kr->ticket = rg_preverify_add(km->pv, km->kp->st, &kr->req);
	return 0;
}

/* The monitor hands over a new front's channel. */
static void
rg_kmain_control(uv_poll_t *p, int status, int events)
{
	struct rg_kmain *km = p->data;
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {0};
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	(void)events;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	n = status == 0 ? recvmsg(km->control_fd, &msg, MSG_CMSG_CLOEXEC) : -1;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The monitor is gone: nobody can restart anything now. */
		fprintf(stderr, "recgated[keeper]: monitor gone; stopping\n");
		raise(SIGTERM);
		uv_poll_stop(p);
		return;
	}
	c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (fd < 0)
		return;
	if (km->front != NULL) {
		rg_channel *old = km->front;
		km->front = NULL;
		rg_channel_close(old);
		rg_channel_unref(old);
	}
	km->front = rg_channel_open(km->loop, fd, km->max_frame, rg_kmain_frame, km);
	if (km->front == NULL)
		close(fd);
	else {
		rg_channel_ref(km->front); /* km->front's own reference */
		rg_channel_on_drained(km->front, rg_kmain_drained);
	}
}

static void
rg_kmain_closed(uv_handle_t *h)
{
	(void)h;
}

static void
rg_kmain_signal(uv_signal_t *s, int signum)
{
	struct rg_kmain *km = s->data;

	(void)signum;
	if (km->stopping)
		return;
	km->stopping = 1;
	/* Commit and answer what is in hand, then let go of everything. */
	rg_kmain_work(km);
	rg_keeper_close(km->kp);
	km->kp = NULL;
	rg_kmain_out_flush(km);
	if (km->front != NULL) {
		rg_channel *ch = km->front;
		km->front = NULL;
		rg_channel_close(ch);
		rg_channel_unref(ch);
	}
	uv_poll_stop(&km->control);
	uv_close((uv_handle_t *)&km->control, rg_kmain_closed);
	uv_close((uv_handle_t *)&km->sigterm, rg_kmain_closed);
	uv_close((uv_handle_t *)&km->later, rg_kmain_closed);
}

int
rg_keeper_main(const struct rg_config *cfg, const struct rg_identity *id,
               int control_fd)
{
	struct rg_kmain km = {0};
	char err[1024], dbdir[PATH_MAX];
	char ready = RG_KEEPER_READY;

	signal(SIGPIPE, SIG_IGN);
	/* SIGINT from a terminal reaches the whole process group: the
	 * monitor decides the order of shutdown and sends SIGTERM. */
	signal(SIGINT, SIG_IGN);
	km.loop = uv_default_loop();
	km.control_fd = control_fd;
	km.max_frame = rg_wire_max_frame(cfg->max_body);
	km.kp = rg_keeper_open(cfg, km.loop, err, sizeof(err));
	if (km.kp == NULL) {
		fprintf(stderr, "recgated[keeper]: %s\n", err);
		return 1;
	}
	rg_keeper_on_replies_out(km.kp, rg_kmain_out_flush, &km);
	/* Without it (out of memory) every signature is checked inline. */
	km.pv = rg_preverify_new();
	if (uv_poll_init(km.loop, &km.control, control_fd) != 0 ||
	    uv_signal_init(km.loop, &km.sigterm) != 0 ||
	    uv_idle_init(km.loop, &km.later) != 0) {
		fprintf(stderr, "recgated[keeper]: cannot set up the event loop\n");
		return 1;
	}
	km.control.data = km.sigterm.data = km.later.data = &km;
	uv_poll_start(&km.control, UV_READABLE, rg_kmain_control);
	uv_signal_start(&km.sigterm, rg_kmain_signal, SIGTERM);

	/* The database lives in this directory; nothing else on disk is
	 * reachable from here on. */
	snprintf(dbdir, sizeof(dbdir), "%s", cfg->database);
	if (rg_procs_confine(cfg, id, RG_SANDBOX_KEEPER, dirname(dbdir),
	                     "keeper") != 0)
		return 1;
	if (write(control_fd, &ready, 1) != 1) {
		fprintf(stderr, "recgated[keeper]: monitor gone\n");
		return 1;
	}
	uv_run(km.loop, UV_RUN_DEFAULT);
	rg_kmain_out_flush(&km); /* nothing is left by now; if it were */
	uv_loop_close(km.loop);
	rg_preverify_free(km.pv);
	free(km.queue);
	return 0;
}
