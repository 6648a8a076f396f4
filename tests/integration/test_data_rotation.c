/*
 * test_data_rotation.c -- record data keys rotated online under load: bodies
 * re-sealed in the background, every record reads throughout, the job
 * survives kill -9, a key is retired and destroyed only once nothing needs it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "gateway/store.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define RES "hazard-declaration"
#define HAZARD "/v1/resources/" RES "/records"
#define MAXREC 2000

struct records {
	char id[MAXREC][40];
	char employer[MAXREC][48];
	size_t n;
};

static char *
record_json(const char *employer)
{
	char *s = NULL;

	CHECK(asprintf(&s, "{\"employer\": \"%s\", \"employer_credit_code\": "
	               "\"91110000100000001X\", \"hazard_categories\": \"噪声\", "
	               "\"worker_count\": 10, \"exposed_worker_count\": 3, "
	               "\"declaration_type\": \"首次申报\", \"declaration_date\": "
	               "\"2026-02-01\"}", employer) > 0);
	return s;
}

/* Submit count records in one request as health, employer "单位-N". */
static void
submit_many(struct rg_gw *gw, struct records *rs, size_t count)
{
	char *text, emp[48];
	json_t *arr = json_array(), *r, *ids;
	size_t base = rs->n, i;

	CHECK(rs->n + count <= MAXREC);
	for (i = 0; i < count; i++) {
		snprintf(emp, sizeof(emp), "单位-%zu", base + i);
		text = record_json(emp);
		json_array_append_new(arr, json_loads(text, 0, NULL));
		free(text);
	}
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	CHECK_EQ_INT(rg_gw_call(gw, "health", "POST", HAZARD, NULL, text, NULL,
	                        &r), 200);
	free(text);
	ids = json_object_get(json_object_get(r, "result"), "records");
	CHECK_EQ_INT(json_array_size(ids), count);
	for (i = 0; i < count; i++) {
		snprintf(rs->id[rs->n], sizeof(rs->id[0]), "%s", json_string_value(
		         json_object_get(json_array_get(ids, i), "id")));
		snprintf(rs->employer[rs->n], sizeof(rs->employer[0]), "单位-%zu",
		         base + i);
		rs->n++;
	}
	json_decref(r);
}

/* Every record of rs reads back, with its content, through the change
 * feed (one call per 1000 versions). */
static void
all_read_back(struct rg_gw *gw, const struct records *rs)
{
	json_t *seen = json_object(), *r, *c;
	long long after = 0;
	char q[64];
	size_t i;

	for (;;) {
		snprintf(q, sizeof(q), "after=%lld&limit=1000", after);
		CHECK_EQ_INT(rg_gw_call(gw, "health", "GET", "/v1/resources/" RES
		                        "/changes", q, NULL, NULL, &r), 200);
		c = json_object_get(json_object_get(r, "result"), "changes");
		for (i = 0; i < json_array_size(c); i++) {
			json_t *ch = json_array_get(c, i);

			json_object_set(seen, json_string_value(json_object_get(ch,
			                "id")), json_object_get(json_object_get(ch,
			                "fields"), "employer"));
		}
		after = json_integer_value(json_object_get(json_object_get(r,
		                           "result"), "next"));
		i = json_array_size(c);
		json_decref(r);
		if (i < 1000)
			break;
	}
	for (i = 0; i < rs->n; i++)
		CHECK_EQ_STR(json_string_value(json_object_get(seen, rs->id[i])),
		             rs->employer[i]);
	json_decref(seen);
}

/* One resource's line of GET /v1/admin/data-keys/reencrypt (new ref). */
static json_t *
progress(struct rg_gw *gw, const char *res)
{
	json_t *r, *line = NULL, *l;
	size_t i;

	CHECK_EQ_INT(rg_gw_call(gw, "admin", "GET", "/v1/admin/data-keys/reencrypt",
	                        NULL, NULL, NULL, &r), 200);
	json_array_foreach(json_object_get(json_object_get(r, "result"),
	                                   "resources"), i, l)
		if (strcmp(json_string_value(json_object_get(l, "resource")), res)
		    == 0)
			line = json_incref(l);
	json_decref(r);
	CHECK(line != NULL);
	return line;
}

/* Wait until nothing of res is under an older key version and its job
 * is not running; returns its progress line. */
static json_t *
wait_reencrypted(struct rg_gw *gw, const char *res)
{
	for (int i = 0; i < 600; i++) {
		json_t *l = progress(gw, res);
		const char *st = json_string_value(json_object_get(l, "state"));

		if (json_integer_value(json_object_get(l, "remaining")) == 0 &&
		    (strcmp(st, "done") == 0 || strcmp(st, "none") == 0))
			return l;
		json_decref(l);
		usleep(50000);
	}
	CHECKF(0, "re-encryption of %s did not finish", res);
	return NULL;
}

/* The stored job of res, read from the database itself (gateway stopped). */
static int
stored_job(struct rg_gw *gw, const char *res, struct rg_store_reencrypt *job)
{
	rg_keystore *ks = rg_gw_keystore(gw);
	char path[700], err[512];
	rg_store *st;
	int rc;

	snprintf(path, sizeof(path), "%s/recgate.db", gw->dir);
	st = rg_store_open(path, rg_keystore_db_key(ks), 0, err, sizeof(err));
	rg_keystore_free(ks);
	CHECKF(st != NULL, "%s", err);
	rc = rg_store_reencrypt_get(st, res, job);
	rg_store_close(st);
	return rc;
}

/* The entry of a receipt (new ref). */
static json_t *
receipt_entry(const json_t *r)
{
	const char *b64 = json_string_value(json_object_get(json_object_get(r,
	                                    "receipt"), "entry"));
	uint8_t bin[16384];
	size_t len;
	json_t *e;

	CHECK(b64 != NULL);
	CHECK(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL, &len,
	                        NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	e = json_loadb((const char *)bin, len, 0, NULL);
	CHECK(e != NULL);
	return e;
}

/* POST an administrator's step; its status, the error reason in why. */
static int
admin_post(struct rg_gw *gw, const char *path, const char *body, char *why,
           size_t len)
{
	json_t *r;
	int status = rg_gw_call(gw, "admin", "POST", path, NULL, body, NULL, &r);

	snprintf(why, len, "%s", json_string_value(json_object_get(
	         json_object_get(r, "error"), "reason")) ?: "");
	json_decref(r);
	return status;
}

/* Export the log and verify it with the receipts in dir/rcpt-*.json. */
static void
audit_verifies(struct rg_gw *gw, int nreceipts)
{
	char exp[700], cmd[65536], out[4096], path[700];
	size_t off;
	int st;
	FILE *f;

	snprintf(exp, sizeof(exp), "%s/export", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit export '%s' --url %s "
	         "--key %s/clients/officer.key > /dev/null", rg_test_build(), exp,
	         gw->url, gw->dir);
	CHECKF(system(cmd) == 0, "%s", cmd);
	/* verify takes at most 64 receipts a run. */
	for (int from = 0; from == 0 || from < nreceipts; from += 60) {
		off = (size_t)snprintf(cmd, sizeof(cmd), "%s/recgatectl audit "
		                       "verify '%s'", rg_test_build(), exp);
		for (int i = from; i < nreceipts && i < from + 60; i++)
			off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
			                        " --receipt %s/rcpt-%03d.json",
			                        rg_test_tmpdir(), i);
		snprintf(path, sizeof(path), "%s/verify.out", rg_test_tmpdir());
		snprintf(cmd + off, sizeof(cmd) - off, " > %s 2>&1", path);
		st = system(cmd);
		f = fopen(path, "r");
		CHECK(f != NULL);
		out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
		fclose(f);
		CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	}
}

#define WORKERS 2
#define PER_WORKER 30

struct worker {
	struct rg_gw *gw;
	int id;
	int ok;
	struct records *rs;    /* what it wrote, read back again later */
};

/* A department at a steady rate: submit one record, read it back, keep
 * both receipts. */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char emp[48], path[700], rpath[300], *body;

	for (int i = 0; i < PER_WORKER; i++) {
		json_t *r, *s;
		const char *id;
		int good;

		snprintf(emp, sizeof(emp), "工人-%d-%d", w->id, i);
		body = record_json(emp);
		good = rg_gw_call(w->gw, "health", "POST", HAZARD, NULL, body,
		                  NULL, &r) == 200;
		free(body);
		id = json_string_value(json_object_get(json_array_get(
		    json_object_get(json_object_get(r, "result"), "records"), 0),
		    "id"));
		if (!good || id == NULL) {
			json_decref(r);
			continue;
		}
		snprintf(rpath, sizeof(rpath), "%s/%s", HAZARD, id);
		snprintf(path, sizeof(path), "%s/rcpt-%03d.json",
		         rg_test_tmpdir(), w->id * 2 * PER_WORKER + 2 * i);
		good = json_dump_file(r, path, JSON_COMPACT) == 0;
		json_decref(r);
		good = good && rg_gw_call(w->gw, "health", "GET", rpath, NULL,
		                          NULL, NULL, &s) == 200;
		good = good && strcmp(json_string_value(json_object_get(
		    json_object_get(json_object_get(s, "result"), "fields"),
		    "employer")) ?: "", emp) == 0;
		snprintf(path, sizeof(path), "%s/rcpt-%03d.json",
		         rg_test_tmpdir(), w->id * 2 * PER_WORKER + 2 * i + 1);
		good = good && json_dump_file(s, path, JSON_COMPACT) == 0;
		json_decref(s);
		w->ok += good;
		if (good && w->rs->n < MAXREC) {
			snprintf(w->rs->id[w->rs->n], sizeof(w->rs->id[0]),
			         "%.32s", rpath + strlen(HAZARD) + 1);
			snprintf(w->rs->employer[w->rs->n],
			         sizeof(w->rs->employer[0]), "%s", emp);
			w->rs->n++;
		}
		usleep(5000);
	}
	return NULL;
}

SLOW_TEST(data_keys_rotate_under_load_and_every_record_is_reencrypted, 240)
{
	static struct records rs, wrs[WORKERS];
	struct rg_gw gw;
	struct worker w[WORKERS];
	pthread_t th[WORKERS];
	char why[64], cmd[2400];
	json_t *r, *e, *l, *dk;
	int ok = 0;

	rg_gw_start(&gw, "checkpoint_every_entries = 50\n");
	for (int i = 0; i < 4; i++)
		submit_many(&gw, &rs, 100);
	/* The active version cannot be retired. */
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/" RES "/1/retire", NULL,
	                        why, sizeof(why)), 409);
	CHECK_EQ_STR(why, "key_active");
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){&gw, i, 0, &wrs[i]};
		CHECK(pthread_create(&th[i], NULL, worker_run, &w[i]) == 0);
	}
	/* One resource, then every resource from the command line: the job
	 * of the first is retargeted to the second's version. */
	CHECK_EQ_INT(rg_gw_call(&gw, "admin", "POST", "/v1/admin/data-keys/rotate",
	                        NULL, "{\"resource\": \"" RES "\"}", NULL, &r),
	             200);
	e = receipt_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(e, "action")),
	             "admin.datakey.rotate");
	CHECK_EQ_STR(json_string_value(json_object_get(e, "resource")), RES);
	dk = json_array_get(json_object_get(json_object_get(e, "admin"),
	                                    "data_keys"), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(dk, "resource")), RES);
	CHECK_EQ_INT(json_integer_value(json_object_get(dk, "version")), 2);
	CHECK_EQ_INT(json_integer_value(json_object_get(dk, "previous")), 1);
	json_decref(e);
	json_decref(r);
	usleep(100000);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl admin --url %s --key "
	         "%s/clients/admin.key rotate data > %s/rotate.out",
	         rg_test_build(), gw.url, gw.dir, rg_test_tmpdir());
	CHECKF(system(cmd) == 0, "%s", cmd);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
	}
	CHECK_EQ_INT(ok, WORKERS * PER_WORKER);
	/* What the workers wrote during the rotations reads back later too. */
	for (int i = 0; i < WORKERS; i++)
		for (size_t j = 0; j < wrs[i].n; j++) {
			memcpy(rs.id[rs.n], wrs[i].id[j], sizeof(rs.id[0]));
			memcpy(rs.employer[rs.n], wrs[i].employer[j],
			       sizeof(rs.employer[0]));
			rs.n++;
		}
	l = wait_reencrypted(&gw, RES);
	CHECK_EQ_INT(json_integer_value(json_object_get(l, "key_version")), 3);
	CHECK_EQ_INT(json_integer_value(json_object_get(l, "target")), 3);
	CHECK(json_integer_value(json_object_get(l, "done")) >= 400);
	CHECK_EQ_INT(json_integer_value(json_object_get(l, "done")),
	             json_integer_value(json_object_get(l, "total")));
	json_decref(l);
	all_read_back(&gw, &rs);
	/* The job's end is entered in the log. */
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/entries",
	                        "action=keys.reencrypt.done", NULL, NULL, &r), 200);
	e = json_object_get(json_array_get(json_object_get(json_object_get(r,
	    "result"), "entries"), json_array_size(json_object_get(
	    json_object_get(r, "result"), "entries")) - 1), "parsed");
	CHECK_EQ_STR(json_string_value(json_object_get(e, "resource")), RES);
	CHECK_EQ_INT(json_integer_value(json_object_get(e, "key_version")), 3);
	CHECK(json_integer_value(json_object_get(e, "count")) >= 400);
	json_decref(r);
	/* Nothing is sealed under 1 or 2 any more: both retire. */
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/" RES "/1/retire", NULL,
	                        why, sizeof(why)), 200);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/" RES "/2/retire", NULL,
	                        why, sizeof(why)), 200);
	/* And what is written after. */
	submit_many(&gw, &rs, 20);
	all_read_back(&gw, &rs);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl admin --url %s --key "
	         "%s/clients/admin.key reencrypt-status > %s/status.out",
	         rg_test_build(), gw.url, gw.dir, rg_test_tmpdir());
	CHECKF(system(cmd) == 0, "%s", cmd);
	snprintf(cmd, sizeof(cmd), "%s/status.out", rg_test_tmpdir());
	r = json_load_file(cmd, 0, NULL);
	CHECK(r != NULL);
	CHECK(json_is_array(json_object_get(json_object_get(r, "result"),
	                                    "resources")));
	CHECK(json_object_get(r, "receipt") != NULL);
	json_decref(r);
	audit_verifies(&gw, WORKERS * PER_WORKER * 2);
	rg_gw_stop(&gw);
}

TEST(retire_is_refused_for_keys_in_use_and_destroy_removes_a_retired_key)
{
	static struct records rs;
	struct rg_gw gw;
	struct rg_keystore_info in;
	char why[64], cmd[2400], out[16384];
	rg_keystore *ks;
	json_t *l;
	size_t n;
	FILE *f;
	int seen = 0;

	rg_gw_start(&gw, NULL);
	submit_many(&gw, &rs, 50);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/" RES "/1/destroy", NULL,
	                        why, sizeof(why)), 409);
	CHECK_EQ_STR(why, "key_active");
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/" RES "/9/retire", NULL,
	                        why, sizeof(why)), 404);
	CHECK_EQ_STR(why, "unknown_key_version");
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/rotate",
	                        "{\"resource\": \"no-such\"}", why, sizeof(why)),
	             404);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/rotate",
	                        "{\"resource\": \"" RES "\"}", why, sizeof(why)),
	             200);
	l = wait_reencrypted(&gw, RES);
	json_decref(l);
	/* Destroy only what is retired. */
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/" RES "/1/destroy", NULL,
	                        why, sizeof(why)), 409);
	CHECK_EQ_STR(why, "key_state");
	snprintf(cmd, sizeof(cmd), "%s/recgatectl admin --url %s --key "
	         "%s/clients/admin.key retire data " RES " 1 > /dev/null && "
	         "%s/recgatectl admin --url %s --key %s/clients/admin.key destroy "
	         "data " RES " 1 > /dev/null", rg_test_build(), gw.url, gw.dir,
	         rg_test_build(), gw.url, gw.dir);
	CHECKF(system(cmd) == 0, "%s", cmd);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/" RES "/1/destroy", NULL,
	                        why, sizeof(why)), 409);
	CHECK_EQ_STR(why, "key_state");
	all_read_back(&gw, &rs);
	/* KEKs: the rotation retires the previous one; it is destroyed once
	 * it wraps nothing; the active one is neither. */
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/kek/rotate", NULL, why,
	                        sizeof(why)), 200);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/kek/2/retire", NULL, why,
	                        sizeof(why)), 409);
	CHECK_EQ_STR(why, "key_active");
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/kek/1/retire", NULL, why,
	                        sizeof(why)), 409);
	CHECK_EQ_STR(why, "key_state");
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/kek/1/destroy", NULL, why,
	                        sizeof(why)), 200);
	/* A department's key cannot. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", "/v1/admin/data-keys/rotate",
	                        NULL, "{}", NULL, &l), 403);
	json_decref(l);
	submit_many(&gw, &rs, 5);
	rg_gw_stop(&gw);

	/* The keystore opens; the destroyed keys are listed, without bytes. */
	ks = rg_gw_keystore(&gw);
	CHECK(rg_keystore_data_key_at(ks, RES, 1) == NULL);
	CHECK(rg_keystore_data_key_at(ks, RES, 2) != NULL);
	for (size_t i = 0; rg_keystore_info(ks, i, &in) == 0; i++) {
		if ((in.purpose == RG_KEYSTORE_DATA && strcmp(in.resource, RES) == 0
		     && in.version == 1) ||
		    (in.purpose == RG_KEYSTORE_KEK && in.version == 1)) {
			CHECK_EQ_INT(in.status, RG_KEYSTORE_DESTROYED);
			seen++;
		}
	}
	CHECK_EQ_INT(seen, 2);
	rg_keystore_free(ks);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl keys list --config %s > "
	         "%s/list.out 2>&1", rg_test_build(), gw.conf, rg_test_tmpdir());
	CHECKF(system(cmd) == 0, "%s", cmd);
	snprintf(cmd, sizeof(cmd), "%s/list.out", rg_test_tmpdir());
	f = fopen(cmd, "r");
	CHECK(f != NULL);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	{
		const char *p = strstr(out, "data-" RES "-1");

		CHECKF(p != NULL, "%s", out);
		CHECKF(strstr(p, "destroyed") != NULL &&
		       strstr(p, "destroyed") < strchr(p, '\n'), "%s", out);
	}
	rg_gw_restart(&gw);
	all_read_back(&gw, &rs);
	rg_gw_stop(&gw);
}

/* Send a request that may kill the keeper: no answer is fine. */
static void
send_dying(struct rg_gw *gw, const char *method, const char *path,
           const char *body)
{
	struct rg_client_resp resp;
	char err[512];
	size_t len;
	char *raw = rg_gw_build(gw, "admin", method, path, NULL, body, NULL, &len);

	if (rg_client_send(gw->host, gw->port, raw, len, &resp, err,
	                   sizeof(err)) == 0)
		free(resp.body);
	free(raw);
}

SLOW_TEST(reencryption_resumes_after_kill_at_its_steps_and_repeats_nothing, 180)
{
	static struct records rs;
	struct rg_store_reencrypt job;
	struct rg_gw gw;
	char why[64];
	json_t *l;
	int st;

	rg_gw_prepare(&gw, NULL);
	rg_gw_restart(&gw);
	for (int i = 0; i < 6; i++)
		submit_many(&gw, &rs, 100);
	rg_gw_stop(&gw);
	/* Killed in the third step, before its commit: two steps stay. */
	rg_gw_conf_set(&gw, "crash_at", "reencrypt.step:3");
	rg_gw_restart(&gw);
	send_dying(&gw, "POST", "/v1/admin/data-keys/rotate",
	           "{\"resource\": \"" RES "\"}");
	st = rg_gw_wait_exit(&gw, 30000);
	CHECK(WIFEXITED(st) || WIFSIGNALED(st));
	CHECK_EQ_INT(stored_job(&gw, RES, &job), RG_STORE_OK);
	CHECK_EQ_STR(job.state, "running");
	CHECK_EQ_INT(job.total, 600);
	CHECK_EQ_INT(job.done, 256);
	CHECK(job.cursor > 0);
	/* Killed right after the next step commits. */
	rg_gw_conf_set(&gw, "crash_at", "reencrypt.step_committed:1");
	rg_gw_restart(&gw);
	st = rg_gw_wait_exit(&gw, 30000);
	CHECK_EQ_INT(stored_job(&gw, RES, &job), RG_STORE_OK);
	CHECK_EQ_INT(job.done, 384);
	CHECK_EQ_INT(job.total, 600);
	/* Then it finishes: every version re-sealed once, none twice. */
	rg_gw_conf_set(&gw, "crash_at", NULL);
	rg_gw_restart(&gw);
	l = wait_reencrypted(&gw, RES);
	CHECK_EQ_INT(json_integer_value(json_object_get(l, "done")), 600);
	CHECK_EQ_INT(json_integer_value(json_object_get(l, "total")), 600);
	CHECK_EQ_INT(json_integer_value(json_object_get(l, "key_version")), 2);
	json_decref(l);
	all_read_back(&gw, &rs);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/" RES "/1/retire", NULL,
	                        why, sizeof(why)), 200);
	all_read_back(&gw, &rs);
	audit_verifies(&gw, 0);
	rg_gw_stop(&gw);
}

/* kill -9 at one of the rotation's own crash points: the keystore opens,
 * every record reads, the re-encryption (if the rotation stood) ends. */
static void
rotation_crash(const char *point)
{
	static struct records rs;
	struct rg_gw gw;
	rg_keystore *ks;
	json_t *l;

	rg_gw_prepare(&gw, NULL);
	rg_gw_restart(&gw);
	for (int i = 0; i < 3; i++)
		submit_many(&gw, &rs, 100);
	rg_gw_stop(&gw);
	rg_gw_conf_set(&gw, "crash_at", point);
	rg_gw_restart(&gw);
	send_dying(&gw, "POST", "/v1/admin/data-keys/rotate", "{}");
	(void)rg_gw_wait_exit(&gw, 30000);
	ks = rg_gw_keystore(&gw);
	CHECK(rg_keystore_data_key_at(ks, RES, 1) != NULL);
	rg_keystore_free(ks);
	rg_gw_conf_set(&gw, "crash_at", NULL);
	rg_gw_restart(&gw);
	all_read_back(&gw, &rs);
	l = wait_reencrypted(&gw, RES);
	json_decref(l);
	submit_many(&gw, &rs, 10);
	all_read_back(&gw, &rs);
	audit_verifies(&gw, 0);
	rg_gw_stop(&gw);
}

SLOW_TEST(data_key_rotation_killed_after_the_keystore_write_leaves_all_readable,
          120)
{
	rotation_crash("rotation.keystore_written");
}

SLOW_TEST(data_key_rotation_killed_after_its_commit_leaves_all_readable, 120)
{
	rotation_crash("rotation.committed");
}

#define DIAG "/v1/resources/occ-disease-diagnosis/records"
#define CIVIL_PURPOSE "生活救助 living assistance"

/* civil affairs' pseudonym of the record's id_number (demo grant). */
static void
civil_pseudonym(struct rg_gw *gw, const char *id, char *out, size_t len)
{
	struct rg_client_opts o = {.purpose = CIVIL_PURPOSE};
	char path[256];
	const char *psn;
	json_t *r;

	snprintf(path, sizeof(path), "%s/%s", DIAG, id);
	CHECK_EQ_INT(rg_gw_call(gw, "civil", "GET", path, NULL, NULL, &o, &r),
	             200);
	psn = json_string_value(json_object_get(json_object_get(json_object_get(
	    r, "result"), "fields"), "id_number"));
	CHECK(psn != NULL && strncmp(psn, "psn:", 4) == 0);
	snprintf(out, len, "%s", psn);
	json_decref(r);
}

TEST(pseudonyms_survive_rotation_and_retirement_and_change_when_destroyed)
{
	static const char body[] =
	    "{\"patient_name\": \"张三\", \"id_number\": \"110101198001011234\","
	    " \"gender\": \"男\", \"birth_date\": \"1980-01-01\","
	    " \"employer\": \"某某矿业有限公司\","
	    " \"employer_credit_code\": \"91110000100000000X\","
	    " \"disease_category\": \"职业性尘肺病及其他呼吸系统疾病\","
	    " \"disease_name\": \"矽肺\", \"disease_code\": \"J62\","
	    " \"diagnosis_date\": \"2026-03-15\","
	    " \"diagnosis_institution\": \"市职业病防治院\","
	    " \"diagnosis_conclusion\": \"矽肺壹期\","
	    " \"certificate_number\": \"ZYB-2026-0042\", \"exposure_years\": 12}";
	struct rg_gw gw;
	char id[64], before[64], after[64], why[64];
	json_t *r, *l;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", DIAG, NULL, body, NULL, &r),
	             200);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(
	         json_array_get(json_object_get(json_object_get(r, "result"),
	         "records"), 0), "id")));
	json_decref(r);
	civil_pseudonym(&gw, id, before, sizeof(before));
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/rotate",
	                        "{\"resource\": \"occ-disease-diagnosis\"}", why,
	                        sizeof(why)), 200);
	l = wait_reencrypted(&gw, "occ-disease-diagnosis");
	json_decref(l);
	civil_pseudonym(&gw, id, after, sizeof(after));
	CHECK_EQ_STR(after, before);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/occ-disease-diagnosis/1/"
	                        "retire", NULL, why, sizeof(why)), 200);
	civil_pseudonym(&gw, id, after, sizeof(after));
	CHECK_EQ_STR(after, before);
	/* Destroying the key they derive from starts new pseudonyms (what
	 * a compromise of that key calls for). */
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/data-keys/occ-disease-diagnosis/1/"
	                        "destroy", NULL, why, sizeof(why)), 200);
	civil_pseudonym(&gw, id, after, sizeof(after));
	CHECK(strcmp(after, before) != 0);
	rg_gw_stop(&gw);
}
