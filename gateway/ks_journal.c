/*
 * ks_journal.c -- the keystore's undo journal (see ks_journal.h). It only
 * moves whole sealed files: it never opens the keystore nor sees a key.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keystore.h"
#include "gateway/ks_journal.h"
#include "gateway/wfile.h"

#define RG_KSJ_META "keystore_sha256"

int
rg_ksj_undo_path(const char *keystore, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s.undo", keystore);

	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int
rg_ksj_pending(const char *keystore)
{
	char undo[PATH_MAX + 8];

	return rg_ksj_undo_path(keystore, undo, sizeof(undo)) == 0 &&
	       access(undo, F_OK) == 0;
}

int
rg_ksj_begin(const char *keystore, const uint8_t *old, size_t len,
             char *err, size_t errlen)
{
	char undo[PATH_MAX + 8];

	if (rg_ksj_undo_path(keystore, undo, sizeof(undo)) != 0) {
		snprintf(err, errlen, "keystore path too long");
		return -1;
	}
	/* Written like the keystore itself: temporary file, fsync, rename,
	 * fsync of the directory. */
	return rg_keystore_restore(undo, old, len, err, errlen);
}

/* SHA-256 of the file at path. 0 or -1. */
static int
rg_ksj_hash(const char *path, uint8_t out[32], char *err, size_t errlen)
{
	size_t len;
	uint8_t *bytes = rg_keystore_snapshot(path, &len, err, errlen);

	if (bytes == NULL)
		return -1;
	crypto_hash_sha256(out, bytes, len);
	free(bytes);
	return 0;
}

int
rg_ksj_mark(rg_store *st, const char *keystore, char *err, size_t errlen)
{
	uint8_t h[32];

	if (rg_ksj_hash(keystore, h, err, errlen) != 0)
		return -1;
	if (rg_store_meta_put(st, RG_KSJ_META, h, sizeof(h)) != RG_STORE_OK) {
		snprintf(err, errlen, "cannot record the keystore's hash: %s",
		         rg_store_errmsg(st));
		return -1;
	}
	return 0;
}

int
rg_ksj_end(const char *keystore, char *err, size_t errlen)
{
	char undo[PATH_MAX + 8];

	if (rg_ksj_undo_path(keystore, undo, sizeof(undo)) != 0 ||
	    (unlink(undo) != 0 && errno != ENOENT) ||
	    rg_wfile_sync_dir(undo) != 0) {
		snprintf(err, errlen, "cannot remove %s: %s", undo,
		         strerror(errno));
		return -1;
	}
	return 0;
}

int
rg_ksj_settle(const char *keystore, rg_store *st, int *outcome, char *err,
              size_t errlen)
{
	char undo[PATH_MAX + 8];
	uint8_t now[32], *old, *want = NULL;
	size_t oldlen, wantlen = 0;
	int committed;

	*outcome = RG_KSJ_NONE;
	if (!rg_ksj_pending(keystore))
		return 0;
	if (rg_ksj_hash(keystore, now, err, errlen) != 0)
		return -1;
	if (rg_store_meta_get(st, RG_KSJ_META, (void **)&want, &wantlen) !=
	    RG_STORE_OK)
		wantlen = 0; /* no change ever committed */
	committed = wantlen == sizeof(now) && sodium_memcmp(want, now, 32) == 0;
	free(want);
	if (!committed) {
		if (rg_ksj_undo_path(keystore, undo, sizeof(undo)) != 0 ||
		    (old = rg_keystore_snapshot(undo, &oldlen, err, errlen)) ==
		    NULL)
			return -1;
		if (rg_keystore_restore(keystore, old, oldlen, err, errlen) != 0) {
			free(old);
			return -1;
		}
		free(old);
	}
	if (rg_ksj_end(keystore, err, errlen) != 0)
		return -1;
	*outcome = committed ? RG_KSJ_KEPT : RG_KSJ_RESTORED;
	return 0;
}
