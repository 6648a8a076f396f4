/*
 * grant.c -- a grant's document read against the catalogue, and the
 * "no wider than" relation that approvals and countersignatures must keep.
 * It trusts no member of a document: every one is checked here.
 */
#include <stdio.h>
#include <string.h>

#include "policy/grant.h"

static const char *const rg_grant_states[RG_GRANT__COUNT] = {
	[RG_GRANT_PENDING] = "pending",
	[RG_GRANT_APPROVED] = "approved",
	[RG_GRANT_ACTIVE] = "active",
	[RG_GRANT_REFUSED] = "refused",
	[RG_GRANT_DISPUTED] = "disputed",
	[RG_GRANT_REVOKED] = "revoked",
	[RG_GRANT_SUSPENDED] = "suspended",
};

const char *
rg_grant_state_name(rg_grant_state s)
{
	if ((size_t)s < RG_GRANT__COUNT)
		return rg_grant_states[s];
	return "unknown";
}

int
rg_grant_state_parse(const char *name, rg_grant_state *out)
{
	for (size_t i = 0; name != NULL && i < RG_GRANT__COUNT; i++)
		if (strcmp(name, rg_grant_states[i]) == 0) {
			*out = (rg_grant_state)i;
			return 0;
		}
	return -1;
}

static int
rg_grant_fail(char *field, size_t fieldlen, const char *name, char *err,
              size_t errlen, const char *msg)
{
	snprintf(field, fieldlen, "%s", name);
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* Copy a string member into dst; an absent member gives "" when optional. */
static int
rg_grant_str(const json_t *doc, const char *name, char *dst, size_t dstlen,
             int required)
{
	const json_t *v = json_object_get(doc, name);
	size_t n;

	if (v == NULL && !required) {
		dst[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	n = json_string_length(v);
	if (n >= dstlen || (required && n == 0) ||
	    memchr(json_string_value(v), '\0', n) != NULL)
		return -1;
	memcpy(dst, json_string_value(v), n + 1);
	return 0;
}

static int
rg_grant_field_index(const rg_resource *res, const char *name)
{
	for (size_t i = 0; i < rg_resource_field_count(res); i++)
		if (strcmp(rg_resource_field_name(res, i), name) == 0)
			return (int)i;
	return -1;
}

int
rg_grant_from_json(const rg_catalogue *cat, const json_t *doc,
                   struct rg_grant *g, char *field, size_t fieldlen,
                   char *err, size_t errlen)
{
	const rg_resource *res;
	const json_t *fields, *v;
	const char *name;
	json_t *t;

	memset(g, 0, sizeof(*g));
	field[0] = '\0';
	if (!json_is_object(doc))
		return rg_grant_fail(field, fieldlen, "", err, errlen,
		                     "a grant is a JSON object");
	if (rg_grant_str(doc, "id", g->id, sizeof(g->id), 0) != 0)
		return rg_grant_fail(field, fieldlen, "id", err, errlen,
		                     "expected a grant id");
	if (rg_grant_str(doc, "resource", g->resource, sizeof(g->resource), 1) != 0 ||
	    (res = rg_catalogue_find(cat, g->resource)) == NULL)
		return rg_grant_fail(field, fieldlen, "resource", err, errlen,
		                     "expected a resource of the catalogue");
	snprintf(g->owner, sizeof(g->owner), "%s", rg_resource_owner(res));
	if (rg_grant_str(doc, "consumer", g->consumer, sizeof(g->consumer), 1) != 0)
		return rg_grant_fail(field, fieldlen, "consumer", err, errlen,
		                     "expected a department id");
	if (rg_grant_str(doc, "purpose", g->purpose, sizeof(g->purpose), 1) != 0)
		return rg_grant_fail(field, fieldlen, "purpose", err, errlen,
		                     "expected a purpose (1 to 511 bytes)");
	fields = json_object_get(doc, "fields");
	if (!json_is_object(fields) || json_object_size(fields) == 0)
		return rg_grant_fail(field, fieldlen, "fields", err, errlen,
		                     "expected {\"field\": \"raw\"|\"pseudonym\", ...}");
	json_object_foreach((json_t *)fields, name, t) {
		int i = rg_grant_field_index(res, name);
		const char *how = json_string_value(t);

		if (i < 0)
			return rg_grant_fail(field, fieldlen, name, err, errlen,
			                     "not a field of the resource");
		if (how != NULL && strcmp(how, "raw") == 0)
			g->raw_mask |= (uint64_t)1 << i;
		else if (how != NULL && strcmp(how, "pseudonym") == 0)
			g->pseudo_mask |= (uint64_t)1 << i;
		else
			return rg_grant_fail(field, fieldlen, name, err, errlen,
			                     "transform must be raw or pseudonym");
	}
	v = json_object_get(doc, "not_before");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return rg_grant_fail(field, fieldlen, "not_before", err, errlen,
		                     "expected Unix milliseconds");
	g->not_before_ms = json_integer_value(v);
	v = json_object_get(doc, "not_after");
	if (!json_is_integer(v) || json_integer_value(v) <= g->not_before_ms)
		return rg_grant_fail(field, fieldlen, "not_after", err, errlen,
		                     "expected Unix milliseconds after not_before");
	g->not_after_ms = json_integer_value(v);
	v = json_object_get(doc, "state");
	if (v == NULL)
		g->state = RG_GRANT_PENDING;
	else if (rg_grant_state_parse(json_string_value(v), &g->state) != 0)
		return rg_grant_fail(field, fieldlen, "state", err, errlen,
		                     "not a grant state");
	g->countersign = json_is_true(json_object_get(doc, "countersign"));
	if (rg_grant_str(doc, "requested_by", g->requested_by,
	                 sizeof(g->requested_by), 0) != 0 ||
	    rg_grant_str(doc, "approved_by", g->approved_by,
	                 sizeof(g->approved_by), 0) != 0 ||
	    rg_grant_str(doc, "countersigned_by", g->countersigned_by,
	                 sizeof(g->countersigned_by), 0) != 0)
		return rg_grant_fail(field, fieldlen, "requested_by", err, errlen,
		                     "expected key ids");
	return 0;
}

json_t *
rg_grant_fields_json(const rg_resource *res, uint64_t raw, uint64_t pseudo)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < rg_resource_field_count(res); i++) {
		uint64_t bit = (uint64_t)1 << i;
		const char *how = (raw & bit) ? "raw" : (pseudo & bit) ? "pseudonym"
		                                                       : NULL;

		if (how != NULL &&
		    json_object_set_new(o, rg_resource_field_name(res, i),
		                        json_string(how)) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

int
rg_grant_within(const struct rg_grant *a, const struct rg_grant *b)
{
	uint64_t a_any = a->raw_mask | a->pseudo_mask;

	/* A raw field may be narrowed to a pseudonym; a pseudonym may never
	 * be widened to the raw value. */
	if ((b->raw_mask & ~a->raw_mask) != 0)
		return 0;
	if ((b->pseudo_mask & ~a_any) != 0)
		return 0;
	return b->not_before_ms >= a->not_before_ms &&
	       b->not_after_ms <= a->not_after_ms &&
	       strcmp(a->resource, b->resource) == 0 &&
	       strcmp(a->consumer, b->consumer) == 0 &&
	       strcmp(a->purpose, b->purpose) == 0;
}

#define RG_DAY_MS 86400000LL
/* Working days are counted in China Standard Time (UTC+8, no DST). */
#define RG_CST_OFFSET_MS (8LL * 3600 * 1000)

int64_t
rg_grant_reply_due(int64_t from_ms, unsigned days)
{
	int64_t t = from_ms;

	while (days > 0) {
		int64_t day;
		int wd;

		t += RG_DAY_MS;
		day = (t + RG_CST_OFFSET_MS) / RG_DAY_MS;
		wd = (int)((day + 4) % 7); /* 1970-01-01 was a Thursday (4) */
		if (wd >= 1 && wd <= 5)
			days--;
	}
	return t;
}
