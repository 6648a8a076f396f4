/*
 * demo_grants.c -- the demo's conditional-share grants (DESIGN.md section
 * 10), each requested, approved and, for sensitive resources,
 * countersigned by the office through the keeper's own entry point with
 * requests signed by the departments' client keys: the very path an
 * exchange over HTTP takes, audit entries and receipts included. It
 * creates nothing the API could not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "crypto/httpsig.h"
#include "gateway/client.h"
#include "gateway/config.h"
#include "gateway/demo.h"
#include "gateway/keeper.h"
#include "policy/catalogue.h"

/*
 * Who may read what, from DESIGN.md section 10. Fields are "name" (raw) or
 * "~name" (a per-consumer pseudonym): civil affairs, for one, links
 * patients by a pseudonym of the identity-card number, never the number.
 * NULL fields = every field of the resource, raw.
 */
struct rg_demo_grant {
	const char *resource;
	const char *owner;
	const char *consumer;
	const char *purpose;
	const char *scenario;
	const char *fields;
};

static const struct rg_demo_grant rg_demo_grants_table[] = {
	{"occ-disease-diagnosis", "health", "hrss", "工伤认定 work-injury determination",
	 "职业病工伤认定审核", NULL},
	{"occ-disease-diagnosis", "health", "civil", "生活救助 living assistance",
	 "尘肺病等职业病患者基本生活救助审核",
	 "patient_name ~id_number disease_category"},
	{"occ-disease-diagnosis", "health", "medsec", "医疗保障 medical benefits",
	 "职业病患者医疗保障待遇核定", "patient_name id_number disease_code"},
	{"occ-disease-diagnosis", "health", "union", "监督 oversight",
	 "工会劳动保护监督（不含个人身份信息）", "employer disease_code"},
	{"occ-health-exam", "health", "hrss", "工伤认定 work-injury determination",
	 "职业健康检查结果用于工伤认定", NULL},
	{"occ-health-exam", "health", "union", "监督 oversight",
	 "用人单位职业健康检查情况监督（汇总）",
	 "employer employer_credit_code exam_type hazard_factors exam_date "
	 "exam_conclusion"},
	{"pneumoconiosis-patients", "health", "civil", "生活救助 living assistance",
	 "尘肺病患者生活救助",
	 "patient_name ~id_number residence_address pneumoconiosis_type stage "
	 "employer_exists injury_insured survival_status"},
	{"pneumoconiosis-patients", "health", "medsec", "医疗保障 medical benefits",
	 "尘肺病患者医疗救助",
	 "patient_name id_number pneumoconiosis_type stage injury_insured "
	 "survival_status"},
	{"pneumoconiosis-patients", "health", "hrss",
	 "工伤认定 work-injury determination", "尘肺病患者工伤保险待遇", NULL},
	{"injury-insurance-enrollment", "hrss", "health", "职业病防治 prevention",
	 "工伤保险参保情况监测", NULL},
	{"injury-insurance-enrollment", "hrss", "tax", "费款征收 fee collection",
	 "工伤保险费征收核对", "employer employer_credit_code insured_count"},
	{"injury-determination", "hrss", "health", "职业病防治 prevention",
	 "职业病工伤认定结果统计", NULL},
	{"injury-determination", "hrss", "civil", "生活救助 living assistance",
	 "工伤职工生活救助衔接",
	 "worker_name ~id_number occupational_disease determination_conclusion "
	 "disability_grade"},
	{"injury-determination", "hrss", "union", "监督 oversight",
	 "工伤认定情况监督",
	 "employer injury_type occupational_disease determination_conclusion "
	 "determination_date"},
	{"injury-insurance-fee", "tax", "hrss", "工伤保险 injury insurance",
	 "工伤保险费征收情况核对", NULL},
	{"living-assistance", "civil", "health", "职业病防治 prevention",
	 "职业病患者救助情况跟踪",
	 "recipient_name id_number assistance_type monthly_amount start_date "
	 "end_date disease_category assistance_status"},
	{"medical-benefit", "medsec", "health", "职业病防治 prevention",
	 "职业病患者医疗保障情况跟踪", NULL},
	{"radiation-workplace", "ecology", "health", "职业病防治 prevention",
	 "放射工作场所职业病危害监管", NULL},
};

struct rg_demo_answer {
	int status;
	json_t *body;
};

struct rg_demo_ctx {
	const char *dir;
	uv_loop_t loop;
	rg_keeper *kp;
	int64_t now_ms;
	char *err;
	size_t errlen;
};

static void
rg_demo_answer_cb(void *ctx, const struct rg_response *resp)
{
	struct rg_demo_answer *a = ctx;

	a->status = resp->status;
	a->body = json_loadb(resp->body, resp->body_len, 0, NULL);
}

struct rg_demo_msg {
	const char *digest;
};

static const char *
rg_demo_header(void *ctx, const char *lname)
{
	struct rg_demo_msg *m = ctx;

	return strcmp(lname, "content-digest") == 0 ? m->digest : NULL;
}

/* POST body to path as the holder of DIR/clients/<who>.key, through the
 * keeper; returns the "result" member (caller json_decref) or NULL. */
static json_t *
rg_demo_post(struct rg_demo_ctx *dc, const char *who, const char *path,
             const char *body)
{
	static const char *const comps[] = {"@method", "@path", "@query",
	                                    "content-digest"};
	struct rg_client_key key = {0};
	struct rg_demo_msg m = {NULL};
	struct rg_httpsig_msg msg = {"POST", path, NULL, "demo", rg_demo_header, &m};
	struct rg_demo_answer a = {0, NULL};
	struct rg_request req = {0};
	struct rg_header hdrs[4];
	char keyfile[4096], nonce[33], *sig_input = NULL, *sig = NULL;
	uint8_t raw[16];
	json_t *result = NULL;

	snprintf(keyfile, sizeof(keyfile), "%s/clients/%s.key", dc->dir, who);
	if (rg_client_key_load(keyfile, &key, dc->err, dc->errlen) != 0)
		return NULL;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
	m.digest = rg_content_digest((const uint8_t *)body, strlen(body));
	if (m.digest == NULL ||
	    rg_httpsig_sign(key.key, key.keyid, &msg, comps, 4,
	                    (int64_t)time(NULL), 0, nonce, &sig_input, &sig)
	    != RG_HTTPSIG_OK) {
		snprintf(dc->err, dc->errlen, "cannot sign a demo request");
		goto out;
	}
	snprintf(req.method, sizeof(req.method), "POST");
	req.path = req.target = (char *)path;
	hdrs[0] = (struct rg_header){"host", "demo"};
	hdrs[1] = (struct rg_header){"content-digest", (char *)m.digest};
	hdrs[2] = (struct rg_header){"signature-input", sig_input};
	hdrs[3] = (struct rg_header){"signature", sig};
	req.headers = hdrs;
	req.nheaders = 4;
	req.body = (uint8_t *)body;
	req.body_len = strlen(body);
	req.received_ms = dc->now_ms;
	snprintf(req.peer, sizeof(req.peer), "127.0.0.1:0");
	rg_keeper_handle(dc->kp, &req, rg_demo_answer_cb, &a);
	/* The reply is released once the batch commits (check phase). */
	while (a.status == 0)
		if (uv_run(&dc->loop, UV_RUN_NOWAIT) == 0 && a.status == 0)
			break;
	if (a.status != 200) {
		const char *reason = json_string_value(json_object_get(
		    json_object_get(a.body, "error"), "reason"));

		snprintf(dc->err, dc->errlen, "demo grant step %s by %s: status "
		         "%d (%s)", path, who, a.status, reason ? reason : "-");
		goto out;
	}
	result = json_incref(json_object_get(a.body, "result"));
out:
	json_decref(a.body);
	free((char *)m.digest);
	free(sig_input);
	free(sig);
	rg_client_key_clear(&key);
	return result;
}

/* The request body of grant g. NULL on allocation failure. */
static char *
rg_demo_request_body(const struct rg_demo_grant *g, const rg_catalogue *cat,
                     int64_t now_ms)
{
	const rg_resource *res = rg_catalogue_find(cat, g->resource);
	json_t *fields = json_object(), *doc;
	char *text = NULL;

	if (res == NULL || fields == NULL) {
		json_decref(fields);
		return NULL;
	}
	if (g->fields == NULL) {
		for (size_t i = 0; i < rg_resource_field_count(res); i++)
			json_object_set_new(fields, rg_resource_field_name(res, i),
			                    json_string("raw"));
	} else {
		const char *p = g->fields;

		while (*p != '\0') {
			size_t len = strcspn(p, " ");
			int pseudo = *p == '~';
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)(len - (size_t)pseudo),
			         p + pseudo);
			json_object_set_new(fields, name,
			                    json_string(pseudo ? "pseudonym" : "raw"));
			p += len;
			p += strspn(p, " ");
		}
	}
	/* A year from now: the window of the demo's standing agreements. */
	doc = json_pack("{s:s, s:o, s:s, s:s, s:I, s:I}", "resource", g->resource,
	                "fields", fields, "purpose", g->purpose, "scenario",
	                g->scenario, "not_before", (json_int_t)(now_ms - 60000),
	                "not_after", (json_int_t)(now_ms + 365LL * 86400000));
	if (doc != NULL)
		text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

static int
rg_demo_one_grant(struct rg_demo_ctx *dc, const struct rg_demo_grant *g,
                  const rg_catalogue *cat)
{
	char *body = rg_demo_request_body(g, cat, dc->now_ms), path[256], id[64];
	json_t *r = NULL;
	const char *gid, *state;
	int rc = -1;

	if (body == NULL) {
		snprintf(dc->err, dc->errlen, "demo grant on %s: bad table entry",
		         g->resource);
		return -1;
	}
	r = rg_demo_post(dc, g->consumer, "/v1/grants", body);
	free(body);
	gid = json_string_value(json_object_get(json_object_get(r, "grant"), "id"));
	if (gid == NULL)
		goto out;
	snprintf(id, sizeof(id), "%s", gid);
	snprintf(path, sizeof(path), "/v1/grants/%s/approve", id);
	json_decref(r);
	r = rg_demo_post(dc, g->owner, path, "{}");
	state = json_string_value(json_object_get(json_object_get(r, "grant"),
	                                          "state"));
	if (state == NULL)
		goto out;
	if (strcmp(state, "approved") == 0) {
		snprintf(path, sizeof(path), "/v1/grants/%s/countersign", id);
		json_decref(r);
		r = rg_demo_post(dc, "office", path, "{}");
		state = json_string_value(json_object_get(json_object_get(r,
		                                          "grant"), "state"));
	}
	if (state == NULL || strcmp(state, "active") != 0) {
		if (state != NULL)
			snprintf(dc->err, dc->errlen, "demo grant on %s for %s "
			         "ended %s", g->resource, g->consumer, state);
		goto out;
	}
	rc = 0;
out:
	json_decref(r);
	return rc;
}

int
rg_demo_grants(const char *dir, size_t *count, char *err, size_t errlen)
{
	struct rg_demo_ctx dc = {dir, {0}, NULL, 0, err, errlen};
	struct rg_config cfg;
	rg_catalogue *cat;
	const char *text;
	char path[4096], cerr[2048];
	size_t len, n = 0;
	int rc = -1;

	text = rg_demo_catalogue(&len);
	cat = rg_catalogue_parse(text, len, cerr, sizeof(cerr));
	if (cat == NULL) {
		snprintf(err, errlen, "embedded catalogue: %s", cerr);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/recgate.conf", dir);
	rg_config_defaults(&cfg);
	if (rg_config_load(path, &cfg, err, errlen) != 0 ||
	    uv_loop_init(&dc.loop) != 0) {
		rg_catalogue_free(cat);
		return -1;
	}
	dc.now_ms = (int64_t)time(NULL) * 1000;
	dc.kp = rg_keeper_open(&cfg, &dc.loop, err, errlen);
	if (dc.kp != NULL) {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < sizeof(rg_demo_grants_table) /
		     sizeof(rg_demo_grants_table[0]); i++)
			if ((rc = rg_demo_one_grant(&dc, &rg_demo_grants_table[i],
			                            cat)) == 0)
				n++;
		rg_keeper_close(dc.kp);
	}
	uv_run(&dc.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&dc.loop) != 0 && rc == 0) {
		snprintf(err, errlen, "event loop did not close");
		rc = -1;
	}
	rg_catalogue_free(cat);
	if (count != NULL)
		*count = n;
	return rc;
}
