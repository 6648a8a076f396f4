/*
 * dbrekey.c -- the keeper's online database rekey (see dbrekey.h): the
 * order of the keystore and file steps, the pause, the audit entry of the
 * outcome, and finishing at start-up what a crash interrupted. It never
 * handles key bytes but through the keystore's guarded memory, and never
 * runs inside a batch.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gateway/crashpoint.h"
#include "gateway/dbrekey.h"
#include "gateway/keeper_int.h"

/* The database key version the last rekeyed entry names, in the same
 * transaction as that entry: it says the entry is in. */
#define RG_DBREKEY_META "dbkey_version"

static int64_t
rg_dbrekey_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* DATABASE.rekey: the copy, beside the database (same file system, so
 * that the rename is atomic; inside the keeper's Landlock directory). */
static int
rg_dbrekey_tmp(const rg_keeper *kp, char *out, size_t outlen)
{
	return snprintf(out, outlen, "%s.rekey", kp->cfg.database) <
	       (int)outlen ? 0 : -1;
}

uint32_t
rg_dbrekey_next_version(const rg_keystore *ks)
{
	struct rg_keystore_info in;
	uint32_t v = 0;

	for (size_t i = 0; rg_keystore_info(ks, i, &in) == 0; i++)
		if (in.purpose == RG_KEYSTORE_DATABASE && in.version > v)
			v = in.version;
	return v + 1;
}

rg_store *
rg_dbrekey_open_store(rg_keeper *kp, const rg_keystore *ks, char *err,
                      size_t errlen)
{
	const uint8_t *prev;
	uint32_t pv = 0;
	char kerr[512];
	rg_store *st;

	kp->dbrekey.open_version = rg_keystore_db_version(ks);
	prev = rg_keystore_db_previous(ks, &pv);
	/* Only a rekey cut short leaves two keys: the database is under
	 * the active one (renamed) or still the previous one. */
	if (prev != NULL &&
	    rg_store_key_opens(kp->cfg.database, rg_keystore_db_key(ks), kerr,
	                       sizeof(kerr)) == 0 &&
	    rg_store_key_opens(kp->cfg.database, prev, kerr, sizeof(kerr)) == 1) {
		st = rg_store_open_live(kp->cfg.database, prev, err, errlen);
		if (st != NULL)
			kp->dbrekey.open_version = pv;
		return st;
	}
	return rg_store_open_live(kp->cfg.database, rg_keystore_db_key(ks), err,
	                          errlen);
}

/* Replace kp->ks by next (loaded from the file just written). */
static void
rg_dbrekey_use(rg_keeper *kp, rg_keystore *next)
{
	rg_keystore_free(kp->ks);
	kp->ks = next;
}

/* Keep version in_use as the only database key. On failure the file
 * still holds both; the next start settles it. */
static void
rg_dbrekey_settle(rg_keeper *kp, uint32_t in_use)
{
	rg_keystore *next;
	char err[512];

	if (kp->secret == NULL) {
		fprintf(stderr, "recgated: WARNING: no master secret to settle "
		        "the database keys with\n");
		return;
	}
	if (rg_keystore_secret_protect(kp->secret, 1) != 0)
		abort(); /* guarded memory that cannot be reprotected */
	next = rg_keystore_db_settle(kp->cfg.keystore, kp->secret, in_use, err,
	                             sizeof(err));
	if (rg_keystore_secret_protect(kp->secret, 0) != 0)
		abort(); /* the secret must not stay readable */
	if (next == NULL) {
		fprintf(stderr, "recgated: WARNING: database key %u kept, but the "
		        "other one is still in the keystore (settled at the next "
		        "start): %s\n", (unsigned)in_use, err);
		return;
	}
	rg_dbrekey_use(kp, next);
}

/*
 * Enter the outcome in its own transaction (the keeper is between
 * batches). ok: with meta dbkey_version = version. 0 or -1 (logged; the
 * outcome stays in the keystore and the files).
 */
static int
rg_dbrekey_enter(rg_keeper *kp, json_t *e, int ok, uint32_t version)
{
	uint64_t before = kp->audit_size;
	char v[16];
	int n;

	kp->dbrekey.last_entry = 0; /* not entered (0 is never this entry) */
	if (e == NULL)
		return -1;
	n = snprintf(v, sizeof(v), "%u", (unsigned)version);
	if (rg_audit_enter_alone(kp, e, ok ? RG_DBREKEY_META : NULL, v,
	                         (size_t)n) != 0) {
		fprintf(stderr, "recgated: the database rekey's entry was not "
		        "entered: %s\n", rg_store_errmsg(kp->st));
		return -1;
	}
	kp->dbrekey.last_entry = before;
	return 0;
}

/* admin.dbkey.failed: nothing changed but a destroyed key version. */
static void
rg_dbrekey_failed(rg_keeper *kp, const char *step, const char *why,
                  uint32_t tried, uint32_t kept, int64_t pause_ms,
                  int at_start)
{
	struct rg_dbrekey *d = &kp->dbrekey;
	int64_t now = rg_keeper_now_ms();
	json_t *e;

	fprintf(stderr, "recgated: database rekey failed (%s): %s; the database "
	        "stays under key %u\n", step, why, (unsigned)kept);
	d->last = -1;
	d->last_for = at_start ? -1 : (int64_t)d->index;
	d->last_version = tried;
	d->last_time_ms = now;
	d->last_pause_ms = pause_ms;
	d->last_pages = d->last_bytes = 0;
	snprintf(d->last_step, sizeof(d->last_step), "%s", step);
	e = json_pack("{s:I, s:s, s:s, s:s, s:{s:I, s:I}, s:s, s:s, s:I}",
	              "time", (json_int_t)now, "action", "admin.dbkey.failed",
	              "decision", "reject", "reason", "rekey_failed",
	              "database_key", "version", (json_int_t)tried, "kept",
	              (json_int_t)kept, "step", step, "message", why,
	              "pause_ms", (json_int_t)pause_ms);
	(void)rg_dbrekey_enter(kp, e, 0, kept);
}

/* admin.dbkey.rekeyed. */
static int
rg_dbrekey_rekeyed(rg_keeper *kp, uint32_t version, uint32_t previous,
                   const struct rg_store_rekey_info *info, int64_t pause_ms,
                   int at_start)
{
	struct rg_dbrekey *d = &kp->dbrekey;
	int64_t now = rg_keeper_now_ms();
	json_t *e;

	e = json_pack("{s:I, s:s, s:s, s:s, s:{s:I, s:I}, s:I, s:I, s:I, s:I, "
	              "s:I, s:I, s:b}",
	              "time", (json_int_t)now, "action", "admin.dbkey.rekeyed",
	              "decision", "allow", "reason", "ok_admin",
	              "database_key", "version", (json_int_t)version, "previous",
	              (json_int_t)previous, "pages", (json_int_t)info->pages,
	              "bytes", (json_int_t)info->bytes, "page_size",
	              (json_int_t)info->page_size, "records",
	              (json_int_t)info->records, "audit_entries",
	              (json_int_t)info->audit_entries, "pause_ms",
	              (json_int_t)pause_ms, "verified", 1);
	/* Finished at start-up after the rename, the copy's figures are
	 * not known any more: left out rather than entered as 0. */
	if (e != NULL && info->pages == 0) {
		json_object_del(e, "pages");
		json_object_del(e, "page_size");
		json_object_del(e, "records");
		json_object_del(e, "audit_entries");
	}
	if (e != NULL && at_start)
		json_object_set_new(e, "at_start", json_true());
	if (e != NULL && !at_start)
		json_object_set_new(e, "scheduled_by", json_integer(
		                    (json_int_t)d->index));
	/* The outcome stands whether or not its entry goes in (a start
	 * enters it then). */
	d->last = 1;
	d->last_for = at_start ? -1 : (int64_t)d->index;
	d->last_version = version;
	d->last_time_ms = now;
	d->last_pause_ms = pause_ms;
	d->last_pages = info->pages;
	d->last_bytes = info->bytes;
	d->last_step[0] = '\0';
	return rg_dbrekey_enter(kp, e, 1, version);
}

/*
 * Steps 2 to 4, with the keystore already holding the new key (active)
 * and the one the open database is under (previous). t0: when the pause
 * began.
 */
static void
rg_dbrekey_carry(rg_keeper *kp, int64_t t0, int at_start)
{
	struct rg_store_rekey_info info;
	const uint8_t *old_key;
	uint32_t new_v, old_v = 0;
	char tmp[PATH_MAX], err[512];
	rg_store *st;
	int rc;

	new_v = rg_keystore_db_version(kp->ks);
	old_key = rg_keystore_db_previous(kp->ks, &old_v);
	if (old_key == NULL || rg_dbrekey_tmp(kp, tmp, sizeof(tmp)) != 0) {
		rg_dbrekey_failed(kp, "export", "no previous key or path too long",
		                  new_v, kp->dbrekey.open_version,
		                  rg_dbrekey_mono_ms() - t0, at_start);
		return;
	}
	if (rg_store_rekey_export(kp->st, tmp, rg_keystore_db_key(kp->ks),
	                          old_key, &info, err, sizeof(err)) != 0) {
		rg_dbrekey_settle(kp, old_v);
		rg_dbrekey_failed(kp, "export", err, new_v, old_v,
		                  rg_dbrekey_mono_ms() - t0, at_start);
		return;
	}
	rg_crashpoint("dbkey.exported");
	rg_store_close(kp->st);
	kp->st = NULL;
	rc = rg_store_rekey_swap(kp->cfg.database, tmp, err, sizeof(err));
	if (rc < 0) {
		/* Nothing renamed: the old file under the old key goes on. */
		kp->st = rg_store_open_live(kp->cfg.database, old_key, err,
		                            sizeof(err));
		if (kp->st == NULL) {
			fprintf(stderr, "recgated: the database does not open "
			        "again: %s\n", err);
			abort(); /* restart: the start-up settles it */
		}
		(void)rg_store_rekey_discard(tmp);
		rg_dbrekey_settle(kp, old_v);
		rg_dbrekey_failed(kp, "swap", err, new_v, old_v,
		                  rg_dbrekey_mono_ms() - t0, at_start);
		return;
	}
	if (rc > 0)
		fprintf(stderr, "recgated: WARNING: %s\n", err);
	rg_crashpoint("dbkey.renamed");
	st = rg_store_open_live(kp->cfg.database, rg_keystore_db_key(kp->ks),
	                        err, sizeof(err));
	if (st == NULL) {
		/* It opened in the check a moment ago: a broken invariant. */
		fprintf(stderr, "recgated: the rekeyed database does not open: "
		        "%s\n", err);
		abort();
	}
	kp->st = st;
	kp->dbrekey.open_version = new_v;
	if (rg_dbrekey_rekeyed(kp, new_v, old_v, &info,
	                       rg_dbrekey_mono_ms() - t0, at_start) != 0)
		return; /* old key kept in the file; the next start settles */
	rg_crashpoint("dbkey.done");
	rg_dbrekey_settle(kp, new_v);
	fprintf(stderr, "recgated: database rekeyed to key %u (%lld pages, "
	        "pause %lld ms)\n", (unsigned)new_v, (long long)info.pages,
	        (long long)kp->dbrekey.last_pause_ms);
}

/* The committed entry at index is the administrator's rotate request. */
static int
rg_dbrekey_entry_is_ours(rg_keeper *kp, uint64_t index)
{
	uint8_t leaf[32], *entry = NULL;
	size_t len = 0;
	json_t *e;
	int ok;

	if (index >= kp->committed_size ||
	    rg_store_audit_get(kp->st, index, &entry, &len, leaf) != RG_STORE_OK)
		return 0;
	e = json_loadb((const char *)entry, len, 0, NULL);
	free(entry);
	ok = e != NULL && json_is_string(json_object_get(e, "action")) &&
	     strcmp(json_string_value(json_object_get(e, "action")),
	            "admin.dbkey.rotate") == 0 &&
	     json_is_string(json_object_get(e, "decision")) &&
	     strcmp(json_string_value(json_object_get(e, "decision")),
	            "allow") == 0;
	json_decref(e);
	return ok;
}

void
rg_dbrekey_run(rg_keeper *kp)
{
	struct rg_dbrekey *d = &kp->dbrekey;
	uint32_t version = 0, old_v;
	rg_keystore *next;
	char err[512];
	int64_t t0;

	if (!d->scheduled || kp->in_batch)
		return;
	d->scheduled = 0;
	if (kp->secret == NULL)
		return; /* never scheduled so (ex_dbkey.c refuses) */
	/* The batch holding the request did not commit (or another entry
	 * took its place): nothing was promised. */
	if (!rg_dbrekey_entry_is_ours(kp, d->index))
		return;
	t0 = rg_dbrekey_mono_ms();
	old_v = rg_keystore_db_version(kp->ks);
	if (rg_keystore_secret_protect(kp->secret, 1) != 0)
		abort(); /* guarded memory that cannot be reprotected */
	next = rg_keystore_rotate_db(kp->cfg.keystore, kp->secret, &version, err,
	                             sizeof(err));
	if (rg_keystore_secret_protect(kp->secret, 0) != 0)
		abort(); /* the secret must not stay readable */
	if (next == NULL) {
		rg_dbrekey_failed(kp, "keystore", err, rg_dbrekey_next_version(
		                  kp->ks), old_v, rg_dbrekey_mono_ms() - t0, 0);
		return;
	}
	rg_crashpoint("dbkey.keystore_written");
	rg_dbrekey_use(kp, next);
	rg_dbrekey_carry(kp, t0, 0);
}

int
rg_dbrekey_recover(rg_keeper *kp, char *err, size_t errlen)
{
	struct rg_dbrekey *d = &kp->dbrekey;
	char tmp[PATH_MAX], *have = NULL;
	uint32_t active = rg_keystore_db_version(kp->ks), prev_v = 0;
	size_t len = 0;
	int entered;

	if (rg_dbrekey_tmp(kp, tmp, sizeof(tmp)) != 0) {
		snprintf(err, errlen, "database path too long");
		return -1;
	}
	/* A copy a crash left half-written (or never renamed) is garbage;
	 * one that cannot be removed only costs the next rekey its try. */
	if (rg_store_rekey_discard(tmp) != 0)
		fprintf(stderr, "recgated: WARNING: cannot remove %s\n", tmp);
	if (rg_keystore_db_previous(kp->ks, &prev_v) == NULL)
		return 0;
	if (d->open_version != active) {
		/* Cut short before the rename: the database is under the
		 * previous key; carry the rekey to its end now. */
		fprintf(stderr, "recgated: finishing a database rekey a stop "
		        "interrupted (key %u to %u)\n", (unsigned)prev_v,
		        (unsigned)active);
		rg_dbrekey_carry(kp, rg_dbrekey_mono_ms(), 1);
		return kp->st != NULL ? 0 : -1;
	}
	/* Renamed already: the entry may be in; the old key must go. */
	entered = rg_store_meta_get(kp->st, RG_DBREKEY_META, (void **)&have,
	                            &len) == RG_STORE_OK;
	if (entered) {
		char v[16];

		snprintf(v, sizeof(v), "%u", (unsigned)active);
		entered = len == strlen(v) && memcmp(have, v, len) == 0;
	}
	free(have);
	if (!entered) {
		struct rg_store_rekey_info info = {0};
		struct stat sb;

		if (stat(kp->cfg.database, &sb) == 0)
			info.bytes = (int64_t)sb.st_size;
		if (rg_dbrekey_rekeyed(kp, active, prev_v, &info, 0, 1) != 0) {
			snprintf(err, errlen, "cannot enter the finished database "
			         "rekey");
			return -1;
		}
	}
	rg_dbrekey_settle(kp, active);
	fprintf(stderr, "recgated: a database rekey to key %u was finished at "
	        "start-up\n", (unsigned)active);
	return 0;
}
