/*
 * procs.c -- what every confined process does last before serving: drop
 * to the unprivileged user, then enter its role's sandbox, or say loudly
 * that the operator turned the sandbox off.
 */
#include <stdio.h>

#include <jansson.h>

#include "gateway/procs.h"

int
rg_procs_confine(const struct rg_config *cfg, const struct rg_identity *id,
                 rg_sandbox_role role, const char *dir, const char *who)
{
	struct rg_sandbox_report rep;
	char err[512];

	/* jansson seeds its hash function from /dev/urandom on first use:
	 * do it now, while files can still be opened. */
	json_object_seed(0);
	if (!cfg->sandbox) {
		if (rg_sandbox_drop(id, err, sizeof(err)) != 0) {
			fprintf(stderr, "recgated[%s]: %s\n", who, err);
			return -1;
		}
		fprintf(stderr, "recgated[%s]: WARNING: sandbox = off: this process "
		        "runs WITHOUT seccomp and Landlock (for debugging and "
		        "sanitizer builds only)\n", who);
		return 0;
	}
	if (rg_sandbox_enter(role, dir, id, &rep, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgated[%s]: sandbox: %s (refusing to run; "
		        "sandbox = off in the config turns it off)\n", who, err);
		return -1;
	}
	return 0;
}
