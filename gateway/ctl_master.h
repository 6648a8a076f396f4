/*
 * ctl_master.h -- `recgatectl keys (passphrase|master-file NEWFILE)
 * --online`: change the master secret against the running gateway.
 */
#ifndef RG_CTL_MASTER_H
#define RG_CTL_MASTER_H

/* argv[0] is the subcommand. Returns the process exit status. */
int rg_ctl_master_online(int argc, char **argv);

#endif
