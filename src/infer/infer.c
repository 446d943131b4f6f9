/* infer.c - a loaded model folder: prompts, batched simulation of futures, embeddings.
 *
 * See infer.h for the decoding policy.  One mf_infer decodes one request at a time (the KV
 * cache and buffers are its own); a server keeps one per worker.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "core/rng.h"
#include "core/timeutil.h"
#include "infer/infer.h"

struct mf_infer {
    struct mf_model_config cfg;
    struct mf_vocab *vocab;
    struct mf_model *model;
    struct mf_kv *kv;
    int max_rows;
    char sha[65];
    uint32_t death_tok; /* UINT32_MAX when the vocabulary has none */
    int64_t *dur;       /* [V] time-token durations */
    float *logits;      /* [max_rows][V] */
    float *scratch;     /* [max_rows][2 V] sampling */
    uint32_t *seq;      /* [max_rows][context] the tokens each row holds */
    uint32_t *next;     /* [max_rows * context] tokens to run */
    int *rows;          /* [max_rows] active rows */
    struct mf_rng *rng; /* [max_rows] */
};

static int join(char *out, size_t cap, const char *dir, const char *file, struct mf_err *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap)
        return mf_err_set(err, MF_EINVAL, "%s: path too long", dir);
    return 0;
}

int mf_infer_open(const char *dir, int max_rows, struct mf_infer **out, struct mf_err *err)
{
    *out = NULL;
    if (max_rows <= 0 || max_rows > 4096)
        return mf_err_set(err, MF_EINVAL, "samples must be in 1..4096 (is %d)", max_rows);
    char path[4096];
    struct mf_infer *in = calloc(1, sizeof *in);
    if (in == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    in->max_rows = max_rows;
    int rc = join(path, sizeof path, dir, "config.json", err);
    if (rc == 0)
        rc = mf_model_config_load(path, &in->cfg, err);
    if (rc == 0)
        rc = join(path, sizeof path, dir, "vocab.json", err);
    if (rc == 0)
        rc = mf_vocab_load(path, &in->vocab, err);
    if (rc)
        goto fail;
    if (mf_vocab_size(in->vocab) != (uint32_t)in->cfg.vocab) {
        rc = mf_err_set(err, MF_EINVAL,
                        "%s: config.json says %d tokens but vocab.json has %u: the files are "
                        "from different models",
                        dir, in->cfg.vocab, mf_vocab_size(in->vocab));
        goto fail;
    }
    rc = mf_model_new(&in->cfg, 1, 0, MF_MODEL_NO_INIT, &in->model, err);
    if (rc == 0)
        rc = join(path, sizeof path, dir, "model.safetensors", err);
    if (rc == 0)
        rc = mf_model_load_safetensors_sha256(in->model, path, in->sha, err);
    if (rc == 0)
        rc = mf_kv_new(&in->cfg, max_rows, &in->kv, err);
    if (rc)
        goto fail;
    const size_t V = (size_t)in->cfg.vocab, R = (size_t)max_rows, T = (size_t)in->cfg.context;
    in->dur = malloc(V * sizeof *in->dur);
    in->logits = malloc(R * V * sizeof *in->logits);
    in->scratch = malloc(R * 2 * V * sizeof *in->scratch);
    in->seq = malloc(R * T * sizeof *in->seq);
    in->next = malloc(R * T * sizeof *in->next);
    in->rows = malloc(R * sizeof *in->rows);
    in->rng = malloc(R * sizeof *in->rng);
    if (!in->dur || !in->logits || !in->scratch || !in->seq || !in->next || !in->rows || !in->rng) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory (decoding buffers for %d rows)", max_rows);
        goto fail;
    }
    for (uint32_t i = 0; i < (uint32_t)V; i++)
        in->dur[i] = mf_vocab_duration(in->vocab, i);
    int64_t d = mf_vocab_id(in->vocab, "MEDS_DEATH", 10);
    in->death_tok = d < 0 ? UINT32_MAX : (uint32_t)d;
    *out = in;
    return 0;
fail:
    mf_infer_free(in);
    return rc;
}

void mf_infer_free(struct mf_infer *in)
{
    if (in == NULL)
        return;
    mf_vocab_free(in->vocab);
    mf_model_free(in->model);
    mf_kv_free(in->kv);
    free(in->dur);
    free(in->logits);
    free(in->scratch);
    free(in->seq);
    free(in->next);
    free(in->rows);
    free(in->rng);
    free(in);
}

const struct mf_vocab *mf_infer_vocab(const struct mf_infer *in)
{
    return in->vocab;
}

const struct mf_model_config *mf_infer_config(const struct mf_infer *in)
{
    return &in->cfg;
}

const char *mf_infer_model_sha256(const struct mf_infer *in)
{
    return in->sha;
}

size_t mf_infer_memory(const struct mf_infer *in)
{
    const size_t V = (size_t)in->cfg.vocab, R = (size_t)in->max_rows, T = (size_t)in->cfg.context;
    return mf_kv_bytes(in->kv) + R * V * 3 * sizeof(float) + R * T * 2 * sizeof(uint32_t);
}

/* ---- prompts ---- */

void mf_prompt_free(struct mf_prompt *p)
{
    free(p->tok);
    memset(p, 0, sizeof *p);
}

static int prompt_reserve(struct mf_prompt *p, size_t n)
{
    if (n <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < n)
        cap *= 2;
    uint32_t *t = realloc(p->tok, cap * sizeof *t);
    if (t == NULL)
        return MF_ENOMEM;
    p->tok = t;
    p->cap = cap;
    return 0;
}

int mf_prompt_append(struct mf_prompt *p, const uint32_t *tok, size_t n)
{
    if (prompt_reserve(p, p->n + n))
        return MF_ENOMEM;
    memcpy(p->tok + p->n, tok, n * sizeof *tok);
    p->n += n;
    return 0;
}

int mf_infer_prompt(const struct mf_infer *in, const struct mf_tokens *t, int64_t at,
                    struct mf_prompt *out, struct mf_err *err)
{
    const size_t ctx = (size_t)in->cfg.context;
    size_t pmax = mf_vocab_prefix_max(in->vocab);
    if (pmax + 2 > ctx)
        return mf_err_set(err, MF_EINVAL, "the model's context (%zu) is too short", ctx);
    /* body tokens at or before `at`, without the closing TIMELINE_END */
    size_t end = 0;
    while (end < t->n && t->time[end] <= at)
        end++;
    while (end > 0 && t->tok[end - 1] == MF_TOK_TIMELINE_END)
        end--;
    out->n = 0;
    out->n_events = end;
    out->end = end ? t->time[end - 1] : MF_TIME_NONE;
    if (at == INT64_MAX)
        at = out->end; /* just after the last event */
    out->at = at;
    size_t ngap = end && at > out->end ? mf_vocab_gap_tokens(in->vocab, at - out->end, NULL, 0) : 0;
    size_t keep = (ctx - pmax) * 3 / 4;
    if (ngap > keep / 2)
        return mf_err_set(err, MF_EINVAL, "the time is too long after the patient's last event");
    keep -= ngap;
    size_t start = end > keep ? end - keep : 0;
    if (prompt_reserve(out, pmax + (end - start) + ngap))
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    int64_t first = end ? t->time[start] : at;
    out->n_prefix = mf_tokens_prefix(in->vocab, t, first, out->tok);
    out->n = out->n_prefix;
    memcpy(out->tok + out->n, t->tok + start, (end - start) * sizeof *t->tok);
    out->n += end - start;
    if (ngap)
        out->n += mf_vocab_gap_tokens(in->vocab, at - out->end, out->tok + out->n, ngap);
    if (out->n == 0)
        return mf_err_set(err, MF_EINVAL, "the patient has no tokens at or before that time");
    return 0;
}

/* ---- sampling ---- */

uint32_t mf_sample_token(const float *logits, uint32_t n, float temperature, float top_p,
                         struct mf_rng *rng, float *scratch)
{
    float *p = scratch;
    float mx = logits[0];
    for (uint32_t i = 1; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    float inv_t = temperature > 0 ? 1.0f / temperature : 1.0f;
    double total = 0;
    float pmax = 0;
    for (uint32_t i = 0; i < n; i++) {
        p[i] = expf((logits[i] - mx) * inv_t);
        total += p[i];
        pmax = p[i] > pmax ? p[i] : pmax;
    }
    float tau = 0; /* tokens with p >= tau form the nucleus */
    if (top_p > 0 && top_p < 1) {
        /* the largest tau whose set {p >= tau} still holds top_p of the mass: bisection */
        double need = top_p * total;
        float lo = 0, hi = pmax;
        for (int it = 0; it < 30; it++) {
            float mid = 0.5f * (lo + hi);
            double mass = 0;
            for (uint32_t i = 0; i < n; i++)
                mass += p[i] >= mid ? p[i] : 0;
            if (mass >= need)
                lo = mid;
            else
                hi = mid;
        }
        tau = lo;
        total = 0;
        for (uint32_t i = 0; i < n; i++)
            total += p[i] >= tau ? p[i] : 0;
    }
    double u = mf_rng_uniform(rng) * total, acc = 0;
    uint32_t last = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] < tau || p[i] <= 0)
            continue;
        acc += p[i];
        last = i;
        if (u < acc)
            return i;
    }
    return last; /* rounding: the last token with mass */
}

void mf_binom_ci(uint64_t k, uint64_t n, double level, double *lo, double *hi)
{
    if (n == 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    /* z: the normal quantile of (1 + level) / 2, by bisection on erfc */
    double a = 0, b = 10, tail = (1 - level) / 2;
    for (int i = 0; i < 100; i++) {
        double m = 0.5 * (a + b);
        if (0.5 * erfc(m / sqrt(2.0)) > tail)
            a = m;
        else
            b = m;
    }
    double z = 0.5 * (a + b), nn = (double)n, ph = (double)k / nn, z2 = z * z;
    double den = 1 + z2 / nn, c = (ph + z2 / (2 * nn)) / den;
    double h = z * sqrt(ph * (1 - ph) / nn + z2 / (4 * nn * nn)) / den;
    *lo = k == 0 ? 0 : fmax(0, c - h);
    *hi = k == n ? 1 : fmin(1, c + h);
}

/* ---- simulation ---- */

void mf_futures_free(struct mf_futures *fs)
{
    for (size_t i = 0; i < fs->cap; i++) {
        free(fs->f[i].tok);
        free(fs->f[i].dt);
    }
    free(fs->f);
    memset(fs, 0, sizeof *fs);
}

static int future_push(struct mf_future *f, uint32_t tok, int64_t dt)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        uint32_t *t = realloc(f->tok, cap * sizeof *t);
        if (t == NULL)
            return MF_ENOMEM;
        f->tok = t;
        int64_t *d = realloc(f->dt, cap * sizeof *d);
        if (d == NULL)
            return MF_ENOMEM;
        f->dt = d;
        f->cap = cap;
    }
    f->tok[f->n] = tok;
    f->dt[f->n] = dt;
    f->n++;
    return 0;
}

static int decode_err(struct mf_err *err)
{
    return mf_err_set(err, MF_EINVAL, "decoding failed (a token or position out of range)");
}

int mf_infer_simulate(struct mf_infer *in, const struct mf_prompt *p, const struct mf_sim_opts *o,
                      struct mf_futures *out, struct mf_err *err)
{
    return mf_infer_simulate_batch(in, p, o, 1, out, err);
}

/* Per-row state of a batch: the prompt a row continues, its length, its time, whether it
 * stopped; scratch for reordering. */
struct sim_rows {
    int *pj, *len, *stopped, *base, *order, *pos, *rows2;
    int64_t *elapsed;
    uint32_t *tok, *tok2;
};

static void sim_rows_free(struct sim_rows *w)
{
    free(w->pj);
    free(w->len);
    free(w->stopped);
    free(w->base);
    free(w->order);
    free(w->pos);
    free(w->elapsed);
    free(w->tok);
    free(w->rows2);
    free(w->tok2);
}

static int sim_rows_alloc(struct sim_rows *w, int R, int k)
{
    memset(w, 0, sizeof *w);
    w->pj = calloc((size_t)R, sizeof *w->pj);
    w->len = calloc((size_t)R, sizeof *w->len);
    w->stopped = calloc((size_t)R, sizeof *w->stopped);
    w->base = calloc((size_t)k + 1, sizeof *w->base);
    w->order = calloc((size_t)R, sizeof *w->order);
    w->pos = calloc((size_t)R, sizeof *w->pos);
    w->elapsed = calloc((size_t)R, sizeof *w->elapsed);
    w->tok = calloc((size_t)R, sizeof *w->tok);
    w->rows2 = calloc((size_t)R, sizeof *w->rows2);
    w->tok2 = calloc((size_t)R, sizeof *w->tok2);
    return w->pj && w->len && w->stopped && w->base && w->order && w->pos && w->elapsed && w->tok &&
                   w->rows2 && w->tok2
               ? 0
               : MF_ENOMEM;
}

/* Run the prompt of o's batch j into its first row and give every other row of j a copy (the
 * shared area when j is the only prompt); its logits go to every row of j. */
static int sim_prefill(struct mf_infer *in, const struct mf_prompt *p, int k, int base, int S,
                       struct sim_rows *w, struct mf_futures *out)
{
    const int ctx = in->cfg.context, V = in->cfg.vocab;
    const int P = (int)p->n_prefix, keep = (ctx - P) / 2;
    /* the prompt: the latest tokens when it does not fit (what-if codes can make it longer) */
    int len = (int)p->n;
    uint32_t *s0 = in->seq + (size_t)base * ctx;
    if (len > ctx - 1) {
        memcpy(s0, p->tok, (size_t)P * sizeof *s0);
        memcpy(s0 + P, p->tok + p->n - (size_t)keep, (size_t)keep * sizeof *s0);
        len = P + keep;
    } else {
        memcpy(s0, p->tok, (size_t)len * sizeof *s0);
    }
    float *lg = in->logits + (size_t)base * V;
    if (mf_model_decode(in->model, in->kv, &base, 1, s0, len, 0, lg, NULL))
        return MF_EINVAL;
    out->tokens_prefill += (uint64_t)len;
    if (k == 1) /* every future reads the prompt's keys and values from one copy */
        mf_kv_share(in->kv, base, len);
    for (int r = base; r < base + S; r++) {
        w->len[r] = len;
        if (r == base)
            continue;
        memcpy(in->seq + (size_t)r * ctx, s0, (size_t)len * sizeof *s0);
        memcpy(in->logits + (size_t)r * V, lg, (size_t)V * sizeof *lg);
        if (k > 1)
            mf_kv_copy_row(in->kv, base, r, len);
    }
    return 0;
}

/* One decoding step for the active rows (in->rows[0..nact), their new tokens w->tok[0..nact)):
 * rows with room append their token (in one batch, each at its own position); rows whose
 * context is full are cut to their prefix and latest body tokens and run again, grouped by
 * length.  in->rows is reordered to the order the logits come in. */
static int sim_step(struct mf_infer *in, const struct mf_prompt *ps, int nact, struct sim_rows *w,
                    struct mf_futures *outs)
{
    const int ctx = in->cfg.context, V = in->cfg.vocab;
    int m0 = 0, nb = 0;
    /* rows with room first (their order kept), then the full ones */
    for (int i = 0; i < nact; i++)
        if (w->len[in->rows[i]] < ctx)
            w->order[m0++] = i;
    for (int i = 0; i < nact; i++)
        if (w->len[in->rows[i]] >= ctx)
            w->order[m0 + nb++] = i;
    for (int i = 0; i < nact; i++) {
        w->rows2[i] = in->rows[w->order[i]];
        w->tok2[i] = w->tok[w->order[i]];
    }
    memcpy(in->rows, w->rows2, (size_t)nact * sizeof *w->rows2);
    memcpy(w->tok, w->tok2, (size_t)nact * sizeof *w->tok2);
    if (m0 > 0) {
        int uniform = 1;
        for (int i = 0; i < m0; i++) {
            int r = in->rows[i];
            in->seq[(size_t)r * ctx + w->len[r]] = w->tok[i];
            w->pos[i] = w->len[r];
            uniform &= w->len[r] == w->len[in->rows[0]];
        }
        int rc = uniform ? mf_model_decode(in->model, in->kv, in->rows, m0, w->tok, 1, w->pos[0],
                                           in->logits, NULL)
                         : mf_model_decode_rows(in->model, in->kv, in->rows, m0, w->tok, w->pos,
                                                in->logits, NULL);
        if (rc)
            return rc;
        for (int i = 0; i < m0; i++) {
            int r = in->rows[i];
            w->len[r]++;
            outs[w->pj[r]].tokens_prefill++;
        }
    }
    /* full rows: keep the prefix and the latest (ctx - P) / 2 body tokens with the new one */
    for (int i = m0; i < nact;) {
        int r = in->rows[i], j = w->pj[r];
        const int P = (int)ps[j].n_prefix, keep = (ctx - P) / 2, nl = P + keep;
        int g = 0;
        while (i + g < nact && (int)ps[w->pj[in->rows[i + g]]].n_prefix == P)
            g++;
        uint32_t *batch = in->next;
        for (int b = 0; b < g; b++) {
            uint32_t *sr = in->seq + (size_t)in->rows[i + b] * ctx;
            memmove(sr + P, sr + (ctx - keep + 1), (size_t)(keep - 1) * sizeof *sr);
            sr[nl - 1] = w->tok[i + b];
            memcpy(batch + (size_t)b * nl, sr, (size_t)nl * sizeof *batch);
        }
        if (mf_model_decode(in->model, in->kv, in->rows + i, g, batch, nl, 0,
                            in->logits + (size_t)i * V, NULL))
            return MF_EINVAL;
        for (int b = 0; b < g; b++) {
            int rb = in->rows[i + b];
            w->len[rb] = nl;
            outs[w->pj[rb]].tokens_prefill += (uint64_t)nl;
            if (b == 0 || w->pj[in->rows[i + b - 1]] != w->pj[rb])
                outs[w->pj[rb]].cuts++;
        }
        i += g;
    }
    return 0;
}

int mf_infer_simulate_batch(struct mf_infer *in, const struct mf_prompt *ps,
                            const struct mf_sim_opts *os, int k, struct mf_futures *outs,
                            struct mf_err *err)
{
    const int ctx = in->cfg.context, V = in->cfg.vocab;
    int R = 0;
    if (k <= 0)
        return mf_err_set(err, MF_EINVAL, "no prompt to simulate");
    for (int j = 0; j < k; j++) {
        const struct mf_prompt *p = &ps[j];
        if (os[j].samples <= 0 || os[j].samples > in->max_rows - R)
            return mf_err_set(err, MF_EINVAL, "samples must be in 1..%d in all (is %d more)",
                              in->max_rows, os[j].samples);
        R += os[j].samples;
        if (p->n == 0 || p->n_prefix >= p->n || (int)p->n_prefix + 2 > ctx)
            return mf_err_set(err, MF_EINVAL, "empty prompt");
        for (size_t i = 0; i < p->n; i++)
            if (p->tok[i] >= (uint32_t)V)
                return mf_err_set(err, MF_EINVAL, "prompt token %zu out of the vocabulary", i);
    }
    double t0 = mf_now();
    struct sim_rows w;
    if (sim_rows_alloc(&w, R, k) != 0) {
        sim_rows_free(&w);
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (int j = 0; j < k; j++) {
        const int S = os[j].samples;
        struct mf_futures *out = &outs[j];
        w.base[j + 1] = w.base[j] + S;
        if (out->cap < (size_t)S) {
            struct mf_future *f = realloc(out->f, (size_t)S * sizeof *f);
            if (f == NULL) {
                rc = mf_err_set(err, MF_ENOMEM, "out of memory");
                goto out;
            }
            memset(f + out->cap, 0, ((size_t)S - out->cap) * sizeof *f);
            out->f = f;
            out->cap = (size_t)S;
        }
        out->n = (size_t)S;
        out->tokens_prefill = out->tokens_generated = 0;
        out->steps = out->cuts = 0;
        for (int s = 0; s < S; s++) {
            int r = w.base[j] + s;
            w.pj[r] = j;
            out->f[s].n = 0;
            out->f[s].stop = MF_STOP_LENGTH;
            mf_rng_seed(&in->rng[r], os[j].seed, (uint64_t)s);
        }
    }
    for (int j = 0; j < k; j++)
        if (sim_prefill(in, &ps[j], k, w.base[j], os[j].samples, &w, &outs[j]) != 0) {
            rc = decode_err(err);
            goto out;
        }
    int nact = R;
    for (int r = 0; r < R; r++)
        in->rows[r] = r;
    while (nact > 0) {
        /* sample one token for every active row (row i's logits are at index i) */
        int oom = 0;
#pragma omp parallel for schedule(static)                                                          \
    reduction(|                                                                                    \
              : oom) if (nact > 1 && (size_t)nact * V >= (1u << 15))
        for (int i = 0; i < nact; i++) {
            int r = in->rows[i], j = w.pj[r];
            const struct mf_sim_opts *o = &os[j];
            const int max_new = o->max_new > 0 ? o->max_new : 512;
            uint32_t tok = mf_sample_token(
                in->logits + (size_t)i * V, (uint32_t)V, o->temperature > 0 ? o->temperature : 1.0f,
                o->top_p > 0 ? o->top_p : 1.0f, &in->rng[r], in->scratch + (size_t)r * 2 * V);
            struct mf_future *f = &outs[j].f[r - w.base[j]];
            w.elapsed[r] += in->dur[tok];
            oom |= future_push(f, tok, w.elapsed[r]) != 0;
            w.tok[i] = tok;
            if (o->no_stop) {
                if ((int)f->n >= max_new) {
                    f->stop = MF_STOP_LENGTH;
                    w.stopped[r] = 1;
                }
            } else if (tok == in->death_tok) {
                f->stop = MF_STOP_DEATH;
                w.stopped[r] = 1;
            } else if (tok == MF_TOK_TIMELINE_END) {
                f->stop = MF_STOP_END;
                w.stopped[r] = 1;
            } else if (o->horizon > 0 && in->dur[tok] > 0 && w.elapsed[r] > o->horizon) {
                f->stop = MF_STOP_HORIZON;
                w.stopped[r] = 1;
            } else if ((int)f->n >= max_new) {
                f->stop = MF_STOP_LENGTH;
                w.stopped[r] = 1;
            }
        }
        if (oom) {
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            break;
        }
        /* counters, and the rows that go on, in order, with their new tokens */
        int m = 0;
        for (int i = 0; i < nact; i++) {
            int r = in->rows[i];
            struct mf_futures *o = &outs[w.pj[r]];
            o->tokens_generated++;
            if (i == 0 || w.pj[in->rows[i - 1]] != w.pj[r])
                o->steps++;
            if (w.stopped[r])
                continue;
            in->rows[m] = r;
            w.tok[m] = w.tok[i];
            m++;
        }
        nact = m;
        if (nact == 0)
            break;
        if (sim_step(in, ps, nact, &w, outs) != 0) {
            rc = decode_err(err);
            break;
        }
    }
out:
    for (int j = 0; j < k; j++)
        outs[j].seconds = mf_now() - t0;
    sim_rows_free(&w);
    return rc;
}

int mf_infer_embed(struct mf_infer *in, const struct mf_prompt *p, float *out, struct mf_err *err)
{
    const int ctx = in->cfg.context;
    if (p->n == 0 || p->n > (size_t)ctx)
        return mf_err_set(err, MF_EINVAL, "prompt of %zu tokens (1..%d)", p->n, ctx);
    int row0 = 0;
    if (mf_model_decode(in->model, in->kv, &row0, 1, p->tok, (int)p->n, 0, NULL, out))
        return decode_err(err);
    return 0;
}
