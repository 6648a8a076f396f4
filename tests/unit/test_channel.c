/*
 * test_channel.c -- frames gathered on a channel (channel.c) stay in the
 * process until the flush, then reach the peer in order, all together;
 * a closed channel takes none. A pump hands over what the peer sent
 * without the loop, whole frames only, never from inside the frame
 * function, and leaves EOF to the loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "gateway/channel.h"
#include "tests/test.h"

static int
rg_tc_frame(void *ctx, rg_channel *ch, const uint8_t *frame, size_t len)
{
	(void)ctx;
	(void)ch;
	(void)frame;
	(void)len;
	return 0;
}

/* A malloc'd copy of text, as rg_channel_gather takes frames. */
static uint8_t *
rg_tc_dup(const char *text)
{
	uint8_t *p = malloc(strlen(text));

	CHECK(p != NULL);
	memcpy(p, text, strlen(text));
	return p;
}

TEST(channel_gathers_frames_until_the_flush_then_sends_them_in_order)
{
	uv_loop_t loop;
	int sv[2];
	rg_channel *ch;
	char got[64];
	ssize_t n;

	CHECK(uv_loop_init(&loop) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	ch = rg_channel_open(&loop, sv[0], 1024, rg_tc_frame, NULL);
	CHECK(ch != NULL);
	CHECK(rg_channel_gather(ch, rg_tc_dup("one,"), 4) == 0);
	CHECK(rg_channel_gather(ch, rg_tc_dup("two,"), 4) == 0);
	CHECK(rg_channel_gather(ch, rg_tc_dup("three"), 5) == 0);
	(void)uv_run(&loop, UV_RUN_NOWAIT);
	/* Nothing left before the flush. */
	n = read(sv[1], got, sizeof(got));
	CHECK(n < 0 && errno == EAGAIN);
	rg_channel_flush(ch);
	(void)uv_run(&loop, UV_RUN_NOWAIT);
	n = read(sv[1], got, sizeof(got));
	CHECK_EQ_INT(n, 13);
	CHECK(memcmp(got, "one,two,three", 13) == 0);
	/* A flush with nothing gathered sends nothing. */
	rg_channel_flush(ch);
	(void)uv_run(&loop, UV_RUN_NOWAIT);
	n = read(sv[1], got, sizeof(got));
	CHECK(n < 0 && errno == EAGAIN);
	/* Closed: a frame is refused (and freed), nothing is sent. */
	rg_channel_close(ch);
	CHECK_EQ_INT(rg_channel_gather(ch, rg_tc_dup("late"), 4), -1);
	rg_channel_flush(ch);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	n = read(sv[1], got, sizeof(got));
	CHECK_EQ_INT(n, 0); /* the closed end: EOF, no bytes */
	close(sv[1]);
	CHECK(uv_loop_close(&loop) == 0);
}

/* What the pump test's frame function saw. */
struct rg_tc_seen {
	rg_channel *ch;
	int frames;
	uint8_t last;      /* the first payload byte of the last frame */
	int gone;
	int drained;
	int pump_inside;   /* pump from inside the frame function */
	int inside_got;    /* what that pump returned */
};

static int
rg_tc_seen_frame(void *ctx, rg_channel *ch, const uint8_t *frame, size_t len)
{
	struct rg_tc_seen *s = ctx;

	(void)ch;
	if (frame == NULL) {
		s->gone++;
		return 0;
	}
	CHECK_EQ_INT(len, 14);
	s->frames++;
	s->last = frame[13];
	if (s->pump_inside)
		s->inside_got += rg_channel_pump(s->ch) + 1;
	return 0;
}

static void
rg_tc_seen_drained(void *ctx, rg_channel *ch)
{
	(void)ch;
	((struct rg_tc_seen *)ctx)->drained++;
}

/* A frame of the wire's shape: length 10, a type, an id, one byte. */
static void
rg_tc_frame_bytes(uint8_t out[14], uint8_t payload)
{
	memset(out, 0, 14);
	out[3] = 10;
	out[4] = 1;
	out[12] = 7;
	out[13] = payload;
}

TEST(channel_pump_hands_over_whole_frames_at_once_and_leaves_eof_to_the_loop)
{
	uv_loop_t loop;
	int sv[2];
	struct rg_tc_seen seen = {0};
	uint8_t f[3][14];

	CHECK(uv_loop_init(&loop) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	seen.ch = rg_channel_open(&loop, sv[0], 1024, rg_tc_seen_frame, &seen);
	CHECK(seen.ch != NULL);
	rg_channel_ref(seen.ch); /* the test's, beyond the close */
	rg_channel_on_drained(seen.ch, rg_tc_seen_drained);
	for (int i = 0; i < 3; i++)
		rg_tc_frame_bytes(f[i], (uint8_t)('a' + i));
	/* Nothing sent yet: nothing handed over. */
	CHECK_EQ_INT(rg_channel_pump(seen.ch), 0);
	/* Two frames and half of a third: the two, in order, at once. */
	CHECK_EQ_INT(write(sv[1], f[0], 14), 14);
	CHECK_EQ_INT(write(sv[1], f[1], 14), 14);
	CHECK_EQ_INT(write(sv[1], f[2], 7), 7);
	CHECK_EQ_INT(rg_channel_pump(seen.ch), 2);
	CHECK_EQ_INT(seen.frames, 2);
	CHECK_EQ_INT(seen.last, 'b');
	/* The rest of the third completes it. */
	CHECK_EQ_INT(write(sv[1], f[2] + 7, 7), 7);
	CHECK_EQ_INT(rg_channel_pump(seen.ch), 1);
	CHECK_EQ_INT(seen.frames, 3);
	CHECK_EQ_INT(seen.last, 'c');
	/* A pump is not a read of the loop: no drained call. */
	CHECK_EQ_INT(seen.drained, 0);
	/* From inside the frame function a pump does nothing; the frames
	 * still come, in order. */
	seen.pump_inside = 1;
	CHECK_EQ_INT(write(sv[1], f[0], 14), 14);
	CHECK_EQ_INT(write(sv[1], f[1], 14), 14);
	CHECK_EQ_INT(rg_channel_pump(seen.ch), 2);
	CHECK_EQ_INT(seen.inside_got, 2); /* two pumps, each 0 */
	CHECK_EQ_INT(seen.last, 'b');
	seen.pump_inside = 0;
	/* What the loop reads after a pump goes on from where it left off:
	 * a frame split across a pump and a read. */
	CHECK_EQ_INT(write(sv[1], f[2], 5), 5);
	CHECK_EQ_INT(rg_channel_pump(seen.ch), 0);
	CHECK_EQ_INT(write(sv[1], f[2] + 5, 9), 9);
	(void)uv_run(&loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(seen.frames, 6);
	CHECK_EQ_INT(seen.last, 'c');
	CHECK_EQ_INT(seen.drained, 1);
	/* The peer sends a last frame and shuts its side: the pump hands
	 * over the frame; the channel stays open for the answer... */
	CHECK_EQ_INT(write(sv[1], f[0], 14), 14);
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	CHECK_EQ_INT(rg_channel_pump(seen.ch), 1);
	CHECK_EQ_INT(rg_channel_pump(seen.ch), 0);
	CHECK(rg_channel_alive(seen.ch));
	CHECK_EQ_INT(seen.gone, 0);
	CHECK(rg_channel_gather(seen.ch, rg_tc_dup("answer"), 6) == 0);
	rg_channel_flush(seen.ch);
	/* ...which leaves before the loop's read meets EOF and closes it. */
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(seen.gone, 1);
	CHECK(!rg_channel_alive(seen.ch));
	{
		char got[16];

		CHECK_EQ_INT(read(sv[1], got, sizeof(got)), 6);
		CHECK(memcmp(got, "answer", 6) == 0);
	}
	close(sv[1]);
	rg_channel_unref(seen.ch);
	CHECK(uv_loop_close(&loop) == 0);
}
