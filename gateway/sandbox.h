/*
 * sandbox.h -- confinement of recgate's processes: a seccomp allowlist per
 * role (libseccomp, default kill-process, native architecture only,
 * synchronised across threads, no_new_privs), Landlock on the file system
 * when the kernel offers it, and no core dumps.
 *
 * Enter only after all initialisation (libsodium, keys, database opened and
 * read, sockets bound) and before any worker thread starts: what the
 * process did not need by then it cannot do afterwards.
 */
#ifndef RG_SANDBOX_H
#define RG_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

typedef enum rg_sandbox_role {
	/* Network side: sockets it was handed, accept, the event loop.
	 * No file opening, no socket creation. */
	RG_SANDBOX_FRONT,
	/* Key keeper: files under its data directory, no network sockets. */
	RG_SANDBOX_KEEPER,
	/* One process holding both (until the front runs apart): the
	 * keeper's rights plus accepting connections on bound sockets. */
	RG_SANDBOX_GATEWAY
} rg_sandbox_role;

/* What got installed, for the log and for tests. */
struct rg_sandbox_report {
	int seccomp;        /* 1 when the filter is loaded */
	int landlock_abi;   /* 0 when Landlock is not offered by the kernel */
};

struct rg_identity;

/*
 * Confine the calling process (all its threads) in role. data_dir is the
 * one directory the keeper (or gateway) may use; ignored for the front.
 * In order: no core dumps and no_new_privs; Landlock (while still able to
 * open data_dir); the drop to id when running as root (id may be NULL);
 * then the seccomp filter, which allows no way back. Returns 0, or -1 with
 * err set: the caller must then refuse to run unless the operator turned
 * the sandbox off.
 */
int rg_sandbox_enter(rg_sandbox_role role, const char *data_dir,
                     const struct rg_identity *id,
                     struct rg_sandbox_report *report, char *err,
                     size_t errlen);

/* The unprivileged identity a process started as root drops to. */
struct rg_identity {
	int set;
	uid_t uid;
	gid_t gid;
};

/* Look the user up (before any sandbox: it reads the user database).
 * An empty name leaves id unset. 0, or -1 with err. */
int rg_sandbox_identity(const char *user, struct rg_identity *id, char *err,
                        size_t errlen);
/*
 * When running as root and id is set, drop to it for good (groups, gid,
 * uid) and check that root cannot be regained. Does nothing when not root.
 * 0, or -1 with err.
 */
int rg_sandbox_drop(const struct rg_identity *id, char *err, size_t errlen);

#endif
