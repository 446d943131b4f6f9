/* model.h - internals of the synthetic disease model (model.c) that its tests and the driver
 * may use: the list of outcomes, the month grid, and a variant of mf_synth_simulate with
 * options (truth on or off, number of Monte Carlo paths, an extra salt for the truth's random
 * streams so that two independent truth computations can be compared).
 *
 * The public entry points are in synth.h; docs/synth-model.md describes the model.
 */
#ifndef MF_SYNTH_MODEL_H
#define MF_SYNTH_MODEL_H

#include <stdint.h>

#include "synth/synth.h"

/* The model's time step: one month of 365.25 / 12 days, counted from window.start. */
#define MF_SYN_MONTH_US (INT64_C(2629800) * INT64_C(1000000))

/* Outcomes of the truth: 15 conditions, then death (index MF_SYN_N_OUTCOMES - 1). */
#define MF_SYN_N_OUTCOMES 16
/* "SNOMED/59621000", ..., "MEDS_DEATH" */
extern const char *const mf_synth_outcome_names[MF_SYN_N_OUTCOMES];
/* The bare SNOMED code of each condition outcome as it appears in life items; NULL for death. */
extern const char *const mf_synth_outcome_codes[MF_SYN_N_OUTCOMES];

/* Candidate treatments of truth/effects.csv besides "none" (RxNorm codes). */
#define MF_SYN_N_ARMS 4
extern const char *const mf_synth_arm_codes[MF_SYN_N_ARMS];

struct mf_synth_model_opts {
    int truth;         /* compute truth rows (default 1) */
    int paths_risk;    /* Monte Carlo paths per index date for risk rows (default 16) */
    int paths_effects; /* paths per index date and treatment for effects rows (default 8) */
    uint64_t salt;     /* mixed into the truth streams (default 0); the life never depends on it */
};

void mf_synth_model_defaults(struct mf_synth_model_opts *o);

/* mf_synth_simulate with options (o NULL: the defaults).  The life (items, death) is the same
 * whatever o says; only the truth rows change. */
int mf_synth_simulate_ex(struct mf_rng *rng, const struct mf_synth_window *w,
                         const struct mf_synth_model_opts *o, struct mf_syn_life *life);

#endif
