/* test_infer.c - incremental decoding (KV cache) against full recomputation, sampling against
 * the softmax (chi-square), the binomial interval. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/rng.h"
#include "infer/infer.h"
#include "nn/model.h"
#include "nn/nn_int.h"
#include "store/store.h"
#include "tasks/task.h"
#include "token/token.h"

static struct mf_model_config small_config(int tied)
{
    struct mf_model_config c = {0};
    c.vocab = 37;
    c.dim = 32;
    c.layers = 2;
    c.heads = 4;
    c.hidden = 48;
    c.context = 64;
    c.tied = tied;
    return c;
}

static struct mf_model *new_model(const struct mf_model_config *c, int max_batch, uint64_t seed)
{
    struct mf_model *m = NULL;
    struct mf_err err = {0};
    int rc = mf_model_new(c, max_batch, 0, seed, &m, &err);
    if (rc)
        fprintf(stderr, "mf_model_new: %s\n", err.msg);
    assert_int_equal(rc, 0);
    /* weights twice the initialization so the attention is far from uniform */
    float *p = mf_model_params(m);
    for (size_t i = 0; i < mf_model_n_params(m); i++)
        p[i] *= 2;
    return m;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        d = e > d ? e : d;
    }
    return d;
}

/* Logits of every position of one sequence from the full forward pass. */
static float *full_logits(struct mf_model *ref, const uint32_t *seq, int T)
{
    const int V = mf_model_config(ref)->vocab;
    assert_int_equal(mf_model_forward(ref, seq, NULL, 1, T, NULL), 0);
    float *out = malloc((size_t)T * V * sizeof *out);
    assert_non_null(out);
    memcpy(out, mf_model_logits(ref), (size_t)T * V * sizeof *out);
    return out;
}

static void kv_matches_full(int tied)
{
    struct mf_model_config c = small_config(tied);
    const int V = c.vocab, T = c.context;
    struct mf_model *ref = new_model(&c, 1, 7);
    struct mf_model *dec = new_model(&c, 1, 7);
    struct mf_kv *kv = NULL;
    assert_int_equal(mf_kv_new(&c, 3, &kv, NULL), 0);
    assert_int_equal(mf_kv_rows(kv), 3);
    /* three rows and the shared area, before any decoding scratch */
    assert_true(mf_kv_bytes(kv) == (size_t)2 * c.layers * 4 * c.context * c.dim * sizeof(float));

    uint32_t seq[3][64];
    struct mf_rng rng;
    mf_rng_seed(&rng, 11, 0);
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < T; t++)
            seq[r][t] = (uint32_t)mf_rng_below(&rng, (uint64_t)V);
    float *full[3];
    for (int r = 0; r < 3; r++)
        full[r] = full_logits(ref, seq[r], T);

    /* row 1: a prompt of 10, then a block of 5 after the cache, then one token at a time */
    float logits[3 * 37], hidden[3 * 32];
    int row = 1;
    assert_int_equal(mf_model_decode(dec, kv, &row, 1, seq[1], 10, 0, logits, hidden), 0);
    assert_true(max_diff(logits, full[1] + 9 * V, V) < 1e-5);
    assert_int_equal(mf_model_decode(dec, kv, &row, 1, seq[1] + 10, 5, 10, logits, NULL), 0);
    assert_true(max_diff(logits, full[1] + 14 * V, V) < 1e-5);
    for (int t = 15; t < T; t++) {
        assert_int_equal(mf_model_decode(dec, kv, &row, 1, seq[1] + t, 1, t, logits, NULL), 0);
        double d = max_diff(logits, full[1] + (size_t)t * V, V);
        if (d >= 1e-5)
            fail_msg("position %d: logits differ by %g", t, d);
    }

    /* rows 2 and 0 together, in that order (rows need not be sorted), in lockstep */
    int rows[2] = {2, 0};
    uint32_t two[2 * 64];
    memcpy(two, seq[2], 20 * sizeof *two);
    memcpy(two + 20, seq[0], 20 * sizeof *two);
    assert_int_equal(mf_model_decode(dec, kv, rows, 2, two, 20, 0, logits, NULL), 0);
    assert_true(max_diff(logits, full[2] + 19 * V, V) < 1e-5);
    assert_true(max_diff(logits + V, full[0] + 19 * V, V) < 1e-5);
    for (int t = 20; t < 40; t++) {
        uint32_t step[2] = {seq[2][t], seq[0][t]};
        assert_int_equal(mf_model_decode(dec, kv, rows, 2, step, 1, t, logits, NULL), 0);
        double d0 = max_diff(logits, full[2] + (size_t)t * V, V);
        double d1 = max_diff(logits + V, full[0] + (size_t)t * V, V);
        if (d0 >= 1e-5 || d1 >= 1e-5)
            fail_msg("position %d: logits differ by %g and %g (|logit| %g)", t, d0, d1,
                     (double)fabsf(logits[0]));
    }

    /* a copied row continues like its source: row 2's first 40 positions into row 1 */
    mf_kv_copy_row(kv, 2, 1, 40);
    row = 1;
    assert_int_equal(mf_model_decode(dec, kv, &row, 1, seq[2] + 40, 1, 40, logits, NULL), 0);
    assert_true(max_diff(logits, full[2] + 40 * V, V) < 1e-5);

    /* a shared prefix: row 1 holds seq[1][0..30); rows 0 and 2 continue it with tokens of
     * their own, reading the prefix from the shared area */
    row = 1;
    assert_int_equal(mf_model_decode(dec, kv, &row, 1, seq[1], 30, 0, logits, NULL), 0);
    mf_kv_share(kv, 1, 30);
    assert_int_equal(mf_kv_shared_len(kv), 30);
    uint32_t cont[2][64];
    memcpy(cont[0], seq[1], 30 * sizeof *cont[0]);
    memcpy(cont[1], seq[1], 30 * sizeof *cont[1]);
    for (int t = 30; t < T; t++) {
        cont[0][t] = seq[0][t];
        cont[1][t] = seq[2][t];
    }
    float *fc0 = full_logits(ref, cont[0], T), *fc1 = full_logits(ref, cont[1], T);
    int pair[2] = {0, 2};
    uint32_t blk[2 * 4] = {cont[0][30], cont[0][31], cont[0][32], cont[0][33],
                           cont[1][30], cont[1][31], cont[1][32], cont[1][33]};
    assert_int_equal(mf_model_decode(dec, kv, pair, 2, blk, 4, 30, logits, NULL), 0);
    assert_true(max_diff(logits, fc0 + 33 * V, V) < 1e-5);
    assert_true(max_diff(logits + V, fc1 + 33 * V, V) < 1e-5);
    for (int t = 34; t < T; t++) {
        uint32_t step[2] = {cont[0][t], cont[1][t]};
        assert_int_equal(mf_model_decode(dec, kv, pair, 2, step, 1, t, logits, NULL), 0);
        double d0 = max_diff(logits, fc0 + (size_t)t * V, V);
        double d1 = max_diff(logits + V, fc1 + (size_t)t * V, V);
        if (d0 >= 1e-5 || d1 >= 1e-5)
            fail_msg("shared prefix, position %d: logits differ by %g and %g", t, d0, d1);
    }
    free(fc0);
    free(fc1);
    /* positions inside the shared prefix cannot be decoded again (but 0 starts anew) */
    assert_int_equal(mf_model_decode(dec, kv, &row, 1, seq[1], 1, 10, logits, NULL), MF_EINVAL);

    /* three rows of 30 from position 0 need groups (the model holds 64 positions) */
    int all[3] = {0, 1, 2};
    uint32_t three[3 * 30];
    for (int r = 0; r < 3; r++)
        memcpy(three + r * 30, seq[r], 30 * sizeof *three);
    assert_int_equal(mf_model_decode(dec, kv, all, 3, three, 30, 0, logits, hidden), 0);
    for (int r = 0; r < 3; r++)
        assert_true(max_diff(logits + r * V, full[r] + 29 * V, V) < 1e-5);

    /* bad input */
    assert_int_equal(mf_model_decode(dec, kv, all, 3, three, 30, 40, logits, NULL), MF_EINVAL);
    int dup[2] = {1, 1};
    assert_int_equal(mf_model_decode(dec, kv, dup, 2, two, 1, 0, logits, NULL), MF_EINVAL);
    int out_of_range = 3;
    assert_int_equal(mf_model_decode(dec, kv, &out_of_range, 1, two, 1, 0, logits, NULL),
                     MF_EINVAL);
    uint32_t bad = (uint32_t)V;
    assert_int_equal(mf_model_decode(dec, kv, &row, 1, &bad, 1, 0, logits, NULL), MF_EINVAL);

    for (int r = 0; r < 3; r++)
        free(full[r]);
    mf_kv_free(kv);
    mf_model_free(ref);
    mf_model_free(dec);
}

static void kv_matches_full_tied(void **state)
{
    (void)state;
    kv_matches_full(1);
}

static void kv_matches_full_untied(void **state)
{
    (void)state;
    kv_matches_full(0);
}

/* The few-row product equals OpenBLAS's for every tile shape (full 4 x 3 tiles, edges, a
 * depth that is not a multiple of the vector width). */
/* Rows of different prompts decoded in one batch, each at its own position, give the full
 * forward pass's logits at every position. */
static void rows_at_own_positions(void **state)
{
    (void)state;
    struct mf_model_config c = small_config(1);
    const int V = c.vocab, T = c.context;
    struct mf_model *ref = new_model(&c, 1, 9);
    struct mf_model *dec = new_model(&c, 1, 9);
    struct mf_kv *kv = NULL;
    assert_int_equal(mf_kv_new(&c, 3, &kv, NULL), 0);
    uint32_t seq[3][64];
    struct mf_rng rng;
    mf_rng_seed(&rng, 12, 0);
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < T; t++)
            seq[r][t] = (uint32_t)mf_rng_below(&rng, (uint64_t)V);
    float *full[3];
    for (int r = 0; r < 3; r++)
        full[r] = full_logits(ref, seq[r], T);
    const int plen[3] = {7, 20, 12};
    float logits[3 * 37];
    for (int r = 0; r < 3; r++) {
        assert_int_equal(mf_model_decode(dec, kv, &r, 1, seq[r], plen[r], 0, logits, NULL), 0);
        assert_true(max_diff(logits, full[r] + (size_t)(plen[r] - 1) * V, V) < 1e-5);
    }
    /* rows in another order than their numbers, each at its own position */
    int rows[3] = {2, 0, 1}, pos[3];
    uint32_t tok[3];
    for (int step = 0; step < 40; step++) {
        for (int b = 0; b < 3; b++) {
            pos[b] = plen[rows[b]] + step;
            tok[b] = seq[rows[b]][pos[b]];
        }
        assert_int_equal(mf_model_decode_rows(dec, kv, rows, 3, tok, pos, logits, NULL), 0);
        for (int b = 0; b < 3; b++) {
            double d = max_diff(logits + (size_t)b * V, full[rows[b]] + (size_t)pos[b] * V, V);
            if (d >= 1e-5)
                fail_msg("step %d, row %d at %d: logits differ by %g", step, rows[b], pos[b], d);
        }
    }
    /* bad calls */
    pos[0] = 0;
    assert_int_equal(mf_model_decode_rows(dec, kv, rows, 1, tok, pos, logits, NULL), MF_EINVAL);
    pos[0] = T;
    assert_int_equal(mf_model_decode_rows(dec, kv, rows, 1, tok, pos, logits, NULL), MF_EINVAL);
    pos[0] = 5;
    tok[0] = (uint32_t)V;
    assert_int_equal(mf_model_decode_rows(dec, kv, rows, 1, tok, pos, logits, NULL), MF_EINVAL);
    tok[0] = 1;
    mf_kv_share(kv, 0, 4); /* shared positions belong to one prompt: refused */
    assert_int_equal(mf_model_decode_rows(dec, kv, rows, 1, tok, pos, logits, NULL), MF_EINVAL);
    for (int r = 0; r < 3; r++)
        free(full[r]);
    mf_kv_free(kv);
    mf_model_free(dec);
    mf_model_free(ref);
}

static void skinny_matches_blas(void **state)
{
    (void)state;
    const int Ns[] = {1, 3, 4, 5, 8, 20, 32}, ins[] = {1, 7, 8, 33, 384}, outs[] = {1, 2, 3, 7, 64};
    struct mf_rng rng;
    mf_rng_seed(&rng, 8, 0);
    float *x = malloc(32 * 384 * sizeof *x), *w = malloc(64 * 384 * sizeof *w);
    float *y1 = malloc(32 * 64 * sizeof *y1), *y2 = malloc(32 * 64 * sizeof *y2);
    assert_true(x && w && y1 && y2);
    for (int i = 0; i < 32 * 384; i++)
        x[i] = (float)mf_rng_normal(&rng);
    for (int i = 0; i < 64 * 384; i++)
        w[i] = (float)mf_rng_normal(&rng);
    for (size_t a = 0; a < sizeof Ns / sizeof *Ns; a++)
        for (size_t b = 0; b < sizeof ins / sizeof *ins; b++)
            for (size_t c = 0; c < sizeof outs / sizeof *outs; c++) {
                int N = Ns[a], in = ins[b], out = outs[c];
                mf_nn_matmul_forward(y1, x, w, N, in, out);
                mf_nn_matmul_skinny(y2, x, w, N, in, out);
                for (int i = 0; i < N * out; i++)
                    if (fabsf(y1[i] - y2[i]) > 1e-4f * (1 + fabsf(y1[i])))
                        fail_msg("N %d in %d out %d: element %d is %g, not %g", N, in, out, i,
                                 (double)y2[i], (double)y1[i]);
            }
    free(x);
    free(w);
    free(y1);
    free(y2);
}

/* The hidden state decode returns is the final normalized state: its projection on the
 * output weights gives the logits. */
static void hidden_gives_logits(void **state)
{
    (void)state;
    struct mf_model_config c = small_config(0);
    struct mf_model *m = new_model(&c, 1, 3);
    struct mf_kv *kv = NULL;
    assert_int_equal(mf_kv_new(&c, 1, &kv, NULL), 0);
    uint32_t seq[12];
    for (int i = 0; i < 12; i++)
        seq[i] = (uint32_t)(i * 5 % c.vocab);
    float logits[37], hidden[32];
    int row = 0;
    assert_int_equal(mf_model_decode(m, kv, &row, 1, seq, 12, 0, logits, hidden), 0);
    const float *P = mf_model_params(m);
    size_t outw = 0;
    for (size_t i = 0; i < mf_model_n_tensors(m); i++)
        if (strcmp(mf_model_tensor(m, i)->name, "output.weight") == 0)
            outw = mf_model_tensor(m, i)->offset;
    assert_true(outw > 0);
    for (int j = 0; j < c.vocab; j++) {
        double z = 0;
        for (int i = 0; i < c.dim; i++)
            z += (double)P[outw + (size_t)j * c.dim + i] * hidden[i];
        assert_true(fabs(z - logits[j]) < 1e-4);
    }
    mf_kv_free(kv);
    mf_model_free(m);
}

/* Pearson chi-square of observed counts against expected probabilities (cells with p > 0);
 * any draw of a zero-probability cell fails. */
static double chi_square(const uint64_t *obs, const double *p, int n, uint64_t N, int *df)
{
    double x = 0;
    *df = -1;
    for (int i = 0; i < n; i++) {
        if (p[i] <= 0) {
            assert_int_equal(obs[i], 0);
            continue;
        }
        double e = p[i] * (double)N;
        x += ((double)obs[i] - e) * ((double)obs[i] - e) / e;
        (*df)++;
    }
    return x;
}

/* Critical values of the chi-square distribution at 0.999 (Wilson-Hilferty approximation). */
static double chi2_crit(int df)
{
    double z = 3.090232; /* the normal's 0.999 quantile */
    double a = 2.0 / (9.0 * df);
    double t = 1 - a + z * sqrt(a);
    return df * t * t * t;
}

static void sampling_check(float temperature, float top_p, uint64_t seed)
{
    enum { V = 24 };
    float logits[V], scratch[2 * V];
    struct mf_rng rng;
    mf_rng_seed(&rng, seed, 99);
    for (int i = 0; i < V; i++)
        logits[i] = (float)mf_rng_normal(&rng);
    /* the expected distribution, in double */
    double p[V], tot = 0;
    for (int i = 0; i < V; i++) {
        p[i] = exp((double)logits[i] / temperature);
        tot += p[i];
    }
    for (int i = 0; i < V; i++)
        p[i] /= tot;
    if (top_p < 1) {
        /* the nucleus: the most likely tokens until their mass reaches top_p */
        int idx[V];
        for (int i = 0; i < V; i++)
            idx[i] = i;
        for (int i = 0; i < V; i++)
            for (int j = i + 1; j < V; j++)
                if (p[idx[j]] > p[idx[i]]) {
                    int t = idx[i];
                    idx[i] = idx[j];
                    idx[j] = t;
                }
        double acc = 0, keep = 0;
        int k = 0;
        while (k < V && acc < top_p)
            acc += p[idx[k++]];
        for (int i = k; i < V; i++)
            p[idx[i]] = 0;
        for (int i = 0; i < V; i++)
            keep += p[i];
        for (int i = 0; i < V; i++)
            p[i] /= keep;
    }
    const uint64_t N = 200000;
    uint64_t obs[V] = {0};
    for (uint64_t s = 0; s < N; s++) {
        uint32_t t = mf_sample_token(logits, V, temperature, top_p, &rng, scratch);
        assert_true(t < V);
        obs[t]++;
    }
    int df;
    double x = chi_square(obs, p, V, N, &df);
    assert_true(df >= 2); /* the nucleus holds several tokens */
    if (x > chi2_crit(df))
        fail_msg("chi-square %.1f over %d degrees of freedom (critical %.1f) at T=%g top_p=%g", x,
                 df, chi2_crit(df), (double)temperature, (double)top_p);
}

static void sampling_matches_softmax(void **state)
{
    (void)state;
    sampling_check(1.0f, 1.0f, 1);
    sampling_check(0.7f, 1.0f, 2);
    sampling_check(1.3f, 1.0f, 3);
    sampling_check(1.0f, 0.9f, 4);
    sampling_check(0.8f, 0.5f, 5);
}

/* A chi-square test that must fail: sampling with the wrong temperature is detected. */
static void chi_square_detects_a_wrong_sampler(void **state)
{
    (void)state;
    enum { V = 24 };
    float logits[V], scratch[2 * V];
    struct mf_rng rng;
    mf_rng_seed(&rng, 1, 99);
    for (int i = 0; i < V; i++)
        logits[i] = (float)(2.0 * mf_rng_normal(&rng));
    double p[V], tot = 0;
    for (int i = 0; i < V; i++)
        tot += p[i] = exp((double)logits[i]);
    for (int i = 0; i < V; i++)
        p[i] /= tot;
    uint64_t obs[V] = {0};
    for (int s = 0; s < 200000; s++)
        obs[mf_sample_token(logits, V, 1.1f, 1.0f, &rng, scratch)]++;
    int df;
    assert_true(chi_square(obs, p, V, 200000, &df) > chi2_crit(df));
}

static void binomial_interval(void **state)
{
    (void)state;
    double lo, hi;
    /* Wilson 95% intervals (81 of 263 is the example of Newcombe 1998) */
    mf_binom_ci(5, 20, 0.95, &lo, &hi);
    assert_true(fabs(lo - 0.1119) < 1e-4 && fabs(hi - 0.4687) < 1e-4);
    mf_binom_ci(0, 20, 0.95, &lo, &hi);
    assert_true(lo == 0 && fabs(hi - 0.1611) < 1e-4);
    mf_binom_ci(20, 20, 0.95, &lo, &hi);
    assert_true(fabs(lo - 0.8389) < 1e-4 && hi == 1);
    mf_binom_ci(81, 263, 0.95, &lo, &hi);
    assert_true(fabs(lo - 0.2553) < 1e-4 && fabs(hi - 0.3662) < 1e-4);
    mf_binom_ci(0, 0, 0.95, &lo, &hi);
    assert_true(lo == 0 && hi == 1);
    /* coverage at the stated rate, by simulation: p = 0.1, n = 20 */
    struct mf_rng rng;
    mf_rng_seed(&rng, 5, 0);
    int cover = 0, R = 20000;
    for (int r = 0; r < R; r++) {
        uint64_t k = 0;
        for (int i = 0; i < 20; i++)
            k += mf_rng_uniform(&rng) < 0.1;
        mf_binom_ci(k, 20, 0.95, &lo, &hi);
        cover += lo <= 0.1 && 0.1 <= hi;
    }
    assert_true((double)cover / R > 0.92);
}

/* ---- risks from handmade futures ---- */

#define DAY_US (INT64_C(86400) * 1000000)

static const char RISK_TASK[] = "predicates:\n"
                                "  encounter: {code: {regex: \"^ENCOUNTER/\"}}\n"
                                "  death: {code: MEDS_DEATH}\n"
                                "trigger: encounter\n"
                                "windows:\n"
                                "  input:\n"
                                "    start: null\n"
                                "    end: trigger\n"
                                "    start_inclusive: true\n"
                                "    end_inclusive: true\n"
                                "    index_timestamp: end\n"
                                "    has:\n"
                                "      death: (None, 0)\n"
                                "  target:\n"
                                "    start: trigger\n"
                                "    end: start + 30 days\n"
                                "    start_inclusive: false\n"
                                "    end_inclusive: true\n"
                                "    label: death\n";

/* The same with a first day after the trigger that must hold no encounter. */
static const char RISK_TASK_GAP[] = "predicates:\n"
                                    "  encounter: {code: {regex: \"^ENCOUNTER/\"}}\n"
                                    "  death: {code: MEDS_DEATH}\n"
                                    "trigger: encounter\n"
                                    "windows:\n"
                                    "  gap:\n"
                                    "    start: trigger\n"
                                    "    end: start + 1 day\n"
                                    "    start_inclusive: false\n"
                                    "    end_inclusive: true\n"
                                    "    index_timestamp: start\n"
                                    "    has:\n"
                                    "      encounter: (None, 0)\n"
                                    "  target:\n"
                                    "    start: trigger\n"
                                    "    end: start + 30 days\n"
                                    "    start_inclusive: false\n"
                                    "    end_inclusive: true\n"
                                    "    label: death\n";

static uint32_t tok_id(const struct mf_vocab *v, const char *text)
{
    int64_t id = mf_vocab_id(v, text, strlen(text));
    if (id < 0)
        fail_msg("no token %s", text);
    return (uint32_t)id;
}

/* A future from token texts; dt summed from the time tokens' durations. */
static void set_future(struct mf_future *f, const struct mf_vocab *v, const char *const *texts,
                       size_t n)
{
    f->tok = calloc(n ? n : 1, sizeof *f->tok);
    f->dt = calloc(n ? n : 1, sizeof *f->dt);
    assert_non_null(f->tok);
    assert_non_null(f->dt);
    int64_t dt = 0;
    for (size_t i = 0; i < n; i++) {
        f->tok[i] = tok_id(v, texts[i]);
        dt += mf_vocab_duration(v, f->tok[i]);
        f->dt[i] = dt;
    }
    f->n = f->cap = n;
}

/* A small store in a new folder under /tmp (dir), and a vocabulary fitted on it. */
static struct mf_store *small_store(char dir[256], struct mf_vocab **vocab)
{
    mf_log_set_level(MF_LOG_QUIET);
    snprintf(dir, 256, "/tmp/medfm-test-infer-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/store", dir);
    /* a store for the vocabulary: every code seen often enough in training */
    struct mf_store_writer *w;
    struct mf_err err = {0};
    assert_int_equal(mf_store_writer_open(&w, path, 1, NULL, &err), 0);
    struct mf_store_batch *b = mf_store_writer_batch(w, 0);
    for (int p = 0; p < 40; p++) {
        char id[32];
        snprintf(id, sizeof id, "p%d", p);
        const char *codes[] = {"ENCOUNTER/AMB", "LAB/1", "MEDS_DEATH"};
        for (int k = 0; k < 3; k++) {
            struct mf_event e =
                mf_event_make(id, (int64_t)(k + 1) * 40 * DAY_US, codes[k], NAN, NULL, NULL);
            assert_int_equal(mf_store_batch_add(b, &e), 0);
        }
    }
    assert_int_equal(mf_store_writer_commit(w, &err), 0);
    mf_store_writer_free(w);
    struct mf_store *s = NULL;
    assert_int_equal(mf_store_open(path, &s, &err), 0);
    struct mf_tok_opts o = MF_TOK_OPTS_DEFAULT;
    o.min_count = 1;
    assert_int_equal(mf_vocab_fit(s, &o, vocab, &err), 0);
    return s;
}

static void risk_from_futures(void **state)
{
    (void)state;
    char dir[256];
    struct mf_vocab *v = NULL;
    struct mf_store *s = small_store(dir, &v);
    struct mf_err err = {0};
    struct mf_task *t = NULL, *tg = NULL;
    assert_int_equal(mf_task_parse(RISK_TASK, strlen(RISK_TASK), "death_30d", &t, &err), 0);
    assert_int_equal(mf_task_parse(RISK_TASK_GAP, strlen(RISK_TASK_GAP), "gap", &tg, &err), 0);
    uint64_t *masks = NULL, *masks_g = NULL;
    assert_int_equal(mf_infer_task_masks(v, t, &masks, &err), 0);
    assert_int_equal(mf_infer_task_masks(v, tg, &masks_g, &err), 0);
    assert_true(masks[tok_id(v, "ENCOUNTER/AMB")] != 0 && masks[tok_id(v, "MEDS_DEATH")] != 0);
    assert_true(masks[tok_id(v, "TIME/1w-2w")] == 0 && masks[tok_id(v, "LAB/1")] == 0);

    /* history: an encounter at day 100, the trigger and prediction time */
    const int64_t at = 100 * DAY_US;
    int64_t ht[1] = {at};
    uint64_t hm[1] = {mf_task_match_code(t, "ENCOUNTER/AMB", 13)};
    struct mf_task_events hist = {1, ht, hm};
    const char *f0[] = {"TIME/1w-2w", "MEDS_DEATH"};                    /* day 7: yes */
    const char *f1[] = {"ENCOUNTER/AMB", "TIME/1mo-3mo", "MEDS_DEATH"}; /* day 30 + 1 us: no */
    const char *f2[] = {"ENCOUNTER/AMB", "LAB/1", "TIMELINE_END"};      /* no death */
    const char *f3[] = {"MEDS_DEATH"};                                  /* at + 1 us: yes */
    const char *f4[] = {"TIME/2w-1mo", "TIME/2w-1mo", "MEDS_DEATH"};    /* day 28: yes */
    struct mf_future fut[5] = {0};
    set_future(&fut[0], v, f0, 2);
    set_future(&fut[1], v, f1, 3);
    set_future(&fut[2], v, f2, 3);
    set_future(&fut[3], v, f3, 1);
    set_future(&fut[4], v, f4, 3);
    struct mf_futures fs = {fut, 5, 5, 0, 0, 0, 0, 0};
    struct mf_risk r;
    assert_int_equal(mf_infer_task_risk(t, v, masks, &hist, at, at, &fs, &r, &err), 0);
    assert_int_equal(r.futures, 5);
    assert_int_equal(r.decided, 5);
    assert_int_equal(r.positive, 3);
    assert_true(fabs(r.p - 0.6) < 1e-12);
    double lo, hi;
    mf_binom_ci(3, 5, 0.95, &lo, &hi);
    assert_true(r.lo == lo && r.hi == hi);

    /* with the gap window, futures with an encounter in the first day decide nothing */
    assert_int_equal(mf_infer_task_risk(tg, v, masks_g, &hist, at, at, &fs, &r, &err), 0);
    assert_int_equal(r.decided, 3); /* f0, f3, f4: all three die within the 30 days */
    assert_int_equal(r.positive, 3);

    /* a history with a death before the prediction time: no future decides */
    int64_t ht2[2] = {at - DAY_US, at};
    uint64_t hm2[2] = {mf_task_match_code(t, "MEDS_DEATH", 10), hm[0]};
    struct mf_task_events hist2 = {2, ht2, hm2};
    assert_int_equal(mf_infer_task_risk(t, v, masks, &hist2, at, at, &fs, &r, &err), 0);
    assert_int_equal(r.decided, 0);
    assert_true(isnan(r.p));

    for (int i = 0; i < 5; i++) {
        free(fut[i].tok);
        free(fut[i].dt);
    }
    free(masks);
    free(masks_g);
    mf_task_free(t);
    mf_task_free(tg);
    mf_vocab_unbind(v, s);
    mf_vocab_free(v);
    mf_store_close(s);
    mf_fs_rm_rf(dir);
}

/* Greedy decoding (temperature near 0) through mf_infer_simulate, context cuts included,
 * gives at every step the argmax of a full forward pass over the sequence the policy of
 * infer.h says the model holds. */
static void simulate_follows_full_recomputation(void **state)
{
    (void)state;
    char dir[256], path[400];
    struct mf_vocab *v = NULL;
    struct mf_store *s = small_store(dir, &v);
    struct mf_err err = {0};
    struct mf_model_config c = small_config(0);
    c.vocab = (int)mf_vocab_size(v);
    struct mf_model *ref = new_model(&c, 1, 21);
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(mf_model_config_save(&c, path, &err), 0);
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    assert_int_equal(mf_vocab_save(v, path, &err), 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(mf_model_save_safetensors(ref, path, NULL, 0, &err), 0);
    struct mf_infer *in = NULL;
    if (mf_infer_open(dir, 3, &in, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(mf_infer_memory(in) > 0);

    const int ctx = c.context, P = 2, keep = (ctx - P) / 2, V = c.vocab;
    struct mf_prompt pr = {0};
    uint32_t prompt[42];
    struct mf_rng rng;
    mf_rng_seed(&rng, 3, 0);
    for (int i = 0; i < 42; i++)
        prompt[i] = 2 + (uint32_t)mf_rng_below(&rng, (uint64_t)V - 2);
    assert_int_equal(mf_prompt_append(&pr, prompt, 42), 0);
    pr.n_prefix = P;
    struct mf_sim_opts o = {3, 60, 0, 1e-4f, 1.0f, 9, 1};
    struct mf_futures fs = {0};
    assert_int_equal(mf_infer_simulate(in, &pr, &o, &fs, &err), 0);
    assert_int_equal(fs.n, 3);
    assert_int_equal(fs.tokens_generated, 3 * 60);
    uint32_t seq[64];
    for (size_t r = 0; r < fs.n; r++) {
        assert_int_equal(fs.f[r].n, 60);
        assert_int_equal(fs.f[r].stop, MF_STOP_LENGTH);
        int len = 42, cuts = 0;
        memcpy(seq, prompt, sizeof prompt);
        for (size_t i = 0; i < fs.f[r].n; i++) {
            float *lg = full_logits(ref, seq, len);
            const float *z = lg + (size_t)(len - 1) * V;
            uint32_t best = 0;
            for (int j = 1; j < V; j++)
                best = z[j] > z[best] ? (uint32_t)j : best;
            free(lg);
            if (best != fs.f[r].tok[i])
                fail_msg("future %zu token %zu: %u, the argmax is %u", r, i, fs.f[r].tok[i], best);
            if (len == ctx) {
                memmove(seq + P, seq + ctx - (keep - 1), (size_t)(keep - 1) * sizeof *seq);
                len = P + keep - 1;
                cuts++;
            }
            seq[len++] = fs.f[r].tok[i];
        }
        assert_int_equal(cuts, 2);
    }
    /* the elapsed time is the running sum of the time tokens' durations */
    for (size_t r = 0; r < fs.n; r++) {
        int64_t dt = 0;
        for (size_t i = 0; i < fs.f[r].n; i++) {
            dt += mf_vocab_duration(v, fs.f[r].tok[i]);
            assert_true(fs.f[r].dt[i] == dt);
        }
    }
    /* the same seed gives the same futures; stops apply without no_stop */
    struct mf_futures fs2 = {0};
    assert_int_equal(mf_infer_simulate(in, &pr, &o, &fs2, &err), 0);
    for (size_t r = 0; r < fs.n; r++)
        assert_memory_equal(fs.f[r].tok, fs2.f[r].tok, fs.f[r].n * sizeof *fs.f[r].tok);
    struct mf_sim_opts o2 = {3, 200, 30 * DAY_US, 1.0f, 1.0f, 9, 0};
    assert_int_equal(mf_infer_simulate(in, &pr, &o2, &fs2, &err), 0);
    for (size_t r = 0; r < fs2.n; r++) {
        const struct mf_future *f = &fs2.f[r];
        uint32_t last = f->tok[f->n - 1];
        switch (f->stop) {
        case MF_STOP_DEATH:
            assert_string_equal(mf_vocab_token(v, last), "MEDS_DEATH");
            break;
        case MF_STOP_END:
            assert_int_equal(last, MF_TOK_TIMELINE_END);
            break;
        case MF_STOP_HORIZON:
            assert_true(f->dt[f->n - 1] > 30 * DAY_US && mf_vocab_duration(v, last) > 0);
            assert_true(f->n == 1 || f->dt[f->n - 2] <= 30 * DAY_US);
            break;
        case MF_STOP_LENGTH:
            assert_int_equal(f->n, 200);
            break;
        }
        for (size_t i = 0; i + 1 < f->n; i++) /* no stop token before the last */
            assert_true(f->tok[i] != MF_TOK_TIMELINE_END &&
                        strcmp(mf_vocab_token(v, f->tok[i]), "MEDS_DEATH") != 0);
    }
    /* bad input */
    struct mf_sim_opts o3 = {4, 10, 0, 1.0f, 1.0f, 1, 0};
    assert_int_equal(mf_infer_simulate(in, &pr, &o3, &fs2, &err), MF_EINVAL);

    /* three prompts of different lengths in one batch (their contexts fill at different
     * steps) draw what each draws alone: near-greedy, so rounding cannot change a choice */
    struct mf_infer *big = NULL;
    if (mf_infer_open(dir, 6, &big, &err) != 0)
        fail_msg("%s", err.msg);
    struct mf_prompt bp[3] = {{0}};
    const int blen[3] = {42, 17, 30};
    struct mf_sim_opts bo[3];
    struct mf_futures bf[3] = {{0}}, one = {0};
    for (int j = 0; j < 3; j++) {
        assert_int_equal(mf_prompt_append(&bp[j], prompt + (42 - blen[j]), (size_t)blen[j]), 0);
        bp[j].n_prefix = P;
        bo[j] = (struct mf_sim_opts){2, 60 + 10 * j, 0, 1e-4f, 1.0f, (uint64_t)(5 + j), 1};
    }
    assert_int_equal(mf_infer_simulate_batch(big, bp, bo, 3, bf, &err), 0);
    for (int j = 0; j < 3; j++) {
        assert_int_equal(mf_infer_simulate(big, &bp[j], &bo[j], &one, &err), 0);
        assert_int_equal(bf[j].n, 2);
        assert_true(bf[j].cuts > 0);
        for (size_t r = 0; r < 2; r++) {
            assert_int_equal(bf[j].f[r].n, (size_t)(60 + 10 * j));
            assert_int_equal(one.f[r].n, bf[j].f[r].n);
            assert_memory_equal(one.f[r].tok, bf[j].f[r].tok, one.f[r].n * sizeof *one.f[r].tok);
            assert_memory_equal(one.f[r].dt, bf[j].f[r].dt, one.f[r].n * sizeof *one.f[r].dt);
        }
    }
    /* more futures than rows in all: refused */
    bo[2].samples = 3;
    assert_int_equal(mf_infer_simulate_batch(big, bp, bo, 3, bf, &err), MF_EINVAL);
    for (int j = 0; j < 3; j++) {
        mf_futures_free(&bf[j]);
        mf_prompt_free(&bp[j]);
    }
    mf_futures_free(&one);
    mf_infer_free(big);
    mf_futures_free(&fs);
    mf_futures_free(&fs2);
    mf_prompt_free(&pr);
    mf_infer_free(in);
    mf_model_free(ref);
    mf_vocab_unbind(v, s);
    mf_vocab_free(v);
    mf_store_close(s);
    mf_fs_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_matches_full_tied),
        cmocka_unit_test(kv_matches_full_untied),
        cmocka_unit_test(hidden_gives_logits),
        cmocka_unit_test(rows_at_own_positions),
        cmocka_unit_test(skinny_matches_blas),
        cmocka_unit_test(sampling_matches_softmax),
        cmocka_unit_test(chi_square_detects_a_wrong_sampler),
        cmocka_unit_test(binomial_interval),
        cmocka_unit_test(risk_from_futures),
        cmocka_unit_test(simulate_follows_full_recomputation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
