/*
 * ctl_dbkey.h -- `recgatectl admin ... rotate database`: schedule an
 * online database rekey and wait for its outcome.
 */
#ifndef RG_CTL_DBKEY_H
#define RG_CTL_DBKEY_H

/* Returns the exit status: 0 rekeyed, 1 refused or failed, 2 no answer. */
int rg_ctl_admin_dbkey(const char *url, const char *keyfile);

#endif
