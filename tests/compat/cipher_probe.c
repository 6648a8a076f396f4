/*
 * cipher_probe.c -- prints the SQLCipher and SQLite versions of the library
 * it is linked with (tests/compat/sqlcipher4.sh links it with the same
 * archive as the recgate build it checks). It opens only :memory:.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

/* One text answer of sql into out; 0 with a non-empty row. */
static int
probe_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int ret = -1;

	out[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW &&
	    (v = sqlite3_column_text(s, 0)) != NULL && v[0] != '\0') {
		snprintf(out, outlen, "%s", (const char *)v);
		ret = 0;
	}
	sqlite3_finalize(s);
	return ret;
}

int
main(void)
{
	char cipher[128], lite[64];
	sqlite3 *db = NULL;
	int ok;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
		fprintf(stderr, "cipher_probe: cannot open :memory:\n");
		return 1;
	}
	ok = probe_text(db, "PRAGMA cipher_version", cipher, sizeof(cipher)) == 0 &&
	     probe_text(db, "SELECT sqlite_version()", lite, sizeof(lite)) == 0;
	sqlite3_close(db);
	if (!ok) {
		fprintf(stderr, "cipher_probe: the library is not SQLCipher\n");
		return 1;
	}
	printf("SQLCipher %s on SQLite %s\n", cipher, lite);
	return 0;
}
