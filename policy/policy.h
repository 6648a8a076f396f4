/*
 * policy.h -- access decisions.
 *
 * A rg_policy is an immutable snapshot: the catalogue, the member
 * departments and their status, and the conditional-share grants, with a
 * version that is the
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
#include "policy/grant.h"

typedef enum rg_action {
	RG_ACT_SUBMIT,    /* POST records */
	RG_ACT_READ,      /* GET one record */
	RG_ACT_CHANGES,   /* GET the change feed */
	RG_ACT_CATALOGUE, /* GET the catalogue */
	/* Grant steps: req->grant is the stored grant (proposal for a
	 * request), req->proposal the terms as signed now. */
	RG_ACT_GRANT_REQUEST,     /* consumer asks (proposal only) */
	RG_ACT_GRANT_APPROVE,     /* owner approves, maybe narrowing */
	RG_ACT_GRANT_REFUSE,      /* owner refuses, with reasons */
	RG_ACT_GRANT_COUNTERSIGN, /* office countersigns (sensitive) */
	RG_ACT_GRANT_REVOKE,      /* owner or consumer ends it */
	RG_ACT_GRANT_DISPUTE,     /* refused consumer refers it to the office */
	RG_ACT_GRANT_SUSPEND,     /* administrator: suspend, never create */
	RG_ACT_GRANT_LIST,        /* a member lists its grants */
	RG_ACT_CATALOGUE_LOAD     /* the office replaces the catalogue */
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
	RG_REASON_OK_GRANT,             /* allowed: a live grant covers it */
	RG_REASON_OK_PARTY,             /* allowed grant step by a party to it */
	RG_REASON_OK_ADMIN,             /* allowed administrator step */
	RG_REASON_PURPOSE_MISSING,      /* non-owner read without a purpose */
	RG_REASON_PURPOSE_MISMATCH,     /* live grant, other purpose */
	RG_REASON_GRANT_PENDING,        /* grant not yet approved/countersigned */
	RG_REASON_GRANT_NOT_STARTED,    /* grant window not yet open */
	RG_REASON_GRANT_EXPIRED,        /* grant window over */
	RG_REASON_GRANT_SUSPENDED,      /* grant suspended by an administrator */
	RG_REASON_GRANT_REVOKED,        /* grant revoked */
	RG_REASON_FIELD_NOT_GRANTED,    /* a field asked for is not granted */
	RG_REASON_SEPARATION_OF_DUTIES, /* same key/department on both sides */
	RG_REASON_GRANT_WIDENING,       /* approval wider than the request */
	RG_REASON_GRANT_STATE,          /* step not possible in grant's state */
	RG_REASON_NOT_PARTY,            /* caller is not a party to the grant */
	RG_REASON_GRANT_NOT_NEEDED,     /* owner, or not a conditional resource */
	RG_REASON_NOT_OFFICE,           /* countersigning needs the office key */
	RG_REASON_COUNTERSIGN_NOT_NEEDED, /* resource is not sensitive */
	RG_REASON_OK_OFFICE,            /* allowed: the joint-meeting office */
	RG_REASON__COUNT
} rg_reason;

struct rg_policy_request {
	const char *department; /* authenticated caller */
	rg_action action;
	const char *resource;   /* NULL for RG_ACT_CATALOGUE */
	const char *purpose;    /* recgate-purpose, NULL when absent */
	int64_t now_ms;
	const char *keyid;      /* signing key (separation of duties) */
	const char *role;       /* its role: "department", "office", ... */
	const struct rg_grant *grant;    /* grant steps: the grant as stored */
	const struct rg_grant *proposal; /* grant steps: the terms signed now */
	uint64_t want_mask;     /* reads: fields asked for; 0 = all allowed */
};

/*
 * A read shows field i raw when bit i of field_mask is set, as a
 * per-consumer pseudonym when bit i of pseudo_mask is set, and not at all
 * otherwise; the two never overlap. A caller that ignores pseudo_mask
 * shows less, never more.
 */
struct rg_decision {
	int allow;              /* 1 allow, 0 deny */
	rg_reason reason;
	uint64_t field_mask;    /* fields the caller may see raw */
	uint64_t pseudo_mask;   /* fields the caller sees as pseudonyms */
	char grant[RG_GRANT_IDLEN]; /* the grant relied on, "" if none */
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
/*
 * Add a grant (copied). -1 when the snapshot is sealed, the grant names an
 * unknown resource or the RG_POLICY_MAXGRANTS limit is hit.
 */
#define RG_POLICY_MAXGRANTS 4096
int rg_policy_add_grant(rg_policy *pol, const struct rg_grant *g);
size_t rg_policy_grant_count(const rg_policy *pol);
/* Grant i of a sealed snapshot (sorted by id), owned by pol; NULL past
 * the end. */
const struct rg_grant *rg_policy_grant_at(const rg_policy *pol, size_t i);
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
