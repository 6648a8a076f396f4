/*
 * fuzz.h -- recgate's fuzz targets: each hands bytes that a peer, a client
 * or a damaged file controls to one of recgate's parsers and checks what
 * must hold of the answer (a frame that decodes encodes back to itself, a
 * body the fast reader takes reads the same through jansson, ...), besides
 * not crashing, leaking or reading out of bounds.
 *
 * They are built twice. Into the suite: tests/unit/test_fuzz.c runs each
 * target over its seeds and a fixed sequence of mutations of them, so that
 * every `make test` (and its ASan/UBSan and valgrind runs) fuzzes a little.
 * And by `make fuzz`, with clang's libFuzzer and its coverage feedback,
 * for as long as one likes (tests/fuzz/libfuzzer.c).
 */
#ifndef RG_FUZZ_H
#define RG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Hands one seed to whoever collects them. */
typedef void (*rg_fuzz_emit)(void *ctx, const uint8_t *data, size_t len);

struct rg_fuzz_target {
	const char *name;
	void (*run)(const uint8_t *data, size_t len);
	/* Well-formed inputs to start from (the mutations are of these). */
	void (*seeds)(rg_fuzz_emit emit, void *ctx);
};

/* Inputs a target's parser accepted (the properties were then checked):
 * the suite makes sure the seeds reach that path. */
extern unsigned long rg_fuzz_accepted;

/* Every target, and how many. */
extern const struct rg_fuzz_target rg_fuzz_targets[];
extern const size_t rg_fuzz_ntargets;
const struct rg_fuzz_target *rg_fuzz_find(const char *name);

/* A property that does not hold: print it and the input, and abort (the
 * suite's runner and libFuzzer both report the crash). */
#define RG_FUZZ_ASSERT(c)                                                     \
	do {                                                                  \
		if (!(c))                                                     \
			rg_fuzz_fail(#c, __FILE__, __LINE__);                 \
	} while (0)
void rg_fuzz_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));
/* The input being run, for rg_fuzz_fail's report. */
void rg_fuzz_set_input(const uint8_t *data, size_t len);

/* Emit each of n C strings as a seed. */
void rg_fuzz_emit_all(rg_fuzz_emit emit, void *ctx, const char *const *s,
                      size_t n);

/* A NUL-terminated copy of data (the parsers take C strings); never
 * NULL (aborts when memory is short). Caller frees. */
char *rg_fuzz_str(const uint8_t *data, size_t len);

/*
 * The suite's run: the target's seeds, then runs mutations of them (one
 * to four edits each: bit flips, bytes set, inserted, deleted, repeated,
 * a cut, a splice of two seeds), from a fixed seed so a failure repeats.
 * Returns the inputs run.
 */
size_t rg_fuzz_run_mutations(const struct rg_fuzz_target *t, size_t runs,
                             uint64_t seed);

/* Each target file's table entries. */
void rg_fuzz_wire_request(const uint8_t *data, size_t len);
void rg_fuzz_wire_request_seeds(rg_fuzz_emit emit, void *ctx);
void rg_fuzz_wire_response(const uint8_t *data, size_t len);
void rg_fuzz_wire_response_seeds(rg_fuzz_emit emit, void *ctx);
void rg_fuzz_httpsig(const uint8_t *data, size_t len);
void rg_fuzz_httpsig_seeds(rg_fuzz_emit emit, void *ctx);
void rg_fuzz_content_digest(const uint8_t *data, size_t len);
void rg_fuzz_content_digest_seeds(rg_fuzz_emit emit, void *ctx);
void rg_fuzz_json_body(const uint8_t *data, size_t len);
void rg_fuzz_json_body_seeds(rg_fuzz_emit emit, void *ctx);
void rg_fuzz_catalogue(const uint8_t *data, size_t len);
void rg_fuzz_catalogue_seeds(rg_fuzz_emit emit, void *ctx);
void rg_fuzz_note(const uint8_t *data, size_t len);
void rg_fuzz_note_seeds(rg_fuzz_emit emit, void *ctx);
void rg_fuzz_receipt(const uint8_t *data, size_t len);
void rg_fuzz_receipt_seeds(rg_fuzz_emit emit, void *ctx);

#endif
