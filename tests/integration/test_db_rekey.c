/*
 * test_db_rekey.c -- the database key rotated online (SQLCipher copy under
 * the new key, checked, renamed over the database) while departments keep
 * submitting and reading: none fails or is lost, every receipt and the log
 * verify, the file then opens with the new key alone and holds no key
 * bytes; kill -9 at each step leaves a gateway that starts with the
 * database under exactly the active key; a failed copy changes nothing
 * and is entered in the log.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "crypto/keystore.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define HAZARD "/v1/resources/hazard-declaration/records"
#define RECORD                                                                 \
	"{\"employer\": \"丙公司\", \"employer_credit_code\": \"91110000100000003X\","\
	" \"hazard_categories\": \"噪声\", \"worker_count\": 30,"                    \
	" \"exposed_worker_count\": 7, \"declaration_type\": \"首次申报\","          \
	" \"declaration_date\": \"2026-04-01\"}"

#define WORKERS 2
#define ROUNDS 30

/* ---- the keystore, the file, the log ------------------------------------- */

/* The active database key (into key) and its version. */
static uint32_t
dbk_active(struct rg_gw *gw, uint8_t key[32])
{
	rg_keystore *ks = rg_gw_keystore(gw);
	uint32_t v = rg_keystore_db_version(ks);

	memcpy(key, rg_keystore_db_key(ks), 32);
	/* Settled: no second database key left in the file. */
	CHECK(rg_keystore_db_previous(ks, NULL) == NULL);
	rg_keystore_free(ks);
	return v;
}

/* Does key open the gateway's database, asked of SQLCipher directly? */
static int
dbk_opens(struct rg_gw *gw, const uint8_t key[32])
{
	char path[700], stmt[200], hex[65];
	sqlite3 *db = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/recgate.db", gw->dir);
	sodium_bin2hex(hex, sizeof(hex), key, 32);
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	snprintf(stmt, sizeof(stmt), "PRAGMA key = \"x'%s'\";", hex);
	CHECK(sqlite3_exec(db, stmt, NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA cipher_page_size = 4096;", NULL, NULL,
	                   NULL) == SQLITE_OK);
	/* SQLCipher 3's HMAC and KDF, which recgate pins on 4.x too (3.4
	 * knows neither name and ignores both). */
	CHECK(sqlite3_exec(db, "PRAGMA cipher_hmac_algorithm = HMAC_SHA1;"
	                   "PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA1;",
	                   NULL, NULL, NULL) == SQLITE_OK);
	rc = sqlite3_exec(db, "SELECT count(*) FROM audit;", NULL, NULL, NULL);
	sqlite3_close(db);
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(stmt, sizeof(stmt));
	return rc == SQLITE_OK;
}

/* Whether the file holds needle (a missing file holds nothing). */
static int
dbk_file_has(const char *path, const void *needle, size_t nlen)
{
	struct stat sb;
	uint8_t *buf;
	size_t len;
	FILE *f = fopen(path, "rb");
	int found = 0;

	if (f == NULL)
		return 0;
	CHECK(fstat(fileno(f), &sb) == 0);
	buf = malloc((size_t)sb.st_size + 1);
	CHECK(buf != NULL);
	len = fread(buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	for (size_t i = 0; i + nlen <= len && !found; i++)
		found = memcmp(buf + i, needle, nlen) == 0;
	free(buf);
	return found;
}

/* Neither the database nor its WAL holds key as bytes, hex or base64. */
static void
dbk_no_key_bytes(struct rg_gw *gw, const uint8_t key[32])
{
	static const char *const files[] = {"recgate.db", "recgate.db-wal",
	                                    "recgate.db.rekey"};
	char path[700], hex[65], b64[64];

	sodium_bin2hex(hex, sizeof(hex), key, 32);
	sodium_bin2base64(b64, sizeof(b64), key, 32,
	                  sodium_base64_VARIANT_ORIGINAL);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", gw->dir, files[i]);
		CHECKF(!dbk_file_has(path, key, 32), "raw key in %s", files[i]);
		CHECKF(!dbk_file_has(path, hex, 64), "hex key in %s", files[i]);
		CHECKF(!dbk_file_has(path, b64, 43), "base64 key in %s", files[i]);
		for (int j = 0; j < 64; j++)
			if (hex[j] >= 'a')
				hex[j] = (char)(hex[j] - 'a' + 'A');
		CHECKF(!dbk_file_has(path, hex, 64), "HEX key in %s", files[i]);
		sodium_bin2hex(hex, sizeof(hex), key, 32);
	}
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(b64, sizeof(b64));
}

/* Run a command, its output into out; returns its exit status. */
static int
dbk_run(const char *cmd, char *out, size_t outlen)
{
	char full[4096], path[700];
	size_t n;
	FILE *f;
	int st;

	snprintf(path, sizeof(path), "%s/cmd.out", rg_test_tmpdir());
	snprintf(full, sizeof(full), "%s > %s 2>&1", cmd, path);
	st = system(full);
	f = fopen(path, "r");
	CHECK(f != NULL);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* recgatectl admin ... rotate database; its exit status and output. */
static int
dbk_rotate_cli(struct rg_gw *gw, char *out, size_t outlen)
{
	char cmd[2400];

	snprintf(cmd, sizeof(cmd), "%s/recgatectl admin --url %s --key "
	         "%s/clients/admin.key rotate database", rg_test_build(),
	         gw->url, gw->dir);
	return dbk_run(cmd, out, outlen);
}

/* GET /v1/admin/db-key: its result (caller decrefs). */
static json_t *
dbk_status(struct rg_gw *gw)
{
	json_t *r, *res;

	CHECK_EQ_INT(rg_gw_call(gw, "admin", "GET", "/v1/admin/db-key", NULL,
	                        NULL, NULL, &r), 200);
	res = json_incref(json_object_get(r, "result"));
	json_decref(r);
	CHECK(res != NULL);
	return res;
}

/* Export the log into exp and verify it, with every receipt kept as
 * TMP/rc-*.json (in runs of 50: the verifier takes 64 at a time). */
static void
dbk_verify(struct rg_gw *gw, const char *exp)
{
	char cmd[8192], out[4096];
	struct dirent *de;
	size_t off = 0;
	int n = 0, runs = 0;
	DIR *d;

	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit export '%s' --url %s "
	         "--key %s/clients/officer.key", rg_test_build(), exp, gw->url,
	         gw->dir);
	CHECKF(dbk_run(cmd, out, sizeof(out)) == 0, "%s", out);
	CHECK((d = opendir(rg_test_tmpdir())) != NULL);
	for (;;) {
		de = readdir(d);
		if (de != NULL && (strncmp(de->d_name, "rc-", 3) != 0 ||
		                   strstr(de->d_name, ".json") == NULL))
			continue;
		if (n == 0)
			off = (size_t)snprintf(cmd, sizeof(cmd), "%s/recgatectl audit "
			                       "verify '%s'", rg_test_build(), exp);
		if (de != NULL) {
			off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
			                        " --receipt %s/%s", rg_test_tmpdir(),
			                        de->d_name);
			CHECK(off < sizeof(cmd));
			n++;
		}
		if (n == 50 || (de == NULL && (n > 0 || runs == 0))) {
			CHECKF(dbk_run(cmd, out, sizeof(out)) == 0, "%s", out);
			CHECKF(strstr(out, "OK: ") != NULL, "%s", out);
			n = 0;
			runs++;
		}
		if (de == NULL)
			break;
	}
	closedir(d);
}

/* Submit as health and keep the answer as a receipt file; the record's
 * path into rpath. 1 on 200. */
static int
dbk_submit(struct rg_gw *gw, const char *tag, char *rpath, size_t len)
{
	char file[700];
	json_t *r = NULL, *rec;
	int st = rg_gw_call(gw, "health", "POST", HAZARD, NULL, RECORD, NULL, &r);

	if (st == 200) {
		rec = json_array_get(json_object_get(json_object_get(r, "result"),
		                                     "records"), 0);
		snprintf(rpath, len, "%s/%s", HAZARD,
		         json_string_value(json_object_get(rec, "id")));
		snprintf(file, sizeof(file), "%s/rc-%s.json", rg_test_tmpdir(), tag);
		if (json_dump_file(r, file, JSON_COMPACT) != 0)
			st = -1;
	}
	json_decref(r);
	return st == 200;
}

/* Read a record back as health; keeps the receipt. 1 when it reads. */
static int
dbk_read(struct rg_gw *gw, const char *tag, const char *rpath)
{
	char file[700];
	json_t *r = NULL;
	int ok = rg_gw_call(gw, "health", "GET", rpath, NULL, NULL, NULL, &r) ==
	         200;

	ok = ok && strcmp(json_string_value(json_object_get(json_object_get(
	                  json_object_get(r, "result"), "fields"), "employer")),
	                  "丙公司") == 0;
	if (ok && tag != NULL) {
		snprintf(file, sizeof(file), "%s/rc-%s.json", rg_test_tmpdir(), tag);
		ok = json_dump_file(r, file, JSON_COMPACT) == 0;
	}
	json_decref(r);
	return ok;
}

/* ---- rekey under load ---------------------------------------------------- */

struct dbk_worker {
	struct rg_gw *gw;
	int id;
	int done;            /* rounds completed (read by the main thread) */
	int failed;
	char paths[ROUNDS][200];
};

/* Submit, then read it back, ROUNDS times, 20 ms apart: a steady rate
 * before, during and after the rekey. */
static void *
dbk_worker_run(void *arg)
{
	struct dbk_worker *w = arg;
	char tag[32];

	for (int i = 0; i < ROUNDS; i++) {
		snprintf(tag, sizeof(tag), "w%d-s%02d", w->id, i);
		if (!dbk_submit(w->gw, tag, w->paths[i], sizeof(w->paths[i])))
			w->failed++;
		else {
			snprintf(tag, sizeof(tag), "w%d-r%02d", w->id, i);
			if (!dbk_read(w->gw, tag, w->paths[i]))
				w->failed++;
		}
		__atomic_store_n(&w->done, i + 1, __ATOMIC_RELEASE);
		usleep(20000);
	}
	return NULL;
}

SLOW_TEST(database_key_rotates_online_under_load_with_no_exchange_lost, 180)
{
	struct rg_gw gw;
	struct dbk_worker w[WORKERS];
	pthread_t th[WORKERS];
	uint8_t *oldk = sodium_malloc(32), *newk = sodium_malloc(32);
	char out[4096], exp[700];
	json_t *st, *last, *e;
	int failed = 0;

	CHECK(oldk != NULL && newk != NULL);
	rg_gw_prepare(&gw, "checkpoint_every_entries = 16\n");
	CHECK_EQ_INT(dbk_active(&gw, oldk), 1);
	CHECK(dbk_opens(&gw, oldk));
	rg_gw_restart(&gw);
	st = dbk_status(&gw);
	CHECK_EQ_INT(json_integer_value(json_object_get(st, "version")), 1);
	CHECK_EQ_STR(json_string_value(json_object_get(st, "state")), "idle");
	json_decref(st);

	for (int i = 0; i < WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].gw = &gw;
		w[i].id = i;
		CHECK(pthread_create(&th[i], NULL, dbk_worker_run, &w[i]) == 0);
	}
	/* Rotate once the load runs, and again while it still runs. */
	while (__atomic_load_n(&w[0].done, __ATOMIC_ACQUIRE) < 5)
		usleep(5000);
	CHECKF(dbk_rotate_cli(&gw, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "rekeyed: ") != NULL, "%s", out);
	fprintf(stderr, "    database rekey under load: %s",
	        strstr(out, "rekeyed: "));
	while (__atomic_load_n(&w[0].done, __ATOMIC_ACQUIRE) < 15)
		usleep(5000);
	CHECKF(dbk_rotate_cli(&gw, out, sizeof(out)) == 0, "%s", out);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(th[i], NULL);
		failed += w[i].failed;
		CHECK_EQ_INT(w[i].done, ROUNDS);
	}
	CHECK_EQ_INT(failed, 0);

	/* The state the administrator reads: key 3, verified, a pause. */
	st = dbk_status(&gw);
	CHECK_EQ_INT(json_integer_value(json_object_get(st, "version")), 3);
	last = json_object_get(st, "last");
	CHECK_EQ_STR(json_string_value(json_object_get(last, "outcome")),
	             "rekeyed");
	CHECK(json_is_true(json_object_get(last, "verified")));
	CHECK(json_integer_value(json_object_get(last, "pause_ms")) >= 0);
	CHECK(json_integer_value(json_object_get(last, "pause_ms")) < 10000);
	json_decref(st);
	/* A department's key cannot ask for it. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", "/v1/admin/db-key/rotate",
	                        NULL, NULL, NULL, &e), 403);
	json_decref(e);

	/* Every record, submitted before, during and after, reads. */
	for (int i = 0; i < WORKERS; i++)
		for (int j = 0; j < ROUNDS; j++)
			CHECKF(dbk_read(&gw, NULL, w[i].paths[j]), "%s",
			       w[i].paths[j]);
	/* Every receipt and the whole log verify; both rekeys are in it. */
	snprintf(exp, sizeof(exp), "%s/export", rg_test_tmpdir());
	dbk_verify(&gw, exp);
	e = rg_gw_export_entries(exp, "admin.dbkey.rekeyed");
	CHECK_EQ_INT(json_array_size(e), 2);
	{
		json_t *one = json_array_get(e, 0);

		CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(
		             one, "database_key"), "version")), 2);
		CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(
		             one, "database_key"), "previous")), 1);
		CHECK(json_is_true(json_object_get(one, "verified")));
		CHECK(json_integer_value(json_object_get(one, "pages")) > 0);
		CHECK(json_integer_value(json_object_get(one, "records")) > 0);
		CHECK(json_object_get(one, "pause_ms") != NULL);
	}
	json_decref(e);
	/* Two scheduled by the administrator, one refused (health's key). */
	e = rg_gw_export_entries(exp, "admin.dbkey.rotate");
	CHECK_EQ_INT(json_array_size(e), 3);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(e, 0),
	             "decision")), "allow");
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(e, 2),
	             "decision")), "deny");
	json_decref(e);
	/* While running, the WAL holds no key bytes either. */
	dbk_no_key_bytes(&gw, oldk);
	rg_gw_stop(&gw);

	/* On disk: key 3 alone, the file opens with it and not with key 1,
	 * and no key is in the database. */
	CHECK_EQ_INT(dbk_active(&gw, newk), 3);
	CHECK(dbk_opens(&gw, newk));
	CHECK(!dbk_opens(&gw, oldk));
	dbk_no_key_bytes(&gw, oldk);
	dbk_no_key_bytes(&gw, newk);
	{
		rg_keystore *ks = rg_gw_keystore(&gw);
		struct rg_keystore_info in;
		int ndb = 0;

		for (size_t i = 0; rg_keystore_info(ks, i, &in) == 0; i++) {
			if (in.purpose != RG_KEYSTORE_DATABASE)
				continue;
			ndb++;
			CHECK_EQ_INT(in.status, in.version == 3 ? RG_KEYSTORE_ACTIVE
			                                        : RG_KEYSTORE_DESTROYED);
		}
		CHECK_EQ_INT(ndb, 3);
		rg_keystore_free(ks);
	}
	/* And it starts again on the new key. */
	rg_gw_restart(&gw);
	CHECK(dbk_read(&gw, NULL, w[0].paths[0]));
	rg_gw_stop(&gw);
	sodium_free(oldk);
	sodium_free(newk);
}

/* ---- kill -9 at each step -------------------------------------------------- */

#define NREC 3

/*
 * Crash the keeper at point during a rekey, restart, and check: the
 * gateway starts, every acknowledged record reads, the log and every
 * receipt verify, exactly one rekeyed entry, and the database is under
 * exactly the key the keystore marks active (version 2), the old key
 * gone from both.
 */
static void
dbk_crash_drill(const char *point, int at_start)
{
	struct rg_gw gw;
	struct rg_client_resp resp = {0};
	uint8_t *oldk = sodium_malloc(32), *newk = sodium_malloc(32);
	char paths[NREC + 1][200], tag[16], err[512], exp[700], tmp[700], *raw;
	json_t *e;
	size_t len;

	CHECK(oldk != NULL && newk != NULL);
	rg_gw_prepare(&gw, "checkpoint_every_entries = 4\n");
	CHECK_EQ_INT(dbk_active(&gw, oldk), 1);
	rg_gw_conf_set(&gw, "crash_at", point);
	rg_gw_restart(&gw);
	for (int i = 0; i < NREC; i++) {
		snprintf(tag, sizeof(tag), "s%d", i);
		CHECK(dbk_submit(&gw, tag, paths[i], sizeof(paths[i])));
	}
	/* Scheduled (the answer may or may not leave before the keeper
	 * dies right after the commit), then the keeper dies at point. */
	raw = rg_gw_build(&gw, "admin", "POST", "/v1/admin/db-key/rotate", NULL,
	                  NULL, NULL, &len);
	(void)rg_client_send(gw.host, gw.port, raw, len, &resp, err, sizeof(err));
	free(raw);
	free(resp.body);
	(void)rg_gw_wait_exit(&gw, 30000);
	rg_gw_conf_set(&gw, "crash_at", NULL);
	if (at_start) {
		/* As if the copy had been cut off half-written: start-up
		 * throws it away (and makes its own). */
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s/recgate.db.rekey-journal", gw.dir);
		CHECK((f = fopen(tmp, "w")) != NULL);
		CHECK(fputs("half a journal", f) >= 0 && fclose(f) == 0);
	}
	rg_gw_restart(&gw);

	for (int i = 0; i < NREC; i++)
		CHECKF(dbk_read(&gw, NULL, paths[i]), "%s after %s", paths[i],
		       point);
	CHECK(dbk_submit(&gw, "after", paths[NREC], sizeof(paths[NREC])));
	CHECK(dbk_read(&gw, "after-r", paths[NREC]));
	snprintf(exp, sizeof(exp), "%s/export", rg_test_tmpdir());
	dbk_verify(&gw, exp);
	e = rg_gw_export_entries(exp, "admin.dbkey.rekeyed");
	CHECKF(json_array_size(e) == 1, "%zu rekeyed entries after %s",
	       json_array_size(e), point);
	CHECK_EQ_INT(json_is_true(json_object_get(json_array_get(e, 0),
	                                          "at_start")), at_start);
	json_decref(e);
	e = dbk_status(&gw);
	CHECK_EQ_INT(json_integer_value(json_object_get(e, "version")), 2);
	json_decref(e);
	rg_gw_stop(&gw);

	CHECK_EQ_INT(dbk_active(&gw, newk), 2);
	CHECK(dbk_opens(&gw, newk));
	CHECK(!dbk_opens(&gw, oldk));
	dbk_no_key_bytes(&gw, oldk);
	dbk_no_key_bytes(&gw, newk);
	snprintf(tmp, sizeof(tmp), "%s/recgate.db.rekey", gw.dir);
	CHECKF(access(tmp, F_OK) != 0, "%s left behind", tmp);
	snprintf(tmp, sizeof(tmp), "%s/recgate.db.rekey-journal", gw.dir);
	CHECKF(access(tmp, F_OK) != 0, "%s left behind", tmp);
	sodium_free(oldk);
	sodium_free(newk);
}

SLOW_TEST(crash_after_dbkey_keystore_write_finishes_the_rekey_at_start, 120)
{
	dbk_crash_drill("dbkey.keystore_written", 1);
}

SLOW_TEST(crash_after_dbkey_export_finishes_the_rekey_at_start, 120)
{
	dbk_crash_drill("dbkey.exported", 1);
}

SLOW_TEST(crash_after_dbkey_rename_opens_the_new_file_with_the_new_key, 120)
{
	dbk_crash_drill("dbkey.renamed", 1);
}

SLOW_TEST(crash_after_dbkey_entry_destroys_the_old_key_at_start, 120)
{
	dbk_crash_drill("dbkey.done", 0);
}

/* ---- a copy that fails ----------------------------------------------------- */

SLOW_TEST(database_rekey_that_cannot_write_its_copy_changes_nothing, 120)
{
	struct rg_gw gw;
	uint8_t *oldk = sodium_malloc(32), *k = sodium_malloc(32);
	char out[4096], tmp[700], exp[700], rpath[200];
	json_t *st, *e;

	CHECK(oldk != NULL && k != NULL);
	rg_gw_prepare(&gw, NULL);
	CHECK_EQ_INT(dbk_active(&gw, oldk), 1);
	/* A directory where the copy should go: the copy cannot be made. */
	snprintf(tmp, sizeof(tmp), "%s/recgate.db.rekey", gw.dir);
	CHECK(mkdir(tmp, 0700) == 0);
	rg_gw_restart(&gw);
	CHECK(dbk_submit(&gw, "before", rpath, sizeof(rpath)));
	CHECKF(dbk_rotate_cli(&gw, out, sizeof(out)) == 1, "%s", out);
	CHECKF(strstr(out, "FAILED: ") != NULL, "%s", out);
	st = dbk_status(&gw);
	CHECK_EQ_INT(json_integer_value(json_object_get(st, "version")), 1);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(st,
	             "last"), "outcome")), "failed");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(st,
	             "last"), "step")), "export");
	json_decref(st);
	/* Exchanges go on on the old key; the failure is in the log. */
	CHECK(dbk_read(&gw, "before-r", rpath));
	snprintf(exp, sizeof(exp), "%s/export", rg_test_tmpdir());
	dbk_verify(&gw, exp);
	e = rg_gw_export_entries(exp, "admin.dbkey.failed");
	CHECK_EQ_INT(json_array_size(e), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(
	             json_array_get(e, 0), "database_key"), "kept")), 1);
	json_decref(e);
	rg_gw_stop(&gw);
	/* The keystore: key 1 active, the key tried destroyed. */
	CHECK_EQ_INT(dbk_active(&gw, k), 1);
	CHECK(sodium_memcmp(k, oldk, 32) == 0);
	CHECK(dbk_opens(&gw, oldk));
	/* The gateway starts with the obstacle still there; once it is
	 * gone, the next rekey works (version 3: 2 was spent). */
	rg_gw_restart(&gw);
	CHECK(rmdir(tmp) == 0);
	CHECKF(dbk_rotate_cli(&gw, out, sizeof(out)) == 0, "%s", out);
	CHECK(dbk_read(&gw, NULL, rpath));
	rg_gw_stop(&gw);
	CHECK_EQ_INT(dbk_active(&gw, k), 3);
	CHECK(dbk_opens(&gw, k));
	CHECK(!dbk_opens(&gw, oldk));
	sodium_free(oldk);
	sodium_free(k);
}
