/*
 * test_catalogue_load.c -- the office replaces the catalogue over the real
 * daemon: a clean file takes effect with a new policy version and an audit
 * entry; an invalid or classified one is refused, by the command with
 * every problem on its line and by the gateway itself, and changes
 * nothing; no department key can load one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

static char *
cl_demo_text(void)
{
	FILE *f = fopen("policy/demo-catalogue.json", "rb");
	char *buf = malloc(256 * 1024);
	size_t n;

	CHECKF(f != NULL, "run from the repository root");
	CHECK(buf != NULL);
	n = fread(buf, 1, 256 * 1024 - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* text with the first occurrence of from replaced by to (caller frees). */
static char *
cl_replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	CHECKF(at != NULL, "%s not found", from);
	CHECK(asprintf(&out, "%.*s%s%s", (int)(at - text), text, to,
	               at + strlen(from)) > 0);
	return out;
}

static char *
cl_write(const char *name, const char *text)
{
	char *path;
	FILE *f;

	CHECK(asprintf(&path, "%s/%s", rg_test_tmpdir(), name) > 0);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
	return path;
}

static char *
cl_version(struct rg_gw *gw, const char *dept)
{
	json_t *r;
	char *v;

	CHECK_EQ_INT(rg_gw_call(gw, dept, "GET", "/v1/catalogue", NULL, NULL, NULL,
	                        &r), 200);
	v = strdup(json_string_value(json_object_get(json_object_get(r, "result"),
	                                             "policy_version")));
	json_decref(r);
	return v;
}

SLOW_TEST(office_loads_a_catalogue_and_the_policy_version_changes, 120)
{
	struct rg_gw gw;
	struct rg_client_opts o = {.purpose = "统计 statistics"};
	char *demo = cl_demo_text(), *next, *path, *before, *after, cmd[4096];
	char out[700];
	json_t *r, *res;
	long long size;

	/* Hazard monitoring: unconditional readers now get two fields. */
	next = cl_replace(demo,
	    "        \"employer\", \"employer_credit_code\", \"workplace\", "
	    "\"hazard_factor\",\n        \"monitoring_date\", "
	    "\"testing_institution\", \"measured_value\", \"unit\",\n"
	    "        \"exposure_limit\", \"exceeds_limit\", \"report_number\"\n",
	    "        \"employer\", \"exceeds_limit\"\n");
	path = cl_write("next.json", next);
	rg_gw_start(&gw, NULL);
	snprintf(out, sizeof(out), "%s/out.txt", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl catalogue check %s > %s 2>&1",
	         rg_test_build(), path, out);
	CHECKF(system(cmd) == 0, "the edited catalogue is not valid");
	before = cl_version(&gw, "civil");
	CHECK_EQ_INT(rg_gw_call(&gw, "civil", "GET",
	             "/v1/resources/hazard-monitoring/changes", NULL, NULL, &o, &r),
	             200);
	json_decref(r);
	size = rg_gw_audit_size(&gw);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl catalogue load %s --url %s "
	         "--key %s/clients/office.key > %s 2>/dev/null", rg_test_build(), path,
	         gw.url, gw.dir, out);
	CHECK(system(cmd) == 0);
	CHECK_EQ_INT(rg_gw_audit_size(&gw), size + 1);
	r = json_load_file(out, 0, NULL);
	CHECK(r != NULL);
	res = json_object_get(r, "result");
	CHECK_EQ_STR(json_string_value(json_object_get(res, "previous_version")),
	             before);
	after = cl_version(&gw, "civil");
	CHECK(strcmp(before, after) != 0);
	CHECK_EQ_STR(json_string_value(json_object_get(res, "policy_version")),
	             after);
	json_decref(r);
	/* The new catalogue decides now. */
	CHECK_EQ_INT(rg_gw_call(&gw, "civil", "GET", "/v1/catalogue", NULL, NULL,
	                        &o, &r), 200);
	res = json_object_get(json_object_get(r, "result"), "resources");
	for (size_t i = 0; i < json_array_size(res); i++) {
		json_t *item = json_array_get(res, i);

		if (strcmp(json_string_value(json_object_get(item, "id")),
		           "hazard-monitoring") == 0)
			CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(
			    item, "access"), "readable_fields")), 2);
	}
	json_decref(r);
	/* And after a restart. */
	rg_gw_stop(&gw);
	rg_gw_restart(&gw);
	free(before);
	before = cl_version(&gw, "civil");
	CHECK_EQ_STR(before, after);
	rg_gw_stop(&gw);
	free(before);
	free(after);
	free(path);
	free(next);
	free(demo);
}

SLOW_TEST(invalid_or_classified_catalogue_is_refused_and_changes_nothing, 120)
{
	struct rg_gw gw;
	char *demo = cl_demo_text(), *bad, *secret, *p1, *p2, *before, *after;
	char cmd[4096], out[700], line[1024];
	int saw_line = 0;
	FILE *f;
	json_t *r;

	/* Two problems in one file: a bad classification and a bad type. */
	bad = cl_replace(demo, "\"classification\": \"internal\"",
	                 "\"classification\": \"cosmic\"");
	p1 = cl_replace(bad, "\"type\": \"integer\"", "\"type\": \"int\"");
	free(bad);
	bad = p1;
	secret = cl_replace(demo, "\"classification\": \"internal\"",
	                    "\"classification\": \"secret\"");
	p1 = cl_write("bad.json", bad);
	p2 = cl_write("secret.json", secret);
	rg_gw_start(&gw, NULL);
	before = cl_version(&gw, "health");
	snprintf(out, sizeof(out), "%s/out.txt", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl catalogue load %s --url %s "
	         "--key %s/clients/office.key > %s 2>&1", rg_test_build(), p1,
	         gw.url, gw.dir, out);
	CHECK(system(cmd) != 0);
	f = fopen(out, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, ":line ") != NULL &&
		    strstr(line, "unknown classification 'cosmic'") != NULL)
			saw_line |= 1;
		else if (strstr(line, ":line ") != NULL &&
		         strstr(line, "unknown type 'int'") != NULL)
			saw_line |= 2;
	fclose(f);
	CHECKF(saw_line == 3, "problems not listed with lines (%d)", saw_line);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl catalogue check %s > %s 2>&1",
	         rg_test_build(), p2, out);
	CHECK(system(cmd) != 0);
	/* The gateway refuses them itself, whoever sends them. */
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "POST", "/v1/catalogue", NULL, bad,
	                        NULL, &r), 422);
	CHECK_EQ_STR(rg_gw_code(r), "schema_violation");
	CHECKF(strstr(json_string_value(json_object_get(json_object_get(r, "error"),
	       "message")), "line ") != NULL, "no line in the message");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "POST", "/v1/catalogue", NULL,
	                        secret, NULL, &r), 403);
	CHECK_EQ_STR(rg_gw_code(r), "secret_refused");
	json_decref(r);
	/* Only the office's key loads a catalogue. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", "/v1/catalogue", NULL, demo,
	                        NULL, &r), 403);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(r, "error"),
	             "reason")), "role_not_permitted");
	json_decref(r);
	after = cl_version(&gw, "health");
	CHECK_EQ_STR(before, after);
	rg_gw_stop(&gw);
	free(before);
	free(after);
	free(p1);
	free(p2);
	free(bad);
	free(secret);
	free(demo);
}

/* The demo catalogue with one more resource, owned by the trade union. */
static char *
cl_with_new_resource(void)
{
	char *demo = cl_demo_text(), *next;

	next = cl_replace(demo, "  \"resources\": [\n",
	    "  \"resources\": [\n"
	    "    {\n"
	    "      \"id\": \"union-inspection\",\n"
	    "      \"title_zh\": \"工会劳动保护监督检查\",\n"
	    "      \"title_en\": \"Trade-union labour-protection inspection\",\n"
	    "      \"owner\": \"union\",\n"
	    "      \"classification\": \"internal\",\n"
	    "      \"share\": \"unconditional\",\n"
	    "      \"retention_days\": 3650,\n"
	    "      \"fields\": [\n"
	    "        {\"name\": \"employer\", \"type\": \"string\", "
	    "\"required\": true},\n"
	    "        {\"name\": \"inspection_date\", \"type\": \"date\", "
	    "\"required\": true},\n"
	    "        {\"name\": \"finding\", \"type\": \"string\"}\n"
	    "      ],\n"
	    "      \"unconditional_fields\": [\"employer\", \"inspection_date\"]\n"
	    "    },\n");
	free(demo);
	return next;
}

#define UNION_PATH "/v1/resources/union-inspection/records"
#define UNION_RECORD                                                           \
	"{\"employer\": \"丁公司\", \"inspection_date\": \"2026-05-06\","          \
	" \"finding\": \"防护用品不足\"}"

/* Has the keystore a data key for the resource (and which version)? */
static uint32_t
cl_data_key_version(struct rg_gw *gw, const char *resource)
{
	struct rg_keystore *ks = rg_gw_keystore(gw);
	uint32_t v = 0;

	if (rg_keystore_data_key(ks, resource, &v) == NULL)
		v = 0;
	rg_keystore_free(ks);
	return v;
}

SLOW_TEST(catalogue_load_adding_a_resource_gives_it_a_data_key, 120)
{
	struct rg_gw gw;
	char *text = cl_with_new_resource(), path[400];
	json_t *r, *added;

	rg_gw_start(&gw, NULL);
	/* Before the load the resource does not exist. */
	CHECK_EQ_INT(rg_gw_call(&gw, "union", "POST", UNION_PATH, NULL,
	                        UNION_RECORD, NULL, &r), 404);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "POST", "/v1/catalogue", NULL, text,
	                        NULL, &r), 200);
	added = json_object_get(json_object_get(r, "result"), "data_keys_added");
	CHECK_EQ_INT(json_array_size(added), 1);
	CHECK_EQ_STR(json_string_value(json_array_get(added, 0)),
	             "union-inspection");
	json_decref(r);
	/* The owner stores a record at once; another department reads it. */
	CHECK_EQ_INT(rg_gw_call(&gw, "union", "POST", UNION_PATH, NULL,
	                        UNION_RECORD, NULL, &r), 200);
	snprintf(path, sizeof(path), "%s/%s", UNION_PATH, json_string_value(
	         json_object_get(json_array_get(json_object_get(json_object_get(
	         r, "result"), "records"), 0), "id")));
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "union", "GET", path, NULL, NULL, NULL, &r),
	             200);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(
	             json_object_get(r, "result"), "fields"), "finding")),
	             "防护用品不足");
	json_decref(r);
	/* Loading the same file again adds nothing. */
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "POST", "/v1/catalogue", NULL, text,
	                        NULL, &r), 200);
	CHECK(json_object_get(json_object_get(r, "result"),
	                      "data_keys_added") == NULL);
	json_decref(r);
	rg_gw_stop(&gw);
	CHECK_EQ_INT(cl_data_key_version(&gw, "union-inspection"), 1);
	rg_gw_restart(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, "union", "GET", path, NULL, NULL, NULL, &r),
	             200);
	json_decref(r);
	rg_gw_stop(&gw);
	free(text);
}

SLOW_TEST(catalogue_load_killed_before_commit_adds_neither_resource_nor_key, 120)
{
	struct rg_gw gw;
	char *text = cl_with_new_resource(), *raw, err[256];
	struct rg_client_resp resp = {0};
	size_t len;
	json_t *r;

	rg_gw_prepare(&gw, NULL);
	rg_gw_conf_set(&gw, "crash_at", "rotation.keystore_written");
	rg_gw_restart(&gw);
	raw = rg_gw_build(&gw, "office", "POST", "/v1/catalogue", NULL, text, NULL,
	                  &len);
	CHECK(rg_client_send(gw.host, gw.port, raw, len, &resp, err,
	                     sizeof(err)) != 0 || resp.status != 200);
	free(resp.body);
	free(raw);
	(void)rg_gw_wait_exit(&gw, 30000);
	rg_gw_conf_set(&gw, "crash_at", NULL);
	/* The undo journal puts the keystore back at start-up. */
	rg_gw_restart(&gw);
	CHECK_EQ_INT(cl_data_key_version(&gw, "union-inspection"), 0);
	CHECK_EQ_INT(rg_gw_call(&gw, "union", "POST", UNION_PATH, NULL,
	                        UNION_RECORD, NULL, &r), 404);
	json_decref(r);
	/* Asked again, it takes. */
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "POST", "/v1/catalogue", NULL, text,
	                        NULL, &r), 200);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "union", "POST", UNION_PATH, NULL,
	                        UNION_RECORD, NULL, &r), 200);
	json_decref(r);
	rg_gw_stop(&gw);
	free(text);
}
