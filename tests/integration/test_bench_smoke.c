/*
 * test_bench_smoke.c -- keeps `make bench`'s load generator from rotting:
 * one second of its signed mix against the real daemon, at low
 * concurrency, must be answered in full. Measures nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "tests/integration/gw.h"
#include "tests/test.h"

TEST(loadgen_signed_mix_is_answered_without_errors)
{
	struct rg_gw gw;
	char cmd[2048], line[16384];
	json_error_t jerr;
	json_t *r, *kinds;
	FILE *p;
	int status;

	rg_gw_start(&gw, NULL);
	snprintf(cmd, sizeof(cmd),
	         "%s/loadgen closed --port %d --dir %s --conns 2 --seconds 1"
	         " --seed 2 --pool 3000 --pid %d --label smoke",
	         rg_test_build(), gw.port, gw.dir, (int)gw.pid);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	CHECKF(fgets(line, sizeof(line), p) != NULL, "loadgen printed nothing");
	status = pclose(p);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "loadgen exited with status %d: %s", status, line);
	r = json_loads(line, 0, &jerr);
	CHECKF(r != NULL, "not JSON: %s", line);
	CHECKF(json_integer_value(json_object_get(r, "ok")) > 0, "%s", line);
	CHECK_EQ_INT(json_integer_value(json_object_get(r, "errors_status")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(r, "errors_connection")), 0);
	/* Every kind of the default mix got through: submissions, the owner's
	 * reads, an unconditional read, a read under a grant, the feed. */
	kinds = json_object_get(r, "by_kind");
	CHECK(json_object_get(kinds, "submit") != NULL);
	CHECK(json_object_get(kinds, "read_own") != NULL);
	CHECK(json_object_get(kinds, "read_uncond") != NULL);
	CHECK(json_object_get(kinds, "read_grant") != NULL);
	CHECK(json_object_get(kinds, "changes") != NULL);
	/* It found the gateway's three processes and the keeper among them. */
	CHECK_EQ_INT(json_integer_value(json_object_get(r, "gw_processes")), 3);
	CHECK(json_integer_value(json_object_get(r, "gw_keeper_rss_kib")) > 0);
	json_decref(r);
	rg_gw_stop(&gw);
}
