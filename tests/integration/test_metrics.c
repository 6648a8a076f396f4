/*
 * test_metrics.c -- GET /metrics on the real daemon, read as a scraper
 * reads it (curl, the raw HTTP answer): the Prometheus text type, every
 * sample under its # TYPE, the counters moving with the exchanges and
 * agreeing with /healthz, the log's sync histogram consistent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/version.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

/* The raw answer to GET url/path (headers and body), by curl; caller
 * frees. */
static char *
mt_get(const struct rg_gw *gw, const char *path)
{
	char cmd[1024], *out = NULL;
	size_t len = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "curl -s -i '%s%s'", gw->url, path);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	for (;;) {
		char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf), p);
		char *grown;

		if (n == 0)
			break;
		grown = realloc(out, len + n + 1);
		CHECK(grown != NULL);
		out = grown;
		memcpy(out + len, buf, n);
		len += n;
		out[len] = '\0';
	}
	CHECK_EQ_INT(pclose(p), 0);
	CHECK(out != NULL);
	return out;
}

/* The value of the sample named exactly name (labels included), or -1. */
static double
mt_value(const char *body, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = body; l != NULL && *l != '\0';
	     l = strchr(l, '\n') != NULL ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, name, n) == 0 && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	return -1;
}

/*
 * Every line is a # HELP or # TYPE line or a sample "name[{labels}] value"
 * whose family has its # TYPE line before it. Returns the samples.
 */
static int
mt_well_formed(const char *body)
{
	char typed[64][96];
	int ntyped = 0, samples = 0;
	const char *l = body;

	while (*l != '\0') {
		const char *e = strchr(l, '\n');
		char line[512], name[96];
		size_t len;
		int known = 0;

		CHECKF(e != NULL, "last line not ended: %s", l);
		len = (size_t)(e - l);
		CHECK(len > 0 && len < sizeof(line));
		memcpy(line, l, len);
		line[len] = '\0';
		l = e + 1;
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char type[32];

			CHECK(ntyped < 64);
			CHECK_EQ_INT(sscanf(line + 7, "%95s %31s", typed[ntyped], type), 2);
			CHECKF(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
			       strcmp(type, "histogram") == 0, "%s", line);
			ntyped++;
			continue;
		}
		CHECKF(line[0] != '#', "%s", line);
		CHECK_EQ_INT(sscanf(line, "%95[a-z_]", name), 1);
		for (int i = 0; i < ntyped; i++) {
			size_t tl = strlen(typed[i]);

			if (strcmp(name, typed[i]) == 0 ||
			    (strncmp(name, typed[i], tl) == 0 &&
			     (strcmp(name + tl, "_bucket") == 0 ||
			      strcmp(name + tl, "_sum") == 0 ||
			      strcmp(name + tl, "_count") == 0)))
				known = 1;
		}
		CHECKF(known, "sample before its # TYPE: %s", line);
		{
			const char *v = strrchr(line, ' ');
			char *end;

			CHECK(v != NULL);
			(void)strtod(v + 1, &end);
			CHECKF(*end == '\0' && end != v + 1, "value: %s", line);
		}
		samples++;
	}
	return samples;
}

TEST(metrics_give_the_keepers_counters_as_prometheus_text)
{
	struct rg_gw gw;
	char *raw, *body, *path;
	double requests, allow, deny, b01, b1, binf, count;
	json_t *r;

	rg_gw_start(&gw, NULL);
	/* One exchange allowed, one denied (a record not the caller's own,
	 * of a conditional resource, without a grant). */
	path = rg_gw_submit(&gw, "health", RG_GW_HAZARD, RG_GW_HAZARD_RECORD);
	CHECK_EQ_INT(rg_gw_call(&gw, "tax", "GET",
	                        "/v1/resources/pneumoconiosis-patients/records/x",
	                        NULL, NULL, NULL, &r), 403);
	json_decref(r);

	raw = mt_get(&gw, "/metrics");
	CHECKF(strncmp(raw, "HTTP/1.1 200", 12) == 0, "%.200s", raw);
	CHECKF(strstr(raw, "\r\nContent-Type: text/plain; version=0.0.4; "
	                   "charset=utf-8\r\n") != NULL, "%.400s", raw);
	body = strstr(raw, "\r\n\r\n");
	CHECK(body != NULL);
	body += 4;
	CHECK(mt_well_formed(body) >= 15);
	CHECK_EQ_INT(mt_value(body, "recgate_build_info{version=\"" RG_VERSION
	                      "\"}"), 1);
	requests = mt_value(body, "recgate_requests_total");
	allow = mt_value(body, "recgate_exchanges_total{decision=\"allow\"}");
	deny = mt_value(body, "recgate_exchanges_total{decision=\"deny\"}");
	CHECK(requests >= 2);
	CHECK(allow >= 1);
	CHECK(deny >= 1);
	/* The same log /healthz reports (unsigned calls enter nothing). */
	CHECK_EQ_INT(mt_value(body, "recgate_audit_entries"),
	             rg_gw_audit_size(&gw));
	CHECK(mt_value(body, "recgate_audit_durable_entries") <=
	      mt_value(body, "recgate_audit_entries"));
	/* The histogram's buckets are cumulative and end at its count. */
	b01 = mt_value(body, "recgate_log_sync_seconds_bucket{le=\"0.01\"}");
	b1 = mt_value(body, "recgate_log_sync_seconds_bucket{le=\"0.1\"}");
	binf = mt_value(body, "recgate_log_sync_seconds_bucket{le=\"+Inf\"}");
	count = mt_value(body, "recgate_log_sync_seconds_count");
	CHECK(b01 >= 0 && b01 <= b1 && b1 <= binf);
	CHECK(binf == count && count >= 1);
	CHECK(mt_value(body, "recgate_log_sync_seconds_sum") > 0);
	CHECK(mt_value(body, "recgate_log_sync_max_seconds") > 0);
	free(raw);

	/* Counters move: one more exchange, the next scrape counts it. */
	free(rg_gw_submit(&gw, "health", RG_GW_HAZARD, RG_GW_HAZARD_RECORD));
	raw = mt_get(&gw, "/metrics");
	body = strstr(raw, "\r\n\r\n") + 4;
	CHECK(mt_value(body, "recgate_requests_total") >= requests + 1);
	CHECK_EQ_INT(mt_value(body, "recgate_exchanges_total{decision=\"allow\"}"),
	             allow + 1);
	free(raw);

	/* Errors stay JSON. */
	raw = mt_get(&gw, "/metrics/x");
	CHECKF(strstr(raw, "\r\nContent-Type: application/json\r\n") != NULL,
	       "%.300s", raw);
	free(raw);
	free(path);
	rg_gw_stop(&gw);
}
