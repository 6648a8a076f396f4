/*
 * test_grants.c -- conditional-share grants over the real daemon: the
 * whole life of a grant in signed, audited exchanges, field masks and
 * pseudonyms on the wire, expiry, revocation mid-stream, refusal and
 * dispute, the office's overdue list, and an administrator who can stop a
 * grant but never make or widen one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "gateway/store.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define DIAG "/v1/resources/occ-disease-diagnosis/records"
#define FEE "/v1/resources/injury-insurance-fee/records"
#define ID_NUMBER "110101198001011234"

static const char diagnosis_record[] =
    "{\"patient_name\": \"张三\", \"id_number\": \"" ID_NUMBER "\","
    " \"gender\": \"男\", \"birth_date\": \"1980-01-01\","
    " \"employer\": \"某某矿业有限公司\","
    " \"employer_credit_code\": \"91110000100000000X\","
    " \"disease_category\": \"职业性尘肺病及其他呼吸系统疾病\","
    " \"disease_name\": \"矽肺\", \"disease_code\": \"J62\", \"diagnosis_date\": \"2026-03-15\","
    " \"diagnosis_institution\": \"市职业病防治院\","
    " \"diagnosis_conclusion\": \"矽肺壹期\", \"certificate_number\": \"ZYB-2026-0042\","
    " \"exposure_years\": 12}";

static const char fee_record[] =
    "{\"employer\": \"某某矿业有限公司\", \"employer_credit_code\": \"9111\","
    " \"period_start\": \"2026-01-01\", \"period_end\": \"2026-03-31\","
    " \"assessed_amount\": 12000.5, \"paid_amount\": 12000.5,"
    " \"arrears_amount\": 0, \"payment_date\": \"2026-04-10\","
    " \"payment_status\": \"已缴\"}";

static int64_t
now_ms(void)
{
	return (int64_t)time(NULL) * 1000;
}

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

/* The grant document in a step's answer. */
static const char *
grant_member(const json_t *r, const char *name)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(
	    r, "result"), "grant"), name));
}

static const char *
reason_of(const json_t *r)
{
	const char *s = json_string_value(json_object_get(json_object_get(r,
	                                  "error"), "reason"));
	return s != NULL ? s : "";
}

/* The audit entry carried by a receipt, parsed (caller json_decref). */
static json_t *
receipt_entry(const json_t *r)
{
	const char *b64 = json_string_value(json_object_get(json_object_get(r,
	                                    "receipt"), "entry"));
	unsigned char bin[16384];
	size_t len;

	CHECK(b64 != NULL);
	CHECK(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL, &len,
	                        NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	return json_loadb((const char *)bin, len, 0, NULL);
}

/* Request a grant as dept; returns its id (caller frees). */
static char *
request_grant(struct rg_gw *gw, const char *dept, const char *resource,
              const char *fields, const char *purpose, int64_t nb, int64_t na)
{
	char body[2048];
	json_t *r;
	char *id;

	snprintf(body, sizeof(body),
	         "{\"resource\": \"%s\", \"fields\": %s, \"purpose\": \"%s\","
	         " \"scenario\": \"测试场景 test scenario\", \"not_before\": %lld,"
	         " \"not_after\": %lld}", resource, fields, purpose,
	         (long long)nb, (long long)na);
	CHECK_EQ_INT(rg_gw_call(gw, dept, "POST", "/v1/grants", NULL, body, NULL,
	                        &r), 200);
	CHECK_EQ_STR(grant_member(r, "state"), "pending");
	id = strdup(grant_member(r, "id"));
	json_decref(r);
	return id;
}

static int
step(struct rg_gw *gw, const char *who, const char *id, const char *what,
     const char *body, json_t **r)
{
	char path[256];

	snprintf(path, sizeof(path), "/v1/grants/%s/%s", id, what);
	return rg_gw_call(gw, who, "POST", path, NULL, body, NULL, r);
}

static int
read_rec(struct rg_gw *gw, const char *who, const char *base, const char *id,
         const char *purpose, json_t **r)
{
	struct rg_client_opts o = {.purpose = purpose};
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", base, id);
	return rg_gw_call(gw, who, "GET", path, NULL, NULL, &o, r);
}

SLOW_TEST(grant_lifecycle_request_approve_countersign_read_revoke, 120)
{
	struct rg_gw gw;
	json_t *r, *fields, *entry;
	char *gid, *rid, *text;
	const char *psn;
	char finance_psn[64];
	const char *purpose = "财政救助资金核算 relief accounting";

	rg_gw_start(&gw, NULL);
	rid = submit_one(&gw, "health", DIAG, diagnosis_record);
	gid = request_grant(&gw, "finance", "occ-disease-diagnosis",
	    "{\"patient_name\": \"raw\", \"id_number\": \"pseudonym\","
	    " \"disease_code\": \"raw\"}", purpose, now_ms() - 60000,
	    now_ms() + 86400000);

	/* Not in force before the owner and the office sign. */
	CHECK_EQ_INT(read_rec(&gw, "finance", DIAG, rid, purpose, &r), 403);
	CHECK_EQ_STR(reason_of(r), "grant_pending");
	json_decref(r);
	/* The consumer cannot approve its own request. */
	CHECK_EQ_INT(step(&gw, "finance", gid, "approve", NULL, &r), 403);
	CHECK_EQ_STR(reason_of(r), "separation_of_duties");
	json_decref(r);
	/* A bystander cannot either. */
	CHECK_EQ_INT(step(&gw, "civil", gid, "approve", NULL, &r), 403);
	CHECK_EQ_STR(reason_of(r), "not_party");
	json_decref(r);
	/* Approval cannot widen: an extra field is refused. */
	CHECK_EQ_INT(step(&gw, "health", gid, "approve",
	    "{\"fields\": {\"patient_name\": \"raw\", \"id_number\": \"raw\"}}",
	    &r), 403);
	CHECK_EQ_STR(reason_of(r), "grant_widening");
	json_decref(r);
	/* The owner approves, narrowing: no disease code. */
	CHECK_EQ_INT(step(&gw, "health", gid, "approve",
	    "{\"fields\": {\"patient_name\": \"raw\", \"id_number\": \"pseudonym\"}}",
	    &r), 200);
	CHECK_EQ_STR(grant_member(r, "state"), "approved");
	entry = receipt_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "grant")), gid);
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "action")),
	             "grant.approve");
	json_decref(entry);
	json_decref(r);
	CHECK_EQ_INT(read_rec(&gw, "finance", DIAG, rid, purpose, &r), 403);
	CHECK_EQ_STR(reason_of(r), "grant_pending");
	json_decref(r);
	/* Sensitive: the office countersigns, with its own key only. */
	CHECK_EQ_INT(step(&gw, "health", gid, "countersign", NULL, &r), 403);
	CHECK_EQ_STR(reason_of(r), "role_not_permitted");
	json_decref(r);
	CHECK_EQ_INT(step(&gw, "office", gid, "countersign",
	    "{\"fields\": {\"patient_name\": \"raw\", \"id_number\": \"pseudonym\","
	    " \"disease_code\": \"raw\"}}", &r), 403);
	CHECK_EQ_STR(reason_of(r), "grant_widening");
	json_decref(r);
	CHECK_EQ_INT(step(&gw, "office", gid, "countersign", NULL, &r), 200);
	CHECK_EQ_STR(grant_member(r, "state"), "active");
	json_decref(r);

	/* In force: only the granted fields, the id as a pseudonym. */
	CHECK_EQ_INT(read_rec(&gw, "finance", DIAG, rid, purpose, &r), 200);
	fields = json_object_get(json_object_get(r, "result"), "fields");
	CHECK_EQ_INT(json_object_size(fields), 2);
	CHECK_EQ_STR(json_string_value(json_object_get(fields, "patient_name")),
	             "张三");
	psn = json_string_value(json_object_get(fields, "id_number"));
	CHECK(psn != NULL && strncmp(psn, "psn:", 4) == 0 && strlen(psn) == 36);
	snprintf(finance_psn, sizeof(finance_psn), "%s", psn);
	text = json_dumps(r, 0);
	CHECK(strstr(text, ID_NUMBER) == NULL);
	CHECK(strstr(text, "J62") == NULL);
	free(text);
	entry = receipt_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "grant")), gid);
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "purpose")), purpose);
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "reason")), "ok_grant");
	json_decref(entry);
	json_decref(r);
	/* The same again: the same pseudonym. */
	CHECK_EQ_INT(read_rec(&gw, "finance", DIAG, rid, purpose, &r), 200);
	fields = json_object_get(json_object_get(r, "result"), "fields");
	CHECK_EQ_STR(json_string_value(json_object_get(fields, "id_number")),
	             finance_psn);
	json_decref(r);
	/* Civil affairs (a demo grant) gets a different pseudonym. */
	CHECK_EQ_INT(read_rec(&gw, "civil", DIAG, rid, "生活救助 living assistance",
	                      &r), 200);
	fields = json_object_get(json_object_get(r, "result"), "fields");
	psn = json_string_value(json_object_get(fields, "id_number"));
	CHECK(psn != NULL && strncmp(psn, "psn:", 4) == 0);
	CHECK(strcmp(psn, finance_psn) != 0);
	json_decref(r);
	/* Asking for a field: granted ones only. */
	{
		struct rg_client_opts o = {.purpose = purpose};
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", DIAG, rid);
		CHECK_EQ_INT(rg_gw_call(&gw, "finance", "GET", path,
		                        "fields=patient_name", NULL, &o, &r), 200);
		CHECK_EQ_INT(json_object_size(json_object_get(json_object_get(r,
		             "result"), "fields")), 1);
		json_decref(r);
		CHECK_EQ_INT(rg_gw_call(&gw, "finance", "GET", path,
		                        "fields=patient_name,disease_code", NULL, &o,
		                        &r), 403);
		CHECK_EQ_STR(reason_of(r), "field_not_granted");
		json_decref(r);
		CHECK_EQ_INT(rg_gw_call(&gw, "finance", "GET", path, "fields=nope",
		                        NULL, &o, &r), 400);
		json_decref(r);
	}
	/* Another purpose is not the grant's. */
	CHECK_EQ_INT(read_rec(&gw, "finance", DIAG, rid, "另作他用", &r), 403);
	CHECK_EQ_STR(reason_of(r), "purpose_mismatch");
	json_decref(r);
	CHECK_EQ_INT(read_rec(&gw, "finance", DIAG, rid, NULL, &r), 403);
	CHECK_EQ_STR(reason_of(r), "purpose_missing");
	json_decref(r);

	/* Revoked by the owner mid-stream: the next read is refused. */
	CHECK_EQ_INT(step(&gw, "health", gid, "revoke",
	                  "{\"reason\": \"项目结束 project over\"}", &r), 200);
	CHECK_EQ_STR(grant_member(r, "state"), "revoked");
	json_decref(r);
	CHECK_EQ_INT(read_rec(&gw, "finance", DIAG, rid, purpose, &r), 403);
	CHECK_EQ_STR(reason_of(r), "grant_revoked");
	json_decref(r);
	/* Nothing brings it back. */
	CHECK_EQ_INT(step(&gw, "health", gid, "approve", NULL, &r), 409);
	CHECK_EQ_STR(rg_gw_code(r), "grant_conflict");
	json_decref(r);
	free(gid);
	free(rid);
	rg_gw_stop(&gw);
}

SLOW_TEST(grant_expires_at_the_end_of_its_window, 180)
{
	struct rg_gw gw;
	json_t *r;
	char *gid = NULL, *rid;
	int64_t end = 0;
	const char *purpose = "医保核对 benefit check";
	int status = 0;

	rg_gw_start(&gw, NULL);
	rid = submit_one(&gw, "tax", FEE, fee_record);
	/* A window of seconds on the real clock; a slow run (valgrind) that
	 * cannot read inside it tries again with a longer one. */
	for (int64_t w = 3000; status != 200; w *= 2) {
		CHECKF(w <= 48000, "never read inside a %lld ms window",
		       (long long)w / 2);
		free(gid);
		end = now_ms() + w;
		gid = request_grant(&gw, "medsec", "injury-insurance-fee",
		                    "{\"employer\": \"raw\", \"paid_amount\": \"raw\"}",
		                    purpose, now_ms() - 60000, end);
		/* Internal, not sensitive: the owner's approval is enough. */
		CHECK_EQ_INT(step(&gw, "tax", gid, "approve", NULL, &r), 200);
		CHECK_EQ_STR(grant_member(r, "state"), "active");
		json_decref(r);
		status = read_rec(&gw, "medsec", FEE, rid, purpose, &r);
		if (status == 200)
			CHECK_EQ_INT(json_object_size(json_object_get(json_object_get(
			             r, "result"), "fields")), 2);
		else
			CHECK_EQ_STR(reason_of(r), "grant_expired");
		json_decref(r);
	}
	CHECK_EQ_INT(step(&gw, "office", gid, "countersign", NULL, &r), 403);
	CHECK_EQ_STR(reason_of(r), "countersign_not_needed");
	json_decref(r);
	while (now_ms() < end + 1000)
		usleep(100000);
	CHECK_EQ_INT(read_rec(&gw, "medsec", FEE, rid, purpose, &r), 403);
	CHECK_EQ_STR(reason_of(r), "grant_expired");
	json_decref(r);
	free(gid);
	free(rid);
	rg_gw_stop(&gw);
}

SLOW_TEST(grant_expires_when_the_injected_clock_passes_its_window, 120)
{
	struct rg_gw gw;
	struct rg_client_opts later = {.purpose = "医保核对 benefit check"};
	char path[256];
	json_t *r;
	char *gid, *rid;
	FILE *f;

	rg_gw_start(&gw, NULL);
	rid = submit_one(&gw, "tax", FEE, fee_record);
	/* A window of one hour, read inside it. */
	gid = request_grant(&gw, "medsec", "injury-insurance-fee",
	                    "{\"employer\": \"raw\", \"paid_amount\": \"raw\"}",
	                    later.purpose, now_ms() - 60000, now_ms() + 3600000);
	CHECK_EQ_INT(step(&gw, "tax", gid, "approve", NULL, &r), 200);
	json_decref(r);
	CHECK_EQ_INT(read_rec(&gw, "medsec", FEE, rid, later.purpose, &r), 200);
	json_decref(r);
	/* Two hours on: the keeper's clock is injected through the config,
	 * and the client signs by the same clock. */
	rg_gw_stop(&gw);
	f = fopen(gw.conf, "a");
	CHECK(f != NULL);
	fputs("clock_offset_ms = 7200000\n", f);
	fclose(f);
	rg_gw_restart(&gw);
	later.created = (int64_t)time(NULL) + 7200;
	snprintf(path, sizeof(path), "%s/%s", FEE, rid);
	CHECK_EQ_INT(rg_gw_call(&gw, "medsec", "GET", path, NULL, NULL, &later, &r), 403);
	CHECK_EQ_STR(reason_of(r), "grant_expired");
	json_decref(r);
	/* The owner still reads its own record. */
	CHECK_EQ_INT(rg_gw_call(&gw, "tax", "GET", path, NULL, NULL, &later, &r), 200);
	json_decref(r);
	free(gid);
	free(rid);
	rg_gw_stop(&gw);
}

SLOW_TEST(refusal_needs_reasons_and_a_dispute_reaches_the_office, 120)
{
	struct rg_gw gw;
	json_t *r, *list;
	char *gid;
	int found = 0;

	rg_gw_start(&gw, NULL);
	gid = request_grant(&gw, "emergency", "injury-insurance-fee",
	                    "{\"employer\": \"raw\"}", "应急救援 rescue",
	                    now_ms(), now_ms() + 86400000);
	CHECK_EQ_INT(step(&gw, "tax", gid, "refuse", NULL, &r), 400);
	json_decref(r);
	CHECK_EQ_INT(step(&gw, "tax", gid, "refuse", "{\"reasons\": \"\"}", &r), 400);
	CHECK_EQ_STR(rg_gw_code(r), "bad_parameter");
	json_decref(r);
	CHECK_EQ_INT(step(&gw, "tax", gid, "refuse",
	                  "{\"reasons\": \"超出职责范围 outside its duties\"}", &r), 200);
	CHECK_EQ_STR(grant_member(r, "state"), "refused");
	CHECK_EQ_STR(grant_member(r, "reasons"), "超出职责范围 outside its duties");
	json_decref(r);
	/* Only the refused consumer refers it to the office. */
	CHECK_EQ_INT(step(&gw, "tax", gid, "dispute",
	                  "{\"statement\": \"x\"}", &r), 403);
	CHECK_EQ_STR(reason_of(r), "not_party");
	json_decref(r);
	CHECK_EQ_INT(step(&gw, "emergency", gid, "dispute",
	                  "{\"statement\": \"救援需要 needed for rescue\"}", &r), 200);
	CHECK_EQ_STR(grant_member(r, "state"), "disputed");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "GET", "/v1/grants", "state=disputed",
	                        NULL, NULL, &r), 200);
	list = json_object_get(json_object_get(r, "result"), "grants");
	for (size_t i = 0; i < json_array_size(list); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(list, i),
		           "id")), gid) == 0)
			found = 1;
	CHECK(found);
	json_decref(r);
	/* A bystander sees neither the grant nor it in its list. */
	{
		char path[128];

		snprintf(path, sizeof(path), "/v1/grants/%s", gid);
		CHECK_EQ_INT(rg_gw_call(&gw, "market", "GET", path, NULL, NULL,
		                        NULL, &r), 403);
		json_decref(r);
		CHECK_EQ_INT(rg_gw_call(&gw, "market", "GET", "/v1/grants", NULL,
		                        NULL, NULL, &r), 200);
		CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r,
		             "result"), "grants")), 0);
		json_decref(r);
	}
	free(gid);
	rg_gw_stop(&gw);
}

SLOW_TEST(overdue_requests_are_listed_for_the_office, 120)
{
	struct rg_gw gw;
	json_t *r, *list;
	char *gid;

	/* A reply period of zero working days: due at once. */
	rg_gw_start(&gw, "grant_reply_days = 0\n");
	gid = request_grant(&gw, "housing", "radiation-workplace",
	                    "{\"employer\": \"raw\"}", "施工安全 building safety",
	                    now_ms(), now_ms() + 86400000);
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "GET", "/v1/grants", "state=overdue",
	                        NULL, NULL, &r), 200);
	list = json_object_get(json_object_get(r, "result"), "grants");
	CHECK_EQ_INT(json_array_size(list), 1);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0),
	             "id")), gid);
	CHECK(json_is_true(json_object_get(json_array_get(list, 0), "overdue")));
	json_decref(r);
	/* Answered, it is no longer overdue. */
	CHECK_EQ_INT(step(&gw, "ecology", gid, "approve", NULL, &r), 200);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "GET", "/v1/grants", "state=overdue",
	                        NULL, NULL, &r), 200);
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r, "result"),
	             "grants")), 0);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "GET", "/v1/grants", "state=bogus",
	                        NULL, NULL, &r), 400);
	json_decref(r);
	free(gid);
	rg_gw_stop(&gw);
}

SLOW_TEST(administrator_suspends_a_grant_but_cannot_make_or_widen_one, 120)
{
	struct rg_gw gw;
	json_t *r;
	char *gid, *rid, cmd[2048];
	const char *purpose = "医保核对 benefit check";

	rg_gw_start(&gw, NULL);
	rid = submit_one(&gw, "tax", FEE, fee_record);
	gid = request_grant(&gw, "medsec", "injury-insurance-fee",
	                    "{\"employer\": \"raw\"}", purpose, now_ms() - 60000,
	                    now_ms() + 86400000);
	/* The administrator's key cannot request, approve or countersign. */
	CHECK_EQ_INT(rg_gw_call(&gw, "admin", "POST", "/v1/grants", NULL,
	    "{\"resource\": \"injury-insurance-fee\", \"fields\": {\"employer\":"
	    " \"raw\"}, \"purpose\": \"x\", \"scenario\": \"x\", \"not_before\": 0,"
	    " \"not_after\": 9999999999999}", NULL, &r), 403);
	CHECK_EQ_STR(reason_of(r), "role_not_permitted");
	json_decref(r);
	CHECK_EQ_INT(step(&gw, "admin", gid, "approve", NULL, &r), 403);
	CHECK_EQ_STR(reason_of(r), "role_not_permitted");
	json_decref(r);
	CHECK_EQ_INT(step(&gw, "admin", gid, "countersign", NULL, &r), 403);
	json_decref(r);
	/* Nor read records. */
	CHECK_EQ_INT(read_rec(&gw, "admin", FEE, rid, purpose, &r), 403);
	json_decref(r);
	CHECK_EQ_INT(step(&gw, "tax", gid, "approve", NULL, &r), 200);
	json_decref(r);
	CHECK_EQ_INT(read_rec(&gw, "medsec", FEE, rid, purpose, &r), 200);
	json_decref(r);
	/* `recgatectl grants suspend` stops it at once. */
	snprintf(cmd, sizeof(cmd), "%s/recgatectl grants suspend %s --url %s "
	         "--key %s/clients/admin.key --reason 安全事件 >/dev/null",
	         rg_test_build(), gid, gw.url, gw.dir);
	CHECK(system(cmd) == 0);
	CHECK_EQ_INT(read_rec(&gw, "medsec", FEE, rid, purpose, &r), 403);
	CHECK_EQ_STR(reason_of(r), "grant_suspended");
	json_decref(r);
	/* A suspended grant cannot be approved again by anyone. */
	CHECK_EQ_INT(step(&gw, "tax", gid, "approve", NULL, &r), 409);
	json_decref(r);
	/* The owner or the consumer may still end it for good. */
	CHECK_EQ_INT(step(&gw, "medsec", gid, "revoke", NULL, &r), 200);
	json_decref(r);
	free(gid);
	free(rid);
	rg_gw_stop(&gw);
}

TEST(grant_request_is_checked_before_it_is_stored)
{
	struct rg_gw gw;
	json_t *r;
	long long before;
	static const struct {
		const char *body;
		int status;
		const char *code;
	} cases[] = {
		{"{\"resource\": \"no-such\", \"fields\": {\"a\": \"raw\"},"
		 " \"purpose\": \"p\", \"scenario\": \"s\", \"not_before\": 0,"
		 " \"not_after\": 1}", 404, "unknown_resource"},
		{"{\"resource\": \"injury-insurance-fee\", \"fields\": {\"nope\":"
		 " \"raw\"}, \"purpose\": \"p\", \"scenario\": \"s\", \"not_before\": 0,"
		 " \"not_after\": 1}", 400, "bad_parameter"},
		{"{\"resource\": \"injury-insurance-fee\", \"fields\": {\"employer\":"
		 " \"plain\"}, \"purpose\": \"p\", \"scenario\": \"s\", \"not_before\": 0,"
		 " \"not_after\": 1}", 400, "bad_parameter"},
		{"{\"resource\": \"injury-insurance-fee\", \"fields\": {\"employer\":"
		 " \"raw\"}, \"purpose\": \"p\", \"not_before\": 0, \"not_after\": 1}",
		 400, "bad_parameter"},
		{"{\"resource\": \"injury-insurance-fee\", \"fields\": {\"employer\":"
		 " \"raw\"}, \"purpose\": \"p\", \"scenario\": \"s\", \"not_before\": 5,"
		 " \"not_after\": 5}", 400, "bad_parameter"},
		{"{\"resource\": \"injury-insurance-fee\", \"fields\": {\"employer\":"
		 " \"raw\"}, \"purpose\": \"p\", \"scenario\": \"s\", \"not_before\": 0,"
		 " \"not_after\": 1, \"consumer\": \"hrss\"}", 400, "bad_parameter"},
		{"[1]", 400, "bad_json"},
		/* Unconditional resources and one's own need no grant. */
		{"{\"resource\": \"hazard-declaration\", \"fields\": {\"employer\":"
		 " \"raw\"}, \"purpose\": \"p\", \"scenario\": \"s\", \"not_before\": 0,"
		 " \"not_after\": 1}", 403, "forbidden"},
		{"{\"resource\": \"medical-benefit\", \"fields\": {\"patient_name\":"
		 " \"raw\"}, \"purpose\": \"p\", \"scenario\": \"s\", \"not_before\": 0,"
		 " \"not_after\": 1}", 403, "forbidden"},
	};

	rg_gw_start(&gw, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		before = rg_gw_audit_size(&gw);
		CHECKF(rg_gw_call(&gw, "medsec", "POST", "/v1/grants", NULL,
		                  cases[i].body, NULL, &r) == cases[i].status,
		       "case %zu", i + 1);
		CHECKF(strcmp(rg_gw_code(r), cases[i].code) == 0, "case %zu: %s",
		       i + 1, rg_gw_code(r));
		/* Refused, and audited. */
		CHECK_EQ_INT(rg_gw_audit_size(&gw), before + 1);
		json_decref(r);
	}
	CHECK_EQ_INT(rg_gw_call(&gw, "medsec", "GET", "/v1/grants", "state=pending",
	                        NULL, NULL, &r), 200);
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r, "result"),
	             "grants")), 0);
	json_decref(r);
	rg_gw_stop(&gw);
}

TEST(catalogue_shows_each_grant_its_fields_and_transforms)
{
	struct rg_gw gw;
	json_t *r, *res, *acc;
	size_t i;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "civil", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	res = json_object_get(json_object_get(r, "result"), "resources");
	for (i = 0; i < json_array_size(res); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(res, i),
		           "id")), "occ-disease-diagnosis") == 0)
			break;
	CHECK(i < json_array_size(res));
	acc = json_object_get(json_array_get(res, i), "access");
	CHECK(json_is_true(json_object_get(acc, "read")));
	CHECK_EQ_STR(json_string_value(json_object_get(acc, "basis")), "ok_grant");
	CHECK_EQ_INT(json_array_size(json_object_get(acc, "readable_fields")), 2);
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(acc,
	             "pseudonym_fields"), 0)), "id_number");
	CHECK(json_is_string(json_object_get(acc, "grant")));
	CHECK_EQ_INT(json_array_size(json_object_get(acc, "grants")), 1);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
	    json_array_get(json_object_get(acc, "grants"), 0), "fields"),
	    "id_number")), "pseudonym");
	json_decref(r);
	rg_gw_stop(&gw);
}

/*
 * The matrix's slice over the real daemon: one diagnosis record read by
 * every member with the purpose of its demo grant (or another), against
 * fields written out here from DESIGN.md section 10.
 */
SLOW_TEST(every_member_reads_a_diagnosis_as_the_demo_grants_say, 120)
{
	static const struct {
		const char *dept, *purpose;
		int status;
		const char *fields; /* sorted, space-separated; ~ = pseudonym */
	} want[] = {
		{"health", NULL, 200, "*"},
		{"hrss", "工伤认定 work-injury determination", 200, "*"},
		{"civil", "生活救助 living assistance", 200,
		 "disease_category ~id_number patient_name"},
		{"medsec", "医疗保障 medical benefits", 200,
		 "disease_code id_number patient_name"},
		{"union", "监督 oversight", 200, "disease_code employer"},
		{"publicity", "统计", 403, "no_grant"},
		{"devreform", "统计", 403, "no_grant"},
		{"education", "统计", 403, "no_grant"},
		{"industry", "统计", 403, "no_grant"},
		{"finance", "统计", 403, "no_grant"},
		{"ecology", "统计", 403, "no_grant"},
		{"housing", "统计", 403, "no_grant"},
		{"emergency", "统计", 403, "no_grant"},
		{"tax", "统计", 403, "no_grant"},
		{"market", "统计", 403, "no_grant"},
		{"transport", "统计", 403, "no_grant"},
		{"union", "工伤认定 work-injury determination", 403, "purpose_mismatch"},
		{"civil", NULL, 403, "purpose_missing"},
	};
	struct rg_gw gw;
	char *rid;

	rg_gw_start(&gw, NULL);
	rid = submit_one(&gw, "health", DIAG, diagnosis_record);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		json_t *r, *fields, *v;
		const char *name;
		char got[1024] = "";
		size_t n = 0;
		int status = read_rec(&gw, want[i].dept, DIAG, rid, want[i].purpose,
		                      &r);

		CHECKF(status == want[i].status, "%s: status %d", want[i].dept,
		       status);
		if (status != 200) {
			CHECKF(strcmp(reason_of(r), want[i].fields) == 0, "%s: %s",
			       want[i].dept, reason_of(r));
			json_decref(r);
			continue;
		}
		fields = json_object_get(json_object_get(r, "result"), "fields");
		if (strcmp(want[i].fields, "*") == 0) {
			CHECKF(json_object_size(fields) == 14, "%s: %zu fields",
			       want[i].dept, json_object_size(fields));
			CHECK_EQ_STR(json_string_value(json_object_get(fields,
			             "id_number")), ID_NUMBER);
			json_decref(r);
			continue;
		}
		/* jansson iterates in insertion order; list them sorted. */
		{
			const char *names[64];
			size_t k = 0;

			json_object_foreach(fields, name, v)
				if (k < 64)
					names[k++] = name;
			for (size_t a = 0; a < k; a++)
				for (size_t b = a + 1; b < k; b++)
					if (strcmp(names[b], names[a]) < 0) {
						const char *t = names[a];
						names[a] = names[b];
						names[b] = t;
					}
			for (size_t a = 0; a < k; a++) {
				const char *val = json_string_value(
				    json_object_get(fields, names[a]));
				int psn = val != NULL && strncmp(val, "psn:", 4) == 0;

				n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s%s",
				                      a ? " " : "", psn ? "~" : "",
				                      names[a]);
				CHECK(n < sizeof(got));
			}
		}
		CHECKF(strcmp(got, want[i].fields) == 0, "%s sees %s, want %s",
		       want[i].dept, got, want[i].fields);
		json_decref(r);
	}
	free(rid);
	rg_gw_stop(&gw);
}

/* Set a department's status in the database of a stopped gateway. */
static void
set_dept_status(struct rg_gw *gw, const char *dept, const char *status)
{
	char path[700], err[512];
	uint8_t *master = sodium_malloc(RG_KEYSTORE_MASTERLEN);
	rg_keystore *ks;
	rg_store *st;

	CHECK(master != NULL);
	snprintf(path, sizeof(path), "%s/master.key", gw->dir);
	CHECKF(rg_keystore_read_master(path, master, err, sizeof(err)) == 0, "%s",
	       err);
	snprintf(path, sizeof(path), "%s/keystore", gw->dir);
	ks = rg_keystore_open(path, master, err, sizeof(err));
	sodium_free(master);
	CHECKF(ks != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/recgate.db", gw->dir);
	st = rg_store_open(path, rg_keystore_db_key(ks), 0, err, sizeof(err));
	CHECKF(st != NULL, "%s", err);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_dept_put(st, dept, dept, status) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	rg_store_close(st);
	rg_keystore_free(ks);
}

SLOW_TEST(suspending_the_owner_department_makes_its_grants_inert, 120)
{
	struct rg_gw gw;
	json_t *r;
	char *rid;
	const char *purpose = "工伤保险 injury insurance";

	rg_gw_start(&gw, NULL);
	rid = submit_one(&gw, "tax", FEE, fee_record);
	/* The demo grants the fee records to hrss. */
	CHECK_EQ_INT(read_rec(&gw, "hrss", FEE, rid, purpose, &r), 200);
	json_decref(r);
	rg_gw_stop(&gw);
	set_dept_status(&gw, "tax", "suspended");
	rg_gw_restart(&gw);
	CHECK_EQ_INT(read_rec(&gw, "hrss", FEE, rid, purpose, &r), 403);
	CHECK_EQ_STR(reason_of(r), "department_suspended");
	json_decref(r);
	rg_gw_stop(&gw);
	free(rid);
}
