/*
 * verify.c -- offline verification of an exported audit log.
 *
 * This file owns the verifier's judgement: it trusts the export for
 * nothing but bytes, and only the public keys it is given for signatures.
 * It keeps O(log n) state however long the log (the RFC 9162 frontier, the
 * checkpoints and receipts it was handed) and never holds two entries at
 * once.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "crypto/merkle.h"
#include "crypto/note.h"
#include "crypto/tlog.h"
#include "crypto/verify.h"

#define RG_VERIFY_MAXKEYS 256      /* published signing keys: rotations */
#define RG_VERIFY_MAXCP 1000000   /* checkpoints one verification takes */
#define RG_VERIFY_MAXREC 100000   /* receipts one verification takes */
#define RG_VERIFY_MAXENTRY (1 << 20)
/* A receipt's checkpoint note: three lines of text and a few signature
 * lines are some hundreds of bytes; a longer one is not the gateway's. */
#define RG_VERIFY_MAXNOTE 4096
/* No key: a checkpoint receipt's key signed its checkpoint, and counts
 * with it (at the checkpoint's last entry), not at the receipt's entry. */
#define RG_VERIFY_NOKEY SIZE_MAX

struct rg_verify_key {
	char name[RG_NOTE_MAXNAME + 1];
	uint8_t pub[RG_SIG_PUBLEN];
	uint32_t id;
	/* A key counts only from the entry announcing it (a rotation); a key
	 * no entry announces counts from the start. first_use: the smallest
	 * entry index it signed for before any announcement was seen. */
	int announced;
	uint64_t first_use;
};

/* A checkpoint given as such, or the one a checkpoint receipt carries
 * (what then names the receipt and its entry). */
struct rg_verify_cp {
	uint64_t size;
	uint8_t root[RG_HASHLEN];
	size_t key;          /* the key whose signature line verified */
	char what[128];
};

struct rg_verify_rec {
	uint64_t index;
	uint8_t leaf[RG_HASHLEN];
	size_t key;          /* the key that signed it, or RG_VERIFY_NOKEY */
	char what[128];
};

struct rg_verify {
	struct rg_verify_key *keys;  /* RG_VERIFY_MAXKEYS */
	size_t nkeys;
	struct rg_verify_cp *cps;    /* with the receipts' checkpoints */
	size_t ncps, capcps, nextcp;
	size_t ngiven;               /* checkpoints given as such */
	uint64_t maxgiven;           /* the largest of their sizes */
	struct rg_verify_rec *recs;
	size_t nrecs, caprecs, nextrec;
	int sorted;
	uint64_t last_good_cp;       /* largest checkpoint size matched */
	struct rg_tlog_frontier f;
	uint8_t *buf;                /* 0x00, then one decoded entry */
	char err[512];
};

static int
rg_verify_fail(rg_verify *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
rg_verify_fail(rg_verify *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->err, sizeof(v->err), fmt, ap);
	va_end(ap);
	return -1;
}

rg_verify *
rg_verify_new(void)
{
	rg_verify *v;

	if (sodium_init() < 0 || (v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	if ((v->buf = malloc(RG_VERIFY_MAXENTRY + 1)) == NULL ||
	    (v->keys = calloc(RG_VERIFY_MAXKEYS, sizeof(*v->keys))) == NULL) {
		free(v->buf);
		free(v);
		return NULL;
	}
	return v;
}

void
rg_verify_free(rg_verify *v)
{
	if (v == NULL)
		return;
	free(v->cps);
	free(v->recs);
	free(v->buf);
	free(v->keys);
	free(v);
}

const char *
rg_verify_error(const rg_verify *v)
{
	return v->err;
}

uint64_t
rg_verify_count(const rg_verify *v)
{
	return v->f.size;
}

int
rg_verify_add_key(rg_verify *v, const char *name,
                  const uint8_t pub[RG_SIG_PUBLEN])
{
	struct rg_verify_key *k;

	if (v->nkeys == RG_VERIFY_MAXKEYS || strlen(name) > RG_NOTE_MAXNAME)
		return rg_verify_fail(v, "too many keys or name too long");
	k = &v->keys[v->nkeys++];
	snprintf(k->name, sizeof(k->name), "%s", name);
	memcpy(k->pub, pub, RG_SIG_PUBLEN);
	k->id = rg_sig_note_keyid(name, pub);
	k->announced = 0;
	k->first_use = UINT64_MAX;
	return 0;
}

int
rg_verify_add_keys_json(rg_verify *v, const char *json, size_t len)
{
	json_t *doc = json_loadb(json, len, 0, NULL), *keys, *k;
	char name[RG_NOTE_MAXNAME + 1];
	uint8_t pub[RG_SIG_PUBLEN];
	size_t i;
	int rc = -1;

	keys = json_object_get(doc, "keys");
	if (doc == NULL || !json_is_array(keys) || json_array_size(keys) == 0) {
		rg_verify_fail(v, "keys.json: expected {\"keys\": [...]}");
		goto out;
	}
	json_array_foreach(keys, i, k) {
		const char *vkey = json_string_value(json_object_get(k, "vkey"));

		if (vkey == NULL ||
		    rg_note_vkey_parse(vkey, name, sizeof(name), pub) != 0) {
			rg_verify_fail(v, "keys.json: key %zu has no valid vkey", i);
			goto out;
		}
		if (rg_verify_add_key(v, name, pub) != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* Whether key k has the key id kid (8 hex digits, as receipts give it). */
static int
rg_verify_key_is(const rg_verify *v, size_t k, const char *kid)
{
	char hex[9];

	snprintf(hex, sizeof(hex), "%08x", v->keys[k].id);
	return strcmp(hex, kid) == 0;
}

/*
 * The first published key (of key id kid, unless NULL) with a valid
 * signature line on note, whose name the note's origin must then be; its
 * text part's length in *textlen. RG_VERIFY_NOKEY when there is none.
 */
static size_t
rg_verify_note_key(const rg_verify *v, const char *note, size_t len,
                   const char *kid, size_t *textlen)
{
	for (size_t i = 0; i < v->nkeys; i++) {
		if (kid != NULL && !rg_verify_key_is(v, i, kid))
			continue;
		if (rg_note_verify(note, len, v->keys[i].name, v->keys[i].pub,
		                   textlen) == 0)
			return i;
	}
	return RG_VERIFY_NOKEY;
}

static int
rg_verify_push_cp(rg_verify *v, const struct rg_verify_cp *cp)
{
	if (v->ncps == v->capcps) {
		size_t cap = v->capcps ? v->capcps * 2 : 64;
		struct rg_verify_cp *p;

		if (cap > RG_VERIFY_MAXCP ||
		    (p = realloc(v->cps, cap * sizeof(*p))) == NULL)
			return rg_verify_fail(v, "too many checkpoints");
		v->cps = p;
		v->capcps = cap;
	}
	v->cps[v->ncps++] = *cp;
	return 0;
}

int
rg_verify_add_checkpoint(rg_verify *v, const char *note, size_t len,
                         const char *what)
{
	struct rg_verify_cp cp;
	size_t textlen;

	if (v->sorted)
		return rg_verify_fail(v, "%s: checkpoints go before entries", what);
	if ((cp.key = rg_verify_note_key(v, note, len, NULL, &textlen)) ==
	    RG_VERIFY_NOKEY)
		return rg_verify_fail(v, "%s: the signature does not verify under "
		                      "any published gateway key", what);
	if (rg_note_checkpoint_parse(note, textlen, v->keys[cp.key].name,
	                             &cp.size, cp.root) != 0)
		return rg_verify_fail(v, "%s: signed, but not a checkpoint of %s",
		                      what, v->keys[cp.key].name);
	snprintf(cp.what, sizeof(cp.what), "%s", what);
	if (rg_verify_push_cp(v, &cp) != 0)
		return -1;
	v->ngiven++;
	if (cp.size > v->maxgiven)
		v->maxgiven = cp.size;
	return 0;
}

/*
 * Strict standard base64 (padded, no white space). A table decoder: what
 * it reads is public, so unlike libsodium's it need not run in constant
 * time, and it is several times faster on long logs.
 */
static int
rg_verify_unb64(const char *in, size_t inlen, uint8_t *out, size_t outmax,
                size_t *outlen)
{
	static int8_t tab[256];
	static int ready;
	const unsigned char *p = (const unsigned char *)in;
	size_t n = 0, pad = 0;

	if (!ready) {
		static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/";
		memset(tab, -1, sizeof(tab));
		for (int i = 0; i < 64; i++)
			tab[(unsigned char)alpha[i]] = (int8_t)i;
		ready = 1;
	}
	if (inlen % 4 != 0)
		return -1;
	if (inlen > 0 && in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	if (inlen / 4 * 3 - pad > outmax)
		return -1;
	for (size_t i = 0; i < inlen; i += 4) {
		int a = tab[p[i]], b = tab[p[i + 1]], c, d;
		uint32_t w;

		if (i + 4 == inlen && pad > 0) {
			c = pad == 2 ? 0 : tab[p[i + 2]];
			d = 0;
			if (a < 0 || b < 0 || c < 0)
				return -1;
			w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
			/* Non-canonical trailing bits are refused. */
			if ((pad == 2 && (w & 0xffff)) || (pad == 1 && (w & 0xff)))
				return -1;
			out[n++] = (uint8_t)(w >> 16);
			if (pad == 1)
				out[n++] = (uint8_t)(w >> 8);
			break;
		}
		c = tab[p[i + 2]];
		d = tab[p[i + 3]];
		if ((a | b | c | d) < 0)
			return -1;
		w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
		    (uint32_t)d;
		out[n++] = (uint8_t)(w >> 16);
		out[n++] = (uint8_t)(w >> 8);
		out[n++] = (uint8_t)w;
	}
	*outlen = n;
	return 0;
}

/* The receipt's cosignatures (absent: none) over v->buf[0, elen). */
static int
rg_verify_cosignatures(rg_verify *v, const json_t *list, size_t elen,
                       const char *what, uint64_t index)
{
	const json_t *c;
	size_t i;

	if (list == NULL)
		return 0;
	if (!json_is_array(list) || json_array_size(list) > RG_VERIFY_MAXKEYS)
		return rg_verify_fail(v, "%s (entry %llu): bad cosignatures", what,
		                      (unsigned long long)index);
	json_array_foreach(list, i, c) {
		const char *kid = json_string_value(json_object_get(c, "keyid"));
		const char *s64 = json_string_value(json_object_get(c, "signature"));
		uint8_t sig[RG_SIG_LEN + 8];
		size_t slen;
		int found = 0;

		if (kid == NULL || s64 == NULL ||
		    rg_verify_unb64(s64, strlen(s64), sig, sizeof(sig), &slen) != 0 ||
		    slen != RG_SIG_LEN)
			return rg_verify_fail(v, "%s (entry %llu): bad cosignature",
			                      what, (unsigned long long)index);
		for (size_t k = 0; k < v->nkeys && !found; k++)
			found = rg_verify_key_is(v, k, kid) &&
			        rg_sig_verify(v->keys[k].pub, v->buf, elen, sig) == 0;
		if (!found)
			return rg_verify_fail(v, "%s (entry %llu): the cosignature "
			                      "does not verify under the published "
			                      "key %s", what,
			                      (unsigned long long)index, kid);
	}
	return 0;
}

/*
 * Which form of receipt r is: 1, an Ed25519 signature over the entry; 2,
 * a signed checkpoint and the entry's inclusion proof in its tree (those
 * never carry cosignatures); 0, neither, or both at once.
 */
static int
rg_verify_receipt_form(const json_t *r)
{
	const json_t *sig = json_object_get(r, "signature");
	const json_t *note = json_object_get(r, "checkpoint");
	const json_t *idx = json_object_get(r, "index");

	if (!json_is_string(json_object_get(r, "entry")) ||
	    !json_is_string(json_object_get(r, "leaf_hash")) ||
	    !json_is_string(json_object_get(r, "keyid")) ||
	    !json_is_integer(idx) || json_integer_value(idx) < 0)
		return 0;
	if (json_is_string(sig) && note == NULL)
		return 1;
	if (json_is_string(note) && sig == NULL &&
	    json_is_array(json_object_get(r, "inclusion")) &&
	    json_object_get(r, "cosignatures") == NULL)
		return 2;
	return 0;
}

/* What both forms hold: the entry (decoded into v->buf, *elen bytes), its
 * index, and a leaf_hash that must be the entry's leaf hash. 0 or -1. */
static int
rg_verify_receipt_entry(rg_verify *v, const json_t *r, const char *what,
                        struct rg_verify_rec *rec, size_t *elen)
{
	const char *e64 = json_string_value(json_object_get(r, "entry"));
	const char *l64 = json_string_value(json_object_get(r, "leaf_hash"));
	uint8_t leaf[RG_HASHLEN];
	size_t llen;

	rec->index = (uint64_t)json_integer_value(json_object_get(r, "index"));
	snprintf(rec->what, sizeof(rec->what), "%s", what);
	if (rg_verify_unb64(e64, strlen(e64), v->buf, RG_VERIFY_MAXENTRY,
	                    elen) != 0 ||
	    rg_verify_unb64(l64, strlen(l64), leaf, sizeof(leaf), &llen) != 0 ||
	    llen != RG_HASHLEN)
		return rg_verify_fail(v, "%s (entry %llu): bad base64", what,
		                      (unsigned long long)rec->index);
	rg_merkle_leaf(v->buf, *elen, rec->leaf);
	if (sodium_memcmp(rec->leaf, leaf, RG_HASHLEN) != 0)
		return rg_verify_fail(v, "%s (entry %llu): leaf_hash is not the "
		                      "hash of the entry", what,
		                      (unsigned long long)rec->index);
	return 0;
}

/* A receipt's Ed25519 signature over the entry (v->buf, elen bytes), by
 * the published key of id keyid, and its cosignatures. 0 or -1. */
static int
rg_verify_receipt_sig(rg_verify *v, const json_t *r, size_t elen,
                      struct rg_verify_rec *rec)
{
	const char *s64 = json_string_value(json_object_get(r, "signature"));
	const char *kid = json_string_value(json_object_get(r, "keyid"));
	uint8_t sig[RG_SIG_LEN];
	size_t slen;

	if (rg_verify_unb64(s64, strlen(s64), sig, sizeof(sig), &slen) != 0 ||
	    slen != RG_SIG_LEN)
		return rg_verify_fail(v, "%s (entry %llu): bad base64", rec->what,
		                      (unsigned long long)rec->index);
	for (rec->key = 0; rec->key < v->nkeys; rec->key++)
		if (rg_verify_key_is(v, rec->key, kid) &&
		    rg_sig_verify(v->keys[rec->key].pub, v->buf, elen, sig) == 0)
			break;
	if (rec->key == v->nkeys)
		return rg_verify_fail(v, "%s (entry %llu): the signature does not "
		                      "verify under the published key %s", rec->what,
		                      (unsigned long long)rec->index, kid);
	/* A signing key's announcement carries the new key's signature over
	 * the same bytes: each must verify under a published key. */
	return rg_verify_cosignatures(v, json_object_get(r, "cosignatures"), elen,
	                              rec->what, rec->index);
}

/* A receipt's inclusion proof: at most RG_TLOG_MAXPROOF hashes. 0 or -1. */
static int
rg_verify_receipt_proof(rg_verify *v, const json_t *list,
                        const struct rg_verify_rec *rec,
                        uint8_t (*proof)[RG_HASHLEN], size_t *plen)
{
	const json_t *h;
	size_t i, n;

	if ((*plen = json_array_size(list)) > RG_TLOG_MAXPROOF)
		return rg_verify_fail(v, "%s (entry %llu): the inclusion proof has "
		                      "more than %d hashes", rec->what,
		                      (unsigned long long)rec->index,
		                      RG_TLOG_MAXPROOF);
	json_array_foreach(list, i, h) {
		const char *h64 = json_string_value(h);

		if (h64 == NULL || rg_verify_unb64(h64, strlen(h64), proof[i],
		                                   RG_HASHLEN, &n) != 0 ||
		    n != RG_HASHLEN)
			return rg_verify_fail(v, "%s (entry %llu): hash %zu of the "
			                      "inclusion proof is not base64 of 32 "
			                      "bytes", rec->what,
			                      (unsigned long long)rec->index, i);
	}
	return 0;
}

/*
 * A receipt's checkpoint, signed by the published key of id keyid, and
 * the entry's inclusion in its tree. The checkpoint joins the others, so
 * that the log's root at its size is checked as theirs is. 0 or -1.
 */
static int
rg_verify_receipt_cp(rg_verify *v, const json_t *r, struct rg_verify_rec *rec)
{
	const char *note = json_string_value(json_object_get(r, "checkpoint"));
	const char *kid = json_string_value(json_object_get(r, "keyid"));
	unsigned long long index = (unsigned long long)rec->index;
	uint8_t proof[RG_TLOG_MAXPROOF][RG_HASHLEN];
	size_t len = strlen(note), textlen, plen;
	struct rg_verify_cp cp;

	if (len > RG_VERIFY_MAXNOTE)
		return rg_verify_fail(v, "%s (entry %llu): the checkpoint is longer "
		                      "than %d bytes", rec->what, index,
		                      RG_VERIFY_MAXNOTE);
	if ((cp.key = rg_verify_note_key(v, note, len, kid, &textlen)) ==
	    RG_VERIFY_NOKEY)
		return rg_verify_fail(v, "%s (entry %llu): the checkpoint's signature "
		                      "does not verify under the published key %s",
		                      rec->what, index, kid);
	if (rg_note_checkpoint_parse(note, textlen, v->keys[cp.key].name,
	                             &cp.size, cp.root) != 0)
		return rg_verify_fail(v, "%s (entry %llu): the checkpoint is signed, "
		                      "but not a checkpoint of %s", rec->what, index,
		                      v->keys[cp.key].name);
	if (rec->index >= cp.size)
		return rg_verify_fail(v, "%s (entry %llu): not in the checkpoint's "
		                      "tree of %llu entries", rec->what, index,
		                      (unsigned long long)cp.size);
	if (rg_verify_receipt_proof(v, json_object_get(r, "inclusion"), rec,
	                            proof, &plen) != 0)
		return -1;
	if (rg_merkle_verify_inclusion(rec->index, cp.size, rec->leaf,
	                               (const uint8_t (*)[RG_HASHLEN])proof, plen,
	                               cp.root) != 0)
		return rg_verify_fail(v, "%s (entry %llu): the inclusion proof does "
		                      "not verify against the checkpoint's root "
		                      "(tree of %llu entries)", rec->what, index,
		                      (unsigned long long)cp.size);
	/* Its messages name the receipt and its entry: a long name is cut
	 * short rather than the entry's number. */
	snprintf(cp.what, sizeof(cp.what), "%.96s (entry %llu)", rec->what,
	         index);
	rec->key = RG_VERIFY_NOKEY;
	return rg_verify_push_cp(v, &cp);
}

static int
rg_verify_push_rec(rg_verify *v, const struct rg_verify_rec *rec)
{
	if (v->nrecs == v->caprecs) {
		size_t cap = v->caprecs ? v->caprecs * 2 : 16;
		struct rg_verify_rec *p;

		if (cap > RG_VERIFY_MAXREC ||
		    (p = realloc(v->recs, cap * sizeof(*p))) == NULL)
			return rg_verify_fail(v, "too many receipts");
		v->recs = p;
		v->caprecs = cap;
	}
	v->recs[v->nrecs++] = *rec;
	return 0;
}

int
rg_verify_add_receipt(rg_verify *v, const char *json, size_t len,
                      const char *what)
{
	json_t *doc, *r;
	struct rg_verify_rec rec;
	size_t elen;
	int form, rc = -1;

	/* Receipts are sorted, and theirs join the checkpoints, when the
	 * first entry comes. */
	if (v->sorted)
		return rg_verify_fail(v, "%s: receipts go before entries", what);
	doc = json_loadb(json, len, 0, NULL);
	r = json_object_get(doc, "receipt") ? json_object_get(doc, "receipt") : doc;
	if ((form = rg_verify_receipt_form(r)) == 0)
		rg_verify_fail(v, "%s: not a receipt", what);
	else if (rg_verify_receipt_entry(v, r, what, &rec, &elen) == 0 &&
	         (form == 1 ? rg_verify_receipt_sig(v, r, elen, &rec)
	                    : rg_verify_receipt_cp(v, r, &rec)) == 0)
		rc = rg_verify_push_rec(v, &rec);
	json_decref(doc);
	return rc;
}

static int
rg_verify_cp_cmp(const void *a, const void *b)
{
	const struct rg_verify_cp *x = a, *y = b;

	return x->size < y->size ? -1 : x->size > y->size;
}

static int
rg_verify_rec_cmp(const void *a, const void *b)
{
	const struct rg_verify_rec *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* Compare every checkpoint of the current size with the frontier. */
/* Key k signed for entry index pos (a receipt's entry, or the last entry
 * of a checkpoint's tree), all entries up to pos having been read. */
static void
rg_verify_key_used(rg_verify *v, size_t k, uint64_t pos)
{
	struct rg_verify_key *key = &v->keys[k];

	if (!key->announced && pos < key->first_use)
		key->first_use = pos;
}

/*
 * An entry announcing a signing key (action admin.signing.rotate): from
 * here on that key counts; a signature by it for an earlier entry does
 * not. Cheap test first: only a top-level member can hold the unescaped
 * quotes of this pattern, and these entries are rare.
 */
static int
rg_verify_announcement(rg_verify *v, uint64_t pos, const uint8_t *entry,
                       size_t len)
{
	static const char pat[] = "\"action\":\"admin.signing.rotate\"";
	const char *kid, *act, *dec;
	json_t *e;
	int rc = 0;

	if (memmem(entry, len, pat, sizeof(pat) - 1) == NULL)
		return 0;
	if ((e = json_loadb((const char *)entry, len, 0, NULL)) == NULL)
		return 0;
	act = json_string_value(json_object_get(e, "action"));
	kid = json_string_value(json_object_get(json_object_get(json_object_get(
	    e, "admin"), "signing_key"), "keyid"));
	dec = json_string_value(json_object_get(e, "decision"));
	if (act != NULL && strcmp(act, "admin.signing.rotate") == 0 &&
	    dec != NULL && strcmp(dec, "allow") == 0 && kid != NULL) {
		for (size_t k = 0; k < v->nkeys; k++) {
			if (!rg_verify_key_is(v, k, kid) || v->keys[k].announced)
				continue;
			if (v->keys[k].first_use < pos) {
				rc = rg_verify_fail(v, "entry %llu: announces key %s, "
				    "which signed for entry %llu before it",
				    (unsigned long long)pos, kid,
				    (unsigned long long)v->keys[k].first_use);
				break;
			}
			v->keys[k].announced = 1;
		}
	}
	json_decref(e);
	return rc;
}

static int
rg_verify_checkpoints_here(rg_verify *v)
{
	uint8_t root[RG_HASHLEN];
	int have = 0;

	while (v->nextcp < v->ncps && v->cps[v->nextcp].size == v->f.size) {
		struct rg_verify_cp *cp = &v->cps[v->nextcp++];

		if (!have) {
			rg_tlog_frontier_root(&v->f, root);
			have = 1;
		}
		if (sodium_memcmp(root, cp->root, RG_HASHLEN) != 0)
			return rg_verify_fail(v, "%s: the root of the first %llu "
			    "entries is not the signed root: an entry between %llu "
			    "and %llu was altered, inserted or removed", cp->what,
			    (unsigned long long)cp->size,
			    (unsigned long long)v->last_good_cp,
			    (unsigned long long)(cp->size ? cp->size - 1 : 0));
		if (cp->size > 0)
			rg_verify_key_used(v, cp->key, cp->size - 1);
		v->last_good_cp = cp->size;
	}
	return 0;
}

static int
rg_verify_start(rg_verify *v)
{
	if (v->sorted)
		return 0;
	v->sorted = 1;
	if (v->ncps > 1)
		qsort(v->cps, v->ncps, sizeof(*v->cps), rg_verify_cp_cmp);
	if (v->nrecs > 1)
		qsort(v->recs, v->nrecs, sizeof(*v->recs), rg_verify_rec_cmp);
	/* Checkpoints of one size must agree before any entry is read: two
	 * signed roots for one size are a forked log. */
	for (size_t i = 1; i < v->ncps; i++)
		if (v->cps[i].size == v->cps[i - 1].size &&
		    memcmp(v->cps[i].root, v->cps[i - 1].root, RG_HASHLEN) != 0)
			return rg_verify_fail(v, "%s and %s: two signed roots for "
			    "size %llu (the log forked)", v->cps[i - 1].what,
			    v->cps[i].what, (unsigned long long)v->cps[i].size);
	return rg_verify_checkpoints_here(v);
}

/* The top-level "index" member of a canonical entry: keys are sorted and
 * strings escape '"', so `"index":` after '{' or ',' is the key itself. */
static int
rg_verify_inner_index(const uint8_t *e, size_t len, uint64_t *out)
{
	static const char key[] = "\"index\":";
	const size_t klen = sizeof(key) - 1;
	uint64_t n = 0;
	size_t i;

	for (i = 1; i + klen < len; i++) {
		if ((e[i - 1] == '{' || e[i - 1] == ',') && e[i] == '"' &&
		    memcmp(e + i, key, klen) == 0)
			break;
	}
	if (i + klen >= len)
		return -1;
	i += klen;
	if (i >= len || e[i] < '0' || e[i] > '9' || (e[i] == '0' && i + 1 < len &&
	    e[i + 1] >= '0' && e[i + 1] <= '9'))
		return -1;
	for (; i < len && e[i] >= '0' && e[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(e[i] - '0');
	}
	*out = n;
	return 0;
}

/*
 * The RFC 9162 leaf hash, SHA-256(0x00 || entry). Hashing is most of the
 * verifier's work: OpenSSL's SHA-256 uses the CPU's SHA instructions where
 * there are any. An entry already behind a 0x00 in v->buf is hashed in
 * place.
 */
static void
rg_verify_leaf(rg_verify *v, const uint8_t *entry, size_t len,
               uint8_t out[RG_HASHLEN])
{
	if (entry == v->buf + 1) {
		v->buf[0] = 0x00;
		SHA256(v->buf, len + 1, out);
	} else
		rg_merkle_leaf(entry, len, out);
}

int
rg_verify_entry(rg_verify *v, uint64_t claimed, const uint8_t *entry,
                size_t len, const uint8_t *leaf)
{
	uint64_t pos = v->f.size, inner;
	uint8_t h[RG_HASHLEN];

	if (rg_verify_start(v) != 0)
		return -1;
	if (claimed != pos)
		return rg_verify_fail(v, "entry %llu: the export gives it index "
		    "%llu (an entry is missing, duplicated or out of order)",
		    (unsigned long long)pos, (unsigned long long)claimed);
	if (len == 0 || entry[0] != '{' || entry[len - 1] != '}' ||
	    rg_verify_inner_index(entry, len, &inner) != 0)
		return rg_verify_fail(v, "entry %llu: not a canonical entry "
		    "(no index member)", (unsigned long long)pos);
	if (inner != pos)
		return rg_verify_fail(v, "entry %llu: its index member says %llu "
		    "(moved, removed or inserted)", (unsigned long long)pos,
		    (unsigned long long)inner);
	rg_verify_leaf(v, entry, len, h);
	if (leaf != NULL && sodium_memcmp(h, leaf, RG_HASHLEN) != 0)
		return rg_verify_fail(v, "entry %llu: its bytes do not hash to "
		    "the leaf the gateway stored (altered)", (unsigned long long)pos);
	while (v->nextrec < v->nrecs && v->recs[v->nextrec].index == pos) {
		struct rg_verify_rec *r = &v->recs[v->nextrec++];

		if (sodium_memcmp(r->leaf, h, RG_HASHLEN) != 0)
			return rg_verify_fail(v, "entry %llu: not the entry of %s "
			    "(altered or replaced)", (unsigned long long)pos, r->what);
		if (r->key != RG_VERIFY_NOKEY)
			rg_verify_key_used(v, r->key, pos);
	}
	if (rg_verify_announcement(v, pos, entry, len) != 0)
		return -1;
	rg_tlog_frontier_add(&v->f, h);
	return rg_verify_checkpoints_here(v);
}

int
rg_verify_line(rg_verify *v, const char *line, size_t len)
{
	static const char p1[] = "{\"index\":", p2[] = ",\"entry\":\"",
	                  p3[] = "\",\"leaf\":\"", p4[] = "\"}";
	const char *p = line, *end = line + len, *q;
	uint8_t leaf[RG_HASHLEN + 8];
	uint64_t claimed = 0;
	size_t elen, llen;

#define RG_EXPECT(s)                                                          \
	do {                                                                  \
		if ((size_t)(end - p) < sizeof(s) - 1 ||                      \
		    memcmp(p, s, sizeof(s) - 1) != 0)                         \
			goto bad;                                             \
		p += sizeof(s) - 1;                                           \
	} while (0)
	RG_EXPECT(p1);
	if (p == end || *p < '0' || *p > '9')
		goto bad;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (claimed > (UINT64_MAX - 9) / 10)
			goto bad;
		claimed = claimed * 10 + (uint64_t)(*p - '0');
	}
	RG_EXPECT(p2);
	if ((q = memchr(p, '"', (size_t)(end - p))) == NULL ||
	    rg_verify_unb64(p, (size_t)(q - p), v->buf + 1, RG_VERIFY_MAXENTRY,
	                    &elen) != 0)
		goto bad;
	p = q;
	RG_EXPECT(p3);
	if ((q = memchr(p, '"', (size_t)(end - p))) == NULL ||
	    rg_verify_unb64(p, (size_t)(q - p), leaf, sizeof(leaf), &llen) != 0 ||
	    llen != RG_HASHLEN)
		goto bad;
	p = q;
	RG_EXPECT(p4);
	if (p != end)
		goto bad;
#undef RG_EXPECT
	return rg_verify_entry(v, claimed, v->buf + 1, elen, leaf);
bad:
	if (rg_verify_start(v) != 0)
		return -1;
	return rg_verify_fail(v, "entry %llu: line %llu of entries.jsonl is not "
	    "in the export format (damaged)", (unsigned long long)v->f.size,
	    (unsigned long long)v->f.size + 1);
}

int
rg_verify_finish(rg_verify *v)
{
	if (rg_verify_start(v) != 0)
		return -1;
	if (v->nextcp < v->ncps)
		return rg_verify_fail(v, "%s: signed for %llu entries but the log "
		    "holds %llu (truncated: entries %llu and after are missing)",
		    v->cps[v->nextcp].what,
		    (unsigned long long)v->cps[v->nextcp].size,
		    (unsigned long long)v->f.size, (unsigned long long)v->f.size);
	if (v->nextrec < v->nrecs)
		return rg_verify_fail(v, "%s: entry %llu is not in the log, which "
		    "holds %llu entries (truncated)", v->recs[v->nextrec].what,
		    (unsigned long long)v->recs[v->nextrec].index,
		    (unsigned long long)v->f.size);
	return 0;
}

/* ---- an export directory ----------------------------------------------- */

static char *
rg_verify_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    size < (1L << 26) && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)size, f);
		buf[*len] = '\0';
		if (*len != (size_t)size) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static int
rg_verify_add_file(rg_verify *v, const char *path, int receipt)
{
	size_t len;
	char *text = rg_verify_slurp(path, &len);
	int rc;

	if (text == NULL)
		return rg_verify_fail(v, "%s: %s", path, strerror(errno ? errno : EIO));
	rc = receipt ? rg_verify_add_receipt(v, text, len, path)
	             : rg_verify_add_checkpoint(v, text, len, path);
	free(text);
	return rc;
}

int
rg_verify_dir(const char *dir, const char *const *receipts, size_t nrec,
              const char *const *checkpoints, size_t ncp, int progress,
              char *err, size_t errlen)
{
	rg_verify *v = rg_verify_new();
	char path[4096], *text = NULL, *line = NULL;
	size_t len, cap = 0;
	DIR *d = NULL;
	struct dirent *de;
	FILE *f = NULL;
	ssize_t n;
	time_t last = time(NULL);
	int rc = -1;

	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	if ((text = rg_verify_slurp(path, &len)) == NULL) {
		rg_verify_fail(v, "%s: cannot read", path);
		goto out;
	}
	if (rg_verify_add_keys_json(v, text, len) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/checkpoints", dir);
	if ((d = opendir(path)) == NULL) {
		rg_verify_fail(v, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl < 6 || strcmp(de->d_name + nl - 5, ".note") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/checkpoints/%s", dir, de->d_name);
		if (rg_verify_add_file(v, path, 0) != 0)
			goto out;
	}
	for (size_t i = 0; i < ncp; i++)
		if (rg_verify_add_file(v, checkpoints[i], 0) != 0)
			goto out;
	for (size_t i = 0; i < nrec; i++)
		if (rg_verify_add_file(v, receipts[i], 1) != 0)
			goto out;
	snprintf(path, sizeof(path), "%s/entries.jsonl", dir);
	if ((f = fopen(path, "r")) == NULL) {
		rg_verify_fail(v, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n') {
			rg_verify_fail(v, "entry %llu: the last line of entries.jsonl "
			    "is cut short (truncated)",
			    (unsigned long long)rg_verify_count(v));
			goto out;
		}
		if (rg_verify_line(v, line, (size_t)n - 1) != 0)
			goto out;
		if (progress && (rg_verify_count(v) & 0xffff) == 0 &&
		    time(NULL) != last) {
			last = time(NULL);
			fprintf(stderr, "\rverified %llu entries",
			        (unsigned long long)rg_verify_count(v));
		}
	}
	if (ferror(f)) {
		rg_verify_fail(v, "%s: read error", path);
		goto out;
	}
	if (progress)
		fprintf(stderr, "\rverified %llu entries\n",
		        (unsigned long long)rg_verify_count(v));
	if (rg_verify_finish(v) != 0)
		goto out;
	/* The checkpoints of receipts do not count here: they bind only the
	 * entries up to theirs, which the receipts were for. */
	if (v->ngiven == 0) {
		rg_verify_fail(v, "no checkpoint: nothing binds the entries to "
		               "the gateway's key");
		goto out;
	}
	snprintf(err, errlen, "%llu entries, %zu checkpoints (largest %llu), "
	         "%zu receipts verified", (unsigned long long)rg_verify_count(v),
	         v->ngiven, (unsigned long long)v->maxgiven, v->nrecs);
	rc = 0;
out:
	if (rc != 0)
		snprintf(err, errlen, "%s", v->err);
	if (d != NULL)
		closedir(d);
	if (f != NULL)
		fclose(f);
	free(line);
	free(text);
	rg_verify_free(v);
	return rc;
}
