/*
 * ctl_audit.c -- the officer's side of the audit trail: export the log
 * over the signed API, verify an export offline (crypto/verify.c), prove
 * one entry's inclusion against a fresh checkpoint, and summarise
 * exchanges. It trusts the gateway's answers for nothing it can check: every
 * checkpoint and proof it prints as good has been verified here, with the
 * published key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/b64.h"
#include "crypto/merkle.h"
#include "crypto/note.h"
#include "crypto/tlog.h"
#include "crypto/verify.h"
#include "gateway/client.h"
#include "gateway/ctl_audit.h"
#include "gateway/demo.h"
#include "policy/catalogue.h"

#define RG_CTL_MAXFILES 64

static void
rg_ctl_audit_usage(void)
{
	fprintf(stderr,
	    "usage: recgatectl audit export DIR --url URL --key OFFICER.key\n"
	    "       recgatectl audit verify DIR [--receipt FILE]... "
	    "[--checkpoint FILE]... [--progress]\n"
	    "       recgatectl audit prove INDEX --url URL --key OFFICER.key "
	    "[--receipt FILE]\n"
	    "       recgatectl audit report --from MS --to MS "
	    "(--url URL --key OFFICER.key | DIR)\n");
	exit(2);
}

/* ---- a signed officer session ------------------------------------------- */

struct rg_ctl_conn {
	char host[256];
	char authority[300];
	int port;
	struct rg_client_key key;
};

static int
rg_ctl_connect(struct rg_ctl_conn *c, const char *url, const char *keyfile)
{
	char err[1024];

	memset(c, 0, sizeof(*c));
	if (url == NULL || rg_client_parse_url(url, c->host, sizeof(c->host),
	                                       &c->port) != 0) {
		fprintf(stderr, "recgatectl: --url: expected http://HOST:PORT\n");
		return -1;
	}
	snprintf(c->authority, sizeof(c->authority), "%s:%d", c->host, c->port);
	if (keyfile == NULL) {
		fprintf(stderr, "recgatectl: --key OFFICER.key is needed\n");
		return -1;
	}
	if (rg_client_key_load(keyfile, &c->key, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		return -1;
	}
	return 0;
}

/* GET path?query, signed unless unsigned_ is set; the parsed body on 200,
 * NULL (with a message) otherwise. raw (optional) gets the body text. */
static json_t *
rg_ctl_get(struct rg_ctl_conn *c, const char *path, const char *query,
           int unsigned_, char **raw)
{
	struct rg_client_resp resp;
	char err[1024], *req;
	size_t len;
	json_t *doc = NULL;

	req = rg_client_build(c->authority, unsigned_ ? NULL : &c->key, "GET",
	                      path, query, NULL, 0, NULL, &len);
	if (req == NULL) {
		fprintf(stderr, "recgatectl: cannot build the request\n");
		return NULL;
	}
	if (rg_client_send(c->host, c->port, req, len, &resp, err, sizeof(err))
	    != 0) {
		fprintf(stderr, "recgatectl: %s\n", err);
		free(req);
		return NULL;
	}
	free(req);
	if (resp.status != 200)
		fprintf(stderr, "recgatectl: %s: HTTP %d: %s\n", path, resp.status,
		        resp.body);
	else if ((doc = json_loadb(resp.body, resp.body_len, 0, NULL)) == NULL)
		fprintf(stderr, "recgatectl: %s: the answer is not JSON\n", path);
	if (doc != NULL && raw != NULL) {
		*raw = resp.body;
		resp.body = NULL;
	}
	free(resp.body);
	return doc;
}

static json_t *
rg_ctl_result(json_t *doc, const char *key)
{
	return json_object_get(json_object_get(doc, "result"), key);
}

static int
rg_ctl_write(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wx");

	if (f == NULL) {
		fprintf(stderr, "recgatectl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "recgatectl: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

/* Check a checkpoint note against the keys document; 0 and size/root. */
static int
rg_ctl_check_note(const char *keys_text, const char *note, uint64_t *size,
                  uint8_t root[RG_HASHLEN])
{
	json_t *doc = json_loads(keys_text, 0, NULL), *k;
	char name[RG_NOTE_MAXNAME + 1];
	uint8_t pub[RG_SIG_PUBLEN];
	size_t i, tlen;
	int rc = -1;

	json_array_foreach(json_object_get(doc, "keys"), i, k) {
		const char *vkey = json_string_value(json_object_get(k, "vkey"));

		if (vkey != NULL &&
		    rg_note_vkey_parse(vkey, name, sizeof(name), pub) == 0 &&
		    rg_note_verify(note, strlen(note), name, pub, &tlen) == 0 &&
		    rg_note_checkpoint_parse(note, tlen, name, size, root) == 0) {
			rc = 0;
			break;
		}
	}
	json_decref(doc);
	return rc;
}

/* ---- export --------------------------------------------------------------- */

static int
rg_ctl_export(const char *dir, const char *url, const char *keyfile)
{
	struct rg_ctl_conn c;
	char path[4096], query[128], *keys_text = NULL;
	json_t *doc = NULL;
	uint64_t size = 0, from = 0, after = 0, nent = 0, ncp = 0;
	uint8_t root[RG_HASHLEN];
	FILE *out = NULL;
	int rc = 1;

	if (rg_ctl_connect(&c, url, keyfile) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/checkpoints", dir);
	if (mkdir(dir, 0700) != 0 || mkdir(path, 0700) != 0) {
		fprintf(stderr, "recgatectl: %s: %s\n", dir, strerror(errno));
		goto out;
	}
	/* 1. The published keys, as published. */
	if ((doc = rg_ctl_get(&c, "/v1/keys", NULL, 1, &keys_text)) == NULL)
		goto out;
	json_decref(doc);
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	if (rg_ctl_write(path, keys_text, strlen(keys_text)) != 0)
		goto out;
	/* 2. A fresh checkpoint fixes what is exported: the entries below
	 * its size and the checkpoints up to it. */
	if ((doc = rg_ctl_get(&c, "/v1/audit/checkpoint", "fresh=1", 0, NULL)) ==
	    NULL)
		goto out;
	if (json_string_value(rg_ctl_result(doc, "note")) == NULL ||
	    rg_ctl_check_note(keys_text, json_string_value(rg_ctl_result(doc,
	                      "note")), &size, root) != 0) {
		fprintf(stderr, "recgatectl: the gateway's checkpoint does not "
		        "verify with its published key\n");
		goto out;
	}
	json_decref(doc);
	doc = NULL;
	/* 3. The entries, page by page. */
	snprintf(path, sizeof(path), "%s/entries.jsonl", dir);
	if ((out = fopen(path, "wx")) == NULL) {
		fprintf(stderr, "recgatectl: %s: %s\n", path, strerror(errno));
		goto out;
	}
	while (from < size) {
		json_t *list, *e, *next;
		size_t i;

		snprintf(query, sizeof(query), "from=%llu&to=%llu&limit=1000",
		         (unsigned long long)from, (unsigned long long)size);
		if ((doc = rg_ctl_get(&c, "/v1/audit/entries", query, 0, NULL)) ==
		    NULL)
			goto out;
		list = rg_ctl_result(doc, "entries");
		json_array_foreach(list, i, e) {
			json_int_t idx = json_integer_value(json_object_get(e, "index"));
			const char *ent = json_string_value(json_object_get(e, "entry"));
			const char *leaf = json_string_value(json_object_get(e,
			                                     "leaf_hash"));

			if (ent == NULL || leaf == NULL || idx < 0) {
				fprintf(stderr, "recgatectl: damaged page at %llu\n",
				        (unsigned long long)from);
				goto out;
			}
			fprintf(out, "{\"index\":%lld,\"entry\":\"%s\",\"leaf\":\"%s\"}\n",
			        (long long)idx, ent, leaf);
			nent++;
		}
		next = rg_ctl_result(doc, "next");
		if (!json_is_integer(next) || (uint64_t)json_integer_value(next) <= from)
			break;
		from = (uint64_t)json_integer_value(next);
		json_decref(doc);
		doc = NULL;
	}
	if (fclose(out) != 0) {
		out = NULL;
		fprintf(stderr, "recgatectl: %s: write failed\n", path);
		goto out;
	}
	out = NULL;
	/* 4. Every checkpoint up to that size. */
	for (;;) {
		json_t *list, *cp;
		size_t i;
		uint64_t last = after;

		json_decref(doc);
		snprintf(query, sizeof(query), "after=%llu&limit=1000",
		         (unsigned long long)after);
		if ((doc = rg_ctl_get(&c, "/v1/audit/checkpoints", query, 0, NULL)) ==
		    NULL)
			goto out;
		list = rg_ctl_result(doc, "checkpoints");
		json_array_foreach(list, i, cp) {
			json_int_t s = json_integer_value(json_object_get(cp, "size"));
			const char *note = json_string_value(json_object_get(cp, "note"));

			if (note == NULL || s < 0)
				goto out;
			last = (uint64_t)s;
			if ((uint64_t)s > size)
				continue;
			snprintf(path, sizeof(path), "%s/checkpoints/%020llu.note", dir,
			         (unsigned long long)s);
			if (rg_ctl_write(path, note, strlen(note)) != 0)
				goto out;
			ncp++;
		}
		if (json_array_size(list) == 0 || last >= size || last == after)
			break;
		after = last;
	}
	printf("recgatectl: exported %llu entries and %llu checkpoints (tree "
	       "size %llu) to %s\n", (unsigned long long)nent,
	       (unsigned long long)ncp, (unsigned long long)size, dir);
	rc = nent == size ? 0 : 1;
	if (rc != 0)
		fprintf(stderr, "recgatectl: expected %llu entries\n",
		        (unsigned long long)size);
out:
	if (out != NULL)
		fclose(out);
	json_decref(doc);
	free(keys_text);
	rg_client_key_clear(&c.key);
	return rc;
}

/* ---- verify --------------------------------------------------------------- */

static int
rg_ctl_verify(const char *dir, const char **receipts, size_t nrec,
              const char **cps, size_t ncp, int progress)
{
	char msg[1024];

	if (!progress && isatty(2))
		progress = 1;
	if (rg_verify_dir(dir, receipts, nrec, cps, ncp, progress, msg,
	                  sizeof(msg)) != 0) {
		printf("recgatectl: audit verify: FAILED: %s\n", msg);
		return 1;
	}
	printf("recgatectl: audit verify: OK: %s\n", msg);
	return 0;
}

/* ---- prove ---------------------------------------------------------------- */

static int
rg_ctl_unb64(const char *in, uint8_t *out, size_t outmax, size_t *outlen)
{
	if (in == NULL)
		return -1;
	return rg_b64_decode(in, strlen(in), out, outmax, outlen);
}

/* The hashes of a proof the gateway sent (a JSON array of base64) into
 * proof, at most cap of them. 0, or -1 when too many or one is not 32
 * bytes of base64. */
static int
rg_ctl_proof(const json_t *list, uint8_t (*proof)[RG_HASHLEN], size_t cap,
             size_t *plen)
{
	size_t n;

	if ((*plen = json_array_size(list)) > cap)
		return -1;
	for (size_t i = 0; i < *plen; i++)
		if (rg_ctl_unb64(json_string_value(json_array_get(list, i)), proof[i],
		                 RG_HASHLEN, &n) != 0 || n != RG_HASHLEN)
			return -1;
	return 0;
}

/*
 * A receipt for prove, of either form (crypto/verify.c checks it under the
 * published keys: the signature over the entry, or the checkpoint's and
 * the entry's inclusion proof against its root), and that its entry is
 * entry index, whose leaf is leaf. 0, or -1 (said why).
 */
static int
rg_ctl_receipt_check(const char *keys_text, const char *path, uint64_t index,
                     const uint8_t leaf[RG_HASHLEN], char **note)
{
	rg_verify *v = rg_verify_new();
	json_t *doc = NULL, *r;
	uint8_t *ent = NULL, mine[RG_HASHLEN];
	size_t len = 0, elen = 0;
	char *text = NULL;
	FILE *f = fopen(path, "rb");
	struct stat sb;
	int ok = 0;

	/* Responses are bounded by the client (64 MiB), receipts with them. */
	if (f != NULL) {
		if (fstat(fileno(f), &sb) == 0 && sb.st_size >= 0 &&
		    sb.st_size < (64 << 20) &&
		    (text = malloc((size_t)sb.st_size + 1)) != NULL)
			len = fread(text, 1, (size_t)sb.st_size, f);
		fclose(f);
	}
	if (text == NULL || v == NULL) {
		printf("recgatectl: audit prove: FAILED: %s: cannot read\n", path);
		goto out;
	}
	if (rg_verify_add_keys_json(v, keys_text, strlen(keys_text)) != 0 ||
	    rg_verify_add_receipt(v, text, len, path) != 0) {
		printf("recgatectl: audit prove: FAILED: %s\n", rg_verify_error(v));
		goto out;
	}
	doc = json_loadb(text, len, 0, NULL);
	r = json_object_get(doc, "receipt") ? json_object_get(doc, "receipt") : doc;
	ent = malloc(len + 1);
	ok = ent != NULL &&
	     rg_ctl_unb64(json_string_value(json_object_get(r, "entry")), ent, len,
	                  &elen) == 0 &&
	     json_integer_value(json_object_get(r, "index")) == (json_int_t)index;
	if (ok) {
		rg_merkle_leaf(ent, elen, mine);
		ok = sodium_memcmp(mine, leaf, RG_HASHLEN) == 0;
	}
	if (!ok)
		printf("recgatectl: audit prove: FAILED: entry %llu of the log is not "
		       "the receipt's entry\n", (unsigned long long)index);
	else if (json_is_string(json_object_get(r, "checkpoint")) &&
	         (*note = strdup(json_string_value(json_object_get(r,
	                                           "checkpoint")))) == NULL)
		ok = 0;
out:
	json_decref(doc);
	free(ent);
	free(text);
	rg_verify_free(v);
	return ok ? 0 : -1;
}

/*
 * The receipt's checkpoint (note, verified already) against the gateway's
 * log now, of size entries with root: the same tree, or one the RFC 9162
 * consistency proof shows extends it. Otherwise the gateway rewrote or cut
 * the log it signed for the receipt's holder. 0, or -1 (said why).
 */
static int
rg_ctl_receipt_consistent(struct rg_ctl_conn *c, const char *keys_text,
                          const char *note, uint64_t size,
                          const uint8_t root[RG_HASHLEN])
{
	uint8_t r1[RG_HASHLEN], proof[RG_TLOG_MAXPROOF][RG_HASHLEN];
	uint64_t n;
	size_t plen;
	char query[96];
	json_t *doc = NULL;
	int ok = 0;

	if (rg_ctl_check_note(keys_text, note, &n, r1) != 0)
		goto out;
	if (n == size)
		ok = sodium_memcmp(r1, root, RG_HASHLEN) == 0;
	else if (n < size) {
		snprintf(query, sizeof(query), "from=%llu&to=%llu",
		         (unsigned long long)n, (unsigned long long)size);
		if ((doc = rg_ctl_get(c, "/v1/audit/proof/consistency", query, 0,
		                      NULL)) == NULL)
			return -1;
		ok = rg_ctl_proof(rg_ctl_result(doc, "proof"), proof,
		                  RG_TLOG_MAXPROOF, &plen) == 0 &&
		     rg_merkle_verify_consistency(n, size, r1, root,
		         (const uint8_t (*)[RG_HASHLEN])proof, plen) == 0;
	}
out:
	if (!ok)
		printf("recgatectl: audit prove: FAILED: the gateway's log of %llu "
		       "entries does not extend the receipt's checkpoint of %llu: "
		       "the log it signed was rewritten or cut short\n",
		       (unsigned long long)size, (unsigned long long)n);
	json_decref(doc);
	return ok ? 0 : -1;
}

static int
rg_ctl_prove(const char *index_text, const char *url, const char *keyfile,
             const char *receipt)
{
	struct rg_ctl_conn c;
	uint8_t root[RG_HASHLEN], leaf[RG_HASHLEN], (*proof)[RG_HASHLEN] = NULL;
	char query[128], *keys_text = NULL, *end, *note = NULL;
	json_t *doc = NULL, *list;
	uint64_t size, index;
	size_t n, plen;
	int rc = 1;

	errno = 0;
	index = strtoull(index_text, &end, 10);
	if (errno != 0 || *end != '\0' || index_text[0] < '0' || index_text[0] > '9')
		rg_ctl_audit_usage();
	if (rg_ctl_connect(&c, url, keyfile) != 0)
		return 1;
	if ((doc = rg_ctl_get(&c, "/v1/keys", NULL, 1, &keys_text)) == NULL)
		goto out;
	json_decref(doc);
	if ((doc = rg_ctl_get(&c, "/v1/audit/checkpoint", "fresh=1", 0, NULL)) ==
	    NULL)
		goto out;
	if (rg_ctl_check_note(keys_text, json_string_value(rg_ctl_result(doc,
	                      "note")) ? json_string_value(rg_ctl_result(doc,
	                      "note")) : "", &size, root) != 0) {
		printf("recgatectl: audit prove: FAILED: the checkpoint does not "
		       "verify with the published key\n");
		goto out;
	}
	json_decref(doc);
	snprintf(query, sizeof(query), "index=%llu&size=%llu",
	         (unsigned long long)index, (unsigned long long)size);
	if ((doc = rg_ctl_get(&c, "/v1/audit/proof/inclusion", query, 0, NULL)) ==
	    NULL)
		goto out;
	list = rg_ctl_result(doc, "proof");
	plen = json_array_size(list);
	if ((proof = malloc((plen ? plen : 1) * sizeof(*proof))) == NULL ||
	    rg_ctl_unb64(json_string_value(rg_ctl_result(doc, "leaf_hash")), leaf,
	                 sizeof(leaf), &n) != 0 || n != RG_HASHLEN ||
	    rg_ctl_proof(list, proof, plen, &plen) != 0)
		goto out;
	if (receipt != NULL && (rg_ctl_receipt_check(keys_text, receipt, index,
	                                             leaf, &note) != 0 ||
	    (note != NULL && rg_ctl_receipt_consistent(&c, keys_text, note, size,
	                                               root) != 0)))
		goto out;
	if (rg_merkle_verify_inclusion(index, size, leaf,
	                               (const uint8_t (*)[RG_HASHLEN])proof, plen,
	                               root) != 0) {
		printf("recgatectl: audit prove: FAILED: the inclusion proof for "
		       "entry %llu does not verify against the checkpoint of size "
		       "%llu\n", (unsigned long long)index, (unsigned long long)size);
		goto out;
	}
	printf("recgatectl: audit prove: OK: entry %llu is in the log of %llu "
	       "entries signed by the gateway (%zu-hash proof)%s\n",
	       (unsigned long long)index, (unsigned long long)size, plen,
	       receipt == NULL ? "" : note == NULL ? "; the receipt matches it" :
	       "; the receipt matches it, and its checkpoint is consistent "
	       "with this one");
	rc = 0;
out:
	free(note);
	free(proof);
	json_decref(doc);
	free(keys_text);
	rg_client_key_clear(&c.key);
	return rc;
}

/* ---- report --------------------------------------------------------------- */

struct rg_ctl_row {
	char key[400];
	uint64_t allow, deny;
};

struct rg_ctl_report {
	int64_t from_ms, to_ms;
	rg_catalogue *cat;
	struct rg_ctl_row *rows;
	size_t nrows, caprows;
	json_t *denials;
	uint64_t total;
};

static const char *
rg_ctl_str(json_t *e, const char *key)
{
	const char *s = json_string_value(json_object_get(e, key));
	return s != NULL ? s : "";
}

static int
rg_ctl_report_entry(struct rg_ctl_report *r, uint64_t index, json_t *e)
{
	json_int_t t = json_integer_value(json_object_get(e, "time"));
	const char *res = rg_ctl_str(e, "resource"), *owner = "";
	const rg_resource *rr;
	char key[400];
	size_t i;
	int allow;

	if (t < r->from_ms || t >= r->to_ms)
		return 0;
	r->total++;
	if (res[0] != '\0' && r->cat != NULL &&
	    (rr = rg_catalogue_find(r->cat, res)) != NULL)
		owner = rg_resource_owner(rr);
	snprintf(key, sizeof(key), "%-12s %-12s %-30s %-18s",
	         rg_ctl_str(e, "department")[0] ? rg_ctl_str(e, "department") : "-",
	         owner[0] ? owner : "-", res[0] ? res : "-", rg_ctl_str(e, "action"));
	allow = strcmp(rg_ctl_str(e, "decision"), "allow") == 0;
	for (i = 0; i < r->nrows; i++)
		if (strcmp(r->rows[i].key, key) == 0)
			break;
	if (i == r->nrows) {
		if (r->nrows == r->caprows) {
			size_t cap = r->caprows ? r->caprows * 2 : 64;
			struct rg_ctl_row *p = realloc(r->rows, cap * sizeof(*p));

			if (p == NULL || cap > 1000000)
				return -1;
			r->rows = p;
			r->caprows = cap;
		}
		memset(&r->rows[i], 0, sizeof(r->rows[i]));
		snprintf(r->rows[i].key, sizeof(r->rows[i].key), "%s", key);
		r->nrows++;
	}
	if (allow)
		r->rows[i].allow++;
	else {
		r->rows[i].deny++;
		json_array_append_new(r->denials, json_pack("{s:I, s:I, s:s, s:s, s:s, "
		    "s:s, s:s}", "index", (json_int_t)index, "time", t,
		    "department", rg_ctl_str(e, "department"),
		    "action", rg_ctl_str(e, "action"), "resource", res,
		    "decision", rg_ctl_str(e, "decision"),
		    "reason", rg_ctl_str(e, "reason")));
	}
	return 0;
}

static int
rg_ctl_report_dir(struct rg_ctl_report *r, const char *dir)
{
	char path[4096], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	uint8_t *buf = malloc(1 << 20);
	int rc = 0;

	snprintf(path, sizeof(path), "%s/entries.jsonl", dir);
	if (buf == NULL || (f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "recgatectl: %s: cannot read\n", path);
		free(buf);
		return -1;
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
		json_t *l = json_loadb(line, (size_t)n, 0, NULL), *e = NULL;
		size_t elen;

		if (l != NULL && rg_ctl_unb64(rg_ctl_str(l, "entry"), buf, 1 << 20,
		                              &elen) == 0)
			e = json_loadb((const char *)buf, elen, 0, NULL);
		if (e == NULL) {
			fprintf(stderr, "recgatectl: %s: damaged line\n", path);
			rc = -1;
		} else
			rc = rg_ctl_report_entry(r, (uint64_t)json_integer_value(
			    json_object_get(l, "index")), e);
		json_decref(e);
		json_decref(l);
	}
	fclose(f);
	free(line);
	free(buf);
	return rc;
}

static int
rg_ctl_report_url(struct rg_ctl_report *r, const char *url, const char *keyfile)
{
	struct rg_ctl_conn c;
	char query[160];
	uint64_t from = 0;
	int rc = -1;

	if (rg_ctl_connect(&c, url, keyfile) != 0)
		return -1;
	for (;;) {
		json_t *doc, *list, *e, *next;
		size_t i;

		snprintf(query, sizeof(query), "from=%llu&from_ms=%lld&to_ms=%lld",
		         (unsigned long long)from, (long long)r->from_ms,
		         (long long)r->to_ms);
		if ((doc = rg_ctl_get(&c, "/v1/audit/entries", query, 0, NULL)) == NULL)
			goto out;
		list = rg_ctl_result(doc, "entries");
		json_array_foreach(list, i, e)
			if (rg_ctl_report_entry(r, (uint64_t)json_integer_value(
			        json_object_get(e, "index")), json_object_get(e,
			        "parsed")) != 0) {
				json_decref(doc);
				goto out;
			}
		next = rg_ctl_result(doc, "next");
		if (!json_is_integer(next) || (uint64_t)json_integer_value(next) <= from) {
			json_decref(doc);
			break;
		}
		from = (uint64_t)json_integer_value(next);
		json_decref(doc);
	}
	rc = 0;
out:
	rg_client_key_clear(&c.key);
	return rc;
}

static int
rg_ctl_number(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] < '0' || s[0] > '9')
		return -1;
	*out = v;
	return 0;
}

static int
rg_ctl_report(const char *from, const char *to, const char *url,
              const char *keyfile, const char *dir)
{
	struct rg_ctl_report r = {0};
	const char *cattext;
	size_t catlen, i;
	char cerr[256];
	json_t *d;
	int rc = 1;

	if (from == NULL || to == NULL || rg_ctl_number(from, &r.from_ms) != 0 ||
	    rg_ctl_number(to, &r.to_ms) != 0 || (dir == NULL) == (url == NULL))
		rg_ctl_audit_usage();
	/* Owners come from the catalogue the programs carry. */
	cattext = rg_demo_catalogue(&catlen);
	r.cat = rg_catalogue_parse(cattext, catlen, cerr, sizeof(cerr));
	r.denials = json_array();
	if (r.denials == NULL)
		goto out;
	if ((dir != NULL ? rg_ctl_report_dir(&r, dir)
	                 : rg_ctl_report_url(&r, url, keyfile)) != 0)
		goto out;
	printf("exchanges from %lld to %lld ms: %llu\n\n", (long long)r.from_ms,
	       (long long)r.to_ms, (unsigned long long)r.total);
	printf("%-12s %-12s %-30s %-18s %8s %8s\n", "consumer", "owner",
	       "resource", "action", "allow", "deny");
	for (i = 0; i < r.nrows; i++)
		printf("%s %8llu %8llu\n", r.rows[i].key,
		       (unsigned long long)r.rows[i].allow,
		       (unsigned long long)r.rows[i].deny);
	printf("\ndenials: %zu\n", json_array_size(r.denials));
	json_array_foreach(r.denials, i, d)
		printf("  #%lld %lld %s %s %s: %s %s\n",
		       (long long)json_integer_value(json_object_get(d, "index")),
		       (long long)json_integer_value(json_object_get(d, "time")),
		       rg_ctl_str(d, "department")[0] ? rg_ctl_str(d, "department")
		                                      : "-",
		       rg_ctl_str(d, "action"),
		       rg_ctl_str(d, "resource")[0] ? rg_ctl_str(d, "resource") : "-",
		       rg_ctl_str(d, "decision"), rg_ctl_str(d, "reason"));
	rc = 0;
out:
	json_decref(r.denials);
	free(r.rows);
	rg_catalogue_free(r.cat);
	return rc;
}

int
rg_ctl_audit(int argc, char **argv)
{
	const char *url = NULL, *key = NULL, *from = NULL, *to = NULL;
	const char *receipts[RG_CTL_MAXFILES], *cps[RG_CTL_MAXFILES], *pos = NULL;
	size_t nrec = 0, ncp = 0;
	int progress = 0;

	if (argc < 1)
		rg_ctl_audit_usage();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (strcmp(argv[i], "--receipt") == 0 && i + 1 < argc &&
		         nrec < RG_CTL_MAXFILES)
			receipts[nrec++] = argv[++i];
		else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc &&
		         ncp < RG_CTL_MAXFILES)
			cps[ncp++] = argv[++i];
		else if (strcmp(argv[i], "--progress") == 0)
			progress = 1;
		else if (pos == NULL && argv[i][0] != '-')
			pos = argv[i];
		else
			rg_ctl_audit_usage();
	}
	if (strcmp(argv[0], "export") == 0 && pos != NULL)
		return rg_ctl_export(pos, url, key);
	if (strcmp(argv[0], "verify") == 0 && pos != NULL)
		return rg_ctl_verify(pos, receipts, nrec, cps, ncp, progress);
	if (strcmp(argv[0], "prove") == 0 && pos != NULL && nrec <= 1)
		return rg_ctl_prove(pos, url, key, nrec ? receipts[0] : NULL);
	if (strcmp(argv[0], "report") == 0)
		return rg_ctl_report(from, to, url, key, pos);
	rg_ctl_audit_usage();
	return 2;
}
