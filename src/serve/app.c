/* app.c - one request, independent of the HTTP plumbing (see serve_int.h). */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fs.h"
#include "core/hash.h"
#include "eval/report.h"
#include "infer/infer.h"
#include "serve/jwt.h"
#include "serve/serve_int.h"
#include "tasks/task.h"
#include "token/token.h"

/* Set-up */

static int read_text(const char *path, char **out, struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, (size_t)16 << 20, &b, err);
    if (rc) {
        mf_buf_release(&b);
        return rc;
    }
    mf_buf_putc(&b, '\0');
    *out = mf_buf_detach(&b, NULL);
    return *out ? 0 : mf_err_set(err, MF_ENOMEM, "out of memory");
}

static int load_card(struct mf_server *s, struct mf_err *err)
{
    char tmp[PATH_MAX] = "";
    int rc;
    if (s->o.card_dir == NULL) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/medfm-card-XXXXXX", t && *t ? t : "/tmp");
        if (mkdtemp(tmp) == NULL)
            return mf_err_set(err, MF_EIO, "cannot make a temporary folder for the model card");
        if ((rc = mf_card_write(s->o.model_dir, NULL, 0, tmp, err)) != 0)
            goto out;
    }
    const char *dir = s->o.card_dir ? s->o.card_dir : tmp;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/model_card.json", dir);
    if ((rc = read_text(path, &s->card_json, err)) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/model_card.md", dir);
    rc = read_text(path, &s->card_md, err);
out:
    if (tmp[0])
        mf_fs_rm_rf(tmp);
    return rc;
}

static int load_tasks(struct mf_server *s, const struct mf_vocab *v, struct mf_err *err)
{
    const char *dir = s->o.tasks_dir ? s->o.tasks_dir : mf_data_dir("tasks");
    static const char *const sfx[] = {".yaml", ".yml", NULL};
    struct mf_strlist files = {0};
    int rc = mf_fs_list(dir, sfx, &files, err);
    if (rc == 0 && files.n == 0)
        rc = mf_err_set(err, MF_ENOTFOUND, "no task definitions in '%s'", dir);
    if (rc == 0 && files.n > 64)
        rc = mf_err_set(err, MF_ETOOBIG, "more than 64 task definitions in '%s'", dir);
    if (rc == 0 && (s->tasks = calloc(files.n + 1, sizeof *s->tasks)) == NULL)
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && s->tasks && i < files.n; i++) {
        struct mf_served_task *t = &s->tasks[s->n_tasks];
        if ((rc = mf_task_load(files.items[i], &t->task, err)) != 0 ||
            (rc = mf_infer_task_masks(v, t->task, &t->tok_masks, err)) != 0)
            break;
        snprintf(t->name, sizeof t->name, "%s", mf_task_name(t->task));
        s->n_tasks++;
    }
    mf_strlist_free(&files);
    return rc;
}

int mf_server_init(struct mf_server *s, const struct mf_serve_opts *o, struct mf_err *err)
{
    memset(s, 0, sizeof *s);
    s->o = *o;
    mf_serve_opts_defaults(&s->o);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->rate_mu, NULL);
    s->started_us = mf_now_us();
    int rc;
    if (strcmp(s->o.cds_auth, "jwt") != 0 && strcmp(s->o.cds_auth, "key") != 0)
        return mf_err_set(err, MF_EINVAL, "--cds-auth must be jwt or key");
    s->cds_auth_jwt = strcmp(s->o.cds_auth, "jwt") == 0;
    if ((rc = mf_jwt_verifier_new(&s->jwt, err)) != 0)
        return rc;
    if (s->o.jwt_config && (rc = mf_jwt_load_config(s->jwt, s->o.jwt_config, err)) != 0)
        return rc;
    if ((rc = mf_state_open(s->o.db, &s->state, err)) != 0)
        return rc;
    if ((rc = read_text(mf_data_dir("serve/openapi.json"), &s->openapi, err)) != 0)
        return rc;
    if (s->o.no_model) {
        s->o.queue = 0;
        snprintf(s->model_name, sizeof s->model_name, "none");
        s->card_json = strdup("{}");
        s->card_md = strdup("");
        return s->card_json && s->card_md ? 0 : mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    if ((rc = mf_pool_start(s, err)) != 0)
        return rc;
    const struct mf_infer *in = s->workers[0].in;
    const struct mf_vocab *v = mf_infer_vocab(in);
    const struct mf_model_config *cfg = mf_infer_config(in);
    s->vocab_size = mf_vocab_size(v);
    s->context = cfg->context;
    s->dim = cfg->dim;
    snprintf(s->model_sha256, sizeof s->model_sha256, "%s", mf_infer_model_sha256(in));
    const char *base = strrchr(s->o.model_dir, '/');
    base = base && base[1] ? base + 1 : s->o.model_dir;
    snprintf(s->model_name, sizeof s->model_name, "medfm/%.60s", base);
    snprintf(s->model_version, sizeof s->model_version, "0.1.0+%.12s", s->model_sha256);
    char wpath[PATH_MAX];
    struct stat st;
    snprintf(wpath, sizeof wpath, "%s/model.safetensors", s->o.model_dir);
    if (stat(wpath, &st) == 0)
        mf_time_format((int64_t)st.st_mtime * 1000000, s->created);
    if ((rc = load_tasks(s, v, err)) != 0)
        return rc;
    return load_card(s, err);
}

void mf_server_fini(struct mf_server *s)
{
    mf_pool_stop(s);
    for (size_t i = 0; i < s->n_tasks; i++) {
        mf_task_free(s->tasks[i].task);
        free(s->tasks[i].tok_masks);
    }
    free(s->tasks);
    free(s->openapi);
    free(s->card_json);
    free(s->card_md);
    free(s->rates);
    mf_jwt_verifier_free(s->jwt);
    mf_state_close(s->state);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->rate_mu);
}

/* Answers */

const char *mf_call_arg(const struct mf_call *c, const char *key)
{
    for (int i = 0; i < c->n_args; i++)
        if (strcmp(c->args[i].key, key) == 0)
            return c->args[i].value;
    return NULL;
}

void mf_call_json(struct mf_call *c, int status, const char *ctype, struct mf_buf *body)
{
    mf_buf_release(&c->resp);
    c->resp = *body;
    *body = (struct mf_buf)MF_BUF_INIT;
    c->status = status;
    c->ctype = ctype;
}

static const char *status_outcome(int status)
{
    switch (status) {
    case 400:
        return "bad-request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not-found";
    case 405:
        return "method-not-allowed";
    case 412:
        return "precondition-failed";
    case 413:
        return "too-large";
    case 415:
        return "unsupported-media-type";
    case 422:
        return "unprocessable";
    case 429:
        return "rate-limited";
    case 503:
        return "unavailable";
    default:
        return status < 400 ? "ok" : "error";
    }
}

void mf_call_error(struct mf_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct mf_buf b = MF_BUF_INIT;
    if (c->style == ERR_FHIR) {
        const char *fcode = status == 401   ? "login"
                            : status == 403 ? "forbidden"
                            : status == 404 ? "not-found"
                            : status == 413 ? "too-costly"
                            : status == 429 ? "throttled"
                            : status >= 500 ? "transient"
                                            : "invalid";
        mf_buf_printf(&b,
                      "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\","
                      "\"code\":\"%s\",\"details\":{\"text\":",
                      fcode);
        mf_buf_json_string(&b, msg, strlen(msg));
        mf_buf_printf(&b, "},\"diagnostics\":\"%s; request %s\"}]}", code, c->request_id);
        mf_call_json(c, status, "application/fhir+json", &b);
    } else {
        mf_buf_puts(&b, "{\"error\":{\"code\":");
        mf_buf_json_string(&b, code, strlen(code));
        mf_buf_puts(&b, ",\"message\":");
        mf_buf_json_string(&b, msg, strlen(msg));
        mf_buf_printf(&b, ",\"request_id\":\"%s\"}}", c->request_id);
        mf_call_json(c, status, "application/json", &b);
    }
    snprintf(c->outcome, sizeof c->outcome, "%s", status_outcome(status));
}

/* Identity, auth, rate limits */

static void make_request_id(struct mf_call *c, const char *given)
{
    if (given) {
        size_t n = strlen(given), i;
        for (i = 0; i < n; i++)
            if (!isalnum((unsigned char)given[i]) && given[i] != '-' && given[i] != '_' &&
                given[i] != '.')
                break;
        if (n > 0 && n < sizeof c->request_id && i == n) {
            memcpy(c->request_id, given, n + 1);
            return;
        }
    }
    mf_uuid4(c->request_id);
}

/* The bearer token or api-key header (NULL when neither). */
static const char *presented_credential(const struct mf_call *c)
{
    if (c->authorization) {
        const char *a = c->authorization;
        if (strncasecmp(a, "Bearer ", 7) == 0) {
            a += 7;
            while (*a == ' ')
                a++;
            return a;
        }
        return "";
    }
    return c->api_key;
}

/* 0 when the call may go on; otherwise the error answer is set. */
static int authenticate(struct mf_call *c, unsigned need)
{
    struct mf_server *s = c->srv;
    const char *cred = presented_credential(c);
    int jwt = (c->route == R_CDS_SERVICE || c->route == R_CDS_FEEDBACK) && s->cds_auth_jwt;
    if (cred == NULL || cred[0] == '\0') {
        atomic_fetch_add(&s->m.auth_failures, 1);
        mf_call_error(c, 401, "unauthorized",
                      jwt ? "a CDS Hooks JWT is required (Authorization: Bearer)"
                          : "an API key is required (Authorization: Bearer KEY or api-key: KEY)");
        return -1;
    }
    struct mf_err err = {0};
    if (jwt) {
        struct mf_jwt_claims cl;
        if (mf_jwt_verify(s->jwt, cred, strlen(cred), c->url, mf_now_us() / 1000000, &cl, &err) !=
            0) {
            atomic_fetch_add(&s->m.auth_failures, 1);
            mf_call_error(c, 401, "unauthorized", "the JWT was refused: %s", err.msg);
            return -1;
        }
        char h[65];
        mf_sha256_hex(cl.iss, strlen(cl.iss), h);
        snprintf(c->key_id, sizeof c->key_id, "jwt:%.12s", h);
        c->scopes = MF_SCOPE_PREDICT | MF_SCOPE_FEEDBACK;
        c->rate_per_min = 0;
    } else {
        struct mf_key_info ki;
        if (mf_state_key_check(s->state, cred, strlen(cred), &ki, &err) != 0) {
            atomic_fetch_add(&s->m.auth_failures, 1);
            if (err.code == MF_ENOTFOUND)
                mf_call_error(c, 401, "unauthorized", "unknown or revoked API key");
            else
                mf_call_error(c, 503, "unavailable", "the key store cannot be read");
            return -1;
        }
        snprintf(c->key_id, sizeof c->key_id, "%s", ki.id);
        c->scopes = ki.scopes;
        c->rate_per_min = ki.rate_per_min;
    }
    if ((c->scopes & need) != need && !(c->scopes & MF_SCOPE_ADMIN)) {
        char want[64];
        mf_scopes_format(need, want, sizeof want);
        mf_call_error(c, 403, "forbidden", "this key lacks the '%s' scope", want);
        return -1;
    }
    return 0;
}

/* Token bucket per key: capacity = one minute's allowance. */
static int rate_limit(struct mf_call *c)
{
    struct mf_server *s = c->srv;
    double rate = c->rate_per_min > 0 ? c->rate_per_min : s->o.limits.rate_per_min;
    int64_t now = mf_now_us();
    int wait = 0;
    pthread_mutex_lock(&s->rate_mu);
    struct rate_entry *e = NULL;
    for (size_t i = 0; i < s->n_rates; i++)
        if (strcmp(s->rates[i].key_id, c->key_id) == 0) {
            e = &s->rates[i];
            break;
        }
    if (e == NULL) {
        if (s->n_rates == s->cap_rates) {
            size_t cap = s->cap_rates ? 2 * s->cap_rates : 16;
            struct rate_entry *r = realloc(s->rates, cap * sizeof *r);
            if (r) {
                s->rates = r;
                s->cap_rates = cap;
            }
        }
        if (s->n_rates < s->cap_rates) {
            e = &s->rates[s->n_rates++];
            snprintf(e->key_id, sizeof e->key_id, "%s", c->key_id);
            e->tokens = rate;
            e->last_us = now;
        }
    }
    if (e) {
        e->tokens += (double)(now - e->last_us) * rate / 60e6;
        if (e->tokens > rate)
            e->tokens = rate;
        e->last_us = now;
        if (e->tokens >= 1) {
            e->tokens -= 1;
        } else {
            wait = (int)((1 - e->tokens) * 60 / rate) + 1;
        }
    }
    pthread_mutex_unlock(&s->rate_mu);
    if (wait) {
        atomic_fetch_add(&s->m.rejected_rate, 1);
        c->retry_after = wait;
        mf_call_error(c, 429, "rate_limited", "too many requests for this key: retry in %d s",
                      wait);
        return -1;
    }
    return 0;
}

/* Routing */

struct route_def {
    const char *method, *path;
    enum route r;
    unsigned scope; /* 0: open */
    int prefix;     /* path is a prefix (CDS service ids) */
};

static const struct route_def routes[] = {
    {"GET", "/health", R_HEALTH, 0, 0},
    {"GET", "/metrics", R_METRICS, 0, 0},
    {"GET", "/openapi.json", R_OPENAPI, 0, 0},
    {"GET", "/v1/info", R_INFO, MF_SCOPE_PREDICT, 0},
    {"GET", "/v1/models", R_MODELS, MF_SCOPE_PREDICT, 0},
    {"POST", "/v1/predict", R_PREDICT, MF_SCOPE_PREDICT, 0},
    {"POST", "/v1/simulate", R_SIMULATE, MF_SCOPE_SIMULATE, 0},
    {"POST", "/v1/embeddings", R_EMBEDDINGS, MF_SCOPE_PREDICT, 0},
    {"GET", "/model-card", R_MODEL_CARD, 0, 0},
    {"GET", "/cds-services", R_CDS_DISCOVERY, 0, 0},
    {"POST", "/cds-services/", R_CDS_SERVICE, MF_SCOPE_PREDICT, 1},
};

/* The route of a path; *allowed lists the methods when the path exists under another. */
static enum route match(struct mf_call *c, const char **allowed)
{
    *allowed = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route_def *d = &routes[i];
        int hit;
        if (d->prefix) {
            size_t n = strlen(d->path);
            hit = strncmp(c->path, d->path, n) == 0 && c->path[n] != '\0';
            if (hit) {
                const char *id = c->path + n, *slash = strchr(id, '/');
                size_t idn = slash ? (size_t)(slash - id) : strlen(id);
                if (idn >= sizeof c->service || (slash && strcmp(slash, "/feedback") != 0))
                    continue;
                memcpy(c->service, id, idn);
                c->service[idn] = '\0';
                if (slash) {
                    if (strcmp(c->method, "POST") != 0) {
                        *allowed = "POST";
                        continue;
                    }
                    return R_CDS_FEEDBACK;
                }
            }
        } else {
            hit = strcmp(c->path, d->path) == 0;
        }
        if (!hit)
            continue;
        if (strcmp(c->method, d->method) != 0 &&
            !(strcmp(c->method, "HEAD") == 0 && strcmp(d->method, "GET") == 0)) {
            *allowed = d->method;
            continue;
        }
        return d->r;
    }
    return R_NONE;
}

static unsigned route_scope(enum route r)
{
    if (r == R_CDS_FEEDBACK)
        return MF_SCOPE_FEEDBACK;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].r == r)
            return routes[i].scope;
    return 0;
}

static int media_type_is(const char *ct, const char *want)
{
    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void route_health(struct mf_call *c)
{
    struct mf_server *s = c->srv;
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_printf(&b, "{\"status\":\"%s\",\"queue\":%d,\"in_flight\":%d}",
                  s->stopping ? "draining" : "ok", atomic_load(&s->m.queued),
                  atomic_load(&s->m.in_flight));
    mf_call_json(c, s->stopping ? 503 : 200, "application/json", &b);
}

static void model_json(struct mf_server *s, struct mf_buf *b)
{
    mf_buf_puts(b, "{\"name\":");
    mf_buf_json_string(b, s->model_name, strlen(s->model_name));
    mf_buf_printf(b,
                  ",\"version\":\"%s\",\"sha256\":\"%s\",\"vocabulary_size\":%u,\"context\":%d,"
                  "\"embedding_dim\":%d,\"created\":\"%s\",\"tasks\":[",
                  s->model_version, s->model_sha256, s->vocab_size, s->context, s->dim,
                  s->created[0] ? s->created : "unknown");
    for (size_t i = 0; i < s->n_tasks; i++) {
        int64_t h = mf_task_horizon(s->tasks[i].task);
        mf_buf_printf(b, "%s{\"name\":", i ? "," : "");
        mf_buf_json_string(b, s->tasks[i].name, strlen(s->tasks[i].name));
        if (h > 0)
            mf_buf_printf(b, ",\"horizon_days\":%.6g}", (double)h / 86400e6);
        else
            mf_buf_puts(b, ",\"horizon_days\":null}");
    }
    mf_buf_puts(b, "]}");
}

static void route_info(struct mf_call *c)
{
    struct mf_server *s = c->srv;
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_puts(&b, "{\"service\":\"medfm\",\"version\":\"0.1.0\",\"model\":");
    model_json(s, &b);
    mf_buf_printf(
        &b,
        ",\"limits\":{\"max_body_bytes\":%zu,\"max_patients\":%d,\"max_events\":%d,"
        "\"max_samples\":%d,\"default_samples\":%d,\"max_tasks\":%d,\"timeout_ms\":%d,"
        "\"max_json_depth\":%d,\"rate_per_min\":%d},\"workers\":%d,\"queue\":%d,\"batch\":%d,"
        "\"uptime_s\":%.0f}",
        s->o.limits.max_body, s->o.limits.max_patients, s->o.limits.max_events,
        s->o.limits.max_samples, s->o.limits.default_samples, s->o.limits.max_tasks,
        s->o.limits.timeout_ms, s->o.limits.max_json_depth, s->o.limits.rate_per_min, s->n_workers,
        s->o.queue, s->o.batch, (double)(mf_now_us() - s->started_us) / 1e6);
    mf_call_json(c, 200, "application/json", &b);
}

static void route_models(struct mf_call *c)
{
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_puts(&b, "{\"models\":[");
    model_json(c->srv, &b);
    mf_buf_puts(&b, "]}");
    mf_call_json(c, 200, "application/json", &b);
}

static void put_html_escaped(struct mf_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            mf_buf_puts(b, "&lt;");
            break;
        case '>':
            mf_buf_puts(b, "&gt;");
            break;
        case '&':
            mf_buf_puts(b, "&amp;");
            break;
        case '"':
            mf_buf_puts(b, "&quot;");
            break;
        default:
            mf_buf_putc(b, *s);
        }
    }
}

static void route_model_card(struct mf_call *c)
{
    struct mf_server *s = c->srv;
    struct mf_buf b = MF_BUF_INIT;
    const char *fmt = mf_call_arg(c, "format");
    int html =
        (fmt && strcmp(fmt, "html") == 0) || (!fmt && c->accept && strstr(c->accept, "text/html") &&
                                              !strstr(c->accept, "application/json"));
    if (html) {
        mf_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<title>medfm model card</title><style>body{font-family:sans-serif;"
                        "max-width:60em;margin:2em auto}pre{white-space:pre-wrap}</style></head>"
                        "<body><pre>");
        put_html_escaped(&b, s->card_md);
        mf_buf_puts(&b, "</pre></body></html>\n");
        mf_call_json(c, 200, "text/html; charset=utf-8", &b);
    } else {
        mf_buf_puts(&b, s->card_json);
        mf_call_json(c, 200, "application/json", &b);
    }
}

static void simple_text(struct mf_call *c, const char *text, const char *ctype)
{
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_puts(&b, text);
    mf_call_json(c, 200, ctype, &b);
}

/* Checks of the tasks argument before queueing (the body's are checked by the worker). */
static int check_task_arg(struct mf_call *c)
{
    const char *t = mf_call_arg(c, "tasks");
    if (t == NULL)
        return 0;
    int n = 0;
    const char *p = t;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (mf_served_task_find(c->srv, p, len) < 0) {
            mf_call_error(c, 400, "unknown_task",
                          "unknown task '%.*s' (GET /v1/models lists the tasks)",
                          (int)(len < 64 ? len : 64), p);
            return -1;
        }
        n++;
        p = e ? e + 1 : p + len;
    }
    if (n > c->srv->o.limits.max_tasks) {
        mf_call_error(c, 400, "too_many_tasks", "%d tasks, more than the limit of %d", n,
                      c->srv->o.limits.max_tasks);
        return -1;
    }
    return 0;
}

int mf_server_dispatch(struct mf_call *c)
{
    struct mf_server *s = c->srv;
    const char *allowed;
    c->route = match(c, &allowed);
    c->want_fhir = c->accept && strstr(c->accept, "application/fhir+json") != NULL;
    c->style = (c->route == R_CDS_SERVICE || c->route == R_CDS_FEEDBACK ||
                c->route == R_CDS_DISCOVERY || (c->want_fhir && c->route == R_PREDICT))
                   ? ERR_FHIR
                   : ERR_JSON;
    snprintf(c->outcome, sizeof c->outcome, "ok");
    if (c->route == R_NONE) {
        if (allowed) {
            mf_call_error(c, 405, "method_not_allowed", "use %s on this path", allowed);
        } else {
            mf_call_error(c, 404, "not_found", "no such path (GET /openapi.json lists them)");
        }
        return 1;
    }
    if (c->body_too_big) {
        mf_call_error(c, 413, "too_large", "the body is over the limit of %zu bytes",
                      s->o.limits.max_body);
        return 1;
    }
    unsigned need = route_scope(c->route);
    if (need && (authenticate(c, need) != 0 || rate_limit(c) != 0))
        return 1;
    if (strcmp(c->method, "POST") == 0 && !media_type_is(c->content_type, "application/json") &&
        !media_type_is(c->content_type, "application/fhir+json")) {
        mf_call_error(c, 415, "unsupported_media_type",
                      "send application/json or application/fhir+json");
        return 1;
    }
    switch (c->route) {
    case R_HEALTH:
        route_health(c);
        return 1;
    case R_METRICS: {
        struct mf_buf b = MF_BUF_INIT;
        mf_metrics_text(s, &b);
        mf_call_json(c, 200, "text/plain; version=0.0.4", &b);
        return 1;
    }
    case R_OPENAPI:
        simple_text(c, s->openapi, "application/json");
        return 1;
    case R_INFO:
        route_info(c);
        return 1;
    case R_MODELS:
        route_models(c);
        return 1;
    case R_MODEL_CARD:
        route_model_card(c);
        return 1;
    case R_CDS_DISCOVERY:
        mf_cds_discovery(c);
        return 1;
    case R_CDS_FEEDBACK:
        mf_cds_feedback(c);
        return 1;
    case R_CDS_SERVICE:
        if (mf_cds_check(c) != 0)
            return 1;
        break;
    case R_PREDICT:
    case R_EMBEDDINGS:
    case R_SIMULATE:
        if (check_task_arg(c) != 0)
            return 1;
        break;
    default:
        break;
    }
    return 0;
}

int mf_server_submit(struct mf_call *c)
{
    struct mf_server *s = c->srv;
    if (mf_pool_submit(s, c) != 0) {
        if (s->stopping) {
            c->retry_after = 5;
            mf_call_error(c, 503, "unavailable", "the server is shutting down");
        } else {
            atomic_fetch_add(&s->m.rejected_queue_full, 1);
            c->retry_after = 1;
            mf_call_error(c, 429, "queue_full", "the server is busy (%d requests queued)",
                          s->o.queue);
        }
        return -1;
    }
    return 0;
}

void mf_call_finish(struct mf_call *c)
{
    struct mf_server *s = c->srv;
    int64_t us = mf_now_us() - c->t0;
    mf_metrics_observe(s, c->route, c->status, us);
    if (c->route == R_HEALTH || c->route == R_METRICS || c->route == R_OPENAPI || s->state == NULL)
        return;
    struct mf_audit_row row;
    memset(&row, 0, sizeof row);
    row.time = c->t0;
    snprintf(row.request_id, sizeof row.request_id, "%s", c->request_id);
    snprintf(row.key_id, sizeof row.key_id, "%s", c->key_id[0] ? c->key_id : "-");
    snprintf(row.route, sizeof row.route, "%.7s %.80s", c->method,
             c->route == R_NONE                                        ? "(unknown)"
             : c->route == R_CDS_SERVICE || c->route == R_CDS_FEEDBACK ? c->path
                                                                       : mf_route_name(c->route));
    snprintf(row.patient, sizeof row.patient, "%s", c->patient);
    snprintf(row.input_sha256, sizeof row.input_sha256, "%s", c->input_sha256);
    snprintf(row.model, sizeof row.model, "%.60s %.30s", s->model_name, s->model_version);
    row.status = c->status;
    snprintf(row.outcome, sizeof row.outcome, "%s", c->outcome[0] ? c->outcome : "ok");
    row.latency_us = us;
    struct mf_err err = {0};
    if (mf_state_audit_append(s->state, &row, &err) != 0)
        fprintf(stderr, "medfm serve: cannot write the audit log: %s\n", err.msg);
}

void mf_call_free_fields(struct mf_call *c)
{
    for (int i = 0; i < c->n_args; i++) {
        free(c->args[i].key);
        free(c->args[i].value);
    }
    c->n_args = 0;
    free(c->authorization);
    free(c->api_key);
    free(c->content_type);
    free(c->accept);
    c->authorization = c->api_key = c->content_type = c->accept = NULL;
    mf_buf_release(&c->body);
    mf_buf_release(&c->resp);
}

void mf_call_set_request_id(struct mf_call *c, const char *given)
{
    make_request_id(c, given);
}
