/* report.h - the evaluation report (REPORT_DIR/metrics.json and report.html) and the model
 * card (CARD_DIR/model_card.json and model_card.md).
 *
 * metrics.json ("medfm-eval" version 1) is what `medfm eval` writes and what the report and the
 * card are drawn from.  A number that is undefined (NaN: one class only, ...) is null.  An
 * estimate with its bootstrap 95% interval is {"value": v, "lo": l, "hi": h}.
 *
 * {
 *   "format": "medfm-eval", "version": 1,
 *   "created": "2026-12-03T17:00:00Z",
 *   "model": {"dir": "model", "sha256": "...", "store_manifest_sha256": "..." (its training
 *             store, from training.json, or null), "parameters": n, "vocab_size": n},
 *   "store": {"sha256": "...", "patients": n, "sources": ["fhir", ...],
 *             "external": true|false,    the model was not trained on this store
 *             "vocabulary_overlap": 0.93},
 *   "split": "held_out" | "train" | "tuning" | "all",
 *   "settings": {"samples": 20, "bootstrap": 1000, "seed": 1, "per_patient": 1,
 *                "thresholds": [0.05, 0.1, 0.2], "ece_bins": 10, "truth": true|false},
 *   "tasks": [{
 *     "task": "death_1y",
 *     "horizon_days": 365 (or null),
 *     "cohort": {"samples": n, "patients": n, "positives": n, "prevalence": x,
 *                "source": "task" (the task's triggers) | "truth" (the cohort's index dates)},
 *     "predictors": [{
 *       "id": "medfm_zero_shot" | "medfm_probe" | "logreg" | "xgboost" | "oracle",
 *       "name": "medfm zero-shot", "description": "...",
 *       "n": scored samples, "positives": n,
 *       "metrics": {"auroc": E, "auprc": E, "brier": E, "ece": E, "calibration_slope": E,
 *                   "calibration_intercept": E, "mean_risk": E},
 *       "thresholds": [{"threshold": 0.05, "sensitivity": E, "specificity": E, "ppv": E,
 *                       "net_benefit": E}, ...],
 *       "curves": {"roc": [[fpr, tpr], ...], "pr": [[recall, precision], ...],
 *                  "calibration": [[mean_predicted, fraction_positive, n], ...],
 *                  "decision": [[threshold, net_benefit], ...]},
 *       "subgroups": [{"attribute": "sex" | "age" | "race" | "ethnicity", "group": "female",
 *                      "n": n, "positives": n, "auroc": E, "brier": E, "ece": E}, ...],
 *       "gaps": [{"attribute": "sex", "metric": "auroc", "best": "female", "worst": "male",
 *                 "gap": E, "flagged": true (the interval excludes zero)}, ...],
 *       "oracle_fraction": {"auroc": E, "brier": E}  (with the truth; absent on the oracle)
 *     }, ...],
 *     "decision_reference": {"treat_all": [[threshold, net_benefit], ...]},
 *     "effects": null | {"treatments": n, "patients": n, "pairs": n,
 *                 "pearson": E (model risk difference vs true risk difference),
 *                 "sign_agreement": x,
 *                 "per_treatment": [{"treatment": "RxNorm/259255", "pairs": n,
 *                                    "true_mean_difference": x, "model_mean_difference": x}]}
 *   }, ...],
 *   "notes": ["...", ...]
 * }
 */
#ifndef MF_EVAL_REPORT_H
#define MF_EVAL_REPORT_H
#include <stddef.h>

#include "core/err.h"

struct cJSON;

/* report.html from a parsed metrics.json: one self-contained page, readable offline and
 * without JavaScript (inline CSS, SVG drawn here): per task the cohort, a table of every
 * predictor's metrics with intervals, ROC, precision-recall, calibration and decision curves
 * (every predictor on one plot each), the subgroup table with gaps (flagged ones marked), the
 * oracle and what-if agreement when present, and the notes.  Every string from the input is
 * HTML-escaped.  Written atomically. */
int mf_report_write_html(const struct cJSON *metrics, const char *path, struct mf_err *err);

/* Validate a parsed metrics.json (format, version, the types of the fields the report and the
 * card use); errors name the file (name) and the JSON path. */
int mf_report_check(const struct cJSON *metrics, const char *name, struct mf_err *err);

/* The model card: CARD_DIR/model_card.json and model_card.md from the model folder
 * (config.json, training.json) and zero or more report folders (their metrics.json), each
 * checked with mf_report_check.  Both files written atomically; the folder is created. */
int mf_card_write(const char *model_dir, const char *const *report_dirs, size_t n_reports,
                  const char *out_dir, struct mf_err *err);

/* The fields every card has (dotted JSON paths, NULL-terminated): each a non-empty string or
 * list, "not available" when unknown. */
extern const char *const mf_card_required_fields[];
/* Whether a card has every required field. */
int mf_card_check(const struct cJSON *card, struct mf_err *err);

/* The name of a race or ethnicity code of the CDC Race and Ethnicity code set as US Core
 * records them ("2106-3" -> "White"), or NULL for any other value. */
const char *mf_report_code_name(const char *code);

#endif
