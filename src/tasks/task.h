/* task.h - task definitions (the ACES task language of the MEDS ecosystem) and the labeler.
 *
 * A task file says when a prediction is made and what counts as the outcome:
 *
 *     predicates:            named tests on events
 *       death:               a plain predicate: a code test ...
 *         code: MEDS_DEATH                      literal code
 *       t2d:
 *         code: {any: [SNOMED/44054006, ...]}   any of several literal codes
 *       admission:
 *         code: {regex: "^HOSPITAL_ADMISSION/"} a POSIX extended regular expression,
 *                                               matched anywhere in the code (as ACES)
 *       high_a1c:
 *         code: LOINC/4548-4
 *         value_min: 6.5                        ... with an optional value range
 *         value_min_inclusive: true
 *       death_or_discharge:  a derived predicate over others at one timestamp
 *         expr: or(death, discharge)           (or: summed counts; and: the smallest count)
 *     patient_demographics:  plain predicates a static fact of the patient must satisfy
 *     trigger: admission     a predicate (or _ANY_EVENT, _RECORD_START, _RECORD_END)
 *     windows:
 *       input:
 *         start: NULL                           unbounded
 *         end: trigger + 24h                    trigger | W.start | W.end | start | end,
 *                                               optionally + or - a duration (24h, 7 days),
 *                                               or "start -> pred" / "end <- pred": the next
 *                                               (previous) event of pred
 *         start_inclusive: true
 *         end_inclusive: true
 *         has: {pred: "(1, None)"}              count constraints (min, max), None = open
 *         index_timestamp: end                  the prediction time (exactly one window)
 *         label: death                          the outcome (at most one window)
 *
 * Codes are medfm's ("SNOMED/44054006", "ICD10CM/E11.9", "MEDS_DEATH"; see the ingest docs).
 * Evaluation follows ACES: events are grouped by timestamp; a trigger is a timestamp where the
 * trigger predicate's count is positive; a sample is kept when every window exists (event
 * bounds found) and satisfies its `has` constraints; its label is whether the label predicate's
 * count over the label window is positive.
 */
#ifndef MF_TASKS_TASK_H
#define MF_TASKS_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* At most this many plain predicates in one task (they are bits of a uint64_t). */
#define MF_TASK_MAX_PLAIN 64

/* mf_task_label_at: the trigger gives no sample (a window is missing or fails its `has`). */
#define MF_TASK_EXCLUDED (-2)

struct mf_task;

/* Parse a task file; errors name the file and the YAML path ("windows.target.end") and say
 * what is wrong (unknown predicate or window, a cycle, windows that can never be satisfied,
 * a bad duration, a malformed regular expression, ...). */
int mf_task_load(const char *path, struct mf_task **out, struct mf_err *err);
/* The same from text (name is used in errors and as the task's name). */
int mf_task_parse(const char *text, size_t n, const char *name, struct mf_task **out,
                  struct mf_err *err);
void mf_task_free(struct mf_task *t);

/* The task's name: the file name without directory and ".yaml" / ".yml". */
const char *mf_task_name(const struct mf_task *t);
/* Whether the task has a label predicate. */
int mf_task_has_label(const struct mf_task *t);

/* The plain predicates the label predicate is made of (through and/or); 0 without a label. */
uint64_t mf_task_label_mask(const struct mf_task *t);
/* Plain predicates (the code tests): names, and which accept an event. */
size_t mf_task_n_plain(const struct mf_task *t);
const char *mf_task_plain_name(const struct mf_task *t, size_t i);
/* The plain predicates whose code test accepts this code (value ranges not yet applied). */
uint64_t mf_task_match_code(const struct mf_task *t, const char *code, size_t n);
/* Of the predicates in mask, those whose value range accepts v.  NaN (no value) is accepted
 * only by predicates without a value range. */
uint64_t mf_task_match_value(const struct mf_task *t, uint64_t mask, double v);
/* The first plain predicate in no bit of `known` (the union of the masks of every code the
 * data can hold), as an error naming it: a code that matches nothing is a typo or a task for
 * another source.  MEDS_DEATH and MEDS_BIRTH always count as known. */
int mf_task_check_known(const struct mf_task *t, uint64_t known, struct mf_err *err);

/* Relative to the index timestamp: how far after it the windows reach (microseconds), the
 * time up to which a simulated future must run to decide the label.  -1 when a window after
 * the index ends at an event ("start -> discharge") or is unbounded. */
int64_t mf_task_horizon(const struct mf_task *t);

/* One patient's events for the labeler, sorted by time (MF_TIME_NONE first for static
 * facts); mask[i]: the plain predicates true at event i (code and value). */
struct mf_task_events {
    size_t n;
    const int64_t *time;
    const uint64_t *mask;
};

/* Plain-predicate masks for every code of a store (code id -> mask), with value ranges not
 * yet applied.  Free with free(). */
int mf_task_store_masks(const struct mf_task *t, const struct mf_store *s, uint64_t **out,
                        struct mf_err *err);

/* A growable event list built from a timeline. */
struct mf_task_evbuf {
    int64_t *time;
    uint64_t *mask;
    size_t n, cap;
};
/* Events of timeline tl (all of them, or only those at or before `until` when until is not
 * INT64_MAX) with their masks; store_masks from mf_task_store_masks. */
int mf_task_evbuf_timeline(const struct mf_task *t, const uint64_t *store_masks,
                           const struct mf_timeline *tl, int64_t until, struct mf_task_evbuf *out);
int mf_task_evbuf_push(struct mf_task_evbuf *b, int64_t time, uint64_t mask);
void mf_task_evbuf_free(struct mf_task_evbuf *b);
static inline struct mf_task_events mf_task_evbuf_events(const struct mf_task_evbuf *b)
{
    struct mf_task_events e = {b->n, b->time, b->mask};
    return e;
}

/* One sample: a trigger that satisfies every window. */
struct mf_task_sample {
    int64_t trigger; /* the trigger's timestamp */
    int64_t index;   /* the prediction time (index_timestamp) */
    int label;       /* 0 or 1; -1 when the task has no label */
};

/* Every sample of one patient (in trigger order), appended to *out (*n, *cap: a growable
 * array).  A patient failing patient_demographics gives none. */
int mf_task_label(const struct mf_task *t, const struct mf_task_events *ev,
                  struct mf_task_sample **out, size_t *n, size_t *cap, struct mf_err *err);
/* Evaluate one trigger timestamp only (which need not be a trigger of ev: a simulated future
 * appended to a history keeps the history's trigger): the label (0/1, -1 without a label
 * predicate) with *index set, or MF_TASK_EXCLUDED (also for events not sorted by time, or
 * when out of memory). */
int mf_task_label_at(const struct mf_task *t, const struct mf_task_events *ev, int64_t trigger,
                     int64_t *index);

/* Labeling a whole store. */
struct mf_task_row {
    uint32_t shard;
    uint64_t patient; /* index within the shard */
    int64_t trigger, index;
    int label;
};

struct mf_task_store_opts {
    /* Keep a patient?  NULL keeps all (e.g. a split filter).  Called from several threads. */
    int (*keep)(void *ctx, const char *subject, size_t n);
    void *keep_ctx;
    size_t per_patient; /* 0: every sample; k: at most k per patient, chosen by seed */
    uint64_t seed;
};

/* Label every patient (in parallel); rows come in store order (shard, patient, trigger).
 * *out is malloc'd (free it).  Progress goes to stderr when long. */
int mf_task_label_store(const struct mf_task *t, const struct mf_store *s,
                        const struct mf_task_store_opts *o, struct mf_task_row **out, size_t *n,
                        struct mf_err *err);

/* LABELS.csv (MEDS label schema): subject_id,prediction_time,boolean_value; written
 * atomically.  prediction_time as ISO 8601 (mf_time_format). */
int mf_task_write_labels(const struct mf_store *s, const struct mf_task_row *rows, size_t n,
                         const char *path, struct mf_err *err);

#endif
