/*
 * test_backup.c -- `recgatectl backup` taken from the real daemon while
 * departments write, and `recgatectl restore` of it into an empty data
 * directory: the restored gateway serves the records and its audit log,
 * exported and verified offline, is whole. A damaged backup, a wrong
 * secret or an occupied data directory is refused and nothing is made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "tests/integration/gw.h"
#include "tests/test.h"

#define HAZARD RG_GW_HAZARD
#define HAZARD_RECORD RG_GW_HAZARD_RECORD

/* Submit one hazard declaration as health; its path (caller frees). */
static char *
bk_submit(struct rg_gw *gw)
{
	return rg_gw_submit(gw, "health", HAZARD, HAZARD_RECORD);
}

/* The SHA-256 of a file in hex. */
static void
bk_sha256(const char *path, char hex[65])
{
	crypto_hash_sha256_state h;
	uint8_t buf[65536], out[32];
	FILE *f = fopen(path, "rb");
	size_t n;

	CHECKF(f != NULL, "%s", path);
	crypto_hash_sha256_init(&h);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_hash_sha256_update(&h, buf, n);
	fclose(f);
	crypto_hash_sha256_final(&h, out);
	sodium_bin2hex(hex, 65, out, sizeof(out));
}

/* A new directory NAME holding a copy of gw's config and master key, for
 * a restore to fill; its config path in conf. */
static void
bk_empty_site(const struct rg_gw *gw, const char *name, char *conf,
              size_t conflen)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "mkdir -m 0700 '%s/%s' && cp '%s' '%s/master.key' "
	         "'%s/%s/'", rg_test_tmpdir(), name, gw->conf, gw->dir,
	         rg_test_tmpdir(), name);
	CHECK(system(cmd) == 0);
	snprintf(conf, conflen, "%s/%s/recgate.conf", rg_test_tmpdir(), name);
}

TEST(backup_taken_under_load_restores_the_gateway_as_it_was)
{
	struct rg_gw gw, back;
	char cmd[4096], out[8192], bdir[600], conf[600], path[800], hex[65];
	char line[16384], *early, *late;
	long long before, after, in_backup, size;
	json_t *m, *r;
	FILE *load;
	int status;

	rg_gw_start(&gw, NULL);
	early = bk_submit(&gw);
	before = rg_gw_audit_size(&gw);
	/* Departments keep writing while the backup is taken: it starts
	 * once their exchanges show in the log. */
	snprintf(cmd, sizeof(cmd), "%s/loadgen closed --port %d --dir %s --pid %d "
	         "--conns 2 --seconds 3 --seed 7 --pool 1000 --label backup",
	         rg_test_build(), gw.port, gw.dir, (int)gw.pid);
	CHECK((load = popen(cmd, "r")) != NULL);
	for (int i = 0; i < 2400 && rg_gw_audit_size(&gw) < before + 20; i++) {
		struct timespec ts = {0, 50 * 1000000L};

		nanosleep(&ts, NULL);
	}
	CHECK(rg_gw_audit_size(&gw) >= before + 20);
	snprintf(bdir, sizeof(bdir), "%s/backup", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "backup --config '%s' --out '%s'", gw.conf, bdir);
	CHECKF(rg_gw_ctl(cmd, out, sizeof(out)) == 0, "%s", out);
	CHECKF(fgets(line, sizeof(line), load) != NULL, "loadgen printed nothing");
	status = pclose(load);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	r = json_loads(line, 0, NULL);
	CHECK(r != NULL);
	CHECK(json_integer_value(json_object_get(r, "ok")) > 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(r, "errors_status")), 0);
	json_decref(r);
	late = bk_submit(&gw);
	after = rg_gw_audit_size(&gw);
	rg_gw_stop(&gw);

	/* The manifest: the snapshot taken mid-load, each file's hash. */
	CHECK_EQ_INT(rg_gw_exists(bdir, "keystore") && rg_gw_exists(bdir, "recgate.db"), 1);
	snprintf(path, sizeof(path), "%s/backup.json", bdir);
	CHECK((m = json_load_file(path, 0, NULL)) != NULL);
	in_backup = json_integer_value(json_object_get(json_object_get(m,
	    "database"), "audit_entries"));
	CHECKF(in_backup >= before + 20 && in_backup < after,
	       "%lld not between %lld and %lld", in_backup, before + 20, after);
	snprintf(path, sizeof(path), "%s/recgate.db", bdir);
	bk_sha256(path, hex);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(m,
	             "database"), "sha256")), hex);
	snprintf(path, sizeof(path), "%s/keystore", bdir);
	bk_sha256(path, hex);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(m,
	             "keystore"), "sha256")), hex);
	json_decref(m);

	/* Restored into an empty site: the gateway as the snapshot saw it.
	 * The site's directory belongs to the service's user (as systemd's
	 * StateDirectory= leaves it): run as root, the restored files are
	 * given to that user. */
	bk_empty_site(&gw, "site", conf, sizeof(conf));
	snprintf(path, sizeof(path), "%s/site", rg_test_tmpdir());
	if (geteuid() == 0)
		CHECK(chown(path, 65534, 65534) == 0);
	snprintf(cmd, sizeof(cmd), "restore --config '%s' --from '%s'", conf, bdir);
	CHECKF(rg_gw_ctl(cmd, out, sizeof(out)) == 0, "%s", out);
	snprintf(line, sizeof(line), "the audit log goes on from size %lld",
	         in_backup);
	CHECKF(strstr(out, line) != NULL, "%s", out);
	if (geteuid() == 0) {
		struct stat sb;

		snprintf(path, sizeof(path), "%s/site/keystore", rg_test_tmpdir());
		CHECK(stat(path, &sb) == 0 && sb.st_uid == 65534);
		snprintf(path, sizeof(path), "%s/site/recgate.db", rg_test_tmpdir());
		CHECK(stat(path, &sb) == 0 && sb.st_uid == 65534);
	}
	back = gw;
	snprintf(back.conf, sizeof(back.conf), "%s", conf);
	rg_gw_restart(&back);
	/* Its first start entered the restore, at the snapshot's end. */
	CHECK_EQ_INT(rg_gw_audit_size(&back), in_backup + 1);
	CHECK_EQ_INT(rg_gw_call(&back, "health", "GET", early, NULL, NULL, NULL, &r),
	             200);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&back, "health", "GET", late, NULL, NULL, NULL, &r),
	             404);
	json_decref(r);
	/* It goes on from there; a second start enters nothing more. */
	free(bk_submit(&back));
	size = rg_gw_audit_size(&back);
	rg_gw_restart(&back);
	CHECK_EQ_INT(rg_gw_audit_size(&back), size);
	/* Its whole log verifies offline, the restore's entry in it: which
	 * backup (the hash of its backup.json) and what it held. */
	snprintf(path, sizeof(path), "%s/export", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit export '%s' --url %s "
	         "--key %s/clients/officer.key > /dev/null", rg_test_build(), path,
	         back.url, back.dir);
	CHECKF(system(cmd) == 0, "%s", cmd);
	rg_gw_stop(&back);
	snprintf(cmd, sizeof(cmd), "audit verify '%s'", path);
	CHECKF(rg_gw_ctl(cmd, out, sizeof(out)) == 0, "%s", out);
	CHECK(strstr(out, "OK") != NULL);
	m = rg_gw_export_entries(path, "admin.restore");
	CHECK_EQ_INT(json_array_size(m), 1);
	{
		json_t *e = json_array_get(m, 0);
		json_t *rs = json_object_get(e, "restore");

		CHECK_EQ_INT(json_integer_value(json_object_get(e, "index")),
		             in_backup);
		CHECK_EQ_STR(json_string_value(json_object_get(e, "decision")),
		             "allow");
		CHECK_EQ_INT(json_integer_value(json_object_get(rs,
		             "audit_entries")), in_backup);
		snprintf(path, sizeof(path), "%s/backup.json", bdir);
		bk_sha256(path, hex);
		CHECK_EQ_STR(json_string_value(json_object_get(rs,
		             "backup_sha256")), hex);
		snprintf(path, sizeof(path), "%s/recgate.db", bdir);
		bk_sha256(path, hex);
		CHECK_EQ_STR(json_string_value(json_object_get(rs,
		             "database_sha256")), hex);
		CHECK(json_string_value(json_object_get(rs, "taken")) != NULL);
		CHECK(json_string_value(json_object_get(rs, "restored")) != NULL);
	}
	json_decref(m);
	free(early);
	free(late);
}

TEST(restore_refuses_a_damaged_backup_a_wrong_secret_and_an_occupied_site)
{
	struct rg_gw gw;
	char cmd[4096], out[8192], bdir[600], conf[600], path[800];
	FILE *f;
	int c;

	rg_gw_start(&gw, NULL);
	free(bk_submit(&gw));
	snprintf(bdir, sizeof(bdir), "%s/backup", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "backup --config '%s' --out '%s'", gw.conf, bdir);
	CHECKF(rg_gw_ctl(cmd, out, sizeof(out)) == 0, "%s", out);
	/* Not into a directory that holds something. */
	CHECK_EQ_INT(rg_gw_ctl(cmd, out, sizeof(out)), 1);
	CHECKF(strstr(out, "exists and is not empty") != NULL, "%s", out);
	rg_gw_stop(&gw);

	/* The gateway's own site is occupied: refused, nothing touched. */
	snprintf(cmd, sizeof(cmd), "restore --config '%s' --from '%s'", gw.conf,
	         bdir);
	CHECK_EQ_INT(rg_gw_ctl(cmd, out, sizeof(out)), 1);
	CHECKF(strstr(out, "exists: move the gateway's present files aside") !=
	       NULL, "%s", out);

	/* Another site's master key does not open the backup's keystore. */
	bk_empty_site(&gw, "wrong", conf, sizeof(conf));
	snprintf(path, sizeof(path), "%s/wrong/master.key", rg_test_tmpdir());
	CHECK(unlink(path) == 0);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl init --demo '%s/other' > /dev/null "
	         "&& cp '%s/other/master.key' '%s'", rg_test_build(),
	         rg_test_tmpdir(), rg_test_tmpdir(), path);
	CHECK(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "restore --config '%s' --from '%s'", conf, bdir);
	CHECK_EQ_INT(rg_gw_ctl(cmd, out, sizeof(out)), 1);
	snprintf(path, sizeof(path), "%s/wrong", rg_test_tmpdir());
	CHECK(!rg_gw_exists(path, "keystore"));
	CHECK(!rg_gw_exists(path, "recgate.db"));

	/* A byte of the database changed: its hash no longer matches. */
	bk_empty_site(&gw, "site", conf, sizeof(conf));
	snprintf(path, sizeof(path), "%s/recgate.db", bdir);
	CHECK((f = fopen(path, "r+b")) != NULL);
	CHECK(fseek(f, 5000, SEEK_SET) == 0);
	CHECK((c = fgetc(f)) != EOF);
	CHECK(fseek(f, 5000, SEEK_SET) == 0);
	CHECK(fputc(c ^ 0xff, f) != EOF);
	CHECK(fclose(f) == 0);
	snprintf(cmd, sizeof(cmd), "restore --config '%s' --from '%s'", conf, bdir);
	CHECK_EQ_INT(rg_gw_ctl(cmd, out, sizeof(out)), 1);
	CHECKF(strstr(out, "does not match backup.json") != NULL, "%s", out);
	snprintf(path, sizeof(path), "%s/site", rg_test_tmpdir());
	CHECK(!rg_gw_exists(path, "keystore"));
	CHECK(!rg_gw_exists(path, "recgate.db"));
	/* A backup taken with the wrong secret is not made at all. */
	snprintf(cmd, sizeof(cmd), "backup --config '%s' --out '%s/b2' "
	         "--master-key '%s/other/master.key'", gw.conf, rg_test_tmpdir(),
	         rg_test_tmpdir());
	CHECK_EQ_INT(rg_gw_ctl(cmd, out, sizeof(out)), 1);
	snprintf(path, sizeof(path), "%s", rg_test_tmpdir());
	CHECK(!rg_gw_exists(path, "b2"));
}
