/* model.c - the decoder-only transformer: parameter layout and initialization, forward and
 * backward passes, the loss, AdamW.
 *
 * Memory: parameters, gradients and the two AdamW moments are one float block each, in the
 * layout of model.h.  Activations for max_batch x context rows are one block allocated in
 * mf_model_new; for training every layer keeps its own (the backward pass needs them), for
 * inference the layers share one set.  Nothing is allocated per step.
 *
 * The layer kernels are in layers.c and attention.c; safetensors in safetensors.c.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/model.h"
#include "nn/nn_int.h"

/* ---- sizes with overflow checks ---- */

static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

static int add_tensor(struct mf_model *m, const char *name, int ndim, int d0, int d1)
{
    struct mf_tensor_info *t = &m->tensors[m->n_tensors++];
    memset(t, 0, sizeof *t);
    size_t n = strlen(name);
    if (n >= sizeof t->name)
        n = sizeof t->name - 1;
    memcpy(t->name, name, n);
    t->name[n] = '\0';
    t->offset = m->n_params;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim == 2 ? d1 : 0;
    m->n_params += (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    return (int)(m->n_tensors - 1);
}

static void layer_name(char *buf, size_t cap, int l, const char *suffix)
{
    snprintf(buf, cap, "layers.%d.%s", l, suffix); /* names are short: never truncated */
}

static void build_layout(struct mf_model *m)
{
    const struct mf_model_config *c = &m->c;
    char name[64];
    m->n_tensors = 0;
    m->n_params = 0;
    m->emb = m->tensors[add_tensor(m, "tok_embeddings.weight", 2, c->vocab, c->dim)].offset;
    for (int l = 0; l < c->layers; l++) {
        struct layer *L = &m->lay[l];
        layer_name(name, sizeof name, l, "attention_norm.weight");
        L->n1 = m->tensors[add_tensor(m, name, 1, c->dim, 0)].offset;
        layer_name(name, sizeof name, l, "attention.wq.weight");
        L->wq = m->tensors[add_tensor(m, name, 2, c->dim, c->dim)].offset;
        layer_name(name, sizeof name, l, "attention.wk.weight");
        L->wk = m->tensors[add_tensor(m, name, 2, c->dim, c->dim)].offset;
        layer_name(name, sizeof name, l, "attention.wv.weight");
        L->wv = m->tensors[add_tensor(m, name, 2, c->dim, c->dim)].offset;
        layer_name(name, sizeof name, l, "attention.wo.weight");
        L->wo = m->tensors[add_tensor(m, name, 2, c->dim, c->dim)].offset;
        layer_name(name, sizeof name, l, "ffn_norm.weight");
        L->n2 = m->tensors[add_tensor(m, name, 1, c->dim, 0)].offset;
        layer_name(name, sizeof name, l, "feed_forward.w1.weight");
        L->w1 = m->tensors[add_tensor(m, name, 2, c->hidden, c->dim)].offset;
        layer_name(name, sizeof name, l, "feed_forward.w3.weight");
        L->w3 = m->tensors[add_tensor(m, name, 2, c->hidden, c->dim)].offset;
        layer_name(name, sizeof name, l, "feed_forward.w2.weight");
        L->w2 = m->tensors[add_tensor(m, name, 2, c->dim, c->hidden)].offset;
    }
    m->normf = m->tensors[add_tensor(m, "norm.weight", 1, c->dim, 0)].offset;
    if (c->tied)
        m->outw = m->emb;
    else
        m->outw = m->tensors[add_tensor(m, "output.weight", 2, c->vocab, c->dim)].offset;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void init_params(struct mf_model *m, uint64_t seed)
{
    double resid = 1.0 / sqrt(2.0 * m->c.layers);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const struct mf_tensor_info *t = &m->tensors[i];
        size_t n = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
        float *p = m->params + t->offset;
        if (t->ndim == 1) {
            for (size_t j = 0; j < n; j++)
                p[j] = 1.0f;
            continue;
        }
        double sd = 0.02;
        if (strcmp(t->name, "output.weight") == 0 || ends_with(t->name, ".attention.wo.weight") ||
            ends_with(t->name, ".feed_forward.w2.weight"))
            sd *= resid;
        struct mf_rng r;
        mf_rng_seed(&r, seed, (uint64_t)i);
        for (size_t j = 0; j < n; j++)
            p[j] = (float)(sd * mf_rng_normal(&r));
    }
}

/* carve n floats (rounded up to 16 for alignment) from a cursor */
static float *take(float **cur, size_t n)
{
    float *p = *cur;
    *cur += (n + 15) & ~(size_t)15;
    return p;
}

static size_t rnd(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

int mf_model_new(const struct mf_model_config *cfg, int max_batch, int train, uint64_t seed,
                 struct mf_model **out, struct mf_err *err)
{
    *out = NULL;
    int rc = mf_model_config_check(cfg, err);
    if (rc)
        return rc;
    if (max_batch <= 0 || max_batch > (1 << 20))
        return mf_err_set(err, MF_EINVAL, "model: max_batch must be in 1..%d (is %d)", 1 << 20,
                          max_batch);
    struct mf_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return mf_err_set(err, MF_ENOMEM, "model: out of memory");
    m->c = *cfg;
    m->max_batch = max_batch;
    m->train = train ? 1 : 0;
    m->eps = cfg->norm_eps > 0 ? cfg->norm_eps : 1e-5f;
    m->theta = cfg->rope_theta > 0 ? (double)cfg->rope_theta : 10000.0;
    const size_t L = (size_t)cfg->layers, C = (size_t)cfg->dim, H = (size_t)cfg->hidden,
                 V = (size_t)cfg->vocab, NH = (size_t)cfg->heads;
    size_t maxt = 2 + 9 * L + 1;
    m->tensors = calloc(maxt, sizeof *m->tensors);
    m->lay = calloc(L, sizeof *m->lay);
    if (m->tensors == NULL || m->lay == NULL)
        goto nomem;
    build_layout(m);

    m->params = malloc(m->n_params * sizeof(float));
    if (m->params == NULL)
        goto nomem;
    if (m->train) {
        m->grads = calloc(m->n_params, sizeof(float));
        m->moments = calloc(2 * m->n_params, sizeof(float));
        if (m->grads == NULL || m->moments == NULL)
            goto nomem;
    }
    if (seed != MF_MODEL_NO_INIT)
        init_params(m, seed);
    else
        memset(m->params, 0, m->n_params * sizeof(float));

    /* activations */
    size_t N, NC, NHd, NV, total = 0, t;
    if (!mul_ok((size_t)max_batch, (size_t)cfg->context, &N) || !mul_ok(N, C, &NC) ||
        !mul_ok(N, H, &NHd) || !mul_ok(N, V, &NV) || NC > SIZE_MAX / 64 || NHd > SIZE_MAX / 64 ||
        N > (size_t)INT_MAX)
        goto toobig;
    m->nmax = N;
    size_t nl = m->train ? L : 1;
    size_t nlse = N * NH; /* B * NH * T <= max_batch * context * NH */
    m->sc = m->train ? rnd(NC) : 0;
    m->sh = m->train ? rnd(NHd) : 0;
    m->sn = m->train ? rnd(N) : 0;
    m->slse = m->train ? rnd(nlse) : 0;
    size_t per_layer = 7 * rnd(NC) + 2 * rnd(N) + rnd(nlse) + 3 * rnd(NHd);
    size_t rope_n = rnd((size_t)cfg->context * (C / NH));
    if (!mul_ok(per_layer, nl, &t))
        goto toobig;
    total = t;
    size_t extra = (nl + 1) * rnd(NC) + rnd(NC) + rnd(N) + rnd(NV) + rnd(N) + rope_n;
    if (m->train)
        extra += 6 * rnd(NC) + 2 * rnd(NHd) + rnd(NV) + rnd(nlse);
    if (total > SIZE_MAX / sizeof(float) - extra - 16 || NV > SIZE_MAX / 64)
        goto toobig;
    total += extra;
    m->act = calloc(total, sizeof(float));
    if (m->act == NULL)
        goto nomem;
    float *cur = m->act;
    m->x = take(&cur, (nl + 1) * rnd(NC));
    m->h = take(&cur, nl * rnd(NC));
    m->n1 = take(&cur, nl * rnd(NC));
    m->n2 = take(&cur, nl * rnd(NC));
    m->q = take(&cur, nl * rnd(NC));
    m->k = take(&cur, nl * rnd(NC));
    m->v = take(&cur, nl * rnd(NC));
    m->att = take(&cur, nl * rnd(NC));
    m->rstd1 = take(&cur, nl * rnd(N));
    m->rstd2 = take(&cur, nl * rnd(N));
    m->lse = take(&cur, nl * rnd(nlse));
    m->a1 = take(&cur, nl * rnd(NHd));
    m->a3 = take(&cur, nl * rnd(NHd));
    m->g = take(&cur, nl * rnd(NHd));
    m->nf = take(&cur, rnd(NC));
    m->rstdf = take(&cur, rnd(N));
    m->logits = take(&cur, rnd(NV));
    m->rowlse = take(&cur, rnd(N));
    m->rope = take(&cur, rope_n);
    if (m->train) {
        m->dx = take(&cur, rnd(NC));
        m->dn = take(&cur, rnd(NC));
        m->dq = take(&cur, rnd(NC));
        m->dk = take(&cur, rnd(NC));
        m->dv = take(&cur, rnd(NC));
        m->datt = take(&cur, rnd(NC));
        m->da1 = take(&cur, rnd(NHd));
        m->dg = take(&cur, rnd(NHd));
        m->dlogits = take(&cur, rnd(NV));
        m->dsum = take(&cur, rnd(nlse));
    }
    if ((size_t)(cur - m->act) > total)
        abort(); /* layout bug */
    m->tokens = malloc(N * sizeof *m->tokens);
    m->targets = malloc(N * sizeof *m->targets);
    if (m->tokens == NULL || m->targets == NULL)
        goto nomem;
    mf_nn_rope_table(m->rope, cfg->context, (int)(C / NH), m->theta);
    *out = m;
    return 0;
nomem:
    mf_model_free(m);
    return mf_err_set(err, MF_ENOMEM, "model: out of memory (%s)",
                      train ? "parameters, gradients, optimizer and activations"
                            : "parameters and activations");
toobig:
    mf_model_free(m);
    return mf_err_set(err, MF_ETOOBIG, "model: sizes overflow (max_batch %d, context %d)",
                      max_batch, cfg->context);
}

void mf_model_free(struct mf_model *m)
{
    if (m == NULL)
        return;
    free(m->tensors);
    free(m->lay);
    free(m->params);
    free(m->grads);
    free(m->moments);
    free(m->act);
    free(m->tokens);
    free(m->targets);
    free(m);
}

const struct mf_model_config *mf_model_config(const struct mf_model *m)
{
    return &m->c;
}

size_t mf_model_n_params(const struct mf_model *m)
{
    return m->n_params;
}

float *mf_model_params(struct mf_model *m)
{
    return m->params;
}

float *mf_model_grads(struct mf_model *m)
{
    return m->grads;
}

float *mf_model_moments(struct mf_model *m)
{
    return m->moments;
}

size_t mf_model_n_tensors(const struct mf_model *m)
{
    return m->n_tensors;
}

const struct mf_tensor_info *mf_model_tensor(const struct mf_model *m, size_t i)
{
    return i < m->n_tensors ? &m->tensors[i] : NULL;
}

const float *mf_model_logits(const struct mf_model *m)
{
    return m->logits;
}

double mf_nn_last_loss(const struct mf_model *m)
{
    return m->loss;
}

/* ---- forward ---- */

int mf_model_forward(struct mf_model *m, const uint32_t *tokens, const uint32_t *targets, int B,
                     int T, float *loss)
{
    const struct mf_model_config *c = &m->c;
    if (tokens == NULL || B <= 0 || T <= 0 || B > m->max_batch || T > c->context)
        return MF_EINVAL;
    const int C = c->dim, H = c->hidden, V = c->vocab, NH = c->heads;
    const int N = B * T;
    for (int i = 0; i < N; i++)
        if (tokens[i] >= (uint32_t)V)
            return MF_EINVAL;
    if (targets)
        for (int i = 0; i < N; i++)
            if (targets[i] != MF_NN_IGNORE && targets[i] >= (uint32_t)V)
                return MF_EINVAL;
    m->have_fwd = 0;
    m->have_targets = 0;
    m->B = B;
    m->T = T;
    memcpy(m->tokens, tokens, (size_t)N * sizeof *tokens);
    const float *P = m->params;

    /* embedding */
    float *x0 = m->x;
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
    for (int r = 0; r < N; r++)
        memcpy(x0 + (size_t)r * C, P + m->emb + (size_t)tokens[r] * C, sizeof(float) * C);

    for (int l = 0; l < c->layers; l++) {
        const struct layer *Lw = &m->lay[l];
        float *x = m->x + (size_t)l * m->sc, *xo = m->x + (size_t)(l + 1) * m->sc;
        float *h = m->h + l * m->sc, *n1 = m->n1 + l * m->sc, *n2 = m->n2 + l * m->sc;
        float *q = m->q + l * m->sc, *k = m->k + l * m->sc, *v = m->v + l * m->sc;
        float *att = m->att + l * m->sc, *lse = m->lse + l * m->slse;
        float *r1 = m->rstd1 + l * m->sn, *r2 = m->rstd2 + l * m->sn;
        float *a1 = m->a1 + l * m->sh, *a3 = m->a3 + l * m->sh, *g = m->g + l * m->sh;

        mf_nn_rmsnorm_forward(n1, r1, x, P + Lw->n1, N, C, m->eps);
        mf_nn_matmul_forward(q, n1, P + Lw->wq, N, C, C);
        mf_nn_matmul_forward(k, n1, P + Lw->wk, N, C, C);
        mf_nn_matmul_forward(v, n1, P + Lw->wv, N, C, C);
        mf_nn_rope_forward(q, m->rope, c->context, B, T, C, NH);
        mf_nn_rope_forward(k, m->rope, c->context, B, T, C, NH);
        mf_nn_attention_forward(att, lse, q, k, v, B, T, C, NH, MF_NN_ATTN_BLOCK);
        /* h = x + att wo^T */
        mf_nn_matmul_forward(h, att, P + Lw->wo, N, C, C);
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
        for (size_t i = 0; i < (size_t)N * C; i++)
            h[i] += x[i];
        mf_nn_rmsnorm_forward(n2, r2, h, P + Lw->n2, N, C, m->eps);
        mf_nn_matmul_forward(a1, n2, P + Lw->w1, N, C, H);
        mf_nn_matmul_forward(a3, n2, P + Lw->w3, N, C, H);
        mf_nn_swiglu_forward(g, a1, a3, (size_t)N * H);
        /* xo = h + g w2^T (xo may be x for inference: x is not read any more) */
        mf_nn_matmul_forward(xo, g, P + Lw->w2, N, H, C);
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
        for (size_t i = 0; i < (size_t)N * C; i++)
            xo[i] += h[i];
    }
    float *xl = m->x + (size_t)c->layers * m->sc;
    mf_nn_rmsnorm_forward(m->nf, m->rstdf, xl, P + m->normf, N, C, m->eps);
    mf_nn_matmul_forward(m->logits, m->nf, P + m->outw, N, C, V);
    m->have_fwd = 1;
    if (targets == NULL) {
        if (loss)
            *loss = 0;
        m->loss = 0;
        return 0;
    }

    /* cross-entropy: per-row terms, summed in row order */
    memcpy(m->targets, targets, (size_t)N * sizeof *targets);
    double total = 0;
    size_t count = 0;
    float *rl = m->rowlse;
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * V))
    for (int r = 0; r < N; r++) {
        if (targets[r] == MF_NN_IGNORE) {
            rl[r] = 0;
            continue;
        }
        const float *z = m->logits + (size_t)r * V;
        float mx = z[0];
        for (int j = 1; j < V; j++)
            if (z[j] > mx)
                mx = z[j];
        double s = 0;
        for (int j = 0; j < V; j++)
            s += exp((double)z[j] - mx);
        /* s >= 1: the largest term is exp(0) */
        rl[r] = (float)(mx + log(s)); // cppcheck-suppress invalidFunctionArg
    }
    for (int r = 0; r < N; r++)
        if (targets[r] != MF_NN_IGNORE) {
            total += (double)rl[r] - m->logits[(size_t)r * V + targets[r]];
            count++;
        }
    m->count = count;
    m->loss = count ? total / (double)count : 0;
    m->have_targets = 1;
    if (loss)
        *loss = (float)m->loss;
    return 0;
}

/* ---- backward ---- */

int mf_model_backward(struct mf_model *m, float grad_scale)
{
    if (!m->train || !m->have_fwd || !m->have_targets)
        return MF_EINVAL;
    const struct mf_model_config *c = &m->c;
    const int C = c->dim, H = c->hidden, V = c->vocab, NH = c->heads;
    const int B = m->B, T = m->T, N = B * T;
    if (m->count == 0)
        return 0;
    const float *P = m->params;
    float *G = m->grads;
    const float f = grad_scale / (float)m->count;

    /* dlogits = (softmax - onehot) * scale / count on counted rows, 0 elsewhere */
    const uint32_t *tg = m->targets;
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * V))
    for (int r = 0; r < N; r++) {
        float *d = m->dlogits + (size_t)r * V;
        if (tg[r] == MF_NN_IGNORE) {
            memset(d, 0, sizeof(float) * V);
            continue;
        }
        const float *z = m->logits + (size_t)r * V;
        float lse = m->rowlse[r];
        for (int j = 0; j < V; j++)
            d[j] = expf(z[j] - lse) * f;
        d[tg[r]] -= f;
    }
    /* logits = nf out^T */
    mf_nn_matmul_backward(m->dn, 0, G + m->outw, m->dlogits, m->nf, P + m->outw, N, C, V);
    memset(m->dx, 0, sizeof(float) * (size_t)N * C);
    float *xl = m->x + (size_t)c->layers * m->sc;
    mf_nn_rmsnorm_backward(m->dx, G + m->normf, m->dn, xl, P + m->normf, m->rstdf, N, C);

    for (int l = c->layers - 1; l >= 0; l--) {
        const struct layer *Lw = &m->lay[l];
        float *x = m->x + (size_t)l * m->sc;
        float *h = m->h + l * m->sc, *n1 = m->n1 + l * m->sc, *n2 = m->n2 + l * m->sc;
        float *q = m->q + l * m->sc, *k = m->k + l * m->sc, *v = m->v + l * m->sc;
        float *att = m->att + l * m->sc, *lse = m->lse + l * m->slse;
        float *r1 = m->rstd1 + l * m->sn, *r2 = m->rstd2 + l * m->sn;
        float *a1 = m->a1 + l * m->sh, *a3 = m->a3 + l * m->sh, *g = m->g + l * m->sh;

        /* MLP: xo = h + g w2^T; dx holds d xo */
        mf_nn_matmul_backward(m->dg, 0, G + Lw->w2, m->dx, g, P + Lw->w2, N, H, C);
        mf_nn_swiglu_backward(m->da1, m->dg, m->dg, a1, a3, (size_t)N * H);
        mf_nn_matmul_backward(m->dn, 0, G + Lw->w1, m->da1, n2, P + Lw->w1, N, C, H);
        mf_nn_matmul_backward(m->dn, 1, G + Lw->w3, m->dg, n2, P + Lw->w3, N, C, H);
        mf_nn_rmsnorm_backward(m->dx, G + Lw->n2, m->dn, h, P + Lw->n2, r2, N, C);
        /* attention: h = x + att wo^T; dx holds d h */
        mf_nn_matmul_backward(m->datt, 0, G + Lw->wo, m->dx, att, P + Lw->wo, N, C, C);
        mf_nn_attention_backward(m->dq, m->dk, m->dv, m->dsum, m->datt, att, lse, q, k, v, B, T, C,
                                 NH, MF_NN_ATTN_BLOCK);
        mf_nn_rope_backward(m->dq, m->rope, c->context, B, T, C, NH);
        mf_nn_rope_backward(m->dk, m->rope, c->context, B, T, C, NH);
        mf_nn_matmul_backward(m->dn, 0, G + Lw->wq, m->dq, n1, P + Lw->wq, N, C, C);
        mf_nn_matmul_backward(m->dn, 1, G + Lw->wk, m->dk, n1, P + Lw->wk, N, C, C);
        mf_nn_matmul_backward(m->dn, 1, G + Lw->wv, m->dv, n1, P + Lw->wv, N, C, C);
        mf_nn_rmsnorm_backward(m->dx, G + Lw->n1, m->dn, x, P + Lw->n1, r1, N, C);
    }

    /* embedding: scatter-add rows; threads own column ranges, rows in order */
    float *dE = G + m->emb;
    const uint32_t *tok = m->tokens;
    const float *dx = m->dx;
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
    for (int cc = 0; cc < C; cc++)
        for (int r = 0; r < N; r++)
            dE[(size_t)tok[r] * C + cc] += dx[(size_t)r * C + cc];
    return 0;
}

void mf_model_zero_grad(struct mf_model *m)
{
    if (m->grads)
        memset(m->grads, 0, m->n_params * sizeof(float));
}

/* sums of squares over fixed chunks (independent of the thread count), added in order */
double mf_model_grad_norm(const struct mf_model *m)
{
    if (m->grads == NULL)
        return 0;
    enum { CHUNKS = 256 };
    double part[CHUNKS];
    size_t n = m->n_params;
    const float *g = m->grads;
#pragma omp parallel for schedule(static) if (MF_NN_PAR(n))
    for (int ch = 0; ch < CHUNKS; ch++) {
        size_t lo = n * (size_t)ch / CHUNKS, hi = n * (size_t)(ch + 1) / CHUNKS;
        double s = 0;
        for (size_t i = lo; i < hi; i++)
            s += (double)g[i] * g[i];
        part[ch] = s;
    }
    double s = 0;
    for (int ch = 0; ch < CHUNKS; ch++)
        s += part[ch];
    return sqrt(s);
}

void mf_model_scale_grads(struct mf_model *m, float s)
{
    if (m->grads == NULL)
        return;
    float *g = m->grads;
    size_t n = m->n_params;
#pragma omp parallel for schedule(static) if (MF_NN_PAR(n))
    for (size_t i = 0; i < n; i++)
        g[i] *= s;
}

/* As torch.optim.AdamW (amsgrad off): p *= 1 - lr wd; m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps). */
void mf_model_adamw_step(struct mf_model *m, const struct mf_adamw *o, int64_t step)
{
    if (m->grads == NULL || m->moments == NULL || step < 1)
        return;
    double bc1 = 1.0 - pow((double)o->beta1, (double)step);
    double bc2 = 1.0 - pow((double)o->beta2, (double)step);
    const float step_size = (float)((double)o->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    float *mom1 = m->moments, *mom2 = m->moments + m->n_params;
    for (size_t ti = 0; ti < m->n_tensors; ti++) {
        const struct mf_tensor_info *t = &m->tensors[ti];
        size_t n = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
        float decay = t->ndim == 2 ? (float)(1.0 - (double)o->lr * (double)o->weight_decay) : 1.0f;
        float *p = m->params + t->offset;
        const float *g = m->grads + t->offset;
        float *m1 = mom1 + t->offset, *m2 = mom2 + t->offset;
#pragma omp parallel for schedule(static) if (MF_NN_PAR(n))
        for (size_t i = 0; i < n; i++) {
            float gi = g[i];
            float pi = p[i] * decay;
            float a = b1 * m1[i] + (1.0f - b1) * gi;
            float b = b2 * m2[i] + (1.0f - b2) * gi * gi;
            m1[i] = a;
            m2[i] = b;
            p[i] = pi - step_size * (a / (sqrtf(b) / bc2_sqrt + eps));
        }
    }
}
