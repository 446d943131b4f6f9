/* test_metrics.c - unit tests for the evaluation metrics (src/eval/metrics.h): small cases
 * computed by hand (ties, bin edges, thresholds, undefined inputs), weights against
 * duplicated and dropped rows, the order given or not, the bootstrap's weights, the
 * percentile interval, and a coverage simulation: the patient-level bootstrap's 95% intervals
 * of the AUROC and the Brier score cover the true values (known in closed form) about 95% of
 * the time.  The comparison with scikit-learn is tests/integration/metrics_sklearn.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/metrics.h"

#define N_OF(a) (sizeof(a) / sizeof(a)[0])

/* got == want within tol (relative above 1); NaN only equals NaN. */
#define assert_near(got, want, tol) near_at((got), (want), (tol), __FILE__, __LINE__)

static void near_at(double got, double want, double tol, const char *file, int line)
{
    int ok = isnan(want) ? isnan(got) : fabs(got - want) <= tol * fmax(1, fabs(want));
    if (!ok) {
        print_error("got %.17g, expected %.17g\n", got, want);
        _fail(file, line);
    }
}

static struct mf_scored scored(const double *p, const int *y, const double *w, size_t n)
{
    return (struct mf_scored){p, y, w, n, NULL};
}

/* ---- hand-computed cases -------------------------------------------------------------- */

static void auroc_by_hand(void **state)
{
    (void)state;
    double p[] = {0.9, 0.5, 0.5, 0.1};
    int perfect[] = {1, 1, 0, 0}, reversed[] = {0, 0, 1, 1};
    /* perfect apart from the tie at 0.5, which counts one half: (1 + 1 + 0.5 + 1) / 4 */
    struct mf_scored s = scored(p, perfect, NULL, 4);
    assert_near(mf_auroc(&s), 3.5 / 4, 1e-15);
    s.y = reversed;
    assert_near(mf_auroc(&s), 0.5 / 4, 1e-15);
    /* a perfect ranking, and its reverse */
    double q[] = {0.1, 0.2, 0.3, 0.4, 0.5};
    int y[] = {0, 0, 0, 1, 1}, ny[] = {1, 1, 1, 0, 0};
    s = scored(q, y, NULL, 5);
    assert_near(mf_auroc(&s), 1, 0);
    s.y = ny;
    assert_near(mf_auroc(&s), 0, 0);
    /* all tied */
    double t[] = {0.3, 0.3, 0.3, 0.3};
    s = scored(t, perfect, NULL, 4);
    assert_near(mf_auroc(&s), 0.5, 0);
    /* the scikit-learn documentation's example */
    double d[] = {0.1, 0.4, 0.35, 0.8};
    int dy[] = {0, 0, 1, 1};
    s = scored(d, dy, NULL, 4);
    assert_near(mf_auroc(&s), 0.75, 1e-15);
}

static void auprc_by_hand(void **state)
{
    (void)state;
    /* thresholds 0.8 (R 1/2, P 1), 0.4 (R 1/2), 0.35 (R 1, P 2/3): 1/2 + 1/2 * 2/3 */
    double d[] = {0.1, 0.4, 0.35, 0.8};
    int dy[] = {0, 0, 1, 1};
    struct mf_scored s = scored(d, dy, NULL, 4);
    assert_near(mf_auprc(&s), 0.5 + 0.5 * 2.0 / 3, 1e-15);
    /* a tie of a positive and a negative is one threshold: 0.9 (R 1/2, P 1), then 0.5
     * (R 1, P 2/3), not the positive first */
    double p[] = {0.9, 0.5, 0.5, 0.1};
    int y[] = {1, 0, 1, 0};
    s = scored(p, y, NULL, 4);
    assert_near(mf_auprc(&s), 0.5 + 0.5 * 2.0 / 3, 1e-15);
    /* every score tied: the prevalence */
    double t[] = {0.2, 0.2, 0.2, 0.2};
    s = scored(t, y, NULL, 4);
    assert_near(mf_auprc(&s), 0.5, 1e-15);
}

static void brier_and_ece_by_hand(void **state)
{
    (void)state;
    double d[] = {0.1, 0.4, 0.35, 0.8};
    int dy[] = {0, 0, 1, 1};
    struct mf_scored s = scored(d, dy, NULL, 4);
    assert_near(mf_brier(&s), (0.01 + 0.16 + 0.4225 + 0.04) / 4, 1e-15);
    /* two bins: {0.1, 0.4, 0.35} (mean 0.85/3, 1/3 positive) and {0.8} (all positive) */
    assert_near(mf_ece(&s, 2), 0.75 * fabs(0.85 / 3 - 1.0 / 3) + 0.25 * 0.2, 1e-15);
    /* an edge belongs to the bin below it: 0.5 is in [0, 0.5], 0.6 in (0.5, 1] */
    double e[] = {0.5, 0.6};
    int ey[] = {1, 0};
    s = scored(e, ey, NULL, 2);
    assert_near(mf_ece(&s, 2), (0.5 + 0.6) / 2, 1e-15);
    /* numpy's edges are i * 0.1: 3 * 0.1 = 0.30000000000000004, so 0.3 and 3 * 0.1 share the
     * bin (0.2, 3 * 0.1], 0.2 (= 2 * 0.1) is in (0.1, 0.2] and the next double above 3 * 0.1
     * starts the bin above */
    double b[] = {0.2, 0.3, 3 * 0.1, nextafter(3 * 0.1, 1), 0.0, 1.0};
    int by[] = {0, 1, 0, 1, 0, 1};
    s = scored(b, by, NULL, N_OF(b));
    double *c;
    size_t k = mf_calibration_curve(&s, 10, &c);
    assert_int_equal(k, 5);
    double want[5][3] = {{0.0, 0, 1},
                         {0.2, 0, 1},
                         {(0.3 + 3 * 0.1) / 2, 0.5, 2},
                         {nextafter(3 * 0.1, 1), 1, 1},
                         {1.0, 1, 1}};
    for (size_t i = 0; i < k; i++)
        for (int j = 0; j < 3; j++)
            assert_near(c[3 * i + j], want[i][j], 1e-15);
    free(c);
}

static void calibration_by_hand(void **state)
{
    (void)state;
    /* two distinct scores: the fit is saturated and reproduces the observed fractions, 1/4 at
     * p = 0.2 and 3/4 at p = 0.6 */
    double p[] = {0.2, 0.2, 0.2, 0.2, 0.6, 0.6, 0.6, 0.6};
    int y[] = {0, 1, 0, 0, 1, 1, 0, 1};
    struct mf_scored s = scored(p, y, NULL, 8);
    double slope, icpt;
    assert_int_equal(mf_calibration(&s, &slope, &icpt), 0);
    double lg = log(0.25 / 0.75), x0 = log(0.2 / 0.8), x1 = log(0.6 / 0.4);
    double want_slope = -2 * lg / (x1 - x0);
    assert_near(slope, want_slope, 1e-12);
    assert_near(icpt, lg - want_slope * x0, 1e-12);

    /* perfectly calibrated on average over many rows: slope near 1, intercept near 0 */
    size_t n = 20000;
    double *q = malloc(n * sizeof *q);
    int *z = malloc(n * sizeof *z);
    assert_non_null(q);
    assert_non_null(z);
    struct mf_rng r;
    mf_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < n; i++) {
        q[i] = 0.02 + 0.9 * mf_rng_uniform(&r);
        z[i] = mf_rng_bernoulli(&r, q[i]);
    }
    s = scored(q, z, NULL, n);
    assert_int_equal(mf_calibration(&s, &slope, &icpt), 0);
    assert_true(fabs(slope - 1) < 0.08);
    assert_true(fabs(icpt) < 0.08);
    /* overconfident predictions (logit doubled): slope near 1/2 */
    for (size_t i = 0; i < n; i++)
        q[i] = 1 / (1 + pow((1 - q[i]) / q[i], 2));
    assert_int_equal(mf_calibration(&s, &slope, &icpt), 0);
    assert_true(fabs(slope - 0.5) < 0.04);
    free(q);
    free(z);
}

static void thresholds_by_hand(void **state)
{
    (void)state;
    double d[] = {0.1, 0.4, 0.35, 0.8};
    int dy[] = {0, 0, 1, 1};
    struct mf_scored s = scored(d, dy, NULL, 4);
    /* p >= 0.35 is positive: TP 2, FP 1, TN 1, FN 0 */
    struct mf_confusion c = mf_at_threshold(&s, 0.35);
    assert_near(c.sensitivity, 1, 0);
    assert_near(c.specificity, 0.5, 0);
    assert_near(c.ppv, 2.0 / 3, 1e-15);
    assert_near(c.net_benefit, 2.0 / 4 - 1.0 / 4 * 0.35 / 0.65, 1e-15);
    /* nothing predicted positive */
    c = mf_at_threshold(&s, 0.9);
    assert_near(c.sensitivity, 0, 0);
    assert_near(c.specificity, 1, 0);
    assert_true(isnan(c.ppv));
    assert_near(c.net_benefit, 0, 0);
    /* the same through mf_metrics_all, with the fixed part */
    double t[] = {0.35, 0.9}, out[MF_M_N_FIXED + 2 * MF_M_PER_THRESHOLD];
    assert_int_equal(mf_metrics_len(2), N_OF(out));
    mf_metrics_all(&s, t, 2, out);
    assert_near(out[MF_M_AUROC], 0.75, 1e-15);
    assert_near(out[MF_M_BRIER], 0.158125, 1e-15);
    assert_near(out[MF_M_PREVALENCE], 0.5, 0);
    assert_near(out[MF_M_MEAN_RISK], 1.65 / 4, 1e-15);
    assert_near(out[MF_M_N_FIXED + 2], 2.0 / 3, 1e-15);
    assert_true(isnan(out[MF_M_N_FIXED + MF_M_PER_THRESHOLD + 2]));
}

static void curves_by_hand(void **state)
{
    (void)state;
    double p[] = {0.9, 0.5, 0.5, 0.1};
    int y[] = {1, 0, 1, 0};
    struct mf_scored s = scored(p, y, NULL, 4);
    double *xy;
    /* ROC: (0, 0), 0.9 -> (0, 1/2), the tie 0.5 -> (1/2, 1), 0.1 -> (1, 1) */
    assert_int_equal(mf_roc_curve(&s, &xy), 4);
    double roc[] = {0, 0, 0, 0.5, 0.5, 1, 1, 1};
    for (size_t i = 0; i < N_OF(roc); i++)
        assert_near(xy[i], roc[i], 0);
    free(xy);
    /* PR: (0, 1), 0.9 -> (1/2, 1), 0.5 -> (1, 2/3), 0.1 -> (1, 1/2) */
    assert_int_equal(mf_pr_curve(&s, &xy), 4);
    double pr[] = {0, 1, 0.5, 1, 1, 2.0 / 3, 1, 0.5};
    for (size_t i = 0; i < N_OF(pr); i++)
        assert_near(xy[i], pr[i], 1e-15);
    free(xy);
    /* a score whose rows weigh nothing is no point */
    double w[] = {1, 1, 1, 0};
    s.w = w;
    assert_int_equal(mf_roc_curve(&s, &xy), 3);
    free(xy);
}

static void undefined_is_nan(void **state)
{
    (void)state;
    double p[] = {0.2, 0.4, 0.6};
    int neg[] = {0, 0, 0}, pos[] = {1, 1, 1}, mixed[] = {0, 1, 0};
    double t[] = {0.5}, out[MF_M_N_FIXED + MF_M_PER_THRESHOLD];
    double *xy = NULL, slope, icpt;
    /* one class: no AUROC, no fit, no ROC curve; the Brier score and ECE still exist */
    struct mf_scored s = scored(p, neg, NULL, 3);
    assert_true(isnan(mf_auroc(&s)));
    assert_true(isnan(mf_auprc(&s)));
    assert_int_equal(mf_calibration(&s, &slope, &icpt), -1);
    assert_true(isnan(slope) && isnan(icpt));
    assert_near(mf_brier(&s), (0.04 + 0.16 + 0.36) / 3, 1e-15);
    assert_near(mf_ece(&s, 10), 0.4, 1e-15);
    assert_int_equal(mf_roc_curve(&s, &xy), 0);
    assert_null(xy);
    assert_int_equal(mf_pr_curve(&s, &xy), 0);
    assert_true(isnan(mf_at_threshold(&s, 0.5).sensitivity));
    s.y = pos;
    assert_true(isnan(mf_auroc(&s)));
    assert_near(mf_auprc(&s), 1, 0);
    assert_true(isnan(mf_at_threshold(&s, 0.5).specificity));
    /* all scores equal, or the classes separable: no fit */
    double eq[] = {0.3, 0.3, 0.3};
    s = scored(eq, mixed, NULL, 3);
    assert_int_equal(mf_calibration(&s, &slope, &icpt), -1);
    int sep[] = {0, 0, 1};
    s = scored(p, sep, NULL, 3);
    assert_int_equal(mf_calibration(&s, &slope, &icpt), -1);
    assert_true(isnan(slope));
    /* quasi-complete separation: the classes only meet at one score */
    double qp[] = {0.2, 0.5, 0.5, 0.8};
    int qy[] = {0, 0, 1, 1};
    s = scored(qp, qy, NULL, 4);
    assert_int_equal(mf_calibration(&s, &slope, &icpt), -1);
    /* nothing weighs anything, and no rows at all */
    double w0[] = {0, 0, 0};
    s = scored(p, mixed, w0, 3);
    mf_metrics_all(&s, t, 1, out);
    for (size_t i = 0; i < N_OF(out); i++)
        assert_true(isnan(out[i]));
    assert_int_equal(mf_calibration_curve(&s, 10, &xy), 0);
    s = scored(p, mixed, NULL, 0);
    mf_metrics_all(&s, t, 1, out);
    for (size_t i = 0; i < N_OF(out); i++)
        assert_true(isnan(out[i]));
    assert_int_equal(mf_roc_curve(&s, &xy), 0);
}

/* ---- weights -------------------------------------------------------------------------- */

#define CMP_T   3
#define CMP_LEN (MF_M_N_FIXED + MF_M_PER_THRESHOLD * CMP_T)

/* Every metric and curve of a and b agree within tol. */
static void assert_same_metrics(const struct mf_scored *a, const struct mf_scored *b, double tol)
{
    static const double t[CMP_T] = {0.1, 0.3, 0.5};
    double va[CMP_LEN], vb[CMP_LEN];
    mf_metrics_all(a, t, CMP_T, va);
    mf_metrics_all(b, t, CMP_T, vb);
    for (size_t i = 0; i < CMP_LEN; i++)
        assert_near(va[i], vb[i], tol);
    assert_near(mf_ece(a, 7), mf_ece(b, 7), tol);
    size_t (*curve[])(const struct mf_scored *, double **) = {mf_roc_curve, mf_pr_curve};
    for (int c = 0; c < 3; c++) {
        double *xa, *xb;
        size_t ka = c < 2 ? curve[c](a, &xa) : mf_calibration_curve(a, 10, &xa);
        size_t kb = c < 2 ? curve[c](b, &xb) : mf_calibration_curve(b, 10, &xb);
        assert_int_equal(ka, kb);
        for (size_t i = 0; i < ka * (c < 2 ? 2 : 3); i++)
            assert_near(xa[i], xb[i], tol);
        free(xa);
        free(xb);
    }
}

static void weight_is_duplication(void **state)
{
    (void)state;
    struct mf_rng r;
    mf_rng_seed(&r, 3, 0);
    enum { N = 80, MAXW = 4 };
    double p[N], w[N], pe[N * MAXW];
    int y[N], ye[N * MAXW];
    for (int rep = 0; rep < 20; rep++) {
        size_t m = 0;
        for (size_t i = 0; i < N; i++) {
            /* scores on a coarse grid: many ties, many on the bins' edges */
            p[i] = (double)mf_rng_below(&r, rep % 2 ? 11 : 101) / (rep % 2 ? 10 : 100);
            y[i] = mf_rng_bernoulli(&r, 0.2 + 0.6 * p[i]);
            w[i] = (double)mf_rng_below(&r, MAXW);
            for (int k = 0; k < (int)w[i]; k++) {
                pe[m] = p[i];
                ye[m++] = y[i];
            }
        }
        struct mf_scored a = scored(p, y, w, N), b = scored(pe, ye, NULL, m);
        assert_same_metrics(&a, &b, 1e-11);
        /* the order given changes nothing */
        uint32_t *o;
        assert_int_equal(mf_metrics_order(p, N, &o), 0);
        struct mf_scored c = a;
        c.order = o;
        assert_same_metrics(&a, &c, 0);
        free(o);
        /* all weights 1 is no weights */
        for (size_t i = 0; i < N; i++)
            w[i] = 1;
        b = scored(p, y, NULL, N);
        assert_same_metrics(&a, &b, 0);
    }
}

static void order_is_stable_descending(void **state)
{
    (void)state;
    double p[] = {0.3, 0.7, 0.3, 1.0, 0.0, 0.7};
    uint32_t *o, want[] = {3, 1, 5, 0, 2, 4};
    assert_int_equal(mf_metrics_order(p, N_OF(p), &o), 0);
    for (size_t i = 0; i < N_OF(p); i++)
        assert_int_equal(o[i], want[i]);
    free(o);
    assert_int_equal(mf_metrics_order(p, 0, &o), 0);
    free(o);
}

/* ---- bootstrap and interval ----------------------------------------------------------- */

static void bootstrap_weights(void **state)
{
    (void)state;
    /* one row per patient: the weights are counts summing to n, deterministic per (seed, b),
     * and differ between replicates and seeds; also past one pass of the counting (4096) */
    size_t sizes[] = {1, 10, 1000, 10000};
    for (size_t t = 0; t < N_OF(sizes); t++) {
        size_t n = sizes[t];
        uint32_t *cl = malloc(n * sizeof *cl);
        double *w = malloc(n * sizeof *w), *w2 = malloc(n * sizeof *w2);
        assert_non_null(cl);
        assert_non_null(w);
        assert_non_null(w2);
        for (size_t i = 0; i < n; i++)
            cl[i] = (uint32_t)i;
        for (uint32_t b = 0; b < 8; b++) {
            mf_bootstrap_weights(cl, n, (uint32_t)n, 9, b, w);
            double sum = 0;
            size_t zeros = 0;
            for (size_t i = 0; i < n; i++) {
                assert_true(w[i] >= 0 && w[i] == floor(w[i]));
                sum += w[i];
                zeros += w[i] == 0;
            }
            assert_near(sum, (double)n, 0);
            if (n >= 1000) /* about 1/e of the patients are not drawn */
                assert_true(fabs((double)zeros / n - exp(-1)) < 0.05);
        }
        mf_bootstrap_weights(cl, n, (uint32_t)n, 9, 4, w);
        mf_bootstrap_weights(cl, n, (uint32_t)n, 9, 4, w2);
        assert_memory_equal(w, w2, n * sizeof *w);
        if (n >= 10) {
            mf_bootstrap_weights(cl, n, (uint32_t)n, 9, 5, w2);
            assert_memory_not_equal(w, w2, n * sizeof *w);
            mf_bootstrap_weights(cl, n, (uint32_t)n, 10, 4, w2);
            assert_memory_not_equal(w, w2, n * sizeof *w);
        }
        free(cl);
        free(w);
        free(w2);
    }
    /* several rows per patient, in any order: a patient's rows weigh the same */
    uint32_t cl[] = {2, 0, 1, 2, 2, 0, 3, 1};
    double w[N_OF(cl)];
    for (uint32_t b = 0; b < 50; b++) {
        mf_bootstrap_weights(cl, N_OF(cl), 4, 1, b, w);
        double per[4] = {-1, -1, -1, -1}, drawn = 0;
        for (size_t i = 0; i < N_OF(cl); i++) {
            if (per[cl[i]] < 0) {
                per[cl[i]] = w[i];
                drawn += w[i];
            }
            assert_near(w[i], per[cl[i]], 0);
        }
        assert_near(drawn, 4, 0);
    }
}

static void percentile_interval(void **state)
{
    (void)state;
    /* numpy.percentile(range(1, 11), [2.5, 97.5]) = [1.225, 9.775]; NaNs and infinities
     * skipped */
    double v[] = {7, NAN, 3, 10, 1, INFINITY, 9, 2, 8, 5, NAN, 4, 6, -INFINITY};
    double lo, hi;
    mf_percentile_interval(v, N_OF(v), 0.95, &lo, &hi);
    assert_near(lo, 1.225, 1e-15);
    assert_near(hi, 9.775, 1e-15);
    /* numpy.percentile([1, 2, 3, 4], [25, 75]) = [1.75, 3.25] */
    double u[] = {4, 1, 3, 2};
    mf_percentile_interval(u, 4, 0.5, &lo, &hi);
    assert_near(lo, 1.75, 1e-15);
    assert_near(hi, 3.25, 1e-15);
    /* fewer than two finite values */
    double one[] = {NAN, 2, NAN};
    mf_percentile_interval(one, 3, 0.95, &lo, &hi);
    assert_true(isnan(lo) && isnan(hi));
    mf_percentile_interval(one, 0, 0.95, &lo, &hi);
    assert_true(isnan(lo) && isnan(hi));
}

/* ---- coverage ------------------------------------------------------------------------- */

#define COV_R    1000 /* replications */
#define COV_B    200  /* bootstrap replicates each */
#define COV_K    100  /* patients */
#define COV_ROWS 2    /* rows per patient */
#define COV_D    1.0  /* binormal separation */
#define COV_PREV 0.35 /* share of positive patients */

/* One replication of each simulation; whether the intervals cover the true values. */
static void coverage_once(struct mf_rng *r, uint64_t seed, int *auroc_hit, int *brier_hit)
{
    enum { N = COV_K * COV_ROWS };
    double s[N], pb[N], w[N], va[COV_B], vb[COV_B];
    int y[N], yb[N];
    uint32_t cl[N];
    /* Each patient's rows share its label and most of its score (AUROC), or its risk and
     * label (Brier), so that rows are far from independent and a bootstrap of rows rather
     * than patients gives intervals much too short (coverage about 0.83 here).
     * AUROC: scores N(0, 1) for negatives and N(d, 1) for positives, 80% of the variance
     * from the patient, through the logistic function, which keeps the ranking: the true
     * AUROC (of a positive and a negative of different patients, the only pairs there are)
     * is Phi(d / sqrt 2).  Brier: the patient's true risk p ~ U(0.05, 0.5), its label
     * ~ Bernoulli(p), predicted p: the true Brier score is E[p (1 - p)]. */
    for (size_t k = 0; k < COV_K; k++) {
        int yk = mf_rng_bernoulli(r, COV_PREV);
        double u = mf_rng_normal(r), risk = 0.05 + 0.45 * mf_rng_uniform(r);
        int yr = mf_rng_bernoulli(r, risk);
        for (size_t j = 0; j < COV_ROWS; j++) {
            size_t i = k * COV_ROWS + j;
            cl[i] = (uint32_t)k;
            y[i] = yk;
            double z = COV_D * yk + sqrt(0.8) * u + sqrt(0.2) * mf_rng_normal(r);
            s[i] = 1 / (1 + exp(-z));
            pb[i] = risk;
            yb[i] = yr;
        }
    }
    uint32_t *oa, *ob;
    assert_int_equal(mf_metrics_order(s, N, &oa), 0);
    assert_int_equal(mf_metrics_order(pb, N, &ob), 0);
    struct mf_scored sa = {s, y, w, N, oa}, sb = {pb, yb, w, N, ob};
    for (uint32_t b = 0; b < COV_B; b++) {
        mf_bootstrap_weights(cl, N, COV_K, seed, b, w);
        va[b] = mf_auroc(&sa);
        vb[b] = mf_brier(&sb);
    }
    free(oa);
    free(ob);
    double true_auroc = 0.5 * erfc(-COV_D / 2); /* Phi(d / sqrt 2) */
    const double a = 0.05, c = 0.5;
    double true_brier = (a + c) / 2 - (a * a + a * c + c * c) / 3;
    double lo, hi;
    mf_percentile_interval(va, COV_B, 0.95, &lo, &hi);
    *auroc_hit = lo <= true_auroc && true_auroc <= hi;
    mf_percentile_interval(vb, COV_B, 0.95, &lo, &hi);
    *brier_hit = lo <= true_brier && true_brier <= hi;
}

static void bootstrap_coverage(void **state)
{
    (void)state;
    struct mf_rng r;
    mf_rng_seed(&r, 2024, 1);
    int ha = 0, hb = 0;
    for (int rep = 0; rep < COV_R; rep++) {
        int a, b;
        coverage_once(&r, (uint64_t)rep + 1, &a, &b);
        ha += a;
        hb += b;
    }
    /* binomial sd at 95% over 1000 replications: 0.0069; the percentile interval runs a
     * little short with 100 patients and 200 replicates (about 0.93 here, 0.94 with 1000
     * replicates or 400 patients), so the band is wider below */
    double ca = (double)ha / COV_R, cb = (double)hb / COV_R;
    print_message("coverage of the 95%% interval: AUROC %.3f, Brier %.3f\n", ca, cb);
    assert_true(ca >= 0.90 && ca <= 0.975);
    assert_true(cb >= 0.90 && cb <= 0.975);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auroc_by_hand),
        cmocka_unit_test(auprc_by_hand),
        cmocka_unit_test(brier_and_ece_by_hand),
        cmocka_unit_test(calibration_by_hand),
        cmocka_unit_test(thresholds_by_hand),
        cmocka_unit_test(curves_by_hand),
        cmocka_unit_test(undefined_is_nan),
        cmocka_unit_test(weight_is_duplication),
        cmocka_unit_test(order_is_stable_descending),
        cmocka_unit_test(bootstrap_weights),
        cmocka_unit_test(percentile_interval),
        cmocka_unit_test(bootstrap_coverage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
