/* predict.c - /v1/predict, /v1/simulate and /v1/embeddings, run on inference workers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/hash.h"
#include "core/timeutil.h"
#include "serve/serve_int.h"
#include "tasks/task.h"
#include "token/token.h"

#define DEFAULT_HORIZON ((int64_t)365 * 86400 * 1000000)

/* Prompts decoded together fill at most this many rows (a prompt with more futures runs
 * alone).  Measured on 2 cores (docs/performance.md): past about 20 rows a decoding step's
 * products gain nothing from more rows, and rows of different prompts lose the attention over
 * one shared prompt, so joining two 20-future requests was slower (0.81x) than running them
 * one after the other, while 4-future requests gained. */
#define BATCH_ROWS 32

int mf_served_task_find(const struct mf_server *s, const char *name, size_t n)
{
    for (size_t i = 0; i < s->n_tasks; i++)
        if (strlen(s->tasks[i].name) == n && memcmp(s->tasks[i].name, name, n) == 0)
            return (int)i;
    return -1;
}

static int add_task(struct mf_call *c, struct mf_served_req *r, const char *name, size_t n)
{
    int t = mf_served_task_find(c->srv, name, n);
    if (t < 0) {
        mf_call_error(c, 400, "unknown_task",
                      "unknown task '%.*s' (GET /v1/models lists the tasks)",
                      (int)(n < 64 ? n : 64), name);
        return -1;
    }
    for (int k = 0; k < r->n_tasks; k++)
        if (r->tasks[k] == t)
            return 0;
    if (r->n_tasks >= c->srv->o.limits.max_tasks || r->n_tasks >= 64) {
        mf_call_error(c, 400, "too_many_tasks", "more than %d tasks", c->srv->o.limits.max_tasks);
        return -1;
    }
    r->tasks[r->n_tasks++] = t;
    return 0;
}

static int parse_tasks(struct mf_call *c, struct mf_served_req *r)
{
    const char *q = mf_call_arg(c, "tasks");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r->root, "tasks");
    if (q == NULL && !r->pts.fhir && t && cJSON_IsString(t))
        q = t->valuestring;
    if (q) { /* a comma-separated list */
        const char *p = q;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n && add_task(c, r, p, n) != 0)
                return -1;
            p = e ? e + 1 : p + n;
        }
        return 0;
    }
    if (t == NULL || r->pts.fhir)
        return 0;
    if (!cJSON_IsArray(t)) {
        mf_call_error(c, 400, "bad_request", "tasks: a list of task names");
        return -1;
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, t)
    {
        if (!cJSON_IsString(x)) {
            mf_call_error(c, 400, "bad_request", "tasks: a list of task names");
            return -1;
        }
        if (add_task(c, r, x->valuestring, strlen(x->valuestring)) != 0)
            return -1;
    }
    return 0;
}

/* An integer argument from the query or (events JSON) the body. */
static int int_arg(struct mf_call *c, struct mf_served_req *r, const char *name, long lo, long hi,
                   long def, long *out)
{
    const char *q = mf_call_arg(c, name);
    const cJSON *j = r->pts.fhir ? NULL : cJSON_GetObjectItemCaseSensitive(r->root, name);
    *out = def;
    if (q) {
        char *end;
        long v = strtol(q, &end, 10);
        if (*q == '\0' || *end != '\0' || v < lo || v > hi) {
            mf_call_error(c, 400, "bad_request", "%s must be an integer in %ld..%ld", name, lo, hi);
            return -1;
        }
        *out = v;
    } else if (j) {
        if (!cJSON_IsNumber(j) || j->valuedouble < (double)lo || j->valuedouble > (double)hi ||
            j->valuedouble != floor(j->valuedouble)) {
            mf_call_error(c, 400, "bad_request", "%s must be an integer in %ld..%ld", name, lo, hi);
            return -1;
        }
        *out = (long)j->valuedouble;
    }
    return 0;
}

static const char *str_arg(struct mf_call *c, struct mf_served_req *r, const char *name)
{
    const char *q = mf_call_arg(c, name);
    if (q)
        return q;
    const cJSON *j = r->pts.fhir ? NULL : cJSON_GetObjectItemCaseSensitive(r->root, name);
    return j && cJSON_IsString(j) ? j->valuestring : NULL;
}

int mf_served_req_prepare(struct mf_worker *w, struct mf_call *c, struct mf_served_req *r,
                          int need_tasks)
{
    struct mf_server *s = w->srv;
    memset(r, 0, sizeof *r);
    r->at = INT64_MAX;
    if (c->input_sha256[0] == '\0') /* CDS Hooks set it from the request before rewriting it */
        mf_sha256_hex(c->body.data ? c->body.data : "", c->body.len, c->input_sha256);
    if (c->body.len == 0) {
        mf_call_error(c, 400, "bad_request", "the body is empty");
        return -1;
    }
    const char *endp = NULL;
    r->root = cJSON_ParseWithLengthOpts(c->body.data, c->body.len, &endp, 0);
    if (r->root == NULL) {
        size_t off = endp && endp >= c->body.data ? (size_t)(endp - c->body.data) : 0;
        mf_call_error(c, 400, "bad_json", "the body is not valid JSON (near byte %zu)", off);
        return -1;
    }
    if (mf_json_depth(r->root, s->o.limits.max_json_depth + 1) > s->o.limits.max_json_depth) {
        mf_call_error(c, 400, "too_deep", "the body nests deeper than %d levels",
                      s->o.limits.max_json_depth);
        return -1;
    }
    struct mf_err err = {0};
    int rc = mf_patients_parse(r->root, c->body.data, c->body.len, &s->o.limits, &r->pts, &err);
    if (rc) {
        if (rc == MF_ENOMEM)
            mf_call_error(c, 503, "unavailable", "out of memory");
        else if (rc == MF_ETOOBIG)
            mf_call_error(c, 413, "too_large", "%s", err.msg);
        else
            mf_call_error(c, rc == MF_EINVAL ? 422 : 400,
                          rc == MF_EINVAL ? "no_patient" : "bad_input", "%s", err.msg);
        return -1;
    }
    if (r->pts.n > 0) {
        struct mf_str id = mf_served_subject(r, 0);
        mf_state_pseudonym(s->state, id.p, id.n, c->patient);
    }
    /* input drift: the share of events with codes the model does not know */
    double overlap = mf_infer_overlap(w->in, r->pts.store);
    atomic_fetch_add(&s->m.input_patients, (unsigned long long)r->pts.n);
    atomic_fetch_add(&s->m.input_events, (unsigned long long)r->pts.events);
    atomic_fetch_add(&s->m.input_unknown_events,
                     (unsigned long long)llround((1 - overlap) * (double)r->pts.events));
    if (parse_tasks(c, r) != 0)
        return -1;
    if (need_tasks && r->n_tasks == 0) {
        mf_call_error(c, 400, "no_task", "name the tasks: ?tasks=death_1y,... or \"tasks\": [...]");
        return -1;
    }
    long samples, seed;
    if (int_arg(c, r, "samples", 1, s->o.limits.max_samples, s->o.limits.default_samples,
                &samples) != 0 ||
        int_arg(c, r, "seed", 0, 2147483647L, 1, &seed) != 0)
        return -1;
    r->samples = (int)samples;
    r->seed = (uint64_t)seed;
    const char *at = str_arg(c, r, "at");
    if (at && mf_time_parse(at, strlen(at), &r->at) != 0) {
        mf_call_error(c, 400, "bad_request", "at: not an ISO 8601 time");
        return -1;
    }
    return 0;
}

void mf_served_req_free(struct mf_served_req *r)
{
    cJSON_Delete(r->root);
    mf_patients_free(&r->pts);
    memset(r, 0, sizeof *r);
}

struct mf_str mf_served_subject(struct mf_served_req *r, uint64_t i)
{
    struct mf_timeline tl;
    struct mf_str none = {"", 0};
    if (mf_store_shard_timeline(r->pts.store, 0, i, &tl) != 0)
        return none;
    return tl.subject;
}

/* The prompt of patient i at r->at. */
static int patient_prompt(struct mf_worker *w, struct mf_served_req *r, uint64_t i,
                          struct mf_timeline *tl, struct mf_tokens *tk, struct mf_prompt *pr,
                          struct mf_err *err)
{
    int rc = mf_store_shard_timeline(r->pts.store, 0, i, tl);
    if (rc)
        return mf_err_set(err, rc, "cannot read a patient");
    if ((rc = mf_tokenize_unbound(mf_infer_vocab(w->in), r->pts.store, tl, tk, err)) != 0)
        return rc;
    return mf_infer_prompt(w->in, tk, r->at, pr, err);
}

/* One patient of a request on its way through a worker: its prompt, then its futures. */
struct served_patient {
    struct mf_timeline tl;
    struct mf_tokens tk;
    struct mf_prompt pr;
    struct mf_futures fs;
    struct mf_sim_opts so;
};

static void served_patient_free(struct served_patient *sp)
{
    mf_futures_free(&sp->fs);
    mf_prompt_free(&sp->pr);
    mf_tokens_free(&sp->tk);
}

/* The prompt of patient i and the sampling of its futures (the longest horizon of r's tasks). */
static int served_patient_prompt(struct mf_worker *w, struct mf_served_req *r, uint64_t i,
                                 struct served_patient *sp, struct mf_err *err)
{
    struct mf_server *s = w->srv;
    int rc = patient_prompt(w, r, i, &sp->tl, &sp->tk, &sp->pr, err);
    if (rc)
        return rc;
    int64_t horizon = 0;
    for (int k = 0; k < r->n_tasks; k++) {
        int64_t h = mf_task_horizon(s->tasks[r->tasks[k]].task);
        if (h <= 0)
            h = DEFAULT_HORIZON;
        if (h > horizon)
            horizon = h;
    }
    sp->so = (struct mf_sim_opts){r->samples, s->o.limits.max_new, horizon, 1.0f, 1.0f, r->seed, 0};
    return 0;
}

/* r's tasks evaluated on the patient's futures. */
static int served_patient_risks(struct mf_worker *w, struct mf_served_req *r,
                                const struct served_patient *sp, struct mf_served_risk *out,
                                struct mf_err *err)
{
    struct mf_server *s = w->srv;
    struct mf_task_evbuf hist = {0};
    uint64_t *masks = NULL;
    int rc = 0;
    for (int k = 0; k < r->n_tasks && rc == 0; k++) {
        const struct mf_served_task *t = &s->tasks[r->tasks[k]];
        free(masks);
        masks = NULL;
        hist.n = 0;
        if ((rc = mf_task_store_masks(t->task, r->pts.store, &masks, err)) != 0)
            break;
        if (mf_task_evbuf_timeline(t->task, masks, &sp->tl, sp->pr.at, &hist) != 0) {
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            break;
        }
        struct mf_task_events hev = mf_task_evbuf_events(&hist);
        out[k].task = r->tasks[k];
        out[k].horizon = mf_task_horizon(t->task);
        rc = mf_infer_task_risk(t->task, mf_infer_vocab(w->in), t->tok_masks, &hev, sp->pr.at,
                                sp->pr.at, &sp->fs, &out[k].risk, err);
        if (rc == 0)
            atomic_fetch_add(&s->m.predictions[r->tasks[k]], 1);
    }
    free(masks);
    mf_task_evbuf_free(&hist);
    return rc;
}

int mf_served_risks(struct mf_worker *w, struct mf_served_req *r, uint64_t i,
                    struct mf_served_risk *out, int64_t *at_out, struct mf_err *err)
{
    struct served_patient sp;
    memset(&sp, 0, sizeof sp);
    int rc = served_patient_prompt(w, r, i, &sp, err);
    if (rc == 0)
        rc = mf_infer_simulate(w->in, &sp.pr, &sp.so, &sp.fs, err);
    if (rc == 0)
        rc = served_patient_risks(w, r, &sp, out, err);
    *at_out = sp.pr.at;
    served_patient_free(&sp);
    return rc;
}

static void put_num(struct mf_buf *b, double v)
{
    if (isnan(v))
        mf_buf_puts(b, "null");
    else
        mf_buf_printf(b, "%.6g", v);
}

static void model_ref(struct mf_server *s, struct mf_buf *b)
{
    mf_buf_puts(b, "\"model\":{\"name\":");
    mf_buf_json_string(b, s->model_name, strlen(s->model_name));
    mf_buf_printf(b, ",\"version\":\"%s\",\"sha256\":\"%s\"}", s->model_version, s->model_sha256);
}

/* One patient's RiskAssessment resources as Bundle entries. */
static void fhir_risks(struct mf_server *s, struct mf_buf *b, struct mf_str subject, int64_t at,
                       const struct mf_served_risk *rk, int n, int *first)
{
    char ts[32];
    mf_time_format(at, ts);
    for (int k = 0; k < n; k++) {
        const struct mf_served_task *t = &s->tasks[rk[k].task];
        const struct mf_risk *r = &rk[k].risk;
        mf_buf_puts(b, *first ? "" : ",");
        *first = 0;
        mf_buf_puts(b, "{\"resource\":{\"resourceType\":\"RiskAssessment\",\"status\":\"final\","
                       "\"subject\":{\"reference\":");
        struct mf_buf ref = MF_BUF_INIT;
        mf_buf_puts(&ref, "Patient/");
        mf_buf_append(&ref, subject.p, subject.n);
        mf_buf_json_string(b, ref.data, ref.len);
        mf_buf_release(&ref);
        mf_buf_printf(b, "},\"occurrenceDateTime\":\"%s\",\"code\":{\"text\":", ts);
        mf_buf_json_string(b, t->name, strlen(t->name));
        mf_buf_puts(b, "},\"method\":{\"coding\":[{\"system\":\"https://medfm.invalid/model\","
                       "\"code\":");
        mf_buf_json_string(b, s->model_name, strlen(s->model_name));
        mf_buf_printf(b, ",\"version\":\"%s\"}],\"text\":", s->model_version);
        char mtext[256];
        snprintf(mtext, sizeof mtext, "%s %s: %u simulated futures", s->model_name,
                 s->model_version, r->futures);
        mf_buf_json_string(b, mtext, strlen(mtext));
        mf_buf_puts(b, "},\"basis\":[{\"reference\":");
        ref = (struct mf_buf)MF_BUF_INIT;
        mf_buf_puts(&ref, "Patient/");
        mf_buf_append(&ref, subject.p, subject.n);
        mf_buf_json_string(b, ref.data, ref.len);
        mf_buf_release(&ref);
        mf_buf_puts(b, ",\"display\":\"the patient's record up to the prediction time\"}],"
                       "\"prediction\":[{\"outcome\":{\"text\":");
        mf_buf_json_string(b, t->name, strlen(t->name));
        mf_buf_puts(b, "}");
        if (!isnan(r->p)) {
            mf_buf_puts(b, ",\"probabilityDecimal\":");
            put_num(b, r->p);
        }
        if (rk[k].horizon > 0)
            mf_buf_printf(
                b,
                ",\"whenRange\":{\"low\":{\"value\":0,\"unit\":\"d\",\"system\":"
                "\"http://unitsofmeasure.org\",\"code\":\"d\"},\"high\":{\"value\":%.6g,"
                "\"unit\":\"d\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"d\"}}",
                (double)rk[k].horizon / 86400e6);
        char why[256];
        if (isnan(r->p))
            snprintf(why, sizeof why, "undecided: none of %u futures decided the task", r->futures);
        else
            snprintf(why, sizeof why,
                     "%u of %u decided futures had the outcome; 95%% Wilson "
                     "interval %.3f-%.3f",
                     r->positive, r->decided, r->lo, r->hi);
        mf_buf_puts(b, ",\"rationale\":");
        mf_buf_json_string(b, why, strlen(why));
        mf_buf_puts(b, "}]}}");
    }
}

/* The answer of one request whose patients have their futures. */
static void predict_answer(struct mf_worker *w, struct mf_call *c, struct mf_served_req *r,
                           const struct served_patient *sps)
{
    struct mf_server *s = w->srv;
    struct mf_buf b = MF_BUF_INIT;
    struct mf_served_risk rk[64];
    memset(rk, 0, sizeof rk);
    int first = 1;
    if (c->want_fhir) {
        mf_buf_puts(&b, "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[");
    } else {
        mf_buf_puts(&b, "{");
        model_ref(s, &b);
        mf_buf_printf(&b, ",\"request_id\":\"%s\",\"samples\":%d,\"patients\":[", c->request_id,
                      r->samples);
    }
    for (uint64_t i = 0; i < r->pts.n; i++) {
        struct mf_err err = {0};
        const struct served_patient *sp = &sps[i];
        if (served_patient_risks(w, r, sp, rk, &err) != 0) {
            mf_buf_release(&b);
            mf_call_error(c, err.code == MF_ENOMEM ? 503 : 422,
                          err.code == MF_ENOMEM ? "unavailable" : "cannot_predict",
                          "patient %llu of the request: %s", (unsigned long long)i + 1, err.msg);
            return;
        }
        if (c->want_fhir) {
            fhir_risks(s, &b, sp->tl.subject, sp->pr.at, rk, r->n_tasks, &first);
            continue;
        }
        char ts[32];
        mf_time_format(sp->pr.at, ts);
        mf_buf_puts(&b, i ? ",{\"subject_id\":" : "{\"subject_id\":");
        mf_buf_json_string(&b, sp->tl.subject.p, sp->tl.subject.n);
        mf_buf_printf(&b, ",\"prediction_time\":\"%s\",\"risks\":[", ts);
        for (int k = 0; k < r->n_tasks; k++) {
            const struct mf_risk *x = &rk[k].risk;
            mf_buf_puts(&b, k ? ",{\"task\":" : "{\"task\":");
            mf_buf_json_string(&b, s->tasks[rk[k].task].name, strlen(s->tasks[rk[k].task].name));
            mf_buf_puts(&b, ",\"probability\":");
            put_num(&b, x->p);
            mf_buf_puts(&b, ",\"interval\":{\"level\":0.95,\"method\":\"wilson\",\"low\":");
            put_num(&b, x->lo);
            mf_buf_puts(&b, ",\"high\":");
            put_num(&b, x->hi);
            mf_buf_printf(&b, "},\"futures\":%u,\"decided\":%u,\"positive\":%u,\"horizon_days\":",
                          x->futures, x->decided, x->positive);
            put_num(&b, rk[k].horizon > 0 ? (double)rk[k].horizon / 86400e6 : NAN);
            mf_buf_puts(&b, "}");
        }
        mf_buf_puts(&b, "]}");
    }
    mf_buf_puts(&b, "]}");
    mf_call_json(c, 200, c->want_fhir ? "application/fhir+json" : "application/json", &b);
}

/* Requests of a batch with their patients. */
struct batch_item {
    struct mf_call *c;
    struct mf_served_req r;
    struct served_patient *sps; /* r.pts.n of them; NULL: the call is answered already */
    size_t last;                /* the slot of its last patient */
    int failed;                 /* its decoding batch failed (answered) */
    int finished;
};

/* Answer a call of the batch (unless answered already), free its patients, and with done
 * hand it back to its connection at once. */
static void batch_finish(struct mf_worker *w, struct batch_item *b, int oom, int done)
{
    if (b->finished)
        return;
    b->finished = 1;
    if (oom && b->sps)
        mf_call_error(b->c, 503, "unavailable", "out of memory");
    else if (b->sps && !b->failed)
        predict_answer(w, b->c, &b->r, b->sps);
    for (uint64_t i = 0; b->sps && i < b->r.pts.n; i++)
        served_patient_free(&b->sps[i]);
    free(b->sps);
    b->sps = NULL;
    mf_served_req_free(&b->r);
    if (done)
        b->c->done(b->c);
}

void mf_route_predict_batch(struct mf_worker *w, struct mf_call **cs, int n, int done)
{
    struct mf_server *s = w->srv;
    struct batch_item *it = calloc((size_t)n, sizeof *it);
    size_t total = 0;
    if (it == NULL) {
        for (int q = 0; q < n; q++) {
            mf_call_error(cs[q], 503, "unavailable", "out of memory");
            if (done)
                cs[q]->done(cs[q]);
        }
        return;
    }
    /* parse every request and make its patients' prompts */
    for (int q = 0; q < n; q++) {
        struct batch_item *b = &it[q];
        b->c = cs[q];
        if (mf_served_req_prepare(w, b->c, &b->r, 1) != 0) {
            batch_finish(w, b, 0, done);
            continue;
        }
        b->sps = calloc(b->r.pts.n, sizeof *b->sps);
        if (b->sps == NULL) {
            mf_call_error(b->c, 503, "unavailable", "out of memory");
            batch_finish(w, b, 0, done);
            continue;
        }
        for (uint64_t i = 0; i < b->r.pts.n; i++) {
            struct mf_err err = {0};
            if (served_patient_prompt(w, &b->r, i, &b->sps[i], &err) != 0) {
                mf_call_error(b->c, 422, "cannot_predict", "patient %llu of the request: %s",
                              (unsigned long long)i + 1, err.msg);
                for (uint64_t j = 0; j <= i; j++)
                    served_patient_free(&b->sps[j]);
                free(b->sps);
                b->sps = NULL;
                batch_finish(w, b, 0, done);
                break;
            }
        }
        if (b->sps)
            total += b->r.pts.n;
    }
    /* the futures of every patient, in as few decoding batches as BATCH_ROWS allows; a call
     * is answered as soon as its last patient's batch is done */
    struct slot {
        struct served_patient *who;
        struct batch_item *owner;
    } *sl = calloc(total ? total : 1, sizeof *sl);
    struct mf_prompt *ps = calloc(total ? total : 1, sizeof *ps); /* copies: tokens shared */
    struct mf_sim_opts *os = calloc(total ? total : 1, sizeof *os);
    struct mf_futures *fs = calloc(total ? total : 1, sizeof *fs);
    int oom = !sl || !ps || !os || !fs;
    size_t np = 0;
    for (int q = 0; q < n && !oom; q++)
        for (uint64_t i = 0; it[q].sps && i < it[q].r.pts.n; i++) {
            sl[np].who = &it[q].sps[i];
            sl[np].owner = &it[q];
            it[q].last = np;
            ps[np] = sl[np].who->pr;
            os[np] = sl[np].who->so;
            np++;
        }
    for (size_t a = 0; a < np && !oom;) {
        size_t e = a;
        int rows = 0;
        while (e < np && (e == a || rows + os[e].samples <= BATCH_ROWS) && e - a < 64)
            rows += os[e++].samples;
        struct mf_err err = {0};
        int rc = mf_infer_simulate_batch(w->in, ps + a, os + a, (int)(e - a), fs + a, &err);
        for (size_t k = a; k < e; k++) {
            struct batch_item *owner = sl[k].owner;
            if (rc != 0 && !owner->failed) { /* the batch failed: its requests fail */
                mf_call_error(owner->c, err.code == MF_ENOMEM ? 503 : 422,
                              err.code == MF_ENOMEM ? "unavailable" : "cannot_predict", "%s",
                              err.msg);
                owner->failed = 1;
            }
            sl[k].who->fs = fs[k];
            memset(&fs[k], 0, sizeof fs[k]);
        }
        for (size_t k = a; k < e; k++)
            if (sl[k].owner->last == k)
                batch_finish(w, sl[k].owner, 0, done);
        a = e;
    }
    if (n > 1) {
        atomic_fetch_add(&s->m.batches, 1);
        atomic_fetch_add(&s->m.batched_requests, (unsigned long long)n);
    }
    for (int q = 0; q < n; q++)
        batch_finish(w, &it[q], oom, done);
    free(sl);
    free(ps);
    free(os);
    free(fs);
    free(it);
}

void mf_route_predict(struct mf_worker *w, struct mf_call *c)
{
    mf_route_predict_batch(w, &c, 1, 0);
}

static const char *const stop_name[] = {"death", "timeline_end", "horizon", "length"};

void mf_route_simulate(struct mf_worker *w, struct mf_call *c)
{
    struct mf_server *s = w->srv;
    struct mf_served_req r;
    struct mf_tokens tk = {0};
    struct mf_prompt pr = {0};
    struct mf_futures fs = {0};
    struct mf_buf b = MF_BUF_INIT;
    if (mf_served_req_prepare(w, c, &r, 0) != 0)
        goto out;
    if (r.pts.n != 1) {
        mf_call_error(c, 400, "bad_request", "simulate takes one patient (the body has %zu)",
                      r.pts.n);
        goto out;
    }
    const struct mf_vocab *v = mf_infer_vocab(w->in);
    long horizon_d, max_new;
    if (int_arg(c, &r, "horizon_days", 1, 36500, 365, &horizon_d) != 0 ||
        int_arg(c, &r, "max_new", 1, s->o.limits.max_new, s->o.limits.max_new, &max_new) != 0)
        goto out;
    struct mf_timeline tl;
    struct mf_err err = {0};
    if (patient_prompt(w, &r, 0, &tl, &tk, &pr, &err) != 0) {
        mf_call_error(c, 422, "cannot_simulate", "%s", err.msg);
        goto out;
    }
    /* what-if codes, inserted at the prediction time */
    const cJSON *wi = cJSON_GetObjectItemCaseSensitive(r.root, "what_if");
    if (wi && !r.pts.fhir) {
        if (!cJSON_IsArray(wi) || cJSON_GetArraySize(wi) > 64) {
            mf_call_error(c, 400, "bad_request", "what_if: a list of at most 64 codes");
            goto out;
        }
        const cJSON *x;
        cJSON_ArrayForEach(x, wi)
        {
            int64_t id =
                cJSON_IsString(x) ? mf_vocab_id(v, x->valuestring, strlen(x->valuestring)) : -1;
            if (id < 0 || mf_vocab_kind(v, (uint32_t)id) != MF_TOK_CODE) {
                mf_call_error(c, 400, "unknown_code",
                              "what_if: a code the model does not know (codes are tokens of its "
                              "vocabulary, e.g. SNOMED/44054006)");
                goto out;
            }
            uint32_t t32 = (uint32_t)id;
            if (mf_prompt_append(&pr, &t32, 1) != 0) {
                mf_call_error(c, 503, "unavailable", "out of memory");
                goto out;
            }
        }
    }
    struct mf_sim_opts so = {
        r.samples, (int)max_new, (int64_t)horizon_d * 86400 * 1000000, 1.0f, 1.0f, r.seed, 0};
    if (mf_infer_simulate(w->in, &pr, &so, &fs, &err) != 0) {
        mf_call_error(c, 422, "cannot_simulate", "%s", err.msg);
        goto out;
    }
    char ts[32];
    mf_time_format(pr.at, ts);
    mf_buf_puts(&b, "{");
    model_ref(s, &b);
    mf_buf_printf(&b, ",\"request_id\":\"%s\",\"start\":\"%s\",\"horizon_days\":%ld,\"futures\":[",
                  c->request_id, ts, horizon_d);
    for (size_t f = 0; f < fs.n; f++) {
        const struct mf_future *fu = &fs.f[f];
        mf_buf_printf(&b, "%s{\"stop\":\"%s\",\"tokens\":%zu,\"events\":[", f ? "," : "",
                      stop_name[fu->stop], fu->n);
        int first = 1;
        for (size_t k = 0; k < fu->n; k++) {
            if (mf_vocab_kind(v, fu->tok[k]) != MF_TOK_CODE)
                continue;
            const char *name = mf_vocab_token(v, fu->tok[k]);
            mf_buf_puts(&b, first ? "{\"code\":" : ",{\"code\":");
            first = 0;
            mf_buf_json_string(&b, name, strlen(name));
            mf_buf_printf(&b, ",\"days\":%.4g}", (double)fu->dt[k] / 86400e6);
        }
        mf_buf_puts(&b, "]}");
    }
    mf_buf_puts(&b, "]}");
    mf_call_json(c, 200, "application/json", &b);
out:
    mf_buf_release(&b);
    mf_futures_free(&fs);
    mf_prompt_free(&pr);
    mf_tokens_free(&tk);
    mf_served_req_free(&r);
}

void mf_route_embeddings(struct mf_worker *w, struct mf_call *c)
{
    struct mf_server *s = w->srv;
    struct mf_served_req r;
    struct mf_tokens tk = {0};
    struct mf_prompt pr = {0};
    struct mf_buf b = MF_BUF_INIT;
    float *e = malloc((size_t)s->dim * sizeof *e);
    if (e == NULL) {
        mf_call_error(c, 503, "unavailable", "out of memory");
        memset(&r, 0, sizeof r);
        goto out;
    }
    if (mf_served_req_prepare(w, c, &r, 0) != 0)
        goto out;
    mf_buf_puts(&b, "{");
    model_ref(s, &b);
    mf_buf_printf(&b, ",\"request_id\":\"%s\",\"dim\":%d,\"embeddings\":[", c->request_id, s->dim);
    for (uint64_t i = 0; i < r.pts.n; i++) {
        struct mf_timeline tl;
        struct mf_err err = {0};
        if (patient_prompt(w, &r, i, &tl, &tk, &pr, &err) != 0 ||
            mf_infer_embed(w->in, &pr, e, &err) != 0) {
            mf_buf_release(&b);
            mf_call_error(c, 422, "cannot_embed", "patient %llu of the request: %s",
                          (unsigned long long)i + 1, err.msg);
            goto out;
        }
        char ts[32];
        mf_time_format(pr.at, ts);
        mf_buf_puts(&b, i ? ",{\"subject_id\":" : "{\"subject_id\":");
        mf_buf_json_string(&b, tl.subject.p, tl.subject.n);
        mf_buf_printf(&b, ",\"time\":\"%s\",\"embedding\":[", ts);
        for (int d = 0; d < s->dim; d++)
            mf_buf_printf(&b, "%s%.7g", d ? "," : "", (double)e[d]);
        mf_buf_puts(&b, "]}");
    }
    mf_buf_puts(&b, "]}");
    mf_call_json(c, 200, "application/json", &b);
out:
    free(e);
    mf_buf_release(&b);
    mf_prompt_free(&pr);
    mf_tokens_free(&tk);
    mf_served_req_free(&r);
}
