/*
 * test_readme.c -- the README is part of the contract: its worked signing
 * example runs as written against the real daemon, and its table lists
 * every error code the gateway can answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/error.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

static char *
read_readme(void)
{
	FILE *f = fopen("README.md", "r");
	char *buf;
	size_t n;

	CHECK(f != NULL);
	buf = malloc(1 << 20);
	CHECK(buf != NULL);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

TEST(readme_example_signs_with_curl_and_openssl)
{
	char *readme = read_readme(), *begin, *end, script[700], out[700];
	char cmd[4096], line[16384];
	struct rg_gw gw;
	FILE *f;
	int verified = 0, stored = 0, included = 0;
	long long base;

	begin = strstr(readme, "<!-- example:begin -->\n```sh\n");
	end = strstr(readme, "```\n<!-- example:end -->");
	CHECK(begin != NULL && end != NULL && end > begin);
	begin += strlen("<!-- example:begin -->\n```sh\n");
	snprintf(script, sizeof(script), "%s/example.sh", rg_test_tmpdir());
	snprintf(out, sizeof(out), "%s/example.out", rg_test_tmpdir());
	f = fopen(script, "w");
	CHECK(f != NULL);
	fwrite(begin, 1, (size_t)(end - begin), f);
	fclose(f);
	free(readme);

	rg_gw_start(&gw, NULL);
	base = rg_gw_audit_size(&gw); /* the demo's grant steps */
	snprintf(cmd, sizeof(cmd), "URL=%s KEYFILE=%s/clients/health.key bash %s > %s 2>&1",
	         gw.url, gw.dir, script, out);
	CHECKF(system(cmd) == 0, "the README example failed; see %s", out);
	f = fopen(out, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		/* The result is sent canonically encoded (keys sorted). */
		if (strstr(line, "{\"result\":{") != NULL &&
		    strstr(line, "\"resource\":\"hazard-declaration\"") != NULL)
			stored = 1;
		if (strstr(line, "Signature Verified Successfully") != NULL)
			verified = 1;
		if (strstr(line, "Entry included in the signed checkpoint") != NULL)
			included = 1;
	}
	fclose(f);
	CHECK(stored);
	CHECK(verified);
	CHECK(included);
	CHECK_EQ_INT(rg_gw_audit_size(&gw), base + 1);
	rg_gw_stop(&gw);
}

TEST(readme_lists_every_error_code)
{
	char *readme = read_readme(), want[64];

	for (int e = RG_OK + 1; e < RG_ERR__COUNT; e++) {
		snprintf(want, sizeof(want), "| `%s` | %d |", rg_err_code((rg_err)e),
		         rg_err_status((rg_err)e));
		CHECKF(strstr(readme, want) != NULL, "README lacks %s", want);
	}
	free(readme);
}
