/* fhirdeid.h - de-identifying FHIR: a session (key, rules, dictionaries, the patients' own
 * identifiers), per-thread workers that de-identify one resource at a time, and the
 * `medfm deid fhir` driver that turns Bundles and Bulk NDJSON into de-identified NDJSON.
 *
 * A resource is de-identified in three steps:
 *   1. a Patient over 89 at the reference time (or at death) has its birthDate moved so that
 *      the age is 90, keeping the date's precision (Safe Harbor groups ages over 89);
 *   2. the rules (rules.h) run with the resource's patient's date shift, so every resource of
 *      one patient moves by the same whole number of days;
 *   3. free text met by a "text" rule is tagged with the patient's own identifiers as context
 *      (names, MRN, address, phone, birth date, from the patient table) and rewritten as
 *      surrogates (or redacted).
 *
 * The patient table maps a source patient id to the identifiers of its Patient resource.  The
 * driver fills it from the inputs before de-identifying anything, so a note in
 * DocumentReference.ndjson is de-identified knowing its patient's names from Patient.ndjson.
 */
#ifndef MF_DEID_FHIRDEID_H
#define MF_DEID_FHIRDEID_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "deid/deid.h"
#include "deid/textdeid.h"

struct cJSON;

struct mf_deid_session_opts {
    const struct mf_deid_key *key;
    const char *rules;                /* profile name or rule file; NULL: "safe-harbor" */
    enum mf_deid_text_mode text_mode; /* redact or surrogate (default surrogate) */
    int64_t reference_time;           /* µs; ages are computed at this time (or at death) */
    const char *lexicon_dir;          /* NULL: the installed dictionaries */
    /* Apply only the age grouping and the rules' free-text method: for ingest, whose event
     * de-identifier already replaces ids and shifts every time. */
    int text_only;
};

struct mf_deid_session;

int mf_deid_session_open(const struct mf_deid_session_opts *o, struct mf_deid_session **out,
                         struct mf_err *err);
void mf_deid_session_free(struct mf_deid_session *s);
/* SHA-256 (hex) of everything that decides the output but the key: the rules' text, the text
 * mode, the reference date and the event rules; recorded with every output. */
const char *mf_deid_session_config_sha256(const struct mf_deid_session *s);
const char *mf_deid_session_rules_name(const struct mf_deid_session *s);

/* Remember the identifiers of a Patient resource (before it is de-identified).  Not
 * thread-safe: fill the table before workers start.  0 or MF_ENOMEM; a Patient without an id
 * is ignored. */
int mf_deid_session_add_patient(struct mf_deid_session *s, const struct cJSON *patient);
/* Add every Patient of an NDJSON file (plain or gzip) to the table.  Lines that are not
 * Patients are skipped unparsed; malformed lines are left for the de-identifying pass. */
int mf_deid_session_scan_ndjson(struct mf_deid_session *s, const char *path, struct mf_err *err);
/* The same for the NDJSON files among paths: those named Patient* when there are any (a Bulk
 * Data export keeps one resource type per file), else all of them. */
int mf_deid_session_scan_files(struct mf_deid_session *s, const char *const *paths, size_t n,
                               struct mf_err *err);
size_t mf_deid_session_patients(const struct mf_deid_session *s);

struct mf_deid_worker;

/* One per thread; the session must outlive it. */
struct mf_deid_worker *mf_deid_worker_new(struct mf_deid_session *s);
void mf_deid_worker_free(struct mf_deid_worker *w);

/* De-identify one resource in place.  subject is the source id of the resource's patient (its
 * own id for a Patient; NULL when it belongs to no patient); patient, when not NULL, is that
 * patient's Patient resource as read (a Bundle's own entry), used instead of the table.
 * Errors name FHIR paths, never values. */
int mf_deid_worker_resource(struct mf_deid_worker *w, struct cJSON *resource, const char *subject,
                            size_t subject_len, const struct cJSON *patient, struct mf_err *err);

/* mf_deid_worker_resource with a worker of the calling thread's own, made on first use and
 * freed when the thread exits: for hooks called from threads the caller does not manage
 * (ingest's parser threads). */
int mf_deid_session_hook(struct mf_deid_session *s, struct cJSON *r, const char *subject, size_t n,
                         struct mf_err *err);

/* Ages over 89: when the Patient's age at ref (or at its deceasedDateTime, when earlier) is
 * 90 or more, set birthDate to the date 90 years before that moment, in the precision of the
 * original.  Returns 1 when moved, 0 when not, MF_EPARSE for a birthDate that is no date. */
int mf_deid_cap_age(struct cJSON *patient, int64_t ref);

/* The id of a reference to a Patient: "Patient/ID", also as the tail of a URL, with
 * "/_history/N" cut.  Returns 1 with *id (pointing into ref) and *n set, else 0. */
int mf_deid_patient_ref(const char *ref, const char **id, size_t *n);

/* The source patient id a resource belongs to: its id for a Patient, else the id in its
 * subject / patient / beneficiary reference (mf_deid_patient_ref); a "urn:" reference is
 * handed to lookup (may be NULL), which returns the id of the Patient it names, or NULL.  Returns 1
 * with *id and *n set, else 0. */
int mf_deid_resource_subject(const struct cJSON *r,
                             const char *(*lookup)(void *arg, const char *ref, size_t *n),
                             void *arg, const char **id, size_t *n);

/* --- the driver: medfm deid fhir ----------------------------------------------------------- */

struct mf_deid_fhir_opts {
    const char *const *paths; /* Bundle .json files, .ndjson[.gz], folders of them */
    size_t n_paths;
    const char *out; /* folder of <ResourceType>.ndjson, export.json and deid.json */
    struct mf_deid_session_opts session;
    int threads; /* 0: all cores */
    int strict;  /* stop at the first malformed record */
};

struct mf_deid_fhir_result {
    int64_t files, bytes_in, bytes_out, resources, skipped, patients, ages_capped;
    double seconds;
};

/* Run end to end.  Output is written into a temporary folder and put in place of opts->out
 * only when complete (a crash or kill leaves no output that looks complete); skipped records
 * are listed in "<out>.errors.ndjson" by file, line and reason. */
int mf_deid_fhir_run(const struct mf_deid_fhir_opts *o, struct mf_deid_fhir_result *res,
                     struct mf_err *err);

#endif
