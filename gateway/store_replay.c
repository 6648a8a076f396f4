/*
 * store_replay.c -- the replay guard's committed claims, in memory: a set
 * of 16-byte tags (BLAKE2b-128 of key id and nonce) with their expiry,
 * which store.c fills from the replay_batches table when it first needs it
 * and adds to after each commit. The table is written in commit order and
 * read only at that first use; every question "was this nonce used?" is
 * answered here. It owns the set and nothing else, and runs no SQL.
 *
 * Why not a table keyed by nonce: nonces are random, so each claim landed
 * on a random page of a B-tree as large as the window's claims (five
 * minutes of traffic), and every such page was encrypted, written to the
 * WAL and copied again at the checkpoint, and often read and decrypted
 * first for the lookup: the largest single cost of an exchange's commit.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gateway/store_int.h"

#define RG_REPLAY_EMPTY INT64_MIN

struct rg_replay_slot {
	uint8_t tag[RG_REPLAY_TAGLEN];
	int64_t expires_ms;             /* RG_REPLAY_EMPTY: a free slot */
};

struct rg_replay {
	struct rg_replay_slot *slot;
	size_t cap;                     /* a power of two, or 0 */
	size_t used;                    /* slots taken, expired ones too */
	size_t sweep_at;                /* where the sweep goes on */
	/* Keyed so that clients cannot choose nonces whose tags share a
	 * probe sequence. */
	uint8_t key[crypto_shorthash_KEYBYTES];
};

void
rg_replay_tag(const char *keyid, const char *nonce,
              uint8_t tag[RG_REPLAY_TAGLEN])
{
	static const char domain[] = "recgate replay v1";
	crypto_generichash_state h;

	/* domain, key id and nonce each with its NUL: no two pairs give
	 * the same input. */
	crypto_generichash_init(&h, NULL, 0, RG_REPLAY_TAGLEN);
	crypto_generichash_update(&h, (const uint8_t *)domain, sizeof(domain));
	crypto_generichash_update(&h, (const uint8_t *)keyid, strlen(keyid) + 1);
	crypto_generichash_update(&h, (const uint8_t *)nonce, strlen(nonce) + 1);
	crypto_generichash_final(&h, tag, RG_REPLAY_TAGLEN);
}

struct rg_replay *
rg_replay_new(void)
{
	struct rg_replay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	randombytes_buf(r->key, sizeof(r->key));
	return r;
}

void
rg_replay_free(struct rg_replay *r)
{
	if (r == NULL)
		return;
	free(r->slot);
	free(r);
}

static size_t
rg_replay_home(const struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, tag, RG_REPLAY_TAGLEN, r->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (r->cap - 1);
}

/* The slot holding tag, or the free one where it would go. cap > used. */
static struct rg_replay_slot *
rg_replay_probe(const struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN])
{
	size_t i = rg_replay_home(r, tag);

	while (r->slot[i].expires_ms != RG_REPLAY_EMPTY &&
	       memcmp(r->slot[i].tag, tag, RG_REPLAY_TAGLEN) != 0)
		i = (i + 1) & (r->cap - 1);
	return &r->slot[i];
}

int
rg_replay_find(const struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN],
               int64_t *expires_ms)
{
	const struct rg_replay_slot *s;

	if (r->cap == 0)
		return 0;
	s = rg_replay_probe(r, tag);
	if (s->expires_ms == RG_REPLAY_EMPTY)
		return 0;
	*expires_ms = s->expires_ms;
	return 1;
}

/* Move every slot that is live at now_ms (all of them for INT64_MIN) into
 * a table of cap slots. 0, or -1 (r unchanged). */
static int
rg_replay_rebuild(struct rg_replay *r, size_t cap, int64_t now_ms)
{
	struct rg_replay_slot *old = r->slot, *s;
	size_t oldcap = r->cap;

	if ((s = malloc(cap * sizeof(*s))) == NULL)
		return -1;
	for (size_t i = 0; i < cap; i++)
		s[i].expires_ms = RG_REPLAY_EMPTY;
	r->slot = s;
	r->cap = cap;
	r->used = 0;
	r->sweep_at = 0;                /* the slots moved: a new pass */
	for (size_t i = 0; i < oldcap; i++) {
		struct rg_replay_slot *to;

		if (old[i].expires_ms == RG_REPLAY_EMPTY ||
		    old[i].expires_ms < now_ms)
			continue;
		to = rg_replay_probe(r, old[i].tag);
		*to = old[i];
		r->used++;
	}
	free(old);
	return 0;
}

/* The fewest slots (a power of two, 64 at least) that hold n entries at
 * most three quarters full: between 4/3 and 8/3 slots an entry. */
static size_t
rg_replay_cap_for(size_t n)
{
	size_t cap = 64;

	while (cap / 4 * 3 < n)
		cap *= 2;
	return cap;
}

int
rg_replay_reserve(struct rg_replay *r, size_t n)
{
	size_t need = r->used + n;

	if (need < r->used)
		return -1;
	if (r->cap > 0 && need <= r->cap / 4 * 3)
		return 0;
	/* At least twice the slots: growth is geometric. */
	return rg_replay_rebuild(r, rg_replay_cap_for(need), RG_REPLAY_EMPTY);
}

void
rg_replay_put(struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN],
              int64_t expires_ms)
{
	struct rg_replay_slot *s;

	if (expires_ms == RG_REPLAY_EMPTY)
		expires_ms++; /* the free slot's mark is no time */
	/* rg_replay_reserve made room: a slot is always free. */
	s = rg_replay_probe(r, tag);
	if (s->expires_ms == RG_REPLAY_EMPTY) {
		memcpy(s->tag, tag, RG_REPLAY_TAGLEN);
		s->expires_ms = expires_ms;
		r->used++;
	} else if (expires_ms > s->expires_ms) {
		s->expires_ms = expires_ms;
	}
}

/*
 * Empty slot i without breaking a probe sequence (linear probing's
 * deletion by backward shift): each claim after it in the run moves back
 * into the hole unless its home lies cyclically in (hole, its slot].
 * Claims only ever move back to slots from i on, never before it.
 */
static void
rg_replay_delete(struct rg_replay *r, size_t i)
{
	size_t mask = r->cap - 1, j = i;

	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (r->slot[j].expires_ms == RG_REPLAY_EMPTY)
			break;
		k = rg_replay_home(r, r->slot[j].tag);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		r->slot[i] = r->slot[j];
		i = j;
	}
	r->slot[i].expires_ms = RG_REPLAY_EMPTY;
	r->used--;
}

int
rg_replay_sweep(struct rg_replay *r, int64_t now_ms, size_t nslots)
{
	while (nslots > 0 && r->sweep_at < r->cap) {
		const struct rg_replay_slot *s = &r->slot[r->sweep_at];

		nslots--;
		/* After a deletion another claim may have moved here: the
		 * same slot is looked at again. */
		if (s->expires_ms != RG_REPLAY_EMPTY && s->expires_ms < now_ms)
			rg_replay_delete(r, r->sweep_at);
		else
			r->sweep_at++;
	}
	if (r->sweep_at < r->cap)
		return 0;
	r->sweep_at = 0;
	/* A table mostly empty after a burst gives its memory back; the
	 * rebuild rehashes only the few claims left. */
	if (r->cap > 64 && r->used < r->cap / 8)
		(void)rg_replay_rebuild(r, rg_replay_cap_for(r->used), now_ms);
	return 1;
}

size_t
rg_replay_slots(const struct rg_replay *r)
{
	return r->cap;
}

size_t
rg_replay_count(const struct rg_replay *r)
{
	return r->used;
}
