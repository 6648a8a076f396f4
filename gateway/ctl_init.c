/*
 * ctl_init.c -- `recgatectl init --config FILE ...`: a production
 * gateway's first data where its config says (setup.c does the making),
 * with the master secret its config asks for, and the departments' key
 * files in a directory for the administrator to hand out. Everything is
 * checked before the first file is made, and nothing that exists is ever
 * overwritten.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/keystore.h"
#include "gateway/config.h"
#include "gateway/ctl_init.h"
#include "gateway/ctl_keys.h"
#include "gateway/demo.h"
#include "gateway/setup.h"

#define RG_INIT_MAXFILE (4 * 1024 * 1024)
#define RG_INIT_MAXDEPTS 256
#define RG_INIT_MINPASS 8

struct rg_init_opts {
	const char *config, *origin, *catalogue, *departments, *keys_out;
	const char *convener, *master_key;
	int pass_fd;
};

static void
rg_init_usage(void)
{
	fprintf(stderr,
	    "usage: recgatectl init --config FILE --origin NAME --catalogue FILE\n"
	    "                       --keys-out DIR [--departments FILE]\n"
	    "                       [--convener ID] [--master-key FILE | "
	    "--passphrase-fd N]\n"
	    "       recgatectl init --demo DIR\n"
	    "  --origin        the audit log's name in its checkpoints, for good\n"
	    "                  (a domain and a path: gw.example.gov.cn/recgate)\n"
	    "  --catalogue     the information-resource catalogue (JSON)\n"
	    "  --keys-out      a new directory for the key files to hand out\n"
	    "  --departments   [{\"id\": ..., \"name\": ...}, ...] (default: the\n"
	    "                  sixteen member departments of the joint meeting)\n"
	    "  --convener      the department holding the office (default health)\n"
	    "  --master-key    where to create the master key file (default: the\n"
	    "                  config's master_key_file)\n"
	    "  --passphrase-fd read the new passphrase from descriptor N (a config\n"
	    "                  with passphrase_fd; default: the terminal, twice)\n");
	exit(2);
}

/* A whole file, NUL-terminated, at most RG_INIT_MAXFILE. */
static char *
rg_init_read(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(RG_INIT_MAXFILE + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, RG_INIT_MAXFILE + 1, f);
	if (ferror(f) || n > RG_INIT_MAXFILE) {
		snprintf(err, errlen, "%s: %s", path,
		         ferror(f) ? "read error" : "larger than 4 MiB");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * The departments file: a JSON array of {"id": ID, "name": NAME}. The
 * strings point into *root (the caller json_decrefs it). setup.c checks
 * the ids and names themselves. Returns the count, or -1 with err.
 */
static long
rg_init_departments(const char *path, json_t **root,
                    struct rg_setup_dept *out, size_t cap, char *err,
                    size_t errlen)
{
	json_error_t je;
	size_t i;
	json_t *d;

	*root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (*root == NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		return -1;
	}
	if (!json_is_array(*root) || json_array_size(*root) > cap) {
		snprintf(err, errlen, "%s: expected an array of at most %zu "
		         "departments", path, cap);
		return -1;
	}
	json_array_foreach(*root, i, d) {
		const char *key;
		json_t *v;

		out[i].id = json_string_value(json_object_get(d, "id"));
		out[i].name = json_string_value(json_object_get(d, "name"));
		if (!json_is_object(d) || out[i].id == NULL || out[i].name == NULL) {
			snprintf(err, errlen, "%s: department %zu: expected "
			         "{\"id\": ..., \"name\": ...}", path, i + 1);
			return -1;
		}
		json_object_foreach(d, key, v)
			if (strcmp(key, "id") != 0 && strcmp(key, "name") != 0) {
				snprintf(err, errlen, "%s: department %zu: unknown "
				         "member \"%s\"", path, i + 1, key);
				return -1;
			}
	}
	return (long)json_array_size(*root);
}

static int
rg_init_parse(int argc, char **argv, struct rg_init_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->pass_fd = -1;
	o->convener = "health";
	for (int i = 0; i < argc; i++) {
		const char **slot = NULL;

		if (i + 1 >= argc)
			return -1;
		if (strcmp(argv[i], "--config") == 0)
			slot = &o->config;
		else if (strcmp(argv[i], "--origin") == 0)
			slot = &o->origin;
		else if (strcmp(argv[i], "--catalogue") == 0)
			slot = &o->catalogue;
		else if (strcmp(argv[i], "--departments") == 0)
			slot = &o->departments;
		else if (strcmp(argv[i], "--keys-out") == 0)
			slot = &o->keys_out;
		else if (strcmp(argv[i], "--convener") == 0)
			slot = &o->convener;
		else if (strcmp(argv[i], "--master-key") == 0)
			slot = &o->master_key;
		else if (strcmp(argv[i], "--passphrase-fd") == 0) {
			if (rg_ctl_keys_fd(argv[++i], &o->pass_fd) != 0)
				return -1;
			continue;
		} else
			return -1;
		*slot = argv[++i];
	}
	if (o->config == NULL || o->origin == NULL || o->catalogue == NULL ||
	    o->keys_out == NULL)
		return -1;
	return 0;
}

/* A new passphrase, asked twice on the terminal or read from pass_fd. */
static rg_keystore_secret *
rg_init_passphrase(const struct rg_init_opts *o, char *err, size_t errlen)
{
	rg_keystore_secret *s = o->pass_fd >= 0
	    ? rg_keystore_secret_passphrase_fd(o->pass_fd, err, errlen)
	    : rg_keystore_secret_passphrase_tty("New keystore passphrase: ", 1,
	                                        err, errlen);

	if (s != NULL && rg_keystore_secret_len(s) < RG_INIT_MINPASS) {
		snprintf(err, errlen, "the passphrase must be at least %d "
		         "characters", RG_INIT_MINPASS);
		rg_keystore_secret_free(s);
		return NULL;
	}
	return s;
}

/* A new master key file (O_EXCL) and the secret it holds. */
static rg_keystore_secret *
rg_init_keyfile(const char *path, char *err, size_t errlen)
{
	if (rg_keystore_new_master(path, err, errlen) != 0)
		return NULL;
	return rg_keystore_secret_keyfile(path, err, errlen);
}

/* Everything checked that can be before a file is made. */
static int
rg_init_check(const struct rg_config *cfg, const struct rg_init_opts *o,
              const struct rg_setup *s, char *err, size_t errlen)
{
	if (cfg->passphrase_fd >= 0 && o->master_key != NULL) {
		snprintf(err, errlen, "%s asks for a passphrase (passphrase_fd): "
		         "--master-key does not apply", o->config);
		return -1;
	}
	if (cfg->passphrase_fd < 0 && o->pass_fd >= 0) {
		snprintf(err, errlen, "%s names a master key file: --passphrase-fd "
		         "does not apply", o->config);
		return -1;
	}
	if (cfg->passphrase_fd < 0 &&
	    rg_setup_absent("the master key file",
	                   o->master_key ? o->master_key : cfg->master_key_file,
	                   err, errlen) != 0)
		return -1;
	return rg_setup_check(s, err, errlen);
}

static int
rg_init_run(const struct rg_init_opts *o)
{
	struct rg_setup_dept depts[RG_INIT_MAXDEPTS];
	struct rg_setup s = {0};
	struct rg_config cfg;
	rg_keystore_secret *secret = NULL;
	json_t *droot = NULL;
	char err[8192];
	char *cat = NULL;
	long n;
	int rc = 1;

	rg_config_defaults(&cfg);
	if (rg_config_load(o->config, &cfg, err, sizeof(err)) != 0)
		goto fail;
	if ((cat = rg_init_read(o->catalogue, &s.catalogue_len, err,
	                        sizeof(err))) == NULL)
		goto fail;
	if (o->departments != NULL) {
		n = rg_init_departments(o->departments, &droot, depts,
		                        RG_INIT_MAXDEPTS, err, sizeof(err));
		if (n < 0)
			goto fail;
	} else {
		/* The rules' sixteen member departments. */
		static char names[RG_INIT_MAXDEPTS][256];

		for (size_t i = 0; i < rg_demo_ndepts; i++) {
			snprintf(names[i], sizeof(names[i]), "%s %s",
			         rg_demo_depts[i].name_zh, rg_demo_depts[i].name_en);
			depts[i].id = rg_demo_depts[i].id;
			depts[i].name = names[i];
		}
		n = (long)rg_demo_ndepts;
	}
	s.keystore = cfg.keystore;
	s.database = cfg.database;
	s.origin = o->origin;
	s.catalogue = cat;
	s.depts = depts;
	s.ndepts = (size_t)n;
	s.convener = o->convener;
	s.keys_dir = o->keys_out;
	/* A passphrase is asked for before anything is made; a key file is
	 * made last, just before the keystore it opens. */
	if (rg_init_check(&cfg, o, &s, err, sizeof(err)) != 0 ||
	    (cfg.passphrase_fd >= 0 &&
	     (secret = rg_init_passphrase(o, err, sizeof(err))) == NULL) ||
	    rg_setup_dir_new(o->keys_out, err, sizeof(err)) != 0 ||
	    rg_setup_data_dir(cfg.data_dir, err, sizeof(err)) != 0 ||
	    (cfg.passphrase_fd < 0 &&
	     (secret = rg_init_keyfile(o->master_key ? o->master_key :
	                               cfg.master_key_file, err,
	                               sizeof(err))) == NULL))
		goto fail;
	s.secret = secret;
	if (rg_setup_run(&s, err, sizeof(err)) != 0 ||
	    rg_setup_own_like(cfg.keystore, cfg.data_dir, err, sizeof(err)) != 0 ||
	    rg_setup_own_like(cfg.database, cfg.data_dir, err, sizeof(err)) != 0)
		goto fail;
	printf("recgatectl: init: keystore %s and database %s created for %ld "
	       "departments (convener %s), audit log origin \"%s\"\n"
	       "recgatectl: init: key files in %s: <department>.key each, "
	       "office.key, admin.key, officer.key (hand each to its holder "
	       "only)\n", cfg.keystore, cfg.database, n, o->convener, o->origin,
	       o->keys_out);
	if (cfg.passphrase_fd < 0)
		printf("recgatectl: init: master key file %s (under systemd: the "
		       "recgate.service credential master.key)\n",
		       o->master_key ? o->master_key : cfg.master_key_file);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "recgatectl: init: %s\n", err);
out:
	rg_keystore_secret_free(secret);
	json_decref(droot);
	free(cat);
	return rc;
}

int
rg_ctl_init(int argc, char **argv)
{
	struct rg_init_opts o;

	if (rg_init_parse(argc, argv, &o) != 0)
		rg_init_usage();
	return rg_init_run(&o);
}
