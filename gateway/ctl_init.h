/*
 * ctl_init.h -- `recgatectl init --config FILE ...`: a production
 * gateway's keystore, database and key files, where its config says.
 */
#ifndef RG_CTL_INIT_H
#define RG_CTL_INIT_H

/* argv: the arguments after "init". Returns the process exit status. */
int rg_ctl_init(int argc, char **argv);

#endif
