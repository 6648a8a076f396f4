/*
 * crashpoint.h -- named places where a drill may kill the keeper.
 *
 * Rotations write files and commit transactions in an order chosen so that
 * a crash at any moment leaves keys and data usable. The crash tests prove
 * it by setting `crash_at = NAME[:N]` (tests and drills only; logged loudly
 * at start): the N-th time (default 1) the keeper passes the point of that
 * name it kills itself with SIGKILL, as `kill -9` would, with no cleanup.
 * Unset, a crash point costs one comparison.
 */
#ifndef RG_CRASHPOINT_H
#define RG_CRASHPOINT_H

/* Arm the point named in spec ("NAME" or "NAME:N"); NULL or "" disarms.
 * Returns 0, or -1 for a malformed spec. */
int rg_crashpoint_arm(const char *spec);
/* Die here if this is the armed point's N-th pass. */
void rg_crashpoint(const char *name);
/*
 * Points at any exchange, named by its audit action: "entered:ACTION" is
 * passed when the exchange's entry is appended (its batch not yet
 * committed), "committed:ACTION" right after the batch holding it commits
 * (before its reply is released). rg_crashpoint_exchange is called per
 * exchange, rg_crashpoint_commit after each commit (committed 1) or
 * rollback (0).
 */
void rg_crashpoint_exchange(const char *action);
void rg_crashpoint_commit(int committed);

#endif
