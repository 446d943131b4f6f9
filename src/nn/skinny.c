/* skinny.c - matrix products with few rows (decoding: one row per future), y[N][out] =
 * x[N][in] W^T with W [out][in], without packing either matrix.
 *
 * With N of a few dozen, a general GEMM spends much of its time packing the weights into
 * panels it then uses only N times.  Here both x and W are read in place, as dot products:
 * a tile of 4 rows of x and 3 rows of W keeps 12 eight-wide accumulators (AVX2 + FMA) and
 * reads 7 vectors per 12 fused multiply-adds; the weights are walked once per group of 4 rows,
 * x stays in the L1/L2 cache.  Threads take disjoint ranges of W's rows (OpenMP, static), so
 * every output is one thread's fixed-order sum: results do not depend on the thread count.
 * Machines without AVX2 and FMA (checked at run time) use OpenBLAS.
 */
#include <stddef.h>

#include <cblas.h>

#include "nn/nn_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MF_SKINNY_X86 1

__attribute__((target("avx2,fma"))) static inline float hsum(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* y[r][j] for rows r0..r0+4 and outputs j0..j0+3 (all present): named accumulators so the
 * compiler keeps all twelve in registers */
__attribute__((target("avx2,fma"))) static void tile43(float *y, const float *x, const float *w,
                                                       int in, int out, int r0, int j0)
{
    const float *x0 = x + (size_t)r0 * in, *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in;
    const float *w0 = w + (size_t)j0 * in, *w1 = w0 + in, *w2 = w1 + in;
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    int k = 0;
    for (; k + 8 <= in; k += 8) {
        __m256 v0 = _mm256_loadu_ps(w0 + k), v1 = _mm256_loadu_ps(w1 + k),
               v2 = _mm256_loadu_ps(w2 + k);
        __m256 u = _mm256_loadu_ps(x0 + k);
        a00 = _mm256_fmadd_ps(u, v0, a00);
        a01 = _mm256_fmadd_ps(u, v1, a01);
        a02 = _mm256_fmadd_ps(u, v2, a02);
        u = _mm256_loadu_ps(x1 + k);
        a10 = _mm256_fmadd_ps(u, v0, a10);
        a11 = _mm256_fmadd_ps(u, v1, a11);
        a12 = _mm256_fmadd_ps(u, v2, a12);
        u = _mm256_loadu_ps(x2 + k);
        a20 = _mm256_fmadd_ps(u, v0, a20);
        a21 = _mm256_fmadd_ps(u, v1, a21);
        a22 = _mm256_fmadd_ps(u, v2, a22);
        u = _mm256_loadu_ps(x3 + k);
        a30 = _mm256_fmadd_ps(u, v0, a30);
        a31 = _mm256_fmadd_ps(u, v1, a31);
        a32 = _mm256_fmadd_ps(u, v2, a32);
    }
    float r[4][3] = {{hsum(a00), hsum(a01), hsum(a02)},
                     {hsum(a10), hsum(a11), hsum(a12)},
                     {hsum(a20), hsum(a21), hsum(a22)},
                     {hsum(a30), hsum(a31), hsum(a32)}};
    const float *xs[4] = {x0, x1, x2, x3}, *ws[3] = {w0, w1, w2};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++) {
            float s2 = r[a][b];
            for (int kk = k; kk < in; kk++)
                s2 += xs[a][kk] * ws[b][kk];
            y[(size_t)(r0 + a) * out + j0 + b] = s2;
        }
}

/* a partial tile (fewer than 4 rows or 3 outputs): plain dot products */
__attribute__((target("avx2,fma"))) static void
tile_edge(float *y, const float *x, const float *w, int in, int out, int r0, int nr, int j0, int nj)
{
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < nj; b++) {
            const float *xa = x + (size_t)(r0 + a) * in, *wb = w + (size_t)(j0 + b) * in;
            __m256 acc = _mm256_setzero_ps();
            int k = 0;
            for (; k + 8 <= in; k += 8)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(xa + k), _mm256_loadu_ps(wb + k), acc);
            float s2 = hsum(acc);
            for (; k < in; k++)
                s2 += xa[k] * wb[k];
            y[(size_t)(r0 + a) * out + j0 + b] = s2;
        }
}

__attribute__((target("avx2,fma"))) static void skinny_avx2(float *y, const float *x,
                                                            const float *w, int N, int in, int out)
{
    int nt = (out + 2) / 3;
#pragma omp parallel for schedule(static) if (MF_NN_PAR((size_t)N * in * out))
    for (int t = 0; t < nt; t++) {
        int j0 = 3 * t, nj = out - j0 < 3 ? out - j0 : 3;
        for (int r0 = 0; r0 < N; r0 += 4) {
            int nr = N - r0 < 4 ? N - r0 : 4;
            if (nr == 4 && nj == 3)
                tile43(y, x, w, in, out, r0, j0);
            else
                tile_edge(y, x, w, in, out, r0, nr, j0, nj);
        }
    }
}
#endif

static int have_avx2(void)
{
#ifdef MF_SKINNY_X86
    static int have = -1;
    if (have < 0)
        have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return have;
#else
    return 0;
#endif
}

void mf_nn_matmul_skinny(float *y, const float *x, const float *w, int N, int in, int out)
{
#ifdef MF_SKINNY_X86
    if (N <= MF_NN_SKINNY_ROWS && have_avx2()) {
        skinny_avx2(y, x, w, N, in, out);
        return;
    }
#endif
    mf_nn_matmul_forward(y, x, w, N, in, out);
}
