/*
 * jparse.h -- request bodies parsed into jansson's tree. It owns nothing
 * past a call: the tree goes to the caller.
 *
 * jansson's reader takes a character at a time through a stream; yajl's
 * lexer scans a string in one run. On a 2 KiB record yajl building the
 * same jansson tree takes a tenth of the time, and submissions are half
 * of what the gateway parses. yajl is asked first, and only about bodies
 * on whose meaning the two agree: none with a backslash (escapes: yajl
 * makes a lone surrogate a '?' and lets "\u0000" through, which jansson
 * refuses) or a vertical tab or form feed (whitespace to yajl, not to
 * jansson). Whatever yajl refuses or cannot say, jansson reads, so that
 * refusals carry jansson's messages. What yajl accepts, jansson accepts
 * too, as the same tree; tests/unit/test_jparse.c holds that against
 * jansson over hand-made and mutated bodies.
 */
#ifndef RG_JPARSE_H
#define RG_JPARSE_H

#include <stddef.h>

#include <jansson.h>

/* text as json_loadb(text, len, JSON_REJECT_DUPLICATES, err) gives it:
 * an object or array, or NULL with err filled (err may be NULL). */
json_t *rg_jparse(const void *text, size_t len, json_error_t *err);

/* yajl's part alone: the tree, or NULL when the body is not one yajl may
 * read, or is not valid JSON (the caller then asks jansson). */
json_t *rg_jparse_fast(const void *text, size_t len);

#endif
