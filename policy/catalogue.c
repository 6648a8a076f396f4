/*
 * catalogue.c -- parses and validates the information-resource catalogue and
 * checks records against a resource's schema. It trusts no byte of the
 * catalogue file and never accepts a catalogue with a single problem in it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/catalogue.h"

/* Bounds: every list and string the file can make us hold has a limit. */
#define RG_CATALOGUE_MAXRESOURCES 1024
#define RG_CATALOGUE_MAXTITLE     256
#define RG_CATALOGUE_MAXSTRING    4096
/*
 * A thousand years: generous for any archive rule, and far from overflow
 * when a caller turns days into milliseconds (365000 * 86400000 < 2^63).
 */
#define RG_CATALOGUE_MAXRETENTION 365000

struct rg_field {
	const char *name;       /* points into the catalogue's JSON */
	rg_ftype type;
	int required;
	int personal;
	const json_t *values;   /* strings only: the allowed values, or NULL */
};

struct rg_resource {
	const char *id;         /* strings point into the catalogue's JSON */
	const char *title_zh;
	const char *title_en;
	const char *owner;
	rg_class cls;
	rg_share share;
	int64_t retention_days;
	size_t nfields;
	struct rg_field fields[RG_CATALOGUE_MAXFIELDS];
	uint64_t all_mask;
	uint64_t uncond_mask;
};

struct rg_catalogue {
	json_t *root;           /* keeps every string above alive */
	size_t n;
	rg_resource *res;       /* in file order */
	const rg_resource **byid; /* sorted by id, for rg_catalogue_find */
};

/* Problems are collected, one per line, until err is full. */
struct rg_catalogue_problems {
	char *buf;
	size_t cap;
	size_t len;
	unsigned count;
	int full;
};

static const char *const rg_catalogue_share_names[] = {
	[RG_SHARE_UNCONDITIONAL] = "unconditional",
	[RG_SHARE_CONDITIONAL] = "conditional",
	[RG_SHARE_NONE] = "none",
};

static const char *const rg_catalogue_class_names[] = {
	[RG_CLASS_PUBLIC] = "public",
	[RG_CLASS_INTERNAL] = "internal",
	[RG_CLASS_SENSITIVE] = "sensitive",
	[RG_CLASS_SECRET] = "secret",
};

static const char *const rg_catalogue_ftype_names[] = {
	[RG_FT_STRING] = "string",
	[RG_FT_INTEGER] = "integer",
	[RG_FT_NUMBER] = "number",
	[RG_FT_BOOLEAN] = "boolean",
	[RG_FT_DATE] = "date",
	[RG_FT_DATETIME] = "datetime",
};

static const char *const rg_catalogue_resource_keys[] = {
	"id", "title_zh", "title_en", "owner", "classification", "share",
	"retention_days", "fields", "unconditional_fields", NULL
};

static const char *const rg_catalogue_field_keys[] = {
	"name", "type", "required", "personal", "values", NULL
};

/* An enumerated string field lists at most this many values. */
#define RG_CATALOGUE_MAXVALUES 256

static const char *const rg_catalogue_top_keys[] = {
	"version", "resources", NULL
};

#define RG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void rg_catalogue_problem(struct rg_catalogue_problems *p,
                                 const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
rg_catalogue_problem(struct rg_catalogue_problems *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;
	size_t need;

	p->count++;
	if (p->full || p->buf == NULL || p->cap == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	need = strlen(line) + (p->len > 0 ? 1 : 0);
	if (p->len + need + 1 > p->cap) {
		/* Say that more was found rather than cut a line in half. */
		static const char more[] = "\n...";

		p->full = 1;
		if (p->len + sizeof(more) <= p->cap) {
			memcpy(p->buf + p->len, more, sizeof(more));
			p->len += sizeof(more) - 1;
		}
		return;
	}
	if (p->len > 0)
		p->buf[p->len++] = '\n';
	memcpy(p->buf + p->len, line, strlen(line) + 1);
	p->len += strlen(line);
}

/*
 * Untrusted text quoted in a problem line: control bytes would break the
 * one-problem-per-line promise, and long text would crowd out the others.
 */
static const char *
rg_catalogue_quote(const char *s, char *out, size_t outlen)
{
	size_t i, o = 0, max = outlen > 4 ? outlen - 4 : 0;

	for (i = 0; s[i] != '\0' && o < max; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i] != '\0') {
		/* Do not end inside a UTF-8 sequence. */
		while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
			o--;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static int
rg_catalogue_key_known(const char *key, const char *const *known)
{
	for (size_t i = 0; known[i] != NULL; i++)
		if (strcmp(key, known[i]) == 0)
			return 1;
	return 0;
}

/* Lower-case letters, digits and '-', 1 to 63 characters. */
static int
rg_catalogue_valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

int
rg_department_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 31)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return 0;
	return 1;
}

/* [a-z][a-z0-9_]{0,62} */
static int
rg_catalogue_valid_field_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63 || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
rg_catalogue_lookup(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/*
 * Fetch a required string member: NULL (with a problem) when absent or not
 * a string.
 */
static const char *
rg_catalogue_string(struct rg_catalogue_problems *p, const char *where,
                    const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		rg_catalogue_problem(p, "%s: missing %s", where, key);
		return NULL;
	}
	if (!json_is_string(v)) {
		rg_catalogue_problem(p, "%s: %s: expected a string", where, key);
		return NULL;
	}
	return json_string_value(v);
}

/* An optional boolean member: 0 when absent. */
static int
rg_catalogue_flag(struct rg_catalogue_problems *p, const char *where,
                  const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		rg_catalogue_problem(p, "%s: %s: expected true or false", where,
		                     key);
		return 0;
	}
	return json_is_true(v);
}

static void
rg_catalogue_unknown_keys(struct rg_catalogue_problems *p, const char *where,
                          const json_t *obj, const char *const *known)
{
	const char *key;
	json_t *v;
	char q[80];

	json_object_foreach((json_t *)obj, key, v) {
		if (!rg_catalogue_key_known(key, known))
			rg_catalogue_problem(p, "%s: unknown key '%s'", where,
			                     rg_catalogue_quote(key, q, sizeof(q)));
	}
}

/*
 * "values": the closed list of a string field (初报/续报/终报, say). A
 * list that is empty, too long, not all non-empty strings, or has a
 * duplicate is a problem; so is a list on a field that is not a string.
 */
static const json_t *
rg_catalogue_values(struct rg_catalogue_problems *p, const char *where,
                    const json_t *f, int type)
{
	const json_t *v = json_object_get(f, "values");
	size_t n = json_array_size(v);
	int ok = 1;

	if (v == NULL)
		return NULL;
	if (type != RG_FT_STRING) {
		rg_catalogue_problem(p, "%s: values: only a string field takes a "
		                     "list of values", where);
		return NULL;
	}
	if (!json_is_array(v) || n == 0 || n > RG_CATALOGUE_MAXVALUES) {
		rg_catalogue_problem(p, "%s: values: expected a list of 1 to %d "
		                     "strings", where, RG_CATALOGUE_MAXVALUES);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);

		if (!json_is_string(e) || json_string_length(e) == 0) {
			rg_catalogue_problem(p, "%s: values: entry %zu: expected a "
			                     "non-empty string", where, i + 1);
			ok = 0;
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (json_equal((json_t *)e, json_array_get(v, j))) {
				rg_catalogue_problem(p, "%s: values: entry %zu "
				                     "repeats entry %zu", where, i + 1,
				                     j + 1);
				ok = 0;
				break;
			}
	}
	return ok ? v : NULL;
}

static void
rg_catalogue_field(struct rg_catalogue_problems *p, const char *rwhere,
                   const json_t *fields, size_t i, struct rg_field *out)
{
	const json_t *f = json_array_get(fields, i);
	const char *name, *type;
	char where[256], q[80];
	int t;

	if (!json_is_object(f)) {
		rg_catalogue_problem(p, "%s: field %zu: expected an object",
		                     rwhere, i + 1);
		return;
	}
	name = json_string_value(json_object_get(f, "name"));
	if (name != NULL && rg_catalogue_valid_field_name(name))
		snprintf(where, sizeof(where), "%s: field '%s'", rwhere, name);
	else
		snprintf(where, sizeof(where), "%s: field %zu", rwhere, i + 1);

	rg_catalogue_unknown_keys(p, where, f, rg_catalogue_field_keys);
	name = rg_catalogue_string(p, where, f, "name");
	if (name != NULL && !rg_catalogue_valid_field_name(name)) {
		rg_catalogue_problem(p, "%s: name '%s' is not valid (a "
		                     "lower-case letter, then lower-case letters, "
		                     "digits or '_', at most 63 characters)",
		                     where, rg_catalogue_quote(name, q, sizeof(q)));
		name = NULL;
	}
	if (name != NULL) {
		for (size_t j = 0; j < i; j++) {
			const char *other = json_string_value(json_object_get(
			    json_array_get(fields, j), "name"));

			if (other != NULL && strcmp(other, name) == 0) {
				rg_catalogue_problem(p, "%s: duplicate field name "
				                     "(also field %zu)", where,
				                     j + 1);
				break;
			}
		}
	}
	type = rg_catalogue_string(p, where, f, "type");
	t = -1;
	if (type != NULL) {
		t = rg_catalogue_lookup(type, rg_catalogue_ftype_names,
		                        RG_NELEM(rg_catalogue_ftype_names));
		if (t < 0)
			rg_catalogue_problem(p, "%s: unknown type '%s'", where,
			                     rg_catalogue_quote(type, q, sizeof(q)));
	}
	out->name = name;
	out->type = t >= 0 ? (rg_ftype)t : RG_FT_STRING;
	out->required = rg_catalogue_flag(p, where, f, "required");
	out->personal = rg_catalogue_flag(p, where, f, "personal");
	out->values = rg_catalogue_values(p, where, f, t);
}

static int
rg_catalogue_field_index(const rg_resource *res, const char *name)
{
	for (size_t i = 0; i < res->nfields; i++)
		if (res->fields[i].name != NULL &&
		    strcmp(res->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
rg_catalogue_unconditional(struct rg_catalogue_problems *p, const char *where,
                           const json_t *obj, rg_resource *res, int share_ok)
{
	const json_t *list = json_object_get(obj, "unconditional_fields");
	char q[80];
	size_t i;
	json_t *v;

	if (!share_ok)
		return;
	if (res->share != RG_SHARE_UNCONDITIONAL) {
		if (list != NULL)
			rg_catalogue_problem(p, "%s: unconditional_fields is only "
			                     "allowed when share is 'unconditional'",
			                     where);
		return;
	}
	if (list == NULL) {
		rg_catalogue_problem(p, "%s: missing unconditional_fields "
		                     "(required when share is 'unconditional')",
		                     where);
		return;
	}
	if (!json_is_array(list) || json_array_size(list) == 0) {
		rg_catalogue_problem(p, "%s: unconditional_fields: expected a "
		                     "non-empty list of field names", where);
		return;
	}
	/* Without a usable field list every name would be reported again. */
	if (res->nfields == 0)
		return;
	json_array_foreach(list, i, v) {
		const char *name = json_string_value(v);
		int idx;

		if (name == NULL) {
			rg_catalogue_problem(p, "%s: unconditional_fields: entry "
			                     "%zu: expected a string", where, i + 1);
			continue;
		}
		idx = rg_catalogue_field_index(res, name);
		if (idx < 0) {
			rg_catalogue_problem(p, "%s: unconditional_fields: '%s' is "
			                     "not a field", where,
			                     rg_catalogue_quote(name, q, sizeof(q)));
			continue;
		}
		if (res->uncond_mask & (UINT64_C(1) << idx)) {
			rg_catalogue_problem(p, "%s: unconditional_fields: '%s' is "
			                     "listed twice", where, name);
			continue;
		}
		/*
		 * Personal data goes to a consumer only under a grant that
		 * names it (DESIGN.md section 8): never to every member.
		 */
		if (res->fields[idx].personal) {
			rg_catalogue_problem(p, "%s: unconditional_fields: '%s' is "
			                     "personal and cannot be shared "
			                     "unconditionally", where, name);
			continue;
		}
		res->uncond_mask |= UINT64_C(1) << idx;
	}
}

static void
rg_catalogue_resource(struct rg_catalogue_problems *p, const json_t *obj,
                      size_t idx, rg_resource *res)
{
	const char *id, *s;
	const json_t *v, *fields;
	char where[128], q[80];
	int share_ok = 0, k;

	if (!json_is_object(obj)) {
		rg_catalogue_problem(p, "resource %zu: expected an object",
		                     idx + 1);
		return;
	}
	id = json_string_value(json_object_get(obj, "id"));
	if (id != NULL && rg_catalogue_valid_id(id))
		snprintf(where, sizeof(where), "resource %zu (%s)", idx + 1, id);
	else
		snprintf(where, sizeof(where), "resource %zu", idx + 1);

	rg_catalogue_unknown_keys(p, where, obj, rg_catalogue_resource_keys);

	id = rg_catalogue_string(p, where, obj, "id");
	if (id != NULL && !rg_catalogue_valid_id(id)) {
		rg_catalogue_problem(p, "%s: id '%s' is not valid (lower-case "
		                     "letters, digits and '-', 1 to 63 "
		                     "characters)", where,
		                     rg_catalogue_quote(id, q, sizeof(q)));
		id = NULL;
	}
	res->id = id;

	res->title_zh = rg_catalogue_string(p, where, obj, "title_zh");
	res->title_en = rg_catalogue_string(p, where, obj, "title_en");
	if (res->title_zh != NULL && (res->title_zh[0] == '\0' ||
	    strlen(res->title_zh) > RG_CATALOGUE_MAXTITLE))
		rg_catalogue_problem(p, "%s: title_zh: expected 1 to %d bytes",
		                     where, RG_CATALOGUE_MAXTITLE);
	if (res->title_en != NULL && (res->title_en[0] == '\0' ||
	    strlen(res->title_en) > RG_CATALOGUE_MAXTITLE))
		rg_catalogue_problem(p, "%s: title_en: expected 1 to %d bytes",
		                     where, RG_CATALOGUE_MAXTITLE);

	res->owner = rg_catalogue_string(p, where, obj, "owner");
	if (res->owner != NULL && strcmp(res->owner, "*") != 0 &&
	    !rg_department_id_valid(res->owner))
		rg_catalogue_problem(p, "%s: owner '%s' is not a department id "
		                     "(lower-case letters, 1 to 31) or '*'",
		                     where,
		                     rg_catalogue_quote(res->owner, q, sizeof(q)));

	s = rg_catalogue_string(p, where, obj, "classification");
	if (s != NULL) {
		k = rg_catalogue_lookup(s, rg_catalogue_class_names,
		                        RG_NELEM(rg_catalogue_class_names));
		if (k < 0)
			rg_catalogue_problem(p, "%s: unknown classification '%s' "
			                     "(public, internal, sensitive or "
			                     "secret)", where,
			                     rg_catalogue_quote(s, q, sizeof(q)));
		else
			res->cls = (rg_class)k;
	}

	s = rg_catalogue_string(p, where, obj, "share");
	if (s != NULL) {
		k = rg_catalogue_lookup(s, rg_catalogue_share_names,
		                        RG_NELEM(rg_catalogue_share_names));
		if (k < 0) {
			rg_catalogue_problem(p, "%s: unknown share '%s' "
			                     "(unconditional, conditional or none)",
			                     where,
			                     rg_catalogue_quote(s, q, sizeof(q)));
		} else {
			res->share = (rg_share)k;
			share_ok = 1;
		}
	}
	/*
	 * '*' lets every member submit its own records; nobody owns them
	 * all, so the only way to read them is the unconditional share.
	 */
	if (res->owner != NULL && strcmp(res->owner, "*") == 0 && share_ok &&
	    res->share != RG_SHARE_UNCONDITIONAL)
		rg_catalogue_problem(p, "%s: owner '*' requires share "
		                     "'unconditional'", where);

	v = json_object_get(obj, "retention_days");
	if (v == NULL)
		rg_catalogue_problem(p, "%s: missing retention_days", where);
	else if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	         json_integer_value(v) > RG_CATALOGUE_MAXRETENTION)
		rg_catalogue_problem(p, "%s: retention_days: expected an "
		                     "integer from 1 to %d", where,
		                     RG_CATALOGUE_MAXRETENTION);
	else
		res->retention_days = json_integer_value(v);

	fields = json_object_get(obj, "fields");
	if (fields == NULL) {
		rg_catalogue_problem(p, "%s: missing fields", where);
	} else if (!json_is_array(fields)) {
		rg_catalogue_problem(p, "%s: fields: expected a list", where);
	} else if (json_array_size(fields) == 0) {
		rg_catalogue_problem(p, "%s: fields: at least one field is "
		                     "required", where);
	} else if (json_array_size(fields) > RG_CATALOGUE_MAXFIELDS) {
		/* The field masks are 64 bits wide. */
		rg_catalogue_problem(p, "%s: fields: %zu fields, at most %d",
		                     where, json_array_size(fields),
		                     RG_CATALOGUE_MAXFIELDS);
	} else {
		res->nfields = json_array_size(fields);
		for (size_t i = 0; i < res->nfields; i++)
			rg_catalogue_field(p, where, fields, i, &res->fields[i]);
		res->all_mask = res->nfields == 64 ? UINT64_MAX :
		    (UINT64_C(1) << res->nfields) - 1;
	}
	rg_catalogue_unconditional(p, where, obj, res, share_ok);
}

static int
rg_catalogue_cmp_id(const void *a, const void *b)
{
	const rg_resource *const *ra = a, *const *rb = b;

	return strcmp((*ra)->id, (*rb)->id);
}

rg_catalogue *
rg_catalogue_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct rg_catalogue_problems p = {err, errlen, 0, 0, 0};
	rg_catalogue *cat = NULL;
	json_error_t jerr;
	json_t *root, *list, *v;
	size_t n;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text == NULL) {
		rg_catalogue_problem(&p, "no catalogue text");
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char q[JSON_ERROR_TEXT_LENGTH];

		rg_catalogue_problem(&p, "line %d, column %d: %s", jerr.line,
		                     jerr.column,
		                     rg_catalogue_quote(jerr.text, q, sizeof(q)));
		return NULL;
	}
	if (!json_is_object(root)) {
		rg_catalogue_problem(&p, "catalogue: expected an object");
		goto fail;
	}
	rg_catalogue_unknown_keys(&p, "catalogue", root, rg_catalogue_top_keys);
	v = json_object_get(root, "version");
	if (v == NULL)
		rg_catalogue_problem(&p, "catalogue: missing version");
	else if (!json_is_integer(v) || json_integer_value(v) != 1)
		rg_catalogue_problem(&p, "catalogue: version: expected 1");
	list = json_object_get(root, "resources");
	if (list == NULL) {
		rg_catalogue_problem(&p, "catalogue: missing resources");
		goto fail;
	}
	if (!json_is_array(list)) {
		rg_catalogue_problem(&p, "catalogue: resources: expected a list");
		goto fail;
	}
	n = json_array_size(list);
	if (n > RG_CATALOGUE_MAXRESOURCES) {
		rg_catalogue_problem(&p, "catalogue: %zu resources, at most %d",
		                     n, RG_CATALOGUE_MAXRESOURCES);
		goto fail;
	}
	if ((cat = calloc(1, sizeof(*cat))) == NULL)
		goto oom;
	cat->root = root;
	cat->n = n;
	if (n > 0 && ((cat->res = calloc(n, sizeof(*cat->res))) == NULL ||
	    (cat->byid = calloc(n, sizeof(*cat->byid))) == NULL))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		rg_catalogue_resource(&p, json_array_get(list, i), i,
		                      &cat->res[i]);
		if (cat->res[i].id == NULL)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (cat->res[j].id != NULL &&
			    strcmp(cat->res[j].id, cat->res[i].id) == 0) {
				rg_catalogue_problem(&p, "resource %zu (%s): "
				                     "duplicate id (also resource "
				                     "%zu)", i + 1, cat->res[i].id,
				                     j + 1);
				break;
			}
		}
	}
	if (p.count > 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		cat->byid[i] = &cat->res[i];
	if (n > 0)
		qsort(cat->byid, n, sizeof(*cat->byid), rg_catalogue_cmp_id);
	return cat;

oom:
	rg_catalogue_problem(&p, "out of memory");
fail:
	if (cat != NULL)
		rg_catalogue_free(cat);
	else
		json_decref(root);
	return NULL;
}

void
rg_catalogue_free(rg_catalogue *cat)
{
	if (cat == NULL)
		return;
	free(cat->byid);
	free(cat->res);
	json_decref(cat->root);
	free(cat);
}

size_t
rg_catalogue_count(const rg_catalogue *cat)
{
	return cat->n;
}

const rg_resource *
rg_catalogue_at(const rg_catalogue *cat, size_t i)
{
	return i < cat->n ? &cat->res[i] : NULL;
}

const rg_resource *
rg_catalogue_find(const rg_catalogue *cat, const char *id)
{
	size_t lo = 0, hi = cat->n;

	if (id == NULL)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, cat->byid[mid]->id);

		if (c == 0)
			return cat->byid[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *rg_resource_id(const rg_resource *res) { return res->id; }
const char *rg_resource_title_zh(const rg_resource *res) { return res->title_zh; }
const char *rg_resource_title_en(const rg_resource *res) { return res->title_en; }
const char *rg_resource_owner(const rg_resource *res) { return res->owner; }
rg_share rg_resource_share(const rg_resource *res) { return res->share; }
rg_class rg_resource_class(const rg_resource *res) { return res->cls; }

int64_t
rg_resource_retention_days(const rg_resource *res)
{
	return res->retention_days;
}

size_t
rg_resource_field_count(const rg_resource *res)
{
	return res->nfields;
}

const char *
rg_resource_field_name(const rg_resource *res, size_t i)
{
	return i < res->nfields ? res->fields[i].name : NULL;
}

rg_ftype
rg_resource_field_type(const rg_resource *res, size_t i)
{
	return i < res->nfields ? res->fields[i].type : RG_FT_STRING;
}

int
rg_resource_field_required(const rg_resource *res, size_t i)
{
	return i < res->nfields ? res->fields[i].required : 0;
}

const json_t *
rg_resource_field_values(const rg_resource *res, size_t i)
{
	return i < res->nfields ? res->fields[i].values : NULL;
}

int
rg_resource_field_personal(const rg_resource *res, size_t i)
{
	/* Out of range counts as personal: the cautious answer. */
	return i < res->nfields ? res->fields[i].personal : 1;
}

uint64_t
rg_resource_all_fields(const rg_resource *res)
{
	return res->all_mask;
}

uint64_t
rg_resource_unconditional_fields(const rg_resource *res)
{
	return res->uncond_mask;
}

const char *
rg_share_name(rg_share s)
{
	if ((size_t)s < RG_NELEM(rg_catalogue_share_names))
		return rg_catalogue_share_names[s];
	return "unknown";
}

const char *
rg_class_name(rg_class c)
{
	if ((size_t)c < RG_NELEM(rg_catalogue_class_names))
		return rg_catalogue_class_names[c];
	return "unknown";
}

const char *
rg_ftype_name(rg_ftype t)
{
	if ((size_t)t < RG_NELEM(rg_catalogue_ftype_names))
		return rg_catalogue_ftype_names[t];
	return "unknown";
}

json_t *
rg_catalogue_to_json(const rg_catalogue *cat)
{
	json_t *root, *list;

	root = json_object();
	list = json_array();
	if (root == NULL || list == NULL ||
	    json_object_set_new(root, "version", json_integer(1)) != 0 ||
	    json_object_set(root, "resources", list) != 0)
		goto fail;
	for (size_t i = 0; i < cat->n; i++) {
		const rg_resource *r = &cat->res[i];
		json_t *o, *fields, *unc = NULL;

		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:[]}",
		              "id", r->id, "title_zh", r->title_zh,
		              "title_en", r->title_en, "owner", r->owner,
		              "classification", rg_class_name(r->cls),
		              "share", rg_share_name(r->share),
		              "retention_days", (json_int_t)r->retention_days,
		              "fields");
		if (o == NULL || json_array_append_new(list, o) != 0)
			goto fail;
		fields = json_object_get(o, "fields");
		for (size_t j = 0; j < r->nfields; j++) {
			const struct rg_field *f = &r->fields[j];

			json_t *fo = json_pack("{s:s, s:s, s:b, s:b}", "name",
			    f->name, "type", rg_ftype_name(f->type),
			    "required", f->required, "personal", f->personal);

			/* Written only when present, so that catalogues
			 * without value lists keep their version. */
			if (fo != NULL && f->values != NULL &&
			    json_object_set_new(fo, "values",
			                        json_deep_copy(f->values)) != 0) {
				json_decref(fo);
				fo = NULL;
			}
			if (json_array_append_new(fields, fo) != 0)
				goto fail;
		}
		if (r->share != RG_SHARE_UNCONDITIONAL)
			continue;
		/* Schema order, so the same set always reads the same. */
		if ((unc = json_array()) == NULL ||
		    json_object_set_new(o, "unconditional_fields", unc) != 0)
			goto fail;
		for (size_t j = 0; j < r->nfields; j++)
			if ((r->uncond_mask & (UINT64_C(1) << j)) &&
			    json_array_append_new(unc,
			    json_string(r->fields[j].name)) != 0)
				goto fail;
	}
	json_decref(list);
	return root;
fail:
	json_decref(list);
	json_decref(root);
	return NULL;
}

/* Record validation. */

static int
rg_catalogue_digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
rg_catalogue_days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	                           31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* YYYY-MM-DD naming a day that exists; year 0001 to 9999. */
static int
rg_catalogue_valid_date(const char *s, size_t n)
{
	int y, m, d;

	if (n != 10 || s[4] != '-' || s[7] != '-' ||
	    rg_catalogue_digits(s, 4, &y) != 0 ||
	    rg_catalogue_digits(s + 5, 2, &m) != 0 ||
	    rg_catalogue_digits(s + 8, 2, &d) != 0)
		return 0;
	if (y < 1 || m < 1 || m > 12 || d < 1 ||
	    d > rg_catalogue_days_in_month(y, m))
		return 0;
	return 1;
}

/*
 * RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM).
 * Only the upper-case 'T' and 'Z' are taken (RFC 3339 allows lower case
 * too) so that stored records carry one spelling. A leap second (:60) is
 * refused: nothing that feeds the gateway produces one, and accepting it
 * everywhere would accept nonsense.
 */
static int
rg_catalogue_valid_datetime(const char *s, size_t n)
{
	int hh, mm, ss;
	size_t i;

	if (n < 20 || !rg_catalogue_valid_date(s, 10) || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' ||
	    rg_catalogue_digits(s + 11, 2, &hh) != 0 ||
	    rg_catalogue_digits(s + 14, 2, &mm) != 0 ||
	    rg_catalogue_digits(s + 17, 2, &ss) != 0 ||
	    hh > 23 || mm > 59 || ss > 59)
		return 0;
	i = 19;
	if (s[i] == '.') {
		size_t start = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return 0;
	}
	if (i < n && s[i] == 'Z')
		return i + 1 == n;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		if (n - i != 6 || s[i + 3] != ':' ||
		    rg_catalogue_digits(s + i + 1, 2, &hh) != 0 ||
		    rg_catalogue_digits(s + i + 4, 2, &mm) != 0 ||
		    hh > 23 || mm > 59)
			return 0;
		return 1;
	}
	return 0;
}

/* NULL when the value fits the type, else the message. */
static const char *
rg_catalogue_check_value(rg_ftype type, const json_t *v)
{
	const char *s;
	size_t n;

	if (json_is_null(v))
		return "null is not a value; leave the field out";
	switch (type) {
	case RG_FT_STRING:
		if (!json_is_string(v))
			return "expected string";
		s = json_string_value(v);
		n = json_string_length(v);
		if (n > RG_CATALOGUE_MAXSTRING)
			return "string longer than 4096 bytes";
		/* A NUL would cut the value short in every C consumer. */
		if (strlen(s) != n)
			return "string contains NUL";
		return NULL;
	case RG_FT_INTEGER:
		return json_is_integer(v) ? NULL : "expected integer";
	case RG_FT_NUMBER:
		return json_is_number(v) ? NULL : "expected number";
	case RG_FT_BOOLEAN:
		return json_is_boolean(v) ? NULL : "expected boolean";
	case RG_FT_DATE:
		if (!json_is_string(v) ||
		    !rg_catalogue_valid_date(json_string_value(v),
		                             json_string_length(v)))
			return "expected date (YYYY-MM-DD)";
		return NULL;
	case RG_FT_DATETIME:
		if (!json_is_string(v) ||
		    !rg_catalogue_valid_datetime(json_string_value(v),
		                                 json_string_length(v)))
			return "expected datetime (RFC 3339, e.g. "
			       "2026-11-25T10:00:00Z)";
		return NULL;
	}
	return "unknown field type";
}

static int
rg_catalogue_fail(char *field, size_t fieldlen, const char *name, char *msg,
                  size_t msglen, const char *text)
{
	if (field != NULL && fieldlen > 0)
		snprintf(field, fieldlen, "%s", name);
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, "%s", text);
	return -1;
}

/*
 * Order of reports, so that the same record always gets the same answer:
 * first unknown keys (the least one in byte order), then the schema's
 * fields in schema order (missing, then wrong type).
 */
int
rg_resource_validate(const rg_resource *res, const json_t *record,
                     char *field, size_t fieldlen, char *msg, size_t msglen)
{
	const char *key, *least = NULL;
	json_t *v;

	if (field != NULL && fieldlen > 0)
		field[0] = '\0';
	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	if (!json_is_object(record))
		return rg_catalogue_fail(field, fieldlen, "", msg, msglen,
		                         "record is not an object");
	json_object_foreach((json_t *)record, key, v) {
		/*
		 * '_'-prefixed keys (such as _classification) are handled
		 * before a record reaches the schema; here they are unknown
		 * like any other.
		 */
		if (rg_catalogue_field_index(res, key) < 0 &&
		    (least == NULL || strcmp(key, least) < 0))
			least = key;
	}
	if (least != NULL)
		return rg_catalogue_fail(field, fieldlen, least, msg, msglen,
		                         "unknown field");
	for (size_t i = 0; i < res->nfields; i++) {
		const struct rg_field *f = &res->fields[i];
		const char *problem;

		v = json_object_get(record, f->name);
		if (v == NULL) {
			if (f->required)
				return rg_catalogue_fail(field, fieldlen,
				                         f->name, msg, msglen,
				                         "missing required field");
			continue;
		}
		if ((problem = rg_catalogue_check_value(f->type, v)) != NULL)
			return rg_catalogue_fail(field, fieldlen, f->name, msg,
			                         msglen, problem);
		if (f->values != NULL) {
			size_t k, n = json_array_size(f->values);

			for (k = 0; k < n; k++)
				if (json_equal(v, json_array_get(f->values, k)))
					break;
			if (k == n)
				return rg_catalogue_fail(field, fieldlen,
				                         f->name, msg, msglen,
				                         "not one of the listed "
				                         "values");
		}
	}
	return 0;
}

json_t *
rg_resource_filter(const rg_resource *res, const json_t *record,
                   uint64_t mask)
{
	json_t *out;

	if (!json_is_object(record))
		return NULL;
	if ((out = json_object()) == NULL)
		return NULL;
	for (size_t i = 0; i < res->nfields; i++) {
		json_t *v;

		if (!(mask & (UINT64_C(1) << i)))
			continue;
		if ((v = json_object_get(record, res->fields[i].name)) == NULL)
			continue;
		/* A deep copy: the caller may change it without touching
		 * the record it came from. */
		if (json_object_set_new(out, res->fields[i].name,
		                        json_deep_copy(v)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}
