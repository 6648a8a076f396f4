/*
 * ctl_keys_use.c -- when each key of the keystore was last used, read
 * from what the database holds: the newest record a data-key version
 * sealed, the newest checkpoint a signing key signed (the active one signs
 * every batch's receipts, so: the newest entry). It opens the database read-only in
 * effect (SELECTs only) and never touches key material beyond the database
 * key it needs to open it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/b64.h"
#include "crypto/keystore.h"
#include "gateway/ctl_keys.h"
#include "gateway/store.h"

struct rg_use_ctx {
	const rg_keystore *ks;
	struct rg_ctl_key_use *out;
	uint64_t seen;            /* the largest checkpoint size read */
};

static int
rg_use_data(void *ctx, const char *resource, uint32_t key_version,
            int64_t records, int64_t last_ms)
{
	struct rg_use_ctx *u = ctx;
	struct rg_keystore_info in;

	for (size_t i = 0; rg_keystore_info(u->ks, i, &in) == 0; i++)
		if (in.purpose == RG_KEYSTORE_DATA && in.version == key_version &&
		    in.resource != NULL && strcmp(in.resource, resource) == 0) {
			u->out[i].records = records;
			u->out[i].last_ms = last_ms;
		}
	return 0;
}

/* A note's signature lines are "— origin base64(keyid(4) || sig)". */
static int
rg_use_checkpoint(void *ctx, const struct rg_store_checkpoint *cp)
{
	static const char dash[] = "\xe2\x80\x94 ";
	struct rg_use_ctx *u = ctx;
	struct rg_keystore_info in;
	const char *p = cp->note;

	if (cp->size > u->seen)
		u->seen = cp->size;

	while ((p = strstr(p, dash)) != NULL) {
		const char *b64 = strchr(p + sizeof(dash) - 1, ' ');
		uint8_t bin[96];
		size_t len = 0, n;
		char kid[9];

		p += sizeof(dash) - 1;
		if (b64 == NULL)
			break;
		b64++;
		n = strcspn(b64, "\n");
		if (rg_b64_decode(b64, n, bin, sizeof(bin), &len) != 0 || len < 4)
			continue;
		snprintf(kid, sizeof(kid), "%02x%02x%02x%02x", bin[0], bin[1],
		         bin[2], bin[3]);
		for (size_t i = 0; rg_keystore_info(u->ks, i, &in) == 0; i++)
			if (in.purpose == RG_KEYSTORE_SIGNING &&
			    strcmp(in.id, kid) == 0 && cp->time_ms > u->out[i].last_ms)
				u->out[i].last_ms = cp->time_ms;
	}
	return 0;
}

static int
rg_use_last_entry(void *ctx, uint64_t index, const uint8_t *entry, size_t len,
                  const uint8_t leaf[32])
{
	int64_t *t = ctx;
	json_t *e = json_loadb((const char *)entry, len, 0, NULL);

	(void)index;
	(void)leaf;
	*t = json_integer_value(json_object_get(e, "time"));
	json_decref(e);
	return 1;
}

int
rg_ctl_keys_use(const char *database, const rg_keystore *ks,
                  struct rg_ctl_key_use *out, char *err, size_t errlen)
{
	struct rg_use_ctx u = {ks, out, 0};
	struct rg_keystore_info in;
	uint64_t size = 0;
	int64_t last_entry = 0;
	rg_store *st;
	int rc = 0;

	memset(out, 0, rg_keystore_count(ks) * sizeof(*out));
	st = rg_store_open(database, rg_keystore_db_key(ks), 0, err, errlen);
	if (st == NULL)
		return -1;
	if (rg_store_data_key_usage(st, rg_use_data, &u) != RG_STORE_OK)
		rc = -1;
	/* Every checkpoint, a thousand at a time. */
	while (rc == 0) {
		uint64_t before = u.seen;

		if (rg_store_checkpoint_each(st, before, 1000, rg_use_checkpoint,
		                             &u) != RG_STORE_OK)
			rc = -1;
		else if (u.seen == before)
			break;
	}
	if (rc == 0 && rg_store_audit_size(st, &size) == RG_STORE_OK && size > 0)
		(void)rg_store_audit_each(st, size - 1, size, rg_use_last_entry,
		                          &last_entry);
	for (size_t i = 0; rc == 0 && rg_keystore_info(ks, i, &in) == 0; i++) {
		if (in.status != RG_KEYSTORE_ACTIVE)
			continue;
		if (in.purpose == RG_KEYSTORE_SIGNING && last_entry > out[i].last_ms)
			out[i].last_ms = last_entry;
		/* Every page read and written goes through the database key;
		 * every start unwraps the data keys with the active KEK. */
		if (in.purpose == RG_KEYSTORE_DATABASE ||
		    in.purpose == RG_KEYSTORE_KEK)
			out[i].in_use = 1;
	}
	if (rc != 0)
		snprintf(err, errlen, "%s", rg_store_errmsg(st));
	rg_store_close(st);
	return rc;
}
