/*
 * test_receipt.c -- a batch's receipts (gateway/receipt.c): replies left
 * open inside their receipt come back as valid JSON whose checkpoint is
 * signed by the batch's key over the grown log and whose proofs place each
 * entry; leaves and replies outside the batch are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/merkle.h"
#include "crypto/sig.h"
#include "crypto/tlog.h"
#include "gateway/receipt.h"
#include "tests/test.h"
#include "tests/unit/keeper_fixture.h"

#define ORIGIN "recgate.test/audit"

/* A reply as rg_ex_finish leaves it: open inside the receipt of entry i. */
static void
open_reply(struct rg_response *resp, uint64_t i, const uint8_t *entry,
           size_t elen, const uint8_t leaf[RG_HASHLEN])
{
	char e64[256], l64[64];
	size_t cap = 512;

	sodium_bin2base64(e64, sizeof(e64), entry, elen,
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(l64, sizeof(l64), leaf, RG_HASHLEN,
	                  sodium_base64_VARIANT_ORIGINAL);
	resp->status = 200;
	resp->body = malloc(cap);
	CHECK(resp->body != NULL);
	resp->body_len = (size_t)snprintf(resp->body, cap,
	    "{\"result\":{\"n\":%llu},\"receipt\":{\"index\":%llu,\"entry\":\"%s\","
	    "\"leaf_hash\":\"%s\",\"keyid\":\"00000000\"",
	    (unsigned long long)i, (unsigned long long)i, e64, l64);
}

TEST(receipts_complete_open_replies_into_proofs_in_one_signed_checkpoint)
{
	struct rg_tlog_frontier before = {0}, after;
	uint8_t entries[9][24], leaves[9][RG_HASHLEN], pub[RG_SIG_PUBLEN];
	struct rg_response resp[3];
	struct receipt_seen seen[3];
	rg_sigkey *key = rg_sigkey_generate();
	rg_receipts *r;

	CHECK(key != NULL);
	rg_sigkey_public(key, pub);
	for (int i = 0; i < 9; i++) {
		snprintf((char *)entries[i], sizeof(entries[i]), "{\"index\":%d}", i);
		rg_merkle_leaf(entries[i], strlen((char *)entries[i]), leaves[i]);
	}
	/* A log of 5, then a batch of 4 of which three have replies. */
	for (int i = 0; i < 5; i++)
		rg_tlog_frontier_add(&before, leaves[i]);
	r = rg_receipts_new(&before, 4, 3, ORIGIN, key);
	CHECK(r != NULL);
	CHECK(rg_receipts_leaf(r, 4, leaves[4]) != 0);
	CHECK(rg_receipts_leaf(r, 9, leaves[4]) != 0);
	for (int i = 5; i < 9; i++)
		CHECK(rg_receipts_leaf(r, (uint64_t)i, leaves[i]) == 0);
	for (int k = 0; k < 3; k++) {
		uint64_t i = (uint64_t)(k == 0 ? 5 : k + 6); /* 5, 7, 8 */

		open_reply(&resp[k], i, entries[i], strlen((char *)entries[i]),
		           leaves[i]);
		CHECK(rg_receipts_add(r, i, &resp[k]) == 0);
	}
	CHECK(rg_receipts_add(r, 6, &resp[0]) != 0); /* no room left */
	after = before;
	rg_receipts_advance(r, &after);
	CHECK(after.size == 9);
	CHECK(rg_receipts_finish(r) == 0);
	for (int k = 0; k < 3; k++) {
		CHECKF(receipt_check(resp[k].body, resp[k].body_len, ORIGIN, pub,
		                     &seen[k]) == 0, "reply %d: %s", k, resp[k].body);
		CHECK(strlen(resp[k].body) == resp[k].body_len);
		CHECK(seen[k].size == 9);
		CHECK(strcmp(seen[k].note, seen[0].note) == 0);
	}
	{
		uint8_t root[RG_HASHLEN];

		rg_merkle_root((const uint8_t (*)[RG_HASHLEN])leaves, 9, root);
		CHECK(memcmp(seen[0].root, root, sizeof(root)) == 0);
		rg_tlog_frontier_root(&after, root);
		CHECK(memcmp(seen[0].root, root, sizeof(root)) == 0);
	}
	/* Another size is left alone. */
	rg_receipts_advance(r, &after);
	CHECK(after.size == 9);
	rg_receipts_free(r);
	for (int k = 0; k < 3; k++)
		rg_response_clear(&resp[k]);

	/* A batch without replies finishes with nothing to sign. */
	r = rg_receipts_new(&before, 0, 0, ORIGIN, key);
	CHECK(r != NULL);
	CHECK(rg_receipts_add(r, 5, &resp[0]) != 0);
	CHECK(rg_receipts_finish(r) == 0);
	rg_receipts_free(r);
	rg_receipts_free(NULL);
	rg_sigkey_free(key);
}
