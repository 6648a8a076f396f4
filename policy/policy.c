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
	free(pol);
}

/* Same rule as a catalogue owner: lower-case letters, 1 to 31. */
static int
rg_policy_valid_department(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 31)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return 0;
	return 1;
}

int
rg_policy_add_department(rg_policy *pol, const char *id, int active)
{
	struct rg_policy_dept *d;

	if (pol == NULL || pol->sealed || id == NULL ||
	    !rg_policy_valid_department(id) ||
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
 * compact, keys sorted, departments sorted by id, UTF-8 as is. Anything
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
}

/*
 * The rules, in the order they are tried. Each refusal comes before any
 * rule that could allow, so that a later rule can never undo it.
 * req->purpose is not a condition yet: it is recorded by the caller in the
 * audit entry, and conditional grants will use it.
 */
void
rg_policy_decide(const rg_policy *pol, const struct rg_policy_request *req,
                 struct rg_decision *out)
{
	const rg_resource *res;
	const char *owner;
	int status;

	if (pol == NULL || req == NULL || out == NULL || !pol->sealed) {
		/* A decision over a snapshot still being built is a bug. */
		fprintf(stderr, "rg_policy_decide: called without a sealed "
		        "policy\n");
		abort();
	}
	rg_policy_set(out, 0, RG_REASON_NO_GRANT, 0);

	status = rg_policy_department(pol, req->department);
	if (status < 0) {
		rg_policy_set(out, 0, RG_REASON_UNKNOWN_DEPARTMENT, 0);
		return;
	}
	if (status == 0) {
		rg_policy_set(out, 0, RG_REASON_DEPARTMENT_SUSPENDED, 0);
		return;
	}
	if (req->action == RG_ACT_CATALOGUE) {
		rg_policy_set(out, 1, RG_REASON_OK_MEMBER, 0);
		return;
	}
	res = rg_catalogue_find(pol->cat, req->resource);
	if (res == NULL) {
		rg_policy_set(out, 0, RG_REASON_UNKNOWN_RESOURCE, 0);
		return;
	}
	/* Classified matters are never handled here, whoever asks. */
	if (rg_resource_class(res) == RG_CLASS_SECRET) {
		rg_policy_set(out, 0, RG_REASON_CLASSIFICATION_REFUSED, 0);
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
			rg_policy_set(out, 1, RG_REASON_OK_OWNER,
			              rg_resource_all_fields(res));
			return;
		}
		/*
		 * The catalogue only accepts owner '*' with share
		 * unconditional; this keeps the rule explicit here too.
		 */
		if (strcmp(owner, "*") == 0 ||
		    rg_resource_share(res) == RG_SHARE_UNCONDITIONAL) {
			rg_policy_set(out, 1, RG_REASON_OK_UNCONDITIONAL,
			              rg_resource_unconditional_fields(res));
			return;
		}
		if (rg_resource_share(res) == RG_SHARE_NONE) {
			rg_policy_set(out, 0, RG_REASON_SHARE_NONE, 0);
			return;
		}
		/* Conditional: grants come here; none exist yet. */
		rg_policy_set(out, 0, RG_REASON_NO_GRANT, 0);
		return;
	case RG_ACT_CATALOGUE:
		break;
	}
	/* An action no rule knows: denied. */
	rg_policy_set(out, 0, RG_REASON_NO_GRANT, 0);
}
