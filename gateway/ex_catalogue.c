/*
 * ex_catalogue.c -- the office replaces the information-resource catalogue
 * (POST /v1/catalogue, the office's key). The keeper re-checks the file
 * whatever the client said: it parses, refuses anything classified and
 * owners who are not members, gives each new resource its first data key
 * (in the keystore, through the keystore journal), and only then stores
 * it; the new snapshot and keys take effect when the batch commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/exchange_int.h"

/* The first line of a problem list, for the refusal's message. */
static void
rg_ex_first_problem(struct rg_exchange *ex, rg_err err, const char *problems,
                    const char *reason)
{
	char msg[320];
	size_t n = strcspn(problems, "\n");

	snprintf(msg, sizeof(msg), "%.*s%s", (int)(n < 250 ? n : 250), problems,
	         problems[n] != '\0' ? " (and more: recgatectl catalogue check "
	         "lists all)" : "");
	rg_ex_refuse(ex, "reject", err, reason, NULL, msg);
}

/* Did the resource have data keys, all destroyed since? Its records are
 * then unreadable for good, and its id is not given a fresh start. */
static int
rg_ex_catalogue_destroyed(const rg_keystore *ks, const char *resource)
{
	struct rg_keystore_info in;

	for (size_t i = 0; rg_keystore_info(ks, i, &in) == 0; i++)
		if (in.purpose == RG_KEYSTORE_DATA && in.resource != NULL &&
		    strcmp(in.resource, resource) == 0)
			return 1;
	return 0;
}

struct rg_ex_catalogue_add {
	const char **resources;
	size_t n;
	size_t added;
};

static rg_keystore *
rg_ex_catalogue_keys(void *ctx, const char *path,
                     const rg_keystore_secret *secret, char *err,
                     size_t errlen)
{
	struct rg_ex_catalogue_add *a = ctx;

	return rg_keystore_add_data(path, secret, a->resources, a->n, &a->added,
	                            err, errlen);
}

int
rg_ex_catalogue_load(struct rg_exchange *ex)
{
	struct rg_policy_request pr = {.action = RG_ACT_CATALOGUE_LOAD};
	const struct rg_request *req = ex->req;
	char *problems = NULL, *lined = NULL, perr[1024];
	char old_version[65];
	struct rg_decision d;
	rg_catalogue *cat;
	rg_policy *next;
	const char **fresh = NULL;
	json_t *added = NULL;
	size_t sz = 16384, nfresh = 0;
	int rc = -1;

	if (rg_ex_decide_req(ex, &pr, &d) != 0)
		return 0;
	problems = malloc(sz);
	lined = malloc(sz);
	if (problems == NULL || lined == NULL)
		goto out;
	cat = req->body_len > 0
	    ? rg_catalogue_parse((const char *)req->body, req->body_len, problems,
	                         sz) : NULL;
	if (cat == NULL) {
		if (req->body_len == 0)
			snprintf(problems, sz, "empty body");
		if (rg_catalogue_annotate((const char *)req->body, req->body_len,
		                          problems, lined, sz) != 0)
			snprintf(lined, sz, "%s", problems);
		rg_ex_first_problem(ex, RG_ERR_SCHEMA, lined, "catalogue_invalid");
		rc = 0;
		goto out;
	}
	if (rg_catalogue_check_load(cat, problems, sz) != 0) {
		if (rg_catalogue_annotate((const char *)req->body, req->body_len,
		                          problems, lined, sz) != 0)
			snprintf(lined, sz, "%s", problems);
		rg_catalogue_free(cat);
		rg_ex_first_problem(ex, RG_ERR_SECRET_REFUSED, lined,
		                    "classification_refused");
		rc = 0;
		goto out;
	}
	if ((fresh = calloc(rg_catalogue_count(cat) + 1, sizeof(*fresh))) ==
	    NULL) {
		rg_catalogue_free(cat);
		goto out;
	}
	for (size_t i = 0; i < rg_catalogue_count(cat); i++) {
		const rg_resource *res = rg_catalogue_at(cat, i);
		const char *owner = rg_resource_owner(res);
		uint32_t kv;

		/* Records are sealed under the resource's data key: a new
		 * resource gets its first one with this load (below). */
		int has = rg_keystore_data_key(ex->kp->ks, rg_resource_id(res),
		                               &kv) != NULL;
		int gone = !has && rg_ex_catalogue_destroyed(ex->kp->ks,
		                                             rg_resource_id(res));

		if (!has && !gone)
			fresh[nfresh++] = rg_resource_id(res);
		if (gone)
			snprintf(problems, sz, "resource %zu (%s): its data keys "
			         "were destroyed; give it a new id", i + 1,
			         rg_resource_id(res));
		else if (strcmp(owner, "*") != 0 &&
		         rg_policy_department(ex->kp->pol, owner) < 0)
			snprintf(problems, sz, "resource %zu (%s): owner '%s' is "
			         "not a member department", i + 1,
			         rg_resource_id(res), owner);
		else
			continue;
		rg_catalogue_free(cat);
		if (rg_catalogue_annotate((const char *)req->body, req->body_len,
		                          problems, lined, sz) != 0)
			snprintf(lined, sz, "%s", problems);
		rg_ex_first_problem(ex, RG_ERR_SCHEMA, lined, "catalogue_invalid");
		rc = 0;
		goto out;
	}
	/* New resources: a first data key each, in the keystore, put in
	 * use when this batch commits and put back if it does not. */
	if (nfresh > 0) {
		struct rg_ex_catalogue_add add = {fresh, nfresh, 0};
		int arc = rg_admin_keystore_apply(ex, rg_ex_catalogue_keys, &add);

		if (arc != 0) {
			rg_catalogue_free(cat);
			rc = arc > 0 ? 0 : -1;
			goto out;
		}
		ex->rotated = 1; /* undone by rg_exchange_run if not entered */
		if ((added = json_array()) == NULL) {
			rg_catalogue_free(cat);
			goto out;
		}
		for (size_t i = 0; i < nfresh; i++)
			if (json_array_append_new(added, json_string(fresh[i])) != 0) {
				rg_catalogue_free(cat);
				goto out;
			}
	}
	rg_catalogue_free(cat);
	/* The file as given is what the database keeps; the version names
	 * its normalised meaning. */
	if (rg_store_meta_put(ex->kp->st, "catalogue", req->body, req->body_len)
	    != RG_STORE_OK)
		goto out;
	next = rg_keeper_load_policy(ex->kp->st, perr, sizeof(perr));
	if (next == NULL)
		goto out;
	snprintf(old_version, sizeof(old_version), "%s",
	         rg_policy_version(ex->kp->pol));
	ex->result = json_pack("{s:s, s:s, s:I}", "policy_version",
	                       rg_policy_version(next), "previous_version",
	                       old_version, "resources",
	                       (json_int_t)rg_catalogue_count(
	                           rg_policy_catalogue(next)));
	rg_policy_free(next);
	if (ex->result == NULL)
		goto out;
	if (added != NULL) {
		if (json_object_set_new(ex->result, "data_keys_added", added) != 0) {
			added = NULL;
			goto out;
		}
		added = NULL;
	}
	ex->kp->pol_dirty = 1;
	ex->decision = "allow";
	rc = 0;
out:
	json_decref(added);
	free(fresh);
	free(problems);
	free(lined);
	return rc;
}
