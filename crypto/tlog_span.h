/*
 * tlog_span.h -- the subtrees a run of new leaves completes, over the
 * frontier of the log before them.
 *
 * A batch of audit entries [a, n) joins a log of a entries. Every root,
 * and every inclusion proof of a new leaf, in the tree of n entries needs
 * only complete subtrees that either touch [a, n) or are the frontier of
 * a (struct rg_tlog_frontier): the span holds exactly those, so that the
 * batch's receipts are built away from the storage that holds the rest.
 * Immutable once made: readers on other threads need no lock.
 */
#ifndef RG_TLOG_SPAN_H
#define RG_TLOG_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/tlog.h"

typedef struct rg_tlog_span rg_tlog_span;

/*
 * The span of leaves[0..count) appended to the log that before describes
 * (before->size entries). Copies what it needs; NULL when out of memory or
 * when before->size + count overflows.
 */
rg_tlog_span *rg_tlog_span_new(const struct rg_tlog_frontier *before,
                               const uint8_t (*leaves)[RG_HASHLEN],
                               size_t count);
void rg_tlog_span_free(rg_tlog_span *s);

/* The log's size with the span's leaves. */
uint64_t rg_tlog_span_size(const rg_tlog_span *s);

/* rg_tlog_get_fn over a span (ctx is the span): -1 for a subtree it does
 * not hold, which the proofs of its leaves and the roots never ask for. */
int rg_tlog_span_get(void *span, unsigned level, uint64_t idx,
                     uint8_t out[RG_HASHLEN]);

/* The grown log's root, and the inclusion proof of one of the span's own
 * leaves (before->size <= index < size) in it; 0 or -1. */
int rg_tlog_span_root(const rg_tlog_span *s, uint8_t out[RG_HASHLEN]);
int rg_tlog_span_inclusion(const rg_tlog_span *s, uint64_t index,
                           uint8_t (*proof)[RG_HASHLEN], size_t *plen);

#endif
