/*
 * test_bench_smoke.c -- keeps `make bench`'s load generator from rotting:
 * one second of its signed mix against the real daemon, at low
 * concurrency, must be answered in full. Measures nothing.
 */

#include <jansson.h>

#include "tests/integration/gw.h"
#include "tests/test.h"

TEST(loadgen_signed_mix_is_answered_without_errors)
{
	struct rg_gw gw;
	json_t *r, *kinds;

	rg_gw_start(&gw, NULL);
	r = rg_gw_loadgen(&gw, "--conns 2 --seconds 1 --seed 2 --pool 3000 "
	                  "--label smoke");
	CHECK(json_integer_value(json_object_get(r, "ok")) > 0);
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
	/* And the gateway's log syncs over the phase, from /healthz. */
	CHECK(json_integer_value(json_object_get(r, "gw_syncs")) > 0);
	CHECK(json_is_integer(json_object_get(r, "gw_syncs_over_10ms")));
	CHECK(json_integer_value(json_object_get(r, "gw_syncs_over_100ms")) <=
	      json_integer_value(json_object_get(r, "gw_syncs_over_10ms")));
	json_decref(r);
	rg_gw_stop(&gw);
}
