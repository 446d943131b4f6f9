/* truth.h - the ground truth of a `medfm synth` cohort (DIR/truth/risk.csv and effects.csv; see
 * docs/synth.md): true probabilities of outcomes within a horizon from index dates, without
 * and with a treatment started at the index date. */
#ifndef MF_EVAL_TRUTH_H
#define MF_EVAL_TRUTH_H
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mf_truth_row {
    char *patient;   /* the cohort's patient id */
    int64_t index;   /* the index time (microseconds) */
    char *treatment; /* NULL in risk.csv; "none" or a code ("RxNorm/259255") in effects.csv */
    double p;        /* the true probability */
};

struct mf_truth {
    struct mf_truth_row *rows;
    size_t n, cap;
    size_t read; /* data rows read from the file, kept or not */
};

/* Read one truth file (risk.csv when effects is 0, effects.csv when 1), keeping the rows of
 * one outcome (a code as the store writes it: "SNOMED/44054006", "MEDS_DEATH") and horizon in
 * days.  A treatment that is an RxNorm number is returned as "RxNorm/<number>".  Errors name
 * the file and line: a missing column, a bad time, a probability outside [0, 1], a bad
 * horizon.  The rows are appended to *t (which starts zeroed). */
int mf_truth_read(const char *path, int effects, const char *outcome, int horizon_days,
                  struct mf_truth *t, struct mf_err *err);
void mf_truth_free(struct mf_truth *t);

/* DIR/truth/<name> when DIR holds a truth folder, else DIR/<name> (DIR may be the truth folder
 * itself); out holds at least 4096 bytes.  Returns 0 when the file exists. */
int mf_truth_path(const char *dir, const char *name, char *out, size_t cap);

#endif
