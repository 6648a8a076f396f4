/*
 * ctl_audit.h -- `recgatectl audit ...`: the security officer's commands
 * (export, verify, prove, report).
 */
#ifndef RG_CTL_AUDIT_H
#define RG_CTL_AUDIT_H

/* argv[0] is the subcommand. Returns the process exit status. */
int rg_ctl_audit(int argc, char **argv);

#endif
