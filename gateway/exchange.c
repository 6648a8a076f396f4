/*
 * exchange.c -- one exchange inside the keeper: route, authenticate,
 * decide, carry out, audit, receipt.
 *
 * Every request that passes authentication, allowed or not, ends in exactly
 * one audit entry appended in the caller's savepoint, and a receipt that
 * proves that entry's exact bytes are in the log: its inclusion proof in a
 * checkpoint signed once for the batch (receipt.c), or, for a signing
 * key's announcement, signatures over the entry by the old key and the new.
 * A refused authentication is entered too, within a rate limit
 * (ex_audit.c), without a receipt. The keeper signs nothing else (but the
 * checkpoints it builds, ex_audit.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/entry.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "gateway/crashpoint.h"
#include "gateway/exchange_int.h"
#include "gateway/jbuf.h"
#include "gateway/jcanon.h"
#include "gateway/jparse.h"

/* ---- routing ---------------------------------------------------------- */

typedef int (*rg_unsigned_handler)(rg_keeper *kp, const struct rg_request *req,
                                   struct rg_response *resp);

static int rg_healthz(rg_keeper *kp, const struct rg_request *req,
                      struct rg_response *resp);
static int rg_keys(rg_keeper *kp, const struct rg_request *req,
                   struct rg_response *resp);

/*
 * The API in one table. A pattern is matched segment by segment; "{rid}"
 * takes a resource id and "{id}" a record or grant id, both of
 * [a-z0-9-]{1,63}. A route has either a signed handler (audited exchange)
 * or an unsigned one.
 */
static const struct rg_route {
	const char *method;
	const char *pattern;
	const char *role;      /* key roles a signed route takes, space-separated */
	const char *action;    /* audit action of a signed route */
	rg_ex_handler handler;
	rg_unsigned_handler open;
} rg_routes[] = {
	{"GET", "/healthz", NULL, NULL, NULL, rg_healthz},
	{"GET", "/metrics", NULL, NULL, NULL, rg_metrics},
	{"GET", "/v1/keys", NULL, NULL, NULL, rg_keys},
	{"GET", "/v1/catalogue", "department", "catalogue.read", rg_ex_catalogue, NULL},
	{"POST", "/v1/resources/{rid}/records", "department", "record.submit",
	 rg_ex_submit, NULL},
	{"GET", "/v1/resources/{rid}/records/{id}", "department", "record.read",
	 rg_ex_read, NULL},
	{"GET", "/v1/resources/{rid}/changes", "department", "changes.read",
	 rg_ex_changes, NULL},
	/* The office replaces the catalogue (ex_catalogue.c). */
	{"POST", "/v1/catalogue", "office", "catalogue.load",
	 rg_ex_catalogue_load, NULL},
	/* Conditional-share grants (ex_grants.c). */
	{"POST", "/v1/grants", "department", "grant.request", rg_ex_grant_request,
	 NULL},
	{"GET", "/v1/grants", "department office", "grant.list", rg_ex_grant_list,
	 NULL},
	{"GET", "/v1/grants/{id}", "department office", "grant.read",
	 rg_ex_grant_read, NULL},
	{"POST", "/v1/grants/{id}/approve", "department", "grant.approve",
	 rg_ex_grant_approve, NULL},
	{"POST", "/v1/grants/{id}/refuse", "department", "grant.refuse",
	 rg_ex_grant_refuse, NULL},
	{"POST", "/v1/grants/{id}/countersign", "office", "grant.countersign",
	 rg_ex_grant_countersign, NULL},
	{"POST", "/v1/grants/{id}/revoke", "department", "grant.revoke",
	 rg_ex_grant_revoke, NULL},
	{"POST", "/v1/grants/{id}/dispute", "department", "grant.dispute",
	 rg_ex_grant_dispute, NULL},
	/* The administrator's one grant step: stop it, never make or widen. */
	{"POST", "/v1/grants/{id}/suspend", "admin", "grant.suspend",
	 rg_ex_grant_suspend, NULL},
	/* Key and department administration (ex_admin.c): every change is
	 * an entry; none touches a grant. */
	{"POST", "/v1/admin/keys", "admin", "admin.key.add", rg_ex_admin_key_add,
	 NULL},
	{"GET", "/v1/admin/departments/{id}/keys", "admin", "admin.key.list",
	 rg_ex_admin_key_list, NULL},
	{"POST", "/v1/admin/keys/{id}/retire", "admin", "admin.key.retire",
	 rg_ex_admin_key_retire, NULL},
	{"POST", "/v1/admin/keys/{id}/revoke", "admin", "admin.key.revoke",
	 rg_ex_admin_key_revoke, NULL},
	{"POST", "/v1/admin/departments/{id}/suspend", "admin",
	 "admin.department.suspend", rg_ex_admin_dept_suspend, NULL},
	{"POST", "/v1/admin/departments/{id}/reactivate", "admin",
	 "admin.department.reactivate", rg_ex_admin_dept_reactivate, NULL},
	{"POST", "/v1/admin/signing-key/rotate", "admin", "admin.signing.rotate",
	 rg_ex_admin_signing_rotate, NULL},
	{"POST", "/v1/admin/kek/rotate", "admin", "admin.kek.rotate",
	 rg_ex_admin_kek_rotate, NULL},
	/* Record data keys and their re-encryption (ex_datakeys.c). */
	{"POST", "/v1/admin/data-keys/rotate", "admin", "admin.datakey.rotate",
	 rg_ex_datakey_rotate, NULL},
	{"GET", "/v1/admin/data-keys/reencrypt", "admin",
	 "admin.datakey.reencrypt", rg_ex_reencrypt_status, NULL},
	{"POST", "/v1/admin/data-keys/{rid}/{id}/retire", "admin",
	 "admin.datakey.retire", rg_ex_datakey_retire, NULL},
	{"POST", "/v1/admin/data-keys/{rid}/{id}/destroy", "admin",
	 "admin.datakey.destroy", rg_ex_datakey_destroy, NULL},
	{"POST", "/v1/admin/kek/{id}/retire", "admin", "admin.kek.retire",
	 rg_ex_kek_retire, NULL},
	{"POST", "/v1/admin/kek/{id}/destroy", "admin", "admin.kek.destroy",
	 rg_ex_kek_destroy, NULL},
	{"POST", "/v1/admin/master-secret", "admin", "admin.master.change",
	 rg_ex_admin_master, NULL},
	/* The database key: a rekey scheduled after commit (ex_dbkey.c,
	 * dbrekey.c), and its state. */
	{"POST", "/v1/admin/db-key/rotate", "admin", "admin.dbkey.rotate",
	 rg_ex_dbkey_rotate, NULL},
	{"GET", "/v1/admin/db-key", "admin", "admin.dbkey.status",
	 rg_ex_dbkey_status, NULL},
	/* The audit trail, for security officers (ex_audit.c). */
	{"GET", "/v1/audit/checkpoint", "officer", "audit.checkpoint",
	 rg_ex_audit_checkpoint, NULL},
	{"GET", "/v1/audit/checkpoints", "officer", "audit.checkpoints",
	 rg_ex_audit_checkpoints, NULL},
	{"GET", "/v1/audit/entries", "officer", "audit.entries",
	 rg_ex_audit_entries, NULL},
	{"GET", "/v1/audit/proof/inclusion", "officer", "audit.proof",
	 rg_ex_audit_inclusion, NULL},
	{"GET", "/v1/audit/proof/consistency", "officer", "audit.proof",
	 rg_ex_audit_consistency, NULL},
};

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

/* Does path match pattern? Fills the path parameters of t. */
static int
rg_route_match(const char *pattern, const char *path, struct rg_target *t)
{
	while (*pattern != '\0' && *path != '\0') {
		if (*pattern == '{') {
			const char *pend = strchr(pattern, '}');
			size_t len = strcspn(path, "/");
			char *out = strncmp(pattern, "{rid}", 5) == 0 ? t->resource
			                                              : t->record;

			if (pend == NULL || rg_segment(path, len, out, sizeof(t->record)))
				return 0;
			pattern = pend + 1;
			path += len;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return *pattern == '\0' && *path == '\0';
}

/* Find the route for req; RG_OK, RG_ERR_NOT_FOUND or
 * RG_ERR_METHOD_NOT_ALLOWED (the path exists with other methods). */
static rg_err
rg_route_find(const struct rg_request *req, struct rg_target *t,
              const struct rg_route **out)
{
	rg_err err = RG_ERR_NOT_FOUND;

	for (size_t i = 0; i < sizeof(rg_routes) / sizeof(rg_routes[0]); i++) {
		memset(t, 0, sizeof(*t));
		if (!rg_route_match(rg_routes[i].pattern, req->path, t))
			continue;
		if (strcmp(rg_routes[i].method, req->method) == 0) {
			*out = &rg_routes[i];
			return RG_OK;
		}
		err = RG_ERR_METHOD_NOT_ALLOWED;
	}
	return err;
}

/* ---- small helpers ---------------------------------------------------- */

/* Is role one of the space-separated roles of a route? */
static int
rg_role_permitted(const char *roles, const char *role)
{
	size_t n = strlen(role);

	while (n > 0 && *roles != '\0') {
		size_t len = strcspn(roles, " ");

		if (len == n && strncmp(roles, role, n) == 0)
			return 1;
		roles += len;
		roles += strspn(roles, " ");
	}
	return 0;
}

char *
rg_b64(const uint8_t *bin, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(n);

	if (out != NULL)
		sodium_bin2base64(out, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

json_t *
rg_json_b64(const uint8_t *bin, size_t len)
{
	char *s = rg_b64(bin, len);
	json_t *j = s != NULL ? json_string(s) : NULL;

	free(s);
	return j;
}

void
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

int
rg_is_loopback(const char *peer)
{
	return strncmp(peer, "127.", 4) == 0 || strncmp(peer, "[::1]", 5) == 0 ||
	       strncmp(peer, "::1", 3) == 0;
}

/* ---- requests without a signature -------------------------------------- */

/* One published signing key. */
static json_t *
rg_keys_entry(const char *origin, const struct rg_keystore_info *in)
{
	static const char *const status[] = {"", "active", "retiring", "retired",
	                                     "destroyed"};
	uint8_t vk[1 + 32];
	char *pub64 = rg_b64(in->pub, 32), *vk64;
	json_t *k = NULL;
	char vkey[512];

	vk[0] = 0x01; /* C2SP signed-note: Ed25519 */
	memcpy(vk + 1, in->pub, 32);
	vk64 = rg_b64(vk, sizeof(vk));
	if (pub64 != NULL && vk64 != NULL) {
		snprintf(vkey, sizeof(vkey), "%s+%s+%s", origin, in->id, vk64);
		k = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "keyid", in->id,
		              "alg", "ed25519", "public_key", pub64, "vkey", vkey,
		              "status", status[in->status], "version",
		              (json_int_t)in->version);
		/* Validity, in Unix seconds: since when it signs, and for a
		 * key rotated out since when it no longer signs receipts. */
		if (k != NULL && in->created != 0)
			json_object_set_new(k, "created",
			                    json_integer((json_int_t)in->created));
		if (k != NULL && in->not_after != 0)
			json_object_set_new(k, "not_after",
			                    json_integer((json_int_t)in->not_after));
	}
	free(pub64);
	free(vk64);
	return k;
}

/*
 * The active signing key first (a client that reads one key reads that
 * one), then the older keys the keystore still holds, so that receipts and
 * checkpoints they signed still verify.
 */
static json_t *
rg_keys_document(rg_keeper *kp)
{
	const char *origin = rg_keystore_origin(kp->ks);
	struct rg_keystore_info in;
	json_t *keys = json_array(), *k;

	if (keys == NULL)
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; rg_keystore_info(kp->ks, i, &in) == 0; i++) {
			if (in.purpose != RG_KEYSTORE_SIGNING ||
			    in.status == RG_KEYSTORE_DESTROYED ||
			    (in.status == RG_KEYSTORE_ACTIVE) != (pass == 0))
				continue;
			if ((k = rg_keys_entry(origin, &in)) == NULL ||
			    json_array_append_new(keys, k) != 0) {
				json_decref(keys);
				return NULL;
			}
		}
	}
	return json_pack("{s:s, s:o}", "origin", origin, "keys", keys);
}

static int
rg_healthz(rg_keeper *kp, const struct rg_request *req, struct rg_response *resp)
{
	json_t *doc;
	int rc;

	if (!rg_is_loopback(req->peer)) {
		rg_response_error(resp, RG_ERR_NOT_FOUND, NULL, NULL);
		return 0;
	}
	doc = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I}",
	    "status", "ok",
	    "audit_size", (json_int_t)kp->audit_size,
	    "requests", (json_int_t)kp->stats.requests,
	    "auth_failures", (json_int_t)kp->stats.auth_failures,
	    "denied", (json_int_t)kp->stats.denied,
	    "batches", (json_int_t)kp->stats.batches,
	    "batch_max", (json_int_t)kp->stats.batch_max,
	    "read_ahead", (json_int_t)kp->stats.read_ahead,
	    "helper_late", (json_int_t)kp->stats.helper_late,
	    "syncs", (json_int_t)kp->stats.syncs,
	    "sync_max_us", (json_int_t)kp->stats.sync_max_us,
	    "syncs_over_10ms", (json_int_t)kp->stats.syncs_over_10ms,
	    "syncs_over_100ms", (json_int_t)kp->stats.syncs_over_100ms);
	rc = doc != NULL ? rg_respond_json(resp, 200, doc) : -1;
	json_decref(doc);
	return rc;
}

static int
rg_keys(rg_keeper *kp, const struct rg_request *req, struct rg_response *resp)
{
	json_t *doc = rg_keys_document(kp);
	int rc;

	(void)req;
	rc = doc != NULL ? rg_respond_json(resp, 200, doc) : -1;
	json_decref(doc);
	return rc;
}

int
rg_exchange_unsigned(rg_keeper *kp, const struct rg_request *req,
                     struct rg_response *resp)
{
	const struct rg_route *route = NULL;
	struct rg_target t;
	rg_err err = rg_route_find(req, &t, &route);

	if (err != RG_OK) {
		rg_response_error(resp, err, NULL, NULL);
		return 1;
	}
	if (route->open == NULL)
		return 0;
	if (route->open(kp, req, resp) != 0)
		rg_response_error(resp, RG_ERR_INTERNAL, NULL, NULL);
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

void
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

int
rg_ex_decide(struct rg_exchange *ex, rg_action action, const char *resource,
             struct rg_decision *d)
{
	struct rg_policy_request pr = {
		.action = action,
		.resource = resource,
	};

	return rg_ex_decide_req(ex, &pr, d);
}

int
rg_ex_decide_req(struct rg_exchange *ex, struct rg_policy_request *pr,
                 struct rg_decision *d)
{
	/* Who asks, when and why come from the verified request only. */
	pr->department = ex->auth.key.dept;
	pr->purpose = ex->auth.purpose;
	pr->now_ms = ex->now_ms;
	pr->keyid = ex->auth.key.keyid;
	pr->role = ex->auth.key.role;
	rg_policy_decide(ex->kp->pol, pr, d);
	if (d->allow) {
		ex->reason = rg_reason_code(d->reason);
		if (d->grant[0] != '\0')
			snprintf(ex->grant, sizeof(ex->grant), "%s", d->grant);
		return 0;
	}
	if (d->reason == RG_REASON_GRANT_STATE)
		rg_ex_refuse(ex, "deny", RG_ERR_GRANT_CONFLICT,
		             rg_reason_code(d->reason), NULL, NULL);
	else if (d->reason == RG_REASON_UNKNOWN_RESOURCE)
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

/* ---- audit entry and receipt ------------------------------------------- */

int
rg_ex_touched(struct rg_exchange *ex, const char *id, int64_t version)
{
	struct rg_jbuf *b = &ex->records;

	if (!rg_jbuf_utf8_ok(id))
		return 0;
	/* {"id":..,"version":..}: the keys in byte order, as
	 * rg_entry_encode writes an object. */
	if (ex->nrecords++ > 0)
		rg_jbuf_lit(b, ",");
	rg_jbuf_lit(b, "{\"id\":");
	rg_jbuf_str(b, id);
	rg_jbuf_lit(b, ",\"version\":");
	rg_jbuf_int(b, version);
	rg_jbuf_lit(b, "}");
	return b->failed ? -1 : 0;
}

/* The records touched as a JSON array (a new reference), or NULL. */
static json_t *
rg_ex_records_tree(const struct rg_exchange *ex)
{
	struct rg_jbuf a = {0};
	json_t *arr;

	rg_jbuf_lit(&a, "[");
	rg_jbuf_bytes(&a, ex->records.p, ex->records.len);
	rg_jbuf_lit(&a, "]");
	arr = a.failed ? NULL : json_loadb(a.p, a.len, 0, NULL);
	rg_jbuf_clear(&a);
	return arr;
}

/* The entry as a tree, for rg_entry_encode: the road every entry took
 * before rg_ex_entry wrote the common ones directly, kept for the rest. */
static char *
rg_ex_entry_tree(struct rg_exchange *ex, const uint8_t digest[32],
                 size_t *enclen)
{
	rg_keeper *kp = ex->kp;
	json_t *entry = json_object();
	char hex[65], *enc;

	if (entry == NULL)
		return NULL;
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
	if (ex->grant[0] != '\0')
		json_object_set_new(entry, "grant", json_string(ex->grant));
	if (ex->nrecords > 0) {
		/* The list as written, read back: the tree road is rare. */
		json_t *recs = rg_ex_records_tree(ex);

		if (recs == NULL ||
		    json_object_set_new(entry, "records", recs) != 0) {
			json_decref(entry);
			return NULL;
		}
	}
	if (ex->admin != NULL)
		json_object_set(entry, "admin", ex->admin);
	enc = rg_entry_encode(entry, enclen);
	json_decref(entry);
	return enc;
}

/* A string member, as the tree road writes it: a string json_string()
 * refuses is left out there (json_object_set_new of NULL fails), so here. */
static void
rg_ex_entry_str(struct rg_jbuf *b, const char *member, const char *v)
{
	if (v == NULL || !rg_jbuf_utf8_ok(v))
		return;
	rg_jbuf_bytes(b, member, strlen(member));
	rg_jbuf_str(b, v);
}

/*
 * The exchange's audit entry, canonically encoded (crypto/entry.h): the
 * bytes rg_ex_entry_tree gives, written in key order without building
 * and sorting a tree. An administrator's change takes the tree road. The
 * records were written canonically as they were touched (rg_ex_touched).
 * malloc'd (caller frees), or NULL.
 */
static char *
rg_ex_entry(struct rg_exchange *ex, const uint8_t digest[32], size_t *enclen)
{
	rg_keeper *kp = ex->kp;
	struct rg_jbuf b = {0};
	char hex[65];

	if (ex->admin != NULL || ex->action == NULL ||
	    !rg_jbuf_utf8_ok(ex->action) || ex->records.failed)
		return rg_ex_entry_tree(ex, digest, enclen);
	/* Keys in byte order: action decision department grant index keyid
	 * policy purpose reason records request resource response time. */
	rg_jbuf_lit(&b, "{");
	rg_ex_entry_str(&b, "\"action\":", ex->action);
	rg_ex_entry_str(&b, ",\"decision\":", ex->decision);
	rg_ex_entry_str(&b, ",\"department\":", ex->auth.key.dept);
	if (ex->grant[0] != '\0')
		rg_ex_entry_str(&b, ",\"grant\":", ex->grant);
	rg_jbuf_lit(&b, ",\"index\":");
	rg_jbuf_int(&b, (int64_t)kp->audit_size);
	rg_ex_entry_str(&b, ",\"keyid\":", ex->auth.key.keyid);
	rg_ex_entry_str(&b, ",\"policy\":", rg_policy_version(kp->pol));
	rg_ex_entry_str(&b, ",\"purpose\":", ex->auth.purpose);
	rg_ex_entry_str(&b, ",\"reason\":", ex->reason);
	if (ex->nrecords > 0) {
		rg_jbuf_lit(&b, ",\"records\":[");
		rg_jbuf_bytes(&b, ex->records.p, ex->records.len);
		rg_jbuf_lit(&b, "]");
	}
	rg_hex(ex->auth.request_digest, 32, hex);
	rg_ex_entry_str(&b, ",\"request\":", hex);
	if (ex->tgt.resource[0] != '\0')
		rg_ex_entry_str(&b, ",\"resource\":", ex->tgt.resource);
	rg_hex(digest, 32, hex);
	rg_ex_entry_str(&b, ",\"response\":", hex);
	rg_jbuf_lit(&b, ",\"time\":");
	rg_jbuf_int(&b, ex->now_ms);
	rg_jbuf_lit(&b, "}");
	return rg_jbuf_take(&b, enclen);
}

/* Append the exchange's entry and build the response around its receipt.
 * Returns 0, or -1 when the entry could not be appended (the exchange
 * then fails as a whole). */
static int
rg_ex_finish(struct rg_exchange *ex, struct rg_response *resp)
{
	rg_keeper *kp = ex->kp;
	json_t *outcome, *receipt = NULL;
	uint8_t digest[32], leaf[RG_HASHLEN], sig[RG_SIG_LEN];
	static const char rg_receipt_key[] = ",\"receipt\":";
	char *enc = NULL, *outtext, *rtext = NULL, *text;
	const char *head;
	size_t enclen, outlen, rlen, tlen, hlen;
	int allow = strcmp(ex->decision, "allow") == 0, rc = -1, later = 0;

	if (allow && ex->result_text != NULL) {
		/* Encoded by the handler already, in the same canonical form. */
		outcome = NULL;
		outtext = ex->result_text;
		outlen = ex->result_len;
		ex->result_text = NULL;
		goto encoded;
	}
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
	/* The response digest covers the outcome as canonically encoded; the
	 * body carries these same bytes, so the outcome is encoded once. */
	outtext = rg_jcanon(outcome, NULL);
	if (outtext == NULL)
		goto out;
	outlen = strlen(outtext);
encoded:
	rg_sha256(digest, outtext, outlen);

	enc = rg_ex_entry(ex, digest, &enclen);
	if (enc == NULL)
		goto out;
	rg_merkle_leaf((uint8_t *)enc, enclen, leaf);
	if (rg_store_audit_append(kp->st, kp->audit_size, (uint8_t *)enc, enclen,
	                          leaf) != RG_STORE_OK) {
		fprintf(stderr, "recgated: audit append failed: %s\n",
		        rg_store_errmsg(kp->st));
		goto out;
	}
	/* The receipt is completed once the batch is committed (receipt.h):
	 * the reply ends, for now, inside it. A signing key's announcement
	 * is signed here, by the old key and the new (its receipt must not
	 * wait for a checkpoint the new key will sign). */
	later = ex->cosign == NULL;
	if (later) {
		/* As json_dumps(JSON_COMPACT) writes the members in this
		 * order, without building the object. */
		struct rg_jbuf rb = {0};

		rg_jbuf_lit(&rb, "{\"index\":");
		rg_jbuf_int(&rb, (int64_t)kp->audit_size);
		rg_jbuf_lit(&rb, ",\"entry\":");
		rg_jbuf_b64(&rb, (uint8_t *)enc, enclen);
		rg_jbuf_lit(&rb, ",\"leaf_hash\":");
		rg_jbuf_b64(&rb, leaf, sizeof(leaf));
		rg_jbuf_lit(&rb, ",\"keyid\":");
		rg_jbuf_str(&rb, kp->gw_keyid);
		if ((rtext = rg_jbuf_take(&rb, &rlen)) == NULL)
			goto out;
	} else {
		if (rg_sig_sign(rg_keystore_signing_key(kp->ks), (uint8_t *)enc,
		                enclen, sig) != 0)
			goto out;
		receipt = json_pack("{s:I, s:o, s:o, s:s, s:o}",
		                    "index", (json_int_t)kp->audit_size,
		                    "entry", rg_json_b64((uint8_t *)enc, enclen),
		                    "leaf_hash", rg_json_b64(leaf, sizeof(leaf)),
		                    "keyid", kp->gw_keyid,
		                    "signature", rg_json_b64(sig, sizeof(sig)));
		if (receipt == NULL ||
		    rg_admin_cosign_receipt(ex, receipt, (uint8_t *)enc,
		                            enclen) != 0)
			goto out;
		if ((rtext = json_dumps(receipt, JSON_COMPACT)) == NULL)
			goto out;
		rlen = strlen(rtext);
	}
	/* {"result"|"error":OUTCOME,"receipt":RECEIPT}, the last two braces
	 * left to receipt.c when the receipt is completed later. */
	head = allow ? "{\"result\":" : "{\"error\":";
	hlen = strlen(head);
	tlen = hlen + outlen + sizeof(rg_receipt_key) - 1 + rlen + !later;
	if ((text = malloc(tlen + 1)) == NULL)
		goto out;
	memcpy(text, head, hlen);
	memcpy(text + hlen, outtext, outlen);
	memcpy(text + hlen + outlen, rg_receipt_key, sizeof(rg_receipt_key) - 1);
	memcpy(text + hlen + outlen + sizeof(rg_receipt_key) - 1, rtext, rlen);
	if (!later)
		text[tlen - 1] = '}';
	text[tlen] = '\0';
	free(resp->body);
	resp->status = allow ? 200 : rg_err_status(ex->err);
	resp->body = text;
	resp->body_len = tlen;
	if (later)
		kp->later = (struct rg_receipt_later){1, kp->audit_size};
	kp->audit_size++;
	if (allow)
		kp->stats.allowed++;
	else
		kp->stats.denied++;
	rc = 0;
out:
	free(enc);
	free(outtext);
	free(rtext);
	json_decref(receipt);
	json_decref(outcome);
	return rc;
}

int
rg_exchange_light(const struct rg_request *req)
{
	const struct rg_route *route = NULL;
	struct rg_target t;

	if (rg_route_find(req, &t, &route) != RG_OK || route->handler == NULL)
		return 0;
	/* Each checks everything before its first write, and writes only
	 * its records (submit) and its audit entry, last. */
	return route->handler == rg_ex_submit || route->handler == rg_ex_read ||
	       route->handler == rg_ex_changes ||
	       route->handler == rg_ex_catalogue;
}

int
rg_exchange_run(rg_keeper *kp, const struct rg_request *req,
                struct rg_response *resp)
{
	const struct rg_route *route = NULL;
	struct rg_exchange ex = {0};
	rg_err err;
	int rc;

	ex.kp = kp;
	ex.req = req;
	ex.now_ms = rg_keeper_now_ms();
	if (rg_route_find(req, &ex.tgt, &route) != RG_OK || route->handler == NULL) {
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
		/* Entered in the log too (rate-limited): the reply then waits
		 * for the commit like any other. */
		rc = rg_audit_auth_refused(kp, req, err, ex.auth.claimed_keyid,
		                           ex.now_ms);
		if (rc < 0)
			rg_response_error(resp, RG_ERR_STORAGE, NULL, NULL);
		return rc;
	}
	ex.action = route->action;
	/* A key acts only in its role: a department key cannot read the
	 * audit trail, an officer's key cannot exchange records. */
	if (!rg_role_permitted(route->role, ex.auth.key.role)) {
		rg_ex_refuse(&ex, "deny", RG_ERR_FORBIDDEN, "role_not_permitted",
		             NULL, NULL);
		rc = 0;
	} else {
		rc = route->handler(&ex);
	}
	if (rc == 0)
		rc = rg_ex_finish(&ex, resp);
	if (rc == 0)
		rg_crashpoint_exchange(route->action);
	rg_jbuf_clear(&ex.records);
	json_decref(ex.result);
	free(ex.result_text);
	json_decref(ex.admin);
	if (rc != 0) {
		if (ex.rotated) /* its entry is undone: so is the rotation */
			rg_admin_rotation_end(kp, 0);
		rg_response_error(resp, RG_ERR_STORAGE, NULL, NULL);
		return -1;
	}
	return 1;
}

/*
 * The body as a JSON object whose members are all in allowed. An empty
 * body is {} unless required. NULL when refused (recorded in ex).
 */
json_t *
rg_ex_body(struct rg_exchange *ex, int required, const char *const *allowed)
{
	const struct rg_request *req = ex->req;
	json_error_t jerr;
	const char *name;
	json_t *body, *v;

	if (req->body_len == 0 && !required)
		return json_object();
	body = req->body_len > 0
	    ? rg_jparse(req->body, req->body_len, &jerr) : NULL;
	if (!json_is_object(body)) {
		char msg[256];

		snprintf(msg, sizeof(msg), "expected a JSON object%s%s",
		         body == NULL && req->body_len > 0 ? ": " : "",
		         body == NULL && req->body_len > 0 ? jerr.text : "");
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_JSON, NULL, NULL, msg);
		json_decref(body);
		return NULL;
	}
	json_object_foreach(body, name, v) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], name) == 0)
				break;
		if (allowed[i] == NULL) {
			char field[128];

			snprintf(field, sizeof(field), "%s", name);
			rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, field,
			             "unknown member");
			json_decref(body);
			return NULL;
		}
	}
	return body;
}
