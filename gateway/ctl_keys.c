/*
 * ctl_keys.c -- `recgatectl keys ...`: list the keystore's keys and change
 * the master secret that seals it, offline.
 *
 * This file owns the command line only; the keystore does the cryptography.
 * It must never print key material: only ids, purposes, versions, statuses
 * and times. Passphrases come from the terminal or a descriptor, never from
 * the command line.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/keystore.h"
#include "gateway/config.h"
#include "gateway/ctl_admin.h"
#include "gateway/ctl_keys.h"
#include "gateway/ctl_master.h"

/* A new passphrase shorter than this is refused. */
#define RG_CTL_KEYS_MINPASS 8

struct rg_ctl_keys_opts {
	const char *config;
	const char *newfile;    /* master-file NEWFILE */
	int pass_fd;            /* --passphrase-fd: the current passphrase */
	int new_pass_fd;        /* --new-passphrase-fd: the new one */
	int no_use;             /* list --no-use: the keystore file alone */
	const char *master_key; /* --master-key: instead of the config's */
};

static void
rg_ctl_keys_usage(void)
{
	fprintf(stderr,
	    "usage: recgatectl keys list --config FILE [--passphrase-fd N] "
	    "[--no-use]\n"
	    "       recgatectl keys rewrite --config FILE [--passphrase-fd N]\n"
	    "       recgatectl keys passphrase --config FILE [--passphrase-fd N]"
	    " [--new-passphrase-fd N]\n"
	    "       recgatectl keys master-file NEWFILE --config FILE "
	    "[--passphrase-fd N]\n"
	    "       recgatectl keys rotate (signing|kek|database|data [RESOURCE]) "
	    "--url URL --key ADMIN_KEYFILE\n"
	    "       recgatectl keys (retire|destroy) (data RESOURCE|kek) VERSION "
	    "--url URL --key ADMIN_KEYFILE\n"
	    "       recgatectl keys reencrypt-status --url URL --key ADMIN_KEYFILE\n"
	    "The keystore is unlocked with the configured master key file (or "
	    "--master-key FILE:\nunder systemd the config names the service's "
	    "credential) or, when it is\nprotected by a passphrase, one read from "
	    "--passphrase-fd or the terminal.\nRun them with the gateway stopped; to change the "
	    "master secret of a running\ngateway add --online --url URL --key "
	    "ADMIN_KEYFILE to passphrase or master-file.\n");
	exit(2);
}

int
rg_ctl_keys_fd(const char *s, int *fd)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1023)
		return -1;
	*fd = (int)v;
	return 0;
}

/* The secret that opens the configured keystore, as its header asks. */
static rg_keystore_secret *
rg_ctl_keys_unlock(const struct rg_config *cfg,
                   const struct rg_ctl_keys_opts *o, char *err, size_t errlen)
{
	return rg_ctl_keys_secret(cfg, o->pass_fd, "Keystore passphrase: ", err,
	                          errlen);
}

rg_keystore_secret *
rg_ctl_keys_secret(const struct rg_config *cfg, int pass_fd,
                   const char *prompt, char *err, size_t errlen)
{
	int kdf = rg_keystore_file_kdf(cfg->keystore, err, errlen);

	if (kdf == RG_KEYSTORE_KDF_KEYFILE) {
		if (cfg->master_key_file[0] == '\0') {
			snprintf(err, errlen, "the keystore is sealed under a "
			         "master key file but the config sets no "
			         "master_key_file");
			return NULL;
		}
		return rg_keystore_secret_keyfile(cfg->master_key_file, err,
		                                  errlen);
	}
	if (kdf != RG_KEYSTORE_KDF_PASSPHRASE)
		return NULL;
	if (pass_fd >= 0)
		return rg_keystore_secret_passphrase_fd(pass_fd, err, errlen);
	return rg_keystore_secret_passphrase_tty(prompt, 0, err, errlen);
}

static const char *
rg_ctl_keys_purpose(const struct rg_keystore_info *in, char *buf, size_t len)
{
	switch (in->purpose) {
	case RG_KEYSTORE_SIGNING:
		return "signing";
	case RG_KEYSTORE_DATABASE:
		return "database";
	case RG_KEYSTORE_KEK:
		return "kek";
	default:
		snprintf(buf, len, "data:%s", in->resource);
		return buf;
	}
}

static const char *
rg_ctl_keys_status(int status)
{
	switch (status) {
	case RG_KEYSTORE_ACTIVE:
		return "active";
	case RG_KEYSTORE_RETIRING:
		return "retiring";
	case RG_KEYSTORE_RETIRED:
		return "retired";
	default:
		return "destroyed";
	}
}

/* Unix seconds as ISO 8601 UTC; "-" for 0 (unknown or none). */
static const char *
rg_ctl_keys_time(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "-";
	return buf;
}

static int
rg_ctl_keys_list(const struct rg_config *cfg, const struct rg_ctl_keys_opts *o)
{
	char err[1024] = "", purpose[300], created[32], notafter[32], used[32];
	char wrapped[32], records[24];
	struct rg_ctl_key_use *use;
	struct rg_keystore_info in;
	rg_keystore_secret *s;
	rg_keystore *ks;

	if ((s = rg_ctl_keys_unlock(cfg, o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "recgatectl: keys: %s\n", err);
		return 1;
	}
	ks = rg_keystore_open_secret(cfg->keystore, s, err, sizeof(err));
	rg_keystore_secret_free(s);
	if (ks == NULL) {
		fprintf(stderr, "recgatectl: keys: %s\n", err);
		return 1;
	}
	printf("keystore %s: format %d, sealed under a %s, origin %s\n",
	       cfg->keystore, rg_keystore_format(ks),
	       rg_keystore_kdf(ks) == RG_KEYSTORE_KDF_PASSPHRASE ?
	       "passphrase" : "master key file", rg_keystore_origin(ks));
	/* Use comes from the database; without it the list still shows
	 * every key, with the use the file recorded. */
	use = o->no_use ? NULL : calloc(rg_keystore_count(ks) + 1, sizeof(*use));
	if (use != NULL && rg_ctl_keys_use(cfg->database, ks, use, err,
	                                     sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: keys: use not shown: %s\n", err);
		free(use);
		use = NULL;
	}
	printf("%-36s %-38s %-7s %-9s %-20s %-20s %-20s %-8s %s\n", "ID",
	       "PURPOSE", "VERSION", "STATUS", "CREATED", "NOT_AFTER",
	       "LAST_USED", "RECORDS", "WRAPPED_BY");
	for (size_t i = 0; i < rg_keystore_count(ks); i++) {
		uint64_t last;

		if (rg_keystore_info(ks, i, &in) != 0)
			break;
		if (in.kek_version != 0)
			snprintf(wrapped, sizeof(wrapped), "kek-%u", in.kek_version);
		else
			snprintf(wrapped, sizeof(wrapped), "-");
		last = in.last_used;
		if (use != NULL && use[i].last_ms / 1000 > (int64_t)last)
			last = (uint64_t)(use[i].last_ms / 1000);
		if (in.purpose == RG_KEYSTORE_DATA && use != NULL)
			snprintf(records, sizeof(records), "%lld",
			         (long long)use[i].records);
		else
			snprintf(records, sizeof(records), "-");
		printf("%-36s %-38s %-7u %-9s %-20s %-20s %-20s %-8s %s\n", in.id,
		       rg_ctl_keys_purpose(&in, purpose, sizeof(purpose)),
		       in.version, rg_ctl_keys_status(in.status),
		       rg_ctl_keys_time(in.created, created, sizeof(created)),
		       rg_ctl_keys_time(in.not_after, notafter, sizeof(notafter)),
		       use != NULL && use[i].in_use ? "in use"
		       : rg_ctl_keys_time(last, used, sizeof(used)),
		       records, wrapped);
	}
	free(use);
	rg_keystore_free(ks);
	return 0;
}

/* Reseal under next (NULL: the same secret). */
static int
rg_ctl_keys_reseal(const struct rg_config *cfg,
                   const struct rg_ctl_keys_opts *o, rg_keystore_secret *next)
{
	char err[1024] = "";
	rg_keystore_secret *s;
	int rc;

	if ((s = rg_ctl_keys_unlock(cfg, o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "recgatectl: keys: %s\n", err);
		return 1;
	}
	rc = rg_keystore_rewrite(cfg->keystore, s, next != NULL ? next : s, err,
	                         sizeof(err));
	rg_keystore_secret_free(s);
	if (rc != 0) {
		fprintf(stderr, "recgatectl: keys: %s (the keystore is "
		        "unchanged)\n", err);
		return 1;
	}
	return 0;
}

static int
rg_ctl_keys_passphrase(const struct rg_config *cfg,
                       const struct rg_ctl_keys_opts *o)
{
	char err[1024] = "";
	rg_keystore_secret *next;
	int rc;

	if (o->new_pass_fd >= 0)
		next = rg_keystore_secret_passphrase_fd(o->new_pass_fd, err,
		                                        sizeof(err));
	else
		next = rg_keystore_secret_passphrase_tty(
		    "New keystore passphrase: ", 1, err, sizeof(err));
	if (next == NULL) {
		fprintf(stderr, "recgatectl: keys: %s\n", err);
		return 1;
	}
	if (rg_keystore_secret_len(next) < RG_CTL_KEYS_MINPASS) {
		fprintf(stderr, "recgatectl: keys: the new passphrase must be at "
		        "least %d characters\n", RG_CTL_KEYS_MINPASS);
		rg_keystore_secret_free(next);
		return 1;
	}
	rc = rg_ctl_keys_reseal(cfg, o, next);
	rg_keystore_secret_free(next);
	if (rc == 0) {
		printf("recgatectl: keystore %s now sealed under the new "
		       "passphrase\n", cfg->keystore);
		if (cfg->master_key_file[0] != '\0')
			printf("recgatectl: in %s, replace master_key_file with "
			       "passphrase_fd = N\n", o->config);
	}
	return rc;
}

static int
rg_ctl_keys_master_file(const struct rg_config *cfg,
                        const struct rg_ctl_keys_opts *o)
{
	char err[1024] = "";
	rg_keystore_secret *next;
	struct stat sb;
	int created = 0, rc;

	if (lstat(o->newfile, &sb) != 0) {
		if (errno != ENOENT ||
		    rg_keystore_new_master(o->newfile, err, sizeof(err)) != 0) {
			fprintf(stderr, "recgatectl: keys: %s\n",
			        err[0] != '\0' ? err : strerror(errno));
			return 1;
		}
		created = 1;
	}
	if ((next = rg_keystore_secret_keyfile(o->newfile, err,
	                                       sizeof(err))) == NULL) {
		fprintf(stderr, "recgatectl: keys: %s\n", err);
		rc = 1;
	} else {
		rc = rg_ctl_keys_reseal(cfg, o, next);
		rg_keystore_secret_free(next);
	}
	if (rc != 0) {
		/* A fresh secret that seals nothing must not be mistaken for
		 * the one that does. */
		if (created)
			unlink(o->newfile);
		return rc;
	}
	printf("recgatectl: keystore %s now sealed under %s%s\n", cfg->keystore,
	       o->newfile, created ? " (a new random master key)" : "");
	if (strcmp(cfg->master_key_file, o->newfile) != 0)
		printf("recgatectl: in %s, set master_key_file = %s\n", o->config,
		       o->newfile);
	return 0;
}

int
rg_ctl_keys(int argc, char **argv)
{
	struct rg_ctl_keys_opts o = {NULL, NULL, -1, -1, 0};
	const struct rlimit nocore = {0, 0};
	struct rg_config cfg;
	const char *cmd;
	char err[1024] = "";
	int i = 1, rc;

	if (argc < 1)
		rg_ctl_keys_usage();
	/* Rotations, retirements and the re-encryption's progress are
	 * changes to the running gateway: `keys rotate kek --url URL --key
	 * ADMIN_KEYFILE` is `admin --url URL --key ADMIN_KEYFILE rotate kek`. */
	if (strcmp(argv[0], "rotate") == 0 || strcmp(argv[0], "retire") == 0 ||
	    strcmp(argv[0], "destroy") == 0 ||
	    strcmp(argv[0], "reencrypt-status") == 0)
		return rg_ctl_admin(argc, argv);
	/* The same secrets changed against the running gateway instead. */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--online") == 0 &&
		    (strcmp(argv[0], "passphrase") == 0 ||
		     strcmp(argv[0], "master-file") == 0))
			return rg_ctl_master_online(argc, argv);
	i = 1;
	/* This process is about to hold every key: no core file, no ptrace
	 * by other processes of the same user. */
	if (setrlimit(RLIMIT_CORE, &nocore) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "recgatectl: cannot disable core dumps: %s\n",
		        strerror(errno));
		return 1;
	}
	cmd = argv[0];
	if (strcmp(cmd, "master-file") == 0) {
		if (argc < 2 || argv[1][0] == '-')
			rg_ctl_keys_usage();
		o.newfile = argv[1];
		i = 2;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			o.config = argv[++i];
		else if (strcmp(argv[i], "--master-key") == 0 && i + 1 < argc)
			o.master_key = argv[++i];
		else if (strcmp(argv[i], "--no-use") == 0 &&
		         strcmp(cmd, "list") == 0)
			o.no_use = 1;
		else if (strcmp(argv[i], "--passphrase-fd") == 0 && i + 1 < argc &&
		         rg_ctl_keys_fd(argv[i + 1], &o.pass_fd) == 0)
			i++;
		else if (strcmp(argv[i], "--new-passphrase-fd") == 0 &&
		         i + 1 < argc &&
		         rg_ctl_keys_fd(argv[i + 1], &o.new_pass_fd) == 0)
			i++;
		else
			rg_ctl_keys_usage();
	}
	if (o.config == NULL)
		rg_ctl_keys_usage();
	rg_config_defaults(&cfg);
	if (rg_config_load(o.config, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		return 1;
	}
	/* Under systemd the config names the service's credential, which
	 * only the running service can read. */
	if (o.master_key != NULL)
		snprintf(cfg.master_key_file, sizeof(cfg.master_key_file), "%s",
		         o.master_key);
	if (strcmp(cmd, "list") == 0)
		return rg_ctl_keys_list(&cfg, &o);
	if (strcmp(cmd, "rewrite") == 0) {
		if ((rc = rg_ctl_keys_reseal(&cfg, &o, NULL)) == 0)
			printf("recgatectl: keystore %s rewritten (format 2)\n",
			       cfg.keystore);
		return rc;
	}
	if (strcmp(cmd, "passphrase") == 0)
		return rg_ctl_keys_passphrase(&cfg, &o);
	if (strcmp(cmd, "master-file") == 0)
		return rg_ctl_keys_master_file(&cfg, &o);
	rg_ctl_keys_usage();
	return 2;
}
