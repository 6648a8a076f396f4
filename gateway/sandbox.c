/*
 * sandbox.c -- the seccomp allowlists and the Landlock rules of each role.
 *
 * Deny by default: a call that is not listed kills the whole process
 * (SCMP_ACT_KILL_PROCESS), except a few that libraries probe for and can do
 * without, which fail with ENOSYS. Nothing may map executable memory or
 * start another program. The lists name what the event loop, libsodium,
 * jansson and SQLCipher use after start-up, and nothing more.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "gateway/sandbox.h"

/* Landlock ABI 3 (Linux 6.2); older headers lack the name. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* Calls every role needs: memory, time, signals, its descriptors. */
static const int rg_sandbox_common[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(futex),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(getrandom), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_create1),
	SCMP_SYS(eventfd2), SCMP_SYS(pipe2), SCMP_SYS(dup), SCMP_SYS(dup3),
	SCMP_SYS(fcntl), SCMP_SYS(sched_yield), SCMP_SYS(set_robust_list),
	SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(shutdown),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt), SCMP_SYS(uname), SCMP_SYS(getuid), SCMP_SYS(rseq),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	/* abort() on a broken invariant signals itself. */
	SCMP_SYS(tgkill),
};

/* The keeper's files, all inside its data directory (Landlock). The
 * online rewrites need the same calls after start-up: the keystore's
 * (openat O_EXCL, fsync, rename, fsync of the directory opened with
 * O_DIRECTORY, flock) and the database rekey's (dbrekey.c: the copy made
 * with openat and ATTACH, its journal and WAL unlinked, the WAL truncated
 * by the checkpoint, rename over the database, fsync of the directory). */
static const int rg_sandbox_files[] = {
	SCMP_SYS(openat), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(statx), SCMP_SYS(readlink),
	SCMP_SYS(getcwd), SCMP_SYS(fchown), SCMP_SYS(fchmod), SCMP_SYS(flock),
	SCMP_SYS(getdents64),
};

/* Probed by libraries that work without them: fail, do not kill. */
static const int rg_sandbox_enosys[] = {
	SCMP_SYS(io_uring_setup), SCMP_SYS(clone3),
	SCMP_SYS(statfs), SCMP_SYS(fstatfs),
};

static int
rg_sandbox_add(scmp_filter_ctx ctx, uint32_t action, const int *calls,
               size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, action, calls[i], 0);

		/* A call this architecture lacks (rename on some) is fine. */
		if (rc != 0 && rc != -EDOM && calls[i] >= 0) {
			snprintf(err, errlen, "seccomp: cannot allow %s: %s",
			         seccomp_syscall_resolve_num_arch(
			             SCMP_ARCH_NATIVE, calls[i]) ?: "?",
			         strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* Arguments-checked rules: no executable mappings, threads only. */
static int
rg_sandbox_conditional(scmp_filter_ctx ctx)
{
	int rc = 0;

	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	                       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	                       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	                       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
	                               CLONE_THREAD));
	/* libuv sets non-blocking and close-on-exec with ioctl. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	                       SCMP_A1(SCMP_CMP_EQ, FIONBIO));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	                       SCMP_A1(SCMP_CMP_EQ, FIOCLEX));
	/* PR_SET_NAME and the like are harmless; prctl otherwise is not. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
	                       SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	/* A thread may put itself under SCHED_IDLE (the verification
	 * helpers, preverify.c), which it can never leave unprivileged; no
	 * other policy, no other thread's, no nice value. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sched_setscheduler),
	                       2, SCMP_A0(SCMP_CMP_EQ, 0),
	                       SCMP_A1(SCMP_CMP_EQ, SCHED_IDLE));
	return rc == 0 ? 0 : -1;
}

static int
rg_sandbox_seccomp(rg_sandbox_role role, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = -1;

	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp: cannot initialise a filter");
		return -1;
	}
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
		snprintf(err, errlen, "seccomp: cannot set filter attributes");
		goto out;
	}
	if (rg_sandbox_add(ctx, SCMP_ACT_ALLOW, rg_sandbox_common,
	                   sizeof(rg_sandbox_common) / sizeof(int), err, errlen) != 0 ||
	    rg_sandbox_add(ctx, SCMP_ACT_ERRNO(ENOSYS), rg_sandbox_enosys,
	                   sizeof(rg_sandbox_enosys) / sizeof(int), err, errlen) != 0)
		goto out;
	if (role != RG_SANDBOX_FRONT &&
	    rg_sandbox_add(ctx, SCMP_ACT_ALLOW, rg_sandbox_files,
	                   sizeof(rg_sandbox_files) / sizeof(int), err, errlen) != 0)
		goto out;
	if (rg_sandbox_conditional(ctx) != 0) {
		snprintf(err, errlen, "seccomp: cannot add argument rules");
		goto out;
	}
	rc = seccomp_load(ctx);
	if (rc != 0) {
		snprintf(err, errlen, "seccomp: cannot load the filter: %s",
		         strerror(-rc));
		rc = -1;
	}
out:
	seccomp_release(ctx);
	return rc;
}

/*
 * Landlock, best effort by ABI version: the front may touch nothing on
 * disk, the keeper only data_dir. Returns the ABI used (0: not offered by
 * this kernel), or -1 on a failure to restrict when it is offered.
 */
static int
rg_sandbox_landlock(rg_sandbox_role role, const char *data_dir, char *err,
                    size_t errlen)
{
	struct landlock_ruleset_attr attr = {0};
	struct landlock_path_beneath_attr beneath = {0};
	uint64_t all;
	long abi;
	int rfd, dfd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	              LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	all = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	      LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
	      LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	      LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	      LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	      LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	attr.handled_access_fs = all;
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rfd < 0) {
		snprintf(err, errlen, "landlock: cannot create a ruleset: %s",
		         strerror(errno));
		return -1;
	}
	if (role != RG_SANDBOX_FRONT) {
		dfd = open(data_dir, O_PATH | O_CLOEXEC | O_DIRECTORY);
		if (dfd < 0) {
			snprintf(err, errlen, "landlock: %s: %s", data_dir,
			         strerror(errno));
			close(rfd);
			return -1;
		}
		beneath.parent_fd = dfd;
		beneath.allowed_access = all & ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE;
		if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
		            &beneath, 0) != 0) {
			snprintf(err, errlen, "landlock: cannot allow %s: %s",
			         data_dir, strerror(errno));
			close(dfd);
			close(rfd);
			return -1;
		}
		close(dfd);
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) != 0) {
		snprintf(err, errlen, "landlock: cannot restrict: %s",
		         strerror(errno));
		close(rfd);
		return -1;
	}
	close(rfd);
	return (int)abi;
}

int
rg_sandbox_enter(rg_sandbox_role role, const char *data_dir,
                 const struct rg_identity *id,
                 struct rg_sandbox_report *report, char *err, size_t errlen)
{
	struct rlimit nocore = {0, 0};
	struct rg_sandbox_report r = {0, 0};
	int abi;

	if (setrlimit(RLIMIT_CORE, &nocore) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "cannot drop core dumps and new privileges: %s",
		         strerror(errno));
		return -1;
	}
	abi = rg_sandbox_landlock(role, data_dir, err, errlen);
	if (abi < 0)
		return -1;
	r.landlock_abi = abi;
	if (rg_sandbox_drop(id, err, errlen) != 0)
		return -1;
	/* seccomp last: Landlock's and setuid's calls are not allowed. */
	if (rg_sandbox_seccomp(role, err, errlen) != 0)
		return -1;
	r.seccomp = 1;
	if (report != NULL)
		*report = r;
	return 0;
}

int
rg_sandbox_identity(const char *user, struct rg_identity *id, char *err,
                    size_t errlen)
{
	struct passwd *pw;

	memset(id, 0, sizeof(*id));
	if (user == NULL || user[0] == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "user %s: %s", user,
		         errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user %s is root: name an unprivileged user",
		         user);
		return -1;
	}
	id->set = 1;
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	return 0;
}

int
rg_sandbox_drop(const struct rg_identity *id, char *err, size_t errlen)
{
	if (geteuid() != 0 || id == NULL || !id->set)
		return 0;
	if (setgroups(1, &id->gid) != 0 || setresgid(id->gid, id->gid, id->gid) != 0 ||
	    setresuid(id->uid, id->uid, id->uid) != 0) {
		snprintf(err, errlen, "cannot drop privileges: %s", strerror(errno));
		return -1;
	}
	/* Make sure the way back is closed. */
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "dropped privileges could be regained");
		return -1;
	}
	return 0;
}
