/*
 * gw.h -- integration-test harness: a real recgated on a loopback port over
 * a fresh demo directory, and signed requests to it as any department.
 */
#ifndef RG_TEST_GW_H
#define RG_TEST_GW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "gateway/client.h"

/* The demo's unconditional resource, and a record of it any test may
 * submit as health. */
#define RG_GW_HAZARD "/v1/resources/hazard-declaration/records"
#define RG_GW_HAZARD_RECORD                                                    \
	"{\"employer\": \"某某矿业有限公司\", \"employer_credit_code\": "            \
	"\"91110000100000000X\", \"industry\": \"煤炭开采和洗选业\", "               \
	"\"region\": \"某县\", \"hazard_categories\": \"粉尘、噪声\", "             \
	"\"worker_count\": 300, \"exposed_worker_count\": 120, "                   \
	"\"declaration_type\": \"年度更新\", \"declaration_date\": \"2026-01-10\"}"

struct rg_gw {
	char dir[512];
	char conf[600];
	char host[64];
	int port;
	char url[128];
	char authority[96];
	pid_t pid;
};

/* Init a demo directory (with extra config lines, may be NULL) and start. */
void rg_gw_start(struct rg_gw *gw, const char *extra_conf);
/* Only lay out the demo directory (start it with rg_gw_restart). */
void rg_gw_prepare(struct rg_gw *gw, const char *extra_conf);
/* Start again on the same directory (after rg_gw_stop). */
void rg_gw_restart(struct rg_gw *gw);
/* SIGTERM and wait; CHECKs a clean exit. */
void rg_gw_stop(struct rg_gw *gw);

/*
 * Set `name = value` in the gateway's config file, replacing any line that
 * sets name (value NULL: only remove it). Takes effect at the next start.
 */
void rg_gw_conf_set(struct rg_gw *gw, const char *name, const char *value);
/*
 * Wait up to timeout_ms for the gateway to exit on its own (a crash drill:
 * its keeper killed itself, so the monitor stops); returns its wait status
 * and forgets the pid. CHECKs that it did exit in time (it is killed
 * otherwise).
 */
int rg_gw_wait_exit(struct rg_gw *gw, int timeout_ms);

/* Start recgated on gw's config expecting it to fail, with passfile (may
 * be NULL) open on descriptor pass_fd; its exit status, and what it
 * printed in out. */
int rg_gw_start_fails(const struct rg_gw *gw, const char *passfile,
                      int pass_fd, char *out, size_t outlen);

/* Run recgatectl with args (a shell fragment, stdin /dev/null); its exit
 * status, and what it printed (stdout and stderr) in out. */
int rg_gw_ctl(const char *args, char *out, size_t outlen);
/* Write text to path (created or truncated); CHECKs every step. */
void rg_gw_write_text(const char *path, const char *text);

/* The demo directory's keystore, opened with its master.key (caller
 * frees with rg_keystore_free). CHECKs that it opens. */
struct rg_keystore;
struct rg_keystore *rg_gw_keystore(struct rg_gw *gw);

/* Raw request bytes signed by dept (NULL: unsigned). Caller frees. */
char *rg_gw_build(struct rg_gw *gw, const char *dept, const char *method,
                  const char *path, const char *query, const char *body,
                  const struct rg_client_opts *opts, size_t *len);
/* Send raw bytes; returns the status, *body (caller json_decref) parsed. */
int rg_gw_send(struct rg_gw *gw, const char *raw, size_t len, json_t **body);
/* Build + send. */
int rg_gw_call(struct rg_gw *gw, const char *dept, const char *method,
               const char *path, const char *query, const char *body,
               const struct rg_client_opts *opts, json_t **resp);
/* Submit record (JSON text) to the records path records_path (e.g.
 * "/v1/resources/R/records") as dept, CHECKing 200; the new record's path
 * (records_path/ID; caller frees). */
char *rg_gw_submit(struct rg_gw *gw, const char *dept,
                   const char *records_path, const char *record);
/* Whether dir/rel exists (lstat). */
int rg_gw_exists(const char *dir, const char *rel);
/* The error code of a response body, or "" */
const char *rg_gw_code(const json_t *resp);
/* The gateway's audit size from /healthz. */
long long rg_gw_audit_size(struct rg_gw *gw);
/* The entries of one action in an `audit export` directory, decoded, in
 * log order (caller json_decref). */
json_t *rg_gw_export_entries(const char *exp, const char *action);
/* Run the bench's load generator against gw, closed loop: args give the
 * rest (connections, seconds, seed, pool, mix). CHECKs that it exits 0
 * and prints JSON; returns that (caller json_decref). */
json_t *rg_gw_loadgen(struct rg_gw *gw, const char *args);

#endif
