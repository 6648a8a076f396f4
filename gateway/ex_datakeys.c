/*
 * ex_datakeys.c -- the administrator's record data keys: rotation, retiring
 * and destroying data-key and KEK versions, the re-encryption's progress;
 * each one audited exchange. It must never retire a key that a stored
 * record or a wrapped data key still needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/exchange_int.h"

static const char *const rg_dk_status[] = {"", "active", "retiring", "retired",
                                           "destroyed"};

/* ---- rotation ------------------------------------------------------------ */

struct rg_dk_rotation {
	const char *resource;   /* NULL: every resource */
	size_t count;
};

static rg_keystore *
rg_dk_rotate_file(void *ctx, const char *path, const rg_keystore_secret *secret,
                  char *err, size_t errlen)
{
	struct rg_dk_rotation *r = ctx;

	return rg_keystore_rotate_data(path, secret, r->resource, &r->count, err,
	                               errlen);
}

/* The body: empty, {} or {"resource": ID}. 0, or -1 when refused. */
static int
rg_dk_rotate_body(struct rg_exchange *ex, char *resource, size_t len)
{
	static const char *const allowed[] = {"resource", NULL};
	json_t *body = rg_ex_body(ex, 0, allowed), *v;
	const char *rid;

	resource[0] = '\0';
	if (body == NULL)
		return -1;
	if ((v = json_object_get(body, "resource")) != NULL) {
		rid = json_string_value(v);
		if (rid == NULL || rid[0] == '\0' ||
		    strlen(rid) >= len || strspn(rid,
		    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(rid)) {
			rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL,
			             "resource", "expected [a-z0-9-]{1,63}");
			json_decref(body);
			return -1;
		}
		snprintf(resource, len, "%s", rid);
	}
	json_decref(body);
	return 0;
}

/*
 * POST /v1/admin/data-keys/rotate {} or {"resource": ID}: a fresh data
 * key, version highest + 1, for the resource (or every resource), active
 * from the batch after this entry commits; the version before becomes
 * retiring, still read. The entry names each resource with its old and
 * new version. The keeper then re-seals the records under the new one.
 */
int
rg_ex_datakey_rotate(struct rg_exchange *ex)
{
	rg_keeper *kp = ex->kp;
	struct rg_dk_rotation r = {NULL, 0};
	struct rg_keystore_info in;
	char resource[64];
	uint32_t v, old;
	json_t *list;
	int rc;

	if (!rg_admin_caller_ok(ex) ||
	    rg_dk_rotate_body(ex, resource, sizeof(resource)) != 0)
		return 0;
	if (resource[0] != '\0') {
		if (rg_keystore_data_key(kp->ks, resource, &v) == NULL) {
			rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_TARGET,
			             "unknown_resource", "resource",
			             "no data key for this resource");
			return 0;
		}
		r.resource = resource;
		/* The entry's resource member names it. */
		snprintf(ex->tgt.resource, sizeof(ex->tgt.resource), "%s",
		         resource);
	}
	if ((rc = rg_admin_keystore_apply(ex, rg_dk_rotate_file, &r)) != 0)
		return rc > 0 ? 0 : -1;
	ex->rotated = 1; /* undone by rg_exchange_run if not entered */
	if ((list = json_array()) == NULL)
		return -1;
	for (size_t i = 0; rg_keystore_info(kp->ks_next, i, &in) == 0; i++) {
		if (in.purpose != RG_KEYSTORE_DATA ||
		    in.status != RG_KEYSTORE_ACTIVE ||
		    (r.resource != NULL && strcmp(in.resource, r.resource) != 0) ||
		    rg_keystore_data_key(kp->ks, in.resource, &old) == NULL ||
		    old >= in.version)
			continue;
		if (json_array_append_new(list, json_pack("{s:s, s:I, s:I}",
		    "resource", in.resource, "version", (json_int_t)in.version,
		    "previous", (json_int_t)old)) != 0) {
			json_decref(list);
			return -1;
		}
	}
	return rg_admin_allow(ex, json_pack("{s:o, s:I}", "data_keys", list,
	                                 "rotated", (json_int_t)r.count));
}

/* ---- retiring and destroying --------------------------------------------- */

struct rg_dk_move {
	int purpose;
	const char *resource;
	uint32_t version;
	int status;
	int why;
};

static rg_keystore *
rg_dk_move_file(void *ctx, const char *path, const rg_keystore_secret *secret,
                char *err, size_t errlen)
{
	struct rg_dk_move *m = ctx;

	return rg_keystore_set_status(path, secret, m->purpose, m->resource,
	                              m->version, m->status, &m->why, err,
	                              errlen);
}

/* A version from the path: decimal, 1..2^32-1. 0 when malformed. */
static uint32_t
rg_dk_version(const char *s)
{
	unsigned long long v;
	char *end;

	if (s == NULL || s[0] < '1' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

/*
 * Move a data-key version (purpose RG_KEYSTORE_DATA, resource from the
 * path) or a KEK version to `to`. Refused, with the reason in the error:
 * the active version (key_active), a data key that records are still
 * sealed under or a KEK that still wraps a data key (key_in_use), any
 * other move (key_state: retire only what is retiring, destroy only what
 * is retired).
 */
static int
rg_dk_move(struct rg_exchange *ex, int purpose, int to)
{
	rg_keeper *kp = ex->kp;
	const char *res = purpose == RG_KEYSTORE_DATA ? ex->tgt.resource : NULL;
	struct rg_dk_move m = {purpose, res, 0, to, 0};
	int64_t sealed = 0;
	int why, from = 0, rc;
	char msg[200];

	if (!rg_admin_caller_ok(ex))
		return 0;
	if (ex->req->body_len > 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, NULL,
		             "this step takes no body");
		return 0;
	}
	if ((m.version = rg_dk_version(ex->tgt.record)) == 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "version",
		             "expected a key version (1, 2, ...)");
		return 0;
	}
	why = rg_keystore_status_check(kp->ks, purpose, res, m.version, to,
	                               &from);
	/* Records sealed under a data key need it to be read. */
	if (why == RG_KEYSTORE_WHY_NONE && purpose == RG_KEYSTORE_DATA) {
		if (rg_store_records_sealed_under(kp->st, res, m.version, 0,
		                                  &sealed) != RG_STORE_OK)
			return -1;
		if (sealed > 0)
			why = RG_KEYSTORE_WHY_IN_USE;
	}
	switch (why) {
	case RG_KEYSTORE_WHY_NONE:
		break;
	case RG_KEYSTORE_WHY_NOTFOUND:
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_TARGET,
		             "unknown_key_version", NULL, NULL);
		return 0;
	case RG_KEYSTORE_WHY_ACTIVE:
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "key_active",
		             NULL, "the active version: rotate first");
		return 0;
	case RG_KEYSTORE_WHY_IN_USE:
		if (purpose == RG_KEYSTORE_DATA)
			snprintf(msg, sizeof(msg), "%lld record versions are "
			         "still sealed under it: wait for the "
			         "re-encryption", (long long)sealed);
		else
			snprintf(msg, sizeof(msg), "data keys are still wrapped "
			         "under it");
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "key_in_use",
		             NULL, msg);
		return 0;
	default:
		snprintf(msg, sizeof(msg), "it is %s: %s", rg_dk_status[from],
		         to == RG_KEYSTORE_RETIRED ? "only a retiring key retires"
		                                   : "only a retired key is "
		                                     "destroyed");
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "key_state", NULL,
		             msg);
		return 0;
	}
	if ((rc = rg_admin_keystore_apply(ex, rg_dk_move_file, &m)) != 0)
		return rc > 0 ? 0 : -1;
	ex->rotated = 1; /* undone by rg_exchange_run if not entered */
	return rg_admin_allow(ex, purpose == RG_KEYSTORE_DATA
	    ? json_pack("{s:{s:s, s:I, s:s, s:s}}", "data_key", "resource", res,
	                "version", (json_int_t)m.version, "status_before",
	                rg_dk_status[from], "status", rg_dk_status[to])
	    : json_pack("{s:{s:I, s:s, s:s}}", "kek", "version",
	                (json_int_t)m.version, "status_before",
	                rg_dk_status[from], "status", rg_dk_status[to]));
}

int
rg_ex_datakey_retire(struct rg_exchange *ex)
{
	return rg_dk_move(ex, RG_KEYSTORE_DATA, RG_KEYSTORE_RETIRED);
}

int
rg_ex_datakey_destroy(struct rg_exchange *ex)
{
	return rg_dk_move(ex, RG_KEYSTORE_DATA, RG_KEYSTORE_DESTROYED);
}

int
rg_ex_kek_retire(struct rg_exchange *ex)
{
	return rg_dk_move(ex, RG_KEYSTORE_KEK, RG_KEYSTORE_RETIRED);
}

int
rg_ex_kek_destroy(struct rg_exchange *ex)
{
	return rg_dk_move(ex, RG_KEYSTORE_KEK, RG_KEYSTORE_DESTROYED);
}

/* ---- progress -------------------------------------------------------------- */

/* GET /v1/admin/data-keys/reencrypt: per resource, the active data-key
 * version, the job's state, done / total, and how many record versions
 * are still under an older version. */
int
rg_ex_reencrypt_status(struct rg_exchange *ex)
{
	if (!rg_admin_caller_ok(ex))
		return 0;
	if ((ex->result = rg_reencrypt_status(ex->kp)) == NULL)
		return -1;
	ex->decision = "allow";
	ex->reason = "ok_admin";
	return 0;
}
