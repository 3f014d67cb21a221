/* metrics: request counters and latency histograms (see metrics.h). */
#include "metrics.h"
#include "alloc.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds (seconds) of the latency buckets. */
static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,   0.5,   1,      2.5,   5,    10,    30};
#define BUCKETS (sizeof latency_buckets / sizeof latency_buckets[0])

typedef struct {
    unsigned long long counts[BUCKETS + 1]; /* the last one is +Inf */
    double sum;
    unsigned long long total;
} histogram_t;

struct metrics_t {
    zhashx_t *requests;      /* "method route status" -> unsigned long long* */
    zhashx_t *latencies;     /* "method route" -> histogram_t* */
    zhashx_t *auth_failures; /* reason -> unsigned long long* */
    zhashx_t *quotas;        /* quota -> unsigned long long* */
};

static void free_value(void **item)
{
    free(*item);
    *item = NULL;
}

metrics_t *metrics_new(void)
{
    metrics_t *self = lcx_calloc(1, sizeof *self);
    self->requests = zhashx_new();
    self->latencies = zhashx_new();
    self->auth_failures = zhashx_new();
    self->quotas = zhashx_new();
    zhashx_set_destructor(self->requests, free_value);
    zhashx_set_destructor(self->latencies, free_value);
    zhashx_set_destructor(self->auth_failures, free_value);
    zhashx_set_destructor(self->quotas, free_value);
    return self;
}

void metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p) return;
    zhashx_destroy(&(*self_p)->requests);
    zhashx_destroy(&(*self_p)->latencies);
    zhashx_destroy(&(*self_p)->auth_failures);
    zhashx_destroy(&(*self_p)->quotas);
    free(*self_p);
    *self_p = NULL;
}

/* The value under key, created zeroed on first use. */
static void *slot_for(zhashx_t *table, const char *key, size_t size)
{
    void *value = zhashx_lookup(table, key);
    if (!value) {
        value = lcx_calloc(1, size);
        zhashx_insert(table, key, value);
    }
    return value;
}

void metrics_observe(metrics_t *self, const char *method, const char *route, unsigned status,
                     double seconds)
{
    char key[256];
    snprintf(key, sizeof key, "%s %s %u", method, route, status);
    unsigned long long *count = slot_for(self->requests, key, sizeof *count);
    if (count) (*count)++;
    snprintf(key, sizeof key, "%s %s", method, route);
    histogram_t *h = slot_for(self->latencies, key, sizeof *h);
    if (!h) return;
    size_t b = 0;
    while (b < BUCKETS && seconds > latency_buckets[b])
        b++;
    h->counts[b]++;
    h->sum += seconds;
    h->total++;
}

/* One more under a label value: letters, digits and '_' (a space becomes '_'). */
static void count_label(zhashx_t *table, const char *value)
{
    char label[48];
    size_t n = 0;
    for (; n < sizeof label - 1 && value[n]; n++)
        label[n] = (value[n] == ' ' || value[n] == '-') ? '_' : value[n];
    label[n] = '\0';
    if (strspn(label, "abcdefghijklmnopqrstuvwxyz0123456789_") != n || n == 0)
        snprintf(label, sizeof label, "other");
    unsigned long long *count = slot_for(table, label, sizeof *count);
    (*count)++;
}

void metrics_auth_failure(metrics_t *self, const char *reason)
{
    count_label(self->auth_failures, reason);
}

void metrics_quota_rejection(metrics_t *self, const char *quota)
{
    count_label(self->quotas, quota);
}

static void write_labelled(zhashx_t *table, FILE *out, const char *name, const char *label,
                           const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (unsigned long long *n = zhashx_first(table); n; n = zhashx_next(table))
        fprintf(out, "%s{%s=\"%s\"} %llu\n", name, label, (const char *)zhashx_cursor(table), *n);
}

static void write_requests(metrics_t *self, FILE *out)
{
    fprintf(out, "# HELP lcx_http_requests_total HTTP requests by method, route and status.\n"
                 "# TYPE lcx_http_requests_total counter\n");
    for (unsigned long long *n = zhashx_first(self->requests); n; n = zhashx_next(self->requests)) {
        char method[16], route[200];
        unsigned status;
        if (sscanf(zhashx_cursor(self->requests), "%15s %199s %u", method, route, &status) != 3)
            continue;
        fprintf(out, "lcx_http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %llu\n",
                method, route, status, *n);
    }
}

static void write_latencies(metrics_t *self, FILE *out)
{
    fprintf(out, "# HELP lcx_http_request_duration_seconds Time from request to answer.\n"
                 "# TYPE lcx_http_request_duration_seconds histogram\n");
    for (histogram_t *h = zhashx_first(self->latencies); h; h = zhashx_next(self->latencies)) {
        char method[16], route[200];
        if (sscanf(zhashx_cursor(self->latencies), "%15s %199s", method, route) != 2) continue;
        unsigned long long cumulative = 0;
        for (size_t b = 0; b <= BUCKETS; b++) {
            cumulative += h->counts[b];
            if (b < BUCKETS)
                fprintf(out,
                        "lcx_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                        "le=\"%g\"} %llu\n",
                        method, route, latency_buckets[b], cumulative);
        }
        fprintf(out,
                "lcx_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"}"
                " %llu\n",
                method, route, cumulative);
        fprintf(out, "lcx_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n",
                method, route, h->sum);
        fprintf(out, "lcx_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
                method, route, h->total);
    }
}

void metrics_write(metrics_t *self, FILE *out)
{
    write_requests(self, out);
    write_latencies(self, out);
    write_labelled(self->auth_failures, out, "lcx_auth_failures_total", "reason",
                   "Requests refused 401 or 403, by reason.");
    write_labelled(self->quotas, out, "lcx_quota_rejections_total", "quota",
                   "Runs refused by a quota of their caller (key or client address).");
}
