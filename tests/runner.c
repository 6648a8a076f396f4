/*
 * runner.c -- runs every registered test in a child process with a time
 * limit and prints "N passed, N failed". Arguments, when given, are
 * substrings: only tests whose name contains one of them run.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/test.h"

#define RG_TEST_MAX 1024

struct rg_test {
	const char *name;
	const char *file;
	rg_test_fn fn;
	unsigned timeout_s;
};

static struct rg_test rg_tests[RG_TEST_MAX];
static size_t rg_ntests;
static char rg_tmpdir[256];

void
rg_test_register(const char *name, const char *file, rg_test_fn fn,
                 unsigned timeout_s)
{
	if (rg_ntests == RG_TEST_MAX) {
		fprintf(stderr, "too many tests\n");
		abort();
	}
	rg_tests[rg_ntests++] = (struct rg_test){name, file, fn, timeout_s};
}

void
rg_test_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

const char *
rg_test_data(void)
{
	const char *d = getenv("RG_TESTDATA");
	return d != NULL ? d : "tests/data";
}

const char *
rg_test_build(void)
{
	const char *d = getenv("RG_BUILD");
	return d != NULL ? d : "build";
}

const char *
rg_test_tmpdir(void)
{
	if (rg_tmpdir[0] == '\0') {
		const char *base = getenv("TMPDIR");
		snprintf(rg_tmpdir, sizeof(rg_tmpdir), "%s/rgtest.XXXXXX",
		         base != NULL ? base : "/tmp");
		if (mkdtemp(rg_tmpdir) == NULL) {
			perror("mkdtemp");
			_exit(1);
		}
	}
	return rg_tmpdir;
}

static int
rg_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int
rg_test_selected(const struct rg_test *t, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strstr(t->name, argv[i]) != NULL)
			return 1;
	return 0;
}

/* Run one test in a child; 0 when it passed. */
static int
rg_run_one(const struct rg_test *t)
{
	int status;
	pid_t pid;
	time_t start = time(NULL);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		alarm(t->timeout_s);
		t->fn();
		if (rg_tmpdir[0] != '\0')
			nftw(rg_tmpdir, rg_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		fflush(stdout);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	/* Whatever the test started in its process group goes with it. */
	kill(-pid, SIGKILL);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "  %s: killed by signal %d%s after %lds\n", t->name,
		        WTERMSIG(status),
		        WTERMSIG(status) == SIGALRM ? " (time limit)" : "",
		        (long)(time(NULL) - start));
	return 1;
}

int
main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0) {
		fprintf(stderr, "libsodium failed to initialise\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < rg_ntests; i++) {
		const struct rg_test *t = &rg_tests[i];

		if (!rg_test_selected(t, argc, argv))
			continue;
		if (rg_run_one(t) == 0) {
			passed++;
			printf("ok   %s\n", t->name);
		} else {
			failed++;
			printf("FAIL %s (%s)\n", t->name, t->file);
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
