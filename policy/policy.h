/*
 * policy.h -- access decisions.
 *
 * A rg_policy is an immutable snapshot: the catalogue, the member
 * departments and their status (later: grants), with a version that is the
 * SHA-256 of everything in it. rg_policy_decide() is the one place where
 * access is decided: one input (the request and the snapshot), one output
 * (allow or deny, the field mask, a reason code). Deny by default: any case
 * not explicitly allowed below is refused.
 */
#ifndef RG_POLICY_H
#define RG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "policy/catalogue.h"

typedef enum rg_action {
	RG_ACT_SUBMIT,    /* POST records */
	RG_ACT_READ,      /* GET one record */
	RG_ACT_CHANGES,   /* GET the change feed */
	RG_ACT_CATALOGUE  /* GET the catalogue */
} rg_action;

typedef enum rg_reason {
	RG_REASON_OK_OWNER,             /* allowed: the owner department */
	RG_REASON_OK_UNCONDITIONAL,     /* allowed: unconditional resource */
	RG_REASON_OK_MEMBER,            /* allowed: any active member (catalogue) */
	RG_REASON_UNKNOWN_DEPARTMENT,   /* caller is not a member */
	RG_REASON_DEPARTMENT_SUSPENDED, /* caller's department is suspended */
	RG_REASON_UNKNOWN_RESOURCE,     /* resource not in the catalogue */
	RG_REASON_NOT_OWNER,            /* only the owner may submit */
	RG_REASON_CLASSIFICATION_REFUSED, /* secret: never handled here */
	RG_REASON_SHARE_NONE,           /* not shared with anyone */
	RG_REASON_NO_GRANT,             /* conditional, and no grant covers it */
	RG_REASON__COUNT
} rg_reason;

struct rg_policy_request {
	const char *department; /* authenticated caller */
	rg_action action;
	const char *resource;   /* NULL for RG_ACT_CATALOGUE */
	const char *purpose;    /* recgate-purpose, NULL when absent */
	int64_t now_ms;
};

struct rg_decision {
	int allow;              /* 1 allow, 0 deny */
	rg_reason reason;
	uint64_t field_mask;    /* fields the caller may see (reads) */
};

typedef struct rg_policy rg_policy;

/*
 * Build a snapshot over cat (ownership of cat passes to the policy, also
 * when this fails: cat is freed then). NULL when cat is NULL or on
 * allocation failure.
 */
rg_policy *rg_policy_new(rg_catalogue *cat);
void rg_policy_free(rg_policy *pol);
/*
 * Add a member department; status_active 1 for active, 0 for suspended.
 * -1 when id is not a department id (lower-case letters, 1 to 31), is
 * already present, the snapshot is sealed, or the 256-member limit is hit.
 */
int rg_policy_add_department(rg_policy *pol, const char *id, int active);
/* Seal the snapshot: computes the version. No changes after this. */
int rg_policy_seal(rg_policy *pol);
/* Status of a member in a sealed snapshot: 1 active, 0 suspended, -1 not
 * a member (or not sealed). */
int rg_policy_department(const rg_policy *pol, const char *id);
/* Lower-case hex SHA-256 of the snapshot (64 chars); "" before seal. */
const char *rg_policy_version(const rg_policy *pol);
const rg_catalogue *rg_policy_catalogue(const rg_policy *pol);

/*
 * Decide req over a sealed snapshot (calling it on an unsealed one is a
 * broken invariant and aborts). field_mask is 0 on every denial; on an
 * allowed submit it is every field, on an allowed read or change feed the
 * fields the caller may see.
 */
void rg_policy_decide(const rg_policy *pol, const struct rg_policy_request *req,
                      struct rg_decision *out);

/* Stable string of a reason ("no_grant"); never NULL. */
const char *rg_reason_code(rg_reason r);

#endif
