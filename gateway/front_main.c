/*
 * front_main.c -- the front process: HTTP on the listening socket the
 * monitor bound, each framed request sent to the keeper, each answer
 * routed back to its connection by request id. It holds no key, no
 * database handle and no file; if the keeper goes, the front answers what
 * is in flight with 503 and exits.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "gateway/channel.h"
#include "gateway/http.h"
#include "gateway/procs.h"
#include "gateway/wire.h"

/* A request sent to the keeper and not yet answered. */
struct rg_inflight {
	uint64_t id;
	struct rg_http_reply *reply;
	struct rg_inflight *prev, *next;
};

struct rg_fmain {
	uv_loop_t *loop;
	rg_http *http;
	rg_channel *keeper;
	uv_signal_t sigterm;
	uv_timer_t drain;
	uv_timer_t trim;
	/* The requests framed in one loop iteration leave together, after
	 * its I/O callbacks (rg_channel_gather): one wake-up of the keeper
	 * for them all, and the keeper finds them all in one read. */
	uv_check_t cork;
	/* Oldest first: the keeper answers in about the order it was asked,
	 * so an answer's request is found among the first few. */
	struct rg_inflight *inflight, *inflight_tail;
	size_t ninflight;
	uint64_t next_id;
	int stopping;
	int status;
};

static void
rg_fmain_unlink(struct rg_fmain *fm, struct rg_inflight *f)
{
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		fm->inflight = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	else
		fm->inflight_tail = f->prev;
	fm->ninflight--;
}

static void
rg_fmain_fail(struct rg_http_reply *reply, rg_err err)
{
	struct rg_response resp = {0};

	rg_response_error(&resp, err, NULL, NULL);
	rg_http_reply(reply, &resp);
	rg_response_clear(&resp);
}

static void rg_fmain_stop(struct rg_fmain *fm, int status);

static void
rg_fmain_request(void *ctx, const struct rg_request *req,
                 struct rg_http_reply *reply)
{
	struct rg_fmain *fm = ctx;
	struct rg_inflight *f;
	uint8_t *frame;
	size_t len;

	if (!rg_channel_alive(fm->keeper)) {
		rg_fmain_fail(reply, RG_ERR_UNAVAILABLE);
		return;
	}
	f = calloc(1, sizeof(*f));
	frame = f != NULL ? rg_wire_encode_request(fm->next_id, req, &len) : NULL;
	if (frame == NULL) {
		free(f);
		/* Only a request the front itself cannot frame lands here. */
		rg_fmain_fail(reply, RG_ERR_MALFORMED_HTTP);
		return;
	}
	f->id = fm->next_id++;
	f->reply = reply;
	f->prev = fm->inflight_tail;
	if (fm->inflight_tail != NULL)
		fm->inflight_tail->next = f;
	else
		fm->inflight = f;
	fm->inflight_tail = f;
	fm->ninflight++;
	if (rg_channel_gather(fm->keeper, frame, len) != 0) {
		rg_fmain_unlink(fm, f);
		free(f);
		rg_fmain_fail(reply, RG_ERR_UNAVAILABLE);
	}
}

static int
rg_fmain_frame(void *ctx, rg_channel *ch, const uint8_t *frame, size_t len)
{
	struct rg_fmain *fm = ctx;
	struct rg_response resp;
	struct rg_inflight *f;
	uint64_t id;

	(void)ch;
	if (frame == NULL) {
		/* The keeper is gone: nothing in flight can be answered. */
		while ((f = fm->inflight) != NULL) {
			rg_fmain_unlink(fm, f);
			rg_fmain_fail(f->reply, RG_ERR_UNAVAILABLE);
			free(f);
		}
		if (!fm->stopping)
			fprintf(stderr, "recgated[front]: keeper gone; stopping\n");
		rg_fmain_stop(fm, fm->stopping ? fm->status : 1);
		return 0;
	}
	if (rg_wire_decode_response(frame, len, &id, &resp) != 0)
		return -1;
	for (f = fm->inflight; f != NULL && f->id != id; f = f->next)
		;
	if (f == NULL) {
		rg_response_clear(&resp);
		return -1; /* an answer to nothing: the keeper is confused */
	}
	rg_fmain_unlink(fm, f);
	rg_http_reply(f->reply, &resp);
	rg_response_clear(&resp);
	free(f);
	if (fm->stopping && fm->ninflight == 0)
		rg_channel_close(fm->keeper);
	return 0;
}

static void
rg_fmain_closed(uv_handle_t *h)
{
	(void)h;
}

static void
rg_fmain_http_closed(void *ctx)
{
	(void)ctx;
}

/*
 * Give freed memory back to the system. A burst of requests on many
 * connections takes a read buffer each; once they are answered the
 * buffers are free, but the allocator keeps the pages, so the front would
 * stay at its busiest size while thousands of connections sit idle.
 */
#define RG_FMAIN_TRIM_MS 1000
#define RG_FMAIN_TRIM_FREE (4u << 20)

static void
rg_fmain_trim(uv_timer_t *t)
{
	(void)t;
	if (mallinfo2().fordblks > RG_FMAIN_TRIM_FREE)
		(void)malloc_trim(0);
}

static void
rg_fmain_drain_timeout(uv_timer_t *t)
{
	struct rg_fmain *fm = t->data;

	/* The keeper did not answer in time: give up on it. */
	rg_channel_close(fm->keeper);
}

/* Stop accepting, let what is in flight be answered (bounded), leave. */
static void
rg_fmain_stop(struct rg_fmain *fm, int status)
{
	if (fm->stopping == 2)
		return;
	if (!fm->stopping) {
		fm->stopping = 1;
		fm->status = status;
		uv_close((uv_handle_t *)&fm->sigterm, rg_fmain_closed);
		if (fm->ninflight > 0 && rg_channel_alive(fm->keeper)) {
			uv_timer_start(&fm->drain, rg_fmain_drain_timeout, 10000, 0);
			return;
		}
	}
	fm->stopping = 2;
	uv_close((uv_handle_t *)&fm->drain, rg_fmain_closed);
	uv_close((uv_handle_t *)&fm->trim, rg_fmain_closed);
	uv_close((uv_handle_t *)&fm->cork, rg_fmain_closed);
	rg_channel_close(fm->keeper);
	rg_http_close(fm->http, rg_fmain_http_closed, fm);
}

static void
rg_fmain_uncork(uv_check_t *c)
{
	struct rg_fmain *fm = c->data;

	rg_channel_flush(fm->keeper);
}

static void
rg_fmain_signal(uv_signal_t *s, int signum)
{
	(void)signum;
	rg_fmain_stop(s->data, 0);
}

int
rg_front_main(const struct rg_config *cfg, const struct rg_identity *id,
              int listen_fd, int channel_fd, int ready_fd)
{
	char ready = RG_FRONT_READY;
	struct rg_http_limits lim;
	struct rg_fmain fm = {0};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN); /* the monitor orders the shutdown */
	fm.loop = uv_default_loop();
	fm.next_id = 1;
	rg_http_limits_default(&lim);
	lim.max_body = cfg->max_body;
	lim.max_header = cfg->max_header;
	lim.idle_timeout_ms = cfg->idle_timeout_ms;
	lim.request_timeout_ms = cfg->request_timeout_ms;
	lim.max_connections = cfg->max_connections;
	fm.http = rg_http_new(fm.loop, &lim, rg_fmain_request, &fm);
	/* Answers are small next to requests, but a record read can be as
	 * large as what was submitted, many at once in a change feed. */
	fm.keeper = rg_channel_open(fm.loop, channel_fd,
	                            rg_wire_max_frame(cfg->max_body) * 64,
	                            rg_fmain_frame, &fm);
	if (fm.http == NULL || fm.keeper == NULL ||
	    (rc = rg_http_listen_fd(fm.http, listen_fd)) != 0 ||
	    uv_signal_init(fm.loop, &fm.sigterm) != 0 ||
	    uv_timer_init(fm.loop, &fm.drain) != 0 ||
	    uv_timer_init(fm.loop, &fm.trim) != 0 ||
	    uv_check_init(fm.loop, &fm.cork) != 0) {
		fprintf(stderr, "recgated[front]: cannot set up the event loop\n");
		return 1;
	}
	rg_channel_ref(fm.keeper); /* fm.keeper's own reference */
	fm.sigterm.data = fm.drain.data = fm.cork.data = &fm;
	uv_signal_start(&fm.sigterm, rg_fmain_signal, SIGTERM);
	uv_timer_start(&fm.trim, rg_fmain_trim, RG_FMAIN_TRIM_MS,
	               RG_FMAIN_TRIM_MS);
	uv_unref((uv_handle_t *)&fm.trim); /* never keeps the front alive */
	uv_check_start(&fm.cork, rg_fmain_uncork);
	uv_unref((uv_handle_t *)&fm.cork);
	if (rg_procs_confine(cfg, id, RG_SANDBOX_FRONT, NULL, "front") != 0)
		return 1;
	if (write(ready_fd, &ready, 1) != 1 || close(ready_fd) != 0)
		return 1;
	uv_run(fm.loop, UV_RUN_DEFAULT);
	rg_channel_unref(fm.keeper);
	rg_http_free(fm.http);
	uv_loop_close(fm.loop);
	return fm.status;
}
