/* eval.h - one task's evaluation: every predictor's metrics with patient-level bootstrap 95%
 * intervals, curves, subgroup metrics and gaps, and fractions of an oracle's performance, as
 * the "tasks" entry of metrics.json (schema in report.h).
 *
 * Every predictor scores the same rows (the caller drops rows any predictor could not score),
 * so that the same bootstrap replicates compare them: replicate b resamples patients
 * (mf_bootstrap_weights with (seed, b)) and every metric of every predictor and subgroup is
 * computed on it.  Intervals are percentile intervals.
 */
#ifndef MF_EVAL_EVAL_H
#define MF_EVAL_EVAL_H
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;

/* A subgroup attribute: group[i] in 0..n_groups-1 for each row, or -1 when unknown. */
struct mf_eval_attr {
    const char *name; /* "sex", "age", "race", "ethnicity" */
    const char *const *groups;
    size_t n_groups;
    const int *group;
};

struct mf_eval_pred {
    const char *id, *name, *description;
    const double *p; /* [n] probabilities in [0, 1] */
};

struct mf_eval_opts {
    const double *thresholds; /* sensitivity, specificity, PPV and net benefit at each */
    size_t n_thresholds;
    uint32_t bootstrap; /* replicates (0: no intervals) */
    uint64_t seed;
    size_t min_group; /* a subgroup smaller than this (or with one class) gets no gap */
};

/* rows: n labels y[n] (0/1) of patients cluster[n] in 0..n_clusters-1.  oracle: index into
 * preds of the true-risk predictor, or -1.  Returns a new cJSON object with "cohort" (without
 * "source"), "predictors" and "decision_reference", or NULL with err set. */
struct cJSON *mf_eval_task(const int *y, const uint32_t *cluster, size_t n, uint32_t n_clusters,
                           const struct mf_eval_attr *attrs, size_t n_attrs,
                           const struct mf_eval_pred *preds, size_t n_preds, int oracle,
                           const struct mf_eval_opts *o, struct mf_err *err);

/* Agreement of the model's risk differences (treatment minus no treatment) with the true ones:
 * n pairs of patients cluster[n] (0..n_clusters-1), treatment[n] indexing names[n_names].
 * Returns the "effects" object of metrics.json: Pearson correlation with a bootstrap interval,
 * the share of pairs whose signs agree (among pairs with a true difference of at least 0.001
 * either way), and per treatment the mean true and model differences. */
struct cJSON *mf_eval_effects(const double *true_d, const double *model_d, const uint32_t *cluster,
                              const int *treatment, size_t n, uint32_t n_clusters,
                              const char *const *names, size_t n_names, uint32_t bootstrap,
                              uint64_t seed, struct mf_err *err);

/* An estimate {"value", "lo", "hi"} (NaN as null). */
struct cJSON *mf_eval_estimate(double value, double lo, double hi);

#endif
