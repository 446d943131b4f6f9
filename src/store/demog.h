/* demog.h - a patient's demographics as the store records them: the static GENDER/, RACE/ and
 * ETHNICITY/ facts and the MEDS_BIRTH event.  Used for subgroups in evaluation, the features of
 * the baseline models and the training data's make-up in training.json. */
#ifndef MF_STORE_DEMOG_H
#define MF_STORE_DEMOG_H
#include <stdint.h>

#include "store/store.h"

struct mf_demog {
    struct mf_str sex;       /* after "GENDER/" (e.g. "FEMALE"); {NULL, 0} when unknown */
    struct mf_str race;      /* after "RACE/" */
    struct mf_str ethnicity; /* after "ETHNICITY/" */
    int64_t birth;           /* MEDS_BIRTH's time; MF_TIME_NONE when unknown */
    int64_t last;            /* the last timed event's time; MF_TIME_NONE when none */
};

/* The first fact of each kind (the strings point into the mapped store). */
void mf_demog_of(const struct mf_store *s, const struct mf_timeline *tl, struct mf_demog *d);

/* Age in years at time t (365.25-day years), or -1 when the birth or t is unknown. */
double mf_demog_age(const struct mf_demog *d, int64_t t);

/* The age band of an age in years: "<18", "18-39", "40-59", "60-74", "75+", or "unknown" for a
 * negative age. */
const char *mf_demog_age_band(double years);

#endif
