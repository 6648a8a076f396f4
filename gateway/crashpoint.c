/*
 * crashpoint.c -- the drill's kill switch (see crashpoint.h). It must
 * never do anything when no point is armed, and never clean up when one
 * fires: the point is to die as abruptly as kill -9.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/crashpoint.h"

static char rg_crash_name[64];
static unsigned long rg_crash_left;
static int rg_crash_at_commit;   /* a "committed:" point is in the batch */

int
rg_crashpoint_arm(const char *spec)
{
	const char *colon;
	unsigned long n = 1;
	size_t len;
	char *end;

	rg_crash_name[0] = '\0';
	rg_crash_left = 0;
	if (spec == NULL || spec[0] == '\0')
		return 0;
	/* A count follows the last colon; names may hold colons themselves
	 * ("committed:admin.key.add"). */
	colon = strrchr(spec, ':');
	if (colon != NULL && (colon[1] == '\0' ||
	                      strspn(colon + 1, "0123456789") != strlen(colon + 1)))
		colon = NULL;
	len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	if (len == 0 || len >= sizeof(rg_crash_name))
		return -1;
	if (colon != NULL) {
		n = strtoul(colon + 1, &end, 10);
		if (end == colon + 1 || *end != '\0' || n == 0 || n > 1000000)
			return -1;
	}
	memcpy(rg_crash_name, spec, len);
	rg_crash_name[len] = '\0';
	rg_crash_left = n;
	return 0;
}

void
rg_crashpoint(const char *name)
{
	static const char msg[] = "recgated: crash point reached: ";

	if (rg_crash_left == 0 || strcmp(name, rg_crash_name) != 0)
		return;
	if (--rg_crash_left > 0)
		return;
	/* write(2) and raise(3) only: nothing buffered, nothing freed. */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0 ||
	    write(STDERR_FILENO, name, strlen(name)) < 0 ||
	    write(STDERR_FILENO, "\n", 1) < 0) {
		/* dying anyway */
	}
	raise(SIGKILL);
	_exit(137);
}

void
rg_crashpoint_exchange(const char *action)
{
	char name[sizeof(rg_crash_name) + 16];

	if (rg_crash_left == 0)
		return;
	snprintf(name, sizeof(name), "entered:%s", action);
	rg_crashpoint(name);
	snprintf(name, sizeof(name), "committed:%s", action);
	if (strcmp(name, rg_crash_name) == 0)
		rg_crash_at_commit = 1;
}

void
rg_crashpoint_commit(int committed)
{
	if (!rg_crash_at_commit)
		return;
	rg_crash_at_commit = 0;
	if (committed)
		rg_crashpoint(rg_crash_name);
}
