/* nn_int.h - the layer kernels of the transformer (internal to src/nn and its tests).
 *
 * Each layer is a forward/backward pair over plain float arrays; shapes are in the comments
 * (N rows = B windows x T positions, C = dim, H = hidden, NH = heads, hd = C / NH).  Backward
 * functions say which outputs they overwrite and which they add into.  Every kernel gives
 * results that do not depend on the OpenMP thread schedule or thread count, except the matrix
 * products, which OpenBLAS makes deterministic for a fixed thread count.
 */
#ifndef MF_NN_INT_H
#define MF_NN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#include "nn/model.h"

/* The model's layout and buffers (model.c allocates them; decode.c reads them too). */
struct layer {
    size_t n1, wq, wk, wv, wo, n2, w1, w3, w2; /* offsets into the parameter block */
};

struct mf_model {
    struct mf_model_config c;
    int max_batch, train;
    float eps;
    double theta;
    size_t n_params, n_tensors;
    struct mf_tensor_info *tensors;
    struct layer *lay;
    size_t emb, normf, outw; /* outw == emb when tied */
    float *params, *grads, *moments;

    /* activations, rows N = B * T (at most max_batch * context) */
    size_t nmax;
    size_t sc, sh, sn, slse; /* per-layer strides (0 for inference: layers share) */
    float *act;
    float *x;       /* [L+1][N][C] the residual stream entering each layer, then the last output */
    float *h;       /* [L][N][C] after the attention residual */
    float *n1, *n2; /* [L][N][C] normed inputs of attention and MLP */
    float *rstd1, *rstd2; /* [L][N] */
    float *q, *k, *v;     /* [L][N][C] after rotary (q, k) */
    float *att;           /* [L][N][C] attention output before wo */
    float *lse;           /* [L][B][NH][T] */
    float *a1, *a3, *g;   /* [L][N][H] */
    float *nf, *rstdf;    /* [N][C], [N] final norm */
    float *logits;        /* [N][V] */
    float *rowlse;        /* [N] log-sum-exp of each counted row's logits */
    float *rope;          /* cos/sin tables for context positions */
    /* backward scratch (training only) */
    float *dx, *dn, *dq, *dk, *dv, *datt, *da1, *dg, *dlogits, *dsum;
    uint32_t *tokens, *targets; /* copies of the last forward's inputs */

    int B, T, have_fwd, have_targets;
    size_t count;
    double loss;
};

/* Whether a loop over `work` elementary operations is worth a parallel region (an OpenMP
 * `if` clause: results are the same either way, only small loops skip the thread wake-up). */
#define MF_NN_PAR(work) ((work) >= ((size_t)1 << 15))

/* The block size (rows of queries, columns of keys) of the streamed attention. */
#define MF_NN_ATTN_BLOCK 64

/* y[N][out] = x[N][in] W^T, W [out][in]. */
void mf_nn_matmul_forward(float *y, const float *x, const float *w, int N, int in, int out);
/* The same for few rows (N <= MF_NN_SKINNY_ROWS: decoding), without packing (skinny.c); more
 * rows, or a CPU without AVX2 and FMA, go to mf_nn_matmul_forward. */
#define MF_NN_SKINNY_ROWS 32
void mf_nn_matmul_skinny(float *y, const float *x, const float *w, int N, int in, int out);
/* dx[N][in] = (or += when dx_add) dy W; dw[out][in] += dy^T x.  dx or dw may be NULL. */
void mf_nn_matmul_backward(float *dx, int dx_add, float *dw, const float *dy, const float *x,
                           const float *w, int N, int in, int out);

/* out[N][C] = x / sqrt(mean(x^2) + eps) * g; rstd[N] keeps 1 / sqrt(mean(x^2) + eps). */
void mf_nn_rmsnorm_forward(float *out, float *rstd, const float *x, const float *g, int N, int C,
                           float eps);
/* dx += d/dx, dg += d/dg of the forward above, given dout. */
void mf_nn_rmsnorm_backward(float *dx, float *dg, const float *dout, const float *x, const float *g,
                            const float *rstd, int N, int C);

/* Rotate rows of x[N][C] whose positions are pos0 + (row % T) (the inference path: rows
 * continue a cached sequence).  tab is built for table_T positions. */
void mf_nn_rope_at(float *x, const float *tab, int table_T, int N, int T, int pos0, int C, int NH);

/* Rotary tables for positions 0..T-1 and pairs 0..hd/2-1: cos/sin of pos * theta^(-2i/hd),
 * computed in double.  tab has 2 * T * hd/2 floats (cos then sin). */
void mf_nn_rope_table(float *tab, int T, int hd, double theta);
/* Rotate (forward) or rotate back (backward: the transpose, for gradients) every head's pairs
 * (2i, 2i+1) of x[B*T][C] in place; position = row % T.  tab is for at least T positions,
 * built with table_T positions. */
void mf_nn_rope_forward(float *x, const float *tab, int table_T, int B, int T, int C, int NH);
void mf_nn_rope_backward(float *dx, const float *tab, int table_T, int B, int T, int C, int NH);

/* Causal softmax attention, streamed over key blocks of `block` with a running max and sum.
 * q, k, v, out are [B*T][C] with head h in columns h*hd..(h+1)*hd; lse[B][NH][T] keeps each
 * row's log-sum-exp (of the scaled scores) for the backward pass. */
void mf_nn_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                             int B, int T, int C, int NH, int block);
/* Overwrites dq, dk, dv [B*T][C]; dsum [B][NH][T] is scratch (rowsum(dout * out)). */
void mf_nn_attention_backward(float *dq, float *dk, float *dv, float *dsum, const float *dout,
                              const float *out, const float *lse, const float *q, const float *k,
                              const float *v, int B, int T, int C, int NH, int block);

/* g = silu(a1) * a3 elementwise over n values. */
void mf_nn_swiglu_forward(float *g, const float *a1, const float *a3, size_t n);
/* da1 = dg * a3 * silu'(a1); da3 = dg * silu(a1).  da3 may be dg (in place). */
void mf_nn_swiglu_backward(float *da1, float *da3, const float *dg, const float *a1,
                           const float *a3, size_t n);

/* The loss of the last forward in double (the float one is rounded from it); for tests. */
double mf_nn_last_loss(const struct mf_model *m);

/* Load parameters from a safetensors image held in memory; `name` names it in errors.  The
 * parameters are changed only when the whole image is valid. */
int mf_nn_safetensors_parse(struct mf_model *m, const uint8_t *data, size_t n, const char *name,
                            struct mf_err *err);

#endif
