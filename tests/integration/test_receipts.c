/*
 * test_receipts.c -- what an exchange leaves behind: a receipt whose signed
 * checkpoint an independent Ed25519 implementation (OpenSSL) verifies with
 * the key from GET /v1/keys and whose RFC 9162 leaf hash and inclusion
 * proof, folded apart from recgate's code, give the checkpoint's root, a database file without
 * plaintext, group commit, and the department client tool.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "tests/integration/gw.h"
#include "tests/integration/independent.h"
#include "tests/test.h"

#define HAZARD "/v1/resources/hazard-declaration/records"
#define DIAG "/v1/resources/occ-disease-diagnosis/records"
#define MARKER "UNIQUE-PLAINTEXT-MARKER-7f3a9c"

/* RFC 9162 leaf hash: SHA-256(0x00 || entry). */
static void
pre_hash(const unsigned char *entry, size_t len, unsigned char out[32])
{
	unsigned char *pre = malloc(len + 1);

	CHECK(pre != NULL);
	pre[0] = 0;
	memcpy(pre + 1, entry, len);
	SHA256(pre, len + 1, out);
	free(pre);
}

/*
 * A reply's receipt checked with nothing of recgate's (independent.c): the
 * checkpoint, a C2SP signed note by the published key, the entry's RFC
 * 9162 leaf hash, and the inclusion proof that puts the leaf at its index
 * in the checkpoint's tree; the gateway's own proof endpoint agrees.
 */
TEST(receipt_verifies_with_an_independent_ed25519_and_published_key)
{
	struct rg_gw gw;
	json_t *keys, *k0, *r, *receipt, *entry, *pr, *list;
	unsigned char pub[64], ent[8192], leaf[64], want[SHA256_DIGEST_LENGTH];
	unsigned char root[64], proof[64][32];
	char origin[256], query[128], b64[64];
	const char *note;
	size_t publen, entlen, tlen, plen;
	unsigned long long size, index;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, NULL, "GET", "/v1/keys", NULL, NULL, NULL, &keys), 200);
	k0 = json_array_get(json_object_get(keys, "keys"), 0);
	publen = ind_b64(json_string_value(json_object_get(k0, "public_key")), pub,
	                sizeof(pub));
	CHECK_EQ_INT(publen, 32);

	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL,
	    "{\"employer\": \"甲公司\", \"employer_credit_code\": \"9111\","
	    " \"hazard_categories\": \"噪声\", \"worker_count\": 10,"
	    " \"exposed_worker_count\": 3, \"declaration_type\": \"首次申报\","
	    " \"declaration_date\": \"2026-02-01\"}", NULL, &r), 200);
	receipt = json_object_get(r, "receipt");
	CHECK_EQ_STR(json_string_value(json_object_get(receipt, "keyid")),
	             json_string_value(json_object_get(k0, "keyid")));
	CHECK(json_object_get(receipt, "signature") == NULL);
	index = (unsigned long long)json_integer_value(json_object_get(receipt,
	                                                               "index"));
	entlen = ind_b64(json_string_value(json_object_get(receipt, "entry")), ent,
	                sizeof(ent));

	/* The checkpoint: "origin\nsize\nroot\n", signed by the key. */
	note = json_string_value(json_object_get(receipt, "checkpoint"));
	CHECK(note != NULL);
	CHECK(sscanf(note, "%255[^\n]\n%llu\n%63[^\n]\n", origin, &size, b64)
	      == 3);
	CHECK(index < size);
	CHECK_EQ_INT(ind_b64(b64, root, sizeof(root)), 32);
	tlen = ind_verify_note(note, origin, pub);
	CHECKF(tlen > 0, "checkpoint does not verify:\n%s", note);
	{
		char *bad = strdup(note);

		CHECK(bad != NULL);
		bad[strlen(origin) + 1] ^= 1; /* the size line */
		CHECK_EQ_INT(ind_verify_note(bad, origin, pub), 0);
		free(bad);
	}

	/* RFC 9162 leaf hash: SHA-256(0x00 || entry). */
	pre_hash(ent, entlen, want);
	CHECK_EQ_INT(ind_b64(json_string_value(json_object_get(receipt,
	                    "leaf_hash")), leaf, sizeof(leaf)), 32);
	CHECK(memcmp(leaf, want, 32) == 0);

	/* The proof puts the leaf at its index in that tree; not a changed
	 * entry, not another index. */
	list = json_object_get(receipt, "inclusion");
	plen = json_array_size(list);
	CHECK(plen < 64);
	for (size_t i = 0; i < plen; i++)
		CHECK_EQ_INT(ind_b64(json_string_value(json_array_get(list, i)),
		                     proof[i], 32), 32);
	CHECK(ind_verify_inclusion(index, size, want, proof, plen, root) == 0);
	want[0] ^= 1;
	CHECK(ind_verify_inclusion(index, size, want, proof, plen, root) != 0);
	want[0] ^= 1;
	CHECK(ind_verify_inclusion(index + 1, size, want, proof, plen, root) != 0);

	/* The gateway's own proof for the same entry and size is the same. */
	snprintf(query, sizeof(query), "index=%llu&size=%llu", index, size);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "GET", "/v1/audit/proof/inclusion",
	                        query, NULL, NULL, &pr), 200);
	CHECK(json_equal(json_object_get(json_object_get(pr, "result"), "proof"),
	                 list));
	json_decref(pr);

	/* The entry says what happened, canonically. */
	entry = json_loadb((const char *)ent, entlen, 0, NULL);
	CHECK(entry != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "department")), "health");
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "action")), "record.submit");
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "decision")), "allow");
	CHECK_EQ_INT(json_integer_value(json_object_get(entry, "index")),
	             json_integer_value(json_object_get(receipt, "index")));
	CHECK_EQ_INT(strlen(json_string_value(json_object_get(entry, "policy"))), 64);
	{
		char *again = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
		CHECK(again != NULL && strlen(again) == entlen &&
		      memcmp(again, ent, entlen) == 0);
		free(again);
	}
	json_decref(entry);
	json_decref(r);
	json_decref(keys);
	rg_gw_stop(&gw);
}

/* Does the file hold needle anywhere? */
static int
file_contains(const char *path, const char *needle, size_t nlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t len;
	struct stat sb;
	int found = 0;

	if (f == NULL)
		return 0;
	CHECK(fstat(fileno(f), &sb) == 0);
	buf = malloc((size_t)sb.st_size + 1);
	CHECK(buf != NULL);
	len = fread(buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	for (size_t i = 0; i + nlen <= len && !found; i++)
		found = memcmp(buf + i, needle, nlen) == 0;
	free(buf);
	return found;
}

TEST(database_file_holds_no_plaintext_of_a_submitted_value)
{
	struct rg_gw gw;
	char db[700], wal[710];
	json_t *r;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", DIAG, NULL,
	    "{\"patient_name\": \"" MARKER "\", \"id_number\": \"110101198001011234\","
	    " \"employer\": \"某某矿业有限公司\","
	    " \"disease_category\": \"职业性尘肺病及其他呼吸系统疾病\","
	    " \"disease_name\": \"矽肺\", \"disease_code\": \"J62\","
	    " \"diagnosis_date\": \"2026-03-15\","
	    " \"diagnosis_institution\": \"市职业病防治院\"}", NULL, &r), 200);
	json_decref(r);
	snprintf(db, sizeof(db), "%s/recgate.db", gw.dir);
	snprintf(wal, sizeof(wal), "%s/recgate.db-wal", gw.dir);
	/* While running (the WAL holds the fresh pages) and after a stop. */
	CHECK(!file_contains(wal, MARKER, strlen(MARKER)));
	CHECK(!file_contains(db, MARKER, strlen(MARKER)));
	rg_gw_stop(&gw);
	CHECK(!file_contains(db, MARKER, strlen(MARKER)));
	CHECK(!file_contains(wal, MARKER, strlen(MARKER)));
	CHECK(!file_contains(db, "110101198001011234", 18));
	CHECK(!file_contains(db, "SQLite format 3", 15));
	CHECK(!file_contains(db, "occ-disease-diagnosis", 21));
}

struct burst {
	struct rg_gw *gw;
	int ok;
};

static void *
burst_worker(void *arg)
{
	struct burst *b = arg;
	json_t *r;

	for (int i = 0; i < 20; i++) {
		if (rg_gw_call(b->gw, "health", "GET", "/v1/catalogue", NULL, NULL,
		               NULL, &r) == 200)
			b->ok++;
		json_decref(r);
	}
	return NULL;
}

SLOW_TEST(concurrent_exchanges_share_commits, 120)
{
	struct rg_gw gw;
	pthread_t th[16];
	struct burst b[16];
	json_t *h;
	long long batches, base;
	int ok = 0;

	rg_gw_start(&gw, NULL);
	base = rg_gw_audit_size(&gw); /* the demo's grant steps */
	for (int i = 0; i < 16; i++) {
		b[i] = (struct burst){&gw, 0};
		CHECK(pthread_create(&th[i], NULL, burst_worker, &b[i]) == 0);
	}
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		ok += b[i].ok;
	}
	CHECK_EQ_INT(ok, 320);
	CHECK_EQ_INT(rg_gw_call(&gw, NULL, "GET", "/healthz", NULL, NULL, NULL, &h), 200);
	batches = json_integer_value(json_object_get(h, "batches"));
	CHECK_EQ_INT(json_integer_value(json_object_get(h, "audit_size")), base + 320);
	/* Every exchange was durable before its answer, yet they did not
	 * each pay for their own fsync. */
	CHECKF(batches > 0 && batches < 320, "%lld commits for 320 exchanges", batches);
	CHECK(json_integer_value(json_object_get(h, "batch_max")) > 1);
	/* Each batch's log sync was timed on the finisher's thread (batches
	 * waiting together share one). */
	CHECK(json_integer_value(json_object_get(h, "syncs")) > 0);
	CHECK(json_integer_value(json_object_get(h, "syncs")) <= batches);
	CHECK(json_integer_value(json_object_get(h, "sync_max_us")) > 0);
	CHECK(json_integer_value(json_object_get(h, "syncs_over_100ms")) <=
	      json_integer_value(json_object_get(h, "syncs_over_10ms")));
	json_decref(h);
	rg_gw_stop(&gw);
}

TEST(recgatectl_client_submits_gets_and_follows_changes)
{
	struct rg_gw gw;
	char cmd[4096], file[700], out[700], line[8192];
	char id[128] = "";
	FILE *f;
	json_t *r;

	rg_gw_start(&gw, NULL);
	snprintf(file, sizeof(file), "%s/record.json", rg_test_tmpdir());
	snprintf(out, sizeof(out), "%s/out.json", rg_test_tmpdir());
	f = fopen(file, "w");
	CHECK(f != NULL);
	fputs("{\"employer\": \"丙公司\", \"employer_credit_code\": \"9111\","
	      " \"hazard_categories\": \"化学毒物\", \"worker_count\": 40,"
	      " \"exposed_worker_count\": 7, \"declaration_type\": \"首次申报\","
	      " \"declaration_date\": \"2026-04-01\"}", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl client --url %s --key %s/clients/health.key "
	         "submit hazard-declaration %s > %s", rg_test_build(), gw.url, gw.dir,
	         file, out);
	CHECK(system(cmd) == 0);
	r = json_load_file(out, 0, NULL);
	CHECK(r != NULL);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(r, "result"), "records"), 0), "id")));
	json_decref(r);
	CHECK(strlen(id) == 32);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl client --url %s --key %s/clients/tax.key "
	         "get hazard-declaration %s --purpose 工伤保险费核定 > %s", rg_test_build(),
	         gw.url, gw.dir, id, out);
	CHECK(system(cmd) == 0);
	f = fopen(out, "r");
	CHECK(f != NULL && fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	CHECK(strstr(line, "丙公司") != NULL);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl client --url %s --key %s/clients/union.key "
	         "changes hazard-declaration --after 0 --purpose 监督 > %s", rg_test_build(),
	         gw.url, gw.dir, out);
	CHECK(system(cmd) == 0);
	r = json_load_file(out, 0, NULL);
	CHECK(r != NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r, "result"),
	             "changes")), 1);
	json_decref(r);
	/* A refusal makes the tool fail. */
	snprintf(cmd, sizeof(cmd), "%s/recgatectl client --url %s --key %s/clients/tax.key "
	         "submit hazard-declaration %s > /dev/null 2>&1", rg_test_build(),
	         gw.url, gw.dir, file);
	CHECK(system(cmd) != 0);
	rg_gw_stop(&gw);
}
