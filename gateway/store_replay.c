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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#include "gateway/store_int.h"

/* A slot's expiry marks what it holds: 0 nothing (mapped memory starts
 * so), RG_REPLAY_MOVED a claim that moved on to the new table (a probe
 * goes past it, a lookup never matches it), anything else a claim. */
#define RG_REPLAY_EMPTY 0
#define RG_REPLAY_MOVED INT64_MIN
#define RG_REPLAY_MIN_CAP 64

struct rg_replay_slot {
	uint8_t tag[RG_REPLAY_TAGLEN];
	int64_t expires_ms;
};

/*
 * A table that grows (or shrinks) does not move its claims in one go: at
 * a million claims that took the keeper's thread 20 to 40 ms, every
 * request waiting behind it. As Redis's dict rehashes, the claims move a
 * few slots at a time, on each reserve and sweep, from `old` into `slot`:
 * lookups ask both until `old` is drained, new claims go to `slot` only.
 * Each step moves enough slots to drain `old` before `slot` is full.
 */
struct rg_replay {
	struct rg_replay_slot *slot;
	size_t cap;                     /* a power of two, or 0 */
	size_t used;                    /* claims in both tables, expired too */
	size_t sweep_at;                /* where the sweep goes on */
	struct rg_replay_slot *old;     /* the table being drained, or NULL */
	size_t oldcap;
	size_t move_at;                 /* old's slots before this are moved */
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

/*
 * A table of cap empty slots. Mapped, not allocated: the kernel hands out
 * zeroed pages as they are first touched, so a table of millions of slots
 * costs no pass to clear it (an allocator's calloc may write every byte).
 */
static struct rg_replay_slot *
rg_replay_table(size_t cap)
{
	void *p = mmap(NULL, cap * sizeof(struct rg_replay_slot),
	               PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p != MAP_FAILED ? p : NULL;
}

static void
rg_replay_table_free(struct rg_replay_slot *t, size_t cap)
{
	if (t != NULL)
		(void)munmap(t, cap * sizeof(*t));
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
	rg_replay_table_free(r->slot, r->cap);
	rg_replay_table_free(r->old, r->oldcap);
	sodium_memzero(r->key, sizeof(r->key));
	free(r);
}

/* Where tag's probe starts in a table of cap slots. */
static size_t
rg_replay_home(const struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN],
               size_t cap)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, tag, RG_REPLAY_TAGLEN, r->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (cap - 1);
}

/* The slot of t (cap slots, fewer claims) holding tag, or the empty one
 * where it would go. */
static struct rg_replay_slot *
rg_replay_probe(const struct rg_replay *r, struct rg_replay_slot *t,
                size_t cap, const uint8_t tag[RG_REPLAY_TAGLEN])
{
	size_t i = rg_replay_home(r, tag, cap);

	while (t[i].expires_ms != RG_REPLAY_EMPTY &&
	       (t[i].expires_ms == RG_REPLAY_MOVED ||
	        memcmp(t[i].tag, tag, RG_REPLAY_TAGLEN) != 0))
		i = (i + 1) & (cap - 1);
	return &t[i];
}

/* tag's claim, in either table, or NULL. */
static struct rg_replay_slot *
rg_replay_lookup(const struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN])
{
	struct rg_replay_slot *s;

	if (r->cap == 0)
		return NULL;
	s = rg_replay_probe(r, r->slot, r->cap, tag);
	if (s->expires_ms != RG_REPLAY_EMPTY)
		return s;
	if (r->old == NULL)
		return NULL;
	s = rg_replay_probe(r, r->old, r->oldcap, tag);
	return s->expires_ms != RG_REPLAY_EMPTY ? s : NULL;
}

int
rg_replay_find(const struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN],
               int64_t *expires_ms)
{
	const struct rg_replay_slot *s = rg_replay_lookup(r, tag);

	if (s == NULL)
		return 0;
	*expires_ms = s->expires_ms;
	return 1;
}

/*
 * Move the claims of up to nslots of the old table's slots into the new
 * one, dropping those expired at now_ms (INT64_MIN: none); the old table
 * goes once every slot is done. How many slots were looked at.
 */
static size_t
rg_replay_move(struct rg_replay *r, size_t nslots, int64_t now_ms)
{
	size_t done = 0;

	while (r->old != NULL && done < nslots && r->move_at < r->oldcap) {
		struct rg_replay_slot *from = &r->old[r->move_at++], *to;

		done++;
		if (from->expires_ms == RG_REPLAY_EMPTY)
			continue;
		if (from->expires_ms < now_ms) {
			r->used--;
		} else {
			/* Not in the new table: a put finds it here first. */
			to = rg_replay_probe(r, r->slot, r->cap, from->tag);
			*to = *from;
		}
		from->expires_ms = RG_REPLAY_MOVED;
	}
	if (r->old != NULL && r->move_at == r->oldcap) {
		rg_replay_table_free(r->old, r->oldcap);
		r->old = NULL;
		r->oldcap = 0;
		r->move_at = 0;
	}
	return done;
}

/*
 * Old slots to move for n claims put: four a claim for each slot of the
 * new table an old one outnumbers it by (a growth: the new table has
 * room for three quarters of the old one's slots more, which takes a
 * quarter to move), and a few more so that a long run of small steps
 * ends too.
 */
static size_t
rg_replay_step(const struct rg_replay *r, size_t n)
{
	size_t ratio = r->oldcap > r->cap ? r->oldcap / r->cap : 1;

	if (n > SIZE_MAX / 4 / ratio - 64)
		return SIZE_MAX;
	return 4 * ratio * n + 64;
}

/* Start moving every claim into a new table of cap slots (which holds
 * them all at most three quarters full). 0, or -1 (r unchanged). */
static int
rg_replay_start(struct rg_replay *r, size_t cap)
{
	struct rg_replay_slot *t = rg_replay_table(cap);

	if (t == NULL)
		return -1;
	/* A move under way finishes first: one old table at a time. */
	(void)rg_replay_move(r, SIZE_MAX, INT64_MIN);
	r->old = r->slot;
	r->oldcap = r->cap;
	r->move_at = 0;
	r->slot = t;
	r->cap = cap;
	r->sweep_at = 0;                /* the slots moved: a new pass */
	return 0;
}

/* The fewest slots (a power of two, 64 at least) that hold n claims at
 * most three quarters full: between 4/3 and 8/3 slots a claim. */
static size_t
rg_replay_cap_for(size_t n)
{
	size_t cap = RG_REPLAY_MIN_CAP;

	while (cap / 4 * 3 < n)
		cap *= 2;
	return cap;
}

int
rg_replay_reserve(struct rg_replay *r, size_t n)
{
	size_t need = r->used + n;

	if (need < r->used || need > SIZE_MAX / 2 / sizeof(struct rg_replay_slot))
		return -1;
	(void)rg_replay_move(r, rg_replay_step(r, n), INT64_MIN);
	if (r->cap > 0 && need <= r->cap / 4 * 3)
		return 0;
	/* At least twice the slots: growth is geometric. */
	if (rg_replay_start(r, rg_replay_cap_for(need)) != 0)
		return -1;
	(void)rg_replay_move(r, rg_replay_step(r, n), INT64_MIN);
	return 0;
}

void
rg_replay_put(struct rg_replay *r, const uint8_t tag[RG_REPLAY_TAGLEN],
              int64_t expires_ms)
{
	struct rg_replay_slot *s;

	/* The marks are no times; a claim that old refuses nothing. */
	if (expires_ms <= RG_REPLAY_EMPTY)
		expires_ms = RG_REPLAY_EMPTY + 1;
	/* rg_replay_reserve made room: a slot is always free. */
	if ((s = rg_replay_lookup(r, tag)) == NULL) {
		s = rg_replay_probe(r, r->slot, r->cap, tag);
		memcpy(s->tag, tag, RG_REPLAY_TAGLEN);
		s->expires_ms = expires_ms;
		r->used++;
	} else if (expires_ms > s->expires_ms) {
		s->expires_ms = expires_ms;
	}
}

/*
 * Empty slot i of the new table without breaking a probe sequence (linear
 * probing's deletion by backward shift): each claim after it in the run
 * moves back into the hole unless its home lies cyclically in (hole, its
 * slot]. Claims only ever move back to slots from i on, never before it.
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
		k = rg_replay_home(r, r->slot[j].tag, r->cap);
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
	/* A move under way is done first, dropping what expired. */
	nslots -= rg_replay_move(r, nslots, now_ms);
	if (r->old != NULL)
		return 0;
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
	/*
	 * A table mostly empty after a burst gives its memory back, to a
	 * quarter of its slots a pass at most (room for as many claims again
	 * as it holds), moving them as a growth does, a part a call: from a
	 * much larger table each step would have to look at many slots.
	 */
	if (r->cap > RG_REPLAY_MIN_CAP && r->used < r->cap / 8) {
		size_t cap = rg_replay_cap_for(2 * r->used);

		if (cap < r->cap / 4)
			cap = r->cap / 4;
		if (rg_replay_start(r, cap) == 0)
			(void)rg_replay_move(r, nslots, now_ms);
	}
	return 1;
}

size_t
rg_replay_slots(const struct rg_replay *r)
{
	return r->cap + r->oldcap;
}

size_t
rg_replay_count(const struct rg_replay *r)
{
	return r->used;
}
