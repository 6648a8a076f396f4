/*
 * test_response_bytes.c -- the bytes of a response body against its audit
 * entry: the "result" (or "error") member is sent exactly as the canonical
 * encoding whose SHA-256 the entry records as "response", so a department
 * can check it with any SHA-256 and no JSON canonicaliser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "tests/integration/gw.h"
#include "tests/test.h"

#define HAZARD "/v1/resources/hazard-declaration/records"

/* Send, then check the member's bytes against the entry's digest. */
static void
rg_t_check_member(struct rg_gw *gw, const char *dept, const char *method,
                  const char *path, const char *body, const char *member,
                  int want_status)
{
	struct rg_client_resp resp;
	unsigned char ent[8192], sha[SHA256_DIGEST_LENGTH];
	char err[512], head[32], hex[2 * SHA256_DIGEST_LENGTH + 1];
	const char *tail, *b64;
	size_t len, hlen;
	json_t *doc, *entry;
	char *raw = rg_gw_build(gw, dept, method, path, NULL, body, NULL, &len);
	int n;

	CHECKF(rg_client_send(gw->host, gw->port, raw, len, &resp, err,
	                      sizeof(err)) == 0, "%s", err);
	free(raw);
	CHECK_EQ_INT(resp.status, want_status);
	n = snprintf(head, sizeof(head), "{\"%s\":", member);
	CHECK(n > 0 && (size_t)n < sizeof(head));
	hlen = (size_t)n;
	CHECKF(resp.body_len > hlen && memcmp(resp.body, head, hlen) == 0,
	       "body: %s", resp.body);
	/* The receipt follows the member; nothing in it looks like this. */
	tail = strstr(resp.body, ",\"receipt\":{");
	CHECK(tail != NULL);
	SHA256((const unsigned char *)resp.body + hlen,
	       (size_t)(tail - resp.body) - hlen, sha);
	for (size_t i = 0; i < sizeof(sha); i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);

	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	CHECK(doc != NULL);
	b64 = json_string_value(json_object_get(json_object_get(doc, "receipt"),
	                                        "entry"));
	CHECK(b64 != NULL && strlen(b64) / 4 * 3 <= sizeof(ent));
	n = EVP_DecodeBlock(ent, (const unsigned char *)b64, (int)strlen(b64));
	CHECK(n > 0);
	while (n > 0 && ent[n - 1] == '\0') /* the padding's zero bytes */
		n--;
	entry = json_loadb((const char *)ent, (size_t)n, 0, NULL);
	CHECK(entry != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(entry, "response")), hex);
	json_decref(entry);
	json_decref(doc);
	free(resp.body);
}

TEST(response_member_bytes_hash_to_the_audited_response_digest)
{
	struct rg_gw gw;
	json_t *r;
	char path[256];
	const char *id;

	rg_gw_start(&gw, NULL);
	rg_t_check_member(&gw, "health", "POST", HAZARD,
	    "{\"employer\": \"乙公司\", \"employer_credit_code\": \"9112\","
	    " \"hazard_categories\": \"粉尘\", \"worker_count\": 12,"
	    " \"exposed_worker_count\": 4, \"declaration_type\": \"首次申报\","
	    " \"declaration_date\": \"2026-02-02\"}", "result", 200);
	/* A read returns the stored record's fields: same rule. */
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL,
	    "{\"employer\": \"丙公司\", \"employer_credit_code\": \"9113\","
	    " \"hazard_categories\": \"噪声\", \"worker_count\": 5,"
	    " \"exposed_worker_count\": 1, \"declaration_type\": \"首次申报\","
	    " \"declaration_date\": \"2026-02-03\"}", NULL, &r), 200);
	id = json_string_value(json_object_get(json_array_get(json_object_get(
	    json_object_get(r, "result"), "records"), 0), "id"));
	CHECK(id != NULL);
	CHECK(snprintf(path, sizeof(path), "%s/%s", HAZARD, id) < (int)sizeof(path));
	json_decref(r);
	rg_t_check_member(&gw, "health", "GET", path, NULL, "result", 200);
	/* A refusal by policy carries its error the same way. */
	rg_t_check_member(&gw, "finance", "GET", path, NULL, "error", 403);
	rg_gw_stop(&gw);
}
