/*
 * test_fuzz.c -- every fuzz target (tests/fuzz/) over its seeds and a
 * fixed run of mutations of them, in each `make test` and its sanitizer
 * and valgrind runs. A property a target checks that does not hold
 * aborts the test, printing the input. RG_FUZZ_RUNS sets the mutations a
 * target (default 3000; the valgrind run takes fewer).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tests/test.h"

static void
fz_run(const char *name)
{
	const struct rg_fuzz_target *t = rg_fuzz_find(name);
	const char *env = getenv("RG_FUZZ_RUNS");
	size_t runs = env != NULL ? strtoul(env, NULL, 10) : 3000;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	CHECK(t != NULL);
	for (const char *c = name; *c != '\0'; c++)
		seed = (seed ^ (uint8_t)*c) * 0x100000001b3ULL;
	rg_fuzz_accepted = 0;
	CHECK(rg_fuzz_run_mutations(t, runs, seed) > runs);
	/* The seeds reach the parser's accepting path, where the properties
	 * are checked: a target that refuses everything tests nothing. */
	CHECKF(rg_fuzz_accepted > 0, "%s accepted no input", name);
}

TEST(fuzz_targets_are_all_listed_and_found)
{
	CHECK_EQ_INT(rg_fuzz_ntargets, 8);
	for (size_t i = 0; i < rg_fuzz_ntargets; i++)
		CHECK(rg_fuzz_find(rg_fuzz_targets[i].name) == &rg_fuzz_targets[i]);
	CHECK(rg_fuzz_find("nope") == NULL);
}

TEST(fuzz_wire_request_frames_decode_and_encode_back)
{
	fz_run("wire_request");
}

TEST(fuzz_wire_response_frames_decode_and_encode_back)
{
	fz_run("wire_response");
}

TEST(fuzz_signature_fields_parse_or_are_refused)
{
	fz_run("httpsig");
}

TEST(fuzz_content_digest_matches_only_the_bodys_digest)
{
	fz_run("content_digest");
}

TEST(fuzz_request_bodies_read_as_jansson_reads_them)
{
	fz_run("json_body");
}

TEST(fuzz_catalogues_that_parse_round_trip)
{
	fz_run("catalogue");
}

TEST(fuzz_notes_verify_only_what_was_signed)
{
	fz_run("note");
}

TEST(fuzz_receipts_and_export_lines_never_overcount)
{
	fz_run("receipt");
}
