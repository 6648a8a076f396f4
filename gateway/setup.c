/*
 * setup.c -- a gateway's first data (setup.h): checks the whole plan
 * before it makes anything, then the keystore, the database and the key
 * files. Private keys leave guarded memory only to be written to their key
 * files (mode 0600), as a department's key is handed over.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/sig.h"
#include "gateway/client.h"
#include "gateway/setup.h"
#include "gateway/wfile.h"
#include "gateway/store.h"
#include "policy/catalogue.h"

/* Longest registry name: a bureau's full name in Chinese and English. */
#define RG_SETUP_NAMEMAX 255

int
rg_setup_dir_new(const char *dir, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *e;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			closedir(d);
			snprintf(err, errlen, "%s exists and is not empty", dir);
			return -1;
		}
	closedir(d);
	if (chmod(dir, 0700) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
rg_setup_data_dir(const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	snprintf(err, errlen, "%s: %s", dir,
	         errno == EEXIST ? "not a directory" : strerror(errno));
	return -1;
}

int
rg_setup_own_like(const char *path, const char *dir, char *err, size_t errlen)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	struct stat d;

	if (geteuid() != 0)
		return 0;
	if (stat(dir, &d) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		char p[4200];
		struct stat f;

		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (lstat(p, &f) != 0) {
			if (errno == ENOENT && i > 0)
				continue;
			snprintf(err, errlen, "%s: %s", p, strerror(errno));
			return -1;
		}
		if ((f.st_uid != d.st_uid || f.st_gid != d.st_gid) &&
		    lchown(p, d.st_uid, d.st_gid) != 0) {
			snprintf(err, errlen, "%s: %s", p, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The index of dept id in s->depts, or -1. */
static int
rg_setup_find(const struct rg_setup *s, const char *id)
{
	for (size_t i = 0; i < s->ndepts; i++)
		if (strcmp(s->depts[i].id, id) == 0)
			return (int)i;
	return -1;
}

static int
rg_setup_check_depts(const struct rg_setup *s, char *err, size_t errlen)
{
	static const char *const roles[] = {RG_SETUP_OFFICE, RG_SETUP_ADMIN,
	                                    RG_SETUP_OFFICER};

	if (s->ndepts == 0) {
		snprintf(err, errlen, "no departments");
		return -1;
	}
	for (size_t i = 0; i < s->ndepts; i++) {
		const struct rg_setup_dept *d = &s->depts[i];
		size_t nlen = d->name != NULL ? strlen(d->name) : 0;

		if (d->id == NULL || !rg_department_id_valid(d->id)) {
			snprintf(err, errlen, "department %zu: id \"%s\": expected "
			         "1 to 31 letters a-z", i + 1, d->id ? d->id : "");
			return -1;
		}
		for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++)
			if (strcmp(d->id, roles[r]) == 0) {
				snprintf(err, errlen, "department %zu: id \"%s\" is the "
				         "name of a role key's file", i + 1, d->id);
				return -1;
			}
		if (rg_setup_find(s, d->id) != (int)i) {
			snprintf(err, errlen, "department %zu: id \"%s\" twice", i + 1,
			         d->id);
			return -1;
		}
		if (nlen == 0 || nlen > RG_SETUP_NAMEMAX ||
		    memchr(d->name, '\n', nlen) != NULL) {
			snprintf(err, errlen, "department %zu (%s): a name of 1 to %d "
			         "bytes on one line", i + 1, d->id, RG_SETUP_NAMEMAX);
			return -1;
		}
	}
	if (s->convener == NULL || rg_setup_find(s, s->convener) < 0) {
		snprintf(err, errlen, "the convener \"%s\" is not among the "
		         "departments", s->convener ? s->convener : "");
		return -1;
	}
	return 0;
}

/* The catalogue parsed and loadable, each owner a department: the parsed
 * catalogue in *out (the caller frees it), or -1 with err. */
static int
rg_setup_check_catalogue(const struct rg_setup *s, rg_catalogue **out,
                         char *err, size_t errlen)
{
	rg_catalogue *cat;
	char *problems;
	size_t plen = 8192;
	int rc = -1;

	problems = malloc(plen);
	if (problems == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cat = rg_catalogue_parse(s->catalogue, s->catalogue_len, problems, plen);
	if (cat == NULL) {
		snprintf(err, errlen, "catalogue: %s", problems);
		goto out;
	}
	if (rg_catalogue_check_load(cat, problems, plen) != 0) {
		snprintf(err, errlen, "catalogue: %s", problems);
		goto out;
	}
	for (size_t i = 0; i < rg_catalogue_count(cat); i++) {
		const rg_resource *res = rg_catalogue_at(cat, i);
		const char *owner = rg_resource_owner(res);

		/* "*": each member publishes its own (work bulletins). */
		if (strcmp(owner, "*") != 0 && rg_setup_find(s, owner) < 0) {
			snprintf(err, errlen, "catalogue: resource %s: its owner %s "
			         "is not among the departments", rg_resource_id(res),
			         rg_resource_owner(res));
			goto out;
		}
	}
	*out = cat;
	cat = NULL;
	rc = 0;
out:
	rg_catalogue_free(cat);
	free(problems);
	return rc;
}

int
rg_setup_absent(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (lstat(path, &sb) == 0) {
		snprintf(err, errlen, "%s %s exists already: a gateway's data is "
		         "never overwritten", what, path);
		return -1;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* rg_setup_check, handing over the parsed catalogue (*cat, caller frees). */
static int
rg_setup_check_parsed(const struct rg_setup *s, rg_catalogue **cat, char *err,
                      size_t errlen)
{
	*cat = NULL;
	if (s->origin == NULL || s->origin[0] == '\0' ||
	    strchr(s->origin, '\n') != NULL) {
		snprintf(err, errlen, "the audit log's origin: one line, not empty");
		return -1;
	}
	if (rg_setup_check_depts(s, err, errlen) != 0 ||
	    rg_setup_check_catalogue(s, cat, err, errlen) != 0)
		return -1;
	if (rg_setup_absent("the keystore", s->keystore, err, errlen) != 0 ||
	    rg_setup_absent("the database", s->database, err, errlen) != 0) {
		rg_catalogue_free(*cat);
		*cat = NULL;
		return -1;
	}
	return 0;
}

int
rg_setup_check(const struct rg_setup *s, char *err, size_t errlen)
{
	rg_catalogue *cat;
	int rc = rg_setup_check_parsed(s, &cat, err, errlen);

	rg_catalogue_free(cat);
	return rc;
}

/*
 * A key pair for department dept acting in role, registered under key id
 * "<name>-<8 hex>" and written to KEYS_DIR/<name>.key.
 */
static int
rg_setup_key(rg_store *st, const char *keys_dir, const char *dept,
             const char *role, const char *name, int64_t now_ms, char *err,
             size_t errlen)
{
	struct rg_client_key ck;
	struct rg_store_key k = {0};
	char path[4096];
	int rc = -1;

	if (rg_client_key_new(dept, name, &ck) != 0) {
		snprintf(err, errlen, "%s: cannot make a key pair", name);
		return -1;
	}
	snprintf(k.keyid, sizeof(k.keyid), "%s", ck.keyid);
	snprintf(k.dept, sizeof(k.dept), "%s", dept);
	snprintf(k.role, sizeof(k.role), "%s", role);
	snprintf(k.status, sizeof(k.status), "active");
	rg_sigkey_public(ck.key, k.pub);
	k.created_ms = now_ms;
	snprintf(path, sizeof(path), "%s/%s.key", keys_dir, name);
	if (rg_store_key_put(st, &k) != RG_STORE_OK)
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
	else
		rc = rg_client_key_save(&ck, path, err, errlen);
	rg_client_key_clear(&ck);
	return rc;
}

/* The catalogue's resource ids, for their first data keys (pointers into
 * cat). NULL with err on failure; caller frees the array. */
static const char **
rg_setup_resources(const rg_catalogue *cat, size_t *n, char *err,
                   size_t errlen)
{
	const char **ids;

	*n = rg_catalogue_count(cat);
	ids = calloc(*n > 0 ? *n : 1, sizeof(*ids));
	if (ids == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		ids[i] = rg_resource_id(rg_catalogue_at(cat, i));
	return ids;
}

/* The rows and key files, inside one transaction of st. */
static int
rg_setup_rows(const struct rg_setup *s, rg_store *st, char *err,
              size_t errlen)
{
	int64_t now_ms = (int64_t)time(NULL) * 1000;

	if (rg_store_meta_put(st, "catalogue", s->catalogue, s->catalogue_len) !=
	    RG_STORE_OK) {
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
		return -1;
	}
	for (size_t i = 0; i < s->ndepts; i++) {
		const struct rg_setup_dept *d = &s->depts[i];

		if (rg_store_dept_put(st, d->id, d->name, "active") != RG_STORE_OK) {
			snprintf(err, errlen, "%s", rg_store_errmsg(st));
			return -1;
		}
		if (rg_setup_key(st, s->keys_dir, d->id, "department", d->id,
		                 now_ms, err, errlen) != 0)
			return -1;
	}
	/* The joint meeting's office sits in the convener's bureau and seals
	 * on the meeting's behalf (代章) with a key of its own, distinct from
	 * the bureau's: countersigning (会签) takes this key. The
	 * administrator's key may suspend a grant and manage keys, never
	 * touch a record or make a grant; the security officer's reads the
	 * audit trail and nothing else. */
	if (rg_setup_key(st, s->keys_dir, s->convener, "office", RG_SETUP_OFFICE,
	                 now_ms, err, errlen) != 0 ||
	    rg_setup_key(st, s->keys_dir, s->convener, "admin", RG_SETUP_ADMIN,
	                 now_ms, err, errlen) != 0 ||
	    rg_setup_key(st, s->keys_dir, s->convener, "officer",
	                 RG_SETUP_OFFICER, now_ms, err, errlen) != 0)
		return -1;
	return 0;
}

int
rg_setup_run(const struct rg_setup *s, char *err, size_t errlen)
{
	const char **resources = NULL;
	rg_catalogue *cat = NULL;
	rg_keystore *ks = NULL;
	rg_store *st = NULL;
	size_t nres;
	int rc = -1;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	if (rg_setup_check_parsed(s, &cat, err, errlen) != 0)
		return -1;
	if ((resources = rg_setup_resources(cat, &nres, err, errlen)) == NULL)
		goto out;
	if (rg_keystore_create_secret(s->keystore, s->secret, s->origin,
	                              resources, nres, err, errlen) != 0)
		goto out;
	ks = rg_keystore_open_secret(s->keystore, s->secret, err, errlen);
	if (ks == NULL)
		goto out;
	st = rg_store_open(s->database, rg_keystore_db_key(ks), 1, err, errlen);
	if (st == NULL)
		goto out;
	if (rg_store_begin(st) != RG_STORE_OK) {
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
		goto out;
	}
	if (rg_setup_rows(s, st, err, errlen) != 0)
		goto out;
	if (rg_store_commit(st) != RG_STORE_OK) {
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
		goto out;
	}
	rc = 0;
out:
	if (st != NULL && rc != 0)
		rg_store_rollback(st);
	rg_store_close(st);
	rg_keystore_free(ks);
	rg_catalogue_free(cat);
	free(resources);
	return rc;
}
