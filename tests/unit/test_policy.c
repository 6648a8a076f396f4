/*
 * test_policy.c -- access decisions against a table written by hand from
 * DESIGN.md sections 2 and 10, and the snapshot version: the SHA-256 of
 * exactly what the decisions depend on.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/test.h"

static const char *const pol_members[] = {
	"health", "publicity", "devreform", "education", "industry", "civil",
	"finance", "hrss", "ecology", "housing", "emergency", "tax", "market",
	"medsec", "union", "transport",
};

static rg_catalogue *
pol_parse(const char *text, size_t len)
{
	char err[4096];
	rg_catalogue *cat = rg_catalogue_parse(text, len, err, sizeof(err));

	CHECKF(cat != NULL, "catalogue refused:\n%s", err);
	return cat;
}

static rg_catalogue *
pol_demo_catalogue(void)
{
	FILE *f = fopen("policy/demo-catalogue.json", "rb");
	static char buf[256 * 1024];
	size_t n;

	CHECKF(f != NULL, "policy/demo-catalogue.json: run from the "
	       "repository root");
	n = fread(buf, 1, sizeof(buf), f);
	CHECK(n > 0 && n < sizeof(buf));
	fclose(f);
	return pol_parse(buf, n);
}

/* The sixteen members, transport suspended. */
static rg_policy *
pol_demo(void)
{
	rg_policy *pol = rg_policy_new(pol_demo_catalogue());

	CHECK(pol != NULL);
	for (size_t i = 0; i < sizeof(pol_members) / sizeof(pol_members[0]); i++)
		CHECK_EQ_INT(rg_policy_add_department(pol, pol_members[i],
		             strcmp(pol_members[i], "transport") != 0), 0);
	CHECK_EQ_INT(rg_policy_seal(pol), 0);
	return pol;
}

struct pol_case {
	const char *dept;
	rg_action action;
	const char *resource;
	int allow;
	rg_reason reason;
	uint64_t mask;
};

static void
pol_run(const rg_policy *pol, const struct pol_case *c, size_t n)
{
	static const char *const act[] = {"submit", "read", "changes",
	                                  "catalogue"};

	for (size_t i = 0; i < n; i++) {
		struct rg_policy_request req = {
			.department = c[i].dept, .action = c[i].action,
			.resource = c[i].resource, .purpose = "statistics",
			.now_ms = 1764064800000,
		};
		struct rg_decision d;

		memset(&d, 0xa5, sizeof(d));
		rg_policy_decide(pol, &req, &d);
		CHECKF(d.allow == c[i].allow && d.reason == c[i].reason &&
		       d.field_mask == c[i].mask,
		       "case %zu: %s %s %s: got allow=%d %s mask=%#llx, want "
		       "allow=%d %s mask=%#llx", i + 1,
		       c[i].dept ? c[i].dept : "(null)", act[c[i].action],
		       c[i].resource ? c[i].resource : "(null)", d.allow,
		       rg_reason_code(d.reason),
		       (unsigned long long)d.field_mask, c[i].allow,
		       rg_reason_code(c[i].reason),
		       (unsigned long long)c[i].mask);
	}
}

/*
 * Field masks written out from policy/demo-catalogue.json: diagnosis has
 * 14 fields (0x3fff), hazard-declaration 11 (0x7ff), penalty-credit 13
 * (0x1fff), injury-insurance-fee 9 (0x1ff), work-bulletin 6 (0x3f).
 */
TEST(policy_decides_the_demo_table)
{
	static const struct pol_case cases[] = {
		/* Membership first. */
		{"nobody", RG_ACT_CATALOGUE, NULL, 0, RG_REASON_UNKNOWN_DEPARTMENT, 0},
		{"nobody", RG_ACT_READ, "hazard-declaration", 0, RG_REASON_UNKNOWN_DEPARTMENT, 0},
		{"HEALTH", RG_ACT_READ, "occ-disease-diagnosis", 0, RG_REASON_UNKNOWN_DEPARTMENT, 0},
		{"", RG_ACT_CATALOGUE, NULL, 0, RG_REASON_UNKNOWN_DEPARTMENT, 0},
		{NULL, RG_ACT_CATALOGUE, NULL, 0, RG_REASON_UNKNOWN_DEPARTMENT, 0},
		{"transport", RG_ACT_CATALOGUE, NULL, 0, RG_REASON_DEPARTMENT_SUSPENDED, 0},
		{"transport", RG_ACT_READ, "hazard-declaration", 0, RG_REASON_DEPARTMENT_SUSPENDED, 0},
		{"transport", RG_ACT_SUBMIT, "work-bulletin", 0, RG_REASON_DEPARTMENT_SUSPENDED, 0},
		/* The catalogue: any active member. */
		{"civil", RG_ACT_CATALOGUE, NULL, 1, RG_REASON_OK_MEMBER, 0},
		{"health", RG_ACT_CATALOGUE, NULL, 1, RG_REASON_OK_MEMBER, 0},
		/* Unknown resources. */
		{"civil", RG_ACT_READ, "no-such-resource", 0, RG_REASON_UNKNOWN_RESOURCE, 0},
		{"health", RG_ACT_SUBMIT, "Occ-Disease-Diagnosis", 0, RG_REASON_UNKNOWN_RESOURCE, 0},
		{"civil", RG_ACT_READ, NULL, 0, RG_REASON_UNKNOWN_RESOURCE, 0},
		/* Submit: the owner only; work-bulletin: every member. */
		{"health", RG_ACT_SUBMIT, "occ-disease-diagnosis", 1, RG_REASON_OK_OWNER, 0x3fff},
		{"hrss", RG_ACT_SUBMIT, "occ-disease-diagnosis", 0, RG_REASON_NOT_OWNER, 0},
		{"civil", RG_ACT_SUBMIT, "hazard-declaration", 0, RG_REASON_NOT_OWNER, 0},
		{"health", RG_ACT_SUBMIT, "penalty-credit", 0, RG_REASON_NOT_OWNER, 0},
		{"tax", RG_ACT_SUBMIT, "injury-insurance-fee", 1, RG_REASON_OK_OWNER, 0x1ff},
		{"civil", RG_ACT_SUBMIT, "work-bulletin", 1, RG_REASON_OK_OWNER, 0x3f},
		{"health", RG_ACT_SUBMIT, "work-bulletin", 1, RG_REASON_OK_OWNER, 0x3f},
		/* Read and change feed: owner sees everything. */
		{"health", RG_ACT_READ, "occ-disease-diagnosis", 1, RG_REASON_OK_OWNER, 0x3fff},
		{"health", RG_ACT_CHANGES, "occ-disease-diagnosis", 1, RG_REASON_OK_OWNER, 0x3fff},
		{"market", RG_ACT_READ, "penalty-credit", 1, RG_REASON_OK_OWNER, 0x1fff},
		{"tax", RG_ACT_CHANGES, "injury-insurance-fee", 1, RG_REASON_OK_OWNER, 0x1ff},
		/* Unconditional: every member, the declared fields. */
		{"civil", RG_ACT_READ, "hazard-declaration", 1, RG_REASON_OK_UNCONDITIONAL, 0x7ff},
		{"union", RG_ACT_CHANGES, "penalty-credit", 1, RG_REASON_OK_UNCONDITIONAL, 0x1fff},
		{"health", RG_ACT_READ, "work-bulletin", 1, RG_REASON_OK_UNCONDITIONAL, 0x3f},
		{"education", RG_ACT_CHANGES, "work-bulletin", 1, RG_REASON_OK_UNCONDITIONAL, 0x3f},
		/* Conditional: nobody but the owner without a grant. */
		{"hrss", RG_ACT_READ, "occ-disease-diagnosis", 0, RG_REASON_NO_GRANT, 0},
		{"hrss", RG_ACT_CHANGES, "occ-disease-diagnosis", 0, RG_REASON_NO_GRANT, 0},
		{"civil", RG_ACT_READ, "pneumoconiosis-patients", 0, RG_REASON_NO_GRANT, 0},
		{"health", RG_ACT_READ, "injury-insurance-enrollment", 0, RG_REASON_NO_GRANT, 0},
		{"health", RG_ACT_READ, "radiation-workplace", 0, RG_REASON_NO_GRANT, 0},
		{"hrss", RG_ACT_CHANGES, "injury-insurance-fee", 0, RG_REASON_NO_GRANT, 0},
	};

	rg_policy *pol = pol_demo();

	pol_run(pol, cases, sizeof(cases) / sizeof(cases[0]));
	rg_policy_free(pol);
}

/* A catalogue with the cases the demo lacks: none, secret, a partial
 * unconditional list. */
static const char pol_special[] =
    "{\"version\": 1, \"resources\": ["
    "{\"id\": \"closed-register\", \"title_zh\": \"内部登记\","
    " \"title_en\": \"Closed register\", \"owner\": \"health\","
    " \"classification\": \"internal\", \"share\": \"none\","
    " \"retention_days\": 365, \"fields\": [{\"name\": \"a\","
    " \"type\": \"string\"}, {\"name\": \"b\", \"type\": \"string\"}]},"
    "{\"id\": \"secret-files\", \"title_zh\": \"涉密文件\","
    " \"title_en\": \"Classified files\", \"owner\": \"health\","
    " \"classification\": \"secret\", \"share\": \"unconditional\","
    " \"retention_days\": 365, \"fields\": [{\"name\": \"a\","
    " \"type\": \"string\"}], \"unconditional_fields\": [\"a\"]},"
    "{\"id\": \"partial\", \"title_zh\": \"部分公开\","
    " \"title_en\": \"Partly public\", \"owner\": \"hrss\","
    " \"classification\": \"public\", \"share\": \"unconditional\","
    " \"retention_days\": 365, \"fields\": [{\"name\": \"a\","
    " \"type\": \"string\"}, {\"name\": \"b\", \"type\": \"string\","
    " \"personal\": true}, {\"name\": \"c\", \"type\": \"integer\"}],"
    " \"unconditional_fields\": [\"c\", \"a\"]}]}";

static rg_policy *
pol_special_policy(void)
{
	rg_policy *pol = rg_policy_new(pol_parse(pol_special,
	                                         strlen(pol_special)));

	CHECK(pol != NULL);
	CHECK_EQ_INT(rg_policy_add_department(pol, "health", 1), 0);
	CHECK_EQ_INT(rg_policy_add_department(pol, "hrss", 1), 0);
	CHECK_EQ_INT(rg_policy_add_department(pol, "civil", 1), 0);
	CHECK_EQ_INT(rg_policy_seal(pol), 0);
	return pol;
}

TEST(policy_refuses_secret_for_every_action_and_share_none_for_others)
{
	static const struct pol_case cases[] = {
		{"health", RG_ACT_READ, "closed-register", 1, RG_REASON_OK_OWNER, 0x3},
		{"health", RG_ACT_SUBMIT, "closed-register", 1, RG_REASON_OK_OWNER, 0x3},
		{"civil", RG_ACT_READ, "closed-register", 0, RG_REASON_SHARE_NONE, 0},
		{"civil", RG_ACT_CHANGES, "closed-register", 0, RG_REASON_SHARE_NONE, 0},
		{"civil", RG_ACT_SUBMIT, "closed-register", 0, RG_REASON_NOT_OWNER, 0},
		/* Secret: not even the owner, not even unconditional. */
		{"health", RG_ACT_READ, "secret-files", 0, RG_REASON_CLASSIFICATION_REFUSED, 0},
		{"health", RG_ACT_CHANGES, "secret-files", 0, RG_REASON_CLASSIFICATION_REFUSED, 0},
		{"health", RG_ACT_SUBMIT, "secret-files", 0, RG_REASON_CLASSIFICATION_REFUSED, 0},
		{"civil", RG_ACT_READ, "secret-files", 0, RG_REASON_CLASSIFICATION_REFUSED, 0},
		{"civil", RG_ACT_SUBMIT, "secret-files", 0, RG_REASON_CLASSIFICATION_REFUSED, 0},
		/* Unconditional readers get a (c), not b (personal). */
		{"civil", RG_ACT_READ, "partial", 1, RG_REASON_OK_UNCONDITIONAL, 0x5},
		{"health", RG_ACT_CHANGES, "partial", 1, RG_REASON_OK_UNCONDITIONAL, 0x5},
		{"hrss", RG_ACT_READ, "partial", 1, RG_REASON_OK_OWNER, 0x7},
	};
	rg_policy *pol = pol_special_policy();

	pol_run(pol, cases, sizeof(cases) / sizeof(cases[0]));
	rg_policy_free(pol);
}

TEST(policy_read_by_another_department_needs_a_purpose)
{
	rg_policy *pol = pol_demo();
	struct rg_policy_request req = {
		.department = "hrss", .action = RG_ACT_READ,
		.resource = "hazard-monitoring",
		.purpose = "work-injury determination", .now_ms = 0,
	};
	struct rg_decision d;

	rg_policy_decide(pol, &req, &d);
	CHECK_EQ_INT(d.allow, 1);
	CHECK(d.reason == RG_REASON_OK_UNCONDITIONAL);
	CHECK(d.field_mask == 0x7ff);
	req.purpose = NULL;
	rg_policy_decide(pol, &req, &d);
	CHECK_EQ_INT(d.allow, 0);
	CHECK(d.reason == RG_REASON_PURPOSE_MISSING);
	CHECK(d.field_mask == 0);
	req.purpose = "";
	req.action = RG_ACT_CHANGES;
	rg_policy_decide(pol, &req, &d);
	CHECK_EQ_INT(d.allow, 0);
	CHECK(d.reason == RG_REASON_PURPOSE_MISSING);
	/* The owner reads its own data without stating why. */
	req.department = "health";
	rg_policy_decide(pol, &req, &d);
	CHECK_EQ_INT(d.allow, 1);
	CHECK(d.reason == RG_REASON_OK_OWNER);
	rg_policy_free(pol);
}

TEST(policy_denies_an_action_no_rule_knows)
{
	rg_policy *pol = pol_demo();
	struct rg_policy_request req = {
		.department = "health", .action = (rg_action)99,
		.resource = "hazard-declaration",
	};
	struct rg_decision d;

	rg_policy_decide(pol, &req, &d);
	CHECK_EQ_INT(d.allow, 0);
	CHECK(d.field_mask == 0);
	CHECK(d.reason == RG_REASON_NO_GRANT);
	rg_policy_free(pol);
}

TEST(reason_codes_are_the_published_strings)
{
	CHECK_EQ_STR(rg_reason_code(RG_REASON_OK_OWNER), "ok_owner");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_OK_UNCONDITIONAL),
	             "ok_unconditional");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_OK_MEMBER), "ok_member");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_UNKNOWN_DEPARTMENT),
	             "unknown_department");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_DEPARTMENT_SUSPENDED),
	             "department_suspended");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_UNKNOWN_RESOURCE),
	             "unknown_resource");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_NOT_OWNER), "not_owner");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_CLASSIFICATION_REFUSED),
	             "classification_refused");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_SHARE_NONE), "share_none");
	CHECK_EQ_STR(rg_reason_code(RG_REASON_NO_GRANT), "no_grant");
	CHECK_EQ_STR(rg_reason_code(RG_REASON__COUNT), "unknown");
	CHECK_EQ_STR(rg_reason_code((rg_reason)-1), "unknown");
}

static const char pol_tiny[] =
    "{\"version\": 1, \"resources\": [{\"id\": \"r1\", \"title_zh\": \"甲\","
    " \"title_en\": \"A\", \"owner\": \"health\", \"classification\":"
    " \"internal\", \"share\": \"none\", \"retention_days\": 30,"
    " \"fields\": [{\"name\": \"a\", \"type\": \"string\","
    " \"required\": true}]}]}";

static rg_policy *
pol_tiny_policy(const char *text, int civil_active, int civil_first)
{
	rg_policy *pol = rg_policy_new(pol_parse(text, strlen(text)));

	CHECK(pol != NULL);
	if (civil_first)
		CHECK_EQ_INT(rg_policy_add_department(pol, "civil",
		             civil_active), 0);
	CHECK_EQ_INT(rg_policy_add_department(pol, "health", 1), 0);
	if (!civil_first)
		CHECK_EQ_INT(rg_policy_add_department(pol, "civil",
		             civil_active), 0);
	CHECK_EQ_STR(rg_policy_version(pol), "");
	CHECK_EQ_INT(rg_policy_seal(pol), 0);
	return pol;
}

/*
 * The version of a known snapshot, worked out independently of this code:
 * SHA-256 of the UTF-8 text
 * {"catalogue":{"resources":[{"classification":"internal","fields":[{"name":
 * "a","personal":false,"required":true,"type":"string"}],"id":"r1","owner":
 * "health","retention_days":30,"share":"none","title_en":"A","title_zh":
 * "甲"}],"version":1},"departments":[["civil","suspended"],["health",
 * "active"]]}
 */
TEST(policy_version_is_sha256_of_the_canonical_snapshot)
{
	rg_policy *pol = pol_tiny_policy(pol_tiny, 0, 0);
	const char *v = rg_policy_version(pol);

	CHECK_EQ_INT(strlen(v), 64);
	for (size_t i = 0; i < 64; i++)
		CHECKF((v[i] >= '0' && v[i] <= '9') ||
		       (v[i] >= 'a' && v[i] <= 'f'), "version %s", v);
	CHECK_EQ_STR(v, "30817c5d079c874cf392edb792bbefd0"
	                "f6bab369270d555afbff1daca2f9b6d7");
	rg_policy_free(pol);
}

TEST(policy_version_is_identical_for_identical_snapshots)
{
	/* Same meaning, different text and insertion order. */
	static const char respelled[] =
	    "{\"resources\":[{\"fields\":[{\"required\":true,\"type\":"
	    "\"string\",\"name\":\"a\",\"personal\":false}],\"id\":\"r1\","
	    "\"title_zh\":\"\\u7532\",\"title_en\":\"A\",\"owner\":\"health\","
	    "\"classification\":\"internal\",\"share\":\"none\","
	    "\"retention_days\":30}],\"version\":1}";
	rg_policy *a = pol_tiny_policy(pol_tiny, 0, 0);
	rg_policy *b = pol_tiny_policy(pol_tiny, 0, 1);
	rg_policy *c = pol_tiny_policy(respelled, 0, 1);
	rg_policy *d1 = pol_demo(), *d2 = pol_demo();

	CHECK_EQ_STR(rg_policy_version(a), rg_policy_version(b));
	CHECK_EQ_STR(rg_policy_version(a), rg_policy_version(c));
	CHECK_EQ_STR(rg_policy_version(d1), rg_policy_version(d2));
	CHECK(strcmp(rg_policy_version(a), rg_policy_version(d1)) != 0);
	rg_policy_free(a);
	rg_policy_free(b);
	rg_policy_free(c);
	rg_policy_free(d1);
	rg_policy_free(d2);
}

TEST(policy_version_changes_when_a_department_status_changes)
{
	rg_policy *suspended = pol_tiny_policy(pol_tiny, 0, 0);
	rg_policy *active = pol_tiny_policy(pol_tiny, 1, 0);
	rg_policy *fewer = rg_policy_new(pol_parse(pol_tiny,
	                                           strlen(pol_tiny)));

	CHECK(fewer != NULL);
	CHECK_EQ_INT(rg_policy_add_department(fewer, "health", 1), 0);
	CHECK_EQ_INT(rg_policy_seal(fewer), 0);
	CHECK(strcmp(rg_policy_version(suspended),
	             rg_policy_version(active)) != 0);
	CHECK(strcmp(rg_policy_version(suspended),
	             rg_policy_version(fewer)) != 0);
	CHECK(strcmp(rg_policy_version(active),
	             rg_policy_version(fewer)) != 0);
	CHECK_EQ_INT(strlen(rg_policy_version(active)), 64);
	rg_policy_free(suspended);
	rg_policy_free(active);
	rg_policy_free(fewer);
}

TEST(policy_version_changes_when_the_catalogue_changes)
{
	static const char *const variants[] = {
		/* retention */
		"{\"version\": 1, \"resources\": [{\"id\": \"r1\", \"title_zh\":"
		" \"甲\", \"title_en\": \"A\", \"owner\": \"health\","
		" \"classification\": \"internal\", \"share\": \"none\","
		" \"retention_days\": 31, \"fields\": [{\"name\": \"a\","
		" \"type\": \"string\", \"required\": true}]}]}",
		/* personal flag */
		"{\"version\": 1, \"resources\": [{\"id\": \"r1\", \"title_zh\":"
		" \"甲\", \"title_en\": \"A\", \"owner\": \"health\","
		" \"classification\": \"internal\", \"share\": \"none\","
		" \"retention_days\": 30, \"fields\": [{\"name\": \"a\","
		" \"type\": \"string\", \"required\": true, \"personal\":"
		" true}]}]}",
		/* share */
		"{\"version\": 1, \"resources\": [{\"id\": \"r1\", \"title_zh\":"
		" \"甲\", \"title_en\": \"A\", \"owner\": \"health\","
		" \"classification\": \"internal\", \"share\": \"conditional\","
		" \"retention_days\": 30, \"fields\": [{\"name\": \"a\","
		" \"type\": \"string\", \"required\": true}]}]}",
	};
	rg_policy *base = pol_tiny_policy(pol_tiny, 0, 0);

	for (size_t i = 0; i < 3; i++) {
		rg_policy *p = pol_tiny_policy(variants[i], 0, 0);

		CHECKF(strcmp(rg_policy_version(base), rg_policy_version(p))
		       != 0, "variant %zu", i);
		rg_policy_free(p);
	}
	rg_policy_free(base);
}

TEST(policy_snapshot_refuses_bad_or_late_departments)
{
	rg_policy *pol = rg_policy_new(pol_parse(pol_tiny, strlen(pol_tiny)));
	char name[8];

	CHECK(pol != NULL);
	CHECK_EQ_INT(rg_policy_add_department(pol, "health", 1), 0);
	CHECK_EQ_INT(rg_policy_add_department(pol, "health", 0), -1);
	CHECK_EQ_INT(rg_policy_add_department(pol, "Health", 1), -1);
	CHECK_EQ_INT(rg_policy_add_department(pol, "", 1), -1);
	CHECK_EQ_INT(rg_policy_add_department(pol, "*", 1), -1);
	CHECK_EQ_INT(rg_policy_add_department(pol, "h1", 1), -1);
	CHECK_EQ_INT(rg_policy_add_department(pol, NULL, 1), -1);
	CHECK_EQ_INT(rg_policy_add_department(pol,
	             "abcdefghijklmnopqrstuvwxyzabcdef", 1), -1);
	CHECK_EQ_INT(rg_policy_add_department(pol,
	             "abcdefghijklmnopqrstuvwxyzabcde", 1), 0);
	CHECK_EQ_INT(rg_policy_department(pol, "health"), -1); /* unsealed */
	CHECK_EQ_INT(rg_policy_seal(pol), 0);
	CHECK_EQ_INT(rg_policy_seal(pol), -1);
	CHECK_EQ_INT(rg_policy_add_department(pol, "civil", 1), -1);
	CHECK_EQ_INT(rg_policy_department(pol, "health"), 1);
	CHECK_EQ_INT(rg_policy_department(pol, "civil"), -1);
	rg_policy_free(pol);

	/* The member list is bounded at 256. */
	pol = rg_policy_new(pol_parse(pol_tiny, strlen(pol_tiny)));
	CHECK(pol != NULL);
	for (int i = 0; i < 256; i++) {
		name[0] = (char)('a' + i / 26 / 26 % 26);
		name[1] = (char)('a' + i / 26 % 26);
		name[2] = (char)('a' + i % 26);
		name[3] = '\0';
		CHECK_EQ_INT(rg_policy_add_department(pol, name, 1), 0);
	}
	CHECK_EQ_INT(rg_policy_add_department(pol, "zzz", 1), -1);
	CHECK_EQ_INT(rg_policy_seal(pol), 0);
	CHECK_EQ_INT(rg_policy_department(pol, "ajv"), 1);
	rg_policy_free(pol);
	CHECK(rg_policy_new(NULL) == NULL);
}

TEST(policy_member_status_is_visible_in_the_sealed_snapshot)
{
	rg_policy *pol = pol_demo();

	CHECK_EQ_INT(rg_policy_department(pol, "health"), 1);
	CHECK_EQ_INT(rg_policy_department(pol, "union"), 1);
	CHECK_EQ_INT(rg_policy_department(pol, "transport"), 0);
	CHECK_EQ_INT(rg_policy_department(pol, "police"), -1);
	CHECK_EQ_INT(rg_policy_department(pol, NULL), -1);
	CHECK_EQ_INT(rg_policy_department(pol,
	             "averyveryveryveryverylongdepartmentname"), -1);
	CHECK_EQ_INT(rg_catalogue_count(rg_policy_catalogue(pol)), 14);
	rg_policy_free(pol);
}

TEST(policy_decide_on_an_unsealed_snapshot_aborts)
{
	pid_t pid;
	int status;

	fflush(stderr);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		rg_policy *pol = rg_policy_new(pol_parse(pol_tiny,
		                                         strlen(pol_tiny)));
		struct rg_policy_request req = {
			.department = "health", .action = RG_ACT_CATALOGUE,
		};
		struct rg_decision d;

		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		if (pol == NULL || rg_policy_add_department(pol, "health",
		                                            1) != 0)
			_exit(2);
		rg_policy_decide(pol, &req, &d);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	       "status %#x", status);
}
