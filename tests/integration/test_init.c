/*
 * test_init.c -- `recgatectl init --config`: a production gateway laid out
 * where its config says serves its departments, administrator and officer
 * over the real daemon; every refusal is made before the first file, and
 * nothing that exists is overwritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define HAZARD RG_GW_HAZARD
#define HAZARD_RECORD RG_GW_HAZARD_RECORD

/* One resource, owned by health. */
static const char small_catalogue[] =
    "{\"version\": 1, \"resources\": [{\"id\": \"hazard-monitoring\", "
    "\"title_zh\": \"危害因素监测\", \"title_en\": \"Workplace hazard monitoring\", "
    "\"owner\": \"health\", \"classification\": \"public\", "
    "\"share\": \"unconditional\", \"retention_days\": 3650, \"fields\": ["
    "{\"name\": \"employer\", \"type\": \"string\", \"required\": true}, "
    "{\"name\": \"exceeds_limit\", \"type\": \"boolean\", \"required\": true}], "
    "\"unconditional_fields\": [\"employer\", \"exceeds_limit\"]}]}";

/*
 * A production-like layout under the test's directory: TOP/recgate.conf
 * with data in TOP/data and the master key where systemd would hand it
 * over (TOP/cred/master.key); init writes the key to TOP/etc/master.key
 * (--master-key) and the key files to TOP/clients. gw is set up to start
 * on it (gw->dir = TOP, so the harness finds TOP/clients/<dept>.key).
 */
static void
init_layout(struct rg_gw *gw, const char *name, const char *conf_extra)
{
	const char *sb = getenv("RG_SANDBOX");
	char path[700], text[2048];

	memset(gw, 0, sizeof(*gw));
	snprintf(gw->dir, sizeof(gw->dir), "%s/%s", rg_test_tmpdir(), name);
	snprintf(gw->conf, sizeof(gw->conf), "%s/recgate.conf", gw->dir);
	CHECK(mkdir(gw->dir, 0700) == 0);
	snprintf(path, sizeof(path), "%s/etc", gw->dir);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/cred", gw->dir);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(text, sizeof(text),
	         "data_dir = data\n"
	         "database = data/recgate.db\n"
	         "keystore = data/keystore\n"
	         "%s"
	         "listen = 127.0.0.1:8443\n"
	         "%s",
	         conf_extra != NULL ? conf_extra : "master_key_file = cred/master.key\n",
	         sb != NULL && strcmp(sb, "off") == 0 ? "sandbox = off\n" : "");
	rg_gw_write_text(gw->conf, text);
}

/* gw's layout with TOP/cat.json (small_catalogue) and, when depts is not
 * NULL, TOP/depts.json holding it. */
static void
init_files(struct rg_gw *gw, const char *name, const char *conf_extra,
           const char *depts)
{
	char path[900];

	init_layout(gw, name, conf_extra);
	snprintf(path, sizeof(path), "%s/cat.json", gw->dir);
	rg_gw_write_text(path, small_catalogue);
	if (depts != NULL) {
		snprintf(path, sizeof(path), "%s/depts.json", gw->dir);
		rg_gw_write_text(path, depts);
	}
}

static struct stat
stat_of(const char *dir, const char *rel)
{
	char path[900];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	CHECKF(stat(path, &sb) == 0, "%s missing", path);
	return sb;
}

static long
owner_of(const char *dir, const char *rel)
{
	return (long)stat_of(dir, rel).st_uid;
}

static unsigned
mode_of(const char *dir, const char *rel)
{
	return (unsigned)(stat_of(dir, rel).st_mode & 07777);
}

/* Run init on gw's layout with the given extra arguments. */
static int
init_run(const struct rg_gw *gw, const char *args, char *out, size_t outlen)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "init --config '%s' --keys-out '%s/clients' %s",
	         gw->conf, gw->dir, args);
	return rg_gw_ctl(cmd, out, outlen);
}

/* A blake2b of the file, to see it unchanged. */
static void
file_hash(const char *dir, const char *rel, uint8_t out[32])
{
	char path[900], buf[65536];
	crypto_generichash_state h;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	CHECK((f = fopen(path, "rb")) != NULL);
	crypto_generichash_init(&h, NULL, 0, 32);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_generichash_update(&h, (uint8_t *)buf, n);
	fclose(f);
	crypto_generichash_final(&h, out, 32);
}

TEST(init_lays_out_a_production_gateway_its_departments_use)
{
	struct rg_client_opts o = {.purpose = "职业病危害项目申报统计"};
	static const char *depts[] = {
		"health", "publicity", "devreform", "education", "industry",
		"civil", "finance", "hrss", "ecology", "housing", "emergency",
		"tax", "market", "medsec", "union", "transport"};
	struct rg_gw gw;
	char out[8192], args[2048], path[900], rel[64];
	uint8_t before[32], after[32];
	char *rec_path;
	json_t *r;

	init_layout(&gw, "prod", NULL);
	/* As systemd leaves it (StateDirectory=): the data directory there
	 * already, the service user's. Run as root, init gives what it makes
	 * there to that user. */
	snprintf(path, sizeof(path), "%s/data", gw.dir);
	CHECK(mkdir(path, 0700) == 0);
	if (geteuid() == 0)
		CHECK(chown(path, 65534, 65534) == 0);
	snprintf(args, sizeof(args), "--origin gw.example.gov.cn/recgate "
	         "--catalogue policy/demo-catalogue.json --master-key '%s/etc/master.key'",
	         gw.dir);
	CHECKF(init_run(&gw, args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "for 16 departments (convener health)") != NULL, "%s", out);
	CHECK(strstr(out, "gw.example.gov.cn/recgate") != NULL);
	/* The secret where --master-key said, not where the config reads it. */
	CHECK_EQ_INT(mode_of(gw.dir, "etc/master.key"), 0600);
	CHECK(!rg_gw_exists(gw.dir, "cred/master.key"));
	CHECK_EQ_INT(mode_of(gw.dir, "data"), 0700);
	CHECK(rg_gw_exists(gw.dir, "data/keystore"));
	CHECK(rg_gw_exists(gw.dir, "data/recgate.db"));
	if (geteuid() == 0) {
		CHECK_EQ_INT(owner_of(gw.dir, "data/keystore"), 65534);
		CHECK_EQ_INT(owner_of(gw.dir, "data/recgate.db"), 65534);
		CHECK(!rg_gw_exists(gw.dir, "data/recgate.db-wal"));
	}
	CHECK_EQ_INT(mode_of(gw.dir, "clients"), 0700);
	for (size_t i = 0; i < sizeof(depts) / sizeof(*depts); i++) {
		snprintf(rel, sizeof(rel), "clients/%s.key", depts[i]);
		CHECK_EQ_INT(mode_of(gw.dir, rel), 0600);
	}
	CHECK_EQ_INT(mode_of(gw.dir, "clients/office.key"), 0600);
	CHECK_EQ_INT(mode_of(gw.dir, "clients/admin.key"), 0600);
	CHECK_EQ_INT(mode_of(gw.dir, "clients/officer.key"), 0600);

	/* What systemd's LoadCredential= does: the secret where the config
	 * reads it. */
	snprintf(args, sizeof(args), "cp '%s/etc/master.key' '%s/cred/master.key'",
	         gw.dir, gw.dir);
	CHECK(system(args) == 0);
	rg_gw_restart(&gw);
	rec_path = rg_gw_submit(&gw, "health", HAZARD, HAZARD_RECORD);
	CHECK_EQ_INT(rg_gw_call(&gw, "finance", "GET", rec_path, NULL, NULL, &o, &r), 200);
	free(rec_path);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
	    json_object_get(r, "result"), "fields"), "employer")), "某某矿业有限公司");
	json_decref(r);
	/* The officer reads the audit trail; a department does not. */
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/checkpoint", NULL,
	                        NULL, NULL, &r), 200);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", "/v1/audit/checkpoint", NULL,
	                        NULL, NULL, &r), 403);
	json_decref(r);
	/* The administrator's key manages keys. */
	snprintf(args, sizeof(args), "admin --url %s --key '%s/clients/admin.key' "
	         "keys hrss", gw.url, gw.dir);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "hrss-") != NULL, "%s", out);
	rg_gw_stop(&gw);

	/* Again on the same config: refused, the gateway's data untouched. */
	file_hash(gw.dir, "data/keystore", before);
	snprintf(args, sizeof(args), "--origin gw.example.gov.cn/recgate "
	         "--catalogue policy/demo-catalogue.json --master-key '%s/etc/again.key'",
	         gw.dir);
	snprintf(path, sizeof(path), "%s/clients2", gw.dir);
	{
		char cmd[4096];

		snprintf(cmd, sizeof(cmd), "init --config '%s' --keys-out '%s' %s",
		         gw.conf, path, args);
		CHECK_EQ_INT(rg_gw_ctl(cmd, out, sizeof(out)), 1);
	}
	CHECKF(strstr(out, "exists already") != NULL, "%s", out);
	file_hash(gw.dir, "data/keystore", after);
	CHECK(memcmp(before, after, 32) == 0);
	CHECK(!rg_gw_exists(gw.dir, "etc/again.key"));
	CHECK(!rg_gw_exists(gw.dir, "clients2"));
}

TEST(init_takes_a_departments_file_and_a_convener)
{
	struct rg_gw gw;
	char out[8192], args[2048], path[900];

	init_files(&gw, "small", NULL,
	           "[{\"id\": \"health\", \"name\": \"卫生健康局\"},"
	           " {\"id\": \"hrss\", \"name\": \"人社局\"}]");
	snprintf(args, sizeof(args), "--origin county.example/recgate "
	         "--catalogue '%s/cat.json' --departments '%s/depts.json' "
	         "--convener hrss", gw.dir, gw.dir);
	CHECKF(init_run(&gw, args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "for 2 departments (convener hrss)") != NULL, "%s", out);
	/* No --master-key: the config's own path. */
	CHECK_EQ_INT(mode_of(gw.dir, "cred/master.key"), 0600);
	CHECK(rg_gw_exists(gw.dir, "clients/health.key"));
	CHECK(rg_gw_exists(gw.dir, "clients/hrss.key"));
	CHECK(!rg_gw_exists(gw.dir, "clients/finance.key"));
	CHECK(rg_gw_exists(gw.dir, "clients/office.key"));
	/* The role keys belong to the convener's bureau. */
	snprintf(path, sizeof(path), "%s/clients/office.key", gw.dir);
	{
		json_t *k = json_load_file(path, 0, NULL);

		CHECK(k != NULL);
		CHECK_EQ_STR(json_string_value(json_object_get(k, "department")), "hrss");
		json_decref(k);
	}
}

/* Run init with the given departments text and catalogue text, expecting
 * a refusal that names want; checks that nothing was made. */
static void
init_refused(const char *name, const char *conf_extra, const char *depts,
             const char *catalogue, const char *more, const char *want)
{
	struct rg_gw gw;
	char out[8192], args[2048], path[900];

	init_layout(&gw, name, conf_extra);
	snprintf(path, sizeof(path), "%s/cat.json", gw.dir);
	rg_gw_write_text(path, catalogue);
	args[0] = '\0';
	if (depts != NULL) {
		snprintf(path, sizeof(path), "%s/depts.json", gw.dir);
		rg_gw_write_text(path, depts);
		snprintf(args, sizeof(args), "--departments '%s' ", path);
	}
	snprintf(args + strlen(args), sizeof(args) - strlen(args),
	         "--origin county.example/recgate --catalogue '%s/cat.json' %s",
	         gw.dir, more != NULL ? more : "");
	CHECKF(init_run(&gw, args, out, sizeof(out)) == 1, "%s: %s", name, out);
	CHECKF(strstr(out, want) != NULL, "%s: wanted \"%s\" in: %s", name, want,
	       out);
	CHECKF(!rg_gw_exists(gw.dir, "clients"), "%s: clients made", name);
	CHECKF(!rg_gw_exists(gw.dir, "data"), "%s: data made", name);
	CHECKF(!rg_gw_exists(gw.dir, "cred/master.key"), "%s: master key made", name);
	CHECKF(!rg_gw_exists(gw.dir, "etc/master.key"), "%s: master key made", name);
}

TEST(init_refuses_a_bad_plan_before_making_anything)
{
	static const char two[] = "[{\"id\": \"health\", \"name\": \"卫生健康局\"},"
	                          " {\"id\": \"hrss\", \"name\": \"人社局\"}]";

	init_refused("owner", NULL, "[{\"id\": \"hrss\", \"name\": \"人社局\"}]",
	             small_catalogue, "--convener hrss",
	             "resource hazard-monitoring: its owner health is not among "
	             "the departments");
	init_refused("badid", NULL, "[{\"id\": \"Health\", \"name\": \"x\"}]",
	             small_catalogue, NULL, "id \"Health\": expected 1 to 31 letters");
	init_refused("twice", NULL,
	             "[{\"id\": \"health\", \"name\": \"a\"}, "
	             "{\"id\": \"health\", \"name\": \"b\"}]",
	             small_catalogue, NULL, "id \"health\" twice");
	init_refused("role", NULL,
	             "[{\"id\": \"health\", \"name\": \"a\"}, "
	             "{\"id\": \"admin\", \"name\": \"b\"}]",
	             small_catalogue, NULL, "the name of a role key's file");
	init_refused("noname", NULL, "[{\"id\": \"health\", \"name\": \"\"}]",
	             small_catalogue, NULL, "a name of 1 to 255 bytes");
	init_refused("extra", NULL,
	             "[{\"id\": \"health\", \"name\": \"a\", \"key\": \"x\"}]",
	             small_catalogue, NULL, "unknown member \"key\"");
	init_refused("convener", NULL, two, small_catalogue, "--convener tax",
	             "the convener \"tax\" is not among the departments");
	init_refused("deptjson", NULL, "[{\"id\": \"health\",", small_catalogue,
	             NULL, "depts.json:");
	init_refused("notarray", NULL, "{\"id\": \"health\"}", small_catalogue,
	             NULL, "expected an array");
	init_refused("catjson", NULL, two, "{\"version\": 1, \"resources\": [",
	             NULL, "catalogue:");
	init_refused("secret", NULL, two,
	             "{\"version\": 1, \"resources\": [{\"id\": \"x\", "
	             "\"title_zh\": \"x\", \"title_en\": \"x\", \"owner\": \"health\", "
	             "\"classification\": \"secret\", \"share\": \"none\", "
	             "\"retention_days\": 1, \"fields\": [{\"name\": \"a\", "
	             "\"type\": \"string\"}]}]}",
	             NULL, "catalogue:");
	init_refused("origin", NULL, two, small_catalogue, "--origin ''",
	             "origin");
	init_refused("passfd", NULL, two, small_catalogue, "--passphrase-fd 3",
	             "--passphrase-fd does not apply");
	init_refused("masterkey", "passphrase_fd = 3\n", two, small_catalogue,
	             "--master-key /nonexistent/x.key",
	             "--master-key does not apply");
}

TEST(init_refuses_an_existing_master_key_and_keys_directory)
{
	struct rg_gw gw;
	char out[8192], args[2048], path[900];

	init_files(&gw, "mk", NULL,
	           "[{\"id\": \"health\", \"name\": \"卫生健康局\"}]");
	snprintf(path, sizeof(path), "%s/cred/master.key", gw.dir);
	rg_gw_write_text(path, "not a key\n");
	snprintf(args, sizeof(args), "--origin o/r --catalogue '%s/cat.json' "
	         "--departments '%s/depts.json'", gw.dir, gw.dir);
	CHECK_EQ_INT(init_run(&gw, args, out, sizeof(out)), 1);
	CHECKF(strstr(out, "the master key file") != NULL &&
	       strstr(out, "exists already") != NULL, "%s", out);
	CHECK(!rg_gw_exists(gw.dir, "clients"));
	CHECK(!rg_gw_exists(gw.dir, "data"));
	/* A keys directory with something in it is not taken. */
	CHECK(unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/clients", gw.dir);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/clients/old.key", gw.dir);
	rg_gw_write_text(path, "{}");
	CHECK_EQ_INT(init_run(&gw, args, out, sizeof(out)), 1);
	CHECKF(strstr(out, "exists and is not empty") != NULL, "%s", out);
	CHECK(!rg_gw_exists(gw.dir, "data"));
	CHECK(!rg_gw_exists(gw.dir, "cred/master.key"));
	/* Usage: a required option missing. */
	snprintf(args, sizeof(args), "init --config '%s' --origin o/r "
	         "--catalogue '%s/cat.json'", gw.conf, gw.dir);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 2);
	CHECK(strstr(out, "--keys-out") != NULL);
}

TEST(init_seals_the_keystore_under_a_passphrase_when_the_config_asks)
{
	struct rg_gw gw;
	char out[8192], args[2048], path[900], err[512];
	rg_keystore_secret *s;
	rg_keystore *ks;

	init_files(&gw, "pass", "passphrase_fd = 3\n", NULL);
	snprintf(path, sizeof(path), "%s/pass", gw.dir);
	rg_gw_write_text(path, "short\n");
	snprintf(args, sizeof(args), "--origin o/r --catalogue '%s/cat.json' "
	         "--passphrase-fd 3 3<'%s'", gw.dir, path);
	CHECK_EQ_INT(init_run(&gw, args, out, sizeof(out)), 1);
	CHECKF(strstr(out, "at least 8 characters") != NULL, "%s", out);
	CHECK(!rg_gw_exists(gw.dir, "clients"));
	CHECK(!rg_gw_exists(gw.dir, "data"));
	rg_gw_write_text(path, "correct horse battery staple\n");
	CHECKF(init_run(&gw, args, out, sizeof(out)) == 0, "%s", out);
	CHECK(strstr(out, "master key file") == NULL);
	snprintf(path, sizeof(path), "%s/data/keystore", gw.dir);
	CHECK_EQ_INT(rg_keystore_file_kdf(path, err, sizeof(err)),
	             RG_KEYSTORE_KDF_PASSPHRASE);
	s = rg_keystore_secret_passphrase("correct horse battery staple", 28, err,
	                                  sizeof(err));
	CHECK(s != NULL);
	ks = rg_keystore_open_secret(path, s, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_keystore_free(ks);
	rg_keystore_secret_free(s);
}
