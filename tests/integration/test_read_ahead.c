/*
 * test_read_ahead.c -- requests the keeper reads from the front while it
 * is still handling earlier ones (keeper_main.c: verified ahead by the
 * helpers, handled after the batch in hand commits) are each answered,
 * in full and right, and each in the log: the bench's load generator on
 * many connections against the real daemon, and beside it clients that
 * read back every record they submit and keep every receipt, verified at
 * the end against an export of the whole log.
 */
#include <jansson.h>

#include "tests/integration/gw.h"
#include "tests/integration/load.h"
#include "tests/test.h"

TEST(requests_read_while_others_are_handled_are_answered_and_logged)
{
	struct rg_gw gw;
	struct rg_load *l;
	json_t *r, *h;

	rg_gw_start(&gw, NULL);
	l = rg_load_start(&gw, 4, 0);
	r = rg_gw_loadgen(&gw, "--conns 48 --seconds 2 --seed 5 --pool 4000 "
	                  "--label ahead");
	rg_load_stop(l, 4);
	CHECK(json_integer_value(json_object_get(r, "ok")) > 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(r, "errors_status")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(r, "errors_connection")), 0);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, NULL, "GET", "/healthz", NULL, NULL, NULL,
	                        &h), 200);
	CHECKF(json_integer_value(json_object_get(h, "read_ahead")) > 0,
	       "no request was read while others were handled");
	/* Counted, however many (a helper may be slow on a busy machine). */
	CHECK(json_is_integer(json_object_get(h, "helper_late")));
	json_decref(h);
	rg_load_check(l);
	rg_load_free(l);
	rg_gw_stop(&gw);
}
