/* test_synth_model.c - unit tests for the synthetic cohort's disease model and its truth
 * (src/synth/model.c): determinism, the shape of a life, prevalence and mortality against the
 * published figures of docs/synth-model.md, calibration of the true risks against what the
 * simulated lives show, and the direction of treatment effects.
 *
 * The cohort checks simulate MEDFM_MODEL_N patients (20,000 by default, 5,000 when
 * MEDFM_SANITIZED is set) once, in the group setup; MEDFM_MODEL_VERBOSE=1 prints the figures.
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
#include <time.h>

#include "core/timeutil.h"
#include "synth/model.h"
#include "synth/synth.h"

#define NO      MF_SYN_N_OUTCOMES
#define DEATH   (NO - 1)
#define YEAR_US (365.25 * (double)MF_USEC_PER_DAY)

static struct mf_synth_window window(void)
{
    struct mf_synth_window w = {mf_time_from_date(2010, 1, 1), mf_time_from_date(2025, 1, 1)};
    return w;
}

static int verbose(void)
{
    const char *v = getenv("MEDFM_MODEL_VERBOSE");
    return v && *v && *v != '0';
}

static int outcome_of(const char *code)
{
    for (int o = 0; o < DEATH; o++)
        if (!strcmp(code, mf_synth_outcome_codes[o]))
            return o;
    return -1;
}

/* First onset time of every outcome in a life (MF_TIME_NONE when none). */
static void onsets(const struct mf_syn_life *l, int64_t on[NO])
{
    for (int o = 0; o < NO; o++)
        on[o] = MF_TIME_NONE;
    for (size_t i = 0; i < l->n_items; i++) {
        const struct mf_syn_item *it = &l->items[i];
        if (it->kind != MF_SYN_CONDITION)
            continue;
        int o = outcome_of(it->code);
        if (o >= 0 && on[o] == MF_TIME_NONE)
            on[o] = it->time;
    }
    on[DEATH] = l->death;
}

/* Two-sided normal quantile: z with P(|Z| > z) = alpha. */
static double z_for(double alpha)
{
    double lo = 0, hi = 10;
    for (int i = 0; i < 100; i++) {
        double mid = (lo + hi) / 2;
        if (erfc(mid / sqrt(2)) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* --- small checks --------------------------------------------------------------------- */

static void same_seed_same_life(void **state)
{
    (void)state;
    struct mf_synth_window w = window();
    struct mf_syn_life a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    for (int p = 0; p < 30; p++) {
        struct mf_rng r1, r2;
        mf_rng_seed(&r1, 7, (uint64_t)p);
        mf_rng_seed(&r2, 7, (uint64_t)p);
        assert_int_equal(mf_synth_simulate(&r1, &w, &a), 0);
        assert_int_equal(mf_synth_simulate(&r2, &w, &b), 0);
        assert_int_equal(a.n_items, b.n_items);
        assert_int_equal(a.n_truth, b.n_truth);
        assert_true(a.birth == b.birth && a.death == b.death && a.female == b.female);
        for (size_t i = 0; i < a.n_items; i++) {
            assert_true(a.items[i].time == b.items[i].time);
            assert_string_equal(a.items[i].code, b.items[i].code);
            assert_int_equal(a.items[i].encounter, b.items[i].encounter);
            assert_true(a.items[i].value == b.items[i].value ||
                        (isnan(a.items[i].value) && isnan(b.items[i].value)));
        }
        for (size_t i = 0; i < a.n_truth; i++)
            assert_true(a.truth[i].probability == b.truth[i].probability);
    }
    mf_synth_life_free(&a);
    mf_synth_life_free(&b);
}

/* The life must not depend on whether (or with which streams) the truth is computed. */
static void truth_leaves_life_alone(void **state)
{
    (void)state;
    struct mf_synth_window w = window();
    struct mf_synth_model_opts off, salted;
    mf_synth_model_defaults(&off);
    mf_synth_model_defaults(&salted);
    off.truth = 0;
    salted.salt = 12345;
    struct mf_syn_life a, b, c;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    int differ = 0;
    for (int p = 0; p < 40; p++) {
        struct mf_rng r1, r2, r3;
        mf_rng_seed(&r1, 3, (uint64_t)p);
        r2 = r1;
        r3 = r1;
        assert_int_equal(mf_synth_simulate(&r1, &w, &a), 0);
        assert_int_equal(mf_synth_simulate_ex(&r2, &w, &off, &b), 0);
        assert_int_equal(mf_synth_simulate_ex(&r3, &w, &salted, &c), 0);
        assert_int_equal(b.n_truth, 0);
        assert_int_equal(a.n_items, b.n_items);
        assert_int_equal(a.n_items, c.n_items);
        assert_int_equal(a.n_truth, c.n_truth);
        assert_true(a.death == b.death && a.death == c.death);
        for (size_t i = 0; i < a.n_items; i++) {
            assert_true(a.items[i].time == b.items[i].time && a.items[i].time == c.items[i].time);
            assert_true(a.items[i].code == b.items[i].code && a.items[i].code == c.items[i].code);
        }
        for (size_t i = 0; i < a.n_truth; i++)
            differ += a.truth[i].probability != c.truth[i].probability;
        assert_memory_equal(r1.s, r2.s, sizeof(r1.s));
    }
    assert_true(differ > 0); /* the salt does reach the truth streams */
    mf_synth_life_free(&a);
    mf_synth_life_free(&b);
    mf_synth_life_free(&c);
}

static void life_is_well_formed(void **state)
{
    (void)state;
    struct mf_synth_window w = window();
    struct mf_syn_life l;
    memset(&l, 0, sizeof(l));
    int deaths = 0, kinds[5] = {0};
    for (int p = 0; p < 300; p++) {
        struct mf_rng r;
        mf_rng_seed(&r, 11, (uint64_t)p);
        assert_int_equal(mf_synth_simulate(&r, &w, &l), 0);
        assert_true(l.birth < w.start);
        double age = (double)(w.start - l.birth) / YEAR_US;
        assert_true(age >= 18 && age < 100.5);
        assert_non_null(l.race);
        assert_non_null(l.ethnicity);
        if (l.death != MF_TIME_NONE) {
            deaths++;
            assert_true(l.death >= w.start && l.death < w.end);
        }
        int seen[NO] = {0};
        for (size_t i = 0; i < l.n_items; i++) {
            const struct mf_syn_item *it = &l.items[i];
            kinds[it->kind]++;
            assert_non_null(it->code);
            assert_non_null(it->display);
            assert_true(strchr(it->code, '/') == NULL);
            if (i > 0)
                assert_true(it->time >= l.items[i - 1].time);
            assert_true(it->time < w.end);
            if (l.death != MF_TIME_NONE)
                assert_true(it->time <= l.death);
            if (it->kind == MF_SYN_ENCOUNTER) {
                assert_int_equal(it->encounter, -1);
                assert_true(it->end_time >= it->time);
                assert_true(it->time >= w.start);
                continue;
            }
            if (it->kind == MF_SYN_OBSERVATION) {
                assert_true(isfinite(it->value));
                assert_non_null(it->unit);
            }
            if (it->kind == MF_SYN_CONDITION) {
                int o = outcome_of(it->code);
                if (o >= 0) {
                    assert_int_equal(seen[o], 0); /* each condition once */
                    seen[o] = 1;
                }
            }
            if (it->time < w.start) { /* history: conditions only, at the first check-up */
                assert_int_equal(it->kind, MF_SYN_CONDITION);
                if (it->encounter < 0)
                    continue;
            }
            assert_true(it->encounter >= 0 && (size_t)it->encounter < l.n_items);
            const struct mf_syn_item *e = &l.items[it->encounter];
            assert_int_equal(e->kind, MF_SYN_ENCOUNTER);
            if (it->time >= w.start)
                assert_true(it->time >= e->time && it->time <= e->end_time);
        }
        /* CKD stages come in order */
        assert_true(!seen[5] || seen[4]);
        assert_true(!seen[6] || seen[5]);
    }
    assert_true(deaths > 5 && deaths < 150);
    for (int k = 0; k < 5; k++)
        assert_true(kinds[k] > 0);
    mf_synth_life_free(&l);
}

/* Truth rows: only outcomes not had by the index date, index dates 5 years before the end,
 * probabilities in [0, 1] and the 5-year risk at least the 1-year one. */
static void truth_rows_are_consistent(void **state)
{
    (void)state;
    struct mf_synth_window w = window();
    struct mf_syn_life l;
    memset(&l, 0, sizeof(l));
    for (int p = 0; p < 100; p++) {
        struct mf_rng r;
        mf_rng_seed(&r, 5, (uint64_t)p);
        assert_int_equal(mf_synth_simulate(&r, &w, &l), 0);
        int64_t on[NO];
        onsets(&l, on);
        for (size_t i = 0; i < l.n_truth; i++) {
            const struct mf_syn_truth *t = &l.truth[i];
            assert_true(t->index_time + 1826 * MF_USEC_PER_DAY <= w.end);
            assert_true(t->probability >= 0 && t->probability <= 1);
            assert_true(t->horizon_days == 365 || t->horizon_days == 1826);
            assert_true(l.death == MF_TIME_NONE || l.death > t->index_time);
            int o = -1;
            for (int k = 0; k < NO; k++)
                if (!strcmp(t->outcome, mf_synth_outcome_names[k]))
                    o = k;
            assert_true(o >= 0);
            if (o != DEATH)
                assert_true(on[o] == MF_TIME_NONE || on[o] > t->index_time);
            if (t->horizon_days == 365) {
                assert_true(i + 1 < l.n_truth);
                assert_int_equal(l.truth[i + 1].horizon_days, 1826);
                assert_true(l.truth[i + 1].probability >= t->probability - 1e-12);
            }
        }
    }
    mf_synth_life_free(&l);
}

/* --- the cohort ----------------------------------------------------------------------- */

/* A risk row reduced to what calibration needs. */
struct obs_row {
    float p;
    uint8_t outcome, h5, first, seen;
};

struct cohort {
    int n;
    double seconds;
    /* prevalence at window.start */
    double prev[NO], prev_n;
    /* mortality by attained age: person-years and deaths */
    double py[8], dd[8];
    struct obs_row *rows;
    size_t n_rows, cap_rows;
    /* effects: sums over eligible rows of P(outcome | arm) - P(outcome | none) */
    double ac_stroke_diff, ac_stroke_none, statin_mi_diff, statin_mi_none;
    int ac_n, statin_n;
};

static struct cohort C;
static const double MORT_AGE[9] = {18, 30, 40, 50, 60, 70, 80, 90, 110};

static int push_row(float p, int o, int h5, int first, int seen)
{
    if (C.n_rows == C.cap_rows) {
        size_t cap = C.cap_rows ? 2 * C.cap_rows : 65536;
        struct obs_row *v = realloc(C.rows, cap * sizeof(*v));
        if (!v)
            return -1;
        C.rows = v;
        C.cap_rows = cap;
    }
    C.rows[C.n_rows++] =
        (struct obs_row){p, (uint8_t)o, (uint8_t)h5, (uint8_t)first, (uint8_t)seen};
    return 0;
}

static double effect_p(const struct mf_syn_life *l, size_t from, int64_t t, const char *treat,
                       const char *outcome, int h)
{
    for (size_t i = from; i < l->n_truth; i++) {
        const struct mf_syn_truth *r = &l->truth[i];
        if (r->index_time == t && r->treatment && !strcmp(r->treatment, treat) &&
            !strcmp(r->outcome, outcome) && r->horizon_days == h)
            return r->probability;
    }
    return -1;
}

static int cohort_setup(void **state)
{
    (void)state;
    const char *ns = getenv("MEDFM_MODEL_N");
    C.n = getenv("MEDFM_SANITIZED") ? 5000 : 20000;
    if (ns && *ns)
        C.n = (int)strtol(ns, NULL, 10);
    struct mf_synth_window w = window();
    struct mf_syn_life l;
    memset(&l, 0, sizeof(l));
    clock_t c0 = clock();
    for (int p = 0; p < C.n; p++) {
        struct mf_rng r;
        mf_rng_seed(&r, 2024, (uint64_t)p);
        if (mf_synth_simulate(&r, &w, &l))
            return -1;
        int64_t on[NO];
        onsets(&l, on);
        C.prev_n++;
        for (int o = 0; o < DEATH; o++)
            C.prev[o] += on[o] != MF_TIME_NONE && on[o] < w.start;
        double a0 = (double)(w.start - l.birth) / YEAR_US;
        double a1 = (double)((l.death != MF_TIME_NONE ? l.death : w.end) - l.birth) / YEAR_US;
        double ad = l.death != MF_TIME_NONE ? a1 : -1;
        for (int b = 0; b < 8; b++) {
            double lo = fmax(a0, MORT_AGE[b]), hi = fmin(a1, MORT_AGE[b + 1]);
            if (hi > lo)
                C.py[b] += hi - lo;
            if (ad >= MORT_AGE[b] && ad < MORT_AGE[b + 1])
                C.dd[b]++;
        }
        int64_t first_index = l.n_truth ? l.truth[0].index_time : 0;
        for (size_t i = 0; i < l.n_truth; i++) {
            const struct mf_syn_truth *t = &l.truth[i];
            if (t->treatment)
                continue;
            int o = 0;
            while (o < NO && strcmp(t->outcome, mf_synth_outcome_names[o]))
                o++;
            int64_t cut = t->index_time + (int64_t)t->horizon_days * MF_USEC_PER_DAY;
            int seen = on[o] != MF_TIME_NONE && on[o] > t->index_time && on[o] <= cut;
            if (push_row((float)t->probability, o, t->horizon_days == 1826,
                         t->index_time == first_index, seen))
                return -1;
            /* effects, on the 5-year horizon */
            if (t->horizon_days != 1826)
                continue;
            if (o == 10) { /* stroke, in AF patients not on an anticoagulant */
                double pn = effect_p(&l, i, t->index_time, "none", t->outcome, 1826);
                double pa = effect_p(&l, i, t->index_time, "1364435", t->outcome, 1826);
                if (on[8] != MF_TIME_NONE && on[8] <= t->index_time && pa != pn) {
                    C.ac_stroke_diff += pa - pn;
                    C.ac_stroke_none += pn;
                    C.ac_n++;
                }
            }
            if (o == 9) { /* MI, in patients not on a statin */
                double pn = effect_p(&l, i, t->index_time, "none", t->outcome, 1826);
                double ps = effect_p(&l, i, t->index_time, "259255", t->outcome, 1826);
                if (ps != pn) {
                    C.statin_mi_diff += ps - pn;
                    C.statin_mi_none += pn;
                    C.statin_n++;
                }
            }
        }
    }
    C.seconds = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (verbose())
        printf("cohort: %d patients in %.2f s (%.0f patients/s with truth)\n", C.n, C.seconds,
               C.n / C.seconds);
    mf_synth_life_free(&l);
    return 0;
}

static int cohort_teardown(void **state)
{
    (void)state;
    free(C.rows);
    memset(&C, 0, sizeof(C));
    return 0;
}

/* Published US adult figures (docs/synth-model.md gives the sources) and the relative
 * tolerance of each check. */
static const struct {
    int outcome;
    double target, tol;
} PREV[] = {
    {0, 0.47, 0.25},   {1, 0.33, 0.30},   {2, 0.12, 0.35},   {3, 0.42, 0.20},    {4, 0.066, 0.40},
    {5, 0.004, 1.20},  {6, 0.003, 0.60},  {7, 0.025, 0.35},  {8, 0.025, 0.40},   {9, 0.031, 0.35},
    {10, 0.030, 0.35}, {11, 0.060, 0.35}, {12, 0.184, 0.30}, {13, 0.0035, 0.60}, {14, 0.0024, 0.60},
};

static void prevalence_matches_targets(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(PREV) / sizeof(PREV[0]); i++) {
        double got = C.prev[PREV[i].outcome] / C.prev_n;
        int ok = fabs(got / PREV[i].target - 1) <= PREV[i].tol;
        if (verbose() || !ok)
            printf("prevalence %-17s target %6.2f%% measured %6.2f%% (tolerance %.0f%%)%s\n",
                   mf_synth_outcome_names[PREV[i].outcome], 100 * PREV[i].target, 100 * got,
                   100 * PREV[i].tol, ok ? "" : "  FAIL");
        bad += !ok;
    }
    assert_int_equal(bad, 0);
}

/* US life tables 2019 (NVSR 70-19), both sexes: annual probability of death by age band. */
static const double MORT_TARGET[8] = {0.0011, 0.0018, 0.0030, 0.0070,
                                      0.0150, 0.0360, 0.0900, 0.2000};

static void mortality_matches_life_tables(void **state)
{
    (void)state;
    int bad = 0;
    for (int b = 0; b < 8; b++) {
        double rate = C.dd[b] / C.py[b];
        double q = 1 - exp(-rate);
        /* young bands have few deaths: wider tolerance */
        double tol = b < 3 ? 0.6 : 0.35;
        int ok = C.dd[b] < 20 || fabs(q / MORT_TARGET[b] - 1) <= tol;
        if (verbose() || !ok)
            printf("mortality %3.0f-%3.0f target %6.3f%% measured %6.3f%% (%0.f deaths)%s\n",
                   MORT_AGE[b], MORT_AGE[b + 1], 100 * MORT_TARGET[b], 100 * q, C.dd[b],
                   ok ? "" : "  FAIL");
        bad += !ok;
    }
    assert_int_equal(bad, 0);
}

static int cmp_p(const void *a, const void *b)
{
    float x = ((const struct obs_row *)a)->p, y = ((const struct obs_row *)b)->p;
    return (x > y) - (x < y);
}

/* Observed against predicted over a set of rows: |O - E| within z standard deviations of the
 * Poisson-binomial law that the predictions imply. */
static int calib_check(const char *what, const struct obs_row *r, size_t n, double z)
{
    double O = 0, E = 0, V = 0;
    for (size_t i = 0; i < n; i++) {
        O += r[i].seen;
        E += r[i].p;
        V += r[i].p * (1.0 - r[i].p);
    }
    double dev = V > 0 ? (O - E) / sqrt(V) : 0;
    int ok = fabs(dev) <= z || (V < 1e-9 && O == 0);
    if (verbose() || !ok)
        printf("calibration %-30s n %7zu observed %7.0f expected %9.1f  z %+5.2f%s\n", what, n, O,
               E, dev, ok ? "" : "  FAIL");
    return ok;
}

/* Calibration per outcome: 1-year horizon over all index dates (non-overlapping windows, so
 * outcome minus risk is a martingale difference and the variances add), 5-year horizon over
 * the first index date of each patient (independent patients); and per risk decile of death
 * and of three conditions at 1 year.  The family of checks has a 99% level (Bonferroni). */
static void truth_is_calibrated(void **state)
{
    (void)state;
    struct obs_row *sel = malloc(C.n_rows * sizeof(*sel));
    assert_non_null(sel);
    const int decile_outcomes[] = {DEATH, 0, 2, 9};
    int n_checks = 2 * NO + 10 * 4;
    double z = z_for(0.01 / n_checks);
    int bad = 0;
    char what[64];
    for (int o = 0; o < NO; o++) {
        for (int h5 = 0; h5 < 2; h5++) {
            size_t n = 0;
            for (size_t i = 0; i < C.n_rows; i++)
                if (C.rows[i].outcome == o && C.rows[i].h5 == h5 && (!h5 || C.rows[i].first))
                    sel[n++] = C.rows[i];
            snprintf(what, sizeof(what), "%s %s", mf_synth_outcome_names[o], h5 ? "5y" : "1y");
            bad += !calib_check(what, sel, n, z);
        }
    }
    for (size_t d = 0; d < sizeof(decile_outcomes) / sizeof(decile_outcomes[0]); d++) {
        int o = decile_outcomes[d];
        size_t n = 0;
        for (size_t i = 0; i < C.n_rows; i++)
            if (C.rows[i].outcome == o && !C.rows[i].h5)
                sel[n++] = C.rows[i];
        qsort(sel, n, sizeof(*sel), cmp_p);
        for (int k = 0; k < 10; k++) {
            size_t lo = n * (size_t)k / 10, hi = n * (size_t)(k + 1) / 10;
            snprintf(what, sizeof(what), "%s 1y decile %d", mf_synth_outcome_names[o], k + 1);
            bad += !calib_check(what, sel + lo, hi - lo, z);
        }
    }
    free(sel);
    assert_int_equal(bad, 0);
}

/* Anticoagulation lowers stroke risk in AF; a statin lowers MI risk. */
static void effects_point_the_right_way(void **state)
{
    (void)state;
    if (verbose())
        printf("effects: AF patients %d, stroke 5y none %.4f, apixaban - none %.4f; "
               "statin-naive %d, MI 5y none %.4f, atorvastatin - none %.4f\n",
               C.ac_n, C.ac_stroke_none / C.ac_n, C.ac_stroke_diff / C.ac_n, C.statin_n,
               C.statin_mi_none / C.statin_n, C.statin_mi_diff / C.statin_n);
    assert_true(C.ac_n > 20);
    assert_true(C.statin_n > 1000);
    assert_true(C.ac_stroke_diff < -0.15 * C.ac_stroke_none);
    assert_true(C.statin_mi_diff < -0.05 * C.statin_mi_none);
}

/* The truth's Monte Carlo error: two computations with independent streams; the standard
 * error of one is the standard deviation of their difference over sqrt(2). */
static void monte_carlo_error_is_small(void **state)
{
    (void)state;
    struct mf_synth_window w = window();
    struct mf_synth_model_opts o1, o2;
    mf_synth_model_defaults(&o1);
    mf_synth_model_defaults(&o2);
    o2.salt = 0xabcdef;
    struct mf_syn_life a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    double ss[2] = {0}, sp[2] = {0}, worst = 0;
    double n[2] = {0};
    for (int p = 0; p < 1000; p++) {
        struct mf_rng r1, r2;
        mf_rng_seed(&r1, 99, (uint64_t)p);
        r2 = r1;
        assert_int_equal(mf_synth_simulate_ex(&r1, &w, &o1, &a), 0);
        assert_int_equal(mf_synth_simulate_ex(&r2, &w, &o2, &b), 0);
        assert_int_equal(a.n_truth, b.n_truth);
        for (size_t i = 0; i < a.n_truth; i++) {
            if (a.truth[i].treatment)
                continue;
            int h = a.truth[i].horizon_days == 1826;
            double d = a.truth[i].probability - b.truth[i].probability;
            ss[h] += d * d;
            sp[h] += a.truth[i].probability;
            n[h]++;
            if (fabs(d) > worst)
                worst = fabs(d);
        }
    }
    double se1 = sqrt(ss[0] / n[0] / 2), se5 = sqrt(ss[1] / n[1] / 2);
    if (verbose())
        printf("truth MC standard error (risk rows): 1y %.5f (mean risk %.4f), 5y %.5f "
               "(mean risk %.4f), largest difference of two runs %.4f\n",
               se1, sp[0] / n[0], se5, sp[1] / n[1], worst);
    assert_true(se1 < 0.01);
    assert_true(se5 < 0.02);
    mf_synth_life_free(&a);
    mf_synth_life_free(&b);
}

int main(void)
{
    const struct CMUnitTest small[] = {
        cmocka_unit_test(same_seed_same_life),        cmocka_unit_test(truth_leaves_life_alone),
        cmocka_unit_test(life_is_well_formed),        cmocka_unit_test(truth_rows_are_consistent),
        cmocka_unit_test(monte_carlo_error_is_small),
    };
    const struct CMUnitTest cohort[] = {
        cmocka_unit_test(prevalence_matches_targets),
        cmocka_unit_test(mortality_matches_life_tables),
        cmocka_unit_test(truth_is_calibrated),
        cmocka_unit_test(effects_point_the_right_way),
    };
    int rc = cmocka_run_group_tests_name("synth_model", small, NULL, NULL);
    rc |= cmocka_run_group_tests_name("synth_model_cohort", cohort, cohort_setup, cohort_teardown);
    return rc;
}
