/*
 * test_catalogue_load.c -- what loading a catalogue file adds to parsing
 * it: closed lists of string values, every problem placed on its line, and
 * the refusal of anything classified secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/demo.h"
#include "policy/catalogue.h"
#include "tests/test.h"

static const char cl_values[] =
    "{\"version\": 1, \"resources\": [{\n"
    "  \"id\": \"r1\", \"title_zh\": \"甲\", \"title_en\": \"A\",\n"
    "  \"owner\": \"health\", \"classification\": \"internal\",\n"
    "  \"share\": \"conditional\", \"retention_days\": 30,\n"
    "  \"fields\": [\n"
    "    {\"name\": \"phase\", \"type\": \"string\", \"required\": true,\n"
    "     \"values\": [\"初报\", \"续报\", \"终报\"]},\n"
    "    {\"name\": \"note\", \"type\": \"string\"}\n"
    "  ]}]}";

static rg_catalogue *
cl_parse(const char *text)
{
	char err[2048];
	rg_catalogue *cat = rg_catalogue_parse(text, strlen(text), err, sizeof(err));

	CHECKF(cat != NULL, "refused: %s", err);
	return cat;
}

static int
cl_valid(const rg_resource *res, const char *record, char *field, char *msg)
{
	json_t *j = json_loads(record, 0, NULL);
	int rc;

	CHECK(j != NULL);
	rc = rg_resource_validate(res, j, field, 128, msg, 128);
	json_decref(j);
	return rc;
}

TEST(string_field_with_a_value_list_takes_only_those_values)
{
	rg_catalogue *cat = cl_parse(cl_values);
	const rg_resource *res = rg_catalogue_find(cat, "r1");
	char field[128], msg[128];

	CHECK_EQ_INT(json_array_size(rg_resource_field_values(res, 0)), 3);
	CHECK(rg_resource_field_values(res, 1) == NULL);
	CHECK_EQ_INT(cl_valid(res, "{\"phase\": \"初报\"}", field, msg), 0);
	CHECK_EQ_INT(cl_valid(res, "{\"phase\": \"终报\", \"note\": \"任意\"}",
	                      field, msg), 0);
	CHECK_EQ_INT(cl_valid(res, "{\"phase\": \"中报\"}", field, msg), -1);
	CHECK_EQ_STR(field, "phase");
	CHECK_EQ_STR(msg, "not one of the listed values");
	CHECK_EQ_INT(cl_valid(res, "{\"phase\": 1}", field, msg), -1);
	CHECK_EQ_STR(field, "phase");
	rg_catalogue_free(cat);
}

TEST(value_lists_that_make_no_sense_are_refused)
{
	static const char *const bad[] = {
		"\"values\": []",
		"\"values\": \"初报\"",
		"\"values\": [\"a\", \"a\"]",
		"\"values\": [\"a\", 1]",
		"\"values\": [\"\"]",
	};
	char text[1024], err[2048];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		    "{\"version\": 1, \"resources\": [{\"id\": \"r1\", \"title_zh\":"
		    " \"甲\", \"title_en\": \"A\", \"owner\": \"health\","
		    " \"classification\": \"internal\", \"share\": \"none\","
		    " \"retention_days\": 30, \"fields\": [{\"name\": \"a\","
		    " \"type\": \"string\", %s}]}]}", bad[i]);
		CHECKF(rg_catalogue_parse(text, strlen(text), err, sizeof(err)) ==
		       NULL, "case %zu accepted", i + 1);
		CHECKF(strstr(err, "values") != NULL, "case %zu: %s", i + 1, err);
	}
	snprintf(text, sizeof(text),
	    "{\"version\": 1, \"resources\": [{\"id\": \"r1\", \"title_zh\":"
	    " \"甲\", \"title_en\": \"A\", \"owner\": \"health\","
	    " \"classification\": \"internal\", \"share\": \"none\","
	    " \"retention_days\": 30, \"fields\": [{\"name\": \"a\","
	    " \"type\": \"integer\", \"values\": [\"1\"]}]}]}");
	CHECK(rg_catalogue_parse(text, strlen(text), err, sizeof(err)) == NULL);
	CHECK(strstr(err, "only a string field") != NULL);
}

TEST(emergency_report_phase_is_initial_follow_up_or_final)
{
	size_t len;
	const char *text = rg_demo_catalogue(&len);
	char err[2048], field[128], msg[128];
	rg_catalogue *cat = rg_catalogue_parse(text, len, err, sizeof(err));
	const rg_resource *res;
	static const char rec[] =
	    "{\"report_number\": \"ZD-2026-001\", \"phase\": \"%s\","
	    " \"reported_at\": \"2026-05-01T08:20:00+08:00\","
	    " \"event_time\": \"2026-05-01T07:55:00+08:00\","
	    " \"place\": \"某化工厂\", \"information_source\": \"企业报告\","
	    " \"cause_and_nature\": \"硫化氢泄漏，急性职业中毒\","
	    " \"course\": \"检修时阀门泄漏\", \"consequences\": \"3人中毒\","
	    " \"poisoned_count\": 3, \"death_count\": 0, \"scope\": \"车间\","
	    " \"trend\": \"已控制\", \"handling\": \"已送医\","
	    " \"planned_measures\": \"停产整顿\"}";
	char buf[2048];

	CHECKF(cat != NULL, "%s", err);
	res = rg_catalogue_find(cat, "occ-poisoning-report");
	CHECK(res != NULL);
	CHECK_EQ_STR(rg_resource_owner(res), "health");
	for (int i = 0; i < 3; i++) {
		static const char *const phases[] = {"初报", "续报", "终报"};

		snprintf(buf, sizeof(buf), rec, phases[i]);
		CHECKF(cl_valid(res, buf, field, msg) == 0, "%s: %s", field, msg);
	}
	snprintf(buf, sizeof(buf), rec, "initial");
	CHECK_EQ_INT(cl_valid(res, buf, field, msg), -1);
	CHECK_EQ_STR(field, "phase");
	rg_catalogue_free(cat);
}

TEST(catalogue_problems_name_the_line_of_their_resource_and_field)
{
	static const char text[] =
	    "{\"version\": 1,\n"                                    /* 1 */
	    " \"resources\": [\n"                                   /* 2 */
	    "  {\"id\": \"good\", \"title_zh\": \"甲\", \"title_en\": \"A\",\n"
	    "   \"owner\": \"health\", \"classification\": \"internal\",\n"
	    "   \"share\": \"none\", \"retention_days\": 30,\n"     /* 5 */
	    "   \"fields\": [{\"name\": \"a\", \"type\": \"string\"}]},\n"
	    "  {\"id\": \"bad\", \"title_zh\": \"乙\", \"title_en\": \"B\",\n"
	    "   \"owner\": \"health\", \"classification\": \"cosmic\",\n"
	    "   \"share\": \"none\", \"retention_days\": 30,\n"
	    "   \"fields\": [\n"                                    /* 10 */
	    "     {\"name\": \"x\", \"type\": \"string\"},\n"
	    "     {\"name\": \"y\",\n"                              /* 12 */
	    "      \"type\": \"strang\"}]}]}\n";
	char err[2048], out[4096];

	CHECK(rg_catalogue_parse(text, strlen(text), err, sizeof(err)) == NULL);
	CHECK_EQ_INT(rg_catalogue_annotate(text, strlen(text), err, out,
	                                   sizeof(out)), 0);
	CHECKF(strstr(out, "line 7: resource 2 (bad): unknown classification") !=
	       NULL, "%s", out);
	CHECKF(strstr(out, "line 12: resource 2 (bad): field 'y': unknown type") !=
	       NULL, "%s", out);
	/* A syntax error keeps jansson's own line. */
	CHECK(rg_catalogue_parse("{\n\n  \"version\": 1,,}", 17, err,
	                         sizeof(err)) == NULL);
	CHECK_EQ_INT(rg_catalogue_annotate("{\n\n  \"version\": 1,,}", 17, err,
	                                   out, sizeof(out)), 0);
	CHECKF(strncmp(out, "line 3", 6) == 0, "%s", out);
	/* Too small an output is reported, not overrun. */
	CHECK_EQ_INT(rg_catalogue_annotate(text, strlen(text), err, out, 10), -1);
}

TEST(catalogue_declaring_a_secret_resource_is_refused_for_loading)
{
	static const char text[] =
	    "{\"version\": 1, \"resources\": [{\"id\": \"classified\","
	    " \"title_zh\": \"涉密\", \"title_en\": \"Classified\","
	    " \"owner\": \"health\", \"classification\": \"secret\","
	    " \"share\": \"none\", \"retention_days\": 30,"
	    " \"fields\": [{\"name\": \"a\", \"type\": \"string\"}]}]}";
	char err[1024];
	rg_catalogue *cat = cl_parse(text);

	CHECK_EQ_INT(rg_catalogue_check_load(cat, err, sizeof(err)), -1);
	CHECKF(strstr(err, "resource 1 (classified): classification secret") !=
	       NULL, "%s", err);
	rg_catalogue_free(cat);
	cat = cl_parse(cl_values);
	CHECK_EQ_INT(rg_catalogue_check_load(cat, err, sizeof(err)), 0);
	rg_catalogue_free(cat);
}
