/* attention.c - causal multi-head softmax attention, streamed over key blocks.
 *
 * Forward (FlashAttention style): for each (window, head, query block), walk the key blocks up
 * to the diagonal keeping each query row's running maximum m and running sum l of
 * exp(score - m), rescaling the partial output whenever the maximum grows.  Only the output and
 * each row's log-sum-exp (m + log l) are kept.  Backward (FlashAttention-2): D_i = rowsum(dO_i *
 * O_i); for each key block and each query block at or below the diagonal, recompute
 * P = exp(S - lse), then dV += P^T dO, dS = P * (dO V^T - D), dQ += dS K * scale,
 * dK += dS^T Q * scale.  The tile products are OpenBLAS calls, single-threaded inside the
 * parallel region.  Memory beyond the inputs and outputs is two block tiles per thread.
 *
 * Work is split over (window, head) pairs; each pair writes only its own rows and columns, and
 * sums in a fixed order, so results are identical for any number of threads.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <cblas.h>

#include "nn/nn_int.h"

static float dot(const float *a, const float *b, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* c[m][n] = alpha a b^T (+ c when add): tiles of at most one block, run single-threaded by
 * OpenBLAS inside the parallel region, so each (window, head) sums in one fixed order */
static void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *a, int lda,
                 const float *b, int ldb, int add, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
                K, alpha, a, lda, b, ldb, add ? 1.0f : 0.0f, c, ldc);
}

void mf_nn_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                             int B, int T, int C, int NH, int block)
{
    int hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd);
    if (block < 1 || block > MF_NN_ATTN_BLOCK)
        block = MF_NN_ATTN_BLOCK;
    const int BS = MF_NN_ATTN_BLOCK;
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)B * T * T * C / 2))
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t base = (size_t)b * T * C + (size_t)h * hd;
        float S[MF_NN_ATTN_BLOCK * MF_NN_ATTN_BLOCK], mx[MF_NN_ATTN_BLOCK], sum[MF_NN_ATTN_BLOCK];
        for (int i0 = 0; i0 < T; i0 += block) {
            int i1 = i0 + block < T ? i0 + block : T, br = i1 - i0;
            float *O = out + base + (size_t)i0 * C;
            for (int r = 0; r < br; r++) {
                mx[r] = -INFINITY;
                sum[r] = 0;
                memset(O + (size_t)r * C, 0, sizeof(float) * (size_t)hd);
            }
            for (int j0 = 0; j0 < i1; j0 += block) {
                int j1 = j0 + block < i1 ? j0 + block : i1, bc = j1 - j0;
                /* S = scale Q_i K_j^T */
                gemm(0, 1, br, bc, hd, scale, q + base + (size_t)i0 * C, C,
                     k + base + (size_t)j0 * C, C, 0, S, BS);
                for (int r = 0; r < br; r++) {
                    int i = i0 + r;
                    int jend = j1 < i + 1 ? j1 : i + 1; /* causal */
                    float *s = S + (size_t)r * BS;
                    if (jend <= j0) {
                        for (int c = 0; c < bc; c++)
                            s[c] = 0;
                        continue;
                    }
                    float bmax = -INFINITY;
                    for (int c = 0; c < jend - j0; c++)
                        bmax = s[c] > bmax ? s[c] : bmax;
                    float mold = mx[r];
                    float mnew = mold > bmax ? mold : bmax;
                    float corr = expf(mold - mnew); /* 0 when mold is -inf */
                    float l = sum[r] * corr;
                    if (corr != 1.0f) {
                        float *o = O + (size_t)r * C;
                        for (int d = 0; d < hd; d++)
                            o[d] *= corr;
                    }
                    for (int c = 0; c < jend - j0; c++) {
                        s[c] = expf(s[c] - mnew);
                        l += s[c];
                    }
                    for (int c = jend - j0; c < bc; c++)
                        s[c] = 0;
                    mx[r] = mnew;
                    sum[r] = l;
                }
                /* O_i += P V_j */
                gemm(0, 0, br, hd, bc, 1.0f, S, BS, v + base + (size_t)j0 * C, C, 1, O, C);
            }
            for (int r = 0; r < br; r++) {
                float *o = O + (size_t)r * C;
                float inv = 1.0f / sum[r];
                for (int d = 0; d < hd; d++)
                    o[d] *= inv;
                lse[(size_t)bh * T + i0 + r] = mx[r] + logf(sum[r]);
            }
        }
    }
}

void mf_nn_attention_backward(float *dq, float *dk, float *dv, float *dsum, const float *dout,
                              const float *out, const float *lse, const float *q, const float *k,
                              const float *v, int B, int T, int C, int NH, int block)
{
    int hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd);
    if (block < 1 || block > MF_NN_ATTN_BLOCK)
        block = MF_NN_ATTN_BLOCK;
    const int BS = MF_NN_ATTN_BLOCK;
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)B * T * T * C))
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t base = (size_t)b * T * C + (size_t)h * hd;
        float *D = dsum + (size_t)bh * T;
        const float *L = lse + (size_t)bh * T;
        float P[MF_NN_ATTN_BLOCK * MF_NN_ATTN_BLOCK], dS[MF_NN_ATTN_BLOCK * MF_NN_ATTN_BLOCK];
        for (int i = 0; i < T; i++) {
            size_t o = base + (size_t)i * C;
            D[i] = dot(dout + o, out + o, hd);
            memset(dq + o, 0, sizeof(float) * (size_t)hd);
            memset(dk + o, 0, sizeof(float) * (size_t)hd);
            memset(dv + o, 0, sizeof(float) * (size_t)hd);
        }
        for (int j0 = 0; j0 < T; j0 += block) {
            int j1 = j0 + block < T ? j0 + block : T, bc = j1 - j0;
            size_t oj = base + (size_t)j0 * C;
            for (int i0 = j0; i0 < T; i0 += block) {
                int i1 = i0 + block < T ? i0 + block : T, br = i1 - i0;
                size_t oi = base + (size_t)i0 * C;
                /* P = exp(scale Q_i K_j^T - lse_i), 0 above the diagonal */
                gemm(0, 1, br, bc, hd, scale, q + oi, C, k + oj, C, 0, P, BS);
                for (int r = 0; r < br; r++) {
                    int i = i0 + r;
                    int n = (i + 1 < j1 ? i + 1 : j1) - j0;
                    float *p = P + (size_t)r * BS;
                    for (int c = 0; c < n; c++)
                        p[c] = expf(p[c] - L[i]);
                    for (int c = n < 0 ? 0 : n; c < bc; c++)
                        p[c] = 0;
                }
                /* dV_j += P^T dO_i; dP = dO_i V_j^T; dS = P (dP - D_i) scale */
                gemm(1, 0, bc, hd, br, 1.0f, P, BS, dout + oi, C, 1, dv + oj, C);
                gemm(0, 1, br, bc, hd, 1.0f, dout + oi, C, v + oj, C, 0, dS, BS);
                for (int r = 0; r < br; r++) {
                    float Di = D[i0 + r];
                    const float *p = P + (size_t)r * BS;
                    float *ds = dS + (size_t)r * BS;
                    for (int c = 0; c < bc; c++)
                        ds[c] = p[c] * (ds[c] - Di) * scale;
                }
                /* dQ_i += dS K_j; dK_j += dS^T Q_i */
                gemm(0, 0, br, hd, bc, 1.0f, dS, BS, k + oj, C, 1, dq + oi, C);
                gemm(1, 0, bc, hd, br, 1.0f, dS, BS, q + oi, C, 1, dk + oj, C);
            }
        }
    }
}
