/*
 * entry.c -- canonical JSON bytes of an audit entry.
 *
 * This file owns the one encoding that leaf hashes and receipt signatures
 * cover. It must never emit a real number (their text form is not unique)
 * or anything but an object at the top.
 */
#include <string.h>

#include <jansson.h>

#include "crypto/entry.h"

/* Entries are a few levels deep; anything deeper is not an entry, and the
 * bound keeps the walk's recursion small. */
#define RG_ENTRY_MAXDEPTH 32

/* 0 when v and everything inside it may be encoded canonically. */
static int
rg_entry_check(const json_t *v, int depth)
{
	const char *key;
	json_t *m;
	size_t i;

	if (depth > RG_ENTRY_MAXDEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_REAL:
		return -1;
	case JSON_OBJECT:
		/* jansson's iteration macros take a non-const object but do
		 * not modify it. */
		json_object_foreach((json_t *)v, key, m) {
			if (rg_entry_check(m, depth + 1) != 0)
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, m) {
			if (rg_entry_check(m, depth + 1) != 0)
				return -1;
		}
		return 0;
	case JSON_STRING:
	case JSON_INTEGER:
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		return 0;
	}
	return -1;
}

char *
rg_entry_encode(const json_t *obj, size_t *len)
{
	char *s;

	if (obj == NULL || !json_is_object(obj))
		return NULL;
	if (rg_entry_check(obj, 0) != 0)
		return NULL;
	/*
	 * JSON_COMPACT drops all insignificant white space; JSON_SORT_KEYS
	 * orders keys by their bytes. Deliberately absent: JSON_ENSURE_ASCII
	 * (UTF-8 stays as is) and JSON_ESCAPE_SLASH ('/' stays as is), so only
	 * '"', '\\' and control characters are escaped.
	 */
	if ((s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return NULL;
	if (len != NULL)
		*len = strlen(s);
	return s;
}
