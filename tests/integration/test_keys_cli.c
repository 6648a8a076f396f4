/*
 * test_keys_cli.c -- `recgatectl keys ...` on a real demo directory: the
 * listing shows every key's id and status and no key material; the master
 * secret moves from the key file to a passphrase (wrong or short ones
 * refused, nothing changed) and the real daemon starts with that
 * passphrase passed on a descriptor; then to a new key file. Without a
 * descriptor the passphrase is asked on the terminal, echo off. GET
 * /v1/keys publishes an older signing key the keystore still holds.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"
#include "gateway/config.h"
#include "tests/integration/gw.h"
#include "tests/ks_layout.h"
#include "tests/test.h"

/* The descriptor the daemon gets its passphrase on. */
#define RG_T_PASS_FD 37

/* The key's bytes must not appear in out as hex or base64. */
static void
rg_t_absent(const char *out, const uint8_t *key, size_t len, const char *what)
{
	char hex[2 * 64 + 1], b64[128];
	static const int variants[] = {
	    sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	    sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};

	CHECK(len <= 64);
	sodium_bin2hex(hex, sizeof(hex), key, len);
	CHECKF(strstr(out, hex) == NULL, "%s in hex in the output", what);
	/* The first 8 bytes alone would be a leak too. */
	hex[16] = '\0';
	CHECKF(strcasestr(out, hex) == NULL, "%s's prefix in hex", what);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		sodium_bin2base64(b64, sizeof(b64), key, len, variants[i]);
		b64[10] = '\0';
		CHECKF(strstr(out, b64) == NULL, "%s in base64 in the output", what);
	}
}

SLOW_TEST(recgatectl_keys_list_shows_ids_and_statuses_and_no_key_material, 120)
{
	struct rg_gw gw;
	char out[16384], args[2048], path[700], err[256] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN], seed[RG_SIG_SEEDLEN];
	struct rg_keystore_info in;
	rg_keystore *ks;
	size_t i, ndata = 0;

	rg_gw_prepare(&gw, NULL);
	snprintf(args, sizeof(args), "keys list --config '%s'", gw.conf);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 0);
	CHECKF(strstr(out, "format 2, sealed under a master key file") != NULL,
	       "%s", out);

	snprintf(path, sizeof(path), "%s/master.key", gw.dir);
	CHECK(rg_keystore_read_master(path, master, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/keystore", gw.dir);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);
	rg_t_absent(out, master, sizeof(master), "the master key");
	rg_t_absent(out, rg_keystore_db_key(ks), 32, "the database key");
	rg_sigkey_seed(rg_keystore_signing_key(ks), seed);
	rg_t_absent(out, seed, sizeof(seed), "the signing seed");
	for (i = 0; rg_keystore_info(ks, i, &in) == 0; i++) {
		char line[400];

		/* Every key is listed by id, with its status. */
		snprintf(line, sizeof(line), "%s ", in.id);
		CHECKF(strstr(out, line) != NULL, "no %s in\n%s", in.id, out);
		if (in.purpose == RG_KEYSTORE_DATA) {
			ndata++;
			rg_t_absent(out, rg_keystore_data_key_at(ks, in.resource,
			                                         in.version),
			            32, in.resource);
			snprintf(line, sizeof(line), "data:%s ", in.resource);
			CHECK(strstr(out, line) != NULL);
		}
	}
	CHECK(ndata >= 10);
	CHECK(strstr(out, "kek-1 ") != NULL);
	CHECK(strstr(out, " signing ") != NULL);
	CHECK(strstr(out, " active ") != NULL);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(master, sizeof(master));
	rg_keystore_free(ks);

	/* A config that points at the wrong key file: a clear refusal. */
	snprintf(path, sizeof(path), "%s/other.conf", gw.dir);
	rg_gw_write_text(path, "master_key_file = clients/health.key\n");
	snprintf(args, sizeof(args), "keys list --config '%s'", path);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
}

/* Replace master_key_file with passphrase_fd in the gateway's config. */
static void
rg_t_conf_passphrase(struct rg_gw *gw)
{
	char *text, *line, *save = NULL, *next;
	FILE *f = fopen(gw->conf, "r");
	long n;

	CHECK(f != NULL);
	CHECK(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	CHECK(text != NULL && fread(text, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	f = fopen(gw->conf, "w");
	CHECK(f != NULL);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = next) {
		next = strtok_r(NULL, "\n", &save);
		if (strncmp(line, "master_key_file", 15) != 0)
			fprintf(f, "%s\n", line);
	}
	fprintf(f, "passphrase_fd = %d\n", RG_T_PASS_FD);
	CHECK(fclose(f) == 0);
	free(text);
}

SLOW_TEST(master_secret_moves_to_a_passphrase_and_the_daemon_starts_with_it, 180)
{
	struct rg_gw gw;
	char out[16384], args[3072], pass[700], wrong[700], shortp[700];
	char before[16384], ks[700], m2[700];
	uint8_t master[RG_KEYSTORE_MASTERLEN];
	json_t *r = NULL;
	int fd;

	rg_gw_prepare(&gw, NULL);
	snprintf(pass, sizeof(pass), "%s/pass", gw.dir);
	snprintf(wrong, sizeof(wrong), "%s/wrong", gw.dir);
	snprintf(shortp, sizeof(shortp), "%s/short", gw.dir);
	snprintf(ks, sizeof(ks), "%s/keystore", gw.dir);
	rg_gw_write_text(pass, "职业病 防治 passphrase\n");
	rg_gw_write_text(wrong, "not the passphrase\n");
	rg_gw_write_text(shortp, "short\n");

	/* Too short: refused before anything is written. */
	snprintf(args, sizeof(args), "keys passphrase --config '%s' "
	         "--new-passphrase-fd 3 3<'%s'", gw.conf, shortp);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
	CHECKF(strstr(out, "at least 8") != NULL, "%s", out);

	snprintf(args, sizeof(args), "keys passphrase --config '%s' "
	         "--new-passphrase-fd 3 3<'%s'", gw.conf, pass);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECKF(strstr(out, "passphrase_fd") != NULL, "%s", out);
	CHECK(strstr(out, "防治") == NULL);

	/* The key file no longer opens it; the passphrase does. */
	snprintf(m2, sizeof(m2), "%s/master.key", gw.dir);
	CHECK(rg_keystore_read_master(m2, master, out, sizeof(out)) == 0);
	CHECK(rg_keystore_open(ks, master, out, sizeof(out)) == NULL);
	CHECKF(strstr(out, "protected by a passphrase") != NULL, "%s", out);
	sodium_memzero(master, sizeof(master));
	rg_t_conf_passphrase(&gw);
	/* --no-use: the keystore file alone (use moves with traffic). */
	snprintf(args, sizeof(args), "keys list --no-use --config '%s' "
	         "--passphrase-fd 3 3<'%s'", gw.conf, pass);
	CHECKF(rg_gw_ctl(args, before, sizeof(before)) == 0, "%s", before);
	CHECKF(strstr(before, "sealed under a passphrase") != NULL, "%s", before);
	/* A wrong passphrase: refused, clearly. */
	snprintf(args, sizeof(args), "keys list --config '%s' --passphrase-fd 3 "
	         "3<'%s'", gw.conf, wrong);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
	CHECKF(strstr(out, "wrong passphrase") != NULL, "%s", out);

	/* The daemon refuses a wrong one, saying so, and does not start. */
	CHECK_EQ_INT(rg_gw_start_fails(&gw, wrong, RG_T_PASS_FD, out, sizeof(out)), 1);
	CHECKF(strstr(out, "wrong passphrase") != NULL, "%s", out);
	CHECK(strstr(out, "not the passphrase") == NULL);

	/* The daemon reads it from the descriptor it inherits. */
	fd = open(pass, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(dup2(fd, RG_T_PASS_FD) == RG_T_PASS_FD);
	close(fd);
	rg_gw_restart(&gw);
	close(RG_T_PASS_FD);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	json_decref(r);
	rg_gw_stop(&gw);

	/* And on to a new key file, every key the same. */
	snprintf(m2, sizeof(m2), "%s/master2.key", gw.dir);
	snprintf(args, sizeof(args), "keys master-file '%s' --config '%s' "
	         "--passphrase-fd 3 3<'%s'", m2, gw.conf, pass);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECK(access(m2, R_OK) == 0);
	snprintf(args, sizeof(args), "keys list --config '%s' --passphrase-fd 3 "
	         "3<'%s'", gw.conf, pass);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
	snprintf(out, sizeof(out), "master_key_file = master2.key\n");
	rg_gw_write_text(gw.conf, out);
	snprintf(args, sizeof(args), "keys list --no-use --config '%s'", gw.conf);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECK(strstr(out, "sealed under a master key file") != NULL);
	/* Same ids (the signing key's is its public key's), versions,
	 * statuses and times: the table below the first line. */
	CHECK(strchr(out, '\n') != NULL && strchr(before, '\n') != NULL);
	CHECK_EQ_STR(strchr(out, '\n'), strchr(before, '\n'));
}

/*
 * Run recgatectl args with a new pseudo-terminal as its controlling
 * terminal (and its stdin/stdout/stderr), typing input after the prompt;
 * everything the terminal showed goes to out. Returns the exit status.
 */
static int
rg_t_ctl_tty(char *const argv[], const char *prompt, const char *input,
             char *out, size_t outlen)
{
	size_t got = 0;
	int master, status = 0, typed = 0;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(master >= 0);
	CHECK(grantpt(master) == 0 && unlockpt(master) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int slave;

		if (setsid() < 0 || (slave = open(ptsname(master), O_RDWR)) < 0)
			_exit(126);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		close(master);
		execv(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		ssize_t n = read(master, out + got, outlen - 1 - got);

		if (n <= 0)
			break;  /* EIO once the child has closed the terminal */
		got += (size_t)n;
		out[got] = '\0';
		if (!typed && strstr(out, prompt) != NULL) {
			CHECK(write(master, input, strlen(input)) ==
			      (ssize_t)strlen(input));
			typed = 1;
		}
		if (got + 1 >= outlen)
			break;
	}
	out[got] = '\0';
	close(master);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(typed);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(keys_list_asks_for_the_passphrase_on_the_terminal_without_echo)
{
	char dir[512], conf[600], ks[600], bin[600], out[16384], err[256] = "";
	char *argv[] = {bin, "keys", "list", "--config", conf, NULL};
	rg_keystore_secret *s;

	snprintf(dir, sizeof(dir), "%s", rg_test_tmpdir());
	snprintf(conf, sizeof(conf), "%s/tty.conf", dir);
	snprintf(ks, sizeof(ks), "%s/tty.keystore", dir);
	snprintf(bin, sizeof(bin), "%s/recgatectl", rg_test_build());
	rg_gw_write_text(conf, "keystore = tty.keystore\npassphrase_fd = 9\n");
	s = rg_keystore_secret_passphrase("typed at the terminal", 21, err,
	                                  sizeof(err));
	CHECKF(s != NULL, "%s", err);
	CHECK(rg_keystore_secret_set_cost(s, crypto_pwhash_OPSLIMIT_MIN,
	                                  crypto_pwhash_MEMLIMIT_MIN) == 0);
	CHECKF(rg_keystore_create_secret(ks, s, "gw.test", NULL, 0, err,
	                                 sizeof(err)) == 0, "%s", err);
	rg_keystore_secret_free(s);

	CHECK_EQ_INT(rg_t_ctl_tty(argv, "Keystore passphrase: ",
	                          "typed at the terminal\n", out, sizeof(out)), 0);
	CHECKF(strstr(out, "sealed under a passphrase") != NULL, "%s", out);
	CHECK(strstr(out, "kek-1 ") != NULL);
	/* Echo was off: what was typed never showed. */
	CHECKF(strstr(out, "typed at") == NULL, "echoed:\n%s", out);

	CHECK_EQ_INT(rg_t_ctl_tty(argv, "Keystore passphrase: ", "wrong one\n",
	                          out, sizeof(out)), 1);
	CHECKF(strstr(out, "wrong passphrase") != NULL, "%s", out);
	CHECK(strstr(out, "wrong one") == NULL);
}

TEST(config_takes_exactly_one_of_master_key_file_and_passphrase_fd)
{
	char path[600], err[1024];
	struct rg_config cfg;

	snprintf(path, sizeof(path), "%s/secret.conf", rg_test_tmpdir());
	rg_gw_write_text(path, "passphrase_fd = 5\n");
	rg_config_defaults(&cfg);
	CHECKF(rg_config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK_EQ_INT(cfg.passphrase_fd, 5);
	CHECK_EQ_STR(cfg.master_key_file, "");

	rg_gw_write_text(path, "passphrase_fd = 5\nmaster_key_file = m.key\n");
	rg_config_defaults(&cfg);
	CHECK(rg_config_load(path, &cfg, err, sizeof(err)) == -1);
	CHECKF(strstr(err, "exactly one of master_key_file and passphrase_fd") !=
	       NULL, "%s", err);
	rg_gw_write_text(path, "listen = 127.0.0.1:1\n");
	rg_config_defaults(&cfg);
	CHECK(rg_config_load(path, &cfg, err, sizeof(err)) == -1);
	rg_gw_write_text(path, "passphrase_fd = 1024\n");
	rg_config_defaults(&cfg);
	CHECK(rg_config_load(path, &cfg, err, sizeof(err)) == -1);
	CHECK(strstr(err, "file descriptor") != NULL);
}

SLOW_TEST(published_keys_include_an_older_signing_key_the_keystore_holds, 120)
{
	struct rg_gw gw;
	char path[700], err[256] = "", active_id[64] = "";
	uint8_t master[RG_KEYSTORE_MASTERLEN], seed[32], old_seed[32];
	uint8_t old_pub[32], sk[64], kek[32], w[72], got[32], *inner;
	struct rg_keystore_info in;
	const char *pub64;
	rg_keystore *ks;
	size_t len = 0, binlen = 0;
	json_t *r = NULL, *keys, *k;

	rg_gw_prepare(&gw, NULL);
	snprintf(path, sizeof(path), "%s/master.key", gw.dir);
	CHECK(rg_keystore_read_master(path, master, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/keystore", gw.dir);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	CHECKF(ks != NULL, "%s", err);

	/* The same keys, plus an older signing key now retiring. */
	inner = calloc(1, 65536);
	CHECK(inner != NULL);
	randombytes_buf(old_seed, sizeof(old_seed));
	CHECK(crypto_sign_seed_keypair(old_pub, sk, old_seed) == 0);
	rg_sigkey_seed(rg_keystore_signing_key(ks), seed);
	randombytes_buf(kek, sizeof(kek));
	len += rg_tks_item2(inner + len, 1, rg_keystore_origin(ks), 1, 2, 1000, 0,
	                    0, old_seed, 32);
	len += rg_tks_item2(inner + len, 1, rg_keystore_origin(ks), 2, 1, 2000, 0,
	                    0, seed, 32);
	len += rg_tks_item2(inner + len, 2, "", 1, 1, 1000, 0, 0,
	                    rg_keystore_db_key(ks), 32);
	len += rg_tks_item2(inner + len, 4, "", 1, 1, 1000, 0, 0, kek, 32);
	for (size_t i = 0; rg_keystore_info(ks, i, &in) == 0; i++) {
		if (in.purpose == RG_KEYSTORE_SIGNING)
			snprintf(active_id, sizeof(active_id), "%s", in.id);
		if (in.purpose != RG_KEYSTORE_DATA)
			continue;
		rg_tks_wrap(kek, in.resource, in.version, 1,
		            rg_keystore_data_key_at(ks, in.resource, in.version), w);
		len += rg_tks_item2(inner + len, 3, in.resource, in.version, 1, 1000,
		                    0, 1, w, 72);
	}
	CHECK(len < 65536);
	rg_tks_seal2(path, master, inner, len);
	sodium_memzero(inner, 65536);
	free(inner);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	rg_keystore_free(ks);

	rg_gw_restart(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, NULL, "GET", "/v1/keys", NULL, NULL, NULL,
	                        &r), 200);
	keys = json_object_get(r, "keys");
	CHECK_EQ_INT(json_array_size(keys), 2);
	/* The active key first, as before: it still signs. */
	k = json_array_get(keys, 0);
	CHECK_EQ_STR(json_string_value(json_object_get(k, "keyid")), active_id);
	CHECK_EQ_STR(json_string_value(json_object_get(k, "status")), "active");
	CHECK_EQ_INT(json_integer_value(json_object_get(k, "version")), 2);
	k = json_array_get(keys, 1);
	CHECK_EQ_STR(json_string_value(json_object_get(k, "status")), "retiring");
	CHECK_EQ_INT(json_integer_value(json_object_get(k, "version")), 1);
	pub64 = json_string_value(json_object_get(k, "public_key"));
	CHECK(pub64 != NULL);
	CHECK(sodium_base642bin(got, sizeof(got), pub64, strlen(pub64), NULL,
	                        &binlen, NULL,
	                        sodium_base64_VARIANT_ORIGINAL) == 0);
	CHECK(binlen == 32 && memcmp(got, old_pub, 32) == 0);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	json_decref(r);
	rg_gw_stop(&gw);
}

/* The line of `keys list` output that starts with id. */
static const char *
rg_t_line(const char *out, const char *id, char *line, size_t len)
{
	char head[128];
	const char *p;

	snprintf(head, sizeof(head), "\n%s ", id);
	p = strstr(out, head);
	CHECKF(p != NULL, "no line for %s in\n%s", id, out);
	p++;
	snprintf(line, len, "%.*s", (int)strcspn(p, "\n"), p);
	return line;
}

SLOW_TEST(recgatectl_keys_list_shows_when_each_key_was_last_used, 120)
{
	struct rg_gw gw;
	char out[16384], args[2048], line[512], sid[16], dbid[64], id[128];
	char used[32];
	json_t *r;
	int n;

	rg_gw_start(&gw, "checkpoint_every_entries = 2\n");
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST",
		    "/v1/resources/hazard-declaration/records", NULL,
		    "{\"employer\": \"丙公司\", \"employer_credit_code\": "
		    "\"91110000100000003X\", \"hazard_categories\": \"噪声\", "
		    "\"worker_count\": 8, \"exposed_worker_count\": 2, "
		    "\"declaration_type\": \"首次申报\", \"declaration_date\": "
		    "\"2026-04-01\"}", NULL, &r), 200);
		snprintf(sid, sizeof(sid), "%s", json_string_value(json_object_get(
		         json_object_get(r, "receipt"), "keyid")));
		json_decref(r);
	}
	rg_gw_stop(&gw);
	snprintf(args, sizeof(args), "keys list --config '%s'", gw.conf);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 0);
	/* The data key that sealed the three records: counted, dated. */
	snprintf(id, sizeof(id), "data-hazard-declaration-1");
	rg_t_line(out, id, line, sizeof(line));
	CHECKF(sscanf(line, "%*s %*s %*s %*s %*s %*s %31s %d", used, &n) == 2,
	       "%s", line);
	CHECKF(strncmp(used, "20", 2) == 0 && used[strlen(used) - 1] == 'Z',
	       "%s", line);
	CHECK(n >= 3);
	/* One that sealed nothing: no use, zero records. */
	rg_t_line(out, "data-occ-disease-diagnosis-1", line, sizeof(line));
	CHECKF(sscanf(line, "%*s %*s %*s %*s %*s %*s %31s %d", used, &n) == 2,
	       "%s", line);
	CHECK_EQ_STR(used, "-");
	CHECK_EQ_INT(n, 0);
	/* The signing key: last used by the receipts just issued. */
	rg_t_line(out, sid, line, sizeof(line));
	CHECKF(sscanf(line, "%*s %*s %*s %*s %*s %*s %31s", used) == 1, "%s",
	       line);
	CHECKF(strncmp(used, "20", 2) == 0, "no last use in %s", line);
	/* The database key is in use all the time. */
	snprintf(dbid, sizeof(dbid), "database-1");
	rg_t_line(out, dbid, line, sizeof(line));
	CHECKF(strstr(line, "in use") != NULL, "%s", line);
}

TEST(keys_commands_take_the_master_key_file_from_the_command_line)
{
	struct rg_gw gw;
	char out[16384], args[2048], moved[700], path[700];

	/* As under systemd: the config names a credential path this tool
	 * cannot read; the administrator names the file itself. */
	rg_gw_prepare(&gw, NULL);
	snprintf(path, sizeof(path), "%s/master.key", gw.dir);
	snprintf(moved, sizeof(moved), "%s/master.key.etc", rg_test_tmpdir());
	CHECK(rename(path, moved) == 0);
	snprintf(args, sizeof(args), "keys list --config '%s' --no-use", gw.conf);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
	snprintf(args, sizeof(args), "keys list --config '%s' --no-use "
	         "--master-key '%s'", gw.conf, moved);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	CHECK(strstr(out, "sealed under a master key file") != NULL);
	/* A new master key file, the current one named on the command line. */
	snprintf(path, sizeof(path), "%s/master.key.new", rg_test_tmpdir());
	snprintf(args, sizeof(args), "keys master-file '%s' --config '%s' "
	         "--master-key '%s'", path, gw.conf, moved);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	snprintf(args, sizeof(args), "keys list --config '%s' --no-use "
	         "--master-key '%s'", gw.conf, path);
	CHECKF(rg_gw_ctl(args, out, sizeof(out)) == 0, "%s", out);
	snprintf(args, sizeof(args), "keys list --config '%s' --no-use "
	         "--master-key '%s'", gw.conf, moved);
	CHECK_EQ_INT(rg_gw_ctl(args, out, sizeof(out)), 1);
}
