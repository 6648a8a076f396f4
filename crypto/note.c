/*
 * note.c -- C2SP signed notes and checkpoints, Ed25519 only.
 *
 * This file owns the exact bytes of a checkpoint and of its signature line.
 * Verification follows the spec's parsing rules strictly: a note whose
 * shape is off (no blank line, a signature line without the em dash, bad
 * base64) verifies under no key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/note.h"
#include "crypto/b64.h"

#define RG_NOTE_DASH "\xe2\x80\x94 " /* U+2014 and a space */

static char *
rg_note_b64(const uint8_t *bin, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(n);

	if (out != NULL)
		sodium_bin2base64(out, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

static int
rg_note_unb64(const char *in, size_t inlen, uint8_t *out, size_t outmax,
              size_t *outlen)
{
	return rg_b64_decode(in, inlen, out, outmax, outlen);
}

char *
rg_note_checkpoint_text(const char *origin, uint64_t size,
                        const uint8_t root[RG_HASHLEN])
{
	char *b64 = rg_note_b64(root, RG_HASHLEN), *out = NULL;
	size_t len;

	if (b64 == NULL || origin == NULL || strchr(origin, '\n') != NULL)
		goto out;
	len = strlen(origin) + strlen(b64) + 32;
	if ((out = malloc(len)) != NULL)
		snprintf(out, len, "%s\n%llu\n%s\n", origin,
		         (unsigned long long)size, b64);
out:
	free(b64);
	return out;
}

int
rg_note_checkpoint_parse(const char *text, size_t len, const char *origin,
                         uint64_t *size, uint8_t root[RG_HASHLEN])
{
	const char *p = text, *end = text + len, *nl;
	size_t olen = strlen(origin), rlen;
	unsigned long long v = 0;

	/* Line 1: the origin. */
	if (len < olen + 1 || memcmp(p, origin, olen) != 0 || p[olen] != '\n')
		return -1;
	p += olen + 1;
	/* Line 2: decimal, no sign, no leading zero (except "0"). */
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL || nl == p ||
	    nl - p > 20 || (p[0] == '0' && nl - p > 1))
		return -1;
	for (const char *c = p; c < nl; c++) {
		if (*c < '0' || *c > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*c - '0');
	}
	p = nl + 1;
	/* Line 3: the root hash. */
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
	    rg_note_unb64(p, (size_t)(nl - p), root, RG_HASHLEN, &rlen) != 0 ||
	    rlen != RG_HASHLEN)
		return -1;
	*size = v;
	return 0;
}

char *
rg_note_sign(const char *text, const char *name, const rg_sigkey *key)
{
	uint8_t pub[RG_SIG_PUBLEN], blob[4 + RG_SIG_LEN];
	size_t tlen = strlen(text), len;
	uint32_t id;
	char *b64 = NULL, *out = NULL;

	if (tlen == 0 || text[tlen - 1] != '\n' || strchr(name, ' ') != NULL ||
	    strchr(name, '\n') != NULL || strchr(name, '+') != NULL)
		return NULL;
	rg_sigkey_public(key, pub);
	id = rg_sig_note_keyid(name, pub);
	blob[0] = (uint8_t)(id >> 24);
	blob[1] = (uint8_t)(id >> 16);
	blob[2] = (uint8_t)(id >> 8);
	blob[3] = (uint8_t)id;
	if (rg_sig_sign(key, (const uint8_t *)text, tlen, blob + 4) != 0 ||
	    (b64 = rg_note_b64(blob, sizeof(blob))) == NULL)
		goto out;
	len = tlen + strlen(name) + strlen(b64) + 16;
	if ((out = malloc(len)) != NULL)
		snprintf(out, len, "%s\n" RG_NOTE_DASH "%s %s\n", text, name, b64);
out:
	free(b64);
	return out;
}

int
rg_note_verify(const char *note, size_t len, const char *name,
               const uint8_t pub[RG_SIG_PUBLEN], size_t *textlen)
{
	const char *sep = NULL, *p, *end = note + len;
	size_t nlen = strlen(name), tlen;
	uint32_t id = rg_sig_note_keyid(name, pub);
	int ok = 0;

	if (len == 0 || note[len - 1] != '\n' || memchr(note, '\0', len) != NULL)
		return -1;
	/* The text ends at the last "\n\n": signatures never hold one. */
	for (p = note; p + 1 < end; p++)
		if (p[0] == '\n' && p[1] == '\n')
			sep = p;
	if (sep == NULL)
		return -1;
	tlen = (size_t)(sep - note) + 1;
	for (p = sep + 2; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
		uint8_t blob[4 + RG_SIG_LEN + 8];
		size_t blen;

		if (nl == NULL || (size_t)(nl - p) < sizeof(RG_NOTE_DASH) ||
		    memcmp(p, RG_NOTE_DASH, sizeof(RG_NOTE_DASH) - 1) != 0)
			return -1;
		p += sizeof(RG_NOTE_DASH) - 1;
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (sp == NULL || sp == p ||
		    rg_note_unb64(sp + 1, (size_t)(nl - sp - 1), blob, sizeof(blob),
		                  &blen) != 0 || blen < 5)
			return -1;
		if ((size_t)(sp - p) == nlen && memcmp(p, name, nlen) == 0 &&
		    blen == 4 + RG_SIG_LEN &&
		    ((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
		     (uint32_t)blob[2] << 8 | blob[3]) == id &&
		    rg_sig_verify(pub, (const uint8_t *)note, tlen, blob + 4) == 0)
			ok = 1;
		p = nl + 1;
	}
	if (!ok)
		return -1;
	if (textlen != NULL)
		*textlen = tlen;
	return 0;
}

int
rg_note_vkey_parse(const char *vkey, char *name, size_t namelen,
                   uint8_t pub[RG_SIG_PUBLEN])
{
	const char *p1 = strchr(vkey, '+'), *p2;
	uint8_t raw[1 + RG_SIG_PUBLEN + 8];
	unsigned long id;
	size_t rlen;
	char *end;

	if (p1 == NULL || (p2 = strchr(p1 + 1, '+')) == NULL || p1 == vkey ||
	    (size_t)(p1 - vkey) >= namelen || p2 - p1 != 9)
		return -1;
	errno = 0;
	id = strtoul(p1 + 1, &end, 16);
	if (errno != 0 || end != p2 ||
	    rg_note_unb64(p2 + 1, strlen(p2 + 1), raw, sizeof(raw), &rlen) != 0 ||
	    rlen != 1 + RG_SIG_PUBLEN || raw[0] != 0x01)
		return -1;
	memcpy(name, vkey, (size_t)(p1 - vkey));
	name[p1 - vkey] = '\0';
	memcpy(pub, raw + 1, RG_SIG_PUBLEN);
	if (rg_sig_note_keyid(name, pub) != (uint32_t)id)
		return -1;
	return 0;
}
