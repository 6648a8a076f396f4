/*
 * test_master_online.c -- the master secret changed against the running
 * gateway (`recgatectl keys ... --online`): key file to key file, key file
 * to passphrase, passphrase to key file, while departments keep
 * exchanging; each change is an audited entry, the keys inside stay the
 * same, online rotations afterwards reseal under the new secret, and a
 * restart needs the new secret and says so when given the old one.
 * Refusals (replayed, tampered, wrong current secret, not an administrator)
 * and kill -9 at the change's crash points.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "gateway/master_box.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

/* The descriptor the daemon gets its passphrase on. */
#define MS_PASS_FD 37
#define MS_MAX_RECEIPTS 2000

#define HAZARD "/v1/resources/hazard-declaration/records"
#define RECORD                                                                 \
	"{\"employer\": \"乙公司\", \"employer_credit_code\": \"91110000100000002X\","\
	" \"hazard_categories\": \"粉尘\", \"worker_count\": 12,"                    \
	" \"exposed_worker_count\": 4, \"declaration_type\": \"首次申报\","          \
	" \"declaration_date\": \"2026-03-01\"}"

/* `keys list`'s table without its first line (which names the kdf). */
static void
ms_keys_table(struct rg_gw *gw, const char *pass, char *out, size_t outlen)
{
	char args[2048], raw[16384];
	const char *nl;

	if (pass != NULL)
		snprintf(args, sizeof(args), "keys list --config '%s' "
		         "--passphrase-fd 3 3<'%s'", gw->conf, pass);
	else
		snprintf(args, sizeof(args), "keys list --config '%s'", gw->conf);
	CHECKF(rg_gw_ctl(args, raw, sizeof(raw)) == 0, "%s", raw);
	CHECK((nl = strchr(raw, '\n')) != NULL);
	/* Per key: id, purpose, version, status, created, not after (use,
	 * read from the database, moves with the traffic). */
	out[0] = '\0';
	for (char *save = NULL, *line = strtok_r((char *)nl + 1, "\n", &save);
	     line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char f[6][80];
		size_t used = strlen(out);

		if (sscanf(line, "%79s %79s %79s %79s %79s %79s", f[0], f[1], f[2],
		           f[3], f[4], f[5]) != 6)
			continue;
		CHECK(used + 512 < outlen);
		snprintf(out + used, outlen - used, "%s %s %s %s %s %s\n", f[0],
		         f[1], f[2], f[3], f[4], f[5]);
	}
	CHECK(strstr(out, " signing ") != NULL);
}

/* Restart with the passphrase in file pass on MS_PASS_FD. */
static void
ms_restart_pass(struct rg_gw *gw, const char *pass)
{
	int fd = open(pass, O_RDONLY);

	CHECK(fd >= 0);
	CHECK(dup2(fd, MS_PASS_FD) == MS_PASS_FD);
	close(fd);
	rg_gw_restart(gw);
	close(MS_PASS_FD);
}

/* ---- steady load --------------------------------------------------------- */

struct ms_load {
	struct rg_gw *gw;
	volatile int stop;
	int sent, ok;
	pthread_mutex_t mu;
};

/* One department reading the catalogue every 20 ms until told to stop,
 * keeping every answer for the verification at the end. */
static void *
ms_worker(void *arg)
{
	struct ms_load *l = arg;
	char path[700];

	while (!l->stop) {
		json_t *r = NULL;
		int st, n;

		st = rg_gw_call(l->gw, "hrss", "GET", "/v1/catalogue", NULL, NULL,
		                NULL, &r);
		pthread_mutex_lock(&l->mu);
		n = l->sent++;
		pthread_mutex_unlock(&l->mu);
		if (st == 200 && n < MS_MAX_RECEIPTS) {
			snprintf(path, sizeof(path), "%s/rc-%04d.json",
			         rg_test_tmpdir(), n);
			if (json_dump_file(r, path, JSON_COMPACT) == 0) {
				pthread_mutex_lock(&l->mu);
				l->ok++;
				pthread_mutex_unlock(&l->mu);
			}
		}
		json_decref(r);
		usleep(20000);
	}
	return NULL;
}

/* The entry of a response's receipt, parsed (caller decrefs). */
static json_t *
ms_entry(const json_t *resp)
{
	const char *b64 = json_string_value(json_object_get(json_object_get(
	    resp, "receipt"), "entry"));
	uint8_t bin[8192];
	size_t len = 0;
	json_t *e;

	CHECK(b64 != NULL);
	CHECK(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL, &len,
	                        NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	e = json_loadb((const char *)bin, len, 0, NULL);
	CHECK(e != NULL);
	return e;
}

/* The last answer recgatectl printed (the JSON line), parsed. */
static json_t *
ms_ctl_json(const char *out)
{
	json_t *j = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);

	CHECKF(j != NULL, "no JSON answer in %s", out);
	return j;
}

static void
ms_rotate(struct rg_gw *gw, const char *what)
{
	char path[128];
	json_t *r;

	snprintf(path, sizeof(path), "/v1/admin/%s/rotate", what);
	CHECK_EQ_INT(rg_gw_call(gw, "admin", "POST", path, NULL, NULL, NULL, &r),
	             200);
	json_decref(r);
}

/* Export the log and verify it with every kept receipt. */
static void
ms_verify_all(struct rg_gw *gw, int receipts)
{
	char exp[700], cmd[16384], out[4096];
	size_t off;
	int rc;

	snprintf(exp, sizeof(exp), "%s/export-%d", rg_test_tmpdir(), receipts);
	snprintf(cmd, sizeof(cmd), "audit export '%s' --url %s --key "
	         "%s/clients/officer.key", exp, gw->url, gw->dir);
	CHECKF(rg_gw_ctl(cmd, out, sizeof(out)) == 0, "%s", out);
	for (int base = 0; base < receipts; base += 40) {
		off = (size_t)snprintf(cmd, sizeof(cmd), "audit verify '%s'", exp);
		for (int i = base; i < receipts && i < base + 40; i++) {
			char p[700];

			snprintf(p, sizeof(p), "%s/rc-%04d.json", rg_test_tmpdir(), i);
			if (access(p, R_OK) == 0)
				off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
				                        " --receipt %s", p);
		}
		rc = rg_gw_ctl(cmd, out, sizeof(out));
		CHECKF(rc == 0 && strstr(out, "OK: ") != NULL, "%s", out);
	}
}

SLOW_TEST(master_secret_changes_online_three_ways_while_exchanges_continue, 240)
{
	struct rg_gw gw;
	struct ms_load load = {0};
	pthread_t th[2];
	char args[3072], out[16384], t0[16384], t1[16384], pass[700], m2[700];
	char m3[700], rec[300];
	json_t *r, *e;

	rg_gw_start(&gw, "checkpoint_every_entries = 8\n");
	snprintf(pass, sizeof(pass), "%s/pass", gw.dir);
	snprintf(m2, sizeof(m2), "%s/m2.key", gw.dir);
	snprintf(m3, sizeof(m3), "%s/m3.key", gw.dir);
	rg_gw_write_text(pass, "联席会议 new passphrase\n");
	/* A record written before, read after every change and restart. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL, RECORD,
	                        NULL, &r), 200);
	snprintf(rec, sizeof(rec), "%s/%s", HAZARD, json_string_value(
	         json_object_get(json_array_get(json_object_get(json_object_get(
	         r, "result"), "records"), 0), "id")));
	json_decref(r);
	ms_keys_table(&gw, NULL, t0, sizeof(t0));

	load.gw = &gw;
	pthread_mutex_init(&load.mu, NULL);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, ms_worker, &load) == 0);
	usleep(200000);

	/* 1. Key file to a new key file (made by the command). */
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "'%s' --url %s --key %s/clients/admin.key", m2, gw.conf, gw.url,
	         gw.dir);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "before the next restart") != NULL, "%s", out);
	r = ms_ctl_json(out);
	e = ms_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(e, "action")),
	             "admin.master.change");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
	             json_object_get(e, "admin"), "master"), "kdf")), "keyfile");
	json_decref(e);
	json_decref(r);
	rg_gw_conf_set(&gw, "master_key_file", "m2.key");
	ms_keys_table(&gw, NULL, t1, sizeof(t1));
	CHECK_EQ_STR(t1, t0); /* same ids, versions, statuses, times */
	/* The keeper reseals with the new secret: a rotation works, and the
	 * file still opens with m2.key afterwards. */
	ms_rotate(&gw, "kek");
	ms_keys_table(&gw, NULL, t0, sizeof(t0));
	CHECK(strstr(t0, "kek-2 ") != NULL);

	/* 2. Key file to a passphrase. */
	snprintf(args, sizeof(args), "keys passphrase --online --config '%s' "
	         "--url %s --key %s/clients/admin.key --new-passphrase-fd 3 "
	         "3<'%s'", gw.conf, gw.url, gw.dir, pass);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "passphrase_fd") != NULL, "%s", out);
	CHECK(strstr(out, "联席会议") == NULL);
	r = ms_ctl_json(out);
	e = ms_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
	             json_object_get(e, "admin"), "master"), "kdf")), "passphrase");
	CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(
	      e, "admin"), "master"), "memlimit")) > 0);
	json_decref(e);
	json_decref(r);
	rg_gw_conf_set(&gw, "master_key_file", NULL);
	snprintf(args, sizeof(args), "%d", MS_PASS_FD);
	rg_gw_conf_set(&gw, "passphrase_fd", args);
	ms_keys_table(&gw, pass, t1, sizeof(t1));
	CHECK_EQ_STR(t1, t0);
	ms_rotate(&gw, "signing-key");
	ms_keys_table(&gw, pass, t0, sizeof(t0));
	CHECK(strstr(t0, " retiring ") != NULL);

	/* 3. Passphrase to a key file. */
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "'%s' --url %s --key %s/clients/admin.key --passphrase-fd 3 "
	         "3<'%s'", m3, gw.conf, gw.url, gw.dir, pass);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "master_key_file = ") != NULL, "%s", out);
	rg_gw_conf_set(&gw, "passphrase_fd", NULL);
	rg_gw_conf_set(&gw, "master_key_file", "m3.key");
	ms_keys_table(&gw, NULL, t1, sizeof(t1));
	CHECK_EQ_STR(t1, t0);
	ms_rotate(&gw, "kek");

	usleep(200000);
	load.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* Not one exchange failed meanwhile. */
	CHECKF(load.ok == load.sent && load.sent > 20, "%d of %d", load.ok,
	       load.sent);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", rec, NULL, NULL, NULL, &r),
	             200);
	json_decref(r);
	ms_verify_all(&gw, load.sent);
	rg_gw_stop(&gw);

	/* The old secrets no longer open it, and the gateway says why. */
	rg_gw_conf_set(&gw, "master_key_file", "m2.key");
	CHECK_EQ_INT(rg_gw_start_fails(&gw, NULL, -1, out, sizeof(out)), 1);
	CHECKF(strstr(out, "changed online") != NULL, "%s", out);
	rg_gw_conf_set(&gw, "master_key_file", "master.key");
	CHECK_EQ_INT(rg_gw_start_fails(&gw, NULL, -1, out, sizeof(out)), 1);
	CHECKF(strstr(out, "changed online") != NULL, "%s", out);
	/* The new one does; every record reads. */
	rg_gw_conf_set(&gw, "master_key_file", "m3.key");
	rg_gw_restart(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", rec, NULL, NULL, NULL, &r),
	             200);
	json_decref(r);
	rg_gw_stop(&gw);
	pthread_mutex_destroy(&load.mu);
}

/* ---- refusals -------------------------------------------------------------- */

/* The gateway's active signing key and id, from GET /v1/keys. */
static void
ms_gateway_key(struct rg_gw *gw, uint8_t pub[32], char kid[16])
{
	json_t *k, *first;
	size_t len = 0;
	const char *p64;

	CHECK_EQ_INT(rg_gw_call(gw, NULL, "GET", "/v1/keys", NULL, NULL, NULL,
	                        &k), 200);
	first = json_array_get(json_object_get(k, "keys"), 0);
	p64 = json_string_value(json_object_get(first, "public_key"));
	CHECK(p64 != NULL);
	CHECK(sodium_base642bin(pub, 32, p64, strlen(p64), NULL, &len, NULL,
	                        sodium_base64_VARIANT_ORIGINAL) == 0 && len == 32);
	snprintf(kid, 16, "%s", json_string_value(json_object_get(first,
	                                                          "keyid")));
	json_decref(k);
}

/* A change message as recgatectl makes it, from the demo's key file to a
 * random new key file; current overrides the current master if set. */
static char *
ms_body(struct rg_gw *gw, const uint8_t *current, int flip, int same)
{
	struct rg_master_change *c = sodium_malloc(sizeof(*c));
	char path[700], err[256], kid[16], *sealed, *body;
	uint8_t pub[32], *file;
	size_t len = 0;
	json_t *j;

	CHECK(c != NULL);
	memset(c, 0, sizeof(*c));
	ms_gateway_key(gw, pub, kid);
	c->next.kind = RG_KEYSTORE_KDF_KEYFILE;
	randombytes_buf(c->next_master, sizeof(c->next_master));
	snprintf(path, sizeof(path), "%s/master.key", gw->dir);
	CHECK(rg_keystore_read_master(path, c->current_master, err,
	                              sizeof(err)) == 0);
	if (current != NULL)
		memcpy(c->current_master, current, 32);
	if (same)
		memcpy(c->next_master, c->current_master, 32);
	snprintf(path, sizeof(path), "%s/keystore", gw->dir);
	CHECK((file = rg_keystore_snapshot(path, &len, err, sizeof(err))) != NULL);
	crypto_hash_sha256(c->file_sha256, file, len);
	free(file);
	sealed = rg_master_box_seal(c, pub);
	sodium_free(c);
	CHECK(sealed != NULL);
	/* A changed character inside the base64 (not its padding). */
	if (flip)
		sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	j = json_pack("{s:s, s:s}", "to", kid, "sealed", sealed);
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	free(sealed);
	CHECK(body != NULL);
	return body;
}

static void
ms_refused(struct rg_gw *gw, const char *dept, const char *body, int status,
           const char *code)
{
	json_t *r;

	CHECK_EQ_INT(rg_gw_call(gw, dept, "POST", "/v1/admin/master-secret", NULL,
	                        body, NULL, &r), status);
	CHECK_EQ_STR(rg_gw_code(r), code);
	/* Refusals are entered too, with a receipt. */
	CHECK(json_object_get(r, "receipt") != NULL);
	json_decref(r);
}

SLOW_TEST(master_change_refuses_replayed_tampered_wrong_and_non_admin, 120)
{
	struct rg_gw gw;
	uint8_t wrong[32];
	char *good, *body, out[8192], args[2048];
	json_t *r;

	rg_gw_start(&gw, NULL);
	good = ms_body(&gw, NULL, 0, 0);
	/* Not an administrator: refused by role before anything opens. */
	ms_refused(&gw, "health", good, 403, "forbidden");
	ms_refused(&gw, "officer", good, 403, "forbidden");
	/* Tampered: the box does not open. */
	body = ms_body(&gw, NULL, 1, 0);
	ms_refused(&gw, "admin", body, 400, "sealed_invalid");
	free(body);
	ms_refused(&gw, "admin", "{\"to\": \"00000000\", \"sealed\": \"QUJD\"}",
	           409, "master_stale");
	/* Sealed right, but by someone who does not know the current secret. */
	randombytes_buf(wrong, sizeof(wrong));
	body = ms_body(&gw, wrong, 0, 0);
	ms_refused(&gw, "admin", body, 403, "master_wrong");
	free(body);
	/* The secret in force again: nothing to change. */
	body = ms_body(&gw, NULL, 0, 1);
	ms_refused(&gw, "admin", body, 400, "bad_parameter");
	free(body);
	/* The good one goes through once; replayed in a freshly signed
	 * request it is stale (the keystore it was made for is gone). */
	CHECK_EQ_INT(rg_gw_call(&gw, "admin", "POST", "/v1/admin/master-secret",
	                        NULL, good, NULL, &r), 200);
	json_decref(r);
	ms_refused(&gw, "admin", good, 409, "master_stale");
	free(good);
	/* The command line proves the current secret first: the demo's
	 * key file no longer opens the keystore, so nothing is sent. */
	snprintf(args, sizeof(args), "keys master-file %s/x.key --online "
	         "--config '%s' --url %s --key %s/clients/health.key", gw.dir,
	         gw.conf, gw.url, gw.dir);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
	CHECKF(strstr(out, "wrong master secret") != NULL, "%s", out);
	rg_gw_stop(&gw);
}

SLOW_TEST(master_changed_to_a_passphrase_online_starts_with_the_passphrase, 120)
{
	struct rg_gw gw;
	char args[2048], out[8192], pass[700], fdnum[16];
	json_t *r;

	rg_gw_start(&gw, NULL);
	snprintf(pass, sizeof(pass), "%s/pass", gw.dir);
	rg_gw_write_text(pass, "a passphrase for the restart\n");
	snprintf(args, sizeof(args), "keys passphrase --online --config '%s' "
	         "--url %s --key %s/clients/admin.key --new-passphrase-fd 3 "
	         "3<'%s'", gw.conf, gw.url, gw.dir, pass);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	rg_gw_stop(&gw);
	/* The key file it was sealed under: refused, and told why. */
	CHECK_EQ_INT(rg_gw_start_fails(&gw, NULL, -1, out, sizeof(out)), 1);
	CHECKF(strstr(out, "protected by a passphrase") != NULL &&
	       strstr(out, "changed online") != NULL, "%s", out);
	rg_gw_conf_set(&gw, "master_key_file", NULL);
	snprintf(fdnum, sizeof(fdnum), "%d", MS_PASS_FD);
	rg_gw_conf_set(&gw, "passphrase_fd", fdnum);
	ms_restart_pass(&gw, pass);
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	json_decref(r);
	/* A rotation right after start: the keeper reseals under the
	 * passphrase it was given. */
	ms_rotate(&gw, "signing-key");
	rg_gw_stop(&gw);
	ms_restart_pass(&gw, pass);
	rg_gw_stop(&gw);
}

SLOW_TEST(master_change_command_refuses_a_non_admin_key_and_another_gateway, 120)
{
	struct rg_gw gw;
	char out[8192], args[2048], m2[700];

	rg_gw_start(&gw, NULL);
	snprintf(m2, sizeof(m2), "%s/m2.key", gw.dir);
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "'%s' --url %s --key %s/clients/health.key", m2, gw.conf, gw.url,
	         gw.dir);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
	CHECKF(strstr(out, "role_not_permitted") != NULL, "%s", out);
	/* The key file it made seals nothing: removed again. */
	CHECK(access(m2, F_OK) != 0);
	/* Another gateway's keystore than the one at the URL: the pinned
	 * signing key differs, and nothing is sent. */
	snprintf(args, sizeof(args), "init --demo %s/other", rg_test_tmpdir());
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 0);
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "%s/other/recgate.conf --url %s --key %s/clients/admin.key", m2,
	         rg_test_tmpdir(), gw.url, gw.dir);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
	CHECKF(strstr(out, "is not the keystore's") != NULL, "%s", out);
	CHECK(access(m2, F_OK) != 0);
	/* And the gateway still opens with the old one. */
	rg_gw_stop(&gw);
	rg_gw_restart(&gw);
	rg_gw_stop(&gw);
}

/* ---- kill -9 ------------------------------------------------------------- */

/* Does the exported log hold an admin.master.change entry? Also checks
 * that it verifies. */
static int
ms_log_has_change(struct rg_gw *gw, const char *tag)
{
	char exp[700], args[2048], out[8192], path[800];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	snprintf(exp, sizeof(exp), "%s/exp-%s", rg_test_tmpdir(), tag);
	snprintf(args, sizeof(args), "audit export '%s' --url %s --key "
	         "%s/clients/officer.key", exp, gw->url, gw->dir);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	snprintf(args, sizeof(args), "audit verify '%s'", exp);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	snprintf(path, sizeof(path), "%s/entries.jsonl", exp);
	CHECK((f = fopen(path, "r")) != NULL);
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL), *e;
		const char *b64 = json_string_value(json_object_get(j, "entry"));
		uint8_t bin[8192];
		size_t len = 0;

		if (b64 != NULL &&
		    sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL, &len,
		                      NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
		    (e = json_loadb((const char *)bin, len, 0, NULL)) != NULL) {
			const char *a = json_string_value(json_object_get(e, "action"));
			const char *d = json_string_value(json_object_get(e,
			                                                  "decision"));

			found |= a != NULL && strcmp(a, "admin.master.change") == 0 &&
			         d != NULL && strcmp(d, "allow") == 0;
			json_decref(e);
		}
		json_decref(j);
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * Kill the keeper at point during a change from master.key to m2.key;
 * then the secret the documentation names (new_opens: m2.key, else
 * master.key) starts the gateway, the other is refused with a message
 * that says which to use, and the log verifies.
 */
static void
ms_crash_drill(const char *point, int new_opens)
{
	struct rg_gw gw;
	char conf[200], args[2048], out[8192], m2[700], rec[300];
	json_t *r;
	int st;

	snprintf(conf, sizeof(conf), "crash_at = %s\n", point);
	rg_gw_start(&gw, conf);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL, RECORD,
	                        NULL, &r), 200);
	snprintf(rec, sizeof(rec), "%s/%s", HAZARD, json_string_value(
	         json_object_get(json_array_get(json_object_get(json_object_get(
	         r, "result"), "records"), 0), "id")));
	json_decref(r);
	snprintf(m2, sizeof(m2), "%s/m2.key", gw.dir);
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "'%s' --url %s --key %s/clients/admin.key", m2, gw.conf, gw.url,
	         gw.dir);
	CHECK(rg_gw_ctl(args, out, sizeof(out)) != 0);
	CHECKF(strstr(out, "keep both secrets") != NULL, "%s", out);
	CHECK(access(m2, R_OK) == 0); /* kept: the outcome was unknown */
	st = rg_gw_wait_exit(&gw, 10000);
	CHECK(WIFEXITED(st) || WIFSIGNALED(st));
	rg_gw_conf_set(&gw, "crash_at", NULL);

	/* The wrong one first: refused, naming the situation. */
	rg_gw_conf_set(&gw, "master_key_file", new_opens ? "master.key"
	                                                 : "m2.key");
	CHECK_EQ_INT(rg_gw_start_fails(&gw, NULL, -1, out, sizeof(out)), 1);
	CHECKF(strstr(out, new_opens ? "new secret" : "previous secret") != NULL,
	       "%s", out);
	rg_gw_conf_set(&gw, "master_key_file", new_opens ? "m2.key"
	                                                 : "master.key");
	rg_gw_restart(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", rec, NULL, NULL, NULL, &r),
	             200);
	json_decref(r);
	/* Online rotations go on under the secret in use. */
	ms_rotate(&gw, "kek");
	CHECK_EQ_INT(ms_log_has_change(&gw, point), new_opens);
	rg_gw_stop(&gw);
	rg_gw_restart(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", rec, NULL, NULL, NULL, &r),
	             200);
	json_decref(r);
	rg_gw_stop(&gw);
}

SLOW_TEST(master_change_killed_before_commit_leaves_the_old_secret_in_force, 120)
{
	ms_crash_drill("master.keystore_written", 0);
}

SLOW_TEST(master_change_killed_after_commit_leaves_the_new_secret_in_force, 120)
{
	ms_crash_drill("rotation.committed", 1);
}

TEST(master_change_online_takes_the_current_key_file_from_the_command_line)
{
	struct rg_gw gw;
	char out[8192], args[4096], moved[700], path[700], next[700], err[256];
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	rg_keystore *ks;

	/* As under systemd: the config names the service's credential, and
	 * the administrator's shell cannot read it. The running gateway has
	 * its secret already. */
	rg_gw_start(&gw, NULL);
	snprintf(path, sizeof(path), "%s/master.key", gw.dir);
	snprintf(moved, sizeof(moved), "%s/etc-master.key", rg_test_tmpdir());
	CHECK(rename(path, moved) == 0);
	snprintf(next, sizeof(next), "%s/next.key", rg_test_tmpdir());
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "'%s' --url %s --key %s/clients/admin.key", next, gw.conf, gw.url,
	         gw.dir);
	CHECK(rg_gw_ctl(args, out, sizeof(out)) != 0);
	CHECK(access(next, F_OK) != 0 || unlink(next) == 0);
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "'%s' --url %s --key %s/clients/admin.key --master-key '%s'",
	         next, gw.conf, gw.url, gw.dir, moved);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	rg_gw_stop(&gw);
	/* The keystore is sealed under the new file now. */
	CHECK(rg_keystore_read_master(next, master, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/keystore", gw.dir);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	sodium_memzero(master, sizeof(master));
}
