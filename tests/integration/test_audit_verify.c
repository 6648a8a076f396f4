/*
 * test_audit_verify.c -- `recgatectl audit export` of a log made by the
 * real daemon, and `recgatectl audit verify` over it: the untouched export
 * verifies with its receipts; any changed byte, deleted, swapped or
 * reordered entry is found and named by its index; a log cut short is
 * caught by the checkpoint kept from before.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "tests/integration/gw.h"
#include "tests/test.h"

#define THREADS 8
#define PER_THREAD 250

struct burst {
	struct rg_gw *gw;
	int ok;
};

static void *
burst_worker(void *arg)
{
	struct burst *b = arg;
	json_t *r;

	for (int i = 0; i < PER_THREAD; i++) {
		if (rg_gw_call(b->gw, "tax", "GET", "/v1/catalogue", NULL, NULL,
		               NULL, &r) == 200)
			b->ok++;
		json_decref(r);
	}
	return NULL;
}

struct lines {
	char **l;
	size_t n;
};

static void
lines_read(const char *path, struct lines *ls)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	CHECKF(f != NULL, "%s", path);
	memset(ls, 0, sizeof(*ls));
	ls->l = calloc(1 << 16, sizeof(char *));
	CHECK(ls->l != NULL);
	while ((n = getline(&line, &cap, f)) > 0) {
		CHECK(ls->n < (1 << 16));
		ls->l[ls->n++] = strdup(line);
	}
	free(line);
	fclose(f);
}

static void
lines_free(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i]);
	free(ls->l);
}

/* A copy of the export whose entries.jsonl is the given lines. */
static void
tampered_copy(const char *src, const char *dst, char **l, size_t n)
{
	char cmd[2048], path[1100];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s'", dst, src, dst);
	CHECK(system(cmd) == 0);
	snprintf(path, sizeof(path), "%s/entries.jsonl", dst);
	f = fopen(path, "w");
	CHECK(f != NULL);
	for (size_t i = 0; i < n; i++)
		fputs(l[i], f);
	CHECK(fclose(f) == 0);
}

/* Run verify; returns its exit status and its message in out. */
static int
run_verify(const char *dir, const char *extra, char *out, size_t outlen)
{
	char cmd[2048], log[700];
	FILE *f;
	size_t n;
	int st;

	snprintf(log, sizeof(log), "%s/verify.out", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit verify '%s' %s > '%s' 2>&1",
	         rg_test_build(), dir, extra ? extra : "", log);
	st = system(cmd);
	f = fopen(log, "r");
	CHECK(f != NULL);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Verify must fail and the message must name entry `index`. */
static void
expect_named(const char *dir, size_t index, const char *what)
{
	char out[2048], want[64];

	CHECKF(run_verify(dir, NULL, out, sizeof(out)) == 1, "%s: verify passed: %s",
	       what, out);
	snprintf(want, sizeof(want), "entry %zu:", index);
	CHECKF(strstr(out, want) != NULL, "%s: expected \"%s\" in: %s", what, want,
	       out);
}

/* Flip one byte of the entry bytes of a line, keeping the line well formed. */
static char *
flip_entry_byte(const char *line, size_t at)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *b64 = json_string_value(json_object_get(j, "entry"));
	unsigned char buf[8192];
	char out64[12000], *res;
	size_t len;

	CHECK(b64 != NULL);
	CHECK(sodium_base642bin(buf, sizeof(buf), b64, strlen(b64), NULL, &len,
	                        NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	buf[at % len] ^= 0x04;
	sodium_bin2base64(out64, sizeof(out64), buf, len,
	                  sodium_base64_VARIANT_ORIGINAL);
	res = malloc(strlen(line) + 64);
	CHECK(res != NULL);
	snprintf(res, strlen(line) + 64,
	         "{\"index\":%lld,\"entry\":\"%s\",\"leaf\":\"%s\"}\n",
	         (long long)json_integer_value(json_object_get(j, "index")), out64,
	         json_string_value(json_object_get(j, "leaf")));
	json_decref(j);
	return res;
}

/* Remove the export's checkpoints above size keep. */
static void
drop_checkpoints_above(const char *dir, size_t keep)
{
	char path[1100], file[1400];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/checkpoints", dir);
	d = opendir(path);
	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".note") == NULL ||
		    strtoull(de->d_name, NULL, 10) <= keep)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		CHECK(unlink(file) == 0);
	}
	closedir(d);
}

SLOW_TEST(audit_export_verifies_and_every_tampering_is_named, 240)
{
	struct rg_gw gw;
	pthread_t th[THREADS];
	struct burst b[THREADS];
	struct lines ls;
	char exp[700], bad[700], cmd[2048], out[2048], receipt[700], oldcp[1000];
	char extra[1600], *l2[1 << 12];
	json_t *r;
	size_t n, samples[] = {0, 1, 2, 7, 63, 64, 100, 511, 777, 1024, 1500};
	int ok = 0;

	rg_gw_start(&gw, "checkpoint_every_entries = 500\n");
	for (int i = 0; i < THREADS; i++) {
		b[i] = (struct burst){&gw, 0};
		CHECK(pthread_create(&th[i], NULL, burst_worker, &b[i]) == 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ok += b[i].ok;
	}
	CHECK_EQ_INT(ok, THREADS * PER_THREAD);
	/* One receipt kept by a department, as a third party would get it. */
	snprintf(receipt, sizeof(receipt), "%s/receipt.json", rg_test_tmpdir());
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", "/v1/catalogue", NULL, NULL,
	                        NULL, &r), 200);
	CHECK(json_dump_file(r, receipt, JSON_COMPACT) == 0);
	json_decref(r);

	snprintf(exp, sizeof(exp), "%s/export", rg_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "%s/recgatectl audit export '%s' --url %s "
	         "--key %s/clients/officer.key > /dev/null", rg_test_build(), exp,
	         gw.url, gw.dir);
	CHECKF(system(cmd) == 0, "%s", cmd);
	rg_gw_stop(&gw);

	snprintf(extra, sizeof(extra), "--receipt '%s'", receipt);
	CHECKF(run_verify(exp, extra, out, sizeof(out)) == 0, "%s", out);
	CHECK(strstr(out, "OK") != NULL && strstr(out, "1 receipts") != NULL);

	snprintf(bad, sizeof(bad), "%s/bad", rg_test_tmpdir());
	{
		char p[800];
		snprintf(p, sizeof(p), "%s/entries.jsonl", exp);
		lines_read(p, &ls);
	}
	n = ls.n;
	CHECKF(n >= THREADS * PER_THREAD && n < (1 << 12), "%zu entries", n);
	memcpy(l2, ls.l, n * sizeof(char *));

	/* Any changed byte of an entry, at sampled entries and offsets. */
	for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
		size_t k = samples[s] < n ? samples[s] : n - 1;
		char *mod = flip_entry_byte(ls.l[k], 13 * s + 3);

		l2[k] = mod;
		tampered_copy(exp, bad, l2, n);
		expect_named(bad, k, "changed byte");
		l2[k] = ls.l[k];
		free(mod);
	}
	/* The last entry too, and a damaged line. */
	{
		char *mod = flip_entry_byte(ls.l[n - 1], 40);
		l2[n - 1] = mod;
		tampered_copy(exp, bad, l2, n);
		expect_named(bad, n - 1, "changed last entry");
		free(mod);
		mod = strdup(ls.l[300]);
		mod[30] = mod[30] == 'A' ? '*' : 'A';
		l2[n - 1] = ls.l[n - 1];
		l2[300] = mod;
		tampered_copy(exp, bad, l2, n);
		expect_named(bad, 300, "damaged line");
		l2[300] = ls.l[300];
		free(mod);
	}
	/* A deleted entry. */
	memmove(l2 + 900, l2 + 901, (n - 901) * sizeof(char *));
	tampered_copy(exp, bad, l2, n - 1);
	expect_named(bad, 900, "deleted entry");
	memcpy(l2, ls.l, n * sizeof(char *));
	/* Two entries swapped. */
	l2[1200] = ls.l[1300];
	l2[1300] = ls.l[1200];
	tampered_copy(exp, bad, l2, n);
	expect_named(bad, 1200, "swapped entries");
	memcpy(l2, ls.l, n * sizeof(char *));

	/* Truncated, checkpoints left: the signed sizes expose it. */
	tampered_copy(exp, bad, l2, 1700);
	CHECK(run_verify(bad, NULL, out, sizeof(out)) == 1);
	CHECKF(strstr(out, "truncated") != NULL && strstr(out, "entries 1700 and "
	       "after are missing") != NULL, "%s", out);
	/* Truncated with the later checkpoints removed: only a checkpoint
	 * kept from before shows it. */
	drop_checkpoints_above(bad, 1700);
	CHECKF(run_verify(bad, NULL, out, sizeof(out)) == 0, "%s", out);
	{
		char p[1100];
		DIR *d;
		struct dirent *de;
		unsigned long long best = 0;

		snprintf(p, sizeof(p), "%s/checkpoints", exp);
		d = opendir(p);
		CHECK(d != NULL);
		while ((de = readdir(d)) != NULL)
			if (strstr(de->d_name, ".note") != NULL &&
			    strtoull(de->d_name, NULL, 10) > best)
				best = strtoull(de->d_name, NULL, 10);
		closedir(d);
		CHECK(best > 1700);
		snprintf(oldcp, sizeof(oldcp), "%s/checkpoints/%020llu.note", exp, best);
	}
	snprintf(extra, sizeof(extra), "--checkpoint '%s'", oldcp);
	CHECK(run_verify(bad, extra, out, sizeof(out)) == 1);
	CHECKF(strstr(out, "truncated") != NULL, "%s", out);
	/* And a receipt for an entry past the cut shows it as well. */
	snprintf(extra, sizeof(extra), "--receipt '%s'", receipt);
	CHECK(run_verify(bad, extra, out, sizeof(out)) == 1);
	CHECKF(strstr(out, "truncated") != NULL, "%s", out);
	lines_free(&ls);
}
