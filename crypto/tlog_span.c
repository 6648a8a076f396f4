/*
 * tlog_span.c -- the complete subtrees of a batch of new leaves, built once
 * over the frontier before them, for the batch's root and proofs.
 *
 * At level l the span holds the subtrees with index in [a >> l, n >> l):
 * each ends inside the batch and none ends at or before a. A subtree left
 * of those that a proof of a new leaf or a root asks for is maximal within
 * the first a leaves (its parent reaches past a), so it is one of the
 * frontier's. That is the whole argument for answering every lookup of
 * rg_tlog_root(n) and rg_tlog_inclusion(i >= a, n) from here.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/tlog_span.h"

struct rg_tlog_span {
	uint64_t base;                 /* a: the log's size before */
	uint64_t size;                 /* n: with the batch */
	uint8_t front[64][RG_HASHLEN]; /* the frontier of a */
	size_t off[65];                /* level l starts at nodes[off[l]] */
	uint8_t (*nodes)[RG_HASHLEN];
};

int
rg_tlog_span_get(void *span, unsigned level, uint64_t idx,
                 uint8_t out[RG_HASHLEN])
{
	const struct rg_tlog_span *s = span;
	uint64_t lo, hi;

	if (level > 63)
		return -1;
	lo = s->base >> level;
	hi = s->size >> level;
	if (idx >= lo && idx < hi) {
		memcpy(out, s->nodes[s->off[level] + (size_t)(idx - lo)], RG_HASHLEN);
		return 0;
	}
	/* Left of the batch: only the frontier's subtree at this level. */
	if ((lo & 1) != 0 && idx == lo - 1) {
		memcpy(out, s->front[level], RG_HASHLEN);
		return 0;
	}
	return -1;
}

rg_tlog_span *
rg_tlog_span_new(const struct rg_tlog_frontier *before,
                 const uint8_t (*leaves)[RG_HASHLEN], size_t count)
{
	struct rg_tlog_span *s;
	uint64_t a = before->size, n = a + count;
	size_t total = 0;

	if (n < a)
		return NULL;
	if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	s->base = a;
	s->size = n;
	memcpy(s->front, before->h, sizeof(s->front));
	for (unsigned l = 0; l < 64; l++) {
		s->off[l] = total;
		total += (size_t)((n >> l) - (a >> l));
	}
	s->off[64] = total;
	s->nodes = malloc((total ? total : 1) * sizeof(*s->nodes));
	if (s->nodes == NULL) {
		free(s);
		return NULL;
	}
	if (count > 0)
		memcpy(s->nodes, leaves, count * sizeof(*leaves));
	/* Bottom up: both children of each node are already held, in this
	 * level below or (the left one) in the frontier. */
	for (unsigned l = 1; l < 64 && s->off[l] < s->off[l + 1]; l++) {
		for (uint64_t i = a >> l; i < n >> l; i++) {
			uint8_t left[RG_HASHLEN], right[RG_HASHLEN];

			if (rg_tlog_span_get(s, l - 1, 2 * i, left) != 0 ||
			    rg_tlog_span_get(s, l - 1, 2 * i + 1, right) != 0) {
				rg_tlog_span_free(s); /* a broken frontier */
				return NULL;
			}
			rg_merkle_node(left, right,
			               s->nodes[s->off[l] + (size_t)(i - (a >> l))]);
		}
	}
	return s;
}

void
rg_tlog_span_free(rg_tlog_span *s)
{
	if (s == NULL)
		return;
	free(s->nodes);
	free(s);
}

uint64_t
rg_tlog_span_size(const rg_tlog_span *s)
{
	return s->size;
}

int
rg_tlog_span_root(const rg_tlog_span *s, uint8_t out[RG_HASHLEN])
{
	return rg_tlog_root(s->size, rg_tlog_span_get, (void *)s, out);
}

int
rg_tlog_span_inclusion(const rg_tlog_span *s, uint64_t index,
                       uint8_t (*proof)[RG_HASHLEN], size_t *plen)
{
	*plen = 0;
	if (index < s->base || index >= s->size)
		return -1;
	return rg_tlog_inclusion(index, s->size, rg_tlog_span_get, (void *)s,
	                         proof, plen);
}
