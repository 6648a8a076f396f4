/*
 * grant.h -- conditional-share grants (有条件共享), as the policy sees them.
 *
 * A grant names a consumer department, a resource of another (owner)
 * department, the fields it may read (each raw or as a pseudonym), a
 * purpose and a validity window. This file owns the grant's JSON form (the
 * stored and published document) and its checks; it never decides access
 * (policy.c does) and never stores anything (the gateway does).
 *
 * Grant document (JSON), as stored, listed and audited by digest:
 *   {"id": "<32 hex>", "resource": "...", "owner": "health",
 *    "consumer": "hrss", "fields": {"patient_name": "raw",
 *    "id_number": "pseudonym"}, "purpose": "...", "scenario": "...",
 *    "not_before": <Unix ms>, "not_after": <Unix ms>,
 *    "state": "pending"|"approved"|"active"|"refused"|"disputed"|
 *             "revoked"|"suspended",
 *    "countersign": true|false, "requested_by": "<keyid>",
 *    "requested_at": <ms>, "reply_due": <ms>, plus the step members
 *    ("approved_by", "approved_at", "countersigned_by", "refused_by",
 *    "refusal", "dispute", "revoked_by", "suspended_by", ... ) }
 */
#ifndef RG_GRANT_H
#define RG_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy/catalogue.h"

#define RG_GRANT_IDLEN 64
#define RG_GRANT_TEXTLEN 512    /* purpose, scenario, reasons: bytes */

typedef enum rg_grant_state {
	RG_GRANT_PENDING,   /* requested; the owner has not answered */
	RG_GRANT_APPROVED,  /* owner approved; awaiting the office (会签) */
	RG_GRANT_ACTIVE,    /* in force within its window */
	RG_GRANT_REFUSED,   /* owner refused, with reasons */
	RG_GRANT_DISPUTED,  /* refused and referred to the office */
	RG_GRANT_REVOKED,   /* ended by the owner or the consumer */
	RG_GRANT_SUSPENDED, /* stopped by an administrator */
	RG_GRANT__COUNT
} rg_grant_state;

struct rg_grant {
	char id[RG_GRANT_IDLEN];
	char resource[64];
	char owner[32];
	char consumer[32];
	uint64_t raw_mask;      /* fields given as they are */
	uint64_t pseudo_mask;   /* fields given as pseudonyms; disjoint */
	char purpose[RG_GRANT_TEXTLEN];
	int64_t not_before_ms;  /* window: not_before <= now < not_after */
	int64_t not_after_ms;
	rg_grant_state state;
	int countersign;        /* the office must countersign (sensitive) */
	char requested_by[128]; /* key ids of each step's signer */
	char approved_by[128];
	char countersigned_by[128];
};

const char *rg_grant_state_name(rg_grant_state s);
/* -1 when name is not a state. */
int rg_grant_state_parse(const char *name, rg_grant_state *out);

/*
 * Read a grant document into g against cat: the resource must exist, every
 * field must be one of its fields with transform "raw" or "pseudonym", the
 * window must be not_before < not_after. 0, or -1 with err naming the
 * member at fault (field set to its name when known).
 */
int rg_grant_from_json(const rg_catalogue *cat, const json_t *doc,
                       struct rg_grant *g, char *field, size_t fieldlen,
                       char *err, size_t errlen);

/*
 * The "fields" object of a grant: {"name": "raw"|"pseudonym"} in schema
 * order. New reference (caller json_decref), NULL on allocation failure.
 */
json_t *rg_grant_fields_json(const rg_resource *res, uint64_t raw,
                             uint64_t pseudo);

/*
 * Does b stay within a? Fields of b must be fields of a, a raw field may
 * become a pseudonym but never the reverse, and b's window must lie within
 * a's. 1 when b is no wider than a, 0 otherwise.
 */
int rg_grant_within(const struct rg_grant *a, const struct rg_grant *b);

/*
 * The owner's reply deadline for a request made at from_ms (Unix ms): the
 * same time of day, days working days (Monday to Friday in China Standard
 * Time, UTC+8) later. Public holidays are not known here; the period is a
 * setting (grant_reply_days) so that an office can allow for them.
 */
int64_t rg_grant_reply_due(int64_t from_ms, unsigned days);

#endif
