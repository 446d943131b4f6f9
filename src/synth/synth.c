/* synth.c - the synthetic cohort driver: simulates patients in parallel and writes a FHIR R4
 * Bulk Data export (one NDJSON file per resource type, export.json last) plus the ground truth
 * (truth/risk.csv, truth/effects.csv, truth/phi.ndjson).
 *
 * Patients are simulated in blocks: every thread fills per-patient output buffers, then a
 * writer thread appends the block to the files in patient order while the next block is
 * simulated.  Each patient draws from its own random
 * streams, so the bytes depend on the seed alone, not on the thread count, and memory is one
 * block of buffers however many patients are asked for.  export.json is written last (through
 * a temporary file and a rename): a folder without it is an incomplete export.
 */
#include "synth/synth.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <nettle/base64.h>
#include <omp.h>
#include <pthread.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timeutil.h"

/* The output streams, in the order export.json lists them. */
enum stream {
    S_PATIENT,
    S_ENCOUNTER,
    S_CONDITION,
    S_OBSERVATION,
    S_MEDICATION,
    S_PROCEDURE,
    S_DOCUMENT,
    S_RISK,
    S_EFFECTS,
    S_PHI,
    S__COUNT
};

static const char *const stream_file[S__COUNT] = {"Patient.ndjson",           "Encounter.ndjson",
                                                  "Condition.ndjson",         "Observation.ndjson",
                                                  "MedicationRequest.ndjson", "Procedure.ndjson",
                                                  "DocumentReference.ndjson", "truth/risk.csv",
                                                  "truth/effects.csv",        "truth/phi.ndjson"};

static const char *const stream_type[S__COUNT] = {
    "Patient",   "Encounter",         "Condition", "Observation", "MedicationRequest",
    "Procedure", "DocumentReference", NULL,        NULL,          NULL};

/* One patient's output, reused from block to block. */
struct slot {
    struct mf_buf out[S__COUNT];
    int64_t count[S__COUNT]; /* resources or rows */
    struct mf_syn_life life;
    struct mf_synth_person person;
    struct mf_buf note;
    struct mf_buf b64;
    struct mf_phi_spans spans;
    struct mf_err err;
    int rc;
};

/* The share of clinic (ambulatory) visits that get a written note; emergency visits and
 * admissions always do.  Notes and their PHI spans are most of the output's size. */
#define NOTE_SHARE_AMB 0.25

/* Per-run constants every thread reads. */
struct run {
    const struct mf_synth_opts *o;
    const struct mf_synth_lists *lists;
    struct mf_synth_window window;
};

/* A patient id shaped like a UUID (version 4 bits set), from the patient's id stream. */
static void patient_id(uint64_t seed, int64_t k, char out[37])
{
    struct mf_rng r;
    mf_rng_seed(&r, seed, (uint64_t)k * 4 + 3);
    uint64_t a = mf_rng_u64(&r), b = mf_rng_u64(&r);
    a = (a & ~0xf000ULL) | 0x4000ULL;
    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xffff), (unsigned)(b >> 48),
             (unsigned long long)(b & 0xffffffffffffULL));
}

static void put_time(struct mf_buf *b, int64_t t)
{
    char s[32];
    mf_time_format(t, s);
    mf_buf_putc(b, '"');
    mf_buf_puts(b, s);
    mf_buf_putc(b, '"');
}

static void put_date(struct mf_buf *b, int64_t t)
{
    char s[32];
    mf_time_format(t, s);
    mf_buf_printf(b, "\"%.10s\"", s);
}

static void put_str(struct mf_buf *b, const char *s)
{
    mf_buf_json_string(b, s, strlen(s));
}

static void put_coding(struct mf_buf *b, const char *system, const char *code, const char *display)
{
    mf_buf_puts(b, "{\"coding\":[{\"system\":\"");
    mf_buf_puts(b, system);
    mf_buf_puts(b, "\",\"code\":");
    put_str(b, code);
    if (display) {
        mf_buf_puts(b, ",\"display\":");
        put_str(b, display);
    }
    mf_buf_puts(b, "}]}");
}

static const char *const snomed = "http://snomed.info/sct";
static const char *const loinc = "http://loinc.org";
static const char *const rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm";

static void put_name(struct mf_buf *b, const struct mf_synth_name *n)
{
    mf_buf_puts(b, "{\"family\":");
    put_str(b, n->family);
    mf_buf_puts(b, ",\"given\":[");
    put_str(b, n->given);
    mf_buf_puts(b, "]}");
}

/* Patient.ndjson: identity, demographics, US Core race and ethnicity. */
static void write_patient(struct slot *s, const char *id)
{
    const struct mf_syn_life *l = &s->life;
    const struct mf_synth_person *p = &s->person;
    struct mf_buf *b = &s->out[S_PATIENT];
    mf_buf_printf(b, "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"extension\":[", id);
    mf_buf_puts(b, "{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\","
                   "\"extension\":[{\"url\":\"ombCategory\",\"valueCoding\":{\"system\":"
                   "\"urn:oid:2.16.840.1.113883.6.238\",\"code\":");
    put_str(b, l->race);
    mf_buf_puts(b, "}}]},{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/"
                   "us-core-ethnicity\",\"extension\":[{\"url\":\"ombCategory\",\"valueCoding\":"
                   "{\"system\":\"urn:oid:2.16.840.1.113883.6.238\",\"code\":");
    put_str(b, l->ethnicity);
    mf_buf_puts(b, "}}]}],\"identifier\":[{\"type\":{\"coding\":[{\"system\":"
                   "\"http://terminology.hl7.org/CodeSystem/v2-0203\",\"code\":\"MR\"}]},"
                   "\"system\":\"urn:medfm:synth:mrn\",\"value\":");
    put_str(b, p->mrn);
    mf_buf_puts(b, "},{\"type\":{\"coding\":[{\"system\":"
                   "\"http://terminology.hl7.org/CodeSystem/v2-0203\",\"code\":\"SS\"}]},"
                   "\"system\":\"http://hl7.org/fhir/sid/us-ssn\",\"value\":");
    put_str(b, p->ssn);
    mf_buf_puts(b, "}],\"name\":[");
    put_name(b, &p->name);
    mf_buf_puts(b, "],\"telecom\":[{\"system\":\"phone\",\"value\":");
    put_str(b, p->phone);
    mf_buf_puts(b, ",\"use\":\"home\"},{\"system\":\"email\",\"value\":");
    put_str(b, p->email);
    mf_buf_puts(b, "}],\"gender\":");
    mf_buf_puts(b, l->female ? "\"female\"" : "\"male\"");
    mf_buf_puts(b, ",\"birthDate\":");
    put_date(b, l->birth);
    if (l->death != MF_TIME_NONE) {
        mf_buf_puts(b, ",\"deceasedDateTime\":");
        put_time(b, l->death);
    }
    mf_buf_puts(b, ",\"address\":[{\"line\":[");
    put_str(b, p->line);
    mf_buf_puts(b, "],\"city\":");
    put_str(b, p->city);
    mf_buf_puts(b, ",\"state\":");
    put_str(b, p->state);
    mf_buf_puts(b, ",\"postalCode\":");
    put_str(b, p->zip);
    mf_buf_puts(b, ",\"country\":\"US\"}],\"contact\":[{\"relationship\":[{\"text\":");
    put_str(b, p->contact_relation);
    mf_buf_puts(b, "}],\"name\":");
    put_name(b, &p->contact);
    mf_buf_puts(b, ",\"telecom\":[{\"system\":\"phone\",\"value\":");
    put_str(b, p->contact_phone);
    mf_buf_puts(b, "}]}]}\n");
    s->count[S_PATIENT]++;
}

static const char *const class_code[] = {"AMB", "EMER", "IMP"};

/* Start of a resource linked to the patient and (when enc >= 0) to its encounter. */
static void put_head(struct mf_buf *b, const char *type, const char *id, char letter, size_t k,
                     int enc)
{
    mf_buf_printf(b,
                  "{\"resourceType\":\"%s\",\"id\":\"%s-%c%zu\",\"subject\":{\"reference\":"
                  "\"Patient/%s\"}",
                  type, id, letter, k, id);
    if (enc >= 0)
        mf_buf_printf(b, ",\"encounter\":{\"reference\":\"Encounter/%s-e%d\"}", id, enc);
}

/* Byte offset to code-point offset in UTF-8 text. */
static size_t cp_offset(const char *s, size_t byte)
{
    size_t cp = 0;
    for (size_t i = 0; i < byte; i++)
        cp += ((unsigned char)s[i] & 0xc0) != 0x80;
    return cp;
}

/* A DocumentReference with the visit note of encounter e, and the note's PHI spans. */
static int write_note(struct slot *s, const struct run *run, struct mf_rng *rng, const char *id,
                      size_t e, const char *clinician, const char *hospital)
{
    const struct mf_syn_item *enc = &s->life.items[e];
    struct mf_synth_visit v = {&s->life, &s->person, e, clinician, hospital};
    int rc = mf_synth_note_write(run->lists, rng, &v, &s->note, &s->spans);
    if (rc)
        return rc;
    struct mf_buf *b = &s->out[S_DOCUMENT];
    static const char *const type_code[] = {"11506-3", "34111-5", "18842-5"};
    static const char *const type_display[] = {"Progress note", "Emergency department note",
                                               "Discharge summary"};
    int c = (int)enc->enc_class;
    put_head(b, "DocumentReference", id, 'd', e, (int)e);
    mf_buf_puts(b, ",\"status\":\"current\",\"type\":");
    put_coding(b, loinc, type_code[c], type_display[c]);
    mf_buf_puts(b, ",\"date\":");
    put_time(b, enc->end_time != MF_TIME_NONE ? enc->end_time : enc->time);
    mf_buf_puts(b, ",\"content\":[{\"attachment\":{\"contentType\":\"text/plain; "
                   "charset=utf-8\",\"data\":\"");
    mf_buf_reset(&s->b64);
    size_t n64 = BASE64_ENCODE_RAW_LENGTH(s->note.len);
    if ((rc = mf_buf_grow(&s->b64, n64)) != 0)
        return rc;
    base64_encode_raw((char *)s->b64.data, s->note.len, (const uint8_t *)s->note.data);
    mf_buf_append(b, s->b64.data, n64);
    mf_buf_puts(b, "\"}}],\"context\":{\"period\":{\"start\":");
    put_time(b, enc->time);
    if (enc->end_time != MF_TIME_NONE) {
        mf_buf_puts(b, ",\"end\":");
        put_time(b, enc->end_time);
    }
    mf_buf_puts(b, "}}}\n");
    s->count[S_DOCUMENT]++;

    struct mf_buf *p = &s->out[S_PHI];
    for (size_t i = 0; i < s->spans.n; i++) {
        const struct mf_phi_span *sp = &s->spans.v[i];
        mf_buf_printf(p,
                      "{\"resource_type\":\"DocumentReference\",\"resource_id\":\"%s-d%zu\","
                      "\"field\":\"content[0].attachment.data\",\"start\":%zu,\"end\":%zu,"
                      "\"start_cp\":%zu,\"end_cp\":%zu,\"category\":\"%s\",\"value\":",
                      id, e, sp->start, sp->end, cp_offset(s->note.data, sp->start),
                      cp_offset(s->note.data, sp->end), mf_phi_category_name(sp->category));
        mf_buf_json_string(p, s->note.data + sp->start, sp->end - sp->start);
        mf_buf_puts(p, "}\n");
        s->count[S_PHI]++;
    }
    return 0;
}

/* Everything of patient k into its slot. */
static int simulate_patient(const struct run *run, struct slot *s, int64_t k)
{
    const struct mf_synth_opts *o = run->o;
    for (int i = 0; i < S__COUNT; i++) {
        mf_buf_reset(&s->out[i]);
        s->count[i] = 0;
    }
    struct mf_rng model, who, text;
    mf_rng_seed(&model, o->seed, (uint64_t)k * 4);
    mf_rng_seed(&who, o->seed, (uint64_t)k * 4 + 1);
    mf_rng_seed(&text, o->seed, (uint64_t)k * 4 + 2);
    mf_synth_life_reset(&s->life);
    int rc = mf_synth_simulate(&model, &run->window, &s->life);
    if (rc)
        return mf_err_set(&s->err, rc, "simulating patient %lld failed", (long long)k);
    mf_synth_person_make(run->lists, &who, s->life.female, &s->person);
    char id[37];
    patient_id(o->seed, k, id);
    write_patient(s, id);

    /* the clinician and hospital of this patient's care */
    struct mf_synth_person doc;
    mf_synth_person_make(run->lists, &who, (int)mf_rng_below(&who, 2), &doc);
    char clinician[128], hospital[128];
    snprintf(clinician, sizeof clinician, "Dr. %s %s", doc.name.given, doc.name.family);
    static const char *const kinds[] = {"General Hospital", "Medical Center", "Memorial Hospital",
                                        "Community Hospital"};
    snprintf(hospital, sizeof hospital, "%s %s", doc.city, kinds[mf_rng_below(&who, 4)]);

    const struct mf_syn_life *l = &s->life;
    for (size_t i = 0; i < l->n_items; i++) {
        const struct mf_syn_item *it = &l->items[i];
        struct mf_buf *b;
        switch (it->kind) {
        case MF_SYN_ENCOUNTER:
            b = &s->out[S_ENCOUNTER];
            mf_buf_printf(b, "{\"resourceType\":\"Encounter\",\"id\":\"%s-e%zu\"", id, i);
            mf_buf_printf(b,
                          ",\"status\":\"finished\",\"class\":{\"system\":"
                          "\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"%s\"},"
                          "\"type\":[",
                          class_code[it->enc_class]);
            put_coding(b, snomed, it->code, it->display);
            mf_buf_printf(
                b, "],\"subject\":{\"reference\":\"Patient/%s\"},\"period\":{\"start\":", id);
            put_time(b, it->time);
            if (it->end_time != MF_TIME_NONE) {
                mf_buf_puts(b, ",\"end\":");
                put_time(b, it->end_time);
            }
            mf_buf_puts(b, "},\"serviceProvider\":{\"display\":");
            put_str(b, hospital);
            mf_buf_puts(b, "}}\n");
            s->count[S_ENCOUNTER]++;
            /* every emergency and inpatient stay has a note, one clinic visit in four */
            if (it->enc_class == MF_SYN_AMB && mf_rng_uniform(&text) >= NOTE_SHARE_AMB)
                break;
            if ((rc = write_note(s, run, &text, id, i, clinician, hospital)) != 0)
                return mf_err_set(&s->err, rc, "writing a note for patient %lld failed",
                                  (long long)k);
            break;
        case MF_SYN_CONDITION:
            b = &s->out[S_CONDITION];
            put_head(b, "Condition", id, 'c', i, it->encounter);
            mf_buf_puts(b, ",\"clinicalStatus\":{\"coding\":[{\"system\":\"http://"
                           "terminology.hl7.org/CodeSystem/condition-clinical\",\"code\":"
                           "\"active\"}]},\"verificationStatus\":{\"coding\":[{\"system\":"
                           "\"http://terminology.hl7.org/CodeSystem/condition-ver-status\","
                           "\"code\":\"confirmed\"}]},\"code\":");
            put_coding(b, snomed, it->code, it->display);
            mf_buf_puts(b, ",\"onsetDateTime\":");
            put_time(b, it->time);
            mf_buf_puts(b, "}\n");
            s->count[S_CONDITION]++;
            break;
        case MF_SYN_OBSERVATION:
            b = &s->out[S_OBSERVATION];
            put_head(b, "Observation", id, 'o', i, it->encounter);
            mf_buf_puts(b, ",\"status\":\"final\",\"code\":");
            put_coding(b, loinc, it->code, it->display);
            mf_buf_puts(b, ",\"effectiveDateTime\":");
            put_time(b, it->time);
            if (!isnan(it->value)) {
                mf_buf_puts(b, ",\"valueQuantity\":{\"value\":");
                mf_buf_put_double(b, it->value);
                if (it->unit) {
                    mf_buf_puts(b, ",\"unit\":");
                    put_str(b, it->unit);
                    mf_buf_puts(b, ",\"system\":\"http://unitsofmeasure.org\",\"code\":");
                    put_str(b, it->unit);
                }
                mf_buf_putc(b, '}');
            }
            mf_buf_puts(b, "}\n");
            s->count[S_OBSERVATION]++;
            break;
        case MF_SYN_MEDICATION:
            b = &s->out[S_MEDICATION];
            put_head(b, "MedicationRequest", id, 'm', i, it->encounter);
            mf_buf_puts(b, ",\"status\":\"active\",\"intent\":\"order\","
                           "\"medicationCodeableConcept\":");
            put_coding(b, rxnorm, it->code, it->display);
            mf_buf_puts(b, ",\"authoredOn\":");
            put_time(b, it->time);
            mf_buf_puts(b, "}\n");
            s->count[S_MEDICATION]++;
            break;
        case MF_SYN_PROCEDURE:
            b = &s->out[S_PROCEDURE];
            put_head(b, "Procedure", id, 'p', i, it->encounter);
            mf_buf_puts(b, ",\"status\":\"completed\",\"code\":");
            put_coding(b, snomed, it->code, it->display);
            mf_buf_puts(b, ",\"performedPeriod\":{\"start\":");
            put_time(b, it->time);
            mf_buf_puts(b, ",\"end\":");
            put_time(b, it->end_time != MF_TIME_NONE ? it->end_time : it->time);
            mf_buf_puts(b, "}}\n");
            s->count[S_PROCEDURE]++;
            break;
        }
    }
    for (size_t i = 0; i < l->n_truth; i++) {
        const struct mf_syn_truth *t = &l->truth[i];
        char when[32];
        mf_time_format(t->index_time, when);
        if (t->treatment) {
            mf_buf_printf(&s->out[S_EFFECTS], "%s,%s,%s,%s,%d,%.6f\n", id, when, t->treatment,
                          t->outcome, t->horizon_days, t->probability);
            s->count[S_EFFECTS]++;
        } else {
            mf_buf_printf(&s->out[S_RISK], "%s,%s,%s,%d,%.6f\n", id, when, t->outcome,
                          t->horizon_days, t->probability);
            s->count[S_RISK]++;
        }
    }
    return 0;
}

static void slot_free(struct slot *s)
{
    for (int i = 0; i < S__COUNT; i++)
        mf_buf_release(&s->out[i]);
    mf_synth_life_free(&s->life);
    mf_buf_release(&s->note);
    mf_buf_release(&s->b64);
    free(s->spans.v);
}

/* The output folder must be new or empty; it is created when absent (*created set). */
static int prepare_out(const char *out, int *created, struct mf_err *err)
{
    *created = !mf_fs_exists(out);
    if (!*created) {
        if (!mf_fs_is_dir(out))
            return mf_err_set(err, MF_EEXIST, "'%s' exists and is not a folder", out);
        DIR *d = opendir(out);
        if (d == NULL)
            return mf_err_set(err, MF_EIO, "cannot read folder '%s': %s", out, strerror(errno));
        struct dirent *de;
        int empty = 1;
        while ((de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                empty = 0;
        closedir(d);
        if (!empty)
            return mf_err_set(err, MF_EEXIST, "'%s' is not empty; give a new or empty folder", out);
    }
    char truth[PATH_MAX];
    snprintf(truth, sizeof truth, "%s/truth", out);
    int rc = mf_fs_mkdir_p(truth, err);
    if (rc == 0 && access(out, W_OK) != 0)
        rc = mf_err_set(err, MF_EIO, "cannot write to '%s': %s", out, strerror(errno));
    return rc;
}

static const char *const csv_header[S__COUNT] = {
    [S_RISK] = "patient_id,index_time,outcome,horizon_days,probability\n",
    [S_EFFECTS] = "patient_id,index_time,treatment,outcome,horizon_days,probability\n"};

/* export.json as the Bulk Data spec describes it, written last and atomically. */
static int write_manifest(const struct mf_synth_opts *o, const struct run *run,
                          const int64_t *counts, struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_puts(&b, "{\n  \"transactionTime\": ");
    put_time(&b, run->window.end);
    mf_buf_printf(&b,
                  ",\n  \"request\": \"urn:medfm:synth?patients=%lld&seed=%llu&start-year=%d&"
                  "years=%d\",\n  \"requiresAccessToken\": false,\n  \"output\": [",
                  (long long)o->patients, (unsigned long long)o->seed, o->start_year, o->years);
    int first = 1;
    for (int i = 0; i < S__COUNT; i++) {
        if (stream_type[i] == NULL)
            continue;
        mf_buf_printf(&b, "%s\n    {\"type\": \"%s\", \"url\": \"%s\", \"count\": %lld}",
                      first ? "" : ",", stream_type[i], stream_file[i], (long long)counts[i]);
        first = 0;
    }
    mf_buf_puts(&b, "\n  ],\n  \"error\": []\n}\n");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/export.json", o->out);
    int rc = b.data ? mf_fs_write_file_atomic(path, b.data, b.len, err)
                    : mf_err_set(err, MF_ENOMEM, "out of memory");
    mf_buf_release(&b);
    return rc;
}

/* Let go of a slot's buffers when an unusually large patient grew them past SLOT_KEEP bytes,
 * so the memory kept between blocks is bounded by the slots, not by the largest patient of
 * the cohort (which grows with N). */
#define SLOT_KEEP ((size_t)1 << 20)

static void trim_slot(struct slot *s)
{
    size_t cap = s->note.cap + s->b64.cap;
    for (int i = 0; i < S__COUNT; i++)
        cap += s->out[i].cap;
    if (cap <= SLOT_KEEP)
        return;
    for (int i = 0; i < S__COUNT; i++)
        mf_buf_release(&s->out[i]);
    mf_buf_release(&s->note);
    mf_buf_release(&s->b64);
}

/* The writer thread's work: append a simulated block to the files in patient order. */
struct writer {
    pthread_t thread;
    struct slot *slots;
    int64_t m;
    FILE **files;
    int64_t *counts;
    int64_t bytes;
    const char *out;
    int rc;
    struct mf_err err;
};

static void *write_block(void *arg)
{
    struct writer *w = arg;
    for (int64_t j = 0; j < w->m && w->rc == 0; j++) {
        if (w->slots[j].rc) {
            w->rc = mf_err_set(&w->err, w->slots[j].rc, "%s", w->slots[j].err.msg);
            break;
        }
        for (int i = 0; i < S__COUNT; i++) {
            const struct mf_buf *b = &w->slots[j].out[i];
            if (b->len && fwrite(b->data, 1, b->len, w->files[i]) != b->len) {
                w->rc = mf_err_set(&w->err, MF_EIO, "cannot write '%s/%s'", w->out, stream_file[i]);
                break;
            }
            w->counts[i] += w->slots[j].count[i];
            w->bytes += (int64_t)b->len;
        }
        trim_slot(&w->slots[j]);
    }
    return NULL;
}

int mf_synth_run(const struct mf_synth_opts *o, struct mf_synth_result *res, struct mf_err *err)
{
    struct mf_synth_result tmp;
    if (res == NULL)
        res = &tmp;
    memset(res, 0, sizeof *res);
    if (o->patients <= 0)
        return mf_err_set(err, MF_EINVAL, "the number of patients must be at least 1");
    if (o->start_year < 1900 || o->start_year > 2100)
        return mf_err_set(err, MF_EINVAL, "the start year must be between 1900 and 2100");
    if (o->years < 6 || o->years > 100)
        return mf_err_set(err, MF_EINVAL,
                          "the follow-up must be 6 to 100 years (truth needs index dates 5 years "
                          "before its end)");
    if (o->out == NULL || o->out[0] == '\0')
        return mf_err_set(err, MF_EINVAL, "no output folder given");

    double t0 = mf_now();
    struct run run = {o, NULL, {0, 0}};
    run.window.start = mf_time_from_date(o->start_year, 1, 1);
    run.window.end = mf_time_from_date(o->start_year + o->years, 1, 1);
    int n = o->threads > 0 ? o->threads : omp_get_max_threads();
    const int64_t block = (int64_t)n * 16;
    struct slot *slots = NULL;
    FILE *files[S__COUNT] = {0};
    int64_t counts[S__COUNT] = {0};
    struct mf_synth_lists *lists = NULL;
    struct mf_progress prog;
    int rc, created = 0, prepared = 0;

    if ((rc = mf_synth_lists_load(mf_data_dir(NULL), &lists, err)) != 0)
        return rc;
    run.lists = lists;
    if ((rc = prepare_out(o->out, &created, err)) != 0) {
        prepared = rc != MF_EEXIST;
        goto out;
    }
    prepared = 1;
    for (int i = 0; i < S__COUNT; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", o->out, stream_file[i]);
        files[i] = fopen(path, "wb");
        if (files[i] == NULL) {
            rc = mf_err_set(err, MF_EIO, "cannot create '%s': %s", path, strerror(errno));
            goto out;
        }
        setvbuf(files[i], NULL, _IOFBF, (size_t)1 << 20);
        if (csv_header[i])
            fputs(csv_header[i], files[i]);
    }
    slots = calloc((size_t)block * 2, sizeof *slots);
    if (slots == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }

    /* Two halves of slots: while the threads simulate one block, a writer thread appends the
     * previous block to the files, so simulation and output overlap. */
    mf_progress_start(&prog, "synth", "patients", o->patients);
    struct writer wr = {0};
    wr.files = files;
    wr.counts = counts;
    wr.out = o->out;
    int writing = 0;
    for (int64_t first = 0, half = 0; first < o->patients && rc == 0; first += block, half ^= 1) {
        int64_t m = o->patients - first < block ? o->patients - first : block;
        struct slot *cur = slots + half * block;
#pragma omp parallel for schedule(dynamic, 4) num_threads(n)
        for (int64_t j = 0; j < m; j++)
            cur[j].rc = simulate_patient(&run, &cur[j], first + j);
        if (writing) {
            pthread_join(wr.thread, NULL);
            writing = 0;
            if (wr.rc) {
                rc = mf_err_set(err, wr.rc, "%s", wr.err.msg);
                break;
            }
        }
        wr.slots = cur;
        wr.m = m;
        if (pthread_create(&wr.thread, NULL, write_block, &wr) != 0) {
            write_block(&wr);
        } else {
            writing = 1;
        }
        if (!writing && wr.rc) {
            rc = mf_err_set(err, wr.rc, "%s", wr.err.msg);
            break;
        }
        mf_progress_add(&prog, m);
    }
    if (writing) {
        pthread_join(wr.thread, NULL);
        if (wr.rc && rc == 0)
            rc = mf_err_set(err, wr.rc, "%s", wr.err.msg);
    }
    res->bytes = wr.bytes;
    mf_progress_finish(&prog);
    for (int i = 0; i < S__COUNT; i++) {
        if (files[i] && (fflush(files[i]) != 0 || fsync(fileno(files[i])) != 0) && rc == 0)
            rc = mf_err_set(err, MF_EIO, "cannot write '%s/%s'", o->out, stream_file[i]);
        if (files[i] && fclose(files[i]) != 0 && rc == 0)
            rc = mf_err_set(err, MF_EIO, "cannot write '%s/%s'", o->out, stream_file[i]);
        files[i] = NULL;
    }
    if (rc == 0)
        rc = write_manifest(o, &run, counts, err);
    if (rc == 0) {
        res->patients = o->patients;
        for (int i = 0; i < S__COUNT; i++)
            if (stream_type[i])
                res->resources += counts[i];
        res->truth_rows = counts[S_RISK] + counts[S_EFFECTS];
        res->phi_spans = counts[S_PHI];
    }
out:
    for (int i = 0; i < S__COUNT; i++)
        if (files[i])
            fclose(files[i]);
    if (rc && prepared) {
        /* a failed run leaves no output behind: what it wrote, and the folder if it made it */
        for (int i = 0; i < S__COUNT; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", o->out, stream_file[i]);
            unlink(path);
        }
        char truth[PATH_MAX];
        snprintf(truth, sizeof truth, "%s/truth", o->out);
        rmdir(truth);
        if (created)
            rmdir(o->out);
    }
    for (int64_t j = 0; slots && j < 2 * block; j++)
        slot_free(&slots[j]);
    free(slots);
    mf_synth_lists_free(lists);
    res->seconds = mf_now() - t0;
    return rc;
}
