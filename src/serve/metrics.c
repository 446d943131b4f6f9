/* metrics.c - Prometheus text exposition of the server's counters (see serve_int.h). */
#include <stdio.h>

#include "serve/serve_int.h"

/* Latency buckets, seconds (le); the last is +Inf. */
static const double buckets[12] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,   0.25,   0.5,   1,    2.5,   1e300};

const char *mf_route_name(enum route r)
{
    static const char *const names[R__COUNT] = {"unknown",
                                                "/health",
                                                "/metrics",
                                                "/openapi.json",
                                                "/v1/info",
                                                "/v1/models",
                                                "/v1/predict",
                                                "/v1/simulate",
                                                "/v1/embeddings",
                                                "/model-card",
                                                "/cds-services",
                                                "/cds-services/{id}",
                                                "/cds-services/{id}/feedback"};
    return (unsigned)r < R__COUNT ? names[r] : "unknown";
}

void mf_metrics_observe(struct mf_server *s, enum route r, int status, int64_t us)
{
    if ((unsigned)r >= R__COUNT)
        r = R_NONE;
    int cls = status >= 100 && status < 600 ? status / 100 : 0;
    atomic_fetch_add(&s->m.requests[r][cls], 1);
    double sec = (double)us / 1e6;
    for (int i = 0; i < 12; i++)
        if (sec <= buckets[i]) {
            atomic_fetch_add(&s->m.latency_bucket[r][i], 1);
            break;
        }
    atomic_fetch_add(&s->m.latency_sum_us[r], (unsigned long long)(us > 0 ? us : 0));
}

void mf_metrics_text(struct mf_server *s, struct mf_buf *b)
{
    mf_buf_puts(b, "# HELP medfm_requests_total HTTP requests answered, by route and status "
                   "class.\n# TYPE medfm_requests_total counter\n");
    for (int r = 0; r < R__COUNT; r++)
        for (int k = 0; k < 6; k++) {
            unsigned long long v = atomic_load(&s->m.requests[r][k]);
            if (v)
                mf_buf_printf(b, "medfm_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                              mf_route_name((enum route)r),
                              (const char *[]){"other", "1xx", "2xx", "3xx", "4xx", "5xx"}[k], v);
        }
    mf_buf_puts(b, "# HELP medfm_request_duration_seconds Time from arrival to answer.\n"
                   "# TYPE medfm_request_duration_seconds histogram\n");
    for (int r = 0; r < R__COUNT; r++) {
        unsigned long long total = 0;
        for (int i = 0; i < 12; i++)
            total += atomic_load(&s->m.latency_bucket[r][i]);
        if (total == 0)
            continue;
        unsigned long long cum = 0;
        for (int i = 0; i < 12; i++) {
            cum += atomic_load(&s->m.latency_bucket[r][i]);
            if (i < 11)
                mf_buf_printf(
                    b, "medfm_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    mf_route_name((enum route)r), buckets[i], cum);
            else
                mf_buf_printf(
                    b, "medfm_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                    mf_route_name((enum route)r), cum);
        }
        mf_buf_printf(b, "medfm_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                      mf_route_name((enum route)r),
                      (double)atomic_load(&s->m.latency_sum_us[r]) / 1e6);
        mf_buf_printf(b, "medfm_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      mf_route_name((enum route)r), total);
    }
    mf_buf_printf(b,
                  "# HELP medfm_queue_depth Requests waiting for an inference worker.\n"
                  "# TYPE medfm_queue_depth gauge\nmedfm_queue_depth %d\n"
                  "# HELP medfm_in_flight Requests being answered.\n"
                  "# TYPE medfm_in_flight gauge\nmedfm_in_flight %d\n"
                  "# HELP medfm_workers Inference workers.\n# TYPE medfm_workers gauge\n"
                  "medfm_workers %d\n",
                  atomic_load(&s->m.queued), atomic_load(&s->m.in_flight), s->n_workers);
    mf_buf_printf(b,
                  "# HELP medfm_rejected_total Requests refused before any work, by reason.\n"
                  "# TYPE medfm_rejected_total counter\n"
                  "medfm_rejected_total{reason=\"queue_full\"} %llu\n"
                  "medfm_rejected_total{reason=\"rate_limit\"} %llu\n"
                  "medfm_rejected_total{reason=\"auth\"} %llu\n",
                  atomic_load(&s->m.rejected_queue_full), atomic_load(&s->m.rejected_rate),
                  atomic_load(&s->m.auth_failures));
    mf_buf_printf(b,
                  "# HELP medfm_batches_total Groups of queued predictions decoded together.\n"
                  "# TYPE medfm_batches_total counter\nmedfm_batches_total %llu\n"
                  "# HELP medfm_batched_requests_total Predictions in those groups.\n"
                  "# TYPE medfm_batched_requests_total counter\n"
                  "medfm_batched_requests_total %llu\n",
                  atomic_load(&s->m.batches), atomic_load(&s->m.batched_requests));
    mf_buf_puts(b, "# HELP medfm_predictions_total Risks computed, by task.\n"
                   "# TYPE medfm_predictions_total counter\n");
    for (size_t i = 0; i < s->n_tasks && i < 64; i++)
        mf_buf_printf(b, "medfm_predictions_total{task=\"%s\"} %llu\n", s->tasks[i].name,
                      atomic_load(&s->m.predictions[i]));
    unsigned long long ev = atomic_load(&s->m.input_events),
                       unk = atomic_load(&s->m.input_unknown_events);
    mf_buf_printf(b,
                  "# HELP medfm_input_patients_total Patients received.\n"
                  "# TYPE medfm_input_patients_total counter\nmedfm_input_patients_total %llu\n"
                  "# HELP medfm_input_events_total Timed events received.\n"
                  "# TYPE medfm_input_events_total counter\nmedfm_input_events_total %llu\n"
                  "# HELP medfm_input_unknown_events_total Timed events whose code the model's "
                  "vocabulary lacks (input drift).\n"
                  "# TYPE medfm_input_unknown_events_total counter\n"
                  "medfm_input_unknown_events_total %llu\n"
                  "# HELP medfm_input_unknown_share Share of received events with codes the model "
                  "lacks, since start.\n# TYPE medfm_input_unknown_share gauge\n"
                  "medfm_input_unknown_share %.6f\n",
                  atomic_load(&s->m.input_patients), ev, unk, ev ? (double)unk / (double)ev : 0.0);
}
