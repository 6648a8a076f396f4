/*
 * test.h -- recgate's test harness.
 *
 * Each TEST() registers itself; the runner (tests/runner.c) forks every test
 * into its own process with a time limit, as libuv's runner does, so that a
 * crash or a hang fails that test alone. A test fails on the first CHECK
 * that does not hold. The run ends with "N passed, N failed".
 */
#ifndef RG_TEST_H
#define RG_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef void (*rg_test_fn)(void);

void rg_test_register(const char *name, const char *file, rg_test_fn fn,
                      unsigned timeout_s);
void rg_test_fail(const char *file, int line, const char *expr,
                  const char *fmt, ...) __attribute__((noreturn, format(printf, 4, 5)));

/* Test data directory (RG_TESTDATA) and build directory (RG_BUILD). */
const char *rg_test_data(void);
const char *rg_test_build(void);
/* A fresh empty directory for this test, removed when the test passes. */
const char *rg_test_tmpdir(void);

#define RG_TEST_T(name, timeout)                                              \
	static void name(void);                                               \
	__attribute__((constructor)) static void name##__register(void)       \
	{                                                                     \
		rg_test_register(#name, __FILE__, name, timeout);             \
	}                                                                     \
	static void name(void)

#define TEST(name) RG_TEST_T(name, 60)
#define SLOW_TEST(name, timeout) RG_TEST_T(name, timeout)

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond))                                                  \
			rg_test_fail(__FILE__, __LINE__, #cond, " ");         \
	} while (0)

#define CHECKF(cond, ...)                                                     \
	do {                                                                  \
		if (!(cond))                                                  \
			rg_test_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                    \
	do {                                                                  \
		long long rg_a_ = (long long)(a), rg_b_ = (long long)(b);     \
		if (rg_a_ != rg_b_)                                           \
			rg_test_fail(__FILE__, __LINE__, #a " == " #b,        \
			             "%lld != %lld", rg_a_, rg_b_);           \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                    \
	do {                                                                  \
		const char *rg_a_ = (a), *rg_b_ = (b);                        \
		if (rg_a_ == NULL || rg_b_ == NULL || strcmp(rg_a_, rg_b_))   \
			rg_test_fail(__FILE__, __LINE__, #a " == " #b,        \
			             "\"%s\" != \"%s\"", rg_a_ ? rg_a_ : "(null)", \
			             rg_b_ ? rg_b_ : "(null)");               \
	} while (0)

/* A number below n from *state (xorshift64*): tests that make their
 * inputs at random make the same ones on every run. */
static inline uint32_t
rg_test_rand(uint64_t *state, uint32_t n)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (uint32_t)((*state * 2685821657736338717ULL) >> 32) % n;
}

#endif
