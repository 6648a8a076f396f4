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
