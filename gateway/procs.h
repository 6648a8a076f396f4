/*
 * procs.h -- the bodies of recgated's two confined processes. The monitor
 * (recgated.c) binds the listening socket, forks them and watches them:
 *
 *   front  -- rg_front_main(): HTTP on the inherited listening socket,
 *             frames requests to the keeper over its channel. No keys, no
 *             database, no files (seccomp + Landlock).
 *   keeper -- rg_keeper_main(): unlocks the keystore, opens the database,
 *             and answers the frames of whichever front the monitor hands
 *             it (a channel passed over the control socket with
 *             SCM_RIGHTS). No network sockets, files only in its
 *             directory.
 *
 * Each returns the process's exit status.
 */
#ifndef RG_PROCS_H
#define RG_PROCS_H

#include "gateway/config.h"
#include "gateway/sandbox.h"

/* The keeper writes this byte on the control socket once it is ready. */
#define RG_KEEPER_READY 'R'

/* ready_fd: the front writes RG_FRONT_READY there once it serves, and
 * closes it. */
#define RG_FRONT_READY 'F'
int rg_front_main(const struct rg_config *cfg, const struct rg_identity *id,
                  int listen_fd, int channel_fd, int ready_fd);
int rg_keeper_main(const struct rg_config *cfg, const struct rg_identity *id,
                   int control_fd);

/* Confine the calling process as role after dropping to id, or log loudly
 * that the sandbox is off. 0, or -1 (the process must exit). */
int rg_procs_confine(const struct rg_config *cfg, const struct rg_identity *id,
                     rg_sandbox_role role, const char *dir, const char *who);

#endif
