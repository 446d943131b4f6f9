/* metrics.h - discrimination, calibration and clinical-usefulness metrics of binary risk
 * predictions, with optional non-negative sample weights, and the patient-level bootstrap.
 *
 * Every metric is defined exactly as scikit-learn defines it, so that results can be checked
 * against it (tests/integration/metrics_sklearn.sh):
 *
 *   AUROC        roc_auc_score: the trapezoidal area under the ROC curve whose points are
 *                the distinct scores (tied scores form one step, so a tie counts one half)
 *   AUPRC        average_precision_score: sum over distinct score thresholds of
 *                (R_k - R_{k-1}) * P_k (no interpolation); NaN without positives (where
 *                scikit-learn warns and returns 0), 1 without negatives (as scikit-learn)
 *   Brier        brier_score_loss: weighted mean of (p - y)^2
 *   ECE          from calibration_curve(strategy="uniform", n_bins): the weighted mean over
 *                non-empty bins of |mean predicted - fraction positive|, each bin weighted by
 *                its share of the total weight.  Bins are [0, e_1], (e_1, e_2], ...,
 *                (e_{B-1}, 1] as numpy.searchsorted(bins[1:-1], p) (side "left") puts them:
 *                an edge belongs to the bin below it, and the edges are numpy.linspace's,
 *                e_i = i * (1.0 / B) in doubles (so e_3 = 0.30000000000000004 for B = 10, and
 *                p = 0.3 falls in (e_2, e_3])
 *   calibration  LogisticRegression(penalty=None) of y on logit(p) (p clipped to
 *                [1e-12, 1 - 1e-12] first): slope and intercept, fitted by Newton's method to
 *                convergence (agrees with solver="newton-cholesky", tol=1e-12 within 1e-9)
 *   at a threshold t (a prediction is positive when p >= t):
 *                sensitivity = recall_score, specificity = recall of the negatives,
 *                PPV = precision_score (NaN when nothing is predicted positive),
 *                net benefit = TP/W - FP/W * t / (1 - t) (decision curve analysis; W = total
 *                weight)
 *
 * A metric that is undefined for the input is NaN: one class only (the AUROC, sensitivity or
 * specificity, the calibration fit), no weight at all (everything).  The Brier score and
 * the ECE exist with one class.  Weights are what the bootstrap uses: a resampled patient
 * drawn k times weighs k, so weight k is the row repeated k times and weight 0 is the row
 * dropped (it makes no point on any curve, as in scikit-learn, which drops such rows).
 */
#ifndef MF_EVAL_METRICS_H
#define MF_EVAL_METRICS_H
#include <stddef.h>
#include <stdint.h>

/* Scores p[n] in [0, 1] (NaN not allowed: the caller drops them), labels y[n] in {0, 1},
 * weights w[n] >= 0 or NULL (every weight 1).  n < 2^32. */
struct mf_scored {
    const double *p;
    const int *y;
    const double *w;
    size_t n;
    /* Optional: indices 0..n-1 ordered by p descending (ties in any order).  NULL: computed
     * when needed.  Passing it lets the bootstrap sort once. */
    const uint32_t *order;
};

/* order[n]: indices of p sorted by p descending (stable), allocated with malloc (free it).
 * Returns -1 when out of memory (or n >= 2^32).
 *
 * With s->order given, every function below is O(n) (one malloc at most): the bootstrap calls
 * them once per replicate with new weights.  Without it they sort first. */
int mf_metrics_order(const double *p, size_t n, uint32_t **order);

double mf_auroc(const struct mf_scored *s);
double mf_auprc(const struct mf_scored *s);
double mf_brier(const struct mf_scored *s);
double mf_ece(const struct mf_scored *s, int n_bins);
/* Returns 0, or -1 when the fit is undefined, with both NaN: one class (among rows with
 * weight), or no maximum likelihood estimate because the classes' logits do not overlap
 * (complete or quasi-complete separation, which includes all logit(p) equal), or Newton's
 * method does not converge in 100 iterations. */
int mf_calibration(const struct mf_scored *s, double *slope, double *intercept);
struct mf_confusion {
    double sensitivity, specificity, ppv, net_benefit;
};
struct mf_confusion mf_at_threshold(const struct mf_scored *s, double t);

/* Curves, for plotting.  Each returns the number of points written to a new array in *xy or
 * *xyw (allocated with malloc; free it), or (size_t)-1 when out of memory; 0 (and NULL) when
 * undefined.  A "distinct score" is one that some row with positive weight has. */
/* ROC: (fpr, tpr) pairs: (0, 0), then one per distinct score in decreasing order, the last
 * (1, 1): roc_curve with drop_intermediate=False.  Undefined with one class. */
size_t mf_roc_curve(const struct mf_scored *s, double **xy);
/* Precision-recall: (recall, precision) pairs: (0, 1), then one per distinct score in order
 * of decreasing threshold.  precision_recall_curve's arrays reversed (it ends with its
 * (recall 0, precision 1) point).  Undefined without positives. */
size_t mf_pr_curve(const struct mf_scored *s, double **xy);
/* Calibration: per non-empty uniform bin (bins as for the ECE), in increasing order, (mean
 * predicted, fraction positive, weight).  calibration_curve's (prob_pred, prob_true) with the
 * bin's weight.  Undefined without weight. */
size_t mf_calibration_curve(const struct mf_scored *s, int n_bins, double **xyw);

/* The metric set reported per predictor (and per subgroup), as one vector so that the
 * bootstrap can treat it uniformly. */
enum mf_metric {
    MF_M_AUROC,
    MF_M_AUPRC,
    MF_M_BRIER,
    MF_M_ECE,
    MF_M_CAL_SLOPE,
    MF_M_CAL_INTERCEPT,
    MF_M_PREVALENCE, /* weighted share of positives */
    MF_M_MEAN_RISK,  /* weighted mean of p */
    MF_M_N_FIXED     /* then per threshold: sensitivity, specificity, PPV, net benefit */
};
#define MF_M_PER_THRESHOLD 4
#define MF_ECE_BINS        10
static inline size_t mf_metrics_len(size_t n_thresholds)
{
    return MF_M_N_FIXED + MF_M_PER_THRESHOLD * n_thresholds;
}
/* out[mf_metrics_len(n_t)]: every metric above; thresholds t[n_t]. */
void mf_metrics_all(const struct mf_scored *s, const double *t, size_t n_t, double *out);

/* The patient-level (cluster) bootstrap.  Rows belong to patients: cluster[n] in 0..k-1.
 * Replicate b draws k patients with replacement (mf_rng_below(k), k times, from the
 * core/rng.h stream (seed mixed with a constant, b)) and gives each row the weight of the
 * number of times its patient was drawn.  w_out[n]: that replicate's weights.  Deterministic
 * for a given seed and b, whatever thread runs it; allocates nothing. */
void mf_bootstrap_weights(const uint32_t *cluster, size_t n, uint32_t k, uint64_t seed, uint32_t b,
                          double *w_out);

/* The percentile interval at level (0.95: the 95% interval) of the finite values of v[n]:
 * their percentiles at (1 - level) / 2 and (1 + level) / 2 as numpy.percentile (linear)
 * computes them.  NaNs and infinities are skipped; both NaN when fewer than 2 finite values.
 * v is reordered. */
void mf_percentile_interval(double *v, size_t n, double level, double *lo, double *hi);

#endif
