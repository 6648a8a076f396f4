/*
 * test_packaging.c -- what ships beside the programs: the systemd unit's
 * hardening as systemd itself rates it, the production config parses, and
 * the Debian package holds them with the programs and manuals, which run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "gateway/config.h"
#include "gateway/version.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

TEST(systemd_unit_exposure_is_at_most_two)
{
	char line[512];
	double score = -1;
	FILE *p;

	p = popen("systemd-analyze security --offline=yes --no-pager "
	          "packaging/recgate.service 2>&1", "r");
	CHECK(p != NULL);
	while (fgets(line, sizeof(line), p) != NULL) {
		const char *at = strstr(line, "Overall exposure level for recgate.service:");
		if (at != NULL)
			score = strtod(at + strlen("Overall exposure level for recgate.service:"),
			               NULL);
	}
	CHECK(pclose(p) != -1);
	CHECKF(score >= 0, "systemd-analyze gave no score (is systemd installed?)");
	CHECKF(score <= 2.0, "exposure %.1f", score);
}

TEST(production_config_parses)
{
	struct rg_config cfg;
	char err[512];

	rg_config_defaults(&cfg);
	CHECKF(rg_config_load("packaging/recgate.conf", &cfg, err, sizeof(err)) == 0,
	       "%s", err);
	CHECK(cfg.sandbox == 1);
	CHECK_EQ_STR(cfg.master_key_file, "/run/credentials/recgate.service/master.key");
	CHECK_EQ_INT(cfg.listen_port, 8443);
}

/* The output of a shell command (stdout), NUL-terminated; its status. */
static int
pk_sh(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int rc;

	CHECK(p != NULL);
	while (n + 1 < outlen && !feof(p)) {
		size_t r = fread(out + n, 1, outlen - 1 - n, p);
		if (r == 0)
			break;
		n += r;
	}
	out[n] = '\0';
	rc = pclose(p);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* path a and path b hold the same bytes. */
static int
pk_same(const char *a, const char *b)
{
	char cmd[2048], out[16];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s' && echo same", a, b);
	return pk_sh(cmd, out, sizeof(out)) == 0 && strcmp(out, "same\n") == 0;
}

TEST(debian_package_holds_the_programs_unit_config_and_manuals_and_they_run)
{
	static const char *const files[] = {
		"./usr/sbin/recgated", "./usr/bin/recgatectl",
		"./lib/systemd/system/recgate.service", "./etc/recgate/recgate.conf",
		"./usr/share/man/man8/recgated.8.gz",
		"./usr/share/man/man8/recgatectl.8.gz",
		"./usr/share/doc/recgate/README.md.gz",
		"./usr/share/doc/recgate/copyright"};
	static const char *const deps[] = {
		"adduser", "libsqlcipher0", "libsodium23", "libuv1", "libseccomp2",
		"libjansson4", "libyajl2", "libhttp-parser2.9", "libssl3"};
	char out[65536], cmd[2048], deb[1024], root[600], bin[700], a[900], b[900];
	const char *old_build = getenv("RG_BUILD");
	char *saved = old_build != NULL ? strdup(old_build) : NULL;
	struct rg_gw gw;
	json_t *r;

	snprintf(cmd, sizeof(cmd), "OUT='%s/deb' sh packaging/build-deb.sh 2>&1",
	         rg_test_tmpdir());
	CHECKF(pk_sh(cmd, out, sizeof(out)) == 0, "build-deb.sh: %s", out);
	CHECKF(sscanf(out, "%1023s", deb) == 1 && strstr(deb, "recgate_") != NULL,
	       "%s", out);
	snprintf(cmd, sizeof(cmd), "dpkg-deb -f '%s' Package Version Depends", deb);
	CHECK(pk_sh(cmd, out, sizeof(out)) == 0);
	CHECKF(strncmp(out, "Package: recgate\nVersion: " RG_VERSION "\n",
	               strlen("Package: recgate\nVersion: " RG_VERSION "\n")) == 0,
	       "%s", out);
	for (size_t i = 0; i < sizeof(deps) / sizeof(*deps); i++)
		CHECKF(strstr(out, deps[i]) != NULL, "no %s in %s", deps[i], out);
	snprintf(cmd, sizeof(cmd), "dpkg-deb -I '%s' conffiles", deb);
	CHECK(pk_sh(cmd, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "/etc/recgate/recgate.conf\n");
	snprintf(cmd, sizeof(cmd), "dpkg-deb -c '%s'", deb);
	CHECK(pk_sh(cmd, out, sizeof(out)) == 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++)
		CHECKF(strstr(out, files[i]) != NULL, "no %s in the package", files[i]);

	/* What it installs is what the tree holds, and the unit starts the
	 * program it installs. */
	snprintf(root, sizeof(root), "%s/root", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "dpkg-deb -x '%s' '%s'", deb, root);
	CHECK(pk_sh(cmd, out, sizeof(out)) == 0);
	snprintf(a, sizeof(a), "%s/lib/systemd/system/recgate.service", root);
	CHECK(pk_same(a, "packaging/recgate.service"));
	snprintf(a, sizeof(a), "%s/etc/recgate/recgate.conf", root);
	CHECK(pk_same(a, "packaging/recgate.conf"));
	snprintf(cmd, sizeof(cmd), "sed -n 's/^ExecStart=\\([^ ]*\\) .*/\\1/p' "
	         "packaging/recgate.service");
	CHECK(pk_sh(cmd, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "/usr/sbin/recgated\n");
	snprintf(a, sizeof(a), "%s/usr/sbin/recgated", root);
	CHECK(access(a, X_OK) == 0);

	/* The packaged programs lay out the demo and serve a signed exchange. */
	snprintf(bin, sizeof(bin), "%s/bin", rg_test_tmpdir());
	CHECK(mkdir(bin, 0700) == 0);
	snprintf(b, sizeof(b), "%s/recgated", bin);
	CHECK(symlink(a, b) == 0);
	snprintf(a, sizeof(a), "%s/usr/bin/recgatectl", root);
	snprintf(b, sizeof(b), "%s/recgatectl", bin);
	CHECK(symlink(a, b) == 0);
	CHECK(setenv("RG_BUILD", bin, 1) == 0);
	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET",
	                        "/v1/resources/hazard-declaration/changes",
	                        "after=0&limit=1", NULL, NULL, &r), 200);
	json_decref(r);
	rg_gw_stop(&gw);
	if (saved != NULL)
		CHECK(setenv("RG_BUILD", saved, 1) == 0);
	else
		CHECK(unsetenv("RG_BUILD") == 0);
	free(saved);
}

TEST(both_programs_print_the_version_the_debian_package_carries)
{
	char out[4096], cmd[1024], want[64];
	FILE *f = fopen("packaging/debian/changelog", "r");

	CHECK(f != NULL);
	CHECK(fgets(out, sizeof(out), f) != NULL);
	fclose(f);
	/* "recgate (VERSION) unstable; ..." */
	snprintf(want, sizeof(want), "recgate (%s) ", RG_VERSION);
	CHECKF(strncmp(out, want, strlen(want)) == 0, "%s", out);
	snprintf(cmd, sizeof(cmd), "%s/recgated --version", rg_test_build());
	CHECK_EQ_INT(pk_sh(cmd, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "recgated %s\nlibsodium ", RG_VERSION);
	CHECKF(strncmp(out, want, strlen(want)) == 0, "%s", out);
	CHECK(strstr(out, "SQLCipher") != NULL);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl --version", rg_test_build());
	CHECK_EQ_INT(pk_sh(cmd, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "recgatectl %s\n", RG_VERSION);
	CHECKF(strncmp(out, want, strlen(want)) == 0, "%s", out);
}
