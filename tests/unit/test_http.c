/*
 * test_http.c -- the front's HTTP/1.1 server on a real loopback socket.
 *
 * The server runs its loop in a thread; the tests are plain blocking
 * clients, so every byte on the wire is what a department would send.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "gateway/http.h"
#include "tests/test.h"

/* ---- server in a thread ---- */

struct srv {
	uv_loop_t loop;
	uv_async_t stop;
	uv_thread_t thread;
	rg_http *http;
	int port;
	unsigned defer_ms;          /* 0: the handler answers at once */
	atomic_int nrequests;       /* handler calls */
	atomic_int nreplies;        /* rg_http_reply calls made */
	atomic_int closed;          /* the close callback ran */
	atomic_int replied_after_close;
};

struct deferred {
	uv_timer_t timer;
	struct srv *srv;
	struct rg_http_reply *reply;
	struct rg_response resp;
};

/* The echo body: what the front handed over, as JSON. */
static void
echo_response(const struct rg_request *req, struct rg_response *resp)
{
	const char *x = rg_request_header(req, "x-test");
	json_t *o;
	char *text;

	o = json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:s#, s:s, s:I}",
	              "method", req->method, "path", req->path,
	              "query", req->query, "x_test", x,
	              "body_len", (json_int_t)req->body_len,
	              "body", req->body != NULL ? (const char *)req->body : "",
	              req->body_len, "peer", req->peer,
	              "received_ms", (json_int_t)req->received_ms);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		(void)rg_response_error(resp, RG_ERR_INTERNAL, NULL, NULL);
		return;
	}
	json_decref(o);
	resp->status = 200;
	resp->body = text;
	resp->body_len = strlen(text);
}

static void
deferred_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
deferred_fire(uv_timer_t *t)
{
	struct deferred *d = t->data;

	if (atomic_load(&d->srv->closed))
		atomic_fetch_add(&d->srv->replied_after_close, 1);
	rg_http_reply(d->reply, &d->resp);
	atomic_fetch_add(&d->srv->nreplies, 1);
	rg_response_clear(&d->resp);
	uv_close((uv_handle_t *)&d->timer, deferred_closed);
}

static void
handler(void *ctx, const struct rg_request *req, struct rg_http_reply *reply)
{
	struct srv *s = ctx;
	struct rg_response resp = {0};
	struct deferred *d;

	atomic_fetch_add(&s->nrequests, 1);
	if (s->defer_ms == 0) {
		echo_response(req, &resp);
		rg_http_reply(reply, &resp);
		atomic_fetch_add(&s->nreplies, 1);
		rg_response_clear(&resp);
		return;
	}
	/* Built now, sent later: req is only valid until the reply. */
	if ((d = calloc(1, sizeof(*d))) == NULL)
		abort();
	d->srv = s;
	d->reply = reply;
	echo_response(req, &d->resp);
	if (uv_timer_init(&s->loop, &d->timer) != 0)
		abort();
	d->timer.data = d;
	if (uv_timer_start(&d->timer, deferred_fire, s->defer_ms, 0) != 0)
		abort();
}

static void
srv_closed(void *ctx)
{
	struct srv *s = ctx;

	atomic_store(&s->closed, 1);
}

static void
srv_on_stop(uv_async_t *a)
{
	struct srv *s = a->data;

	rg_http_close(s->http, srv_closed, s);
	uv_close((uv_handle_t *)&s->stop, NULL);
}

static void
srv_run(void *arg)
{
	struct srv *s = arg;

	(void)uv_run(&s->loop, UV_RUN_DEFAULT);
}

static void
srv_start(struct srv *s, const struct rg_http_limits *lim, unsigned defer_ms)
{
	char bound[64], want[32];
	const char *colon;

	memset(s, 0, sizeof(*s));
	s->defer_ms = defer_ms;
	CHECK(uv_loop_init(&s->loop) == 0);
	CHECK(uv_async_init(&s->loop, &s->stop, srv_on_stop) == 0);
	s->stop.data = s;
	s->http = rg_http_new(&s->loop, lim, handler, s);
	CHECK(s->http != NULL);
	CHECK_EQ_INT(rg_http_listen(s->http, "127.0.0.1", 0, bound,
	                            sizeof(bound)), 0);
	colon = strrchr(bound, ':');
	CHECK(colon != NULL);
	s->port = (int)strtol(colon + 1, NULL, 10);
	CHECK(s->port > 0 && s->port < 65536);
	snprintf(want, sizeof(want), "127.0.0.1:%d", s->port);
	CHECK_EQ_STR(bound, want);
	CHECK(uv_thread_create(&s->thread, srv_run, s) == 0);
}

static void
srv_stop(struct srv *s)
{
	CHECK(uv_async_send(&s->stop) == 0);
	CHECK(uv_thread_join(&s->thread) == 0);
	CHECK(atomic_load(&s->closed) == 1);
	rg_http_free(s->http);
	CHECK_EQ_INT(uv_loop_close(&s->loop), 0);
}

static struct rg_http_limits
limits(void)
{
	struct rg_http_limits lim;

	rg_http_limits_default(&lim);
	return lim;
}

/* ---- blocking client ---- */

struct cli {
	int fd;
	size_t len;
	char buf[65536];
};

struct resp {
	int status;
	char head[4096];
	char *body;
	size_t body_len;
	json_t *json;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct cli *
cli_open(int port)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct sockaddr_in sin = {0};
	struct timeval tv = {3, 0};

	CHECK(c != NULL);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c->fd >= 0);
	CHECK(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	return c;
}

static void
cli_close(struct cli *c)
{
	close(c->fd);
	free(c);
}

/* Send everything; the server may hang up first (that is then the test). */
static int
cli_send_n(struct cli *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
cli_send(struct cli *c, const char *data)
{
	CHECK(cli_send_n(c, data, strlen(data)) == 0);
}

/* Read more bytes into the buffer; 0 on EOF, -1 on error or timeout. */
static ssize_t
cli_fill(struct cli *c)
{
	ssize_t n;

	CHECK(c->len < sizeof(c->buf));
	do
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

static void
resp_free(struct resp *r)
{
	json_decref(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Value of a response header (case-insensitive name), or "". */
static const char *
resp_header(const struct resp *r, const char *name, char *out, size_t outlen)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	out[0] = '\0';
	if ((p = strcasestr(r->head, pat)) == NULL)
		return out;
	p += strlen(pat);
	e = strstr(p, "\r\n");
	if (e == NULL || (size_t)(e - p) >= outlen)
		return out;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return out;
}

/*
 * Read one response; no_body for the answer to HEAD. Returns 0, or -1 when
 * the connection ended (or timed out) before a whole response came.
 */
static int
cli_response_ex(struct cli *c, struct resp *r, int no_body)
{
	char *end, cl[32];
	size_t hlen, blen = 0;

	memset(r, 0, sizeof(*r));
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
		if (cli_fill(c) <= 0)
			return -1;
	hlen = (size_t)(end - c->buf) + 4;
	CHECK(hlen < sizeof(r->head));
	memcpy(r->head, c->buf, hlen);
	r->head[hlen] = '\0';
	CHECK(sscanf(r->head, "HTTP/1.1 %d ", &r->status) == 1);
	resp_header(r, "Content-Length", cl, sizeof(cl));
	if (cl[0] != '\0' && !no_body)
		blen = (size_t)strtoul(cl, NULL, 10);
	while (c->len < hlen + blen)
		if (cli_fill(c) <= 0)
			return -1;
	r->body = calloc(1, blen + 1);
	CHECK(r->body != NULL);
	memcpy(r->body, c->buf + hlen, blen);
	r->body_len = blen;
	memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
	c->len -= hlen + blen;
	if (blen > 0)
		r->json = json_loadb(r->body, blen, 0, NULL);
	return 0;
}

static int
cli_response(struct cli *c, struct resp *r)
{
	return cli_response_ex(c, r, 0);
}

/* 1 when the server closed the connection without sending anything more. */
static int
cli_closed(struct cli *c)
{
	ssize_t n;

	if (c->len != 0)
		return 0;
	n = cli_fill(c);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static const char *
jstr(const struct resp *r, const char *key)
{
	return json_string_value(json_object_get(r->json, key));
}

static long long
jint(const struct resp *r, const char *key)
{
	return json_integer_value(json_object_get(r->json, key));
}

static const char *
err_code(const struct resp *r)
{
	return json_string_value(json_object_get(
	    json_object_get(r->json, "error"), "code"));
}

/* One request on a fresh connection, and its response. */
static void
roundtrip(struct srv *s, const char *request, struct resp *r)
{
	struct cli *c = cli_open(s->port);

	cli_send(c, request);
	CHECK(cli_response(c, r) == 0);
	cli_close(c);
}

/* A connection whose request (one) the server holds, not yet answered. */
static struct cli *
cli_in_hand(struct srv *s, const char *request)
{
	struct cli *c = cli_open(s->port);

	cli_send(c, request);
	while (atomic_load(&s->nrequests) == 0)
		usleep(1000);
	return c;
}

/* The next response on c answers a request for path. */
static void
expect_path(struct cli *c, const char *path)
{
	struct resp r;

	CHECKF(cli_response(c, &r) == 0, "no answer to %s", path);
	CHECK_EQ_STR(jstr(&r, "path"), path);
	resp_free(&r);
}

/* A front-made error: status, code, Connection: close, then EOF. */
static void
check_refusal(struct cli *c, int status, const char *code)
{
	struct resp r;
	char v[64];

	CHECKF(cli_response(c, &r) == 0, "no response");
	CHECK_EQ_INT(r.status, status);
	CHECK_EQ_STR(err_code(&r), code);
	CHECK_EQ_STR(resp_header(&r, "Connection", v, sizeof(v)), "close");
	CHECK_EQ_STR(resp_header(&r, "Content-Type", v, sizeof(v)),
	             "application/json");
	CHECK(cli_closed(c));
	resp_free(&r);
}

/* ---- tests ---- */

TEST(http_get_is_answered_with_json_and_safe_headers)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	char v[64];
	int64_t before = (int64_t)time(NULL) * 1000;

	srv_start(&s, &lim, 0);
	roundtrip(&s, "GET /v1/catalogue HTTP/1.1\r\nHost: gw\r\n"
	              "X-Test:  hello \r\n\r\n", &r);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK_EQ_STR(resp_header(&r, "Content-Type", v, sizeof(v)),
	             "application/json");
	CHECK_EQ_STR(resp_header(&r, "Cache-Control", v, sizeof(v)), "no-store");
	CHECK_EQ_STR(resp_header(&r, "Connection", v, sizeof(v)), "keep-alive");
	CHECK(r.json != NULL);
	CHECK_EQ_STR(jstr(&r, "method"), "GET");
	CHECK_EQ_STR(jstr(&r, "path"), "/v1/catalogue");
	CHECK(json_is_null(json_object_get(r.json, "query")));
	CHECK_EQ_STR(jstr(&r, "x_test"), "hello");
	CHECK_EQ_INT(jint(&r, "body_len"), 0);
	CHECK(strncmp(jstr(&r, "peer"), "127.0.0.1:", 10) == 0);
	CHECK(jint(&r, "received_ms") >= before - 1000);
	CHECK(jint(&r, "received_ms") <= before + 10000);
	resp_free(&r);
	srv_stop(&s);
}

TEST(http_post_body_with_content_length_reaches_handler)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;

	srv_start(&s, &lim, 0);
	roundtrip(&s, "POST /v1/bulletins HTTP/1.1\r\nHost: gw\r\n"
	              "Content-Length: 11\r\n\r\nhello world", &r);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(jstr(&r, "method"), "POST");
	CHECK_EQ_INT(jint(&r, "body_len"), 11);
	CHECK_EQ_STR(jstr(&r, "body"), "hello world");
	resp_free(&r);
	srv_stop(&s);
}

TEST(http_body_split_over_many_writes_is_assembled)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;
	const char *parts[] = {"PO", "ST /v1/x HT", "TP/1.1\r\nContent-Le",
	                       "ngth: 6\r\n", "\r\nab", "cd", "ef"};

	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		cli_send(c, parts[i]);
		usleep(10000);
	}
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(jstr(&r, "body"), "abcdef");
	resp_free(&r);
	cli_close(c);
	srv_stop(&s);
}

TEST(http_chunked_body_is_assembled)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;

	srv_start(&s, &lim, 0);
	roundtrip(&s, "POST /v1/x HTTP/1.1\r\nHost: gw\r\n"
	              "Transfer-Encoding: chunked\r\n\r\n"
	              "5\r\nhello\r\n6\r\n world\r\n0\r\n"
	              "X-Trailer: ignored\r\n\r\n", &r);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_INT(jint(&r, "body_len"), 11);
	CHECK_EQ_STR(jstr(&r, "body"), "hello world");
	resp_free(&r);
	srv_stop(&s);
}

TEST(http_keep_alive_serves_two_requests_on_one_connection)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;

	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "GET /one HTTP/1.1\r\nHost: gw\r\n\r\n");
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_STR(jstr(&r, "path"), "/one");
	resp_free(&r);
	cli_send(c, "POST /two HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\nok");
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_STR(jstr(&r, "path"), "/two");
	CHECK_EQ_STR(jstr(&r, "body"), "ok");
	resp_free(&r);
	CHECK_EQ_INT(atomic_load(&s.nrequests), 2);
	cli_close(c);
	srv_stop(&s);
}

TEST(http_pipelined_requests_are_answered_in_order_even_when_deferred)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;

	/* Deferred replies: the second must still wait for the first. */
	srv_start(&s, &lim, 50);
	c = cli_open(s.port);
	cli_send(c, "POST /first HTTP/1.1\r\nContent-Length: 1\r\n\r\nA"
	            "GET /second?n=2 HTTP/1.1\r\nHost: gw\r\n\r\n"
	            "GET /third HTTP/1.1\r\nConnection: close\r\n\r\n");
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_STR(jstr(&r, "path"), "/first");
	CHECK_EQ_STR(jstr(&r, "body"), "A");
	resp_free(&r);
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_STR(jstr(&r, "path"), "/second");
	CHECK_EQ_STR(jstr(&r, "query"), "n=2");
	resp_free(&r);
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_STR(jstr(&r, "path"), "/third");
	resp_free(&r);
	CHECK(cli_closed(c));
	cli_close(c);
	srv_stop(&s);
}

/*
 * Answered at once, each written whole at once: the front goes through
 * a long pipelined run in one loop, in order (the answers then leave
 * before the next request is parsed, with no write request between).
 */
TEST(http_many_pipelined_requests_answered_at_once_stay_in_order)
{
	struct rg_http_limits lim = limits();
	enum { NREQ = 300 };
	char *all, path[32];
	size_t len = 0;
	struct srv s;
	struct cli *c;
	int i;

	all = malloc(NREQ * 32);
	CHECK(all != NULL);
	for (i = 0; i < NREQ; i++)
		len += (size_t)sprintf(all + len, "GET /%d HTTP/1.1\r\n\r\n", i);
	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	CHECK(cli_send_n(c, all, len) == 0);
	for (i = 0; i < NREQ; i++) {
		snprintf(path, sizeof(path), "/%d", i);
		expect_path(c, path);
	}
	CHECK_EQ_INT(atomic_load(&s.nrequests), NREQ);
	free(all);
	cli_close(c);
	srv_stop(&s);
}

/* Requests sent while one is in hand wait for it, then are answered. */
TEST(http_requests_pipelined_behind_one_in_hand_are_answered_in_order)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;

	srv_start(&s, &lim, 80);
	c = cli_in_hand(&s, "GET /first HTTP/1.1\r\n\r\n");
	/* In two pieces, the second request split inside its head. */
	cli_send(c, "GET /second HTTP/1.1\r\n\r\nGET /thi");
	usleep(20000);
	cli_send(c, "rd HTTP/1.1\r\n\r\n");
	expect_path(c, "/first");
	expect_path(c, "/second");
	expect_path(c, "/third");
	CHECK_EQ_INT(atomic_load(&s.nrequests), 3);
	cli_close(c);
	srv_stop(&s);
}

/*
 * More pipelined bytes than the connection's read buffer holds, sent
 * while the first request is in hand: the front reads until the buffer
 * is full and leaves the rest in the socket, then answers every request.
 */
TEST(http_pipelined_bytes_beyond_the_read_buffer_wait_in_the_socket)
{
	struct rg_http_limits lim = limits();
	enum { NREQ = 24, BODY = 1500 };
	char body[BODY + 1], path[32];
	struct srv s;
	struct resp r;
	struct cli *c;
	int i;

	memset(body, 'b', BODY);
	body[BODY] = '\0';
	srv_start(&s, &lim, 30);
	c = cli_in_hand(&s, "GET /0 HTTP/1.1\r\n\r\n");
	for (i = 1; i <= NREQ; i++) {
		char head[128];

		snprintf(head, sizeof(head),
		         "POST /%d HTTP/1.1\r\nContent-Length: %d\r\n\r\n", i, BODY);
		cli_send(c, head);
		cli_send(c, body);
	}
	for (i = 0; i <= NREQ; i++) {
		CHECKF(cli_response(c, &r) == 0, "no answer to request %d", i);
		snprintf(path, sizeof(path), "/%d", i);
		CHECK_EQ_STR(jstr(&r, "path"), path);
		if (i > 0)
			CHECK_EQ_INT((long long)strlen(jstr(&r, "body")), BODY);
		resp_free(&r);
	}
	CHECK_EQ_INT(atomic_load(&s.nrequests), NREQ + 1);
	cli_close(c);
	srv_stop(&s);
}

/* A client that shuts its writing side after a request still gets the
 * answer; the connection closes after it. */
TEST(http_half_close_while_a_request_is_in_hand_still_gets_the_answer)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;

	srv_start(&s, &lim, 80);
	c = cli_in_hand(&s, "POST /half HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
	CHECK(shutdown(c->fd, SHUT_WR) == 0);
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(jstr(&r, "path"), "/half");
	CHECK_EQ_STR(jstr(&r, "body"), "hi");
	resp_free(&r);
	CHECK(cli_closed(c));
	cli_close(c);
	srv_stop(&s);
}

TEST(http_header_section_over_limit_is_431_headers_too_large)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;
	char *req;
	size_t n = 17 * 1024;

	srv_start(&s, &lim, 0);
	CHECK(lim.max_header == 16 * 1024);
	CHECK((req = malloc(n + 64)) != NULL);
	memcpy(req, "GET / HTTP/1.1\r\nX-Big: ", 23);
	memset(req + 23, 'a', n);
	memcpy(req + 23 + n, "\r\n\r\n", 5);
	c = cli_open(s.port);
	(void)cli_send_n(c, req, strlen(req));
	check_refusal(c, 431, "headers_too_large");
	CHECK_EQ_INT(atomic_load(&s.nrequests), 0);
	cli_close(c);
	free(req);
	srv_stop(&s);
}

TEST(http_header_section_just_under_limit_is_accepted)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;
	char *req;
	size_t pad;

	lim.max_header = 1024;
	srv_start(&s, &lim, 0);
	/* "GET / HTTP/1.1\r\nX-Test: " + pad + "\r\n\r\n" == 1024 bytes. */
	pad = 1024 - 24 - 4;
	CHECK((req = malloc(1025)) != NULL);
	memcpy(req, "GET / HTTP/1.1\r\nX-Test: ", 24);
	memset(req + 24, 'b', pad);
	memcpy(req + 24 + pad, "\r\n\r\n", 5);
	CHECK_EQ_INT(strlen(req), 1024);
	roundtrip(&s, req, &r);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_INT(strlen(jstr(&r, "x_test")), pad);
	resp_free(&r);
	free(req);
	/* One byte more is over. */
	pad++;
	CHECK((req = malloc(1026)) != NULL);
	memcpy(req, "GET / HTTP/1.1\r\nX-Test: ", 24);
	memset(req + 24, 'c', pad);
	memcpy(req + 24 + pad, "\r\n\r\n", 5);
	CHECK_EQ_INT(strlen(req), 1025);
	c = cli_open(s.port);
	cli_send(c, req);
	check_refusal(c, 431, "headers_too_large");
	cli_close(c);
	free(req);
	srv_stop(&s);
}

TEST(http_more_than_100_headers_is_431)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;
	char req[4096];
	size_t off;

	srv_start(&s, &lim, 0);
	off = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 101; i++)
		off += (size_t)snprintf(req + off, sizeof(req) - off,
		                        "H%d: v\r\n", i);
	off += (size_t)snprintf(req + off, sizeof(req) - off, "\r\n");
	CHECK(off < sizeof(req) - 1);
	c = cli_open(s.port);
	cli_send(c, req);
	check_refusal(c, 431, "headers_too_large");
	cli_close(c);
	CHECK_EQ_INT(atomic_load(&s.nrequests), 0);
	srv_stop(&s);
}

TEST(http_content_length_over_max_body_is_413_before_the_body)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;
	int64_t t0;

	lim.max_body = 1024;
	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	/* No body sent: the refusal must not wait for it. */
	t0 = mono_ms();
	cli_send(c, "POST /v1/x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
	check_refusal(c, 413, "body_too_large");
	CHECK(mono_ms() - t0 < 1000);
	CHECK_EQ_INT(atomic_load(&s.nrequests), 0);
	cli_close(c);
	srv_stop(&s);
}

TEST(http_body_over_limit_sent_at_once_still_gets_413)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;
	char *req;
	size_t blen = 200000, hl;

	/* The body is in flight when the front refuses: it must drain, not RST. */
	lim.max_body = 1024;
	srv_start(&s, &lim, 0);
	CHECK((req = malloc(blen + 128)) != NULL);
	hl = (size_t)snprintf(req, 128, "POST /v1/x HTTP/1.1\r\n"
	                      "Content-Length: %zu\r\n\r\n", blen);
	memset(req + hl, 'z', blen);
	c = cli_open(s.port);
	CHECK(cli_send_n(c, req, hl + blen) == 0);
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_INT(r.status, 413);
	CHECK_EQ_STR(err_code(&r), "body_too_large");
	resp_free(&r);
	/* A FIN after the response, not a reset that could have eaten it. */
	CHECK_EQ_INT(cli_fill(c), 0);
	cli_close(c);
	free(req);
	srv_stop(&s);
}

TEST(http_chunked_body_growing_past_max_body_is_413)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;

	lim.max_body = 16;
	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	            "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
	check_refusal(c, 413, "body_too_large");
	CHECK_EQ_INT(atomic_load(&s.nrequests), 0);
	cli_close(c);
	srv_stop(&s);
}

TEST(http_malformed_bytes_are_400_malformed_http)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;

	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "GARBAGE\r\n\r\n");
	check_refusal(c, 400, "malformed_http");
	cli_close(c);
	CHECK_EQ_INT(atomic_load(&s.nrequests), 0);
	srv_stop(&s);
}

TEST(http_versions_other_than_1_0_and_1_1_are_refused)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;
	struct resp r;

	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "GET / HTTP/2.0\r\nHost: gw\r\n\r\n");
	check_refusal(c, 400, "malformed_http");
	cli_close(c);
	c = cli_open(s.port);
	cli_send(c, "GET / HTTP/1.2\r\nHost: gw\r\n\r\n");
	check_refusal(c, 400, "malformed_http");
	cli_close(c);
	/* HTTP/1.0 is served, and closed after the response. */
	c = cli_open(s.port);
	cli_send(c, "GET /old HTTP/1.0\r\n\r\n");
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(jstr(&r, "path"), "/old");
	CHECK(strstr(r.head, "\r\nConnection: close\r\n") != NULL);
	resp_free(&r);
	CHECK(cli_closed(c));
	cli_close(c);
	CHECK_EQ_INT(atomic_load(&s.nrequests), 1);
	srv_stop(&s);
}

TEST(http_content_length_with_transfer_encoding_is_refused)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;

	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	check_refusal(c, 400, "malformed_http");
	cli_close(c);
	CHECK_EQ_INT(atomic_load(&s.nrequests), 0);
	srv_stop(&s);
}

TEST(http_upgrade_and_connect_are_refused)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;

	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "GET /chat HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\n"
	            "Upgrade: websocket\r\n\r\n");
	check_refusal(c, 400, "malformed_http");
	cli_close(c);
	c = cli_open(s.port);
	cli_send(c, "GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n");
	check_refusal(c, 400, "malformed_http");
	cli_close(c);
	c = cli_open(s.port);
	cli_send(c, "CONNECT db.internal:5432 HTTP/1.1\r\nHost: db\r\n\r\n");
	check_refusal(c, 400, "malformed_http");
	cli_close(c);
	CHECK_EQ_INT(atomic_load(&s.nrequests), 0);
	srv_stop(&s);
}

TEST(http_slow_request_gets_408_request_timeout)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;
	int64_t t0, dt;

	lim.request_timeout_ms = 200;
	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	t0 = mono_ms();
	cli_send(c, "GET /v1/x HTTP/1.1\r\nHost: gw\r\n");
	check_refusal(c, 408, "request_timeout");
	dt = mono_ms() - t0;
	CHECKF(dt >= 100 && dt < 1500, "408 after %lld ms", (long long)dt);
	CHECK_EQ_INT(atomic_load(&s.nrequests), 0);
	cli_close(c);
	srv_stop(&s);
}

TEST(http_slow_body_also_gets_408)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;

	lim.request_timeout_ms = 200;
	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "POST /v1/x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
	check_refusal(c, 408, "request_timeout");
	cli_close(c);
	srv_stop(&s);
}

TEST(http_idle_keep_alive_connection_is_closed_silently)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;
	int64_t t0, dt;

	lim.idle_timeout_ms = 200;
	lim.request_timeout_ms = 5000;
	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "GET / HTTP/1.1\r\nHost: gw\r\n\r\n");
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_INT(r.status, 200);
	resp_free(&r);
	t0 = mono_ms();
	/* No 408, no bytes at all: just the close. */
	CHECK(cli_closed(c));
	dt = mono_ms() - t0;
	CHECKF(dt >= 100 && dt < 1500, "closed after %lld ms", (long long)dt);
	cli_close(c);
	srv_stop(&s);
}

TEST(http_connection_without_any_request_is_closed_after_idle_timeout)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;

	lim.idle_timeout_ms = 100;
	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	CHECK(cli_closed(c));
	cli_close(c);
	srv_stop(&s);
}

TEST(http_client_gone_before_deferred_reply_is_harmless)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;

	srv_start(&s, &lim, 150);
	c = cli_in_hand(&s, "POST /v1/x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	cli_close(c);
	while (atomic_load(&s.nreplies) == 0)
		usleep(1000);
	usleep(50000);
	/* The server still serves others. */
	c = cli_open(s.port);
	cli_send(c, "GET /after HTTP/1.1\r\n\r\n");
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_STR(jstr(&r, "path"), "/after");
	resp_free(&r);
	cli_close(c);
	srv_stop(&s);
}

TEST(http_reply_after_server_closed_is_dropped)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct cli *c;

	srv_start(&s, &lim, 300);
	c = cli_in_hand(&s, "GET /late HTTP/1.1\r\n\r\n");
	/* Close while the handler still holds the reply token. */
	srv_stop(&s);
	CHECK_EQ_INT(atomic_load(&s.nreplies), 1);
	CHECK_EQ_INT(atomic_load(&s.replied_after_close), 1);
	/* The client saw its connection end without a response. */
	CHECK(cli_closed(c));
	cli_close(c);
}

TEST(http_connections_beyond_max_are_closed)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *a, *b, *x, *d = NULL;

	lim.max_connections = 2;
	srv_start(&s, &lim, 0);
	a = cli_open(s.port);
	b = cli_open(s.port);
	/* A response on each proves both were accepted and counted. */
	cli_send(a, "GET /a HTTP/1.1\r\n\r\n");
	CHECK(cli_response(a, &r) == 0);
	resp_free(&r);
	cli_send(b, "GET /b HTTP/1.1\r\n\r\n");
	CHECK(cli_response(b, &r) == 0);
	resp_free(&r);
	x = cli_open(s.port);
	CHECK(cli_closed(x));
	cli_close(x);
	/* A slot freed is a slot usable again. */
	cli_close(a);
	for (int i = 0; i < 50; i++) {
		usleep(20000);
		d = cli_open(s.port);
		if (cli_send_n(d, "GET /d HTTP/1.1\r\n\r\n", 20) == 0 &&
		    cli_response(d, &r) == 0)
			break;
		cli_close(d);
		d = NULL;
	}
	CHECK(d != NULL);
	CHECK_EQ_STR(jstr(&r, "path"), "/d");
	resp_free(&r);
	cli_close(d);
	cli_close(b);
	srv_stop(&s);
}

TEST(http_query_is_split_at_the_first_question_mark)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;

	srv_start(&s, &lim, 0);
	roundtrip(&s, "GET /v1/audit/entries?from=1&to=9?x HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ_STR(jstr(&r, "path"), "/v1/audit/entries");
	CHECK_EQ_STR(jstr(&r, "query"), "from=1&to=9?x");
	resp_free(&r);
	roundtrip(&s, "GET /v1/catalogue? HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ_STR(jstr(&r, "path"), "/v1/catalogue");
	CHECK_EQ_STR(jstr(&r, "query"), "");
	resp_free(&r);
	roundtrip(&s, "GET /v1/catalogue HTTP/1.1\r\n\r\n", &r);
	CHECK(json_is_null(json_object_get(r.json, "query")));
	resp_free(&r);
	srv_stop(&s);
}

TEST(http_repeated_headers_are_joined_and_names_lower_cased)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;

	srv_start(&s, &lim, 0);
	roundtrip(&s, "GET / HTTP/1.1\r\nX-TEST: one\r\nHost: gw\r\n"
	              "x-test:\t two \r\nX-Test: three\r\n\r\n", &r);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(jstr(&r, "x_test"), "one, two, three");
	resp_free(&r);
	srv_stop(&s);
}

TEST(http_expect_100_continue_gets_interim_response)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;

	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "POST /v1/x HTTP/1.1\r\nExpect: 100-continue\r\n"
	            "Content-Length: 4\r\n\r\n");
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_INT(r.status, 100);
	resp_free(&r);
	cli_send(c, "data");
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(jstr(&r, "body"), "data");
	resp_free(&r);
	cli_close(c);
	srv_stop(&s);
}

TEST(http_head_response_carries_no_body_bytes)
{
	struct rg_http_limits lim = limits();
	struct srv s;
	struct resp r;
	struct cli *c;
	char v[32];

	srv_start(&s, &lim, 0);
	c = cli_open(s.port);
	cli_send(c, "HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n");
	CHECK(cli_response_ex(c, &r, 1) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strtol(resp_header(&r, "Content-Length", v, sizeof(v)), NULL,
	             10) > 0);
	resp_free(&r);
	/* The next response starts right after the head: no stray body. */
	CHECK(cli_response(c, &r) == 0);
	CHECK_EQ_STR(jstr(&r, "path"), "/g");
	resp_free(&r);
	cli_close(c);
	srv_stop(&s);
}

static void
flag_set(void *ctx)
{
	*(int *)ctx = 1;
}

TEST(http_new_refuses_zero_limits)
{
	struct rg_http_limits lim = limits();
	uv_loop_t loop;

	CHECK(uv_loop_init(&loop) == 0);
	lim.max_header = 0;
	CHECK(rg_http_new(&loop, &lim, handler, NULL) == NULL);
	lim = limits();
	lim.max_connections = 0;
	CHECK(rg_http_new(&loop, &lim, handler, NULL) == NULL);
	CHECK(rg_http_new(&loop, NULL, NULL, NULL) == NULL);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(http_listen_refuses_a_host_that_is_not_an_address)
{
	uv_loop_t loop;
	rg_http *http;
	char bound[64];
	int closed = 0;

	CHECK(uv_loop_init(&loop) == 0);
	CHECK((http = rg_http_new(&loop, NULL, handler, NULL)) != NULL);
	CHECK_EQ_INT(rg_http_listen(http, "gateway.example", 0, bound,
	                            sizeof(bound)), UV_EINVAL);
	CHECK_EQ_INT(rg_http_listen(http, "127.0.0.1", 70000, bound,
	                            sizeof(bound)), UV_EINVAL);
	CHECK_EQ_INT(rg_http_listen(http, "::1", 0, bound, sizeof(bound)), 0);
	CHECK(strncmp(bound, "[::1]:", 6) == 0);
	CHECK_EQ_INT(rg_http_listen(http, "::1", 0, bound, sizeof(bound)),
	             UV_EALREADY);
	rg_http_close(http, flag_set, &closed);
	CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
	CHECK_EQ_INT(closed, 1);
	rg_http_free(http);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
}
