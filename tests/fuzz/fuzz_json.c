/*
 * fuzz_json.c -- request bodies (jparse.c) and the catalogue an office
 * loads (policy/catalogue.c). What holds: the fast reader takes only
 * bodies jansson reads to the same tree, and rg_jparse answers exactly as
 * jansson does; a catalogue that parses, written back out as JSON, parses
 * again to the same catalogue.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/demo.h"
#include "gateway/jparse.h"
#include "policy/catalogue.h"
#include "tests/fuzz/fuzz.h"

void
rg_fuzz_json_body(const uint8_t *data, size_t len)
{
	json_t *fast = rg_jparse_fast(data, len);
	json_t *full = rg_jparse(data, len, NULL);
	json_t *ref = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	                         NULL);

	RG_FUZZ_ASSERT((full == NULL) == (ref == NULL));
	rg_fuzz_accepted += fast != NULL;
	if (full != NULL)
		RG_FUZZ_ASSERT(json_equal(full, ref));
	if (fast != NULL)
		RG_FUZZ_ASSERT(ref != NULL && json_equal(fast, ref));
	json_decref(fast);
	json_decref(full);
	json_decref(ref);
}

void
rg_fuzz_json_body_seeds(rg_fuzz_emit emit, void *ctx)
{
	static const char *const s[] = {
	    "{\"id\":\"F-2026-001\",\"enterprise\":\"某某矿业有限公司\","
	    "\"hazard\":\"矽尘\",\"workers_exposed\":37,\"measured\":1.25,"
	    "\"declared_on\":\"2026-03-01\",\"ok\":true,\"note\":null}",
	    "[{\"id\":\"a\",\"n\":-0.5e-3},{\"id\":\"b\",\"list\":[1,[2,{}]]}]",
	    "{\"s\":\"tab\\tquote\\\"u\\u00e9\\ud83d\\ude00\"}",
	    "  {\"a\" : 1 , \"a\" : 2}  ",
	};

	rg_fuzz_emit_all(emit, ctx, s, sizeof(s) / sizeof(s[0]));
}

void
rg_fuzz_catalogue(const uint8_t *data, size_t len)
{
	char err[4096];
	rg_catalogue *cat = rg_catalogue_parse((const char *)data, len, err,
	                                       sizeof(err));
	rg_catalogue *again;
	json_t *out, *out2;
	char *text;

	if (cat == NULL) {
		RG_FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
		return;
	}
	rg_fuzz_accepted++;
	for (size_t i = 0; i < rg_catalogue_count(cat); i++) {
		const rg_resource *r = rg_catalogue_at(cat, i);

		RG_FUZZ_ASSERT(rg_catalogue_find(cat, rg_resource_id(r)) == r);
		for (size_t f = 0; f < rg_resource_field_count(r); f++)
			RG_FUZZ_ASSERT(rg_resource_field_name(r, f) != NULL);
	}
	out = rg_catalogue_to_json(cat);
	RG_FUZZ_ASSERT(out != NULL);
	text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	RG_FUZZ_ASSERT(text != NULL);
	again = rg_catalogue_parse(text, strlen(text), err, sizeof(err));
	RG_FUZZ_ASSERT(again != NULL);
	out2 = rg_catalogue_to_json(again);
	RG_FUZZ_ASSERT(out2 != NULL && json_equal(out, out2));
	json_decref(out2);
	rg_catalogue_free(again);
	free(text);
	json_decref(out);
	rg_catalogue_free(cat);
}

void
rg_fuzz_catalogue_seeds(rg_fuzz_emit emit, void *ctx)
{
	static const char small[] =
	    "{\"version\":1,\"resources\":[{\"id\":\"r\",\"title_zh\":\"资源\","
	    "\"title_en\":\"R\",\"owner\":\"health\",\"classification\":"
	    "\"internal\",\"share\":\"unconditional\",\"retention_days\":30,"
	    "\"fields\":[{\"name\":\"id\",\"type\":\"string\",\"required\":true},"
	    "{\"name\":\"kind\",\"type\":\"string\",\"values\":[\"初报\",\"续报\"]},"
	    "{\"name\":\"n\",\"type\":\"integer\",\"personal\":false}],"
	    "\"unconditional_fields\":[\"id\",\"kind\"]}]}";
	size_t len;
	const char *demo = rg_demo_catalogue(&len);

	emit(ctx, (const uint8_t *)demo, len);
	emit(ctx, (const uint8_t *)small, sizeof(small) - 1);
}
