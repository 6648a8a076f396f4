/*
 * ex_dbkey.c -- the administrator's database-key exchanges: schedule an
 * online rekey (carried out by dbrekey.c once the entry has committed) and
 * read its state. They name key versions only, never key material, and
 * change nothing themselves but the schedule.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "gateway/dbrekey.h"
#include "gateway/exchange_int.h"

static int
rg_dbkey_allow(struct rg_exchange *ex, json_t *change, int admin)
{
	if (change == NULL)
		return -1;
	if (admin && (ex->admin = json_deep_copy(change)) == NULL) {
		json_decref(change);
		return -1;
	}
	ex->result = change;
	ex->decision = "allow";
	ex->reason = "ok_admin";
	return 0;
}

/*
 * POST /v1/admin/db-key/rotate: scheduled, to run as soon as the batch
 * holding this entry has committed and been answered. The answer can only
 * say "scheduled"; GET /v1/admin/db-key tells the outcome.
 */
int
rg_ex_dbkey_rotate(struct rg_exchange *ex)
{
	rg_keeper *kp = ex->kp;
	struct rg_dbrekey *d = &kp->dbrekey;
	uint32_t cur = rg_keystore_db_version(kp->ks);

	if (!rg_admin_caller_ok(ex))
		return 0;
	if (ex->req->body_len > 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, NULL,
		             "this step takes no body");
		return 0;
	}
	if (d->scheduled) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "rekey_pending",
		             NULL, "a database rekey is already scheduled");
		return 0;
	}
	if (kp->secret == NULL) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "no_secret", NULL,
		             "the keeper holds no master secret to reseal with");
		return 0;
	}
	if (rg_keystore_db_previous(kp->ks, NULL) != NULL) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT,
		             "rekey_unfinished", NULL,
		             "the keystore still holds a previous database key");
		return 0;
	}
	/* This exchange's entry takes the next index; the rekey runs only
	 * once that very entry is committed (dbrekey.c checks it). */
	d->scheduled = 1;
	d->index = kp->audit_size;
	return rg_dbkey_allow(ex, json_pack("{s:{s:I, s:I}, s:s}",
	    "database_key", "version",
	    (json_int_t)rg_dbrekey_next_version(kp->ks),
	    "previous", (json_int_t)cur, "state", "scheduled"), 1);
}

/* GET /v1/admin/db-key: the active version, whether a rekey waits, and
 * the latest outcome since the gateway started. */
int
rg_ex_dbkey_status(struct rg_exchange *ex)
{
	rg_keeper *kp = ex->kp;
	const struct rg_dbrekey *d = &kp->dbrekey;
	json_t *r, *last;

	if (!rg_admin_caller_ok(ex))
		return 0;
	r = json_pack("{s:I, s:s}", "version",
	              (json_int_t)rg_keystore_db_version(kp->ks), "state",
	              d->scheduled ? "scheduled" : "idle");
	if (r == NULL)
		return -1;
	if (d->last != 0) {
		last = json_pack("{s:s, s:I, s:I, s:I}", "outcome",
		                 d->last > 0 ? "rekeyed" : "failed", "version",
		                 (json_int_t)d->last_version, "time",
		                 (json_int_t)d->last_time_ms, "pause_ms",
		                 (json_int_t)d->last_pause_ms);
		/* Its entry, unless that could not be entered (logged). */
		if (last != NULL && d->last_entry != 0)
			json_object_set_new(last, "entry", json_integer(
			                    (json_int_t)d->last_entry));
		/* The rotate request it answers (absent: finished at start). */
		if (last != NULL && d->last_for >= 0)
			json_object_set_new(last, "scheduled_by", json_integer(
			                    (json_int_t)d->last_for));
		if (last != NULL && d->last > 0) {
			json_object_set_new(last, "pages",
			                    json_integer((json_int_t)d->last_pages));
			json_object_set_new(last, "bytes",
			                    json_integer((json_int_t)d->last_bytes));
			json_object_set_new(last, "verified", json_true());
		}
		if (last != NULL && d->last < 0)
			json_object_set_new(last, "step", json_string(d->last_step));
		if (last == NULL || json_object_set_new(r, "last", last) != 0) {
			json_decref(r);
			return -1;
		}
	}
	return rg_dbkey_allow(ex, r, 0);
}
