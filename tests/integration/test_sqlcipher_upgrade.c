/*
 * test_sqlcipher_upgrade.c -- a gateway directory made and filled by one
 * build (RG_UPGRADE_FROM: tests/compat/sqlcipher4.sh points it at a build
 * on Debian 12's SQLCipher 3.4.1 while this one runs on 4.x; otherwise the
 * build under test itself) is taken over by this build: every record
 * reads, new ones are stored, the database is rekeyed online, the log
 * verifies, and the first build still reads it all afterwards (a package
 * rollback).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "crypto/keystore.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define HAZARD "/v1/resources/hazard-declaration/records"
#define OLD_RECORDS 12
#define NEW_RECORDS 4

/* Submit record i (its worker count says which) as health; its path. */
static void
up_submit(struct rg_gw *gw, int i, char *path, size_t len)
{
	char body[512];
	json_t *r, *rec;

	snprintf(body, sizeof(body),
	         "{\"employer\": \"丁公司\", \"employer_credit_code\": "
	         "\"91110000100000004X\", \"hazard_categories\": \"粉尘\", "
	         "\"worker_count\": %d, \"exposed_worker_count\": 1, "
	         "\"declaration_type\": \"首次申报\", \"declaration_date\": "
	         "\"2026-05-01\"}", 100 + i);
	CHECK_EQ_INT(rg_gw_call(gw, "health", "POST", HAZARD, NULL, body, NULL,
	                        &r), 200);
	rec = json_array_get(json_object_get(json_object_get(r, "result"),
	                                     "records"), 0);
	CHECK(json_string_value(json_object_get(rec, "id")) != NULL);
	snprintf(path, len, "%s/%s", HAZARD,
	         json_string_value(json_object_get(rec, "id")));
	json_decref(r);
}

/* Record i reads back whole. */
static void
up_reads(struct rg_gw *gw, int i, const char *path)
{
	json_t *r, *f;

	CHECK_EQ_INT(rg_gw_call(gw, "health", "GET", path, NULL, NULL, NULL, &r),
	             200);
	f = json_object_get(json_object_get(r, "result"), "fields");
	CHECK_EQ_STR(json_string_value(json_object_get(f, "employer")), "丁公司");
	CHECK_EQ_INT(json_integer_value(json_object_get(f, "worker_count")),
	             100 + i);
	json_decref(r);
}

/* Run a recgatectl of build with args; its status, output in out. */
static int
up_ctl(const char *build, const char *args, char *out, size_t outlen)
{
	char cmd[4096], path[600];
	size_t n;
	FILE *f;
	int st;

	snprintf(path, sizeof(path), "%s/up.out", rg_test_tmpdir());
	CHECK((size_t)snprintf(cmd, sizeof(cmd), "%s/recgatectl %s > '%s' 2>&1 "
	                       "</dev/null", build, args, path) < sizeof(cmd));
	st = system(cmd);
	CHECK((f = fopen(path, "r")) != NULL);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

SLOW_TEST(sqlcipher_upgrade_reads_every_record_rekeys_verifies_and_rolls_back,
          120)
{
	char paths[OLD_RECORDS + NEW_RECORDS][200], args[2048], out[4096];
	char self[512], from[512];
	const char *env = getenv("RG_UPGRADE_FROM");
	struct rg_gw gw;
	rg_keystore *ks;
	uint32_t dbv;

	snprintf(self, sizeof(self), "%s", rg_test_build());
	snprintf(from, sizeof(from), "%s", env != NULL && env[0] != '\0' ? env :
	                                   self);
	/* The first build lays out the directory (the database is made by
	 * its recgatectl init) and stores records. rg_gw_* take their
	 * programs from RG_BUILD, read at each start. */
	CHECK(setenv("RG_BUILD", from, 1) == 0);
	rg_gw_start(&gw, NULL);
	for (int i = 0; i < OLD_RECORDS; i++)
		up_submit(&gw, i, paths[i], sizeof(paths[i]));
	rg_gw_stop(&gw);

	/* The upgrade: this build on the same directory. */
	CHECK(setenv("RG_BUILD", self, 1) == 0);
	rg_gw_restart(&gw);
	for (int i = 0; i < OLD_RECORDS; i++)
		up_reads(&gw, i, paths[i]);
	for (int i = OLD_RECORDS; i < OLD_RECORDS + NEW_RECORDS; i++)
		up_submit(&gw, i, paths[i], sizeof(paths[i]));
	ks = rg_gw_keystore(&gw);
	dbv = rg_keystore_db_version(ks);
	rg_keystore_free(ks);
	/* The online rekey copies the file under this build's SQLCipher. */
	snprintf(args, sizeof(args), "admin --url %s --key %s/clients/admin.key "
	         "rotate database", gw.url, gw.dir);
	CHECKF(up_ctl(self, args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "rekeyed: ") != NULL, "%s", out);
	ks = rg_gw_keystore(&gw);
	CHECK_EQ_INT(rg_keystore_db_version(ks), dbv + 1);
	rg_keystore_free(ks);
	for (int i = 0; i < OLD_RECORDS + NEW_RECORDS; i++)
		up_reads(&gw, i, paths[i]);
	snprintf(args, sizeof(args), "audit export '%s/exp' --url %s --key "
	         "%s/clients/officer.key", rg_test_tmpdir(), gw.url, gw.dir);
	CHECKF(up_ctl(self, args, out, sizeof(out)) == 0, "%s", out);
	snprintf(args, sizeof(args), "audit verify '%s/exp'", rg_test_tmpdir());
	CHECKF(up_ctl(self, args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "OK: ") != NULL, "%s", out);
	rg_gw_stop(&gw);

	/* Rolled back: the first build reads what this one wrote and
	 * rekeyed, and its verifier agrees with this one's. */
	CHECK(setenv("RG_BUILD", from, 1) == 0);
	rg_gw_restart(&gw);
	for (int i = 0; i < OLD_RECORDS + NEW_RECORDS; i++)
		up_reads(&gw, i, paths[i]);
	rg_gw_stop(&gw);
	CHECKF(up_ctl(from, args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "OK: ") != NULL, "%s", out);
	CHECK(setenv("RG_BUILD", self, 1) == 0);
}
