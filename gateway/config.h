/*
 * config.h -- recgate.conf: the daemon's settings.
 *
 * The file is "name = value" lines; '#' starts a comment; unknown names are
 * an error (a typo must not silently leave a default in force). Relative
 * paths are taken relative to the directory of the config file.
 */
#ifndef RG_CONFIG_H
#define RG_CONFIG_H

#include <limits.h>
#include <stddef.h>

struct rg_config {
	char data_dir[PATH_MAX];        /* data_dir: holds the database */
	char database[PATH_MAX];        /* database: default DATA_DIR/recgate.db */
	char keystore[PATH_MAX];        /* keystore: default DATA_DIR/keystore */
	char master_key_file[PATH_MAX]; /* master_key_file: the secret */
	int passphrase_fd;              /* passphrase_fd = N: or a passphrase
	                                   read from fd N; -1 when unset */
	char listen_host[64];           /* listen = HOST:PORT */
	int listen_port;
	size_t max_body;                /* bytes; default 1 MiB */
	size_t max_header;              /* bytes; default 16 KiB */
	unsigned idle_timeout_ms;       /* default 60000 */
	unsigned request_timeout_ms;    /* default 30000 */
	size_t max_connections;         /* default 1024 */
	unsigned clock_skew_s;          /* created window; default 300 */
	unsigned auth_log_per_minute;   /* failed-auth log lines; default 60 */
	int sandbox;                    /* sandbox = on|off; default on */
	long long clock_offset_ms;      /* keeper's clock - wall clock; tests
	                                   and drills only; default 0 */
	char user[64];                  /* user = NAME: drop to it when root */
	char crash_at[80];              /* crash_at = NAME[:N]: the keeper
	                                   kills itself there (crash drills;
	                                   gateway/crashpoint.h); default none */
	unsigned auth_audit_per_minute; /* failed-auth audit entries; 600 */
	unsigned checkpoint_every_entries; /* sign a checkpoint after; 1000 */
	unsigned checkpoint_every_ms;   /* and at least this often; 10000 */
	unsigned grant_reply_days;      /* owner's reply period for a grant
	                                   request, working days; default 5 */
};

/* Defaults only (no paths). */
void rg_config_defaults(struct rg_config *cfg);
/* Load the file over the defaults. Returns 0, or -1 with err ("file:line:
 * message"). */
int rg_config_load(const char *path, struct rg_config *cfg, char *err,
                   size_t errlen);
/* Parse "HOST:PORT" ("[::1]:8443" for IPv6). Returns 0 or -1. */
int rg_config_parse_listen(const char *text, char *host, size_t hostlen,
                           int *port);

#endif
