/*
 * version.c -- what `--version` prints: recgate's version and the
 * versions of the libraries the program is running on (the ones loaded,
 * not the headers it was built with), for an administrator's report.
 */
#include <stdio.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <seccomp.h>
#include <sodium.h>
#include <sqlite3.h>
#include <uv.h>

#include "gateway/version.h"

void
rg_version_print(const char *program)
{
	const struct scmp_version *sv = seccomp_version();
	unsigned long hp = http_parser_version();

	printf("%s %s\n", program, RG_VERSION);
	printf("libsodium %s, SQLite %s (SQLCipher), libuv %s, jansson %s, "
	       "http-parser %lu.%lu.%lu, libseccomp %u.%u.%u, %s\n",
	       sodium_version_string(), sqlite3_libversion(),
	       uv_version_string(), jansson_version_str(), (hp >> 16) & 255,
	       (hp >> 8) & 255, hp & 255, sv != NULL ? sv->major : 0,
	       sv != NULL ? sv->minor : 0, sv != NULL ? sv->micro : 0,
	       OpenSSL_version(OPENSSL_VERSION));
}
