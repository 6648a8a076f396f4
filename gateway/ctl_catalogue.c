/*
 * ctl_catalogue.c -- `recgatectl catalogue check FILE` validates a
 * catalogue file offline and lists every problem with its line;
 * `recgatectl catalogue load FILE --url URL --key OFFICE.key` does the same
 * and, only when the file is clean, sends it signed by the office's key
 * (POST /v1/catalogue), where the keeper checks it again. Nothing here
 * decides whether the gateway takes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/client.h"
#include "gateway/ctl_catalogue.h"
#include "policy/catalogue.h"

#define RG_CTL_MAXFILE (4 * 1024 * 1024)
#define RG_CTL_PROBLEMS 65536

static char *
rg_ctl_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n = 0;

	if (f == NULL)
		return NULL;
	buf = malloc(RG_CTL_MAXFILE + 1);
	if (buf != NULL) {
		n = fread(buf, 1, RG_CTL_MAXFILE + 1, f);
		if (ferror(f) || n > RG_CTL_MAXFILE) {
			free(buf);
			buf = NULL;
			errno = ferror(f) ? EIO : EFBIG;
		} else {
			buf[n] = '\0';
			*len = n;
		}
	}
	fclose(f);
	return buf;
}

/* 0 when the file may be loaded; otherwise prints every problem. */
static int
rg_ctl_check(const char *path, const char *text, size_t len)
{
	char *problems = malloc(RG_CTL_PROBLEMS), *lined = malloc(RG_CTL_PROBLEMS);
	rg_catalogue *cat;
	int rc = 1;

	if (problems == NULL || lined == NULL) {
		fprintf(stderr, "recgatectl: out of memory\n");
		goto out;
	}
	cat = rg_catalogue_parse(text, len, problems, RG_CTL_PROBLEMS);
	if (cat != NULL) {
		if (rg_catalogue_check_load(cat, problems, RG_CTL_PROBLEMS) == 0) {
			/* On stderr: stdout carries only the gateway's
			 * answer when loading. */
			fprintf(stderr, "%s: %zu resources, valid\n", path,
			        rg_catalogue_count(cat));
			rc = 0;
		}
		rg_catalogue_free(cat);
	}
	if (rc != 0) {
		if (rg_catalogue_annotate(text, len, problems, lined,
		                          RG_CTL_PROBLEMS) != 0)
			snprintf(lined, RG_CTL_PROBLEMS, "%s", problems);
		fprintf(stderr, "%s: refused:\n", path);
		for (const char *p = lined; *p != '\0';) {
			size_t n = strcspn(p, "\n");

			fprintf(stderr, "%s:%.*s\n", path, (int)n, p);
			p += n;
			if (*p == '\n')
				p++;
		}
	}
out:
	free(problems);
	free(lined);
	return rc;
}

static int
rg_ctl_send(const char *url, const char *keyfile, const char *text, size_t len)
{
	struct rg_client_key key = {0};
	struct rg_client_opts opts = {0};
	struct rg_client_resp resp;
	char host[256], authority[300], err[1024], *raw;
	size_t rawlen;
	int port, rc = 1;

	if (rg_client_parse_url(url, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "recgatectl: --url %s: expected http://HOST:PORT\n",
		        url);
		return 1;
	}
	if (rg_client_key_load(keyfile, &key, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		return 1;
	}
	snprintf(authority, sizeof(authority), "%s:%d", host, port);
	raw = rg_client_build(authority, &key, "POST", "/v1/catalogue", NULL,
	                      (const uint8_t *)text, len, &opts, &rawlen);
	rg_client_key_clear(&key);
	if (raw == NULL) {
		fprintf(stderr, "recgatectl: cannot build the request\n");
		return 1;
	}
	if (rg_client_send(host, port, raw, rawlen, &resp, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
	} else {
		printf("%s\n", resp.body);
		if (resp.status == 200)
			rc = 0;
		else
			fprintf(stderr, "recgatectl: HTTP %d\n", resp.status);
		free(resp.body);
	}
	free(raw);
	return rc;
}

int
rg_ctl_catalogue(int argc, char **argv)
{
	const char *url = NULL, *keyfile = NULL, *file = NULL;
	char *text;
	size_t len = 0;
	int rc, load;

	if (argc < 2 || (strcmp(argv[0], "check") != 0 &&
	                 strcmp(argv[0], "load") != 0)) {
		fprintf(stderr, "usage: recgatectl catalogue check FILE\n"
		        "       recgatectl catalogue load FILE --url URL "
		        "--key OFFICE_KEYFILE\n");
		return 2;
	}
	load = strcmp(argv[0], "load") == 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			keyfile = argv[++i];
		else if (file == NULL)
			file = argv[i];
		else
			file = NULL, i = argc; /* one file only */
	}
	if (file == NULL || (load && (url == NULL || keyfile == NULL))) {
		fprintf(stderr, "recgatectl: catalogue %s: expected FILE%s\n",
		        argv[0], load ? " --url URL --key KEYFILE" : "");
		return 2;
	}
	if ((text = rg_ctl_read(file, &len)) == NULL) {
		fprintf(stderr, "recgatectl: %s: %s\n", file, strerror(errno));
		return 1;
	}
	rc = rg_ctl_check(file, text, len);
	if (rc == 0 && load)
		rc = rg_ctl_send(url, keyfile, text, len);
	free(text);
	return rc;
}
