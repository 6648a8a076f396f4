/*
 * keeper_keys.c -- the keeper's keys at start-up: unlock the keystore,
 * open the database with its key, and settle an online keystore change
 * that a crash cut short, so that the keys in use are always the ones the
 * audit log announced. It never prints key material.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "crypto/keystore.h"
#include "gateway/keeper_int.h"
#include "gateway/ks_journal.h"

int
rg_keeper_open_keys(rg_keeper *kp, char *err, size_t errlen)
{
	const struct rg_config *cfg = &kp->cfg;
	char kerr[512], undo[PATH_MAX + 8];
	rg_keystore *ks;
	int from_undo = 0, outcome;

	if (rg_keystore_secret_protect(kp->secret, 1) != 0) {
		snprintf(err, errlen, "cannot read the master secret");
		return -1;
	}
	ks = rg_keystore_open_secret(cfg->keystore, kp->secret, kerr,
	                             sizeof(kerr));
	/* A change to a new master secret that did not commit leaves the
	 * file under the new secret and the old file as the undo file: the
	 * configured (old) secret opens that one. */
	if (ks == NULL && rg_ksj_pending(cfg->keystore) &&
	    rg_ksj_undo_path(cfg->keystore, undo, sizeof(undo)) == 0) {
		ks = rg_keystore_open_secret(undo, kp->secret, kerr, sizeof(kerr));
		from_undo = ks != NULL;
	}
	if (ks == NULL) {
		(void)rg_keystore_secret_protect(kp->secret, 0);
		/* A readable keystore that the configured secret does not
		 * open: after an online master-secret change (ex_master.c)
		 * that is the expected mistake, so say so. */
		snprintf(err, errlen, "%s%s", kerr,
		         rg_keystore_file_kdf(cfg->keystore, NULL, 0) > 0
		         ? " (wrong secret, or the master secret was changed "
		           "online: the keystore then opens only with the new "
		           "one; start with it)" : "");
		return -1;
	}
	/* The active database key, or the previous one of a rekey a crash
	 * cut short (dbrekey.c finishes it once the keeper is open). */
	kp->st = rg_dbrekey_open_store(kp, ks, kerr, sizeof(kerr));
	if (kp->st == NULL) {
		(void)rg_keystore_secret_protect(kp->secret, 0);
		rg_keystore_free(ks);
		snprintf(err, errlen, "%s", kerr);
		return -1;
	}
	if (rg_ksj_settle(cfg->keystore, kp->st, &outcome, kerr,
	                  sizeof(kerr)) != 0) {
		(void)rg_keystore_secret_protect(kp->secret, 0);
		rg_keystore_free(ks);
		snprintf(err, errlen, "cannot settle an interrupted keystore "
		         "change: %s", kerr);
		return -1;
	}
	if (outcome == RG_KSJ_KEPT && from_undo) {
		(void)rg_keystore_secret_protect(kp->secret, 0);
		rg_keystore_free(ks);
		snprintf(err, errlen, "the keystore was resealed under a new "
		         "master secret just before the gateway stopped: start it "
		         "with the new secret");
		return -1;
	}
	if (outcome == RG_KSJ_RESTORED) {
		fprintf(stderr, "recgated: a keystore change was interrupted "
		        "before its audit entry committed: the previous keystore "
		        "is back in use\n");
		rg_keystore_free(ks);
		ks = rg_keystore_open_secret(cfg->keystore, kp->secret, kerr,
		                             sizeof(kerr));
	} else if (outcome == RG_KSJ_KEPT) {
		fprintf(stderr, "recgated: an online keystore change committed "
		        "just before the gateway stopped; it stays in use\n");
	}
	if (rg_keystore_secret_protect(kp->secret, 0) != 0) {
		rg_keystore_free(ks);
		snprintf(err, errlen, "cannot protect the master secret");
		return -1;
	}
	if (ks == NULL) {
		/* The configured secret opened the changed file, not the one
		 * put back: a master-secret change that never committed. */
		snprintf(err, errlen, "%s%s", kerr, outcome == RG_KSJ_RESTORED
		         ? " (an online master-secret change did not commit "
		           "before the gateway stopped: the keystore is back "
		           "under the previous secret; start with that one)" : "");
		return -1;
	}
	kp->ks = ks;
	return 0;
}
