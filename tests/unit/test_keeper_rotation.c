/*
 * test_keeper_rotation.c -- the administrator's changes inside the keeper:
 * keystore rotations with storage faults injected (a rotation whose entry
 * does not commit leaves the keystore file byte for byte as it was and the
 * keys in use unchanged; one that commits is in use for the next
 * exchange), and a revocation or suspension that holds for the next
 * request of the same commit batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/httpsig.h"
#include "gateway/client.h"
#include "gateway/config.h"
#include "gateway/demo.h"
#include "gateway/keeper_int.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"


/* The keystore file's bytes (caller frees). */
static uint8_t *
file_bytes(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);

	CHECK(fp != NULL && buf != NULL);
	*len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	return buf;
}

static void
rotation_under_faults(const char *path, int kek)
{
	struct fixture f;
	int saw_failure = 0, saw_success = 0;

	fixture_open(&f);
	for (int k = 1; k <= 8; k++) {
		struct treq t;
		struct answer a = {0};
		uint32_t sv = rg_keystore_signing_version(f.kp->ks);
		uint32_t kv = rg_keystore_kek_version(f.kp->ks);
		size_t blen, alen;
		uint8_t *before = file_bytes(f.keystore, &blen), *after;

		treq_make(&t, &f.admin, "POST", path, "");
		rg_store_fail_after(f.kp->st, k);
		rg_keeper_handle(f.kp, &t.req, answer_cb, &a);
		keeper_run(&f.loop, f.kp);
		rg_store_fail_after(f.kp->st, 0);
		CHECK_EQ_INT(a.count, 1);
		CHECK(f.kp->ks_next == NULL);
		after = file_bytes(f.keystore, &alen);
		if (a.status == 200) {
			saw_success = 1;
			CHECK(alen != blen || memcmp(before, after, alen) != 0);
			CHECK_EQ_INT(rg_keystore_signing_version(f.kp->ks),
			             kek ? sv : sv + 1);
			CHECK_EQ_INT(rg_keystore_kek_version(f.kp->ks),
			             kek ? kv + 1 : kv);
		} else {
			CHECKF(a.status == 500 && strcmp(a.code, "storage_failed") == 0,
			       "k=%d: status %d code %s", k, a.status, a.code);
			saw_failure = 1;
			CHECKF(alen == blen && memcmp(before, after, alen) == 0,
			       "k=%d: the keystore file changed", k);
			CHECK_EQ_INT(rg_keystore_signing_version(f.kp->ks), sv);
			CHECK_EQ_INT(rg_keystore_kek_version(f.kp->ks), kv);
		}
		free(before);
		free(after);
		treq_free(&t);
	}
	CHECK(saw_failure);
	CHECK(saw_success);
	/* The keeper goes on with the keys it ended with. */
	{
		struct treq t;
		struct answer a = {0};

		treq_make(&t, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
		rg_keeper_handle(f.kp, &t.req, answer_cb, &a);
		keeper_run(&f.loop, f.kp);
		CHECK_EQ_INT(a.status, 200);
		treq_free(&t);
	}
	fixture_close(&f);
}

TEST(signing_rotation_not_committed_leaves_the_keystore_file_unchanged)
{
	rotation_under_faults("/v1/admin/signing-key/rotate", 0);
}

TEST(kek_rotation_not_committed_leaves_the_keystore_file_unchanged)
{
	rotation_under_faults("/v1/admin/kek/rotate", 1);
}

/* The revocation and then a request by the revoked key, both in one
 * batch (handled before the loop runs the commit): auth reads the key's
 * status inside the batch's transaction. */
TEST(revocation_holds_for_the_next_request_in_the_same_batch)
{
	struct fixture f;
	struct treq t1, t2;
	struct answer a1 = {0}, a2 = {0};
	char path[300];

	fixture_open(&f);
	snprintf(path, sizeof(path), "/v1/admin/keys/%s/revoke", f.health.keyid);
	treq_make(&t1, &f.admin, "POST", path, "");
	treq_make(&t2, &f.health, "POST", HAZARD_PATH, HAZARD_BODY);
	rg_keeper_handle(f.kp, &t1.req, answer_cb, &a1);
	rg_keeper_handle(f.kp, &t2.req, answer_cb, &a2);
	CHECK_EQ_INT(a1.count + a2.count, 0); /* both held for one commit */
	keeper_run(&f.loop, f.kp);
	CHECK_EQ_INT(a1.count, 1);
	CHECK_EQ_INT(a2.count, 1);
	CHECK_EQ_INT(a1.status, 200);
	CHECK_EQ_INT(a2.status, 401);
	CHECK_EQ_STR(a2.code, "key_revoked");
	treq_free(&t1);
	treq_free(&t2);
	fixture_close(&f);
}
