/*
 * channel.c -- frames over a socketpair with libuv. Bytes are gathered
 * until a whole frame is there; the frame length is checked against the
 * bound before any of it is buffered, so a peer cannot make us hold more
 * than one maximal frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/channel.h"
#include "gateway/wire.h"

struct rg_channel {
	uv_pipe_t pipe;
	rg_channel_frame_fn fn;
	void *ctx;
	void (*drained)(void *ctx, rg_channel *ch);
	size_t max_frame;
	/* Bytes read: buf[off, len) are not handed over yet. */
	uint8_t *buf;
	size_t off, len, cap;
	int dispatching;  /* inside rg_channel_dispatch: buf must stay */
	int pump_done;    /* a pump met EOF or an error: the loop's read
	                   * closes the channel, after what is due is sent */
	/* Frames gathered for one write (rg_channel_gather). */
	uint8_t *gbuf;
	size_t glen, gcap;
	int refs;
	int open;       /* the pipe handle is initialised and not closed */
	int alive;      /* frames may still be sent and received */
	int told;       /* fn(NULL) was called */
};

struct rg_channel_write {
	uv_write_t req;
	rg_channel *ch;
	uint8_t *frame;
};

static void
rg_channel_closed(uv_handle_t *h)
{
	rg_channel *ch = h->data;

	ch->open = 0;
	rg_channel_unref(ch);
}

static void
rg_channel_gone(rg_channel *ch)
{
	if (!ch->told) {
		ch->told = 1;
		ch->fn(ch->ctx, ch, NULL, 0);
	}
}

void
rg_channel_close(rg_channel *ch)
{
	if (ch == NULL || !ch->alive)
		return;
	ch->alive = 0;
	uv_read_stop((uv_stream_t *)&ch->pipe);
	uv_close((uv_handle_t *)&ch->pipe, rg_channel_closed);
	rg_channel_gone(ch);
}

/* Room for at least 64 KiB more at buf + len, the bytes already handed
 * over dropped first (never while a frame of them is being handed over).
 * 0 or -1. */
static int
rg_channel_room(rg_channel *ch)
{
	if (ch->off > 0 && !ch->dispatching) {
		memmove(ch->buf, ch->buf + ch->off, ch->len - ch->off);
		ch->len -= ch->off;
		ch->off = 0;
	}
	if (ch->cap - ch->len < 65536) {
		size_t cap = ch->cap ? ch->cap * 2 : 131072;
		uint8_t *nb;

		while (cap - ch->len < 65536)
			cap *= 2;
		nb = realloc(ch->buf, cap);
		if (nb == NULL)
			return -1;
		ch->buf = nb;
		ch->cap = cap;
	}
	return 0;
}

static void
rg_channel_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	rg_channel *ch = h->data;

	(void)suggested;
	if (rg_channel_room(ch) != 0) {
		buf->base = NULL;
		buf->len = 0;
		return;
	}
	buf->base = (char *)ch->buf + ch->len;
	buf->len = ch->cap - ch->len;
}

/* Hand every complete frame buffered to the frame function, in order.
 * Returns how many. The caller holds a reference. */
static size_t
rg_channel_dispatch(rg_channel *ch)
{
	size_t n = 0;

	ch->dispatching = 1;
	while (ch->alive) {
		long long flen = rg_wire_frame_len(ch->buf + ch->off,
		                                   ch->len - ch->off, ch->max_frame);
		if (flen < 0) {
			rg_channel_close(ch);
			break;
		}
		if (flen == 0 || (size_t)flen > ch->len - ch->off)
			break;
		if (ch->fn(ch->ctx, ch, ch->buf + ch->off, (size_t)flen) != 0) {
			rg_channel_close(ch);
			break;
		}
		ch->off += (size_t)flen;
		n++;
	}
	ch->dispatching = 0;
	return n;
}

static void
rg_channel_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	rg_channel *ch = s->data;

	(void)buf;
	if (nread < 0) {
		rg_channel_close(ch);
		return;
	}
	ch->len += (size_t)nread;
	rg_channel_ref(ch);
	/* Every complete frame of this read was handed over: the drained
	 * function may act on them (and pump more, rg_channel_pump). */
	if (rg_channel_dispatch(ch) > 0 && ch->drained != NULL)
		ch->drained(ch->ctx, ch);
	rg_channel_unref(ch);
}

int
rg_channel_pump(rg_channel *ch)
{
	ssize_t n;
	size_t frames = 0;
	int fd;

	if (ch == NULL || !ch->alive || ch->dispatching || ch->pump_done ||
	    uv_fileno((uv_handle_t *)&ch->pipe, &fd) != 0)
		return 0;
	rg_channel_ref(ch);
	if (rg_channel_room(ch) != 0) {
		/* Out of memory: the loop reads it later, as it would. */
		rg_channel_unref(ch);
		return 0;
	}
	/* The descriptor is non-blocking (uv_pipe_open made it so). */
	do
		n = read(fd, ch->buf + ch->len, ch->cap - ch->len);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		ch->len += (size_t)n;
		frames = rg_channel_dispatch(ch);
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		/* Not closed here: answers the caller is about to send to a
		 * peer that only shut its writing side would be lost. */
		ch->pump_done = 1;
	}
	rg_channel_unref(ch);
	return (int)frames;
}

void
rg_channel_on_drained(rg_channel *ch, void (*fn)(void *ctx, rg_channel *ch))
{
	ch->drained = fn;
}

rg_channel *
rg_channel_open(uv_loop_t *loop, int fd, size_t max_frame,
                rg_channel_frame_fn fn, void *ctx)
{
	rg_channel *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return NULL;
	ch->fn = fn;
	ch->ctx = ctx;
	ch->max_frame = max_frame;
	ch->refs = 1; /* the open pipe's own reference */
	if (uv_pipe_init(loop, &ch->pipe, 0) != 0) {
		free(ch);
		return NULL;
	}
	ch->pipe.data = ch;
	ch->open = 1;
	ch->alive = 1;
	if (uv_pipe_open(&ch->pipe, fd) != 0 ||
	    uv_read_start((uv_stream_t *)&ch->pipe, rg_channel_alloc,
	                  rg_channel_read) != 0) {
		ch->told = 1; /* nobody was told it opened */
		rg_channel_close(ch);
		return NULL;
	}
	return ch;
}

static void
rg_channel_written(uv_write_t *req, int status)
{
	struct rg_channel_write *w = (struct rg_channel_write *)req;
	rg_channel *ch = w->ch;

	free(w->frame);
	free(w);
	if (status != 0)
		rg_channel_close(ch);
	rg_channel_unref(ch);
}

int
rg_channel_send(rg_channel *ch, uint8_t *frame, size_t len)
{
	struct rg_channel_write *w;
	uv_buf_t b;

	if (ch == NULL || !ch->alive || (w = malloc(sizeof(*w))) == NULL) {
		free(frame);
		return -1;
	}
	w->ch = ch;
	w->frame = frame;
	b = uv_buf_init((char *)frame, (unsigned)len);
	rg_channel_ref(ch);
	if (uv_write(&w->req, (uv_stream_t *)&ch->pipe, &b, 1,
	             rg_channel_written) != 0) {
		free(frame);
		free(w);
		rg_channel_unref(ch);
		rg_channel_close(ch);
		return -1;
	}
	return 0;
}

int
rg_channel_gather(rg_channel *ch, uint8_t *frame, size_t len)
{
	if (ch == NULL || !ch->alive) {
		free(frame);
		return -1;
	}
	if (ch->gcap - ch->glen < len) {
		size_t cap = ch->gcap ? ch->gcap : 65536;
		uint8_t *nb;

		while (cap - ch->glen < len && cap < SIZE_MAX / 2)
			cap *= 2;
		if (cap - ch->glen < len ||
		    (nb = realloc(ch->gbuf, cap)) == NULL) {
			/* What was gathered keeps its place in the order. */
			rg_channel_flush(ch);
			return rg_channel_send(ch, frame, len);
		}
		ch->gbuf = nb;
		ch->gcap = cap;
	}
	memcpy(ch->gbuf + ch->glen, frame, len);
	ch->glen += len;
	free(frame);
	return 0;
}

void
rg_channel_flush(rg_channel *ch)
{
	uint8_t *b;
	size_t len;

	if (ch == NULL || ch->glen == 0)
		return;
	b = ch->gbuf;
	len = ch->glen;
	ch->gbuf = NULL;
	ch->glen = ch->gcap = 0;
	/* A closed channel drops them, as it would each frame. */
	(void)rg_channel_send(ch, b, len);
}

int
rg_channel_alive(const rg_channel *ch)
{
	return ch != NULL && ch->alive;
}

void
rg_channel_ref(rg_channel *ch)
{
	ch->refs++;
}

void
rg_channel_unref(rg_channel *ch)
{
	if (--ch->refs > 0)
		return;
	free(ch->buf);
	free(ch->gbuf);
	free(ch);
}
