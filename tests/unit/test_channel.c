/*
 * test_channel.c -- frames gathered on a channel (channel.c) stay in the
 * process until the flush, then reach the peer in order, all together;
 * a closed channel takes none.
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
