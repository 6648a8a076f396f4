/*
 * exchange_int.h -- what the keeper's exchange files share: the exchange
 * being built, the route table's handler type, and small encoders.
 * exchange.c owns routing, authentication, the audit entry and the receipt;
 * each ex_*.c file owns the actions of one part of the API. A handler
 * fills ex->result (allow) or calls rg_ex_refuse(); it returns -1 only when
 * the exchange must fail as a whole (storage or memory).
 */
#ifndef RG_EXCHANGE_INT_H
#define RG_EXCHANGE_INT_H

#include <stdint.h>

#include <jansson.h>

#include "gateway/auth.h"
#include "gateway/jbuf.h"
#include "gateway/keeper_int.h"

/* Path parameters of a route: {rid} and {id}. */
struct rg_target {
	char resource[64];
	char record[64];
};

struct rg_exchange {
	rg_keeper *kp;
	const struct rg_request *req;
	struct rg_target tgt;
	struct rg_auth auth;
	int64_t now_ms;
	const char *action;    /* "record.submit", ... (static strings) */
	const char *decision;  /* "allow", "deny", "reject" */
	const char *reason;
	/* The records touched, for the entry: each {"id":..,"version":..}
	 * canonically encoded, comma-separated (rg_ex_touched). */
	struct rg_jbuf records;
	size_t nrecords;
	char grant[RG_GRANT_IDLEN]; /* the grant acted on or relied on */
	json_t *result;        /* on allow */
	char *result_text;     /* on allow, instead of result: the outcome
	                          already encoded as json_dumps(JSON_COMPACT |
	                          JSON_SORT_KEYS) would (ex_records.c) */
	size_t result_len;
	json_t *admin;         /* an administrator's change, entered as
	                          "admin" (ex_admin.c); NULL otherwise */
	const rg_sigkey *cosign; /* a new signing key that also signs the
	                          receipt (its announcement); not owned */
	int rotated;           /* the keystore was rewritten (ex_admin.c) */
	rg_err err;            /* on deny/reject */
	char errfield[128];
	char errmsg[320];
};

typedef int (*rg_ex_handler)(struct rg_exchange *ex);

/* Record a refusal: decision "deny" (policy) or "reject" (bad request);
 * reason NULL = the error code; field and msg may be NULL. */
void rg_ex_refuse(struct rg_exchange *ex, const char *decision, rg_err err,
                  const char *reason, const char *field, const char *msg);
/* The body as a JSON object whose members are all in allowed (NULL
 * terminated); an empty body is {} unless required. Caller decrefs; NULL
 * when refused (bad_json, or bad_parameter naming the unknown member). */
json_t *rg_ex_body(struct rg_exchange *ex, int required,
                   const char *const *allowed);
/* Note that the exchange touched record id at version, for its entry's
 * "records" (an id json_string() would refuse is left out, as the tree
 * of the entry leaves it). 0, or -1 out of memory. */
int rg_ex_touched(struct rg_exchange *ex, const char *id, int64_t version);
/* Ask the policy; on denial records the refusal and returns -1. */
int rg_ex_decide(struct rg_exchange *ex, rg_action action, const char *resource,
                 struct rg_decision *d);
/* The same with a prepared request (grant steps): fills in the caller's
 * department, key, role, purpose and time from the exchange. */
int rg_ex_decide_req(struct rg_exchange *ex, struct rg_policy_request *pr,
                     struct rg_decision *d);

/* Base64 (standard alphabet, padded); malloc'd / new reference. */
char *rg_b64(const uint8_t *bin, size_t len);
json_t *rg_json_b64(const uint8_t *bin, size_t len);
/* Lower-case hex into out (2 * len + 1 bytes). */
void rg_hex(const uint8_t *bin, size_t len, char *out);
/* exchange.c: whether a request came from the loopback (the unsigned
 * operator endpoints answer nobody else). */
int rg_is_loopback(const char *peer);
/* metrics.c: GET /metrics, the keeper's counters in Prometheus text. */
int rg_metrics(rg_keeper *kp, const struct rg_request *req,
               struct rg_response *resp);

/* ex_records.c: the catalogue and the records API. */
int rg_ex_catalogue(struct rg_exchange *ex);
int rg_ex_submit(struct rg_exchange *ex);
int rg_ex_read(struct rg_exchange *ex);
int rg_ex_changes(struct rg_exchange *ex);

/* ex_catalogue.c: the office loads a new catalogue. */
int rg_ex_catalogue_load(struct rg_exchange *ex);

/* ex_grants.c: conditional-share grants. */
int rg_ex_grant_request(struct rg_exchange *ex);
int rg_ex_grant_list(struct rg_exchange *ex);
int rg_ex_grant_read(struct rg_exchange *ex);
int rg_ex_grant_approve(struct rg_exchange *ex);
int rg_ex_grant_refuse(struct rg_exchange *ex);
int rg_ex_grant_countersign(struct rg_exchange *ex);
int rg_ex_grant_revoke(struct rg_exchange *ex);
int rg_ex_grant_dispute(struct rg_exchange *ex);
int rg_ex_grant_suspend(struct rg_exchange *ex);

/* ex_admin.c: the administrator's key and department changes. */
int rg_ex_admin_key_add(struct rg_exchange *ex);
int rg_ex_admin_key_retire(struct rg_exchange *ex);
int rg_ex_admin_key_revoke(struct rg_exchange *ex);
int rg_ex_admin_key_list(struct rg_exchange *ex);
int rg_ex_admin_dept_suspend(struct rg_exchange *ex);
int rg_ex_admin_dept_reactivate(struct rg_exchange *ex);
int rg_ex_admin_signing_rotate(struct rg_exchange *ex);
int rg_ex_admin_kek_rotate(struct rg_exchange *ex);
/* ex_master.c: the master secret that seals the keystore, changed online. */
int rg_ex_admin_master(struct rg_exchange *ex);
/* ex_dbkey.c: schedule an online database rekey (dbrekey.c); its state. */
int rg_ex_dbkey_rotate(struct rg_exchange *ex);
int rg_ex_dbkey_status(struct rg_exchange *ex);
/* Add the new key's signature over the entry bytes to the receipt
 * ("cosignatures"). 0 or -1. */
int rg_admin_cosign_receipt(struct rg_exchange *ex, json_t *receipt,
                            const uint8_t *entry, size_t len);
/*
 * Change the keystore file online: change() rewrites it under the kept
 * master secret (made readable only for the call) and returns the changed
 * keystore, loaded, or NULL with err. The file is saved first so that it
 * is put back if the exchange's entry does not commit; the changed
 * keystore waits in kp->ks_next and is put in use when the batch commits
 * (rg_admin_rotation_end). -1 on failure (nothing changed), 1 when refused
 * (recorded in ex), 0 done: the caller then sets ex->rotated.
 */
/* ex_admin.c, for every administrator's handler: 1 when the caller's key
 * has the admin role, else 0 with the refusal recorded (the route table
 * checks the role; checked again so that a wrong row cannot open a step);
 * and the allow outcome with ex->admin = change (taken) and a copy of it
 * as the result. 0, or -1 when change is NULL or out of memory. */
int rg_admin_caller_ok(struct rg_exchange *ex);
int rg_admin_allow(struct rg_exchange *ex, json_t *change);

typedef rg_keystore *(*rg_admin_ks_change)(void *ctx, const char *path,
                                           const rg_keystore_secret *secret,
                                           char *err, size_t errlen);
int rg_admin_keystore_apply(struct rg_exchange *ex, rg_admin_ks_change change,
                            void *ctx);

/* ex_datakeys.c: record data keys: rotation, retirement, destruction,
 * and the re-encryption's progress. */
int rg_ex_datakey_rotate(struct rg_exchange *ex);
int rg_ex_datakey_retire(struct rg_exchange *ex);
int rg_ex_datakey_destroy(struct rg_exchange *ex);
int rg_ex_kek_retire(struct rg_exchange *ex);
int rg_ex_kek_destroy(struct rg_exchange *ex);
int rg_ex_reencrypt_status(struct rg_exchange *ex);

/* ex_audit.c: the audit trail for officers. */
int rg_ex_audit_checkpoint(struct rg_exchange *ex);
int rg_ex_audit_checkpoints(struct rg_exchange *ex);
int rg_ex_audit_entries(struct rg_exchange *ex);
int rg_ex_audit_inclusion(struct rg_exchange *ex);
int rg_ex_audit_consistency(struct rg_exchange *ex);
/* A request that failed authentication: enter it (action "auth.refused"),
 * at most auth_audit_per_minute a minute, the rest counted into one
 * "auth.refused.suppressed" entry. 1 when entered, 0 when only counted,
 * -1 when the append failed. */
int rg_audit_auth_refused(rg_keeper *kp, const struct rg_request *req,
                          rg_err err, const char *claimed, int64_t now_ms);

#endif
