/*
 * setup.h -- a gateway's first data: the keystore, the database with the
 * member registry and the catalogue, and a key pair for each department
 * and for the office, the administrator and the security officer, whose
 * private halves go to files to hand out and nowhere else. `recgatectl
 * init` lays out a production gateway with it, `init --demo` the demo.
 */
#ifndef RG_SETUP_H
#define RG_SETUP_H

#include <stddef.h>
#include <sys/types.h>

#include "crypto/keystore.h"

/* The role keys' file names, beside the departments' own (<id>.key): no
 * department may be called so. */
#define RG_SETUP_OFFICE "office"
#define RG_SETUP_ADMIN "admin"
#define RG_SETUP_OFFICER "officer"

struct rg_setup_dept {
	const char *id;     /* rg_department_id_valid */
	const char *name;   /* as the registry shows it */
};

struct rg_setup {
	const char *keystore;                /* created: must not exist */
	const char *database;                /* created: must not exist */
	const rg_keystore_secret *secret;    /* seals the keystore */
	const char *origin;                  /* the audit log's name */
	const char *catalogue;               /* JSON text */
	size_t catalogue_len;
	const struct rg_setup_dept *depts;
	size_t ndepts;
	/* Among depts: the convener, whose bureau holds the joint meeting's
	 * office and under which the office's, the administrator's and the
	 * officer's keys are registered. */
	const char *convener;
	const char *keys_dir;                /* exists, empty: the key files */
};

/*
 * Check everything rg_setup_run would refuse before anything is made: the
 * catalogue (parsed and loadable), the departments (valid, distinct ids,
 * names, none called like a role key), every resource's owner among them,
 * the convener among them, and neither file there yet. 0, or -1 with err.
 */
int rg_setup_check(const struct rg_setup *s, char *err, size_t errlen);

/*
 * rg_setup_check, then create the keystore (a signing key for origin, a
 * database key, a KEK, a data key per resource), the database holding the
 * catalogue and the departments, and the key pairs: the departments' in
 * keys_dir/<id>.key, the role keys in keys_dir/office.key, admin.key and
 * officer.key (JSON with the base64 Ed25519 seed, mode 0600). On failure
 * what it made stays for the caller to see (nothing is overwritten: every
 * file is created exclusively). 0, or -1 with err.
 */
int rg_setup_run(const struct rg_setup *s, char *err, size_t errlen);

/* Nothing at path yet (what names it in err: "the keystore"). 0 or -1. */
int rg_setup_absent(const char *what, const char *path, char *err,
                    size_t errlen);
/* mkdir dir 0700, or take an existing empty one (made 0700). 0 or -1. */
int rg_setup_dir_new(const char *dir, char *err, size_t errlen);
/*
 * Run as root, give path (and its -wal and -shm, if there) the owner of
 * dir: files made in a data directory that systemd gave to the service's
 * user (StateDirectory=) must be that user's, or the service cannot open
 * them. Not root: nothing to do. 0 or -1 with err.
 */
int rg_setup_own_like(const char *path, const char *dir, char *err,
                      size_t errlen);
/* The data directory: made (0700) when missing, else it must be one. */
int rg_setup_data_dir(const char *dir, char *err, size_t errlen);

#endif
