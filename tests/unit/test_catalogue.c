/*
 * test_catalogue.c -- the catalogue parser refuses every malformed
 * catalogue with every problem named, the demo catalogue is the one the
 * design describes, and records are checked against their schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/catalogue.h"
#include "tests/test.h"

#define DEMO_CATALOGUE "policy/demo-catalogue.json"

static char *
cat_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	CHECKF(f != NULL, "cannot open %s (tests run from the repository root)",
	       path);
	CHECK(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CHECK(n > 0);
	CHECK(fseek(f, 0, SEEK_SET) == 0);
	buf = malloc((size_t)n + 1);
	CHECK(buf != NULL);
	CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static rg_catalogue *
cat_load_demo(void)
{
	char err[4096];
	size_t len;
	char *text = cat_read_file(DEMO_CATALOGUE, &len);
	rg_catalogue *cat = rg_catalogue_parse(text, len, err, sizeof(err));

	CHECKF(cat != NULL, "demo catalogue refused:\n%s", err);
	free(text);
	return cat;
}

/* Parse text that must be refused; err receives the problems. */
static void
cat_refuse(const char *text, char *err, size_t errlen)
{
	rg_catalogue *cat = rg_catalogue_parse(text, strlen(text), err, errlen);

	if (cat != NULL) {
		rg_catalogue_free(cat);
		CHECKF(0, "catalogue was accepted:\n%s", text);
	}
	CHECK(err[0] != '\0');
}

static int
cat_count_lines(const char *s)
{
	int n = s[0] != '\0';

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static rg_catalogue *
cat_accept(const char *text)
{
	char err[2048];
	rg_catalogue *cat = rg_catalogue_parse(text, strlen(text), err,
	                                       sizeof(err));

	CHECKF(cat != NULL, "refused: %s", err);
	CHECK_EQ_STR(err, "");
	return cat;
}

/* A valid one-resource catalogue with the fields given (a JSON list). */
static char *
cat_one(const char *extra_resource_keys, const char *fields)
{
	char *out;

	CHECK(asprintf(&out, "{\"version\": 1, \"resources\": [{"
	               "\"id\": \"r1\", \"title_zh\": \"甲\", \"title_en\": \"A\","
	               " \"owner\": \"health\", \"classification\": \"internal\","
	               " \"share\": \"conditional\", \"retention_days\": 30,"
	               " \"fields\": %s%s}]}", fields,
	               extra_resource_keys) > 0);
	return out;
}

TEST(demo_catalogue_holds_the_resources_of_the_design_and_the_emergency_report)
{
	/* DESIGN.md section 10, copied by hand, and the occupational-poisoning
	 * emergency report of DOMAIN.md section 2 item 8. */
	static const struct {
		const char *id, *owner;
		rg_share share;
		rg_class cls;
	} want[] = {
		{"occ-disease-diagnosis", "health", RG_SHARE_CONDITIONAL, RG_CLASS_SENSITIVE},
		{"occ-health-exam", "health", RG_SHARE_CONDITIONAL, RG_CLASS_SENSITIVE},
		{"hazard-declaration", "health", RG_SHARE_UNCONDITIONAL, RG_CLASS_PUBLIC},
		{"hazard-monitoring", "health", RG_SHARE_UNCONDITIONAL, RG_CLASS_PUBLIC},
		{"pneumoconiosis-patients", "health", RG_SHARE_CONDITIONAL, RG_CLASS_SENSITIVE},
		{"injury-insurance-enrollment", "hrss", RG_SHARE_CONDITIONAL, RG_CLASS_INTERNAL},
		{"injury-determination", "hrss", RG_SHARE_CONDITIONAL, RG_CLASS_SENSITIVE},
		{"injury-insurance-fee", "tax", RG_SHARE_CONDITIONAL, RG_CLASS_INTERNAL},
		{"living-assistance", "civil", RG_SHARE_CONDITIONAL, RG_CLASS_SENSITIVE},
		{"medical-benefit", "medsec", RG_SHARE_CONDITIONAL, RG_CLASS_SENSITIVE},
		{"radiation-workplace", "ecology", RG_SHARE_CONDITIONAL, RG_CLASS_INTERNAL},
		{"penalty-credit", "market", RG_SHARE_UNCONDITIONAL, RG_CLASS_PUBLIC},
		{"work-bulletin", "*", RG_SHARE_UNCONDITIONAL, RG_CLASS_PUBLIC},
		{"occ-poisoning-report", "health", RG_SHARE_UNCONDITIONAL, RG_CLASS_INTERNAL},
	};
	rg_catalogue *cat = cat_load_demo();

	CHECK_EQ_INT(rg_catalogue_count(cat), 14);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const rg_resource *r = rg_catalogue_find(cat, want[i].id);

		CHECKF(r != NULL, "missing %s", want[i].id);
		CHECK(r == rg_catalogue_at(cat, i));
		CHECK_EQ_STR(rg_resource_id(r), want[i].id);
		CHECK_EQ_STR(rg_resource_owner(r), want[i].owner);
		CHECKF(rg_resource_share(r) == want[i].share, "%s share",
		       want[i].id);
		CHECKF(rg_resource_class(r) == want[i].cls, "%s class",
		       want[i].id);
		CHECK(rg_resource_title_zh(r)[0] != '\0');
		CHECK(rg_resource_title_en(r)[0] != '\0');
		CHECK(rg_resource_retention_days(r) >= 365);
		CHECKF(rg_resource_field_count(r) >= 6 &&
		       rg_resource_field_count(r) <= 20, "%s has %zu fields",
		       want[i].id, rg_resource_field_count(r));
	}
	CHECK_EQ_STR(rg_resource_title_zh(rg_catalogue_find(cat,
	             "occ-disease-diagnosis")), "职业病诊断");
	CHECK_EQ_INT(rg_resource_retention_days(rg_catalogue_find(cat,
	             "occ-disease-diagnosis")), 10950);
	rg_catalogue_free(cat);
}

TEST(demo_catalogue_marks_identity_fields_personal_and_never_shares_them)
{
	rg_catalogue *cat = cat_load_demo();
	const rg_resource *dx = rg_catalogue_find(cat, "occ-disease-diagnosis");
	static const char *const employer_level[] = {
		"hazard-declaration", "hazard-monitoring", "penalty-credit",
		"work-bulletin",
	};
	/* Whoever holds these can name a person. */
	static const char *const personal[] = {
		"patient_name", "worker_name", "recipient_name", "id_number",
		"gender", "birth_date", "contact_phone", "residence_address",
		"household_address",
	};

	for (size_t i = 0; i < rg_catalogue_count(cat); i++) {
		const rg_resource *r = rg_catalogue_at(cat, i);

		for (size_t j = 0; j < rg_resource_field_count(r); j++) {
			const char *name = rg_resource_field_name(r, j);

			for (size_t k = 0; k < sizeof(personal) /
			     sizeof(personal[0]); k++)
				if (strcmp(name, personal[k]) == 0)
					CHECKF(rg_resource_field_personal(r, j),
					       "%s.%s not personal",
					       rg_resource_id(r), name);
			if (rg_resource_unconditional_fields(r) &
			    (UINT64_C(1) << j))
				CHECK(!rg_resource_field_personal(r, j));
		}
	}
	for (size_t i = 0; i < 4; i++) {
		const rg_resource *r = rg_catalogue_find(cat, employer_level[i]);

		CHECK(r != NULL);
		for (size_t j = 0; j < rg_resource_field_count(r); j++)
			CHECK(!rg_resource_field_personal(r, j));
		CHECK(rg_resource_unconditional_fields(r) ==
		      rg_resource_all_fields(r));
	}
	/* The fields the design names for the diagnosis consumers. */
	CHECK_EQ_STR(rg_resource_field_name(dx, 0), "patient_name");
	CHECK(rg_resource_field_required(dx, 0));
	CHECK(rg_resource_field_personal(dx, 0));
	CHECK_EQ_STR(rg_resource_field_name(dx, 1), "id_number");
	CHECK(rg_resource_field_personal(dx, 1));
	CHECK_EQ_STR(rg_resource_field_name(dx, 4), "employer");
	CHECK(!rg_resource_field_personal(dx, 4));
	CHECK_EQ_STR(rg_resource_field_name(dx, 9), "diagnosis_date");
	CHECK(rg_resource_field_type(dx, 9) == RG_FT_DATE);
	CHECK_EQ_STR(rg_resource_field_name(dx, 13), "exposure_years");
	CHECK(rg_resource_field_type(dx, 13) == RG_FT_INTEGER);
	CHECK_EQ_INT(rg_resource_unconditional_fields(dx), 0);
	CHECK(rg_resource_field_type(rg_catalogue_find(cat, "work-bulletin"),
	      5) == RG_FT_DATETIME);
	rg_catalogue_free(cat);
}

TEST(catalogue_find_answers_null_for_absent_ids)
{
	rg_catalogue *cat = cat_load_demo();

	CHECK(rg_catalogue_find(cat, "occ-disease") == NULL);
	CHECK(rg_catalogue_find(cat, "OCC-DISEASE-DIAGNOSIS") == NULL);
	CHECK(rg_catalogue_find(cat, "") == NULL);
	CHECK(rg_catalogue_find(cat, NULL) == NULL);
	CHECK(rg_catalogue_find(cat, "zzz") == NULL);
	CHECK(rg_catalogue_at(cat, 14) == NULL);
	rg_catalogue_free(cat);
}

TEST(catalogue_refuses_unknown_field_type)
{
	char err[1024];
	char *text = cat_one("", "[{\"name\": \"x\", \"type\": \"foo\"}]");

	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (r1): field 'x': unknown type 'foo'");
	free(text);
}

TEST(catalogue_refuses_duplicate_field_name)
{
	char err[1024];
	char *text = cat_one("", "[{\"name\": \"a\", \"type\": \"string\"},"
	                     "{\"name\": \"b\", \"type\": \"date\"},"
	                     "{\"name\": \"a\", \"type\": \"integer\"}]");

	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (r1): field 'a': duplicate field name "
	             "(also field 1)");
	free(text);
}

TEST(catalogue_refuses_duplicate_resource_id)
{
	char err[1024];
	const char *text =
	    "{\"version\": 1, \"resources\": ["
	    "{\"id\": \"r1\", \"title_zh\": \"甲\", \"title_en\": \"A\","
	    " \"owner\": \"health\", \"classification\": \"internal\","
	    " \"share\": \"none\", \"retention_days\": 30,"
	    " \"fields\": [{\"name\": \"a\", \"type\": \"string\"}]},"
	    "{\"id\": \"r2\", \"title_zh\": \"乙\", \"title_en\": \"B\","
	    " \"owner\": \"hrss\", \"classification\": \"internal\","
	    " \"share\": \"none\", \"retention_days\": 30,"
	    " \"fields\": [{\"name\": \"a\", \"type\": \"string\"}]},"
	    "{\"id\": \"r1\", \"title_zh\": \"丙\", \"title_en\": \"C\","
	    " \"owner\": \"tax\", \"classification\": \"internal\","
	    " \"share\": \"none\", \"retention_days\": 30,"
	    " \"fields\": [{\"name\": \"a\", \"type\": \"string\"}]}]}";

	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 3 (r1): duplicate id (also resource 1)");
}

static char *
cat_fields(size_t n)
{
	size_t cap = n * 48 + 8, off = 0;
	char *s = malloc(cap);

	CHECK(s != NULL);
	s[off++] = '[';
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(s + off, cap - off,
		                 "%s{\"name\": \"f%zu\", \"type\": \"integer\"}",
		                 i > 0 ? "," : "", i);

		CHECK(k > 0 && (size_t)k < cap - off);
		off += (size_t)k;
	}
	CHECK(off + 2 <= cap);
	s[off++] = ']';
	s[off] = '\0';
	return s;
}

TEST(catalogue_refuses_more_than_64_fields_and_takes_exactly_64)
{
	char err[1024];
	char *f64 = cat_fields(64), *f65 = cat_fields(65);
	char *ok = cat_one("", f64), *bad = cat_one("", f65);
	rg_catalogue *cat = cat_accept(ok);
	const rg_resource *r = rg_catalogue_find(cat, "r1");

	CHECK_EQ_INT(rg_resource_field_count(r), 64);
	CHECK(rg_resource_all_fields(r) == UINT64_MAX);
	CHECK_EQ_STR(rg_resource_field_name(r, 63), "f63");
	cat_refuse(bad, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (r1): fields: 65 fields, at most 64");
	rg_catalogue_free(cat);
	free(f64);
	free(f65);
	free(ok);
	free(bad);
}

TEST(catalogue_refuses_empty_field_list)
{
	char err[1024];
	char *text = cat_one("", "[]");

	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (r1): fields: at least one field is "
	             "required");
	free(text);
}

TEST(catalogue_refuses_unconditional_fields_on_conditional_resource)
{
	char err[1024];
	char *text = cat_one(", \"unconditional_fields\": [\"a\"]",
	                     "[{\"name\": \"a\", \"type\": \"string\"}]");

	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (r1): unconditional_fields is only "
	             "allowed when share is 'unconditional'");
	free(text);
}

static const char cat_uncond_head[] =
    "{\"version\": 1, \"resources\": [{\"id\": \"u\", \"title_zh\": \"甲\","
    " \"title_en\": \"A\", \"owner\": \"health\","
    " \"classification\": \"public\", \"share\": \"unconditional\","
    " \"retention_days\": 30, \"fields\": [{\"name\": \"a\", \"type\":"
    " \"string\"}, {\"name\": \"b\", \"type\": \"string\", \"personal\":"
    " true}, {\"name\": \"c\", \"type\": \"integer\"}]";

TEST(catalogue_requires_unconditional_fields_naming_shareable_fields)
{
	char err[1024], text[1024];
	rg_catalogue *cat;

	snprintf(text, sizeof(text), "%s}]}", cat_uncond_head);
	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (u): missing unconditional_fields "
	             "(required when share is 'unconditional')");

	snprintf(text, sizeof(text), "%s, \"unconditional_fields\": []}]}",
	         cat_uncond_head);
	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (u): unconditional_fields: expected a "
	             "non-empty list of field names");

	snprintf(text, sizeof(text), "%s, \"unconditional_fields\": "
	         "[\"a\", \"zz\", \"b\", \"a\", 7]}]}", cat_uncond_head);
	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err,
	    "resource 1 (u): unconditional_fields: 'zz' is not a field\n"
	    "resource 1 (u): unconditional_fields: 'b' is personal and cannot "
	    "be shared unconditionally\n"
	    "resource 1 (u): unconditional_fields: 'a' is listed twice\n"
	    "resource 1 (u): unconditional_fields: entry 5: expected a string");

	snprintf(text, sizeof(text), "%s, \"unconditional_fields\": "
	         "[\"c\", \"a\"]}]}", cat_uncond_head);
	cat = cat_accept(text);
	/* Bit i is field i: a is 0, c is 2. */
	CHECK_EQ_INT(rg_resource_unconditional_fields(rg_catalogue_at(cat, 0)),
	             0x5);
	CHECK_EQ_INT(rg_resource_all_fields(rg_catalogue_at(cat, 0)), 0x7);
	rg_catalogue_free(cat);
}

TEST(catalogue_refuses_unknown_keys_and_names_them)
{
	char err[1024];
	char *text = cat_one(", \"sharing\": \"all\"",
	                     "[{\"name\": \"a\", \"type\": \"string\","
	                     " \"optional\": true}]");

	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (r1): unknown key 'sharing'\n"
	             "resource 1 (r1): field 'a': unknown key 'optional'");
	free(text);

	cat_refuse("{\"version\": 1, \"resources\": [], \"extra\": 1}", err,
	           sizeof(err));
	CHECK_EQ_STR(err, "catalogue: unknown key 'extra'");
}

TEST(catalogue_reports_json_syntax_error_with_line_and_column)
{
	char err[1024];
	const char *text = "{\n  \"version\": 1,\n  \"resources\": [,]\n}\n";

	cat_refuse(text, err, sizeof(err));
	CHECKF(strncmp(err, "line 3, column ", 15) == 0, "got: %s", err);
	CHECK_EQ_INT(cat_count_lines(err), 1);
}

TEST(catalogue_refuses_duplicate_json_keys)
{
	char err[1024];
	const char *text = "{\"version\": 1,\n\"version\": 1, \"resources\": []}";

	cat_refuse(text, err, sizeof(err));
	CHECKF(strncmp(err, "line 2, column ", 15) == 0 &&
	       strstr(err, "duplicate") != NULL, "got: %s", err);
}

TEST(catalogue_lists_every_problem_when_several_are_present)
{
	char err[4096];
	const char *text =
	    "{\"version\": 2, \"resources\": ["
	    "{\"id\": \"Bad_Id\", \"title_zh\": \"\", \"title_en\": \"A\","
	    " \"owner\": \"Health\", \"classification\": \"top\","
	    " \"share\": \"sometimes\", \"retention_days\": 0,"
	    " \"fields\": [{\"name\": \"1x\", \"type\": \"text\","
	    " \"required\": \"yes\"}]},"
	    "{\"id\": \"ok\", \"title_zh\": \"乙\", \"title_en\": \"B\","
	    " \"owner\": \"*\", \"classification\": \"internal\","
	    " \"share\": \"conditional\", \"retention_days\": 1.5,"
	    " \"fields\": [{\"type\": \"string\"}]},"
	    "[]]}";
	static const char *const want[] = {
	    "catalogue: version: expected 1",
	    "resource 1: id 'Bad_Id' is not valid (lower-case letters, digits "
	    "and '-', 1 to 63 characters)",
	    "resource 1: title_zh: expected 1 to 256 bytes",
	    "resource 1: owner 'Health' is not a department id (lower-case "
	    "letters, 1 to 31) or '*'",
	    "resource 1: unknown classification 'top' (public, internal, "
	    "sensitive or secret)",
	    "resource 1: unknown share 'sometimes' (unconditional, conditional "
	    "or none)",
	    "resource 1: retention_days: expected an integer from 1 to 365000",
	    "resource 1: field 1: name '1x' is not valid (a lower-case letter, "
	    "then lower-case letters, digits or '_', at most 63 characters)",
	    "resource 1: field 1: unknown type 'text'",
	    "resource 1: field 1: required: expected true or false",
	    "resource 2 (ok): owner '*' requires share 'unconditional'",
	    "resource 2 (ok): retention_days: expected an integer from 1 to "
	    "365000",
	    "resource 2 (ok): field 1: missing name",
	    "resource 3: expected an object",
	};
	char joined[4096] = "";

	cat_refuse(text, err, sizeof(err));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECKF(strstr(err, want[i]) != NULL, "missing \"%s\" in:\n%s",
		       want[i], err);
		strncat(joined, want[i], sizeof(joined) - strlen(joined) - 2);
		if (i + 1 < sizeof(want) / sizeof(want[0]))
			strncat(joined, "\n", 2);
	}
	/* Nothing more, and in this order. */
	CHECK_EQ_STR(err, joined);
}

TEST(catalogue_refuses_missing_members_and_wrong_version)
{
	char err[2048];

	cat_refuse("{\"resources\": []}", err, sizeof(err));
	CHECK_EQ_STR(err, "catalogue: missing version");
	cat_refuse("{\"version\": \"1\", \"resources\": []}", err, sizeof(err));
	CHECK_EQ_STR(err, "catalogue: version: expected 1");
	cat_refuse("{\"version\": 1}", err, sizeof(err));
	CHECK_EQ_STR(err, "catalogue: missing resources");
	cat_refuse("[1]", err, sizeof(err));
	CHECK_EQ_STR(err, "catalogue: expected an object");
	cat_refuse("{\"version\": 1, \"resources\": [{}]}", err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1: missing id\n"
	             "resource 1: missing title_zh\n"
	             "resource 1: missing title_en\n"
	             "resource 1: missing owner\n"
	             "resource 1: missing classification\n"
	             "resource 1: missing share\n"
	             "resource 1: missing retention_days\n"
	             "resource 1: missing fields");
}

TEST(catalogue_problem_lines_never_carry_control_characters)
{
	char err[1024];
	char *text = cat_one(", \"a\\nb\\u0001\": 1",
	                     "[{\"name\": \"a\", \"type\": \"string\"}]");

	cat_refuse(text, err, sizeof(err));
	CHECK_EQ_STR(err, "resource 1 (r1): unknown key 'a?b?'");
	free(text);
}

TEST(catalogue_error_buffer_too_small_is_cut_at_a_line_and_terminated)
{
	char err[64];
	const char *text = "{\"version\": 1, \"resources\": [{}, {}, {}]}";

	memset(err, 'X', sizeof(err));
	cat_refuse(text, err, sizeof(err));
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	CHECK_EQ_STR(err, "resource 1: missing id\nresource 1: missing "
	             "title_zh\n...");
	/* No buffer at all is allowed too. */
	CHECK(rg_catalogue_parse(text, strlen(text), NULL, 0) == NULL);
}

TEST(catalogue_json_form_is_the_same_for_the_same_meaning)
{
	char a[2048], b[2048];
	rg_catalogue *ca, *cb;
	json_t *ja, *jb;
	char *sa, *sb;

	snprintf(a, sizeof(a), "%s, \"unconditional_fields\": "
	         "[\"c\", \"a\"]}]}", cat_uncond_head);
	/* Same meaning: explicit defaults, other list order, spacing. */
	snprintf(b, sizeof(b),
	    "{\"resources\": [{\"share\": \"unconditional\", \"id\": \"u\","
	    "\"title_zh\":\"甲\",\"title_en\":\"A\",\"owner\":\"health\","
	    "\"classification\":\"public\",\"retention_days\":30,"
	    "\"unconditional_fields\":[\"a\",\"c\"],"
	    "\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"required\":false},"
	    "{\"name\":\"b\",\"type\":\"string\",\"personal\":true,"
	    "\"required\":false},{\"type\":\"integer\",\"name\":\"c\","
	    "\"personal\":false}]}], \"version\": 1}");
	ca = cat_accept(a);
	cb = cat_accept(b);
	ja = rg_catalogue_to_json(ca);
	jb = rg_catalogue_to_json(cb);
	CHECK(ja != NULL && jb != NULL);
	sa = json_dumps(ja, JSON_COMPACT | JSON_SORT_KEYS);
	sb = json_dumps(jb, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(sa != NULL && sb != NULL);
	CHECK_EQ_STR(sa, sb);
	CHECK(strstr(sa, "\"unconditional_fields\":[\"a\",\"c\"]") != NULL);
	CHECK(strstr(sa, "{\"name\":\"a\",\"personal\":false,\"required\":"
	             "false,\"type\":\"string\"}") != NULL);
	free(sa);
	free(sb);
	json_decref(ja);
	json_decref(jb);
	rg_catalogue_free(ca);
	rg_catalogue_free(cb);
}

TEST(catalogue_round_trips_through_its_json_form)
{
	rg_catalogue *cat = cat_load_demo(), *again;
	json_t *j = rg_catalogue_to_json(cat);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS), *s2;
	json_t *j2;

	CHECK(s != NULL);
	again = cat_accept(s);
	j2 = rg_catalogue_to_json(again);
	s2 = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(s2 != NULL);
	CHECK_EQ_STR(s, s2);
	CHECK_EQ_INT(rg_catalogue_count(again), 14);
	free(s);
	free(s2);
	json_decref(j);
	json_decref(j2);
	rg_catalogue_free(cat);
	rg_catalogue_free(again);
}

/* Record validation, over a schema with one field of each type. */

static const char cat_types[] =
    "{\"version\": 1, \"resources\": [{\"id\": \"t\", \"title_zh\": \"类型\","
    " \"title_en\": \"Types\", \"owner\": \"health\","
    " \"classification\": \"internal\", \"share\": \"conditional\","
    " \"retention_days\": 1, \"fields\": ["
    "{\"name\": \"s\", \"type\": \"string\", \"required\": true},"
    "{\"name\": \"i\", \"type\": \"integer\"},"
    "{\"name\": \"n\", \"type\": \"number\"},"
    "{\"name\": \"b\", \"type\": \"boolean\"},"
    "{\"name\": \"d\", \"type\": \"date\", \"required\": true},"
    "{\"name\": \"dt\", \"type\": \"datetime\"}]}]}";

/* Validate {"s": "x", "d": "2026-11-25", <extra>}. */
static int
cat_check(const rg_resource *r, const char *extra, char *field, char *msg)
{
	char text[8192];
	json_error_t jerr;
	json_t *rec;
	int rc;

	snprintf(text, sizeof(text), "{\"s\": \"x\", \"d\": \"2026-11-25\"%s%s}",
	         extra[0] != '\0' ? ", " : "", extra);
	rec = json_loads(text, 0, &jerr);
	CHECKF(rec != NULL, "test record: %s", jerr.text);
	rc = rg_resource_validate(r, rec, field, 64, msg, 128);
	json_decref(rec);
	return rc;
}

#define CAT_OK(r, extra)                                                      \
	do {                                                                  \
		char f_[64], m_[128];                                         \
		CHECKF(cat_check((r), (extra), f_, m_) == 0,                  \
		       "%s refused: %s: %s", (extra), f_, m_);                \
		CHECK_EQ_STR(f_, "");                                         \
	} while (0)

#define CAT_BAD(r, extra, wfield, wmsg)                                       \
	do {                                                                  \
		char f_[64], m_[128];                                         \
		CHECKF(cat_check((r), (extra), f_, m_) == -1,                 \
		       "%s accepted", (extra));                               \
		CHECK_EQ_STR(f_, (wfield));                                   \
		CHECK_EQ_STR(m_, (wmsg));                                     \
	} while (0)

TEST(record_fields_are_checked_against_their_types)
{
	rg_catalogue *cat = cat_accept(cat_types);
	const rg_resource *r = rg_catalogue_find(cat, "t");

	CAT_OK(r, "");
	CAT_OK(r, "\"i\": -42, \"n\": 1, \"b\": false, "
	          "\"dt\": \"2026-11-25T10:00:00Z\"");
	CAT_OK(r, "\"n\": 36.6, \"b\": true");
	CAT_OK(r, "\"i\": 9223372036854775807");

	CAT_BAD(r, "\"i\": 1.5", "i", "expected integer");
	CAT_BAD(r, "\"i\": \"3\"", "i", "expected integer");
	CAT_BAD(r, "\"i\": true", "i", "expected integer");
	CAT_BAD(r, "\"n\": \"1.5\"", "n", "expected number");
	CAT_BAD(r, "\"b\": 0", "b", "expected boolean");
	CAT_BAD(r, "\"b\": \"true\"", "b", "expected boolean");
	CAT_BAD(r, "\"dt\": 1764064800", "dt",
	        "expected datetime (RFC 3339, e.g. 2026-11-25T10:00:00Z)");
	CAT_BAD(r, "\"i\": null", "i",
	        "null is not a value; leave the field out");
	CAT_BAD(r, "\"i\": [1]", "i", "expected integer");
	rg_catalogue_free(cat);
}

TEST(record_string_is_at_most_4096_bytes)
{
	rg_catalogue *cat = cat_accept(cat_types);
	const rg_resource *r = rg_catalogue_find(cat, "t");
	char rec[8192];
	json_t *j;
	char f[64], m[128];

	/* 4096 bytes pass; one more does not. 职 is 3 bytes in UTF-8. */
	j = json_pack("{s:s, s:s}", "s", "", "d", "2026-01-01");
	CHECK(j != NULL);
	memset(rec, 'a', 4096);
	rec[4096] = '\0';
	CHECK(json_object_set_new(j, "s", json_string(rec)) == 0);
	CHECK_EQ_INT(rg_resource_validate(r, j, f, sizeof(f), m, sizeof(m)), 0);
	rec[4096] = 'a';
	rec[4097] = '\0';
	CHECK(json_object_set_new(j, "s", json_string(rec)) == 0);
	CHECK_EQ_INT(rg_resource_validate(r, j, f, sizeof(f), m, sizeof(m)),
	             -1);
	CHECK_EQ_STR(f, "s");
	CHECK_EQ_STR(m, "string longer than 4096 bytes");
	/* 1365 * 3 + 1 = 4096 bytes of mixed text is fine. */
	rec[0] = '\0';
	for (int i = 0; i < 1365; i++)
		strncat(rec, "职", sizeof(rec) - strlen(rec) - 1);
	strncat(rec, "a", sizeof(rec) - strlen(rec) - 1);
	CHECK_EQ_INT(strlen(rec), 4096);
	CHECK(json_object_set_new(j, "s", json_string(rec)) == 0);
	CHECK_EQ_INT(rg_resource_validate(r, j, f, sizeof(f), m, sizeof(m)), 0);
	/* A NUL inside a string would cut it short for C readers. */
	CHECK(json_object_set_new(j, "s", json_stringn("a\0b", 3)) == 0);
	CHECK_EQ_INT(rg_resource_validate(r, j, f, sizeof(f), m, sizeof(m)),
	             -1);
	CHECK_EQ_STR(m, "string contains NUL");
	json_decref(j);
	rg_catalogue_free(cat);
}

TEST(record_dates_must_be_real_calendar_days)
{
	rg_catalogue *cat = cat_accept(cat_types);
	const rg_resource *r = rg_catalogue_find(cat, "t");
	static const char *const good[] = {
		"2026-11-25", "2024-02-29", "2000-02-29", "2026-12-31",
		"2026-01-01", "1950-06-30",
	};
	static const char *const bad[] = {
		"2026-02-30", "2023-02-29", "1900-02-29", "2026-04-31",
		"2026-13-01", "2026-00-10", "2026-01-00", "2026-1-01",
		"2026-01-1", "26-01-01", "2026/01/01", "2026-01-01T00:00:00Z",
		"20260101", "", "0000-01-01", "2026-01-32", " 2026-01-01",
		"2026-0a-01",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char field[64], msg[128];
		json_t *rec = json_pack("{s:s, s:s}", "s", "x", "d", good[i]);

		CHECK(rec != NULL);
		CHECKF(rg_resource_validate(r, rec, field, sizeof(field), msg,
		       sizeof(msg)) == 0, "%s refused", good[i]);
		json_decref(rec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char field[64], msg[128];
		json_t *rec = json_pack("{s:s, s:s}", "s", "x", "d", bad[i]);

		CHECK(rec != NULL);
		CHECKF(rg_resource_validate(r, rec, field, sizeof(field), msg,
		       sizeof(msg)) == -1, "'%s' accepted", bad[i]);
		CHECK_EQ_STR(field, "d");
		CHECK_EQ_STR(msg, "expected date (YYYY-MM-DD)");
		json_decref(rec);
	}
	rg_catalogue_free(cat);
}

TEST(record_datetimes_must_be_rfc3339)
{
	rg_catalogue *cat = cat_accept(cat_types);
	const rg_resource *r = rg_catalogue_find(cat, "t");
	static const char *const good[] = {
		"2026-11-25T10:00:00Z", "2026-11-25T10:00:00+08:00",
		"2026-11-25T23:59:59-05:30", "2026-11-25T10:00:00.5Z",
		"2026-11-25T10:00:00.123456789+08:00", "2024-02-29T00:00:00Z",
	};
	static const char *const bad[] = {
		"2026-11-25T10:00:00", "2026-11-25 10:00:00Z",
		"2026-11-25t10:00:00z", "2026-11-25T24:00:00Z",
		"2026-11-25T10:60:00Z", "2026-11-25T10:00:60Z",
		"2026-02-30T10:00:00Z", "2026-11-25T10:00:00+0800",
		"2026-11-25T10:00:00+08", "2026-11-25T10:00:00+24:00",
		"2026-11-25T10:00:00.Z", "2026-11-25T10:00:00.1234567890Z",
		"2026-11-25T10:00Z", "2026-11-25T10:00:00ZZ",
		"2026-11-25T10:00:00Z ", "2026-11-25", "2026-11-25T1:00:00Z",
		"2026-11-25T10:00:00+08:60",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char field[64], msg[128];
		json_t *rec = json_pack("{s:s, s:s, s:s}", "s", "x", "d",
		                        "2026-11-25", "dt", good[i]);

		CHECK(rec != NULL);
		CHECKF(rg_resource_validate(r, rec, field, sizeof(field), msg,
		       sizeof(msg)) == 0, "%s refused", good[i]);
		json_decref(rec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char field[64], msg[128];
		json_t *rec = json_pack("{s:s, s:s, s:s}", "s", "x", "d",
		                        "2026-11-25", "dt", bad[i]);

		CHECK(rec != NULL);
		CHECKF(rg_resource_validate(r, rec, field, sizeof(field), msg,
		       sizeof(msg)) == -1, "'%s' accepted", bad[i]);
		CHECK_EQ_STR(field, "dt");
		json_decref(rec);
	}
	rg_catalogue_free(cat);
}

TEST(record_with_unknown_or_missing_fields_is_refused_in_stable_order)
{
	rg_catalogue *cat = cat_accept(cat_types);
	const rg_resource *r = rg_catalogue_find(cat, "t");
	char field[64], msg[128];
	json_t *rec;

	CAT_BAD(r, "\"zeta\": 1, \"alpha\": 2", "alpha", "unknown field");
	/* The keeper deals with _classification; to the schema it is just
	 * an unknown field. */
	CAT_BAD(r, "\"_classification\": \"secret\"", "_classification",
	        "unknown field");
	/* Unknown keys are reported before type problems. */
	CAT_BAD(r, "\"i\": \"x\", \"q\": 1", "q", "unknown field");
	/* Among type problems, the first in schema order. */
	CAT_BAD(r, "\"dt\": 5, \"b\": 5, \"n\": \"x\"", "n", "expected number");

	rec = json_pack("{s:i}", "i", 3);
	CHECK(rec != NULL);
	CHECK_EQ_INT(rg_resource_validate(r, rec, field, sizeof(field), msg,
	             sizeof(msg)), -1);
	CHECK_EQ_STR(field, "s");
	CHECK_EQ_STR(msg, "missing required field");
	json_decref(rec);

	rec = json_pack("{s:s}", "s", "x");
	CHECK(rec != NULL);
	CHECK_EQ_INT(rg_resource_validate(r, rec, field, sizeof(field), msg,
	             sizeof(msg)), -1);
	CHECK_EQ_STR(field, "d");
	CHECK_EQ_STR(msg, "missing required field");
	json_decref(rec);

	rec = json_pack("[s]", "x");
	CHECK(rec != NULL);
	CHECK_EQ_INT(rg_resource_validate(r, rec, field, sizeof(field), msg,
	             sizeof(msg)), -1);
	CHECK_EQ_STR(field, "");
	CHECK_EQ_STR(msg, "record is not an object");
	json_decref(rec);
	CHECK_EQ_INT(rg_resource_validate(r, NULL, field, sizeof(field), msg,
	             sizeof(msg)), -1);
	rg_catalogue_free(cat);
}

TEST(demo_diagnosis_record_validates)
{
	rg_catalogue *cat = cat_load_demo();
	const rg_resource *r = rg_catalogue_find(cat, "occ-disease-diagnosis");
	const rg_resource *wb = rg_catalogue_find(cat, "work-bulletin");
	char field[64], msg[128];
	json_t *rec = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	    " s:i}",
	    "patient_name", "张某某", "id_number", "110101196501011234",
	    "gender", "男", "birth_date", "1965-01-01",
	    "employer", "某县石材加工有限公司",
	    "employer_credit_code", "91110101MA01ABCD2X",
	    "disease_category", "职业性尘肺病及其他呼吸系统疾病",
	    "disease_name", "矽肺", "disease_code", "J62.8",
	    "diagnosis_date", "2026-03-12",
	    "diagnosis_institution", "某市职业病防治院",
	    "diagnosis_conclusion", "壹期矽肺", "certificate_number",
	    "ZYB-2026-0031", "exposure_years", 14);

	CHECK(rec != NULL);
	CHECKF(rg_resource_validate(r, rec, field, sizeof(field), msg,
	       sizeof(msg)) == 0, "%s: %s", field, msg);
	json_decref(rec);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s}", "department", "hrss",
	                "title", "开展工伤保险政策宣传", "content",
	                "本月走访用人单位12家。", "category", "工作动态",
	                "issued_at", "2026-11-25T10:00:00+08:00");
	CHECK(rec != NULL);
	CHECKF(rg_resource_validate(wb, rec, field, sizeof(field), msg,
	       sizeof(msg)) == 0, "%s: %s", field, msg);
	json_decref(rec);
	rg_catalogue_free(cat);
}

TEST(filter_keeps_only_the_fields_in_the_mask)
{
	rg_catalogue *cat = cat_accept(cat_types);
	const rg_resource *r = rg_catalogue_find(cat, "t");
	json_t *rec = json_pack("{s:s, s:i, s:b, s:s}", "s", "x", "i", 7, "b",
	                        1, "d", "2026-11-25");
	json_t *out;

	CHECK(rec != NULL);
	/* Bits: s=0, i=1, n=2, b=3, d=4, dt=5. */
	out = rg_resource_filter(r, rec, 0x2 | 0x4 | 0x10);
	CHECK(out != NULL);
	CHECK_EQ_INT(json_object_size(out), 2);
	CHECK_EQ_INT(json_integer_value(json_object_get(out, "i")), 7);
	CHECK_EQ_STR(json_string_value(json_object_get(out, "d")),
	             "2026-11-25");
	CHECK(json_object_get(out, "s") == NULL);
	CHECK(json_object_get(out, "b") == NULL);
	CHECK(json_object_get(out, "n") == NULL);
	/* A copy: changing it leaves the record alone. */
	CHECK(json_integer_set(json_object_get(out, "i"), 8) == 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(rec, "i")), 7);
	json_decref(out);

	out = rg_resource_filter(r, rec, 0);
	CHECK(out != NULL);
	CHECK_EQ_INT(json_object_size(out), 0);
	json_decref(out);

	out = rg_resource_filter(r, rec, UINT64_MAX);
	CHECK(out != NULL);
	CHECK(json_equal(out, rec));
	json_decref(out);

	CHECK(rg_resource_filter(r, json_object_get(rec, "s"), 1) == NULL);
	json_decref(rec);
	rg_catalogue_free(cat);
}

TEST(filter_never_passes_keys_outside_the_schema)
{
	rg_catalogue *cat = cat_accept(cat_types);
	const rg_resource *r = rg_catalogue_find(cat, "t");
	json_t *rec = json_pack("{s:s, s:s}", "s", "x", "_classification",
	                        "secret");
	json_t *out;

	CHECK(rec != NULL);
	out = rg_resource_filter(r, rec, UINT64_MAX);
	CHECK(out != NULL);
	CHECK_EQ_INT(json_object_size(out), 1);
	CHECK(json_object_get(out, "_classification") == NULL);
	json_decref(out);
	json_decref(rec);
	rg_catalogue_free(cat);
}

TEST(enum_names_are_the_catalogue_spellings)
{
	CHECK_EQ_STR(rg_share_name(RG_SHARE_UNCONDITIONAL), "unconditional");
	CHECK_EQ_STR(rg_share_name(RG_SHARE_CONDITIONAL), "conditional");
	CHECK_EQ_STR(rg_share_name(RG_SHARE_NONE), "none");
	CHECK_EQ_STR(rg_class_name(RG_CLASS_PUBLIC), "public");
	CHECK_EQ_STR(rg_class_name(RG_CLASS_INTERNAL), "internal");
	CHECK_EQ_STR(rg_class_name(RG_CLASS_SENSITIVE), "sensitive");
	CHECK_EQ_STR(rg_class_name(RG_CLASS_SECRET), "secret");
	CHECK_EQ_STR(rg_ftype_name(RG_FT_STRING), "string");
	CHECK_EQ_STR(rg_ftype_name(RG_FT_INTEGER), "integer");
	CHECK_EQ_STR(rg_ftype_name(RG_FT_NUMBER), "number");
	CHECK_EQ_STR(rg_ftype_name(RG_FT_BOOLEAN), "boolean");
	CHECK_EQ_STR(rg_ftype_name(RG_FT_DATE), "date");
	CHECK_EQ_STR(rg_ftype_name(RG_FT_DATETIME), "datetime");
	CHECK_EQ_STR(rg_share_name((rg_share)42), "unknown");
}
