/*
 * test_exchange.c -- the gateway end to end: a real recgated over a fresh
 * demo directory, driven over TCP with real signatures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tests/integration/gw.h"
#include "tests/test.h"

#define DIAG "/v1/resources/occ-disease-diagnosis/records"
#define HAZARD "/v1/resources/hazard-declaration/records"

static const char diagnosis_record[] =
    "{\"patient_name\": \"张三\", \"id_number\": \"110101198001011234\","
    " \"gender\": \"男\", \"birth_date\": \"1980-01-01\","
    " \"employer\": \"某某矿业有限公司\","
    " \"employer_credit_code\": \"91110000100000000X\","
    " \"disease_category\": \"职业性尘肺病及其他呼吸系统疾病\","
    " \"disease_name\": \"矽肺\", \"disease_code\": \"J62\", \"diagnosis_date\": \"2026-03-15\","
    " \"diagnosis_institution\": \"市职业病防治院\","
    " \"diagnosis_conclusion\": \"矽肺壹期\", \"certificate_number\": \"ZYB-2026-0042\","
    " \"exposure_years\": 12}";

#define HAZARD_RECORD                                                          \
	"{\"employer\": \"某某矿业有限公司\", \"employer_credit_code\": \"91110000100000000X\","  \
	" \"industry\": \"煤炭开采和洗选业\", \"region\": \"某县\","                           \
	" \"hazard_categories\": \"粉尘、噪声\", \"worker_count\": 300,"                       \
	" \"exposed_worker_count\": 120, \"declaration_type\": \"年度更新\","                  \
	" \"declaration_date\": \"2026-01-10\"}"

/* Submit one record as dept; returns its id (caller frees). */
static char *
submit_one(struct rg_gw *gw, const char *dept, const char *path,
           const char *record)
{
	json_t *r, *rec;
	char *id;

	CHECK_EQ_INT(rg_gw_call(gw, dept, "POST", path, NULL, record, NULL, &r), 200);
	rec = json_array_get(json_object_get(json_object_get(r, "result"),
	                                     "records"), 0);
	CHECK(json_string_value(json_object_get(rec, "id")) != NULL);
	id = strdup(json_string_value(json_object_get(rec, "id")));
	json_decref(r);
	return id;
}

TEST(health_submits_a_diagnosis_record_and_reads_it_back)
{
	struct rg_gw gw;
	char path[256];
	json_t *r, *fields;
	char *id;

	rg_gw_start(&gw, NULL);
	id = submit_one(&gw, "health", DIAG, diagnosis_record);
	snprintf(path, sizeof(path), "%s/%s", DIAG, id);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "GET", path, NULL, NULL, NULL, &r), 200);
	fields = json_object_get(json_object_get(r, "result"), "fields");
	CHECK_EQ_STR(json_string_value(json_object_get(fields, "patient_name")), "张三");
	CHECK_EQ_STR(json_string_value(json_object_get(fields, "id_number")),
	             "110101198001011234");
	CHECK_EQ_INT(json_integer_value(json_object_get(fields, "exposure_years")), 12);
	CHECK(json_object_get(r, "receipt") != NULL);
	json_decref(r);
	free(id);
	rg_gw_stop(&gw);
}

TEST(finance_reading_a_conditional_record_without_a_grant_is_denied)
{
	struct rg_gw gw;
	struct rg_client_opts o = {.purpose = "工伤认定"};
	char path[256];
	json_t *r, *err;
	long long before;
	char *id;

	rg_gw_start(&gw, NULL);
	id = submit_one(&gw, "health", DIAG, diagnosis_record);
	snprintf(path, sizeof(path), "%s/%s", DIAG, id);
	before = rg_gw_audit_size(&gw);
	/* The demo grants diagnoses to hrss, civil, medsec and union only. */
	CHECK_EQ_INT(rg_gw_call(&gw, "finance", "GET", path, NULL, NULL, &o, &r), 403);
	err = json_object_get(r, "error");
	CHECK_EQ_STR(rg_gw_code(r), "forbidden");
	CHECK_EQ_STR(json_string_value(json_object_get(err, "reason")), "no_grant");
	{
		char *text = json_dumps(r, 0);
		CHECK(text != NULL && strstr(text, "110101198001011234") == NULL);
		free(text);
	}
	/* The denial is in the log, with a receipt. */
	CHECK(json_object_get(r, "receipt") != NULL);
	CHECK_EQ_INT(rg_gw_audit_size(&gw), before + 1);
	json_decref(r);
	free(id);
	rg_gw_stop(&gw);
}

TEST(every_member_reads_an_unconditional_resource)
{
	static const char *depts[] = {
		"health", "publicity", "devreform", "education", "industry",
		"civil", "finance", "hrss", "ecology", "housing", "emergency",
		"tax", "market", "medsec", "union", "transport"};
	struct rg_client_opts o = {.purpose = "职业病危害项目申报统计"};
	struct rg_gw gw;
	char path[256];
	json_t *r;
	char *id;

	rg_gw_start(&gw, NULL);
	id = submit_one(&gw, "health", HAZARD,
	    HAZARD_RECORD);
	snprintf(path, sizeof(path), "%s/%s", HAZARD, id);
	for (size_t i = 0; i < sizeof(depts) / sizeof(*depts); i++) {
		CHECKF(rg_gw_call(&gw, depts[i], "GET", path, NULL, NULL, &o, &r) == 200,
		       "%s could not read", depts[i]);
		CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
		    json_object_get(r, "result"), "fields"), "employer")),
		    "某某矿业有限公司");
		json_decref(r);
		CHECKF(rg_gw_call(&gw, depts[i], "GET",
		                  "/v1/resources/hazard-declaration/changes",
		                  "after=0&limit=10", NULL, &o, &r) == 200,
		       "%s could not read the change feed", depts[i]);
		CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r,
		             "result"), "changes")), 1);
		json_decref(r);
	}
	free(id);
	rg_gw_stop(&gw);
}
