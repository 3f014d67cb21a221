/*
 * metrics: the gateway's own Prometheus metrics: requests by method, route and status, and a
 * latency histogram per method and route. /metrics adds the session store's metrics
 * (sessions, executions by language and status, run-time histogram, queue and runners).
 */
#ifndef LCX_METRICS_H
#define LCX_METRICS_H

#include <stdio.h>

typedef struct metrics_t metrics_t;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **self_p);

/* One finished request; route is the pattern ("/code-sessions/{id}"), never the raw path. */
void metrics_observe(metrics_t *self, const char *method, const char *route, unsigned status,
                     double seconds);
/* A request refused 401 or 403 (reason: "unknown key", "forbidden", ...), and a run refused
 * by a quota ("runs_per_minute", "concurrent_runs", ...): lcx_auth_failures_total{reason} and
 * lcx_quota_rejections_total{quota}. */
void metrics_auth_failure(metrics_t *self, const char *reason);
void metrics_quota_rejection(metrics_t *self, const char *quota);
/* Writes every metric in Prometheus text format. */
void metrics_write(metrics_t *self, FILE *out);

#endif
