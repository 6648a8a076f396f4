/*
 * test_store.c -- the SQLCipher store on real encrypted files: keying,
 * encryption at rest, records and the change feed, the replay guard, the
 * dense audit log, savepoints and the write-failure seam.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway/store.h"
#include "tests/test.h"

static const uint8_t rg_t_key[RG_STORE_KEYLEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54,
	0x76, 0x98, 0xba, 0xdc, 0xfe, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
	0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00};

static const char rg_t_marker[] = "PLAINTEXT-MARKER-7f3a9c";

static void
rg_t_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", rg_test_tmpdir(), name);
	CHECK(n > 0 && (size_t)n < len);
}

static rg_store *
rg_t_open(const char *name)
{
	char path[512], err[256] = "";
	rg_store *st;

	rg_t_path(path, sizeof(path), name);
	st = rg_store_open(path, rg_t_key, 1, err, sizeof(err));
	CHECKF(st != NULL, "open: %s", err);
	return st;
}

/* Whole file in memory; *len 0 and NULL when it does not exist. */
static uint8_t *
rg_t_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	CHECK(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CHECK(n >= 0);
	CHECK(fseek(f, 0, SEEK_SET) == 0);
	buf = malloc((size_t)n + 1);
	CHECK(buf != NULL);
	CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
rg_t_contains(const uint8_t *hay, size_t hlen, const char *needle)
{
	size_t nlen = strlen(needle);

	for (size_t i = 0; i + nlen <= hlen; i++)
		if (memcmp(hay + i, needle, nlen) == 0)
			return 1;
	return 0;
}

static void
rg_t_dept(rg_store *st, const char *id, const char *status)
{
	CHECKF(rg_store_dept_put(st, id, "Department", status) == RG_STORE_OK,
	       "%s", rg_store_errmsg(st));
}

static int64_t
rg_t_put(rg_store *st, const char *res, const char *id, uint64_t version,
         const char *body)
{
	int64_t seq = -1;
	int rc = rg_store_record_put(st, res, id, version, 1, 1000 + (int64_t)version,
	                             (const uint8_t *)body, strlen(body), &seq);

	CHECKF(rc == RG_STORE_OK, "record_put: %s", rg_store_errmsg(st));
	CHECK(seq > 0);
	return seq;
}

static int
rg_t_has_record(rg_store *st, const char *res, const char *id)
{
	struct rg_store_record rec;
	int rc = rg_store_record_get(st, res, id, &rec);

	CHECK(rc == RG_STORE_OK || rc == RG_STORE_NOTFOUND);
	rg_store_record_clear(&rec);
	return rc == RG_STORE_OK;
}

TEST(store_reopen_with_same_key_keeps_data)
{
	char path[512], err[256] = "";
	rg_store *st = rg_t_open("db");
	void *val = NULL;
	size_t len = 0;

	CHECK(rg_store_meta_put(st, "origin", "gw.example", 10) == RG_STORE_OK);
	rg_t_dept(st, "labour", "active");
	rg_t_put(st, "cases", "c1", 1, "sealed-1");
	rg_store_close(st);

	rg_t_path(path, sizeof(path), "db");
	st = rg_store_open(path, rg_t_key, 0, err, sizeof(err));
	CHECKF(st != NULL, "reopen: %s", err);
	CHECK(rg_store_meta_get(st, "origin", &val, &len) == RG_STORE_OK);
	CHECK_EQ_INT(len, 10);
	CHECK(memcmp(val, "gw.example", 10) == 0);
	free(val);
	CHECK(rg_t_has_record(st, "cases", "c1"));
	CHECK(rg_store_meta_get(st, "absent", &val, &len) == RG_STORE_NOTFOUND);
	CHECK(val == NULL);
	rg_store_close(st);
}

TEST(store_wrong_key_is_refused_with_message)
{
	char path[512], err[256] = "";
	uint8_t other[RG_STORE_KEYLEN];
	rg_store *st = rg_t_open("db");

	rg_t_dept(st, "labour", "active");
	rg_store_close(st);
	memcpy(other, rg_t_key, sizeof(other));
	other[31] ^= 1;
	rg_t_path(path, sizeof(path), "db");
	st = rg_store_open(path, other, 0, err, sizeof(err));
	CHECK(st == NULL);
	CHECKF(strstr(err, "wrong database key") != NULL, "err: %s", err);
}

TEST(store_plain_sqlite_file_is_refused_as_not_recgate)
{
	char path[512], err[256] = "";
	FILE *f;
	rg_store *st;
	static const char junk[] = "SQLite format 3";

	rg_t_path(path, sizeof(path), "plain");
	f = fopen(path, "wb");
	CHECK(f != NULL);
	for (int i = 0; i < 256; i++)
		CHECK(fwrite(junk, 1, sizeof(junk), f) == sizeof(junk));
	CHECK(fclose(f) == 0);
	st = rg_store_open(path, rg_t_key, 0, err, sizeof(err));
	CHECK(st == NULL);
	CHECKF(strstr(err, "not a recgate database") != NULL, "err: %s", err);
}

TEST(store_file_and_wal_hold_no_plaintext)
{
	char path[512], wal[600];
	uint8_t *buf;
	size_t len;
	rg_store *st = rg_t_open("db");

	rg_t_path(path, sizeof(path), "db");
	snprintf(wal, sizeof(wal), "%s-wal", path);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_meta_put(st, "note", rg_t_marker, strlen(rg_t_marker)) ==
	      RG_STORE_OK);
	CHECK(rg_store_dept_put(st, "labour", rg_t_marker, "active") == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);

	/* Committed but not yet checkpointed: the pages sit in the WAL. */
	buf = rg_t_slurp(wal, &len);
	CHECKF(buf != NULL && len > 0, "no WAL file after commit");
	CHECK(!rg_t_contains(buf, len, rg_t_marker));
	CHECK(!rg_t_contains(buf, len, "labour"));
	free(buf);
	rg_store_close(st);

	buf = rg_t_slurp(path, &len);
	CHECK(buf != NULL && len >= 1024);
	CHECK(memcmp(buf, "SQLite format 3", 16) != 0);
	CHECK(!rg_t_contains(buf, len, rg_t_marker));
	CHECK(!rg_t_contains(buf, len, "CREATE TABLE"));
	free(buf);
	buf = rg_t_slurp(wal, &len);
	if (buf != NULL)
		CHECK(!rg_t_contains(buf, len, rg_t_marker));
	free(buf);
}

TEST(store_reports_a_cipher_version)
{
	rg_store *st = rg_t_open("db");
	const char *v = rg_store_cipher_version(st);

	CHECK(v != NULL && v[0] != '\0');
	rg_store_close(st);
}

TEST(store_open_without_create_refuses_missing_file)
{
	char path[512], err[256] = "";
	struct stat sb;

	rg_t_path(path, sizeof(path), "missing");
	CHECK(rg_store_open(path, rg_t_key, 0, err, sizeof(err)) == NULL);
	CHECK(err[0] != '\0');
	CHECK(stat(path, &sb) != 0);
}

TEST(store_record_get_returns_highest_version)
{
	rg_store *st = rg_t_open("db");
	struct rg_store_record rec;
	int64_t s2;

	rg_t_put(st, "cases", "c1", 1, "v1");
	s2 = rg_t_put(st, "cases", "c1", 3, "v3");
	rg_t_put(st, "cases", "c1", 2, "v2");
	rg_t_put(st, "other", "c1", 9, "elsewhere");
	CHECK(rg_store_record_get(st, "cases", "c1", &rec) == RG_STORE_OK);
	CHECK_EQ_INT(rec.version, 3);
	CHECK_EQ_INT(rec.seq, s2);
	CHECK_EQ_INT(rec.key_version, 1);
	CHECK_EQ_INT(rec.time_ms, 1003);
	CHECK_EQ_STR(rec.id, "c1");
	CHECK(rec.sealed_len == 2 && memcmp(rec.sealed, "v3", 2) == 0);
	rg_store_record_clear(&rec);
	CHECK(rec.sealed == NULL);
	CHECK(rg_store_record_get(st, "cases", "nope", &rec) == RG_STORE_NOTFOUND);
	rg_store_close(st);
}

TEST(store_record_put_refuses_duplicate_version)
{
	rg_store *st = rg_t_open("db");
	int64_t seq = 0;

	rg_t_put(st, "cases", "c1", 1, "v1");
	CHECK(rg_store_record_put(st, "cases", "c1", 1, 1, 5, (const uint8_t *)"x",
	                          1, &seq) == RG_STORE_EXISTS);
	CHECK(rg_store_record_put(st, "cases", "c1", UINT64_MAX, 1, 5,
	                          (const uint8_t *)"x", 1, &seq) == RG_STORE_ERROR);
	rg_store_close(st);
}

struct rg_t_feed {
	int n;
	int stop_at;
	int64_t seqs[16];
	char ids[16][64];
};

static int
rg_t_collect(void *ctx, const struct rg_store_record *rec)
{
	struct rg_t_feed *f = ctx;

	CHECK(f->n < 16);
	CHECK(rec->sealed != NULL && rec->sealed_len > 0);
	f->seqs[f->n] = rec->seq;
	snprintf(f->ids[f->n], sizeof(f->ids[0]), "%s", rec->id);
	f->n++;
	return f->stop_at != 0 && f->n == f->stop_at;
}

TEST(store_changes_pages_by_seq_after_and_limit)
{
	rg_store *st = rg_t_open("db");
	struct rg_t_feed f;
	int64_t s[5];

	s[0] = rg_t_put(st, "cases", "a", 1, "x");
	s[1] = rg_t_put(st, "cases", "b", 1, "x");
	rg_t_put(st, "other", "z", 1, "x");
	s[2] = rg_t_put(st, "cases", "a", 2, "x");
	s[3] = rg_t_put(st, "cases", "c", 1, "x");
	s[4] = rg_t_put(st, "cases", "d", 1, "x");

	memset(&f, 0, sizeof(f));
	CHECK(rg_store_changes(st, "cases", 0, 2, rg_t_collect, &f) == RG_STORE_OK);
	CHECK_EQ_INT(f.n, 2);
	CHECK_EQ_INT(f.seqs[0], s[0]);
	CHECK_EQ_INT(f.seqs[1], s[1]);

	memset(&f, 0, sizeof(f));
	CHECK(rg_store_changes(st, "cases", s[1], 2, rg_t_collect, &f) == RG_STORE_OK);
	CHECK_EQ_INT(f.n, 2);
	CHECK_EQ_INT(f.seqs[0], s[2]);
	CHECK_EQ_STR(f.ids[0], "a");
	CHECK_EQ_INT(f.seqs[1], s[3]);

	memset(&f, 0, sizeof(f));
	CHECK(rg_store_changes(st, "cases", s[3], 10, rg_t_collect, &f) == RG_STORE_OK);
	CHECK_EQ_INT(f.n, 1);
	CHECK_EQ_INT(f.seqs[0], s[4]);

	memset(&f, 0, sizeof(f));
	f.stop_at = 1;
	CHECK(rg_store_changes(st, "cases", 0, 10, rg_t_collect, &f) == RG_STORE_OK);
	CHECK_EQ_INT(f.n, 1);

	memset(&f, 0, sizeof(f));
	CHECK(rg_store_changes(st, "cases", 0, -1, rg_t_collect, &f) == RG_STORE_ERROR);
	CHECK_EQ_INT(f.n, 0);
	rg_store_close(st);
}

TEST(store_replayed_nonce_is_refused)
{
	rg_store *st = rg_t_open("db");

	CHECK(rg_store_nonce_claim_at(st, "k1", "n1", 2000, 1000) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k1", "n1", 2000, 1500) == RG_STORE_EXISTS);
	/* The same nonce under another key is another claim. */
	CHECK(rg_store_nonce_claim_at(st, "k2", "n1", 2000, 1500) == RG_STORE_OK);
	/* Wall-clock form: a nonce that has not expired cannot be replayed. */
	CHECK(rg_store_nonce_claim(st, "k1", "n2", INT64_MAX) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim(st, "k1", "n2", INT64_MAX) == RG_STORE_EXISTS);
	rg_store_close(st);
}

TEST(store_expired_nonce_can_be_reclaimed_or_pruned)
{
	rg_store *st = rg_t_open("db");

	CHECK(rg_store_nonce_claim_at(st, "k1", "n1", 2000, 1000) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k1", "n1", 5000, 2001) == RG_STORE_OK);
	CHECK(rg_store_nonce_claim_at(st, "k1", "n1", 5000, 4000) == RG_STORE_EXISTS);

	CHECK(rg_store_nonce_claim_at(st, "k1", "n2", 3000, 1000) == RG_STORE_OK);
	CHECK(rg_store_nonce_prune(st, 3001, 0, NULL) == RG_STORE_OK);
	/* Pruned rows are gone even for a clock that says they are live. */
	CHECK(rg_store_nonce_claim_at(st, "k1", "n2", 3000, 0) == RG_STORE_OK);
	/* The unexpired one survived the prune. */
	CHECK(rg_store_nonce_claim_at(st, "k1", "n1", 5000, 0) == RG_STORE_EXISTS);
	rg_store_close(st);
}

TEST(store_audit_log_is_dense_and_returns_bytes)
{
	rg_store *st = rg_t_open("db");
	uint8_t leaf[32], got[32];
	uint8_t *entry = NULL;
	size_t len = 0;
	uint64_t size = 99;

	CHECK(rg_store_audit_size(st, &size) == RG_STORE_OK);
	CHECK_EQ_INT(size, 0);
	for (int i = 0; i < 3; i++) {
		char e[32];

		memset(leaf, 0x10 + i, sizeof(leaf));
		snprintf(e, sizeof(e), "entry-%d", i);
		CHECKF(rg_store_audit_append(st, (uint64_t)i, (const uint8_t *)e,
		                             strlen(e), leaf) == RG_STORE_OK,
		       "%s", rg_store_errmsg(st));
	}
	CHECK(rg_store_audit_size(st, &size) == RG_STORE_OK);
	CHECK_EQ_INT(size, 3);
	/* A gap and a rewrite are both refused. */
	CHECK(rg_store_audit_append(st, 4, (const uint8_t *)"x", 1, leaf) ==
	      RG_STORE_ERROR);
	CHECK(strstr(rg_store_errmsg(st), "index") != NULL);
	CHECK(rg_store_audit_append(st, 1, (const uint8_t *)"x", 1, leaf) ==
	      RG_STORE_ERROR);
	CHECK(rg_store_audit_size(st, &size) == RG_STORE_OK);
	CHECK_EQ_INT(size, 3);

	CHECK(rg_store_audit_get(st, 1, &entry, &len, got) == RG_STORE_OK);
	CHECK(len == 7 && memcmp(entry, "entry-1", 7) == 0);
	memset(leaf, 0x11, sizeof(leaf));
	CHECK(memcmp(got, leaf, 32) == 0);
	free(entry);
	CHECK(rg_store_audit_get(st, 3, &entry, &len, got) == RG_STORE_NOTFOUND);
	rg_store_close(st);
}

TEST(store_undo_drops_only_the_request_and_batch_commits)
{
	char path[512], err[256] = "";
	rg_store *st = rg_t_open("db");

	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	rg_t_put(st, "cases", "kept1", 1, "x");
	CHECK(rg_store_release(st) == RG_STORE_OK);

	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	rg_t_put(st, "cases", "failed", 1, "x");
	CHECK(rg_store_nonce_claim_at(st, "k", "n", 10, 0) == RG_STORE_OK);
	CHECK(rg_store_undo(st) == RG_STORE_OK);

	CHECK(rg_store_savepoint(st) == RG_STORE_OK);
	rg_t_put(st, "cases", "kept2", 1, "x");
	CHECK(rg_store_release(st) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	rg_store_close(st);

	rg_t_path(path, sizeof(path), "db");
	st = rg_store_open(path, rg_t_key, 0, err, sizeof(err));
	CHECKF(st != NULL, "%s", err);
	CHECK(rg_t_has_record(st, "cases", "kept1"));
	CHECK(rg_t_has_record(st, "cases", "kept2"));
	CHECK(!rg_t_has_record(st, "cases", "failed"));
	CHECK(rg_store_nonce_claim_at(st, "k", "n", 10, 0) == RG_STORE_OK);
	rg_store_close(st);
}

TEST(store_rollback_discards_the_batch)
{
	rg_store *st = rg_t_open("db");

	rg_t_put(st, "cases", "before", 1, "x");
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	rg_t_put(st, "cases", "inside", 1, "x");
	CHECK(rg_t_has_record(st, "cases", "inside"));
	CHECK(rg_store_rollback(st) == RG_STORE_OK);
	CHECK(!rg_t_has_record(st, "cases", "inside"));
	CHECK(rg_t_has_record(st, "cases", "before"));
	/* Nothing open: a second rollback has nothing to do. */
	CHECK(rg_store_rollback(st) == RG_STORE_OK);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_OK);
	CHECK(rg_store_commit(st) == RG_STORE_ERROR);
	rg_store_close(st);
}

TEST(store_injected_write_failure_leaves_committed_state)
{
	rg_store *st = rg_t_open("db");
	uint8_t leaf[32] = {0};
	uint64_t size = 0;

	CHECK(rg_store_audit_append(st, 0, (const uint8_t *)"e0", 2, leaf) ==
	      RG_STORE_OK);
	rg_t_put(st, "cases", "committed", 1, "x");

	/* Writes: 1 begin, 2 record_put, 3 audit_append (fails). */
	rg_store_fail_after(st, 3);
	CHECK(rg_store_begin(st) == RG_STORE_OK);
	rg_t_put(st, "cases", "lost", 1, "x");
	CHECK(rg_store_audit_append(st, 1, (const uint8_t *)"e1", 2, leaf) ==
	      RG_STORE_ERROR);
	CHECK_EQ_STR(rg_store_errmsg(st), "injected failure");
	/* Every write after the nth fails too, reads still work. */
	CHECK(rg_store_commit(st) == RG_STORE_ERROR);
	CHECK(rg_store_dept_put(st, "d", "D", "active") == RG_STORE_ERROR);
	CHECK(rg_store_nonce_claim_at(st, "k", "n", 10, 0) == RG_STORE_ERROR);
	CHECK(rg_t_has_record(st, "cases", "lost"));
	CHECK(rg_store_rollback(st) == RG_STORE_OK);

	CHECK(!rg_t_has_record(st, "cases", "lost"));
	CHECK(rg_t_has_record(st, "cases", "committed"));
	CHECK(rg_store_audit_size(st, &size) == RG_STORE_OK);
	CHECK_EQ_INT(size, 1);

	rg_store_fail_after(st, 0);
	CHECK(rg_store_audit_append(st, 1, (const uint8_t *)"e1", 2, leaf) ==
	      RG_STORE_OK);
	rg_store_close(st);
}

TEST(store_unknown_key_is_not_found)
{
	rg_store *st = rg_t_open("db");
	struct rg_store_key k;

	CHECK(rg_store_key_get(st, "nobody", &k) == RG_STORE_NOTFOUND);
	rg_store_close(st);
}

TEST(store_suspended_department_shows_in_key_dept_status)
{
	rg_store *st = rg_t_open("db");
	struct rg_store_key k, got;

	rg_t_dept(st, "labour", "active");
	memset(&k, 0, sizeof(k));
	snprintf(k.keyid, sizeof(k.keyid), "labour-2024");
	snprintf(k.dept, sizeof(k.dept), "labour");
	snprintf(k.role, sizeof(k.role), "department");
	snprintf(k.status, sizeof(k.status), "active");
	memset(k.pub, 0xab, sizeof(k.pub));
	k.created_ms = 1700000000000;
	CHECK(rg_store_key_put(st, &k) == RG_STORE_OK);
	CHECK(rg_store_key_get(st, "labour-2024", &got) == RG_STORE_OK);
	CHECK_EQ_STR(got.dept_status, "active");
	CHECK_EQ_STR(got.dept, "labour");
	CHECK_EQ_STR(got.role, "department");
	CHECK(memcmp(got.pub, k.pub, 32) == 0);
	CHECK_EQ_INT(got.created_ms, 1700000000000);

	/* Suspending updates in place: the key row survives. */
	rg_t_dept(st, "labour", "suspended");
	CHECK(rg_store_key_get(st, "labour-2024", &got) == RG_STORE_OK);
	CHECK_EQ_STR(got.dept_status, "suspended");
	CHECK_EQ_STR(got.status, "active");

	/* Key replaced in place with a new status. */
	snprintf(k.status, sizeof(k.status), "revoked");
	CHECK(rg_store_key_put(st, &k) == RG_STORE_OK);
	CHECK(rg_store_key_get(st, "labour-2024", &got) == RG_STORE_OK);
	CHECK_EQ_STR(got.status, "revoked");
	rg_store_close(st);
}

TEST(store_refuses_bad_department_status_and_orphan_key)
{
	rg_store *st = rg_t_open("db");
	struct rg_store_key k;

	CHECK(rg_store_dept_put(st, "labour", "Labour", "deleted") == RG_STORE_ERROR);
	memset(&k, 0, sizeof(k));
	snprintf(k.keyid, sizeof(k.keyid), "ghost");
	snprintf(k.dept, sizeof(k.dept), "nowhere");
	snprintf(k.role, sizeof(k.role), "department");
	snprintf(k.status, sizeof(k.status), "active");
	/* foreign_keys=ON: a key must belong to a known department. */
	CHECK(rg_store_key_put(st, &k) == RG_STORE_ERROR);
	rg_store_close(st);
}

struct rg_t_depts {
	int n;
	char seen[4][64];
};

static int
rg_t_dept_cb(void *ctx, const char *id, const char *name, const char *status)
{
	struct rg_t_depts *d = ctx;

	(void)name;
	CHECK(d->n < 4);
	snprintf(d->seen[d->n++], sizeof(d->seen[0]), "%s:%s", id, status);
	return 0;
}

TEST(store_dept_each_lists_every_department)
{
	rg_store *st = rg_t_open("db");
	struct rg_t_depts d;

	memset(&d, 0, sizeof(d));
	rg_t_dept(st, "health", "active");
	rg_t_dept(st, "labour", "suspended");
	CHECK(rg_store_dept_each(st, rg_t_dept_cb, &d) == RG_STORE_OK);
	CHECK_EQ_INT(d.n, 2);
	CHECK_EQ_STR(d.seen[0], "health:active");
	CHECK_EQ_STR(d.seen[1], "labour:suspended");
	rg_store_close(st);
}
