/*
 * ctl_master.c -- `recgatectl keys passphrase --online` and `keys
 * master-file NEWFILE --online`: the master secret changed while the
 * gateway runs, as an audited administrator exchange.
 *
 * This file owns the administrator's side: it proves it knows the current
 * secret (it must open the keystore), derives the new master itself (the
 * gateway never sees a passphrase), pins the gateway's signing key to the
 * keystore's own, and seals both masters to that key (master_box.h). It
 * must never print or send a secret in the clear.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/b64.h"
#include "crypto/keystore.h"
#include "crypto/sig.h"
#include "gateway/client.h"
#include "gateway/config.h"
#include "gateway/ctl_keys.h"
#include "gateway/ctl_master.h"
#include "gateway/master_box.h"

/* A new passphrase shorter than this is refused (as offline). */
#define RG_CTL_MASTER_MINPASS 8

struct rg_ctl_master_opts {
	const char *cmd;        /* "passphrase" or "master-file" */
	const char *config;
	const char *newfile;
	const char *url;
	const char *key;        /* the administrator's key file */
	int pass_fd;
	int new_pass_fd;
	const char *master_key; /* --master-key: the current key file */
};

static void
rg_ctl_master_usage(void)
{
	fprintf(stderr,
	    "usage: recgatectl keys passphrase --online --config FILE --url URL "
	    "--key ADMIN_KEYFILE\n"
	    "                  [--passphrase-fd N] [--new-passphrase-fd N]\n"
	    "       recgatectl keys master-file NEWFILE --online --config FILE "
	    "--url URL\n"
	    "                  --key ADMIN_KEYFILE [--passphrase-fd N]\n"
	    "       (--master-key FILE: the current master key file, when the "
	    "config names a\n       systemd credential)\n"
	    "Reseals the running gateway's keystore under a new master secret. "
	    "The current\nsecret must open the keystore named in FILE; the new "
	    "one goes to the gateway\nsealed to its signing key.\n");
	exit(2);
}

/* The current secret, as the keystore's header asks for it. */
static rg_keystore_secret *
rg_ctl_master_current(const struct rg_config *cfg,
                      const struct rg_ctl_master_opts *o, char *err,
                      size_t errlen)
{
	struct rg_config at = *cfg;

	/* Under systemd the config names the service's credential. */
	if (o->master_key != NULL)
		snprintf(at.master_key_file, sizeof(at.master_key_file), "%s",
		         o->master_key);
	return rg_ctl_keys_secret(&at, o->pass_fd, "Current keystore passphrase: ",
	                          err, errlen);
}

/* The new secret, ready to seal (a passphrase through Argon2id with a
 * fresh salt). *created: NEWFILE was made here. */
static rg_keystore_secret *
rg_ctl_master_next(const struct rg_ctl_master_opts *o, int *created,
                   char *err, size_t errlen)
{
	rg_keystore_secret *s, *d;
	struct stat sb;

	*created = 0;
	if (o->newfile != NULL) {
		if (lstat(o->newfile, &sb) != 0) {
			if (errno != ENOENT) {
				snprintf(err, errlen, "%s: %s", o->newfile,
				         strerror(errno));
				return NULL;
			}
			if (rg_keystore_new_master(o->newfile, err, errlen) != 0)
				return NULL;
			*created = 1;
		}
		return rg_keystore_secret_keyfile(o->newfile, err, errlen);
	}
	s = o->new_pass_fd >= 0
	    ? rg_keystore_secret_passphrase_fd(o->new_pass_fd, err, errlen)
	    : rg_keystore_secret_passphrase_tty("New keystore passphrase: ", 1,
	                                        err, errlen);
	if (s == NULL)
		return NULL;
	if (rg_keystore_secret_len(s) < RG_CTL_MASTER_MINPASS) {
		snprintf(err, errlen, "the new passphrase must be at least %d "
		         "characters", RG_CTL_MASTER_MINPASS);
		rg_keystore_secret_free(s);
		return NULL;
	}
	d = rg_keystore_secret_derive(s, err, errlen);
	rg_keystore_secret_free(s);
	return d;
}

/*
 * The gateway's active signing key from GET /v1/keys must be the
 * keystore's own: the new secret is sealed to it, so a wrong URL (another
 * gateway, or something in between) gets nothing it can open.
 */
static int
rg_ctl_master_pin(const char *host, int port, const char *keyid,
                  const uint8_t pub[RG_SIG_PUBLEN], char *err, size_t errlen)
{
	struct rg_client_resp resp = {0};
	char authority[300], *raw;
	const char *kid, *pub64;
	uint8_t got[RG_SIG_PUBLEN];
	size_t rawlen, glen = 0;
	json_t *doc = NULL, *first;
	int ret = -1;

	snprintf(authority, sizeof(authority), "%s:%d", host, port);
	raw = rg_client_build(authority, NULL, "GET", "/v1/keys", NULL, NULL, 0,
	                      NULL, &rawlen);
	if (raw == NULL) {
		snprintf(err, errlen, "cannot build the request");
		return -1;
	}
	if (rg_client_send(host, port, raw, rawlen, &resp, err, errlen) != 0) {
		free(raw);
		return -1;
	}
	free(raw);
	if (resp.status == 200)
		doc = json_loads(resp.body, 0, NULL);
	first = json_array_get(json_object_get(doc, "keys"), 0);
	kid = json_string_value(json_object_get(first, "keyid"));
	pub64 = json_string_value(json_object_get(first, "public_key"));
	if (kid == NULL || pub64 == NULL ||
	    rg_b64_decode(pub64, strlen(pub64), got, sizeof(got), &glen) != 0 ||
	    glen != sizeof(got)) {
		snprintf(err, errlen, "GET /v1/keys: no active signing key in the "
		         "answer (HTTP %d)", resp.status);
	} else if (strcmp(kid, keyid) != 0 ||
	           sodium_memcmp(got, pub, sizeof(got)) != 0) {
		snprintf(err, errlen, "the gateway's active signing key %s is not "
		         "the keystore's (%s): another gateway, or a rotation in "
		         "between; nothing was sent", kid, keyid);
	} else {
		ret = 0;
	}
	json_decref(doc);
	free(resp.body);
	return ret;
}

/* Sign and send the change; prints the answer. 0 done, 1 refused, 2 no
 * answer or a server error (outcome unknown). */
static int
rg_ctl_master_send(const char *host, int port, const char *keyfile,
                   const char *body)
{
	struct rg_client_key key = {0};
	struct rg_client_resp resp = {0};
	char authority[300], err[1024];
	size_t rawlen;
	char *raw;
	int rc = 1;

	if (rg_client_key_load(keyfile, &key, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		return 1;
	}
	snprintf(authority, sizeof(authority), "%s:%d", host, port);
	raw = rg_client_build(authority, &key, "POST", "/v1/admin/master-secret",
	                      NULL, (const uint8_t *)body, strlen(body), NULL,
	                      &rawlen);
	rg_client_key_clear(&key);
	if (raw == NULL) {
		fprintf(stderr, "recgatectl: cannot build the request\n");
		return 1;
	}
	if (rg_client_send(host, port, raw, rawlen, &resp, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		rc = 2;
	} else {
		printf("%s\n", resp.body);
		if (resp.status >= 200 && resp.status <= 299)
			rc = 0;
		else
			fprintf(stderr, "recgatectl: HTTP %d\n", resp.status);
		/* A refusal (4xx) changed nothing; a server error may have
		 * come after the file was resealed (the keeper died). */
		if (resp.status >= 500)
			rc = 2;
		free(resp.body);
	}
	free(raw);
	return rc;
}

/* What the administrator must do before the next restart. */
static void
rg_ctl_master_after(const struct rg_config *cfg,
                    const struct rg_ctl_master_opts *o, int created)
{
	printf("recgatectl: the running gateway's keystore %s is now sealed "
	       "under the new %s%s\n", cfg->keystore,
	       o->newfile != NULL ? "master key file " : "passphrase",
	       o->newfile != NULL ? o->newfile : "");
	if (created)
		printf("recgatectl: %s is a new random master key: keep it as "
		       "safe as the keystore\n", o->newfile);
	if (o->newfile != NULL && cfg->master_key_file[0] == '\0') {
		printf("recgatectl: before the next restart, in %s replace "
		       "passphrase_fd with master_key_file = %s (or the systemd "
		       "credential that hands it over); the passphrase no longer "
		       "opens the keystore\n", o->config, o->newfile);
	} else if (o->newfile != NULL) {
		if (strcmp(cfg->master_key_file, o->newfile) != 0)
			printf("recgatectl: before the next restart, install %s "
			       "where master_key_file points (or the systemd "
			       "credential it names), or set master_key_file = "
			       "%s in %s; the old key file no longer opens the "
			       "keystore\n", o->newfile, o->newfile, o->config);
	} else if (cfg->master_key_file[0] != '\0') {
		printf("recgatectl: before the next restart, in %s replace "
		       "master_key_file with passphrase_fd = N and hand the new "
		       "passphrase on that descriptor\n", o->config);
	} else {
		printf("recgatectl: from the next restart on, hand the new "
		       "passphrase on passphrase_fd\n");
	}
}

static int
rg_ctl_master_run(const struct rg_config *cfg,
                  const struct rg_ctl_master_opts *o)
{
	struct rg_master_change *c = NULL;
	struct rg_keystore_kdf curp;
	rg_keystore_secret *cur = NULL, *curd = NULL, *next = NULL;
	rg_keystore *ks = NULL;
	uint8_t pub[RG_SIG_PUBLEN], *file = NULL;
	char err[1024] = "", host[256], keyid[9], *sealed = NULL, *body = NULL;
	size_t len = 0;
	json_t *j;
	int port, created = 0, rc = 1;

	if (rg_client_parse_url(o->url, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "recgatectl: --url %s: expected http://HOST:PORT\n",
		        o->url);
		return 1;
	}
	/* The current secret, as the master that opens this very file: the
	 * gateway checks it against the file before changing anything. */
	if ((cur = rg_ctl_master_current(cfg, o, err, sizeof(err))) == NULL ||
	    (curd = rg_keystore_secret_derive_for(cfg->keystore, cur, err,
	                                          sizeof(err))) == NULL ||
	    (file = rg_keystore_snapshot(cfg->keystore, &len, err,
	                                 sizeof(err))) == NULL ||
	    (ks = rg_keystore_open_secret(cfg->keystore, curd, err,
	                                  sizeof(err))) == NULL) {
		fprintf(stderr, "recgatectl: keys: %s\n", err);
		goto out;
	}
	rg_sigkey_public(rg_keystore_signing_key(ks), pub);
	snprintf(keyid, sizeof(keyid), "%08x",
	         rg_sig_note_keyid(rg_keystore_origin(ks), pub));
	if (rg_ctl_master_pin(host, port, keyid, pub, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: keys: %s\n", err);
		goto out;
	}
	if ((next = rg_ctl_master_next(o, &created, err, sizeof(err))) == NULL) {
		fprintf(stderr, "recgatectl: keys: %s\n", err);
		goto out;
	}
	if ((c = sodium_malloc(sizeof(*c))) == NULL ||
	    rg_keystore_secret_export(next, c->next_master, &c->next) != 0 ||
	    rg_keystore_secret_export(curd, c->current_master, &curp) != 0) {
		fprintf(stderr, "recgatectl: keys: out of memory\n");
		goto out;
	}
	crypto_hash_sha256(c->file_sha256, file, len);
	if ((sealed = rg_master_box_seal(c, pub)) == NULL ||
	    (j = json_pack("{s:s, s:s}", "to", keyid, "sealed", sealed)) == NULL) {
		fprintf(stderr, "recgatectl: keys: cannot seal the new secret\n");
		goto out;
	}
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (body == NULL)
		goto out;
	rc = rg_ctl_master_send(host, port, o->key, body);
	if (rc == 0) {
		rg_ctl_master_after(cfg, o, created);
		created = 0;
	} else if (rc == 2) {
		fprintf(stderr, "recgatectl: no answer: the change committed only "
		        "if the audit log holds its admin.master.change entry; "
		        "until you know, keep both secrets%s%s\n",
		        created ? ": the new one is " : "",
		        created ? o->newfile : "");
		created = 0;
		rc = 1;
	}
out:
	/* A fresh secret that seals nothing must not be mistaken for the
	 * one that does. */
	if (created && o->newfile != NULL)
		(void)unlink(o->newfile);
	if (c != NULL)
		sodium_free(c);
	rg_keystore_free(ks);
	rg_keystore_secret_free(cur);
	rg_keystore_secret_free(curd);
	rg_keystore_secret_free(next);
	free(file);
	free(sealed);
	free(body);
	return rc;
}

int
rg_ctl_master_online(int argc, char **argv)
{
	struct rg_ctl_master_opts o = {NULL, NULL, NULL, NULL, NULL, -1, -1};
	const struct rlimit nocore = {0, 0};
	struct rg_config cfg;
	char err[1024] = "";
	int i = 1;

	if (argc < 1)
		rg_ctl_master_usage();
	o.cmd = argv[0];
	if (strcmp(o.cmd, "master-file") == 0) {
		if (argc < 2 || argv[1][0] == '-')
			rg_ctl_master_usage();
		o.newfile = argv[1];
		i = 2;
	} else if (strcmp(o.cmd, "passphrase") != 0) {
		rg_ctl_master_usage();
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--online") == 0)
			continue;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			o.config = argv[++i];
		else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			o.url = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			o.key = argv[++i];
		else if (strcmp(argv[i], "--master-key") == 0 && i + 1 < argc)
			o.master_key = argv[++i];
		else if (strcmp(argv[i], "--passphrase-fd") == 0 && i + 1 < argc &&
		         rg_ctl_keys_fd(argv[i + 1], &o.pass_fd) == 0)
			i++;
		else if (strcmp(argv[i], "--new-passphrase-fd") == 0 &&
		         i + 1 < argc && o.newfile == NULL &&
		         rg_ctl_keys_fd(argv[i + 1], &o.new_pass_fd) == 0)
			i++;
		else
			rg_ctl_master_usage();
	}
	if (o.config == NULL || o.url == NULL || o.key == NULL)
		rg_ctl_master_usage();
	/* This process is about to hold two master secrets. */
	if (setrlimit(RLIMIT_CORE, &nocore) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "recgatectl: cannot disable core dumps: %s\n",
		        strerror(errno));
		return 1;
	}
	rg_config_defaults(&cfg);
	if (rg_config_load(o.config, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		return 1;
	}
	return rg_ctl_master_run(&cfg, &o);
}
