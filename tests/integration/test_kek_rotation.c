/*
 * test_kek_rotation.c -- a new record key-encryption key, online: every
 * data key is rewrapped under it in the keystore while the gateway runs,
 * the data keys themselves stay the same, and every record reads before,
 * after, and after a restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "tests/integration/gw.h"
#include "tests/integration/load.h"
#include "tests/test.h"

#define HAZARD "/v1/resources/hazard-declaration/records"
#define RECORD                                                                 \
	"{\"employer\": \"甲公司\", \"employer_credit_code\": \"91110000100000001X\","\
	" \"hazard_categories\": \"噪声\", \"worker_count\": 10,"                    \
	" \"exposed_worker_count\": 3, \"declaration_type\": \"首次申报\","          \
	" \"declaration_date\": \"2026-02-01\"}"

/* Submit one record as health; its path (caller frees). */
static char *
submit(struct rg_gw *gw)
{
	return rg_gw_submit(gw, "health", HAZARD, RECORD);
}

static void
reads_back(struct rg_gw *gw, const char *path)
{
	json_t *r;

	CHECK_EQ_INT(rg_gw_call(gw, "health", "GET", path, NULL, NULL, NULL, &r),
	             200);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
	             json_object_get(r, "result"), "fields"), "employer")),
	             "甲公司");
	json_decref(r);
}

SLOW_TEST(kek_rotates_online_and_every_record_still_reads, 120)
{
	struct rg_gw gw;
	uint8_t before[32];
	char cmd[2400], *p1, *p2;
	rg_keystore *ks;
	struct rg_keystore_info in;
	json_t *r, *e;
	size_t ndata = 0;

	rg_gw_prepare(&gw, NULL);
	ks = rg_gw_keystore(&gw);
	CHECK_EQ_INT(rg_keystore_kek_version(ks), 1);
	memcpy(before, rg_keystore_data_key(ks, "hazard-declaration", NULL), 32);
	rg_keystore_free(ks);
	rg_gw_restart(&gw);

	p1 = submit(&gw);
	reads_back(&gw, p1);
	CHECK_EQ_INT(rg_gw_call(&gw, "admin", "POST", "/v1/admin/kek/rotate", NULL,
	                        NULL, NULL, &r), 200);
	{
		const char *b64 = json_string_value(json_object_get(json_object_get(
		    r, "receipt"), "entry"));
		uint8_t bin[8192];
		size_t len;

		CHECK(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL,
		                        &len, NULL,
		                        sodium_base64_VARIANT_ORIGINAL) == 0);
		e = json_loadb((const char *)bin, len, 0, NULL);
		CHECK(e != NULL);
	}
	CHECK_EQ_STR(json_string_value(json_object_get(e, "action")),
	             "admin.kek.rotate");
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(
	             json_object_get(e, "admin"), "kek"), "version")), 2);
	CHECK(json_integer_value(json_object_get(json_object_get(e, "admin"),
	                                         "rewrapped")) >= 10);
	json_decref(e);
	json_decref(r);
	reads_back(&gw, p1);
	p2 = submit(&gw);
	reads_back(&gw, p2);
	/* The command line does the same. */
	snprintf(cmd, sizeof(cmd), "%s/recgatectl admin --url %s --key "
	         "%s/clients/admin.key rotate kek > /dev/null", rg_test_build(),
	         gw.url, gw.dir);
	CHECKF(system(cmd) == 0, "%s", cmd);
	/* A department's key cannot. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", "/v1/admin/kek/rotate",
	                        NULL, NULL, NULL, &r), 403);
	json_decref(r);
	reads_back(&gw, p1);
	rg_gw_stop(&gw);

	/* On disk: KEK 3 active, 1 and 2 retired, every data key wrapped by
	 * 3, and the data keys unchanged. */
	ks = rg_gw_keystore(&gw);
	CHECK_EQ_INT(rg_keystore_kek_version(ks), 3);
	CHECK(sodium_memcmp(before, rg_keystore_data_key(ks, "hazard-declaration",
	                                                 NULL), 32) == 0);
	for (size_t i = 0; rg_keystore_info(ks, i, &in) == 0; i++) {
		if (in.purpose == RG_KEYSTORE_DATA) {
			ndata++;
			CHECK_EQ_INT(in.kek_version, 3);
		}
		if (in.purpose == RG_KEYSTORE_KEK)
			CHECK_EQ_INT(in.status, in.version == 3 ? RG_KEYSTORE_ACTIVE
			                                        : RG_KEYSTORE_RETIRED);
	}
	CHECK(ndata >= 10);
	rg_keystore_free(ks);
	rg_gw_restart(&gw);
	reads_back(&gw, p1);
	reads_back(&gw, p2);
	rg_gw_stop(&gw);
	free(p1);
	free(p2);
}

SLOW_TEST(kek_rotates_twice_under_steady_load_without_a_failed_exchange, 180)
{
	struct rg_gw gw;
	struct rg_load *l;
	char cmd[2400];
	rg_keystore *ks;

	rg_gw_start(&gw, "checkpoint_every_entries = 16\n");
	l = rg_load_start(&gw, 2, 10);
	usleep(300000);
	for (int i = 0; i < 2; i++) {
		/* `keys rotate` is `admin ... rotate`. */
		snprintf(cmd, sizeof(cmd), "%s/recgatectl keys rotate kek --url %s "
		         "--key %s/clients/admin.key > /dev/null",
		         rg_test_build(), gw.url, gw.dir);
		CHECKF(system(cmd) == 0, "%s", cmd);
		usleep(300000);
	}
	rg_load_stop(l, 10);
	rg_load_check(l);
	rg_gw_stop(&gw);
	ks = rg_gw_keystore(&gw);
	CHECK_EQ_INT(rg_keystore_kek_version(ks), 3);
	rg_keystore_free(ks);
	rg_load_free(l);
}
