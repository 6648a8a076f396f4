/*
 * exchange.c -- one exchange inside the keeper: route, authenticate,
 * decide, carry out, audit, receipt.
 *
 * Every request that passes authentication, allowed or not, ends in exactly
 * one audit entry appended in the caller's savepoint, and a receipt signed
 * over that entry's exact bytes. The keeper signs nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/entry.h"
#include "crypto/merkle.h"
#include "crypto/seal.h"
#include "gateway/auth.h"
#include "gateway/keeper_int.h"

#define RG_SUBMIT_MAX 1000     /* records in one submission */
#define RG_CHANGES_DEFAULT 100
#define RG_CHANGES_MAX 1000

enum rg_route {
	RG_ROUTE_HEALTHZ,
	RG_ROUTE_KEYS,
	RG_ROUTE_CATALOGUE,
	RG_ROUTE_SUBMIT,
	RG_ROUTE_READ,
	RG_ROUTE_CHANGES
};

struct rg_target {
	enum rg_route route;
	char resource[64];
	char record[64];
};

/* One exchange as it is built up: what the audit entry will say. */
struct rg_exchange {
	rg_keeper *kp;
	const struct rg_request *req;
	struct rg_target tgt;
	struct rg_auth auth;
	int64_t now_ms;
	const char *action;
	const char *decision;  /* "allow", "deny", "reject" */
	const char *reason;
	json_t *records;       /* [{"id","version"}] touched, for the entry */
	json_t *result;        /* on allow */
	rg_err err;            /* on deny/reject */
	char errfield[128];
	char errmsg[320];
};

/* ---- routing ---------------------------------------------------------- */

static int
rg_segment(const char *s, size_t len, char *out, size_t outlen)
{
	if (len == 0 || len >= outlen)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return -1;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* Map method + path to a route; RG_OK, RG_ERR_NOT_FOUND or
 * RG_ERR_METHOD_NOT_ALLOWED. */
static rg_err
rg_route_find(const struct rg_request *req, struct rg_target *t)
{
	const char *p = req->path, *prefix = "/v1/resources/";
	int get = strcmp(req->method, "GET") == 0;
	int post = strcmp(req->method, "POST") == 0;
	const char *slash, *rest;

	memset(t, 0, sizeof(*t));
	if (strcmp(p, "/healthz") == 0) {
		t->route = RG_ROUTE_HEALTHZ;
		return get ? RG_OK : RG_ERR_METHOD_NOT_ALLOWED;
	}
	if (strcmp(p, "/v1/keys") == 0) {
		t->route = RG_ROUTE_KEYS;
		return get ? RG_OK : RG_ERR_METHOD_NOT_ALLOWED;
	}
	if (strcmp(p, "/v1/catalogue") == 0) {
		t->route = RG_ROUTE_CATALOGUE;
		return get ? RG_OK : RG_ERR_METHOD_NOT_ALLOWED;
	}
	if (strncmp(p, prefix, strlen(prefix)) != 0)
		return RG_ERR_NOT_FOUND;
	p += strlen(prefix);
	slash = strchr(p, '/');
	if (slash == NULL ||
	    rg_segment(p, (size_t)(slash - p), t->resource, sizeof(t->resource)))
		return RG_ERR_NOT_FOUND;
	rest = slash + 1;
	if (strcmp(rest, "records") == 0) {
		t->route = RG_ROUTE_SUBMIT;
		return post ? RG_OK : RG_ERR_METHOD_NOT_ALLOWED;
	}
	if (strcmp(rest, "changes") == 0) {
		t->route = RG_ROUTE_CHANGES;
		return get ? RG_OK : RG_ERR_METHOD_NOT_ALLOWED;
	}
	if (strncmp(rest, "records/", 8) == 0) {
		const char *id = rest + 8;
		if (rg_segment(id, strlen(id), t->record, sizeof(t->record)))
			return RG_ERR_NOT_FOUND;
		t->route = RG_ROUTE_READ;
		return get ? RG_OK : RG_ERR_METHOD_NOT_ALLOWED;
	}
	return RG_ERR_NOT_FOUND;
}

/* ---- small helpers ---------------------------------------------------- */

static char *
rg_b64(const uint8_t *bin, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(n);

	if (out != NULL)
		sodium_bin2base64(out, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

static json_t *
rg_json_b64(const uint8_t *bin, size_t len)
{
	char *s = rg_b64(bin, len);
	json_t *j = s != NULL ? json_string(s) : NULL;

	free(s);
	return j;
}

static void
rg_hex(const uint8_t *bin, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, bin, len);
}

/* Serialise v compactly into resp as the whole body. */
static int
rg_respond_json(struct rg_response *resp, int status, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);

	if (text == NULL)
		return -1;
	free(resp->body);
	resp->status = status;
	resp->body = text;
	resp->body_len = strlen(text);
	return 0;
}

static int
rg_is_loopback(const char *peer)
{
	return strncmp(peer, "127.", 4) == 0 || strncmp(peer, "[::1]", 5) == 0 ||
	       strncmp(peer, "::1", 3) == 0;
}

/* ---- requests without a signature -------------------------------------- */

static json_t *
rg_keys_document(rg_keeper *kp)
{
	const char *origin = rg_keystore_origin(kp->ks);
	uint8_t vk[1 + 32];
	char *pub64 = rg_b64(kp->gw_pub, 32), *vk64;
	json_t *doc = NULL;
	char vkey[512];

	vk[0] = 0x01; /* C2SP signed-note: Ed25519 */
	memcpy(vk + 1, kp->gw_pub, 32);
	vk64 = rg_b64(vk, sizeof(vk));
	if (pub64 != NULL && vk64 != NULL) {
		snprintf(vkey, sizeof(vkey), "%s+%s+%s", origin, kp->gw_keyid, vk64);
		doc = json_pack("{s:s, s:[{s:s, s:s, s:s, s:s, s:s}]}",
		                "origin", origin, "keys", "keyid", kp->gw_keyid,
		                "alg", "ed25519", "public_key", pub64, "vkey", vkey,
		                "status", "active");
	}
	free(pub64);
	free(vk64);
	return doc;
}

int
rg_exchange_unsigned(rg_keeper *kp, const struct rg_request *req,
                     struct rg_response *resp)
{
	struct rg_target t;
	rg_err err = rg_route_find(req, &t);
	json_t *doc;

	if (err != RG_OK) {
		rg_response_error(resp, err, NULL, NULL);
		return 1;
	}
	if (t.route == RG_ROUTE_HEALTHZ) {
		if (!rg_is_loopback(req->peer)) {
			rg_response_error(resp, RG_ERR_NOT_FOUND, NULL, NULL);
			return 1;
		}
		doc = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "status", "ok",
		    "audit_size", (json_int_t)kp->audit_size,
		    "requests", (json_int_t)kp->stats.requests,
		    "auth_failures", (json_int_t)kp->stats.auth_failures,
		    "denied", (json_int_t)kp->stats.denied,
		    "batches", (json_int_t)kp->stats.batches,
		    "batch_max", (json_int_t)kp->stats.batch_max);
	} else if (t.route == RG_ROUTE_KEYS) {
		doc = rg_keys_document(kp);
	} else {
		return 0;
	}
	if (doc == NULL || rg_respond_json(resp, 200, doc) != 0)
		rg_response_error(resp, RG_ERR_INTERNAL, NULL, NULL);
	json_decref(doc);
	return 1;
}

/* ---- failed authentication --------------------------------------------- */

/* Log a refused authentication, at most auth_log_per_minute lines a minute.
 * The claimed key id is attacker-chosen: only a safe subset is printed. */
static void
rg_authlog(rg_keeper *kp, const struct rg_request *req, rg_err err,
           const char *claimed)
{
	char safe[65];
	size_t n = 0;
	int64_t now = rg_keeper_now_ms();

	kp->stats.auth_failures++;
	if (now - kp->authlog_window_ms >= 60000) {
		if (kp->authlog_suppressed > 0)
			fprintf(stderr, "recgated: %llu more refused "
			        "authentications not logged\n",
			        (unsigned long long)kp->authlog_suppressed);
		kp->authlog_window_ms = now;
		kp->authlog_count = 0;
		kp->authlog_suppressed = 0;
	}
	if (kp->authlog_count >= kp->cfg.auth_log_per_minute) {
		kp->authlog_suppressed++;
		return;
	}
	kp->authlog_count++;
	for (const char *c = claimed; *c != '\0' && n < sizeof(safe) - 1; c++)
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.')
			safe[n++] = *c;
	safe[n] = '\0';
	fprintf(stderr, "recgated: refused authentication: %s keyid=%s peer=%s\n",
	        rg_err_code(err), n > 0 ? safe : "-", req->peer);
}

/* ---- the actions ------------------------------------------------------- */

static void
rg_ex_refuse(struct rg_exchange *ex, const char *decision, rg_err err,
             const char *reason, const char *field, const char *msg)
{
	ex->decision = decision;
	ex->err = err;
	ex->reason = reason != NULL ? reason : rg_err_code(err);
	snprintf(ex->errfield, sizeof(ex->errfield), "%s", field ? field : "");
	snprintf(ex->errmsg, sizeof(ex->errmsg), "%s",
	         msg ? msg : rg_err_message(err));
}

static int
rg_ex_decide(struct rg_exchange *ex, rg_action action, const char *resource,
             struct rg_decision *d)
{
	struct rg_policy_request pr = {
		.department = ex->auth.key.dept,
		.action = action,
		.resource = resource,
		.purpose = ex->auth.purpose,
		.now_ms = ex->now_ms,
	};

	rg_policy_decide(ex->kp->pol, &pr, d);
	if (d->allow) {
		ex->reason = rg_reason_code(d->reason);
		return 0;
	}
	if (d->reason == RG_REASON_UNKNOWN_RESOURCE)
		rg_ex_refuse(ex, "reject", RG_ERR_UNKNOWN_RESOURCE,
		             rg_reason_code(d->reason), NULL, NULL);
	else if (d->reason == RG_REASON_CLASSIFICATION_REFUSED)
		rg_ex_refuse(ex, "deny", RG_ERR_SECRET_REFUSED,
		             rg_reason_code(d->reason), NULL, NULL);
	else
		rg_ex_refuse(ex, "deny", RG_ERR_FORBIDDEN,
		             rg_reason_code(d->reason), NULL, NULL);
	return -1;
}

static json_t *
rg_field_list(const rg_resource *res, uint64_t mask)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < rg_resource_field_count(res); i++)
		if (mask & ((uint64_t)1 << i))
			json_array_append_new(a, json_string(rg_resource_field_name(res, i)));
	return a;
}

static int
rg_ex_catalogue(struct rg_exchange *ex)
{
	const rg_catalogue *cat = rg_policy_catalogue(ex->kp->pol);
	struct rg_decision d;
	json_t *list;

	ex->action = "catalogue.read";
	if (rg_ex_decide(ex, RG_ACT_CATALOGUE, NULL, &d) != 0)
		return 0;
	list = json_array();
	for (size_t i = 0; list != NULL && i < rg_catalogue_count(cat); i++) {
		const rg_resource *res = rg_catalogue_at(cat, i);
		struct rg_policy_request pr = {ex->auth.key.dept, RG_ACT_READ,
		                               rg_resource_id(res), ex->auth.purpose,
		                               ex->now_ms};
		struct rg_decision rd;
		json_t *fields = json_array(), *item;

		rg_policy_decide(ex->kp->pol, &pr, &rd);
		for (size_t f = 0; fields != NULL && f < rg_resource_field_count(res); f++)
			json_array_append_new(fields, json_pack("{s:s, s:s, s:b, s:b}",
			    "name", rg_resource_field_name(res, f),
			    "type", rg_ftype_name(rg_resource_field_type(res, f)),
			    "required", rg_resource_field_required(res, f),
			    "personal", rg_resource_field_personal(res, f)));
		item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:{s:b, s:s, s:o}}",
		    "id", rg_resource_id(res),
		    "title_zh", rg_resource_title_zh(res),
		    "title_en", rg_resource_title_en(res),
		    "owner", rg_resource_owner(res),
		    "classification", rg_class_name(rg_resource_class(res)),
		    "share", rg_share_name(rg_resource_share(res)),
		    "retention_days", (json_int_t)rg_resource_retention_days(res),
		    "fields", fields,
		    "access", "read", rd.allow, "basis", rg_reason_code(rd.reason),
		    "readable_fields", rg_field_list(res, rd.allow ? rd.field_mask : 0));
		if (item == NULL || json_array_append_new(list, item) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	ex->result = list != NULL ? json_pack("{s:s, s:s, s:o}", "department",
	    ex->auth.key.dept, "policy_version", rg_policy_version(ex->kp->pol),
	    "resources", list) : NULL;
	if (ex->result == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}

static void
rg_random_id(char out[33])
{
	uint8_t raw[16];

	randombytes_buf(raw, sizeof(raw));
	rg_hex(raw, sizeof(raw), out);
}

/* Seal and store one validated record; appends to ex->records. */
static int
rg_ex_store_record(struct rg_exchange *ex, const rg_resource *res,
                   const json_t *rec, json_t *ids)
{
	rg_keeper *kp = ex->kp;
	const char *rid = rg_resource_id(res);
	uint32_t kv;
	const uint8_t *key = rg_keystore_data_key(kp->ks, rid, &kv);
	struct rg_seal_ad ad;
	char id[33], *plain;
	size_t plen;
	uint8_t *sealed;
	int64_t seq;
	int rc;

	if (key == NULL)
		return -1;
	rg_random_id(id);
	plain = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	if (plain == NULL)
		return -1;
	plen = strlen(plain);
	sealed = malloc(plen + RG_SEAL_OVERHEAD);
	ad = (struct rg_seal_ad){rid, id, 1, kv};
	rc = sealed != NULL ? rg_seal(key, &ad, (uint8_t *)plain, plen, sealed) : -1;
	sodium_memzero(plain, plen);
	free(plain);
	if (rc == 0)
		rc = rg_store_record_put(kp->st, rid, id, 1, kv, ex->now_ms, sealed,
		                         plen + RG_SEAL_OVERHEAD, &seq) == RG_STORE_OK
		    ? 0 : -1;
	free(sealed);
	if (rc != 0)
		return -1;
	json_array_append_new(ex->records, json_pack("{s:s, s:i}", "id", id,
	                                             "version", 1));
	json_array_append_new(ids, json_pack("{s:s, s:i, s:I}", "id", id,
	                                     "version", 1, "seq", (json_int_t)seq));
	return 0;
}

static int
rg_ex_submit(struct rg_exchange *ex)
{
	const struct rg_request *req = ex->req;
	const rg_resource *res;
	struct rg_decision d;
	json_error_t jerr;
	json_t *body, *ids;
	size_t n;

	ex->action = "record.submit";
	if (rg_ex_decide(ex, RG_ACT_SUBMIT, ex->tgt.resource, &d) != 0)
		return 0;
	res = rg_catalogue_find(rg_policy_catalogue(ex->kp->pol), ex->tgt.resource);
	body = req->body_len > 0
	    ? json_loadb((const char *)req->body, req->body_len,
	                 JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (body == NULL) {
		char msg[256];
		snprintf(msg, sizeof(msg), "body is not valid JSON: %s",
		         req->body_len > 0 ? jerr.text : "empty body");
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_JSON, NULL, NULL, msg);
		return 0;
	}
	if (json_is_object(body)) {
		json_t *arr = json_array();
		json_array_append(arr, body);
		json_decref(body);
		body = arr;
	}
	n = json_array_size(body);
	if (!json_is_array(body) || n == 0 || n > RG_SUBMIT_MAX) {
		rg_ex_refuse(ex, "reject", RG_ERR_SCHEMA, NULL, NULL,
		             "expected a record object or an array of 1 to 1000 records");
		json_decref(body);
		return 0;
	}
	/* Every record is checked before any is stored: a submission is
	 * taken whole or not at all. */
	for (size_t i = 0; i < n; i++) {
		const json_t *rec = json_array_get(body, i);
		const json_t *mark = json_object_get(rec, "_classification");
		char field[128], why[128], msg[320];

		if (json_is_string(mark) &&
		    strcmp(json_string_value(mark), "secret") == 0) {
			snprintf(msg, sizeof(msg), "record %zu is marked secret", i);
			rg_ex_refuse(ex, "deny", RG_ERR_SECRET_REFUSED,
			             "record_marked_secret", "_classification", msg);
			json_decref(body);
			return 0;
		}
		if (rg_resource_validate(res, rec, field, sizeof(field), why,
		                         sizeof(why)) != 0) {
			snprintf(msg, sizeof(msg), "record %zu: %s%s%s", i,
			         field[0] ? field : "", field[0] ? ": " : "", why);
			rg_ex_refuse(ex, "reject", RG_ERR_SCHEMA, NULL,
			             field[0] ? field : NULL, msg);
			json_decref(body);
			return 0;
		}
	}
	ids = json_array();
	for (size_t i = 0; ids != NULL && i < n; i++)
		if (rg_ex_store_record(ex, res, json_array_get(body, i), ids) != 0) {
			json_decref(ids);
			json_decref(body);
			return -1;
		}
	json_decref(body);
	if (ids == NULL)
		return -1;
	ex->result = json_pack("{s:s, s:o}", "resource", rg_resource_id(res),
	                       "records", ids);
	if (ex->result == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}

/* Open a stored version and keep the fields in mask. NULL on failure. */
static json_t *
rg_ex_open(struct rg_exchange *ex, const rg_resource *res,
           const struct rg_store_record *rec, uint64_t mask)
{
	const char *rid = rg_resource_id(res);
	const uint8_t *key = rg_keystore_data_key_at(ex->kp->ks, rid,
	                                             rec->key_version);
	struct rg_seal_ad ad = {rid, rec->id, rec->version, rec->key_version};
	json_t *all, *shown;
	uint8_t *plain;
	size_t plen;

	if (key == NULL || rec->sealed_len < RG_SEAL_OVERHEAD)
		return NULL;
	plen = rec->sealed_len - RG_SEAL_OVERHEAD;
	plain = malloc(plen + 1);
	if (plain == NULL)
		return NULL;
	if (rg_open(key, &ad, rec->sealed, rec->sealed_len, plain) != 0) {
		free(plain);
		return NULL;
	}
	all = json_loadb((const char *)plain, plen, 0, NULL);
	sodium_memzero(plain, plen);
	free(plain);
	if (all == NULL)
		return NULL;
	shown = rg_resource_filter(res, all, mask);
	json_decref(all);
	return shown;
}

static int
rg_ex_read(struct rg_exchange *ex)
{
	struct rg_store_record rec = {0};
	const rg_resource *res;
	struct rg_decision d;
	json_t *fields;
	int rc;

	ex->action = "record.read";
	if (rg_ex_decide(ex, RG_ACT_READ, ex->tgt.resource, &d) != 0)
		return 0;
	res = rg_catalogue_find(rg_policy_catalogue(ex->kp->pol), ex->tgt.resource);
	rc = rg_store_record_get(ex->kp->st, ex->tgt.resource, ex->tgt.record, &rec);
	if (rc == RG_STORE_NOTFOUND) {
		rg_ex_refuse(ex, "reject", RG_ERR_RECORD_NOT_FOUND, NULL, NULL, NULL);
		return 0;
	}
	if (rc != RG_STORE_OK)
		return -1;
	fields = rg_ex_open(ex, res, &rec, d.field_mask);
	if (fields == NULL) {
		rg_store_record_clear(&rec);
		return -1;
	}
	json_array_append_new(ex->records, json_pack("{s:s, s:I}", "id", rec.id,
	                      "version", (json_int_t)rec.version));
	ex->result = json_pack("{s:s, s:s, s:I, s:I, s:o}", "resource",
	                       ex->tgt.resource, "id", rec.id, "version",
	                       (json_int_t)rec.version, "time",
	                       (json_int_t)rec.time_ms, "fields", fields);
	rg_store_record_clear(&rec);
	if (ex->result == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}

/* Strict query parsing: only after= and limit=, each once, decimal. */
static int
rg_ex_changes_query(const char *q, int64_t *after, int64_t *limit, char *bad,
                    size_t badlen)
{
	int seen_after = 0, seen_limit = 0;

	*after = 0;
	*limit = RG_CHANGES_DEFAULT;
	while (q != NULL && *q != '\0') {
		const char *amp = strchr(q, '&'), *eq;
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		char name[16], val[24], *end;
		long long v;

		eq = memchr(q, '=', len);
		if (eq == NULL || (size_t)(eq - q) >= sizeof(name) ||
		    len - (size_t)(eq - q) - 1 >= sizeof(val)) {
			snprintf(bad, badlen, "query");
			return -1;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - q), q);
		snprintf(val, sizeof(val), "%.*s", (int)(len - (size_t)(eq - q) - 1), eq + 1);
		snprintf(bad, badlen, "%s", name);
		errno = 0;
		v = strtoll(val, &end, 10);
		if (val[0] < '0' || val[0] > '9' || *end != '\0' || errno != 0)
			return -1;
		if (strcmp(name, "after") == 0 && !seen_after++)
			*after = v;
		else if (strcmp(name, "limit") == 0 && !seen_limit++ && v >= 1 &&
		         v <= RG_CHANGES_MAX)
			*limit = v;
		else
			return -1;
		q = amp ? amp + 1 : q + len;
	}
	return 0;
}

struct rg_changes_ctx {
	struct rg_exchange *ex;
	const rg_resource *res;
	uint64_t mask;
	json_t *list;
	int64_t last;
	int failed;
};

static int
rg_ex_change_row(void *ctx, const struct rg_store_record *rec)
{
	struct rg_changes_ctx *cc = ctx;
	json_t *fields = rg_ex_open(cc->ex, cc->res, rec, cc->mask);
	json_t *item;

	if (fields == NULL) {
		cc->failed = 1;
		return 1;
	}
	item = json_pack("{s:I, s:s, s:I, s:I, s:o}", "seq", (json_int_t)rec->seq,
	                 "id", rec->id, "version", (json_int_t)rec->version,
	                 "time", (json_int_t)rec->time_ms, "fields", fields);
	if (item == NULL || json_array_append_new(cc->list, item) != 0 ||
	    json_array_append_new(cc->ex->records, json_pack("{s:s, s:I}", "id",
	        rec->id, "version", (json_int_t)rec->version)) != 0) {
		cc->failed = 1;
		return 1;
	}
	cc->last = rec->seq;
	return 0;
}

static int
rg_ex_changes(struct rg_exchange *ex)
{
	struct rg_changes_ctx cc = {0};
	struct rg_decision d;
	int64_t after, limit;
	char bad[16];

	ex->action = "changes.read";
	if (rg_ex_decide(ex, RG_ACT_CHANGES, ex->tgt.resource, &d) != 0)
		return 0;
	if (rg_ex_changes_query(ex->req->query, &after, &limit, bad,
	                        sizeof(bad)) != 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, bad,
		             "expected after=N and limit=1..1000");
		return 0;
	}
	cc.ex = ex;
	cc.res = rg_catalogue_find(rg_policy_catalogue(ex->kp->pol), ex->tgt.resource);
	cc.mask = d.field_mask;
	cc.list = json_array();
	cc.last = after;
	if (cc.list == NULL ||
	    rg_store_changes(ex->kp->st, ex->tgt.resource, after, (int)limit,
	                     rg_ex_change_row, &cc) != RG_STORE_OK || cc.failed) {
		json_decref(cc.list);
		return -1;
	}
	ex->result = json_pack("{s:s, s:o, s:I}", "resource", ex->tgt.resource,
	                       "changes", cc.list, "next", (json_int_t)cc.last);
	if (ex->result == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}

/* ---- audit entry and receipt ------------------------------------------- */

/* Append the exchange's entry and build the response around its receipt.
 * Returns 0, or -1 when the entry could not be appended (the exchange
 * then fails as a whole). */
static int
rg_ex_finish(struct rg_exchange *ex, struct rg_response *resp)
{
	rg_keeper *kp = ex->kp;
	json_t *entry, *outcome, *receipt = NULL, *body = NULL;
	uint8_t digest[32], leaf[RG_HASHLEN], sig[RG_SIG_LEN];
	char hex[65], *enc = NULL, *outtext;
	size_t enclen;
	int allow = strcmp(ex->decision, "allow") == 0, rc = -1;

	if (allow)
		outcome = json_incref(ex->result);
	else {
		outcome = json_pack("{s:s, s:s, s:s}", "code", rg_err_code(ex->err),
		                    "message", ex->errmsg, "reason", ex->reason);
		if (outcome != NULL && ex->errfield[0] != '\0')
			json_object_set_new(outcome, "field", json_string(ex->errfield));
	}
	if (outcome == NULL)
		return -1;
	/* The response digest covers the outcome as canonically encoded. */
	outtext = json_dumps(outcome, JSON_COMPACT | JSON_SORT_KEYS);
	if (outtext == NULL)
		goto out;
	crypto_hash_sha256(digest, (uint8_t *)outtext, strlen(outtext));
	free(outtext);

	entry = json_object();
	rg_hex(ex->auth.request_digest, 32, hex);
	json_object_set_new(entry, "request", json_string(hex));
	rg_hex(digest, 32, hex);
	json_object_set_new(entry, "response", json_string(hex));
	json_object_set_new(entry, "index", json_integer((json_int_t)kp->audit_size));
	json_object_set_new(entry, "time", json_integer(ex->now_ms));
	json_object_set_new(entry, "department", json_string(ex->auth.key.dept));
	json_object_set_new(entry, "keyid", json_string(ex->auth.key.keyid));
	json_object_set_new(entry, "action", json_string(ex->action));
	json_object_set_new(entry, "decision", json_string(ex->decision));
	json_object_set_new(entry, "reason", json_string(ex->reason));
	json_object_set_new(entry, "policy", json_string(rg_policy_version(kp->pol)));
	if (ex->tgt.resource[0] != '\0')
		json_object_set_new(entry, "resource", json_string(ex->tgt.resource));
	if (ex->auth.purpose != NULL)
		json_object_set_new(entry, "purpose", json_string(ex->auth.purpose));
	if (json_array_size(ex->records) > 0)
		json_object_set(entry, "records", ex->records);
	enc = rg_entry_encode(entry, &enclen);
	json_decref(entry);
	if (enc == NULL)
		goto out;
	rg_merkle_leaf((uint8_t *)enc, enclen, leaf);
	if (rg_store_audit_append(kp->st, kp->audit_size, (uint8_t *)enc, enclen,
	                          leaf) != RG_STORE_OK) {
		fprintf(stderr, "recgated: audit append failed: %s\n",
		        rg_store_errmsg(kp->st));
		goto out;
	}
	if (rg_sig_sign(rg_keystore_signing_key(kp->ks), (uint8_t *)enc, enclen,
	                sig) != 0)
		goto out;
	receipt = json_pack("{s:I, s:o, s:o, s:s, s:o}",
	                    "index", (json_int_t)kp->audit_size,
	                    "entry", rg_json_b64((uint8_t *)enc, enclen),
	                    "leaf_hash", rg_json_b64(leaf, sizeof(leaf)),
	                    "keyid", kp->gw_keyid,
	                    "signature", rg_json_b64(sig, sizeof(sig)));
	if (receipt == NULL)
		goto out;
	body = json_pack(allow ? "{s:O, s:O}" : "{s:O, s:O}",
	                 allow ? "result" : "error", outcome, "receipt", receipt);
	if (body == NULL ||
	    rg_respond_json(resp, allow ? 200 : rg_err_status(ex->err), body) != 0)
		goto out;
	kp->audit_size++;
	if (allow)
		kp->stats.allowed++;
	else
		kp->stats.denied++;
	rc = 0;
out:
	free(enc);
	json_decref(receipt);
	json_decref(body);
	json_decref(outcome);
	return rc;
}

int
rg_exchange_run(rg_keeper *kp, const struct rg_request *req,
                struct rg_response *resp)
{
	struct rg_exchange ex = {0};
	rg_err err;
	int rc;

	ex.kp = kp;
	ex.req = req;
	ex.now_ms = rg_keeper_now_ms();
	if (rg_route_find(req, &ex.tgt) != RG_OK) {
		/* rg_exchange_unsigned() answers these; not reached. */
		rg_response_error(resp, RG_ERR_NOT_FOUND, NULL, NULL);
		return 0;
	}
	err = rg_auth_check(kp->st, req, ex.now_ms, kp->cfg.clock_skew_s, &ex.auth);
	if (err != RG_OK) {
		if (err == RG_ERR_STORAGE || err == RG_ERR_INTERNAL) {
			rg_response_error(resp, err, NULL, NULL);
			return -1;
		}
		rg_authlog(kp, req, err, ex.auth.claimed_keyid);
		rg_response_error(resp, err, NULL, NULL);
		return 0;
	}
	ex.records = json_array();
	if (ex.records == NULL) {
		rg_response_error(resp, RG_ERR_INTERNAL, NULL, NULL);
		return -1;
	}
	switch (ex.tgt.route) {
	case RG_ROUTE_CATALOGUE: rc = rg_ex_catalogue(&ex); break;
	case RG_ROUTE_SUBMIT:    rc = rg_ex_submit(&ex); break;
	case RG_ROUTE_READ:      rc = rg_ex_read(&ex); break;
	case RG_ROUTE_CHANGES:   rc = rg_ex_changes(&ex); break;
	default:                 rc = -1; break;
	}
	if (rc == 0)
		rc = rg_ex_finish(&ex, resp);
	json_decref(ex.records);
	json_decref(ex.result);
	if (rc != 0) {
		rg_response_error(resp, RG_ERR_STORAGE, NULL, NULL);
		return -1;
	}
	return 1;
}
