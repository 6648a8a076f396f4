/*
 * test_refusals.c -- every way a request can be refused before or at the
 * keeper, each with its stable code; a refused request leaves the database
 * and the audit log as they were, apart from the refusal's own entry when
 * it passed authentication, or the "auth.refused" entry that a refused
 * authentication leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/sig.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define HAZARD "/v1/resources/hazard-declaration/records"
#define HAZARD_CHANGES "/v1/resources/hazard-declaration/changes"
#define GOOD_RECORD                                                            \
	"{\"employer\": \"甲公司\", \"employer_credit_code\": \"91110000100000001X\","\
	" \"hazard_categories\": \"噪声\", \"worker_count\": 10,"                    \
	" \"exposed_worker_count\": 3, \"declaration_type\": \"首次申报\","          \
	" \"declaration_date\": \"2026-02-01\"}"

/* How many hazard-declaration records health sees in its change feed. */
static size_t
record_count(struct rg_gw *gw)
{
	json_t *r;
	size_t n;

	CHECK_EQ_INT(rg_gw_call(gw, "health", "GET", HAZARD_CHANGES,
	                        "after=0&limit=1000", NULL, NULL, &r), 200);
	n = json_array_size(json_object_get(json_object_get(r, "result"), "changes"));
	json_decref(r);
	return n;
}

/* Send raw, expect status and code, and that nothing was stored or
 * logged beyond `entries` new audit entries. */
static void
expect_refusal(struct rg_gw *gw, const char *raw, size_t len, int status,
               const char *code, int entries)
{
	long long before = rg_gw_audit_size(gw), after;
	json_t *r;
	int got = rg_gw_send(gw, raw, len, &r);

	CHECKF(got == status, "status %d, expected %d (%s)", got, status, code);
	CHECK_EQ_STR(rg_gw_code(r), code);
	json_decref(r);
	after = rg_gw_audit_size(gw);
	CHECKF(after == before + entries, "audit grew by %lld, expected %d",
	       after - before, entries);
}

static void
refuse_built(struct rg_gw *gw, const char *dept, const char *method,
             const char *path, const char *query, const char *body,
             const struct rg_client_opts *o, int status, const char *code,
             int entries)
{
	size_t len;
	char *raw = rg_gw_build(gw, dept, method, path, query, body, o, &len);

	expect_refusal(gw, raw, len, status, code, entries);
	free(raw);
}

TEST(unsigned_request_is_refused_with_signature_missing)
{
	struct rg_gw gw;

	rg_gw_start(&gw, NULL);
	refuse_built(&gw, NULL, "POST", HAZARD, NULL, GOOD_RECORD, NULL, 401,
	             "signature_missing", 1);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(bad_signature_is_refused_and_nothing_is_stored)
{
	struct rg_gw gw;
	size_t len;
	char *raw, *sig;

	rg_gw_start(&gw, NULL);
	raw = rg_gw_build(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, NULL, &len);
	/* Flip one base64 character inside the signature value. */
	sig = strstr(raw, "Signature: sig1=:");
	CHECK(sig != NULL);
	sig += strlen("Signature: sig1=:") + 5;
	*sig = *sig == 'A' ? 'B' : 'A';
	expect_refusal(&gw, raw, len, 401, "signature_invalid", 1);
	free(raw);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(replayed_request_is_refused)
{
	struct rg_gw gw;
	size_t len;
	char *raw;
	json_t *r;

	rg_gw_start(&gw, NULL);
	raw = rg_gw_build(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, NULL, &len);
	CHECK_EQ_INT(rg_gw_send(&gw, raw, len, &r), 200);
	json_decref(r);
	expect_refusal(&gw, raw, len, 401, "replay", 1);
	free(raw);
	CHECK_EQ_INT(record_count(&gw), 1);
	rg_gw_stop(&gw);
}

TEST(replayed_nonce_is_refused_even_across_a_restart)
{
	struct rg_gw gw;
	size_t len;
	char *raw;
	json_t *r;

	rg_gw_start(&gw, NULL);
	raw = rg_gw_build(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, NULL, &len);
	CHECK_EQ_INT(rg_gw_send(&gw, raw, len, &r), 200);
	json_decref(r);
	rg_gw_stop(&gw);
	rg_gw_restart(&gw);
	expect_refusal(&gw, raw, len, 401, "replay", 1);
	free(raw);
	rg_gw_stop(&gw);
}

TEST(stale_created_is_refused)
{
	struct rg_gw gw;
	struct rg_client_opts old = {.created = (int64_t)time(NULL) - 301};
	struct rg_client_opts future = {.created = (int64_t)time(NULL) + 400};

	rg_gw_start(&gw, NULL);
	refuse_built(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, &old, 401,
	             "created_out_of_window", 1);
	refuse_built(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, &future, 401,
	             "created_out_of_window", 1);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(expired_signature_is_refused)
{
	struct rg_gw gw;
	struct rg_client_opts o = {.created = (int64_t)time(NULL) - 60,
	                           .expires = (int64_t)time(NULL) - 30};

	rg_gw_start(&gw, NULL);
	refuse_built(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, &o, 401,
	             "signature_expired", 1);
	rg_gw_stop(&gw);
}

TEST(body_not_matching_content_digest_is_refused)
{
	struct rg_gw gw;
	size_t len;
	char *raw, *p;

	rg_gw_start(&gw, NULL);
	raw = rg_gw_build(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, NULL, &len);
	/* Same length, one changed byte in the body: 10 workers become 90. */
	p = strstr(raw, "\"worker_count\": 10");
	CHECK(p != NULL);
	p[strlen("\"worker_count\": ")] = '9';
	expect_refusal(&gw, raw, len, 400, "digest_mismatch", 1);
	free(raw);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(unknown_key_is_refused)
{
	struct rg_gw gw;
	struct rg_client_key k = {0};
	uint8_t seed[32];
	size_t len;
	char *raw;

	rg_gw_start(&gw, NULL);
	randombytes_buf(seed, sizeof(seed));
	k.key = rg_sigkey_from_seed(seed);
	CHECK(k.key != NULL);
	snprintf(k.department, sizeof(k.department), "health");
	snprintf(k.keyid, sizeof(k.keyid), "health-00000000");
	raw = rg_client_build(gw.authority, &k, "POST", HAZARD, NULL,
	                      (const uint8_t *)GOOD_RECORD, strlen(GOOD_RECORD),
	                      NULL, &len);
	CHECK(raw != NULL);
	expect_refusal(&gw, raw, len, 401, "key_unknown", 1);
	free(raw);
	rg_client_key_clear(&k);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(other_algorithm_is_refused)
{
	struct rg_gw gw;
	struct rg_client_opts o = {.alg = "rsa-pss"};

	rg_gw_start(&gw, NULL);
	refuse_built(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, &o, 401,
	             "alg_unsupported", 1);
	rg_gw_stop(&gw);
}

TEST(schema_violation_names_the_field_and_is_audited)
{
	struct rg_gw gw;
	json_t *r;
	long long before;

	rg_gw_start(&gw, NULL);
	/* Wrong type. */
	before = rg_gw_audit_size(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL,
	    "{\"employer\": \"甲公司\", \"employer_credit_code\": \"9111\","
	    " \"hazard_categories\": \"噪声\", \"worker_count\": \"ten\","
	    " \"exposed_worker_count\": 3, \"declaration_type\": \"首次申报\","
	    " \"declaration_date\": \"2026-02-01\"}", NULL, &r), 422);
	CHECK_EQ_STR(rg_gw_code(r), "schema_violation");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(r, "error"),
	             "field")), "worker_count");
	CHECK(json_object_get(r, "receipt") != NULL);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_audit_size(&gw), before + 1);
	/* Unknown field. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL,
	    "{\"employer\": \"甲公司\", \"employer_credit_code\": \"9111\","
	    " \"hazard_categories\": \"噪声\", \"worker_count\": 1, \"colour\": \"red\","
	    " \"exposed_worker_count\": 3, \"declaration_type\": \"首次申报\","
	    " \"declaration_date\": \"2026-02-01\"}", NULL, &r), 422);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(r, "error"),
	             "field")), "colour");
	json_decref(r);
	/* Missing required field, in the second record of an array: the first
	 * is not stored either. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL,
	    "[" GOOD_RECORD ", {\"employer\": \"乙公司\"}]", NULL, &r), 422);
	CHECK_EQ_STR(rg_gw_code(r), "schema_violation");
	CHECK(json_object_get(json_object_get(r, "error"), "field") != NULL);
	json_decref(r);
	/* Not JSON at all. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL, "{\"employer\":",
	                        NULL, &r), 400);
	CHECK_EQ_STR(rg_gw_code(r), "bad_json");
	json_decref(r);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(non_owner_submission_is_denied)
{
	struct rg_gw gw;
	json_t *r;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "tax", "POST", HAZARD, NULL, GOOD_RECORD,
	                        NULL, &r), 403);
	CHECK_EQ_STR(rg_gw_code(r), "forbidden");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(r, "error"),
	             "reason")), "not_owner");
	json_decref(r);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(record_marked_secret_is_refused_and_not_stored)
{
	struct rg_gw gw;
	json_t *r;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL,
	    "{\"_classification\": \"secret\", \"employer\": \"甲公司\"}", NULL, &r), 403);
	CHECK_EQ_STR(rg_gw_code(r), "secret_refused");
	json_decref(r);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(unknown_resource_and_unknown_route_are_refused)
{
	struct rg_gw gw;
	json_t *r;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST",
	                        "/v1/resources/no-such-thing/records", NULL,
	                        GOOD_RECORD, NULL, &r), 404);
	CHECK_EQ_STR(rg_gw_code(r), "unknown_resource");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", "/v2/whatever", NULL, NULL,
	                        NULL, &r), 404);
	CHECK_EQ_STR(rg_gw_code(r), "not_found");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "DELETE", HAZARD, NULL, NULL,
	                        NULL, &r), 405);
	CHECK_EQ_STR(rg_gw_code(r), "method_not_allowed");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", HAZARD_CHANGES, "after=x",
	                        NULL, NULL, &r), 400);
	CHECK_EQ_STR(rg_gw_code(r), "bad_parameter");
	json_decref(r);
	rg_gw_stop(&gw);
}

TEST(oversized_body_is_refused)
{
	struct rg_gw gw;
	size_t n = 1024 * 1024 + 10, len;
	char *body = malloc(n + 1), *raw;

	CHECK(body != NULL);
	memset(body, ' ', n);
	body[0] = '{';
	body[n - 1] = '}';
	body[n] = '\0';
	rg_gw_start(&gw, NULL);
	raw = rg_gw_build(&gw, "health", "POST", HAZARD, NULL, body, NULL, &len);
	expect_refusal(&gw, raw, len, 413, "body_too_large", 0);
	free(raw);
	free(body);
	CHECK_EQ_INT(record_count(&gw), 0);
	rg_gw_stop(&gw);
}

TEST(malformed_http_is_refused)
{
	static const char garbage[] = "THIS IS NOT HTTP\r\n\r\n";
	static const char badlen[] =
	    "POST /v1/catalogue HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n";
	struct rg_gw gw;

	rg_gw_start(&gw, NULL);
	expect_refusal(&gw, garbage, strlen(garbage), 400, "malformed_http", 0);
	expect_refusal(&gw, badlen, strlen(badlen), 400, "malformed_http", 0);
	rg_gw_stop(&gw);
}

#include "crypto/keystore.h"
#include "gateway/store.h"

/* With the gateway stopped, change a key's or a department's status the
 * way the registry holds it. */
static void
set_status(struct rg_gw *gw, const char *keyid, const char *key_status,
           const char *dept, const char *dept_status)
{
	char path[700], err[512];
	uint8_t *master = sodium_malloc(RG_KEYSTORE_MASTERLEN);
	struct rg_store_key k;
	rg_keystore *ks;
	rg_store *st;

	CHECK(master != NULL);
	snprintf(path, sizeof(path), "%s/master.key", gw->dir);
	CHECKF(rg_keystore_read_master(path, master, err, sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/keystore", gw->dir);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	sodium_free(master);
	CHECKF(ks != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/recgate.db", gw->dir);
	st = rg_store_open(path, rg_keystore_db_key(ks), 0, err, sizeof(err));
	CHECKF(st != NULL, "%s", err);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	if (keyid != NULL) {
		CHECK(rg_store_key_get(st, keyid, &k) == RG_STORE_OK);
		snprintf(k.status, sizeof(k.status), "%s", key_status);
		CHECK(rg_store_key_put(st, &k) == RG_STORE_OK);
	}
	if (dept != NULL)
		CHECK(rg_store_dept_put(st, dept, dept, dept_status) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	rg_store_close(st);
	rg_keystore_free(ks);
}

static void
health_keyid(struct rg_gw *gw, char *out, size_t outlen)
{
	struct rg_client_key k;
	char path[700], err[256];

	snprintf(path, sizeof(path), "%s/clients/health.key", gw->dir);
	CHECKF(rg_client_key_load(path, &k, err, sizeof(err)) == 0, "%s", err);
	snprintf(out, outlen, "%s", k.keyid);
	rg_client_key_clear(&k);
}

TEST(suspended_key_is_refused)
{
	struct rg_gw gw;
	char keyid[128];

	rg_gw_start(&gw, NULL);
	health_keyid(&gw, keyid, sizeof(keyid));
	rg_gw_stop(&gw);
	set_status(&gw, keyid, "suspended", NULL, NULL);
	rg_gw_restart(&gw);
	refuse_built(&gw, "health", "POST", HAZARD, NULL, GOOD_RECORD, NULL, 401,
	             "key_suspended", 1);
	rg_gw_stop(&gw);
	set_status(&gw, keyid, "revoked", NULL, NULL);
	rg_gw_restart(&gw);
	refuse_built(&gw, "health", "GET", "/v1/catalogue", NULL, NULL, NULL, 401,
	             "key_revoked", 1);
	rg_gw_stop(&gw);
}

TEST(key_of_a_suspended_department_is_refused)
{
	struct rg_gw gw;
	json_t *r;

	rg_gw_start(&gw, NULL);
	rg_gw_stop(&gw);
	set_status(&gw, NULL, NULL, "tax", "suspended");
	rg_gw_restart(&gw);
	refuse_built(&gw, "tax", "GET", "/v1/catalogue", NULL, NULL, NULL, 401,
	             "key_suspended", 1);
	/* Other members are unaffected. */
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	json_decref(r);
	rg_gw_stop(&gw);
}

TEST(unsigned_purpose_header_is_refused)
{
	struct rg_gw gw;
	size_t len;
	char *raw, *withp, *at;

	rg_gw_start(&gw, NULL);
	raw = rg_gw_build(&gw, "tax", "GET", "/v1/catalogue", NULL, NULL, NULL, &len);
	/* Slip a purpose header in after signing: it is not covered. */
	at = strstr(raw, "\r\n") + 2;
	withp = malloc(len + 64);
	CHECK(withp != NULL);
	memcpy(withp, raw, (size_t)(at - raw));
	len = (size_t)(at - raw) + (size_t)snprintf(withp + (at - raw), 64 + len - (size_t)(at - raw),
	    "Recgate-Purpose: other\r\n%s", at);
	expect_refusal(&gw, withp, len, 401, "signature_coverage", 1);
	free(withp);
	free(raw);
	rg_gw_stop(&gw);
}
