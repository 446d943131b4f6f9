/* mimic.c - MIMIC-IV (hosp/ and icu/ CSV tables) to events; the mapping is in
 * docs/ingest-mimic.md.
 *
 * admissions is read first, on one thread: its rows become events like any table's, and it
 * fills two maps that other tables join against: hadm_id -> dischtime (diagnoses and procedures
 * are dated at discharge) and subject_id -> earliest race and in-hospital death time (patients
 * and the static RACE fact).  These maps hold every admission, so memory grows with the number
 * of admissions and subjects (about 100 bytes each: well under 100 MB for full MIMIC-IV), not
 * with the big tables.
 * Then every other table runs as one OpenMP task, largest file first, each on the calling
 * thread's context.
 *
 * Left out: tables outside the mapping (chartevents, inputevents, emar, microbiology, poe,
 * pharmacy, hcpcs, drg, dictionaries d_*), which are ignored, and the notes module.
 */
#include "ingest/ingest.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "core/strmap.h"
#include "core/log.h"
#include "ingest/csv.h"

/* A row function's answer when it dropped the row and reported why (not under --strict). */
#define SKIPPED 1

#define MAX_COLS 12
#define MAX_NUM  64 /* longest number accepted, in bytes */

/* What is kept of one subject from admissions. */
struct subj {
    int64_t race_admit; /* admittime of the admission whose race is kept */
    char *race;         /* owned; NULL when no admission had one */
    size_t race_len;
    int64_t death; /* latest in-hospital death time, MF_TIME_NONE when none */
};

/* The maps built from admissions; read-only once the parallel tables start. */
struct mimic {
    struct mf_strmap hadm; /* hadm_id -> dischtime (an int64_t stored as uint64_t) */
    struct mf_strmap subj; /* subject_id -> index into subjs */
    struct subj *subjs;
    size_t n_subjs, cap_subjs;
};

struct row;

/* One table: where it lives, the columns it needs and how a row maps to events.  cols[k] names
 * the column of the row function's k-th enum value; cols[0] is always subject_id. */
struct table {
    const char *sub; /* "hosp" or "icu" */
    const char *name;
    int required; /* missing file: hard error */
    const char *cols[MAX_COLS + 1];
    int (*row)(struct row *r);
};

/* One row being mapped, and the per-table state it needs. */
struct row {
    struct mf_ingest_ctx *c;
    struct mimic *m; /* written only by admissions, which runs alone */
    const struct table *t;
    struct mf_csv *csv;
    const char *file;
    int col[MAX_COLS];
    struct mf_csv_field subject;
    struct mf_buf code;
};

/* A table file found on disk. */
struct job {
    const struct table *t;
    char *path;
    int64_t size;
};

/* Free the admissions maps. */
static void mimic_free(struct mimic *m)
{
    for (size_t i = 0; i < m->n_subjs; i++)
        free(m->subjs[i].race);
    free(m->subjs);
    mf_strmap_free(&m->hadm);
    mf_strmap_free(&m->subj);
}

/* Field k (the table's k-th column) of the current row. */
static struct mf_csv_field fld(const struct row *r, int k)
{
    return mf_csv_get(r->csv, r->col[k]);
}

/* Whether a field equals the C string s. */
static int fld_is(struct mf_csv_field f, const char *s)
{
    size_t n = strlen(s);
    return f.n == n && memcmp(f.p, s, n) == 0;
}

/* Drop the row's events and report why, naming column k (-1: none).  Returns SKIPPED, or the
 * error that stops the run under --strict. */
static int bad(struct row *r, enum mf_issue_kind kind, int k, const char *what)
{
    struct mf_issue_loc loc = {r->file, r->csv->line, r->csv->offset,
                               k >= 0 ? r->t->cols[k] : NULL};
    int rc = mf_ingest_issue(r->c, kind, &loc, "%s", what);
    mf_ingest_drop_record(r->c);
    return rc ? rc : SKIPPED;
}

/* Read column k as a time into *t.  An empty field gives MF_TIME_NONE when optional and a
 * missing-field issue when required.  Only "YYYY-MM-DD" and "YYYY-MM-DD hh:mm:ss" are taken.
 * Returns 0, SKIPPED or an error. */
static int get_time(struct row *r, int k, int required, int64_t *t)
{
    struct mf_csv_field f = fld(r, k);
    *t = MF_TIME_NONE;
    if (f.n == 0)
        return required ? bad(r, MF_ISSUE_MISSING_FIELD, k, "empty date") : 0;
    if ((f.n != 10 && (f.n < 16 || f.p[10] != ' ')) || mf_time_parse(f.p, f.n, t) != 0)
        return bad(r, MF_ISSUE_BAD_DATE, k, "not a date (YYYY-MM-DD[ hh:mm:ss])");
    return 0;
}

/* Parse a decimal number (no inf, nan or hex); returns 0 or -1. */
static int parse_number(const char *s, size_t n, double *out)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= MAX_NUM)
        return -1;
    int digit = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9')
            digit = 1;
        else if (ch != '.' && ch != '-' && ch != '+' && ch != 'e' && ch != 'E')
            return -1;
    }
    if (!digit)
        return -1;
    char buf[MAX_NUM];
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + n || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Parse a non-negative decimal integer of at most 9 digits; returns 0 or -1. */
static int parse_int(struct mf_csv_field f, long *out)
{
    if (f.n == 0 || f.n > 9)
        return -1;
    long v = 0;
    for (size_t i = 0; i < f.n; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            return -1;
        v = v * 10 + (f.p[i] - '0');
    }
    *out = v;
    return 0;
}

/* Set r->code to prefix followed by n bytes of s. */
static int make_code(struct row *r, const char *prefix, const char *s, size_t n)
{
    mf_buf_reset(&r->code);
    if (mf_buf_puts(&r->code, prefix) || mf_buf_append(&r->code, s, n))
        return mf_err_set(&r->c->err, MF_ENOMEM, "out of memory");
    return 0;
}

/* Set r->code to prefix, the field, then suffix. */
static int make_code3(struct row *r, const char *prefix, struct mf_csv_field f, const char *suffix)
{
    int rc = make_code(r, prefix, f.p, f.n);
    if (rc == 0 && mf_buf_puts(&r->code, suffix))
        rc = mf_err_set(&r->c->err, MF_ENOMEM, "out of memory");
    return rc;
}

/* Emit one event of the row's subject with code r->code.  Strings over the limits of event.h
 * are reported here, where the line is known.  Returns 0, SKIPPED or an error. */
static int emit(struct row *r, int64_t t, double v, struct mf_csv_field unit,
                struct mf_csv_field text)
{
    if (r->subject.n > MF_MAX_SUBJECT_LEN)
        return bad(r, MF_ISSUE_TOO_BIG, 0, "subject id longer than medfm's limit");
    if (r->code.len > MF_MAX_CODE_LEN || unit.n > MF_MAX_UNIT_LEN || text.n > MF_MAX_TEXT_LEN)
        return bad(r, MF_ISSUE_TOO_BIG, -1, "code, unit or text longer than medfm's limit");
    struct mf_event ev = {.subject = r->subject.p,
                          .subject_len = r->subject.n,
                          .time = t,
                          .code = r->code.data,
                          .code_len = r->code.len,
                          .value = v,
                          .unit = unit.p,
                          .unit_len = unit.n,
                          .text = text.p,
                          .text_len = text.n};
    int rc = mf_ingest_emit(r->c, &ev);
    return rc > 0 ? SKIPPED : rc;
}

/* Emit an event with code prefix+s at t and no value. */
static int emit_code(struct row *r, int64_t t, const char *prefix, const char *s, size_t n)
{
    static const struct mf_csv_field none = {"", 0};
    int rc = make_code(r, prefix, s, n);
    return rc ? rc : emit(r, t, NAN, none, none);
}

/* The text of field k, or fallback when empty. */
static struct mf_csv_field or_else(const struct row *r, int k, const char *fallback)
{
    struct mf_csv_field f = fld(r, k);
    if (f.n == 0) {
        f.p = fallback;
        f.n = strlen(fallback);
    }
    return f;
}

/* --- patients --------------------------------------------------------------------------- */

enum { PAT_SUBJECT, PAT_GENDER, PAT_AGE, PAT_YEAR, PAT_DOD };

/* MEDS_BIRTH on Jan 1 of anchor_year - anchor_age, GENDER/<gender> (static), and MEDS_DEATH at
 * the in-hospital death time when there is one, else at dod. */
static int row_patients(struct row *r)
{
    long age, year;
    int64_t dod;
    int rc;
    if (fld(r, PAT_AGE).n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, PAT_AGE, "empty anchor age");
    if (parse_int(fld(r, PAT_AGE), &age))
        return bad(r, MF_ISSUE_BAD_VALUE, PAT_AGE, "not a whole number");
    if (fld(r, PAT_YEAR).n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, PAT_YEAR, "empty anchor year");
    if (parse_int(fld(r, PAT_YEAR), &year))
        return bad(r, MF_ISSUE_BAD_VALUE, PAT_YEAR, "not a whole number");
    if (year - age < 1 || year - age > 9999)
        return bad(r, MF_ISSUE_BAD_VALUE, PAT_AGE, "birth year out of range");
    if ((rc = get_time(r, PAT_DOD, 0, &dod)))
        return rc;

    if ((rc = emit_code(r, mf_time_from_date(year - age, 1, 1), MF_CODE_BIRTH, "", 0)))
        return rc;
    struct mf_csv_field g = fld(r, PAT_GENDER);
    if (g.n && (rc = emit_code(r, MF_TIME_NONE, "GENDER/", g.p, g.n)))
        return rc;
    int64_t death = dod;
    const struct mf_strmap_slot *sl = mf_strmap_get(&r->m->subj, r->subject.p, r->subject.n);
    if (sl && r->m->subjs[sl->value].death != MF_TIME_NONE)
        death = r->m->subjs[sl->value].death;
    if (death != MF_TIME_NONE && (rc = emit_code(r, death, MF_CODE_DEATH, "", 0)))
        return rc;
    return 0;
}

/* --- admissions ------------------------------------------------------------------------- */

enum {
    ADM_SUBJECT,
    ADM_HADM,
    ADM_ADMIT,
    ADM_DISCH,
    ADM_DEATH,
    ADM_TYPE,
    ADM_DISCH_LOC,
    ADM_RACE,
    ADM_EDREG,
    ADM_EDOUT,
    ADM_EXPIRE
};

/* Keep an admission in the maps: its dischtime by hadm_id; the subject's earliest race and
 * in-hospital death. */
static int remember_admission(struct row *r, int64_t admit, int64_t disch, int64_t death)
{
    struct mimic *m = r->m;
    struct mf_csv_field hadm = fld(r, ADM_HADM), race = fld(r, ADM_RACE);
    int added;
    struct mf_strmap_slot *sl = mf_strmap_upsert(&m->hadm, hadm.p, hadm.n, &added);
    if (sl == NULL)
        return MF_ENOMEM;
    sl->value = (uint64_t)disch;

    if (m->n_subjs == m->cap_subjs) {
        size_t cap = m->cap_subjs ? m->cap_subjs * 2 : 1024;
        struct subj *s = realloc(m->subjs, cap * sizeof *s);
        if (s == NULL)
            return MF_ENOMEM;
        m->subjs = s;
        m->cap_subjs = cap;
    }
    sl = mf_strmap_upsert(&m->subj, r->subject.p, r->subject.n, &added);
    if (sl == NULL)
        return MF_ENOMEM;
    if (added)
        sl->value = m->n_subjs++;
    struct subj *s = &m->subjs[sl->value];
    if (added) {
        memset(s, 0, sizeof *s);
        s->death = MF_TIME_NONE;
    }
    if (race.n && (s->race == NULL || admit < s->race_admit)) {
        char *copy = malloc(race.n + 1);
        if (copy == NULL)
            return MF_ENOMEM;
        memcpy(copy, race.p, race.n);
        copy[race.n] = '\0';
        free(s->race);
        s->race = copy;
        s->race_len = race.n;
        s->race_admit = admit;
    }
    if (death != MF_TIME_NONE && (s->death == MF_TIME_NONE || death > s->death))
        s->death = death;
    return 0;
}

/* HOSPITAL_ADMISSION/<type> at admittime, HOSPITAL_DISCHARGE/<location> at dischtime,
 * ED_REGISTRATION and ED_OUT when present; then the admission goes into the maps. */
static int row_admissions(struct row *r)
{
    int64_t admit, disch, death, edreg, edout;
    int rc;
    struct mf_csv_field hadm = fld(r, ADM_HADM), flag = fld(r, ADM_EXPIRE);
    if (hadm.n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, ADM_HADM, "empty admission id");
    if (mf_strmap_get(&r->m->hadm, hadm.p, hadm.n))
        return bad(r, MF_ISSUE_BAD_VALUE, ADM_HADM, "admission id seen before");
    if ((rc = get_time(r, ADM_ADMIT, 1, &admit)) || (rc = get_time(r, ADM_DISCH, 1, &disch)) ||
        (rc = get_time(r, ADM_DEATH, 0, &death)) || (rc = get_time(r, ADM_EDREG, 0, &edreg)) ||
        (rc = get_time(r, ADM_EDOUT, 0, &edout)))
        return rc;
    if (flag.n != 0 && !fld_is(flag, "0") && !fld_is(flag, "1"))
        return bad(r, MF_ISSUE_BAD_VALUE, ADM_EXPIRE, "not 0 or 1");

    struct mf_csv_field type = or_else(r, ADM_TYPE, "UNKNOWN");
    struct mf_csv_field loc = or_else(r, ADM_DISCH_LOC, "UNKNOWN");
    if ((rc = emit_code(r, admit, "HOSPITAL_ADMISSION/", type.p, type.n)) ||
        (rc = emit_code(r, disch, "HOSPITAL_DISCHARGE/", loc.p, loc.n)))
        return rc;
    if (edreg != MF_TIME_NONE && (rc = emit_code(r, edreg, "ED_REGISTRATION", "", 0)))
        return rc;
    if (edout != MF_TIME_NONE && (rc = emit_code(r, edout, "ED_OUT", "", 0)))
        return rc;
    rc = remember_admission(r, admit, disch, fld_is(flag, "1") ? death : MF_TIME_NONE);
    if (rc)
        return mf_err_set(&r->c->err, rc, "out of memory");
    return 0;
}

/* --- transfers, icustays, services ---------------------------------------------------- */

enum { TRF_SUBJECT, TRF_EVENTTYPE, TRF_CAREUNIT, TRF_INTIME };

/* TRANSFER/<careunit> (or /<eventtype>) at intime; discharge rows repeat admissions and are
 * skipped. */
static int row_transfers(struct row *r)
{
    int64_t t;
    int rc;
    struct mf_csv_field type = fld(r, TRF_EVENTTYPE), unit = fld(r, TRF_CAREUNIT);
    if (fld_is(type, "discharge"))
        return 0;
    if ((rc = get_time(r, TRF_INTIME, 1, &t)))
        return rc;
    if (unit.n == 0)
        unit = type;
    if (unit.n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, TRF_EVENTTYPE, "empty care unit and event type");
    return emit_code(r, t, "TRANSFER/", unit.p, unit.n);
}

enum { ICU_SUBJECT, ICU_FIRST, ICU_LAST, ICU_INTIME, ICU_OUTTIME };

/* ICU_ADMISSION/<first_careunit> at intime, ICU_DISCHARGE/<last_careunit> at outtime. */
static int row_icustays(struct row *r)
{
    int64_t in, out;
    int rc;
    if ((rc = get_time(r, ICU_INTIME, 1, &in)) || (rc = get_time(r, ICU_OUTTIME, 0, &out)))
        return rc;
    struct mf_csv_field first = or_else(r, ICU_FIRST, "UNKNOWN");
    struct mf_csv_field last = or_else(r, ICU_LAST, "UNKNOWN");
    if ((rc = emit_code(r, in, "ICU_ADMISSION/", first.p, first.n)))
        return rc;
    if (out != MF_TIME_NONE && (rc = emit_code(r, out, "ICU_DISCHARGE/", last.p, last.n)))
        return rc;
    return 0;
}

enum { SRV_SUBJECT, SRV_TIME, SRV_CURR };

/* SERVICE/<curr_service> at transfertime. */
static int row_services(struct row *r)
{
    int64_t t;
    int rc;
    struct mf_csv_field s = fld(r, SRV_CURR);
    if ((rc = get_time(r, SRV_TIME, 1, &t)))
        return rc;
    if (s.n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, SRV_CURR, "empty service");
    return emit_code(r, t, "SERVICE/", s.p, s.n);
}

/* --- diagnoses_icd, procedures_icd ---------------------------------------------------- */

enum { ICD_SUBJECT, ICD_HADM, ICD_CODE, ICD_VERSION };

/* Set r->code to prefix + code with a dot after its first dot_at characters (when longer). */
static int make_dotted(struct row *r, const char *prefix, struct mf_csv_field f, size_t dot_at)
{
    size_t head = dot_at && f.n > dot_at ? dot_at : f.n;
    int rc = make_code(r, prefix, f.p, head);
    if (rc == 0 && dot_at && f.n > dot_at &&
        (mf_buf_putc(&r->code, '.') || mf_buf_append(&r->code, f.p + dot_at, f.n - dot_at)))
        rc = mf_err_set(&r->c->err, MF_ENOMEM, "out of memory");
    return rc;
}

/* The discharge time of the row's admission, or a reference issue. */
static int admission_time(struct row *r, int64_t *t)
{
    struct mf_csv_field hadm = fld(r, ICD_HADM);
    if (hadm.n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, ICD_HADM, "empty admission id");
    const struct mf_strmap_slot *sl = mf_strmap_get(&r->m->hadm, hadm.p, hadm.n);
    if (sl == NULL)
        return bad(r, MF_ISSUE_REFERENCE, ICD_HADM, "admission id not in admissions");
    *t = (int64_t)sl->value;
    return 0;
}

/* Check code and version columns; *version gets 9 or 10. */
static int icd_fields(struct row *r, long *version)
{
    if (fld(r, ICD_CODE).n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, ICD_CODE, "empty code");
    if (parse_int(fld(r, ICD_VERSION), version) || (*version != 9 && *version != 10))
        return bad(r, MF_ISSUE_BAD_VALUE, ICD_VERSION, "not 9 or 10");
    return 0;
}

/* ICD9CM/<code> or ICD10CM/<code>, dotted, at the admission's dischtime. */
static int row_diagnoses(struct row *r)
{
    long version;
    int64_t t;
    int rc;
    if ((rc = icd_fields(r, &version)) || (rc = admission_time(r, &t)))
        return rc;
    struct mf_csv_field code = fld(r, ICD_CODE);
    if (version == 10)
        rc = make_dotted(r, "ICD10CM/", code, 3);
    else
        rc = make_dotted(r, "ICD9CM/", code, code.p[0] == 'E' ? 4 : 3);
    static const struct mf_csv_field none = {"", 0};
    return rc ? rc : emit(r, t, NAN, none, none);
}

/* ICD9PCS/<code> with a dot after two characters, or ICD10PCS/<code>, at dischtime. */
static int row_procedures(struct row *r)
{
    long version;
    int64_t t;
    int rc;
    if ((rc = icd_fields(r, &version)) || (rc = admission_time(r, &t)))
        return rc;
    struct mf_csv_field code = fld(r, ICD_CODE);
    if (version == 10)
        rc = make_dotted(r, "ICD10PCS/", code, 0);
    else
        rc = make_dotted(r, "ICD9PCS/", code, 2);
    static const struct mf_csv_field none = {"", 0};
    return rc ? rc : emit(r, t, NAN, none, none);
}

/* --- labevents, prescriptions, omr ---------------------------------------------------- */

enum { LAB_SUBJECT, LAB_ITEM, LAB_TIME, LAB_VALUE, LAB_VALUENUM, LAB_UOM };

/* LAB/<itemid> at charttime with valuenum and its unit, else with value as text. */
static int row_labevents(struct row *r)
{
    static const struct mf_csv_field none = {"", 0};
    int64_t t;
    double v = NAN;
    int rc;
    struct mf_csv_field item = fld(r, LAB_ITEM), num = fld(r, LAB_VALUENUM);
    if (item.n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, LAB_ITEM, "empty item id");
    if ((rc = get_time(r, LAB_TIME, 1, &t)))
        return rc;
    if (num.n && parse_number(num.p, num.n, &v))
        return bad(r, MF_ISSUE_BAD_VALUE, LAB_VALUENUM, "not a finite decimal number");
    if ((rc = make_code(r, "LAB/", item.p, item.n)))
        return rc;
    if (num.n)
        return emit(r, t, v, fld(r, LAB_UOM), none);
    return emit(r, t, NAN, none, fld(r, LAB_VALUE));
}

enum { RX_SUBJECT, RX_START, RX_DRUG, RX_NDC };

/* NDC/<ndc> (or MEDICATION/<drug> when ndc is empty or "0") at starttime. */
static int row_prescriptions(struct row *r)
{
    int64_t t;
    int rc;
    struct mf_csv_field ndc = fld(r, RX_NDC), drug = fld(r, RX_DRUG);
    if ((rc = get_time(r, RX_START, 1, &t)))
        return rc;
    if (ndc.n && !fld_is(ndc, "0"))
        return emit_code(r, t, "NDC/", ndc.p, ndc.n);
    if (drug.n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, RX_DRUG, "empty drug and no NDC");
    return emit_code(r, t, "MEDICATION/", drug.p, drug.n);
}

enum { OMR_SUBJECT, OMR_DATE, OMR_NAME, OMR_VALUE };

/* OMR/<result_name> at chartdate with a number or text; a "Blood Pressure*" value "S/D"
 * gives OMR/<result_name>/SYSTOLIC and .../DIASTOLIC. */
static int row_omr(struct row *r)
{
    static const struct mf_csv_field none = {"", 0};
    int64_t t;
    double v, sys, dia;
    int rc;
    struct mf_csv_field name = fld(r, OMR_NAME), val = fld(r, OMR_VALUE);
    if ((rc = get_time(r, OMR_DATE, 1, &t)))
        return rc;
    if (name.n == 0)
        return bad(r, MF_ISSUE_MISSING_FIELD, OMR_NAME, "empty result name");
    const char *slash = memchr(val.p, '/', val.n);
    if (name.n >= 14 && memcmp(name.p, "Blood Pressure", 14) == 0 && slash &&
        parse_number(val.p, (size_t)(slash - val.p), &sys) == 0 &&
        parse_number(slash + 1, val.n - (size_t)(slash - val.p) - 1, &dia) == 0) {
        if ((rc = make_code3(r, "OMR/", name, "/SYSTOLIC")) || (rc = emit(r, t, sys, none, none)) ||
            (rc = make_code3(r, "OMR/", name, "/DIASTOLIC")))
            return rc;
        return emit(r, t, dia, none, none);
    }
    if ((rc = make_code(r, "OMR/", name.p, name.n)))
        return rc;
    if (parse_number(val.p, val.n, &v) == 0)
        return emit(r, t, v, none, none);
    return emit(r, t, NAN, none, val);
}

/* --- tables and the driver -------------------------------------------------------------- */

static const struct table admissions_table = {
    "hosp",
    "admissions",
    1,
    {"subject_id", "hadm_id", "admittime", "dischtime", "deathtime", "admission_type",
     "discharge_location", "race", "edregtime", "edouttime", "hospital_expire_flag", NULL},
    row_admissions};

/* Tables read in parallel after admissions. */
static const struct table tables[] = {
    {"hosp",
     "patients",
     1,
     {"subject_id", "gender", "anchor_age", "anchor_year", "dod", NULL},
     row_patients},
    {"hosp",
     "labevents",
     0,
     {"subject_id", "itemid", "charttime", "value", "valuenum", "valueuom", NULL},
     row_labevents},
    {"hosp",
     "diagnoses_icd",
     0,
     {"subject_id", "hadm_id", "icd_code", "icd_version", NULL},
     row_diagnoses},
    {"hosp",
     "procedures_icd",
     0,
     {"subject_id", "hadm_id", "icd_code", "icd_version", NULL},
     row_procedures},
    {"hosp",
     "prescriptions",
     0,
     {"subject_id", "starttime", "drug", "ndc", NULL},
     row_prescriptions},
    {"hosp", "omr", 0, {"subject_id", "chartdate", "result_name", "result_value", NULL}, row_omr},
    {"hosp",
     "transfers",
     0,
     {"subject_id", "eventtype", "careunit", "intime", NULL},
     row_transfers},
    {"hosp", "services", 0, {"subject_id", "transfertime", "curr_service", NULL}, row_services},
    {"icu",
     "icustays",
     0,
     {"subject_id", "first_careunit", "last_careunit", "intime", "outtime", NULL},
     row_icustays},
};

/* Report a failure of the CSV reader as an issue.  Returns 0 when reading may go on with the
 * next record, 1 when the rest of the file is lost (reported; rows before it stay), or the
 * error that stops the run. */
static int csv_issue(struct row *r, const struct mf_err *cerr)
{
    struct mf_csv *csv = r->csv;
    struct mf_issue_loc loc = {r->file, csv->line, csv->offset, NULL};
    enum mf_issue_kind kind;
    const char *what;
    switch (csv->error) {
    case MF_CSV_ERR_QUOTES:
        kind = MF_ISSUE_CSV_COLUMNS;
        what = "malformed quotes; row skipped";
        break;
    case MF_CSV_ERR_FIELDS:
        kind = MF_ISSUE_TOO_BIG;
        what = "too many fields; row skipped";
        break;
    case MF_CSV_ERR_COMPRESSION:
        /* the reader names the uncompressed offset where the stream broke */
        kind = MF_ISSUE_COMPRESSION;
        loc.line = csv->r.line + 1;
        loc.offset = csv->r.offset;
        what = "compressed data is truncated or corrupt; rows before it were kept";
        break;
    case MF_CSV_ERR_RECORD_SIZE:
        kind = MF_ISSUE_TOO_BIG;
        loc.line = csv->r.line + 1;
        loc.offset = csv->r.offset;
        what = "record over the size limit; rest of the file skipped";
        break;
    case MF_CSV_ERR_UNTERMINATED:
        kind = MF_ISSUE_CSV_COLUMNS;
        what = "quoted field not closed at the end of the file; last row skipped";
        break;
    case MF_CSV_ERR_NO_HEADER:
        kind = MF_ISSUE_CSV_COLUMNS;
        loc.line = 1;
        loc.offset = 0;
        what = "empty file, no header row; table skipped";
        break;
    default:
        if (cerr->code == MF_ENOMEM)
            return mf_err_set(&r->c->err, MF_ENOMEM, "out of memory");
        kind = MF_ISSUE_IO;
        loc.line = 0;
        loc.offset = -1;
        what = "cannot read the file; rest of it skipped";
        break;
    }
    mf_ingest_begin_record(r->c);
    int rc = mf_ingest_issue(r->c, kind, &loc, "%s", what);
    mf_ingest_drop_record(r->c);
    if (rc)
        return rc;
    return mf_csv_recoverable(csv) ? 0 : 1;
}

/* Look up the table's columns; a header that lacks one is reported and the table skipped
 * (returns 1), or the run stops under --strict. */
static int find_columns(struct row *r)
{
    char missing[512];
    size_t used = 0;
    int first = -1;
    missing[0] = '\0';
    for (int k = 0; r->t->cols[k]; k++) {
        r->col[k] = mf_csv_column(r->csv, r->t->cols[k]);
        if (r->col[k] >= 0)
            continue;
        if (first < 0)
            first = k;
        int w = snprintf(missing + used, sizeof missing - used, "%s'%s'", used ? ", " : "",
                         r->t->cols[k]);
        if (w > 0 && (size_t)w < sizeof missing - used)
            used += (size_t)w;
    }
    if (first < 0)
        return 0;
    struct mf_issue_loc loc = {r->file, 1, 0, r->t->cols[first]};
    mf_ingest_begin_record(r->c);
    int rc = mf_ingest_issue(r->c, MF_ISSUE_CSV_COLUMNS, &loc,
                             "header lacks column %s; table skipped", missing);
    mf_ingest_drop_record(r->c);
    return rc ? rc : 1;
}

/* Whether another thread has stopped the run. */
static int stopped(const int *stop)
{
    int s;
#pragma omp atomic read
    s = *stop;
    return s;
}

/* Map every row of one table file.  Returns 0 (bad input reported and skipped) or the error
 * that stops the run, with c->err set. */
static int run_table(struct mf_ingest_ctx *c, struct mimic *m, const struct job *j, const int *stop)
{
    struct mf_csv csv;
    struct mf_err cerr = {0};
    struct row r = {0};
    r.c = c;
    r.m = m;
    r.t = j->t;
    r.csv = &csv;
    r.file = j->path;
    c->file = j->path;
    int rc = mf_csv_open(&csv, j->path, NULL, &cerr);
    if (rc == 0)
        rc = mf_csv_read_header(&csv, &cerr);
    if (rc) {
        rc = csv_issue(&r, &cerr);
        goto out;
    }
    rc = find_columns(&r);
    if (rc)
        goto out;
    for (;;) {
        if (stopped(stop)) {
            rc = 0;
            break;
        }
        mf_err_clear(&cerr);
        rc = mf_csv_next(&csv, &cerr);
        if (rc == 0)
            break;
        if (rc < 0) {
            rc = csv_issue(&r, &cerr);
            if (rc == 0)
                continue;
            break;
        }
        mf_ingest_begin_record(c);
        if (csv.nf != csv.n_names) {
            char what[96];
            snprintf(what, sizeof what, "row has %zu fields, the header %zu; row skipped", csv.nf,
                     csv.n_names);
            rc = bad(&r, MF_ISSUE_CSV_COLUMNS, -1, what);
        } else {
            r.subject = fld(&r, 0);
            if (r.subject.n == 0)
                rc = bad(&r, MF_ISSUE_MISSING_FIELD, 0, "empty subject id");
            else
                rc = j->t->row(&r);
        }
        if (rc == 0)
            rc = mf_ingest_end_record(c);
        else if (rc == SKIPPED)
            rc = 0;
        if (rc < 0)
            break;
    }
out:
    if (rc > 0)
        rc = 0;
    if (rc < 0 && c->err.code == 0) {
        if (cerr.code)
            mf_err_set(&c->err, rc, "%s", cerr.msg); /* names the file and line already */
        else
            mf_err_set(&c->err, rc, "'%s': line %lld: %s", j->path, (long long)csv.line,
                       mf_strerror(rc));
    }
    mf_buf_release(&r.code);
    mf_csv_close(&csv);
    c->file = NULL;
    return rc;
}

/* Emit one static RACE/<race> per subject, from their earliest admission with a race. */
static int emit_race(struct mf_ingest_ctx *c, const struct mimic *m)
{
    struct mf_buf code = MF_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < m->subj.cap; i++) {
        const struct mf_strmap_slot *sl = &m->subj.slots[i];
        if (sl->key_off == UINT64_MAX)
            continue;
        const struct subj *s = &m->subjs[sl->value];
        if (s->race == NULL)
            continue;
        mf_buf_reset(&code);
        if (mf_buf_puts(&code, "RACE/") || mf_buf_append(&code, s->race, s->race_len)) {
            rc = mf_err_set(&c->err, MF_ENOMEM, "out of memory");
            goto out;
        }
        struct mf_event ev = {.subject = mf_strmap_key(&m->subj, sl),
                              .subject_len = sl->key_len,
                              .time = MF_TIME_NONE,
                              .code = code.data,
                              .code_len = code.len,
                              .value = NAN};
        mf_ingest_begin_record(c);
        rc = mf_ingest_emit(c, &ev);
        if (rc == 0)
            rc = mf_ingest_end_record(c);
        if (rc)
            goto out;
    }
out:
    mf_buf_release(&code);
    return rc;
}

/* Find DIR/SUB/NAME.csv.gz or DIR/SUB/NAME.csv (the .csv.gz when both exist).  Sets *path
 * (caller frees) or leaves it NULL when neither exists. */
static int find_table(const char *dir, const struct table *t, char **path, int64_t *size)
{
    static const char *const suffix[] = {".csv.gz", ".csv"};
    struct mf_buf b = MF_BUF_INIT;
    *path = NULL;
    *size = 0;
    for (int k = 0; k < 2; k++) {
        mf_buf_reset(&b);
        if (mf_buf_printf(&b, "%s/%s/%s%s", dir, t->sub, t->name, suffix[k])) {
            mf_buf_release(&b);
            free(*path);
            *path = NULL;
            return MF_ENOMEM;
        }
        if (!mf_fs_exists(b.data))
            continue;
        if (*path) {
            mf_log_info("both '%s' and '%s' exist; reading the .csv.gz", *path, b.data);
            break;
        }
        struct stat st;
        if (stat(b.data, &st) == 0)
            *size = (int64_t)st.st_size;
        *path = mf_buf_detach(&b, NULL);
    }
    mf_buf_release(&b);
    return 0;
}

/* Larger files first, so the longest table starts at once. */
static int by_size_desc(const void *a, const void *b)
{
    const struct job *x = a, *y = b;
    return (x->size < y->size) - (x->size > y->size);
}

int mf_mimic_ingest_dir(struct mf_ingest_ctx *ctxs, int n, const char *dir, struct mf_err *err)
{
    struct mimic m = {0};
    mf_strmap_init(&m.hadm);
    mf_strmap_init(&m.subj);
    size_t n_tables = sizeof tables / sizeof tables[0];
    struct job jobs[sizeof tables / sizeof tables[0]];
    struct job adm = {&admissions_table, NULL, 0};
    int n_jobs = 0, rc = 0, stop = 0, fail_t = -1;
    struct mf_buf hosp = MF_BUF_INIT;

    if (n < 1)
        return mf_err_set(err, MF_EINVAL, "no ingest context");
    if (!mf_fs_is_dir(dir))
        return mf_err_set(err, MF_ENOTFOUND, "'%s' is not a folder", dir);
    if (mf_buf_printf(&hosp, "%s/hosp", dir)) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    if (!mf_fs_is_dir(hosp.data)) {
        rc = mf_err_set(err, MF_ENOTFOUND, "'%s' has no hosp/ folder; not a MIMIC-IV folder", dir);
        goto out;
    }
    if ((rc = find_table(dir, &admissions_table, &adm.path, &adm.size))) {
        mf_err_set(err, rc, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_tables; i++) {
        struct job *j = &jobs[n_jobs];
        j->t = &tables[i];
        if ((rc = find_table(dir, j->t, &j->path, &j->size))) {
            mf_err_set(err, rc, "out of memory");
            goto out;
        }
        if (j->path) {
            n_jobs++;
        } else if (j->t->required) {
            rc = mf_err_set(err, MF_ENOTFOUND, "missing table '%s/%s/%s.csv.gz' (or .csv)", dir,
                            j->t->sub, j->t->name);
            goto out;
        } else {
            mf_log_info("no table '%s/%s/%s.csv.gz' (or .csv); skipped", dir, j->t->sub,
                        j->t->name);
        }
    }
    if (adm.path == NULL) {
        rc = mf_err_set(err, MF_ENOTFOUND, "missing table '%s/hosp/admissions.csv.gz' (or .csv)",
                        dir);
        goto out;
    }

    /* admissions alone, then what needs its maps */
    if ((rc = run_table(&ctxs[0], &m, &adm, &stop)) || (rc = emit_race(&ctxs[0], &m))) {
        fail_t = 0;
        goto out;
    }
    qsort(jobs, (size_t)n_jobs, sizeof jobs[0], by_size_desc);
#pragma omp parallel for schedule(dynamic) num_threads(n)
    for (int i = 0; i < n_jobs; i++) {
        int t = omp_get_thread_num();
        if (stopped(&stop))
            continue;
        int jrc = run_table(&ctxs[t], &m, &jobs[i], &stop);
        if (jrc) {
#pragma omp critical(mf_mimic_fail)
            if (rc == 0) {
                rc = jrc;
                fail_t = t;
            }
#pragma omp atomic write
            stop = 1;
        }
    }

out:
    if (rc && fail_t >= 0)
        mf_err_set(err, rc, "%s", ctxs[fail_t].err.msg);
    for (int i = 0; i < n_jobs; i++)
        free(jobs[i].path);
    free(adm.path);
    mf_buf_release(&hosp);
    mimic_free(&m);
    return rc;
}
