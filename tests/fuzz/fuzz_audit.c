/*
 * fuzz_audit.c -- what a security officer's offline verifier reads: signed
 * notes (C2SP checkpoints, verifier keys) and receipts with the lines of
 * an export (crypto/note.c, crypto/verify.c). Files come from elsewhere
 * and may be damaged or forged. What holds: a note verifies only with the
 * text that was signed; a checkpoint that parses prints back as its own
 * first lines; the verifier never counts more entries than it was given.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/merkle.h"
#include "crypto/note.h"
#include "crypto/sig.h"
#include "crypto/verify.h"
#include "tests/fuzz/fuzz.h"

#define ORIGIN "recgate.example/joint-meeting"

/* The key every seed is signed with: fixed, so the seeds are too. */
static rg_sigkey *
rg_fuzz_key(uint8_t pub[RG_SIG_PUBLEN])
{
	static rg_sigkey *key;
	static uint8_t kpub[RG_SIG_PUBLEN];

	if (key == NULL) {
		uint8_t seed[RG_SIG_SEEDLEN];

		memset(seed, 7, sizeof(seed));
		if (sodium_init() < 0 || (key = rg_sigkey_from_seed(seed)) == NULL)
			abort();
		rg_sigkey_public(key, kpub);
	}
	memcpy(pub, kpub, RG_SIG_PUBLEN);
	return key;
}

/* The texts the seeds sign: the only ones a verification may accept. */
static const char *const rg_fuzz_note_texts[] = {
    ORIGIN "\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    ORIGIN "\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nextension\n",
};

void
rg_fuzz_note(const uint8_t *data, size_t len)
{
	uint8_t pub[RG_SIG_PUBLEN], root[RG_HASHLEN], vpub[RG_SIG_PUBLEN];
	char *note = rg_fuzz_str(data, len), *nl, name[256];
	size_t textlen = 0;
	uint64_t size;
	int known = 0;

	rg_fuzz_key(pub);
	if (rg_note_verify(note, len, ORIGIN, pub, &textlen) == 0) {
		RG_FUZZ_ASSERT(textlen > 0 && textlen <= len &&
		               note[textlen - 1] == '\n');
		for (size_t i = 0; i < sizeof(rg_fuzz_note_texts) /
		                       sizeof(rg_fuzz_note_texts[0]); i++)
			known |= strlen(rg_fuzz_note_texts[i]) == textlen &&
			         memcmp(rg_fuzz_note_texts[i], note, textlen) == 0;
		RG_FUZZ_ASSERT(known);
		rg_fuzz_accepted++;
	}
	if (rg_note_checkpoint_parse(note, len, ORIGIN, &size, root) == 0) {
		char *text = rg_note_checkpoint_text(ORIGIN, size, root);

		RG_FUZZ_ASSERT(text != NULL && strlen(text) <= len &&
		               memcmp(text, note, strlen(text)) == 0);
		free(text);
	}
	/* The first line as a verifier key. */
	if ((nl = strchr(note, '\n')) != NULL)
		*nl = '\0';
	if (rg_note_vkey_parse(note, name, sizeof(name), vpub) == 0)
		RG_FUZZ_ASSERT(name[0] != '\0' && strlen(name) < sizeof(name));
	free(note);
}

void
rg_fuzz_note_seeds(rg_fuzz_emit emit, void *ctx)
{
	uint8_t pub[RG_SIG_PUBLEN];
	rg_sigkey *key = rg_fuzz_key(pub);

	for (size_t i = 0; i < sizeof(rg_fuzz_note_texts) /
	                       sizeof(rg_fuzz_note_texts[0]); i++) {
		char *n = rg_note_sign(rg_fuzz_note_texts[i], ORIGIN, key);

		if (n != NULL) {
			emit(ctx, (const uint8_t *)n, strlen(n));
			free(n);
		}
	}
	{
		static const char c2sp[] =
		    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKa"
		    "ANYcrnKv3U2k\nThis is an example message.\n\n"
		    "\xe2\x80\x94 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1Y"
		    "Eq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72Ineya"
		    "QM=\n";

		emit(ctx, (const uint8_t *)c2sp, sizeof(c2sp) - 1);
	}
}

/* A receipt (first line), then lines of entries.jsonl. */
void
rg_fuzz_receipt(const uint8_t *data, size_t len)
{
	uint8_t pub[RG_SIG_PUBLEN];
	char *in = rg_fuzz_str(data, len), *line = in, *nl;
	rg_verify *v = rg_verify_new();
	uint64_t lines = 0;
	int ok = 1;

	RG_FUZZ_ASSERT(v != NULL);
	rg_fuzz_key(pub);
	RG_FUZZ_ASSERT(rg_verify_add_key(v, ORIGIN, pub) == 0);
	nl = strchr(line, '\n');
	if (nl != NULL)
		*nl = '\0';
	(void)rg_verify_add_receipt(v, line, strlen(line), "receipt");
	while (nl != NULL && ok) {
		line = nl + 1;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		lines++;
		ok = rg_verify_line(v, line, strlen(line)) == 0;
	}
	RG_FUZZ_ASSERT(rg_verify_count(v) <= lines);
	rg_fuzz_accepted += rg_verify_count(v) > 0;
	(void)rg_verify_finish(v);
	RG_FUZZ_ASSERT(rg_verify_error(v) != NULL);
	rg_verify_free(v);
	free(in);
}

void
rg_fuzz_receipt_seeds(rg_fuzz_emit emit, void *ctx)
{
	static const char entry[] =
	    "{\"action\":\"record.submit\",\"decision\":\"allow\","
	    "\"department\":\"health\",\"index\":0,\"keyid\":\"health-1\","
	    "\"policy\":\"p\",\"reason\":\"ok_owner\",\"time\":1700000000000}";
	uint8_t pub[RG_SIG_PUBLEN], sig[RG_SIG_LEN], leaf[RG_HASHLEN];
	rg_sigkey *key = rg_fuzz_key(pub);
	char e64[512], l64[64], s64[128], text[2048];
	int n;

	rg_merkle_leaf((const uint8_t *)entry, sizeof(entry) - 1, leaf);
	if (rg_sig_sign(key, (const uint8_t *)entry, sizeof(entry) - 1, sig) != 0)
		abort();
	sodium_bin2base64(e64, sizeof(e64), (const uint8_t *)entry,
	                  sizeof(entry) - 1, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(l64, sizeof(l64), leaf, sizeof(leaf),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(s64, sizeof(s64), sig, sizeof(sig),
	                  sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(text, sizeof(text),
	             "{\"index\":0,\"entry\":\"%s\",\"leaf_hash\":\"%s\","
	             "\"keyid\":\"%08x\",\"signature\":\"%s\"}\n"
	             "{\"index\":0,\"entry\":\"%s\",\"leaf\":\"%s\"}\n",
	             e64, l64, (unsigned)rg_sig_note_keyid(ORIGIN, pub), s64, e64,
	             l64);
	emit(ctx, (const uint8_t *)text, (size_t)n);
}
