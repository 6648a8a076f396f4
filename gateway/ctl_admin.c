/*
 * ctl_admin.c -- `recgatectl admin ...`: sign the administrator's requests
 * (/v1/admin/...) with its key and print the gateway's answer and receipt.
 * `key new` makes a department's next key pair here: the seed goes to a
 * 0600 file for the department and never to the gateway, which gets the
 * public key only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/sig.h"
#include "gateway/client.h"
#include "gateway/ctl_admin.h"
#include "gateway/ctl_dbkey.h"

static void
rg_admin_usage(void)
{
	fprintf(stderr,
	    "usage: recgatectl admin --url URL --key ADMIN_KEYFILE COMMAND\n"
	    "  key new --department DEPT --out FILE [--role ROLE]\n"
	    "                  make a key pair, write FILE (0600), register it\n"
	    "  key add --department DEPT --keyid KEYID --public-key BASE64 "
	    "[--role ROLE]\n"
	    "  key retire KEYID        refused from now on (after an overlap)\n"
	    "  key revoke KEYID        refused from now on (compromise)\n"
	    "  keys DEPT               a department's key ids and statuses\n"
	    "  department (suspend|reactivate) DEPT\n"
	    "  rotate signing          a new gateway signing key (announced in "
	    "the log)\n"
	    "  rotate kek              a new KEK; every data key rewrapped\n"
	    "  rotate database         a new database key (SQLCipher copy and\n"
	    "                          swap, a short pause); waits for the outcome\n"
	    "  rotate data [RESOURCE]  a new data key (every resource's when none\n"
	    "                          is named); records are re-encrypted under\n"
	    "                          it in the background\n"
	    "  reencrypt-status        the re-encryption's progress per resource\n"
	    "  (retire|destroy) data RESOURCE VERSION\n"
	    "  (retire|destroy) kek VERSION\n"
	    "                          retire a key nothing uses any more; destroy\n"
	    "                          a retired one (its bytes leave the keystore)\n");
	exit(2);
}

/* Sign and send; prints the body. 0 on a 2xx answer, 1 otherwise. */
static int
rg_admin_send(const char *url, const char *keyfile, const char *method,
              const char *path, const char *body)
{
	struct rg_client_key key = {0};
	struct rg_client_resp resp;
	char host[256], authority[300], err[1024], *raw;
	size_t rawlen;
	int port, rc = 1;

	if (rg_client_parse_url(url, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "recgatectl: --url %s: expected http://HOST:PORT\n",
		        url);
		return 1;
	}
	snprintf(authority, sizeof(authority), "%s:%d", host, port);
	if (rg_client_key_load(keyfile, &key, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		return 1;
	}
	raw = rg_client_build(authority, &key, method, path, NULL,
	                      (const uint8_t *)body, body ? strlen(body) : 0,
	                      NULL, &rawlen);
	rg_client_key_clear(&key);
	if (raw == NULL) {
		fprintf(stderr, "recgatectl: cannot build the request\n");
		return 1;
	}
	if (rg_client_send(host, port, raw, rawlen, &resp, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		rc = 2; /* outcome unknown */
	} else {
		printf("%s\n", resp.body);
		if (resp.status < 200 || resp.status > 299)
			fprintf(stderr, "recgatectl: HTTP %d\n", resp.status);
		else
			rc = 0;
		free(resp.body);
	}
	free(raw);
	return rc;
}

/* POST /v1/admin/keys; rc as rg_admin_send. */
static int
rg_admin_key_add(const char *url, const char *keyfile, const char *dept,
                 const char *keyid, const char *pub64, const char *role)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "department", dept, "keyid",
	                      keyid, "public_key", pub64);
	char *body;
	int rc;

	if (j != NULL && role != NULL)
		json_object_set_new(j, "role", json_string(role));
	body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (body == NULL)
		return 1;
	rc = rg_admin_send(url, keyfile, "POST", "/v1/admin/keys", body);
	free(body);
	return rc;
}

/*
 * `key new`: a fresh pair; the key file is written first (O_EXCL, 0600)
 * so that no key is registered whose seed was lost. A refused
 * registration removes the file again; an unknown outcome (no answer)
 * keeps it and says so.
 */
static int
rg_admin_key_new(const char *url, const char *keyfile, const char *dept,
                 const char *out, const char *role)
{
	struct rg_client_key ck;
	uint8_t pub[RG_SIG_PUBLEN];
	char pub64[64], err[1024];
	int rc = 1;

	if (rg_client_key_new(dept, dept, &ck) != 0) {
		fprintf(stderr, "recgatectl: cannot make a key pair for %s\n", dept);
		return 1;
	}
	rg_sigkey_public(ck.key, pub);
	sodium_bin2base64(pub64, sizeof(pub64), pub, sizeof(pub),
	                  sodium_base64_VARIANT_ORIGINAL);
	if (rg_client_key_save(&ck, out, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		goto out;
	}
	rc = rg_admin_key_add(url, keyfile, dept, ck.keyid, pub64, role);
	if (rc == 1) {
		(void)unlink(out);
		fprintf(stderr, "recgatectl: not registered; %s removed\n", out);
	} else if (rc == 2) {
		fprintf(stderr, "recgatectl: no answer: %s kept; list the "
		        "department's keys to see whether %s was registered\n",
		        out, ck.keyid);
		rc = 1;
	}
out:
	rg_client_key_clear(&ck);
	return rc;
}

/* POST /v1/admin/data-keys/rotate, for one resource or all. */
static int
rg_admin_rotate_data(const char *url, const char *keyfile,
                     const char *resource)
{
	json_t *j = resource != NULL ? json_pack("{s:s}", "resource", resource)
	                             : json_object();
	char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc;

	json_decref(j);
	if (body == NULL)
		return 1;
	rc = rg_admin_send(url, keyfile, "POST", "/v1/admin/data-keys/rotate",
	                   body);
	free(body);
	return rc == 0 ? 0 : 1;
}

int
rg_ctl_admin(int argc, char **argv)
{
	const char *url = NULL, *keyfile = NULL, *dept = NULL, *out = NULL;
	const char *role = NULL, *keyid = NULL, *pub64 = NULL, *pos[4];
	char path[256];
	size_t npos = 0;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = strcmp(a, "--url") == 0 ? &url
		    : strcmp(a, "--key") == 0 ? &keyfile
		    : strcmp(a, "--department") == 0 ? &dept
		    : strcmp(a, "--out") == 0 ? &out
		    : strcmp(a, "--role") == 0 ? &role
		    : strcmp(a, "--keyid") == 0 ? &keyid
		    : strcmp(a, "--public-key") == 0 ? &pub64 : NULL;

		if (slot != NULL && i + 1 < argc)
			*slot = argv[++i];
		else if (slot == NULL && a[0] != '-' && npos < 4)
			pos[npos++] = a;
		else
			rg_admin_usage();
	}
	if (url == NULL || keyfile == NULL || npos == 0)
		rg_admin_usage();
	if (npos == 2 && strcmp(pos[0], "key") == 0 && strcmp(pos[1], "new") == 0) {
		if (dept == NULL || out == NULL)
			rg_admin_usage();
		return rg_admin_key_new(url, keyfile, dept, out, role);
	}
	if (npos == 2 && strcmp(pos[0], "key") == 0 && strcmp(pos[1], "add") == 0) {
		if (dept == NULL || keyid == NULL || pub64 == NULL)
			rg_admin_usage();
		rc = rg_admin_key_add(url, keyfile, dept, keyid, pub64, role);
		return rc == 0 ? 0 : 1;
	}
	if (npos == 3 && strcmp(pos[0], "key") == 0 &&
	    (strcmp(pos[1], "retire") == 0 || strcmp(pos[1], "revoke") == 0))
		snprintf(path, sizeof(path), "/v1/admin/keys/%s/%s", pos[2], pos[1]);
	else if (npos == 3 && strcmp(pos[0], "department") == 0 &&
	         (strcmp(pos[1], "suspend") == 0 ||
	          strcmp(pos[1], "reactivate") == 0))
		snprintf(path, sizeof(path), "/v1/admin/departments/%s/%s", pos[2],
		         pos[1]);
	else if (npos == 2 && strcmp(pos[0], "rotate") == 0 &&
	         strcmp(pos[1], "signing") == 0)
		snprintf(path, sizeof(path), "/v1/admin/signing-key/rotate");
	else if (npos == 2 && strcmp(pos[0], "rotate") == 0 &&
	         strcmp(pos[1], "kek") == 0)
		snprintf(path, sizeof(path), "/v1/admin/kek/rotate");
	else if (npos == 2 && strcmp(pos[0], "rotate") == 0 &&
	         strcmp(pos[1], "database") == 0)
		return rg_ctl_admin_dbkey(url, keyfile); /* ctl_dbkey.c */
	else if ((npos == 2 || npos == 3) && strcmp(pos[0], "rotate") == 0 &&
	         strcmp(pos[1], "data") == 0)
		return rg_admin_rotate_data(url, keyfile,
		                            npos == 3 ? pos[2] : NULL);
	else if (npos == 1 && strcmp(pos[0], "reencrypt-status") == 0) {
		rc = rg_admin_send(url, keyfile, "GET",
		                   "/v1/admin/data-keys/reencrypt", NULL);
		return rc == 0 ? 0 : 1;
	} else if (npos == 4 && (strcmp(pos[0], "retire") == 0 ||
	                         strcmp(pos[0], "destroy") == 0) &&
	           strcmp(pos[1], "data") == 0)
		snprintf(path, sizeof(path), "/v1/admin/data-keys/%s/%s/%s",
		         pos[2], pos[3], pos[0]);
	else if (npos == 3 && (strcmp(pos[0], "retire") == 0 ||
	                       strcmp(pos[0], "destroy") == 0) &&
	         strcmp(pos[1], "kek") == 0)
		snprintf(path, sizeof(path), "/v1/admin/kek/%s/%s", pos[2],
		         pos[0]);
	else if (npos == 2 && strcmp(pos[0], "keys") == 0) {
		snprintf(path, sizeof(path), "/v1/admin/departments/%s/keys",
		         pos[1]);
		rc = rg_admin_send(url, keyfile, "GET", path, NULL);
		return rc == 0 ? 0 : 1;
	} else
		rg_admin_usage();
	rc = rg_admin_send(url, keyfile, "POST", path, NULL);
	return rc == 0 ? 0 : 1;
}
