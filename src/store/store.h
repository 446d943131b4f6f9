/* store.h - the event store: the one internal data set everything downstream reads.
 *
 * A store is a folder:
 *
 *     manifest.json          schema version, counts, vocabularies, time span, events per
 *                            patient, sources, de-identification, shards, SHA-256 of every file
 *     codes.off codes.bin    code dictionary: sorted codes; code id = index
 *     codes.cnt              uint64 events per code
 *     units.off units.bin    unit dictionary: sorted units; unit id = index + 1 (0 = none)
 *     shard-00000/ ...       consecutive patients in id order, sorted by (patient, time):
 *         subjects.off subjects.bin   sorted patient ids
 *         subjects.idx                uint64[patients + 1]: each patient's first event
 *         time.i64 code.u32 value.f64 unit.u32 text.off text.bin   one entry per event
 *
 * X.off/X.bin is a string table: uint64 offsets[n + 1] into the bytes of X.bin.  Numbers are
 * little-endian as the machine writes them (medfm runs on little-endian hosts).  Times are
 * microseconds since the epoch, INT64_MIN for static facts; a missing value is NaN.
 *
 * Writing: events go into per-thread batches, which sort and spill runs to disk when full; the
 * commit merges the runs (in passes of at most merge_fanin when there are more, so memory does
 * not grow with the number of patients) into a temporary folder beside the destination and
 * swaps it in atomically.  The same events in any order and
 * from any number of threads give a byte-identical store.
 */
#ifndef MF_STORE_STORE_H
#define MF_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/event.h"

#define MF_STORE_SCHEMA_VERSION 1

struct cJSON;
struct mf_store_writer;
struct mf_store_batch;

struct mf_store_writer_opts {
    size_t mem_limit;      /* bytes of buffered events over all batches; 0: 64 MiB */
    uint64_t shard_events; /* events per shard before starting a new one; 0: 4 Mi */
    size_t merge_fanin;    /* runs merged at once (a 256 KiB buffer each); 0: 64 */
};

/* Start a store at dst with n_batches independent batches (one per thread).  Nothing at dst
 * changes until mf_store_writer_commit.  Free with mf_store_writer_free. */
int mf_store_writer_open(struct mf_store_writer **out, const char *dst, int n_batches,
                         const struct mf_store_writer_opts *opts, struct mf_err *err);
struct mf_store_batch *mf_store_writer_batch(struct mf_store_writer *w, int i);

/* Copy an event into the batch (no I/O). */
int mf_store_batch_add(struct mf_store_batch *b, const struct mf_event *ev);
/* A point to roll back to: the events added after it can be forgotten. */
size_t mf_store_batch_mark(const struct mf_store_batch *b);
void mf_store_batch_rollback(struct mf_store_batch *b, size_t mark);
/* Spill the batch to a sorted run on disk when it is over its share of the memory limit.
 * Call between records only (it invalidates marks). */
int mf_store_batch_maybe_spill(struct mf_store_batch *b, struct mf_err *err);

/* Add an entry to the manifest's "sources" list (the writer takes ownership of obj). */
void mf_store_writer_add_source(struct mf_store_writer *w, struct cJSON *obj);
/* Record the de-identification applied (NULL: none). */
void mf_store_writer_set_deid(struct mf_store_writer *w, const char *config_sha256);

/* Merge everything and put the store in place.  After a failure nothing at dst has changed. */
int mf_store_writer_commit(struct mf_store_writer *w, struct mf_err *err);
/* The number of patients in the committed store (0 before a commit). */
uint64_t mf_store_writer_patients(const struct mf_store_writer *w);
/* Free the writer; an uncommitted store's temporary files are removed. */
void mf_store_writer_free(struct mf_store_writer *w);

/* In-memory stores: a few patients held for a moment (one server request).  A batch from
 * mf_store_batch_new belongs to no writer and never spills; mf_store_from_batch sorts its
 * events into a store that lives in memory only (no files: mf_store_verify refuses it) and
 * does not need the batch afterwards. */
struct mf_store_batch *mf_store_batch_new(void);
void mf_store_batch_free(struct mf_store_batch *b);
/* Events in the batch. */
size_t mf_store_batch_count(const struct mf_store_batch *b);

/* Reading (memory-mapped). */

struct mf_str {
    const char *p;
    size_t n;
};

struct mf_store;

/* One patient's events, in (time, code, ...) order; arrays point into the mapped store. */
struct mf_timeline {
    struct mf_str subject;
    size_t n;
    const int64_t *time;
    const uint32_t *code;
    const double *value;
    const uint32_t *unit;
    const uint64_t *text_off; /* n + 1 entries into text */
    const char *text;
    uint64_t text_size;
};

/* Open a store.  The files are checked against the manifest's counts and sizes (not their
 * hashes: mf_store_verify does that).  Free with mf_store_close. */
int mf_store_open(const char *path, struct mf_store **out, struct mf_err *err);
void mf_store_close(struct mf_store *s);
/* A store in memory from the events of a batch (see mf_store_batch_new). */
int mf_store_from_batch(const struct mf_store_batch *b, struct mf_store **out, struct mf_err *err);
/* Recompute every file's SHA-256 and compare with the manifest. */
int mf_store_verify(const struct mf_store *s, struct mf_err *err);

const struct cJSON *mf_store_manifest(const struct mf_store *s);
/* SHA-256 of manifest.json, the store's identity (it holds every file's hash).  Computed on
 * the first call, which is therefore not thread-safe. */
const char *mf_store_manifest_sha256(const struct mf_store *s);
uint64_t mf_store_n_patients(const struct mf_store *s);
uint64_t mf_store_n_events(const struct mf_store *s);
uint32_t mf_store_n_codes(const struct mf_store *s);
struct mf_str mf_store_code(const struct mf_store *s, uint32_t id);
uint64_t mf_store_code_count(const struct mf_store *s, uint32_t id);
/* The id of a code, or -1. */
int64_t mf_store_code_id(const struct mf_store *s, const char *code, size_t len);
/* Unit id 0 gives {NULL, 0}; so does an id out of range (codes too). */
struct mf_str mf_store_unit(const struct mf_store *s, uint32_t id);

/* Find a patient by source id; MF_ENOTFOUND when absent. */
int mf_store_find(const struct mf_store *s, const char *id, size_t len, struct mf_timeline *out);

size_t mf_store_n_shards(const struct mf_store *s);
uint64_t mf_store_shard_patients(const struct mf_store *s, size_t shard);
int mf_store_shard_timeline(const struct mf_store *s, size_t shard, uint64_t i,
                            struct mf_timeline *out);

/* The text of event i ({NULL, 0} when it has none, or when the store is damaged there). */
static inline struct mf_str mf_timeline_text(const struct mf_timeline *t, size_t i)
{
    uint64_t a = t->text_off[i], b = t->text_off[i + 1];
    struct mf_str r = {NULL, 0};
    if (a < b && b <= t->text_size) {
        r.p = t->text + a;
        r.n = (size_t)(b - a);
    }
    return r;
}

#endif
