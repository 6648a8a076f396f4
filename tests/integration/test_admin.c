/*
 * test_admin.c -- the administrator's key and department changes against
 * the running gateway: a department's key rotates with no failed
 * exchange, a revoked key and a suspended department are refused from the
 * next request on, every change is an audit entry, and only an
 * administrator's key reaches these routes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto/sig.h"
#include "tests/integration/gw.h"
#include "tests/integration/load.h"
#include "tests/test.h"

#define FEE "/v1/resources/injury-insurance-fee/records"

static const char fee_record[] =
    "{\"employer\": \"某某矿业有限公司\", \"employer_credit_code\": \"9111\","
    " \"period_start\": \"2026-01-01\", \"period_end\": \"2026-03-31\","
    " \"assessed_amount\": 12000.5, \"paid_amount\": 12000.5,"
    " \"arrears_amount\": 0, \"payment_date\": \"2026-04-10\","
    " \"payment_status\": \"已缴\"}";

static const char *
reason_of(const json_t *r)
{
	const char *s = json_string_value(json_object_get(json_object_get(r,
	                                  "error"), "reason"));
	return s != NULL ? s : "";
}

/* The audit entry a receipt carries, parsed (caller json_decref). */
static json_t *
receipt_entry(const json_t *r)
{
	const char *b64 = json_string_value(json_object_get(json_object_get(r,
	                                    "receipt"), "entry"));
	unsigned char bin[16384];
	size_t len;

	CHECK(b64 != NULL);
	CHECK(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL, &len,
	                        NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	return json_loadb((const char *)bin, len, 0, NULL);
}

/* The key id in DIR/clients/<name>.key. */
static void
key_id_of(struct rg_gw *gw, const char *name, char *out, size_t outlen)
{
	struct rg_client_key k = {0};
	char path[700], err[256];

	snprintf(path, sizeof(path), "%s/clients/%s.key", gw->dir, name);
	CHECKF(rg_client_key_load(path, &k, err, sizeof(err)) == 0, "%s", err);
	snprintf(out, outlen, "%s", k.keyid);
	rg_client_key_clear(&k);
}

/* A fresh pair written as DIR/clients/<name>.key for dept (the harness
 * signs with it as "<name>"); its public key in base64 into pub64. */
static void
make_key(struct rg_gw *gw, const char *dept, const char *name,
         const char *keyid, char *pub64, size_t publen)
{
	uint8_t seed[RG_SIG_SEEDLEN], pub[RG_SIG_PUBLEN];
	char seed64[64], path[700];
	rg_sigkey *k = rg_sigkey_generate();
	FILE *f;

	CHECK(k != NULL);
	rg_sigkey_seed(k, seed);
	rg_sigkey_public(k, pub);
	rg_sigkey_free(k);
	sodium_bin2base64(seed64, sizeof(seed64), seed, sizeof(seed),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(pub64, publen, pub, sizeof(pub),
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(path, sizeof(path), "%s/clients/%s.key", gw->dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, "{\"department\": \"%s\", \"keyid\": \"%s\", \"seed\": \"%s\"}\n",
	        dept, keyid, seed64);
	CHECK(fclose(f) == 0);
	sodium_memzero(seed, sizeof(seed));
}

static int
admin_post(struct rg_gw *gw, const char *path, const char *body, json_t **r)
{
	return rg_gw_call(gw, "admin", "POST", path, NULL, body, NULL, r);
}

/* Register keyid (made with make_key) for dept as the administrator. */
static void
add_key(struct rg_gw *gw, const char *dept, const char *name,
        const char *keyid)
{
	char pub64[64], body[512];
	json_t *r, *e;

	make_key(gw, dept, name, keyid, pub64, sizeof(pub64));
	snprintf(body, sizeof(body), "{\"department\": \"%s\", \"keyid\": \"%s\","
	         " \"public_key\": \"%s\"}", dept, keyid, pub64);
	CHECK_EQ_INT(admin_post(gw, "/v1/admin/keys", body, &r), 200);
	e = receipt_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(e, "action")),
	             "admin.key.add");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(e,
	             "admin"), "keyid")), keyid);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(e,
	             "admin"), "public_key")), pub64);
	json_decref(e);
	json_decref(r);
}

static int
catalogue_as(struct rg_gw *gw, const char *who, json_t **r)
{
	return rg_gw_call(gw, who, "GET", "/v1/catalogue", NULL, NULL, NULL, r);
}

/*
 * A client of tax keeps sending signed requests with its key file while
 * the administrator registers the next key (`recgatectl admin key new`),
 * the client switches, and the old key is retired: no exchange fails.
 * The child counts its failures in its exit status; files in the demo
 * directory tell it when to switch and when to stop.
 */
SLOW_TEST(department_key_rotates_under_load_without_a_failed_exchange, 120)
{
	struct rg_gw gw;
	char oldid[128], newid[128], cmd[2400], flag[700], done[700], path[700];
	struct stat sb;
	struct rg_load *l;
	json_t *r, *e;
	pid_t pid;
	int status;

	rg_gw_start(&gw, NULL);
	key_id_of(&gw, "tax", oldid, sizeof(oldid));
	snprintf(flag, sizeof(flag), "%s/switch", gw.dir);
	snprintf(done, sizeof(done), "%s/stop", gw.dir);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		unsigned failed = 0, sent = 0, switched = 0;

		while (access(done, F_OK) != 0 || sent < 4) {
			const char *who = access(flag, F_OK) == 0 ? "tax-2" : "tax";
			struct rg_client_resp resp;
			char err[256], *raw;
			size_t len;

			raw = rg_gw_build(&gw, who, "GET", "/v1/catalogue", NULL,
			                  NULL, NULL, &len);
			if (rg_client_send(gw.host, gw.port, raw, len, &resp, err,
			                   sizeof(err)) != 0 || resp.status != 200)
				failed++;
			else
				free(resp.body);
			free(raw);
			sent++;
			if (strcmp(who, "tax-2") == 0 && !switched) {
				char ack[800];
				FILE *f;

				switched = 1;
				snprintf(ack, sizeof(ack), "%s.ack", flag);
				if ((f = fopen(ack, "w")) != NULL)
					fclose(f);
			}
		}
		_exit(failed > 250 ? 250 : (int)failed);
	}
	/* Another department keeps exchanging meanwhile; its receipts and
	 * the whole log are verified at the end. (Threads only after the
	 * fork: a child of a threaded process could inherit a held lock.) */
	l = rg_load_start(&gw, 1, 10);
	usleep(100 * 1000);
	snprintf(path, sizeof(path), "%s/clients/tax-2.key", gw.dir);
	snprintf(cmd, sizeof(cmd), "%s/recgatectl admin --url %s --key "
	         "%s/clients/admin.key key new --department tax --out %s "
	         ">/dev/null", rg_test_build(), gw.url, gw.dir, path);
	CHECKF(system(cmd) == 0, "%s failed", cmd);
	CHECK(stat(path, &sb) == 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	key_id_of(&gw, "tax-2", newid, sizeof(newid));
	CHECK(strcmp(newid, oldid) != 0);
	/* Both keys are active during the overlap. */
	CHECK_EQ_INT(catalogue_as(&gw, "tax", &r), 200);
	json_decref(r);
	CHECK_EQ_INT(catalogue_as(&gw, "tax-2", &r), 200);
	json_decref(r);
	{
		FILE *f = fopen(flag, "w");
		char ack[800];

		CHECK(f != NULL);
		fclose(f);
		snprintf(ack, sizeof(ack), "%s.ack", flag);
		for (int i = 0; i < 200 && access(ack, F_OK) != 0; i++)
			usleep(20 * 1000);
		CHECK(access(ack, F_OK) == 0);
	}
	snprintf(path, sizeof(path), "/v1/admin/keys/%s/retire", oldid);
	CHECK_EQ_INT(admin_post(&gw, path, NULL, &r), 200);
	e = receipt_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(e, "action")),
	             "admin.key.retire");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(e,
	             "admin"), "keyid")), oldid);
	json_decref(e);
	json_decref(r);
	usleep(100 * 1000);
	{
		FILE *f = fopen(done, "w");

		CHECK(f != NULL);
		fclose(f);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "%d exchanges failed during the rotation", WEXITSTATUS(status));
	/* The retired key is refused from then on; the new one works. */
	CHECK_EQ_INT(catalogue_as(&gw, "tax", &r), 401);
	CHECK_EQ_STR(rg_gw_code(r), "key_suspended");
	json_decref(r);
	CHECK_EQ_INT(catalogue_as(&gw, "tax-2", &r), 200);
	json_decref(r);
	/* Retiring it twice is a conflict, entered like any refusal. */
	CHECK_EQ_INT(admin_post(&gw, path, NULL, &r), 409);
	CHECK_EQ_STR(rg_gw_code(r), "admin_conflict");
	json_decref(r);
	rg_load_stop(l, 5);
	rg_load_check(l);
	rg_load_free(l);
	rg_gw_stop(&gw);
}

TEST(revoked_key_is_refused_from_the_next_request)
{
	struct rg_gw gw;
	json_t *r, *e;

	rg_gw_start(&gw, NULL);
	add_key(&gw, "tax", "tax-x", "tax-x1");
	CHECK_EQ_INT(catalogue_as(&gw, "tax-x", &r), 200);
	json_decref(r);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/keys/tax-x1/revoke", NULL, &r),
	             200);
	e = receipt_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(e, "action")),
	             "admin.key.revoke");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(e,
	             "admin"), "status")), "revoked");
	json_decref(e);
	json_decref(r);
	CHECK_EQ_INT(catalogue_as(&gw, "tax-x", &r), 401);
	CHECK_EQ_STR(rg_gw_code(r), "key_revoked");
	json_decref(r);
	/* The department's other key is untouched. */
	CHECK_EQ_INT(catalogue_as(&gw, "tax", &r), 200);
	json_decref(r);
	/* Revoked is final: neither revoked again nor retired. */
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/keys/tax-x1/retire", NULL, &r),
	             409);
	CHECK_EQ_STR(reason_of(r), "key_state");
	json_decref(r);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/keys/no-such-key/revoke", NULL,
	                        &r), 404);
	CHECK_EQ_STR(rg_gw_code(r), "admin_target_not_found");
	json_decref(r);
	rg_gw_stop(&gw);
}

SLOW_TEST(suspended_department_is_refused_at_once_and_its_grants_go_inert, 120)
{
	struct rg_gw gw;
	const char *purpose = "工伤保险 injury insurance";
	struct rg_client_opts o = {.purpose = purpose};
	char path[256];
	json_t *r, *e, *rec;

	rg_gw_start(&gw, NULL);
	CHECK_EQ_INT(rg_gw_call(&gw, "tax", "POST", FEE, NULL, fee_record, NULL,
	                        &r), 200);
	rec = json_array_get(json_object_get(json_object_get(r, "result"),
	                                     "records"), 0);
	snprintf(path, sizeof(path), "%s/%s", FEE,
	         json_string_value(json_object_get(rec, "id")));
	json_decref(r);
	/* The demo grants the fee records to hrss. */
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", path, NULL, NULL, &o, &r), 200);
	json_decref(r);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/departments/tax/suspend", NULL,
	                        &r), 200);
	e = receipt_entry(r);
	CHECK_EQ_STR(json_string_value(json_object_get(e, "action")),
	             "admin.department.suspend");
	json_decref(e);
	json_decref(r);
	CHECK_EQ_INT(catalogue_as(&gw, "tax", &r), 401);
	CHECK_EQ_STR(rg_gw_code(r), "key_suspended");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", path, NULL, NULL, &o, &r), 403);
	CHECK_EQ_STR(reason_of(r), "department_suspended");
	json_decref(r);
	/* Reactivated: both work again. */
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/departments/tax/reactivate", NULL,
	                        &r), 200);
	json_decref(r);
	CHECK_EQ_INT(catalogue_as(&gw, "tax", &r), 200);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "hrss", "GET", path, NULL, NULL, &o, &r), 200);
	json_decref(r);
	/* The administrator cannot lock out its own department. */
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/departments/health/suspend", NULL,
	                        &r), 409);
	CHECK_EQ_STR(reason_of(r), "own_department");
	json_decref(r);
	rg_gw_stop(&gw);
}

TEST(only_an_administrator_key_reaches_the_admin_routes)
{
	struct rg_gw gw;
	char pub64[64], body[512];
	long long before;
	json_t *r;

	rg_gw_start(&gw, NULL);
	make_key(&gw, "tax", "tax-y", "tax-y1", pub64, sizeof(pub64));
	snprintf(body, sizeof(body), "{\"department\": \"tax\", \"keyid\":"
	         " \"tax-y1\", \"public_key\": \"%s\"}", pub64);
	before = rg_gw_audit_size(&gw);
	CHECK_EQ_INT(rg_gw_call(&gw, "tax", "POST", "/v1/admin/keys", NULL, body,
	                        NULL, &r), 403);
	CHECK_EQ_STR(reason_of(r), "role_not_permitted");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "officer", "POST",
	                        "/v1/admin/departments/hrss/suspend", NULL, NULL,
	                        NULL, &r), 403);
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "office", "GET",
	                        "/v1/admin/departments/tax/keys", NULL, NULL,
	                        NULL, &r), 403);
	json_decref(r);
	/* Each refusal is entered; the key was not registered. */
	CHECK_EQ_INT(rg_gw_audit_size(&gw), before + 3);
	CHECK_EQ_INT(catalogue_as(&gw, "tax-y", &r), 401);
	CHECK_EQ_STR(rg_gw_code(r), "key_unknown");
	json_decref(r);
	/* Rotation never gives a department a role it did not hold. */
	snprintf(body, sizeof(body), "{\"department\": \"tax\", \"keyid\":"
	         " \"tax-y1\", \"public_key\": \"%s\", \"role\": \"office\"}",
	         pub64);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/keys", body, &r), 403);
	CHECK_EQ_STR(reason_of(r), "role_not_held");
	json_decref(r);
	/* A key id is registered once. */
	snprintf(body, sizeof(body), "{\"department\": \"tax\", \"keyid\":"
	         " \"admin-00\", \"public_key\": \"%s\"}", pub64);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/keys", body, &r), 200);
	json_decref(r);
	CHECK_EQ_INT(admin_post(&gw, "/v1/admin/keys", body, &r), 409);
	CHECK_EQ_STR(reason_of(r), "key_exists");
	json_decref(r);
	CHECK_EQ_INT(rg_gw_call(&gw, "admin", "GET",
	                        "/v1/admin/departments/tax/keys", NULL, NULL,
	                        NULL, &r), 200);
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r, "result"),
	                                             "keys")), 2);
	json_decref(r);
	rg_gw_stop(&gw);
}
