/*
 * gw.c -- starts the real daemon for integration tests and talks to it
 * over TCP, exactly as a department's system would.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

static void
rg_gw_spawn(struct rg_gw *gw)
{
	char bin[512], line[512];
	int pipefd[2];
	FILE *out;

	snprintf(bin, sizeof(bin), "%s/recgated", rg_test_build());
	CHECK(pipe(pipefd) == 0);
	gw->pid = fork();
	CHECK(gw->pid >= 0);
	if (gw->pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execl(bin, bin, "-c", gw->conf, "--listen", "127.0.0.1:0", (char *)NULL);
		perror(bin);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	CHECK(out != NULL);
	CHECKF(fgets(line, sizeof(line), out) != NULL, "recgated did not start");
	CHECKF(sscanf(line, "recgated: listening on http://%63[^:]:%d", gw->host,
	              &gw->port) == 2, "unexpected first line: %s", line);
	/* Keep the pipe open (the daemon may print more); it goes with us. */
	snprintf(gw->url, sizeof(gw->url), "http://%s:%d", gw->host, gw->port);
	snprintf(gw->authority, sizeof(gw->authority), "%s:%d", gw->host, gw->port);
}

void
rg_gw_prepare(struct rg_gw *gw, const char *extra_conf)
{
	char cmd[1400];

	memset(gw, 0, sizeof(*gw));
	snprintf(gw->dir, sizeof(gw->dir), "%s/demo", rg_test_tmpdir());
	snprintf(gw->conf, sizeof(gw->conf), "%s/recgate.conf", gw->dir);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl init --demo %s >/dev/null",
	         rg_test_build(), gw->dir);
	CHECKF(system(cmd) == 0, "%s failed", cmd);
	{
		const char *sb = getenv("RG_SANDBOX");
		FILE *f = fopen(gw->conf, "a");

		CHECK(f != NULL);
		/* Sanitizer and valgrind runs turn the sandbox off (see the
		 * Makefile); the plain run keeps the production one. */
		if (sb != NULL && strcmp(sb, "off") == 0)
			fputs("sandbox = off\n", f);
		if (extra_conf != NULL)
			fputs(extra_conf, f);
		fclose(f);
	}
}

void
rg_gw_start(struct rg_gw *gw, const char *extra_conf)
{
	rg_gw_prepare(gw, extra_conf);
	rg_gw_spawn(gw);
}

void
rg_gw_restart(struct rg_gw *gw)
{
	rg_gw_spawn(gw);
}

void
rg_gw_stop(struct rg_gw *gw)
{
	int status;

	CHECK(kill(gw->pid, SIGTERM) == 0);
	while (waitpid(gw->pid, &status, 0) < 0)
		CHECK(errno == EINTR);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "recgated exited with status %d", status);
	gw->pid = 0;
}

void
rg_gw_conf_set(struct rg_gw *gw, const char *name, const char *value)
{
	char line[1024], *text = NULL, tmp[700];
	size_t len = 0, nlen = strlen(name);
	FILE *in, *out;

	snprintf(tmp, sizeof(tmp), "%s.new", gw->conf);
	CHECK((in = fopen(gw->conf, "r")) != NULL);
	CHECK((out = open_memstream(&text, &len)) != NULL);
	while (fgets(line, sizeof(line), in) != NULL) {
		const char *p = line + strspn(line, " \t");

		if (strncmp(p, name, nlen) == 0 &&
		    (p[nlen] == ' ' || p[nlen] == '\t' || p[nlen] == '='))
			continue;
		fputs(line, out);
	}
	fclose(in);
	if (value != NULL)
		fprintf(out, "%s = %s\n", name, value);
	CHECK(fclose(out) == 0);
	CHECK((out = fopen(tmp, "w")) != NULL);
	CHECK(fwrite(text, 1, len, out) == len);
	CHECK(fclose(out) == 0);
	CHECK(rename(tmp, gw->conf) == 0);
	free(text);
}

int
rg_gw_wait_exit(struct rg_gw *gw, int timeout_ms)
{
	int status = 0;
	pid_t r;

	for (int waited = 0;; waited += 10) {
		r = waitpid(gw->pid, &status, WNOHANG);
		if (r == gw->pid)
			break;
		CHECK(r == 0 || errno == EINTR);
		if (waited >= timeout_ms) {
			kill(gw->pid, SIGKILL);
			waitpid(gw->pid, &status, 0);
			gw->pid = 0;
			CHECKF(0, "recgated did not exit within %d ms", timeout_ms);
		}
		usleep(10000);
	}
	gw->pid = 0;
	return status;
}

int
rg_gw_start_fails(const struct rg_gw *gw, const char *passfile, int pass_fd,
                  char *out, size_t outlen)
{
	char bin[600], log[600];
	int status = 0, fd;
	FILE *f;
	size_t n;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/recgated", rg_test_build());
	snprintf(log, sizeof(log), "%s/daemon.out", rg_test_tmpdir());
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (passfile != NULL &&
		    ((fd = open(passfile, O_RDONLY)) < 0 ||
		     dup2(fd, pass_fd) != pass_fd))
			_exit(126);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    dup2(fd, 1) != 1 || dup2(fd, 2) != 2)
			_exit(126);
		execl(bin, bin, "-c", gw->conf, "--listen", "127.0.0.1:0",
		      (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	f = fopen(log, "r");
	CHECK(f != NULL);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
rg_gw_ctl(const char *args, char *out, size_t outlen)
{
	char cmd[4096], path[600];
	FILE *f;
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "%s/ctl.out", rg_test_tmpdir());
	CHECK((size_t)snprintf(cmd, sizeof(cmd), "%s/recgatectl %s > '%s' 2>&1 "
	                       "</dev/null", rg_test_build(), args, path) <
	      sizeof(cmd));
	rc = system(cmd);
	f = fopen(path, "r");
	CHECK(f != NULL);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void
rg_gw_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	CHECK(fputs(text, f) >= 0);
	CHECK(fclose(f) == 0);
}

rg_keystore *
rg_gw_keystore(struct rg_gw *gw)
{
	uint8_t *master = sodium_malloc(RG_KEYSTORE_MASTERLEN);
	char path[700], err[512];
	rg_keystore *ks;

	CHECK(master != NULL);
	snprintf(path, sizeof(path), "%s/master.key", gw->dir);
	CHECKF(rg_keystore_read_master(path, master, err, sizeof(err)) == 0, "%s",
	       err);
	snprintf(path, sizeof(path), "%s/keystore", gw->dir);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	sodium_free(master);
	CHECKF(ks != NULL, "%s", err);
	return ks;
}

char *
rg_gw_build(struct rg_gw *gw, const char *dept, const char *method,
            const char *path, const char *query, const char *body,
            const struct rg_client_opts *opts, size_t *len)
{
	struct rg_client_key key = {0};
	char keyfile[700], err[512], *raw;

	if (dept != NULL) {
		snprintf(keyfile, sizeof(keyfile), "%s/clients/%s.key", gw->dir, dept);
		CHECKF(rg_client_key_load(keyfile, &key, err, sizeof(err)) == 0,
		       "%s", err);
	}
	raw = rg_client_build(gw->authority, dept ? &key : NULL, method, path,
	                      query, (const uint8_t *)body, body ? strlen(body) : 0,
	                      opts, len);
	rg_client_key_clear(&key);
	CHECK(raw != NULL);
	return raw;
}

int
rg_gw_send(struct rg_gw *gw, const char *raw, size_t len, json_t **body)
{
	struct rg_client_resp resp;
	char err[512];

	CHECKF(rg_client_send(gw->host, gw->port, raw, len, &resp, err,
	                      sizeof(err)) == 0, "%s", err);
	if (body != NULL) {
		*body = json_loadb(resp.body, resp.body_len, 0, NULL);
		CHECKF(*body != NULL, "response is not JSON: %s", resp.body);
	}
	free(resp.body);
	return resp.status;
}

int
rg_gw_call(struct rg_gw *gw, const char *dept, const char *method,
           const char *path, const char *query, const char *body,
           const struct rg_client_opts *opts, json_t **resp)
{
	size_t len;
	char *raw = rg_gw_build(gw, dept, method, path, query, body, opts, &len);
	int status = rg_gw_send(gw, raw, len, resp);

	free(raw);
	return status;
}

const char *
rg_gw_code(const json_t *resp)
{
	const char *c = json_string_value(json_object_get(
	    json_object_get(resp, "error"), "code"));
	return c != NULL ? c : "";
}

long long
rg_gw_audit_size(struct rg_gw *gw)
{
	json_t *r;
	long long n;

	CHECK_EQ_INT(rg_gw_call(gw, NULL, "GET", "/healthz", NULL, NULL, NULL, &r), 200);
	n = json_integer_value(json_object_get(r, "audit_size"));
	json_decref(r);
	return n;
}

json_t *
rg_gw_loadgen(struct rg_gw *gw, const char *args)
{
	char cmd[2048], line[16384];
	json_t *r;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s/loadgen closed --port %d --dir %s "
	         "--pid %d %s", rg_test_build(), gw->port, gw->dir, (int)gw->pid,
	         args);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	CHECKF(fgets(line, sizeof(line), p) != NULL, "loadgen printed nothing");
	status = pclose(p);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "loadgen exited with status %d: %s", status, line);
	r = json_loads(line, 0, NULL);
	CHECKF(r != NULL, "not JSON: %s", line);
	return r;
}

char *
rg_gw_submit(struct rg_gw *gw, const char *dept, const char *records_path,
             const char *record)
{
	char path[300];
	json_t *r, *rec;

	CHECK_EQ_INT(rg_gw_call(gw, dept, "POST", records_path, NULL, record, NULL,
	                        &r), 200);
	rec = json_array_get(json_object_get(json_object_get(r, "result"),
	                                     "records"), 0);
	CHECK(json_string_value(json_object_get(rec, "id")) != NULL);
	snprintf(path, sizeof(path), "%s/%s", records_path,
	         json_string_value(json_object_get(rec, "id")));
	json_decref(r);
	return strdup(path);
}

int
rg_gw_exists(const char *dir, const char *rel)
{
	char path[1200];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return lstat(path, &sb) == 0;
}

json_t *
rg_gw_export_entries(const char *exp, const char *action)
{
	char path[700], line[65536];
	json_t *all = json_array();
	FILE *f;

	snprintf(path, sizeof(path), "%s/entries.jsonl", exp);
	f = fopen(path, "r");
	CHECKF(f != NULL, "%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = json_loads(line, 0, NULL), *e;
		const char *b64 = json_string_value(json_object_get(j, "entry"));
		uint8_t bin[16384];
		size_t len;

		CHECK(b64 != NULL);
		CHECK(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL,
		                        &len, NULL,
		                        sodium_base64_VARIANT_ORIGINAL) == 0);
		e = json_loadb((const char *)bin, len, 0, NULL);
		CHECK(e != NULL);
		if (strcmp(json_string_value(json_object_get(e, "action")),
		           action) == 0)
			json_array_append(all, e);
		json_decref(e);
		json_decref(j);
	}
	fclose(f);
	return all;
}
