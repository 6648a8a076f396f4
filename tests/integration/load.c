/*
 * load.c -- steady signed traffic for the key-rotation tests (load.h).
 * Workers never CHECK (a failure is counted, not fatal, so that the test
 * can say how many failed); everything else does.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "gateway/client.h"
#include "tests/integration/load.h"
#include "tests/test.h"

#define RG_LOAD_PATH "/v1/resources/hazard-declaration/records"
#define RG_LOAD_MAX 4096        /* records one load keeps track of */
#define RG_LOAD_WORKERS 8

struct rg_load_rec {
	char id[40];
	char employer[48];
};

struct rg_load_worker {
	struct rg_load *l;
	pthread_t th;
	int id;
};

struct rg_load {
	struct rg_gw *gw;
	int interval_ms;
	int nworkers;
	struct rg_load_worker w[RG_LOAD_WORKERS];
	pthread_mutex_t mu;
	int stop;
	int ok, failed, receipts;
	struct rg_load_rec *recs;
	int nrecs;
};

/* One signed request; the status (0: no answer) and the body. */
static int
rg_load_call(struct rg_gw *gw, const char *method, const char *path,
             const char *body, json_t **out)
{
	struct rg_client_resp resp = {0};
	char err[256], *raw;
	size_t len;
	int status = 0;

	*out = NULL;
	raw = rg_gw_build(gw, "health", method, path, NULL, body, NULL, &len);
	if (rg_client_send(gw->host, gw->port, raw, len, &resp, err,
	                   sizeof(err)) == 0) {
		status = resp.status;
		*out = json_loadb(resp.body, resp.body_len, 0, NULL);
	}
	free(resp.body);
	free(raw);
	return *out != NULL ? status : 0;
}

/* Keep an answer as the next receipt file; 0 or -1. */
static int
rg_load_keep(struct rg_load *l, json_t *r)
{
	char path[700];
	int n;

	pthread_mutex_lock(&l->mu);
	n = l->receipts++;
	pthread_mutex_unlock(&l->mu);
	snprintf(path, sizeof(path), "%s/load-%05d.json", rg_test_tmpdir(), n);
	return json_dump_file(r, path, JSON_COMPACT);
}

static void *
rg_load_run(void *arg)
{
	struct rg_load_worker *w = arg;
	struct rg_load *l = w->l;

	for (int i = 0;; i++) {
		char emp[48], body[512], rpath[300];
		const char *id, *got;
		json_t *r, *s;
		int good, stop;

		pthread_mutex_lock(&l->mu);
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		if (stop)
			break;
		snprintf(emp, sizeof(emp), "稳定-%d-%d", w->id, i);
		snprintf(body, sizeof(body), "{\"employer\": \"%s\", "
		         "\"employer_credit_code\": \"91110000100000009X\", "
		         "\"hazard_categories\": \"噪声\", \"worker_count\": 9, "
		         "\"exposed_worker_count\": 1, \"declaration_type\": "
		         "\"首次申报\", \"declaration_date\": \"2026-06-01\"}", emp);
		good = rg_load_call(l->gw, "POST", RG_LOAD_PATH, body, &r) == 200;
		id = json_string_value(json_object_get(json_array_get(
		    json_object_get(json_object_get(r, "result"), "records"), 0),
		    "id"));
		good = good && id != NULL && rg_load_keep(l, r) == 0;
		if (good) {
			snprintf(rpath, sizeof(rpath), "%s/%s", RG_LOAD_PATH, id);
			good = rg_load_call(l->gw, "GET", rpath, NULL, &s) == 200;
			got = json_string_value(json_object_get(json_object_get(
			    json_object_get(s, "result"), "fields"), "employer"));
			good = good && got != NULL && strcmp(got, emp) == 0 &&
			       rg_load_keep(l, s) == 0;
			json_decref(s);
		}
		pthread_mutex_lock(&l->mu);
		if (good) {
			l->ok++;
			if (l->nrecs < RG_LOAD_MAX) {
				snprintf(l->recs[l->nrecs].id, sizeof(l->recs[0].id),
				         "%s", id);
				snprintf(l->recs[l->nrecs].employer,
				         sizeof(l->recs[0].employer), "%s", emp);
				l->nrecs++;
			}
		} else {
			l->failed++;
		}
		pthread_mutex_unlock(&l->mu);
		json_decref(r);
		usleep((useconds_t)l->interval_ms * 1000);
	}
	return NULL;
}

struct rg_load *
rg_load_start(struct rg_gw *gw, int workers, int interval_ms)
{
	struct rg_load *l = calloc(1, sizeof(*l));

	CHECK(l != NULL && workers > 0 && workers <= RG_LOAD_WORKERS);
	CHECK((l->recs = calloc(RG_LOAD_MAX, sizeof(*l->recs))) != NULL);
	l->gw = gw;
	l->interval_ms = interval_ms;
	l->nworkers = workers;
	CHECK(pthread_mutex_init(&l->mu, NULL) == 0);
	for (int i = 0; i < workers; i++) {
		l->w[i] = (struct rg_load_worker){l, 0, i};
		CHECK(pthread_create(&l->w[i].th, NULL, rg_load_run, &l->w[i]) == 0);
	}
	return l;
}

int
rg_load_stop(struct rg_load *l, int min_ok)
{
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; i < l->nworkers; i++)
		CHECK(pthread_join(l->w[i].th, NULL) == 0);
	CHECKF(l->failed == 0, "%d of %d exchange pairs failed under load",
	       l->failed, l->failed + l->ok);
	CHECKF(l->ok >= min_ok, "only %d exchange pairs under load", l->ok);
	return l->ok;
}

void
rg_load_check(struct rg_load *l)
{
	char cmd[16384], exp[700], out[4096], path[700];
	size_t off;
	FILE *f;
	int st;

	for (int i = 0; i < l->nrecs; i++) {
		json_t *r;

		snprintf(path, sizeof(path), "%s/%s", RG_LOAD_PATH, l->recs[i].id);
		CHECK_EQ_INT(rg_gw_call(l->gw, "health", "GET", path, NULL, NULL,
		                        NULL, &r), 200);
		CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
		             json_object_get(r, "result"), "fields"), "employer")),
		             l->recs[i].employer);
		json_decref(r);
	}
	snprintf(exp, sizeof(exp), "%s/load-export", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit export '%s' --url %s "
	         "--key %s/clients/officer.key > /dev/null", rg_test_build(), exp,
	         l->gw->url, l->gw->dir);
	CHECKF(system(cmd) == 0, "%s", cmd);
	/* Receipts 64 at a time (what one verify takes). */
	for (int first = 0; first < l->receipts; first += 64) {
		off = (size_t)snprintf(cmd, sizeof(cmd), "%s/recgatectl audit "
		                       "verify '%s'", rg_test_build(), exp);
		for (int i = first; i < l->receipts && i < first + 64; i++)
			off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
			                        " --receipt %s/load-%05d.json",
			                        rg_test_tmpdir(), i);
		snprintf(path, sizeof(path), "%s/load-verify.out", rg_test_tmpdir());
		CHECK(off + strlen(path) + 16 < sizeof(cmd));
		snprintf(cmd + off, sizeof(cmd) - off, " > %s 2>&1", path);
		st = system(cmd);
		f = fopen(path, "r");
		CHECK(f != NULL);
		out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
		fclose(f);
		CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	}
}

void
rg_load_free(struct rg_load *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->recs);
	free(l);
}
