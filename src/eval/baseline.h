/* baseline.h - the simple models medfm is compared with, trained and scored in the same run:
 * L2-regularized logistic regression (liblinear, through the probe code) and gradient-boosted
 * trees (XGBoost's C library), both on the same features of the record up to the prediction
 * time: log(1 + count) of each code chosen on the training rows, age in years, and sex.
 */
#ifndef MF_EVAL_BASELINE_H
#define MF_EVAL_BASELINE_H
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* The feature columns: store code id -> column (or -1), then age, female, male. */
struct mf_features {
    int32_t *col; /* [n_codes of the store the columns were chosen on] */
    uint32_t n_codes;
    size_t n_code_cols;
    char **names; /* [n_code_cols] the codes (to map onto another store) */
};
/* Total columns: codes, then age, female, male. */
static inline size_t mf_features_dim(const struct mf_features *f)
{
    return f->n_code_cols + 3;
}

/* A row to featurize: a patient's timeline (of the store given with it) and the prediction
 * time. */
struct mf_feature_row {
    const struct mf_timeline *tl;
    int64_t at;
};

/* Choose the columns: the codes (of timed events, MEDS_BIRTH and MEDS_DEATH aside) present in
 * the histories of at least min_rows of the rows, the max_cols most frequent. */
int mf_features_choose(const struct mf_store *s, const struct mf_feature_row *rows, size_t n,
                       size_t min_rows, size_t max_cols, struct mf_features *out,
                       struct mf_err *err);
/* The same columns for another store (codes it lacks stay zero): col[] rebuilt for s. */
int mf_features_rebind(struct mf_features *f, const struct mf_store *s, struct mf_err *err);
void mf_features_free(struct mf_features *f);
/* X[n][dim] (float) for rows of s (whose col[] f is bound to).  In parallel. */
int mf_features_build(const struct mf_features *f, const struct mf_store *s,
                      const struct mf_feature_row *rows, size_t n, float *X, struct mf_err *err);

/* Gradient-boosted trees: fit on the training rows (binary:logistic, depth 4, learning rate
 * 0.05, row and column subsampling 0.8), the number of rounds (at most max_rounds) chosen by
 * the log-loss on the tuning rows (early stopping after 50 rounds without improvement; with no
 * tuning row, max_rounds / 4), then predict n_test rows into p[n_test]. */
struct mf_xgb_info {
    int rounds;
    double tune_logloss;
};
int mf_xgb_fit_predict(const float *X_train, const int *y_train, size_t n_train,
                       const float *X_tune, const int *y_tune, size_t n_tune, const float *X_test,
                       size_t n_test, size_t dim, int max_rounds, int threads, uint64_t seed,
                       double *p, struct mf_xgb_info *info, struct mf_err *err);

#endif
