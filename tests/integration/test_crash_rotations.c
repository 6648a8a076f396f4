/*
 * test_crash_rotations.c -- kill -9 during each online key change: the
 * keeper dies at a named point (crash_at), the gateway restarts, the
 * keystore opens, the keys in use are the ones the audit log announced,
 * every acknowledged record reads, and the whole log and every receipt
 * verify.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "crypto/sig.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define HAZARD "/v1/resources/hazard-declaration/records"
#define RECORD                                                                 \
	"{\"employer\": \"乙公司\", \"employer_credit_code\": \"91110000100000002X\","\
	" \"hazard_categories\": \"粉尘\", \"worker_count\": 20,"                    \
	" \"exposed_worker_count\": 5, \"declaration_type\": \"首次申报\","          \
	" \"declaration_date\": \"2026-03-01\"}"
#define NREC 3

struct drill {
	struct rg_gw gw;
	char paths[NREC + 1][300];
	int nreceipts;
};

/* Submit one record as health, keeping its path and its receipt. */
static void
drill_submit(struct drill *d, int i)
{
	char file[700];
	json_t *r, *rec;

	CHECK_EQ_INT(rg_gw_call(&d->gw, "health", "POST", HAZARD, NULL, RECORD,
	                        NULL, &r), 200);
	rec = json_array_get(json_object_get(json_object_get(r, "result"),
	                                     "records"), 0);
	CHECK(json_string_value(json_object_get(rec, "id")) != NULL);
	snprintf(d->paths[i], sizeof(d->paths[i]), "%s/%s", HAZARD,
	         json_string_value(json_object_get(rec, "id")));
	snprintf(file, sizeof(file), "%s/receipt-%d.json", rg_test_tmpdir(),
	         d->nreceipts++);
	CHECK(json_dump_file(r, file, JSON_COMPACT) == 0);
	json_decref(r);
}

static void
drill_reads(struct drill *d, int n)
{
	for (int i = 0; i < n; i++) {
		json_t *r;

		CHECK_EQ_INT(rg_gw_call(&d->gw, "health", "GET", d->paths[i], NULL,
		                        NULL, NULL, &r), 200);
		CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
		             json_object_get(r, "result"), "fields"), "employer")),
		             "乙公司");
		json_decref(r);
	}
}

/* Start with the crash point armed, keep records, send the step that
 * crosses it, and see the gateway go down without answering it. */
static void
drill_crash(struct drill *d, const char *point, const char *method,
            const char *path, const char *body)
{
	struct rg_client_resp resp = {0};
	char err[512], *raw;
	size_t len;
	int rc;

	memset(d, 0, sizeof(*d));
	rg_gw_prepare(&d->gw, "checkpoint_every_entries = 4\n");
	rg_gw_conf_set(&d->gw, "crash_at", point);
	rg_gw_restart(&d->gw);
	for (int i = 0; i < NREC; i++)
		drill_submit(d, i);
	raw = rg_gw_build(&d->gw, "admin", method, path, NULL, body, NULL, &len);
	rc = rg_client_send(d->gw.host, d->gw.port, raw, len, &resp, err,
	                    sizeof(err));
	free(raw);
	/* The keeper died before answering: no reply, or the front's own
	 * refusal once its keeper is gone -- never a success. */
	CHECKF(rc != 0 || resp.status != 200, "the step was answered 200");
	free(resp.body);
	(void)rg_gw_wait_exit(&d->gw, 30000);
	rg_gw_conf_set(&d->gw, "crash_at", NULL);
	rg_gw_restart(&d->gw);
}

/* After the restart: the records, a new one, no undo file left, and an
 * export of the log verifying with every receipt. */
static void
drill_check(struct drill *d)
{
	char cmd[8192], exp[700], undo[700], out[4096];
	size_t off;
	FILE *f;
	int st;

	drill_reads(d, NREC);
	drill_submit(d, NREC);
	drill_reads(d, NREC + 1);
	snprintf(undo, sizeof(undo), "%s/keystore.undo", d->gw.dir);
	CHECKF(access(undo, F_OK) != 0, "%s left behind", undo);
	snprintf(exp, sizeof(exp), "%s/export", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit export '%s' --url %s "
	         "--key %s/clients/officer.key > /dev/null", rg_test_build(), exp,
	         d->gw.url, d->gw.dir);
	CHECKF(system(cmd) == 0, "%s", cmd);
	off = (size_t)snprintf(cmd, sizeof(cmd), "%s/recgatectl audit verify '%s'",
	                       rg_test_build(), exp);
	for (int i = 0; i < d->nreceipts; i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
		                        " --receipt %s/receipt-%d.json",
		                        rg_test_tmpdir(), i);
	snprintf(cmd + off, sizeof(cmd) - off, " > %s/verify.out 2>&1",
	         rg_test_tmpdir());
	st = system(cmd);
	snprintf(exp, sizeof(exp), "%s/verify.out", rg_test_tmpdir());
	f = fopen(exp, "r");
	CHECK(f != NULL);
	out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
	fclose(f);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
}

/* The number of entries of one action in the exported log. */
static int
drill_count(const char *action)
{
	char path[700], line[65536], needle[128];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/export/entries.jsonl", rg_test_tmpdir());
	f = fopen(path, "r");
	CHECKF(f != NULL, "%s", path);
	snprintf(needle, sizeof(needle), "\"action\":\"%s\"", action);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = json_loads(line, 0, NULL);
		const char *b64 = json_string_value(json_object_get(j, "entry"));
		uint8_t bin[16384];
		size_t len;

		if (b64 != NULL &&
		    sodium_base642bin(bin, sizeof(bin) - 1, b64, strlen(b64), NULL,
		                      &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
			bin[len] = '\0';
			if (strstr((const char *)bin, needle) != NULL)
				n++;
		}
		json_decref(j);
	}
	fclose(f);
	return n;
}

/* The versions of the active signing key and KEK in the keystore file. */
static void
drill_versions(struct drill *d, uint32_t *signing, uint32_t *kek)
{
	rg_keystore *ks = rg_gw_keystore(&d->gw);

	*signing = rg_keystore_signing_version(ks);
	*kek = rg_keystore_kek_version(ks);
	rg_keystore_free(ks);
}

/* A published key count from /v1/keys (signing keys only). */
static size_t
drill_published(struct drill *d)
{
	json_t *r;
	size_t n;

	CHECK_EQ_INT(rg_gw_call(&d->gw, NULL, "GET", "/v1/keys", NULL, NULL,
	                        NULL, &r), 200);
	n = json_array_size(json_object_get(r, "keys"));
	json_decref(r);
	return n;
}

SLOW_TEST(crash_after_signing_keystore_write_puts_the_old_key_back, 120)
{
	struct drill d;
	uint32_t sv, kv;
	json_t *r;

	drill_crash(&d, "rotation.keystore_written", "POST",
	            "/v1/admin/signing-key/rotate", NULL);
	/* Never announced, so never used: the old key signs on. */
	CHECK_EQ_INT(drill_published(&d), 1);
	drill_check(&d);
	CHECK_EQ_INT(drill_count("admin.signing.rotate"), 0);
	/* And the rotation can simply be asked for again. */
	CHECK_EQ_INT(rg_gw_call(&d.gw, "admin", "POST",
	                        "/v1/admin/signing-key/rotate", NULL, NULL, NULL,
	                        &r), 200);
	json_decref(r);
	rg_gw_stop(&d.gw);
	drill_versions(&d, &sv, &kv);
	CHECK_EQ_INT(sv, 2);
}

SLOW_TEST(crash_after_signing_rotation_commits_keeps_the_announced_key, 120)
{
	struct drill d;
	uint32_t sv, kv;

	drill_crash(&d, "rotation.committed", "POST",
	            "/v1/admin/signing-key/rotate", NULL);
	CHECK_EQ_INT(drill_published(&d), 2);
	drill_check(&d);
	CHECK_EQ_INT(drill_count("admin.signing.rotate"), 1);
	rg_gw_stop(&d.gw);
	drill_versions(&d, &sv, &kv);
	CHECK_EQ_INT(sv, 2);
}

SLOW_TEST(crash_after_kek_keystore_write_keeps_every_record_readable, 120)
{
	struct drill d;
	uint32_t sv, kv;

	drill_crash(&d, "rotation.keystore_written", "POST",
	            "/v1/admin/kek/rotate", NULL);
	drill_check(&d);
	CHECK_EQ_INT(drill_count("admin.kek.rotate"), 0);
	rg_gw_stop(&d.gw);
	drill_versions(&d, &sv, &kv);
	CHECK_EQ_INT(kv, 1);
}

SLOW_TEST(crash_after_kek_rotation_commits_keeps_the_new_kek, 120)
{
	struct drill d;
	uint32_t sv, kv;

	drill_crash(&d, "rotation.committed", "POST", "/v1/admin/kek/rotate",
	            NULL);
	drill_check(&d);
	CHECK_EQ_INT(drill_count("admin.kek.rotate"), 1);
	rg_gw_stop(&d.gw);
	drill_versions(&d, &sv, &kv);
	CHECK_EQ_INT(kv, 2);
}

/* A department's new key: lost with its entry, or kept with it. */
static void
dept_key_drill(const char *point, int kept)
{
	uint8_t seed[RG_SIG_SEEDLEN], pub[RG_SIG_PUBLEN];
	char body[512], pub64[64], seed64[64], path[700];
	rg_sigkey *k = rg_sigkey_generate();
	struct drill d;
	json_t *r;
	FILE *f;

	CHECK(k != NULL);
	rg_sigkey_seed(k, seed);
	rg_sigkey_public(k, pub);
	rg_sigkey_free(k);
	sodium_bin2base64(seed64, sizeof(seed64), seed, sizeof(seed),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(pub64, sizeof(pub64), pub, sizeof(pub),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(seed, sizeof(seed));
	snprintf(body, sizeof(body), "{\"department\": \"health\", \"keyid\": "
	         "\"health-2\", \"public_key\": \"%s\"}", pub64);
	drill_crash(&d, point, "POST", "/v1/admin/keys", body);
	drill_check(&d);
	CHECK_EQ_INT(drill_count("admin.key.add"), kept ? 1 : 0);
	/* The new key signs, or is unknown. */
	snprintf(path, sizeof(path), "%s/clients/health2.key", d.gw.dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, "{\"department\": \"health\", \"keyid\": \"health-2\", "
	        "\"seed\": \"%s\"}\n", seed64);
	CHECK(fclose(f) == 0);
	sodium_memzero(seed64, sizeof(seed64));
	CHECK_EQ_INT(rg_gw_call(&d.gw, "health2", "GET", "/v1/catalogue", NULL,
	                        NULL, NULL, &r), kept ? 200 : 401);
	json_decref(r);
	rg_gw_stop(&d.gw);
}

SLOW_TEST(crash_before_a_department_key_commits_leaves_it_unknown, 120)
{
	dept_key_drill("entered:admin.key.add", 0);
}

SLOW_TEST(crash_after_a_department_key_commits_keeps_it_usable, 120)
{
	dept_key_drill("committed:admin.key.add", 1);
}
