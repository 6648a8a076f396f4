/*
 * ctl_catalogue.h -- `recgatectl catalogue (check|load) FILE ...`: the
 * office's catalogue commands.
 */
#ifndef RG_CTL_CATALOGUE_H
#define RG_CTL_CATALOGUE_H

/* argv[0] is the subcommand. Returns the process exit status. */
int rg_ctl_catalogue(int argc, char **argv);

#endif
