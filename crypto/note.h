/*
 * note.h -- C2SP signed-note v1.0.0 (Ed25519) and tlog-checkpoint v1.0.0.
 *
 * A checkpoint's text is three lines: origin, tree size in decimal, base64
 * root hash, each ending in '\n'. The note is the text, a blank line, and
 * signature lines "— <name> <base64(4-byte key id || 64-byte signature)>\n"
 * (the dash is U+2014). Key id = SHA-256(name || 0x0A || 0x01 || pub)[:4].
 */
#ifndef RG_NOTE_H
#define RG_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/merkle.h"
#include "crypto/sig.h"

/* Longest origin (key name) accepted. */
#define RG_NOTE_MAXNAME 255

/* The checkpoint text; malloc'd, NUL-terminated, caller frees. */
char *rg_note_checkpoint_text(const char *origin, uint64_t size,
                              const uint8_t root[RG_HASHLEN]);
/*
 * Parse checkpoint text (the note's text part, len bytes): the first line
 * must equal origin, the second a decimal size without leading zeros, the
 * third a 32-byte base64 hash. Later lines (extensions) are allowed.
 * 0 or -1.
 */
int rg_note_checkpoint_parse(const char *text, size_t len, const char *origin,
                             uint64_t *size, uint8_t root[RG_HASHLEN]);

/* text followed by the blank line and one signature line by name; text
 * must end in '\n'. malloc'd (caller frees), NULL on failure. */
char *rg_note_sign(const char *text, const char *name, const rg_sigkey *key);
/*
 * 0 when note (len bytes) carries a valid Ed25519 signature line by
 * (name, pub); *textlen is then the length of its text part (ending in
 * '\n'). Lines by other keys are ignored, as the spec asks. -1 otherwise.
 */
int rg_note_verify(const char *note, size_t len, const char *name,
                   const uint8_t pub[RG_SIG_PUBLEN], size_t *textlen);
/* Parse a verifier key "name+hexid+base64(0x01 || pub)"; checks the id.
 * 0 or -1. */
int rg_note_vkey_parse(const char *vkey, char *name, size_t namelen,
                       uint8_t pub[RG_SIG_PUBLEN]);

#endif
