/* layers.c - the pointwise and per-row layers of the transformer and the matrix products:
 * linear (OpenBLAS), RMSNorm, rotary position embedding, SwiGLU.
 *
 * Each loop is an OpenMP loop with a static schedule in which every output element is written
 * by one iteration, so results do not depend on the thread schedule.  Reductions over rows
 * (the norm weight's gradient) run over columns instead, each column summing its rows in
 * order.  Attention is in attention.c.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <cblas.h>

#include "nn/nn_int.h"

void mf_nn_matmul_forward(float *y, const float *x, const float *w, int N, int in, int out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, in, w, in, 0.0f, y,
                out);
}

void mf_nn_matmul_backward(float *dx, int dx_add, float *dw, const float *dy, const float *x,
                           const float *w, int N, int in, int out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dy, out, w, in,
                    dx_add ? 1.0f : 0.0f, dx, in);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, 1.0f, dy, out, x, in, 1.0f,
                    dw, in);
}

void mf_nn_rmsnorm_forward(float *out, float *rstd, const float *x, const float *g, int N, int C,
                           float eps)
{
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        float *o = out + (size_t)r * C;
        double ss = 0;
        for (int c = 0; c < C; c++)
            ss += (double)xr[c] * xr[c];
        float s = (float)(1.0 / sqrt(ss / C + (double)eps));
        rstd[r] = s;
        for (int c = 0; c < C; c++)
            o[c] = xr[c] * s * g[c];
    }
}

void mf_nn_rmsnorm_backward(float *dx, float *dg, const float *dout, const float *x, const float *g,
                            const float *rstd, int N, int C)
{
    /* dg[c] += sum_r dout[r][c] * x[r][c] * rstd[r], each column summed in row order */
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int r = 0; r < N; r++)
            s += (double)dout[(size_t)r * C + c] * x[(size_t)r * C + c] * rstd[r];
        dg[c] += (float)s;
    }
    /* dx = rstd * (dxhat - xhat * mean(dxhat * xhat)), dxhat = dout * g, xhat = x * rstd */
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        const float *dr = dout + (size_t)r * C;
        float *o = dx + (size_t)r * C;
        float s = rstd[r];
        double dot = 0;
        for (int c = 0; c < C; c++)
            dot += (double)dr[c] * g[c] * xr[c] * s;
        float mean = (float)(dot / C);
        for (int c = 0; c < C; c++)
            o[c] += s * (dr[c] * g[c] - xr[c] * s * mean);
    }
}

void mf_nn_rope_table(float *tab, int T, int hd, double theta)
{
    int half = hd / 2;
    float *cs = tab, *sn = tab + (size_t)T * half;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double freq = pow(theta, -2.0 * i / hd);
            double a = t * freq;
            cs[(size_t)t * half + i] = (float)cos(a);
            sn[(size_t)t * half + i] = (float)sin(a);
        }
}

/* dir = 1 rotates by +angle, -1 by -angle (the transpose) */
static void rope(float *x, const float *tab, int table_T, int N, int T, int pos0, int C, int NH,
                 int dir)
{
    int hd = C / NH, half = hd / 2;
    const float *cs = tab, *sn = tab + (size_t)table_T * half;
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * C))
    for (int r = 0; r < N; r++) {
        int t = pos0 + r % T;
        const float *cr = cs + (size_t)t * half, *sr = sn + (size_t)t * half;
        for (int h = 0; h < NH; h++) {
            float *p = x + (size_t)r * C + (size_t)h * hd;
            for (int i = 0; i < half; i++) {
                float a = p[2 * i], b = p[2 * i + 1];
                float c = cr[i], s = dir > 0 ? sr[i] : -sr[i];
                p[2 * i] = a * c - b * s;
                p[2 * i + 1] = a * s + b * c;
            }
        }
    }
}

void mf_nn_rope_forward(float *x, const float *tab, int table_T, int B, int T, int C, int NH)
{
    rope(x, tab, table_T, B * T, T, 0, C, NH, 1);
}

void mf_nn_rope_at(float *x, const float *tab, int table_T, int N, int T, int pos0, int C, int NH)
{
    rope(x, tab, table_T, N, T, pos0, C, NH, 1);
}

void mf_nn_rope_backward(float *dx, const float *tab, int table_T, int B, int T, int C, int NH)
{
    rope(dx, tab, table_T, B * T, T, 0, C, NH, -1);
}

void mf_nn_swiglu_forward(float *g, const float *a1, const float *a3, size_t n)
{
#pragma omp parallel for schedule(static) if (MF_NN_PAR(n))
    for (size_t i = 0; i < n; i++) {
        float a = a1[i];
        float sig = 1.0f / (1.0f + expf(-a));
        g[i] = a * sig * a3[i];
    }
}

void mf_nn_swiglu_backward(float *da1, float *da3, const float *dg, const float *a1,
                           const float *a3, size_t n)
{
#pragma omp parallel for schedule(static) if (MF_NN_PAR(n))
    for (size_t i = 0; i < n; i++) {
        float a = a1[i], d = dg[i];
        float sig = 1.0f / (1.0f + expf(-a));
        float silu = a * sig;
        da1[i] = d * a3[i] * sig * (1.0f + a * (1.0f - sig));
        da3[i] = d * silu;
    }
}
