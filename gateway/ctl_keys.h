/*
 * ctl_keys.h -- `recgatectl keys (list|rewrite|passphrase|master-file)`:
 * the administrator's offline keystore commands.
 */
#ifndef RG_CTL_KEYS_H
#define RG_CTL_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* argv[0] is the subcommand. Returns the process exit status. */
int rg_ctl_keys(int argc, char **argv);

/* For the keys commands of other files (ctl_master.c): a descriptor
 * number from the command line (0 or -1), and the secret that opens the
 * configured keystore as its header asks (the key file, or a passphrase
 * from pass_fd when >= 0, else from the terminal with prompt). */
struct rg_config;
struct rg_keystore_secret;
int rg_ctl_keys_fd(const char *s, int *fd);
struct rg_keystore_secret *rg_ctl_keys_secret(const struct rg_config *cfg,
                                              int pass_fd, const char *prompt,
                                              char *err, size_t errlen);

/*
 * ctl_keys_use.c: each keystore key's use (index i of rg_keystore_info)
 * from the database at path: when last used (Unix ms, 0 unknown), records
 * sealed (data keys), or in use all the time (the active database key and
 * KEK). 0, or -1 with err set.
 */
struct rg_keystore;
struct rg_ctl_key_use {
	int64_t last_ms;
	int64_t records;
	int in_use;
};
int rg_ctl_keys_use(const char *database, const struct rg_keystore *ks,
                      struct rg_ctl_key_use *out, char *err, size_t errlen);

#endif
