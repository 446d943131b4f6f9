/* eval.c - one task's evaluation with bootstrap intervals, subgroups and gaps (see eval.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "eval/eval.h"
#include "eval/metrics.h"

#define MAX_CURVE_POINTS 200
#define LEVEL            0.95

cJSON *mf_eval_estimate(double value, double lo, double hi)
{
    cJSON *e = cJSON_CreateObject();
    const char *k[3] = {"value", "lo", "hi"};
    double v[3] = {value, lo, hi};
    for (int i = 0; i < 3; i++) {
        if (isfinite(v[i]))
            cJSON_AddNumberToObject(e, k[i], v[i]);
        else
            cJSON_AddNullToObject(e, k[i]);
    }
    return e;
}

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* A curve of n points of width k as [[...], ...], at most MAX_CURVE_POINTS of them (evenly
 * spaced, always the first and the last). */
static cJSON *curve_json(const double *xy, size_t n, int k)
{
    cJSON *a = cJSON_CreateArray();
    size_t m = n <= MAX_CURVE_POINTS ? n : MAX_CURVE_POINTS;
    for (size_t j = 0; j < m; j++) {
        size_t i = m == n ? j : (size_t)((double)j * (double)(n - 1) / (double)(m - 1) + 0.5);
        cJSON *pt = cJSON_CreateArray();
        for (int c = 0; c < k; c++)
            cJSON_AddItemToArray(pt, num_or_null(xy[i * (size_t)k + (size_t)c]));
        cJSON_AddItemToArray(a, pt);
    }
    return a;
}

/* Decision-curve thresholds: 0.01 ... 0.99. */
#define N_DECISION 99
static double decision_t(int i)
{
    return (i + 1) / 100.0;
}

/* The bootstrap results: v[((b * n_preds + p) * n_slots + slot) * len + m], slot 0 the whole
 * cohort, slot 1 + g the g-th subgroup over every attribute. */
struct boot {
    double *v;
    size_t n_preds, n_slots, len;
    uint32_t B;
};

static double *bv(const struct boot *bs, uint32_t b, size_t p, size_t slot)
{
    return bs->v + ((b * bs->n_preds + p) * bs->n_slots + slot) * bs->len;
}

/* Point estimates (b = B: weights 1) and replicates. */
static void compute(const int *y, const uint32_t *cluster, size_t n, uint32_t n_clusters,
                    const struct mf_eval_attr *attrs, size_t n_attrs,
                    const struct mf_eval_pred *preds, uint32_t *const *order,
                    const struct mf_eval_opts *o, struct boot *bs, int *fail)
{
    int64_t total = (int64_t)bs->B + 1;
#pragma omp parallel
    {
        double *w = malloc(n * sizeof *w), *ws = malloc(n * sizeof *ws);
        if (w == NULL || ws == NULL) {
#pragma omp atomic write
            *fail = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t bb = 0; bb < total; bb++) {
            if (w == NULL || ws == NULL)
                continue;
            uint32_t b = (uint32_t)bb;
            if (b == bs->B)
                for (size_t i = 0; i < n; i++)
                    w[i] = 1;
            else
                mf_bootstrap_weights(cluster, n, n_clusters, o->seed, b, w);
            for (size_t p = 0; p < bs->n_preds; p++) {
                struct mf_scored s = {preds[p].p, y, w, n, order[p]};
                mf_metrics_all(&s, o->thresholds, o->n_thresholds, bv(bs, b, p, 0));
                size_t slot = 1;
                for (size_t a = 0; a < n_attrs; a++)
                    for (size_t g = 0; g < attrs[a].n_groups; g++, slot++) {
                        for (size_t i = 0; i < n; i++)
                            ws[i] = attrs[a].group[i] == (int)g ? w[i] : 0;
                        s.w = ws;
                        mf_metrics_all(&s, o->thresholds, o->n_thresholds, bv(bs, b, p, slot));
                    }
                s.w = w;
            }
        }
        free(w);
        free(ws);
    }
}

static void interval(const struct boot *bs, size_t p, size_t slot, size_t m, double *scratch,
                     double *lo, double *hi)
{
    for (uint32_t b = 0; b < bs->B; b++)
        scratch[b] = bv(bs, b, p, slot)[m];
    mf_percentile_interval(scratch, bs->B, LEVEL, lo, hi);
}

static cJSON *est(const struct boot *bs, size_t p, size_t slot, size_t m, double *scratch)
{
    double lo = NAN, hi = NAN;
    if (bs->B > 1)
        interval(bs, p, slot, m, scratch, &lo, &hi);
    return mf_eval_estimate(bv(bs, bs->B, p, slot)[m], lo, hi);
}

/* An estimate of a function of two metrics per replicate (a difference or a ratio). */
static cJSON *est2(const struct boot *bs, size_t p1, size_t s1, size_t p2, size_t s2, size_t m,
                   int ratio, double *scratch)
{
    double v1 = bv(bs, bs->B, p1, s1)[m], v2 = bv(bs, bs->B, p2, s2)[m];
    double value = ratio ? v1 / v2 : v1 - v2, lo = NAN, hi = NAN;
    if (bs->B > 1) {
        for (uint32_t b = 0; b < bs->B; b++) {
            double a = bv(bs, b, p1, s1)[m], c = bv(bs, b, p2, s2)[m];
            scratch[b] = ratio ? a / c : a - c;
        }
        mf_percentile_interval(scratch, bs->B, LEVEL, &lo, &hi);
    }
    return mf_eval_estimate(value, lo, hi);
}

static const struct {
    const char *key;
    enum mf_metric m;
} METRICS[] = {
    {"auroc", MF_M_AUROC},
    {"auprc", MF_M_AUPRC},
    {"brier", MF_M_BRIER},
    {"ece", MF_M_ECE},
    {"calibration_slope", MF_M_CAL_SLOPE},
    {"calibration_intercept", MF_M_CAL_INTERCEPT},
    {"mean_risk", MF_M_MEAN_RISK},
};
static const char *const THRESHOLD_KEYS[MF_M_PER_THRESHOLD] = {"sensitivity", "specificity", "ppv",
                                                               "net_benefit"};

static cJSON *curves(const struct mf_scored *s, int *oom)
{
    cJSON *c = cJSON_CreateObject();
    double *xy = NULL;
    size_t k = mf_roc_curve(s, &xy);
    *oom |= k == (size_t)-1;
    cJSON_AddItemToObject(c, "roc", curve_json(xy, k == (size_t)-1 ? 0 : k, 2));
    free(xy);
    xy = NULL;
    k = mf_pr_curve(s, &xy);
    *oom |= k == (size_t)-1;
    cJSON_AddItemToObject(c, "pr", curve_json(xy, k == (size_t)-1 ? 0 : k, 2));
    free(xy);
    xy = NULL;
    k = mf_calibration_curve(s, MF_ECE_BINS, &xy);
    *oom |= k == (size_t)-1;
    cJSON_AddItemToObject(c, "calibration", curve_json(xy, k == (size_t)-1 ? 0 : k, 3));
    free(xy);
    double dc[N_DECISION * 2];
    for (int i = 0; i < N_DECISION; i++) {
        dc[2 * i] = decision_t(i);
        dc[2 * i + 1] = mf_at_threshold(s, decision_t(i)).net_benefit;
    }
    cJSON_AddItemToObject(c, "decision", curve_json(dc, N_DECISION, 2));
    return c;
}

/* Whether subgroup slot of predictor p (point estimate) can take part in a gap. */
static int gap_ok(const struct boot *bs, size_t p, size_t slot, const double *cnt,
                  const double *pos, size_t min_group)
{
    return cnt[slot] >= (double)min_group && pos[slot] > 0 && pos[slot] < cnt[slot] &&
           isfinite(bv(bs, bs->B, p, slot)[MF_M_AUROC]);
}

cJSON *mf_eval_task(const int *y, const uint32_t *cluster, size_t n, uint32_t n_clusters,
                    const struct mf_eval_attr *attrs, size_t n_attrs,
                    const struct mf_eval_pred *preds, size_t n_preds, int oracle,
                    const struct mf_eval_opts *o, struct mf_err *err)
{
    size_t n_slots = 1;
    for (size_t a = 0; a < n_attrs; a++)
        n_slots += attrs[a].n_groups;
    struct boot bs = {NULL, n_preds, n_slots, mf_metrics_len(o->n_thresholds), o->bootstrap};
    uint32_t **order = calloc(n_preds ? n_preds : 1, sizeof *order);
    double *scratch = malloc(((size_t)o->bootstrap + 1) * sizeof *scratch);
    double *cnt = calloc(n_slots, sizeof *cnt), *pos = calloc(n_slots, sizeof *pos);
    size_t vn = ((size_t)o->bootstrap + 1) * n_preds * n_slots * bs.len;
    bs.v = malloc((vn ? vn : 1) * sizeof *bs.v);
    int fail = order == NULL || scratch == NULL || cnt == NULL || pos == NULL || bs.v == NULL;
    for (size_t p = 0; p < n_preds && !fail; p++)
        fail = mf_metrics_order(preds[p].p, n, &order[p]) != 0;
    cJSON *task = NULL;
    if (!fail)
        compute(y, cluster, n, n_clusters, attrs, n_attrs, preds, order, o, &bs, &fail);
    if (fail) {
        mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    /* counts per slot */
    for (size_t i = 0; i < n; i++) {
        cnt[0]++;
        pos[0] += y[i] != 0;
        size_t slot = 1;
        for (size_t a = 0; a < n_attrs; a++) {
            if (attrs[a].group[i] >= 0) {
                cnt[slot + (size_t)attrs[a].group[i]]++;
                pos[slot + (size_t)attrs[a].group[i]] += y[i] != 0;
            }
            slot += attrs[a].n_groups;
        }
    }
    task = cJSON_CreateObject();
    cJSON *coh = cJSON_AddObjectToObject(task, "cohort");
    cJSON_AddNumberToObject(coh, "samples", (double)n);
    cJSON_AddNumberToObject(coh, "patients", n_clusters);
    cJSON_AddNumberToObject(coh, "positives", pos[0]);
    cJSON_AddItemToObject(coh, "prevalence", num_or_null(n ? pos[0] / (double)n : NAN));
    cJSON *pa = cJSON_AddArrayToObject(task, "predictors");
    int oom = 0;
    for (size_t p = 0; p < n_preds; p++) {
        cJSON *pj = cJSON_CreateObject();
        cJSON_AddItemToArray(pa, pj);
        cJSON_AddStringToObject(pj, "id", preds[p].id);
        cJSON_AddStringToObject(pj, "name", preds[p].name);
        cJSON_AddStringToObject(pj, "description", preds[p].description);
        cJSON_AddNumberToObject(pj, "n", (double)n);
        cJSON_AddNumberToObject(pj, "positives", pos[0]);
        cJSON *mj = cJSON_AddObjectToObject(pj, "metrics");
        for (size_t k = 0; k < sizeof METRICS / sizeof METRICS[0]; k++)
            cJSON_AddItemToObject(mj, METRICS[k].key, est(&bs, p, 0, METRICS[k].m, scratch));
        cJSON *tj = cJSON_AddArrayToObject(pj, "thresholds");
        for (size_t t = 0; t < o->n_thresholds; t++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "threshold", o->thresholds[t]);
            for (int k = 0; k < MF_M_PER_THRESHOLD; k++)
                cJSON_AddItemToObject(
                    e, THRESHOLD_KEYS[k],
                    est(&bs, p, 0, MF_M_N_FIXED + MF_M_PER_THRESHOLD * t + (size_t)k, scratch));
            cJSON_AddItemToArray(tj, e);
        }
        struct mf_scored s = {preds[p].p, y, NULL, n, order[p]};
        cJSON_AddItemToObject(pj, "curves", curves(&s, &oom));
        cJSON *sg = cJSON_AddArrayToObject(pj, "subgroups");
        cJSON *gaps = cJSON_AddArrayToObject(pj, "gaps");
        size_t slot = 1;
        for (size_t a = 0; a < n_attrs; a++) {
            size_t first = slot;
            for (size_t g = 0; g < attrs[a].n_groups; g++, slot++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "attribute", attrs[a].name);
                cJSON_AddStringToObject(e, "group", attrs[a].groups[g]);
                cJSON_AddNumberToObject(e, "n", cnt[slot]);
                cJSON_AddNumberToObject(e, "positives", pos[slot]);
                cJSON_AddItemToObject(e, "auroc", est(&bs, p, slot, MF_M_AUROC, scratch));
                cJSON_AddItemToObject(e, "brier", est(&bs, p, slot, MF_M_BRIER, scratch));
                cJSON_AddItemToObject(e, "ece", est(&bs, p, slot, MF_M_ECE, scratch));
                cJSON_AddItemToArray(sg, e);
            }
            /* the largest gap of each metric: best minus worst subgroup (point estimates) */
            static const struct {
                const char *key;
                enum mf_metric m;
                int higher_better;
            } GAPM[] = {{"auroc", MF_M_AUROC, 1}, {"brier", MF_M_BRIER, 0}};
            for (size_t k = 0; k < sizeof GAPM / sizeof GAPM[0]; k++) {
                size_t best = 0, worst = 0;
                for (size_t sl = first; sl < slot; sl++) {
                    if (!gap_ok(&bs, p, sl, cnt, pos, o->min_group))
                        continue;
                    double v = bv(&bs, bs.B, p, sl)[GAPM[k].m];
                    if (!GAPM[k].higher_better)
                        v = -v;
                    double vb = best ? bv(&bs, bs.B, p, best)[GAPM[k].m] : 0;
                    double vw = worst ? bv(&bs, bs.B, p, worst)[GAPM[k].m] : 0;
                    if (!GAPM[k].higher_better) {
                        vb = -vb;
                        vw = -vw;
                    }
                    if (!best || v > vb)
                        best = sl;
                    if (!worst || v < vw)
                        worst = sl;
                }
                if (!best || best == worst)
                    continue;
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "attribute", attrs[a].name);
                cJSON_AddStringToObject(e, "metric", GAPM[k].key);
                cJSON_AddStringToObject(e, "best", attrs[a].groups[best - first]);
                cJSON_AddStringToObject(e, "worst", attrs[a].groups[worst - first]);
                cJSON *g = GAPM[k].higher_better
                               ? est2(&bs, p, best, p, worst, GAPM[k].m, 0, scratch)
                               : est2(&bs, p, worst, p, best, GAPM[k].m, 0, scratch);
                const cJSON *lo = cJSON_GetObjectItemCaseSensitive(g, "lo");
                const cJSON *hi = cJSON_GetObjectItemCaseSensitive(g, "hi");
                int flagged = cJSON_IsNumber(lo) && cJSON_IsNumber(hi) &&
                              (lo->valuedouble > 0 || hi->valuedouble < 0);
                cJSON_AddItemToObject(e, "gap", g);
                cJSON_AddBoolToObject(e, "flagged", flagged);
                cJSON_AddItemToArray(gaps, e);
            }
        }
        if (oracle >= 0 && (size_t)oracle != p) {
            cJSON *of = cJSON_AddObjectToObject(pj, "oracle_fraction");
            cJSON_AddItemToObject(of, "auroc",
                                  est2(&bs, p, 0, (size_t)oracle, 0, MF_M_AUROC, 1, scratch));
            cJSON_AddItemToObject(of, "brier",
                                  est2(&bs, p, 0, (size_t)oracle, 0, MF_M_BRIER, 1, scratch));
        }
    }
    double prev = n ? pos[0] / (double)n : NAN, dc[N_DECISION * 2];
    for (int i = 0; i < N_DECISION; i++) {
        double t = decision_t(i);
        dc[2 * i] = t;
        dc[2 * i + 1] = prev - (1 - prev) * t / (1 - t);
    }
    cJSON *ref = cJSON_AddObjectToObject(task, "decision_reference");
    cJSON_AddItemToObject(ref, "treat_all", curve_json(dc, N_DECISION, 2));
    if (oom) {
        cJSON_Delete(task);
        task = NULL;
        mf_err_set(err, MF_ENOMEM, "out of memory");
    }
out:
    for (size_t p = 0; order && p < n_preds; p++)
        free(order[p]);
    free(order);
    free(scratch);
    free(cnt);
    free(pos);
    free(bs.v);
    return task;
}

static double pearson(const double *a, const double *b, const double *w, size_t n)
{
    double sw = 0, ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        sw += w[i];
        ma += w[i] * a[i];
        mb += w[i] * b[i];
    }
    if (sw <= 0)
        return NAN;
    ma /= sw;
    mb /= sw;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        double da = a[i] - ma, db = b[i] - mb;
        sab += w[i] * da * db;
        saa += w[i] * da * da;
        sbb += w[i] * db * db;
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

cJSON *mf_eval_effects(const double *true_d, const double *model_d, const uint32_t *cluster,
                       const int *treatment, size_t n, uint32_t n_clusters,
                       const char *const *names, size_t n_names, uint32_t bootstrap, uint64_t seed,
                       struct mf_err *err)
{
    double *w = calloc(n ? n : 1, sizeof *w);
    double *v = calloc((size_t)bootstrap + 1, sizeof *v);
    if (w == NULL || v == NULL) {
        free(w);
        free(v);
        mf_err_set(err, MF_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        w[i] = 1;
    double r = pearson(true_d, model_d, w, n), lo = NAN, hi = NAN;
    if (bootstrap > 1) {
        for (uint32_t b = 0; b < bootstrap; b++) {
            mf_bootstrap_weights(cluster, n, n_clusters, seed, b, w);
            v[b] = pearson(true_d, model_d, w, n);
        }
        mf_percentile_interval(v, bootstrap, LEVEL, &lo, &hi);
    }
    size_t agree = 0, decided = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(true_d[i]) >= 0.001) {
            decided++;
            agree += (true_d[i] > 0) == (model_d[i] > 0) && model_d[i] != 0;
        }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "treatments", (double)n_names);
    cJSON_AddNumberToObject(e, "patients", n_clusters);
    cJSON_AddNumberToObject(e, "pairs", (double)n);
    cJSON_AddItemToObject(e, "pearson", mf_eval_estimate(r, lo, hi));
    cJSON_AddItemToObject(e, "sign_agreement",
                          num_or_null(decided ? (double)agree / (double)decided : NAN));
    cJSON *pt = cJSON_AddArrayToObject(e, "per_treatment");
    for (size_t k = 0; k < n_names; k++) {
        double st = 0, sm = 0, m = 0;
        for (size_t i = 0; i < n; i++)
            if (treatment[i] == (int)k) {
                st += true_d[i];
                sm += model_d[i];
                m++;
            }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "treatment", names[k]);
        cJSON_AddNumberToObject(o, "pairs", m);
        cJSON_AddItemToObject(o, "true_mean_difference", num_or_null(m ? st / m : NAN));
        cJSON_AddItemToObject(o, "model_mean_difference", num_or_null(m ? sm / m : NAN));
        cJSON_AddItemToArray(pt, o);
    }
    free(w);
    free(v);
    return e;
}
