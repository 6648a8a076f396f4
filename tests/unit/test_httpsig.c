/*
 * test_httpsig.c -- RFC 9421 signatures and RFC 9530 digests: the RFC's own
 * ed25519 example (appendix B.2.6, tests/data/rfc9421) byte for byte, round
 * trips, tampering, and strict refusal of malformed fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/httpsig.h"
#include "crypto/sig.h"
#include "tests/test.h"

/* ---- A request for the tests. ----------------------------------------- */

struct rg_t_req {
	const char *name[8];
	const char *value[8];
	size_t n;
};

static const char *
rg_t_header(void *ctx, const char *lname)
{
	struct rg_t_req *r = ctx;

	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->name[i], lname) == 0)
			return r->value[i];
	return NULL;
}

static void
rg_t_add(struct rg_t_req *r, const char *name, const char *value)
{
	CHECK(r->n < 8);
	r->name[r->n] = name;
	r->value[r->n++] = value;
}

/* ---- RFC 9421 appendix B.2.6. ----------------------------------------- */

struct rg_t_b26 {
	char *buf;
	uint8_t seed[RG_SIG_SEEDLEN], pub[RG_SIG_PUBLEN], sig[RG_SIG_LEN];
	char base[1024];
	const char *input, *signature;
	struct rg_t_req req;
	struct rg_httpsig_msg msg;
};

static void
rg_t_b64(const char *s, uint8_t *out, size_t want)
{
	size_t len = 0;

	CHECK(sodium_base642bin(out, want, s, strlen(s), NULL, &len, NULL,
	                        sodium_base64_VARIANT_ORIGINAL) == 0);
	CHECK_EQ_INT(len, want);
}

static void
rg_t_load_b26(struct rg_t_b26 *t)
{
	char path[512], *line[16], *p, *nl, *sig;
	size_t n = 0, off = 0;
	FILE *f;
	long sz;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/rfc9421/b26-ed25519.txt", rg_test_data());
	CHECKF((f = fopen(path, "rb")) != NULL, "cannot open %s", path);
	CHECK(fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) > 0);
	CHECK(fseek(f, 0, SEEK_SET) == 0);
	CHECK((t->buf = calloc(1, (size_t)sz + 1)) != NULL);
	CHECK(fread(t->buf, 1, (size_t)sz, f) == (size_t)sz);
	fclose(f);
	for (p = t->buf; *p != '\0'; p = nl + 1) {
		CHECK((nl = strchr(p, '\n')) != NULL);
		*nl = '\0';
		if (p[0] != '#') {
			CHECK(n < 16);
			line[n++] = p;
		}
	}
	/* seed, public key, 7 base lines, Signature-Input, Signature */
	CHECK_EQ_INT(n, 11);
	rg_t_b64(line[0], t->seed, sizeof(t->seed));
	rg_t_b64(line[1], t->pub, sizeof(t->pub));
	for (size_t i = 2; i < 9; i++) {
		int w = snprintf(t->base + off, sizeof(t->base) - off, "%s%s",
		                 line[i], i < 8 ? "\n" : "");
		CHECK(w > 0 && (size_t)w < sizeof(t->base) - off);
		off += (size_t)w;
	}
	CHECK(strncmp(line[9], "Signature-Input: ", 17) == 0);
	t->input = line[9] + 17;
	CHECK(strncmp(line[10], "Signature: ", 11) == 0);
	t->signature = line[10] + 11;
	/* sig-b26=:<base64>: */
	CHECK((sig = strchr(t->signature, ':')) != NULL);
	{
		char b64[128];
		size_t bl = strlen(sig + 1);

		CHECK(bl > 1 && bl < sizeof(b64) && sig[bl] == ':');
		memcpy(b64, sig + 1, bl - 1);
		b64[bl - 1] = '\0';
		rg_t_b64(b64, t->sig, sizeof(t->sig));
	}
	rg_t_add(&t->req, "date", "Tue, 20 Apr 2021 02:07:55 GMT");
	rg_t_add(&t->req, "content-type", "application/json");
	rg_t_add(&t->req, "content-digest",
	         "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:");
	rg_t_add(&t->req, "content-length", "18");
	t->msg = (struct rg_httpsig_msg){"POST", "/foo", "param=Value&Pet=dog",
	                                 "example.com", rg_t_header, &t->req};
}

TEST(httpsig_rfc9421_b26_base_matches_byte_for_byte)
{
	struct rg_t_b26 t;
	rg_httpsig *hs;
	char *base;
	size_t len;

	rg_t_load_b26(&t);
	CHECK_EQ_INT(rg_httpsig_parse(t.input, t.signature, &hs), RG_HTTPSIG_OK);
	CHECK_EQ_INT(rg_httpsig_base(hs, &t.msg, &base, &len), RG_HTTPSIG_OK);
	CHECK_EQ_INT(len, strlen(t.base));
	CHECK_EQ_STR(base, t.base);
	free(base);
	rg_httpsig_free(hs);
	free(t.buf);
}

TEST(httpsig_rfc9421_b26_parameters_are_exposed)
{
	struct rg_t_b26 t;
	rg_httpsig *hs;
	int64_t v = 0;
	const uint8_t *sig;
	size_t len;

	rg_t_load_b26(&t);
	CHECK_EQ_INT(rg_httpsig_parse(t.input, t.signature, &hs), RG_HTTPSIG_OK);
	CHECK_EQ_STR(rg_httpsig_label(hs), "sig-b26");
	CHECK_EQ_STR(rg_httpsig_keyid(hs), "test-key-ed25519");
	CHECK(rg_httpsig_alg(hs) == NULL);
	CHECK(rg_httpsig_nonce(hs) == NULL);
	CHECK_EQ_INT(rg_httpsig_created(hs, &v), 1);
	CHECK_EQ_INT(v, 1618884473);
	CHECK_EQ_INT(rg_httpsig_expires(hs, &v), 0);
	CHECK(rg_httpsig_covers(hs, "@authority"));
	CHECK(rg_httpsig_covers(hs, "content-length"));
	CHECK(!rg_httpsig_covers(hs, "@query"));
	CHECK(!rg_httpsig_covers(hs, "content-digest"));
	sig = rg_httpsig_signature(hs, &len);
	CHECK_EQ_INT(len, RG_SIG_LEN);
	CHECK(memcmp(sig, t.sig, RG_SIG_LEN) == 0);
	rg_httpsig_free(hs);
	free(t.buf);
}

TEST(httpsig_rfc9421_b26_signature_verifies_with_test_key)
{
	struct rg_t_b26 t;
	rg_httpsig *hs;
	uint8_t other[RG_SIG_PUBLEN];

	rg_t_load_b26(&t);
	CHECK_EQ_INT(rg_httpsig_parse(t.input, t.signature, &hs), RG_HTTPSIG_OK);
	CHECK_EQ_INT(rg_httpsig_verify(hs, &t.msg, t.pub), 0);
	memcpy(other, t.pub, sizeof(other));
	other[31] ^= 0x01;
	CHECK_EQ_INT(rg_httpsig_verify(hs, &t.msg, other), -1);
	rg_httpsig_free(hs);
	free(t.buf);
}

TEST(httpsig_rfc9421_b26_signing_with_seed_gives_rfc_signature)
{
	struct rg_t_b26 t;
	rg_sigkey *key;
	uint8_t sig[RG_SIG_LEN];

	rg_t_load_b26(&t);
	CHECK((key = rg_sigkey_from_seed(t.seed)) != NULL);
	CHECK_EQ_INT(rg_sig_sign(key, (const uint8_t *)t.base, strlen(t.base),
	                         sig), 0);
	CHECK(memcmp(sig, t.sig, RG_SIG_LEN) == 0);
	rg_sigkey_free(key);
	free(t.buf);
}

/* ---- Our own signing. -------------------------------------------------- */

static const char *const rg_t_comps[] = {"@method", "@authority", "@path",
                                         "@query", "content-digest",
                                         "recgate-purpose"};
#define RG_T_NCOMPS (sizeof(rg_t_comps) / sizeof(rg_t_comps[0]))

struct rg_t_signed {
	rg_sigkey *key;
	uint8_t pub[RG_SIG_PUBLEN];
	struct rg_t_req req;
	struct rg_httpsig_msg msg;
	char *input, *signature;
};

static void
rg_t_sign(struct rg_t_signed *s)
{
	memset(s, 0, sizeof(*s));
	CHECK((s->key = rg_sigkey_generate()) != NULL);
	rg_sigkey_public(s->key, s->pub);
	rg_t_add(&s->req, "content-digest",
	         "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
	rg_t_add(&s->req, "recgate-purpose", " work-injury claim 2024-17 ");
	s->msg = (struct rg_httpsig_msg){"POST", "/v1/resources/hrss.injury/records",
	                                 "dry=1", "gw.example.gov", rg_t_header,
	                                 &s->req};
	CHECK_EQ_INT(rg_httpsig_sign(s->key, "hrss-2024", &s->msg, rg_t_comps,
	                             RG_T_NCOMPS, 1700000000, 1700000300,
	                             "n-0001", &s->input, &s->signature),
	             RG_HTTPSIG_OK);
}

static void
rg_t_signed_free(struct rg_t_signed *s)
{
	free(s->input);
	free(s->signature);
	rg_sigkey_free(s->key);
}

/* Parse s and verify it against msg. */
static int
rg_t_verify(const struct rg_t_signed *s, const struct rg_httpsig_msg *msg)
{
	rg_httpsig *hs;
	int r;

	CHECK_EQ_INT(rg_httpsig_parse(s->input, s->signature, &hs), RG_HTTPSIG_OK);
	r = rg_httpsig_verify(hs, msg, s->pub);
	rg_httpsig_free(hs);
	return r;
}

TEST(httpsig_sign_writes_rfc9421_fields_in_fixed_order)
{
	struct rg_t_signed s;

	rg_t_sign(&s);
	CHECK_EQ_STR(s.input,
	             "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\" "
	             "\"content-digest\" \"recgate-purpose\");created=1700000000;"
	             "expires=1700000300;nonce=\"n-0001\";keyid=\"hrss-2024\";"
	             "alg=\"ed25519\"");
	CHECK(strncmp(s.signature, "sig1=:", 6) == 0);
	CHECK_EQ_INT(strlen(s.signature), 6 + 88 + 1);
	CHECK(s.signature[strlen(s.signature) - 1] == ':');
	rg_t_signed_free(&s);
}

TEST(httpsig_sign_then_verify_round_trips)
{
	struct rg_t_signed s;
	rg_httpsig *hs;
	char *base;
	int64_t v;

	rg_t_sign(&s);
	CHECK_EQ_INT(rg_t_verify(&s, &s.msg), 0);
	CHECK_EQ_INT(rg_httpsig_parse(s.input, s.signature, &hs), RG_HTTPSIG_OK);
	CHECK_EQ_STR(rg_httpsig_label(hs), "sig1");
	CHECK_EQ_STR(rg_httpsig_keyid(hs), "hrss-2024");
	CHECK_EQ_STR(rg_httpsig_alg(hs), "ed25519");
	CHECK_EQ_STR(rg_httpsig_nonce(hs), "n-0001");
	CHECK(rg_httpsig_created(hs, &v) == 1 && v == 1700000000);
	CHECK(rg_httpsig_expires(hs, &v) == 1 && v == 1700000300);
	CHECK_EQ_INT(rg_httpsig_base(hs, &s.msg, &base, NULL), RG_HTTPSIG_OK);
	CHECK_EQ_STR(base,
	             "\"@method\": POST\n"
	             "\"@authority\": gw.example.gov\n"
	             "\"@path\": /v1/resources/hrss.injury/records\n"
	             "\"@query\": ?dry=1\n"
	             "\"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n"
	             "\"recgate-purpose\": work-injury claim 2024-17\n"
	             "\"@signature-params\": (\"@method\" \"@authority\" \"@path\" "
	             "\"@query\" \"content-digest\" \"recgate-purpose\");"
	             "created=1700000000;expires=1700000300;nonce=\"n-0001\";"
	             "keyid=\"hrss-2024\";alg=\"ed25519\"");
	free(base);
	rg_httpsig_free(hs);
	rg_t_signed_free(&s);
}

TEST(httpsig_sign_omits_expires_zero_and_null_nonce)
{
	rg_sigkey *key;
	struct rg_httpsig_msg msg = {"GET", "/v1/catalogue", NULL, NULL, NULL, NULL};
	const char *comps[] = {"@method", "@path", "@query"};
	char *in, *sig;
	rg_httpsig *hs;
	uint8_t pub[RG_SIG_PUBLEN];
	int64_t v;

	CHECK((key = rg_sigkey_generate()) != NULL);
	rg_sigkey_public(key, pub);
	CHECK_EQ_INT(rg_httpsig_sign(key, "k", &msg, comps, 3, 5, 0, NULL, &in,
	                             &sig), RG_HTTPSIG_OK);
	CHECK_EQ_STR(in, "sig1=(\"@method\" \"@path\" \"@query\");created=5;"
	                 "keyid=\"k\";alg=\"ed25519\"");
	CHECK_EQ_INT(rg_httpsig_parse(in, sig, &hs), RG_HTTPSIG_OK);
	CHECK_EQ_INT(rg_httpsig_expires(hs, &v), 0);
	CHECK(rg_httpsig_nonce(hs) == NULL);
	CHECK_EQ_INT(rg_httpsig_verify(hs, &msg, pub), 0);
	rg_httpsig_free(hs);
	free(in);
	free(sig);
	rg_sigkey_free(key);
}

TEST(httpsig_absent_query_is_a_lone_question_mark)
{
	struct rg_httpsig_msg msg = {"GET", "", NULL, "Gw.Example.GOV", NULL, NULL};
	rg_httpsig *hs;
	char *base;

	CHECK_EQ_INT(rg_httpsig_parse("a=(\"@query\" \"@path\" \"@authority\");created=1",
	                              "a=::", &hs), RG_HTTPSIG_OK);
	CHECK_EQ_INT(rg_httpsig_base(hs, &msg, &base, NULL), RG_HTTPSIG_OK);
	/* Empty path is "/", authority in lower case (RFC 9421 2.2.3, 2.2.6). */
	CHECK_EQ_STR(base, "\"@query\": ?\n\"@path\": /\n\"@authority\": gw.example.gov\n"
	                   "\"@signature-params\": (\"@query\" \"@path\" \"@authority\");created=1");
	free(base);
	rg_httpsig_free(hs);
}

TEST(httpsig_verify_refuses_tampered_method)
{
	struct rg_t_signed s;
	struct rg_httpsig_msg m;

	rg_t_sign(&s);
	m = s.msg;
	m.method = "PUT";
	CHECK_EQ_INT(rg_t_verify(&s, &m), -1);
	rg_t_signed_free(&s);
}

TEST(httpsig_verify_refuses_tampered_path)
{
	struct rg_t_signed s;
	struct rg_httpsig_msg m;

	rg_t_sign(&s);
	m = s.msg;
	m.path = "/v1/resources/civil.assistance/records";
	CHECK_EQ_INT(rg_t_verify(&s, &m), -1);
	rg_t_signed_free(&s);
}

TEST(httpsig_verify_refuses_tampered_or_dropped_query)
{
	struct rg_t_signed s;
	struct rg_httpsig_msg m;

	rg_t_sign(&s);
	m = s.msg;
	m.query = "dry=0";
	CHECK_EQ_INT(rg_t_verify(&s, &m), -1);
	m.query = NULL;
	CHECK_EQ_INT(rg_t_verify(&s, &m), -1);
	m.query = "";
	CHECK_EQ_INT(rg_t_verify(&s, &m), -1);
	rg_t_signed_free(&s);
}

TEST(httpsig_verify_refuses_tampered_authority)
{
	struct rg_t_signed s;
	struct rg_httpsig_msg m;

	rg_t_sign(&s);
	m = s.msg;
	m.authority = "evil.example";
	CHECK_EQ_INT(rg_t_verify(&s, &m), -1);
	/* Case does not matter: the base uses lower case. */
	m.authority = "GW.example.gov";
	CHECK_EQ_INT(rg_t_verify(&s, &m), 0);
	rg_t_signed_free(&s);
}

TEST(httpsig_verify_refuses_tampered_or_missing_header)
{
	struct rg_t_signed s;
	struct rg_t_req req;
	struct rg_httpsig_msg m;

	rg_t_sign(&s);
	req = s.req;
	req.value[1] = "marketing";
	m = s.msg;
	m.ctx = &req;
	CHECK_EQ_INT(rg_t_verify(&s, &m), -1);
	/* Surrounding white space is not part of the value. */
	req.value[1] = "work-injury claim 2024-17";
	CHECK_EQ_INT(rg_t_verify(&s, &m), 0);
	req.n = 1;
	CHECK_EQ_INT(rg_t_verify(&s, &m), -1);
	rg_t_signed_free(&s);
}

TEST(httpsig_verify_refuses_tampered_signature_and_other_alg)
{
	struct rg_t_signed s;
	char *p;

	rg_t_sign(&s);
	/* Change one base64 character of the signature. */
	p = s.signature + 10;
	*p = *p == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(rg_t_verify(&s, &s.msg), -1);
	rg_t_signed_free(&s);

	rg_t_sign(&s);
	CHECK((p = strstr(s.input, "alg=\"ed25519\"")) != NULL);
	memcpy(p, "alg=\"ed25518\"", 13);
	CHECK_EQ_INT(rg_t_verify(&s, &s.msg), -1);
	rg_t_signed_free(&s);
}

TEST(httpsig_absent_covered_component_is_component_error)
{
	struct rg_httpsig_msg msg = {"GET", "/", NULL, NULL, rg_t_header, NULL};
	struct rg_t_req req = {.n = 0};
	rg_httpsig *hs;
	char *base = (char *)"x";

	msg.ctx = &req;
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\" \"recgate-purpose\")", "s=::", &hs),
	             RG_HTTPSIG_OK);
	CHECK_EQ_INT(rg_httpsig_base(hs, &msg, &base, NULL), RG_HTTPSIG_COMPONENT);
	CHECK(base == NULL);
	rg_httpsig_free(hs);
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@authority\")", "s=::", &hs), RG_HTTPSIG_OK);
	CHECK_EQ_INT(rg_httpsig_base(hs, &msg, &base, NULL), RG_HTTPSIG_COMPONENT);
	rg_httpsig_free(hs);
}

TEST(httpsig_unknown_derived_component_is_component_error)
{
	rg_httpsig *hs = (rg_httpsig *)1;
	rg_sigkey *key;
	struct rg_httpsig_msg msg = {"GET", "/", NULL, NULL, NULL, NULL};
	const char *comps[] = {"@method", "@foo"};
	char *in = NULL, *sig = NULL;

	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\" \"@foo\");created=1", "s=::", &hs),
	             RG_HTTPSIG_COMPONENT);
	CHECK(hs == NULL);
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@signature-params\")", "s=::", &hs),
	             RG_HTTPSIG_COMPONENT);
	CHECK((key = rg_sigkey_generate()) != NULL);
	CHECK_EQ_INT(rg_httpsig_sign(key, "k", &msg, comps, 2, 1, 0, NULL, &in, &sig),
	             RG_HTTPSIG_COMPONENT);
	CHECK(in == NULL && sig == NULL);
	rg_sigkey_free(key);
}

TEST(httpsig_missing_fields_are_missing)
{
	rg_httpsig *hs;

	CHECK_EQ_INT(rg_httpsig_parse(NULL, "s=::", &hs), RG_HTTPSIG_MISSING);
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\")", NULL, &hs), RG_HTTPSIG_MISSING);
	CHECK_EQ_INT(rg_httpsig_parse("  ", "s=::", &hs), RG_HTTPSIG_MISSING);
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\")", "", &hs), RG_HTTPSIG_MISSING);
}

TEST(httpsig_parse_refuses_signature_without_the_label)
{
	rg_httpsig *hs;

	CHECK_EQ_INT(rg_httpsig_parse("sig1=(\"@method\");created=1",
	                              "sig2=:AAAA:", &hs), RG_HTTPSIG_MALFORMED);
	/* A label that is only a bare key has no byte sequence. */
	CHECK_EQ_INT(rg_httpsig_parse("sig1=(\"@method\");created=1", "sig1", &hs),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse("sig1=(\"@method\");created=1",
	                              "sig1=\"AAAA\"", &hs), RG_HTTPSIG_MALFORMED);
}

TEST(httpsig_parse_refuses_bad_base64)
{
	rg_httpsig *hs;
	const char *in = "sig1=(\"@method\");created=1";

	CHECK_EQ_INT(rg_httpsig_parse(in, "sig1=:AAA:", &hs), RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse(in, "sig1=:AA!A:", &hs), RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse(in, "sig1=:A===:", &hs), RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse(in, "sig1=:AAAA", &hs), RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse(in, "sig1=:QUJD:", &hs), RG_HTTPSIG_OK);
	rg_httpsig_free(hs);
}

TEST(httpsig_parse_refuses_unterminated_string)
{
	rg_httpsig *hs;

	CHECK_EQ_INT(rg_httpsig_parse("sig1=(\"@method", "sig1=::", &hs),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse("sig1=(\"@method\");keyid=\"abc", "sig1=::", &hs),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse("sig1=(\"@method\"", "sig1=::", &hs),
	             RG_HTTPSIG_MALFORMED);
	/* Escapes other than \" and \\ are not RFC 8941 strings. */
	CHECK_EQ_INT(rg_httpsig_parse("sig1=(\"@method\");keyid=\"a\\nb\"", "sig1=::", &hs),
	             RG_HTTPSIG_MALFORMED);
}

static char *
rg_t_input_with(size_t ncomp)
{
	size_t cap = 64 + ncomp * 16, off;
	char *s = malloc(cap);
	int w;

	CHECK(s != NULL);
	w = snprintf(s, cap, "sig1=(");
	off = (size_t)w;
	for (size_t i = 0; i < ncomp; i++) {
		w = snprintf(s + off, cap - off, "%s\"x-h%zu\"", i ? " " : "", i);
		CHECK(w > 0 && (size_t)w < cap - off);
		off += (size_t)w;
	}
	w = snprintf(s + off, cap - off, ");created=1");
	CHECK(w > 0 && (size_t)w < cap - off);
	return s;
}

TEST(httpsig_parse_refuses_more_than_32_components)
{
	rg_httpsig *hs;
	char *s;

	s = rg_t_input_with(32);
	CHECK_EQ_INT(rg_httpsig_parse(s, "sig1=::", &hs), RG_HTTPSIG_OK);
	CHECK(rg_httpsig_covers(hs, "x-h31"));
	rg_httpsig_free(hs);
	free(s);
	s = rg_t_input_with(33);
	CHECK_EQ_INT(rg_httpsig_parse(s, "sig1=::", &hs), RG_HTTPSIG_MALFORMED);
	free(s);
	s = rg_t_input_with(2000);
	CHECK_EQ_INT(rg_httpsig_parse(s, "sig1=::", &hs), RG_HTTPSIG_MALFORMED);
	free(s);
}

TEST(httpsig_parse_refuses_parameter_longer_than_256)
{
	char in[600], v[300];
	rg_httpsig *hs;

	memset(v, 'k', 256);
	v[256] = '\0';
	snprintf(in, sizeof(in), "sig1=(\"@method\");keyid=\"%s\"", v);
	CHECK_EQ_INT(rg_httpsig_parse(in, "sig1=::", &hs), RG_HTTPSIG_OK);
	CHECK_EQ_INT(strlen(rg_httpsig_keyid(hs)), 256);
	rg_httpsig_free(hs);
	v[256] = 'k';
	v[257] = '\0';
	snprintf(in, sizeof(in), "sig1=(\"@method\");keyid=\"%s\"", v);
	CHECK_EQ_INT(rg_httpsig_parse(in, "sig1=::", &hs), RG_HTTPSIG_MALFORMED);
}

TEST(httpsig_parse_refuses_duplicates)
{
	rg_httpsig *hs;

	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\" \"@method\")", "s=::", &hs),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\");created=1;created=2", "s=::", &hs),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\");keyid=\"a\";keyid=\"b\"", "s=::", &hs),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\"), s=(\"@path\")", "s=::", &hs),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"@method\")", "s=::, s=:AAAA:", &hs),
	             RG_HTTPSIG_MALFORMED);
}

TEST(httpsig_parse_refuses_malformed_inner_lists_and_parameters)
{
	static const char *const bad[] = {
		"s=(@method)",                       /* token, not a string */
		"s=(\"content-type\";sf)",           /* component parameters */
		"s=(\"content-type\";key=\"a\")",
		"s=(\"Content-Type\")",              /* field names are lower case */
		"s=(\"\")",
		"s=(\"a b\")",
		"s=\"@method\"",                     /* not an inner list */
		"s",
		"s=(\"@method\");created=\"1\"",      /* wrong parameter types */
		"s=(\"@method\");keyid=1",
		"s=(\"@method\");created=1.5",
		"s=(\"@method\");foo=1",             /* unknown parameter */
		"s=(\"@method\")garbage",
		"s=(\"@method\"),",                  /* trailing comma */
		"s=(\"@method\")\"@path\")",
		"s=(\"@method\"\"@path\")",          /* no space between items */
		"S=(\"@method\")",                   /* keys are lower case */
		"=(\"@method\")",
		"s=(\"@method\");created=1234567890123456",
		"s=(\"@m\x01\")",
	};
	rg_httpsig *hs;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(rg_httpsig_parse(bad[i], "s=::", &hs) == RG_HTTPSIG_MALFORMED,
		       "accepted %s", bad[i]);
}

TEST(httpsig_parse_reserialises_parameters_in_order_received)
{
	struct rg_httpsig_msg msg = {"GET", "/", NULL, NULL, NULL, NULL};
	rg_httpsig *hs;
	char *base;

	CHECK_EQ_INT(rg_httpsig_parse(" s=(  \"@method\"   \"@path\" );keyid=\"a\\\"b\";"
	                              "tag=\"t\";created=-1 , other=?1;x=2 ",
	                              "other=(1 2), s=:AAAA:;", &hs),
	             RG_HTTPSIG_MALFORMED); /* parameters on our Signature member */
	CHECK_EQ_INT(rg_httpsig_parse(" s=(  \"@method\"   \"@path\" );keyid=\"a\\\"b\";"
	                              "tag=\"t\";created=-1 , other=?1;x=2 ",
	                              "other=(1 2), s=:AAAA:", &hs),
	             RG_HTTPSIG_OK);
	CHECK_EQ_STR(rg_httpsig_keyid(hs), "a\"b");
	CHECK_EQ_INT(rg_httpsig_base(hs, &msg, &base, NULL), RG_HTTPSIG_OK);
	CHECK_EQ_STR(base, "\"@method\": GET\n\"@path\": /\n\"@signature-params\": "
	                   "(\"@method\" \"@path\");keyid=\"a\\\"b\";tag=\"t\";created=-1");
	free(base);
	rg_httpsig_free(hs);
}

TEST(httpsig_uses_first_signature_when_several)
{
	struct rg_t_signed s;
	char in[2048], sig[512];
	rg_httpsig *hs;

	rg_t_sign(&s);
	snprintf(in, sizeof(in), "%s, proxy=(\"@method\");created=2", s.input);
	snprintf(sig, sizeof(sig), "proxy=:AAAA:, %s", s.signature);
	CHECK_EQ_INT(rg_httpsig_parse(in, sig, &hs), RG_HTTPSIG_OK);
	CHECK_EQ_STR(rg_httpsig_label(hs), "sig1");
	CHECK_EQ_INT(rg_httpsig_verify(hs, &s.msg, s.pub), 0);
	rg_httpsig_free(hs);
	/* The other order makes "proxy" the one checked, and it fails. */
	snprintf(in, sizeof(in), "proxy=(\"@method\");created=2, %s", s.input);
	CHECK_EQ_INT(rg_httpsig_parse(in, sig, &hs), RG_HTTPSIG_OK);
	CHECK_EQ_STR(rg_httpsig_label(hs), "proxy");
	CHECK_EQ_INT(rg_httpsig_verify(hs, &s.msg, s.pub), -1);
	rg_httpsig_free(hs);
	rg_t_signed_free(&s);
}

TEST(httpsig_header_value_with_line_break_cannot_forge_base)
{
	struct rg_httpsig_msg msg = {"GET", "/", NULL, NULL, rg_t_header, NULL};
	struct rg_t_req req = {.n = 0};
	rg_httpsig *hs;
	char *base;

	rg_t_add(&req, "x-a", "1\n\"@method\": POST");
	msg.ctx = &req;
	CHECK_EQ_INT(rg_httpsig_parse("s=(\"x-a\")", "s=::", &hs), RG_HTTPSIG_OK);
	CHECK(rg_httpsig_base(hs, &msg, &base, NULL) != RG_HTTPSIG_OK);
	rg_httpsig_free(hs);
}

TEST(httpsig_sign_refuses_bad_arguments)
{
	rg_sigkey *key;
	struct rg_httpsig_msg msg = {"GET", "/", NULL, NULL, NULL, NULL};
	const char *dup[] = {"@method", "@method"};
	const char *upper[] = {"Host"};
	const char *many[33];
	char *in, *sig;

	for (size_t i = 0; i < 33; i++)
		many[i] = "@method";
	CHECK((key = rg_sigkey_generate()) != NULL);
	CHECK_EQ_INT(rg_httpsig_sign(key, "k", &msg, dup, 2, 1, 0, NULL, &in, &sig),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_sign(key, "k", &msg, upper, 1, 1, 0, NULL, &in, &sig),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_sign(key, "k", &msg, many, 33, 1, 0, NULL, &in, &sig),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_sign(key, "k\n", &msg, dup, 1, 1, 0, NULL, &in, &sig),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_sign(key, NULL, &msg, dup, 1, 1, 0, NULL, &in, &sig),
	             RG_HTTPSIG_MALFORMED);
	CHECK_EQ_INT(rg_httpsig_sign(key, "k", &msg, dup, 1, -1, 0, NULL, &in, &sig),
	             RG_HTTPSIG_MALFORMED);
	rg_sigkey_free(key);
}

/* ---- RFC 9530 Content-Digest. ------------------------------------------ */

/*
 * {"hello": "world"}: RFC 9421's example body (no newline, digest as in its
 * section 2.1) and RFC 9530 appendix B.1's (with a final newline).
 */
static const char rg_t_body[] = "{\"hello\": \"world\"}";
#define RG_T_BODY_DIGEST "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
static const char rg_t_body_nl[] = "{\"hello\": \"world\"}\n";
#define RG_T_BODY_NL_DIGEST "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"

TEST(content_digest_matches_rfc_examples)
{
	char *d;

	CHECK((d = rg_content_digest((const uint8_t *)rg_t_body,
	                             sizeof(rg_t_body) - 1)) != NULL);
	CHECK_EQ_STR(d, RG_T_BODY_DIGEST);
	CHECK_EQ_INT(rg_content_digest_check(d, (const uint8_t *)rg_t_body,
	                                     sizeof(rg_t_body) - 1), 0);
	free(d);
	CHECK((d = rg_content_digest((const uint8_t *)rg_t_body_nl,
	                             sizeof(rg_t_body_nl) - 1)) != NULL);
	CHECK_EQ_STR(d, RG_T_BODY_NL_DIGEST);
	free(d);
	/* Alongside other algorithms, which are ignored. */
	CHECK_EQ_INT(rg_content_digest_check(
	                 "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+Ab"
	                 "wAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:, " RG_T_BODY_DIGEST,
	                 (const uint8_t *)rg_t_body, sizeof(rg_t_body) - 1), 0);
}

TEST(content_digest_mismatch_is_refused)
{
	CHECK_EQ_INT(rg_content_digest_check(RG_T_BODY_DIGEST,
	                                     (const uint8_t *)rg_t_body_nl,
	                                     sizeof(rg_t_body_nl) - 1), -1);
	CHECK_EQ_INT(rg_content_digest_check(RG_T_BODY_NL_DIGEST,
	                                     (const uint8_t *)rg_t_body,
	                                     sizeof(rg_t_body) - 1), -1);
	CHECK_EQ_INT(rg_content_digest_check(RG_T_BODY_DIGEST, NULL, 0), -1);
}

TEST(content_digest_without_sha256_member_is_reported)
{
	const uint8_t *b = (const uint8_t *)rg_t_body;
	size_t n = sizeof(rg_t_body) - 1;

	CHECK_EQ_INT(rg_content_digest_check(
	                 "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+Ab"
	                 "wAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:", b, n), 1);
	CHECK_EQ_INT(rg_content_digest_check("", b, n), 1);
	CHECK_EQ_INT(rg_content_digest_check("sha-256", b, n), 1);
	CHECK_EQ_INT(rg_content_digest_check("sha-256=\"X48E\"", b, n), 1);
	CHECK_EQ_INT(rg_content_digest_check("sha-256=:AAAA:", b, n), 1);
	CHECK_EQ_INT(rg_content_digest_check(RG_T_BODY_DIGEST ",", b, n), 1);
	CHECK_EQ_INT(rg_content_digest_check(RG_T_BODY_DIGEST " garbage", b, n), 1);
	CHECK_EQ_INT(rg_content_digest_check(RG_T_BODY_DIGEST ", " RG_T_BODY_DIGEST, b, n), 1);
	CHECK_EQ_INT(rg_content_digest_check("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:",
	                                     b, n), 1);
}
