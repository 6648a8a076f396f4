/*
 * keeper_fixture.h -- a keeper in-process for unit tests: a fresh demo
 * directory, the keeper opened on its own loop, and requests signed and
 * framed as the front would hand them over.
 */
#ifndef RG_TEST_KEEPER_FIXTURE_H
#define RG_TEST_KEEPER_FIXTURE_H

#include <uv.h>

#include "gateway/client.h"
#include "gateway/keeper_int.h"

#define HAZARD_PATH "/v1/resources/hazard-declaration/records"
#define HAZARD_BODY                                                            \
	"{\"employer\": \"甲公司\", \"employer_credit_code\": \"9111\","          \
	" \"hazard_categories\": \"噪声\", \"worker_count\": 10,"                   \
	" \"exposed_worker_count\": 3, \"declaration_type\": \"首次申报\","         \
	" \"declaration_date\": \"2026-02-01\"}"

/* A signed request as the front frames it (members owned by it). */
struct treq {
	struct rg_request req;
	struct rg_header hdrs[4];
	char *digest, *sig_input, *sig;
};

/* What the keeper answered, and how many times. */
struct answer {
	int status;
	char code[64];
	int count;
};

struct fixture {
	uv_loop_t loop;
	rg_keeper *kp;
	struct rg_client_key health;
	struct rg_client_key admin;
	char keystore[4200];
};

/* Sign method path body with k (covering the digest), fresh nonce, now. */
void treq_make(struct treq *t, const struct rg_client_key *k, const char *method,
               const char *path, const char *body);
void treq_free(struct treq *t);
/* rg_keeper_done callback filling a struct answer. */
void answer_cb(void *ctx, const struct rg_response *resp);
void fixture_open(struct fixture *f);
/* One loop iteration (the open batch commits in its check phase), then
 * the committed batches back from the finisher: their replies are out. */
void keeper_run(uv_loop_t *loop, rg_keeper *kp);
void fixture_close(struct fixture *f);

/* A reply's receipt as it proves itself offline. */
struct receipt_seen {
	uint64_t index;            /* the entry's */
	uint64_t size;             /* the checkpoint's tree size */
	uint8_t root[32];          /* and root */
	char note[1024];           /* the signed checkpoint */
};
/*
 * 0 when body's "receipt" is complete and sound: its entry hashes to its
 * leaf, its checkpoint is signed by (origin, pub), and its inclusion proof
 * puts the leaf at its index in the checkpoint's tree. -1 otherwise.
 */
int receipt_check(const char *body, size_t len, const char *origin,
                  const uint8_t pub[32], struct receipt_seen *out);

#endif
