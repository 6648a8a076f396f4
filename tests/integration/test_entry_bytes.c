/*
 * test_entry_bytes.c -- every kind of audit entry the gateway writes, as
 * its receipt carries it, is in the one canonical encoding
 * (crypto/entry.h): decoded and encoded again by jansson with sorted keys
 * it gives the very same bytes, and it names what happened. And the fields
 * a read shows, written without a parsed tree, are what the policy says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "crypto/pseudo.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define DIAG "/v1/resources/occ-disease-diagnosis/records"

static const char diagnosis[] =
    "{\"patient_name\": \"张三\", \"id_number\": \"110101198001011234\","
    " \"gender\": \"男\", \"birth_date\": \"1980-01-01\","
    " \"employer\": \"某某矿业有限公司\","
    " \"employer_credit_code\": \"91110000100000000X\","
    " \"disease_category\": \"职业性尘肺病及其他呼吸系统疾病\","
    " \"disease_name\": \"矽肺\", \"disease_code\": \"J62\","
    " \"diagnosis_date\": \"2026-03-15\","
    " \"diagnosis_institution\": \"市职业病防治院\","
    " \"diagnosis_conclusion\": \"矽肺壹期\","
    " \"certificate_number\": \"ZYB-2026-0042\", \"exposure_years\": 12}";

/* The entry of a response's receipt, checked canonical; caller decrefs. */
static json_t *
entry_of(const json_t *resp)
{
	const char *b64 = json_string_value(json_object_get(
	    json_object_get(resp, "receipt"), "entry"));
	uint8_t bin[8192];
	size_t len = 0;
	json_t *e;
	char *again;

	CHECK(b64 != NULL);
	CHECK(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL, &len,
	                        NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	CHECK((e = json_loadb((const char *)bin, len, 0, NULL)) != NULL);
	again = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
	CHECKF(again != NULL && strlen(again) == len &&
	       memcmp(again, bin, len) == 0, "not canonical: %.*s", (int)len,
	       (const char *)bin);
	free(again);
	CHECK_EQ_INT(json_integer_value(json_object_get(e, "index")),
	             json_integer_value(json_object_get(
	                 json_object_get(resp, "receipt"), "index")));
	CHECK_EQ_INT(strlen(json_string_value(json_object_get(e, "request"))), 64);
	CHECK_EQ_INT(strlen(json_string_value(json_object_get(e, "response"))), 64);
	CHECK(json_integer_value(json_object_get(e, "time")) > 0);
	return e;
}

static const char *
str_of(const json_t *e, const char *name)
{
	const char *s = json_string_value(json_object_get(e, name));

	return s != NULL ? s : "";
}

TEST(every_kind_of_entry_is_in_the_one_canonical_encoding)
{
	struct rg_client_opts grant = {.purpose = "工伤认定 work-injury determination"};
	struct rg_client_opts feed = {.purpose = "监督 oversight"};
	struct rg_client_opts none = {.purpose = "工伤认定"};
	struct rg_gw gw;
	char path[256];
	json_t *r, *e;
	char *id;

	rg_gw_start(&gw, NULL);
	/* A submission: resource and the record it stored. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", DIAG, NULL, diagnosis,
	                        NULL, &r), 200);
	id = strdup(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(r, "result"), "records"), 0), "id")));
	e = entry_of(r);
	CHECK_EQ_STR(str_of(e, "action"), "record.submit");
	CHECK_EQ_STR(str_of(e, "decision"), "allow");
	CHECK_EQ_STR(str_of(e, "department"), "health");
	CHECK_EQ_STR(str_of(e, "resource"), "occ-disease-diagnosis");
	CHECK_EQ_STR(str_of(json_array_get(json_object_get(e, "records"), 0), "id"),
	             id);
	CHECK(json_object_get(e, "purpose") == NULL);
	json_decref(e);
	json_decref(r);
	/* A read under a grant, with a purpose in Chinese and English. */
	snprintf(path, sizeof(path), "%s/%s", DIAG, id);
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", path, NULL, NULL, &grant, &r),
	             200);
	e = entry_of(r);
	CHECK_EQ_STR(str_of(e, "purpose"), grant.purpose);
	CHECK(strlen(str_of(e, "grant")) > 0);
	CHECK_EQ_INT(json_array_size(json_object_get(e, "records")), 1);
	json_decref(e);
	json_decref(r);
	/* A denial: no records, an error outcome. */
	CHECK_EQ_INT(rg_gw_call(&gw, "finance", "GET", path, NULL, NULL, &none,
	                        &r), 403);
	e = entry_of(r);
	CHECK_EQ_STR(str_of(e, "decision"), "deny");
	CHECK_EQ_STR(str_of(e, "purpose"), none.purpose);
	CHECK(json_object_get(e, "records") == NULL);
	json_decref(e);
	json_decref(r);
	/* The change feed. */
	CHECK_EQ_INT(rg_gw_call(&gw, "union", "GET",
	                        "/v1/resources/occ-disease-diagnosis/changes",
	                        "after=0&limit=10", NULL, &feed, &r), 200);
	e = entry_of(r);
	CHECK_EQ_STR(str_of(e, "action"), "changes.read");
	CHECK_EQ_INT(json_array_size(json_object_get(e, "records")), 1);
	json_decref(e);
	json_decref(r);
	/* A rejected body. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", DIAG, NULL, "{\"x\":",
	                        NULL, &r), 400);
	e = entry_of(r);
	CHECK_EQ_STR(str_of(e, "decision"), "reject");
	json_decref(e);
	json_decref(r);
	free(id);
	rg_gw_stop(&gw);
}

/*
 * A pseudonymised field shows the pseudonym of the stored value's UTF-8
 * bytes under the resource's pseudonym key, computed here independently,
 * and the fields object is in canonical form with nothing else in it.
 */
TEST(pseudonymised_read_names_the_stored_value_under_the_pseudonym_key)
{
	struct rg_client_opts civil = {.purpose = "生活救助 living assistance"};
	const char *rid = "occ-disease-diagnosis";
	struct rg_keystore *ks;
	struct rg_gw gw;
	char path[256], psn[RG_PSEUDO_LEN], *text;
	const uint8_t *key;
	uint32_t kv;
	json_t *r, *fields;
	char *id;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", DIAG, NULL, diagnosis,
	                        NULL, &r), 200);
	id = strdup(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(r, "result"), "records"), 0), "id")));
	json_decref(r);
	snprintf(path, sizeof(path), "%s/%s", DIAG, id);
	CHECK_EQ_INT(rg_gw_call(&gw, "civil", "GET", path, NULL, NULL, &civil,
	                        &r), 200);
	fields = json_object_get(json_object_get(r, "result"), "fields");
	text = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
	ks = rg_gw_keystore(&gw);
	CHECK((key = rg_keystore_pseudonym_key(ks, rid, &kv)) != NULL);
	CHECK_EQ_INT(rg_pseudonym(key, "civil", rid,
	                          (const uint8_t *)"110101198001011234", 18, psn), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(fields, "id_number")), psn);
	CHECK_EQ_STR(json_string_value(json_object_get(fields, "patient_name")),
	             "张三");
	CHECK_EQ_INT(json_object_size(fields), 3);
	CHECK(text != NULL);
	CHECK(strstr(text, "\"disease_category\":") == text + 1);
	free(text);
	rg_keystore_free(ks);
	json_decref(r);
	free(id);
	rg_gw_stop(&gw);
}
