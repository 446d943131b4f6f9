/* risk.h - re-identification risk of an event store: k-anonymity over quasi-identifiers and
 * distinct l-diversity of a sensitive attribute.
 *
 * Each patient's quasi-identifier tuple comes from their own facts in the store:
 *
 *   sex         GENDER/<x> static facts                  -> "<x>"        ("MALE")
 *   birth_year  the year (UTC) of the earliest MEDS_BIRTH -> "1950"
 *               (on a de-identified store this is the *shifted* birth year, which can differ
 *               from the true one by one year either way)
 *   zip3        ZIP3/<ddd> static facts                   -> "<ddd>"      ("021", "000")
 *   race        RACE/<x> static facts                     -> "<x>"
 *   ethnicity   ETHNICITY/<x> static facts                -> "<x>"
 *
 * A patient with several facts of one kind (two RACE/ codes) gets their distinct values joined
 * by "+" in code order ("2054-5+2106-3"); a patient with none gets "*", which is a value of its
 * own (two patients with no zip3 fall in the same class).  Patients with the same tuple form an
 * equivalence class; the store is k-anonymous for the smallest class size k.
 *
 * The sensitive value of a patient for l-diversity is the code of their first event (in
 * timeline order: static facts, then time, then code) whose code starts with a given prefix,
 * or "*" when they have none (having no such code is information too, so it counts as a value).
 * With a whole code as the prefix ("ICD10CM/B20") the value is in effect presence or absence.
 * A class's l is the number of distinct sensitive values among its patients.
 *
 * The work is one pass over the store, linear in events, with memory linear in patients.
 */
#ifndef MF_DEID_RISK_H
#define MF_DEID_RISK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mf_store;

enum mf_risk_quasi {
    MF_RISK_SEX,
    MF_RISK_BIRTH_YEAR,
    MF_RISK_ZIP3,
    MF_RISK_RACE,
    MF_RISK_ETHNICITY,
    MF_RISK__N
};

/* The value of a missing quasi-identifier or sensitive attribute. */
#define MF_RISK_MISSING "*"

/* Class-size histogram buckets: [lo, next lo); the last is open-ended. */
#define MF_RISK_BUCKETS 10
extern const uint64_t mf_risk_bucket_lo[MF_RISK_BUCKETS];

/* The name of a quasi-identifier ("birth_year"), and the names allowed, comma-separated. */
const char *mf_risk_quasi_name(enum mf_risk_quasi q);
const char *mf_risk_quasi_names(void);

/* Parse "sex,birth_year,zip3": names in the order given, each at most once.  MF_EINVAL with a
 * message naming the allowed names for an unknown, repeated or empty name. */
int mf_risk_parse_quasi(const char *list, enum mf_risk_quasi out[MF_RISK__N], size_t *n,
                        struct mf_err *err);

struct mf_risk_opts {
    enum mf_risk_quasi quasi[MF_RISK__N];
    size_t n_quasi;        /* 1..MF_RISK__N */
    uint64_t k;            /* classes smaller than k break k-anonymity (>= 1) */
    const char *sensitive; /* code prefix of the sensitive attribute; NULL: no l-diversity */
    uint64_t l;            /* classes with fewer distinct sensitive values break it (>= 1) */
    int list;              /* collect the patients of classes smaller than k */
};

struct mf_risk_class {
    uint64_t size;
    uint64_t l; /* distinct sensitive values (0 without a sensitive attribute) */
    const char *values[MF_RISK__N]; /* one per opts.quasi, in that order */
};

/* A patient in a class smaller than k. */
struct mf_risk_record {
    const char *subject; /* the store's subject id (a pseudonym on a de-identified store) */
    size_t cls;          /* index into classes */
};

struct mf_risk_result {
    struct mf_risk_opts opts; /* as given (sensitive points at the caller's string) */
    uint64_t patients;
    uint64_t n_classes;
    uint64_t k_min; /* the smallest class size: k achieved (0 when there are no patients) */
    uint64_t classes_below_k, patients_below_k;
    uint64_t missing[MF_RISK__N]; /* patients with "*", per opts.quasi position */
    /* Classes, smallest first, then by their values (bytewise). */
    struct mf_risk_class *classes;
    uint64_t hist_classes[MF_RISK_BUCKETS], hist_patients[MF_RISK_BUCKETS];
    /* l-diversity (all 0 without opts.sensitive). */
    uint64_t l_min, classes_below_l, patients_below_l;
    uint64_t sensitive_values;  /* distinct sensitive values in the store, "*" included */
    uint64_t without_sensitive; /* patients whose value is "*" */
    /* With opts.list: the patients of classes smaller than k, in class order, then by
     * subject. */
    struct mf_risk_record *below_k;
    size_t n_below_k;
    char *strings; /* owns values and subjects */
};

/* Compute the report for an open store.  Errors: MF_EINVAL for bad options, MF_EPARSE for a
 * damaged store, MF_ENOMEM.  Free with mf_risk_result_free (also after a failure). */
int mf_risk_compute(const struct mf_store *s, const struct mf_risk_opts *opts,
                    struct mf_risk_result *out, struct mf_err *err);
void mf_risk_result_free(struct mf_risk_result *r);

/* Prosecutor risk (the highest re-identification probability of any record, 1 / k_min) and
 * average risk (classes / patients); 0 for an empty store. */
double mf_risk_prosecutor_max(const struct mf_risk_result *r);
double mf_risk_average(const struct mf_risk_result *r);

#endif
