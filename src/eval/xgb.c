/* xgb.c - gradient-boosted trees through XGBoost's C library (see baseline.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "eval/baseline.h"

#define PATIENCE 50

static int xgb_fail(struct mf_err *err, const char *what)
{
    return mf_err_set(err, MF_EINVAL, "XGBoost: %s: %s", what, XGBGetLastError());
}

static int matrix(const float *X, const int *y, size_t n, size_t dim, DMatrixHandle *out,
                  struct mf_err *err)
{
    if (XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)dim, NAN, out) != 0)
        return xgb_fail(err, "cannot build a matrix");
    if (y == NULL)
        return 0;
    float *lab = malloc((n ? n : 1) * sizeof *lab);
    if (lab == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        lab[i] = y[i] ? 1.0f : 0.0f;
    int rc = XGDMatrixSetFloatInfo(*out, "label", lab, (bst_ulong)n);
    free(lab);
    return rc ? xgb_fail(err, "cannot set the labels") : 0;
}

/* The log-loss in an evaluation line "[i]\ttune-logloss:0.123". */
static double parse_logloss(const char *s)
{
    const char *p = s ? strstr(s, "logloss:") : NULL;
    return p ? strtod(p + 8, NULL) : NAN;
}

int mf_xgb_fit_predict(const float *X_train, const int *y_train, size_t n_train,
                       const float *X_tune, const int *y_tune, size_t n_tune, const float *X_test,
                       size_t n_test, size_t dim, int max_rounds, int threads, uint64_t seed,
                       double *p, struct mf_xgb_info *info, struct mf_err *err)
{
    DMatrixHandle dtr = NULL, dtu = NULL, dte = NULL;
    BoosterHandle bst = NULL;
    int rc = 0;
    XGBSetGlobalConfig("{\"verbosity\": 0}");
    if ((rc = matrix(X_train, y_train, n_train, dim, &dtr, err)) != 0 ||
        (n_tune && (rc = matrix(X_tune, y_tune, n_tune, dim, &dtu, err)) != 0) ||
        (rc = matrix(X_test, NULL, n_test, dim, &dte, err)) != 0)
        goto out;
    if (XGBoosterCreate(&dtr, 1, &bst) != 0) {
        rc = xgb_fail(err, "cannot create the booster");
        goto out;
    }
    char nt[32], sd[32];
    snprintf(nt, sizeof nt, "%d", threads > 0 ? threads : 1);
    snprintf(sd, sizeof sd, "%llu", (unsigned long long)(seed & 0x7fffffff));
    const char *params[][2] = {
        {"objective", "binary:logistic"},
        {"eval_metric", "logloss"},
        {"max_depth", "4"},
        {"eta", "0.05"},
        {"subsample", "0.8"},
        {"colsample_bytree", "0.8"},
        {"min_child_weight", "1"},
        {"tree_method", "hist"},
        {"nthread", nt},
        {"seed", sd},
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (XGBoosterSetParam(bst, params[i][0], params[i][1]) != 0) {
            rc = xgb_fail(err, "cannot set a parameter");
            goto out;
        }
    int best = n_tune ? 1 : (max_rounds / 4 > 0 ? max_rounds / 4 : 1),
        rounds = n_tune ? max_rounds : best;
    double best_ll = INFINITY;
    const char *names[1] = {"tune"};
    for (int it = 0; it < rounds; it++) {
        if (XGBoosterUpdateOneIter(bst, it, dtr) != 0) {
            rc = xgb_fail(err, "training failed");
            goto out;
        }
        if (!n_tune)
            continue;
        const char *res = NULL;
        if (XGBoosterEvalOneIter(bst, it, &dtu, names, 1, &res) != 0) {
            rc = xgb_fail(err, "evaluation failed");
            goto out;
        }
        double ll = parse_logloss(res);
        if (ll < best_ll) {
            best_ll = ll;
            best = it + 1;
        } else if (it + 1 - best >= PATIENCE) {
            break;
        }
    }
    char cfg[160];
    snprintf(cfg, sizeof cfg,
             "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": %d, "
             "\"strict_shape\": false}",
             best);
    const bst_ulong *shape = NULL;
    bst_ulong ndim = 0;
    const float *res = NULL;
    if (XGBoosterPredictFromDMatrix(bst, dte, cfg, &shape, &ndim, &res) != 0) {
        rc = xgb_fail(err, "prediction failed");
        goto out;
    }
    for (size_t i = 0; i < n_test; i++)
        p[i] = res[i];
    if (info) {
        info->rounds = best;
        info->tune_logloss = n_tune ? best_ll : NAN;
    }
out:
    if (bst)
        XGBoosterFree(bst);
    if (dtr)
        XGDMatrixFree(dtr);
    if (dtu)
        XGDMatrixFree(dtu);
    if (dte)
        XGDMatrixFree(dte);
    return rc;
}
