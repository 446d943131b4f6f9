/* synth.h - the built-in synthetic cohort: people, their clinical lives, notes, and the
 * ground truth (true risks, true treatment effects, PHI spans).
 *
 * Three parts, each in its own files:
 *   model.c    the disease, lab, treatment and care model: mf_synth_simulate() turns one
 *              patient's random stream into a life (a list of clinical items) and the truth
 *              rows (true risks and effects at index dates);
 *   people.c   identities drawn from public name and place lists (mf_synth_person_make),
 *   notes.c    visit notes that mention PHI the way real notes do, with every span recorded
 *              (mf_synth_note_write);
 *   synth.c    the driver: patients in parallel, FHIR R4 Bulk Data NDJSON out, in patient
 *              order, with export.json written last (mf_synth_run).
 *
 * Everything a patient draws comes from its own stream (mf_rng_seed(seed, patient index)),
 * so the output depends on the seed only, never on the thread count.
 */
#ifndef MF_SYNTH_SYNTH_H
#define MF_SYNTH_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/rng.h"

/* --- the model ------------------------------------------------------------------------- */

/* The simulated window: care (encounters, labs, notes) is emitted from start to end; a
 * patient's history before start appears only as conditions with their onset dates. */
struct mf_synth_window {
    int64_t start; /* microseconds since the epoch, UTC */
    int64_t end;
};

enum mf_syn_kind {
    MF_SYN_ENCOUNTER,   /* code: SNOMED encounter type; end_time; enc_class */
    MF_SYN_CONDITION,   /* code: SNOMED; time = onset */
    MF_SYN_OBSERVATION, /* code: LOINC; value, unit */
    MF_SYN_MEDICATION,  /* code: RxNorm; time = authored */
    MF_SYN_PROCEDURE,   /* code: SNOMED */
};

enum mf_syn_class { MF_SYN_AMB, MF_SYN_EMER, MF_SYN_IMP };

struct mf_syn_item {
    enum mf_syn_kind kind;
    int64_t time;     /* µs UTC */
    int64_t end_time; /* encounters: discharge/end; others: MF_TIME_NONE */
    const char *code; /* the bare code, e.g. "44054006"; static storage */
    const char *display;
    double value;                /* observations; NAN otherwise */
    const char *unit;            /* observations (UCUM), else NULL */
    int encounter;               /* index in items of the encounter this belongs to, or -1 */
    enum mf_syn_class enc_class; /* encounters */
};

/* One row of truth/risk.csv (treatment NULL) or truth/effects.csv (treatment "none" or an
 * RxNorm code). outcome is as the store writes it: "SNOMED/44054006" or "MEDS_DEATH". */
struct mf_syn_truth {
    int64_t index_time;
    const char *outcome;
    const char *treatment;
    int horizon_days; /* 365 or 1826 */
    double probability;
};

/* A simulated patient.  Arrays are owned by the life and reused across patients
 * (mf_synth_life_reset), freed by mf_synth_life_free. */
struct mf_syn_life {
    int female;
    int64_t birth;             /* µs */
    int64_t death;             /* µs or MF_TIME_NONE */
    const char *race;          /* CDC race code, e.g. "2106-3" */
    const char *ethnicity;     /* "2186-5" or "2135-2" */
    int smoker;                /* ever smoked */
    struct mf_syn_item *items; /* in time order */
    size_t n_items, cap_items;
    struct mf_syn_truth *truth;
    size_t n_truth, cap_truth;
};

void mf_synth_life_reset(struct mf_syn_life *life);
void mf_synth_life_free(struct mf_syn_life *life);

/* Simulate one patient: draw sex, birth (adults, some 90 and over), race, risk factors; run
 * the continuous-time model through the window; fill items (sorted by time) and the truth
 * rows for index dates at least 5 years before window.end.  Deterministic given rng. */
int mf_synth_simulate(struct mf_rng *rng, const struct mf_synth_window *w,
                      struct mf_syn_life *life);

/* --- people ---------------------------------------------------------------------------- */

struct mf_synth_lists;

/* Load the name and place lists from dir (files made from Debian packages at build time;
 * see mf_data_dir in core/fs.h).  Free with mf_synth_lists_free. */
int mf_synth_lists_load(const char *dir, struct mf_synth_lists **out, struct mf_err *err);
void mf_synth_lists_free(struct mf_synth_lists *l);

struct mf_synth_name {
    char given[48], family[48];
};

struct mf_synth_person {
    struct mf_synth_name name;
    struct mf_synth_name mother, contact; /* relatives */
    char contact_relation[16];            /* "spouse", "daughter", ... */
    char line[96], city[64], state[4], zip[8];
    char phone[16], contact_phone[16], fax[16]; /* "555-123-4567" style */
    char email[96];
    char ssn[12]; /* "123-45-6789" */
    char mrn[16];
};

/* Draw an identity for a patient of the given sex (names follow the sex's name list). */
void mf_synth_person_make(const struct mf_synth_lists *l, struct mf_rng *rng, int female,
                          struct mf_synth_person *p);

/* --- notes ----------------------------------------------------------------------------- */

enum mf_phi_category {
    MF_PHI_NAME,
    MF_PHI_DATE,
    MF_PHI_AGE,
    MF_PHI_PHONE,
    MF_PHI_FAX,
    MF_PHI_EMAIL,
    MF_PHI_SSN,
    MF_PHI_MRN,
    MF_PHI_ID,
    MF_PHI_ADDRESS,
    MF_PHI_ZIP,
    MF_PHI_CITY,
    MF_PHI_HOSPITAL,
    MF_PHI_URL,
    MF_PHI_IP,
    MF_PHI__COUNT
};

/* "NAME", "DATE", ... */
const char *mf_phi_category_name(enum mf_phi_category c);

/* A span of PHI in a note: byte offsets into the note text (end exclusive). */
struct mf_phi_span {
    size_t start, end;
    enum mf_phi_category category;
};

struct mf_phi_spans {
    struct mf_phi_span *v;
    size_t n, cap;
};

/* What a note is about: the patient, the visit and what happened at it. */
struct mf_synth_visit {
    const struct mf_syn_life *life;
    const struct mf_synth_person *person;
    size_t encounter;      /* index in life->items */
    const char *clinician; /* "Dr. Jane Smith" style, drawn by the caller */
    const char *hospital;  /* facility name */
};

/* Write a visit note (history, assessment, plan) into text (replacing it) and its PHI spans
 * into spans (replacing them).  Conditions, medications and labs of the visit appear by their
 * display names; PHI appears the way real notes carry it (names, relatives, dates in several
 * formats, ages, phones, MRN, addresses, hospitals...). */
int mf_synth_note_write(const struct mf_synth_lists *l, struct mf_rng *rng,
                        const struct mf_synth_visit *visit, struct mf_buf *text,
                        struct mf_phi_spans *spans);

/* --- the driver ------------------------------------------------------------------------ */

struct mf_synth_opts {
    int64_t patients;
    uint64_t seed;
    const char *out; /* must not exist, or be an empty folder */
    int start_year;  /* default 2010 */
    int years;       /* default 15 */
    int threads;     /* 0: all cores */
};

struct mf_synth_result {
    int64_t patients, resources, bytes, truth_rows, phi_spans;
    double seconds;
};

int mf_synth_run(const struct mf_synth_opts *o, struct mf_synth_result *res, struct mf_err *err);

#endif
