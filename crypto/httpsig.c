/*
 * httpsig.c -- RFC 9421 HTTP Message Signatures (Ed25519) over RFC 8941
 * structured fields, and RFC 9530 Content-Digest.
 *
 * This file owns the parsing of the Signature-Input, Signature and
 * Content-Digest fields and the exact bytes of the signature base. Its input
 * comes straight from the network: it parses strictly and within fixed
 * bounds, and it never decides whether a key, time or nonce is acceptable.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/httpsig.h"
#include "crypto/b64.h"
#include "crypto/sha256.h"

/* Bounds on what a peer may make us parse or build. */
#define RG_HS_MAXFIELD 16384        /* bytes in one field value */
#define RG_HS_MAXCOMP 32            /* covered components */
#define RG_HS_MAXSTR 256            /* bytes in a component name or parameter */
#define RG_HS_MAXKEY 64             /* bytes in a dictionary or parameter key */
#define RG_HS_MAXMEMBERS 16         /* members in one dictionary */
#define RG_HS_MAXPARAMS 16          /* parameters on one member or item */
#define RG_HS_MAXSIG 512            /* decoded signature bytes */
#define RG_HS_MAXBASE (1024 * 1024) /* bytes in a signature base */

/* RFC 8941 integers have at most 15 digits. */
#define RG_HS_SFINT_MAX 999999999999999LL

struct rg_httpsig {
	char label[RG_HS_MAXKEY + 1];
	char *comps[RG_HS_MAXCOMP];
	size_t ncomp;
	/* The inner list and its parameters re-serialised in the order
	 * received: the value of the "@signature-params" line. */
	char *params;
	char *keyid, *alg, *nonce, *tag;
	int has_created, has_expires;
	int64_t created, expires;
	uint8_t sig[RG_HS_MAXSIG];
	size_t siglen;
};

/* ---- A bounded growing string. ---------------------------------------- */

struct rg_hs_buf {
	char *p;
	size_t len, cap, max;
	rg_httpsig_status err; /* first failure; later puts do nothing */
};

static void
rg_hs_put(struct rg_hs_buf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->err != RG_HTTPSIG_OK)
		return;
	if (n > b->max || b->len > b->max - n) {
		b->err = RG_HTTPSIG_MALFORMED;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap != 0 ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->err = RG_HTTPSIG_NOMEM;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
rg_hs_puts(struct rg_hs_buf *b, const char *s)
{
	rg_hs_put(b, s, strlen(s));
}

static void
rg_hs_putint(struct rg_hs_buf *b, int64_t v)
{
	char tmp[32];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->err = RG_HTTPSIG_MALFORMED;
		return;
	}
	rg_hs_put(b, tmp, (size_t)n);
}

/* RFC 8941 sf-string serialisation; s holds only printable ASCII. */
static void
rg_hs_putstr(struct rg_hs_buf *b, const char *s)
{
	rg_hs_put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			rg_hs_put(b, "\\", 1);
		rg_hs_put(b, s, 1);
	}
	rg_hs_put(b, "\"", 1);
}

/* ---- RFC 8941 structured field parsing. --------------------------------- */

struct rg_sf {
	const char *p, *end;
};

enum rg_sf_type { RG_SF_INT, RG_SF_DEC, RG_SF_STR, RG_SF_TOK, RG_SF_BYTES,
                  RG_SF_BOOL };

/* A bare item; strings, tokens and byte sequences point into the input
 * (raw, still escaped / encoded, without delimiters). */
struct rg_sf_item {
	enum rg_sf_type type;
	int64_t i;
	const char *raw;
	size_t rawlen;
};

static int
rg_sf_peek(const struct rg_sf *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int
rg_sf_lcalpha(int ch)
{
	return ch >= 'a' && ch <= 'z';
}

static int
rg_sf_alpha(int ch)
{
	return rg_sf_lcalpha(ch) || (ch >= 'A' && ch <= 'Z');
}

static int
rg_sf_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* RFC 9110 tchar. */
static int
rg_sf_tchar(int ch)
{
	return ch > 0 && (rg_sf_alpha(ch) || rg_sf_digit(ch) ||
	                  strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static void
rg_sf_skip_sp(struct rg_sf *c)
{
	while (rg_sf_peek(c) == ' ')
		c->p++;
}

static void
rg_sf_skip_ows(struct rg_sf *c)
{
	while (rg_sf_peek(c) == ' ' || rg_sf_peek(c) == '\t')
		c->p++;
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static int
rg_sf_key(struct rg_sf *c, char out[RG_HS_MAXKEY + 1])
{
	size_t n = 0;
	int ch = rg_sf_peek(c);

	if (!rg_sf_lcalpha(ch) && ch != '*')
		return -1;
	while ((ch = rg_sf_peek(c)) != -1 &&
	       (rg_sf_lcalpha(ch) || rg_sf_digit(ch) || ch == '_' || ch == '-' ||
	        ch == '.' || ch == '*')) {
		if (n == RG_HS_MAXKEY)
			return -1;
		out[n++] = (char)ch;
		c->p++;
	}
	out[n] = '\0';
	return 0;
}

static int
rg_sf_number(struct rg_sf *c, struct rg_sf_item *it)
{
	int64_t v = 0;
	int neg = 0, nint = 0, nfrac = 0;

	if (rg_sf_peek(c) == '-') {
		neg = 1;
		c->p++;
	}
	while (rg_sf_digit(rg_sf_peek(c))) {
		if (++nint > 15)
			return -1;
		v = v * 10 + (*c->p - '0');
		c->p++;
	}
	if (nint == 0)
		return -1;
	if (rg_sf_peek(c) == '.') {
		/* Decimals are parsed to be skipped; their value is never used. */
		if (nint > 12)
			return -1;
		c->p++;
		while (rg_sf_digit(rg_sf_peek(c))) {
			if (++nfrac > 3)
				return -1;
			c->p++;
		}
		if (nfrac == 0)
			return -1;
		it->type = RG_SF_DEC;
		it->i = 0;
		return 0;
	}
	it->type = RG_SF_INT;
	it->i = neg ? -v : v;
	return 0;
}

static int
rg_sf_bare_item(struct rg_sf *c, struct rg_sf_item *it)
{
	int ch = rg_sf_peek(c);

	memset(it, 0, sizeof(*it));
	if (ch == '-' || rg_sf_digit(ch))
		return rg_sf_number(c, it);
	if (ch == '"') {
		it->type = RG_SF_STR;
		it->raw = ++c->p;
		for (;;) {
			if ((ch = rg_sf_peek(c)) == -1)
				return -1; /* unterminated */
			if (ch == '"')
				break;
			if (ch == '\\') {
				c->p++;
				ch = rg_sf_peek(c);
				if (ch != '"' && ch != '\\')
					return -1;
			} else if (ch < 0x20 || ch > 0x7e)
				return -1;
			c->p++;
		}
		it->rawlen = (size_t)(c->p - it->raw);
		c->p++;
		return 0;
	}
	if (ch == '*' || rg_sf_alpha(ch)) {
		it->type = RG_SF_TOK;
		it->raw = c->p;
		while ((ch = rg_sf_peek(c)) != -1 &&
		       (rg_sf_tchar(ch) || ch == ':' || ch == '/'))
			c->p++;
		it->rawlen = (size_t)(c->p - it->raw);
		return 0;
	}
	if (ch == ':') {
		it->type = RG_SF_BYTES;
		it->raw = ++c->p;
		while ((ch = rg_sf_peek(c)) != ':') {
			if (ch == -1 || !(rg_sf_alpha(ch) || rg_sf_digit(ch) ||
			                  ch == '+' || ch == '/' || ch == '='))
				return -1;
			c->p++;
		}
		it->rawlen = (size_t)(c->p - it->raw);
		c->p++;
		return 0;
	}
	if (ch == '?') {
		c->p++;
		ch = rg_sf_peek(c);
		if (ch != '0' && ch != '1')
			return -1;
		c->p++;
		it->type = RG_SF_BOOL;
		it->i = ch == '1';
		return 0;
	}
	return -1;
}

/* Unescape a string item into out (cap bytes with the NUL). */
static int
rg_sf_string(const struct rg_sf_item *it, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < it->rawlen; i++) {
		if (it->raw[i] == '\\')
			i++; /* validated: an escape is always followed */
		if (n + 1 >= cap)
			return -1;
		out[n++] = it->raw[i];
	}
	out[n] = '\0';
	return 0;
}

/* Strict standard base64 with padding; 0 and *len on success. */
static int
rg_sf_bytes(const struct rg_sf_item *it, uint8_t *out, size_t cap, size_t *len)
{
	return rg_b64_decode(it->raw, it->rawlen, out, cap, len);
}

/*
 * Next parameter: 1 with key and value (Boolean true when no '='), 0 when
 * there is none, -1 when malformed.
 */
static int
rg_sf_param_next(struct rg_sf *c, char key[RG_HS_MAXKEY + 1],
                 struct rg_sf_item *it)
{
	if (rg_sf_peek(c) != ';')
		return 0;
	c->p++;
	rg_sf_skip_sp(c);
	if (rg_sf_key(c, key) != 0)
		return -1;
	if (rg_sf_peek(c) != '=') {
		memset(it, 0, sizeof(*it));
		it->type = RG_SF_BOOL;
		it->i = 1;
		return 1;
	}
	c->p++;
	return rg_sf_bare_item(c, it) == 0 ? 1 : -1;
}

static int
rg_sf_skip_params(struct rg_sf *c)
{
	char key[RG_HS_MAXKEY + 1];
	struct rg_sf_item it;
	int r, n = 0;

	while ((r = rg_sf_param_next(c, key, &it)) == 1)
		if (++n > RG_HS_MAXPARAMS)
			return -1;
	return r;
}

/* Check the value of a dictionary member that nobody here uses. */
static int
rg_sf_skip_value(struct rg_sf *c)
{
	struct rg_sf_item it;
	int n = 0, ch;

	if (rg_sf_peek(c) != '(') {
		if (rg_sf_bare_item(c, &it) != 0)
			return -1;
		return rg_sf_skip_params(c);
	}
	c->p++;
	for (;;) {
		rg_sf_skip_sp(c);
		if (rg_sf_peek(c) == ')') {
			c->p++;
			break;
		}
		if (++n > RG_HS_MAXCOMP || rg_sf_bare_item(c, &it) != 0 ||
		    rg_sf_skip_params(c) != 0)
			return -1;
		ch = rg_sf_peek(c);
		if (ch != ' ' && ch != ')')
			return -1;
	}
	return rg_sf_skip_params(c);
}

/*
 * Start a dictionary member: its key (rejected if seen before in this
 * field: RFC 8941 would let the last one win, which lets a middlebox and
 * us read different values) and whether a value follows '='.
 */
static int
rg_sf_dict_key(struct rg_sf *c, char seen[RG_HS_MAXMEMBERS][RG_HS_MAXKEY + 1],
               size_t *nseen, char key[RG_HS_MAXKEY + 1], int *hasval)
{
	if (rg_sf_key(c, key) != 0)
		return -1;
	for (size_t i = 0; i < *nseen; i++)
		if (strcmp(seen[i], key) == 0)
			return -1;
	if (*nseen == RG_HS_MAXMEMBERS)
		return -1;
	memcpy(seen[(*nseen)++], key, RG_HS_MAXKEY + 1);
	*hasval = rg_sf_peek(c) == '=';
	if (*hasval)
		c->p++;
	return 0;
}

/* After a member: 1 when another follows, 0 at the end, -1 if malformed. */
static int
rg_sf_dict_next(struct rg_sf *c)
{
	rg_sf_skip_ows(c);
	if (c->p == c->end)
		return 0;
	if (rg_sf_peek(c) != ',')
		return -1;
	c->p++;
	rg_sf_skip_ows(c);
	return c->p == c->end ? -1 : 1; /* no trailing comma */
}

/* A field value without the HTTP OWS around it; 0 when empty or too long. */
static int
rg_sf_open(struct rg_sf *c, const char *field)
{
	size_t n = strlen(field);
	const char *s = field, *e = field + n;

	if (n > RG_HS_MAXFIELD)
		return -1;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	c->p = s;
	c->end = e;
	return s == e ? 0 : 1;
}

/* ---- Components. ------------------------------------------------------- */

enum rg_hs_kind { RG_HS_BAD, RG_HS_FIELD, RG_HS_METHOD, RG_HS_AUTHORITY,
                  RG_HS_PATH, RG_HS_QUERY, RG_HS_UNKNOWN };

static enum rg_hs_kind
rg_hs_kind(const char *name)
{
	static const struct {
		const char *name;
		enum rg_hs_kind kind;
	} derived[] = {
		{"@method", RG_HS_METHOD},
		{"@authority", RG_HS_AUTHORITY},
		{"@path", RG_HS_PATH},
		{"@query", RG_HS_QUERY},
	};
	const char *s;

	if (name[0] == '@') {
		for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
			if (strcmp(name, derived[i].name) == 0)
				return derived[i].kind;
		/* Includes "@signature-params", which may never be covered. */
		return RG_HS_UNKNOWN;
	}
	if (name[0] == '\0')
		return RG_HS_BAD;
	/* Field names are covered in lower case (RFC 9421 section 2.1). */
	for (s = name; *s != '\0'; s++)
		if (!rg_sf_tchar((unsigned char)*s) ||
		    (*s >= 'A' && *s <= 'Z'))
			return RG_HS_BAD;
	return RG_HS_FIELD;
}

/* Printable ASCII only: what an sf-string can carry. */
static int
rg_hs_sfstring_ok(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return n <= RG_HS_MAXSTR;
}

/* A component value may not contain a line break or other control bytes:
 * one would let a value forge further lines of the signature base. */
static int
rg_hs_value_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	return 1;
}

static void
rg_hs_put_value(struct rg_hs_buf *b, const char *v, size_t n)
{
	if (!rg_hs_value_ok(v, n)) {
		if (b->err == RG_HTTPSIG_OK)
			b->err = RG_HTTPSIG_MALFORMED;
		return;
	}
	rg_hs_put(b, v, n);
}

/* Build the base over comps[0..n) and the serialised parameters. */
static rg_httpsig_status
rg_hs_build_base(char *const *comps, size_t n, const char *params,
                 const struct rg_httpsig_msg *msg, char **base, size_t *len)
{
	struct rg_hs_buf b = {.max = RG_HS_MAXBASE};
	const char *v, *e;

	*base = NULL;
	if (len != NULL)
		*len = 0;
	for (size_t i = 0; i < n; i++) {
		enum rg_hs_kind kind = rg_hs_kind(comps[i]);

		rg_hs_put(&b, "\"", 1);
		rg_hs_puts(&b, comps[i]);
		rg_hs_put(&b, "\": ", 3);
		switch (kind) {
		case RG_HS_METHOD:
			if (msg->method == NULL)
				goto absent;
			rg_hs_put_value(&b, msg->method, strlen(msg->method));
			break;
		case RG_HS_AUTHORITY:
			if (msg->authority == NULL)
				goto absent;
			/* RFC 9421 section 2.2.3: normalised to lower case. */
			for (v = msg->authority; *v != '\0'; v++) {
				char ch = *v;

				if (ch >= 'A' && ch <= 'Z')
					ch = (char)(ch - 'A' + 'a');
				rg_hs_put_value(&b, &ch, 1);
			}
			break;
		case RG_HS_PATH:
			if (msg->path == NULL)
				goto absent;
			/* RFC 9421 section 2.2.6: an empty path is "/". */
			if (msg->path[0] == '\0')
				rg_hs_put(&b, "/", 1);
			else
				rg_hs_put_value(&b, msg->path, strlen(msg->path));
			break;
		case RG_HS_QUERY:
			/* Section 2.2.7: "?" alone when there is no query. */
			rg_hs_put(&b, "?", 1);
			if (msg->query != NULL)
				rg_hs_put_value(&b, msg->query, strlen(msg->query));
			break;
		case RG_HS_FIELD:
			if (msg->header == NULL ||
			    (v = msg->header(msg->ctx, comps[i])) == NULL)
				goto absent;
			e = v + strlen(v);
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			rg_hs_put_value(&b, v, (size_t)(e - v));
			break;
		case RG_HS_UNKNOWN:
			goto absent;
		case RG_HS_BAD:
		default:
			free(b.p);
			return RG_HTTPSIG_MALFORMED;
		}
		rg_hs_put(&b, "\n", 1);
	}
	rg_hs_puts(&b, "\"@signature-params\": ");
	rg_hs_puts(&b, params);
	if (b.err != RG_HTTPSIG_OK) {
		free(b.p);
		return b.err;
	}
	*base = b.p;
	if (len != NULL)
		*len = b.len;
	return RG_HTTPSIG_OK;
absent:
	free(b.p);
	return RG_HTTPSIG_COMPONENT;
}

/* ---- Parsing the two fields. -------------------------------------------- */

static int
rg_hs_set_string(char **dst, const struct rg_sf_item *it, struct rg_hs_buf *ser,
                 rg_httpsig_status *st)
{
	char tmp[RG_HS_MAXSTR + 1];

	if (*dst != NULL || it->type != RG_SF_STR ||
	    rg_sf_string(it, tmp, sizeof(tmp)) != 0) {
		*st = RG_HTTPSIG_MALFORMED;
		return -1;
	}
	if ((*dst = strdup(tmp)) == NULL) {
		*st = RG_HTTPSIG_NOMEM;
		return -1;
	}
	rg_hs_putstr(ser, tmp);
	return 0;
}

static int
rg_hs_set_int(int *has, int64_t *dst, const struct rg_sf_item *it,
              struct rg_hs_buf *ser, rg_httpsig_status *st)
{
	if (*has || it->type != RG_SF_INT) {
		*st = RG_HTTPSIG_MALFORMED;
		return -1;
	}
	*has = 1;
	*dst = it->i;
	rg_hs_putint(ser, it->i);
	return 0;
}

/*
 * The value of the Signature-Input member we use: an inner list of
 * component names (strings without parameters) and the signature
 * parameters. Sets *unknown when a derived component is not one we build.
 */
static rg_httpsig_status
rg_hs_parse_input(struct rg_sf *c, rg_httpsig *hs, int *unknown)
{
	struct rg_hs_buf ser = {.max = RG_HS_MAXFIELD};
	char tmp[RG_HS_MAXSTR + 1], key[RG_HS_MAXKEY + 1];
	struct rg_sf_item it;
	rg_httpsig_status st = RG_HTTPSIG_MALFORMED;
	enum rg_hs_kind kind;
	int r, ch;

	if (rg_sf_peek(c) != '(')
		goto fail;
	c->p++;
	rg_hs_put(&ser, "(", 1);
	for (;;) {
		rg_sf_skip_sp(c);
		if (rg_sf_peek(c) == ')') {
			c->p++;
			break;
		}
		if (hs->ncomp == RG_HS_MAXCOMP)
			goto fail;
		if (rg_sf_bare_item(c, &it) != 0 || it.type != RG_SF_STR ||
		    rg_sf_string(&it, tmp, sizeof(tmp)) != 0)
			goto fail;
		/* Component parameters (;sf, ;key, ;bs, ;req) are not
		 * supported: refusing them beats signing something else. */
		if (rg_sf_peek(c) == ';')
			goto fail;
		if ((kind = rg_hs_kind(tmp)) == RG_HS_BAD)
			goto fail;
		if (kind == RG_HS_UNKNOWN)
			*unknown = 1;
		if (rg_httpsig_covers(hs, tmp))
			goto fail;
		if ((hs->comps[hs->ncomp] = strdup(tmp)) == NULL) {
			st = RG_HTTPSIG_NOMEM;
			goto fail;
		}
		if (hs->ncomp++ > 0)
			rg_hs_put(&ser, " ", 1);
		rg_hs_putstr(&ser, tmp);
		ch = rg_sf_peek(c);
		if (ch != ' ' && ch != ')')
			goto fail;
	}
	rg_hs_put(&ser, ")", 1);
	while ((r = rg_sf_param_next(c, key, &it)) == 1) {
		rg_hs_put(&ser, ";", 1);
		rg_hs_puts(&ser, key);
		rg_hs_put(&ser, "=", 1);
		if (strcmp(key, "created") == 0)
			r = rg_hs_set_int(&hs->has_created, &hs->created, &it,
			                  &ser, &st);
		else if (strcmp(key, "expires") == 0)
			r = rg_hs_set_int(&hs->has_expires, &hs->expires, &it,
			                  &ser, &st);
		else if (strcmp(key, "nonce") == 0)
			r = rg_hs_set_string(&hs->nonce, &it, &ser, &st);
		else if (strcmp(key, "keyid") == 0)
			r = rg_hs_set_string(&hs->keyid, &it, &ser, &st);
		else if (strcmp(key, "alg") == 0)
			r = rg_hs_set_string(&hs->alg, &it, &ser, &st);
		else if (strcmp(key, "tag") == 0)
			r = rg_hs_set_string(&hs->tag, &it, &ser, &st);
		else
			r = -1; /* RFC 9421 defines no other parameter */
		if (r != 0)
			goto fail;
	}
	if (r != 0)
		goto fail;
	if (ser.err != RG_HTTPSIG_OK) {
		st = ser.err;
		goto fail;
	}
	hs->params = ser.p;
	return RG_HTTPSIG_OK;
fail:
	free(ser.p);
	return st;
}

/* The Signature member for hs->label: one byte sequence, no parameters. */
static rg_httpsig_status
rg_hs_parse_signature(const char *field, rg_httpsig *hs)
{
	char seen[RG_HS_MAXMEMBERS][RG_HS_MAXKEY + 1];
	char key[RG_HS_MAXKEY + 1];
	size_t nseen = 0;
	struct rg_sf_item it;
	struct rg_sf c;
	int r, hasval, found = 0;

	if ((r = rg_sf_open(&c, field)) <= 0)
		return r == 0 ? RG_HTTPSIG_MISSING : RG_HTTPSIG_MALFORMED;
	do {
		if (rg_sf_dict_key(&c, seen, &nseen, key, &hasval) != 0)
			return RG_HTTPSIG_MALFORMED;
		if (strcmp(key, hs->label) != 0) {
			if (hasval ? rg_sf_skip_value(&c) != 0
			           : rg_sf_skip_params(&c) != 0)
				return RG_HTTPSIG_MALFORMED;
			continue;
		}
		if (!hasval || rg_sf_bare_item(&c, &it) != 0 ||
		    it.type != RG_SF_BYTES || rg_sf_peek(&c) == ';' ||
		    rg_sf_bytes(&it, hs->sig, sizeof(hs->sig), &hs->siglen) != 0)
			return RG_HTTPSIG_MALFORMED;
		found = 1;
	} while ((r = rg_sf_dict_next(&c)) == 1);
	if (r != 0 || !found)
		return RG_HTTPSIG_MALFORMED;
	return RG_HTTPSIG_OK;
}

rg_httpsig_status
rg_httpsig_parse(const char *signature_input, const char *signature,
                 rg_httpsig **out)
{
	char seen[RG_HS_MAXMEMBERS][RG_HS_MAXKEY + 1];
	char key[RG_HS_MAXKEY + 1];
	size_t nseen = 0;
	rg_httpsig *hs;
	rg_httpsig_status st;
	struct rg_sf c;
	int r, hasval, unknown = 0;

	if (out == NULL)
		return RG_HTTPSIG_MALFORMED;
	*out = NULL;
	if (signature_input == NULL || signature == NULL)
		return RG_HTTPSIG_MISSING;
	if ((r = rg_sf_open(&c, signature_input)) <= 0)
		return r == 0 ? RG_HTTPSIG_MISSING : RG_HTTPSIG_MALFORMED;
	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return RG_HTTPSIG_NOMEM;
	st = RG_HTTPSIG_MALFORMED;
	do {
		if (rg_sf_dict_key(&c, seen, &nseen, key, &hasval) != 0)
			goto fail;
		if (nseen == 1) {
			/* The first label is the signature we check. */
			if (!hasval)
				goto fail;
			memcpy(hs->label, key, sizeof(hs->label));
			if ((st = rg_hs_parse_input(&c, hs, &unknown)) !=
			    RG_HTTPSIG_OK)
				goto fail;
			st = RG_HTTPSIG_MALFORMED;
		} else if (hasval ? rg_sf_skip_value(&c) != 0
		                  : rg_sf_skip_params(&c) != 0)
			goto fail;
	} while ((r = rg_sf_dict_next(&c)) == 1);
	if (r != 0)
		goto fail;
	if ((st = rg_hs_parse_signature(signature, hs)) != RG_HTTPSIG_OK)
		goto fail;
	if (unknown) {
		st = RG_HTTPSIG_COMPONENT;
		goto fail;
	}
	*out = hs;
	return RG_HTTPSIG_OK;
fail:
	rg_httpsig_free(hs);
	return st;
}

void
rg_httpsig_free(rg_httpsig *hs)
{
	if (hs == NULL)
		return;
	for (size_t i = 0; i < hs->ncomp; i++)
		free(hs->comps[i]);
	free(hs->params);
	free(hs->keyid);
	free(hs->alg);
	free(hs->nonce);
	free(hs->tag);
	free(hs);
}

const char *
rg_httpsig_label(const rg_httpsig *hs)
{
	return hs->label;
}

const char *
rg_httpsig_keyid(const rg_httpsig *hs)
{
	return hs->keyid;
}

const char *
rg_httpsig_alg(const rg_httpsig *hs)
{
	return hs->alg;
}

const char *
rg_httpsig_nonce(const rg_httpsig *hs)
{
	return hs->nonce;
}

int
rg_httpsig_created(const rg_httpsig *hs, int64_t *v)
{
	if (!hs->has_created)
		return 0;
	*v = hs->created;
	return 1;
}

int
rg_httpsig_expires(const rg_httpsig *hs, int64_t *v)
{
	if (!hs->has_expires)
		return 0;
	*v = hs->expires;
	return 1;
}

int
rg_httpsig_covers(const rg_httpsig *hs, const char *component)
{
	for (size_t i = 0; i < hs->ncomp; i++)
		if (strcmp(hs->comps[i], component) == 0)
			return 1;
	return 0;
}

const uint8_t *
rg_httpsig_signature(const rg_httpsig *hs, size_t *len)
{
	*len = hs->siglen;
	return hs->sig;
}

rg_httpsig_status
rg_httpsig_base(const rg_httpsig *hs, const struct rg_httpsig_msg *msg,
                char **base, size_t *len)
{
	if (base == NULL)
		return RG_HTTPSIG_MALFORMED;
	*base = NULL;
	if (hs == NULL || msg == NULL || hs->params == NULL)
		return RG_HTTPSIG_MALFORMED;
	return rg_hs_build_base(hs->comps, hs->ncomp, hs->params, msg, base,
	                        len);
}

int
rg_httpsig_verify(const rg_httpsig *hs, const struct rg_httpsig_msg *msg,
                  const uint8_t pub[RG_SIG_PUBLEN])
{
	char *base;
	size_t len;
	int r;

	if (hs == NULL || msg == NULL || pub == NULL)
		return -1;
	/* The key decides the algorithm; a different claim is a mismatch. */
	if (hs->alg != NULL && strcmp(hs->alg, "ed25519") != 0)
		return -1;
	if (hs->siglen != RG_SIG_LEN)
		return -1;
	if (rg_httpsig_base(hs, msg, &base, &len) != RG_HTTPSIG_OK)
		return -1;
	r = rg_sig_verify(pub, (const uint8_t *)base, len, hs->sig);
	free(base);
	return r == 0 ? 0 : -1;
}

/* ---- Signing (client side). --------------------------------------------- */

rg_httpsig_status
rg_httpsig_sign(const rg_sigkey *key, const char *keyid,
                const struct rg_httpsig_msg *msg,
                const char *const *components, size_t ncomp, int64_t created,
                int64_t expires, const char *nonce, char **signature_input,
                char **signature)
{
	struct rg_hs_buf ser = {.max = RG_HS_MAXFIELD};
	struct rg_hs_buf out = {.max = RG_HS_MAXFIELD};
	char *comps[RG_HS_MAXCOMP];
	char b64[sodium_base64_ENCODED_LEN(RG_SIG_LEN,
	                                   sodium_base64_VARIANT_ORIGINAL)];
	uint8_t sig[RG_SIG_LEN];
	char *base = NULL;
	size_t blen;
	rg_httpsig_status st;
	enum rg_hs_kind kind;

	if (signature_input == NULL || signature == NULL)
		return RG_HTTPSIG_MALFORMED;
	*signature_input = *signature = NULL;
	if (key == NULL || keyid == NULL || msg == NULL ||
	    (components == NULL && ncomp != 0) || ncomp > RG_HS_MAXCOMP)
		return RG_HTTPSIG_MALFORMED;
	if (created < 0 || created > RG_HS_SFINT_MAX || expires < 0 ||
	    expires > RG_HS_SFINT_MAX)
		return RG_HTTPSIG_MALFORMED;
	if (!rg_hs_sfstring_ok(keyid) ||
	    (nonce != NULL && !rg_hs_sfstring_ok(nonce)))
		return RG_HTTPSIG_MALFORMED;
	rg_hs_put(&ser, "(", 1);
	for (size_t i = 0; i < ncomp; i++) {
		if (components[i] == NULL || !rg_hs_sfstring_ok(components[i]))
			goto malformed;
		if ((kind = rg_hs_kind(components[i])) == RG_HS_BAD)
			goto malformed;
		if (kind == RG_HS_UNKNOWN) {
			free(ser.p);
			return RG_HTTPSIG_COMPONENT;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(components[j], components[i]) == 0)
				goto malformed;
		/* The base builder only reads them. */
		comps[i] = (char *)components[i];
		if (i > 0)
			rg_hs_put(&ser, " ", 1);
		rg_hs_putstr(&ser, components[i]);
	}
	/* Parameter order is part of the base; it is fixed here. */
	rg_hs_puts(&ser, ");created=");
	rg_hs_putint(&ser, created);
	if (expires != 0) {
		rg_hs_puts(&ser, ";expires=");
		rg_hs_putint(&ser, expires);
	}
	if (nonce != NULL) {
		rg_hs_puts(&ser, ";nonce=");
		rg_hs_putstr(&ser, nonce);
	}
	rg_hs_puts(&ser, ";keyid=");
	rg_hs_putstr(&ser, keyid);
	rg_hs_puts(&ser, ";alg=\"ed25519\"");
	if (ser.err != RG_HTTPSIG_OK) {
		st = ser.err;
		goto fail;
	}
	if ((st = rg_hs_build_base(comps, ncomp, ser.p, msg, &base, &blen)) !=
	    RG_HTTPSIG_OK)
		goto fail;
	if (rg_sig_sign(key, (const uint8_t *)base, blen, sig) != 0) {
		st = RG_HTTPSIG_NOMEM;
		goto fail;
	}
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	                  sodium_base64_VARIANT_ORIGINAL);
	rg_hs_puts(&out, "sig1=:");
	rg_hs_puts(&out, b64);
	rg_hs_puts(&out, ":");
	if (out.err != RG_HTTPSIG_OK) {
		st = out.err;
		goto fail;
	}
	/* Signature-Input reuses the serialisation that was signed. */
	{
		struct rg_hs_buf in = {.max = RG_HS_MAXFIELD};

		rg_hs_puts(&in, "sig1=");
		rg_hs_puts(&in, ser.p);
		if (in.err != RG_HTTPSIG_OK) {
			free(in.p);
			st = in.err;
			goto fail;
		}
		*signature_input = in.p;
	}
	*signature = out.p;
	free(ser.p);
	free(base);
	return RG_HTTPSIG_OK;
malformed:
	st = RG_HTTPSIG_MALFORMED;
fail:
	free(ser.p);
	free(out.p);
	free(base);
	return st;
}

/* ---- RFC 9530 Content-Digest. --------------------------------------------- */

char *
rg_content_digest(const uint8_t *body, size_t len)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
	                                   sodium_base64_VARIANT_ORIGINAL)];
	char *s;
	size_t n;
	int w;

	if (body == NULL && len != 0)
		return NULL;
	rg_sha256(h, body, len);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h),
	                  sodium_base64_VARIANT_ORIGINAL);
	n = sizeof("sha-256=::") + strlen(b64);
	if ((s = malloc(n)) == NULL)
		return NULL;
	w = snprintf(s, n, "sha-256=:%s:", b64);
	if (w < 0 || (size_t)w >= n) {
		free(s);
		return NULL;
	}
	return s;
}

int
rg_content_digest_check(const char *field, const uint8_t *body, size_t len)
{
	char seen[RG_HS_MAXMEMBERS][RG_HS_MAXKEY + 1];
	char key[RG_HS_MAXKEY + 1];
	uint8_t want[crypto_hash_sha256_BYTES], got[crypto_hash_sha256_BYTES];
	size_t nseen = 0, wlen;
	struct rg_sf_item it, mine = {0};
	struct rg_sf c;
	int r, hasval, found = 0;

	if (field == NULL || (body == NULL && len != 0))
		return 1;
	if (rg_sf_open(&c, field) <= 0)
		return 1;
	/* The whole field must parse before any member of it counts. */
	do {
		if (rg_sf_dict_key(&c, seen, &nseen, key, &hasval) != 0)
			return 1;
		if (strcmp(key, "sha-256") == 0 && hasval &&
		    rg_sf_peek(&c) != '(') {
			if (rg_sf_bare_item(&c, &it) != 0 ||
			    rg_sf_skip_params(&c) != 0)
				return 1;
			if (it.type != RG_SF_BYTES)
				return 1;
			mine = it;
			found = 1;
		} else if (hasval ? rg_sf_skip_value(&c) != 0
		                  : rg_sf_skip_params(&c) != 0)
			return 1;
	} while ((r = rg_sf_dict_next(&c)) == 1);
	if (r != 0 || !found)
		return 1;
	if (rg_sf_bytes(&mine, want, sizeof(want), &wlen) != 0 ||
	    wlen != sizeof(want))
		return 1;
	rg_sha256(got, body, len);
	return sodium_memcmp(got, want, sizeof(want)) == 0 ? 0 : -1;
}
