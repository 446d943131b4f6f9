/* test_eval.c - the evaluation's pieces: demographics, baseline features, XGBoost, the truth
 * reader, one task's metrics with bootstrap intervals, subgroups, gaps and oracle fractions,
 * and the what-if agreement. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "core/timeutil.h"
#include "eval/baseline.h"
#include "eval/eval.h"
#include "eval/metrics.h"
#include "eval/truth.h"
#include "store/demog.h"

#include "testutil.h"

#include "teststore.h"

#define DAY  (86400LL * 1000000LL)
#define YEAR (365LL * DAY)

static const struct ev PEOPLE[] = {
    {"a", MF_TIME_NONE, "GENDER/FEMALE", NAN},
    {"a", MF_TIME_NONE, "RACE/2106-3", NAN},
    {"a", 0, "MEDS_BIRTH", NAN},
    {"a", 50 * YEAR, "SNOMED/1", NAN},
    {"a", 51 * YEAR, "SNOMED/1", NAN},
    {"a", 52 * YEAR, "SNOMED/2", NAN},
    {"a", 53 * YEAR, "MEDS_DEATH", NAN},
    {"b", MF_TIME_NONE, "GENDER/MALE", NAN},
    {"b", MF_TIME_NONE, "ETHNICITY/2186-5", NAN},
    {"b", 10 * YEAR, "SNOMED/2", NAN},
};

static void demographics_come_from_static_facts_and_birth(void **state)
{
    (void)state;
    write_store("people", PEOPLE, sizeof PEOPLE / sizeof PEOPLE[0]);
    struct mf_store *s = open_store("people");
    struct mf_timeline tl;
    struct mf_demog d;
    assert_int_equal(mf_store_find(s, "a", 1, &tl), 0);
    mf_demog_of(s, &tl, &d);
    assert_int_equal(d.sex.n, 6);
    assert_memory_equal(d.sex.p, "FEMALE", 6);
    assert_int_equal(d.race.n, 6);
    assert_null(d.ethnicity.p);
    assert_int_equal(d.birth, 0);
    assert_int_equal(d.last, 53 * YEAR);
    assert_true(fabs(mf_demog_age(&d, 50 * YEAR) - 50 * 365 / 365.25) < 1e-9);
    assert_string_equal(mf_demog_age_band(mf_demog_age(&d, 50 * YEAR)), "40-59");
    assert_int_equal(mf_store_find(s, "b", 1, &tl), 0);
    mf_demog_of(s, &tl, &d);
    assert_memory_equal(d.sex.p, "MALE", 4);
    assert_memory_equal(d.ethnicity.p, "2186-5", 6);
    assert_int_equal(d.birth, MF_TIME_NONE);
    assert_true(mf_demog_age(&d, 5 * YEAR) < 0);
    assert_string_equal(mf_demog_age_band(-1), "unknown");
    assert_string_equal(mf_demog_age_band(17.9), "<18");
    assert_string_equal(mf_demog_age_band(75), "75+");
    mf_store_close(s);
}

static void features_count_codes_up_to_the_prediction_time(void **state)
{
    (void)state;
    write_store("people", PEOPLE, sizeof PEOPLE / sizeof PEOPLE[0]);
    struct mf_store *s = open_store("people");
    struct mf_timeline ta, tb;
    assert_int_equal(mf_store_find(s, "a", 1, &ta), 0);
    assert_int_equal(mf_store_find(s, "b", 1, &tb), 0);
    struct mf_feature_row rows[3] = {{&ta, 51 * YEAR}, {&ta, 52 * YEAR}, {&tb, 20 * YEAR}};
    struct mf_features f;
    struct mf_err err = {0};
    /* SNOMED/1 is in 2 rows' histories, SNOMED/2 in 2 (row 1 and row 2); birth and death never */
    assert_int_equal(mf_features_choose(s, rows, 3, 2, 0, &f, &err), 0);
    assert_int_equal(f.n_code_cols, 2);
    assert_int_equal(mf_features_dim(&f), 5);
    float X[3][5];
    assert_int_equal(mf_features_build(&f, s, rows, 3, &X[0][0], &err), 0);
    int c1 = strcmp(f.names[0], "SNOMED/1") == 0 ? 0 : 1, c2 = 1 - c1;
    assert_string_equal(f.names[c2], "SNOMED/2");
    assert_true(fabsf(X[0][c1] - log1pf(2)) < 1e-6f); /* both SNOMED/1 by year 51 */
    assert_true(X[0][c2] == 0);
    assert_true(fabsf(X[1][c2] - log1pf(1)) < 1e-6f);
    assert_true(fabsf(X[0][2] - (float)(51 * 365 / 365.25)) < 1e-3f); /* age */
    assert_true(X[0][3] == 1 && X[0][4] == 0);                        /* female */
    assert_true(X[2][2] == 0 && X[2][3] == 0 && X[2][4] == 1);        /* no birth; male */
    /* a stricter minimum keeps fewer columns; the most frequent first */
    mf_features_free(&f);
    assert_int_equal(mf_features_choose(s, rows, 3, 3, 0, &f, &err), 0);
    assert_int_equal(f.n_code_cols, 0);
    mf_features_free(&f);
    /* rebinding to another store maps columns by code text */
    assert_int_equal(mf_features_choose(s, rows, 3, 1, 1, &f, &err), 0);
    assert_int_equal(f.n_code_cols, 1);
    static const struct ev other[] = {{"z", 1, "SNOMED/9", NAN}, {"z", 2, "SNOMED/2", NAN}};
    write_store("other", other, 2);
    struct mf_store *s2 = open_store("other");
    assert_int_equal(mf_features_rebind(&f, s2, &err), 0);
    struct mf_timeline tz;
    assert_int_equal(mf_store_find(s2, "z", 1, &tz), 0);
    struct mf_feature_row rz = {&tz, INT64_MAX};
    float xz[4];
    assert_int_equal(mf_features_build(&f, s2, &rz, 1, xz, &err), 0);
    assert_true(xz[0] == (strcmp(f.names[0], "SNOMED/2") == 0 ? log1pf(1) : 0));
    mf_features_free(&f);
    mf_store_close(s2);
    mf_store_close(s);
}

/* A logistic truth on 3 features, one of them noise. */
static void make_data(size_t n, uint64_t seed, float *X, int *y)
{
    struct mf_rng r;
    mf_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        double a = mf_rng_normal(&r), b = mf_rng_normal(&r), c = mf_rng_normal(&r);
        X[3 * i] = (float)a;
        X[3 * i + 1] = (float)b;
        X[3 * i + 2] = (float)c;
        double z = 2 * a - 1.5 * b * b + 1;
        y[i] = mf_rng_uniform(&r) < 1 / (1 + exp(-z));
    }
}

static void xgboost_learns_a_nonlinear_signal_deterministically(void **state)
{
    (void)state;
    enum { NT = 1500, NU = 400, NE = 600 };
    float *X = malloc((NT + NU + NE) * 3 * sizeof *X);
    int *y = malloc((NT + NU + NE) * sizeof *y);
    double *p = malloc(NE * sizeof *p), *q = malloc(NE * sizeof *q);
    make_data(NT + NU + NE, 3, X, y);
    struct mf_err err = {0};
    struct mf_xgb_info info;
    assert_int_equal(mf_xgb_fit_predict(X, y, NT, X + 3 * NT, y + NT, NU, X + 3 * (NT + NU), NE, 3,
                                        400, 2, 7, p, &info, &err),
                     0);
    assert_true(info.rounds >= 1 && info.rounds <= 400);
    assert_true(isfinite(info.tune_logloss));
    int *ye = y + NT + NU;
    struct mf_scored s = {p, ye, NULL, NE, NULL};
    double auc = mf_auroc(&s);
    /* the true risk's own AUROC is about 0.85 on such data; a linear model cannot use b^2 */
    assert_true(auc > 0.75);
    for (size_t i = 0; i < NE; i++)
        assert_true(p[i] > 0 && p[i] < 1);
    assert_int_equal(mf_xgb_fit_predict(X, y, NT, X + 3 * NT, y + NT, NU, X + 3 * (NT + NU), NE, 3,
                                        400, 2, 7, q, &info, &err),
                     0);
    assert_memory_equal(p, q, NE * sizeof *p);
    /* without tuning rows: a fixed number of rounds */
    assert_int_equal(mf_xgb_fit_predict(X, y, NT, NULL, NULL, 0, X + 3 * (NT + NU), NE, 3, 40, 1, 7,
                                        q, &info, &err),
                     0);
    assert_int_equal(info.rounds, 10);
    free(X);
    free(y);
    free(p);
    free(q);
}

static void write_text(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void truth_rows_are_filtered_and_checked(void **state)
{
    (void)state;
    char path[1024];
    write_text("risk.csv",
               "patient_id,index_time,outcome,horizon_days,probability\n"
               "p1,2011-01-01T00:00:00Z,MEDS_DEATH,365,0.25\n"
               "p1,2011-01-01T00:00:00Z,MEDS_DEATH,1826,0.5\n"
               "p1,2011-01-01T00:00:00Z,SNOMED/22298006,365,0.125\n"
               "p2,2014-01-01T00:00:00Z,MEDS_DEATH,365,0\n",
               path, sizeof path);
    struct mf_truth t = {0};
    struct mf_err err = {0};
    assert_int_equal(mf_truth_read(path, 0, "MEDS_DEATH", 365, &t, &err), 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.read, 4);
    assert_string_equal(t.rows[0].patient, "p1");
    assert_true(t.rows[0].p == 0.25 && t.rows[1].p == 0);
    assert_null(t.rows[0].treatment);
    int64_t want;
    assert_int_equal(mf_time_parse("2014-01-01T00:00:00Z", 20, &want), 0);
    assert_int_equal(t.rows[1].index, want);
    mf_truth_free(&t);
    write_text("effects.csv",
               "patient_id,index_time,treatment,outcome,horizon_days,probability\n"
               "p1,2011-01-01T00:00:00Z,none,MEDS_DEATH,365,0.25\n"
               "p1,2011-01-01T00:00:00Z,259255,MEDS_DEATH,365,0.2\n",
               path, sizeof path);
    assert_int_equal(mf_truth_read(path, 1, "MEDS_DEATH", 365, &t, &err), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.rows[0].treatment, "none");
    assert_string_equal(t.rows[1].treatment, "RxNorm/259255");
    mf_truth_free(&t);
    /* bad rows name the file and line */
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"patient_id,index_time,outcome,horizon_days,probability\np,2011-01-01,MEDS_DEATH,365,"
         "1.5\n",
         "bad.csv:2: probability"},
        {"patient_id,index_time,outcome,horizon_days,probability\np,then,MEDS_DEATH,365,0.5\n",
         "bad.csv:2: index_time"},
        {"patient_id,index_time,outcome,horizon_days,probability\np,2011-01-01,X,365.5,0.5\n",
         "bad.csv:2: horizon_days"},
        {"patient_id,index_time,outcome,probability\n", "no column 'horizon_days'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_text("bad.csv", bad[k].text, path, sizeof path);
        memset(&err, 0, sizeof err);
        assert_int_not_equal(mf_truth_read(path, 0, "MEDS_DEATH", 365, &t, &err), 0);
        if (strstr(err.msg, bad[k].msg) == NULL)
            fail_msg("'%s' lacks '%s'", err.msg, bad[k].msg);
        mf_truth_free(&t);
    }
    /* the truth/ folder or the folder itself */
    char dir[512], got[4096];
    snprintf(dir, sizeof dir, "%s/cohort/truth", tmpdir);
    struct mf_err e2 = {0};
    assert_int_equal(mf_fs_mkdir_p(dir, &e2), 0);
    assert_int_not_equal(mf_truth_path(dir, "risk.csv", got, sizeof got), 0);
    snprintf(path, sizeof path, "%s/risk.csv", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(dir, sizeof dir, "%s/cohort", tmpdir);
    assert_int_equal(mf_truth_path(dir, "risk.csv", got, sizeof got), 0);
    assert_string_equal(got, path);
}

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const cJSON *pred(const cJSON *task, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(task, "predictors"), i);
}

/* 600 patients, 2 samples each; group 0 scored by the true risk, group 1 by noise. */
static void task_metrics_have_intervals_subgroups_gaps_and_oracle_fractions(void **state)
{
    (void)state;
    enum { N = 1200 };
    int *y = malloc(N * sizeof *y), *grp = malloc(N * sizeof *grp);
    uint32_t *cl = malloc(N * sizeof *cl);
    double *truth = malloc(N * sizeof *truth), *model = malloc(N * sizeof *model);
    struct mf_rng r;
    mf_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < N; i++) {
        cl[i] = (uint32_t)(i / 2);
        grp[i] = (int)(cl[i] % 2);
        truth[i] = 0.05 + 0.9 * mf_rng_uniform(&r);
        y[i] = mf_rng_uniform(&r) < truth[i];
        model[i] = grp[i] == 0 ? truth[i] : mf_rng_uniform(&r);
    }
    const char *names[2] = {"informed", "noise"};
    struct mf_eval_attr at = {"sex", names, 2, grp};
    struct mf_eval_pred preds[2] = {{"m", "model", "test model", model},
                                    {"oracle", "oracle", "true risk", truth}};
    double th[2] = {0.1, 0.5};
    struct mf_eval_opts o = {th, 2, 200, 5, 20};
    struct mf_err err = {0};
    cJSON *t = mf_eval_task(y, cl, N, N / 2, &at, 1, preds, 2, 1, &o, &err);
    assert_non_null(t);
    assert_true(num(t, "cohort", "samples") == N);
    assert_true(num(t, "cohort", "patients") == N / 2);
    const cJSON *m = pred(t, 0), * or = pred(t, 1);
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(m, "metrics");
    double auc = num(ma, "auroc", "value"), lo = num(ma, "auroc", "lo"),
           hi = num(ma, "auroc", "hi");
    assert_true(lo < auc && auc < hi && hi - lo < 0.15);
    /* point estimates equal the metrics on the whole cohort */
    struct mf_scored s = {model, y, NULL, N, NULL};
    assert_true(fabs(auc - mf_auroc(&s)) < 1e-12);
    assert_true(fabs(num(ma, "brier", "value") - mf_brier(&s)) < 1e-12);
    /* the oracle fraction is the ratio of the two AUROCs */
    struct mf_scored so = {truth, y, NULL, N, NULL};
    double frac = num(cJSON_GetObjectItemCaseSensitive(m, "oracle_fraction"), "auroc", "value");
    assert_true(fabs(frac - mf_auroc(&s) / mf_auroc(&so)) < 1e-12);
    assert_true(frac < 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(or, "oracle_fraction"));
    /* subgroups: the informed group ranks well, the noise group at chance; the gap is flagged */
    const cJSON *sg = cJSON_GetObjectItemCaseSensitive(m, "subgroups");
    assert_int_equal(cJSON_GetArraySize(sg), 2);
    assert_true(num(cJSON_GetArrayItem(sg, 0), "auroc", "value") > 0.75);
    assert_true(fabs(num(cJSON_GetArrayItem(sg, 1), "auroc", "value") - 0.5) < 0.1);
    const cJSON *gap = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "gaps"), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(gap, "metric")->valuestring, "auroc");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(gap, "best")->valuestring, "informed");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(gap, "worst")->valuestring, "noise");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(gap, "flagged")));
    assert_true(num(gap, "gap", "lo") > 0);
    /* the oracle, the same in both groups, has no flagged AUROC gap */
    const cJSON *og = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(or, "gaps"), 0);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(og, "flagged")));
    /* thresholds and curves */
    const cJSON *th0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "thresholds"), 1);
    struct mf_confusion cf = mf_at_threshold(&s, 0.5);
    assert_true(fabs(num(th0, "sensitivity", "value") - cf.sensitivity) < 1e-12);
    assert_true(fabs(num(th0, "net_benefit", "value") - cf.net_benefit) < 1e-12);
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(m, "curves");
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cv, "roc")) <= 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cv, "decision")), 99);
    /* the same seed gives the same intervals */
    cJSON *t2 = mf_eval_task(y, cl, N, N / 2, &at, 1, preds, 2, 1, &o, &err);
    char *a = cJSON_PrintUnformatted(t), *b = cJSON_PrintUnformatted(t2);
    assert_string_equal(a, b);
    free(a);
    free(b);
    cJSON_Delete(t2);
    cJSON_Delete(t);
    /* without bootstrap: values, null intervals */
    o.bootstrap = 0;
    t = mf_eval_task(y, cl, N, N / 2, &at, 1, preds, 2, -1, &o, &err);
    assert_non_null(t);
    ma = cJSON_GetObjectItemCaseSensitive(pred(t, 0), "metrics");
    assert_true(cJSON_IsNull(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ma, "auroc"), "lo")));
    assert_null(cJSON_GetObjectItemCaseSensitive(pred(t, 0), "oracle_fraction"));
    cJSON_Delete(t);
    free(y);
    free(grp);
    free(cl);
    free(truth);
    free(model);
}

static void effects_agreement_is_pearson_and_sign(void **state)
{
    (void)state;
    double td[6] = {0.1, -0.05, 0.02, 0.0, -0.2, 0.3};
    double md[6] = {0.2, -0.1, 0.04, 0.01, -0.4, 0.6}; /* 2 x the truth, but one */
    uint32_t cl[6] = {0, 0, 1, 1, 2, 2};
    int tr[6] = {0, 1, 0, 1, 0, 1};
    const char *names[2] = {"RxNorm/1", "RxNorm/2"};
    struct mf_err err = {0};
    cJSON *e = mf_eval_effects(td, md, cl, tr, 6, 3, names, 2, 100, 1, &err);
    assert_non_null(e);
    assert_true(num(e, "pearson", "value") > 0.99);
    assert_true(num(e, "sign_agreement", NULL) == 1); /* the 0.0 pair is not counted */
    assert_true(num(e, "pairs", NULL) == 6);
    const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "per_treatment"), 0);
    assert_true(fabs(num(p0, "true_mean_difference", NULL) - (0.1 + 0.02 - 0.2) / 3) < 1e-12);
    assert_true(fabs(num(p0, "model_mean_difference", NULL) - (0.2 + 0.04 - 0.4) / 3) < 1e-12);
    cJSON_Delete(e);
    md[0] = -0.2;
    e = mf_eval_effects(td, md, cl, tr, 6, 3, names, 2, 0, 1, &err);
    assert_true(fabs(num(e, "sign_agreement", NULL) - 4.0 / 5.0) < 1e-12);
    assert_true(cJSON_IsNull(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "pearson"), "lo")));
    cJSON_Delete(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(demographics_come_from_static_facts_and_birth),
        cmocka_unit_test(features_count_codes_up_to_the_prediction_time),
        cmocka_unit_test(xgboost_learns_a_nonlinear_signal_deterministically),
        cmocka_unit_test(truth_rows_are_filtered_and_checked),
        cmocka_unit_test(task_metrics_have_intervals_subgroups_gaps_and_oracle_fractions),
        cmocka_unit_test(effects_agreement_is_pearson_and_sign),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
