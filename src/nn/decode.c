/* decode.c - incremental decoding with a KV cache (inference).
 *
 * mf_model_decode runs the same layers as mf_model_forward on new positions only: the keys and
 * values of earlier positions come from the cache.  A group of rows starting at position 0 (a
 * prompt, or sequences cut and run again) goes through the streamed causal attention of
 * training; new positions after cached ones attend over the cache, one (row, head) pair per
 * task.  Logits are computed for each row's last position only.
 *
 * The cache is [layer][row][position][dim] for keys and for values, so one row's positions are
 * contiguous and a row can be copied (a prompt to every future) with one memcpy per layer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "nn/nn_int.h"

struct mf_kv {
    int rows, ctx, layers, dim;
    size_t row_stride;   /* ctx * dim */
    size_t layer_stride; /* rows * ctx * dim */
    float *k, *v;
};

int mf_kv_new(const struct mf_model_config *c, int rows, struct mf_kv **out, struct mf_err *err)
{
    *out = NULL;
    int rc = mf_model_config_check(c, err);
    if (rc)
        return rc;
    if (rows <= 0 || rows > (1 << 16))
        return mf_err_set(err, MF_EINVAL, "kv cache: rows must be in 1..%d (is %d)", 1 << 16, rows);
    size_t per_row = (size_t)c->context * (size_t)c->dim;
    size_t per_layer = per_row * (size_t)rows;
    if (per_layer > SIZE_MAX / sizeof(float) / 2 / (size_t)c->layers)
        return mf_err_set(err, MF_ETOOBIG, "kv cache: too large (%d rows)", rows);
    struct mf_kv *kv = calloc(1, sizeof *kv);
    if (kv == NULL)
        return mf_err_set(err, MF_ENOMEM, "kv cache: out of memory");
    kv->rows = rows;
    kv->ctx = c->context;
    kv->layers = c->layers;
    kv->dim = c->dim;
    kv->row_stride = per_row;
    kv->layer_stride = per_layer;
    size_t n = per_layer * (size_t)c->layers;
    kv->k = malloc(n * sizeof(float));
    kv->v = malloc(n * sizeof(float));
    if (kv->k == NULL || kv->v == NULL) {
        mf_kv_free(kv);
        return mf_err_set(err, MF_ENOMEM, "kv cache: out of memory (%zu MiB)",
                          2 * n * sizeof(float) >> 20);
    }
    *out = kv;
    return 0;
}

void mf_kv_free(struct mf_kv *kv)
{
    if (kv == NULL)
        return;
    free(kv->k);
    free(kv->v);
    free(kv);
}

size_t mf_kv_bytes(const struct mf_kv *kv)
{
    return 2 * kv->layer_stride * (size_t)kv->layers * sizeof(float);
}

int mf_kv_rows(const struct mf_kv *kv)
{
    return kv->rows;
}

void mf_kv_copy_row(struct mf_kv *kv, int src, int dst, int len)
{
    if (src == dst || src < 0 || dst < 0 || src >= kv->rows || dst >= kv->rows || len <= 0)
        return;
    if (len > kv->ctx)
        len = kv->ctx;
    size_t n = (size_t)len * (size_t)kv->dim * sizeof(float);
    for (int l = 0; l < kv->layers; l++) {
        size_t base = (size_t)l * kv->layer_stride;
        memcpy(kv->k + base + (size_t)dst * kv->row_stride,
               kv->k + base + (size_t)src * kv->row_stride, n);
        memcpy(kv->v + base + (size_t)dst * kv->row_stride,
               kv->v + base + (size_t)src * kv->row_stride, n);
    }
}

/* Attention of T new positions per row over the cached ones (positions 0..pos+t of the row):
 * q, out [g*T][C]; keys and values of layer l in the cache (the new ones already stored). */
static void attend_cached(float *out, const float *q, const struct mf_kv *kv, int l,
                          const int *rows, int g, int T, int pos, int C, int NH)
{
    const int hd = C / NH;
    const float scale = 1.0f / sqrtf((float)hd);
    const float *K = kv->k + (size_t)l * kv->layer_stride;
    const float *V = kv->v + (size_t)l * kv->layer_stride;
    size_t work = (size_t)g * T * (size_t)(pos + T) * (size_t)C * 2;
#pragma omp parallel for schedule(static) if (MF_NN_PAR(work))
    for (int bh = 0; bh < g * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *Kr = K + (size_t)rows[b] * kv->row_stride + (size_t)h * hd;
        const float *Vr = V + (size_t)rows[b] * kv->row_stride + (size_t)h * hd;
        float s[MF_NN_ATTN_BLOCK];
        for (int t = 0; t < T; t++) {
            const float *qi = q + ((size_t)b * T + t) * C + (size_t)h * hd;
            float *o = out + ((size_t)b * T + t) * C + (size_t)h * hd;
            int nk = pos + t + 1;
            float mx = -INFINITY, sum = 0;
            memset(o, 0, sizeof(float) * (size_t)hd);
            for (int j0 = 0; j0 < nk; j0 += MF_NN_ATTN_BLOCK) {
                int j1 = j0 + MF_NN_ATTN_BLOCK < nk ? j0 + MF_NN_ATTN_BLOCK : nk;
                float bmax = -INFINITY;
                for (int j = j0; j < j1; j++) {
                    const float *kj = Kr + (size_t)j * C;
                    float d = 0;
                    for (int i = 0; i < hd; i++)
                        d += qi[i] * kj[i];
                    d *= scale;
                    s[j - j0] = d;
                    bmax = d > bmax ? d : bmax;
                }
                float mnew = mx > bmax ? mx : bmax;
                float corr = expf(mx - mnew); /* 0 while mx is -inf */
                sum *= corr;
                for (int i = 0; i < hd; i++)
                    o[i] *= corr;
                for (int j = j0; j < j1; j++) {
                    float p = expf(s[j - j0] - mnew);
                    const float *vj = Vr + (size_t)j * C;
                    sum += p;
                    for (int i = 0; i < hd; i++)
                        o[i] += p * vj[i];
                }
                mx = mnew;
            }
            float inv = 1.0f / sum;
            for (int i = 0; i < hd; i++)
                o[i] *= inv;
        }
    }
}

/* Store the new keys and values of layer l: k, v [g*T][C] into positions pos.. of each row. */
static void store_kv(struct mf_kv *kv, int l, const float *k, const float *v, const int *rows,
                     int g, int T, int pos, int C)
{
    size_t n = (size_t)T * (size_t)C * sizeof(float);
    for (int b = 0; b < g; b++) {
        size_t off = (size_t)l * kv->layer_stride + (size_t)rows[b] * kv->row_stride +
                     (size_t)pos * (size_t)C;
        memcpy(kv->k + off, k + (size_t)b * T * C, n);
        memcpy(kv->v + off, v + (size_t)b * T * C, n);
    }
}

/* One group of g rows (g * T <= the activation rows). */
static void decode_group(struct mf_model *m, struct mf_kv *kv, const int *rows, int g,
                         const uint32_t *tokens, int T, int pos, float *logits, float *hidden)
{
    const struct mf_model_config *c = &m->c;
    const int C = c->dim, H = c->hidden, V = c->vocab, NH = c->heads;
    const int N = g * T;
    const float *P = m->params;
    float *x = m->x, *h = m->h, *n1 = m->n1, *n2 = m->n2, *q = m->q, *k = m->k, *v = m->v;
    float *att = m->att, *a1 = m->a1, *a3 = m->a3, *gg = m->g;

#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
    for (int r = 0; r < N; r++)
        memcpy(x + (size_t)r * C, P + m->emb + (size_t)tokens[r] * C, sizeof(float) * C);

    for (int l = 0; l < c->layers; l++) {
        const struct layer *Lw = &m->lay[l];
        mf_nn_rmsnorm_forward(n1, m->rstd1, x, P + Lw->n1, N, C, m->eps);
        mf_nn_matmul_forward(q, n1, P + Lw->wq, N, C, C);
        mf_nn_matmul_forward(k, n1, P + Lw->wk, N, C, C);
        mf_nn_matmul_forward(v, n1, P + Lw->wv, N, C, C);
        mf_nn_rope_at(q, m->rope, c->context, N, T, pos, C, NH);
        mf_nn_rope_at(k, m->rope, c->context, N, T, pos, C, NH);
        store_kv(kv, l, k, v, rows, g, T, pos, C);
        if (pos == 0)
            mf_nn_attention_forward(att, m->lse, q, k, v, g, T, C, NH, MF_NN_ATTN_BLOCK);
        else
            attend_cached(att, q, kv, l, rows, g, T, pos, C, NH);
        mf_nn_matmul_forward(h, att, P + Lw->wo, N, C, C);
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
        for (size_t i = 0; i < (size_t)N * C; i++)
            h[i] += x[i];
        mf_nn_rmsnorm_forward(n2, m->rstd2, h, P + Lw->n2, N, C, m->eps);
        mf_nn_matmul_forward(a1, n2, P + Lw->w1, N, C, H);
        mf_nn_matmul_forward(a3, n2, P + Lw->w3, N, C, H);
        mf_nn_swiglu_forward(gg, a1, a3, (size_t)N * H);
        mf_nn_matmul_forward(x, gg, P + Lw->w2, N, H, C);
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
        for (size_t i = 0; i < (size_t)N * C; i++)
            x[i] += h[i];
    }
    /* the last position of each row: final norm, hidden state, logits */
    for (int b = 0; b < g; b++)
        memcpy(h + (size_t)b * C, x + ((size_t)b * T + (T - 1)) * C, sizeof(float) * C);
    mf_nn_rmsnorm_forward(m->nf, m->rstdf, h, P + m->normf, g, C, m->eps);
    if (hidden)
        memcpy(hidden, m->nf, sizeof(float) * (size_t)g * C);
    if (logits)
        mf_nn_matmul_forward(logits, m->nf, P + m->outw, g, C, V);
}

int mf_model_decode(struct mf_model *m, struct mf_kv *kv, const int *rows, int n,
                    const uint32_t *tokens, int T, int pos, float *logits, float *hidden)
{
    const struct mf_model_config *c = &m->c;
    if (kv == NULL || rows == NULL || tokens == NULL || n <= 0 || T <= 0 || pos < 0 ||
        pos > c->context - T || kv->ctx != c->context || kv->dim != c->dim ||
        kv->layers != c->layers || (size_t)T > m->nmax)
        return MF_EINVAL;
    for (int b = 0; b < n; b++) {
        if (rows[b] < 0 || rows[b] >= kv->rows)
            return MF_EINVAL;
        for (int b2 = 0; b2 < b; b2++)
            if (rows[b2] == rows[b])
                return MF_EINVAL;
    }
    for (size_t i = 0; i < (size_t)n * T; i++)
        if (tokens[i] >= (uint32_t)c->vocab)
            return MF_EINVAL;
    m->have_fwd = 0;
    m->have_targets = 0;
    int per = (int)(m->nmax / (size_t)T);
    for (int b0 = 0; b0 < n; b0 += per) {
        int g = n - b0 < per ? n - b0 : per;
        decode_group(m, kv, rows + b0, g, tokens + (size_t)b0 * T, T, pos,
                     logits ? logits + (size_t)b0 * c->vocab : NULL,
                     hidden ? hidden + (size_t)b0 * c->dim : NULL);
    }
    return 0;
}
