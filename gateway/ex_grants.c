/*
 * ex_grants.c -- the life of a conditional-share grant over the signed API
 * (DOMAIN.md section 4): request, approve or refuse, countersign, revoke,
 * dispute, read and list. Every step is decided by rg_policy_decide over
 * the grant as stored and the terms signed now; nothing here widens a
 * grant, and no step is taken for anyone but the verified signer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "gateway/exchange_int.h"

#define RG_GRANT_LIST_MAX 1000
/* Grant requests one batch may add on top of the snapshot's count. */
#define RG_GRANT_BATCH_MARGIN 256

/* ---- loading the stored grants into a snapshot ------------------------ */

struct rg_grant_load_ctx {
	rg_policy *pol;
	int failed;
};

static int
rg_grant_load_one(void *ctx, const char *id, const char *doc, size_t len)
{
	struct rg_grant_load_ctx *lc = ctx;
	struct rg_grant g;
	char field[128], err[256];
	json_t *j = json_loadb(doc, len, 0, NULL);
	int rc = j != NULL ? rg_grant_from_json(rg_policy_catalogue(lc->pol), j,
	                                        &g, field, sizeof(field), err,
	                                        sizeof(err)) : -1;

	json_decref(j);
	/* Refused and disputed requests never allowed anything and decide
	 * nothing: they stay in the table and the log, not in the snapshot. */
	if (rc == 0 && (g.state == RG_GRANT_REFUSED ||
	                g.state == RG_GRANT_DISPUTED))
		return 0;
	if (rc != 0 || strcmp(g.id, id) != 0) {
		/* Fail closed: a grant that no longer reads against the
		 * catalogue (a field removed, say) gives nothing. */
		fprintf(stderr, "recgated: grant %.40s ignored: it does not "
		        "match the catalogue\n", id);
		return 0;
	}
	if (rg_policy_add_grant(lc->pol, &g) != 0) {
		lc->failed = 1;
		return 1;
	}
	return 0;
}

int
rg_keeper_load_grants(rg_store *st, rg_policy *pol)
{
	struct rg_grant_load_ctx lc = {pol, 0};

	if (rg_store_grant_each(st, rg_grant_load_one, &lc) != RG_STORE_OK ||
	    lc.failed)
		return -1;
	return 0;
}

/* ---- the pieces every step uses -------------------------------------- */

/* A required non-empty string member of at most RG_GRANT_TEXTLEN - 1
 * bytes; NULL when refused. */
static const char *
rg_ex_grant_text(struct rg_exchange *ex, const json_t *body, const char *name)
{
	const json_t *v = json_object_get(body, name);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= RG_GRANT_TEXTLEN) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, name,
		             "expected a non-empty string (at most 511 bytes)");
		return NULL;
	}
	return json_string_value(v);
}

/*
 * Load the grant named by the path. 0 with *doc (caller json_decref) and
 * g filled; 1 when refused (recorded); -1 on a storage failure.
 */
static int
rg_ex_grant_load(struct rg_exchange *ex, json_t **doc, struct rg_grant *g)
{
	char *text = NULL, field[128], err[256];
	size_t len;
	int rc;

	*doc = NULL;
	snprintf(ex->grant, sizeof(ex->grant), "%s", ex->tgt.record);
	rc = rg_store_grant_get(ex->kp->st, ex->tgt.record, &text, &len);
	if (rc == RG_STORE_NOTFOUND) {
		ex->grant[0] = '\0';
		rg_ex_refuse(ex, "reject", RG_ERR_GRANT_NOT_FOUND, NULL, "id", NULL);
		return 1;
	}
	if (rc != RG_STORE_OK)
		return -1;
	*doc = json_loadb(text, len, 0, NULL);
	free(text);
	if (*doc == NULL)
		return -1;
	if (rg_grant_from_json(rg_policy_catalogue(ex->kp->pol), *doc, g, field,
	                       sizeof(field), err, sizeof(err)) != 0) {
		rg_ex_refuse(ex, "deny", RG_ERR_GRANT_CONFLICT, "grant_state", NULL,
		             "the grant no longer matches the catalogue");
		json_decref(*doc);
		*doc = NULL;
		return 1;
	}
	snprintf(ex->tgt.resource, sizeof(ex->tgt.resource), "%s", g->resource);
	return 0;
}

/*
 * The terms signed now: the stored grant with the fields and window that
 * the body names (an approval or countersignature may narrow them).
 * 0 with p filled, 1 when refused.
 */
static int
rg_ex_grant_terms(struct rg_exchange *ex, const json_t *doc, const json_t *body,
                  struct rg_grant *p)
{
	static const char *const terms[] = {"fields", "not_before", "not_after"};
	json_t *copy = json_deep_copy(doc);
	char field[128], err[256];
	int rc;

	if (copy == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
		json_t *v = json_object_get(body, terms[i]);

		if (v != NULL)
			json_object_set(copy, terms[i], v);
	}
	rc = rg_grant_from_json(rg_policy_catalogue(ex->kp->pol), copy, p, field,
	                        sizeof(field), err, sizeof(err));
	json_decref(copy);
	if (rc != 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, field, err);
		return 1;
	}
	return 0;
}

/* Store doc as the grant's new state; the snapshot is rebuilt once the
 * batch commits. */
static int
rg_ex_grant_save(struct rg_exchange *ex, json_t *doc)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (text == NULL || id == NULL) {
		free(text);
		return -1;
	}
	rc = rg_store_grant_put(ex->kp->st, id, text, strlen(text));
	free(text);
	if (rc != RG_STORE_OK)
		return -1;
	ex->kp->pol_dirty = 1;
	return 0;
}

/* The published view of a grant: the document plus what follows from it
 * now (in force, overdue). New reference or NULL. */
static json_t *
rg_ex_grant_view(const struct rg_exchange *ex, const json_t *doc,
                 const struct rg_grant *g)
{
	json_t *v = json_deep_copy(doc);
	const json_t *due = json_object_get(doc, "reply_due");
	int in_force = g->state == RG_GRANT_ACTIVE &&
	               ex->now_ms >= g->not_before_ms && ex->now_ms < g->not_after_ms;
	int overdue = g->state == RG_GRANT_PENDING && json_is_integer(due) &&
	              ex->now_ms >= json_integer_value(due);

	if (v == NULL || json_object_set_new(v, "in_force", json_boolean(in_force)) ||
	    json_object_set_new(v, "overdue", json_boolean(overdue))) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* Finish an allowed step: save doc and answer with its view. */
static int
rg_ex_grant_done(struct rg_exchange *ex, json_t *doc, const struct rg_grant *g)
{
	json_t *view;

	if (rg_ex_grant_save(ex, doc) != 0)
		return -1;
	view = rg_ex_grant_view(ex, doc, g);
	if (view == NULL)
		return -1;
	ex->result = json_pack("{s:o}", "grant", view);
	if (ex->result == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}

static int
rg_ex_grant_stamp(json_t *doc, const char *step, const char *keyid,
                  int64_t now_ms)
{
	char by[64], at[64];

	snprintf(by, sizeof(by), "%s_by", step);
	snprintf(at, sizeof(at), "%s_at", step);
	return json_object_set_new(doc, by, json_string(keyid)) != 0 ||
	       json_object_set_new(doc, at, json_integer(now_ms)) != 0 ? -1 : 0;
}

/* ---- the steps -------------------------------------------------------- */

int
rg_ex_grant_request(struct rg_exchange *ex)
{
	static const char *const allowed[] = {"resource", "fields", "purpose",
	                                      "scenario", "not_before",
	                                      "not_after", NULL};
	const rg_catalogue *cat = rg_policy_catalogue(ex->kp->pol);
	struct rg_policy_request pr = {.action = RG_ACT_GRANT_REQUEST};
	const rg_resource *res;
	struct rg_decision d;
	struct rg_grant p;
	json_t *body, *doc;
	const char *rid;
	char field[128], err[256], id[33];
	uint8_t raw[16];
	int rc = -1;

	/* The snapshot holds at most RG_POLICY_MAXGRANTS live grants; leave
	 * room for those a batch may still add. */
	if (rg_policy_grant_count(ex->kp->pol) + RG_GRANT_BATCH_MARGIN >=
	    RG_POLICY_MAXGRANTS) {
		rg_ex_refuse(ex, "reject", RG_ERR_UNAVAILABLE, "grant_limit", NULL,
		             "the gateway holds as many grants as it can");
		return 0;
	}
	if ((body = rg_ex_body(ex, 1, allowed)) == NULL)
		return 0;
	rid = json_string_value(json_object_get(body, "resource"));
	if (rid == NULL || (res = rg_catalogue_find(cat, rid)) == NULL) {
		rg_ex_refuse(ex, "reject", RG_ERR_UNKNOWN_RESOURCE, "unknown_resource",
		             "resource", NULL);
		json_decref(body);
		return 0;
	}
	snprintf(ex->tgt.resource, sizeof(ex->tgt.resource), "%s", rid);
	if (rg_ex_grant_text(ex, body, "purpose") == NULL ||
	    rg_ex_grant_text(ex, body, "scenario") == NULL) {
		json_decref(body);
		return 0;
	}
	doc = json_deep_copy(body);
	json_decref(body);
	if (doc == NULL ||
	    json_object_set_new(doc, "consumer", json_string(ex->auth.key.dept)) ||
	    json_object_set_new(doc, "owner", json_string(rg_resource_owner(res))))
		goto out;
	if (rg_grant_from_json(cat, doc, &p, field, sizeof(field), err,
	                       sizeof(err)) != 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, field, err);
		rc = 0;
		goto out;
	}
	snprintf(p.requested_by, sizeof(p.requested_by), "%s", ex->auth.key.keyid);
	pr.proposal = &p;
	if (rg_ex_decide_req(ex, &pr, &d) != 0) {
		rc = 0;
		goto out;
	}
	randombytes_buf(raw, sizeof(raw));
	rg_hex(raw, sizeof(raw), id);
	snprintf(p.id, sizeof(p.id), "%s", id);
	snprintf(ex->grant, sizeof(ex->grant), "%s", id);
	/* The fields as the catalogue orders them, so that two requests that
	 * mean the same read the same. */
	p.countersign = rg_resource_class(res) == RG_CLASS_SENSITIVE;
	p.state = RG_GRANT_PENDING;
	if (json_object_set_new(doc, "id", json_string(id)) ||
	    json_object_set_new(doc, "fields",
	                        rg_grant_fields_json(res, p.raw_mask, p.pseudo_mask)) ||
	    json_object_set_new(doc, "state", json_string("pending")) ||
	    json_object_set_new(doc, "countersign", json_boolean(p.countersign)) ||
	    rg_ex_grant_stamp(doc, "requested", ex->auth.key.keyid, ex->now_ms) ||
	    json_object_set_new(doc, "reply_due", json_integer(rg_grant_reply_due(
	        ex->now_ms, ex->kp->cfg.grant_reply_days))))
		goto out;
	rc = rg_ex_grant_done(ex, doc, &p);
out:
	json_decref(doc);
	return rc;
}

/* Approve or countersign: the owner's (or the office's) signature over
 * terms no wider than those asked for. */
static int
rg_ex_grant_sign(struct rg_exchange *ex, rg_action action)
{
	static const char *const allowed[] = {"fields", "not_before", "not_after",
	                                      NULL};
	struct rg_policy_request pr = {.action = action};
	const rg_resource *res;
	struct rg_decision d;
	struct rg_grant g, p;
	json_t *doc = NULL, *body;
	int rc;

	if ((body = rg_ex_body(ex, 0, allowed)) == NULL)
		return 0;
	rc = rg_ex_grant_load(ex, &doc, &g);
	if (rc == 0)
		rc = rg_ex_grant_terms(ex, doc, body, &p);
	json_decref(body);
	if (rc != 0) {
		json_decref(doc);
		return rc > 0 ? 0 : -1;
	}
	pr.grant = &g;
	pr.proposal = &p;
	if (rg_ex_decide_req(ex, &pr, &d) != 0) {
		json_decref(doc);
		return 0;
	}
	res = rg_catalogue_find(rg_policy_catalogue(ex->kp->pol), g.resource);
	p.state = action == RG_ACT_GRANT_APPROVE && g.countersign
	    ? RG_GRANT_APPROVED : RG_GRANT_ACTIVE;
	rc = -1;
	if (json_object_set_new(doc, "fields", rg_grant_fields_json(res,
	        p.raw_mask, p.pseudo_mask)) == 0 &&
	    json_object_set_new(doc, "not_before", json_integer(p.not_before_ms)) == 0 &&
	    json_object_set_new(doc, "not_after", json_integer(p.not_after_ms)) == 0 &&
	    json_object_set_new(doc, "state",
	        json_string(rg_grant_state_name(p.state))) == 0 &&
	    rg_ex_grant_stamp(doc, action == RG_ACT_GRANT_APPROVE ? "approved"
	                      : "countersigned", ex->auth.key.keyid,
	                      ex->now_ms) == 0)
		rc = rg_ex_grant_done(ex, doc, &p);
	json_decref(doc);
	return rc;
}

int
rg_ex_grant_approve(struct rg_exchange *ex)
{
	return rg_ex_grant_sign(ex, RG_ACT_GRANT_APPROVE);
}

int
rg_ex_grant_countersign(struct rg_exchange *ex)
{
	return rg_ex_grant_sign(ex, RG_ACT_GRANT_COUNTERSIGN);
}

/*
 * Refuse, revoke, dispute: a change of state with a statement. text_name
 * is the body member holding it (required when text_required).
 */
static int
rg_ex_grant_move(struct rg_exchange *ex, rg_action action, const char *step,
                 rg_grant_state to, const char *text_name, int text_required)
{
	const char *allowed[] = {text_name, NULL};
	struct rg_policy_request pr = {.action = action};
	struct rg_decision d;
	struct rg_grant g;
	json_t *doc = NULL, *body;
	const char *text = NULL;
	int rc;

	if ((body = rg_ex_body(ex, text_required, allowed)) == NULL)
		return 0;
	if ((text_required || json_object_get(body, text_name) != NULL) &&
	    (text = rg_ex_grant_text(ex, body, text_name)) == NULL) {
		json_decref(body);
		return 0;
	}
	rc = rg_ex_grant_load(ex, &doc, &g);
	if (rc != 0) {
		json_decref(body);
		return rc > 0 ? 0 : -1;
	}
	pr.grant = &g;
	if (rg_ex_decide_req(ex, &pr, &d) != 0) {
		json_decref(body);
		json_decref(doc);
		return 0;
	}
	g.state = to;
	rc = -1;
	if (json_object_set_new(doc, "state",
	                        json_string(rg_grant_state_name(to))) == 0 &&
	    rg_ex_grant_stamp(doc, step, ex->auth.key.keyid, ex->now_ms) == 0 &&
	    (text == NULL ||
	     json_object_set_new(doc, text_name, json_string(text)) == 0))
		rc = rg_ex_grant_done(ex, doc, &g);
	json_decref(body);
	json_decref(doc);
	return rc;
}

int
rg_ex_grant_refuse(struct rg_exchange *ex)
{
	/* A refusal must give its reasons (DOMAIN.md section 4). */
	return rg_ex_grant_move(ex, RG_ACT_GRANT_REFUSE, "refused",
	                        RG_GRANT_REFUSED, "reasons", 1);
}

int
rg_ex_grant_revoke(struct rg_exchange *ex)
{
	return rg_ex_grant_move(ex, RG_ACT_GRANT_REVOKE, "revoked",
	                        RG_GRANT_REVOKED, "reason", 0);
}

int
rg_ex_grant_dispute(struct rg_exchange *ex)
{
	return rg_ex_grant_move(ex, RG_ACT_GRANT_DISPUTE, "disputed",
	                        RG_GRANT_DISPUTED, "statement", 1);
}

int
rg_ex_grant_suspend(struct rg_exchange *ex)
{
	return rg_ex_grant_move(ex, RG_ACT_GRANT_SUSPEND, "suspended",
	                        RG_GRANT_SUSPENDED, "reason", 0);
}

/* ---- reading and listing ---------------------------------------------- */

/* May this caller see grant g? Its parties, and the office (which
 * coordinates overdue requests and disputes). */
static int
rg_ex_grant_visible(const struct rg_exchange *ex, const struct rg_grant *g)
{
	if (strcmp(ex->auth.key.role, "office") == 0)
		return 1;
	return strcmp(g->consumer, ex->auth.key.dept) == 0 ||
	       strcmp(g->owner, ex->auth.key.dept) == 0;
}

int
rg_ex_grant_read(struct rg_exchange *ex)
{
	struct rg_policy_request pr = {.action = RG_ACT_GRANT_LIST};
	struct rg_decision d;
	struct rg_grant g;
	json_t *doc = NULL, *view;
	int rc;

	if (rg_ex_decide_req(ex, &pr, &d) != 0)
		return 0;
	rc = rg_ex_grant_load(ex, &doc, &g);
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	if (!rg_ex_grant_visible(ex, &g)) {
		json_decref(doc);
		rg_ex_refuse(ex, "deny", RG_ERR_FORBIDDEN, "not_party", NULL, NULL);
		return 0;
	}
	view = rg_ex_grant_view(ex, doc, &g);
	json_decref(doc);
	if (view == NULL || (ex->result = json_pack("{s:o}", "grant", view)) == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}

struct rg_grant_list_ctx {
	struct rg_exchange *ex;
	const char *state;    /* filter: a state name, "overdue", or NULL */
	json_t *list;
	int failed;
	int truncated;        /* RG_GRANT_LIST_MAX reached */
};

static int
rg_ex_grant_list_one(void *ctx, const char *id, const char *text, size_t len)
{
	struct rg_grant_list_ctx *lc = ctx;
	struct rg_grant g;
	char field[128], err[256];
	json_t *doc = json_loadb(text, len, 0, NULL), *view;

	(void)id;
	if (doc == NULL || rg_grant_from_json(rg_policy_catalogue(lc->ex->kp->pol),
	    doc, &g, field, sizeof(field), err, sizeof(err)) != 0 ||
	    !rg_ex_grant_visible(lc->ex, &g)) {
		json_decref(doc);
		return 0;
	}
	view = rg_ex_grant_view(lc->ex, doc, &g);
	json_decref(doc);
	if (view == NULL) {
		lc->failed = 1;
		return 1;
	}
	if (lc->state != NULL &&
	    (strcmp(lc->state, "overdue") == 0
	     ? !json_is_true(json_object_get(view, "overdue"))
	     : strcmp(lc->state, rg_grant_state_name(g.state)) != 0)) {
		json_decref(view);
		return 0;
	}
	if (json_array_size(lc->list) >= RG_GRANT_LIST_MAX) {
		json_decref(view);
		lc->truncated = 1;
		return 1;
	}
	if (json_array_append_new(lc->list, view) != 0) {
		lc->failed = 1;
		return 1;
	}
	return 0;
}

int
rg_ex_grant_list(struct rg_exchange *ex)
{
	struct rg_policy_request pr = {.action = RG_ACT_GRANT_LIST};
	struct rg_grant_list_ctx lc = {ex, NULL, NULL, 0, 0};
	struct rg_decision d;
	const char *q = ex->req->query;
	char state[32];
	rg_grant_state st;

	if (rg_ex_decide_req(ex, &pr, &d) != 0)
		return 0;
	/* Only state=NAME or state=overdue, once. */
	if (q != NULL && *q != '\0') {
		if (strncmp(q, "state=", 6) != 0 || strlen(q + 6) >= sizeof(state) ||
		    strchr(q + 6, '&') != NULL) {
			rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "query",
			             "expected state=NAME or state=overdue");
			return 0;
		}
		snprintf(state, sizeof(state), "%s", q + 6);
		if (strcmp(state, "overdue") != 0 &&
		    rg_grant_state_parse(state, &st) != 0) {
			rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "state",
			             "not a grant state");
			return 0;
		}
		lc.state = state;
	}
	if ((lc.list = json_array()) == NULL)
		return -1;
	if (rg_store_grant_each(ex->kp->st, rg_ex_grant_list_one, &lc) !=
	    RG_STORE_OK || lc.failed) {
		json_decref(lc.list);
		return -1;
	}
	ex->result = json_pack("{s:o, s:b}", "grants", lc.list, "truncated",
	                       lc.truncated);
	if (ex->result == NULL)
		return -1;
	ex->decision = "allow";
	return 0;
}
