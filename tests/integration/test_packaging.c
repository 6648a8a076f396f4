/*
 * test_packaging.c -- what ships beside the programs: the systemd unit's
 * hardening as systemd itself rates it, and the production config parses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
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
