/*
 * test_sig.c -- Ed25519 keys: signing, verification, seeds, and the C2SP
 * signed-note key id, checked against the signed-note specification's own
 * example (tests/data/c2sp) and the RFC 9421 test key (tests/data/rfc9421).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/sig.h"
#include "tests/test.h"

/* Non-comment lines of a test data file, in order, without their '\n'. */
#define RG_T_MAXLINES 16
struct rg_t_lines {
	char *buf;
	char *line[RG_T_MAXLINES];
	size_t n;
};

static void
rg_t_read_lines(const char *name, struct rg_t_lines *l)
{
	char path[512];
	FILE *f;
	long sz;
	char *p, *nl;

	snprintf(path, sizeof(path), "%s/%s", rg_test_data(), name);
	CHECKF((f = fopen(path, "rb")) != NULL, "cannot open %s", path);
	CHECK(fseek(f, 0, SEEK_END) == 0);
	CHECK((sz = ftell(f)) > 0);
	CHECK(fseek(f, 0, SEEK_SET) == 0);
	CHECK((l->buf = calloc(1, (size_t)sz + 1)) != NULL);
	CHECK(fread(l->buf, 1, (size_t)sz, f) == (size_t)sz);
	fclose(f);
	l->n = 0;
	for (p = l->buf; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		CHECK(nl != NULL);
		*nl = '\0';
		if (p[0] != '#') {
			CHECK(l->n < RG_T_MAXLINES);
			l->line[l->n++] = p;
		}
	}
}

static size_t
rg_t_b64(const char *s, uint8_t *out, size_t cap)
{
	size_t len = 0;

	CHECKF(sodium_base642bin(out, cap, s, strlen(s), NULL, &len, NULL,
	                         sodium_base64_VARIANT_ORIGINAL) == 0,
	       "bad base64 %s", s);
	return len;
}

/* The verifier key "name+hexid+base64(0x01 || pub)". */
static void
rg_t_c2sp_vkey(const struct rg_t_lines *l, char *name, size_t namecap,
               uint32_t *id, uint8_t pub[RG_SIG_PUBLEN])
{
	char *plus1, *plus2, *end;
	uint8_t raw[64];

	CHECK(l->n >= 4);
	CHECK((plus1 = strchr(l->line[0], '+')) != NULL);
	CHECK((plus2 = strchr(plus1 + 1, '+')) != NULL);
	CHECK((size_t)(plus1 - l->line[0]) < namecap);
	memcpy(name, l->line[0], (size_t)(plus1 - l->line[0]));
	name[plus1 - l->line[0]] = '\0';
	*id = (uint32_t)strtoul(plus1 + 1, &end, 16);
	CHECK(end == plus2);
	CHECK_EQ_INT(rg_t_b64(plus2 + 1, raw, sizeof(raw)), 1 + RG_SIG_PUBLEN);
	CHECK_EQ_INT(raw[0], 0x01);
	memcpy(pub, raw + 1, RG_SIG_PUBLEN);
}

TEST(sig_note_keyid_matches_c2sp_example)
{
	struct rg_t_lines l;
	char name[128];
	uint32_t id;
	uint8_t pub[RG_SIG_PUBLEN];

	rg_t_read_lines("c2sp/signed-note-example.txt", &l);
	rg_t_c2sp_vkey(&l, name, sizeof(name), &id, pub);
	CHECK_EQ_STR(name, "example.com/foo");
	CHECK_EQ_INT(id, 0x530d903aU);
	CHECK_EQ_INT(rg_sig_note_keyid(name, pub), 0x530d903aU);
	/* The name is part of the id: another origin gets another id. */
	CHECK(rg_sig_note_keyid("example.com/bar", pub) != 0x530d903aU);
	free(l.buf);
}

/* The note's signature line: "— name base64(keyid || sig)". */
static void
rg_t_c2sp_sigline(const struct rg_t_lines *l, const char *name, uint32_t *id,
                  uint8_t sig[RG_SIG_LEN])
{
	const char *dash = "\xe2\x80\x94 ";
	const char *s = l->line[3];
	uint8_t raw[4 + RG_SIG_LEN + 8];

	CHECK(strncmp(s, dash, strlen(dash)) == 0);
	s += strlen(dash);
	CHECK(strncmp(s, name, strlen(name)) == 0 && s[strlen(name)] == ' ');
	s += strlen(name) + 1;
	CHECK_EQ_INT(rg_t_b64(s, raw, sizeof(raw)), 4 + RG_SIG_LEN);
	*id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
	      (uint32_t)raw[2] << 8 | raw[3];
	memcpy(sig, raw + 4, RG_SIG_LEN);
}

TEST(sig_verifies_c2sp_signed_note_example)
{
	struct rg_t_lines l;
	char name[128], text[256];
	uint32_t vid, sid;
	uint8_t pub[RG_SIG_PUBLEN], sig[RG_SIG_LEN];
	int n;

	rg_t_read_lines("c2sp/signed-note-example.txt", &l);
	rg_t_c2sp_vkey(&l, name, sizeof(name), &vid, pub);
	/* Note text, then the empty line that ends it. */
	CHECK_EQ_STR(l.line[2], "");
	n = snprintf(text, sizeof(text), "%s\n", l.line[1]);
	CHECK(n > 0 && (size_t)n < sizeof(text));
	CHECK_EQ_STR(text, "This is an example message.\n");
	rg_t_c2sp_sigline(&l, name, &sid, sig);
	CHECK_EQ_INT(sid, vid);
	CHECK_EQ_INT(rg_sig_verify(pub, (const uint8_t *)text, strlen(text), sig), 0);
	free(l.buf);
}

TEST(sig_refuses_c2sp_note_with_altered_text)
{
	struct rg_t_lines l;
	char name[128];
	const char *text = "This is an example message!\n";
	uint32_t vid, sid;
	uint8_t pub[RG_SIG_PUBLEN], sig[RG_SIG_LEN];

	rg_t_read_lines("c2sp/signed-note-example.txt", &l);
	rg_t_c2sp_vkey(&l, name, sizeof(name), &vid, pub);
	rg_t_c2sp_sigline(&l, name, &sid, sig);
	CHECK_EQ_INT(rg_sig_verify(pub, (const uint8_t *)text, strlen(text), sig), -1);
	/* Without the final newline the text is another message. */
	CHECK_EQ_INT(rg_sig_verify(pub, (const uint8_t *)l.line[1],
	                           strlen(l.line[1]), sig), -1);
	free(l.buf);
}

TEST(sig_seed_derives_rfc9421_test_key)
{
	struct rg_t_lines l;
	uint8_t seed[64], pub[64], got[RG_SIG_PUBLEN], back[RG_SIG_SEEDLEN];
	rg_sigkey *key;

	rg_t_read_lines("rfc9421/b26-ed25519.txt", &l);
	CHECK_EQ_INT(rg_t_b64(l.line[0], seed, sizeof(seed)), RG_SIG_SEEDLEN);
	CHECK_EQ_INT(rg_t_b64(l.line[1], pub, sizeof(pub)), RG_SIG_PUBLEN);
	CHECK((key = rg_sigkey_from_seed(seed)) != NULL);
	rg_sigkey_public(key, got);
	CHECK(memcmp(got, pub, RG_SIG_PUBLEN) == 0);
	rg_sigkey_seed(key, back);
	CHECK(memcmp(back, seed, RG_SIG_SEEDLEN) == 0);
	rg_sigkey_free(key);
	free(l.buf);
}

TEST(sig_sign_then_verify_round_trips)
{
	const uint8_t msg[] = "audit checkpoint";
	uint8_t pub[RG_SIG_PUBLEN], sig[RG_SIG_LEN];
	rg_sigkey *key;

	CHECK((key = rg_sigkey_generate()) != NULL);
	rg_sigkey_public(key, pub);
	CHECK_EQ_INT(rg_sig_sign(key, msg, sizeof(msg) - 1, sig), 0);
	CHECK_EQ_INT(rg_sig_verify(pub, msg, sizeof(msg) - 1, sig), 0);
	/* The key stays usable: a second signature over the empty message. */
	CHECK_EQ_INT(rg_sig_sign(key, NULL, 0, sig), 0);
	CHECK_EQ_INT(rg_sig_verify(pub, NULL, 0, sig), 0);
	rg_sigkey_free(key);
}

TEST(sig_refuses_tampered_message_signature_or_key)
{
	uint8_t msg[] = "record 42 version 3";
	uint8_t pub[RG_SIG_PUBLEN], pub2[RG_SIG_PUBLEN], sig[RG_SIG_LEN];
	rg_sigkey *key, *other;

	CHECK((key = rg_sigkey_generate()) != NULL);
	CHECK((other = rg_sigkey_generate()) != NULL);
	rg_sigkey_public(key, pub);
	rg_sigkey_public(other, pub2);
	CHECK(memcmp(pub, pub2, RG_SIG_PUBLEN) != 0);
	CHECK_EQ_INT(rg_sig_sign(key, msg, sizeof(msg) - 1, sig), 0);
	CHECK_EQ_INT(rg_sig_verify(pub2, msg, sizeof(msg) - 1, sig), -1);
	msg[0] ^= 1;
	CHECK_EQ_INT(rg_sig_verify(pub, msg, sizeof(msg) - 1, sig), -1);
	msg[0] ^= 1;
	sig[10] ^= 0x40;
	CHECK_EQ_INT(rg_sig_verify(pub, msg, sizeof(msg) - 1, sig), -1);
	sig[10] ^= 0x40;
	CHECK_EQ_INT(rg_sig_verify(pub, msg, sizeof(msg) - 1, sig), 0);
	rg_sigkey_free(key);
	rg_sigkey_free(other);
	rg_sigkey_free(NULL);
}

TEST(sig_same_seed_gives_same_key_and_signature)
{
	uint8_t seed[RG_SIG_SEEDLEN], p1[RG_SIG_PUBLEN], p2[RG_SIG_PUBLEN];
	uint8_t s1[RG_SIG_LEN], s2[RG_SIG_LEN];
	rg_sigkey *a, *b;

	randombytes_buf(seed, sizeof(seed));
	CHECK((a = rg_sigkey_from_seed(seed)) != NULL);
	CHECK((b = rg_sigkey_from_seed(seed)) != NULL);
	rg_sigkey_public(a, p1);
	rg_sigkey_public(b, p2);
	CHECK(memcmp(p1, p2, sizeof(p1)) == 0);
	CHECK_EQ_INT(rg_sig_sign(a, seed, sizeof(seed), s1), 0);
	CHECK_EQ_INT(rg_sig_sign(b, seed, sizeof(seed), s2), 0);
	CHECK(memcmp(s1, s2, sizeof(s1)) == 0);
	rg_sigkey_free(a);
	rg_sigkey_free(b);
}
