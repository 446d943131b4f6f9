/* probe.h - linear probes: L2-regularized logistic regression on patient embeddings
 * (liblinear), as EHRSHOT evaluates foundation models: fit on training-split samples (all of
 * them, or k positives and k negatives: "k-shot"), choose the regularization strength C on
 * the tuning split, predict probabilities.
 *
 * A probe is saved as PROBE_DIR/probe.json: the task, the model it was fitted on (its
 * weights' SHA-256), the embedding dimension, the standardization (mean and scale per
 * feature), C, the weights and the intercept, and how it was fitted (shots, seed, samples,
 * positives, the tuning score of each C tried).
 */
#ifndef MF_INFER_PROBE_H
#define MF_INFER_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mf_probe_opts {
    size_t shots;     /* 0: every training sample; k: k positives and k negatives */
    uint64_t seed;    /* which samples the k shots are */
    const double *Cs; /* candidate C values; NULL: 10^-4 ... 10^2 in decades */
    size_t n_Cs;
};

struct mf_probe;

/* Fit on n_train rows of X_train ([n][dim] float32) with labels y (0/1), choosing C by the
 * log-loss on the tuning rows (when n_tune is 0 or the tuning rows hold one class only, by
 * 5-fold cross-validation on the training rows; with fewer than 2 rows of either class in
 * training, an error).  Features are standardized with the training rows' mean and standard
 * deviation first. */
int mf_probe_fit(const float *X_train, const int *y_train, size_t n_train, const float *X_tune,
                 const int *y_tune, size_t n_tune, size_t dim, const struct mf_probe_opts *o,
                 struct mf_probe **out, struct mf_err *err);
void mf_probe_free(struct mf_probe *p);

size_t mf_probe_dim(const struct mf_probe *p);
/* P(label = 1) for one embedding. */
double mf_probe_predict(const struct mf_probe *p, const float *x);

/* Metadata recorded in probe.json (copied; any may be NULL). */
int mf_probe_set_meta(struct mf_probe *p, const char *task, const char *model_sha256);
const char *mf_probe_task(const struct mf_probe *p);
const char *mf_probe_model_sha256(const struct mf_probe *p);

/* PROBE_DIR/probe.json (the folder is created; the file written atomically). */
int mf_probe_save(const struct mf_probe *p, const char *dir, struct mf_err *err);
/* Read and validate; errors name the file and the JSON path. */
int mf_probe_load(const char *dir, struct mf_probe **out, struct mf_err *err);

/* The same from a parsed probe.json (name is used in errors). */
struct cJSON;
int mf_probe_from_json(const struct cJSON *root, const char *name, struct mf_probe **out,
                       struct mf_err *err);

#endif
