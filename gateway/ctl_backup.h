/*
 * ctl_backup.h -- `recgatectl backup` and `restore`: the keystore and a
 * snapshot of the database that go together, taken while the gateway
 * runs, and put back where a config says.
 */
#ifndef RG_CTL_BACKUP_H
#define RG_CTL_BACKUP_H

/* argv: the arguments after "backup" (or "restore"). Returns the process
 * exit status. */
int rg_ctl_backup(int argc, char **argv);
/* Put a backup's keystore and database where a config says, with the
 * gateway stopped and nothing there yet. */
int rg_ctl_restore(int argc, char **argv);

#endif
