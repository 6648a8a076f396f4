/*
 * demo.h -- the embedded demo: a data directory with the sixteen member
 * departments of the joint meeting, each with a key, and the demo
 * catalogue. Everything a newcomer needs to see recgate work.
 */
#ifndef RG_DEMO_H
#define RG_DEMO_H

#include <stddef.h>

/* The sixteen member departments: id, Chinese and English name. */
struct rg_demo_dept {
	const char *id;
	const char *name_zh;
	const char *name_en;
};
extern const struct rg_demo_dept rg_demo_depts[];
extern const size_t rg_demo_ndepts;

/* The embedded demo catalogue (JSON text, NUL-terminated). */
const char *rg_demo_catalogue(size_t *len);

/*
 * Create DIR (must not exist, or be empty): master.key, keystore,
 * recgate.db, recgate.conf, clients/<dept>.key. 0, or -1 with err.
 */
int rg_demo_init(const char *dir, char *err, size_t errlen);

/*
 * demo_grants.c: the demo's conditional-share grants (DESIGN.md section
 * 10), requested, approved and countersigned through the keeper with the
 * departments' and the office's client keys in DIR/clients, as over HTTP.
 * Run on a DIR made by rg_demo_init. 0 (and *count set), or -1 with err.
 */
int rg_demo_grants(const char *dir, size_t *count, char *err, size_t errlen);

#endif
