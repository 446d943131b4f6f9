/* serve_int.h - the server's parts (internal to src/serve).
 *
 *   server.c    libmicrohttpd: connections, bodies, suspend/resume, TLS, signals, draining
 *   app.c       one request, independent of HTTP plumbing: routing, auth, rate limits, audit,
 *               error formats, the small routes (health, info, models, openapi, model card)
 *   pool.c      the bounded queue and the inference workers
 *   patient.c   a request's patients (FHIR Bundle or events JSON) as an in-memory store
 *   predict.c   /v1/predict, /v1/simulate, /v1/embeddings (run on workers)
 *   cds.c       CDS Hooks: discovery, patient-view, feedback
 *   metrics.c   Prometheus counters
 */
#ifndef MF_SERVE_SERVE_INT_H
#define MF_SERVE_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "serve/serve.h"
#include "infer/infer.h"
#include "serve/patient.h"
#include "serve/state.h"
#include "store/store.h"

struct mf_infer;
struct mf_task;
struct mf_store;
struct mf_jwt_verifier;
struct cJSON;

enum route {
    R_NONE,
    R_HEALTH,
    R_METRICS,
    R_OPENAPI,
    R_INFO,
    R_MODELS,
    R_PREDICT,
    R_SIMULATE,
    R_EMBEDDINGS,
    R_MODEL_CARD,
    R_CDS_DISCOVERY,
    R_CDS_SERVICE,
    R_CDS_FEEDBACK,
    R__COUNT
};

/* Error bodies: {"error": {...}} on /v1, OperationOutcome on FHIR responses and CDS Hooks. */
enum err_style { ERR_JSON, ERR_FHIR };

#define CALL_MAX_ARGS 32

struct call_arg {
    char *key, *value;
};

/* One request in flight. */
struct mf_call {
    struct mf_server *srv;
    char method[8];
    char path[256];
    char url[512]; /* public URL of the path (JWT audience) */
    struct call_arg args[CALL_MAX_ARGS];
    int n_args;
    char *authorization, *api_key, *content_type, *accept;
    struct mf_buf body;
    int body_too_big;
    char request_id[40];
    int64_t t0;     /* mf_now_us at arrival */
    int64_t queued; /* when queued (us) */
    enum route route;
    char service[64]; /* CDS service id from the path */
    enum err_style style;
    /* who called */
    char key_id[MF_KEY_ID_LEN + 16];
    unsigned scopes;
    int rate_per_min;
    /* the answer */
    int status;
    const char *ctype;
    struct mf_buf resp;
    int retry_after; /* seconds; 0: none */
    int want_fhir;   /* Accept: application/fhir+json */
    /* audit */
    char patient[65];
    char input_sha256[65];
    char outcome[32];
    /* asynchronous completion (set by server.c; the call is the first member of its
     * connection's state) */
    void (*done)(struct mf_call *c);
    struct mf_call *next; /* queue link */
};

/* A worker: its own decoding state. */
struct mf_worker {
    struct mf_server *srv;
    struct mf_infer *in;
    pthread_t thread;
};

struct mf_served_task {
    struct mf_task *task;
    uint64_t *tok_masks; /* per vocabulary token */
    char name[64];
};

struct rate_entry {
    char key_id[MF_KEY_ID_LEN + 16];
    double tokens;
    int64_t last_us;
};

struct mf_metrics {
    atomic_ullong requests[R__COUNT][6]; /* by status class 1xx..5xx (index 1..5), 0: other */
    atomic_ullong latency_bucket[R__COUNT][12];
    atomic_ullong latency_sum_us[R__COUNT];
    atomic_ullong rejected_queue_full, rejected_rate, auth_failures;
    atomic_ullong predictions[64]; /* per served task index */
    atomic_ullong input_events, input_unknown_events, input_patients;
    atomic_ullong batches, batched_requests; /* predictions decoded together */
    atomic_int in_flight, queued;
};

struct mf_server {
    struct mf_serve_opts o;
    struct mf_state *state;
    struct mf_jwt_verifier *jwt;
    int cds_auth_jwt;
    /* the model */
    struct mf_worker *workers;
    int n_workers;
    char model_name[96], model_version[96], model_sha256[65], created[40];
    uint32_t vocab_size;
    int context, dim;
    struct mf_served_task *tasks;
    size_t n_tasks;
    char *openapi;
    char *card_json, *card_md;
    /* the queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct mf_call *qhead, *qtail;
    int qlen;
    int stopping;
    /* rate limits */
    pthread_mutex_t rate_mu;
    struct rate_entry *rates;
    size_t n_rates, cap_rates;
    struct mf_metrics m;
    int64_t started_us;
    char base_url[256];
};

int64_t mf_now_us(void);
/* A random (version 4) UUID, 36 characters and a NUL. */
void mf_uuid4(char out[37]);
/* The index of the served task named name[0..n), or -1. */
int mf_served_task_find(const struct mf_server *s, const char *name, size_t n);

/* app.c */
int mf_server_init(struct mf_server *s, const struct mf_serve_opts *o, struct mf_err *err);
void mf_server_fini(struct mf_server *s);
/* Handle a call whose method, path, args, headers and body are set.  Returns 1 when the answer
 * is ready (c->status, c->resp), 0 when it needs a worker: then mf_server_submit. */
int mf_server_dispatch(struct mf_call *c);
/* Queue a call for a worker (c->done is called from the worker when the answer is ready): 0, or
 * -1 with the error answer (429 queue full, 503 stopping) set. */
int mf_server_submit(struct mf_call *c);
/* Finish a call: metrics and audit (after the answer is ready). */
void mf_call_finish(struct mf_call *c);
void mf_call_free_fields(struct mf_call *c);
const char *mf_call_arg(const struct mf_call *c, const char *key);
/* The x-request-id: the caller's when well formed (letters, digits, - _ .; under 40), else a
 * new uuid. */
void mf_call_set_request_id(struct mf_call *c, const char *given);
/* Set an error answer in the call's style. */
void mf_call_error(struct mf_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Set a JSON answer (takes the text). */
void mf_call_json(struct mf_call *c, int status, const char *ctype, struct mf_buf *body);

/* pool.c */
int mf_pool_start(struct mf_server *s, struct mf_err *err);
/* Queue a call for a worker: 0, or -1 when the queue is full or the server stopping. */
int mf_pool_submit(struct mf_server *s, struct mf_call *c);
/* Stop the workers after the queue empties. */
void mf_pool_stop(struct mf_server *s);

/* A request's body made ready on a worker: parsed JSON, patients, tasks, sampling. */
struct mf_served_req {
    struct cJSON *root;
    struct mf_patients pts;
    int tasks[64]; /* indexes into srv->tasks */
    int n_tasks;
    int samples;
    uint64_t seed;
    int64_t at; /* INT64_MAX: each patient's last event */
};
/* Parse the body and the arguments (answering the error and returning -1 when bad). */
int mf_served_req_prepare(struct mf_worker *w, struct mf_call *c, struct mf_served_req *r,
                          int need_tasks);
void mf_served_req_free(struct mf_served_req *r);

struct mf_served_risk {
    int task; /* index into srv->tasks */
    struct mf_risk risk;
    int64_t horizon; /* us, or <= 0 when the task's windows end at an event */
};
/* Risks of r's tasks for patient i (one simulation shared by the tasks).  *at_out: the
 * prediction time. */
int mf_served_risks(struct mf_worker *w, struct mf_served_req *r, uint64_t i,
                    struct mf_served_risk *out, int64_t *at_out, struct mf_err *err);
/* The patient reference of patient i (its id in the request). */
struct mf_str mf_served_subject(struct mf_served_req *r, uint64_t i);

/* predict.c: run on a worker */
void mf_route_predict(struct mf_worker *w, struct mf_call *c);
/* Several queued /v1/predict calls at once: their patients' futures are decoded in shared
 * batches of up to 32 rows (a patient with more futures alone); each call gets its own
 * answer, and with done its c->done is called as soon as that answer is ready. */
void mf_route_predict_batch(struct mf_worker *w, struct mf_call **cs, int n, int done);
void mf_route_simulate(struct mf_worker *w, struct mf_call *c);
void mf_route_embeddings(struct mf_worker *w, struct mf_call *c);

/* cds.c */
void mf_cds_discovery(struct mf_call *c);
/* patient-view: checks on the I/O thread (prefetch present), then a worker */
int mf_cds_check(struct mf_call *c);
void mf_cds_service(struct mf_worker *w, struct mf_call *c);
void mf_cds_feedback(struct mf_call *c);

/* metrics.c */
void mf_metrics_observe(struct mf_server *s, enum route r, int status, int64_t us);
void mf_metrics_text(struct mf_server *s, struct mf_buf *out);
const char *mf_route_name(enum route r);

#endif
