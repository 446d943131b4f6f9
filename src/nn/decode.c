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

#include <cblas.h>

#include "nn/model.h"
#include "nn/nn_int.h"

struct mf_kv {
    int rows, ctx, layers, dim;
    size_t row_stride;   /* ctx * dim */
    size_t layer_stride; /* rows * ctx * dim */
    float *k, *v;
    /* the positions every row shares (a prompt): [layer][position][dim], shared_len of them */
    float *sk, *sv;
    int shared_len;
    /* decoding scratch, grown on demand: fused projections [N][3 dim] or [N][2 hidden], and
     * attention scores [rows * heads][ctx] */
    float *fused, *scores;
    size_t fused_cap, scores_cap;
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
    kv->sk = malloc(per_row * (size_t)c->layers * sizeof(float));
    kv->sv = malloc(per_row * (size_t)c->layers * sizeof(float));
    if (kv->k == NULL || kv->v == NULL || kv->sk == NULL || kv->sv == NULL) {
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
    free(kv->sk);
    free(kv->sv);
    free(kv->fused);
    free(kv->scores);
    free(kv);
}

size_t mf_kv_bytes(const struct mf_kv *kv)
{
    return (2 * (kv->layer_stride + kv->row_stride) * (size_t)kv->layers + kv->fused_cap +
            kv->scores_cap) *
           sizeof(float);
}

static int grow(float **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    float *b = realloc(*buf, n * sizeof *b);
    if (b == NULL)
        return MF_ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
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

void mf_kv_share(struct mf_kv *kv, int src, int len)
{
    if (len <= 0 || src < 0 || src >= kv->rows) {
        kv->shared_len = 0;
        return;
    }
    if (len > kv->ctx)
        len = kv->ctx;
    size_t n = (size_t)len * (size_t)kv->dim * sizeof(float);
    for (int l = 0; l < kv->layers; l++) {
        size_t from = (size_t)l * kv->layer_stride + (size_t)src * kv->row_stride;
        memcpy(kv->sk + (size_t)l * kv->row_stride, kv->k + from, n);
        memcpy(kv->sv + (size_t)l * kv->row_stride, kv->v + from, n);
    }
    kv->shared_len = len;
}

int mf_kv_shared_len(const struct mf_kv *kv)
{
    return kv->shared_len;
}

/* Attention of T new positions per row over the cached ones (positions 0..pos+t of the row):
 * q, out [g*T][C]; keys and values of layer l in the cache (the new ones already stored).
 * The shared positions [0, L0) are read once for all queries: per head, their scores are one
 * matrix product over every query row, and so is their share of the output (the heads run in
 * parallel, each product single-threaded).  Each row's own
 * positions [L0, pos+t] are matrix-vector products over its keys and values (OpenBLAS,
 * single-threaded inside the parallel region). */
static void attend_cached(float *out, const float *q, const struct mf_kv *kv, int l,
                          const int *rows, int g, int T, int pos, const int *row_pos, int C, int NH)
{
    const int hd = C / NH, NQ = g * T, L0 = kv->shared_len, ctx = kv->ctx;
    const float scale = 1.0f / sqrtf((float)hd);
    const float *K = kv->k + (size_t)l * kv->layer_stride;
    const float *V = kv->v + (size_t)l * kv->layer_stride;
    const float *SK = kv->sk + (size_t)l * kv->row_stride;
    const float *SV = kv->sv + (size_t)l * kv->row_stride;
    size_t shared_work = (size_t)NQ * (size_t)L0 * (size_t)C;
    if (L0 > 0)
#pragma omp parallel for schedule(static) if (MF_NN_PAR(shared_work))
        for (int h = 0; h < NH; h++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, NQ, L0, hd, scale,
                        q + (size_t)h * hd, C, SK + (size_t)h * hd, C, 0.0f,
                        kv->scores + (size_t)h * NQ * ctx, ctx);
    size_t work = (size_t)NQ * (size_t)(pos + T) * (size_t)C * 2;
#pragma omp parallel for schedule(static) if (MF_NN_PAR(work))
    for (int ih = 0; ih < NQ * NH; ih++) {
        int i = ih / NH, h = ih % NH, b = i / T, t = i % T;
        const float *Kr = K + (size_t)rows[b] * kv->row_stride + (size_t)h * hd;
        const float *Vr = V + (size_t)rows[b] * kv->row_stride + (size_t)h * hd;
        float *s = kv->scores + ((size_t)h * NQ + i) * ctx;
        const float *qi = q + (size_t)i * C + (size_t)h * hd;
        float *o = out + (size_t)i * C + (size_t)h * hd;
        int nk = (row_pos ? row_pos[b] : pos) + t + 1, own = nk - L0;
        cblas_sgemv(CblasRowMajor, CblasNoTrans, own, hd, scale, Kr + (size_t)L0 * C, C, qi, 1,
                    0.0f, s + L0, 1);
        float mx = s[0];
        for (int j = 1; j < nk; j++)
            mx = s[j] > mx ? s[j] : mx;
        float sum = 0;
        for (int j = 0; j < nk; j++) {
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < nk; j++)
            s[j] *= inv;
        cblas_sgemv(CblasRowMajor, CblasTrans, own, hd, 1.0f, Vr + (size_t)L0 * C, C, s + L0, 1,
                    0.0f, o, 1);
    }
    if (L0 > 0)
#pragma omp parallel for schedule(static) if (MF_NN_PAR(shared_work))
        for (int h = 0; h < NH; h++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, NQ, hd, L0, 1.0f,
                        kv->scores + (size_t)h * NQ * ctx, ctx, SV + (size_t)h * hd, C, 1.0f,
                        out + (size_t)h * hd, C);
}

/* Store the new keys and values of layer l: k, v [g*T][C] into positions pos.. of each row
 * (row_pos[b].. when row_pos is not NULL). */
static void store_kv(struct mf_kv *kv, int l, const float *k, const float *v, const int *rows,
                     int g, int T, int pos, const int *row_pos, int C)
{
    size_t n = (size_t)T * (size_t)C * sizeof(float);
    for (int b = 0; b < g; b++) {
        size_t off = (size_t)l * kv->layer_stride + (size_t)rows[b] * kv->row_stride +
                     (size_t)(row_pos ? row_pos[b] : pos) * (size_t)C;
        memcpy(kv->k + off, k + (size_t)b * T * C, n);
        memcpy(kv->v + off, v + (size_t)b * T * C, n);
    }
}

/* Copy columns [c0, c0 + w) of src [N][ld] into dst [N][w]. */
static void split_cols(float *dst, const float *src, int N, int ld, int c0, int w)
{
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * w))
    for (int r = 0; r < N; r++)
        memcpy(dst + (size_t)r * w, src + (size_t)r * ld + c0, sizeof(float) * (size_t)w);
}

/* One group of g rows (g * T <= the activation rows).  The query, key and value weights are
 * consecutive in the parameter block ([3 dim][dim]), and so are the gate and up weights
 * ([2 hidden][dim]): each pair or triple is one matrix product. */
static void decode_group(struct mf_model *m, struct mf_kv *kv, const int *rows, int g,
                         const uint32_t *tokens, int T, int pos, const int *row_pos, float *logits,
                         float *hidden)
{
    const struct mf_model_config *c = &m->c;
    const int C = c->dim, H = c->hidden, V = c->vocab, NH = c->heads;
    const int N = g * T;
    const float *P = m->params;
    float *x = m->x, *h = m->h, *n1 = m->n1, *n2 = m->n2, *q = m->q, *k = m->k, *v = m->v;
    float *att = m->att, *gg = m->g, *f = kv->fused;

#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
    for (int r = 0; r < N; r++)
        memcpy(x + (size_t)r * C, P + m->emb + (size_t)tokens[r] * C, sizeof(float) * C);

    for (int l = 0; l < c->layers; l++) {
        const struct layer *Lw = &m->lay[l];
        mf_nn_rmsnorm_forward(n1, m->rstd1, x, P + Lw->n1, N, C, m->eps);
        mf_nn_matmul_skinny(f, n1, P + Lw->wq, N, C, 3 * C); /* wq, wk, wv */
        split_cols(q, f, N, 3 * C, 0, C);
        split_cols(k, f, N, 3 * C, C, C);
        split_cols(v, f, N, 3 * C, 2 * C, C);
        if (row_pos) { /* T == 1: each row at its own position */
            for (int b = 0; b < g; b++) {
                mf_nn_rope_at(q + (size_t)b * C, m->rope, c->context, 1, 1, row_pos[b], C, NH);
                mf_nn_rope_at(k + (size_t)b * C, m->rope, c->context, 1, 1, row_pos[b], C, NH);
            }
        } else {
            mf_nn_rope_at(q, m->rope, c->context, N, T, pos, C, NH);
            mf_nn_rope_at(k, m->rope, c->context, N, T, pos, C, NH);
        }
        store_kv(kv, l, k, v, rows, g, T, pos, row_pos, C);
        if (pos == 0 && !row_pos)
            mf_nn_attention_forward(att, m->lse, q, k, v, g, T, C, NH, MF_NN_ATTN_BLOCK);
        else
            attend_cached(att, q, kv, l, rows, g, T, pos, row_pos, C, NH);
        mf_nn_matmul_skinny(h, att, P + Lw->wo, N, C, C);
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
        for (size_t i = 0; i < (size_t)N * C; i++)
            h[i] += x[i];
        mf_nn_rmsnorm_forward(n2, m->rstd2, h, P + Lw->n2, N, C, m->eps);
        mf_nn_matmul_skinny(f, n2, P + Lw->w1, N, C, 2 * H); /* w1 (gate), w3 (up) */
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * H))
        for (int r = 0; r < N; r++) {
            const float *a1 = f + (size_t)r * 2 * H, *a3 = a1 + H;
            float *gr = gg + (size_t)r * H;
            for (int i = 0; i < H; i++)
                gr[i] = a1[i] / (1.0f + expf(-a1[i])) * a3[i];
        }
        mf_nn_matmul_skinny(x, gg, P + Lw->w2, N, H, C);
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
        mf_nn_matmul_skinny(logits, m->nf, P + m->outw, g, C, V);
}

/* Checks and buffers shared by mf_model_decode and mf_model_decode_rows: 0, or MF_EINVAL /
 * MF_ENOMEM; *per: rows per group. */
static int decode_prepare(struct mf_model *m, struct mf_kv *kv, const int *rows, int n,
                          const uint32_t *tokens, int T, int *per)
{
    const struct mf_model_config *c = &m->c;
    if (kv == NULL || rows == NULL || tokens == NULL || n <= 0 || T <= 0 || kv->ctx != c->context ||
        kv->dim != c->dim || kv->layers != c->layers || (size_t)T > m->nmax)
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
    const size_t CC = (size_t)c->dim * c->dim, HC = (size_t)c->hidden * c->dim;
    for (int l = 0; l < c->layers; l++) /* the fused products need build_layout's order */
        if (m->lay[l].wk != m->lay[l].wq + CC || m->lay[l].wv != m->lay[l].wk + CC ||
            m->lay[l].w3 != m->lay[l].w1 + HC)
            return MF_EINVAL;
    *per = (int)(m->nmax / (size_t)T);
    size_t rows_max = (size_t)(*per < n ? *per : n) * (size_t)T;
    size_t wide = (size_t)(3 * c->dim > 2 * c->hidden ? 3 * c->dim : 2 * c->hidden);
    if (grow(&kv->fused, &kv->fused_cap, rows_max * wide) ||
        grow(&kv->scores, &kv->scores_cap, rows_max * c->heads * kv->ctx))
        return MF_ENOMEM;
    m->have_fwd = 0;
    m->have_targets = 0;
    return 0;
}

int mf_model_decode(struct mf_model *m, struct mf_kv *kv, const int *rows, int n,
                    const uint32_t *tokens, int T, int pos, float *logits, float *hidden)
{
    const struct mf_model_config *c = &m->c;
    int per = 0;
    if (kv == NULL || pos < 0 || T <= 0 || pos > c->context - T ||
        (pos > 0 && pos < kv->shared_len))
        return MF_EINVAL;
    int rc = decode_prepare(m, kv, rows, n, tokens, T, &per);
    if (rc)
        return rc;
    if (pos == 0)
        kv->shared_len = 0; /* every row starts anew */
    for (int b0 = 0; b0 < n; b0 += per) {
        int g = n - b0 < per ? n - b0 : per;
        decode_group(m, kv, rows + b0, g, tokens + (size_t)b0 * T, T, pos, NULL,
                     logits ? logits + (size_t)b0 * c->vocab : NULL,
                     hidden ? hidden + (size_t)b0 * c->dim : NULL);
    }
    return 0;
}

int mf_model_decode_rows(struct mf_model *m, struct mf_kv *kv, const int *rows, int n,
                         const uint32_t *tokens, const int *pos, float *logits, float *hidden)
{
    const struct mf_model_config *c = &m->c;
    int per = 0;
    if (pos == NULL || kv == NULL || kv->shared_len != 0)
        return MF_EINVAL;
    for (int b = 0; b < n; b++)
        if (pos[b] < 1 || pos[b] >= c->context)
            return MF_EINVAL;
    int rc = decode_prepare(m, kv, rows, n, tokens, 1, &per);
    if (rc)
        return rc;
    for (int b0 = 0; b0 < n; b0 += per) {
        int g = n - b0 < per ? n - b0 : per;
        decode_group(m, kv, rows + b0, g, tokens + b0, 1, 0, pos + b0,
                     logits ? logits + (size_t)b0 * c->vocab : NULL,
                     hidden ? hidden + (size_t)b0 * c->dim : NULL);
    }
    return 0;
}
