/*
 * ctl_dbkey.c -- `recgatectl admin --url URL --key ADMIN rotate database`:
 * ask the gateway for a database rekey (POST /v1/admin/db-key/rotate),
 * which can only answer "scheduled" because the rekey runs after the
 * request's batch commits, then poll GET /v1/admin/db-key until the outcome
 * of this rekey is known and print it. It sees key versions, never keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gateway/client.h"
#include "gateway/ctl_dbkey.h"

/* How long to wait for the outcome: the rekey's pause grows with the
 * database (a copy and a check of every page). */
#define RG_DBKEY_WAIT_MS 300000
#define RG_DBKEY_POLL_MS 250

/* One signed call; *out the parsed body (caller decrefs). Returns the
 * HTTP status, or -1 when there was no answer. */
static int
rg_dbkey_call(const char *url, const char *keyfile, const char *method,
              const char *path, json_t **out)
{
	struct rg_client_key key = {0};
	struct rg_client_resp resp = {0};
	char host[256], authority[300], err[1024], *raw;
	size_t rawlen;
	int port, status = -1;

	*out = NULL;
	if (rg_client_parse_url(url, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "recgatectl: --url %s: expected http://HOST:PORT\n",
		        url);
		return -1;
	}
	snprintf(authority, sizeof(authority), "%s:%d", host, port);
	if (rg_client_key_load(keyfile, &key, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		return -1;
	}
	raw = rg_client_build(authority, &key, method, path, NULL, NULL, 0, NULL,
	                      &rawlen);
	rg_client_key_clear(&key);
	if (raw == NULL) {
		fprintf(stderr, "recgatectl: cannot build the request\n");
		return -1;
	}
	if (rg_client_send(host, port, raw, rawlen, &resp, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
	} else {
		status = resp.status;
		*out = json_loadb(resp.body, resp.body_len, 0, NULL);
		if (*out == NULL)
			fprintf(stderr, "recgatectl: the answer is not JSON\n");
		free(resp.body);
	}
	free(raw);
	return status;
}

static void
rg_dbkey_print(const char *what, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	printf("%s%s\n", what, s != NULL ? s : "?");
	free(s);
}

static void
rg_dbkey_sleep(void)
{
	struct timespec ts = {0, RG_DBKEY_POLL_MS * 1000000L};

	nanosleep(&ts, NULL);
}

int
rg_ctl_admin_dbkey(const char *url, const char *keyfile)
{
	json_t *r = NULL, *res, *last;
	json_int_t index, before, want;
	int status;

	status = rg_dbkey_call(url, keyfile, "GET", "/v1/admin/db-key", &r);
	if (status != 200) {
		if (r != NULL)
			rg_dbkey_print("", r);
		json_decref(r);
		return status < 0 ? 2 : 1;
	}
	before = json_integer_value(json_object_get(json_object_get(r, "result"),
	                                            "version"));
	json_decref(r);
	status = rg_dbkey_call(url, keyfile, "POST", "/v1/admin/db-key/rotate",
	                       &r);
	if (r != NULL)
		rg_dbkey_print("", r);
	if (status != 200) {
		if (status > 0)
			fprintf(stderr, "recgatectl: HTTP %d\n", status);
		json_decref(r);
		return status < 0 ? 2 : 1;
	}
	index = json_integer_value(json_object_get(json_object_get(r, "receipt"),
	                                           "index"));
	want = json_integer_value(json_object_get(json_object_get(json_object_get(
	    r, "result"), "database_key"), "version"));
	json_decref(r);
	fprintf(stderr, "recgatectl: database rekey to key %lld scheduled "
	        "(entry %lld); waiting for it\n", (long long)want,
	        (long long)index);
	for (int waited = 0; waited < RG_DBKEY_WAIT_MS;
	     waited += RG_DBKEY_POLL_MS) {
		status = rg_dbkey_call(url, keyfile, "GET", "/v1/admin/db-key", &r);
		res = json_object_get(r, "result");
		last = json_object_get(res, "last");
		if (status == 200 && json_is_integer(json_object_get(
		        last, "scheduled_by")) && json_integer_value(
		        json_object_get(last, "scheduled_by")) == index) {
			const char *outcome = json_string_value(json_object_get(
			    last, "outcome"));
			int ok = outcome != NULL && strcmp(outcome, "rekeyed") == 0;

			rg_dbkey_print(ok ? "rekeyed: " : "FAILED: ", last);
			json_decref(r);
			return ok ? 0 : 1;
		}
		/* Finished across a restart: the new version is active. */
		if (status == 200 && json_integer_value(json_object_get(
		        res, "version")) > before && (last == NULL ||
		        !json_is_integer(json_object_get(last, "scheduled_by")))) {
			rg_dbkey_print("rekeyed: ", res);
			json_decref(r);
			return 0;
		}
		json_decref(r);
		rg_dbkey_sleep();
	}
	fprintf(stderr, "recgatectl: no outcome after %d s; ask again with "
	        "GET /v1/admin/db-key\n", RG_DBKEY_WAIT_MS / 1000);
	return 2;
}
