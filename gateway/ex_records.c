/*
 * ex_records.c -- the records API inside the keeper: the catalogue view,
 * submissions, reads and the change feed. Records are sealed before they
 * reach the store and opened only to be filtered to the caller's fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/pseudo.h"
#include "crypto/seal.h"
#include "gateway/exchange_int.h"
#include "gateway/jbuf.h"
#include "gateway/jcanon.h"
#include "gateway/jparse.h"

#define RG_SUBMIT_MAX 1000     /* records in one submission */
#define RG_CHANGES_DEFAULT 100
#define RG_CHANGES_MAX 1000

static json_t *
rg_field_list(const rg_resource *res, uint64_t mask)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < rg_resource_field_count(res); i++)
		if (mask & ((uint64_t)1 << i))
			json_array_append_new(a, json_string(rg_resource_field_name(res, i)));
	return a;
}

/*
 * The caller's grants on res, as the snapshot holds them, and the purpose
 * a read would be judged under when the catalogue request states none:
 * that of the first grant in force, or NULL.
 */
static json_t *
rg_ex_catalogue_grants(const struct rg_exchange *ex, const rg_resource *res,
                       const char **purpose)
{
	const rg_policy *pol = ex->kp->pol;
	json_t *list = json_array();

	*purpose = NULL;
	for (size_t i = 0; list != NULL && i < rg_policy_grant_count(pol); i++) {
		const struct rg_grant *g = rg_policy_grant_at(pol, i);
		int in_force = g->state == RG_GRANT_ACTIVE &&
		               ex->now_ms >= g->not_before_ms &&
		               ex->now_ms < g->not_after_ms;

		if (strcmp(g->resource, rg_resource_id(res)) != 0 ||
		    strcmp(g->consumer, ex->auth.key.dept) != 0)
			continue;
		if (in_force && *purpose == NULL)
			*purpose = g->purpose;
		if (json_array_append_new(list, json_pack(
		    "{s:s, s:s, s:s, s:o, s:I, s:I, s:b}", "id", g->id,
		    "state", rg_grant_state_name(g->state), "purpose", g->purpose,
		    "fields", rg_grant_fields_json(res, g->raw_mask, g->pseudo_mask),
		    "not_before", (json_int_t)g->not_before_ms,
		    "not_after", (json_int_t)g->not_after_ms,
		    "in_force", in_force)) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	return list;
}

int
rg_ex_catalogue(struct rg_exchange *ex)
{
	const rg_catalogue *cat = rg_policy_catalogue(ex->kp->pol);
	struct rg_decision d;
	json_t *list;

	if (rg_ex_decide(ex, RG_ACT_CATALOGUE, NULL, &d) != 0)
		return 0;
	list = json_array();
	for (size_t i = 0; list != NULL && i < rg_catalogue_count(cat); i++) {
		const rg_resource *res = rg_catalogue_at(cat, i);
		const char *gpurpose;
		json_t *grants = rg_ex_catalogue_grants(ex, res, &gpurpose);
		/* Without a stated purpose, show what a read under the first
		 * grant in force (or with any purpose) would give. */
		struct rg_policy_request pr = {ex->auth.key.dept, RG_ACT_READ,
		                               rg_resource_id(res),
		                               ex->auth.purpose != NULL
		                               ? ex->auth.purpose
		                               : gpurpose != NULL ? gpurpose
		                                                  : "(any purpose)",
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
		item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:{s:b, s:s, s:o, s:o, s:o, s:b, s:o}}",
		    "id", rg_resource_id(res),
		    "title_zh", rg_resource_title_zh(res),
		    "title_en", rg_resource_title_en(res),
		    "owner", rg_resource_owner(res),
		    "classification", rg_class_name(rg_resource_class(res)),
		    "share", rg_share_name(rg_resource_share(res)),
		    "retention_days", (json_int_t)rg_resource_retention_days(res),
		    "fields", fields,
		    "access", "read", rd.allow, "basis", rg_reason_code(rd.reason),
		    "readable_fields", rg_field_list(res, rd.allow ? rd.field_mask : 0),
		    "pseudonym_fields", rg_field_list(res, rd.allow ? rd.pseudo_mask : 0),
		    "grant", rd.allow && rd.grant[0] != '\0' ? json_string(rd.grant)
		                                              : json_null(),
		    "purpose_required", strcmp(rg_resource_owner(res),
		                               ex->auth.key.dept) != 0,
		    "grants", grants);
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

/*
 * A new record's id: 48 bits of the time in ms, big-endian, then 80
 * random bits (the layout of RFC 9562's UUIDv7), in 32 hex digits. Ids
 * made one after another sort together, so the records index takes each
 * new one on its last page instead of on a random one (a page encrypted
 * and written per record, and again at the checkpoint); 80 random bits
 * keep two ids of the same millisecond apart.
 */
static void
rg_record_id(int64_t now_ms, char out[33])
{
	uint8_t raw[16];
	uint64_t t = now_ms > 0 ? (uint64_t)now_ms : 0;

	for (int i = 5; i >= 0; i--) {
		raw[i] = (uint8_t)(t & 0xff);
		t >>= 8;
	}
	randombytes_buf(raw + 6, sizeof(raw) - 6);
	rg_hex(raw, sizeof(raw), out);
}

/* Seal and store one validated record; appends to ex->records. canon is
 * rec's canonical encoding when preverify.c made it already, or NULL. */
static int
rg_ex_store_record(struct rg_exchange *ex, const rg_resource *res,
                   const json_t *rec, const char *canon, struct rg_jbuf *ids)
{
	rg_keeper *kp = ex->kp;
	const char *rid = rg_resource_id(res);
	uint32_t kv;
	const uint8_t *key = rg_keystore_data_key(kp->ks, rid, &kv);
	struct rg_seal_ad ad;
	char id[33], *plain = NULL;
	const char *text = canon;
	size_t plen;
	uint8_t *sealed;
	int64_t seq;
	int rc;

	if (key == NULL)
		return -1;
	rg_record_id(ex->now_ms, id);
	if (text == NULL &&
	    (text = plain = rg_jcanon(rec, NULL)) == NULL)
		return -1;
	plen = strlen(text);
	sealed = malloc(plen + RG_SEAL_OVERHEAD);
	ad = (struct rg_seal_ad){rid, id, 1, kv};
	rc = sealed != NULL
	    ? rg_seal(key, &ad, (const uint8_t *)text, plen, sealed) : -1;
	if (plain != NULL) {
		sodium_memzero(plain, plen);
		free(plain);
	}
	if (rc == 0)
		rc = rg_store_record_put(kp->st, rid, id, 1, kv, ex->now_ms, sealed,
		                         plen + RG_SEAL_OVERHEAD, &seq) == RG_STORE_OK
		    ? 0 : -1;
	free(sealed);
	if (rc != 0)
		return -1;
	if (rg_ex_touched(ex, id, 1) != 0)
		return -1;
	/* {"id":..,"seq":..,"version":1}, keys in order */
	if (ids->len > 0 && ids->p[ids->len - 1] == '}')
		rg_jbuf_lit(ids, ",");
	rg_jbuf_lit(ids, "{\"id\":");
	rg_jbuf_str(ids, id);
	rg_jbuf_lit(ids, ",\"seq\":");
	rg_jbuf_int(ids, seq);
	rg_jbuf_lit(ids, ",\"version\":1}");
	return 0;
}

int
rg_ex_submit(struct rg_exchange *ex)
{
	const struct rg_request *req = ex->req;
	const rg_resource *res;
	struct rg_decision d;
	json_error_t jerr;
	json_t *body;
	struct rg_jbuf ids = {0};
	size_t n;

	if (rg_ex_decide(ex, RG_ACT_SUBMIT, ex->tgt.resource, &d) != 0)
		return 0;
	res = rg_catalogue_find(rg_policy_catalogue(ex->kp->pol), ex->tgt.resource);
	/* Parsed ahead on the helper thread when it could (preverify.c):
	 * the same parse, done off this thread. */
	if (req->pre_body != NULL)
		body = json_incref(req->pre_body);
	else
		body = req->body_len > 0
		    ? rg_jparse(req->body, req->body_len, &jerr) : NULL;
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
	/* {"records":[..],"resource":..}, encoded here, keys in order. */
	rg_jbuf_lit(&ids, "{\"records\":[");
	for (size_t i = 0; i < n; i++)
		if (rg_ex_store_record(ex, res, json_array_get(body, i),
		                       req->pre_body != NULL && i < req->pre_ncanon
		                       ? req->pre_canon[i] : NULL, &ids) != 0) {
			rg_jbuf_clear(&ids);
			json_decref(body);
			return -1;
		}
	json_decref(body);
	rg_jbuf_lit(&ids, "],\"resource\":");
	rg_jbuf_str(&ids, rg_resource_id(res));
	rg_jbuf_lit(&ids, "}");
	ex->result_text = rg_jbuf_take(&ids, &ex->result_len);
	if (ex->result_text == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}

/*
 * Replace each field of d->pseudo_mask present in all by the caller's
 * pseudonym of its value (strings as their UTF-8 bytes, other values as
 * compact JSON). The key is the resource's oldest data key still held
 * (retired or not), so that pseudonyms stay stable across data-key
 * rotations and re-encryption, and change only when that key is destroyed.
 */
static int
rg_ex_pseudonymise(struct rg_exchange *ex, const rg_resource *res,
                   const json_t *all, json_t *shown, uint64_t pseudo)
{
	const char *rid = rg_resource_id(res);
	uint32_t kv;
	const uint8_t *key = rg_keystore_pseudonym_key(ex->kp->ks, rid, &kv);

	if (pseudo == 0)
		return 0;
	if (key == NULL)
		return -1;
	for (size_t i = 0; i < rg_resource_field_count(res); i++) {
		const char *name = rg_resource_field_name(res, i);
		const json_t *v = json_object_get(all, name);
		char psn[RG_PSEUDO_LEN], *text = NULL;
		const char *bytes;
		size_t len;
		int rc;

		if (!(pseudo & ((uint64_t)1 << i)) || v == NULL)
			continue;
		if (json_is_string(v)) {
			bytes = json_string_value(v);
			len = json_string_length(v);
		} else {
			text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			if (text == NULL)
				return -1;
			bytes = text;
			len = strlen(text);
		}
		rc = rg_pseudonym(key, ex->auth.key.dept, rid, (const uint8_t *)bytes,
		                  len, psn);
		free(text);
		if (rc != 0 || json_object_set_new(shown, name, json_string(psn)) != 0)
			return -1;
	}
	return 0;
}

/* Open a stored version and keep what the decision shows: raw fields as
 * they are, pseudonymised fields as pseudonyms. NULL on failure. */
static json_t *
rg_ex_open(struct rg_exchange *ex, const rg_resource *res,
           const struct rg_store_record *rec, const struct rg_decision *d)
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
	shown = rg_resource_filter(res, all, d->field_mask);
	if (shown != NULL &&
	    rg_ex_pseudonymise(ex, res, all, shown, d->pseudo_mask) != 0) {
		json_decref(shown);
		shown = NULL;
	}
	json_decref(all);
	return shown;
}

/* The index of the field named key[0..keylen) in res, or -1. */
static int
rg_ex_field_at(const rg_resource *res, const char *key, size_t keylen)
{
	size_t n = rg_resource_field_count(res);

	for (size_t i = 0; i < n && i < 64; i++) {
		const char *name = rg_resource_field_name(res, i);

		if (strncmp(name, key, keylen) == 0 && name[keylen] == '\0')
			return (int)i;
	}
	return -1;
}

/*
 * rg_ex_open's result, encoded, from the opened record's text: the members
 * the decision shows copied as they are, pseudonymised ones replaced. The
 * text is what rg_ex_store_record sealed, json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS), so what this writes is byte for byte what dumping
 * rg_ex_open's tree the same way would: no tree is built. 0; 1 when the
 * text is not in that form (nothing usable was written); -1 on failure.
 */
static int
rg_ex_fields_raw(struct rg_exchange *ex, const rg_resource *res,
                 const struct rg_decision *d, const uint8_t *pkey,
                 const char *plain, size_t plen, struct rg_jbuf *b)
{
	struct rg_jscan sc;
	struct rg_jmember m;
	int r, n = 0;

	if (rg_jscan_open(&sc, plain, plen) != 0)
		return 1;
	rg_jbuf_lit(b, "{");
	while ((r = rg_jscan_next(&sc, &m)) == 1) {
		int i = rg_ex_field_at(res, m.key, m.keylen);
		uint64_t bit = i >= 0 ? (uint64_t)1 << i : 0;

		/* Shown: raw fields as they are; pseudonymised fields (shown
		 * or not) as the caller's pseudonym, as rg_ex_pseudonymise. */
		if (!((d->field_mask | d->pseudo_mask) & bit))
			continue;
		if (n++ > 0)
			rg_jbuf_lit(b, ",");
		rg_jbuf_lit(b, "\"");
		rg_jbuf_bytes(b, m.key, m.keylen);
		rg_jbuf_lit(b, "\":");
		if (d->pseudo_mask & bit) {
			const char *v = m.val;
			size_t vlen = m.vallen;
			char psn[RG_PSEUDO_LEN];

			/* A string is named by its UTF-8 bytes: unescaped,
			 * which its text is when it has no backslash. */
			if (*v == '"') {
				v++;
				vlen -= 2;
				if (memchr(v, '\\', vlen) != NULL)
					return 1;
			}
			if (pkey == NULL ||
			    rg_pseudonym(pkey, ex->auth.key.dept, rg_resource_id(res),
			                 (const uint8_t *)v, vlen, psn) != 0)
				return -1;
			rg_jbuf_str(b, psn);
		} else {
			rg_jbuf_bytes(b, m.val, m.vallen);
		}
	}
	if (r != 0)
		return 1;
	rg_jbuf_lit(b, "}");
	return 0;
}

/*
 * Append to b the fields of a stored version the decision shows, encoded
 * as json_dumps(rg_ex_open(...), JSON_COMPACT | JSON_SORT_KEYS) would. A
 * record not in the stored form rg_ex_fields_raw reads (none is, unless
 * written otherwise) takes rg_ex_open's road. 0, or -1 on failure.
 */
static int
rg_ex_fields(struct rg_exchange *ex, const rg_resource *res,
             const struct rg_store_record *rec, const struct rg_decision *d,
             struct rg_jbuf *b)
{
	const char *rid = rg_resource_id(res);
	const uint8_t *key = rg_keystore_data_key_at(ex->kp->ks, rid,
	                                             rec->key_version);
	struct rg_seal_ad ad = {rid, rec->id, rec->version, rec->key_version};
	const uint8_t *pkey = NULL;
	uint32_t pkv;
	uint8_t *plain;
	size_t plen, mark = b->len;
	int rc;

	if (key == NULL || rec->sealed_len < RG_SEAL_OVERHEAD)
		return -1;
	if (d->pseudo_mask != 0 &&
	    (pkey = rg_keystore_pseudonym_key(ex->kp->ks, rid, &pkv)) == NULL)
		return -1;
	plen = rec->sealed_len - RG_SEAL_OVERHEAD;
	if ((plain = malloc(plen + 1)) == NULL)
		return -1;
	rc = rg_open(key, &ad, rec->sealed, rec->sealed_len, plain) == 0
	    ? rg_ex_fields_raw(ex, res, d, pkey, (const char *)plain, plen, b)
	    : -1;
	sodium_memzero(plain, plen);
	free(plain);
	if (rc == 1) {
		json_t *fields = rg_ex_open(ex, res, rec, d);
		char *text = fields != NULL
		    ? rg_jcanon(fields, NULL) : NULL;

		json_decref(fields);
		if (text == NULL)
			return -1;
		b->len = mark;
		rg_jbuf_bytes(b, text, strlen(text));
		free(text);
		rc = 0;
	}
	return rc == 0 && !b->failed ? 0 : -1;
}

/*
 * The query of a single read: nothing, or fields=a,b,... naming the fields
 * wanted (all the caller may see when absent). 0, or -1 when refused.
 */
static int
rg_ex_read_fields(struct rg_exchange *ex, const rg_resource *res,
                  const char *q, uint64_t *want)
{
	*want = 0;
	if (q == NULL || *q == '\0')
		return 0;
	if (strncmp(q, "fields=", 7) != 0 || strchr(q, '&') != NULL ||
	    q[7] == '\0') {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "query",
		             "expected fields=NAME[,NAME...]");
		return -1;
	}
	for (const char *p = q + 7; *p != '\0';) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < rg_resource_field_count(res); i++) {
			const char *name = rg_resource_field_name(res, i);

			if (strlen(name) == len && strncmp(name, p, len) == 0)
				break;
		}
		if (i == rg_resource_field_count(res)) {
			rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL,
			             "fields", "not a field of the resource");
			return -1;
		}
		*want |= (uint64_t)1 << i;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int
rg_ex_read(struct rg_exchange *ex)
{
	struct rg_store_record rec = {0};
	struct rg_policy_request pr = {.action = RG_ACT_READ,
	                               .resource = ex->tgt.resource};
	const rg_resource *res;
	struct rg_decision d;
	struct rg_jbuf b = {0};
	int rc;

	res = rg_catalogue_find(rg_policy_catalogue(ex->kp->pol), ex->tgt.resource);
	if (res != NULL &&
	    rg_ex_read_fields(ex, res, ex->req->query, &pr.want_mask) != 0)
		return 0;
	if (rg_ex_decide_req(ex, &pr, &d) != 0)
		return 0;
	rc = rg_store_record_get(ex->kp->st, ex->tgt.resource, ex->tgt.record, &rec);
	if (rc == RG_STORE_NOTFOUND) {
		rg_ex_refuse(ex, "reject", RG_ERR_RECORD_NOT_FOUND, NULL, NULL, NULL);
		return 0;
	}
	if (rc != RG_STORE_OK)
		return -1;
	/* {"fields":..,"id":..,"resource":..,"time":..,"version":..}: the
	 * outcome encoded here, keys in order, as rg_ex_finish would. */
	rg_jbuf_lit(&b, "{\"fields\":");
	if (rg_ex_fields(ex, res, &rec, &d, &b) != 0) {
		rg_jbuf_clear(&b);
		rg_store_record_clear(&rec);
		return -1;
	}
	rg_jbuf_lit(&b, ",\"id\":");
	rg_jbuf_str(&b, rec.id);
	rg_jbuf_lit(&b, ",\"resource\":");
	rg_jbuf_str(&b, ex->tgt.resource);
	rg_jbuf_lit(&b, ",\"time\":");
	rg_jbuf_int(&b, rec.time_ms);
	rg_jbuf_lit(&b, ",\"version\":");
	rg_jbuf_int(&b, rec.version);
	rg_jbuf_lit(&b, "}");
	if (rg_ex_touched(ex, rec.id, (int64_t)rec.version) != 0) {
		rg_store_record_clear(&rec);
		rg_jbuf_clear(&b);
		return -1;
	}
	rg_store_record_clear(&rec);
	ex->result_text = rg_jbuf_take(&b, &ex->result_len);
	if (ex->result_text == NULL)
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
	const struct rg_decision *d;
	struct rg_jbuf out;    /* {"changes":[ITEM,... */
	size_t n;
	int64_t last;
	int failed;
};

static int
rg_ex_change_row(void *ctx, const struct rg_store_record *rec)
{
	struct rg_changes_ctx *cc = ctx;
	struct rg_jbuf *b = &cc->out;

	/* {"fields":..,"id":..,"seq":..,"time":..,"version":..} */
	if (cc->n++ > 0)
		rg_jbuf_lit(b, ",");
	rg_jbuf_lit(b, "{\"fields\":");
	if (rg_ex_fields(cc->ex, cc->res, rec, cc->d, b) != 0) {
		cc->failed = 1;
		return 1;
	}
	rg_jbuf_lit(b, ",\"id\":");
	rg_jbuf_str(b, rec->id);
	rg_jbuf_lit(b, ",\"seq\":");
	rg_jbuf_int(b, rec->seq);
	rg_jbuf_lit(b, ",\"time\":");
	rg_jbuf_int(b, rec->time_ms);
	rg_jbuf_lit(b, ",\"version\":");
	rg_jbuf_int(b, rec->version);
	rg_jbuf_lit(b, "}");
	if (b->failed ||
	    rg_ex_touched(cc->ex, rec->id, (int64_t)rec->version) != 0) {
		cc->failed = 1;
		return 1;
	}
	cc->last = rec->seq;
	return 0;
}

int
rg_ex_changes(struct rg_exchange *ex)
{
	struct rg_changes_ctx cc = {0};
	struct rg_decision d;
	int64_t after, limit;
	char bad[16];

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
	cc.d = &d;
	cc.last = after;
	/* {"changes":[..],"next":..,"resource":..}, encoded here. */
	rg_jbuf_lit(&cc.out, "{\"changes\":[");
	if (rg_store_changes(ex->kp->st, ex->tgt.resource, after, (int)limit,
	                     rg_ex_change_row, &cc) != RG_STORE_OK || cc.failed) {
		rg_jbuf_clear(&cc.out);
		return -1;
	}
	rg_jbuf_lit(&cc.out, "],\"next\":");
	rg_jbuf_int(&cc.out, cc.last);
	rg_jbuf_lit(&cc.out, ",\"resource\":");
	rg_jbuf_str(&cc.out, ex->tgt.resource);
	rg_jbuf_lit(&cc.out, "}");
	ex->result_text = rg_jbuf_take(&cc.out, &ex->result_len);
	if (ex->result_text == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}

