/*
 * ex_master.c -- POST /v1/admin/master-secret: the keystore resealed under
 * a new master secret while the gateway runs, the keys inside untouched.
 * This file owns that exchange and the swap of the keeper's kept secret.
 * It must never write a secret into an entry, a reply or a log line: the
 * entry says what kind of secret seals the file now, and its cost.
 *
 * Why the caller sends the new master already derived and the current one
 * too (master_box.h): the keeper never sees a passphrase nor runs Argon2id
 * for it; knowing the administrator's key is not enough to lock everyone
 * out of the keystore, the caller must also know the secret that opens it
 * now; and the message is bound to one state of the file, so a replay is
 * stale.
 *
 * Order, and which secret opens the keystore after a crash (kill -9):
 *   1. the old file is kept as KEYSTORE.undo (ks_journal.h), the file is
 *      resealed under the new secret and reopened with it; crash points
 *      "rotation.keystore_written", "master.keystore_written": the entry
 *      did not commit, so start-up puts the old file back: the OLD secret
 *      (started with the new one, the gateway says so and stops);
 *   2. the entry and the new file's hash commit; crash point
 *      "rotation.committed": the NEW secret (started with the old one,
 *      the gateway says so and stops);
 *   3. kp->secret becomes the new one (rg_master_end).
 * In short: the new secret exactly when the log holds the
 * admin.master.change entry. If the batch fails instead, the old file is
 * put back at once (rg_admin_rotation_end).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "gateway/crashpoint.h"
#include "gateway/exchange_int.h"
#include "gateway/master_box.h"

static const char *
rg_master_kind(int kind)
{
	return kind == RG_KEYSTORE_KDF_PASSPHRASE ? "passphrase" : "keyfile";
}

/* {"kdf"[, "opslimit", "memlimit"]}: what seals, never the secret. */
static json_t *
rg_master_describe(const struct rg_keystore_kdf *p)
{
	json_t *o = json_pack("{s:s}", "kdf", rg_master_kind(p->kind));

	if (o != NULL && p->kind == RG_KEYSTORE_KDF_PASSPHRASE &&
	    (json_object_set_new(o, "opslimit",
	                         json_integer((json_int_t)p->ops)) != 0 ||
	     json_object_set_new(o, "memlimit",
	                         json_integer((json_int_t)p->mem)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The body's two members, or refused (NULL). */
static json_t *
rg_master_body(struct rg_exchange *ex, const char **to, const char **sealed)
{
	static const char *const allowed[] = {"to", "sealed", NULL};
	json_t *body = rg_ex_body(ex, 1, allowed);

	if (body == NULL)
		return NULL;
	*to = json_string_value(json_object_get(body, "to"));
	*sealed = json_string_value(json_object_get(body, "sealed"));
	if (*to == NULL || *sealed == NULL) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL,
		             *to == NULL ? "to" : "sealed", "a string is required");
		json_decref(body);
		return NULL;
	}
	return body;
}

/* The old and the new secret, for rg_master_file. */
struct rg_master_ctx {
	const rg_keystore_secret *old, *next;
};

/*
 * rg_admin_keystore_apply's change: reseal under the new secret (the
 * caller's current one opens the file; the kept one is not needed) and
 * verify by reopening before anything depends on it.
 */
static rg_keystore *
rg_master_file(void *arg, const char *path, const rg_keystore_secret *kept,
               char *err, size_t errlen)
{
	const struct rg_master_ctx *m = arg;

	(void)kept;
	if (rg_keystore_rewrite(path, m->old, m->next, err, errlen) != 0)
		return NULL;
	return rg_keystore_open_secret(path, m->next, err, errlen);
}

/*
 * Check the message against the file, then reseal through the keystore
 * journal (ex_admin.c). 0 done (ks_next and secret_next set), 1 refused
 * (recorded in ex), -1 failed with the file as it was.
 */
static int
rg_master_reseal(struct rg_exchange *ex, const struct rg_master_change *c,
                 struct rg_keystore_kdf *cur)
{
	rg_keeper *kp = ex->kp;
	const char *path = kp->cfg.keystore;
	struct rg_master_ctx m = {NULL, NULL};
	rg_keystore_secret *old = NULL, *next = NULL;
	rg_keystore *check = NULL;
	uint8_t *file = NULL, hash[32];
	size_t len = 0;
	char err[512];
	int ret = -1;

	if ((file = rg_keystore_snapshot(path, &len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "recgated: master secret change: %s\n", err);
		return -1;
	}
	crypto_hash_sha256(hash, file, len);
	free(file);
	if (sodium_memcmp(hash, c->file_sha256, sizeof(hash)) != 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_MASTER_STALE, "keystore_changed",
		             "sealed", "made for another state of the keystore "
		             "(replayed, or a rotation came between): seal it again");
		return 1;
	}
	if (rg_keystore_file_kdf_params(path, cur, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgated: master secret change: %s\n", err);
		return -1;
	}
	if ((old = rg_keystore_secret_derived(c->current_master, cur, err,
	                                      sizeof(err))) == NULL)
		goto out;
	if ((next = rg_keystore_secret_derived(c->next_master, &c->next, err,
	                                       sizeof(err))) == NULL) {
		rg_ex_refuse(ex, "reject", RG_ERR_SEALED_INVALID, NULL, "sealed",
		             "the new secret's parameters are out of range");
		ret = 1;
		goto out;
	}
	/* Only who knows the secret that opens the file now may change it. */
	if ((check = rg_keystore_open_secret(path, old, err, sizeof(err))) == NULL) {
		rg_ex_refuse(ex, "deny", RG_ERR_MASTER_WRONG, NULL, "sealed",
		             NULL);
		ret = 1;
		goto out;
	}
	rg_keystore_free(check);
	if (c->next.kind == cur->kind &&
	    sodium_memcmp(c->next_master, c->current_master,
	                  RG_KEYSTORE_MASTERLEN) == 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, "master_unchanged",
		             "sealed", "the new master secret is the current one");
		ret = 1;
		goto out;
	}
	m.old = old;
	m.next = next;
	if ((ret = rg_admin_keystore_apply(ex, rg_master_file, &m)) != 0)
		goto out;
	if (rg_keystore_secret_protect(next, 0) != 0)
		abort(); /* the secret must not stay readable */
	kp->secret_next = next;
	next = NULL;
out:
	rg_keystore_secret_free(old);
	rg_keystore_secret_free(next);
	return ret;
}

int
rg_ex_admin_master(struct rg_exchange *ex)
{
	rg_keeper *kp = ex->kp;
	struct rg_master_change *c = NULL;
	struct rg_keystore_kdf cur;
	const char *to = NULL, *sealed = NULL;
	json_t *body, *change = NULL;
	int rc = -1;

	if (!rg_admin_caller_ok(ex))
		return 0;
	if ((body = rg_master_body(ex, &to, &sealed)) == NULL)
		return 0;
	if (kp->ks_next != NULL || kp->secret_next != NULL) {
		rg_ex_refuse(ex, "reject", RG_ERR_ADMIN_CONFLICT,
		             "rotation_pending", NULL,
		             "a rotation is waiting for its batch to commit");
		rc = 0;
		goto out;
	}
	if (strcmp(to, kp->gw_keyid) != 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_MASTER_STALE,
		             "signing_key_changed", "to",
		             "sealed to another key than the active signing key");
		rc = 0;
		goto out;
	}
	if ((c = sodium_malloc(sizeof(*c))) == NULL)
		goto out;
	if (rg_master_box_open(sealed, strlen(sealed),
	                       rg_keystore_signing_key(kp->ks), c) != 0) {
		rg_ex_refuse(ex, "reject", RG_ERR_SEALED_INVALID, NULL, "sealed",
		             NULL);
		rc = 0;
		goto out;
	}
	memset(&cur, 0, sizeof(cur));
	if ((rc = rg_master_reseal(ex, c, &cur)) != 0) {
		rc = rc > 0 ? 0 : -1;
		goto out;
	}
	ex->rotated = 1; /* undone by rg_exchange_run if not entered */
	rg_crashpoint("master.keystore_written");
	fprintf(stderr, "recgated: keystore resealed under a new %s, in use "
	        "once its entry commits\n", rg_master_kind(c->next.kind));
	change = json_pack("{s:o, s:o}", "master", rg_master_describe(&c->next),
	                   "previous", rg_master_describe(&cur));
	if (change == NULL) {
		rc = -1; /* rg_exchange_run undoes the change */
		goto out;
	}
	ex->admin = change;
	ex->result = json_deep_copy(change);
	ex->decision = "allow";
	ex->reason = "ok_admin";
	rc = ex->result != NULL ? 0 : -1;
out:
	if (c != NULL)
		sodium_free(c); /* wipes */
	json_decref(body);
	return rc;
}

void
rg_master_end(rg_keeper *kp, int committed)
{
	if (kp->secret_next == NULL)
		return;
	if (committed) {
		/* The old secret opens nothing on disk any more. */
		rg_keystore_secret_free(kp->secret);
		kp->secret = kp->secret_next;
		fprintf(stderr, "recgated: master secret changed; the keeper "
		        "reseals with the new one from now on\n");
	} else {
		rg_keystore_secret_free(kp->secret_next);
	}
	kp->secret_next = NULL;
}
