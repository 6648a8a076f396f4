/*
 * metrics.c -- GET /metrics: the keeper's counters in the Prometheus text
 * format (version 0.0.4), for the administrators' monitoring. Unsigned and
 * answered on the loopback only, as /healthz is (a scraper runs beside the
 * gateway or reaches it through a tunnel); nobody else learns that the
 * path exists.
 *
 * It owns nothing: it reads the keeper's counters and writes them out.
 * Names follow Prometheus's conventions: recgate_ first, _total for
 * counters, base units (seconds).
 */
#include <stdio.h>
#include <string.h>

#include "gateway/exchange_int.h"
#include "gateway/version.h"

/* # HELP and # TYPE lines of one metric. */
static void
rg_metric_head(struct rg_jbuf *b, const char *name, const char *type,
               const char *help)
{
	rg_jbuf_lit(b, "# HELP ");
	rg_jbuf_bytes(b, name, strlen(name));
	rg_jbuf_lit(b, " ");
	rg_jbuf_bytes(b, help, strlen(help));
	rg_jbuf_lit(b, "\n# TYPE ");
	rg_jbuf_bytes(b, name, strlen(name));
	rg_jbuf_lit(b, " ");
	rg_jbuf_bytes(b, type, strlen(type));
	rg_jbuf_lit(b, "\n");
}

/* One sample: name (with its labels, if any) and value. */
static void
rg_metric_value(struct rg_jbuf *b, const char *name, uint64_t v)
{
	rg_jbuf_bytes(b, name, strlen(name));
	rg_jbuf_lit(b, " ");
	rg_jbuf_int(b, (int64_t)v);
	rg_jbuf_lit(b, "\n");
}

/* A metric of one sample. */
static void
rg_metric(struct rg_jbuf *b, const char *name, const char *type,
          const char *help, uint64_t v)
{
	rg_metric_head(b, name, type, help);
	rg_metric_value(b, name, v);
}

/* Microseconds as seconds, exactly (six decimals). */
static void
rg_metric_seconds(struct rg_jbuf *b, const char *name, uint64_t us)
{
	char num[48];
	int n = snprintf(num, sizeof(num), "%llu.%06llu",
	                 (unsigned long long)(us / 1000000),
	                 (unsigned long long)(us % 1000000));

	rg_jbuf_bytes(b, name, strlen(name));
	rg_jbuf_lit(b, " ");
	rg_jbuf_bytes(b, num, (size_t)n);
	rg_jbuf_lit(b, "\n");
}

int
rg_metrics(rg_keeper *kp, const struct rg_request *req, struct rg_response *resp)
{
	const struct rg_keeper_stats *s = &kp->stats;
	struct rg_jbuf b = {0};
	char *text;
	size_t len;

	if (!rg_is_loopback(req->peer)) {
		rg_response_error(resp, RG_ERR_NOT_FOUND, NULL, NULL);
		return 0;
	}
	rg_metric_head(&b, "recgate_build_info", "gauge",
	               "The recgate version the keeper runs.");
	rg_jbuf_lit(&b, "recgate_build_info{version=\"" RG_VERSION "\"} 1\n");
	rg_metric(&b, "recgate_requests_total", "counter",
	          "Requests the keeper handled, signed or not.", s->requests);
	rg_metric_head(&b, "recgate_exchanges_total", "counter",
	               "Exchanges entered in the audit log, by decision "
	               "(deny: refused by policy or as a bad request).");
	rg_metric_value(&b, "recgate_exchanges_total{decision=\"allow\"}",
	                s->allowed);
	rg_metric_value(&b, "recgate_exchanges_total{decision=\"deny\"}",
	                s->denied);
	rg_metric(&b, "recgate_auth_failures_total", "counter",
	          "Requests refused before any policy: bad, unknown or replayed "
	          "signatures, suspended departments.", s->auth_failures);
	rg_metric(&b, "recgate_audit_entries", "gauge",
	          "Entries in the audit log.", kp->audit_size);
	rg_metric(&b, "recgate_audit_durable_entries", "gauge",
	          "Entries in the audit log known to be on disk.",
	          kp->committed_size);
	if (kp->has_checkpoint) {
		rg_metric(&b, "recgate_audit_checkpoint_size", "gauge",
		          "Entries the latest signed checkpoint covers.",
		          kp->checkpoint_size);
		rg_metric(&b, "recgate_audit_checkpoint_timestamp_seconds",
		          "gauge", "When the latest checkpoint was signed (Unix "
		          "time).", (uint64_t)(kp->checkpoint_ms / 1000));
	}
	rg_metric(&b, "recgate_batches_total", "counter",
	          "Transactions committed, each a batch of exchanges.",
	          s->batches);
	rg_metric(&b, "recgate_batch_exchanges_max", "gauge",
	          "The most exchanges one batch held.", s->batch_max);
	rg_metric(&b, "recgate_verified_inline_total", "counter",
	          "Requests the keeper's thread verified itself after a helper "
	          "that took them did not finish in time.", s->helper_late);
	/* The log's syncs as a histogram with the buckets /healthz counts:
	 * every answer waits for its batch's sync, so a stalling disk shows
	 * here first. */
	rg_metric_head(&b, "recgate_log_sync_seconds", "histogram",
	               "fdatasync of the write-ahead log, once a batch or group "
	               "of batches.");
	rg_metric_value(&b, "recgate_log_sync_seconds_bucket{le=\"0.01\"}",
	                s->syncs - s->syncs_over_10ms);
	rg_metric_value(&b, "recgate_log_sync_seconds_bucket{le=\"0.1\"}",
	                s->syncs - s->syncs_over_100ms);
	rg_metric_value(&b, "recgate_log_sync_seconds_bucket{le=\"+Inf\"}",
	                s->syncs);
	rg_metric_seconds(&b, "recgate_log_sync_seconds_sum", s->sync_us);
	rg_metric_value(&b, "recgate_log_sync_seconds_count", s->syncs);
	rg_metric_head(&b, "recgate_log_sync_max_seconds", "gauge",
	               "The longest of those syncs.");
	rg_metric_seconds(&b, "recgate_log_sync_max_seconds", s->sync_max_us);
	if ((text = rg_jbuf_take(&b, &len)) == NULL)
		return -1;
	rg_response_clear(resp);
	resp->status = 200;
	resp->body = text;
	resp->body_len = len;
	resp->text = 1;
	return 0;
}
