/*
 * receipt.c -- the batch's receipts: its span of the Merkle tree, one
 * signed checkpoint, and each reply's inclusion proof, appended in place.
 *
 * Everything the finisher's thread needs is copied in on the keeper's
 * thread (the frontier, the leaves, the origin): the store and the
 * keystore are never touched from here. The signing key is the batch's,
 * kept alive by the keeper until the batch comes back.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/note.h"
#include "crypto/tlog_span.h"
#include "gateway/jbuf.h"
#include "gateway/receipt.h"

struct rg_receipt_reply {
	uint64_t index;
	struct rg_response *resp;
};

struct rg_receipts {
	struct rg_tlog_frontier before;
	const rg_sigkey *key;
	char *origin;
	uint8_t (*leaves)[RG_HASHLEN];
	size_t nleaves;
	struct rg_receipt_reply *replies;
	size_t nreplies, cap;
};

rg_receipts *
rg_receipts_new(const struct rg_tlog_frontier *before, size_t nleaves,
                size_t nreplies, const char *origin, const rg_sigkey *key)
{
	rg_receipts *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->before = *before;
	r->key = key;
	r->nleaves = nleaves;
	r->cap = nreplies;
	r->origin = strdup(origin);
	r->leaves = calloc(nleaves ? nleaves : 1, sizeof(*r->leaves));
	r->replies = calloc(nreplies ? nreplies : 1, sizeof(*r->replies));
	if (r->origin == NULL || r->leaves == NULL || r->replies == NULL) {
		rg_receipts_free(r);
		return NULL;
	}
	return r;
}

void
rg_receipts_free(rg_receipts *r)
{
	if (r == NULL)
		return;
	free(r->origin);
	free(r->leaves);
	free(r->replies);
	free(r);
}

static int
rg_receipts_inside(const rg_receipts *r, uint64_t index)
{
	return index >= r->before.size && index - r->before.size < r->nleaves;
}

int
rg_receipts_leaf(rg_receipts *r, uint64_t index, const uint8_t leaf[RG_HASHLEN])
{
	if (!rg_receipts_inside(r, index))
		return -1;
	memcpy(r->leaves[index - r->before.size], leaf, RG_HASHLEN);
	return 0;
}

int
rg_receipts_add(rg_receipts *r, uint64_t index, struct rg_response *resp)
{
	if (!rg_receipts_inside(r, index) || r->nreplies == r->cap)
		return -1;
	r->replies[r->nreplies++] = (struct rg_receipt_reply){index, resp};
	return 0;
}

void
rg_receipts_advance(const rg_receipts *r, struct rg_tlog_frontier *f)
{
	if (f->size != r->before.size)
		return;
	for (size_t i = 0; i < r->nleaves; i++)
		rg_tlog_frontier_add(f, r->leaves[i]);
}

/* The part every reply shares: ,"checkpoint":"<the signed note>". */
static char *
rg_receipts_checkpoint(rg_receipts *r, const rg_tlog_span *span, size_t *len)
{
	struct rg_jbuf b = {0};
	uint8_t root[RG_HASHLEN];
	char *text = NULL, *note = NULL;

	if (rg_tlog_span_root(span, root) != 0 ||
	    (text = rg_note_checkpoint_text(r->origin, rg_tlog_span_size(span),
	                                    root)) == NULL ||
	    (note = rg_note_sign(text, r->origin, r->key)) == NULL) {
		free(text);
		return NULL;
	}
	rg_jbuf_lit(&b, ",\"checkpoint\":");
	rg_jbuf_str(&b, note);
	free(text);
	free(note);
	return rg_jbuf_take(&b, len);
}

/* Append the shared part, the reply's proof and the two closing braces.
 * The body (malloc'd, at least one byte longer than body_len, as
 * rg_ex_finish leaves it) grows in place; on failure it is gone. */
static int
rg_receipts_complete(struct rg_receipt_reply *rr, const rg_tlog_span *span,
                     const char *shared, size_t slen)
{
	uint8_t proof[RG_TLOG_MAXPROOF][RG_HASHLEN];
	struct rg_response *resp = rr->resp;
	struct rg_jbuf b = {resp->body, resp->body_len, resp->body_len + 1, 0};
	size_t plen = 0;
	int rc;

	resp->body = NULL;
	resp->body_len = 0;
	rc = rg_tlog_span_inclusion(span, rr->index, proof, &plen);
	rg_jbuf_bytes(&b, shared, slen);
	rg_jbuf_lit(&b, ",\"inclusion\":[");
	for (size_t i = 0; i < plen; i++) {
		if (i > 0)
			rg_jbuf_lit(&b, ",");
		rg_jbuf_b64(&b, proof[i], RG_HASHLEN);
	}
	rg_jbuf_lit(&b, "]}}");
	if (rc != 0) {
		rg_jbuf_clear(&b);
		return -1;
	}
	resp->body = rg_jbuf_take(&b, &resp->body_len);
	return resp->body != NULL ? 0 : -1;
}

int
rg_receipts_finish(rg_receipts *r)
{
	rg_tlog_span *span;
	char *shared = NULL;
	size_t slen = 0;
	int rc = -1;

	if (r->nreplies == 0)
		return 0;
	span = rg_tlog_span_new(&r->before,
	                        (const uint8_t (*)[RG_HASHLEN])r->leaves,
	                        r->nleaves);
	if (span == NULL)
		return -1;
	if ((shared = rg_receipts_checkpoint(r, span, &slen)) == NULL)
		goto out;
	for (size_t i = 0; i < r->nreplies; i++)
		if (rg_receipts_complete(&r->replies[i], span, shared, slen) != 0)
			goto out;
	rc = 0;
out:
	free(shared);
	rg_tlog_span_free(span);
	return rc;
}
