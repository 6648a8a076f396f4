/*
 * keeper_restore.c -- the restore in the audit trail: `recgatectl restore`
 * (ctl_backup.c) leaves a marker in the restored database saying which
 * backup it was; the keeper's first start on it enters an admin.restore
 * entry at the snapshot's end, the first entry after the restored log,
 * and removes the marker in the same transaction, so the entry goes in
 * exactly once. An officer whose checkpoint was signed after the backup
 * finds the log's fork explained in the log itself, signed by the next
 * checkpoint.
 *
 * It copies only the marker's known members, each checked for its type
 * and shape, into an entry it builds itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/keeper_int.h"

/* s is 64 lower-case hex digits. */
static int
rg_restore_is_hash(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return 0;
	return strspn(s, "0123456789abcdef") == 64;
}

/* s is a UTC time as the backup tools write it (2026-11-27T10:00:00Z). */
static int
rg_restore_is_time(const char *s)
{
	return s != NULL && strlen(s) == 20 &&
	       strspn(s, "0123456789-:TZ") == 20;
}

/* The entry's "restore" member from the marker's text. New reference. */
static json_t *
rg_restore_member(const char *text, size_t len)
{
	static const char *const hashes[] = {"backup_sha256", "database_sha256",
	                                     "keystore_sha256"};
	static const char *const times[] = {"taken", "restored"};
	static const char *const counts[] = {"records", "audit_entries",
	                                     "restored_ms"};
	json_t *m = json_loadb(text, len, 0, NULL), *out = json_object();

	for (size_t i = 0; m != NULL && i < sizeof(hashes) / sizeof(*hashes); i++) {
		const char *v = json_string_value(json_object_get(m, hashes[i]));

		if (rg_restore_is_hash(v))
			json_object_set_new(out, hashes[i], json_string(v));
	}
	for (size_t i = 0; m != NULL && i < sizeof(times) / sizeof(*times); i++) {
		const char *v = json_string_value(json_object_get(m, times[i]));

		if (rg_restore_is_time(v))
			json_object_set_new(out, times[i], json_string(v));
	}
	for (size_t i = 0; m != NULL && i < sizeof(counts) / sizeof(*counts); i++) {
		json_t *v = json_object_get(m, counts[i]);

		if (json_is_integer(v) && json_integer_value(v) >= 0)
			json_object_set_new(out, counts[i], json_incref(v));
	}
	/* A marker that does not parse still says a restore happened. */
	if (m == NULL || json_object_size(out) == 0)
		json_object_set_new(out, "unreadable_marker", json_true());
	json_decref(m);
	return out;
}

int
rg_keeper_enter_restore(rg_keeper *kp, char *err, size_t errlen)
{
	void *text = NULL;
	size_t len = 0;
	json_t *e;
	int rc;

	rc = rg_store_meta_get(kp->st, RG_STORE_META_RESTORED, &text, &len);
	if (rc == RG_STORE_NOTFOUND)
		return 0;
	if (rc != RG_STORE_OK) {
		snprintf(err, errlen, "cannot read the restore marker: %s",
		         rg_store_errmsg(kp->st));
		return -1;
	}
	e = json_pack("{s:I, s:s, s:s, s:s, s:o}", "time",
	              (json_int_t)rg_keeper_now_ms(), "action", "admin.restore",
	              "decision", "allow", "reason", "restored", "restore",
	              rg_restore_member(text, len));
	free(text);
	/* The marker goes in the entry's transaction: entered exactly once. */
	if (rg_audit_enter_alone(kp, e, RG_STORE_META_RESTORED, NULL, 0) != 0) {
		snprintf(err, errlen, "cannot enter the restore in the audit log: "
		         "%s", rg_store_errmsg(kp->st));
		return -1;
	}
	fprintf(stderr, "recgated: the restore from a backup is entered in the "
	        "audit log at index %llu\n",
	        (unsigned long long)(kp->audit_size - 1));
	return 0;
}
