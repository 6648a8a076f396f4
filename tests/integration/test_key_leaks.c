/*
 * test_key_leaks.c -- no key material leaves the keystore: after online
 * rotations of every kind (signing key, KEK, a department's new key, the
 * master secret, a resource's data key, the database key), the database file and its WAL, the daemon's stderr and
 * everything recgatectl printed hold none of the gateway's keys (signing
 * seeds and secret keys and their X25519 form, KEKs, data keys, the
 * database key), the master secrets or the departments' private keys,
 * raw, in hex (lower and upper case) or in base64 (every alphabet, with
 * and without padding). The keys are taken from the keystore file by the
 * test's own decoder (tests/ks_layout.c), not through the library.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "tests/integration/gw.h"
#include "tests/ks_layout.h"
#include "tests/test.h"

#define KL_MAXKEYS 512
#define KL_PASS "职业病防治 leak-test passphrase"
#define HAZARD "/v1/resources/hazard-declaration/records"
#define RECORD                                                                 \
	"{\"employer\": \"丙公司\", \"employer_credit_code\": \"91110000100000003X\","\
	" \"hazard_categories\": \"噪声\", \"worker_count\": 7,"                     \
	" \"exposed_worker_count\": 2, \"declaration_type\": \"首次申报\","          \
	" \"declaration_date\": \"2026-04-01\"}"

/* Everything secret, each with a name for the failure message. */
struct kl_secrets {
	uint8_t key[KL_MAXKEYS][64];
	size_t len[KL_MAXKEYS];
	char what[KL_MAXKEYS][48];
	size_t n;
};

static void
kl_add(struct kl_secrets *s, const uint8_t *key, size_t len, const char *what)
{
	CHECK(s->n < KL_MAXKEYS && len <= 64);
	memcpy(s->key[s->n], key, len);
	s->len[s->n] = len;
	snprintf(s->what[s->n], sizeof(s->what[0]), "%s", what);
	s->n++;
}

/* A file's bytes (malloc'd, NUL-terminated, *len), or NULL if absent. */
static uint8_t *
kl_slurp(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *buf;
	FILE *f;

	if (stat(path, &sb) != 0)
		return NULL;
	CHECK((buf = malloc((size_t)sb.st_size + 1)) != NULL);
	CHECK((f = fopen(path, "rb")) != NULL);
	*len = fread(buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static int
kl_contains(const uint8_t *hay, size_t hlen, const void *needle, size_t nlen)
{
	return nlen > 0 && memmem(hay, hlen, needle, nlen) != NULL;
}

/* The key in no form in hay (a file's bytes). */
static void
kl_absent(const uint8_t *hay, size_t hlen, const uint8_t *key, size_t klen,
          const char *what, const char *where)
{
	static const int variants[] = {
	    sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	    sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
	char hex[129], b64[128];
	/* The whole key, and its first half alone (a partial leak). */
	size_t lens[2] = {klen, klen / 2};

	for (size_t l = 0; l < 2; l++) {
		CHECKF(!kl_contains(hay, hlen, key, lens[l]), "%s raw in %s", what,
		       where);
		sodium_bin2hex(hex, sizeof(hex), key, lens[l]);
		CHECKF(!kl_contains(hay, hlen, hex, strlen(hex)), "%s in hex in %s",
		       what, where);
		for (char *p = hex; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		CHECKF(!kl_contains(hay, hlen, hex, strlen(hex)), "%s in HEX in %s",
		       what, where);
		for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
			sodium_bin2base64(b64, sizeof(b64), key, lens[l], variants[v]);
			/* Padding aside: the characters that carry the key. */
			b64[strcspn(b64, "=")] = '\0';
			CHECKF(!kl_contains(hay, hlen, b64, strlen(b64)),
			       "%s in base64 in %s", what, where);
		}
	}
}

/* Run recgatectl, appending its output to the CLI log. */
static int
kl_ctl(const char *args, const char *clilog)
{
	char cmd[4096];
	int rc;

	snprintf(cmd, sizeof(cmd), "%s/recgatectl %s >> '%s' 2>&1 </dev/null",
	         rg_test_build(), args, clilog);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void
kl_master(const char *path, uint8_t master[32], struct kl_secrets *s,
          const char *what)
{
	char err[256];

	CHECKF(rg_keystore_read_master(path, master, err, sizeof(err)) == 0, "%s",
	       err);
	kl_add(s, master, 32, what);
}

/* A department key file's seed (the demo's clients and new ones). */
static void
kl_client_seed(const char *path, struct kl_secrets *s)
{
	json_t *j = json_load_file(path, 0, NULL);
	const char *seed64 = json_string_value(json_object_get(j, "seed"));
	uint8_t seed[32];
	size_t len = 0;

	CHECKF(seed64 != NULL, "no seed in %s", path);
	CHECK(sodium_base642bin(seed, sizeof(seed), seed64, strlen(seed64), NULL,
	                        &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	      len == 32);
	kl_add(s, seed, 32, "a department's private key");
	json_decref(j);
}

/* The keystore's keys, decoded by the test; signing seeds also as the
 * 64-byte secret key and its X25519 form (the keeper derives it to open
 * a new master secret). */
static void
kl_keystore(const char *path, const uint8_t master[32], struct kl_secrets *s)
{
	static uint8_t keys[KL_MAXKEYS][32];
	static const char *const names[] = {"?", "a signing seed",
	                                    "the database key", "a data key",
	                                    "a KEK"};
	int types[KL_MAXKEYS];
	size_t n = rg_tks_keys2(path, master, keys, types, KL_MAXKEYS);

	CHECK(n >= 10);
	for (size_t i = 0; i < n; i++) {
		kl_add(s, keys[i], 32, names[types[i] >= 1 && types[i] <= 4 ?
		                             types[i] : 0]);
		if (types[i] == 1) {
			uint8_t pk[32], sk[64], xsk[32];

			CHECK(crypto_sign_seed_keypair(pk, sk, keys[i]) == 0);
			CHECK(crypto_sign_ed25519_sk_to_curve25519(xsk, sk) == 0);
			kl_add(s, sk, 64, "a signing secret key");
			kl_add(s, xsk, 32, "a signing key's X25519 form");
		}
	}
}

/* The master the passphrase derives for the keystore as it is now (the
 * keeper holds it after the change). */
static void
kl_passphrase_master(struct rg_gw *gw, struct kl_secrets *s)
{
	char path[700], err[512];
	uint8_t *m = sodium_malloc(32);
	struct rg_keystore_kdf p;
	rg_keystore_secret *pw, *d;

	CHECK(m != NULL);
	snprintf(path, sizeof(path), "%s/keystore", gw->dir);
	pw = rg_keystore_secret_passphrase(KL_PASS, strlen(KL_PASS), err,
	                                   sizeof(err));
	CHECK(pw != NULL);
	d = rg_keystore_secret_derive_for(path, pw, err, sizeof(err));
	CHECKF(d != NULL, "%s", err);
	CHECK(rg_keystore_secret_export(d, m, &p) == 0);
	kl_add(s, m, 32, "the passphrase's derived master");
	rg_keystore_secret_free(d);
	rg_keystore_secret_free(pw);
	sodium_free(m);
}

SLOW_TEST(no_key_material_in_database_wal_logs_or_command_output, 180)
{
	static struct kl_secrets s;
	struct rg_gw gw;
	char log[600], clilog[600], path[900], args[4000], tax2[700], m2[700];
	char pass[700];
	uint8_t master[32];
	int saved, fd;
	FILE *f;
	json_t *r;
	DIR *d;
	struct dirent *de;

	memset(&s, 0, sizeof(s));
	snprintf(log, sizeof(log), "%s/daemon.log", rg_test_tmpdir());
	snprintf(clilog, sizeof(clilog), "%s/cli.log", rg_test_tmpdir());
	/* The daemon's stderr (its log) goes to a file we search. */
	saved = dup(2);
	CHECK(saved >= 0);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	CHECK(fd >= 0 && dup2(fd, 2) == 2);
	close(fd);
	rg_gw_start(&gw, "checkpoint_every_entries = 4\n");
	CHECK(dup2(saved, 2) == 2);
	close(saved);

	snprintf(path, sizeof(path), "%s/master.key", gw.dir);
	kl_master(path, master, &s, "the first master secret");
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL, RECORD,
		                        NULL, &r), 200);
		json_decref(r);
	}
	snprintf(args, sizeof(args), "admin --url %s --key %s/clients/admin.key "
	         "rotate signing", gw.url, gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	snprintf(args, sizeof(args), "admin --url %s --key %s/clients/admin.key "
	         "rotate kek", gw.url, gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	snprintf(tax2, sizeof(tax2), "%s/tax-2.key", gw.dir);
	snprintf(args, sizeof(args), "admin --url %s --key %s/clients/admin.key "
	         "key new --department tax --out %s", gw.url, gw.dir, tax2);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	snprintf(m2, sizeof(m2), "%s/m2.key", gw.dir);
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "'%s' --url %s --key %s/clients/admin.key", m2, gw.conf, gw.url,
	         gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	rg_gw_conf_set(&gw, "master_key_file", "m2.key");
	kl_master(m2, master, &s, "the second master secret");
	/* To a passphrase and back to a key file: the passphrase and the
	 * master it derives must not show either. */
	snprintf(pass, sizeof(pass), "%s/pass", gw.dir);
	CHECK((f = fopen(pass, "w")) != NULL);
	CHECK(fputs(KL_PASS "\n", f) >= 0 && fclose(f) == 0);
	kl_add(&s, (const uint8_t *)KL_PASS, strlen(KL_PASS), "the passphrase");
	snprintf(args, sizeof(args), "keys passphrase --online --config '%s' "
	         "--url %s --key %s/clients/admin.key --new-passphrase-fd 3 "
	         "3<'%s'", gw.conf, gw.url, gw.dir, pass);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	kl_passphrase_master(&gw, &s);
	snprintf(args, sizeof(args), "admin --url %s --key %s/clients/admin.key "
	         "rotate kek", gw.url, gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	rg_gw_conf_set(&gw, "master_key_file", NULL);
	rg_gw_conf_set(&gw, "passphrase_fd", "37");
	snprintf(m2, sizeof(m2), "%s/m3.key", gw.dir);
	snprintf(args, sizeof(args), "keys master-file '%s' --online --config "
	         "'%s' --url %s --key %s/clients/admin.key --passphrase-fd 3 "
	         "3<'%s'", m2, gw.conf, gw.url, gw.dir, pass);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	rg_gw_conf_set(&gw, "passphrase_fd", NULL);
	rg_gw_conf_set(&gw, "master_key_file", "m3.key");
	/* A rotation after the change, and the key lists, for their output. */
	snprintf(args, sizeof(args), "admin --url %s --key %s/clients/admin.key "
	         "rotate signing", gw.url, gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	/* The keys a data-key rotation and a database rekey replace (the old
	 * database key leaves the keystore), then both rotations. */
	kl_master(m2, master, &s, "the last master secret");
	snprintf(path, sizeof(path), "%s/keystore", gw.dir);
	kl_keystore(path, master, &s);
	snprintf(args, sizeof(args), "keys rotate data hazard-declaration --url %s "
	         "--key %s/clients/admin.key", gw.url, gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	snprintf(args, sizeof(args), "keys rotate database --url %s --key "
	         "%s/clients/admin.key", gw.url, gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	snprintf(args, sizeof(args), "keys reencrypt-status --url %s --key "
	         "%s/clients/admin.key", gw.url, gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	snprintf(args, sizeof(args), "keys list --config '%s'", gw.conf);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	snprintf(args, sizeof(args), "admin --url %s --key %s/clients/admin.key "
	         "keys tax", gw.url, gw.dir);
	CHECK_EQ_INT(kl_ctl(args, clilog), 0);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	json_decref(r);

	/* Every secret there is, from the files that hold them. */
	kl_master(m2, master, &s, "the last master secret");
	snprintf(path, sizeof(path), "%s/keystore", gw.dir);
	kl_keystore(path, master, &s);
	sodium_memzero(master, sizeof(master));
	snprintf(path, sizeof(path), "%s/clients", gw.dir);
	CHECK((d = opendir(path)) != NULL);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".key") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/clients/%s", gw.dir, de->d_name);
		kl_client_seed(path, &s);
	}
	closedir(d);
	kl_client_seed(tax2, &s);
	CHECK(s.n > 30);

	/* Searched while the gateway runs (the WAL is there) and after. */
	for (int round = 0; round < 2; round++) {
		const char *files[4] = {"recgate.db", "recgate.db-wal", NULL, NULL};
		int searched = 0;

		if (round == 1)
			rg_gw_stop(&gw);
		for (int fi = 0; fi < 4; fi++) {
			uint8_t *hay;
			size_t hlen = 0;

			if (fi < 2)
				snprintf(path, sizeof(path), "%s/%s", gw.dir, files[fi]);
			else
				snprintf(path, sizeof(path), "%s", fi == 2 ? log : clilog);
			if ((hay = kl_slurp(path, &hlen)) == NULL)
				continue;
			searched++;
			for (size_t i = 0; i < s.n; i++)
				kl_absent(hay, hlen, s.key[i], s.len[i], s.what[i], path);
			free(hay);
		}
		/* The database, the log and the command output at least. */
		CHECK(searched >= 3);
	}
	/* The search itself finds what is there: the seed of tax-2 is in
	 * its own key file, in base64. */
	{
		size_t hlen = 0;
		uint8_t *hay = kl_slurp(tax2, &hlen);
		char b64[64];

		CHECK(hay != NULL);
		sodium_bin2base64(b64, sizeof(b64), s.key[s.n - 1], 32,
		                  sodium_base64_VARIANT_ORIGINAL);
		CHECK(kl_contains(hay, hlen, b64, strlen(b64)));
		free(hay);
	}
	sodium_memzero(&s, sizeof(s));
}
