/*
 * test_read_bytes.c -- what a read answers is the stored record filtered
 * and encoded canonically, whether the stored text is the canonical form
 * the keeper seals (copied member by member) or any other JSON (taken
 * through a parsed tree): the same fields, the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "crypto/seal.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"

struct body_answer {
	int status;
	char *body;
};

static void
body_cb(void *ctx, const struct rg_response *resp)
{
	struct body_answer *a = ctx;

	a->status = resp->status;
	a->body = strndup(resp->body, resp->body_len);
}

/* Seal plain as version 1 of record id of hazard-declaration. */
static void
store_plain(struct fixture *f, const char *id, const char *plain)
{
	const char *rid = "hazard-declaration";
	uint32_t kv;
	const uint8_t *key = rg_keystore_data_key(f->kp->ks, rid, &kv);
	struct rg_seal_ad ad = {rid, id, 1, kv};
	size_t plen = strlen(plain);
	uint8_t *sealed = malloc(plen + RG_SEAL_OVERHEAD);
	int64_t seq;

	CHECK(key != NULL && sealed != NULL);
	CHECK(rg_seal(key, &ad, (const uint8_t *)plain, plen, sealed) == 0);
	CHECK(rg_store_record_put(f->kp->st, rid, id, 1, kv,
	                          (int64_t)time(NULL) * 1000, sealed,
	                          plen + RG_SEAL_OVERHEAD, &seq) == RG_STORE_OK);
	free(sealed);
}

/* The "fields" member of health's read of id, as sent (caller frees). */
static char *
read_fields(struct fixture *f, const char *id)
{
	struct body_answer a = {0};
	struct treq t;
	char path[256], *p, *end;

	snprintf(path, sizeof(path), "%s/%s", HAZARD_PATH, id);
	treq_make(&t, &f->health, "GET", path, "");
	t.req.body = NULL;
	t.req.body_len = 0;
	rg_keeper_handle(f->kp, &t.req, body_cb, &a);
	keeper_run(&f->loop, f->kp);
	treq_free(&t);
	CHECKF(a.status == 200, "status %d: %s", a.status, a.body ? a.body : "");
	/* {"result":{"fields":{...},"id":... : fields is the first member
	 * and holds no '}' in these records. */
	CHECK((p = strstr(a.body, "{\"result\":{\"fields\":")) == a.body);
	p += strlen("{\"result\":{\"fields\":");
	CHECK((end = strchr(p, '}')) != NULL);
	p = strndup(p, (size_t)(end - p + 1));
	free(a.body);
	return p;
}

TEST(reads_give_canonical_fields_whatever_form_the_record_was_stored_in)
{
	/* The canonical form the keeper seals, and the same record with
	 * white space, keys out of order and an escaped character. */
	static const char canon[] =
	    "{\"declaration_type\":\"首次申报\",\"employer\":\"甲\\\"公司\","
	    "\"worker_count\":10}";
	static const char other[] =
	    "{ \"worker_count\": 10, \"employer\": \"\\u7532\\\"公司\","
	    " \"declaration_type\": \"首次申报\" }";
	struct fixture f;
	char *a, *b;

	fixture_open(&f);
	store_plain(&f, "canonical", canon);
	store_plain(&f, "spaced", other);
	a = read_fields(&f, "canonical");
	b = read_fields(&f, "spaced");
	CHECK_EQ_STR(a, canon);
	CHECK_EQ_STR(b, canon);
	free(a);
	free(b);
	fixture_close(&f);
}
