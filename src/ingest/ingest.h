/* ingest.h - reading source data into an event store.
 *
 * The driver (ingest.c) finds the input files, runs the format's parser on every core, and
 * commits the store atomically.  Parsers see only struct mf_ingest_ctx: one per thread, never
 * shared.  A parser maps each source record (a FHIR resource, a CSV row) to events like this:
 *
 *     mf_ingest_begin_record(c);
 *     ... mf_ingest_emit(c, &ev) for each event of the record ...
 *     if (something is wrong) {
 *         rc = mf_ingest_issue(c, MF_ISSUE_BAD_DATE, &loc, "not a valid dateTime");
 *         mf_ingest_drop_record(c);                  // forget this record's events
 *         if (rc) return rc;                          // --strict: stop at the first
 *         continue;                                   // default: skip the record, go on
 *     }
 *     rc = mf_ingest_end_record(c);                   // may spill to disk; stop on error
 *
 * The de-identification seam: every event passes deid->event (when set) inside mf_ingest_emit
 * before it reaches the store, and the FHIR parser hands every resource to
 * deid->fhir_resource before mapping it.  The driver refuses to run without hooks unless the
 * caller sets no_deid explicitly, so no identified store is built by accident.
 *
 * Issues name the file, line or byte offset and the field path (FHIR path or CSV column), and
 * never the value found there, which may be PHI.
 */
#ifndef MF_INGEST_INGEST_H
#define MF_INGEST_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "store/event.h"

struct cJSON;
struct mf_store_batch;
struct mf_ingest_log;

/* Kinds of bad input; counted per kind in the error report. */
enum mf_issue_kind {
    MF_ISSUE_JSON,          /* malformed JSON */
    MF_ISSUE_RESOURCE_TYPE, /* missing, wrong or unknown resourceType */
    MF_ISSUE_MISSING_FIELD, /* a required field is absent or of the wrong JSON type */
    MF_ISSUE_BAD_DATE,      /* a date that is not ISO-8601 or cannot exist */
    MF_ISSUE_BAD_VALUE,     /* a number or code that cannot be read */
    MF_ISSUE_CODE_SYSTEM,   /* a coding whose system medfm does not know */
    MF_ISSUE_REFERENCE,     /* a subject reference that cannot be resolved */
    MF_ISSUE_COMPRESSION,   /* truncated or corrupt .gz */
    MF_ISSUE_CSV_COLUMNS,   /* missing columns in a header, or a row with missing/extra fields */
    MF_ISSUE_TOO_BIG,       /* a record or field over medfm's hard limits */
    MF_ISSUE_IO,            /* a file that cannot be read */
    MF_ISSUE__COUNT
};

/* The stable name of a kind, e.g. "bad-date". */
const char *mf_issue_kind_name(enum mf_issue_kind kind);

/* Where bad input was found.  line is 1-based (0 = not known), offset a byte offset into the
 * (uncompressed) file (-1 = not known), path a FHIR path like "Observation.valueQuantity.value"
 * or a CSV column name (NULL = none). */
struct mf_issue_loc {
    const char *file;
    int64_t line;
    int64_t offset;
    const char *path;
};

/* Hooks where de-identification runs; all NULL means none. */
struct mf_ingest_deid {
    void *ctx;
    /* Called on every FHIR resource before it is mapped; may rewrite it in place.  subject is
     * the id of the resource's patient as it resolves at that moment (a Patient's own id;
     * after a hook rewrote a Patient's id, references to it resolve to the new id), NULL when
     * none resolves.
     * MF_EPARSE means the resource cannot be de-identified: it is skipped as bad input with
     * err's message (which must name a path, never a value); other errors stop the run. */
    int (*fhir_resource)(void *ctx, struct cJSON *resource, const char *subject, size_t subject_len,
                         struct mf_err *err);
    /* Called on every event before it is stored; may point the event's strings at scratch. */
    int (*event)(void *ctx, struct mf_event *ev, struct mf_buf *scratch, struct mf_err *err);
};

/* One per thread.  Parsers read deid, strict and file; the rest is the driver's. */
struct mf_ingest_ctx {
    struct mf_store_batch *out;
    struct mf_ingest_log *log;
    const struct mf_ingest_deid *deid;
    int strict;
    const char *file; /* the file being read (for emit's issues); parsers may set it */
    int64_t line;     /* the record's line (0 = unknown), for emit's issues; parsers may set */
    int64_t offset;   /* the record's byte offset (-1 = unknown); parsers may set */
    int record_bad;   /* set by an issue inside the current record */
    int64_t records;  /* records that produced events */
    int64_t events;
    int64_t skipped; /* records dropped as bad input */
    size_t mark;
    struct mf_buf scratch;
    struct mf_err err; /* the error that stopped this thread, for the driver */
};

void mf_ingest_begin_record(struct mf_ingest_ctx *c);
/* Pass one event through the de-identification hook and copy it into the store.  An event
 * whose strings are over the limits in event.h (or that has no subject or code) is reported as
 * an issue of kind too-big or missing-field against c->file and marks the record bad, so
 * mf_ingest_end_record drops it; that returns 0, or MF_EPARSE under --strict.  Other failures
 * are memory or I/O errors. */
int mf_ingest_emit(struct mf_ingest_ctx *c, const struct mf_event *ev);
void mf_ingest_drop_record(struct mf_ingest_ctx *c);
int mf_ingest_end_record(struct mf_ingest_ctx *c);

/* Record bad input (thread-safe; c->log may be NULL, e.g. in fuzz targets) and mark the current
 * record bad (mf_ingest_end_record then drops it).  Returns 0 when the run goes on (the caller
 * skips the record) or MF_EPARSE under
 * --strict, with c->err set; the caller then returns it. */
int mf_ingest_issue(struct mf_ingest_ctx *c, enum mf_issue_kind kind,
                    const struct mf_issue_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

enum mf_ingest_format { MF_FORMAT_FHIR, MF_FORMAT_NDJSON, MF_FORMAT_MIMIC_IV };

struct mf_ingest_opts {
    enum mf_ingest_format format;
    const char *const *paths;
    size_t n_paths;
    const char *out;  /* the store folder */
    int strict;       /* stop at the first bad record */
    int no_deid;      /* required when deid is NULL: an identified store on purpose */
    int threads;      /* 0: all cores */
    size_t mem_limit; /* bytes of events held before spilling; 0: default */
    const struct mf_ingest_deid *deid;
    const char *deid_config_sha256; /* recorded in the manifest when deid runs */
};

struct mf_ingest_result {
    int64_t files, bytes, records, events, skipped, subjects;
    int64_t issues[MF_ISSUE__COUNT];
    double seconds;
};

/* Run an ingest end to end.  On success the store at opts->out is complete and an error report
 * "<out>.errors.ndjson" lists skipped records (removed when there were none).  On failure the
 * previous store, if any, is untouched. */
int mf_ingest_run(const struct mf_ingest_opts *opts, struct mf_ingest_result *res,
                  struct mf_err *err);

/* Parser entry points, one per format. */

/* One FHIR JSON document: a Bundle (entries' urn:uuid references resolved) or a single
 * resource.  file names it in issues. */
int mf_fhir_ingest_json(struct mf_ingest_ctx *c, const char *file, const char *data, size_t len);

/* One line of a FHIR Bulk Data NDJSON file: one resource.  line and offset locate it. */
int mf_fhir_ingest_ndjson_line(struct mf_ingest_ctx *c, const char *file, int64_t line,
                               int64_t offset, const char *data, size_t len);

/* A MIMIC-IV folder (with hosp/ and optionally icu/, files .csv or .csv.gz).  ctxs holds one
 * context per thread (n of them), indexed by omp_get_thread_num(); the parser spreads the
 * tables over them. */
int mf_mimic_ingest_dir(struct mf_ingest_ctx *ctxs, int n, const char *dir, struct mf_err *err);

#endif
