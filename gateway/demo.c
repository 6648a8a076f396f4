/*
 * demo.c -- `recgatectl init --demo DIR`: lays out a working data
 * directory. Department private keys leave guarded memory only to be
 * written to their client key files (mode 0600), as a real department's
 * key would be handed over.
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

#include "crypto/keystore.h"
#include "crypto/sig.h"
#include "gateway/demo.h"
#include "gateway/store.h"
#include "policy/catalogue.h"

#define RG_DEMO_ORIGIN "recgate.demo/audit"

const struct rg_demo_dept rg_demo_depts[] = {
	{"health", "卫生健康局", "Health Bureau"},
	{"publicity", "县委宣传部", "Publicity Department"},
	{"devreform", "发展和改革局", "Development and Reform Bureau"},
	{"education", "教育和体育局", "Education and Sports Bureau"},
	{"industry", "科学技术和工业信息化局",
	 "Science, Technology, Industry and IT Bureau"},
	{"civil", "民政局", "Civil Affairs Bureau"},
	{"finance", "财政局", "Finance Bureau"},
	{"hrss", "人力资源和社会保障局",
	 "Human Resources and Social Security Bureau"},
	{"ecology", "生态环境局", "Ecology and Environment Bureau"},
	{"housing", "住房和城乡建设局",
	 "Housing and Urban-Rural Development Bureau"},
	{"emergency", "应急管理局", "Emergency Management Bureau"},
	{"tax", "税务局", "Tax Bureau"},
	{"market", "市场监督管理局", "Market Regulation Bureau"},
	{"medsec", "医疗保障局", "Medical Security Bureau"},
	{"union", "总工会", "Federation of Trade Unions"},
	{"transport", "交通运输局", "Transport Bureau"},
};
const size_t rg_demo_ndepts = sizeof(rg_demo_depts) / sizeof(rg_demo_depts[0]);

extern const char rg_demo_catalogue_json[];
extern const char rg_demo_catalogue_json_end[];

const char *
rg_demo_catalogue(size_t *len)
{
	*len = (size_t)(rg_demo_catalogue_json_end - rg_demo_catalogue_json);
	return rg_demo_catalogue_json;
}

static int
rg_demo_write(const char *path, const char *text, mode_t mode, char *err,
              size_t errlen)
{
	size_t len = strlen(text), off = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
rg_demo_dir_usable(const char *dir, char *err, size_t errlen)
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
	return chmod(dir, 0700);
}

/*
 * A key pair for department dept acting in role, registered under key id
 * "<name>-<8 hex>" and written to DIR/clients/<name>.key.
 */
static int
rg_demo_key(rg_store *st, const char *dir, const char *dept, const char *role,
            const char *name, int64_t now_ms, char *err, size_t errlen)
{
	struct rg_store_key k = {0};
	uint8_t pub[RG_SIG_PUBLEN], hash[32], *seed;
	char path[4096], *seed64 = NULL, *text = NULL;
	size_t b64len = sodium_base64_encoded_len(RG_SIG_SEEDLEN,
	                                          sodium_base64_VARIANT_ORIGINAL);
	size_t textlen;
	rg_sigkey *key;
	int rc = -1;

	key = rg_sigkey_generate();
	seed = sodium_malloc(RG_SIG_SEEDLEN);
	seed64 = sodium_malloc(b64len);
	textlen = b64len + 512;
	text = sodium_malloc(textlen);
	if (key == NULL || seed == NULL || seed64 == NULL || text == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rg_sigkey_public(key, pub);
	crypto_hash_sha256(hash, pub, sizeof(pub));
	snprintf(k.keyid, sizeof(k.keyid), "%s-%02x%02x%02x%02x", name, hash[0],
	         hash[1], hash[2], hash[3]);
	snprintf(k.dept, sizeof(k.dept), "%s", dept);
	snprintf(k.role, sizeof(k.role), "%s", role);
	snprintf(k.status, sizeof(k.status), "active");
	memcpy(k.pub, pub, sizeof(pub));
	k.created_ms = now_ms;
	if (rg_store_key_put(st, &k) != RG_STORE_OK) {
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
		goto out;
	}
	rg_sigkey_seed(key, seed);
	sodium_bin2base64(seed64, b64len, seed, RG_SIG_SEEDLEN,
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, textlen,
	         "{\"department\": \"%s\", \"keyid\": \"%s\", \"seed\": \"%s\"}\n",
	         dept, k.keyid, seed64);
	snprintf(path, sizeof(path), "%s/clients/%s.key", dir, name);
	rc = rg_demo_write(path, text, 0600, err, errlen);
out:
	rg_sigkey_free(key);
	sodium_free(seed);
	sodium_free(seed64);
	sodium_free(text);
	return rc;
}

/* One department: its registry row, a key pair, its client key file. */
static int
rg_demo_department(rg_store *st, const char *dir, const struct rg_demo_dept *dd,
                   int64_t now_ms, char *err, size_t errlen)
{
	char name[256];

	snprintf(name, sizeof(name), "%s %s", dd->name_zh, dd->name_en);
	if (rg_store_dept_put(st, dd->id, name, "active") != RG_STORE_OK) {
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
		return -1;
	}
	return rg_demo_key(st, dir, dd->id, "department", dd->id, now_ms, err,
	                   errlen);
}

int
rg_demo_init(const char *dir, char *err, size_t errlen)
{
	char path[4096], ks_path[4096], conf[8192], cerr[4096];
	const char *resources[RG_CATALOGUE_MAXFIELDS * 4];
	const char *cattext;
	size_t catlen, nres;
	rg_catalogue *cat = NULL;
	rg_keystore *ks = NULL;
	rg_store *st = NULL;
	uint8_t *master = NULL;
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	int rc = -1;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	cattext = rg_demo_catalogue(&catlen);
	cat = rg_catalogue_parse(cattext, catlen, cerr, sizeof(cerr));
	if (cat == NULL) {
		snprintf(err, errlen, "embedded catalogue: %s", cerr);
		return -1;
	}
	nres = rg_catalogue_count(cat);
	if (nres > sizeof(resources) / sizeof(resources[0])) {
		snprintf(err, errlen, "embedded catalogue too large");
		goto out;
	}
	for (size_t i = 0; i < nres; i++)
		resources[i] = rg_resource_id(rg_catalogue_at(cat, i));
	if (rg_demo_dir_usable(dir, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/clients", dir);
	if (mkdir(path, 0700) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/master.key", dir);
	if (rg_keystore_new_master(path, err, errlen) != 0)
		goto out;
	master = sodium_malloc(RG_KEYSTORE_MASTERLEN);
	if (master == NULL ||
	    rg_keystore_read_master(path, master, err, errlen) != 0)
		goto out;
	snprintf(ks_path, sizeof(ks_path), "%s/keystore", dir);
	if (rg_keystore_create(ks_path, master, RG_DEMO_ORIGIN, resources, nres,
	                       err, errlen) != 0)
		goto out;
	ks = rg_keystore_open(ks_path, master, err, errlen);
	if (ks == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/recgate.db", dir);
	st = rg_store_open(path, rg_keystore_db_key(ks), 1, err, errlen);
	if (st == NULL)
		goto out;
	if (rg_store_begin(st) != RG_STORE_OK ||
	    rg_store_meta_put(st, "catalogue", cattext, catlen) != RG_STORE_OK) {
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
		goto out;
	}
	for (size_t i = 0; i < rg_demo_ndepts; i++)
		if (rg_demo_department(st, dir, &rg_demo_depts[i], now_ms, err,
		                       errlen) != 0)
			goto out;
	/* The joint-meeting office sits in the Health Bureau and seals on its
	 * behalf (代章) with a key of its own, distinct from Health's:
	 * countersigning (会签) takes this key. */
	if (rg_demo_key(st, dir, "health", "office", "office", now_ms, err,
	                errlen) != 0)
		goto out;
	/* The administrator's key: registered under the convener, its role
	 * lets it suspend a grant and do nothing else (no records, no
	 * grant it could make or widen). */
	if (rg_demo_key(st, dir, "health", "admin", "admin", now_ms, err,
	                errlen) != 0)
		goto out;
	/* The security officer also sits in the Health Bureau; an officer's
	 * key reads the audit trail and nothing else. */
	if (rg_demo_key(st, dir, "health", "officer", "officer", now_ms, err,
	                errlen) != 0)
		goto out;
	if (rg_store_commit(st) != RG_STORE_OK) {
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
		goto out;
	}
	snprintf(conf, sizeof(conf),
	         "# recgate.conf -- the embedded demo. Paths are relative to this file.\n"
	         "data_dir = .\n"
	         "database = recgate.db\n"
	         "keystore = keystore\n"
	         "# The keystore's master secret (systemd LoadCredential= in production).\n"
	         "master_key_file = master.key\n"
	         "listen = 127.0.0.1:8443\n"
	         "max_body = 1048576\n"
	         "clock_skew_s = 300\n");
	snprintf(path, sizeof(path), "%s/recgate.conf", dir);
	if (rg_demo_write(path, conf, 0600, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	if (st != NULL && rc != 0)
		rg_store_rollback(st);
	rg_store_close(st);
	rg_keystore_free(ks);
	sodium_free(master);
	rg_catalogue_free(cat);
	return rc;
}
