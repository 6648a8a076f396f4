/*
 * seeds_main.c -- `fuzz-seeds DIR`: each target's seeds as files
 * DIR/TARGET/seed-N, the corpus `make fuzz` starts libFuzzer from.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

struct rg_seed_out {
	const char *dir;
	int n;
	int failed;
};

static void
rg_seed_write(void *ctx, const uint8_t *data, size_t len)
{
	struct rg_seed_out *o = ctx;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%d", o->dir, o->n++);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		o->failed = 1;
	}
}

int
main(int argc, char **argv)
{
	int failed = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds DIR\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	for (size_t i = 0; i < rg_fuzz_ntargets; i++) {
		char dir[4096];
		struct rg_seed_out o = {dir, 0, 0};

		snprintf(dir, sizeof(dir), "%s/%s", argv[1],
		         rg_fuzz_targets[i].name);
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			perror(dir);
			return 1;
		}
		rg_fuzz_targets[i].seeds(rg_seed_write, &o);
		failed |= o.failed;
	}
	return failed;
}
