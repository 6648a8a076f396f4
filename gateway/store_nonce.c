/*
 * store_nonce.c -- the nonce claims of the open batch, held in memory until
 * store.c inserts them just before COMMIT. Owns only the set and its
 * savepoint marks; it runs no SQL and must never forget a claim that a
 * savepoint still holds.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gateway/store_int.h"

/* A batch never holds more; past it store.c inserts claims directly. */
#define RG_NONCE_SET_MAX 65536
/* Savepoints nest this deep at most (the keeper nests two). */
#define RG_NONCE_SET_DEPTH 32
#define RG_NONCE_NONE UINT32_MAX

struct rg_nonce_claim {
	size_t text;            /* keyid, '\0', nonce, '\0' in ns->text */
	uint8_t tag[RG_REPLAY_TAGLEN]; /* the claim's replay tag */
	int64_t expires_ms;
	uint32_t bucket;
	uint32_t next;          /* the bucket's older claim, or NONE */
};

struct rg_nonce_set {
	struct rg_nonce_claim *c;
	uint32_t n, cap;
	uint32_t *bucket;       /* newest claim of each bucket, or NONE */
	uint32_t nbucket;       /* a power of two, at least 2 * cap */
	char *text;
	size_t textlen, textcap;
	uint32_t mark[RG_NONCE_SET_DEPTH];
	int depth;
	/* Keyed so that clients cannot choose nonces that share a bucket. */
	uint8_t key[crypto_shorthash_KEYBYTES];
};

struct rg_nonce_set *
rg_nonce_set_new(void)
{
	struct rg_nonce_set *ns = calloc(1, sizeof(*ns));

	if (ns == NULL)
		return NULL;
	randombytes_buf(ns->key, sizeof(ns->key));
	return ns;
}

void
rg_nonce_set_free(struct rg_nonce_set *ns)
{
	if (ns == NULL)
		return;
	free(ns->c);
	free(ns->bucket);
	free(ns->text);
	free(ns);
}

static uint32_t
rg_nonce_set_hash(const struct rg_nonce_set *ns, const char *keyid,
                  size_t klen, const char *nonce, size_t nlen)
{
	uint8_t h[crypto_shorthash_BYTES], in[512];
	uint32_t v;

	/* keyid '\0' nonce: no two pairs give the same input. Longer pairs
	 * (never seen: auth.c bounds the nonce) hash their prefix. */
	if (klen + 1 + nlen > sizeof(in)) {
		if (klen > sizeof(in) - 1)
			klen = sizeof(in) - 1;
		nlen = sizeof(in) - 1 - klen;
	}
	memcpy(in, keyid, klen);
	in[klen] = '\0';
	memcpy(in + klen + 1, nonce, nlen);
	crypto_shorthash(h, in, klen + 1 + nlen, ns->key);
	memcpy(&v, h, sizeof(v));
	return v;
}

int
rg_nonce_set_has(const struct rg_nonce_set *ns, const char *keyid,
                 const char *nonce)
{
	size_t klen = strlen(keyid), nlen = strlen(nonce);
	uint32_t i;

	if (ns->n == 0)
		return 0;
	i = ns->bucket[rg_nonce_set_hash(ns, keyid, klen, nonce, nlen) &
	               (ns->nbucket - 1)];
	for (; i != RG_NONCE_NONE; i = ns->c[i].next) {
		const char *t = ns->text + ns->c[i].text;

		if (strcmp(t, keyid) == 0 && strcmp(t + klen + 1, nonce) == 0)
			return 1;
	}
	return 0;
}

/* Rehash every claim into a table of nb buckets. */
static int
rg_nonce_set_rehash(struct rg_nonce_set *ns, uint32_t nb)
{
	uint32_t *b = malloc((size_t)nb * sizeof(*b));

	if (b == NULL)
		return -1;
	for (uint32_t i = 0; i < nb; i++)
		b[i] = RG_NONCE_NONE;
	/* In order, so that each chain stays newest first (rewind relies
	 * on it). */
	for (uint32_t i = 0; i < ns->n; i++) {
		const char *t = ns->text + ns->c[i].text;
		size_t klen = strlen(t);
		uint32_t h = rg_nonce_set_hash(ns, t, klen, t + klen + 1,
		                               strlen(t + klen + 1)) & (nb - 1);

		ns->c[i].bucket = h;
		ns->c[i].next = b[h];
		b[h] = i;
	}
	free(ns->bucket);
	ns->bucket = b;
	ns->nbucket = nb;
	return 0;
}

int
rg_nonce_set_add(struct rg_nonce_set *ns, const char *keyid,
                 const char *nonce, const uint8_t tag[RG_REPLAY_TAGLEN],
                 int64_t expires_ms)
{
	size_t klen = strlen(keyid), nlen = strlen(nonce);
	size_t need = klen + 1 + nlen + 1;
	uint32_t h;

	if (ns->n >= RG_NONCE_SET_MAX || need > 4096)
		return -1;
	if (ns->n == ns->cap) {
		uint32_t cap = ns->cap ? ns->cap * 2 : 64;
		struct rg_nonce_claim *c = realloc(ns->c, cap * sizeof(*c));

		if (c == NULL)
			return -1;
		ns->c = c;
		/* cap grows only with its buckets, or the next add would
		 * find none. */
		if (rg_nonce_set_rehash(ns, cap * 2) != 0)
			return -1;
		ns->cap = cap;
	}
	if (ns->textcap - ns->textlen < need) {
		size_t cap = ns->textcap ? ns->textcap : 4096;
		char *t;

		while (cap - ns->textlen < need)
			cap *= 2;
		if ((t = realloc(ns->text, cap)) == NULL)
			return -1;
		ns->text = t;
		ns->textcap = cap;
	}
	memcpy(ns->text + ns->textlen, keyid, klen + 1);
	memcpy(ns->text + ns->textlen + klen + 1, nonce, nlen + 1);
	h = rg_nonce_set_hash(ns, keyid, klen, nonce, nlen) & (ns->nbucket - 1);
	ns->c[ns->n] = (struct rg_nonce_claim){ns->textlen, {0}, expires_ms, h,
	                                       ns->bucket[h]};
	memcpy(ns->c[ns->n].tag, tag, RG_REPLAY_TAGLEN);
	ns->bucket[h] = ns->n++;
	ns->textlen += need;
	return 0;
}

size_t
rg_nonce_set_count(const struct rg_nonce_set *ns)
{
	return ns->n;
}

void
rg_nonce_set_get(const struct rg_nonce_set *ns, size_t i,
                 const uint8_t **tag, int64_t *expires_ms)
{
	*tag = ns->c[i].tag;
	*expires_ms = ns->c[i].expires_ms;
}

/* Forget the newest claims until n are left: each is the head of its
 * bucket's chain, being the newest there. */
static void
rg_nonce_set_truncate(struct rg_nonce_set *ns, uint32_t n)
{
	while (ns->n > n) {
		struct rg_nonce_claim *c = &ns->c[--ns->n];

		ns->bucket[c->bucket] = c->next;
		ns->textlen = c->text;
	}
}

int
rg_nonce_set_mark(struct rg_nonce_set *ns)
{
	if (ns->depth >= RG_NONCE_SET_DEPTH)
		return -1;
	ns->mark[ns->depth++] = ns->n;
	return 0;
}

void
rg_nonce_set_rewind(struct rg_nonce_set *ns)
{
	if (ns->depth > 0 && ns->mark[ns->depth - 1] < ns->n)
		rg_nonce_set_truncate(ns, ns->mark[ns->depth - 1]);
}

void
rg_nonce_set_pop(struct rg_nonce_set *ns)
{
	if (ns->depth > 0)
		ns->depth--;
}

void
rg_nonce_set_clear(struct rg_nonce_set *ns, int savepoints_too)
{
	rg_nonce_set_truncate(ns, 0);
	/* Marks of savepoints still open now point at nothing to drop. */
	for (int i = 0; i < ns->depth; i++)
		ns->mark[i] = 0;
	if (savepoints_too)
		ns->depth = 0;
}
