/*
 * http.c -- the front's HTTP/1.1 server: sockets, framing, limits, timers.
 *
 * It owns untrusted bytes until they form a complete struct rg_request, and
 * the bytes of each response. It must never decide what a request means,
 * and never touch a request or connection after its owner let it go.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <http_parser.h>
#include <uv.h>

#include "gateway/http.h"

/*
 * The read buffer of a connection exists only while bytes are pending: it
 * is taken when the socket becomes readable and given back once every byte
 * in it went through the parser (the parser copies what it keeps into the
 * request). An idle keep-alive connection then costs its struct and
 * libuv's handles, not 16 KiB: 10,000 of them fit in the front's budget.
 */
#define RG_HTTP_INBUF       16384 /* read buffer per connection */
#define RG_HTTP_MAX_HEADERS 100   /* header lines per request */
#define RG_HTTP_BACKLOG     511
/*
 * After the front refuses a request it half-closes and drains input for a
 * while before closing: closing a socket with unread bytes makes the kernel
 * send RST, which can destroy the error response before the client reads it.
 */
#define RG_HTTP_LINGER_MS   2000

enum rg_http_phase {
	RG_HTTP_IDLE,   /* between requests; idle timer runs */
	RG_HTTP_HEAD,   /* request line and headers arriving; request timer */
	RG_HTTP_BODY,   /* body arriving; request timer */
	RG_HTTP_DONE,   /* handed to the handler or response being written */
	RG_HTTP_LINGER, /* final response sent; draining until close */
};

enum rg_http_timer_mode {
	RG_HTTP_T_IDLE,
	RG_HTTP_T_REQUEST,
	RG_HTTP_T_LINGER,
};

struct rg_http_conn;

/*
 * The token a handler holds. It never points at the rg_http, so it may
 * outlive the server: when the connection goes first, conn becomes NULL and
 * the reply only frees the token.
 */
struct rg_http_reply {
	struct rg_http_conn *conn;
	struct rg_request req;
};

struct rg_http_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wreq;      /* the one response in flight */
	uv_write_t creq;      /* "100 Continue", static bytes */
	uv_shutdown_t sreq;
	struct rg_http *http;
	struct rg_http_conn *prev, *next;
	http_parser parser;
	enum rg_http_phase phase;
	enum rg_http_timer_mode timer_mode;
	int reading;
	int closing;
	int handles;          /* of tcp and timer, still open */
	int busy;             /* a request handed over or a response in flight */
	int processing;       /* inside rg_http_conn_process's dispatch */
	int close_after;      /* close once the response is written */
	int keep_alive;
	int head_method;      /* HEAD: the response carries no body bytes */
	rg_err fail;          /* set by a parser callback to refuse */
	char *wbuf;
	struct rg_http_reply *reply;
	/* The request being assembled. */
	struct rg_request req;
	size_t target_len, target_cap;
	size_t hcap;
	size_t nlines;        /* header lines, repeated names included */
	size_t body_cap;
	char *field;
	size_t field_len, field_cap;
	char *value;
	size_t value_len, value_cap;
	int in_value;         /* the last header callback was a value */
	size_t head_bytes;
	char peer[64];
	size_t inoff, inlen;
	char *inbuf;          /* RG_HTTP_INBUF bytes, or NULL when empty */
};

struct rg_http {
	uv_loop_t *loop;
	uv_tcp_t listener;
	struct rg_http_limits lim;
	rg_http_handler handler;
	void *ctx;
	http_parser_settings settings;
	struct rg_http_conn *conns;
	size_t nconns;
	size_t nopen;         /* listener + connections + refused sockets */
	int listening;
	int closing;
	int close_done;
	void (*close_cb)(void *ctx);
	void *close_ctx;
};

static void rg_http_conn_process(struct rg_http_conn *conn);
static void rg_http_conn_close(struct rg_http_conn *conn);

void
rg_http_limits_default(struct rg_http_limits *lim)
{
	lim->max_header = 16 * 1024;
	lim->max_body = 1024 * 1024;
	lim->idle_timeout_ms = 60000;
	lim->request_timeout_ms = 30000;
	lim->max_connections = 1024;
}

static int64_t
rg_http_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "ip:port", with the IPv6 address in brackets so the port stays apart. */
static int
rg_http_addr_str(const struct sockaddr *sa, char *out, size_t outlen)
{
	char name[INET6_ADDRSTRLEN];
	int port, n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (uv_ip4_name(in, name, sizeof(name)) != 0)
			return UV_EINVAL;
		port = ntohs(in->sin_port);
		n = snprintf(out, outlen, "%s:%d", name, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (uv_ip6_name(in6, name, sizeof(name)) != 0)
			return UV_EINVAL;
		port = ntohs(in6->sin6_port);
		n = snprintf(out, outlen, "[%s]:%d", name, port);
	} else
		return UV_EAFNOSUPPORT;
	if (n < 0 || (size_t)n >= outlen)
		return UV_ENOBUFS;
	return 0;
}

static void
rg_http_request_free(struct rg_request *req)
{
	free(req->target);
	free(req->path);
	free(req->query);
	for (size_t i = 0; i < req->nheaders; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	free(req->body);
	memset(req, 0, sizeof(*req));
}

/* Forget the request being assembled (it was handed over or dropped). */
static void
rg_http_conn_reset_req(struct rg_http_conn *conn)
{
	rg_http_request_free(&conn->req);
	conn->target_len = conn->target_cap = 0;
	conn->hcap = 0;
	conn->nlines = 0;
	conn->body_cap = 0;
	conn->field_len = conn->value_len = 0;
	conn->in_value = 0;
	conn->head_method = 0;
}

/*
 * Append n bytes to a NUL-terminated growing buffer. Sizes stay small
 * because the caller feeds the parser at most max_header head bytes.
 */
static int
rg_http_append(char **buf, size_t *len, size_t *cap, const char *at, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap != 0 ? *cap : 64;
		char *nbuf;

		while (ncap < *len + n + 1)
			ncap *= 2;
		if ((nbuf = realloc(*buf, ncap)) == NULL)
			return -1;
		*buf = nbuf;
		*cap = ncap;
	}
	memcpy(*buf + *len, at, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int
rg_http_fail(struct rg_http_conn *conn, rg_err err)
{
	if (conn->fail == RG_OK)
		conn->fail = err;
	return -1;
}

static void
rg_http_timer_start(struct rg_http_conn *conn, enum rg_http_timer_mode mode,
                    uint64_t ms);

/* ---- parser callbacks ---- */

static int
rg_http_on_message_begin(http_parser *p)
{
	struct rg_http_conn *conn = p->data;

	rg_http_conn_reset_req(conn);
	conn->phase = RG_HTTP_HEAD;
	/* The clock for the whole request starts with its first byte. */
	rg_http_timer_start(conn, RG_HTTP_T_REQUEST,
	                    conn->http->lim.request_timeout_ms);
	return 0;
}

static int
rg_http_on_url(http_parser *p, const char *at, size_t len)
{
	struct rg_http_conn *conn = p->data;

	if (rg_http_append(&conn->req.target, &conn->target_len,
	                   &conn->target_cap, at, len) != 0)
		return rg_http_fail(conn, RG_ERR_INTERNAL);
	return 0;
}

/* One header line is complete: store it lower-cased, trimmed, joined. */
static int
rg_http_header_done(struct rg_http_conn *conn)
{
	struct rg_request *req = &conn->req;
	const char *v = conn->value != NULL ? conn->value : "";
	size_t vlen = conn->value_len;
	char *name, *value;

	if (++conn->nlines > RG_HTTP_MAX_HEADERS)
		return rg_http_fail(conn, RG_ERR_HEADERS_TOO_LARGE);
	/* An embedded NUL would make the C string differ from the bytes. */
	if (conn->field_len == 0 || conn->field == NULL ||
	    memchr(conn->field, '\0', conn->field_len) != NULL ||
	    (vlen != 0 && memchr(v, '\0', vlen) != NULL))
		return rg_http_fail(conn, RG_ERR_MALFORMED_HTTP);
	for (size_t i = 0; i < conn->field_len; i++)
		if (conn->field[i] >= 'A' && conn->field[i] <= 'Z')
			conn->field[i] = (char)(conn->field[i] - 'A' + 'a');
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;

	for (size_t i = 0; i < req->nheaders; i++) {
		struct rg_header *h = &req->headers[i];
		size_t olen;

		if (strcmp(h->name, conn->field) != 0)
			continue;
		olen = strlen(h->value);
		if ((value = malloc(olen + 2 + vlen + 1)) == NULL)
			return rg_http_fail(conn, RG_ERR_INTERNAL);
		memcpy(value, h->value, olen);
		memcpy(value + olen, ", ", 2);
		memcpy(value + olen + 2, v, vlen);
		value[olen + 2 + vlen] = '\0';
		free(h->value);
		h->value = value;
		goto out;
	}

	if (req->nheaders == conn->hcap) {
		size_t ncap = conn->hcap != 0 ? conn->hcap * 2 : 16;
		struct rg_header *nh;

		if ((nh = reallocarray(req->headers, ncap, sizeof(*nh))) == NULL)
			return rg_http_fail(conn, RG_ERR_INTERNAL);
		req->headers = nh;
		conn->hcap = ncap;
	}
	name = strndup(conn->field, conn->field_len);
	value = strndup(v, vlen);
	if (name == NULL || value == NULL) {
		free(name);
		free(value);
		return rg_http_fail(conn, RG_ERR_INTERNAL);
	}
	req->headers[req->nheaders].name = name;
	req->headers[req->nheaders].value = value;
	req->nheaders++;
 out:
	conn->field_len = conn->value_len = 0;
	conn->in_value = 0;
	return 0;
}

static int
rg_http_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct rg_http_conn *conn = p->data;

	/* Trailers of a chunked body: not part of the request we hand over. */
	if (conn->phase != RG_HTTP_HEAD)
		return 0;
	if (conn->in_value && rg_http_header_done(conn) != 0)
		return -1;
	if (rg_http_append(&conn->field, &conn->field_len, &conn->field_cap,
	                   at, len) != 0)
		return rg_http_fail(conn, RG_ERR_INTERNAL);
	return 0;
}

static int
rg_http_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct rg_http_conn *conn = p->data;

	if (conn->phase != RG_HTTP_HEAD)
		return 0;
	conn->in_value = 1;
	if (rg_http_append(&conn->value, &conn->value_len, &conn->value_cap,
	                   at, len) != 0)
		return rg_http_fail(conn, RG_ERR_INTERNAL);
	return 0;
}

static void
rg_http_on_continue_written(uv_write_t *wr, int status)
{
	struct rg_http_conn *conn = wr->data;

	if (status < 0 && !conn->closing)
		rg_http_conn_close(conn);
}

static int
rg_http_on_headers_complete(http_parser *p)
{
	static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct rg_http_conn *conn = p->data;
	struct rg_http *http = conn->http;
	struct rg_request *req = &conn->req;
	const char *expect, *q;
	int has_cl = (p->flags & F_CONTENTLENGTH) != 0;

	if (conn->in_value && rg_http_header_done(conn) != 0)
		return -1;
	if (p->http_major != 1 || (p->http_minor != 0 && p->http_minor != 1))
		return rg_http_fail(conn, RG_ERR_MALFORMED_HTTP);
	/*
	 * Nothing may change what the bytes after the head mean: no protocol
	 * switch, no tunnel, and a single, unambiguous body length.
	 */
	if (p->upgrade || p->method == HTTP_CONNECT ||
	    rg_request_header(req, "upgrade") != NULL)
		return rg_http_fail(conn, RG_ERR_MALFORMED_HTTP);
	if (rg_request_header(req, "transfer-encoding") != NULL &&
	    (has_cl || rg_request_header(req, "content-length") != NULL))
		return rg_http_fail(conn, RG_ERR_MALFORMED_HTTP);
	if (req->target == NULL)
		return rg_http_fail(conn, RG_ERR_MALFORMED_HTTP);
	/* Refuse before the body is sent, not after it was read. */
	if (has_cl && p->content_length > http->lim.max_body)
		return rg_http_fail(conn, RG_ERR_BODY_TOO_LARGE);

	snprintf(req->method, sizeof(req->method), "%s",
	         http_method_str((enum http_method)p->method));
	conn->head_method = p->method == HTTP_HEAD;
	q = strchr(req->target, '?');
	if (q != NULL) {
		req->path = strndup(req->target, (size_t)(q - req->target));
		req->query = strdup(q + 1);
		if (req->path == NULL || req->query == NULL)
			return rg_http_fail(conn, RG_ERR_INTERNAL);
	} else if ((req->path = strdup(req->target)) == NULL)
		return rg_http_fail(conn, RG_ERR_INTERNAL);
	snprintf(req->peer, sizeof(req->peer), "%s", conn->peer);
	req->received_ms = rg_http_now_ms();

	if (has_cl && p->content_length > 0) {
		if ((req->body = malloc((size_t)p->content_length)) == NULL)
			return rg_http_fail(conn, RG_ERR_INTERNAL);
		conn->body_cap = (size_t)p->content_length;
	}
	expect = rg_request_header(req, "expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
	    p->http_minor == 1 &&
	    ((has_cl && p->content_length > 0) || (p->flags & F_CHUNKED))) {
		uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);

		/* Static bytes: nothing to free when the write ends. */
		conn->creq.data = conn;
		if (uv_write(&conn->creq, (uv_stream_t *)&conn->tcp, &b, 1,
		             rg_http_on_continue_written) != 0)
			return rg_http_fail(conn, RG_ERR_INTERNAL);
	}
	conn->phase = RG_HTTP_BODY;
	return 0;
}

static int
rg_http_on_body(http_parser *p, const char *at, size_t len)
{
	struct rg_http_conn *conn = p->data;
	struct rg_request *req = &conn->req;
	size_t max = conn->http->lim.max_body;

	/* Chunked bodies announce no length: the limit is checked as they grow. */
	if (len > max || req->body_len > max - len)
		return rg_http_fail(conn, RG_ERR_BODY_TOO_LARGE);
	if (req->body_len + len > conn->body_cap) {
		size_t ncap = conn->body_cap != 0 ? conn->body_cap : 4096;
		uint8_t *nb;

		while (ncap < req->body_len + len)
			ncap *= 2;
		if (ncap > max)
			ncap = max;
		if ((nb = realloc(req->body, ncap)) == NULL)
			return rg_http_fail(conn, RG_ERR_INTERNAL);
		req->body = nb;
		conn->body_cap = ncap;
	}
	memcpy(req->body + req->body_len, at, len);
	req->body_len += len;
	return 0;
}

static int
rg_http_on_message_complete(http_parser *p)
{
	struct rg_http_conn *conn = p->data;

	conn->keep_alive = http_should_keep_alive(p);
	conn->phase = RG_HTTP_DONE;
	/* One request at a time: the rest of the buffer waits for the reply. */
	http_parser_pause(p, 1);
	return 0;
}

/* ---- connection ---- */

static void
rg_http_on_timer(uv_timer_t *t);

static void
rg_http_timer_start(struct rg_http_conn *conn, enum rg_http_timer_mode mode,
                    uint64_t ms)
{
	if (conn->closing)
		return;
	conn->timer_mode = mode;
	/* Fails only for a closing handle, which was excluded above. */
	if (uv_timer_start(&conn->timer, rg_http_on_timer, ms, 0) != 0)
		abort();
}

static void
rg_http_timer_stop(struct rg_http_conn *conn)
{
	if (!conn->closing)
		(void)uv_timer_stop(&conn->timer); /* cannot fail */
}

static void
rg_http_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct rg_http_conn *conn = h->data;

	(void)suggested;
	/* Out of memory: a zero-length buffer makes libuv report UV_ENOBUFS
	 * to rg_http_on_read, which closes the connection. */
	if (conn->inbuf == NULL && (conn->inbuf = malloc(RG_HTTP_INBUF)) == NULL) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	/* After the bytes not parsed yet (pipelined behind a request in
	 * hand); reading stops before the buffer is full (rg_http_on_read). */
	*buf = uv_buf_init(conn->inbuf + conn->inlen,
	                   (unsigned)(RG_HTTP_INBUF - conn->inlen));
}

/* Everything read was parsed: the buffer goes back until the next read. */
static void
rg_http_inbuf_release(struct rg_http_conn *conn)
{
	conn->inoff = conn->inlen = 0;
	free(conn->inbuf);
	conn->inbuf = NULL;
}

static void
rg_http_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void
rg_http_read_start(struct rg_http_conn *conn)
{
	if (conn->reading || conn->closing)
		return;
	if (uv_read_start((uv_stream_t *)&conn->tcp, rg_http_on_alloc,
	                  rg_http_on_read) != 0) {
		rg_http_conn_close(conn);
		return;
	}
	conn->reading = 1;
}

static void
rg_http_read_stop(struct rg_http_conn *conn)
{
	if (!conn->reading || conn->closing)
		return;
	(void)uv_read_stop((uv_stream_t *)&conn->tcp); /* always 0 */
	conn->reading = 0;
}

/* One of the handles counted in nopen finished closing. */
static void
rg_http_handle_gone(struct rg_http *http)
{
	http->nopen--;
	if (http->closing && http->nopen == 0 && !http->close_done) {
		http->close_done = 1;
		if (http->close_cb != NULL)
			http->close_cb(http->close_ctx);
	}
}

static void
rg_http_on_conn_closed(uv_handle_t *h)
{
	struct rg_http_conn *conn = h->data;
	struct rg_http *http = conn->http;

	if (--conn->handles > 0)
		return;
	rg_http_request_free(&conn->req);
	free(conn->field);
	free(conn->value);
	free(conn->wbuf);
	free(conn->inbuf);
	free(conn);
	rg_http_handle_gone(http);
}

static void
rg_http_conn_close(struct rg_http_conn *conn)
{
	struct rg_http *http = conn->http;

	if (conn->closing)
		return;
	conn->closing = 1;
	if (conn->reply != NULL) {
		/* The handler still holds the token: let it free itself later. */
		conn->reply->conn = NULL;
		conn->reply = NULL;
	}
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		http->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	conn->prev = conn->next = NULL;
	http->nconns--;
	conn->handles = 2;
	uv_close((uv_handle_t *)&conn->tcp, rg_http_on_conn_closed);
	uv_close((uv_handle_t *)&conn->timer, rg_http_on_conn_closed);
}

static void
rg_http_on_shutdown(uv_shutdown_t *sr, int status)
{
	struct rg_http_conn *conn = sr->data;

	if (status < 0 && !conn->closing)
		rg_http_conn_close(conn);
}

/* The last response is out: half-close, drain briefly, then close. */
static void
rg_http_conn_linger(struct rg_http_conn *conn)
{
	conn->phase = RG_HTTP_LINGER;
	rg_http_inbuf_release(conn);
	conn->sreq.data = conn;
	if (uv_shutdown(&conn->sreq, (uv_stream_t *)&conn->tcp,
	                rg_http_on_shutdown) != 0) {
		rg_http_conn_close(conn);
		return;
	}
	rg_http_timer_start(conn, RG_HTTP_T_LINGER, RG_HTTP_LINGER_MS);
	rg_http_read_start(conn);
}

/*
 * The response is out and its buffer freed: linger to close, or be ready
 * for the next request, maybe already buffered (pipelining). Inside
 * rg_http_conn_process (an answer written at once), its loop goes on.
 */
static void
rg_http_conn_sent(struct rg_http_conn *conn)
{
	if (conn->close_after) {
		rg_http_conn_linger(conn);
		return;
	}
	conn->busy = 0;
	conn->phase = RG_HTTP_IDLE;
	conn->head_bytes = 0;
	http_parser_pause(&conn->parser, 0);
	rg_http_timer_start(conn, RG_HTTP_T_IDLE, conn->http->lim.idle_timeout_ms);
	if (!conn->processing)
		rg_http_conn_process(conn);
}

static void
rg_http_on_written(uv_write_t *wr, int status)
{
	struct rg_http_conn *conn = wr->data;

	free(conn->wbuf);
	conn->wbuf = NULL;
	if (conn->closing)
		return;
	if (status < 0) {
		rg_http_conn_close(conn);
		return;
	}
	rg_http_conn_sent(conn);
}

/*
 * Write one response. The buffer is the connection's single write slot;
 * it is freed in the write callback.
 */
static void
rg_http_conn_send(struct rg_http_conn *conn, int status, const char *body,
                  size_t body_len, int close_after, int text)
{
	const char *reason = http_status_str((enum http_status)status);
	char head[256];
	size_t send_len;
	uv_buf_t b;
	int n;

	if (reason == NULL || reason[0] == '<')
		reason = "Status";
	if (body == NULL)
		body_len = 0;
	n = snprintf(head, sizeof(head),
	             "HTTP/1.1 %d %s\r\n"
	             "Content-Type: %s\r\n"
	             "Content-Length: %zu\r\n"
	             "Cache-Control: no-store\r\n"
	             "Connection: %s\r\n\r\n",
	             status, reason,
	             text ? "text/plain; version=0.0.4; charset=utf-8"
	                  : "application/json",
	             body_len, close_after ? "close" : "keep-alive");
	if (n < 0 || (size_t)n >= sizeof(head) || status < 100 || status > 999) {
		rg_http_conn_close(conn);
		return;
	}
	/* A HEAD response announces the length but carries no body bytes. */
	send_len = (size_t)n + (conn->head_method ? 0 : body_len);
	if ((conn->wbuf = malloc(send_len)) == NULL) {
		rg_http_conn_close(conn);
		return;
	}
	memcpy(conn->wbuf, head, (size_t)n);
	if (send_len > (size_t)n)
		memcpy(conn->wbuf + n, body, body_len);
	conn->busy = 1;
	conn->close_after = close_after;
	conn->wreq.data = conn;
	b = uv_buf_init(conn->wbuf, (unsigned)send_len);
	switch (rg_uv_write_now((uv_stream_t *)&conn->tcp, &conn->wreq, &b,
	                        rg_http_on_written)) {
	case 1:
		free(conn->wbuf);
		conn->wbuf = NULL;
		rg_http_conn_sent(conn);
		break;
	case 0:
		break;
	default:
		free(conn->wbuf);
		conn->wbuf = NULL;
		rg_http_conn_close(conn);
	}
}

int
rg_uv_write_now(uv_stream_t *s, uv_write_t *req, uv_buf_t *buf,
                uv_write_cb cb)
{
	uv_buf_t rest = *buf;
	int n;

	n = uv_try_write(s, &rest, 1);
	if (n >= 0 && (size_t)n == rest.len)
		return 1;
	if (n < 0 && n != UV_EAGAIN)
		return -1;
	if (n > 0) {
		rest.base += n;
		rest.len -= (size_t)n;
	}
	return uv_write(req, s, &rest, 1, cb) == 0 ? 0 : -1;
}

/* The front answers on its own (framing, limits, timeout) and closes. */
static void
rg_http_conn_refuse(struct rg_http_conn *conn, rg_err err)
{
	struct rg_response resp = {0};

	rg_http_read_stop(conn);
	rg_http_timer_stop(conn);
	conn->phase = RG_HTTP_DONE;
	conn->head_method = 0;
	/* On -1 resp holds the fixed out-of-memory 500 body: send that. */
	(void)rg_response_error(&resp, err, NULL, NULL);
	rg_http_conn_send(conn, resp.status, resp.body, resp.body_len, 1, 0);
	rg_response_clear(&resp);
}

/*
 * A request is complete: hand it to the handler. Reading goes on: a
 * client waiting for its answer sends nothing, and stopping and starting
 * again cost the front two epoll_ctl calls a request. What a client
 * sends meanwhile (pipelining) waits in the buffer, read no further once
 * the buffer is full; an EOF meanwhile waits for the answer to leave
 * (rg_http_on_read).
 */
static void
rg_http_conn_dispatch(struct rg_http_conn *conn)
{
	struct rg_http *http = conn->http;
	struct rg_http_reply *reply;

	if ((reply = calloc(1, sizeof(*reply))) == NULL) {
		rg_http_conn_refuse(conn, RG_ERR_INTERNAL);
		return;
	}
	reply->conn = conn;
	reply->req = conn->req;
	memset(&conn->req, 0, sizeof(conn->req));
	conn->target_len = conn->target_cap = conn->hcap = conn->body_cap = 0;
	conn->reply = reply;
	conn->busy = 1;
	if (conn->inlen == RG_HTTP_INBUF)
		rg_http_read_stop(conn);
	/* The handler's time is not the client's: no timer meanwhile. */
	rg_http_timer_stop(conn);
	/* May reply at once, or close everything (conn stays valid until
	 * the loop has run uv_close's callbacks). */
	http->handler(http->ctx, &reply->req, reply);
}

/* Feed buffered bytes to the parser until a request is complete. */
static void
rg_http_conn_process(struct rg_http_conn *conn)
{
	const struct rg_http_limits *lim = &conn->http->lim;

	while (!conn->busy && !conn->closing && conn->inoff < conn->inlen) {
		size_t len = conn->inlen - conn->inoff, n;
		int head = conn->phase == RG_HTTP_IDLE || conn->phase == RG_HTTP_HEAD;
		enum http_errno herr;

		/*
		 * The head is fed at most up to the limit, so that a head which
		 * is not complete by then is over it, whatever the read sizes.
		 */
		if (head && len > lim->max_header - conn->head_bytes)
			len = lim->max_header - conn->head_bytes;
		n = http_parser_execute(&conn->parser, &conn->http->settings,
		                        conn->inbuf + conn->inoff, len);
		conn->inoff += n;
		herr = HTTP_PARSER_ERRNO(&conn->parser);
		if (conn->fail != RG_OK) {
			rg_http_conn_refuse(conn, conn->fail);
			return;
		}
		if (herr == HPE_PAUSED && conn->phase == RG_HTTP_DONE) {
			/* Answered at once (busy again 0), the loop goes on. */
			conn->processing = 1;
			rg_http_conn_dispatch(conn);
			conn->processing = 0;
			continue;
		}
		if (herr != HPE_OK) {
			rg_http_conn_refuse(conn, herr == HPE_HEADER_OVERFLOW ?
			    RG_ERR_HEADERS_TOO_LARGE : RG_ERR_MALFORMED_HTTP);
			return;
		}
		if (conn->phase == RG_HTTP_IDLE || conn->phase == RG_HTTP_HEAD) {
			conn->head_bytes += n;
			if (conn->head_bytes >= lim->max_header) {
				rg_http_conn_refuse(conn, RG_ERR_HEADERS_TOO_LARGE);
				return;
			}
		}
	}
	if (conn->busy || conn->closing)
		return;
	rg_http_inbuf_release(conn);
	rg_http_read_start(conn);
}

static void
rg_http_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct rg_http_conn *conn = s->data;

	(void)buf;
	if (conn->closing)
		return;
	if (nread < 0) {
		/*
		 * EOF with a request in hand: the peer may only have shut its
		 * writing side, and its answer still leaves. Reading starts
		 * again once it is out, finds the EOF again and closes.
		 */
		if (nread == UV_EOF && conn->busy && conn->phase != RG_HTTP_LINGER) {
			rg_http_read_stop(conn);
			return;
		}
		/* EOF or error: there is nobody left to answer. */
		rg_http_conn_close(conn);
		return;
	}
	if (nread == 0 || conn->phase == RG_HTTP_LINGER) {
		/* Nothing after all (EAGAIN), or drained and dropped. */
		if (conn->inlen == 0 || conn->phase == RG_HTTP_LINGER)
			rg_http_inbuf_release(conn);
		return;
	}
	conn->inlen += (size_t)nread;
	/* Full while a request is in hand: the rest waits in the socket. */
	if (conn->busy && conn->inlen == RG_HTTP_INBUF)
		rg_http_read_stop(conn);
	rg_http_conn_process(conn);
}

static void
rg_http_on_timer(uv_timer_t *t)
{
	struct rg_http_conn *conn = t->data;

	if (conn->closing)
		return;
	if (conn->timer_mode == RG_HTTP_T_REQUEST && !conn->busy)
		rg_http_conn_refuse(conn, RG_ERR_REQUEST_TIMEOUT);
	else
		rg_http_conn_close(conn);
}

static void
rg_http_on_refused_closed(uv_handle_t *h)
{
	struct rg_http *http = h->data;

	free(h);
	rg_http_handle_gone(http);
}

/*
 * Over the connection limit: accept and close at once. Leaving the
 * connection in the backlog would stop libuv from accepting any other.
 */
static void
rg_http_refuse_accept(struct rg_http *http)
{
	uv_tcp_t *t;

	if ((t = malloc(sizeof(*t))) == NULL)
		return;
	if (uv_tcp_init(http->loop, t) != 0) {
		free(t);
		return;
	}
	t->data = http;
	http->nopen++;
	(void)uv_accept((uv_stream_t *)&http->listener, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, rg_http_on_refused_closed);
}

static void
rg_http_on_connection(uv_stream_t *server, int status)
{
	struct rg_http *http = server->data;
	struct rg_http_conn *conn;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);

	if (status < 0 || http->closing)
		return;
	if (http->nconns >= http->lim.max_connections ||
	    (conn = calloc(1, sizeof(*conn))) == NULL) {
		rg_http_refuse_accept(http);
		return;
	}
	if (uv_tcp_init(http->loop, &conn->tcp) != 0) {
		free(conn);
		rg_http_refuse_accept(http);
		return;
	}
	/* A fresh timer on a live loop cannot fail to initialise. */
	(void)uv_timer_init(http->loop, &conn->timer);
	conn->tcp.data = conn;
	conn->timer.data = conn;
	conn->http = http;
	http_parser_init(&conn->parser, HTTP_REQUEST);
	conn->parser.data = conn;
	conn->phase = RG_HTTP_IDLE;
	conn->next = http->conns;
	if (http->conns != NULL)
		http->conns->prev = conn;
	http->conns = conn;
	http->nconns++;
	http->nopen++;
	if (uv_accept(server, (uv_stream_t *)&conn->tcp) != 0 ||
	    uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&ss, &sslen) != 0 ||
	    rg_http_addr_str((struct sockaddr *)&ss, conn->peer,
	                     sizeof(conn->peer)) != 0) {
		rg_http_conn_close(conn);
		return;
	}
	/* Responses are written whole; do not hold them back for Nagle. */
	(void)uv_tcp_nodelay(&conn->tcp, 1);
	rg_http_timer_start(conn, RG_HTTP_T_IDLE, http->lim.idle_timeout_ms);
	rg_http_read_start(conn);
}

/* ---- server ---- */

rg_http *
rg_http_new(uv_loop_t *loop, const struct rg_http_limits *lim,
            rg_http_handler handler, void *ctx)
{
	struct rg_http *http;

	if (loop == NULL || handler == NULL)
		return NULL;
	if (lim != NULL && (lim->max_header == 0 || lim->max_connections == 0))
		return NULL;
	if ((http = calloc(1, sizeof(*http))) == NULL)
		return NULL;
	if (uv_tcp_init(loop, &http->listener) != 0) {
		free(http);
		return NULL;
	}
	http->listener.data = http;
	http->nopen = 1;
	http->loop = loop;
	if (lim != NULL)
		http->lim = *lim;
	else
		rg_http_limits_default(&http->lim);
	http->handler = handler;
	http->ctx = ctx;
	http_parser_settings_init(&http->settings);
	http->settings.on_message_begin = rg_http_on_message_begin;
	http->settings.on_url = rg_http_on_url;
	http->settings.on_header_field = rg_http_on_header_field;
	http->settings.on_header_value = rg_http_on_header_value;
	http->settings.on_headers_complete = rg_http_on_headers_complete;
	http->settings.on_body = rg_http_on_body;
	http->settings.on_message_complete = rg_http_on_message_complete;
	return http;
}

int
rg_http_listen_fd(rg_http *http, int fd)
{
	int r;

	if (http == NULL || fd < 0)
		return UV_EINVAL;
	if (http->closing)
		return UV_ECANCELED;
	if (http->listening)
		return UV_EALREADY;
	if ((r = uv_tcp_open(&http->listener, fd)) != 0)
		return r;
	if ((r = uv_listen((uv_stream_t *)&http->listener, RG_HTTP_BACKLOG,
	                   rg_http_on_connection)) != 0)
		return r;
	http->listening = 1;
	return 0;
}

int
rg_http_listen(rg_http *http, const char *host, int port, char *bound,
               size_t boundlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), r;

	if (http == NULL || host == NULL || port < 0 || port > 65535)
		return UV_EINVAL;
	if (http->closing)
		return UV_ECANCELED;
	if (http->listening)
		return UV_EALREADY;
	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
		return UV_EINVAL;
	if ((r = uv_tcp_bind(&http->listener, (struct sockaddr *)&ss, 0)) != 0)
		return r;
	if ((r = uv_listen((uv_stream_t *)&http->listener, RG_HTTP_BACKLOG,
	                   rg_http_on_connection)) != 0)
		return r;
	http->listening = 1;
	if (bound != NULL && boundlen > 0) {
		if ((r = uv_tcp_getsockname(&http->listener,
		                            (struct sockaddr *)&ss, &sslen)) != 0)
			return r;
		if ((r = rg_http_addr_str((struct sockaddr *)&ss, bound,
		                          boundlen)) != 0)
			return r;
	}
	return 0;
}

void
rg_http_reply(struct rg_http_reply *reply, const struct rg_response *resp)
{
	struct rg_http_conn *conn;
	struct rg_response oops = {0};

	if (reply == NULL)
		return;
	conn = reply->conn;
	rg_http_request_free(&reply->req);
	free(reply);
	if (conn == NULL)
		return; /* the connection went away: drop the response */
	conn->reply = NULL;
	if (resp == NULL) {
		(void)rg_response_error(&oops, RG_ERR_INTERNAL, NULL, NULL);
		resp = &oops;
	}
	rg_http_conn_send(conn, resp->status, resp->body, resp->body_len,
	                  !conn->keep_alive || conn->http->closing, resp->text);
	rg_response_clear(&oops);
}

static void
rg_http_on_listener_closed(uv_handle_t *h)
{
	struct rg_http *http = h->data;

	rg_http_handle_gone(http);
}

void
rg_http_close(rg_http *http, void (*cb)(void *ctx), void *ctx)
{
	if (http == NULL || http->closing)
		return;
	http->closing = 1;
	http->close_cb = cb;
	http->close_ctx = ctx;
	uv_close((uv_handle_t *)&http->listener, rg_http_on_listener_closed);
	while (http->conns != NULL)
		rg_http_conn_close(http->conns);
}

void
rg_http_free(rg_http *http)
{
	if (http == NULL)
		return;
	/* Handles on the loop still point here: freeing now is a bug. */
	if (http->nopen != 0)
		abort();
	free(http);
}
