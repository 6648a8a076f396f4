/*
 * policy.c -- the one place where access is decided, over an immutable
 * snapshot whose version is the SHA-256 of its canonical form. It denies
 * whatever no rule below allows, and it never changes a sealed snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "policy/policy.h"

/* The joint meeting has 16 members; room for growth, but bounded. */
#define RG_POLICY_MAXDEPTS 256

struct rg_policy_dept {
	char id[32];
	int active;
};

struct rg_policy {
	rg_catalogue *cat;
	struct rg_policy_dept *depts; /* sorted by id once sealed */
	size_t ndepts;
	struct rg_grant *grants;      /* sorted by id once sealed */
	size_t ngrants;
	int sealed;
	char version[crypto_hash_sha256_BYTES * 2 + 1];
};

static const char *const rg_policy_reasons[RG_REASON__COUNT] = {
	[RG_REASON_OK_OWNER] = "ok_owner",
	[RG_REASON_OK_UNCONDITIONAL] = "ok_unconditional",
	[RG_REASON_OK_MEMBER] = "ok_member",
	[RG_REASON_UNKNOWN_DEPARTMENT] = "unknown_department",
	[RG_REASON_DEPARTMENT_SUSPENDED] = "department_suspended",
	[RG_REASON_UNKNOWN_RESOURCE] = "unknown_resource",
	[RG_REASON_NOT_OWNER] = "not_owner",
	[RG_REASON_CLASSIFICATION_REFUSED] = "classification_refused",
	[RG_REASON_SHARE_NONE] = "share_none",
	[RG_REASON_NO_GRANT] = "no_grant",
	[RG_REASON_OK_GRANT] = "ok_grant",
	[RG_REASON_OK_PARTY] = "ok_party",
	[RG_REASON_OK_ADMIN] = "ok_admin",
	[RG_REASON_PURPOSE_MISSING] = "purpose_missing",
	[RG_REASON_PURPOSE_MISMATCH] = "purpose_mismatch",
	[RG_REASON_GRANT_PENDING] = "grant_pending",
	[RG_REASON_GRANT_NOT_STARTED] = "grant_not_started",
	[RG_REASON_GRANT_EXPIRED] = "grant_expired",
	[RG_REASON_GRANT_SUSPENDED] = "grant_suspended",
	[RG_REASON_GRANT_REVOKED] = "grant_revoked",
	[RG_REASON_FIELD_NOT_GRANTED] = "field_not_granted",
	[RG_REASON_SEPARATION_OF_DUTIES] = "separation_of_duties",
	[RG_REASON_GRANT_WIDENING] = "grant_widening",
	[RG_REASON_GRANT_STATE] = "grant_state",
	[RG_REASON_NOT_PARTY] = "not_party",
	[RG_REASON_GRANT_NOT_NEEDED] = "grant_not_needed",
	[RG_REASON_NOT_OFFICE] = "not_office",
	[RG_REASON_COUNTERSIGN_NOT_NEEDED] = "countersign_not_needed",
	[RG_REASON_OK_OFFICE] = "ok_office",
};

const char *
rg_reason_code(rg_reason r)
{
	if ((size_t)r < RG_REASON__COUNT && rg_policy_reasons[r] != NULL)
		return rg_policy_reasons[r];
	return "unknown";
}

rg_policy *
rg_policy_new(rg_catalogue *cat)
{
	rg_policy *pol;

	if (cat == NULL)
		return NULL;
	if ((pol = calloc(1, sizeof(*pol))) == NULL) {
		rg_catalogue_free(cat);
		return NULL;
	}
	pol->cat = cat;
	return pol;
}

void
rg_policy_free(rg_policy *pol)
{
	if (pol == NULL)
		return;
	rg_catalogue_free(pol->cat);
	free(pol->depts);
	free(pol->grants);
	free(pol);
}

int
rg_policy_add_department(rg_policy *pol, const char *id, int active)
{
	struct rg_policy_dept *d;

	if (pol == NULL || pol->sealed || id == NULL ||
	    !rg_department_id_valid(id) ||
	    pol->ndepts == RG_POLICY_MAXDEPTS)
		return -1;
	for (size_t i = 0; i < pol->ndepts; i++)
		if (strcmp(pol->depts[i].id, id) == 0)
			return -1;
	d = reallocarray(pol->depts, pol->ndepts + 1, sizeof(*pol->depts));
	if (d == NULL)
		return -1;
	pol->depts = d;
	d = &pol->depts[pol->ndepts++];
	memset(d, 0, sizeof(*d));
	memcpy(d->id, id, strlen(id) + 1);
	d->active = active ? 1 : 0;
	return 0;
}

int
rg_policy_add_grant(rg_policy *pol, const struct rg_grant *g)
{
	struct rg_grant *n;

	if (pol == NULL || pol->sealed || g == NULL ||
	    pol->ngrants == RG_POLICY_MAXGRANTS ||
	    rg_catalogue_find(pol->cat, g->resource) == NULL ||
	    (g->raw_mask & g->pseudo_mask) != 0)
		return -1;
	n = reallocarray(pol->grants, pol->ngrants + 1, sizeof(*pol->grants));
	if (n == NULL)
		return -1;
	pol->grants = n;
	pol->grants[pol->ngrants++] = *g;
	return 0;
}

size_t
rg_policy_grant_count(const rg_policy *pol)
{
	return pol->ngrants;
}

const struct rg_grant *
rg_policy_grant_at(const rg_policy *pol, size_t i)
{
	return pol->sealed && i < pol->ngrants ? &pol->grants[i] : NULL;
}

static int
rg_policy_cmp_grant(const void *a, const void *b)
{
	const struct rg_grant *ga = a, *gb = b;

	return strcmp(ga->id, gb->id);
}

static int
rg_policy_cmp_dept(const void *a, const void *b)
{
	const struct rg_policy_dept *da = a, *db = b;

	return strcmp(da->id, db->id);
}

/*
 * The canonical form hashed into the version:
 *   {"catalogue":<rg_catalogue_to_json>,"departments":[["civil","active"],
 *    ["hrss","suspended"],...]}
 * compact, keys sorted, departments sorted by id, UTF-8 as is; when
 * there are grants, "grants":[[id,resource,consumer,state,raw_mask,
 * pseudo_mask,purpose,not_before,not_after,countersign,requested_by,
 * approved_by,countersigned_by],...] sorted by id. Anything
 * that changes a decision must appear here, so that the version in an
 * audit entry names exactly the rules that were applied.
 */
int
rg_policy_seal(rg_policy *pol)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	json_t *root = NULL, *depts = NULL;
	char *text = NULL;
	int rc = -1;

	if (pol == NULL || pol->sealed)
		return -1;
	if (sodium_init() < 0)
		return -1;
	if (pol->ndepts > 0)
		qsort(pol->depts, pol->ndepts, sizeof(*pol->depts),
		      rg_policy_cmp_dept);
	if ((depts = json_array()) == NULL)
		goto out;
	for (size_t i = 0; i < pol->ndepts; i++) {
		if (json_array_append_new(depts, json_pack("[s,s]",
		    pol->depts[i].id,
		    pol->depts[i].active ? "active" : "suspended")) != 0)
			goto out;
	}
	root = json_pack("{s:o, s:O}", "catalogue",
	                 rg_catalogue_to_json(pol->cat), "departments", depts);
	if (root == NULL)
		goto out;
	if (pol->ngrants > 0) {
		json_t *grants = json_array();

		qsort(pol->grants, pol->ngrants, sizeof(*pol->grants),
		      rg_policy_cmp_grant);
		if (json_object_set_new(root, "grants", grants) != 0)
			goto out;
		for (size_t i = 0; i < pol->ngrants; i++) {
			const struct rg_grant *g = &pol->grants[i];

			if (json_array_append_new(grants, json_pack(
			    "[s,s,s,s,I,I,s,I,I,b,s,s,s]", g->id, g->resource,
			    g->consumer, rg_grant_state_name(g->state),
			    (json_int_t)g->raw_mask, (json_int_t)g->pseudo_mask,
			    g->purpose, (json_int_t)g->not_before_ms,
			    (json_int_t)g->not_after_ms, g->countersign,
			    g->requested_by, g->approved_by,
			    g->countersigned_by)) != 0)
				goto out;
		}
	}
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		goto out;
	if (crypto_hash_sha256(digest, (const unsigned char *)text,
	                       strlen(text)) != 0)
		goto out;
	sodium_bin2hex(pol->version, sizeof(pol->version), digest,
	               sizeof(digest));
	pol->sealed = 1;
	rc = 0;
out:
	free(text);
	json_decref(root);
	json_decref(depts);
	return rc;
}

const char *
rg_policy_version(const rg_policy *pol)
{
	return pol->sealed ? pol->version : "";
}

const rg_catalogue *
rg_policy_catalogue(const rg_policy *pol)
{
	return pol->cat;
}

int
rg_policy_department(const rg_policy *pol, const char *id)
{
	struct rg_policy_dept key, *d;

	if (id == NULL || !pol->sealed || strlen(id) >= sizeof(key.id))
		return -1;
	memset(&key, 0, sizeof(key));
	memcpy(key.id, id, strlen(id) + 1);
	d = bsearch(&key, pol->depts, pol->ndepts, sizeof(*pol->depts),
	            rg_policy_cmp_dept);
	if (d == NULL)
		return -1;
	return d->active;
}

static void
rg_policy_set(struct rg_decision *out, int allow, rg_reason reason,
              uint64_t mask)
{
	out->allow = allow;
	out->reason = reason;
	out->field_mask = allow ? mask : 0;
	out->pseudo_mask = 0;
	out->grant[0] = '\0';
}

/* How close a grant came to allowing a read: the denial names the
 * closest one, so that a consumer learns what to fix. */
static int
rg_policy_rank(rg_reason r)
{
	switch (r) {
	case RG_REASON_PURPOSE_MISMATCH: return 6;
	case RG_REASON_GRANT_EXPIRED: return 5;
	case RG_REASON_GRANT_NOT_STARTED: return 4;
	case RG_REASON_GRANT_PENDING: return 3;
	case RG_REASON_GRANT_SUSPENDED: return 2;
	case RG_REASON_GRANT_REVOKED: return 1;
	default: return 0;
	}
}

/*
 * A conditional read by a consumer: the union of the live grants for this
 * consumer, resource and purpose. A field granted raw by one grant and as a
 * pseudonym by another is shown raw: both were approved.
 */
static void
rg_policy_grant_read(const rg_policy *pol, const struct rg_policy_request *req,
                     struct rg_decision *out)
{
	uint64_t raw = 0, pseudo = 0;
	const char *first = NULL;
	rg_reason best = RG_REASON_NO_GRANT;

	for (size_t i = 0; i < pol->ngrants; i++) {
		const struct rg_grant *g = &pol->grants[i];
		rg_reason r;

		if (strcmp(g->resource, req->resource) != 0 ||
		    strcmp(g->consumer, req->department) != 0)
			continue;
		switch (g->state) {
		case RG_GRANT_ACTIVE:
			if (req->now_ms < g->not_before_ms)
				r = RG_REASON_GRANT_NOT_STARTED;
			else if (req->now_ms >= g->not_after_ms)
				r = RG_REASON_GRANT_EXPIRED;
			else if (strcmp(g->purpose, req->purpose) != 0)
				r = RG_REASON_PURPOSE_MISMATCH;
			else
				r = RG_REASON_OK_GRANT;
			break;
		case RG_GRANT_PENDING:
		case RG_GRANT_APPROVED:
			r = RG_REASON_GRANT_PENDING;
			break;
		case RG_GRANT_SUSPENDED:
			r = RG_REASON_GRANT_SUSPENDED;
			break;
		case RG_GRANT_REVOKED:
			r = RG_REASON_GRANT_REVOKED;
			break;
		default:
			r = RG_REASON_NO_GRANT;
			break;
		}
		if (r == RG_REASON_OK_GRANT) {
			raw |= g->raw_mask;
			pseudo |= g->pseudo_mask;
			if (first == NULL)
				first = g->id; /* grants are sorted by id */
		} else if (rg_policy_rank(r) > rg_policy_rank(best)) {
			best = r;
		}
	}
	if (first == NULL) {
		rg_policy_set(out, 0, best, 0);
		return;
	}
	pseudo &= ~raw;
	if (req->want_mask != 0) {
		if ((req->want_mask & ~(raw | pseudo)) != 0) {
			rg_policy_set(out, 0, RG_REASON_FIELD_NOT_GRANTED, 0);
			return;
		}
		raw &= req->want_mask;
		pseudo &= req->want_mask;
	}
	rg_policy_set(out, 1, RG_REASON_OK_GRANT, raw);
	out->pseudo_mask = pseudo;
	snprintf(out->grant, sizeof(out->grant), "%s", first);
}

/* An allowed read of mask, narrowed to what was asked for. */
static void
rg_policy_read_mask(const struct rg_policy_request *req,
                    struct rg_decision *out, rg_reason reason, uint64_t mask)
{
	if (req->want_mask != 0 && (req->want_mask & ~mask) != 0) {
		rg_policy_set(out, 0, RG_REASON_FIELD_NOT_GRANTED, 0);
		return;
	}
	rg_policy_set(out, 1, reason,
	              req->want_mask != 0 ? mask & req->want_mask : mask);
}

static int
rg_policy_is_grant_step(rg_action a)
{
	return a >= RG_ACT_GRANT_REQUEST && a <= RG_ACT_GRANT_SUSPEND;
}

static int
rg_policy_same(const char *a, const char *b)
{
	return a != NULL && b != NULL && a[0] != '\0' && strcmp(a, b) == 0;
}

/*
 * The steps of a grant's life (DOMAIN.md section 4). Separation of duties
 * comes before every other check on a party: the consumer never approves
 * its own request and no key signs two steps of one grant.
 */
static void
rg_policy_grant_step(const rg_policy *pol, const struct rg_policy_request *req,
                     const rg_resource *res, struct rg_decision *out)
{
	const struct rg_grant *g = req->grant, *p = req->proposal;
	const char *dept = req->department;

	switch (req->action) {
	case RG_ACT_GRANT_REQUEST:
		if (strcmp(rg_resource_owner(res), dept) == 0 ||
		    strcmp(rg_resource_owner(res), "*") == 0 ||
		    rg_resource_share(res) == RG_SHARE_UNCONDITIONAL)
			rg_policy_set(out, 0, RG_REASON_GRANT_NOT_NEEDED, 0);
		else if (rg_resource_share(res) == RG_SHARE_NONE)
			rg_policy_set(out, 0, RG_REASON_SHARE_NONE, 0);
		else if (strcmp(p->consumer, dept) != 0)
			rg_policy_set(out, 0, RG_REASON_NOT_PARTY, 0);
		else if (rg_policy_department(pol, rg_resource_owner(res)) != 1)
			rg_policy_set(out, 0, RG_REASON_DEPARTMENT_SUSPENDED, 0);
		else
			rg_policy_set(out, 1, RG_REASON_OK_PARTY, 0);
		return;
	case RG_ACT_GRANT_APPROVE:
	case RG_ACT_GRANT_REFUSE:
		if (strcmp(g->consumer, dept) == 0 ||
		    rg_policy_same(g->requested_by, req->keyid))
			rg_policy_set(out, 0, RG_REASON_SEPARATION_OF_DUTIES, 0);
		else if (strcmp(g->owner, dept) != 0)
			rg_policy_set(out, 0, RG_REASON_NOT_PARTY, 0);
		else if (g->state != RG_GRANT_PENDING)
			rg_policy_set(out, 0, RG_REASON_GRANT_STATE, 0);
		else if (p != NULL && !rg_grant_within(g, p))
			rg_policy_set(out, 0, RG_REASON_GRANT_WIDENING, 0);
		else
			rg_policy_set(out, 1, RG_REASON_OK_PARTY, 0);
		return;
	case RG_ACT_GRANT_COUNTERSIGN:
		if (req->role == NULL || strcmp(req->role, "office") != 0)
			rg_policy_set(out, 0, RG_REASON_NOT_OFFICE, 0);
		else if (rg_policy_same(g->requested_by, req->keyid) ||
		         rg_policy_same(g->approved_by, req->keyid))
			rg_policy_set(out, 0, RG_REASON_SEPARATION_OF_DUTIES, 0);
		else if (!g->countersign)
			rg_policy_set(out, 0, RG_REASON_COUNTERSIGN_NOT_NEEDED, 0);
		else if (g->state != RG_GRANT_APPROVED)
			rg_policy_set(out, 0, RG_REASON_GRANT_STATE, 0);
		else if (p != NULL && !rg_grant_within(g, p))
			rg_policy_set(out, 0, RG_REASON_GRANT_WIDENING, 0);
		else
			rg_policy_set(out, 1, RG_REASON_OK_PARTY, 0);
		return;
	case RG_ACT_GRANT_REVOKE:
		if (strcmp(g->owner, dept) != 0 && strcmp(g->consumer, dept) != 0)
			rg_policy_set(out, 0, RG_REASON_NOT_PARTY, 0);
		else if (g->state != RG_GRANT_PENDING &&
		         g->state != RG_GRANT_APPROVED &&
		         g->state != RG_GRANT_ACTIVE &&
		         g->state != RG_GRANT_SUSPENDED)
			rg_policy_set(out, 0, RG_REASON_GRANT_STATE, 0);
		else
			rg_policy_set(out, 1, RG_REASON_OK_PARTY, 0);
		return;
	case RG_ACT_GRANT_DISPUTE:
		if (strcmp(g->consumer, dept) != 0)
			rg_policy_set(out, 0, RG_REASON_NOT_PARTY, 0);
		else if (g->state != RG_GRANT_REFUSED)
			rg_policy_set(out, 0, RG_REASON_GRANT_STATE, 0);
		else
			rg_policy_set(out, 1, RG_REASON_OK_PARTY, 0);
		return;
	default:
		rg_policy_set(out, 0, RG_REASON_NO_GRANT, 0);
		return;
	}
}

/*
 * The rules, in the order they are tried. Each refusal comes before any
 * rule that could allow, so that a later rule can never undo it.
 */
void
rg_policy_decide(const rg_policy *pol, const struct rg_policy_request *req,
                 struct rg_decision *out)
{
	const rg_resource *res;
	const char *owner, *rid;
	int status;

	if (pol == NULL || req == NULL || out == NULL || !pol->sealed) {
		/* A decision over a snapshot still being built is a bug. */
		fprintf(stderr, "rg_policy_decide: called without a sealed "
		        "policy\n");
		abort();
	}
	rg_policy_set(out, 0, RG_REASON_NO_GRANT, 0);

	if (rg_policy_is_grant_step(req->action)) {
		const struct rg_grant *g = req->action == RG_ACT_GRANT_REQUEST
		    ? req->proposal : req->grant;

		if (g == NULL) /* a step without its grant: nothing to allow */
			return;
		if (req->action == RG_ACT_GRANT_SUSPEND) {
			/* The administrator is no member: it may stop a grant,
			 * which narrows access, and do nothing else. */
			if (req->role == NULL || strcmp(req->role, "admin") != 0)
				rg_policy_set(out, 0, RG_REASON_NOT_PARTY, 0);
			else if (g->state != RG_GRANT_PENDING &&
			         g->state != RG_GRANT_APPROVED &&
			         g->state != RG_GRANT_ACTIVE)
				rg_policy_set(out, 0, RG_REASON_GRANT_STATE, 0);
			else
				rg_policy_set(out, 1, RG_REASON_OK_ADMIN, 0);
			return;
		}
		rid = g->resource;
	} else {
		rid = req->resource;
	}

	status = rg_policy_department(pol, req->department);
	if (status < 0) {
		rg_policy_set(out, 0, RG_REASON_UNKNOWN_DEPARTMENT, 0);
		return;
	}
	if (status == 0) {
		rg_policy_set(out, 0, RG_REASON_DEPARTMENT_SUSPENDED, 0);
		return;
	}
	if (req->action == RG_ACT_CATALOGUE || req->action == RG_ACT_GRANT_LIST) {
		rg_policy_set(out, 1, RG_REASON_OK_MEMBER, 0);
		return;
	}
	/* The catalogue is the joint meeting's, kept by its office. */
	if (req->action == RG_ACT_CATALOGUE_LOAD) {
		if (req->role != NULL && strcmp(req->role, "office") == 0)
			rg_policy_set(out, 1, RG_REASON_OK_OFFICE, 0);
		else
			rg_policy_set(out, 0, RG_REASON_NOT_OFFICE, 0);
		return;
	}
	res = rg_catalogue_find(pol->cat, rid);
	if (res == NULL) {
		rg_policy_set(out, 0, RG_REASON_UNKNOWN_RESOURCE, 0);
		return;
	}
	/* Classified matters are never handled here, whoever asks. */
	if (rg_resource_class(res) == RG_CLASS_SECRET) {
		rg_policy_set(out, 0, RG_REASON_CLASSIFICATION_REFUSED, 0);
		return;
	}
	if (rg_policy_is_grant_step(req->action)) {
		rg_policy_grant_step(pol, req, res, out);
		return;
	}
	owner = rg_resource_owner(res);
	switch (req->action) {
	case RG_ACT_SUBMIT:
		/* '*': every member submits its own bulletins. */
		if (strcmp(owner, req->department) == 0 ||
		    strcmp(owner, "*") == 0)
			rg_policy_set(out, 1, RG_REASON_OK_OWNER,
			              rg_resource_all_fields(res));
		else
			rg_policy_set(out, 0, RG_REASON_NOT_OWNER, 0);
		return;
	case RG_ACT_READ:
	case RG_ACT_CHANGES:
		if (strcmp(owner, req->department) == 0) {
			rg_policy_read_mask(req, out, RG_REASON_OK_OWNER,
			                    rg_resource_all_fields(res));
			return;
		}
		if (rg_resource_share(res) == RG_SHARE_NONE &&
		    strcmp(owner, "*") != 0) {
			rg_policy_set(out, 0, RG_REASON_SHARE_NONE, 0);
			return;
		}
		/* Every read of another department's data states why. */
		if (req->purpose == NULL || req->purpose[0] == '\0') {
			rg_policy_set(out, 0, RG_REASON_PURPOSE_MISSING, 0);
			return;
		}
		/*
		 * The catalogue only accepts owner '*' with share
		 * unconditional; this keeps the rule explicit here too.
		 */
		if (strcmp(owner, "*") == 0 ||
		    rg_resource_share(res) == RG_SHARE_UNCONDITIONAL) {
			rg_policy_read_mask(req, out, RG_REASON_OK_UNCONDITIONAL,
			                    rg_resource_unconditional_fields(res));
			return;
		}
		/* Conditional: a suspended owner makes its grants inert. */
		if (rg_policy_department(pol, owner) != 1) {
			rg_policy_set(out, 0, RG_REASON_DEPARTMENT_SUSPENDED, 0);
			return;
		}
		rg_policy_grant_read(pol, req, out);
		return;
	default:
		break;
	}
	/* An action no rule knows: denied. */
	rg_policy_set(out, 0, RG_REASON_NO_GRANT, 0);
}
