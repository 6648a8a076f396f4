/*
 * fuzz_http_fields.c -- the request fields a department's client writes
 * and recgate parses before any signature is known to be good: the RFC
 * 9421 Signature-Input and Signature pair, and RFC 9530 Content-Digest.
 * What holds: a parsed signature answers every accessor and builds a base
 * that is a C string of the length it says; a Content-Digest check says 0
 * only for a field that carries the body's digest.
 */
#include <stdlib.h>
#include <string.h>


#include "crypto/httpsig.h"
#include "tests/fuzz/fuzz.h"

static const char *
rg_fuzz_header(void *ctx, const char *lname)
{
	(void)ctx;
	if (strcmp(lname, "content-digest") == 0)
		return "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
	if (strcmp(lname, "content-type") == 0)
		return "application/json";
	if (strcmp(lname, "date") == 0)
		return "Tue, 20 Apr 2021 02:07:55 GMT";
	return NULL;
}

/* Signature-Input, a newline, Signature. */
void
rg_fuzz_httpsig(const uint8_t *data, size_t len)
{
	char *in = rg_fuzz_str(data, len), *sig = strchr(in, '\n'), *base = NULL;
	struct rg_httpsig_msg msg = {"POST", "/foo", "param=Value", "example.com",
	                             rg_fuzz_header, NULL};
	static const uint8_t pub[32] = {1};
	rg_httpsig *hs = NULL;
	rg_httpsig_status st;
	size_t slen = 0, blen = 0;
	int64_t v;

	if (sig != NULL)
		*sig++ = '\0';
	st = rg_httpsig_parse(in, sig, &hs);
	RG_FUZZ_ASSERT((st == RG_HTTPSIG_OK) == (hs != NULL));
	if (hs != NULL) {
		rg_fuzz_accepted++;
		RG_FUZZ_ASSERT(rg_httpsig_label(hs) != NULL);
		(void)rg_httpsig_keyid(hs);
		(void)rg_httpsig_alg(hs);
		(void)rg_httpsig_nonce(hs);
		(void)rg_httpsig_created(hs, &v);
		(void)rg_httpsig_expires(hs, &v);
		(void)rg_httpsig_covers(hs, "@method");
		RG_FUZZ_ASSERT(rg_httpsig_signature(hs, &slen) != NULL || slen == 0);
		if (rg_httpsig_base(hs, &msg, &base, &blen) == RG_HTTPSIG_OK) {
			RG_FUZZ_ASSERT(base != NULL && strlen(base) == blen);
			free(base);
		}
		/* No key signed any of this. */
		RG_FUZZ_ASSERT(rg_httpsig_verify(hs, &msg, pub) != 0);
		rg_httpsig_free(hs);
	}
	free(in);
}

void
rg_fuzz_httpsig_seeds(rg_fuzz_emit emit, void *ctx)
{
	static const char *const s[] = {
	    /* RFC 9421 B.2.6 */
	    "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" "
	    "\"content-type\" \"content-length\");created=1618884473;"
	    "keyid=\"test-key-ed25519\"\n"
	    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9"
	    "EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
	    /* recgate's clients */
	    "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\" "
	    "\"content-digest\" \"content-type\");created=1700000000;"
	    "expires=1700000300;nonce=\"bm9uY2U\";keyid=\"health-1\";"
	    "alg=\"ed25519\"\n"
	    "sig1=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAA==:",
	    /* two signatures, the first label chosen */
	    ("a=(\"@method\");created=1, b=(\"@path\");created=2\n"
	     "b=:AA==:, a=:AA==:"),
	};

	rg_fuzz_emit_all(emit, ctx, s, sizeof(s) / sizeof(s[0]));
}

/* The field value; the body is always {"hello": "world"}. */
void
rg_fuzz_content_digest(const uint8_t *data, size_t len)
{
	static const char body[] = "{\"hello\": \"world\"}";
	char *field = rg_fuzz_str(data, len);
	int rc = rg_content_digest_check(field, (const uint8_t *)body,
	                                 sizeof(body) - 1);

	RG_FUZZ_ASSERT(rc == -1 || rc == 0 || rc == 1);
	rg_fuzz_accepted += rc == 0;
	if (rc == 0)
		RG_FUZZ_ASSERT(strstr(field, "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7"
		                      "kbu9DBPE=") != NULL);
	free(field);
}

void
rg_fuzz_content_digest_seeds(rg_fuzz_emit emit, void *ctx)
{
	static const char *const s[] = {
	    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
	    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrI"
	    "iYllu7BNNyealdVLvRwEmTHWXvJwew==:, "
	    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
	    "sha-256=:AAAA:;q=1, md5=?0",
	};

	rg_fuzz_emit_all(emit, ctx, s, sizeof(s) / sizeof(s[0]));
}
