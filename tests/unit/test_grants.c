/*
 * test_grants.c -- conditional-share grants in the one decision function:
 * who may take which step, that no step widens a grant, the reason codes
 * of every refusal, field masks and pseudonyms, the snapshot version; an
 * exhaustive matrix over the real demo (its grants made through the
 * keeper) against a table written here by hand from DESIGN.md section 10;
 * and randomised checks that a read never shows a field no grant gives.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/pseudo.h"
#include "gateway/config.h"
#include "gateway/demo.h"
#include "gateway/keeper_int.h"
#include "policy/policy.h"
#include "tests/test.h"

#define NOW 1764064800000LL   /* 2025-11-25T10:00:00Z */
#define DAY 86400000LL

static const char *const gr_members[] = {
	"health", "publicity", "devreform", "education", "industry", "civil",
	"finance", "hrss", "ecology", "housing", "emergency", "tax", "market",
	"medsec", "union", "transport",
};
#define NMEMBERS (sizeof(gr_members) / sizeof(gr_members[0]))

static rg_catalogue *
gr_demo_catalogue(void)
{
	size_t len;
	const char *text = rg_demo_catalogue(&len);
	char err[4096];
	rg_catalogue *cat = rg_catalogue_parse(text, len, err, sizeof(err));

	CHECKF(cat != NULL, "%s", err);
	return cat;
}

/* Field index by name in a demo resource. */
static int
gr_field(const rg_catalogue *cat, const char *rid, const char *name)
{
	const rg_resource *res = rg_catalogue_find(cat, rid);

	CHECK(res != NULL);
	for (size_t i = 0; i < rg_resource_field_count(res); i++)
		if (strcmp(rg_resource_field_name(res, i), name) == 0)
			return (int)i;
	CHECKF(0, "%s has no field %s", rid, name);
	return -1;
}

static uint64_t
gr_bit(const rg_catalogue *cat, const char *rid, const char *name)
{
	return (uint64_t)1 << gr_field(cat, rid, name);
}

static struct rg_grant
gr_make(const char *id, const char *rid, const char *owner,
        const char *consumer, uint64_t raw, uint64_t pseudo,
        rg_grant_state st)
{
	struct rg_grant g;

	memset(&g, 0, sizeof(g));
	snprintf(g.id, sizeof(g.id), "%s", id);
	snprintf(g.resource, sizeof(g.resource), "%s", rid);
	snprintf(g.owner, sizeof(g.owner), "%s", owner);
	snprintf(g.consumer, sizeof(g.consumer), "%s", consumer);
	snprintf(g.purpose, sizeof(g.purpose), "work-injury determination");
	g.raw_mask = raw;
	g.pseudo_mask = pseudo;
	g.not_before_ms = NOW - DAY;
	g.not_after_ms = NOW + DAY;
	g.state = st;
	snprintf(g.requested_by, sizeof(g.requested_by), "%s-11111111", consumer);
	snprintf(g.approved_by, sizeof(g.approved_by), "%s-22222222", owner);
	return g;
}

/* The sixteen members (suspended ones named) and the given grants. */
static rg_policy *
gr_policy(const struct rg_grant *g, size_t n, const char *suspended)
{
	rg_policy *pol = rg_policy_new(gr_demo_catalogue());

	CHECK(pol != NULL);
	for (size_t i = 0; i < NMEMBERS; i++)
		CHECK_EQ_INT(rg_policy_add_department(pol, gr_members[i],
		    suspended == NULL || strcmp(suspended, gr_members[i]) != 0), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(rg_policy_add_grant(pol, &g[i]), 0);
	CHECK_EQ_INT(rg_policy_seal(pol), 0);
	return pol;
}

static void
gr_read(const rg_policy *pol, const char *dept, const char *rid,
        const char *purpose, int64_t now, struct rg_decision *d)
{
	struct rg_policy_request req = {
		.department = dept, .action = RG_ACT_READ, .resource = rid,
		.purpose = purpose, .now_ms = now,
	};

	memset(d, 0xa5, sizeof(*d));
	rg_policy_decide(pol, &req, d);
}

static void
gr_step(const rg_policy *pol, rg_action act, const char *dept,
        const char *keyid, const char *role, const struct rg_grant *g,
        const struct rg_grant *p, struct rg_decision *d)
{
	struct rg_policy_request req = {
		.department = dept, .action = act, .now_ms = NOW, .keyid = keyid,
		.role = role, .grant = g, .proposal = p,
	};

	memset(d, 0xa5, sizeof(*d));
	rg_policy_decide(pol, &req, d);
}

TEST(grant_read_shows_granted_fields_raw_or_pseudonymised_and_nothing_else)
{
	rg_catalogue *cat = gr_demo_catalogue();
	const char *rid = "occ-disease-diagnosis";
	uint64_t raw = gr_bit(cat, rid, "patient_name") |
	               gr_bit(cat, rid, "disease_category");
	uint64_t psn = gr_bit(cat, rid, "id_number");
	struct rg_grant g = gr_make("a1", rid, "health", "civil", raw, psn,
	                            RG_GRANT_ACTIVE);
	rg_policy *pol = gr_policy(&g, 1, NULL);
	struct rg_decision d;

	gr_read(pol, "civil", rid, "work-injury determination", NOW, &d);
	CHECK_EQ_INT(d.allow, 1);
	CHECK_EQ_STR(rg_reason_code(d.reason), "ok_grant");
	CHECK(d.field_mask == raw);
	CHECK(d.pseudo_mask == psn);
	CHECK_EQ_STR(d.grant, "a1");
	/* Another consumer, the same resource: nothing. */
	gr_read(pol, "medsec", rid, "work-injury determination", NOW, &d);
	CHECK_EQ_INT(d.allow, 0);
	CHECK_EQ_STR(rg_reason_code(d.reason), "no_grant");
	CHECK(d.field_mask == 0 && d.pseudo_mask == 0);
	rg_policy_free(pol);
	rg_catalogue_free(cat);
}

TEST(grant_read_refusals_name_their_reason)
{
	const char *rid = "injury-insurance-fee";
	struct rg_grant g[6];
	rg_policy *pol;
	struct rg_decision d;
	static const struct {
		const char *dept, *purpose;
		int64_t now;
		const char *reason;
	} cases[] = {
		{"hrss", "work-injury determination", NOW, "ok_grant"},
		{"hrss", NULL, NOW, "purpose_missing"},
		{"hrss", "", NOW, "purpose_missing"},
		{"hrss", "marketing", NOW, "purpose_mismatch"},
		{"hrss", "work-injury determination", NOW + DAY, "grant_expired"},
		{"hrss", "work-injury determination", NOW - DAY - 1, "grant_not_started"},
		{"civil", "work-injury determination", NOW, "grant_pending"},
		{"medsec", "work-injury determination", NOW, "grant_pending"},
		{"union", "work-injury determination", NOW, "grant_revoked"},
		{"health", "work-injury determination", NOW, "grant_suspended"},
		{"finance", "work-injury determination", NOW, "no_grant"},
		{"emergency", "work-injury determination", NOW, "no_grant"},
		{"tax", NULL, NOW, "ok_owner"},
	};

	g[0] = gr_make("b1", rid, "tax", "hrss", 0x3, 0, RG_GRANT_ACTIVE);
	g[1] = gr_make("b2", rid, "tax", "civil", 0x3, 0, RG_GRANT_PENDING);
	g[2] = gr_make("b3", rid, "tax", "medsec", 0x3, 0, RG_GRANT_APPROVED);
	g[3] = gr_make("b4", rid, "tax", "union", 0x3, 0, RG_GRANT_REVOKED);
	g[4] = gr_make("b5", rid, "tax", "health", 0x3, 0, RG_GRANT_SUSPENDED);
	g[5] = gr_make("b6", rid, "tax", "emergency", 0x3, 0, RG_GRANT_REFUSED);
	pol = gr_policy(g, 6, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gr_read(pol, cases[i].dept, rid, cases[i].purpose, cases[i].now, &d);
		CHECKF(strcmp(rg_reason_code(d.reason), cases[i].reason) == 0 &&
		       d.allow == (strncmp(cases[i].reason, "ok_", 3) == 0),
		       "case %zu (%s): got %s allow=%d", i + 1, cases[i].dept,
		       rg_reason_code(d.reason), d.allow);
		if (!d.allow)
			CHECK(d.field_mask == 0 && d.pseudo_mask == 0 &&
			      d.grant[0] == '\0');
	}
	rg_policy_free(pol);
}

TEST(grant_read_of_fields_not_granted_is_refused)
{
	const char *rid = "injury-insurance-fee";
	struct rg_grant g = gr_make("c1", rid, "tax", "hrss", 0x3, 0x4,
	                            RG_GRANT_ACTIVE);
	rg_policy *pol = gr_policy(&g, 1, NULL);
	struct rg_policy_request req = {
		.department = "hrss", .action = RG_ACT_READ, .resource = rid,
		.purpose = "work-injury determination", .now_ms = NOW,
		.want_mask = 0x5,
	};
	struct rg_decision d;

	rg_policy_decide(pol, &req, &d);
	CHECK_EQ_INT(d.allow, 1);
	CHECK(d.field_mask == 0x1 && d.pseudo_mask == 0x4);
	req.want_mask = 0x9;
	rg_policy_decide(pol, &req, &d);
	CHECK_EQ_INT(d.allow, 0);
	CHECK_EQ_STR(rg_reason_code(d.reason), "field_not_granted");
	rg_policy_free(pol);
}

TEST(suspended_owner_or_consumer_makes_grants_inert)
{
	const char *rid = "injury-insurance-fee";
	struct rg_grant g = gr_make("d1", rid, "tax", "hrss", 0x3, 0,
	                            RG_GRANT_ACTIVE);
	rg_policy *pol = gr_policy(&g, 1, "tax");
	struct rg_decision d;

	gr_read(pol, "hrss", rid, "work-injury determination", NOW, &d);
	CHECK_EQ_INT(d.allow, 0);
	CHECK_EQ_STR(rg_reason_code(d.reason), "department_suspended");
	rg_policy_free(pol);
	pol = gr_policy(&g, 1, "hrss");
	gr_read(pol, "hrss", rid, "work-injury determination", NOW, &d);
	CHECK_EQ_INT(d.allow, 0);
	CHECK_EQ_STR(rg_reason_code(d.reason), "department_suspended");
	rg_policy_free(pol);
}

TEST(no_key_or_department_takes_both_sides_of_a_grant)
{
	const char *rid = "injury-insurance-fee";
	struct rg_grant g = gr_make("e1", rid, "tax", "hrss", 0x3, 0,
	                            RG_GRANT_PENDING);
	rg_policy *pol = gr_policy(NULL, 0, NULL);
	struct rg_decision d;

	/* The consumer approving its own request. */
	gr_step(pol, RG_ACT_GRANT_APPROVE, "hrss", "hrss-33333333", "department",
	        &g, &g, &d);
	CHECK_EQ_INT(d.allow, 0);
	CHECK_EQ_STR(rg_reason_code(d.reason), "separation_of_duties");
	/* The requesting key approving, whatever department it claims. */
	gr_step(pol, RG_ACT_GRANT_APPROVE, "tax", "hrss-11111111", "department",
	        &g, &g, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "separation_of_duties");
	/* A third department. */
	gr_step(pol, RG_ACT_GRANT_APPROVE, "civil", "civil-1", "department", &g,
	        &g, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "not_party");
	/* The owner, another key: yes. */
	gr_step(pol, RG_ACT_GRANT_APPROVE, "tax", "tax-1", "department", &g, &g,
	        &d);
	CHECK_EQ_INT(d.allow, 1);
	CHECK_EQ_STR(rg_reason_code(d.reason), "ok_party");
	/* Countersigning: the office only, and not with a key that signed a
	 * step before. */
	g.state = RG_GRANT_APPROVED;
	g.countersign = 1;
	gr_step(pol, RG_ACT_GRANT_COUNTERSIGN, "health", "health-1", "department",
	        &g, &g, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "not_office");
	gr_step(pol, RG_ACT_GRANT_COUNTERSIGN, "health", "tax-22222222", "office",
	        &g, &g, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "separation_of_duties");
	gr_step(pol, RG_ACT_GRANT_COUNTERSIGN, "health", "office-1", "office", &g,
	        &g, &d);
	CHECK_EQ_INT(d.allow, 1);
	g.countersign = 0;
	gr_step(pol, RG_ACT_GRANT_COUNTERSIGN, "health", "office-1", "office", &g,
	        &g, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "countersign_not_needed");
	rg_policy_free(pol);
}

TEST(approval_and_countersignature_may_narrow_but_never_widen)
{
	const char *rid = "injury-insurance-fee";
	struct rg_grant g = gr_make("f1", rid, "tax", "hrss", 0x7, 0x8,
	                            RG_GRANT_PENDING), p;
	rg_policy *pol = gr_policy(NULL, 0, NULL);
	struct rg_decision d;
	static const struct {
		uint64_t raw, pseudo;
		int64_t nb, na;
		int allow;
	} cases[] = {
		{0x7, 0x8, 0, 0, 1},            /* as asked */
		{0x1, 0x0, 0, 0, 1},            /* fewer fields */
		{0x3, 0xc, 0, 0, 1},            /* a raw field made a pseudonym */
		{0x7, 0x8, DAY / 2, -DAY / 2, 1}, /* a shorter window */
		{0xf, 0x0, 0, 0, 0},            /* a pseudonym made raw */
		{0x7, 0x18, 0, 0, 0},           /* an extra field */
		{0x17, 0x8, 0, 0, 0},           /* an extra raw field */
		{0x7, 0x8, -1, 0, 0},           /* starts earlier */
		{0x7, 0x8, 0, 1, 0},            /* ends later */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int step = 0; step < 2; step++) {
			p = g;
			p.raw_mask = cases[i].raw;
			p.pseudo_mask = cases[i].pseudo;
			p.not_before_ms += cases[i].nb;
			p.not_after_ms += cases[i].na;
			g.state = step == 0 ? RG_GRANT_PENDING : RG_GRANT_APPROVED;
			g.countersign = 1;
			gr_step(pol, step == 0 ? RG_ACT_GRANT_APPROVE
			                       : RG_ACT_GRANT_COUNTERSIGN,
			        step == 0 ? "tax" : "health",
			        step == 0 ? "tax-1" : "office-1",
			        step == 0 ? "department" : "office", &g, &p, &d);
			CHECKF(d.allow == cases[i].allow &&
			       (d.allow || d.reason == RG_REASON_GRANT_WIDENING),
			       "case %zu step %d: %s", i + 1, step,
			       rg_reason_code(d.reason));
		}
	}
	/* The purpose is the consumer's: nobody rewrites it. */
	p = g;
	g.state = RG_GRANT_PENDING;
	snprintf(p.purpose, sizeof(p.purpose), "something else");
	gr_step(pol, RG_ACT_GRANT_APPROVE, "tax", "tax-1", "department", &g, &p, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "grant_widening");
	rg_policy_free(pol);
}

TEST(grant_steps_follow_the_grant_states)
{
	const char *rid = "injury-insurance-fee";
	struct rg_grant g = gr_make("h1", rid, "tax", "hrss", 0x3, 0,
	                            RG_GRANT_ACTIVE);
	rg_policy *pol = gr_policy(NULL, 0, NULL);
	struct rg_decision d;

	gr_step(pol, RG_ACT_GRANT_APPROVE, "tax", "tax-1", "department", &g, &g, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "grant_state");
	gr_step(pol, RG_ACT_GRANT_DISPUTE, "hrss", "hrss-1", "department", &g,
	        NULL, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "grant_state");
	gr_step(pol, RG_ACT_GRANT_REVOKE, "civil", "civil-1", "department", &g,
	        NULL, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "not_party");
	gr_step(pol, RG_ACT_GRANT_REVOKE, "hrss", "hrss-1", "department", &g,
	        NULL, &d);
	CHECK_EQ_INT(d.allow, 1);
	gr_step(pol, RG_ACT_GRANT_REVOKE, "tax", "tax-1", "department", &g, NULL,
	        &d);
	CHECK_EQ_INT(d.allow, 1);
	g.state = RG_GRANT_REFUSED;
	gr_step(pol, RG_ACT_GRANT_DISPUTE, "hrss", "hrss-1", "department", &g,
	        NULL, &d);
	CHECK_EQ_INT(d.allow, 1);
	gr_step(pol, RG_ACT_GRANT_DISPUTE, "tax", "tax-1", "department", &g,
	        NULL, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "not_party");
	gr_step(pol, RG_ACT_GRANT_REVOKE, "hrss", "hrss-1", "department", &g,
	        NULL, &d);
	CHECK_EQ_STR(rg_reason_code(d.reason), "grant_state");
	/* An administrator suspends; it can take no other step. */
	g.state = RG_GRANT_ACTIVE;
	gr_step(pol, RG_ACT_GRANT_SUSPEND, "", "admin", "admin", &g, NULL, &d);
	CHECK_EQ_INT(d.allow, 1);
	CHECK_EQ_STR(rg_reason_code(d.reason), "ok_admin");
	gr_step(pol, RG_ACT_GRANT_SUSPEND, "tax", "tax-1", "department", &g, NULL,
	        &d);
	CHECK_EQ_INT(d.allow, 0);
	g.state = RG_GRANT_PENDING;
	gr_step(pol, RG_ACT_GRANT_APPROVE, "", "admin", "admin", &g, &g, &d);
	CHECK_EQ_INT(d.allow, 0);
	gr_step(pol, RG_ACT_GRANT_REQUEST, "", "admin", "admin", NULL, &g, &d);
	CHECK_EQ_INT(d.allow, 0);
	/* A step without its grant allows nothing. */
	gr_step(pol, RG_ACT_GRANT_APPROVE, "tax", "tax-1", "department", NULL,
	        NULL, &d);
	CHECK_EQ_INT(d.allow, 0);
	rg_policy_free(pol);
}

TEST(policy_version_changes_with_every_grant_change)
{
	const char *rid = "injury-insurance-fee";
	struct rg_grant g = gr_make("k1", rid, "tax", "hrss", 0x3, 0,
	                            RG_GRANT_PENDING);
	rg_policy *none = gr_policy(NULL, 0, NULL), *a = gr_policy(&g, 1, NULL);
	rg_policy *b, *c;

	g.state = RG_GRANT_ACTIVE;
	b = gr_policy(&g, 1, NULL);
	g.not_after_ms--;
	c = gr_policy(&g, 1, NULL);
	CHECK(strcmp(rg_policy_version(none), rg_policy_version(a)) != 0);
	CHECK(strcmp(rg_policy_version(a), rg_policy_version(b)) != 0);
	CHECK(strcmp(rg_policy_version(b), rg_policy_version(c)) != 0);
	rg_policy_free(none);
	rg_policy_free(a);
	rg_policy_free(b);
	rg_policy_free(c);
}

TEST(pseudonyms_are_stable_per_consumer_and_differ_between_consumers)
{
	uint8_t key[32], key2[32];
	char a1[RG_PSEUDO_LEN], a2[RG_PSEUDO_LEN], b[RG_PSEUDO_LEN];
	char r[RG_PSEUDO_LEN], v[RG_PSEUDO_LEN], k[RG_PSEUDO_LEN];
	const char *id = "110101198001011234";

	CHECK(sodium_init() >= 0);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(key2, sizeof(key2));
	CHECK_EQ_INT(rg_pseudonym(key, "civil", "occ-disease-diagnosis",
	                          (const uint8_t *)id, strlen(id), a1), 0);
	CHECK_EQ_INT(rg_pseudonym(key, "civil", "occ-disease-diagnosis",
	                          (const uint8_t *)id, strlen(id), a2), 0);
	CHECK_EQ_INT(rg_pseudonym(key, "medsec", "occ-disease-diagnosis",
	                          (const uint8_t *)id, strlen(id), b), 0);
	CHECK_EQ_INT(rg_pseudonym(key, "civil", "pneumoconiosis-patients",
	                          (const uint8_t *)id, strlen(id), r), 0);
	CHECK_EQ_INT(rg_pseudonym(key, "civil", "occ-disease-diagnosis",
	                          (const uint8_t *)"110101198001011235", 18, v), 0);
	CHECK_EQ_INT(rg_pseudonym(key2, "civil", "occ-disease-diagnosis",
	                          (const uint8_t *)id, strlen(id), k), 0);
	CHECK_EQ_STR(a1, a2);
	CHECK_EQ_INT(strlen(a1), 36);
	CHECK(strncmp(a1, "psn:", 4) == 0);
	CHECK(strstr(a1, id) == NULL);
	CHECK(strcmp(a1, b) != 0);
	CHECK(strcmp(a1, r) != 0);
	CHECK(strcmp(a1, v) != 0);
	CHECK(strcmp(a1, k) != 0);
	/* The separator keeps (consumer, resource) pairs apart. */
	CHECK_EQ_INT(rg_pseudonym(key, "civilo", "cc-disease-diagnosis",
	                          (const uint8_t *)id, strlen(id), b), 0);
	CHECK(strcmp(a1, b) != 0);
}

TEST(reply_deadline_counts_working_days_in_china_standard_time)
{
	/* 2026-11-27 is a Friday; 10:00 CST is 02:00 UTC. */
	const int64_t fri = 1795744800000LL, hour = 3600000LL;

	/* Five working days from a Friday: the next Friday. */
	CHECK_EQ_INT(rg_grant_reply_due(fri, 5), fri + 7 * DAY);
	/* One: the Monday, over the weekend. */
	CHECK_EQ_INT(rg_grant_reply_due(fri, 1), fri + 3 * DAY);
	/* From a Saturday, five: the Friday after. */
	CHECK_EQ_INT(rg_grant_reply_due(fri + DAY, 5), fri + 7 * DAY);
	/* From a Wednesday, five: the Wednesday after. */
	CHECK_EQ_INT(rg_grant_reply_due(fri - 2 * DAY, 5), fri + 5 * DAY);
	/* Friday 23:30 CST is Friday 15:30 UTC: still Friday in China. */
	CHECK_EQ_INT(rg_grant_reply_due(fri + 13 * hour + hour / 2, 1),
	             fri + 13 * hour + hour / 2 + 3 * DAY);
	/* Saturday 07:00 CST is Friday 23:00 UTC: already the weekend. */
	CHECK_EQ_INT(rg_grant_reply_due(fri + 21 * hour, 1),
	             fri + 21 * hour + 2 * DAY);
	CHECK_EQ_INT(rg_grant_reply_due(fri, 0), fri);
}

/* ---- randomised: no read shows a field no grant gives ------------------ */

static uint64_t gr_rng;

static uint64_t
gr_next(void)
{
	/* xorshift64*: reproducible from the printed seed. */
	gr_rng ^= gr_rng >> 12;
	gr_rng ^= gr_rng << 25;
	gr_rng ^= gr_rng >> 27;
	return gr_rng * 2685821657736338717ULL;
}

TEST(random_grant_sets_never_show_a_field_outside_the_grants)
{
	static const char *const purposes[] = {"p1", "p2", "p3"};
	static const rg_grant_state states[] = {
		RG_GRANT_PENDING, RG_GRANT_APPROVED, RG_GRANT_ACTIVE,
		RG_GRANT_ACTIVE, RG_GRANT_ACTIVE, RG_GRANT_REFUSED,
		RG_GRANT_REVOKED, RG_GRANT_SUSPENDED, RG_GRANT_DISPUTED,
	};
	rg_catalogue *cat = gr_demo_catalogue();
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	size_t nres = rg_catalogue_count(cat);

	gr_rng = seed | 1;
	for (int round = 0; round < 200; round++) {
		struct rg_grant g[24];
		size_t n = (size_t)(gr_next() % 24);
		rg_policy *pol;

		for (size_t i = 0; i < n; i++) {
			const rg_resource *res = rg_catalogue_at(cat, gr_next() % nres);
			uint64_t all = rg_resource_all_fields(res);
			uint64_t raw = gr_next() & all, psn = gr_next() & all & ~raw;
			char id[16];
			int64_t nb = NOW - (int64_t)(gr_next() % (2 * DAY));

			snprintf(id, sizeof(id), "g%02zu", i);
			g[i] = gr_make(id, rg_resource_id(res), rg_resource_owner(res),
			               gr_members[gr_next() % NMEMBERS], raw, psn,
			               states[gr_next() % (sizeof(states) /
			                                   sizeof(states[0]))]);
			g[i].not_before_ms = nb;
			g[i].not_after_ms = nb + 1 + (int64_t)(gr_next() % (2 * DAY));
			snprintf(g[i].purpose, sizeof(g[i].purpose), "%s",
			         purposes[gr_next() % 3]);
		}
		pol = gr_policy(g, n, NULL);
		for (int q = 0; q < 200; q++) {
			const rg_resource *res = rg_catalogue_at(cat, gr_next() % nres);
			const char *dept = gr_members[gr_next() % NMEMBERS];
			const char *purpose = purposes[gr_next() % 3];
			int64_t now = NOW - DAY + (int64_t)(gr_next() % (3 * DAY));
			uint64_t may_raw = 0, may_psn = 0;
			struct rg_decision d;
			int conditional_other;

			gr_read(pol, dept, rg_resource_id(res), purpose, now, &d);
			/* What the grants give, worked out here. */
			for (size_t i = 0; i < n; i++)
				if (strcmp(g[i].resource, rg_resource_id(res)) == 0 &&
				    strcmp(g[i].consumer, dept) == 0 &&
				    g[i].state == RG_GRANT_ACTIVE &&
				    strcmp(g[i].purpose, purpose) == 0 &&
				    now >= g[i].not_before_ms && now < g[i].not_after_ms) {
					may_raw |= g[i].raw_mask;
					may_psn |= g[i].pseudo_mask;
				}
			conditional_other =
			    rg_resource_share(res) == RG_SHARE_CONDITIONAL &&
			    strcmp(rg_resource_owner(res), dept) != 0;
			if (!conditional_other)
				continue;
			CHECKF((d.field_mask & ~may_raw) == 0 &&
			       (d.pseudo_mask & ~(may_raw | may_psn)) == 0 &&
			       (d.field_mask & d.pseudo_mask) == 0,
			       "seed %#" PRIx64 " round %d: %s reads %s: raw %#" PRIx64
			       " psn %#" PRIx64 " beyond raw %#" PRIx64 " psn %#"
			       PRIx64, seed, round, dept, rg_resource_id(res),
			       d.field_mask, d.pseudo_mask, may_raw, may_psn);
			CHECKF(d.allow == ((may_raw | may_psn) != 0),
			       "seed %#" PRIx64 " round %d: %s reads %s: allow %d",
			       seed, round, dept, rg_resource_id(res), d.allow);
			if (d.allow)
				CHECKF((d.field_mask | d.pseudo_mask) ==
				       (may_raw | may_psn), "seed %#" PRIx64, seed);
		}
		rg_policy_free(pol);
	}
	rg_catalogue_free(cat);
}

TEST(random_values_give_stable_pseudonyms_that_no_two_consumers_share)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	uint8_t key[32];

	CHECK(sodium_init() >= 0);
	gr_rng = seed | 1;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)gr_next();
	for (int round = 0; round < 2000; round++) {
		const char *a = gr_members[gr_next() % NMEMBERS];
		const char *b = gr_members[gr_next() % NMEMBERS];
		uint8_t value[24];
		size_t len = 1 + (size_t)(gr_next() % sizeof(value));
		char p1[RG_PSEUDO_LEN], p2[RG_PSEUDO_LEN], p3[RG_PSEUDO_LEN];

		for (size_t i = 0; i < len; i++)
			value[i] = (uint8_t)gr_next();
		CHECK_EQ_INT(rg_pseudonym(key, a, "occ-disease-diagnosis", value,
		                          len, p1), 0);
		CHECK_EQ_INT(rg_pseudonym(key, a, "occ-disease-diagnosis", value,
		                          len, p2), 0);
		CHECK_EQ_INT(rg_pseudonym(key, b, "occ-disease-diagnosis", value,
		                          len, p3), 0);
		CHECKF(strcmp(p1, p2) == 0, "seed %#" PRIx64 ": unstable", seed);
		CHECKF((strcmp(a, b) == 0) == (strcmp(p1, p3) == 0),
		       "seed %#" PRIx64 ": %s and %s: %s %s", seed, a, b, p1, p3);
	}
}

/* ---- the matrix over the real demo ------------------------------------- */

/*
 * Written by hand from DESIGN.md section 10: consumer, resource, purpose
 * and the fields (~ = pseudonym, * = every field raw). Not derived from
 * the code that makes the demo.
 */
static const struct gr_want {
	const char *consumer, *resource, *purpose, *fields;
} gr_wants[] = {
	{"hrss", "occ-disease-diagnosis", "工伤认定 work-injury determination", "*"},
	{"civil", "occ-disease-diagnosis", "生活救助 living assistance",
	 "patient_name ~id_number disease_category"},
	{"medsec", "occ-disease-diagnosis", "医疗保障 medical benefits",
	 "patient_name id_number disease_code"},
	{"union", "occ-disease-diagnosis", "监督 oversight", "employer disease_code"},
	{"hrss", "occ-health-exam", "工伤认定 work-injury determination", "*"},
	{"union", "occ-health-exam", "监督 oversight",
	 "employer employer_credit_code exam_type hazard_factors exam_date "
	 "exam_conclusion"},
	{"civil", "pneumoconiosis-patients", "生活救助 living assistance",
	 "patient_name ~id_number residence_address pneumoconiosis_type stage "
	 "employer_exists injury_insured survival_status"},
	{"medsec", "pneumoconiosis-patients", "医疗保障 medical benefits",
	 "patient_name id_number pneumoconiosis_type stage injury_insured "
	 "survival_status"},
	{"hrss", "pneumoconiosis-patients", "工伤认定 work-injury determination", "*"},
	{"health", "injury-insurance-enrollment", "职业病防治 prevention", "*"},
	{"tax", "injury-insurance-enrollment", "费款征收 fee collection",
	 "employer employer_credit_code insured_count"},
	{"health", "injury-determination", "职业病防治 prevention", "*"},
	{"civil", "injury-determination", "生活救助 living assistance",
	 "worker_name ~id_number occupational_disease determination_conclusion "
	 "disability_grade"},
	{"union", "injury-determination", "监督 oversight",
	 "employer injury_type occupational_disease determination_conclusion "
	 "determination_date"},
	{"hrss", "injury-insurance-fee", "工伤保险 injury insurance", "*"},
	{"health", "living-assistance", "职业病防治 prevention",
	 "recipient_name id_number assistance_type monthly_amount start_date "
	 "end_date disease_category assistance_status"},
	{"health", "medical-benefit", "职业病防治 prevention", "*"},
	{"health", "radiation-workplace", "职业病防治 prevention", "*"},
};

/* Owners and share types, from the same table. */
static const struct gr_res {
	const char *id, *owner;
	int conditional;
} gr_resources[] = {
	{"occ-disease-diagnosis", "health", 1},
	{"occ-health-exam", "health", 1},
	{"hazard-declaration", "health", 0},
	{"hazard-monitoring", "health", 0},
	{"pneumoconiosis-patients", "health", 1},
	{"injury-insurance-enrollment", "hrss", 1},
	{"injury-determination", "hrss", 1},
	{"injury-insurance-fee", "tax", 1},
	{"living-assistance", "civil", 1},
	{"medical-benefit", "medsec", 1},
	{"radiation-workplace", "ecology", 1},
	{"penalty-credit", "market", 0},
	{"work-bulletin", "*", 0},
	{"occ-poisoning-report", "health", 0},
};

static void
gr_want_masks(const rg_catalogue *cat, const struct gr_want *w, uint64_t *raw,
              uint64_t *psn)
{
	const rg_resource *res = rg_catalogue_find(cat, w->resource);
	const char *p = w->fields;

	*raw = *psn = 0;
	if (strcmp(p, "*") == 0) {
		*raw = rg_resource_all_fields(res);
		return;
	}
	while (*p != '\0') {
		size_t len = strcspn(p, " ");
		char name[64];
		int pseudo = *p == '~';

		snprintf(name, sizeof(name), "%.*s", (int)len - pseudo, p + pseudo);
		if (pseudo)
			*psn |= gr_bit(cat, w->resource, name);
		else
			*raw |= gr_bit(cat, w->resource, name);
		p += len;
		p += strspn(p, " ");
	}
}

static const struct gr_want *
gr_find_want(const char *consumer, const char *rid)
{
	for (size_t i = 0; i < sizeof(gr_wants) / sizeof(gr_wants[0]); i++)
		if (strcmp(gr_wants[i].consumer, consumer) == 0 &&
		    strcmp(gr_wants[i].resource, rid) == 0)
			return &gr_wants[i];
	return NULL;
}

struct gr_escape {
	size_t n, checked;
};

static void
gr_expect(struct gr_escape *e, const char *what, const struct rg_decision *d,
          int allow, const char *reason, uint64_t raw, uint64_t psn)
{
	e->checked++;
	if (d->allow == allow && strcmp(rg_reason_code(d->reason), reason) == 0 &&
	    d->field_mask == raw && d->pseudo_mask == psn)
		return;
	e->n++;
	fprintf(stderr, "  escape: %s: got allow=%d %s raw=%#" PRIx64 " psn=%#"
	        PRIx64 ", want allow=%d %s raw=%#" PRIx64 " psn=%#" PRIx64 "\n",
	        what, d->allow, rg_reason_code(d->reason), d->field_mask,
	        d->pseudo_mask, allow, reason, raw, psn);
}

SLOW_TEST(matrix_every_department_resource_and_action_over_the_demo, 120)
{
	char dir[512], path[700], err[2048];
	struct rg_config cfg;
	struct gr_escape e = {0, 0};
	uv_loop_t loop;
	rg_keeper *kp;
	rg_catalogue *cat = gr_demo_catalogue();
	int64_t now = (int64_t)time(NULL) * 1000;
	size_t ngrants;

	snprintf(dir, sizeof(dir), "%s/demo", rg_test_tmpdir());
	CHECKF(rg_demo_init(dir, err, sizeof(err)) == 0, "%s", err);
	CHECKF(rg_demo_grants(dir, &ngrants, err, sizeof(err)) == 0, "%s", err);
	CHECK_EQ_INT(ngrants, sizeof(gr_wants) / sizeof(gr_wants[0]));
	snprintf(path, sizeof(path), "%s/recgate.conf", dir);
	rg_config_defaults(&cfg);
	CHECKF(rg_config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	CHECK(uv_loop_init(&loop) == 0);
	kp = rg_keeper_open(&cfg, &loop, err, sizeof(err));
	CHECKF(kp != NULL, "%s", err);
	CHECK_EQ_INT(rg_policy_grant_count(kp->pol), ngrants);
	CHECK_EQ_INT(rg_catalogue_count(rg_policy_catalogue(kp->pol)),
	             sizeof(gr_resources) / sizeof(gr_resources[0]));

	for (size_t di = 0; di < NMEMBERS; di++) {
		const char *dept = gr_members[di];
		struct rg_policy_request cr = {.department = dept,
		                               .action = RG_ACT_CATALOGUE,
		                               .now_ms = now};
		struct rg_decision d;
		char what[256];

		rg_policy_decide(kp->pol, &cr, &d);
		snprintf(what, sizeof(what), "%s catalogue", dept);
		gr_expect(&e, what, &d, 1, "ok_member", 0, 0);
		for (size_t ri = 0; ri < sizeof(gr_resources) / sizeof(gr_resources[0]);
		     ri++) {
			const struct gr_res *r = &gr_resources[ri];
			const rg_resource *res = rg_catalogue_find(cat, r->id);
			const struct gr_want *w = gr_find_want(dept, r->id);
			uint64_t all = rg_resource_all_fields(res), raw = 0, psn = 0;
			int owner = strcmp(r->owner, dept) == 0;
			static const rg_action reads[] = {RG_ACT_READ, RG_ACT_CHANGES};
			struct rg_grant p;
			struct rg_policy_request req = {.department = dept,
			                                .resource = r->id,
			                                .now_ms = now,
			                                .keyid = "matrix-key",
			                                .role = "department"};

			if (w != NULL)
				gr_want_masks(cat, w, &raw, &psn);
			/* Submit: the owner; the bulletin: everyone. */
			req.action = RG_ACT_SUBMIT;
			rg_policy_decide(kp->pol, &req, &d);
			snprintf(what, sizeof(what), "%s submit %s", dept, r->id);
			if (owner || strcmp(r->owner, "*") == 0)
				gr_expect(&e, what, &d, 1, "ok_owner", all, 0);
			else
				gr_expect(&e, what, &d, 0, "not_owner", 0, 0);
			for (size_t a = 0; a < 2; a++) {
				const char *an = a == 0 ? "read" : "changes";

				req.action = reads[a];
				/* Without a purpose. */
				req.purpose = NULL;
				rg_policy_decide(kp->pol, &req, &d);
				snprintf(what, sizeof(what), "%s %s %s, no purpose",
				         dept, an, r->id);
				if (owner)
					gr_expect(&e, what, &d, 1, "ok_owner", all, 0);
				else
					gr_expect(&e, what, &d, 0, "purpose_missing",
					          0, 0);
				/* With the grant's purpose (or any purpose). */
				req.purpose = w != NULL ? w->purpose : "统计 statistics";
				rg_policy_decide(kp->pol, &req, &d);
				snprintf(what, sizeof(what), "%s %s %s, its purpose",
				         dept, an, r->id);
				if (owner)
					gr_expect(&e, what, &d, 1, "ok_owner", all, 0);
				else if (!r->conditional)
					gr_expect(&e, what, &d, 1, "ok_unconditional",
					          all, 0);
				else if (w != NULL)
					gr_expect(&e, what, &d, 1, "ok_grant", raw, psn);
				else
					gr_expect(&e, what, &d, 0, "no_grant", 0, 0);
				/* With another purpose. */
				req.purpose = "另作他用 another use";
				rg_policy_decide(kp->pol, &req, &d);
				snprintf(what, sizeof(what), "%s %s %s, other purpose",
				         dept, an, r->id);
				if (owner)
					gr_expect(&e, what, &d, 1, "ok_owner", all, 0);
				else if (!r->conditional)
					gr_expect(&e, what, &d, 1, "ok_unconditional",
					          all, 0);
				else if (w != NULL)
					gr_expect(&e, what, &d, 0, "purpose_mismatch",
					          0, 0);
				else
					gr_expect(&e, what, &d, 0, "no_grant", 0, 0);
			}
			/* Asking for a grant. */
			memset(&p, 0, sizeof(p));
			snprintf(p.resource, sizeof(p.resource), "%s", r->id);
			snprintf(p.consumer, sizeof(p.consumer), "%s", dept);
			snprintf(p.owner, sizeof(p.owner), "%s", r->owner);
			p.raw_mask = 1;
			req.action = RG_ACT_GRANT_REQUEST;
			req.purpose = NULL;
			req.proposal = &p;
			rg_policy_decide(kp->pol, &req, &d);
			req.proposal = NULL;
			snprintf(what, sizeof(what), "%s requests %s", dept, r->id);
			if (owner || !r->conditional)
				gr_expect(&e, what, &d, 0, "grant_not_needed", 0, 0);
			else
				gr_expect(&e, what, &d, 1, "ok_party", 0, 0);
		}
	}
	/* Each demo grant, as stored: approving it again, by anyone, is
	 * refused; only its parties may revoke it. */
	for (size_t i = 0; i < rg_policy_grant_count(kp->pol); i++) {
		const struct rg_grant *g = rg_policy_grant_at(kp->pol, i);

		for (size_t di = 0; di < NMEMBERS; di++) {
			const char *dept = gr_members[di];
			struct rg_policy_request req = {.department = dept,
			    .action = RG_ACT_GRANT_APPROVE, .now_ms = now,
			    .keyid = "matrix-key", .role = "department", .grant = g,
			    .proposal = g};
			struct rg_decision d;
			char what[256];
			int party = strcmp(g->owner, dept) == 0 ||
			            strcmp(g->consumer, dept) == 0;

			rg_policy_decide(kp->pol, &req, &d);
			snprintf(what, sizeof(what), "%s approves %s of %s", dept,
			         g->resource, g->consumer);
			gr_expect(&e, what, &d, 0,
			          strcmp(g->consumer, dept) == 0
			          ? "separation_of_duties"
			          : strcmp(g->owner, dept) == 0 ? "grant_state"
			                                        : "not_party", 0, 0);
			req.action = RG_ACT_GRANT_REVOKE;
			rg_policy_decide(kp->pol, &req, &d);
			snprintf(what, sizeof(what), "%s revokes %s of %s", dept,
			         g->resource, g->consumer);
			gr_expect(&e, what, &d, party, party ? "ok_party" : "not_party",
			          0, 0);
		}
	}
	CHECKF(e.n == 0, "%zu escapes in %zu decisions", e.n, e.checked);
	CHECK(e.checked > 16 * 13 * 8);
	rg_keeper_close(kp);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
	rg_catalogue_free(cat);
}
