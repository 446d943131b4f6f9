/* probe.c - linear probes: L2-regularized logistic regression on embeddings with liblinear
 * (primal trust-region Newton, solver L2R_LR), C chosen on the tuning rows or by 5-fold
 * cross-validation, and probe.json (see probe.h).
 *
 * Decisions:
 * - Standardization: z = (x - mean) / scale with the training rows' mean and population
 *   standard deviation (as scikit-learn's StandardScaler); a feature that is constant over the
 *   training rows gets scale 1.  The same mean and scale standardize the tuning rows and every
 *   cross-validation fold (they are not refitted per fold).
 * - Weights and intercept are kept in the standardized space: P(1 | x) = sigmoid(w . z + b).
 * - The intercept: liblinear 2.3 regularizes the bias weight like any other, so it is given
 *   an intercept scaling of INTERCEPT_SCALING (a constant feature of that value, as
 *   scikit-learn's intercept_scaling): with b = w_bias * S the objective liblinear minimizes is
 *   C * sum(log-loss) + 0.5 * ||w||^2 + 0.5 * (b / S)^2, so the intercept is all but
 *   unregularized (as with scikit-learn's default lbfgs solver).
 * - C candidates: o->Cs, or 10^-4 ... 10^2 in decades when Cs is NULL or n_Cs is 0; the
 *   smallest mean log-loss wins, ties going to the smaller C.
 * - probe.json: doubles are printed with the fewest digits that read back exactly; the seed
 *   is a JSON number up to 2^53 and a decimal string above.  Metadata set to NULL is written
 *   as null.
 * - k-shot: positives and negatives are each shuffled (a partial Fisher-Yates from one
 *   mf_rng stream of the seed) and the first k of each taken, then put back in row order.
 * - Cross-validation (no usable tuning rows): the training rows are split into 5 stratified
 *   folds (each class shuffled from the seed, then dealt round-robin); the score is the mean
 *   log-loss of all out-of-fold predictions.
 * - The candidate fits (one per C, or one per C and fold) run in parallel (OpenMP); each is
 *   deterministic and their losses are summed in a fixed order, so the probe does not depend
 *   on the thread count.  The chosen C is then refitted on every training row.
 *
 * Leaves out: class weights, other solvers, multi-class tasks.
 */
#include "infer/probe.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linear.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/rng.h"

#define PROBE_FORMAT      "medfm-probe-v1"
#define PROBE_FILE        "probe.json"
#define PROBE_MAX_DIM     ((size_t)1 << 20)
#define PROBE_MAX_CS      64
#define PROBE_MAX_BYTES   ((size_t)256 << 20)
#define PROBE_MAX_META    4096
#define PROBE_FOLDS       5
#define INTERCEPT_SCALING 100.0
/* liblinear's stopping tolerance (its default for L2R_LR is 0.01): tight, so that the fit
 * is the optimum to ~1e-6 in probability, not merely near it. */
#define SOLVER_EPS   1e-6
#define SHOTS_STREAM UINT64_C(0x70726f62652d6b73) /* "probe-ks" */
#define FOLDS_STREAM UINT64_C(0x70726f62652d6376) /* "probe-cv" */
#define MAX_EXACT    9007199254740992.0           /* 2^53 */

enum selection { SEL_TUNING, SEL_CV5 };

struct probe_score {
    double C, logloss;
};

struct mf_probe {
    size_t dim;
    double *mean, *scale, *w; /* [dim] each, one allocation */
    double b, C;
    char *task, *model_sha256;
    /* how it was fitted */
    size_t shots;
    uint64_t seed;
    int shots_complete; /* 0 when a class had fewer than `shots` rows */
    size_t train_samples, train_positives, tuning_samples;
    enum selection selection;
    struct probe_score *scores;
    size_t n_scores;
};

static const double default_Cs[] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2};

/* --- numerics ----------------------------------------------------------------------------- */

/* log(1 + exp(t)) without overflow. */
static double softplus(double t)
{
    return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t));
}

static double sigmoid(double s)
{
    if (s >= 0)
        return 1.0 / (1.0 + exp(-s));
    double e = exp(s);
    return e / (1.0 + e);
}

/* Log-loss of one prediction with logit s for label y. */
static double logloss(double s, int y)
{
    return y ? softplus(-s) : softplus(s);
}

static void quiet(const char *s)
{
    (void)s;
}

/* --- liblinear ---------------------------------------------------------------------------- */

/* The standardized training rows in liblinear's format: row i is nodes[i * (dim + 2) ...]:
 * features 1..dim, the intercept feature dim + 1 (value INTERCEPT_SCALING), the terminator. */
struct design {
    size_t dim, n;
    struct feature_node *nodes;
};

static struct feature_node *design_row(const struct design *d, size_t i)
{
    return d->nodes + i * (d->dim + 2);
}

/* Fit on the rows idx[0..l) of d (labels y, 0/1) with strength C; w[dim] and *b out. */
static int fit_one(const struct design *d, const int *y, const size_t *idx, size_t l, double C,
                   double *w, double *b, struct mf_err *err)
{
    int rc = 0;
    size_t cap = l ? l : 1;
    struct feature_node **x = calloc(cap, sizeof(struct feature_node *));
    double *yy = calloc(cap, sizeof *yy);
    struct model *m = NULL;
    if (x == NULL || yy == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory fitting a linear probe");
        goto out;
    }
    for (size_t i = 0; i < l; i++) {
        x[i] = design_row(d, idx[i]);
        yy[i] = y[idx[i]] ? 1.0 : 0.0;
    }
    struct problem prob = {
        .l = (int)l, .n = (int)d->dim + 1, .y = yy, .x = x, .bias = INTERCEPT_SCALING};
    struct parameter param = {.solver_type = L2R_LR, .eps = SOLVER_EPS, .C = C, .p = 0.1};
    const char *why = check_parameter(&prob, &param);
    if (why != NULL) {
        rc = mf_err_set(err, MF_EINVAL, "linear probe: liblinear rejects the parameters (%s)", why);
        goto out;
    }
    m = train(&prob, &param);
    if (m == NULL || m->nr_class != 2 || m->w == NULL) {
        rc = mf_err_set(err, m == NULL ? MF_ENOMEM : MF_EINVAL,
                        "linear probe: liblinear could not fit");
        goto out;
    }
    /* liblinear's decision value favours its first label (the first one seen in the rows) */
    double sign = m->label[0] == 1 ? 1.0 : -1.0;
    for (size_t j = 0; j < d->dim; j++)
        w[j] = sign * m->w[j];
    *b = sign * m->w[d->dim] * INTERCEPT_SCALING;
out:
    if (m != NULL)
        free_and_destroy_model(&m);
    free(x);
    free(yy);
    return rc;
}

/* The logit of design row i under (w, b). */
static double design_logit(const struct design *d, size_t i, const double *w, double b)
{
    const struct feature_node *r = design_row(d, i);
    double s = b;
    for (size_t j = 0; j < d->dim; j++)
        s += w[j] * r[j].value;
    return s;
}

/* The logit of a raw embedding under standardization (mean, scale) and (w, b). */
static double raw_logit(const float *x, size_t dim, const double *mean, const double *scale,
                        const double *w, double b)
{
    double s = b;
    for (size_t j = 0; j < dim; j++)
        s += w[j] * (((double)x[j] - mean[j]) / scale[j]);
    return s;
}

/* The candidate fits of C selection. */
struct jobs {
    const struct design *d;
    const int *y;       /* labels by design row */
    const size_t *all;  /* 0..n-1 */
    const size_t *fold; /* fold of each design row; NULL: score on the tuning rows */
    const double *Cs;
    const float *X_tune;
    const int *y_tune;
    size_t n_tune;
    const double *mean, *scale;
};

/* Fit candidate c (without fold f when cross-validating) and put the summed log-loss of the
 * rows it is scored on in *loss.  Runs on any thread: no error detail, only the code. */
static int run_job(const struct jobs *J, size_t c, size_t f, double *loss)
{
    const struct design *d = J->d;
    double *w = calloc(d->dim, sizeof *w), b = 0, sum = 0;
    size_t *sub = J->fold ? calloc(d->n ? d->n : 1, sizeof *sub) : NULL;
    int rc = 0;
    *loss = 0;
    if (w == NULL || (J->fold && sub == NULL)) {
        rc = MF_ENOMEM;
        goto out;
    }
    if (J->fold == NULL) {
        if ((rc = fit_one(d, J->y, J->all, d->n, J->Cs[c], w, &b, NULL)) != 0)
            goto out;
        for (size_t i = 0; i < J->n_tune; i++)
            sum += logloss(raw_logit(J->X_tune + i * d->dim, d->dim, J->mean, J->scale, w, b),
                           J->y_tune[i]);
    } else {
        size_t l = 0;
        for (size_t i = 0; i < d->n; i++)
            if (J->fold[i] != f)
                sub[l++] = i;
        if (l == d->n) /* an empty fold (fewer than 5 rows) */
            goto out;
        if ((rc = fit_one(d, J->y, sub, l, J->Cs[c], w, &b, NULL)) != 0)
            goto out;
        for (size_t i = 0; i < d->n; i++)
            if (J->fold[i] == f)
                sum += logloss(design_logit(d, i, w, b), J->y[i]);
    }
    *loss = sum;
out:
    free(w);
    free(sub);
    return rc;
}

/* --- input checks and selection ----------------------------------------------------------- */

static int check_rows(const char *what, const float *X, const int *y, size_t n, size_t dim,
                      size_t *positives, struct mf_err *err)
{
    if (n > 0 && (X == NULL || y == NULL))
        return mf_err_set(err, MF_EINVAL, "linear probe: no %s rows given", what);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1)
            return mf_err_set(err, MF_EINVAL, "linear probe: label of %s row %zu is not 0 or 1",
                              what, i);
        pos += (size_t)y[i];
        for (size_t j = 0; j < dim; j++)
            if (!isfinite(X[i * dim + j]))
                return mf_err_set(err, MF_EINVAL,
                                  "linear probe: %s row %zu, feature %zu is not finite", what, i,
                                  j);
    }
    *positives = pos;
    return 0;
}

/* Shuffle a[0..n) in place far enough that a[0..k) is a uniform k-subset in random order. */
static void partial_shuffle(size_t *a, size_t n, size_t k, struct mf_rng *r)
{
    for (size_t i = 0; i < k && i + 1 < n; i++) {
        size_t j = i + (size_t)mf_rng_below(r, (uint64_t)(n - i));
        size_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* --- fitting ------------------------------------------------------------------------------ */

void mf_probe_free(struct mf_probe *p)
{
    if (p == NULL)
        return;
    free(p->mean);
    free(p->task);
    free(p->model_sha256);
    free(p->scores);
    free(p);
}

/* A probe with its three dim-long arrays allocated (zeroed); NULL when out of memory. */
static struct mf_probe *probe_new(size_t dim, size_t n_scores)
{
    struct mf_probe *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->dim = dim;
    p->mean = calloc(dim ? 3 * dim : 1, sizeof *p->mean);
    p->scores = calloc(n_scores ? n_scores : 1, sizeof *p->scores);
    if (p->mean == NULL || p->scores == NULL) {
        mf_probe_free(p);
        return NULL;
    }
    p->scale = p->mean + dim;
    p->w = p->mean + 2 * dim;
    p->n_scores = n_scores;
    return p;
}

int mf_probe_fit(const float *X_train, const int *y_train, size_t n_train, const float *X_tune,
                 const int *y_tune, size_t n_tune, size_t dim, const struct mf_probe_opts *o,
                 struct mf_probe **out, struct mf_err *err)
{
    static const struct mf_probe_opts defaults = {0};
    if (o == NULL)
        o = &defaults;
    int rc = 0;
    struct mf_probe *p = NULL;
    size_t *rows = NULL, *order = NULL, *fold = NULL;
    double *w = NULL;
    int *y = NULL; /* labels by design row */
    struct design d = {0};
    if (out == NULL)
        return mf_err_set(err, MF_EINVAL, "linear probe: no output given");
    *out = NULL;
    if (dim == 0 || dim > PROBE_MAX_DIM)
        return mf_err_set(err, MF_EINVAL, "linear probe: dimension %zu is not in 1..%zu", dim,
                          PROBE_MAX_DIM);
    if (n_train > (size_t)INT_MAX || n_train > SIZE_MAX / sizeof(struct feature_node) / (dim + 2))
        return mf_err_set(err, MF_ETOOBIG, "linear probe: %zu training rows is too many", n_train);
    const double *Cs = o->Cs;
    size_t n_Cs = o->n_Cs;
    if (Cs == NULL || n_Cs == 0) {
        Cs = default_Cs;
        n_Cs = sizeof default_Cs / sizeof default_Cs[0];
    }
    if (n_Cs > PROBE_MAX_CS)
        return mf_err_set(err, MF_EINVAL, "linear probe: over %d candidate C values", PROBE_MAX_CS);
    for (size_t c = 0; c < n_Cs; c++)
        if (!isfinite(Cs[c]) || Cs[c] <= 0 || Cs[c] > 1e12)
            return mf_err_set(err, MF_EINVAL, "linear probe: candidate C %zu is not in (0, 1e12]",
                              c);
    size_t all_pos = 0, tune_pos = 0;
    if ((rc = check_rows("training", X_train, y_train, n_train, dim, &all_pos, err)) ||
        (rc = check_rows("tuning", X_tune, y_tune, n_tune, dim, &tune_pos, err)))
        return rc;

    /* the training rows: all of them, or k of each class */
    size_t n_pos = all_pos, n_neg = n_train - all_pos;
    size_t cap = n_train ? n_train : 1;
    rows = calloc(cap, sizeof *rows);
    order = calloc(cap, sizeof *order);
    fold = calloc(cap, sizeof *fold);
    w = calloc(dim, sizeof *w);
    if (rows == NULL || order == NULL || fold == NULL || w == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory fitting a linear probe");
        goto out;
    }
    size_t n = 0;
    int complete = 1;
    if (o->shots > 0) {
        /* order = positives then negatives, each in row order */
        size_t a = 0, bneg = n_pos;
        for (size_t i = 0; i < n_train; i++)
            order[y_train[i] ? a++ : bneg++] = i;
        struct mf_rng r;
        mf_rng_seed(&r, o->seed, SHOTS_STREAM);
        size_t kp = n_pos < o->shots ? n_pos : o->shots;
        size_t kn = n_neg < o->shots ? n_neg : o->shots;
        complete = kp == o->shots && kn == o->shots;
        partial_shuffle(order, n_pos, kp, &r);
        partial_shuffle(order + n_pos, n_neg, kn, &r);
        memcpy(rows, order, kp * sizeof *rows);
        memcpy(rows + kp, order + n_pos, kn * sizeof *rows);
        n = kp + kn;
        qsort(rows, n, sizeof *rows, cmp_size);
        n_pos = kp;
        n_neg = kn;
    } else {
        for (size_t i = 0; i < n_train; i++)
            rows[i] = i;
        n = n_train;
    }
    if (n_pos < 2 || n_neg < 2) {
        rc = mf_err_set(err, MF_EINVAL,
                        "linear probe needs at least 2 positive and 2 negative training samples "
                        "(has %zu and %zu)",
                        n_pos, n_neg);
        goto out;
    }

    p = probe_new(dim, n_Cs);
    if (p == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory fitting a linear probe");
        goto out;
    }
    p->shots = o->shots;
    p->seed = o->seed;
    p->shots_complete = complete;
    p->train_samples = n;
    p->train_positives = n_pos;
    p->tuning_samples = n_tune;

    /* standardization over the chosen rows (two passes, in double) */
    for (size_t j = 0; j < dim; j++) {
        double s = 0, lo = X_train[rows[0] * dim + j], hi = lo;
        for (size_t i = 0; i < n; i++) {
            double v = X_train[rows[i] * dim + j];
            s += v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        double mean = s / (double)n, ss = 0;
        for (size_t i = 0; i < n; i++) {
            double dv = X_train[rows[i] * dim + j] - mean;
            ss += dv * dv;
        }
        double sd = sqrt(ss / (double)n);
        p->mean[j] = mean;
        p->scale[j] = lo == hi || !(sd > 0) ? 1.0 : sd;
    }
    d.dim = dim;
    d.n = n;
    d.nodes = calloc(n ? n * (dim + 2) : 1, sizeof *d.nodes);
    if (d.nodes == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory fitting a linear probe");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct feature_node *r = d.nodes + i * (dim + 2);
        const float *x = X_train + rows[i] * dim;
        for (size_t j = 0; j < dim; j++) {
            r[j].index = (int)j + 1;
            r[j].value = ((double)x[j] - p->mean[j]) / p->scale[j];
        }
        r[dim].index = (int)dim + 1;
        r[dim].value = INTERCEPT_SCALING;
        r[dim + 1].index = -1;
        r[dim + 1].value = 0;
    }
    y = calloc(n ? n : 1, sizeof *y);
    if (y == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory fitting a linear probe");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        y[i] = y_train[rows[i]];

    int use_tuning = n_tune > 0 && tune_pos > 0 && tune_pos < n_tune;
    p->selection = use_tuning ? SEL_TUNING : SEL_CV5;
    if (!use_tuning) {
        /* stratified folds: each class shuffled, then dealt round-robin */
        size_t a = 0, bneg = n_pos;
        for (size_t i = 0; i < n; i++)
            order[y[i] ? a++ : bneg++] = i;
        struct mf_rng r;
        mf_rng_seed(&r, o->seed, FOLDS_STREAM);
        partial_shuffle(order, n_pos, n_pos, &r);
        partial_shuffle(order + n_pos, n_neg, n_neg, &r);
        for (size_t k = 0; k < n; k++)
            fold[order[k]] = k % PROBE_FOLDS;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i; /* from here on: every design row */
    /* every (C, fold) fit at once: the jobs are independent, and their losses are summed in a
     * fixed order afterwards, so the result does not depend on the thread count */
    struct jobs J = {.d = &d,
                     .y = y,
                     .all = order,
                     .fold = use_tuning ? NULL : fold,
                     .Cs = Cs,
                     .X_tune = X_tune,
                     .y_tune = y_tune,
                     .n_tune = n_tune,
                     .mean = p->mean,
                     .scale = p->scale};
    size_t per_C = use_tuning ? 1 : PROBE_FOLDS, n_jobs = n_Cs * per_C;
    double *job_loss = calloc(n_jobs, sizeof *job_loss);
    int *job_rc = calloc(n_jobs, sizeof *job_rc);
    if (job_loss == NULL || job_rc == NULL) {
        free(job_loss);
        free(job_rc);
        rc = mf_err_set(err, MF_ENOMEM, "out of memory fitting a linear probe");
        goto out;
    }
    set_print_string_function(quiet);
    /* largest C first: those fits take longest */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t k = 0; k < n_jobs; k++)
        job_rc[k] = run_job(&J, n_Cs - 1 - k / per_C, k % per_C, &job_loss[k]);
    double best = INFINITY, best_C = 0, best_b = 0;
    double *best_w = w;
    for (size_t c = 0; c < n_Cs && rc == 0; c++) {
        double loss = 0;
        for (size_t f = 0; f < per_C; f++) {
            size_t k = (n_Cs - 1 - c) * per_C + f;
            if (job_rc[k] != 0 && rc == 0)
                rc = job_rc[k];
            loss += job_loss[k];
        }
        loss /= (double)(use_tuning ? n_tune : n);
        p->scores[c].C = Cs[c];
        p->scores[c].logloss = loss;
        if (loss < best || (loss == best && Cs[c] < best_C)) {
            best = loss;
            best_C = Cs[c];
        }
    }
    free(job_loss);
    free(job_rc);
    if (rc == MF_ENOMEM)
        rc = mf_err_set(err, rc, "out of memory fitting a linear probe");
    else if (rc)
        rc = mf_err_set(err, rc, "linear probe: liblinear could not fit");
    else if (!(best < INFINITY))
        rc = mf_err_set(err, MF_EINVAL, "linear probe: no candidate C gave a finite log-loss");
    else /* refit on every training row with the chosen C */
        rc = fit_one(&d, y, order, n, best_C, best_w, &best_b, err);
    if (rc)
        goto out;
    for (size_t j = 0; j < dim; j++)
        if (!isfinite(best_w[j])) {
            rc = mf_err_set(err, MF_EINVAL, "linear probe: the fit diverged (weight %zu)", j);
            goto out;
        }
    if (!isfinite(best_b)) {
        rc = mf_err_set(err, MF_EINVAL, "linear probe: the fit diverged (intercept)");
        goto out;
    }
    memcpy(p->w, best_w, dim * sizeof *w);
    p->b = best_b;
    p->C = best_C;
    *out = p;
    p = NULL;
out:
    mf_probe_free(p);
    free(d.nodes);
    free(y);
    free(rows);
    free(order);
    free(fold);
    free(w);
    return rc;
}

/* --- queries ------------------------------------------------------------------------------ */

size_t mf_probe_dim(const struct mf_probe *p)
{
    return p ? p->dim : 0;
}

double mf_probe_predict(const struct mf_probe *p, const float *x)
{
    return sigmoid(raw_logit(x, p->dim, p->mean, p->scale, p->w, p->b));
}

static int set_str(char **dst, const char *s)
{
    char *c = NULL;
    if (s != NULL && (c = strdup(s)) == NULL)
        return MF_ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

int mf_probe_set_meta(struct mf_probe *p, const char *task, const char *model_sha256)
{
    if (p == NULL)
        return MF_EINVAL;
    int rc = set_str(&p->task, task);
    return rc ? rc : set_str(&p->model_sha256, model_sha256);
}

const char *mf_probe_task(const struct mf_probe *p)
{
    return p ? p->task : NULL;
}

const char *mf_probe_model_sha256(const struct mf_probe *p)
{
    return p ? p->model_sha256 : NULL;
}

/* --- probe.json --------------------------------------------------------------------------- */

static int put_opt_string(struct mf_buf *b, const char *s)
{
    return s ? mf_buf_json_string(b, s, strlen(s)) : mf_buf_puts(b, "null");
}

static int put_array(struct mf_buf *b, const char *key, const double *v, size_t n)
{
    int rc = mf_buf_printf(b, ",\n  \"%s\": [", key);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = mf_buf_puts(b, ", ");
        if (rc == 0)
            rc = mf_buf_put_double(b, v[i]);
    }
    return rc ? rc : mf_buf_putc(b, ']');
}

static int probe_to_json(const struct mf_probe *p, struct mf_buf *b)
{
    int rc = mf_buf_puts(b, "{\n  \"format\": \"" PROBE_FORMAT "\",\n  \"task\": ");
    if (!rc)
        rc = put_opt_string(b, p->task);
    if (!rc)
        rc = mf_buf_puts(b, ",\n  \"model_sha256\": ");
    if (!rc)
        rc = put_opt_string(b, p->model_sha256);
    if (!rc)
        rc = mf_buf_printf(b, ",\n  \"dim\": %zu,\n  \"C\": ", p->dim);
    if (!rc)
        rc = mf_buf_put_double(b, p->C);
    if (!rc)
        rc = mf_buf_puts(b, ",\n  \"intercept\": ");
    if (!rc)
        rc = mf_buf_put_double(b, p->b);
    if (!rc)
        rc = put_array(b, "mean", p->mean, p->dim);
    if (!rc)
        rc = put_array(b, "scale", p->scale, p->dim);
    if (!rc)
        rc = put_array(b, "weights", p->w, p->dim);
    if (!rc)
        rc = mf_buf_printf(b, ",\n  \"fit\": {\n    \"shots\": %zu,\n    \"seed\": ", p->shots);
    if (!rc)
        rc = (double)p->seed <= MAX_EXACT ? mf_buf_printf(b, "%" PRIu64, p->seed)
                                          : mf_buf_printf(b, "\"%" PRIu64 "\"", p->seed);
    if (!rc)
        rc = mf_buf_printf(b,
                           ",\n    \"shots_complete\": %s,\n    \"train_samples\": %zu,\n"
                           "    \"train_positives\": %zu,\n    \"tuning_samples\": %zu,\n"
                           "    \"selection\": \"%s\",\n    \"intercept_scaling\": ",
                           p->shots_complete ? "true" : "false", p->train_samples,
                           p->train_positives, p->tuning_samples,
                           p->selection == SEL_TUNING ? "tuning-logloss" : "cv5-logloss");
    if (!rc)
        rc = mf_buf_put_double(b, INTERCEPT_SCALING);
    if (!rc)
        rc = mf_buf_puts(b, ",\n    \"scores\": [");
    for (size_t i = 0; i < p->n_scores && rc == 0; i++) {
        rc = mf_buf_puts(b, i ? ",\n      {\"C\": " : "\n      {\"C\": ");
        if (!rc)
            rc = mf_buf_put_double(b, p->scores[i].C);
        if (!rc)
            rc = mf_buf_puts(b, ", \"logloss\": ");
        if (!rc)
            rc = mf_buf_put_double(b, p->scores[i].logloss);
        if (!rc)
            rc = mf_buf_putc(b, '}');
    }
    if (!rc)
        rc = mf_buf_puts(b, "\n    ]\n  }\n}\n");
    return rc;
}

int mf_probe_save(const struct mf_probe *p, const char *dir, struct mf_err *err)
{
    if (p == NULL || dir == NULL)
        return mf_err_set(err, MF_EINVAL, "linear probe: nothing to save");
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, PROBE_FILE) >= sizeof path)
        return mf_err_set(err, MF_EINVAL, "probe folder path is too long");
    int rc = mf_fs_mkdir_p(dir, err);
    if (rc)
        return rc;
    struct mf_buf b = MF_BUF_INIT;
    rc = probe_to_json(p, &b);
    if (rc)
        rc = mf_err_set(err, rc, "cannot build '%s'", path);
    else
        rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_release(&b);
    return rc;
}

/* A number at obj[key] (or obj itself when key is NULL), finite; field names the JSON path. */
static int get_num(const cJSON *obj, const char *key, const char *path, const char *field,
                   double *out, struct mf_err *err)
{
    const cJSON *it = key ? cJSON_GetObjectItemCaseSensitive(obj, key) : obj;
    if (it == NULL)
        return mf_err_set(err, MF_EPARSE, "'%s': missing field '%s'", path, field);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return mf_err_set(err, MF_EPARSE, "'%s': field '%s' is not a finite number", path, field);
    *out = it->valuedouble;
    return 0;
}

/* A whole number in [lo, hi] at obj[key]. */
static int get_count(const cJSON *obj, const char *key, const char *path, const char *field,
                     double lo, double hi, size_t *out, struct mf_err *err)
{
    double v = 0;
    int rc = get_num(obj, key, path, field, &v, err);
    if (rc)
        return rc;
    if (v != floor(v) || v < lo || v > hi)
        return mf_err_set(err, MF_EPARSE, "'%s': field '%s' is not a whole number in %.0f..%.0f",
                          path, field, lo, hi);
    *out = (size_t)v;
    return 0;
}

static int get_opt_str(const cJSON *obj, const char *key, const char *path, char **out,
                       struct mf_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it) || strlen(it->valuestring) > PROBE_MAX_META)
        return mf_err_set(err, MF_EPARSE, "'%s': field '%s' is not a string (or null)", path, key);
    return set_str(out, it->valuestring) ? mf_err_set(err, MF_ENOMEM, "out of memory") : 0;
}

static int get_vec(const cJSON *root, const char *key, const char *path, double *v, size_t dim,
                   int positive, struct mf_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    if (a == NULL)
        return mf_err_set(err, MF_EPARSE, "'%s': missing field '%s'", path, key);
    if (!cJSON_IsArray(a))
        return mf_err_set(err, MF_EPARSE, "'%s': field '%s' is not an array", path, key);
    size_t i = 0;
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        if (i >= dim)
            break;
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
            (positive && !(it->valuedouble > 0)))
            return mf_err_set(err, MF_EPARSE, "'%s': field '%s[%zu]' is not a %s number", path, key,
                              i, positive ? "positive finite" : "finite");
        v[i] = it->valuedouble;
    }
    if (i != dim || (size_t)cJSON_GetArraySize(a) != dim)
        return mf_err_set(err, MF_EPARSE, "'%s': field '%s' does not have 'dim' (%zu) numbers",
                          path, key, dim);
    return 0;
}

static int check_keys(const cJSON *obj, const char *const *known, size_t n, const char *path,
                      const char *prefix, struct mf_err *err)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        size_t k = 0;
        while (k < n && strcmp(known[k], it->string) != 0)
            k++;
        if (k == n)
            return mf_err_set(err, MF_EPARSE, "'%s': unknown field '%s%.64s'", path, prefix,
                              it->string);
    }
    return 0;
}

int mf_probe_from_json(const cJSON *root, const char *path, struct mf_probe **out,
                       struct mf_err *err)
{
    static const char *const known[] = {"format",    "task", "model_sha256", "dim",     "C",
                                        "intercept", "mean", "scale",        "weights", "fit"};
    static const char *const known_fit[] = {
        "shots",          "seed",      "shots_complete",    "train_samples", "train_positives",
        "tuning_samples", "selection", "intercept_scaling", "scores"};
    int rc = 0;
    struct mf_probe *p = NULL;
    if (!cJSON_IsObject(root))
        return mf_err_set(err, MF_EPARSE, "'%s': not a JSON object", path);
    if ((rc = check_keys(root, known, sizeof known / sizeof known[0], path, "", err)))
        return rc;
    const char *fmt = mf_json_str(root, "format");
    if (fmt == NULL || strcmp(fmt, PROBE_FORMAT) != 0)
        return mf_err_set(err, MF_EUNSUPPORTED, "'%s': field 'format' is not \"%s\"", path,
                          PROBE_FORMAT);
    size_t dim = 0;
    if ((rc = get_count(root, "dim", path, "dim", 1, (double)PROBE_MAX_DIM, &dim, err)))
        return rc;
    const cJSON *fit = cJSON_GetObjectItemCaseSensitive(root, "fit");
    if (fit == NULL)
        return mf_err_set(err, MF_EPARSE, "'%s': missing field 'fit'", path);
    if (!cJSON_IsObject(fit))
        return mf_err_set(err, MF_EPARSE, "'%s': field 'fit' is not an object", path);
    if ((rc =
             check_keys(fit, known_fit, sizeof known_fit / sizeof known_fit[0], path, "fit.", err)))
        return rc;
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(fit, "scores");
    if (scores == NULL)
        return mf_err_set(err, MF_EPARSE, "'%s': missing field 'fit.scores'", path);
    if (!cJSON_IsArray(scores) || cJSON_GetArraySize(scores) < 1 ||
        cJSON_GetArraySize(scores) > PROBE_MAX_CS)
        return mf_err_set(err, MF_EPARSE, "'%s': field 'fit.scores' is not an array of 1..%d", path,
                          PROBE_MAX_CS);
    p = probe_new(dim, (size_t)cJSON_GetArraySize(scores));
    if (p == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory loading '%s'", path);
    if ((rc = get_opt_str(root, "task", path, &p->task, err)) ||
        (rc = get_opt_str(root, "model_sha256", path, &p->model_sha256, err)) ||
        (rc = get_num(root, "C", path, "C", &p->C, err)) ||
        (rc = get_num(root, "intercept", path, "intercept", &p->b, err)) ||
        (rc = get_vec(root, "mean", path, p->mean, dim, 0, err)) ||
        (rc = get_vec(root, "scale", path, p->scale, dim, 1, err)) ||
        (rc = get_vec(root, "weights", path, p->w, dim, 0, err)))
        goto out;
    if (!(p->C > 0)) {
        rc = mf_err_set(err, MF_EPARSE, "'%s': field 'C' is not positive", path);
        goto out;
    }
    /* how it was fitted */
    double hi = MAX_EXACT, scaling = 0;
    if ((rc = get_count(fit, "shots", path, "fit.shots", 0, hi, &p->shots, err)) ||
        (rc = get_count(fit, "train_samples", path, "fit.train_samples", 4, hi, &p->train_samples,
                        err)) ||
        (rc = get_count(fit, "train_positives", path, "fit.train_positives", 2,
                        (double)p->train_samples - 2, &p->train_positives, err)) ||
        (rc = get_count(fit, "tuning_samples", path, "fit.tuning_samples", 0, hi,
                        &p->tuning_samples, err)) ||
        (rc = get_num(fit, "intercept_scaling", path, "fit.intercept_scaling", &scaling, err)))
        goto out;
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(fit, "seed");
    if (cJSON_IsNumber(seed) && seed->valuedouble >= 0 && seed->valuedouble <= hi &&
        seed->valuedouble == floor(seed->valuedouble)) {
        p->seed = (uint64_t)seed->valuedouble;
    } else {
        char *end = NULL;
        const char *s = cJSON_IsString(seed) ? seed->valuestring : NULL;
        unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
        if (s == NULL || end == NULL || *end != '\0' || v == ULLONG_MAX) {
            rc = mf_err_set(err, MF_EPARSE, "'%s': field 'fit.seed' is not a whole number", path);
            goto out;
        }
        p->seed = (uint64_t)v;
    }
    const cJSON *complete = cJSON_GetObjectItemCaseSensitive(fit, "shots_complete");
    if (!cJSON_IsBool(complete)) {
        rc = mf_err_set(err, MF_EPARSE, "'%s': field 'fit.shots_complete' is not true or false",
                        path);
        goto out;
    }
    p->shots_complete = cJSON_IsTrue(complete);
    const char *sel = mf_json_str(fit, "selection");
    if (sel != NULL && strcmp(sel, "tuning-logloss") == 0) {
        p->selection = SEL_TUNING;
    } else if (sel != NULL && strcmp(sel, "cv5-logloss") == 0) {
        p->selection = SEL_CV5;
    } else {
        rc = mf_err_set(err, MF_EPARSE,
                        "'%s': field 'fit.selection' is not \"tuning-logloss\" or \"cv5-logloss\"",
                        path);
        goto out;
    }
    size_t i = 0;
    for (const cJSON *it = scores->child; it; it = it->next, i++) {
        char f1[64], f2[64];
        snprintf(f1, sizeof f1, "fit.scores[%zu].C", i);
        snprintf(f2, sizeof f2, "fit.scores[%zu].logloss", i);
        if (!cJSON_IsObject(it)) {
            rc = mf_err_set(err, MF_EPARSE, "'%s': field 'fit.scores[%zu]' is not an object", path,
                            i);
            goto out;
        }
        if ((rc = get_num(it, "C", path, f1, &p->scores[i].C, err)) ||
            (rc = get_num(it, "logloss", path, f2, &p->scores[i].logloss, err)))
            goto out;
    }
    *out = p;
    p = NULL;
out:
    mf_probe_free(p);
    return rc;
}

int mf_probe_load(const char *dir, struct mf_probe **out, struct mf_err *err)
{
    if (out == NULL || dir == NULL)
        return mf_err_set(err, MF_EINVAL, "linear probe: no folder given");
    *out = NULL;
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, PROBE_FILE) >= sizeof path)
        return mf_err_set(err, MF_EINVAL, "probe folder path is too long");
    cJSON *root = mf_json_read_file(path, PROBE_MAX_BYTES, err);
    if (root == NULL)
        return err && err->code ? err->code : MF_EPARSE;
    int rc = mf_probe_from_json(root, path, out, err);
    mf_json_release(root);
    return rc;
}
