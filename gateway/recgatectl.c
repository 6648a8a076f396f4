/*
 * recgatectl.c -- the administrator's, officer's and department client's
 * tool. `init --demo DIR` lays out the embedded demo (`init --config`, a
 * production gateway: ctl_init.c); `client ...` signs
 * and sends a department's request and prints the gateway's answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "gateway/client.h"
#include "gateway/ctl_admin.h"
#include "gateway/ctl_backup.h"
#include "gateway/ctl_audit.h"
#include "gateway/ctl_catalogue.h"
#include "gateway/ctl_init.h"
#include "gateway/ctl_keys.h"
#include "gateway/demo.h"
#include "gateway/version.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: recgatectl --version\n"
	    "       recgatectl init --demo DIR\n"
	    "       recgatectl init --config FILE --origin NAME --catalogue FILE "
	    "--keys-out DIR ...\n"
	    "                  (a production gateway; `init --config` alone for "
	    "help)\n"
	    "       recgatectl client --url URL --key KEYFILE COMMAND\n"
	    "       recgatectl audit (export|verify|prove|report) ...  "
	    "(officers; `audit` alone for help)\n"
	    "       recgatectl catalogue check FILE\n"
	    "       recgatectl catalogue load FILE --url URL --key OFFICE_KEYFILE\n"
	    "       recgatectl backup --config FILE --out DIR  "
	    "(the keystore and the database, while it runs)\n"
	    "       recgatectl restore --config FILE --from DIR  "
	    "(the gateway stopped)\n"
	    "       recgatectl keys (list|rewrite|passphrase|master-file) ... "
	    "--config FILE  (offline; `keys` alone for help)\n"
	    "commands:\n"
	    "  submit RESOURCE FILE.json          publish records (owner)\n"
	    "  get RESOURCE RECORD_ID [--purpose TEXT]\n"
	    "  changes RESOURCE [--after CURSOR] [--limit N] [--purpose TEXT]\n"
	    "  catalogue                          what exists and what you may read\n"
	    "  grants [STATE|overdue]             your grants (the office: all)\n"
	    "  grant ID                           one grant\n"
	    "  grant-request FILE.json            ask for a conditional-share grant\n"
	    "  grant-(approve|countersign) ID [FILE.json]  sign it (may narrow)\n"
	    "  grant-(refuse|dispute|revoke) ID [FILE.json]\n"
	    "administrator (an admin-role key; suspends, never grants):\n"
	    "       recgatectl grants suspend ID --url URL --key KEYFILE "
	    "[--reason TEXT]\n"
	    "       recgatectl admin --url URL --key KEYFILE (key|keys|department|"
	    "rotate|retire|destroy|reencrypt-status) ...\n"
	    "                  (keys, departments, gateway keys; `admin` alone "
	    "for help)\n"
	    "  keys                               the gateway's public keys\n");
	exit(2);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)size, f);
		buf[*len] = '\0';
		if (*len != (size_t)size) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static int
cmd_init(int argc, char **argv)
{
	char err[4096];
	size_t ngrants = 0;

	if (argc >= 1 && strcmp(argv[0], "--demo") != 0)
		return rg_ctl_init(argc, argv);
	if (argc != 2)
		usage();
	if (rg_demo_init(argv[1], err, sizeof(err)) != 0 ||
	    rg_demo_grants(argv[1], &ngrants, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: init: %s\n", err);
		return 1;
	}
	printf("recgatectl: demo data directory %s created: %zu departments, "
	       "%zu conditional-share grants, client keys in %s/clients/\n",
	       argv[1], rg_demo_ndepts, ngrants, argv[1]);
	return 0;
}

static int
cmd_client(int argc, char **argv)
{
	const char *url = NULL, *keyfile = NULL, *purpose = NULL;
	const char *after = NULL, *limit = NULL, *reason = NULL, *pos[4];
	struct rg_client_key key = {0};
	struct rg_client_opts opts = {0};
	struct rg_client_resp resp;
	char host[256], authority[300], path[512], query[128], err[1024];
	char *body = NULL, *raw;
	size_t bodylen = 0, rawlen, npos = 0;
	const char *method = "GET";
	int port, rc = 1;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			keyfile = argv[++i];
		else if (strcmp(argv[i], "--purpose") == 0 && i + 1 < argc)
			purpose = argv[++i];
		else if (strcmp(argv[i], "--after") == 0 && i + 1 < argc)
			after = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
			limit = argv[++i];
		else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			reason = argv[++i];
		else if (npos < 4)
			pos[npos++] = argv[i];
		else
			usage();
	}
	if (url == NULL || npos == 0)
		usage();
	if (rg_client_parse_url(url, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "recgatectl: --url %s: expected http://HOST:PORT\n", url);
		return 1;
	}
	snprintf(authority, sizeof(authority), "%s:%d", host, port);
	query[0] = '\0';
	if (strcmp(pos[0], "keys") == 0 && npos == 1) {
		snprintf(path, sizeof(path), "/v1/keys");
	} else if (strcmp(pos[0], "catalogue") == 0 && npos == 1) {
		snprintf(path, sizeof(path), "/v1/catalogue");
	} else if (strcmp(pos[0], "submit") == 0 && npos == 3) {
		method = "POST";
		snprintf(path, sizeof(path), "/v1/resources/%s/records", pos[1]);
		body = read_file(pos[2], &bodylen);
		if (body == NULL) {
			fprintf(stderr, "recgatectl: %s: %s\n", pos[2], strerror(errno));
			return 1;
		}
	} else if (strcmp(pos[0], "get") == 0 && npos == 3) {
		snprintf(path, sizeof(path), "/v1/resources/%s/records/%s", pos[1],
		         pos[2]);
	} else if (strcmp(pos[0], "grants") == 0 && npos <= 2) {
		snprintf(path, sizeof(path), "/v1/grants");
		if (npos == 2)
			snprintf(query, sizeof(query), "state=%s", pos[1]);
	} else if (strcmp(pos[0], "grant") == 0 && npos == 2) {
		snprintf(path, sizeof(path), "/v1/grants/%s", pos[1]);
	} else if (strncmp(pos[0], "grant-", 6) == 0 && npos >= 2 && npos <= 3) {
		const char *step = pos[0] + 6, *file = npos == 3 ? pos[2] : NULL;

		method = "POST";
		if (strcmp(step, "request") == 0 && npos == 2) {
			snprintf(path, sizeof(path), "/v1/grants");
			file = pos[1];
		} else if (strcmp(step, "approve") == 0 ||
		           strcmp(step, "countersign") == 0 ||
		           strcmp(step, "refuse") == 0 ||
		           strcmp(step, "dispute") == 0 ||
		           strcmp(step, "revoke") == 0 ||
		           strcmp(step, "suspend") == 0) {
			snprintf(path, sizeof(path), "/v1/grants/%s/%s", pos[1], step);
		} else {
			usage();
		}
		if (reason != NULL) {
			json_t *j = json_pack("{s:s}", "reason", reason);

			body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
			json_decref(j);
			bodylen = body != NULL ? strlen(body) : 0;
		} else if (file != NULL && (body = read_file(file, &bodylen)) == NULL) {
			fprintf(stderr, "recgatectl: %s: %s\n", file, strerror(errno));
			return 1;
		}
	} else if (strcmp(pos[0], "changes") == 0 && npos == 2) {
		snprintf(path, sizeof(path), "/v1/resources/%s/changes", pos[1]);
		snprintf(query, sizeof(query), "after=%s%s%s", after ? after : "0",
		         limit ? "&limit=" : "", limit ? limit : "");
	} else {
		usage();
	}
	if (strcmp(pos[0], "keys") != 0) {
		if (keyfile == NULL) {
			fprintf(stderr, "recgatectl: --key KEYFILE is needed\n");
			free(body);
			return 1;
		}
		if (rg_client_key_load(keyfile, &key, err, sizeof(err)) != 0) {
			fprintf(stderr, "recgatectl: %s\n", err);
			free(body);
			return 1;
		}
	}
	opts.purpose = purpose;
	raw = rg_client_build(authority, key.key ? &key : NULL, method, path,
	                      query, (uint8_t *)body, bodylen, &opts, &rawlen);
	rg_client_key_clear(&key);
	free(body);
	if (raw == NULL) {
		fprintf(stderr, "recgatectl: cannot build the request\n");
		return 1;
	}
	if (rg_client_send(host, port, raw, rawlen, &resp, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
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

int
main(int argc, char **argv)
{
	/* Everything recgate writes is for its own user only. */
	umask(077);
	if (sodium_init() < 0) {
		fprintf(stderr, "recgatectl: libsodium failed to initialise\n");
		return 1;
	}
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		rg_version_print("recgatectl");
		return 0;
	}
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 2, argv + 2);
	if (strcmp(argv[1], "audit") == 0)
		return rg_ctl_audit(argc - 2, argv + 2);
	if (strcmp(argv[1], "client") == 0)
		return cmd_client(argc - 2, argv + 2);
	if (strcmp(argv[1], "catalogue") == 0)
		return rg_ctl_catalogue(argc - 2, argv + 2);
	if (strcmp(argv[1], "backup") == 0)
		return rg_ctl_backup(argc - 2, argv + 2);
	if (strcmp(argv[1], "restore") == 0)
		return rg_ctl_restore(argc - 2, argv + 2);
	if (strcmp(argv[1], "keys") == 0)
		return rg_ctl_keys(argc - 2, argv + 2);
	if (strcmp(argv[1], "admin") == 0)
		return rg_ctl_admin(argc - 2, argv + 2);
	/* `grants suspend ID ...` is `client grant-suspend ID ...` with the
	 * administrator's key: the one grant step an administrator has. */
	if (strcmp(argv[1], "grants") == 0 && argc >= 4 &&
	    strcmp(argv[2], "suspend") == 0) {
		argv[2] = "grant-suspend";
		return cmd_client(argc - 2, argv + 2);
	}
	usage();
	return 2;
}
