/*
 * client.c -- signs and sends department requests. Holds a department's
 * private key only inside its rg_sigkey (guarded memory); the seed read
 * from the key file is wiped as soon as the key is built.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/httpsig.h"
#include "gateway/client.h"
#include "gateway/wfile.h"

#define RG_CLIENT_MAXRESP (64 * 1024 * 1024)

int
rg_client_key_load(const char *path, struct rg_client_key *out, char *err,
                   size_t errlen)
{
	json_error_t jerr;
	json_t *doc;
	const char *dept, *keyid, *seed64;
	uint8_t *seed;
	size_t seedlen = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		snprintf(err, errlen, "%s: %s", path, jerr.text);
		return -1;
	}
	dept = json_string_value(json_object_get(doc, "department"));
	keyid = json_string_value(json_object_get(doc, "keyid"));
	seed64 = json_string_value(json_object_get(doc, "seed"));
	seed = sodium_malloc(RG_SIG_SEEDLEN);
	if (dept == NULL || keyid == NULL || seed64 == NULL || seed == NULL ||
	    strlen(dept) >= sizeof(out->department) ||
	    strlen(keyid) >= sizeof(out->keyid)) {
		snprintf(err, errlen, "%s: expected department, keyid and seed", path);
		goto out;
	}
	/* Not rg_b64_decode: the seed is secret, and libsodium's decoder runs
	 * in constant time where the alphabet check would branch on each
	 * character. A damaged file gives a key the gateway refuses. */
	if (sodium_base642bin(seed, RG_SIG_SEEDLEN, seed64, strlen(seed64), NULL,
	                      &seedlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    seedlen != RG_SIG_SEEDLEN) {
		snprintf(err, errlen, "%s: seed must be 32 bytes in base64", path);
		goto out;
	}
	out->key = rg_sigkey_from_seed(seed);
	if (out->key == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(out->department, sizeof(out->department), "%s", dept);
	snprintf(out->keyid, sizeof(out->keyid), "%s", keyid);
	rc = 0;
out:
	/* The parser's copy of the seed text is wiped before it is freed. */
	if (seed64 != NULL)
		sodium_memzero((char *)seed64, strlen(seed64));
	sodium_free(seed);
	json_decref(doc);
	return rc;
}

int
rg_client_key_new(const char *dept, const char *name,
                  struct rg_client_key *out)
{
	uint8_t pub[RG_SIG_PUBLEN], hash[32];

	memset(out, 0, sizeof(*out));
	if (strlen(dept) >= sizeof(out->department) ||
	    strlen(name) + 10 > sizeof(out->keyid) ||
	    (out->key = rg_sigkey_generate()) == NULL)
		return -1;
	rg_sigkey_public(out->key, pub);
	crypto_hash_sha256(hash, pub, sizeof(pub));
	snprintf(out->department, sizeof(out->department), "%s", dept);
	snprintf(out->keyid, sizeof(out->keyid), "%s-%02x%02x%02x%02x", name,
	         hash[0], hash[1], hash[2], hash[3]);
	return 0;
}

int
rg_client_key_save(const struct rg_client_key *k, const char *path, char *err,
                   size_t errlen)
{
	size_t b64len = sodium_base64_encoded_len(RG_SIG_SEEDLEN,
	                                          sodium_base64_VARIANT_ORIGINAL);
	size_t textlen = b64len + sizeof(k->department) + sizeof(k->keyid) + 64;
	uint8_t *seed = sodium_malloc(RG_SIG_SEEDLEN);
	char *seed64 = sodium_malloc(b64len), *text = sodium_malloc(textlen);
	int rc = -1;

	if (seed == NULL || seed64 == NULL || text == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rg_sigkey_seed(k->key, seed);
	sodium_bin2base64(seed64, b64len, seed, RG_SIG_SEEDLEN,
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, textlen, "{\"department\": \"%s\", \"keyid\": \"%s\", "
	         "\"seed\": \"%s\"}\n", k->department, k->keyid, seed64);
	if (rg_wfile_new(path, text, strlen(text), 0600, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	sodium_free(seed);
	sodium_free(seed64);
	sodium_free(text);
	return rc;
}

void
rg_client_key_clear(struct rg_client_key *k)
{
	rg_sigkey_free(k->key);
	memset(k, 0, sizeof(*k));
}

struct rg_client_hdrs {
	const char *digest;
	const char *purpose;
};

static const char *
rg_client_header(void *ctx, const char *lname)
{
	struct rg_client_hdrs *h = ctx;

	if (strcmp(lname, "content-digest") == 0)
		return h->digest;
	if (strcmp(lname, "recgate-purpose") == 0)
		return h->purpose;
	return NULL;
}

char *
rg_client_build(const char *authority, const struct rg_client_key *key,
                const char *method, const char *path, const char *query,
                const uint8_t *body, size_t bodylen,
                const struct rg_client_opts *opts, size_t *len)
{
	static const struct rg_client_opts none = {0};
	struct rg_client_hdrs h = {NULL, NULL};
	struct rg_httpsig_msg msg = {0};
	const char *comps[5];
	size_t ncomp = 0, headlen, total;
	char *sig_input = NULL, *sig = NULL, *head = NULL, *out = NULL;
	char nonce[33];
	int n;

	if (opts == NULL)
		opts = &none;
	if (query != NULL && query[0] == '\0')
		query = NULL;
	if (bodylen > 0)
		h.digest = rg_content_digest(body, bodylen);
	h.purpose = opts->purpose;
	if (key != NULL) {
		uint8_t raw[16];
		int64_t created = opts->created ? opts->created : (int64_t)time(NULL);

		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
		comps[ncomp++] = "@method";
		comps[ncomp++] = "@path";
		comps[ncomp++] = "@query";
		if (h.digest != NULL)
			comps[ncomp++] = "content-digest";
		if (h.purpose != NULL)
			comps[ncomp++] = "recgate-purpose";
		msg.method = method;
		msg.path = path;
		msg.query = query;
		msg.authority = authority;
		msg.header = rg_client_header;
		msg.ctx = &h;
		if (rg_httpsig_sign(key->key, key->keyid, &msg, comps, ncomp,
		                    created, opts->expires,
		                    opts->nonce ? opts->nonce : nonce, &sig_input,
		                    &sig) != RG_HTTPSIG_OK)
			goto out;
		if (opts->alg != NULL) {
			/* Tests only: claim another algorithm in the parameters. */
			char *p = strstr(sig_input, "alg=\"ed25519\"");
			if (p != NULL && strlen(opts->alg) == 7)
				memcpy(p + 5, opts->alg, 7);
		}
	}
	headlen = 1024 + strlen(path) + (query ? strlen(query) : 0) +
	          (sig_input ? strlen(sig_input) + strlen(sig) : 0) +
	          (h.digest ? strlen(h.digest) : 0) +
	          (h.purpose ? strlen(h.purpose) : 0) + strlen(authority);
	head = malloc(headlen);
	if (head == NULL)
		goto out;
	n = snprintf(head, headlen,
	             "%s %s%s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	             "%s%s%s%s%s%s%s%s%s%s%s%s\r\n",
	             method, path, query ? "?" : "", query ? query : "", authority,
	             bodylen,
	             h.digest ? "Content-Digest: " : "", h.digest ? h.digest : "",
	             h.digest ? "\r\n" : "",
	             h.purpose ? "Recgate-Purpose: " : "", h.purpose ? h.purpose : "",
	             h.purpose ? "\r\n" : "",
	             sig_input ? "Signature-Input: " : "", sig_input ? sig_input : "",
	             sig_input ? "\r\n" : "",
	             sig ? "Signature: " : "", sig ? sig : "", sig ? "\r\n" : "");
	if (n < 0 || (size_t)n >= headlen)
		goto out;
	total = (size_t)n + bodylen;
	out = malloc(total + 1);
	if (out == NULL)
		goto out;
	memcpy(out, head, (size_t)n);
	if (bodylen > 0)
		memcpy(out + n, body, bodylen);
	out[total] = '\0';
	*len = total;
out:
	free(head);
	free(sig_input);
	free(sig);
	free((char *)h.digest);
	return out;
}

int
rg_client_parse_url(const char *url, char *host, size_t hostlen, int *port)
{
	const char *p = url, *colon, *end;
	char *e;
	long v;

	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	end = strchr(p, '/');
	if (end == NULL)
		end = p + strlen(p);
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon == NULL || (size_t)(colon - p) >= hostlen || colon == p)
		return -1;
	errno = 0;
	v = strtol(colon + 1, &e, 10);
	if (errno != 0 || e != end || v <= 0 || v > 65535)
		return -1;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	*port = (int)v;
	return 0;
}

static int
rg_client_connect(const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	char service[16];
	int fd, rc;

	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		snprintf(err, errlen, "connect %s:%d: %s", host, port,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Parse "HTTP/1.1 NNN ...\r\n...\r\n\r\nbody". */
static int
rg_client_parse(char *buf, size_t len, struct rg_client_resp *out)
{
	char *hend = strstr(buf, "\r\n\r\n"), *cl;
	size_t bodylen;

	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || hend == NULL)
		return -1;
	out->status = (int)strtol(buf + 9, NULL, 10);
	bodylen = len - (size_t)(hend + 4 - buf);
	*hend = '\0';
	cl = strcasestr(buf, "\r\ncontent-length:");
	if (cl != NULL) {
		size_t want = (size_t)strtoull(cl + 17, NULL, 10);
		if (want < bodylen)
			bodylen = want;
	}
	out->body = malloc(bodylen + 1);
	if (out->body == NULL)
		return -1;
	memcpy(out->body, hend + 4, bodylen);
	out->body[bodylen] = '\0';
	out->body_len = bodylen;
	return 0;
}

int
rg_client_send(const char *host, int port, const char *raw, size_t len,
               struct rg_client_resp *out, char *err, size_t errlen)
{
	size_t cap = 65536, got = 0, off = 0;
	char *buf;
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	fd = rg_client_connect(host, port, err, errlen);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = send(fd, raw + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* The gateway may refuse early (oversized body) and close:
			 * its answer is still worth reading. */
			break;
		}
		off += (size_t)w;
	}
	buf = malloc(cap);
	if (buf == NULL)
		goto out;
	for (;;) {
		ssize_t r;

		if (got + 1 == cap) {
			char *nb;
			if (cap >= RG_CLIENT_MAXRESP)
				break;
			nb = realloc(buf, cap * 2);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + got, cap - got - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	if (rg_client_parse(buf, got, out) != 0)
		snprintf(err, errlen, "no valid HTTP response (%zu bytes)", got);
	else
		rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}
