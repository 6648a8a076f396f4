/*
 * ctl_keys.h -- `recgatectl keys (list|rewrite|passphrase|master-file)`:
 * the administrator's offline keystore commands.
 */
#ifndef RG_CTL_KEYS_H
#define RG_CTL_KEYS_H

/* argv[0] is the subcommand. Returns the process exit status. */
int rg_ctl_keys(int argc, char **argv);

#endif
