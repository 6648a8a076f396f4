/*
 * recgated.c -- the gateway daemon: reads the config, opens the keeper,
 * starts the HTTP front on the loop and runs until SIGINT/SIGTERM.
 *
 * The front and the keeper meet only through rg_keeper_handle(): the front
 * frames requests, the keeper decides them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <uv.h>

#include "gateway/config.h"
#include "gateway/http.h"
#include "gateway/keeper.h"

struct rg_daemon {
	uv_loop_t *loop;
	rg_keeper *kp;
	rg_http *http;
	uv_signal_t sigint, sigterm;
	int stopping;
};

static void
usage(void)
{
	fprintf(stderr, "usage: recgated -c CONFIG [--listen HOST:PORT]\n");
	exit(2);
}

/* The keeper answers; hand the response back to the front. */
static void
rg_daemon_done(void *ctx, const struct rg_response *resp)
{
	rg_http_reply(ctx, resp);
}

static void
rg_daemon_request(void *ctx, const struct rg_request *req, struct rg_http_reply *reply)
{
	struct rg_daemon *d = ctx;

	rg_keeper_handle(d->kp, req, rg_daemon_done, reply);
}

static void
rg_daemon_signal_closed(uv_handle_t *h)
{
	(void)h;
}

static void
rg_daemon_http_closed(void *ctx)
{
	struct rg_daemon *d = ctx;

	rg_keeper_close(d->kp);
	d->kp = NULL;
	uv_close((uv_handle_t *)&d->sigint, rg_daemon_signal_closed);
	uv_close((uv_handle_t *)&d->sigterm, rg_daemon_signal_closed);
}

static void
rg_daemon_signal(uv_signal_t *sig, int signum)
{
	struct rg_daemon *d = sig->data;

	if (d->stopping)
		return;
	d->stopping = 1;
	fprintf(stderr, "recgated: signal %d, stopping\n", signum);
	rg_http_close(d->http, rg_daemon_http_closed, d);
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *listen = NULL;
	struct rg_http_limits lim;
	struct rg_config cfg;
	struct rg_daemon d = {0};
	struct rlimit nocore = {0, 0};
	char err[1024], bound[128];
	int rc;

	/* Everything recgate writes is for its own user only. */
	umask(077);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else
			usage();
	}
	if (conf == NULL)
		usage();
	/* Keys are in this process: no core files, no ptrace by peers. */
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);

	rg_config_defaults(&cfg);
	if (rg_config_load(conf, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgated: %s\n", err);
		return 1;
	}
	if (listen != NULL &&
	    rg_config_parse_listen(listen, cfg.listen_host,
	                           sizeof(cfg.listen_host), &cfg.listen_port) != 0) {
		fprintf(stderr, "recgated: --listen %s: expected HOST:PORT\n", listen);
		return 1;
	}
	d.loop = uv_default_loop();
	d.kp = rg_keeper_open(&cfg, d.loop, err, sizeof(err));
	if (d.kp == NULL) {
		fprintf(stderr, "recgated: %s\n", err);
		return 1;
	}
	rg_http_limits_default(&lim);
	lim.max_body = cfg.max_body;
	lim.max_header = cfg.max_header;
	lim.idle_timeout_ms = cfg.idle_timeout_ms;
	lim.request_timeout_ms = cfg.request_timeout_ms;
	lim.max_connections = cfg.max_connections;
	d.http = rg_http_new(d.loop, &lim, rg_daemon_request, &d);
	if (d.http == NULL) {
		fprintf(stderr, "recgated: out of memory\n");
		return 1;
	}
	rc = rg_http_listen(d.http, cfg.listen_host, cfg.listen_port, bound,
	                    sizeof(bound));
	if (rc != 0) {
		fprintf(stderr, "recgated: listen on %s:%d: %s\n", cfg.listen_host,
		        cfg.listen_port, uv_strerror(rc));
		return 1;
	}
	uv_signal_init(d.loop, &d.sigint);
	uv_signal_init(d.loop, &d.sigterm);
	d.sigint.data = d.sigterm.data = &d;
	uv_signal_start(&d.sigint, rg_daemon_signal, SIGINT);
	uv_signal_start(&d.sigterm, rg_daemon_signal, SIGTERM);

	printf("recgated: listening on http://%s\n", bound);
	fflush(stdout);
	uv_run(d.loop, UV_RUN_DEFAULT);
	rg_http_free(d.http);
	uv_loop_close(d.loop);
	fprintf(stderr, "recgated: stopped\n");
	return 0;
}
