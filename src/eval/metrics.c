/* metrics.c - metrics of binary risk predictions, with sample weights, and the patient-level
 * bootstrap (see metrics.h).
 *
 * The ranking metrics and curves sweep the rows once in order of decreasing score, a group of
 * tied scores at a time (one ROC/PR point per group that has any weight), so that with the
 * order given everything is O(n): the bootstrap sorts once and then only changes weights.
 * Weight-0 rows take no part anywhere (as in scikit-learn, which drops them before building
 * its curves).  The calibration fit is Newton's method on the weighted two-parameter
 * log-likelihood.  Not here: confidence intervals other than the percentile interval.
 */
#include "eval/metrics.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

static double weight(const struct mf_scored *s, size_t i)
{
    return s->w ? s->w[i] : 1.0;
}

/* ---- order ---------------------------------------------------------------------------- */

struct keyed {
    double p;
    uint32_t i;
};

/* p descending, then index ascending: a total order, so qsort gives the stable result. */
static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int mf_metrics_order(const double *p, size_t n, uint32_t **order)
{
    *order = NULL;
    if (n > UINT32_MAX)
        return -1;
    uint32_t *o = malloc((n ? n : 1) * sizeof *o);
    struct keyed *k = malloc((n ? n : 1) * sizeof *k);
    if (o == NULL || k == NULL) {
        free(o);
        free(k);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (struct keyed){p[i], (uint32_t)i};
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t i = 0; i < n; i++)
        o[i] = k[i].i;
    free(k);
    *order = o;
    return 0;
}

/* s->order, or a new one in *owned (free it); NULL when out of memory. */
static const uint32_t *get_order(const struct mf_scored *s, uint32_t **owned)
{
    *owned = NULL;
    if (s->order)
        return s->order;
    if (mf_metrics_order(s->p, s->n, owned) != 0)
        return NULL;
    return *owned;
}

/* ---- the sweep over groups of tied scores --------------------------------------------- */

struct sweep {
    const struct mf_scored *s;
    const uint32_t *o;
    size_t i;
};

/* The next group of tied scores with positive weight: its positive and negative weight in
 * *pos, *neg.  Returns 0 at the end. */
static int next_group(struct sweep *g, double *pos, double *neg)
{
    const struct mf_scored *s = g->s;
    while (g->i < s->n) {
        double v = s->p[g->o[g->i]], tp = 0, fp = 0;
        for (; g->i < s->n && s->p[g->o[g->i]] == v; g->i++) {
            uint32_t r = g->o[g->i];
            double w = weight(s, r);
            if (s->y[r])
                tp += w;
            else
                fp += w;
        }
        if (tp + fp > 0) {
            *pos = tp;
            *neg = fp;
            return 1;
        }
    }
    return 0;
}

/* AUROC and AUPRC in one sweep. */
static void ranking(const struct mf_scored *s, const uint32_t *o, double *auroc, double *auprc)
{
    struct sweep g = {s, o, 0};
    double tp = 0, fp = 0, area = 0, ap = 0, gtp, gfp;
    while (next_group(&g, &gtp, &gfp)) {
        /* trapezoid from (fp, tp) to (fp + gfp, tp + gtp), in weight units */
        area += gfp * (tp + 0.5 * gtp);
        tp += gtp;
        fp += gfp;
        /* (R_k - R_{k-1}) * P_k, recall still in weight units */
        if (gtp > 0)
            ap += gtp * (tp / (tp + fp));
    }
    *auroc = tp > 0 && fp > 0 ? area / (tp * fp) : NAN;
    *auprc = tp > 0 ? ap / tp : NAN;
}

/* Both ranking metrics; which = 0 returns the AUROC, 1 the AUPRC. */
static double ranking_metric(const struct mf_scored *s, int which)
{
    uint32_t *owned;
    const uint32_t *o = get_order(s, &owned);
    double auroc = NAN, auprc = NAN;
    if (o)
        ranking(s, o, &auroc, &auprc);
    free(owned);
    return which ? auprc : auroc;
}

double mf_auroc(const struct mf_scored *s)
{
    return ranking_metric(s, 0);
}

double mf_auprc(const struct mf_scored *s)
{
    return ranking_metric(s, 1);
}

/* ---- Brier, ECE ----------------------------------------------------------------------- */

double mf_brier(const struct mf_scored *s)
{
    double sum = 0, tot = 0;
    for (size_t i = 0; i < s->n; i++) {
        double w = weight(s, i), d = s->p[i] - s->y[i];
        sum += w * d * d;
        tot += w;
    }
    return tot > 0 ? sum / tot : NAN;
}

/* The uniform bin of p as calibration_curve puts it: numpy.linspace(0, 1, B + 1) makes the
 * inner edges e_i = i * (1 / B) (so 3 * 0.1 = 0.30000000000000004, not 0.3) and
 * numpy.searchsorted(edges, p) (side "left") counts the edges below p: an edge belongs to the
 * bin below it. */
static int bin_of(double p, int n_bins, double step)
{
    int k = p > 0 ? (p < 1 ? (int)(p * n_bins) : n_bins - 1) : 0;
    if (k > n_bins - 1)
        k = n_bins - 1;
    while (k > 0 && !((double)k * step < p))
        k--;
    while (k < n_bins - 1 && (double)(k + 1) * step < p)
        k++;
    return k;
}

/* Per bin: weight, weighted sum of p, weighted sum of y (bw, bp, by: n_bins each, zeroed
 * here). */
static void bin_sums(const struct mf_scored *s, int n_bins, double *bw, double *bp, double *by)
{
    double step = 1.0 / n_bins;
    memset(bw, 0, (size_t)n_bins * sizeof *bw);
    memset(bp, 0, (size_t)n_bins * sizeof *bp);
    memset(by, 0, (size_t)n_bins * sizeof *by);
    for (size_t i = 0; i < s->n; i++) {
        double w = weight(s, i);
        if (w == 0)
            continue;
        int k = bin_of(s->p[i], n_bins, step);
        bw[k] += w;
        bp[k] += w * s->p[i];
        by[k] += w * s->y[i];
    }
}

static double ece_of_bins(int n_bins, const double *bw, const double *bp, const double *by)
{
    double tot = 0, ece = 0;
    for (int k = 0; k < n_bins; k++)
        if (bw[k] > 0) {
            tot += bw[k];
            ece += bw[k] * fabs(bp[k] / bw[k] - by[k] / bw[k]);
        }
    return tot > 0 ? ece / tot : NAN;
}

double mf_ece(const struct mf_scored *s, int n_bins)
{
    if (n_bins < 1)
        return NAN;
    double *b = malloc(3 * (size_t)n_bins * sizeof *b);
    if (b == NULL)
        return NAN;
    bin_sums(s, n_bins, b, b + n_bins, b + 2 * n_bins);
    double ece = ece_of_bins(n_bins, b, b + n_bins, b + 2 * n_bins);
    free(b);
    return ece;
}

/* ---- the calibration fit -------------------------------------------------------------- */

#define FIT_MAX_ITER 100
#define FIT_TOL      1e-14

/* The rows that take part: logit(clip(p)), weight, label. */
struct fitdata {
    double *x, *w;
    unsigned char *y;
    size_t m;
};

/* Log-likelihood, gradient and Hessian (negated, so positive definite) at (a, b). */
struct fitstate {
    double ll, g[2], h[3]; /* h: [0,0], [0,1], [1,1] */
};

static void fit_eval(const struct fitdata *d, double a, double b, struct fitstate *f)
{
    double ll = 0, g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0;
    for (size_t i = 0; i < d->m; i++) {
        double x = d->x[i], w = d->w[i], eta = a + b * x;
        /* softplus(eta) = max(eta, 0) + log1p(exp(-|eta|)); mu = logistic(eta) and
         * nu = 1 - mu, each from exp(-|eta|) without cancellation */
        double e = exp(-fabs(eta)), hi = 1 / (1 + e), lo = e / (1 + e);
        double mu = eta >= 0 ? hi : lo, nu = eta >= 0 ? lo : hi;
        double sp = (eta > 0 ? eta : 0) + log1p(e);
        double r = d->y[i] ? nu : -mu, v = w * mu * nu;
        ll += w * (d->y[i] * eta - sp);
        g0 += w * r;
        g1 += w * r * x;
        h00 += v;
        h01 += v * x;
        h11 += v * x * x;
    }
    *f = (struct fitstate){ll, {g0, g1}, {h00, h01, h11}};
}

/* Newton-Raphson with step halving from the intercept-only fit.  Converged when a step
 * changes the parameters by less than FIT_TOL relative to max(1, |a|, |b|), or when steps
 * have reached the floor of rounding noise (below 1e-10 and no longer shrinking: Newton's
 * quadratic convergence would have made them shrink).  Returns -1 when it does not
 * converge. */
static int fit_newton(const struct fitdata *d, double prevalence, double *slope, double *intercept)
{
    double a = log(prevalence) - log1p(-prevalence), b = 0, prev_r = INFINITY;
    struct fitstate f, nf;
    fit_eval(d, a, b, &f);
    for (int it = 0; it < FIT_MAX_ITER; it++) {
        double det = f.h[0] * f.h[2] - f.h[1] * f.h[1];
        if (!(det > 0) || !isfinite(det))
            return -1;
        double da = (f.h[2] * f.g[0] - f.h[1] * f.g[1]) / det;
        double db = (f.h[0] * f.g[1] - f.h[1] * f.g[0]) / det;
        if (!isfinite(da) || !isfinite(db))
            return -1;
        double t = 1;
        int halvings = 0;
        for (;;) {
            fit_eval(d, a + t * da, b + t * db, &nf);
            /* a step may lose to rounding what it cannot gain any more */
            if (nf.ll >= f.ll - 1e-13 * (1 + fabs(f.ll)))
                break;
            if (++halvings > 50)
                return -1;
            t *= 0.5;
        }
        a += t * da;
        b += t * db;
        f = nf;
        double scale = fmax(1, fmax(fabs(a), fabs(b)));
        double r = t * fmax(fabs(da), fabs(db)) / scale;
        if (r < FIT_TOL || (r < 1e-10 && r > 0.125 * prev_r)) {
            *slope = b;
            *intercept = a;
            return 0;
        }
        prev_r = r;
    }
    return -1;
}

static double clipped_logit(double p)
{
    const double lo = 1e-12, hi = 1 - 1e-12;
    p = p < lo ? lo : p > hi ? hi : p;
    return log(p) - log1p(-p);
}

int mf_calibration(const struct mf_scored *s, double *slope, double *intercept)
{
    *slope = *intercept = NAN;
    size_t n = s->n;
    struct fitdata d = {0};
    /* one block: x[n], w[n], then y[n] */
    d.x = malloc(n * (2 * sizeof(double) + 1) + 1);
    if (d.x == NULL)
        return -1;
    d.y = (unsigned char *)(d.x + 2 * n);
    d.w = d.x + n;
    /* the rows with weight; one class, or no overlap between the classes' logits (complete
     * or quasi-complete separation, which includes all logits equal), has no maximum */
    double wpos = 0, wtot = 0;
    double min_pos = INFINITY, max_pos = -INFINITY, min_neg = INFINITY, max_neg = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double w = weight(s, i);
        if (!(w > 0))
            continue;
        double x = clipped_logit(s->p[i]);
        d.x[d.m] = x;
        d.w[d.m] = w;
        d.y[d.m] = s->y[i] != 0;
        d.m++;
        wtot += w;
        if (s->y[i]) {
            wpos += w;
            min_pos = fmin(min_pos, x);
            max_pos = fmax(max_pos, x);
        } else {
            min_neg = fmin(min_neg, x);
            max_neg = fmax(max_neg, x);
        }
    }
    int rc = -1;
    if (wpos > 0 && wpos < wtot && max_neg > min_pos && max_pos > min_neg)
        rc = fit_newton(&d, wpos / wtot, slope, intercept);
    free(d.x);
    return rc;
}

/* ---- thresholds ----------------------------------------------------------------------- */

static struct mf_confusion confusion(double tp, double fp, double pos, double tot, double t)
{
    double neg = tot - pos;
    struct mf_confusion c;
    c.sensitivity = pos > 0 ? tp / pos : NAN;
    c.specificity = neg > 0 ? (neg - fp) / neg : NAN;
    c.ppv = tp + fp > 0 ? tp / (tp + fp) : NAN;
    c.net_benefit = tot > 0 ? tp / tot - fp / tot * (t / (1 - t)) : NAN;
    return c;
}

struct mf_confusion mf_at_threshold(const struct mf_scored *s, double t)
{
    double tp = 0, fp = 0, pos = 0, tot = 0;
    for (size_t i = 0; i < s->n; i++) {
        double w = weight(s, i);
        tot += w;
        if (s->y[i])
            pos += w;
        if (s->p[i] >= t) {
            if (s->y[i])
                tp += w;
            else
                fp += w;
        }
    }
    return confusion(tp, fp, pos, tot, t);
}

/* ---- curves --------------------------------------------------------------------------- */

/* ROC (pr = 0) or PR (pr = 1) points. */
static size_t rank_curve(const struct mf_scored *s, double **xy, int pr)
{
    *xy = NULL;
    uint32_t *owned;
    const uint32_t *o = get_order(s, &owned);
    double *c = malloc(2 * (s->n + 1) * sizeof *c);
    if (o == NULL || c == NULL) {
        free(owned);
        free(c);
        return (size_t)-1;
    }
    /* unnormalized first; the totals are the sweep's own last point, so it ends exactly at
     * recall 1 (and false positive rate 1) */
    struct sweep g = {s, o, 0};
    double tp = 0, fp = 0, gtp, gfp;
    size_t k = 1;
    c[0] = 0;
    c[1] = pr ? 1 : 0;
    while (next_group(&g, &gtp, &gfp)) {
        tp += gtp;
        fp += gfp;
        c[2 * k] = pr ? tp : fp;
        c[2 * k + 1] = pr ? tp / (tp + fp) : tp;
        k++;
    }
    free(owned);
    if (tp == 0 || (!pr && fp == 0)) {
        free(c);
        return 0;
    }
    for (size_t i = 1; i < k; i++) {
        if (pr) {
            c[2 * i] /= tp;
        } else {
            c[2 * i] /= fp;
            c[2 * i + 1] /= tp;
        }
    }
    *xy = c;
    return k;
}

size_t mf_roc_curve(const struct mf_scored *s, double **xy)
{
    return rank_curve(s, xy, 0);
}

size_t mf_pr_curve(const struct mf_scored *s, double **xy)
{
    return rank_curve(s, xy, 1);
}

size_t mf_calibration_curve(const struct mf_scored *s, int n_bins, double **xyw)
{
    *xyw = NULL;
    if (n_bins < 1)
        return 0;
    double *b = malloc(3 * (size_t)n_bins * sizeof *b);
    double *c = malloc(3 * (size_t)n_bins * sizeof *c);
    if (b == NULL || c == NULL) {
        free(b);
        free(c);
        return (size_t)-1;
    }
    double *bw = b, *bp = b + n_bins, *by = b + 2 * n_bins;
    bin_sums(s, n_bins, bw, bp, by);
    size_t k = 0;
    for (int i = 0; i < n_bins; i++)
        if (bw[i] > 0) {
            c[3 * k] = bp[i] / bw[i];
            c[3 * k + 1] = by[i] / bw[i];
            c[3 * k + 2] = bw[i];
            k++;
        }
    free(b);
    if (k == 0)
        free(c);
    else
        *xyw = c;
    return k;
}

/* ---- all at once ---------------------------------------------------------------------- */

void mf_metrics_all(const struct mf_scored *s, const double *t, size_t n_t, double *out)
{
    size_t len = mf_metrics_len(n_t);
    for (size_t i = 0; i < len; i++)
        out[i] = NAN;

    uint32_t *owned;
    const uint32_t *o = get_order(s, &owned);
    if (o)
        ranking(s, o, &out[MF_M_AUROC], &out[MF_M_AUPRC]);
    free(owned);

    /* one pass: Brier, bins, prevalence, mean risk, and the counts at each threshold */
    double bw[MF_ECE_BINS], bp[MF_ECE_BINS], by[MF_ECE_BINS];
    bin_sums(s, MF_ECE_BINS, bw, bp, by);
    out[MF_M_ECE] = ece_of_bins(MF_ECE_BINS, bw, bp, by);
    double brier = 0, tot = 0, pos = 0, risk = 0;
    for (size_t i = 0; i < s->n; i++) {
        double w = weight(s, i), d = s->p[i] - s->y[i];
        brier += w * d * d;
        tot += w;
        pos += w * s->y[i];
        risk += w * s->p[i];
    }
    if (tot > 0) {
        out[MF_M_BRIER] = brier / tot;
        out[MF_M_PREVALENCE] = pos / tot;
        out[MF_M_MEAN_RISK] = risk / tot;
    }
    double slope, intercept;
    mf_calibration(s, &slope, &intercept);
    out[MF_M_CAL_SLOPE] = slope;
    out[MF_M_CAL_INTERCEPT] = intercept;

    for (size_t j = 0; j < n_t; j++) {
        double tp = 0, fp = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->p[i] >= t[j]) {
                double w = weight(s, i);
                if (s->y[i])
                    tp += w;
                else
                    fp += w;
            }
        struct mf_confusion c = confusion(tp, fp, pos, tot, t[j]);
        double *v = out + MF_M_N_FIXED + MF_M_PER_THRESHOLD * j;
        v[0] = c.sensitivity;
        v[1] = c.specificity;
        v[2] = c.ppv;
        v[3] = c.net_benefit;
    }
}

/* ---- bootstrap ------------------------------------------------------------------------ */

/* Patients counted per pass; more than this many patients take several passes over the same
 * draws (each pass replays the stream), which keeps this free of allocation. */
#define BOOT_CHUNK 4096u
/* Mixed into the seed so that the bootstrap's streams are not the simulator's. */
#define BOOT_TAG 0x626f6f7473747261ULL

void mf_bootstrap_weights(const uint32_t *cluster, size_t n, uint32_t k, uint64_t seed, uint32_t b,
                          double *w_out)
{
    uint32_t cnt[BOOT_CHUNK];
    for (size_t i = 0; i < n; i++) {
        assert(cluster[i] < k);
        w_out[i] = 0;
    }
    for (uint64_t lo = 0; lo < k; lo += BOOT_CHUNK) {
        uint64_t span = k - lo < BOOT_CHUNK ? k - lo : BOOT_CHUNK;
        memset(cnt, 0, span * sizeof *cnt);
        struct mf_rng r;
        mf_rng_seed(&r, seed ^ BOOT_TAG, b);
        for (uint32_t j = 0; j < k; j++) {
            uint64_t c = mf_rng_below(&r, k) - lo;
            if (c < span) /* wraps when below lo */
                cnt[c]++;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t c = cluster[i] - lo;
            if (c < span)
                w_out[i] = cnt[c];
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.quantile(v, q) with method "linear" on sorted v[m]: the same index and the same
 * interpolation formula (numpy's _lerp, which steps back from the upper value when the
 * fraction is at least one half). */
static double quantile_sorted(const double *v, size_t m, double q)
{
    double h = q * (double)(m - 1), fl = floor(h);
    size_t i = fl < 0 ? 0 : (size_t)fl;
    if (i >= m - 1)
        return v[m - 1];
    double g = h - fl, a = v[i], c = v[i + 1], diff = c - a;
    return g >= 0.5 ? c - diff * (1 - g) : a + diff * g;
}

void mf_percentile_interval(double *v, size_t n, double level, double *lo, double *hi)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            double x = v[i];
            v[i] = v[m];
            v[m++] = x;
        }
    *lo = *hi = NAN;
    if (m < 2)
        return;
    qsort(v, m, sizeof *v, cmp_double);
    *lo = quantile_sorted(v, m, (1 - level) / 2);
    *hi = quantile_sorted(v, m, (1 + level) / 2);
}
