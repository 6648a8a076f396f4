/*
 * http.h -- the front: the event loop's HTTP/1.1 server.
 *
 * The front owns the listening socket, the connections, HTTP framing
 * (http-parser) and the limits: header size, body size, idle and
 * slow-request timeouts, keep-alive, connection count. It turns bytes into
 * a struct rg_request and hands it to a handler; it never calls storage,
 * policy or crypto itself. Errors it detects on its own (malformed HTTP,
 * oversized header or body, timeouts) it answers with the JSON error body
 * and closes the connection.
 */
#ifndef RG_HTTP_H
#define RG_HTTP_H

#include <stddef.h>

#include <uv.h>

#include "gateway/request.h"

struct rg_http_limits {
	size_t max_header;          /* bytes of request line + headers; 16 KiB */
	size_t max_body;            /* bytes; default 1 MiB */
	unsigned idle_timeout_ms;   /* keep-alive idle; default 60000 */
	unsigned request_timeout_ms;/* from first byte to complete request; 30000 */
	size_t max_connections;     /* refuse (close) beyond this; default 1024 */
};

/* Default limits. */
void rg_http_limits_default(struct rg_http_limits *lim);

typedef struct rg_http rg_http;
/*
 * One pending reply: the handler must answer each request exactly once.
 * Spelled "struct rg_http_reply" (no typedef): a typedef of that name would
 * clash with the function rg_http_reply() below, as C gives both one name
 * space.
 */
struct rg_http_reply;

/*
 * Called for each complete request. req stays valid until rg_http_reply()
 * is called for reply; the handler may answer at once or later (after a
 * group commit). Requests on one connection are handed over one at a time:
 * the next pipelined request waits until this one is answered.
 */
typedef void (*rg_http_handler)(void *ctx, const struct rg_request *req,
                                struct rg_http_reply *reply);

/*
 * lim NULL means the defaults. Returns NULL when out of memory or when
 * max_header or max_connections is 0. Caller owns the result: close it with
 * rg_http_close(), then rg_http_free().
 */
rg_http *rg_http_new(uv_loop_t *loop, const struct rg_http_limits *lim,
                     rg_http_handler handler, void *ctx);
/*
 * Bind and listen on host:port (port 0 picks a free one); host is a
 * numeric IPv4 or IPv6 address. On success writes the bound "host:port"
 * into bound ("[::1]:8443" for IPv6). Returns 0 or a negative libuv error
 * code.
 */
int rg_http_listen(rg_http *http, const char *host, int port, char *bound,
                   size_t boundlen);
/*
 * Listen on a socket bound (and listened on) by another process, the
 * monitor, which keeps it across restarts of the front. 0 or a negative
 * libuv error code.
 */
int rg_http_listen_fd(rg_http *http, int fd);
/*
 * Send the response (status, application/json body copied) and release
 * reply and its request. Safe to call after the client went away: the
 * response is then dropped. Call it on the loop's thread. resp NULL sends
 * a 500 internal error.
 */
void rg_http_reply(struct rg_http_reply *reply,
                   const struct rg_response *resp);
/* Stop listening, close every connection; replies still pending are
 * dropped when they come. cb (may be NULL) runs when all handles closed. */
void rg_http_close(rg_http *http, void (*cb)(void *ctx), void *ctx);
/* Free after the close callback ran. */
void rg_http_free(rg_http *http);

/*
 * Write buf to s now if the socket takes it whole (as it nearly always
 * does: no write request, whose completion costs a turn of the loop and
 * an epoll_ctl); what it does not take goes as write request req, with
 * cb called when it is done. Returns 1 when written whole (cb is not
 * called), 0 when the rest is queued, -1 on a write error (nothing
 * queued). The caller owns buf->base until then.
 */
int rg_uv_write_now(uv_stream_t *s, uv_write_t *req, uv_buf_t *buf,
                    uv_write_cb cb);

#endif
