/* test_nn.c - unit tests for the transformer (src/nn): finite-difference gradient checks of
 * every layer and of whole tiny models (tied and untied), ignored targets, gradient
 * accumulation, run-to-run determinism, the streamed attention against a naive one over several
 * blocks, safetensors round trips and damaged files, config checks and config.json, and AdamW
 * against a step computed by hand.
 *
 * Finite differences run in double on the float parameters: each perturbation uses the step
 * that float rounding actually made, and the comparison is per tensor, as the norm of the
 * difference over the norm of the analytic gradient (over a sample of up to 200 entries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/nn_int.h"
#include "testutil.h"

/* ---- helpers ---- */

static void fill(float *x, size_t n, double sd, struct mf_rng *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(sd * mf_rng_normal(r));
}

static float *falloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static double dotd(const float *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* relative error ||a - b|| / max(||b||, floor) */
static double rel_err(const double *a, const double *b, size_t n, double floor_)
{
    double d = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        nb += b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(nb), floor_);
}

/* An objective over float arrays, evaluated in double. */
typedef double (*objective)(void *ctx);

/* Central difference of f with respect to *p, with the float step actually taken. */
static double fd(objective f, void *ctx, float *p, float eps)
{
    float p0 = *p;
    float hi = p0 + eps, lo = p0 - eps;
    *p = hi;
    double fp = f(ctx);
    *p = lo;
    double fm = f(ctx);
    *p = p0;
    return (fp - fm) / ((double)hi - (double)lo);
}

/* Compare the analytic gradient g[0..n) of f with respect to x[0..n) on up to 200 sampled
 * entries; returns the relative error. */
static double check_grad(objective f, void *ctx, float *x, const float *g, size_t n, float eps,
                         struct mf_rng *r)
{
    size_t k = n < 200 ? n : 200;
    double *num = malloc(k * sizeof *num), *ana = malloc(k * sizeof *ana);
    assert_non_null(num);
    assert_non_null(ana);
    for (size_t s = 0; s < k; s++) {
        size_t i = n <= 200 ? s : (size_t)mf_rng_below(r, n);
        num[s] = fd(f, ctx, x + i, eps);
        ana[s] = g[i];
    }
    double e = rel_err(num, ana, k, 1e-6);
    free(num);
    free(ana);
    return e;
}

/* ---- per-layer gradient checks ---- */

struct lin {
    int N, in, out;
    float *x, *w, *y;
    double *R;
};

static double lin_obj(void *p)
{
    struct lin *c = p;
    mf_nn_matmul_forward(c->y, c->x, c->w, c->N, c->in, c->out);
    return dotd(c->y, c->R, (size_t)c->N * c->out);
}

static void linear_grad(void **state)
{
    (void)state;
    struct mf_rng r;
    mf_rng_seed(&r, 1, 0);
    struct lin c = {.N = 7, .in = 5, .out = 6};
    c.x = falloc(35), c.w = falloc(30), c.y = falloc(42);
    c.R = malloc(42 * sizeof *c.R);
    assert_non_null(c.R);
    fill(c.x, 35, 1, &r);
    fill(c.w, 30, 1, &r);
    float dy[42], dx[35], dw[30] = {0};
    for (int i = 0; i < 42; i++) {
        c.R[i] = mf_rng_normal(&r);
        dy[i] = (float)c.R[i];
    }
    mf_nn_matmul_backward(dx, 0, dw, dy, c.x, c.w, c.N, c.in, c.out);
    assert_true(check_grad(lin_obj, &c, c.x, dx, 35, 1e-2f, &r) < 1e-4);
    assert_true(check_grad(lin_obj, &c, c.w, dw, 30, 1e-2f, &r) < 1e-4);
    free(c.x), free(c.w), free(c.y), free(c.R);
}

struct norm {
    int N, C;
    float *x, *g, *y, *rstd;
    double *R;
};

static double norm_obj(void *p)
{
    struct norm *c = p;
    mf_nn_rmsnorm_forward(c->y, c->rstd, c->x, c->g, c->N, c->C, 1e-5f);
    return dotd(c->y, c->R, (size_t)c->N * c->C);
}

static void rmsnorm_grad(void **state)
{
    (void)state;
    struct mf_rng r;
    mf_rng_seed(&r, 2, 0);
    struct norm c = {.N = 6, .C = 10};
    size_t n = 60;
    c.x = falloc(n), c.g = falloc(10), c.y = falloc(n), c.rstd = falloc(6);
    c.R = malloc(n * sizeof *c.R);
    assert_non_null(c.R);
    fill(c.x, n, 1, &r);
    for (int i = 0; i < 10; i++)
        c.g[i] = (float)(1 + 0.3 * mf_rng_normal(&r));
    float *dy = falloc(n), *dx = falloc(n), dg[10] = {0};
    for (size_t i = 0; i < n; i++)
        dy[i] = (float)(c.R[i] = mf_rng_normal(&r));
    norm_obj(&c);
    mf_nn_rmsnorm_backward(dx, dg, dy, c.x, c.g, c.rstd, c.N, c.C);
    assert_true(check_grad(norm_obj, &c, c.x, dx, n, 1e-2f, &r) < 1e-3);
    assert_true(check_grad(norm_obj, &c, c.g, dg, 10, 1e-2f, &r) < 1e-3);
    /* backward adds into dx and dg */
    float *dx2 = falloc(n), dg2[10];
    for (size_t i = 0; i < n; i++)
        dx2[i] = 1.0f;
    for (int i = 0; i < 10; i++)
        dg2[i] = 2.0f;
    mf_nn_rmsnorm_backward(dx2, dg2, dy, c.x, c.g, c.rstd, c.N, c.C);
    for (size_t i = 0; i < n; i++)
        assert_true(fabsf(dx2[i] - 1.0f - dx[i]) < 1e-5f);
    for (int i = 0; i < 10; i++)
        assert_true(fabsf(dg2[i] - 2.0f - dg[i]) < 1e-5f);
    free(c.x), free(c.g), free(c.y), free(c.rstd), free(c.R), free(dy), free(dx), free(dx2);
}

static void rope_is_a_rotation(void **state)
{
    (void)state;
    struct mf_rng r;
    mf_rng_seed(&r, 3, 0);
    int B = 2, T = 9, C = 12, NH = 2, hd = 6;
    size_t n = (size_t)B * T * C;
    float *tab = falloc((size_t)16 * hd), *x = falloc(n), *y = falloc(n), *d = falloc(n);
    mf_nn_rope_table(tab, 16, hd, 10000.0);
    fill(x, n, 1, &r);
    fill(d, n, 1, &r);
    memcpy(y, x, n * sizeof *x);
    mf_nn_rope_forward(y, tab, 16, B, T, C, NH);
    /* position 0 is unchanged; norms of pairs are kept; angle of pair i at t is t*theta^-2i/hd */
    for (int c = 0; c < C; c++)
        assert_true(y[c] == x[c]);
    int t = 5, i = 1, h = 1;
    size_t o = ((size_t)1 * T + t) * C + (size_t)h * hd + 2 * i;
    double a = t * pow(10000.0, -2.0 * i / hd);
    assert_true(fabs(y[o] - (x[o] * cos(a) - x[o + 1] * sin(a))) < 1e-5);
    assert_true(fabs(y[o + 1] - (x[o] * sin(a) + x[o + 1] * cos(a))) < 1e-5);
    /* backward is the adjoint: <d, R x> = <R^T d, x> */
    double lhs = 0, rhs = 0;
    for (size_t k = 0; k < n; k++)
        lhs += (double)d[k] * y[k];
    mf_nn_rope_backward(d, tab, 16, B, T, C, NH);
    for (size_t k = 0; k < n; k++)
        rhs += (double)d[k] * x[k];
    assert_true(fabs(lhs - rhs) < 1e-4 * fabs(lhs) + 1e-5);
    free(tab), free(x), free(y), free(d);
}

struct glu {
    size_t n;
    float *a1, *a3, *g;
    double *R;
};

static double glu_obj(void *p)
{
    struct glu *c = p;
    mf_nn_swiglu_forward(c->g, c->a1, c->a3, c->n);
    return dotd(c->g, c->R, c->n);
}

static void swiglu_grad(void **state)
{
    (void)state;
    struct mf_rng r;
    mf_rng_seed(&r, 4, 0);
    struct glu c = {.n = 50};
    c.a1 = falloc(50), c.a3 = falloc(50), c.g = falloc(50);
    c.R = malloc(50 * sizeof *c.R);
    assert_non_null(c.R);
    fill(c.a1, 50, 2, &r);
    fill(c.a3, 50, 1, &r);
    float dg[50], da1[50], da3[50];
    for (int i = 0; i < 50; i++)
        dg[i] = (float)(c.R[i] = mf_rng_normal(&r));
    mf_nn_swiglu_backward(da1, da3, dg, c.a1, c.a3, 50);
    assert_true(check_grad(glu_obj, &c, c.a1, da1, 50, 1e-2f, &r) < 1e-3);
    assert_true(check_grad(glu_obj, &c, c.a3, da3, 50, 1e-2f, &r) < 1e-3);
    /* in place: da3 written over dg */
    float dgi[50];
    memcpy(dgi, dg, sizeof dg);
    float da1b[50];
    mf_nn_swiglu_backward(da1b, dgi, dgi, c.a1, c.a3, 50);
    assert_memory_equal(da1b, da1, sizeof da1);
    assert_memory_equal(dgi, da3, sizeof da3);
    free(c.a1), free(c.a3), free(c.g), free(c.R);
}

struct att {
    int B, T, C, NH, block;
    float *q, *k, *v, *o, *lse;
    double *R;
};

static double att_obj(void *p)
{
    struct att *c = p;
    mf_nn_attention_forward(c->o, c->lse, c->q, c->k, c->v, c->B, c->T, c->C, c->NH, c->block);
    return dotd(c->o, c->R, (size_t)c->B * c->T * c->C);
}

static void attention_grad(void **state)
{
    (void)state;
    struct mf_rng r;
    mf_rng_seed(&r, 5, 0);
    /* T = 11 with blocks of 4: full, partial and diagonal blocks */
    struct att c = {.B = 2, .T = 11, .C = 8, .NH = 2, .block = 4};
    size_t n = (size_t)c.B * c.T * c.C;
    c.q = falloc(n), c.k = falloc(n), c.v = falloc(n), c.o = falloc(n);
    c.lse = falloc((size_t)c.B * c.NH * c.T);
    c.R = malloc(n * sizeof *c.R);
    assert_non_null(c.R);
    fill(c.q, n, 1, &r);
    fill(c.k, n, 1, &r);
    fill(c.v, n, 1, &r);
    float *dO = falloc(n), *dq = falloc(n), *dk = falloc(n), *dv = falloc(n);
    float *ds = falloc((size_t)c.B * c.NH * c.T);
    for (size_t i = 0; i < n; i++)
        dO[i] = (float)(c.R[i] = mf_rng_normal(&r));
    att_obj(&c);
    mf_nn_attention_backward(dq, dk, dv, ds, dO, c.o, c.lse, c.q, c.k, c.v, c.B, c.T, c.C, c.NH,
                             c.block);
    assert_true(check_grad(att_obj, &c, c.q, dq, n, 1e-2f, &r) < 1e-3);
    assert_true(check_grad(att_obj, &c, c.k, dk, n, 1e-2f, &r) < 1e-3);
    assert_true(check_grad(att_obj, &c, c.v, dv, n, 1e-2f, &r) < 1e-3);
    free(c.q), free(c.k), free(c.v), free(c.o), free(c.lse), free(c.R);
    free(dO), free(dq), free(dk), free(dv), free(ds);
}

/* naive O(T^2) causal attention in double, and its gradients for dout */
static void naive_attention(double *o, double *dq, double *dk, double *dv, const float *q,
                            const float *k, const float *v, const float *dout, int B, int T, int C,
                            int NH)
{
    int hd = C / NH;
    double sc = 1.0 / sqrt((double)hd);
    double *p = malloc((size_t)T * T * sizeof *p), *dp = malloc((size_t)T * T * sizeof *dp);
    assert_non_null(p);
    assert_non_null(dp);
    size_t n = (size_t)B * T * C;
    memset(dq, 0, n * sizeof *dq);
    memset(dk, 0, n * sizeof *dk);
    memset(dv, 0, n * sizeof *dv);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
#define AT(a, t) ((a)[((size_t)b * T + (t)) * C + (size_t)h * hd + d])
            for (int i = 0; i < T; i++) {
                double mx = -INFINITY, s = 0;
                for (int j = 0; j <= i; j++) {
                    double x = 0;
                    for (int d = 0; d < hd; d++)
                        x += (double)AT(q, i) * AT(k, j);
                    p[(size_t)i * T + j] = x * sc;
                    mx = fmax(mx, x * sc);
                }
                for (int j = 0; j <= i; j++)
                    s += (p[(size_t)i * T + j] = exp(p[(size_t)i * T + j] - mx));
                for (int j = 0; j <= i; j++)
                    p[(size_t)i * T + j] /= s;
                for (int d = 0; d < hd; d++) {
                    double acc = 0;
                    for (int j = 0; j <= i; j++)
                        acc += p[(size_t)i * T + j] * AT(v, j);
                    AT(o, i) = acc;
                }
            }
            for (int i = 0; i < T; i++) {
                double Di = 0;
                for (int j = 0; j <= i; j++) {
                    double x = 0;
                    for (int d = 0; d < hd; d++)
                        x += (double)AT(dout, i) * AT(v, j);
                    dp[(size_t)i * T + j] = x;
                    Di += x * p[(size_t)i * T + j];
                }
                for (int j = 0; j <= i; j++) {
                    double pij = p[(size_t)i * T + j];
                    double dsij = pij * (dp[(size_t)i * T + j] - Di) * sc;
                    for (int d = 0; d < hd; d++) {
                        AT(dv, j) += pij * AT(dout, i);
                        AT(dq, i) += dsij * AT(k, j);
                        AT(dk, j) += dsij * AT(q, i);
                    }
                }
            }
#undef AT
        }
    free(p);
    free(dp);
}

static double max_diff(const float *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void attention_matches_naive(void **state)
{
    (void)state;
    struct mf_rng r;
    mf_rng_seed(&r, 6, 0);
    /* three blocks of MF_NN_ATTN_BLOCK, the last partial */
    int B = 2, T = 2 * MF_NN_ATTN_BLOCK + 23, C = 24, NH = 3;
    size_t n = (size_t)B * T * C, nl = (size_t)B * NH * T;
    float *q = falloc(n), *k = falloc(n), *v = falloc(n), *o = falloc(n), *lse = falloc(nl);
    float *dO = falloc(n), *dq = falloc(n), *dk = falloc(n), *dv = falloc(n), *ds = falloc(nl);
    double *ro = malloc(n * 8), *rdq = malloc(n * 8), *rdk = malloc(n * 8), *rdv = malloc(n * 8);
    assert_true(ro && rdq && rdk && rdv);
    fill(q, n, 1.5, &r);
    fill(k, n, 1.5, &r);
    fill(v, n, 1, &r);
    fill(dO, n, 1, &r);
    mf_nn_attention_forward(o, lse, q, k, v, B, T, C, NH, MF_NN_ATTN_BLOCK);
    mf_nn_attention_backward(dq, dk, dv, ds, dO, o, lse, q, k, v, B, T, C, NH, MF_NN_ATTN_BLOCK);
    naive_attention(ro, rdq, rdk, rdv, q, k, v, dO, B, T, C, NH);
    assert_true(max_diff(o, ro, n) < 1e-5);
    assert_true(max_diff(dq, rdq, n) < 1e-4);
    assert_true(max_diff(dk, rdk, n) < 1e-4);
    assert_true(max_diff(dv, rdv, n) < 1e-4);
    /* the block size does not change the result beyond rounding */
    float *o2 = falloc(n);
    mf_nn_attention_forward(o2, lse, q, k, v, B, T, C, NH, 7);
    for (size_t i = 0; i < n; i++)
        assert_true(fabsf(o2[i] - o[i]) < 1e-5f);
    free(q), free(k), free(v), free(o), free(o2), free(lse), free(dO), free(dq), free(dk);
    free(dv), free(ds), free(ro), free(rdq), free(rdk), free(rdv);
}

/* ---- whole-model checks ---- */

#define GB 2
#define GT 9

static struct mf_model_config tiny_cfg(int tied)
{
    struct mf_model_config c = {0};
    c.vocab = 11;
    c.dim = 16;
    c.layers = 2;
    c.heads = 2;
    c.hidden = 24;
    c.context = 16;
    c.tied = tied;
    return c;
}

static struct mf_model *new_model(const struct mf_model_config *c, int batch, int train,
                                  uint64_t seed)
{
    struct mf_model *m = NULL;
    struct mf_err err = {0};
    int rc = mf_model_new(c, batch, train, seed, &m, &err);
    if (rc)
        fprintf(stderr, "mf_model_new: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return m;
}

static void batch(uint32_t *tok, uint32_t *tgt, int n, int vocab, uint64_t seed)
{
    struct mf_rng r;
    mf_rng_seed(&r, seed, 99);
    for (int i = 0; i < n; i++) {
        tok[i] = (uint32_t)mf_rng_below(&r, (uint64_t)vocab);
        tgt[i] = (uint32_t)mf_rng_below(&r, (uint64_t)vocab);
        if (i % 4 == 1)
            tgt[i] = MF_NN_IGNORE;
    }
}

struct whole {
    struct mf_model *m;
    const uint32_t *tok, *tgt;
};

static double whole_obj(void *p)
{
    struct whole *w = p;
    float loss;
    assert_int_equal(mf_model_forward(w->m, w->tok, w->tgt, GB, GT, &loss), 0);
    return mf_nn_last_loss(w->m);
}

static float fd_eps(void)
{
    const char *e = getenv("MEDFM_NN_EPS");
    return e ? strtof(e, NULL) : 3e-3f;
}

/* Returns the worst relative error over the tensors. */
static double model_gradcheck(int tied, int verbose)
{
    struct mf_model_config c = tiny_cfg(tied);
    struct mf_model *m = new_model(&c, GB, 1, 7);
    /* larger weights than the initialization so every path carries signal */
    float *P = mf_model_params(m);
    struct mf_rng r;
    mf_rng_seed(&r, 8, 0);
    for (size_t i = 0; i < mf_model_n_tensors(m); i++) {
        const struct mf_tensor_info *t = mf_model_tensor(m, i);
        size_t n = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
        for (size_t j = 0; j < n; j++)
            P[t->offset + j] = t->ndim == 2 ? (float)(0.3 * mf_rng_normal(&r))
                                            : (float)(1 + 0.2 * mf_rng_normal(&r));
    }
    uint32_t tok[GB * GT], tgt[GB * GT];
    batch(tok, tgt, GB * GT, c.vocab, 1);
    struct whole w = {m, tok, tgt};
    float loss;
    mf_model_zero_grad(m);
    assert_int_equal(mf_model_forward(m, tok, tgt, GB, GT, &loss), 0);
    assert_int_equal(mf_model_backward(m, 1.0f), 0);
    size_t np = mf_model_n_params(m);
    float *G = malloc(np * sizeof *G);
    assert_non_null(G);
    memcpy(G, mf_model_grads(m), np * sizeof *G);
    double worst = 0;
    for (size_t i = 0; i < mf_model_n_tensors(m); i++) {
        const struct mf_tensor_info *t = mf_model_tensor(m, i);
        size_t n = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
        double e = check_grad(whole_obj, &w, P + t->offset, G + t->offset, n, fd_eps(), &r);
        if (verbose)
            fprintf(stderr, "  %-34s rel err %.2e\n", t->name, e);
        worst = fmax(worst, e);
    }
    free(G);
    mf_model_free(m);
    return worst;
}

static int verbose(void)
{
    const char *v = getenv("MEDFM_NN_VERBOSE");
    return v && *v && *v != '0';
}

static void model_gradcheck_tied(void **state)
{
    (void)state;
    double e = model_gradcheck(1, verbose());
    if (verbose())
        fprintf(stderr, "tied: worst %.2e\n", e);
    assert_true(e < 5e-3);
}

static void model_gradcheck_untied(void **state)
{
    (void)state;
    double e = model_gradcheck(0, verbose());
    if (verbose())
        fprintf(stderr, "untied: worst %.2e\n", e);
    assert_true(e < 5e-3);
}

static void ignored_targets(void **state)
{
    (void)state;
    struct mf_model_config c = tiny_cfg(1);
    struct mf_model *m = new_model(&c, GB, 1, 3);
    uint32_t tok[GB * GT], tgt[GB * GT], none[GB * GT];
    batch(tok, tgt, GB * GT, c.vocab, 2);
    size_t np = mf_model_n_params(m);
    float loss, loss2;
    /* the loss is the mean over counted rows of lse - logit[target] */
    assert_int_equal(mf_model_forward(m, tok, tgt, GB, GT, &loss), 0);
    const float *z = mf_model_logits(m);
    double s = 0;
    int cnt = 0;
    for (int i = 0; i < GB * GT; i++) {
        if (tgt[i] == MF_NN_IGNORE)
            continue;
        double mx = -INFINITY, e = 0;
        for (int j = 0; j < c.vocab; j++)
            mx = fmax(mx, z[i * c.vocab + j]);
        for (int j = 0; j < c.vocab; j++)
            e += exp(z[i * c.vocab + j] - mx);
        s += mx + log(e) - z[i * c.vocab + tgt[i]];
        cnt++;
    }
    assert_true(cnt > 0 && cnt < GB * GT);
    assert_true(fabs(s / cnt - loss) < 1e-5);
    mf_model_zero_grad(m);
    assert_int_equal(mf_model_backward(m, 1.0f), 0);
    float *g1 = malloc(np * sizeof *g1);
    assert_non_null(g1);
    memcpy(g1, mf_model_grads(m), np * sizeof *g1);
    for (int i = 0; i < GB * GT; i++)
        none[i] = MF_NN_IGNORE;
    /* nothing counted: loss 0, backward adds nothing */
    assert_int_equal(mf_model_forward(m, tok, none, GB, GT, &loss2), 0);
    assert_true(loss2 == 0.0f);
    assert_int_equal(mf_model_backward(m, 1.0f), 0);
    assert_memory_equal(g1, mf_model_grads(m), np * sizeof *g1);
    /* a target out of the vocabulary is refused */
    tgt[0] = (uint32_t)c.vocab;
    assert_int_equal(mf_model_forward(m, tok, tgt, GB, GT, &loss2), MF_EINVAL);
    free(g1);
    mf_model_free(m);
}

static void grad_accumulation(void **state)
{
    (void)state;
    struct mf_model_config c = tiny_cfg(0);
    struct mf_model *m = new_model(&c, GB, 1, 4);
    uint32_t tok[GB * GT], tgt[GB * GT];
    batch(tok, tgt, GB * GT, c.vocab, 3);
    size_t np = mf_model_n_params(m);
    float loss;
    mf_model_zero_grad(m);
    assert_int_equal(mf_model_forward(m, tok, tgt, GB, GT, &loss), 0);
    assert_int_equal(mf_model_backward(m, 1.0f), 0);
    float *one = malloc(np * sizeof *one);
    assert_non_null(one);
    memcpy(one, mf_model_grads(m), np * sizeof *one);
    mf_model_zero_grad(m);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(mf_model_forward(m, tok, tgt, GB, GT, &loss), 0);
        assert_int_equal(mf_model_backward(m, 0.5f), 0);
    }
    const float *two = mf_model_grads(m);
    double d = 0, nn = 0;
    for (size_t i = 0; i < np; i++) {
        d = fmax(d, fabs((double)two[i] - one[i]));
        nn = fmax(nn, fabs((double)one[i]));
    }
    assert_true(nn > 0);
    assert_true(d <= 1e-6 * nn);
    /* grad norm and scaling */
    double s = 0;
    for (size_t i = 0; i < np; i++)
        s += (double)two[i] * two[i];
    double gn = mf_model_grad_norm(m);
    assert_true(fabs(gn - sqrt(s)) < 1e-9 * sqrt(s));
    mf_model_scale_grads(m, 0.5f);
    assert_true(fabs(mf_model_grad_norm(m) - 0.5 * gn) < 1e-9 * gn);
    free(one);
    mf_model_free(m);
}

static void deterministic(void **state)
{
    (void)state;
    struct mf_model_config c;
    assert_int_equal(mf_model_preset("tiny", &c), 0);
    c.vocab = 50;
    int B = 3, T = 40;
    uint32_t *tok = malloc((size_t)B * T * 4), *tgt = malloc((size_t)B * T * 4);
    assert_true(tok && tgt);
    batch(tok, tgt, B * T, c.vocab, 5);
    float loss[2];
    float *g[2];
    for (int run = 0; run < 2; run++) {
        struct mf_model *m = new_model(&c, B, 1, 11);
        mf_model_zero_grad(m);
        assert_int_equal(mf_model_forward(m, tok, tgt, B, T, &loss[run]), 0);
        assert_int_equal(mf_model_backward(m, 1.0f), 0);
        size_t np = mf_model_n_params(m);
        g[run] = malloc(np * sizeof(float));
        assert_non_null(g[run]);
        memcpy(g[run], mf_model_grads(m), np * sizeof(float));
        if (run == 1)
            assert_memory_equal(g[0], g[1], np * sizeof(float));
        mf_model_free(m);
    }
    assert_memory_equal(&loss[0], &loss[1], sizeof(float));
    free(g[0]), free(g[1]), free(tok), free(tgt);
}

static void inference_matches_training(void **state)
{
    (void)state;
    struct mf_model_config c = tiny_cfg(1);
    struct mf_model *a = new_model(&c, GB, 1, 9), *b = new_model(&c, GB, 0, 9);
    uint32_t tok[GB * GT], tgt[GB * GT];
    batch(tok, tgt, GB * GT, c.vocab, 4);
    float la, lb;
    assert_int_equal(mf_model_forward(a, tok, tgt, GB, GT, &la), 0);
    assert_int_equal(mf_model_forward(b, tok, tgt, GB, GT, &lb), 0);
    assert_memory_equal(mf_model_logits(a), mf_model_logits(b), sizeof(float) * GB * GT * c.vocab);
    assert_true(la == lb);
    assert_null(mf_model_grads(b));
    assert_int_equal(mf_model_backward(b, 1.0f), MF_EINVAL);
    /* limits */
    assert_int_equal(mf_model_forward(a, tok, tgt, GB + 1, GT, &la), MF_EINVAL);
    uint32_t *big = calloc((size_t)c.context + 1, 4);
    assert_non_null(big);
    assert_int_equal(mf_model_forward(a, big, NULL, 1, c.context + 1, &la), MF_EINVAL);
    assert_int_equal(mf_model_forward(a, big, NULL, 1, c.context, &la), 0);
    big[3] = (uint32_t)c.vocab;
    assert_int_equal(mf_model_forward(a, big, NULL, 1, 4, &la), MF_EINVAL);
    free(big);
    mf_model_free(a);
    mf_model_free(b);
}

/* ---- config ---- */

static void config_checks(void **state)
{
    (void)state;
    struct mf_model_config c;
    struct mf_err err = {0};
    assert_int_equal(mf_model_preset("base", &c), 0);
    assert_int_equal(c.dim, 384);
    assert_int_equal(c.layers, 6);
    assert_int_equal(c.heads, 6);
    assert_int_equal(c.context, 512);
    assert_int_equal(c.vocab, 0);
    assert_int_equal(mf_model_preset("small", &c), 0);
    assert_int_equal(mf_model_preset("huge", &c), MF_EINVAL);
    assert_int_equal(mf_model_preset("tiny", &c), 0);
    assert_int_equal(mf_model_config_check(&c, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "vocab"));
    c.vocab = 100;
    mf_err_clear(&err);
    assert_int_equal(mf_model_config_check(&c, &err), 0);
    c.heads = 3;
    assert_int_equal(mf_model_config_check(&c, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "dim"));
    assert_non_null(strstr(err.msg, "heads"));
    mf_err_clear(&err);
    c.heads = 32; /* head size 1: odd */
    assert_int_equal(mf_model_config_check(&c, &err), MF_EINVAL);
    c.heads = 2;
    c.hidden = 0;
    mf_err_clear(&err);
    assert_int_equal(mf_model_config_check(&c, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "hidden"));
    struct mf_model *m = NULL;
    assert_int_equal(mf_model_new(&c, 1, 1, 1, &m, NULL), MF_EINVAL);
    assert_null(m);

    /* config.json round trip, then damaged copies */
    c.hidden = 96;
    c.tied = 0;
    c.rope_theta = 500000.0f;
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", tmpdir);
    assert_int_equal(mf_model_config_save(&c, path, &err), 0);
    struct mf_model_config d;
    assert_int_equal(mf_model_config_load(path, &d, &err), 0);
    assert_memory_equal(&c, &d, sizeof c);
    const char *bad[] = {
        "{\"architecture\":\"medfm-decoder\",\"version\":1,\"vocab\":10,\"dim\":30,\"layers\":1,"
        "\"heads\":4,\"hidden\":8,\"context\":8,\"tied\":true,\"rope_theta\":10000,"
        "\"norm_eps\":1e-5}",
        "{\"architecture\":\"medfm-decoder\",\"version\":1,\"vocab\":10,\"dim\":32,\"layers\":1,"
        "\"heads\":4,\"hidden\":8,\"context\":8,\"tied\":true,\"rope_theta\":10000}",
        "{\"architecture\":\"medfm-decoder\",\"version\":1,\"vocab\":10.5,\"dim\":32,\"layers\":1,"
        "\"heads\":4,\"hidden\":8,\"context\":8,\"tied\":true,\"rope_theta\":10000,"
        "\"norm_eps\":1e-5}",
        "{\"architecture\":\"gpt\",\"version\":1}",
        "{\"architecture\":\"medfm-decoder\",\"version\":1,\"vocab\":10,\"dim\":32,\"layers\":1,"
        "\"heads\":4,\"hidden\":8,\"context\":8,\"tied\":true,\"rope_theta\":10000,"
        "\"norm_eps\":1e-5,\"dropout\":0.1}",
        "[1,2",
    };
    const char *field[] = {"heads", "norm_eps", "vocab", "architecture", "dropout", "JSON"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mf_fs_write_file_atomic(path, bad[i], strlen(bad[i]), NULL), 0);
        mf_err_clear(&err);
        assert_true(mf_model_config_load(path, &d, &err) < 0);
        if (strstr(err.msg, field[i]) == NULL || strstr(err.msg, path) == NULL)
            fail_msg("case %zu: '%s'", i, err.msg);
    }
}

/* ---- safetensors ---- */

static void read_all(const char *path, struct mf_buf *b)
{
    mf_buf_reset(b);
    assert_int_equal(mf_fs_read_file(path, (size_t)1 << 28, b, NULL), 0);
}

/* Write `file` with its header edited: the first `from` replaced by `to`. */
static void write_edited(const char *path, const struct mf_buf *file, const char *from,
                         const char *to)
{
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)(uint8_t)file->data[i] << (8 * i);
    struct mf_buf h = MF_BUF_INIT, out = MF_BUF_INIT;
    assert_int_equal(mf_buf_append(&h, file->data + 8, (size_t)hl), 0);
    char *at = strstr(h.data, from);
    if (at == NULL)
        fail_msg("'%s' not in the header", from);
    size_t pre = (size_t)(at - h.data), nf = strlen(from);
    struct mf_buf nh = MF_BUF_INIT;
    assert_int_equal(mf_buf_append(&nh, h.data, pre), 0);
    assert_int_equal(mf_buf_puts(&nh, to), 0);
    assert_int_equal(mf_buf_append(&nh, h.data + pre + nf, h.len - pre - nf), 0);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)nh.len >> (8 * i));
    assert_int_equal(mf_buf_append(&out, len, 8), 0);
    assert_int_equal(mf_buf_append(&out, nh.data, nh.len), 0);
    assert_int_equal(mf_buf_append(&out, file->data + 8 + hl, file->len - 8 - (size_t)hl), 0);
    assert_int_equal(mf_fs_write_file_atomic(path, out.data, out.len, NULL), 0);
    mf_buf_release(&h);
    mf_buf_release(&nh);
    mf_buf_release(&out);
}

static void expect_load_error(struct mf_model *m, const char *path, const char *what,
                              const char *what2)
{
    struct mf_err err = {0};
    size_t np = mf_model_n_params(m);
    float *before = malloc(np * sizeof *before);
    assert_non_null(before);
    memcpy(before, mf_model_params(m), np * sizeof *before);
    int rc = mf_model_load_safetensors(m, path, &err);
    if (rc >= 0 || strstr(err.msg, path) == NULL || strstr(err.msg, what) == NULL ||
        (what2 && strstr(err.msg, what2) == NULL))
        fail_msg("expected an error with '%s': rc %d '%s'", what, rc, err.msg);
    assert_memory_equal(before, mf_model_params(m), np * sizeof *before);
    free(before);
}

static void safetensors_round_trip(void **state)
{
    (void)state;
    struct mf_model_config c = tiny_cfg(0);
    struct mf_model *a = new_model(&c, 1, 0, 21), *b = new_model(&c, 1, 0, 22);
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", tmpdir);
    const char *meta[] = {"step", "100", "note", "quote \" and \\ back"};
    struct mf_err err = {0};
    assert_int_equal(mf_model_save_safetensors(a, path, meta, 2, &err), 0);
    size_t np = mf_model_n_params(a);
    assert_memory_not_equal(mf_model_params(a), mf_model_params(b), np * sizeof(float));
    assert_int_equal(mf_model_load_safetensors(b, path, &err), 0);
    assert_memory_equal(mf_model_params(a), mf_model_params(b), np * sizeof(float));

    struct mf_buf f = MF_BUF_INIT;
    read_all(path, &f);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)(uint8_t)f.data[i] << (8 * i);
    assert_int_equal((8 + hl) % 8, 0);
    assert_int_equal(f.len, 8 + hl + np * sizeof(float));
    assert_non_null(strstr(f.data + 8, "\"__metadata__\":{\"format\":\"pt\",\"step\":\"100\""));

    /* truncated */
    assert_int_equal(mf_fs_write_file_atomic(bad, f.data, f.len - 100, NULL), 0);
    expect_load_error(b, bad, "output.weight", "past the data section");
    assert_int_equal(mf_fs_write_file_atomic(bad, f.data, 5, NULL), 0);
    expect_load_error(b, bad, "too short", NULL);
    /* header length past the end, and one that cuts the JSON */
    struct mf_buf g = MF_BUF_INIT;
    assert_int_equal(mf_buf_append(&g, f.data, f.len), 0);
    g.data[0] = (char)0xff, g.data[1] = (char)0xff, g.data[5] = 1;
    assert_int_equal(mf_fs_write_file_atomic(bad, g.data, g.len, NULL), 0);
    expect_load_error(b, bad, "header length", NULL);
    memcpy(g.data, f.data, 8);
    g.data[0] = (char)(hl - 9);
    g.data[1] = (char)((hl - 9) >> 8);
    assert_int_equal(mf_fs_write_file_atomic(bad, g.data, g.len, NULL), 0);
    expect_load_error(b, bad, "invalid JSON", NULL);
    mf_buf_release(&g);
    /* wrong shape */
    write_edited(bad, &f, "\"shape\":[11,16]", "\"shape\":[16,11]");
    expect_load_error(b, bad, "tok_embeddings.weight", "shape");
    /* wrong dtype */
    write_edited(bad, &f, "\"dtype\":\"F32\"", "\"dtype\":\"F16\"");
    expect_load_error(b, bad, "tok_embeddings.weight", "F32");
    /* missing tensor: norm.weight's entry cut out */
    {
        char *s = strstr(f.data + 8, ",\"norm.weight\":{");
        assert_non_null(s);
        char *e = strchr(s, '}');
        char cut[256];
        snprintf(cut, sizeof cut, "%.*s", (int)(e - s + 1), s);
        write_edited(bad, &f, cut, "");
        expect_load_error(b, bad, "norm.weight", "missing");
    }
    /* an extra tensor, a repeated one */
    write_edited(bad, &f, "\"norm.weight\"", "\"norm.weights\"");
    expect_load_error(b, bad, "unexpected tensor", "norm.weights");
    /* offsets out of range, overlapping, not matching the shape, negative */
    write_edited(bad, &f, "\"data_offsets\":[0,704]", "\"data_offsets\":[0,99999999]");
    expect_load_error(b, bad, "tok_embeddings.weight", "past the data section");
    write_edited(bad, &f, "\"data_offsets\":[0,704]", "\"data_offsets\":[0,700]");
    expect_load_error(b, bad, "tok_embeddings.weight", "span");
    write_edited(bad, &f, "\"data_offsets\":[0,704]", "\"data_offsets\":[-4,700]");
    expect_load_error(b, bad, "tok_embeddings.weight", "data_offsets");
    write_edited(bad, &f, "\"data_offsets\":[704,768]", "\"data_offsets\":[640,704]");
    expect_load_error(b, bad, "overlap", NULL);
    write_edited(bad, &f, "{\"__metadata__\"", "{\"__metadata__\":3,\"__metadata__\"");
    expect_load_error(b, bad, "__metadata__", NULL);
    write_edited(bad, &f, "\"step\":\"100\"", "\"step\":100");
    expect_load_error(b, bad, "__metadata__", NULL);
    /* trailing garbage after the JSON object */
    write_edited(bad, &f, "]}}", "]}}}");
    expect_load_error(b, bad, "invalid JSON", NULL);
    /* a model of another shape refuses the file */
    struct mf_model_config c2 = tiny_cfg(1);
    struct mf_model *t = new_model(&c2, 1, 0, 1);
    expect_load_error(t, path, "unexpected tensor", "output.weight");
    mf_model_free(t);
    /* missing file */
    snprintf(bad, sizeof bad, "%s/none.safetensors", tmpdir);
    assert_int_equal(mf_model_load_safetensors(b, bad, &err), MF_ENOTFOUND);
    mf_buf_release(&f);
    mf_model_free(a);
    mf_model_free(b);
}

/* ---- AdamW ---- */

static void adamw_step(void **state)
{
    (void)state;
    struct mf_model_config c = tiny_cfg(1);
    struct mf_model *m = new_model(&c, 1, 1, 5);
    size_t np = mf_model_n_params(m);
    float *P = mf_model_params(m), *G = mf_model_grads(m);
    double *p = malloc(np * 8), *m1 = calloc(np, 8), *m2 = calloc(np, 8);
    assert_true(p && m1 && m2);
    struct mf_rng r;
    mf_rng_seed(&r, 30, 0);
    for (size_t i = 0; i < np; i++)
        p[i] = P[i];
    struct mf_adamw o = {
        .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    /* which entries are decayed */
    unsigned char *mat = calloc(np, 1);
    assert_non_null(mat);
    for (size_t t = 0; t < mf_model_n_tensors(m); t++) {
        const struct mf_tensor_info *ti = mf_model_tensor(m, t);
        size_t n = (size_t)ti->shape[0] * (size_t)(ti->ndim == 2 ? ti->shape[1] : 1);
        memset(mat + ti->offset, ti->ndim == 2, n);
    }
    for (int step = 1; step <= 3; step++) {
        for (size_t i = 0; i < np; i++)
            G[i] = i % 17 == 0 ? 0.0f : (float)(0.01 * mf_rng_normal(&r));
        mf_model_adamw_step(m, &o, step);
        double b1 = o.beta1, b2 = o.beta2, lr = o.lr;
        for (size_t i = 0; i < np; i++) {
            double gi = G[i];
            if (mat[i])
                p[i] *= 1 - lr * (double)o.weight_decay;
            m1[i] = b1 * m1[i] + (1 - b1) * gi;
            m2[i] = b2 * m2[i] + (1 - b2) * gi * gi;
            double mh = m1[i] / (1 - pow(b1, step));
            double den = sqrt(m2[i]) / sqrt(1 - pow(b2, step)) + (double)o.eps;
            p[i] -= lr * mh / den;
        }
        for (size_t i = 0; i < np; i++)
            if (fabs(P[i] - p[i]) > 1e-6 * fabs(p[i]) + 1e-7)
                fail_msg("step %d param %zu: %.9g vs %.9g", step, i, P[i], p[i]);
    }
    /* the moments are first then second */
    const float *mo = mf_model_moments(m);
    for (size_t i = 0; i < np; i += 97) {
        if (!(fabs(mo[i] - m1[i]) <= 1e-6 * fabs(m1[i]) + 1e-9))
            fail_msg("moment %zu: %.9g vs %.9g", i, mo[i], m1[i]);
        assert_true(fabs(mo[np + i] - m2[i]) <= 1e-6 * fabs(m2[i]) + 1e-14);
    }
    /* norm weights are not decayed: zero gradient from zero moments leaves them alone */
    struct mf_model *z = new_model(&c, 1, 1, 5);
    const struct mf_tensor_info *nw = mf_model_tensor(z, 1);
    assert_int_equal(nw->ndim, 1);
    float before = mf_model_params(z)[nw->offset];
    float emb = mf_model_params(z)[0];
    mf_model_adamw_step(z, &o, 1);
    assert_true(mf_model_params(z)[nw->offset] == before);
    assert_true(mf_model_params(z)[0] ==
                (float)(emb * (float)(1 - (double)o.lr * (double)o.weight_decay)));
    mf_model_free(z);
    free(p), free(m1), free(m2), free(mat);
    mf_model_free(m);
}

static void layout_and_init(void **state)
{
    (void)state;
    struct mf_model_config c = tiny_cfg(0);
    struct mf_model *m = new_model(&c, 1, 1, 1);
    size_t nt = mf_model_n_tensors(m);
    assert_int_equal(nt, 2 + 9 * 2 + 1);
    assert_string_equal(mf_model_tensor(m, 0)->name, "tok_embeddings.weight");
    assert_string_equal(mf_model_tensor(m, 1)->name, "layers.0.attention_norm.weight");
    assert_string_equal(mf_model_tensor(m, 2)->name, "layers.0.attention.wq.weight");
    assert_string_equal(mf_model_tensor(m, 9)->name, "layers.0.feed_forward.w2.weight");
    assert_string_equal(mf_model_tensor(m, nt - 2)->name, "norm.weight");
    assert_string_equal(mf_model_tensor(m, nt - 1)->name, "output.weight");
    assert_null(mf_model_tensor(m, nt));
    size_t off = 0;
    for (size_t i = 0; i < nt; i++) {
        const struct mf_tensor_info *t = mf_model_tensor(m, i);
        assert_int_equal(t->offset, off);
        off += (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
    }
    assert_int_equal(off, mf_model_n_params(m));
    /* norms are ones; wq has sd ~0.02, wo ~0.02/sqrt(4) */
    const float *P = mf_model_params(m);
    assert_true(P[mf_model_tensor(m, 1)->offset] == 1.0f);
    double s2 = 0, s5 = 0;
    for (int i = 0; i < 256; i++) {
        s2 += (double)P[mf_model_tensor(m, 2)->offset + i] * P[mf_model_tensor(m, 2)->offset + i];
        s5 += (double)P[mf_model_tensor(m, 5)->offset + i] * P[mf_model_tensor(m, 5)->offset + i];
    }
    assert_true(fabs(sqrt(s2 / 256) - 0.02) < 0.004);
    assert_true(fabs(sqrt(s5 / 256) - 0.01) < 0.002);
    mf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_grad),
        cmocka_unit_test(rmsnorm_grad),
        cmocka_unit_test(rope_is_a_rotation),
        cmocka_unit_test(swiglu_grad),
        cmocka_unit_test(attention_grad),
        cmocka_unit_test(attention_matches_naive),
        cmocka_unit_test(layout_and_init),
        cmocka_unit_test(model_gradcheck_tied),
        cmocka_unit_test(model_gradcheck_untied),
        cmocka_unit_test(ignored_targets),
        cmocka_unit_test(grad_accumulation),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(inference_matches_training),
        cmocka_unit_test(config_checks),
        cmocka_unit_test(safetensors_round_trip),
        cmocka_unit_test(adamw_step),
    };
    return cmocka_run_group_tests_name("nn", tests, setup_tmp, teardown_tmp);
}
