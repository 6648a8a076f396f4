/*
 * ctl_backup.c -- `recgatectl backup --config FILE --out DIR`: a copy of
 * a gateway's keystore and database that restores it as it was at one
 * moment, taken while it runs (or not). The database copy is one read
 * transaction of the live file (store_rekey.c, rg_store_backup); the
 * keystore copy is the file as it was before and after that transaction,
 * unchanged in between, with no online key change half done, and the one
 * the snapshot's database names when a key changed online (ks_journal.h).
 * A manifest gives both files' SHA-256 and what the snapshot holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/keystore.h"
#include "gateway/config.h"
#include "gateway/ctl_backup.h"
#include "gateway/ctl_keys.h"
#include "gateway/ks_journal.h"
#include "gateway/setup.h"
#include "gateway/store.h"
#include "gateway/wfile.h"

/* Tries before giving up on a keystore that keeps changing. */
#define RG_BACKUP_TRIES 5
#define RG_BACKUP_PAUSE_MS 200

struct rg_backup_opts {
	const char *config, *out, *master_key;
	int pass_fd;
};

static void
rg_backup_usage(void)
{
	fprintf(stderr,
	    "usage: recgatectl backup --config FILE --out DIR "
	    "[--master-key FILE | --passphrase-fd N]\n"
	    "       recgatectl restore --config FILE --from DIR "
	    "[--master-key FILE | --passphrase-fd N]\n"
	    "  backup: a new directory DIR (0700) with keystore, recgate.db and\n"
	    "  backup.json, taken while the gateway runs or not;\n"
	    "  restore: checks DIR and puts its keystore and database where the\n"
	    "  config says, with the gateway stopped and nothing there;\n"
	    "  --master-key: the master key file when the config's is not\n"
	    "  readable here (under systemd: /etc/recgate/master.key)\n");
	exit(2);
}

/* SHA-256 of a file, in hex (65 bytes with the NUL). 0 or -1. */
static int
rg_backup_file_sha256(const char *path, char hex[65])
{
	crypto_hash_sha256_state h;
	uint8_t buf[65536], out[32];
	FILE *f = fopen(path, "rb");
	size_t n;
	int bad;

	if (f == NULL)
		return -1;
	crypto_hash_sha256_init(&h);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_hash_sha256_update(&h, buf, n);
	bad = ferror(f);
	fclose(f);
	if (bad)
		return -1;
	crypto_hash_sha256_final(&h, out);
	sodium_bin2hex(hex, 65, out, sizeof(out));
	return 0;
}

/*
 * One try: the keystore's bytes, the database's snapshot, the keystore's
 * bytes again. 1 when they go together (*ks_bytes holds the keystore's),
 * 0 when the keystore changed meanwhile (try again), -1 on error.
 */
static int
rg_backup_try(const struct rg_config *cfg, const rg_keystore_secret *secret,
              const char *db_out, uint8_t **ks_bytes, size_t *ks_len,
              struct rg_store_backup_info *info, char *err, size_t errlen)
{
	uint8_t *before = NULL, *after = NULL, hash[32];
	size_t blen = 0, alen = 0;
	rg_keystore *ks = NULL;
	rg_store *st = NULL;
	int ret = -1;

	if (rg_ksj_pending(cfg->keystore))
		return 0; /* an online key change is half done */
	if ((before = rg_keystore_snapshot(cfg->keystore, &blen, err,
	                                   errlen)) == NULL ||
	    (ks = rg_keystore_open_secret(cfg->keystore, secret, err,
	                                  errlen)) == NULL ||
	    (st = rg_store_open_reader(cfg->database, rg_keystore_db_key(ks), err,
	                               errlen)) == NULL ||
	    rg_store_backup(st, rg_keystore_db_key(ks), db_out, info, err,
	                    errlen) != 0)
		goto out;
	rg_store_close(st);
	st = NULL;
	if ((after = rg_keystore_snapshot(cfg->keystore, &alen, err,
	                                  errlen)) == NULL)
		goto out;
	crypto_hash_sha256(hash, before, blen);
	if (blen != alen || memcmp(before, after, blen) != 0 ||
	    rg_ksj_pending(cfg->keystore) ||
	    (info->keystore_hashed &&
	     memcmp(hash, info->keystore_sha256, sizeof(hash)) != 0)) {
		(void)rg_store_rekey_discard(db_out);
		ret = 0;
		goto out;
	}
	*ks_bytes = before;
	*ks_len = blen;
	before = NULL;
	ret = 1;
out:
	if (ret < 0)
		(void)rg_store_rekey_discard(db_out);
	rg_store_close(st);
	rg_keystore_free(ks);
	free(before);
	free(after);
	return ret;
}

static int
rg_backup_manifest(const struct rg_backup_opts *o,
                   const struct rg_store_backup_info *info, char *err,
                   size_t errlen)
{
	char path[4200], db_hex[65], ks_hex[65], when[32], text[8192];
	time_t now = time(NULL);
	struct tm tm;

	snprintf(path, sizeof(path), "%s/recgate.db", o->out);
	if (rg_backup_file_sha256(path, db_hex) != 0) {
		snprintf(err, errlen, "%s: cannot read it back", path);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/keystore", o->out);
	if (rg_backup_file_sha256(path, ks_hex) != 0) {
		snprintf(err, errlen, "%s: cannot read it back", path);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(text, sizeof(text),
	         "{\"format\": \"recgate-backup-1\", \"taken\": \"%s\",\n"
	         " \"database\": {\"file\": \"recgate.db\", \"bytes\": %lld, "
	         "\"sha256\": \"%s\", \"page_size\": %d,\n"
	         "              \"records\": %lld, \"audit_entries\": %lld},\n"
	         " \"keystore\": {\"file\": \"keystore\", \"sha256\": \"%s\"}}\n",
	         when, (long long)info->bytes, db_hex, info->page_size,
	         (long long)info->records, (long long)info->audit_entries, ks_hex);
	snprintf(path, sizeof(path), "%s/backup.json", o->out);
	return rg_wfile_new(path, text, strlen(text), 0600, err, errlen);
}

static int
rg_backup_run(const struct rg_backup_opts *o)
{
	struct rg_store_backup_info info;
	struct rg_config cfg;
	rg_keystore_secret *secret = NULL;
	uint8_t *ks_bytes = NULL;
	size_t ks_len = 0;
	char err[8192], db_out[4200], ks_out[4200];
	int got = 0, rc = 1;

	rg_config_defaults(&cfg);
	if (rg_config_load(o->config, &cfg, err, sizeof(err)) != 0)
		goto fail;
	if (o->master_key != NULL)
		snprintf(cfg.master_key_file, sizeof(cfg.master_key_file), "%s",
		         o->master_key);
	if ((secret = rg_ctl_keys_secret(&cfg, o->pass_fd, "Keystore passphrase: ",
	                                 err, sizeof(err))) == NULL ||
	    rg_setup_dir_new(o->out, err, sizeof(err)) != 0)
		goto fail;
	snprintf(db_out, sizeof(db_out), "%s/recgate.db", o->out);
	snprintf(ks_out, sizeof(ks_out), "%s/keystore", o->out);
	for (int i = 0; i < RG_BACKUP_TRIES && got == 0; i++) {
		struct timespec ts = {0, RG_BACKUP_PAUSE_MS * 1000000L};

		if (i > 0)
			nanosleep(&ts, NULL);
		got = rg_backup_try(&cfg, secret, db_out, &ks_bytes, &ks_len, &info,
		                    err, sizeof(err));
	}
	if (got == 0)
		snprintf(err, sizeof(err), "the keystore changed during each of %d "
		         "tries (a key rotation under way?); try again",
		         RG_BACKUP_TRIES);
	if (got != 1 ||
	    rg_wfile_new(ks_out, ks_bytes, ks_len, 0600, err, sizeof(err)) != 0 ||
	    rg_backup_manifest(o, &info, err, sizeof(err)) != 0)
		goto fail_made;
	printf("recgatectl: backup: %s: %lld records, %lld audit entries, "
	       "database %lld bytes, keystore %zu bytes (backup.json has their "
	       "SHA-256); the master secret is not in it\n", o->out,
	       (long long)info.records, (long long)info.audit_entries,
	       (long long)info.bytes, ks_len);
	rc = 0;
	goto out;
fail_made:
	/* No half backup is left to be taken for a whole one. */
	(void)rg_store_rekey_discard(db_out);
	(void)unlink(ks_out);
	snprintf(ks_out, sizeof(ks_out), "%s/backup.json", o->out);
	(void)unlink(ks_out);
	(void)rmdir(o->out);
fail:
	fprintf(stderr, "recgatectl: backup: %s\n", err);
out:
	rg_keystore_secret_free(secret);
	free(ks_bytes);
	return rc;
}

/* --config FILE, DIR_OPT DIR (into o->out), --master-key FILE,
 * --passphrase-fd N. 0, or -1 (usage). */
static int
rg_backup_parse(int argc, char **argv, const char *dir_opt,
                struct rg_backup_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->pass_fd = -1;
	for (int i = 0; i < argc; i++) {
		if (i + 1 >= argc)
			return -1;
		if (strcmp(argv[i], "--config") == 0)
			o->config = argv[++i];
		else if (strcmp(argv[i], dir_opt) == 0)
			o->out = argv[++i];
		else if (strcmp(argv[i], "--master-key") == 0)
			o->master_key = argv[++i];
		else if (strcmp(argv[i], "--passphrase-fd") == 0 &&
		         rg_ctl_keys_fd(argv[i + 1], &o->pass_fd) == 0)
			i++;
		else
			return -1;
	}
	return o->config != NULL && o->out != NULL ? 0 : -1;
}

int
rg_ctl_backup(int argc, char **argv)
{
	struct rg_backup_opts o;

	if (rg_backup_parse(argc, argv, "--out", &o) != 0)
		rg_backup_usage();
	return rg_backup_run(&o);
}

/* ---- restore ---------------------------------------------------------- */

/* The manifest's recorded SHA-256 of member ("database" or "keystore"). */
static int
rg_restore_manifest_hash(json_t *m, const char *member, char hex[65])
{
	const char *h = json_string_value(json_object_get(json_object_get(m,
	                                                  member), "sha256"));

	if (h == NULL || strlen(h) != 64)
		return -1;
	memcpy(hex, h, 65);
	return 0;
}

/* Copy src to the new file tmp (0600), synced. 0 or -1 with err. */
static int
rg_restore_stage(const char *src, const char *tmp, char *err, size_t errlen)
{
	uint8_t buf[65536];
	FILE *in = fopen(src, "rb");
	int out, bad = 0;
	size_t n;

	if (in == NULL) {
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		return -1;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		fclose(in);
		return -1;
	}
	while (!bad && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		for (size_t off = 0; off < n && !bad;) {
			ssize_t w = write(out, buf + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			bad = w < 0;
			off += w > 0 ? (size_t)w : 0;
		}
	bad = bad || ferror(in) || fsync(out) != 0;
	if (close(out) != 0)
		bad = 1;
	fclose(in);
	if (bad) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* Nothing at path (the restore never replaces a file). */
static int
rg_restore_absent(const char *path, const char *suffix, char *err,
                  size_t errlen)
{
	char p[4300];

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	if (access(p, F_OK) == 0) {
		snprintf(err, errlen, "%s exists: move the gateway's present "
		         "files aside first (a restore replaces nothing)", p);
		return -1;
	}
	return 0;
}

/* The backup in dir is whole: its manifest's format, and each file's
 * SHA-256 as the manifest gives it. Sets the file paths. 0 or -1. */
static int
rg_restore_check_files(const char *dir, char *db, char *ks, size_t len,
                       json_t **manifest, char *err, size_t errlen)
{
	char path[4300], want[65], got[65];
	json_error_t je;

	snprintf(path, sizeof(path), "%s/backup.json", dir);
	*manifest = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (*manifest == NULL ||
	    strcmp(json_string_value(json_object_get(*manifest, "format")) ?
	           json_string_value(json_object_get(*manifest, "format")) : "",
	           "recgate-backup-1") != 0) {
		snprintf(err, errlen, "%s: not a recgate backup manifest", path);
		return -1;
	}
	if (snprintf(db, len, "%s/recgate.db", dir) >= (int)len ||
	    snprintf(ks, len, "%s/keystore", dir) >= (int)len) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (rg_restore_manifest_hash(*manifest, "database", want) != 0 ||
	    rg_backup_file_sha256(db, got) != 0 || strcmp(want, got) != 0) {
		snprintf(err, errlen, "%s does not match backup.json", db);
		return -1;
	}
	if (rg_restore_manifest_hash(*manifest, "keystore", want) != 0 ||
	    rg_backup_file_sha256(ks, got) != 0 || strcmp(want, got) != 0) {
		snprintf(err, errlen, "%s does not match backup.json", ks);
		return -1;
	}
	return 0;
}

/*
 * What the restored gateway enters in its audit log at its next start
 * (RG_STORE_META_RESTORED, keeper_restore.c): which backup (the SHA-256 of
 * its backup.json, which names both files' hashes), when it was taken,
 * what it held and when it was restored. NULL on error; caller frees.
 */
static char *
rg_restore_marker(const char *dir, json_t *manifest)
{
	json_t *d = json_object_get(manifest, "database"), *m;
	char path[4200], man_hex[65], db_hex[65], ks_hex[65], when[32];
	const char *taken = json_string_value(json_object_get(manifest, "taken"));
	struct timespec ts;
	struct tm tm;
	char *text;

	snprintf(path, sizeof(path), "%s/backup.json", dir);
	if (rg_backup_file_sha256(path, man_hex) != 0 ||
	    rg_restore_manifest_hash(manifest, "database", db_hex) != 0 ||
	    rg_restore_manifest_hash(manifest, "keystore", ks_hex) != 0)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	m = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I}",
	              "backup_sha256", man_hex, "taken", taken != NULL ? taken : "",
	              "database_sha256", db_hex, "keystore_sha256", ks_hex,
	              "records", json_integer_value(json_object_get(d, "records")),
	              "audit_entries",
	              json_integer_value(json_object_get(d, "audit_entries")),
	              "restored", when, "restored_ms",
	              (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (m == NULL)
		return NULL;
	text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	return text;
}

/* The restored database opens as the gateway opens it, passes its quick
 * check and holds what the manifest says; then the marker goes in, for
 * the gateway to enter the restore in its audit log. 0 or -1 with err. */
static int
rg_restore_check_db(const char *path, const uint8_t *key, json_t *manifest,
                    const char *marker, int64_t *records, int64_t *audit,
                    char *err, size_t errlen)
{
	json_t *d = json_object_get(manifest, "database");
	char oerr[512];
	rg_store *st = rg_store_open(path, key, 0, oerr, sizeof(oerr));
	int ok, marked = 0;

	if (st == NULL) {
		snprintf(err, errlen, "the restored database does not open: %s",
		         oerr);
		return -1;
	}
	ok = rg_store_check_counts(st, records, audit) == 0 &&
	     *records == json_integer_value(json_object_get(d, "records")) &&
	     *audit == json_integer_value(json_object_get(d, "audit_entries"));
	if (ok) {
		marked = rg_store_begin(st) == RG_STORE_OK &&
		         rg_store_meta_put(st, RG_STORE_META_RESTORED, marker,
		                           strlen(marker)) == RG_STORE_OK &&
		         rg_store_commit(st) == RG_STORE_OK;
		if (!marked) {
			snprintf(err, errlen, "cannot mark the restored database: %s",
			         rg_store_errmsg(st));
			(void)rg_store_rollback(st);
		}
	}
	rg_store_close(st);
	if (!ok) {
		snprintf(err, errlen, "the restored database fails its check or "
		         "holds other rows than backup.json says");
		return -1;
	}
	return marked ? 0 : -1;
}

static int
rg_restore_run(const struct rg_backup_opts *o)
{
	struct rg_config cfg, from;
	rg_keystore_secret *secret = NULL;
	rg_keystore *ks = NULL;
	json_t *manifest = NULL;
	char *marker = NULL;
	char err[8192], db[PATH_MAX], ksf[PATH_MAX], db_tmp[4400], ks_tmp[4400];
	int64_t records = 0, audit = 0;
	int linked_db = 0, linked_ks = 0, rc = 1;

	db_tmp[0] = ks_tmp[0] = '\0';
	rg_config_defaults(&cfg);
	if (rg_config_load(o->config, &cfg, err, sizeof(err)) != 0)
		goto fail;
	if (o->master_key != NULL)
		snprintf(cfg.master_key_file, sizeof(cfg.master_key_file), "%s",
		         o->master_key);
	if (rg_restore_check_files(o->out, db, ksf, sizeof(db), &manifest, err,
	                           sizeof(err)) != 0 ||
	    rg_restore_absent(cfg.keystore, "", err, sizeof(err)) != 0 ||
	    rg_restore_absent(cfg.keystore, ".undo", err, sizeof(err)) != 0 ||
	    rg_restore_absent(cfg.database, "", err, sizeof(err)) != 0 ||
	    rg_restore_absent(cfg.database, "-wal", err, sizeof(err)) != 0 ||
	    rg_restore_absent(cfg.database, "-shm", err, sizeof(err)) != 0)
		goto fail;
	/* The secret the backup's keystore asks for, and the database key it
	 * holds must open the backup's database. */
	from = cfg;
	snprintf(from.keystore, sizeof(from.keystore), "%s", ksf);
	if ((secret = rg_ctl_keys_secret(&from, o->pass_fd,
	                                 "Keystore passphrase: ", err,
	                                 sizeof(err))) == NULL ||
	    (ks = rg_keystore_open_secret(ksf, secret, err, sizeof(err))) == NULL)
		goto fail;
	if (rg_store_key_opens(db, rg_keystore_db_key(ks), err, sizeof(err)) !=
	    1) {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "the backup's keystore does not "
			         "open its database");
		goto fail;
	}
	if (rg_setup_data_dir(cfg.data_dir, err, sizeof(err)) != 0)
		goto fail;
	snprintf(db_tmp, sizeof(db_tmp), "%s.restore", cfg.database);
	snprintf(ks_tmp, sizeof(ks_tmp), "%s.restore", cfg.keystore);
	if (rg_restore_stage(db, db_tmp, err, sizeof(err)) != 0) {
		db_tmp[0] = '\0';
		goto fail;
	}
	if (rg_restore_stage(ksf, ks_tmp, err, sizeof(err)) != 0) {
		ks_tmp[0] = '\0';
		goto fail;
	}
	/* link, not rename: a file that appeared meanwhile is refused. */
	if (link(db_tmp, cfg.database) != 0) {
		snprintf(err, sizeof(err), "%s: %s", cfg.database, strerror(errno));
		goto fail;
	}
	linked_db = 1;
	if (link(ks_tmp, cfg.keystore) != 0) {
		snprintf(err, sizeof(err), "%s: %s", cfg.keystore, strerror(errno));
		goto fail;
	}
	linked_ks = 1;
	if (rg_wfile_sync_dir(cfg.database) != 0 ||
	    rg_wfile_sync_dir(cfg.keystore) != 0) {
		snprintf(err, sizeof(err), "cannot sync the data directory: %s",
		         strerror(errno));
		goto fail;
	}
	if ((marker = rg_restore_marker(o->out, manifest)) == NULL) {
		snprintf(err, sizeof(err), "cannot read %s/backup.json back", o->out);
		goto fail;
	}
	if (rg_restore_check_db(cfg.database, rg_keystore_db_key(ks), manifest,
	                        marker, &records, &audit, err, sizeof(err)) != 0 ||
	    rg_setup_own_like(cfg.keystore, cfg.data_dir, err, sizeof(err)) != 0 ||
	    rg_setup_own_like(cfg.database, cfg.data_dir, err, sizeof(err)) != 0)
		goto fail;
	printf("recgatectl: restore: %s and %s restored from %s: %lld records, "
	       "%lld audit entries\n"
	       "recgatectl: restore: the audit log goes on from size %lld, "
	       "where the gateway enters the restore (admin.restore) when it "
	       "starts; a checkpoint signed after the backup is not consistent "
	       "with it: tell the security officers\n", cfg.keystore,
	       cfg.database, o->out, (long long)records, (long long)audit,
	       (long long)audit);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "recgatectl: restore: %s\n", err);
	/* Nothing half restored is left for the gateway to start on. */
	if (linked_ks)
		(void)unlink(cfg.keystore);
	if (linked_db)
		(void)rg_store_rekey_discard(cfg.database);
out:
	if (db_tmp[0] != '\0')
		(void)unlink(db_tmp);
	if (ks_tmp[0] != '\0')
		(void)unlink(ks_tmp);
	rg_keystore_free(ks);
	rg_keystore_secret_free(secret);
	json_decref(manifest);
	free(marker);
	return rc;
}

int
rg_ctl_restore(int argc, char **argv)
{
	struct rg_backup_opts o;

	if (rg_backup_parse(argc, argv, "--from", &o) != 0)
		rg_backup_usage();
	return rg_restore_run(&o);
}
