/*
 * ex_admin.c -- the administrator's changes to who may sign: register a
 * department's new key, retire or revoke a key, suspend or reactivate a
 * department. Each is one audited exchange, applied in the exchange's own
 * savepoint, so the change and its entry commit together or not at all.
 * It must never touch a grant: an administrator can stop access (a key, a
 * department), never create or widen it. It also rotates the gateway's
 * signing key: the keystore is resealed with the master secret the keeper
 * keeps (inaccessible while idle) and the new key is announced in the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/b64.h"
#include "crypto/note.h"
#include "crypto/sig.h"
#include "gateway/crashpoint.h"
#include "gateway/ks_journal.h"
#include "gateway/exchange_int.h"

/* Roles a registered key may take. */
static const char *const rg_admin_roles[] = {"department", "office", "officer",
                                             "admin", NULL};

/* An id as the route table takes it: [a-z0-9-]{1,63}, so that every key
 * registered here can be named in a later retire or revoke. */
static int
rg_admin_id_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-'))
			return 0;
	return 1;
}

/* Only an administrator's key gets here (the route table checks the role);
 * checked again so that a wrong table row cannot open these steps. */
int
rg_admin_caller_ok(struct rg_exchange *ex)
{
	if (strcmp(ex->auth.key.role, "admin") != 0) {
		rg_ex_refuse(ex, "deny", RG_ERR_FORBIDDEN, "role_not_permitted",
		             NULL, NULL);
		return 0;
	}
	return 1;
}

/* Allow with result = admin = a copy of what changed. */
int
rg_admin_allow(struct rg_exchange *ex, json_t *change)
{
	if (change == NULL)
		return -1;
	ex->admin = change;
	ex->result = json_deep_copy(change);
	if (ex->result == NULL)
		return -1;
	ex->decision = "allow";
	ex->reason = "ok_admin";
	return 0;
}

/* POST /v1/admin/keys {"department", "keyid", "public_key"[, "role"]}. */
int
rg_ex_admin_key_add(struct rg_exchange *ex)
{
	static const char *const allowed[] = {"department", "keyid",
	                                      "public_key", "role", NULL};
	struct rg_store_key k = {0}, old;
	const char *dept, *keyid, *pub64, *role = "department";
	char status[16];
	size_t publen = 0;
	json_t *body;
	int rc, ok = 0;

	if (!rg_admin_caller_ok(ex) || (body = rg_ex_body(ex, 1, allowed)) == NULL)
		return 0;
	dept = json_string_value(json_object_get(body, "department"));
	keyid = json_string_value(json_object_get(body, "keyid"));
	pub64 = json_string_value(json_object_get(body, "public_key"));
	if (json_object_get(body, "role") != NULL)
		role = json_string_value(json_object_get(body, "role"));
	if (!rg_admin_id_ok(dept)) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "department",
		             "expected [a-z0-9-]{1,63}");
		goto out;
	}
	if (!rg_admin_id_ok(keyid)) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "keyid",
		             "expected [a-z0-9-]{1,63}");
		goto out;
	}
	if (pub64 == NULL ||
	    rg_b64_decode(pub64, strlen(pub64), k.pub, sizeof(k.pub),
	                  &publen) != 0 ||
	    publen != sizeof(k.pub)) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "public_key",
		             "expected a base64 Ed25519 public key (32 bytes)");
		goto out;
	}
	for (size_t i = 0; role != NULL && rg_admin_roles[i] != NULL; i++)
		if (strcmp(rg_admin_roles[i], role) == 0)
			ok = 1;
	if (!ok) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "role",
		             "expected department, office, officer or admin");
		goto out;
	}
	rc = rg_store_dept_status_get(ex->kp->st, dept, status, sizeof(status));
	if (rc == RG_STORE_NOTFOUND) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_TARGET,
		             "unknown_department", "department", NULL);
		goto out;
	}
	if (rc != RG_STORE_OK)
		goto fail;
	/* Rotation replaces a key; it never gives a department a role it did
	 * not hold (an office or officer key is a power, not a credential). */
	rc = rg_store_dept_has_role(ex->kp->st, dept, role);
	if (rc == RG_STORE_NOTFOUND) {
		rg_ex_refuse(ex, "deny", RG_ERR_FORBIDDEN, "role_not_held", "role",
		             "the department holds no key in this role");
		goto out;
	}
	if (rc != RG_STORE_OK)
		goto fail;
	rc = rg_store_key_get(ex->kp->st, keyid, &old);
	if (rc == RG_STORE_OK) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "key_exists",
		             "keyid", "this key id is already registered");
		goto out;
	}
	if (rc != RG_STORE_NOTFOUND)
		goto fail;
	snprintf(k.keyid, sizeof(k.keyid), "%s", keyid);
	snprintf(k.dept, sizeof(k.dept), "%s", dept);
	snprintf(k.role, sizeof(k.role), "%s", role);
	snprintf(k.status, sizeof(k.status), "active");
	k.created_ms = ex->now_ms;
	if (rg_store_key_put(ex->kp->st, &k) != RG_STORE_OK)
		goto fail;
	rc = rg_admin_allow(ex, json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "keyid", keyid, "department", dept, "role", role, "public_key",
	    pub64, "status", "active"));
	json_decref(body);
	return rc;
out:
	json_decref(body);
	return 0;
fail:
	fprintf(stderr, "recgated: key registration failed: %s\n",
	        rg_store_errmsg(ex->kp->st));
	json_decref(body);
	return -1;
}

/*
 * Move the key named by the path to status `to`. Refused for the key that
 * signed this request (an administrator does not lock itself out: it adds
 * its next key first and retires the old one with the new), and for a
 * key already retired or revoked when retiring, already revoked when
 * revoking.
 */
static int
rg_admin_key_move(struct rg_exchange *ex, const char *to)
{
	struct rg_store_key k;
	const char *id = ex->tgt.record;
	int rc;

	if (!rg_admin_caller_ok(ex))
		return 0;
	rc = rg_store_key_get(ex->kp->st, id, &k);
	if (rc == RG_STORE_NOTFOUND) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_TARGET, "unknown_key", NULL,
		             NULL);
		return 0;
	}
	if (rc != RG_STORE_OK)
		return -1;
	if (strcmp(k.keyid, ex->auth.key.keyid) == 0) {
		rg_ex_refuse(ex, "deny", RG_ERR_ADMIN_CONFLICT, "own_key", NULL,
		             "a key cannot retire or revoke itself");
		return 0;
	}
	if (strcmp(k.status, "revoked") == 0 ||
	    (strcmp(to, "retired") == 0 && strcmp(k.status, "retired") == 0)) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "key_state", NULL,
		             NULL);
		return 0;
	}
	if (rg_store_key_status_set(ex->kp->st, id, to) != RG_STORE_OK) {
		fprintf(stderr, "recgated: key status change failed: %s\n",
		        rg_store_errmsg(ex->kp->st));
		return -1;
	}
	return rg_admin_allow(ex, json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "keyid", k.keyid, "department", k.dept, "role", k.role,
	    "status_before", k.status, "status", to));
}

int
rg_ex_admin_key_retire(struct rg_exchange *ex)
{
	return rg_admin_key_move(ex, "retired");
}

int
rg_ex_admin_key_revoke(struct rg_exchange *ex)
{
	return rg_admin_key_move(ex, "revoked");
}

/* Suspend or reactivate the department named by the path. Its keys are
 * refused from the next request on (auth.c reads the status in the
 * batch's transaction); its grants go inert when the policy snapshot is
 * rebuilt at this batch's commit, before any reply is released. */
static int
rg_admin_dept_move(struct rg_exchange *ex, const char *to)
{
	const char *id = ex->tgt.record;
	char status[16];
	int rc;

	if (!rg_admin_caller_ok(ex))
		return 0;
	rc = rg_store_dept_status_get(ex->kp->st, id, status, sizeof(status));
	if (rc == RG_STORE_NOTFOUND) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_TARGET, "unknown_department",
		             NULL, NULL);
		return 0;
	}
	if (rc != RG_STORE_OK)
		return -1;
	if (strcmp(id, ex->auth.key.dept) == 0) {
		rg_ex_refuse(ex, "deny", RG_ERR_ADMIN_CONFLICT, "own_department",
		             NULL, "the administrator's own department cannot be "
		             "suspended with its key");
		return 0;
	}
	if (strcmp(status, to) == 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "department_state",
		             NULL, NULL);
		return 0;
	}
	if (rg_store_dept_status_set(ex->kp->st, id, to) != RG_STORE_OK) {
		fprintf(stderr, "recgated: department status change failed: %s\n",
		        rg_store_errmsg(ex->kp->st));
		return -1;
	}
	ex->kp->pol_dirty = 1;
	return rg_admin_allow(ex, json_pack("{s:s, s:s, s:s}", "department", id,
	    "status_before", status, "status", to));
}

int
rg_ex_admin_dept_suspend(struct rg_exchange *ex)
{
	return rg_admin_dept_move(ex, "suspended");
}

int
rg_ex_admin_dept_reactivate(struct rg_exchange *ex)
{
	return rg_admin_dept_move(ex, "active");
}

static int
rg_admin_list_one(void *ctx, const struct rg_store_key *k)
{
	json_t *keys = ctx;

	return json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:I}",
	    "keyid", k->keyid, "role", k->role, "status", k->status,
	    "created_ms", (json_int_t)k->created_ms)) != 0;
}

/* GET /v1/admin/departments/{id}/keys: key ids, roles and statuses. */
int
rg_ex_admin_key_list(struct rg_exchange *ex)
{
	const char *id = ex->tgt.record;
	char status[16];
	json_t *keys;
	int rc;

	if (!rg_admin_caller_ok(ex))
		return 0;
	rc = rg_store_dept_status_get(ex->kp->st, id, status, sizeof(status));
	if (rc == RG_STORE_NOTFOUND) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_TARGET, "unknown_department",
		             NULL, NULL);
		return 0;
	}
	if (rc != RG_STORE_OK || (keys = json_array()) == NULL)
		return -1;
	if (rg_store_key_each_dept(ex->kp->st, id, rg_admin_list_one, keys) !=
	    RG_STORE_OK) {
		json_decref(keys);
		return -1;
	}
	ex->result = json_pack("{s:s, s:s, s:o}", "department", id, "status",
	                       status, "keys", keys);
	if (ex->result == NULL)
		return -1;
	ex->decision = "allow";
	ex->reason = "ok_admin";
	return 0;
}

/* ---- signing-key rotation ------------------------------------------------ */

/* "origin+hexid+base64(0x01 || pub)": the C2SP verifier key. */
static int
rg_admin_vkey(const char *origin, const uint8_t pub[RG_SIG_PUBLEN],
              char *out, size_t outlen)
{
	uint8_t vk[1 + RG_SIG_PUBLEN];
	char *vk64;
	int n;

	vk[0] = 0x01;
	memcpy(vk + 1, pub, RG_SIG_PUBLEN);
	if ((vk64 = rg_b64(vk, sizeof(vk))) == NULL)
		return -1;
	n = snprintf(out, outlen, "%s+%08x+%s", origin,
	             rg_sig_note_keyid(origin, pub), vk64);
	free(vk64);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* A rotation of kind 's' (signing key) or 'k' (KEK) and its results. */
struct rg_admin_rotation {
	int kind;
	uint32_t *version;
	size_t *rewrapped;
};

static rg_keystore *
rg_admin_rotate_file(void *ctx, const char *path,
                     const rg_keystore_secret *secret, char *err,
                     size_t errlen)
{
	struct rg_admin_rotation *r = ctx;

	return r->kind == 's'
	    ? rg_keystore_rotate_signing(path, secret, r->version, err, errlen)
	    : rg_keystore_rotate_kek(path, secret, r->version, r->rewrapped,
	                             err, errlen);
}

/*
 * Rewrite the keystore with a rotation (kind 's': signing key, 'k': KEK)
 * under the kept master secret (rg_admin_keystore_apply). -1 on failure
 * (nothing changed), 1 when refused (recorded in ex), 0 done.
 */
static int
rg_admin_keystore_change(struct rg_exchange *ex, int kind, uint32_t *version,
                         size_t *rewrapped)
{
	struct rg_admin_rotation r = {kind, version, rewrapped};

	if (ex->req->body_len > 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, NULL,
		             "this step takes no body");
		return 1;
	}
	return rg_admin_keystore_apply(ex, rg_admin_rotate_file, &r);
}

int
rg_admin_keystore_apply(struct rg_exchange *ex, rg_admin_ks_change change,
                        void *ctx)
{
	rg_keeper *kp = ex->kp;
	char err[512];
	rg_keystore *next;

	if (kp->ks_next != NULL) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT,
		             "rotation_pending", NULL,
		             "a rotation is waiting for its batch to commit");
		return 1;
	}
	if (kp->secret == NULL) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT, "no_secret", NULL,
		             "the keeper holds no master secret to reseal with");
		return 1;
	}
	kp->ks_undo = rg_keystore_snapshot(kp->cfg.keystore, &kp->ks_undo_len,
	                                   err, sizeof(err));
	if (kp->ks_undo == NULL) {
		fprintf(stderr, "recgated: keystore rotation: %s\n", err);
		return -1;
	}
	/* The old file is kept on disk first: after a crash, start-up puts
	 * it back unless this exchange's entry (and the changed file's hash,
	 * rg_ksj_mark below) committed. */
	if (rg_ksj_begin(kp->cfg.keystore, kp->ks_undo, kp->ks_undo_len, err,
	                 sizeof(err)) != 0) {
		fprintf(stderr, "recgated: keystore rotation: %s\n", err);
		free(kp->ks_undo);
		kp->ks_undo = NULL;
		return -1;
	}
	if (rg_keystore_secret_protect(kp->secret, 1) != 0)
		abort(); /* guarded memory that cannot be reprotected */
	next = change(ctx, kp->cfg.keystore, kp->secret, err, sizeof(err));
	if (rg_keystore_secret_protect(kp->secret, 0) != 0)
		abort(); /* the secret must not stay readable */
	if (next == NULL) {
		fprintf(stderr, "recgated: keystore rotation failed: %s\n", err);
		/* The file is unchanged: nothing to put back at start-up. */
		if (rg_ksj_end(kp->cfg.keystore, err, sizeof(err)) != 0)
			fprintf(stderr, "recgated: %s\n", err);
		free(kp->ks_undo);
		kp->ks_undo = NULL;
		return -1;
	}
	kp->ks_next = next;
	if (rg_ksj_mark(kp->st, kp->cfg.keystore, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgated: keystore rotation: %s\n", err);
		rg_admin_rotation_end(kp, 0);
		return -1;
	}
	rg_crashpoint("rotation.keystore_written");
	return 0;
}

/*
 * POST /v1/admin/signing-key/rotate. The keystore file is rewritten first
 * (new key active, old one retiring), so that once the announcing entry
 * commits the key it names is durable; the rotated keystore is put in use
 * when the batch commits (rg_admin_rotation_end), and the file is put back
 * if it does not. The entry names the new key and is signed by the old
 * key, as every receipt is, and by the new one (receipt.cosignatures).
 */
int
rg_ex_admin_signing_rotate(struct rg_exchange *ex)
{
	rg_keeper *kp = ex->kp;
	const char *origin = rg_keystore_origin(kp->ks);
	uint8_t pub[RG_SIG_PUBLEN];
	char vkey[600], kid[9], *pub64;
	uint32_t v = 0;
	int rc;

	if (!rg_admin_caller_ok(ex))
		return 0;
	rc = rg_admin_keystore_change(ex, 's', &v, NULL);
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	ex->rotated = 1; /* undone by rg_exchange_run if not entered */
	ex->cosign = rg_keystore_signing_key(kp->ks_next);
	rg_sigkey_public(ex->cosign, pub);
	snprintf(kid, sizeof(kid), "%08x", rg_sig_note_keyid(origin, pub));
	if (rg_admin_vkey(origin, pub, vkey, sizeof(vkey)) != 0 ||
	    (pub64 = rg_b64(pub, sizeof(pub))) == NULL)
		return -1; /* rg_exchange_run undoes the rotation */
	rc = rg_admin_allow(ex, json_pack("{s:{s:s, s:I, s:s, s:s}, s:{s:s, s:I}}",
	    "signing_key", "keyid", kid, "version", (json_int_t)v,
	    "public_key", pub64, "vkey", vkey,
	    "previous", "keyid", kp->gw_keyid, "version",
	    (json_int_t)rg_keystore_signing_version(kp->ks)));
	free(pub64);
	return rc;
}

/*
 * POST /v1/admin/kek/rotate: a new KEK wraps every data key from now on;
 * each data key is rewrapped in the keystore, online. The data keys do
 * not change, so every record reads as before (new data keys, and the
 * re-encryption of record bodies under them, are ex_datakeys.c's).
 */
int
rg_ex_admin_kek_rotate(struct rg_exchange *ex)
{
	rg_keeper *kp = ex->kp;
	uint32_t v = 0, old = rg_keystore_kek_version(kp->ks);
	size_t n = 0;
	int rc;

	if (!rg_admin_caller_ok(ex))
		return 0;
	if ((rc = rg_admin_keystore_change(ex, 'k', &v, &n)) != 0)
		return rc > 0 ? 0 : -1;
	/* Undone by rg_exchange_run if the entry is not appended. */
	ex->rotated = 1;
	return rg_admin_allow(ex, json_pack("{s:{s:I, s:I}, s:I}",
	    "kek", "version", (json_int_t)v, "previous", (json_int_t)old,
	    "rewrapped", (json_int_t)n));
}

int
rg_admin_cosign_receipt(struct rg_exchange *ex, json_t *receipt,
                        const uint8_t *entry, size_t len)
{
	uint8_t pub[RG_SIG_PUBLEN], sig[RG_SIG_LEN];
	char kid[9];
	json_t *list;

	rg_sigkey_public(ex->cosign, pub);
	snprintf(kid, sizeof(kid), "%08x",
	         rg_sig_note_keyid(rg_keystore_origin(ex->kp->ks), pub));
	if (rg_sig_sign(ex->cosign, entry, len, sig) != 0)
		return -1;
	list = json_pack("[{s:s, s:o}]", "keyid", kid, "signature",
	                 rg_json_b64(sig, sizeof(sig)));
	return list != NULL &&
	       json_object_set_new(receipt, "cosignatures", list) == 0 ? 0 : -1;
}

void
rg_admin_rotation_end(rg_keeper *kp, int committed)
{
	char err[512];

	rg_master_end(kp, committed); /* a new master secret goes with it */
	if (kp->ks_next == NULL)
		return;
	if (committed) {
		rg_keystore_free(kp->ks);
		kp->ks = kp->ks_next;
		rg_sigkey_public(rg_keystore_signing_key(kp->ks), kp->gw_pub);
		snprintf(kp->gw_keyid, sizeof(kp->gw_keyid), "%08x",
		         rg_sig_note_keyid(rg_keystore_origin(kp->ks), kp->gw_pub));
		fprintf(stderr, "recgated: rotated keystore in use (signing key "
		        "%s, KEK %u)\n", kp->gw_keyid,
		        (unsigned)rg_keystore_kek_version(kp->ks));
		/* A failure here leaves the undo file, which start-up settles
		 * as committed (the database names this file). */
		if (rg_ksj_end(kp->cfg.keystore, err, sizeof(err)) != 0)
			fprintf(stderr, "recgated: %s\n", err);
	} else {
		/* Not entered: the file goes back to what is in use. Should
		 * that fail, the undo file stays and start-up puts it back
		 * before any key in the changed file is used. */
		if (rg_keystore_restore(kp->cfg.keystore, kp->ks_undo,
		                        kp->ks_undo_len, err, sizeof(err)) != 0)
			fprintf(stderr, "recgated: WARNING: keystore rotation not "
			        "entered and not undone yet (start-up will put "
			        "the old file back): %s\n", err);
		else if (rg_ksj_end(kp->cfg.keystore, err, sizeof(err)) != 0)
			fprintf(stderr, "recgated: %s\n", err);
		rg_keystore_free(kp->ks_next);
	}
	kp->ks_next = NULL;
	free(kp->ks_undo);
	kp->ks_undo = NULL;
}

char *
rg_admin_cosign_note(rg_keeper *kp, const char *text, char *note)
{
	const rg_sigkey *prev = rg_keystore_signing_previous(kp->ks, NULL);
	char *other, *out;
	size_t skip = strlen(text) + 1, n1, n2;

	/* During the overlap the previous key signs every checkpoint too, so
	 * that a verifier that knows only it still follows the log. */
	if (prev == NULL || note == NULL)
		return note;
	other = rg_note_sign(text, rg_keystore_origin(kp->ks), prev);
	if (other == NULL || strlen(other) < skip) {
		free(other);
		free(note);
		return NULL;
	}
	n1 = strlen(note);
	n2 = strlen(other) - skip;
	if ((out = malloc(n1 + n2 + 1)) != NULL) {
		memcpy(out, note, n1);
		memcpy(out + n1, other + skip, n2 + 1);
	}
	free(other);
	free(note);
	return out;
}
