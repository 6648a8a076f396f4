/*
 * ctl_admin.h -- `recgatectl admin ...`: the administrator's key and
 * department changes against the running gateway, signed with an
 * admin-role key.
 */
#ifndef RG_CTL_ADMIN_H
#define RG_CTL_ADMIN_H

/* argv[0] is the first word after `admin`. Returns the exit status. */
int rg_ctl_admin(int argc, char **argv);

#endif
