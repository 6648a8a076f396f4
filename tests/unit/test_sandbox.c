/*
 * test_sandbox.c -- death tests for the production allowlists: a child
 * enters a role's sandbox, makes one forbidden call with a raw syscall, and
 * must die of SIGSYS; allowed work must still go through.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/sandbox.h"
#include "tests/test.h"

typedef void (*forbidden_fn)(const char *dir);

/* Under valgrind the filter would catch valgrind itself: such runs set
 * RG_SANDBOX=off and these tests say they were skipped. */
static void
skip_under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");

	if (pre != NULL && strstr(pre, "vgpreload") != NULL) {
		fprintf(stderr, "  (sandbox test skipped under valgrind)\n");
		exit(0); /* each test is its own process */
	}
}

/* Fork, confine the child in role, run fn; returns the wait status. */
static int
in_sandbox(rg_sandbox_role role, forbidden_fn fn)
{
	const char *dir = rg_test_tmpdir();
	int status;
	pid_t pid;

	skip_under_valgrind();
	pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		char err[256];

		if (rg_sandbox_enter(role, dir, NULL, NULL, err, sizeof(err)) != 0) {
			fprintf(stderr, "sandbox: %s\n", err);
			_exit(3);
		}
		fn(dir);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	return status;
}

static int
killed_by_sigsys(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static void
do_execve(const char *dir)
{
	static char *const argv[] = {"/bin/true", NULL};
	(void)dir;
	syscall(SYS_execve, "/bin/true", argv, NULL);
}

static void
do_socket(const char *dir)
{
	(void)dir;
	syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
}

static void
do_open_passwd(const char *dir)
{
	(void)dir;
	syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
}

static void
do_mprotect_exec(const char *dir)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)dir;
	if (p == MAP_FAILED)
		_exit(4);
	syscall(SYS_mprotect, p, 4096, PROT_READ | PROT_EXEC);
}

static void
do_mmap_exec(const char *dir)
{
	(void)dir;
	syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
	        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void
do_ptrace(const char *dir)
{
	(void)dir;
	syscall(SYS_ptrace, 0, 0, 0, 0);
}

#if defined(__x86_64__)
/* getpid through the 32-bit entry point: a foreign architecture. */
static void
do_foreign_arch(const char *dir)
{
	long ret = 20; /* __NR_getpid on i386 */
	(void)dir;
	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
}
#endif

TEST(sandbox_execve_kills_every_role)
{
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_FRONT, do_execve)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER, do_execve)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_GATEWAY, do_execve)));
}

TEST(sandbox_keeper_cannot_create_a_network_socket)
{
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER, do_socket)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_GATEWAY, do_socket)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_FRONT, do_socket)));
}

TEST(sandbox_front_cannot_open_a_file)
{
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_FRONT, do_open_passwd)));
}

TEST(sandbox_no_role_may_map_executable_memory)
{
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_FRONT, do_mprotect_exec)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER, do_mprotect_exec)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER, do_mmap_exec)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_GATEWAY, do_mmap_exec)));
}

TEST(sandbox_ptrace_kills)
{
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER, do_ptrace)));
}

#if defined(__x86_64__)
TEST(sandbox_foreign_architecture_call_kills)
{
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER, do_foreign_arch)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_FRONT, do_foreign_arch)));
}
#endif

static void
do_keeper_work(const char *dir)
{
	char path[512], buf[8];
	int fd;

	/* Its own directory: create, write, sync, read back, remove. */
	snprintf(path, sizeof(path), "%s/inside", dir);
	fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "ok", 2) != 2 || fsync(fd) != 0 ||
	    pread(fd, buf, 2, 0) != 2 || memcmp(buf, "ok", 2) != 0)
		_exit(10);
	close(fd);
	if (unlink(path) != 0)
		_exit(11);
	/* A probed call fails softly instead of killing. */
	if (syscall(SYS_io_uring_setup, 1, NULL) != -1 || errno != ENOSYS)
		_exit(12);
}

TEST(sandbox_keeper_still_works_in_its_data_directory)
{
	int status = in_sandbox(RG_SANDBOX_KEEPER, do_keeper_work);

	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
}

static void
do_take_idle_policy(const char *dir)
{
	struct sched_param sp = {0};

	(void)dir;
	_exit(sched_setscheduler(0, SCHED_IDLE, &sp) == 0 ? 0 : 30);
}

static void
do_take_fifo_policy(const char *dir)
{
	struct sched_param sp = {.sched_priority = 1};

	(void)dir;
	syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp);
}

static void
do_set_other_thread_policy(const char *dir)
{
	struct sched_param sp = {0};

	(void)dir;
	/* Its own, by number: the filter allows only 0, "this thread". */
	syscall(SYS_sched_setscheduler, getpid(), SCHED_IDLE, &sp);
}

static void
do_lower_nice(const char *dir)
{
	(void)dir;
	syscall(SYS_setpriority, PRIO_PROCESS, 0, 19);
}

/* A thread may put itself under SCHED_IDLE (the verification helpers do);
 * any other policy, another thread's, or a nice value, kills. */
TEST(sandbox_lets_a_thread_take_the_idle_policy_and_nothing_else)
{
	int status = in_sandbox(RG_SANDBOX_KEEPER, do_take_idle_policy);

	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER, do_take_fifo_policy)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER,
	                                  do_set_other_thread_policy)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_KEEPER, do_lower_nice)));
	CHECK(killed_by_sigsys(in_sandbox(RG_SANDBOX_FRONT, do_take_fifo_policy)));
}

static void
do_open_outside(const char *dir)
{
	int fd;

	(void)dir;
	/* Landlock is best effort: where the kernel offers it, a file
	 * outside the data directory is out of reach (EACCES); exit 20
	 * tells the parent the kernel has no Landlock. */
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		_exit(20);
	_exit(errno == EACCES ? 0 : 21);
}

TEST(sandbox_keeper_sees_nothing_outside_its_directory_with_landlock)
{
	int status = in_sandbox(RG_SANDBOX_KEEPER, do_open_outside);

	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) == 20) {
		/* No Landlock on this kernel: the seccomp tests above still
		 * hold; say so rather than pretend. */
		fprintf(stderr, "  (landlock not offered by this kernel)\n");
		return;
	}
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

static pthread_barrier_t worker_go;

static void *
worker_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&worker_go);
	syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	return NULL;
}

TEST(sandbox_forbidden_call_in_a_worker_thread_kills_the_process)
{
	int status;
	pid_t pid;

	skip_under_valgrind();
	pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		pthread_t th;
		char err[256];

		/* The thread exists before the filter: TSYNC must reach it. */
		pthread_barrier_init(&worker_go, NULL, 2);
		if (pthread_create(&th, NULL, worker_thread, NULL) != 0)
			_exit(5);
		if (rg_sandbox_enter(RG_SANDBOX_KEEPER, rg_test_tmpdir(), NULL, NULL, err,
		                     sizeof(err)) != 0)
			_exit(3);
		pthread_barrier_wait(&worker_go);
		pthread_join(th, NULL);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(killed_by_sigsys(status), "status 0x%x", status);
}
