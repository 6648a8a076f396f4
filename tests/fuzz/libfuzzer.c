/*
 * libfuzzer.c -- `make fuzz`: one libFuzzer program for every target,
 * which one named by RG_FUZZ_TARGET (tests/fuzz/fuzz.h). The seeds of a
 * target are written to the corpus directory by `fuzz-seeds`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const struct rg_fuzz_target *rg_fuzz_target;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rg_fuzz_target = rg_fuzz_find(getenv("RG_FUZZ_TARGET"));
	if (rg_fuzz_target == NULL) {
		fprintf(stderr, "fuzz: set RG_FUZZ_TARGET to one of:");
		for (size_t i = 0; i < rg_fuzz_ntargets; i++)
			fprintf(stderr, " %s", rg_fuzz_targets[i].name);
		fprintf(stderr, "\n");
		exit(2);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	rg_fuzz_set_input(data, len);
	rg_fuzz_target->run(data, len);
	return 0;
}
