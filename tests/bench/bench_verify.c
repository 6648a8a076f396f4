/*
 * bench_verify.c -- how fast `recgatectl audit verify` checks a log: a
 * synthetic export of realistic entries, held in memory, streamed through
 * the verifier core (crypto/verify.c) on one core. Prints entries/second.
 * Not part of `make test`: `make bench` (N=... to change the size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/merkle.h"
#include "crypto/note.h"
#include "crypto/tlog.h"
#include "crypto/verify.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	struct rg_tlog_frontier f;
	uint8_t leaf[RG_HASHLEN], root[RG_HASHLEN], pub[RG_SIG_PUBLEN];
	char entry[1024], e64[1500], l64[64], **lines, *text, *note;
	size_t *lens;
	rg_sigkey *key;
	rg_verify *v;
	double t0, t1;

	if (sodium_init() < 0 || n == 0 || n > 100000000)
		return 1;
	lines = calloc(n, sizeof(*lines));
	lens = calloc(n, sizeof(*lens));
	key = rg_sigkey_generate();
	v = rg_verify_new();
	if (lines == NULL || lens == NULL || key == NULL || v == NULL)
		return 1;
	memset(&f, 0, sizeof(f));
	for (unsigned long i = 0; i < n; i++) {
		int len = snprintf(entry, sizeof(entry),
		    "{\"action\":\"record.read\",\"decision\":\"allow\","
		    "\"department\":\"hrss\",\"index\":%lu,\"keyid\":\"hrss-a0dffd32\","
		    "\"policy\":\"e0bcc99098308c16603f10f948bdac13ca82035176e16e62192bfe4a85"
		    "e1c2d3\",\"purpose\":\"work-injury determination\","
		    "\"reason\":\"ok_grant\",\"records\":[{\"id\":\"3f9a0c1e5b7d4a2c\","
		    "\"version\":1}],\"request\":\"9c1185a5c5e9fc54612808977ee8f548b2258d31"
		    "a0dffd32a0dffd32a0dffd32\",\"resource\":\"occ-disease-diagnosis\","
		    "\"response\":\"5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a"
		    "27fb57e9\",\"time\":%lu}", i, 1764000000000UL + i);
		size_t ll;

		rg_merkle_leaf((uint8_t *)entry, (size_t)len, leaf);
		rg_tlog_frontier_add(&f, leaf);
		sodium_bin2base64(e64, sizeof(e64), (uint8_t *)entry, (size_t)len,
		                  sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(l64, sizeof(l64), leaf, sizeof(leaf),
		                  sodium_base64_VARIANT_ORIGINAL);
		ll = strlen(e64) + strlen(l64) + 64;
		if ((lines[i] = malloc(ll)) == NULL)
			return 1;
		lens[i] = (size_t)snprintf(lines[i], ll,
		    "{\"index\":%lu,\"entry\":\"%s\",\"leaf\":\"%s\"}", i, e64, l64);
	}
	rg_tlog_frontier_root(&f, root);
	rg_sigkey_public(key, pub);
	text = rg_note_checkpoint_text("bench/audit", n, root);
	note = text ? rg_note_sign(text, "bench/audit", key) : NULL;
	if (note == NULL || rg_verify_add_key(v, "bench/audit", pub) != 0 ||
	    rg_verify_add_checkpoint(v, note, strlen(note), "checkpoint") != 0)
		return 1;

	t0 = now_s();
	for (unsigned long i = 0; i < n; i++)
		if (rg_verify_line(v, lines[i], lens[i]) != 0) {
			fprintf(stderr, "bench_verify: %s\n", rg_verify_error(v));
			return 1;
		}
	if (rg_verify_finish(v) != 0) {
		fprintf(stderr, "bench_verify: %s\n", rg_verify_error(v));
		return 1;
	}
	t1 = now_s();
	printf("bench_verify: %lu entries (%zu bytes per line) verified in %.3f s: "
	       "%.0f entries/second on one core\n", n, lens[n / 2], t1 - t0,
	       (double)n / (t1 - t0));
	for (unsigned long i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(lens);
	free(text);
	free(note);
	rg_verify_free(v);
	rg_sigkey_free(key);
	return 0;
}
