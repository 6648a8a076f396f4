/*
 * load.h -- a steady stream of signed exchanges against a running gateway,
 * for the tests that change keys under load: workers submit a record as
 * health, read it back and keep both answers (receipts) as files, until
 * stopped; then every record is read again and every receipt verified
 * against an export of the whole log.
 */
#ifndef RG_TEST_LOAD_H
#define RG_TEST_LOAD_H

#include "tests/integration/gw.h"

struct rg_load;

/* Start workers threads, each pausing interval_ms between exchanges. */
struct rg_load *rg_load_start(struct rg_gw *gw, int workers, int interval_ms);
/* Stop and join; CHECKs that there was no failed exchange and at least
 * min_ok good ones. Returns the number of good exchange pairs. */
int rg_load_stop(struct rg_load *l, int min_ok);
/* Read every record the load wrote (right content), export the log and
 * verify it with every receipt the load kept. CHECKs all of it. */
void rg_load_check(struct rg_load *l);
void rg_load_free(struct rg_load *l);

#endif
