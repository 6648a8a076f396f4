/*
 * demo.c -- `recgatectl init --demo DIR`: lays out a working data
 * directory (setup.c makes its keys and database): the sixteen member
 * departments, the embedded demo catalogue, a master key file beside the
 * keystore and a config whose paths are relative to it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "crypto/keystore.h"
#include "gateway/demo.h"
#include "gateway/setup.h"
#include "gateway/wfile.h"

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

int
rg_demo_init(const char *dir, char *err, size_t errlen)
{
	char path[4096], ks_path[4096], db_path[4096], keys_dir[4096], conf[8192];
	char names[sizeof(rg_demo_depts) / sizeof(rg_demo_depts[0])][256];
	struct rg_setup_dept depts[sizeof(rg_demo_depts) / sizeof(rg_demo_depts[0])];
	struct rg_setup s = {0};
	rg_keystore_secret *secret = NULL;
	int rc = -1;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	for (size_t i = 0; i < rg_demo_ndepts; i++) {
		snprintf(names[i], sizeof(names[i]), "%s %s", rg_demo_depts[i].name_zh,
		         rg_demo_depts[i].name_en);
		depts[i].id = rg_demo_depts[i].id;
		depts[i].name = names[i];
	}
	if (rg_setup_dir_new(dir, err, errlen) != 0)
		return -1;
	snprintf(keys_dir, sizeof(keys_dir), "%s/clients", dir);
	if (mkdir(keys_dir, 0700) != 0) {
		snprintf(err, errlen, "%s: %s", keys_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/master.key", dir);
	if (rg_keystore_new_master(path, err, errlen) != 0 ||
	    (secret = rg_keystore_secret_keyfile(path, err, errlen)) == NULL)
		goto out;
	snprintf(ks_path, sizeof(ks_path), "%s/keystore", dir);
	snprintf(db_path, sizeof(db_path), "%s/recgate.db", dir);
	s.keystore = ks_path;
	s.database = db_path;
	s.secret = secret;
	s.origin = RG_DEMO_ORIGIN;
	s.catalogue = rg_demo_catalogue(&s.catalogue_len);
	s.depts = depts;
	s.ndepts = rg_demo_ndepts;
	s.convener = "health";
	s.keys_dir = keys_dir;
	if (rg_setup_run(&s, err, errlen) != 0)
		goto out;
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
	if (rg_wfile_new(path, conf, strlen(conf), 0600, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	rg_keystore_secret_free(secret);
	return rc;
}
