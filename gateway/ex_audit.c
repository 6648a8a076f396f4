/*
 * ex_audit.c -- the audit trail inside the keeper: signed checkpoints
 * (issued over committed trees only, never smaller than the last one
 * signed), the officers' queries and proofs (each itself an audited
 * exchange, rg_ex_finish), and the rate-limited entries of refused
 * authentications. It builds every entry and note it signs itself; it
 * never changes an entry once appended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/entry.h"
#include "crypto/note.h"
#include "crypto/tlog.h"
#include "gateway/exchange_int.h"

#define RG_AUDIT_PAGE_MAX 1000    /* entries returned by one call */
#define RG_AUDIT_SCAN_MAX 10000   /* entries examined by one call */
#define RG_AUDIT_CP_PAGE_MAX 1000 /* checkpoints returned by one call */

int
rg_audit_node(void *ctx, unsigned level, uint64_t idx, uint8_t out[RG_HASHLEN])
{
	return rg_store_audit_node(ctx, level, idx, out) == RG_STORE_OK ? 0 : -1;
}

int
rg_audit_open(rg_keeper *kp, char *err, size_t errlen)
{
	struct rg_store_checkpoint cp;
	int rc = rg_store_checkpoint_latest(kp->st, &cp);

	if (rc == RG_STORE_NOTFOUND)
		return 0;
	if (rc != RG_STORE_OK) {
		snprintf(err, errlen, "cannot read the checkpoints: %s",
		         rg_store_errmsg(kp->st));
		return -1;
	}
	/* A log shorter than what was signed has lost entries: refuse to
	 * run on it rather than sign an inconsistent tree. */
	if (cp.size > kp->audit_size) {
		snprintf(err, errlen, "the audit log holds %llu entries but a "
		         "checkpoint of %llu was signed",
		         (unsigned long long)kp->audit_size,
		         (unsigned long long)cp.size);
		rg_store_checkpoint_clear(&cp);
		return -1;
	}
	kp->checkpoint_size = cp.size;
	kp->checkpoint_ms = cp.time_ms;
	kp->has_checkpoint = 1;
	rg_store_checkpoint_clear(&cp);
	return 0;
}

int
rg_audit_checkpoint(rg_keeper *kp, uint64_t size, int64_t now_ms)
{
	const char *origin = rg_keystore_origin(kp->ks);
	uint8_t root[RG_HASHLEN];
	char *text = NULL, *note = NULL;
	int rc = -1, src;

	/* The same size again signs the same root (stored subtrees never
	 * change; Ed25519 is deterministic): it restores a checkpoint whose
	 * row an undone savepoint took. Smaller is never signed. */
	if (kp->has_checkpoint && size < kp->checkpoint_size)
		return 0;
	if (size > kp->committed_size)
		return -1; /* never over entries that could still roll back */
	if (rg_tlog_root(size, rg_audit_node, kp->st, root) != 0) {
		fprintf(stderr, "recgated: checkpoint: %s\n", rg_store_errmsg(kp->st));
		return -1;
	}
	text = rg_note_checkpoint_text(origin, size, root);
	if (text == NULL ||
	    (note = rg_note_sign(text, origin, rg_keystore_signing_key(kp->ks)))
	    == NULL ||
	    (note = rg_admin_cosign_note(kp, text, note)) == NULL)
		goto out;
	src = rg_store_checkpoint_put(kp->st, size, root, note, now_ms);
	if (src != RG_STORE_OK && src != RG_STORE_EXISTS) {
		fprintf(stderr, "recgated: checkpoint not stored: %s\n",
		        rg_store_errmsg(kp->st));
		goto out;
	}
	kp->checkpoint_size = size;
	kp->checkpoint_ms = now_ms;
	kp->has_checkpoint = 1;
	rc = 0;
out:
	free(text);
	free(note);
	return rc;
}

/* ---- query parameters --------------------------------------------------- */

struct rg_audit_param {
	const char *name;
	int numeric;
	int seen;
	uint64_t num;
	char text[64];
};

static struct rg_audit_param *
rg_audit_param_find(struct rg_audit_param *ps, size_t n, const char *name,
                    size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(ps[i].name) == len && memcmp(ps[i].name, name, len) == 0)
			return &ps[i];
	return NULL;
}

/* Strict: only the listed names, each once; numbers are decimal; text is
 * [A-Za-z0-9._-] (ids, actions, decisions need nothing else). */
static int
rg_audit_params(struct rg_exchange *ex, struct rg_audit_param *ps, size_t n)
{
	const char *q = ex->req->query;
	char bad[64] = "query";

	while (q != NULL && *q != '\0') {
		const char *amp = strchr(q, '&'), *eq;
		size_t len = amp ? (size_t)(amp - q) : strlen(q), vlen;
		struct rg_audit_param *p;

		eq = memchr(q, '=', len);
		if (eq == NULL ||
		    (p = rg_audit_param_find(ps, n, q, (size_t)(eq - q))) == NULL ||
		    p->seen++)
			goto bad;
		snprintf(bad, sizeof(bad), "%s", p->name);
		vlen = len - (size_t)(eq - q) - 1;
		if (vlen == 0 || vlen >= sizeof(p->text))
			goto bad;
		memcpy(p->text, eq + 1, vlen);
		p->text[vlen] = '\0';
		for (size_t i = 0; i < vlen; i++) {
			char c = p->text[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			      c == '-') || (p->numeric && (c < '0' || c > '9')))
				goto bad;
		}
		if (p->numeric) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(p->text, &end, 10);
			if (errno != 0 || *end != '\0' || v > INT64_MAX)
				goto bad;
			p->num = v;
		}
		q = amp ? amp + 1 : q + len;
	}
	return 0;
bad:
	rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, bad, NULL);
	return -1;
}

static void
rg_audit_allow(struct rg_exchange *ex)
{
	ex->decision = "allow";
	ex->reason = "ok_officer";
}

/* ---- GET /v1/audit/checkpoint ------------------------------------------- */

static json_t *
rg_audit_cp_json(const struct rg_store_checkpoint *cp)
{
	return json_pack("{s:I, s:o, s:s, s:I}", "size", (json_int_t)cp->size,
	                 "root", rg_json_b64(cp->root, sizeof(cp->root)),
	                 "note", cp->note, "time", (json_int_t)cp->time_ms);
}

int
rg_ex_audit_checkpoint(struct rg_exchange *ex)
{
	struct rg_audit_param ps[] = {{"fresh", 1}};
	rg_keeper *kp = ex->kp;
	struct rg_store_checkpoint cp;

	if (rg_audit_params(ex, ps, 1) != 0)
		return 0;
	if (ps[0].seen && ps[0].num > 1) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "fresh",
		             "expected fresh=0 or fresh=1");
		return 0;
	}
	/* On demand, over what is committed now: this request's own entry
	 * is not, and will be in a later checkpoint. */
	if ((ps[0].num == 1 || !kp->has_checkpoint) &&
	    rg_audit_checkpoint(kp, kp->committed_size, ex->now_ms) != 0)
		return -1;
	if (rg_store_checkpoint_latest(kp->st, &cp) != RG_STORE_OK)
		return -1;
	ex->result = rg_audit_cp_json(&cp);
	rg_store_checkpoint_clear(&cp);
	if (ex->result == NULL)
		return -1;
	rg_audit_allow(ex);
	return 0;
}

/* ---- GET /v1/audit/checkpoints ------------------------------------------ */

static int
rg_audit_cp_row(void *ctx, const struct rg_store_checkpoint *cp)
{
	json_t *list = ctx, *item = rg_audit_cp_json(cp);

	return item == NULL || json_array_append_new(list, item) != 0;
}

int
rg_ex_audit_checkpoints(struct rg_exchange *ex)
{
	struct rg_audit_param ps[] = {{"after", 1}, {"limit", 1}};
	json_t *list;
	int limit = RG_AUDIT_CP_PAGE_MAX;

	if (rg_audit_params(ex, ps, 2) != 0)
		return 0;
	if (ps[1].seen) {
		if (ps[1].num < 1 || ps[1].num > RG_AUDIT_CP_PAGE_MAX) {
			rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL,
			             "limit", "expected limit=1..1000");
			return 0;
		}
		limit = (int)ps[1].num;
	}
	if ((list = json_array()) == NULL)
		return -1;
	if (rg_store_checkpoint_each(ex->kp->st, ps[0].num, limit, rg_audit_cp_row,
	                             list) != RG_STORE_OK ||
	    json_array_size(list) > (size_t)limit) {
		json_decref(list);
		return -1;
	}
	ex->result = json_pack("{s:o}", "checkpoints", list);
	if (ex->result == NULL)
		return -1;
	rg_audit_allow(ex);
	return 0;
}

/* ---- GET /v1/audit/entries ---------------------------------------------- */

enum { P_FROM, P_TO, P_LIMIT, P_DEPT, P_RES, P_ACTION, P_DECISION, P_FROM_MS,
       P_TO_MS, P__COUNT };

struct rg_audit_scan {
	struct rg_audit_param *ps;
	json_t *list;
	size_t limit;
	uint64_t next;
	int failed;
};

static int
rg_audit_text_match(const json_t *entry, const char *key,
                    const struct rg_audit_param *p)
{
	const char *v;

	if (!p->seen)
		return 1;
	v = json_string_value(json_object_get(entry, key));
	return v != NULL && strcmp(v, p->text) == 0;
}

static int
rg_audit_scan_row(void *ctx, uint64_t index, const uint8_t *entry, size_t len,
                  const uint8_t leaf[32])
{
	struct rg_audit_scan *sc = ctx;
	struct rg_audit_param *ps = sc->ps;
	json_t *parsed, *item;
	json_int_t t;

	sc->next = index + 1;
	parsed = json_loadb((const char *)entry, len, 0, NULL);
	if (parsed == NULL) {
		sc->failed = 1;
		return 1;
	}
	t = json_integer_value(json_object_get(parsed, "time"));
	if (!rg_audit_text_match(parsed, "department", &ps[P_DEPT]) ||
	    !rg_audit_text_match(parsed, "resource", &ps[P_RES]) ||
	    !rg_audit_text_match(parsed, "action", &ps[P_ACTION]) ||
	    !rg_audit_text_match(parsed, "decision", &ps[P_DECISION]) ||
	    (ps[P_FROM_MS].seen && t < (json_int_t)ps[P_FROM_MS].num) ||
	    (ps[P_TO_MS].seen && t >= (json_int_t)ps[P_TO_MS].num)) {
		json_decref(parsed);
		return 0;
	}
	item = json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)index,
	                 "entry", rg_json_b64(entry, len),
	                 "leaf_hash", rg_json_b64(leaf, 32), "parsed", parsed);
	if (item == NULL || json_array_append_new(sc->list, item) != 0) {
		sc->failed = 1;
		return 1;
	}
	return json_array_size(sc->list) >= sc->limit;
}

int
rg_ex_audit_entries(struct rg_exchange *ex)
{
	struct rg_audit_param ps[P__COUNT] = {
		[P_FROM] = {"from", 1}, [P_TO] = {"to", 1}, [P_LIMIT] = {"limit", 1},
		[P_DEPT] = {"department", 0}, [P_RES] = {"resource", 0},
		[P_ACTION] = {"action", 0}, [P_DECISION] = {"decision", 0},
		[P_FROM_MS] = {"from_ms", 1}, [P_TO_MS] = {"to_ms", 1},
	};
	struct rg_audit_scan sc = {0};
	uint64_t size = ex->kp->audit_size, from, to, end;

	if (rg_audit_params(ex, ps, P__COUNT) != 0)
		return 0;
	sc.limit = RG_AUDIT_PAGE_MAX;
	if (ps[P_LIMIT].seen) {
		if (ps[P_LIMIT].num < 1 || ps[P_LIMIT].num > RG_AUDIT_PAGE_MAX) {
			rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL,
			             "limit", "expected limit=1..1000");
			return 0;
		}
		sc.limit = (size_t)ps[P_LIMIT].num;
	}
	from = ps[P_FROM].num;
	end = ps[P_TO].seen && ps[P_TO].num < size ? ps[P_TO].num : size;
	if (from > end) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "from",
		             "expected from <= to");
		return 0;
	}
	/* Filters may match little: the scan is bounded as well as the
	 * page, and "next" says where to go on. */
	to = end - from > RG_AUDIT_SCAN_MAX ? from + RG_AUDIT_SCAN_MAX : end;
	sc.ps = ps;
	sc.next = to; /* the page filling up stops the scan earlier */
	if ((sc.list = json_array()) == NULL)
		return -1;
	if (rg_store_audit_each(ex->kp->st, from, to, rg_audit_scan_row, &sc) !=
	    RG_STORE_OK || sc.failed) {
		json_decref(sc.list);
		return -1;
	}
	if (json_array_size(sc.list) < sc.limit)
		sc.next = to;
	ex->result = json_pack("{s:o, s:I, s:o}", "entries", sc.list,
	                       "size", (json_int_t)size, "next",
	                       sc.next < end ? json_integer((json_int_t)sc.next)
	                                     : json_null());
	if (ex->result == NULL)
		return -1;
	rg_audit_allow(ex);
	return 0;
}

/* ---- proofs -------------------------------------------------------------- */

static json_t *
rg_audit_hashes(const uint8_t (*h)[RG_HASHLEN], size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, rg_json_b64(h[i], RG_HASHLEN)) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* The size a proof is against: as asked, or the latest checkpoint's. */
static int
rg_audit_size_param(struct rg_exchange *ex, const struct rg_audit_param *p,
                    uint64_t *size)
{
	if (p->seen)
		*size = p->num;
	else if (ex->kp->has_checkpoint)
		*size = ex->kp->checkpoint_size;
	else {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, p->name,
		             "no checkpoint yet: give the tree size");
		return -1;
	}
	if (*size > ex->kp->audit_size) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, p->name,
		             "larger than the log");
		return -1;
	}
	return 0;
}

int
rg_ex_audit_inclusion(struct rg_exchange *ex)
{
	struct rg_audit_param ps[] = {{"index", 1}, {"size", 1}};
	uint8_t (*proof)[RG_HASHLEN], leaf[RG_HASHLEN], root[RG_HASHLEN];
	uint64_t size;
	size_t plen;
	int rc = -1;

	if (rg_audit_params(ex, ps, 2) != 0)
		return 0;
	if (!ps[0].seen) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "index",
		             "index is required");
		return 0;
	}
	if (rg_audit_size_param(ex, &ps[1], &size) != 0)
		return 0;
	if (ps[0].num >= size) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "index",
		             "expected index < size");
		return 0;
	}
	if ((proof = malloc(RG_TLOG_MAXPROOF * sizeof(*proof))) == NULL)
		return -1;
	if (rg_store_audit_node(ex->kp->st, 0, ps[0].num, leaf) != RG_STORE_OK ||
	    rg_tlog_root(size, rg_audit_node, ex->kp->st, root) != 0 ||
	    rg_tlog_inclusion(ps[0].num, size, rg_audit_node, ex->kp->st, proof,
	                      &plen) != 0)
		goto out;
	ex->result = json_pack("{s:I, s:I, s:o, s:o, s:o}",
	                       "index", (json_int_t)ps[0].num,
	                       "size", (json_int_t)size,
	                       "leaf_hash", rg_json_b64(leaf, RG_HASHLEN),
	                       "root", rg_json_b64(root, RG_HASHLEN),
	                       "proof", rg_audit_hashes(proof, plen));
	if (ex->result != NULL) {
		rg_audit_allow(ex);
		rc = 0;
	}
out:
	free(proof);
	return rc;
}

int
rg_ex_audit_consistency(struct rg_exchange *ex)
{
	struct rg_audit_param ps[] = {{"from", 1}, {"to", 1}};
	uint8_t (*proof)[RG_HASHLEN], r1[RG_HASHLEN], r2[RG_HASHLEN];
	uint64_t to;
	size_t plen;
	int rc = -1;

	if (rg_audit_params(ex, ps, 2) != 0)
		return 0;
	if (rg_audit_size_param(ex, &ps[1], &to) != 0)
		return 0;
	if (!ps[0].seen || ps[0].num == 0 || ps[0].num > to) {
		rg_ex_refuse(ex, "reject", RG_ERR_BAD_PARAMETER, NULL, "from",
		             "expected 0 < from <= to");
		return 0;
	}
	if ((proof = malloc(RG_TLOG_MAXPROOF * sizeof(*proof))) == NULL)
		return -1;
	if (rg_tlog_root(ps[0].num, rg_audit_node, ex->kp->st, r1) != 0 ||
	    rg_tlog_root(to, rg_audit_node, ex->kp->st, r2) != 0 ||
	    rg_tlog_consistency(ps[0].num, to, rg_audit_node, ex->kp->st, proof,
	                        &plen) != 0)
		goto out;
	ex->result = json_pack("{s:I, s:I, s:o, s:o, s:o}",
	                       "from", (json_int_t)ps[0].num,
	                       "to", (json_int_t)to,
	                       "root1", rg_json_b64(r1, RG_HASHLEN),
	                       "root2", rg_json_b64(r2, RG_HASHLEN),
	                       "proof", rg_audit_hashes(proof, plen));
	if (ex->result != NULL) {
		rg_audit_allow(ex);
		rc = 0;
	}
out:
	free(proof);
	return rc;
}

/* ---- refused authentications -------------------------------------------- */

/* Append one entry built here (never from request bytes but the safe
 * subset below). 0 or -1. Also the keeper's other system entries
 * (dbrekey.c), hence not static (keeper_int.h). */
int
rg_audit_append_obj(rg_keeper *kp, json_t *entry)
{
	uint8_t leaf[RG_HASHLEN];
	size_t len;
	char *enc;
	int rc = -1;

	if (entry == NULL)
		return -1;
	json_object_set_new(entry, "index", json_integer((json_int_t)kp->audit_size));
	json_object_set_new(entry, "policy", json_string(rg_policy_version(kp->pol)));
	enc = rg_entry_encode(entry, &len);
	json_decref(entry);
	if (enc == NULL)
		return -1;
	rg_merkle_leaf((const uint8_t *)enc, len, leaf);
	if (rg_store_audit_append(kp->st, kp->audit_size, (const uint8_t *)enc, len,
	                          leaf) == RG_STORE_OK) {
		kp->audit_size++;
		rc = 0;
	} else
		fprintf(stderr, "recgated: audit append failed: %s\n",
		        rg_store_errmsg(kp->st));
	free(enc);
	return rc;
}

int
rg_audit_enter_alone(rg_keeper *kp, json_t *entry, const char *meta,
                     const void *val, size_t len)
{
	if (entry == NULL)
		return -1;
	if (rg_store_begin(kp->st) != RG_STORE_OK) {
		json_decref(entry);
		return -1;
	}
	/* rg_audit_append_obj takes the entry, whatever it returns. */
	if (rg_audit_append_obj(kp, entry) != 0 ||
	    (meta != NULL && val != NULL &&
	     rg_store_meta_put(kp->st, meta, val, len) != RG_STORE_OK) ||
	    (meta != NULL && val == NULL &&
	     rg_store_meta_del(kp->st, meta) != RG_STORE_OK) ||
	    rg_store_commit(kp->st) != RG_STORE_OK) {
		rg_store_rollback(kp->st);
		if (rg_store_audit_size(kp->st, &kp->audit_size) != RG_STORE_OK)
			abort(); /* the log's length is unknown */
		return -1;
	}
	kp->committed_size = kp->audit_size;
	kp->stats.audit_size = kp->audit_size;
	return 0;
}

/* Attacker-chosen text kept to [A-Za-z0-9._:-[]] so that the entry stays
 * valid UTF-8 and readable. */
static void
rg_audit_safe(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	for (; in != NULL && *in != '\0' && n + 1 < outlen; in++)
		if ((*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z') ||
		    (*in >= '0' && *in <= '9') || strchr("._:-[]", *in) != NULL)
			out[n++] = *in;
	out[n] = '\0';
}

/* A token bucket: auth_audit_per_minute a minute, bursts as large.
 * Takes a token and returns 1, or returns 0 when there is none. */
static int
rg_audit_auth_token(rg_keeper *kp, int64_t now_ms)
{
	double cap = kp->cfg.auth_audit_per_minute;

	if (kp->auth_tokens_ms == 0)
		kp->auth_tokens = cap;
	else if (now_ms > kp->auth_tokens_ms)
		kp->auth_tokens += (double)(now_ms - kp->auth_tokens_ms) * cap / 60000.0;
	if (kp->auth_tokens > cap)
		kp->auth_tokens = cap;
	kp->auth_tokens_ms = now_ms;
	if (kp->auth_tokens < 1.0)
		return 0;
	kp->auth_tokens -= 1.0;
	return 1;
}

/* The count of what the budget left out, as one entry. 0 or -1 (the
 * count is then kept for the next try). */
static int
rg_audit_auth_count(rg_keeper *kp, int64_t now_ms)
{
	json_t *e;

	if (kp->auth_suppressed == 0)
		return 0;
	e = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I}", "time", (json_int_t)now_ms,
	              "action", "auth.refused.suppressed", "decision", "reject",
	              "reason", "rate_limited",
	              "count", (json_int_t)kp->auth_suppressed,
	              "since", (json_int_t)kp->auth_suppressed_since_ms);
	if (rg_audit_append_obj(kp, e) != 0)
		return -1;
	kp->auth_suppressed = 0;
	return 0;
}

int
rg_audit_auth_summary(rg_keeper *kp, int64_t now_ms)
{
	uint64_t count = kp->auth_suppressed;

	if (count == 0 || !rg_audit_auth_token(kp, now_ms))
		return 0;
	return rg_audit_auth_count(kp, now_ms) == 0 ? 1 : -1;
}

int
rg_audit_auth_refused(rg_keeper *kp, const struct rg_request *req, rg_err err,
                      const char *claimed, int64_t now_ms)
{
	char keyid[129], addr[64], hex[65];
	uint8_t digest[32];
	crypto_hash_sha256_state h;
	uint64_t count = kp->auth_suppressed;
	int64_t since = kp->auth_suppressed_since_ms;
	json_t *e;

	if (!rg_audit_auth_token(kp, now_ms)) {
		if (kp->auth_suppressed++ == 0)
			kp->auth_suppressed_since_ms = now_ms;
		return 0;
	}
	/* What a flood left out is summed up in one entry before the next. */
	if (rg_audit_auth_count(kp, now_ms) != 0)
		return -1;
	rg_audit_safe(claimed, keyid, sizeof(keyid));
	rg_audit_safe(req->peer, addr, sizeof(addr));
	/* What was asked: SHA-256 of method, target and body. */
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)req->method, strlen(req->method));
	crypto_hash_sha256_update(&h, (const uint8_t *)" ", 1);
	if (req->target != NULL)
		crypto_hash_sha256_update(&h, (const uint8_t *)req->target,
		                          strlen(req->target));
	if (req->body_len > 0)
		crypto_hash_sha256_update(&h, req->body, req->body_len);
	crypto_hash_sha256_final(&h, digest);
	rg_hex(digest, sizeof(digest), hex);
	e = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "time", (json_int_t)now_ms,
	              "action", "auth.refused", "decision", "reject",
	              "reason", rg_err_code(err), "address", addr, "request", hex);
	if (e != NULL && keyid[0] != '\0')
		json_object_set_new(e, "keyid", json_string(keyid));
	if (rg_audit_append_obj(kp, e) != 0) {
		/* The savepoint goes, the count's entry with it: keep the count. */
		kp->auth_suppressed = count;
		kp->auth_suppressed_since_ms = since;
		return -1;
	}
	return 1;
}
