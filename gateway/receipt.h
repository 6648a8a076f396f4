/*
 * receipt.h -- a committed batch's receipts: one checkpoint of the log as
 * the batch leaves it, signed once, and each entry's RFC 9162 inclusion
 * proof in that tree.
 *
 * rg_ex_finish writes each reply up to its receipt's "keyid" and leaves the
 * object open; rg_receipts_finish appends ,"checkpoint":NOTE,
 * "inclusion":[...] and closes it and the body. One signature per batch
 * instead of one per exchange, and a receipt that proves more: that its
 * entry is in the log the gateway signed, at its index, checkable with any
 * RFC 9162 / C2SP verifier and, through consistency proofs, against every
 * later checkpoint. Built on the keeper's thread, finished on the
 * finisher's (finisher.h), which owns it in between.
 */
#ifndef RG_RECEIPT_H
#define RG_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sig.h"
#include "crypto/tlog.h"
#include "gateway/request.h"

typedef struct rg_receipts rg_receipts;

/*
 * The receipts of a batch whose nleaves entries follow the log before
 * describes, signed by key (which must outlive the object) under the
 * checkpoint origin. Room for nreplies replies. NULL when out of memory.
 */
rg_receipts *rg_receipts_new(const struct rg_tlog_frontier *before,
                             size_t nleaves, size_t nreplies,
                             const char *origin, const rg_sigkey *key);
void rg_receipts_free(rg_receipts *r);

/* Set the leaf hash of entry index (before->size <= index < that plus
 * nleaves). 0, or -1 when index is outside the batch. */
int rg_receipts_leaf(rg_receipts *r, uint64_t index,
                     const uint8_t leaf[RG_HASHLEN]);
/* A reply whose receipt is for entry index; resp must stay where it is
 * until rg_receipts_finish. 0, or -1 (outside the batch, or no room). */
int rg_receipts_add(rg_receipts *r, uint64_t index, struct rg_response *resp);

/* Bring f, the frontier of the log before the batch, past its leaves (once
 * every leaf is set); f of any other size is left as it is. */
void rg_receipts_advance(const rg_receipts *r, struct rg_tlog_frontier *f);

/*
 * Sign the checkpoint and complete every reply added. Any thread, once
 * every leaf is set. 0, or -1: then no reply is to be sent as it is (some
 * may be complete, others not).
 */
int rg_receipts_finish(rg_receipts *r);

#endif
