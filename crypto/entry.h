/*
 * entry.h -- canonical encoding of audit entries.
 *
 * An entry is a JSON object encoded canonically: keys sorted by their UTF-8
 * bytes, no insignificant white space, integers only (no reals), strings as
 * UTF-8 with only '"', '\\' and control characters escaped. The same entry
 * always encodes to the same bytes, which is what the leaf hash and the
 * gateway's signature cover.
 */
#ifndef RG_ENTRY_H
#define RG_ENTRY_H

#include <stddef.h>
#include <jansson.h>

/*
 * Encode obj canonically. Returns malloc'd bytes (NUL-terminated, *len
 * excludes the NUL; caller frees) or NULL if obj holds a real number, a
 * non-object at the top, nesting deeper than 32 levels, or allocation fails.
 */
char *rg_entry_encode(const json_t *obj, size_t *len);

#endif
