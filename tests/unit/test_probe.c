/* test_probe.c - unit tests for linear probes: fit quality on two Gaussians, agreement with an
 * independent Newton (IRLS) logistic regression, k-shot sampling, the choice of C, the
 * probe.json round trip and its damage, and too few samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/rng.h"
#include "infer/probe.h"

#include "testutil.h"

#define DIM 16

/* n rows of two Gaussians in DIM dimensions: label 1 with probability frac_pos, centred at
 * +sep (label 1) or -sep (label 0) on every axis, unit variance; a few features shifted and
 * scaled so that standardization matters, one constant. */
struct data {
    size_t n;
    float *X;
    int *y;
};

static struct data make_data(size_t n, double sep, double frac_pos, uint64_t seed, int noise)
{
    struct data d = {n, malloc(n * DIM * sizeof(float)), malloc(n * sizeof(int))};
    assert_non_null(d.X);
    assert_non_null(d.y);
    struct mf_rng r;
    mf_rng_seed(&r, seed, 7);
    for (size_t i = 0; i < n; i++) {
        int y = mf_rng_uniform(&r) < frac_pos;
        for (int j = 0; j < DIM; j++) {
            double v = mf_rng_normal(&r) + (y ? sep : -sep);
            if (j == 3)
                v = 50.0 + 10.0 * v;
            if (j == 5)
                v = 0.01 * v - 3.0;
            if (j == 7)
                v = 2.5;
            d.X[i * DIM + j] = (float)v;
        }
        d.y[i] = noise ? mf_rng_uniform(&r) < frac_pos : y;
    }
    return d;
}

static void free_data(struct data *d)
{
    free(d->X);
    free(d->y);
}

/* AUROC by counting ordered pairs (ties count half). */
static double auroc(const double *p, const int *y, size_t n)
{
    double good = 0, pairs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            if (y[i] == 1 && y[k] == 0) {
                pairs++;
                good += p[i] > p[k] ? 1.0 : p[i] == p[k] ? 0.5 : 0.0;
            }
    return good / pairs;
}

/* probe.json parsed (release with mf_json_release). */
static cJSON *read_probe_json(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/probe.json", dir);
    struct mf_err err = {0};
    cJSON *j = mf_json_read_file(path, 1 << 26, &err);
    assert_non_null(j);
    return j;
}

static double json_num(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsNumber(it));
    return it->valuedouble;
}

static void two_gaussians_fit_well(void **state)
{
    (void)state;
    struct data tr = make_data(300, 0.4, 0.4, 1, 0), tu = make_data(100, 0.4, 0.4, 2, 0);
    struct mf_probe *p = NULL;
    struct mf_err err = {0};
    struct mf_probe_opts o = {0};
    int rc = mf_probe_fit(tr.X, tr.y, tr.n, tu.X, tu.y, tu.n, DIM, &o, &p, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(mf_probe_dim(p), DIM);
    double *pr = malloc(tr.n * sizeof *pr);
    for (size_t i = 0; i < tr.n; i++) {
        pr[i] = mf_probe_predict(p, tr.X + i * DIM);
        assert_true(pr[i] > 0 && pr[i] < 1);
    }
    double a = auroc(pr, tr.y, tr.n);
    assert_true(a > 0.9);
    for (size_t i = 0; i < tu.n; i++)
        pr[i] = mf_probe_predict(p, tu.X + i * DIM);
    assert_true(auroc(pr, tu.y, tu.n) > 0.85);
    /* no metadata unless set */
    assert_null(mf_probe_task(p));
    assert_null(mf_probe_model_sha256(p));
    free(pr);
    mf_probe_free(p);
    mf_probe_free(NULL);
    free_data(&tr);
    free_data(&tu);
}

/* Solve A x = b (n x n, row-major) by Gaussian elimination with partial pivoting. */
static void solve(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[piv * n + c]))
                piv = r;
        for (int k = 0; k < n; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[piv * n + k];
            A[piv * n + k] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++)
                A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++)
            b[c] -= A[c * n + k] * b[k];
        b[c] /= A[c * n + c];
    }
}

/* Newton's method on C * sum(log-loss) + 0.5 ||w||^2 + bias_pen * 0.5 b^2 over the standardized
 * rows (mean and population standard deviation, constant features scale 1); theta[DIM] = b.
 * Writes the probability of every row to prob. */
static void irls(const struct data *d, double C, double bias_pen, double *prob)
{
    enum { P = DIM + 1 };
    double mean[DIM], sd[DIM];
    for (int j = 0; j < DIM; j++) {
        double s = 0, ss = 0;
        for (size_t i = 0; i < d->n; i++)
            s += d->X[i * DIM + j];
        mean[j] = s / (double)d->n;
        for (size_t i = 0; i < d->n; i++)
            ss += (d->X[i * DIM + j] - mean[j]) * (d->X[i * DIM + j] - mean[j]);
        sd[j] = ss > 0 ? sqrt(ss / (double)d->n) : 1.0;
    }
    double *Z = malloc(d->n * P * sizeof *Z);
    for (size_t i = 0; i < d->n; i++) {
        for (int j = 0; j < DIM; j++)
            Z[i * P + j] = (d->X[i * DIM + j] - mean[j]) / sd[j];
        Z[i * P + DIM] = 1.0;
    }
    double th[P] = {0};
    for (int it = 0; it < 100; it++) {
        double g[P], H[P * P];
        for (int a = 0; a < P; a++) {
            g[a] = a < DIM ? th[a] : bias_pen * th[a];
            for (int c = 0; c < P; c++)
                H[a * P + c] = a == c ? (a < DIM ? 1.0 : bias_pen) : 0.0;
        }
        for (size_t i = 0; i < d->n; i++) {
            double s = 0;
            for (int a = 0; a < P; a++)
                s += th[a] * Z[i * P + a];
            double pi = 1.0 / (1.0 + exp(-s));
            for (int a = 0; a < P; a++) {
                g[a] += C * (pi - d->y[i]) * Z[i * P + a];
                for (int c = 0; c < P; c++)
                    H[a * P + c] += C * pi * (1 - pi) * Z[i * P + a] * Z[i * P + c];
            }
        }
        solve(H, g, P);
        double step = 0;
        for (int a = 0; a < P; a++) {
            th[a] -= g[a];
            step = fmax(step, fabs(g[a]));
        }
        if (step < 1e-13)
            break;
    }
    for (size_t i = 0; i < d->n; i++) {
        double s = 0;
        for (int a = 0; a < P; a++)
            s += th[a] * Z[i * P + a];
        prob[i] = 1.0 / (1.0 + exp(-s));
    }
    free(Z);
}

static void agrees_with_newton(void **state)
{
    (void)state;
    /* imbalanced, so that the intercept matters */
    struct data tr = make_data(400, 0.3, 0.25, 3, 0);
    const double Cs[] = {0.001, 0.1, 10.0};
    double *mine = malloc(tr.n * sizeof *mine), *ref = malloc(tr.n * sizeof *ref);
    for (size_t c = 0; c < sizeof Cs / sizeof Cs[0]; c++) {
        struct mf_probe_opts o = {.Cs = &Cs[c], .n_Cs = 1};
        struct mf_probe *p = NULL;
        struct mf_err err = {0};
        assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, NULL, NULL, 0, DIM, &o, &p, &err), 0);
        /* the objective liblinear minimizes: intercept scaling 100 */
        irls(&tr, Cs[c], 1e-4, ref);
        double worst = 0;
        for (size_t i = 0; i < tr.n; i++) {
            mine[i] = mf_probe_predict(p, tr.X + i * DIM);
            worst = fmax(worst, fabs(mine[i] - ref[i]));
        }
        print_message("C=%g: largest difference from Newton %.3g\n", Cs[c], worst);
        assert_true(worst < 1e-4);
        /* and the intercept is all but unregularized */
        irls(&tr, Cs[c], 0.0, ref);
        worst = 0;
        for (size_t i = 0; i < tr.n; i++)
            worst = fmax(worst, fabs(mine[i] - ref[i]));
        print_message("C=%g: largest difference from an unregularized intercept %.3g\n", Cs[c],
                      worst);
        assert_true(worst < 1e-3);
        mf_probe_free(p);
    }
    free(mine);
    free(ref);
    free_data(&tr);
}

/* Fit with k shots and seed, save into tmpdir/name, return the parsed probe.json. */
static cJSON *fit_shots(const struct data *tr, size_t k, uint64_t seed, const char *name)
{
    struct mf_probe_opts o = {.shots = k, .seed = seed};
    struct mf_probe *p = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_probe_fit(tr->X, tr->y, tr->n, NULL, NULL, 0, DIM, &o, &p, &err), 0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    assert_int_equal(mf_probe_save(p, dir, &err), 0);
    mf_probe_free(p);
    return read_probe_json(dir);
}

static int same_array(const cJSON *a, const cJSON *b, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, key);
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, key);
    assert_int_equal(cJSON_GetArraySize(x), cJSON_GetArraySize(y));
    for (const cJSON *i = x->child, *k = y->child; i; i = i->next, k = k->next)
        if (i->valuedouble != k->valuedouble)
            return 0;
    return 1;
}

static void k_shot_sampling(void **state)
{
    (void)state;
    struct data tr = make_data(200, 0.5, 0.3, 4, 0);
    cJSON *a = fit_shots(&tr, 8, 11, "ks-a");
    cJSON *b = fit_shots(&tr, 8, 11, "ks-b");
    cJSON *c = fit_shots(&tr, 8, 12, "ks-c");
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(a, "fit");
    assert_true(json_num(fa, "shots") == 8);
    assert_true(json_num(fa, "seed") == 11);
    assert_true(json_num(fa, "train_samples") == 16);
    assert_true(json_num(fa, "train_positives") == 8);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fa, "shots_complete")));
    assert_string_equal(mf_json_str(fa, "selection"), "cv5-logloss");
    /* the same seed, the same rows (the mean of every feature, and so the fit, agree) */
    assert_true(same_array(a, b, "mean"));
    assert_true(same_array(a, b, "weights"));
    /* another seed, other rows */
    assert_false(same_array(a, c, "mean"));
    mf_json_release(a);
    mf_json_release(b);
    mf_json_release(c);

    /* 8 positive and 8 negative rows */
    {
        struct mf_probe_opts o = {.shots = 8, .seed = 11};
        struct mf_probe *p = NULL;
        struct mf_err err = {0};
        /* feature 1 is the label: the fit's mean of it is the share of positives chosen */
        struct data m = make_data(200, 0.5, 0.3, 4, 0);
        for (size_t i = 0; i < m.n; i++)
            m.X[i * DIM + 1] = (float)m.y[i];
        assert_int_equal(mf_probe_fit(m.X, m.y, m.n, NULL, NULL, 0, DIM, &o, &p, &err), 0);
        assert_int_equal(mf_probe_save(p, tmpdir, &err), 0);
        cJSON *j = read_probe_json(tmpdir);
        const cJSON *mean = cJSON_GetObjectItemCaseSensitive(j, "mean");
        assert_true(cJSON_GetArrayItem(mean, 1)->valuedouble == 0.5);
        mf_json_release(j);
        mf_probe_free(p);
        free_data(&m);
    }

    /* more shots than positives: all of them, and probe.json says so */
    size_t pos = 0;
    for (size_t i = 0; i < tr.n; i++)
        pos += (size_t)tr.y[i];
    assert_true(pos < 100);
    cJSON *d = fit_shots(&tr, 100, 1, "ks-d");
    const cJSON *fd = cJSON_GetObjectItemCaseSensitive(d, "fit");
    assert_true(json_num(fd, "train_positives") == (double)pos);
    assert_true(json_num(fd, "train_samples") == (double)(pos + 100));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(fd, "shots_complete")));
    mf_json_release(d);
    free_data(&tr);
}

/* The chosen C and the selection rule of a fit saved to tmpdir/name. */
static double chosen_C(const struct data *tr, const struct data *tu, const char *name,
                       const char *selection)
{
    struct mf_probe *p = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_probe_fit(tr->X, tr->y, tr->n, tu ? tu->X : NULL, tu ? tu->y : NULL,
                                  tu ? tu->n : 0, DIM, NULL, &p, &err),
                     0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    assert_int_equal(mf_probe_save(p, dir, &err), 0);
    mf_probe_free(p);
    cJSON *j = read_probe_json(dir);
    double C = json_num(j, "C");
    const cJSON *fit = cJSON_GetObjectItemCaseSensitive(j, "fit");
    assert_string_equal(mf_json_str(fit, "selection"), selection);
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(fit, "scores");
    assert_int_equal(cJSON_GetArraySize(scores), 7);
    /* C is the candidate with the smallest log-loss */
    double best = INFINITY, bestC = 0;
    for (const cJSON *s = scores->child; s; s = s->next)
        if (json_num(s, "logloss") < best) {
            best = json_num(s, "logloss");
            bestC = json_num(s, "C");
        }
    assert_true(bestC == C);
    print_message("%s: C %g, log-loss %.4f\n", name, C, best);
    mf_json_release(j);
    return C;
}

static void c_selection_direction(void **state)
{
    (void)state;
    struct data tr = make_data(200, 1.0, 0.5, 5, 0), tu = make_data(200, 1.0, 0.5, 6, 0);
    assert_true(chosen_C(&tr, &tu, "sep", "tuning-logloss") >= 1.0);
    assert_true(chosen_C(&tr, NULL, "sep-cv", "cv5-logloss") >= 1.0);
    free_data(&tr);
    free_data(&tu);
    struct data ntr = make_data(200, 1.0, 0.5, 7, 1), ntu = make_data(200, 1.0, 0.5, 8, 1);
    assert_true(chosen_C(&ntr, &ntu, "noise", "tuning-logloss") <= 1e-2);
    assert_true(chosen_C(&ntr, NULL, "noise-cv", "cv5-logloss") <= 1e-2);
    /* tuning rows of one class only: cross-validation */
    for (size_t i = 0; i < ntu.n; i++)
        ntu.y[i] = 0;
    chosen_C(&ntr, &ntu, "one-class", "cv5-logloss");
    free_data(&ntr);
    free_data(&ntu);
}

static void save_load_round_trip(void **state)
{
    (void)state;
    struct data tr = make_data(150, 0.3, 0.4, 9, 0), te = make_data(100, 0.3, 0.4, 10, 0);
    struct mf_probe_opts o = {.shots = 40, .seed = UINT64_C(18446744073709551557)};
    struct mf_probe *p = NULL, *q = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, te.X, te.y, te.n, DIM, &o, &p, &err), 0);
    assert_int_equal(mf_probe_set_meta(p, "mortality \"30d\"", "ab12"), 0);
    char dir[600], dir2[600];
    snprintf(dir, sizeof dir, "%s/rt/probe", tmpdir);
    snprintf(dir2, sizeof dir2, "%s/rt/probe2", tmpdir);
    assert_int_equal(mf_probe_save(p, dir, &err), 0);
    assert_int_equal(mf_probe_load(dir, &q, &err), 0);
    assert_int_equal(mf_probe_dim(q), DIM);
    assert_string_equal(mf_probe_task(q), "mortality \"30d\"");
    assert_string_equal(mf_probe_model_sha256(q), "ab12");
    for (size_t i = 0; i < te.n; i++) {
        double a = mf_probe_predict(p, te.X + i * DIM), b = mf_probe_predict(q, te.X + i * DIM);
        assert_memory_equal(&a, &b, sizeof a);
    }
    /* saving the loaded probe writes the same bytes */
    assert_int_equal(mf_probe_save(q, dir2, &err), 0);
    char f1[700], f2[700];
    snprintf(f1, sizeof f1, "%s/probe.json", dir);
    snprintf(f2, sizeof f2, "%s/probe.json", dir2);
    struct mf_buf b1 = MF_BUF_INIT, b2 = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(f1, 1 << 24, &b1, &err), 0);
    assert_int_equal(mf_fs_read_file(f2, 1 << 24, &b2, &err), 0);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.data, b2.data, b1.len);
    mf_buf_release(&b1);
    mf_buf_release(&b2);
    mf_probe_free(q);
    /* cleared metadata is written as null and read back as absent */
    assert_int_equal(mf_probe_set_meta(p, NULL, NULL), 0);
    assert_int_equal(mf_probe_save(p, dir2, &err), 0);
    assert_int_equal(mf_probe_load(dir2, &q, &err), 0);
    assert_null(mf_probe_task(q));
    assert_null(mf_probe_model_sha256(q));
    mf_probe_free(q);
    mf_probe_free(p);
    free_data(&tr);
    free_data(&te);
}

/* Write text as tmpdir/bad/probe.json, load it, expect code and every needle in the message. */
static void expect_load_error(const char *text, int code, const char *needle)
{
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/bad", tmpdir);
    snprintf(path, sizeof path, "%s/probe.json", dir);
    struct mf_err err = {0};
    assert_int_equal(mf_fs_mkdir_p(dir, &err), 0);
    assert_int_equal(mf_fs_write_file_atomic(path, text, strlen(text), &err), 0);
    struct mf_probe *q = NULL;
    int rc = mf_probe_load(dir, &q, &err);
    if (rc != code || strstr(err.msg, needle) == NULL || strstr(err.msg, "probe.json") == NULL)
        print_message("rc %d, message: %s\n", rc, err.msg);
    assert_int_equal(rc, code);
    assert_null(q);
    assert_non_null(strstr(err.msg, "probe.json"));
    assert_non_null(strstr(err.msg, needle));
}

/* text with the first occurrence of from replaced by to (caller frees). */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_buf_append(&b, text, (size_t)(at - text)), 0);
    assert_int_equal(mf_buf_puts(&b, to), 0);
    assert_int_equal(mf_buf_puts(&b, at + strlen(from)), 0);
    return mf_buf_detach(&b, NULL);
}

/* text with the first number of array key replaced by to. */
static char *replace_first_of(const char *text, const char *key, const char *to)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": [", key);
    const char *at = strstr(text, pat);
    assert_non_null(at);
    at += strlen(pat);
    const char *end = strchr(at, ',');
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_buf_append(&b, text, (size_t)(at - text)), 0);
    assert_int_equal(mf_buf_puts(&b, to), 0);
    assert_int_equal(mf_buf_puts(&b, end), 0);
    return mf_buf_detach(&b, NULL);
}

static void load_errors_name_file_and_field(void **state)
{
    (void)state;
    struct mf_err err = {0};
    struct mf_probe *q = NULL;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/missing", tmpdir);
    assert_int_equal(mf_probe_load(dir, &q, &err), MF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "missing/probe.json"));

    struct data tr = make_data(60, 0.5, 0.5, 12, 0);
    struct mf_probe *p = NULL;
    mf_err_clear(&err);
    assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, NULL, NULL, 0, DIM, NULL, &p, &err), 0);
    snprintf(dir, sizeof dir, "%s/good", tmpdir);
    assert_int_equal(mf_probe_save(p, dir, &err), 0);
    mf_probe_free(p);
    free_data(&tr);
    char path[700];
    snprintf(path, sizeof path, "%s/probe.json", dir);
    struct mf_buf good = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(path, 1 << 24, &good, &err), 0);
    const char *g = good.data;

    expect_load_error("{\"format\": \"medfm-probe-v1\", ", MF_EPARSE, "not valid JSON");
    expect_load_error("[1, 2]", MF_EPARSE, "not a JSON object");
    char *t;
    t = replace(g, "medfm-probe-v1", "medfm-probe-v2");
    expect_load_error(t, MF_EUNSUPPORTED, "'format'");
    free(t);
    t = replace(g, "\"dim\": 16", "\"dim\": 3");
    expect_load_error(t, MF_EPARSE, "'mean'");
    free(t);
    t = replace(g, "\"dim\": 16", "\"dim\": 0");
    expect_load_error(t, MF_EPARSE, "'dim'");
    free(t);
    t = replace(g, "\"dim\": 16", "\"dim\": 2000000");
    expect_load_error(t, MF_EPARSE, "'dim'");
    free(t);
    t = replace(g, "\"dim\": 16", "\"dim\": 1.5");
    expect_load_error(t, MF_EPARSE, "'dim'");
    free(t);
    t = replace_first_of(g, "weights", "1e999");
    expect_load_error(t, MF_EPARSE, "'weights[0]'");
    free(t);
    t = replace_first_of(g, "weights", "null");
    expect_load_error(t, MF_EPARSE, "'weights[0]'");
    free(t);
    t = replace_first_of(g, "scale", "0");
    expect_load_error(t, MF_EPARSE, "'scale[0]'");
    free(t);
    t = replace_first_of(g, "mean", "\"x\"");
    expect_load_error(t, MF_EPARSE, "'mean[0]'");
    free(t);
    t = replace(g, "\"weights\": [", "\"weights\": [1, ");
    expect_load_error(t, MF_EPARSE, "'weights'");
    free(t);
    t = replace(g, "\"intercept\":", "\"intercept\": \"1\", \"x\":");
    expect_load_error(t, MF_EPARSE, "unknown field 'x'");
    free(t);
    t = replace(g, "\"intercept\":", "\"intercept_\":");
    expect_load_error(t, MF_EPARSE, "'intercept_'");
    free(t);
    t = replace(g, "\"C\": ", "\"C\": -");
    expect_load_error(t, MF_EPARSE, "'C'");
    free(t);
    t = replace(g, "cv5-logloss", "auroc");
    expect_load_error(t, MF_EPARSE, "'fit.selection'");
    free(t);
    t = replace(g, "{\"C\": ", "{\"C\": \"a\", \"c\": ");
    expect_load_error(t, MF_EPARSE, "'fit.scores[0].C'");
    free(t);
    t = replace(g, "\"logloss\": ", "\"logloss\": 1e999, \"l\": ");
    expect_load_error(t, MF_EPARSE, "'fit.scores[0].logloss'");
    free(t);
    t = replace(g, "\"train_positives\": ", "\"train_positives\": 1000");
    expect_load_error(t, MF_EPARSE, "'fit.train_positives'");
    free(t);
    t = replace(g, "\"task\": null", "\"task\": 5");
    expect_load_error(t, MF_EPARSE, "'task'");
    free(t);
    t = replace(g, "\"seed\": 0", "\"seed\": \"-1\"");
    expect_load_error(t, MF_EPARSE, "'fit.seed'");
    free(t);
    mf_buf_release(&good);
}

static void bad_fits(void **state)
{
    (void)state;
    struct data tr = make_data(40, 0.5, 0.5, 13, 0);
    struct mf_probe *p = NULL;
    struct mf_err err = {0};
    /* one positive */
    for (size_t i = 0; i < tr.n; i++)
        tr.y[i] = i == 5;
    assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, NULL, NULL, 0, DIM, NULL, &p, &err), MF_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "needs at least 2 positive and 2 negative training samples"));
    /* one negative among four rows; then two of each, which is enough */
    for (size_t i = 0; i < tr.n; i++)
        tr.y[i] = i < 3 ? 1 : 0;
    mf_err_clear(&err);
    assert_int_equal(mf_probe_fit(tr.X, tr.y, 4, NULL, NULL, 0, DIM, NULL, &p, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "needs at least 2 positive"));
    tr.y[2] = 0;
    mf_err_clear(&err);
    assert_int_equal(mf_probe_fit(tr.X, tr.y, 4, NULL, NULL, 0, DIM, NULL, &p, &err), 0);
    mf_probe_free(p);
    p = NULL;
    /* one shot of each: too few */
    struct mf_probe_opts o = {.shots = 1, .seed = 3};
    mf_err_clear(&err);
    assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, NULL, NULL, 0, DIM, &o, &p, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "needs at least 2 positive"));
    /* labels other than 0 and 1, non-finite features, bad C, bad dim */
    tr.y[7] = 2;
    mf_err_clear(&err);
    assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, NULL, NULL, 0, DIM, NULL, &p, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "row 7"));
    tr.y[7] = 0;
    tr.X[9 * DIM + 2] = NAN;
    mf_err_clear(&err);
    assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, NULL, NULL, 0, DIM, NULL, &p, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "row 9, feature 2"));
    tr.X[9 * DIM + 2] = 0;
    const double badC[] = {1.0, 0.0};
    o = (struct mf_probe_opts){.Cs = badC, .n_Cs = 2};
    mf_err_clear(&err);
    assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, NULL, NULL, 0, DIM, &o, &p, &err), MF_EINVAL);
    mf_err_clear(&err);
    assert_int_equal(mf_probe_fit(tr.X, tr.y, tr.n, NULL, NULL, 0, 0, NULL, &p, &err), MF_EINVAL);
    assert_null(p);
    free_data(&tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_gaussians_fit_well),
        cmocka_unit_test(agrees_with_newton),
        cmocka_unit_test(k_shot_sampling),
        cmocka_unit_test(c_selection_direction),
        cmocka_unit_test(save_load_round_trip),
        cmocka_unit_test(load_errors_name_file_and_field),
        cmocka_unit_test(bad_fits),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
