/*
 * catalogue_lines.c -- checking a catalogue file for loading: where in the
 * file a problem lies (jansson gives line numbers for syntax errors only;
 * for a problem in a valid document a light scan of the text finds the
 * resource and field it names), and the rule that nothing classified
 * enters the catalogue. It reads the text and never changes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/catalogue.h"

/* The scan trusts nothing: each step checks its bounds, and a text it
 * cannot follow simply gives no line. */
#define RG_SCAN_FAIL ((size_t)-1)
#define RG_SCAN_MAXDEPTH 64

static size_t
rg_scan_ws(const char *t, size_t n, size_t i)
{
	while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' ||
	                 t[i] == '\r'))
		i++;
	return i;
}

/* i at '"': the index after the closing quote. */
static size_t
rg_scan_string(const char *t, size_t n, size_t i)
{
	if (i >= n || t[i] != '"')
		return RG_SCAN_FAIL;
	for (i++; i < n; i++) {
		if (t[i] == '\\')
			i++;
		else if (t[i] == '"')
			return i + 1;
	}
	return RG_SCAN_FAIL;
}

static size_t
rg_scan_value(const char *t, size_t n, size_t i, int depth)
{
	char close;

	i = rg_scan_ws(t, n, i);
	if (i >= n || depth > RG_SCAN_MAXDEPTH)
		return RG_SCAN_FAIL;
	if (t[i] == '"')
		return rg_scan_string(t, n, i);
	if (t[i] != '{' && t[i] != '[') {
		while (i < n && strchr(",]} \t\r\n", t[i]) == NULL)
			i++;
		return i;
	}
	close = t[i] == '{' ? '}' : ']';
	i = rg_scan_ws(t, n, i + 1);
	if (i < n && t[i] == close)
		return i + 1;
	while (i < n) {
		if (close == '}') {
			i = rg_scan_string(t, n, rg_scan_ws(t, n, i));
			i = i == RG_SCAN_FAIL ? i : rg_scan_ws(t, n, i);
			if (i == RG_SCAN_FAIL || i >= n || t[i] != ':')
				return RG_SCAN_FAIL;
			i++;
		}
		i = rg_scan_value(t, n, i, depth + 1);
		if (i == RG_SCAN_FAIL)
			return i;
		i = rg_scan_ws(t, n, i);
		if (i < n && t[i] == ',')
			i++;
		else if (i < n && t[i] == close)
			return i + 1;
		else
			return RG_SCAN_FAIL;
	}
	return RG_SCAN_FAIL;
}

/* In the object at i, the start of the value of key; RG_SCAN_FAIL if
 * absent. */
static size_t
rg_scan_member(const char *t, size_t n, size_t i, const char *key)
{
	size_t klen = strlen(key);

	i = rg_scan_ws(t, n, i);
	if (i >= n || t[i] != '{')
		return RG_SCAN_FAIL;
	i++;
	while (i < n) {
		size_t ks = rg_scan_ws(t, n, i), ke = rg_scan_string(t, n, ks);

		if (ke == RG_SCAN_FAIL)
			return RG_SCAN_FAIL;
		i = rg_scan_ws(t, n, ke);
		if (i >= n || t[i] != ':')
			return RG_SCAN_FAIL;
		i = rg_scan_ws(t, n, i + 1);
		if (ke - ks - 2 == klen && memcmp(t + ks + 1, key, klen) == 0)
			return i;
		i = rg_scan_ws(t, n, rg_scan_value(t, n, i, 1));
		if (i >= n || t[i] != ',')
			return RG_SCAN_FAIL;
		i++;
	}
	return RG_SCAN_FAIL;
}

/* In the array at i, the start of element k (0-based). */
static size_t
rg_scan_element(const char *t, size_t n, size_t i, size_t k)
{
	i = rg_scan_ws(t, n, i);
	if (i >= n || t[i] != '[')
		return RG_SCAN_FAIL;
	i = rg_scan_ws(t, n, i + 1);
	for (size_t e = 0; i < n && t[i] != ']'; e++) {
		if (e == k)
			return i;
		i = rg_scan_ws(t, n, rg_scan_value(t, n, i, 1));
		if (i >= n || t[i] != ',')
			return RG_SCAN_FAIL;
		i = rg_scan_ws(t, n, i + 1);
	}
	return RG_SCAN_FAIL;
}

static int
rg_scan_line(const char *t, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++)
		line += t[i] == '\n';
	return line;
}

/*
 * The line of one problem: "resource N ..." names a resource; "field 'x'"
 * or "field K" after it, one of its fields. 0 when unknown.
 */
static int
rg_catalogue_problem_line(const char *t, size_t n, const char *problem)
{
	unsigned long r, k;
	size_t at, res, fields;
	const char *f;
	char *end;

	if (strncmp(problem, "resource ", 9) != 0)
		return 0;
	r = strtoul(problem + 9, &end, 10);
	if (end == problem + 9 || r == 0)
		return 0;
	at = rg_scan_member(t, n, 0, "resources");
	res = at == RG_SCAN_FAIL ? at : rg_scan_element(t, n, at, r - 1);
	if (res == RG_SCAN_FAIL)
		return 0;
	if ((f = strstr(end, ": field ")) == NULL)
		return rg_scan_line(t, res);
	fields = rg_scan_member(t, n, res, "fields");
	if (fields == RG_SCAN_FAIL)
		return rg_scan_line(t, res);
	f += strlen(": field ");
	if (*f == '\'') {
		size_t len = strcspn(f + 1, "'");

		for (k = 0;; k++) {
			size_t e = rg_scan_element(t, n, fields, k), v, ve;

			if (e == RG_SCAN_FAIL)
				return rg_scan_line(t, res);
			v = rg_scan_member(t, n, e, "name");
			ve = v == RG_SCAN_FAIL ? v : rg_scan_string(t, n, v);
			if (ve != RG_SCAN_FAIL && ve - v - 2 == len &&
			    memcmp(t + v + 1, f + 1, len) == 0)
				return rg_scan_line(t, e);
		}
	}
	k = strtoul(f, &end, 10);
	if (end != f && k > 0 &&
	    (at = rg_scan_element(t, n, fields, k - 1)) != RG_SCAN_FAIL)
		return rg_scan_line(t, at);
	return rg_scan_line(t, res);
}

int
rg_catalogue_annotate(const char *text, size_t len, const char *problems,
                      char *out, size_t outlen)
{
	const char *p = problems;
	size_t o = 0;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	while (*p != '\0') {
		size_t plen = strcspn(p, "\n");
		char one[600];
		int line, w;

		snprintf(one, sizeof(one), "%.*s", (int)plen, p);
		/* Syntax errors already carry their line. */
		line = strncmp(one, "line ", 5) == 0 ? 0
		    : rg_catalogue_problem_line(text, len, one);
		w = line > 0
		    ? snprintf(out + o, outlen - o, "%sline %d: %s", o ? "\n" : "",
		               line, one)
		    : snprintf(out + o, outlen - o, "%s%s", o ? "\n" : "", one);
		if (w < 0 || (size_t)w >= outlen - o)
			return -1;
		o += (size_t)w;
		p += plen;
		if (*p == '\n')
			p++;
	}
	return 0;
}

int
rg_catalogue_check_load(const rg_catalogue *cat, char *err, size_t errlen)
{
	size_t o = 0;
	int bad = 0;

	if (errlen > 0)
		err[0] = '\0';
	for (size_t i = 0; i < rg_catalogue_count(cat); i++) {
		const rg_resource *res = rg_catalogue_at(cat, i);
		int w;

		/* Classified matters never enter the sharing mechanism
		 * (DOMAIN.md sections 2.9 and 4). */
		if (rg_resource_class(res) != RG_CLASS_SECRET)
			continue;
		bad = 1;
		w = snprintf(err + o, errlen - o, "%sresource %zu (%s): "
		             "classification secret: classified matters are never "
		             "handled here", o ? "\n" : "", i + 1,
		             rg_resource_id(res));
		if (w < 0 || (size_t)w >= errlen - o)
			break;
		o += (size_t)w;
	}
	return bad ? -1 : 0;
}
