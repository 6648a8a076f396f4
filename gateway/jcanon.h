/*
 * jcanon.h -- a jansson value written in the canonical form the gateway
 * seals and signs, json_dumps(JSON_COMPACT | JSON_SORT_KEYS), byte for
 * byte, but in runs of bytes rather than through jansson's callback for
 * each character: a 2 KiB record costs a tenth of the instructions.
 * What it cannot write exactly the same way (a real number, a string or
 * key holding a NUL, nesting deeper than 32) it leaves to json_dumps.
 */
#ifndef RG_JCANON_H
#define RG_JCANON_H

#include <stddef.h>

#include <jansson.h>

/* The text (malloc'd, NUL-terminated; the caller frees it), its length in
 * *len when len is not NULL; NULL when json_dumps would fail too, or out
 * of memory. */
char *rg_jcanon(const json_t *v, size_t *len);

#endif
