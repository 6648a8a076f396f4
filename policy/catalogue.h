/*
 * catalogue.h -- the information-resource catalogue (信息资源目录).
 *
 * The catalogue owns the list of resources: id, titles, owner department,
 * classification, share type, field schema and the fields unconditional
 * readers get. It validates records against a resource's schema. It is
 * immutable once parsed; a new catalogue is a new object.
 *
 * Catalogue file format (JSON), documented in README.md:
 *   {"version": 1, "resources": [ {
 *      "id": "occ-disease-diagnosis", "title_zh": "职业病诊断",
 *      "title_en": "Occupational disease diagnosis", "owner": "health",
 *      "classification": "public"|"internal"|"sensitive"|"secret",
 *      "share": "unconditional"|"conditional"|"none",
 *      "retention_days": 10950,
 *      "fields": [ {"name": "patient_name", "type": "string",
 *                   "required": true, "personal": true}, ...,
 *                  {"name": "phase", "type": "string",
 *                   "values": ["初报", "续报", "终报"]} ],
 *      "unconditional_fields": ["employer", ...]   (share unconditional only)
 *   } ] }
 * Field types: "string", "integer", "number", "boolean", "date"
 * (YYYY-MM-DD), "datetime" (RFC 3339). At most RG_CATALOGUE_MAXFIELDS fields
 * per resource, so that a field set fits a 64-bit mask.
 */
#ifndef RG_CATALOGUE_H
#define RG_CATALOGUE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define RG_CATALOGUE_MAXFIELDS 64

typedef enum rg_share {
	RG_SHARE_UNCONDITIONAL,
	RG_SHARE_CONDITIONAL,
	RG_SHARE_NONE
} rg_share;

typedef enum rg_class {
	RG_CLASS_PUBLIC,
	RG_CLASS_INTERNAL,
	RG_CLASS_SENSITIVE,
	RG_CLASS_SECRET
} rg_class;

typedef enum rg_ftype {
	RG_FT_STRING, RG_FT_INTEGER, RG_FT_NUMBER, RG_FT_BOOLEAN, RG_FT_DATE,
	RG_FT_DATETIME
} rg_ftype;

typedef struct rg_catalogue rg_catalogue;
typedef struct rg_resource rg_resource;

/*
 * Parse a catalogue from JSON text. On failure returns NULL and writes
 * every problem found (one per line, with the line number where known)
 * into err. The caller owns the result.
 */
rg_catalogue *rg_catalogue_parse(const char *text, size_t len, char *err,
                                 size_t errlen);
void rg_catalogue_free(rg_catalogue *cat);
/*
 * catalogue_lines.c: prefix each problem line of rg_catalogue_parse that
 * names a resource or a field with "line N: ", N being where that resource
 * or field starts in text. Writes into out; 0, or -1 when out is too small
 * (out then holds what fitted).
 */
int rg_catalogue_annotate(const char *text, size_t len, const char *problems,
                          char *out, size_t outlen);
/*
 * May this (parsed) catalogue be loaded? Refuses resources classified
 * secret, one problem line each ("resource N (id): ..."), as
 * rg_catalogue_parse words them. 0, or -1 with err.
 */
int rg_catalogue_check_load(const rg_catalogue *cat, char *err, size_t errlen);

size_t rg_catalogue_count(const rg_catalogue *cat);
const rg_resource *rg_catalogue_at(const rg_catalogue *cat, size_t i);
/* NULL when absent. */
const rg_resource *rg_catalogue_find(const rg_catalogue *cat, const char *id);

/* Resource accessors; strings are owned by the catalogue. */
const char *rg_resource_id(const rg_resource *res);
const char *rg_resource_title_zh(const rg_resource *res);
const char *rg_resource_title_en(const rg_resource *res);
const char *rg_resource_owner(const rg_resource *res);
rg_share rg_resource_share(const rg_resource *res);
rg_class rg_resource_class(const rg_resource *res);
int64_t rg_resource_retention_days(const rg_resource *res);
size_t rg_resource_field_count(const rg_resource *res);
const char *rg_resource_field_name(const rg_resource *res, size_t i);
rg_ftype rg_resource_field_type(const rg_resource *res, size_t i);
int rg_resource_field_required(const rg_resource *res, size_t i);
int rg_resource_field_personal(const rg_resource *res, size_t i);
/* A string field's closed list of values (a JSON array owned by the
 * catalogue), or NULL when any string is allowed. */
const json_t *rg_resource_field_values(const rg_resource *res, size_t i);
/* Mask of all fields, and of the fields unconditional readers get. */
uint64_t rg_resource_all_fields(const rg_resource *res);
uint64_t rg_resource_unconditional_fields(const rg_resource *res);

/*
 * The catalogue as JSON in the file format, normalised: defaults written
 * out (required/personal false), unconditional_fields in schema order,
 * resources in file order. Two files that mean the same catalogue give the
 * same JSON; the policy version hashes it. Caller owns the result
 * (json_decref). NULL on allocation failure.
 */
json_t *rg_catalogue_to_json(const rg_catalogue *cat);

/* A department id: lower-case letters, 1 to 31 characters. 1 or 0. */
int rg_department_id_valid(const char *s);

const char *rg_share_name(rg_share s);
const char *rg_class_name(rg_class c);
const char *rg_ftype_name(rg_ftype t);

/*
 * Validate one record (a JSON object of field name -> value) against the
 * resource's schema. Returns 0 when valid; otherwise -1 with the offending
 * field name in field (empty when the record is not an object) and a
 * message in msg ("unknown field", "missing required field",
 * "expected integer", ...).
 */
int rg_resource_validate(const rg_resource *res, const json_t *record,
                         char *field, size_t fieldlen, char *msg, size_t msglen);

/*
 * A copy of record holding only the fields in mask (bit i = field i).
 * Caller owns the result (json_decref). NULL on allocation failure or when
 * record is not an object.
 */
json_t *rg_resource_filter(const rg_resource *res, const json_t *record,
                           uint64_t mask);

#endif
