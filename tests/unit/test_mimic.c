/* test_mimic.c - unit tests of the MIMIC-IV parser (src/ingest/mimic.c) through mf_ingest_run:
 * tiny made-up tables are written to a scratch folder, ingested, and the store read back and
 * compared event by event.  Every kind of bad input is covered: missing columns, rows with
 * extra or missing fields, bad dates and numbers, unknown admissions, truncated gzip, missing
 * tables, empty folders, --strict, and that no field value reaches a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <zlib.h>

#include "core/fs.h"
#include "core/log.h"
#include "ingest/ingest.h"
#include "store/store.h"

static char tmpdir[512];

/* One table of a synthetic data set: a path under the data folder and its CSV text. */
struct tfile {
    const char *rel;
    const char *text; /* NULL: leave the file out */
};

#define ADM_HEADER                                                                                 \
    "subject_id,hadm_id,admittime,dischtime,deathtime,admission_type,admit_provider_id,"           \
    "admission_location,discharge_location,insurance,language,marital_status,race,edregtime,"      \
    "edouttime,hospital_expire_flag\n"
#define LAB_HEADER                                                                                 \
    "labevent_id,subject_id,hadm_id,specimen_id,itemid,order_provider_id,charttime,storetime,"     \
    "value,valuenum,valueuom,ref_range_lower,ref_range_upper,flag,priority,comments\n"
#define RX_HEADER                                                                                  \
    "subject_id,hadm_id,pharmacy_id,poe_id,poe_seq,order_provider_id,starttime,stoptime,"          \
    "drug_type,drug,formulary_drug_cd,gsn,ndc,prod_strength,form_rx,dose_val_rx,dose_unit_rx,"     \
    "form_val_disp,form_unit_disp,doses_per_24_hrs,route\n"

/* The base data set: three made-up subjects. */
static const struct tfile base[] = {
    {"hosp/patients.csv.gz", "subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod\n"
                             "1001,F,50,2150,2011 - 2013,\n"
                             "1002,M,70,2160,2011 - 2013,2163-05-01\n"
                             "1003,F,91,2170,2011 - 2013,2171-01-02\n"},
    {"hosp/admissions.csv.gz", ADM_HEADER
     "1001,5001,2150-03-01 10:00:00,2150-03-05 12:00:00,,URGENT,P1,EMERGENCY ROOM,"
     "HOME,Other,ENGLISH,SINGLE,WHITE,2150-03-01 08:00:00,2150-03-01 10:30:00,0\n"
     "1001,5002,2149-01-01 00:00:00,2149-01-02 00:00:00,,ELECTIVE,P1,PHYSICIAN "
     "REFERRAL,,Other,ENGLISH,SINGLE,ASIAN,,,0\n"
     "1003,5003,2171-01-01 09:00:00,2171-01-01 20:00:00,2171-01-01 20:00:00,EW EMER.,"
     "P2,EMERGENCY ROOM,DIED,Medicare,ENGLISH,MARRIED,\"BLACK/AFRICAN, AMERICAN\",,,1\n"},
    {"hosp/transfers.csv.gz", "subject_id,hadm_id,transfer_id,eventtype,careunit,intime,outtime\n"
                              "1001,5001,1,ED,Emergency Department,2150-03-01 08:00:00,2150-03-01 "
                              "10:00:00\n"
                              "1001,5001,2,admit,Medicine,2150-03-01 10:00:00,2150-03-05 12:00:00\n"
                              "1001,5001,3,discharge,,2150-03-05 12:00:00,\n"
                              "1003,5003,4,transfer,,2171-01-01 12:00:00,\n"},
    {"icu/icustays.csv.gz",
     "subject_id,hadm_id,stay_id,first_careunit,last_careunit,intime,outtime,los\n"
     "1003,5003,7001,Medical Intensive Care Unit (MICU),Coronary Care Unit (CCU),2171-01-01 "
     "12:00:00,2171-01-01 19:00:00,0.29\n"},
    {"hosp/diagnoses_icd.csv.gz", "subject_id,hadm_id,seq_num,icd_code,icd_version\n"
                                  "1001,5001,1,E119,10\n"
                                  "1001,5001,2,V707,9\n"
                                  "1001,5002,1,E8859,9\n"
                                  "1001,5002,2,4019,9\n"
                                  "1003,5003,1,I10,10\n"
                                  "1003,5003,2,E880,9\n"},
    {"hosp/procedures_icd.csv.gz", "subject_id,hadm_id,seq_num,chartdate,icd_code,icd_version\n"
                                   "1001,5001,1,2150-03-02,3961,9\n"
                                   "1003,5003,1,2171-01-01,0DTJ4ZZ,10\n"},
    {"hosp/labevents.csv.gz",
     LAB_HEADER "1,1001,5001,1,50912,,2150-03-01 11:00:00,,1.2,1.2,mg/dL,,,,ROUTINE,\n"
                "2,1001,,2,51237,,2150-03-02 11:00:00,,1,1,,,,,STAT,\"comment, with comma\"\n"
                "3,1003,5003,3,50920,,2171-01-01 13:00:00,,NEG,,,,,,ROUTINE,\n"
                "4,1003,5003,3,50921,,2171-01-01 13:00:00,,,,,,,,ROUTINE,\"multi\nline\"\n"
                "5,1002,,4,50800,,2161-01-01 00:00:00,,___,-0.5,units,,,,ROUTINE,\n"},
    {"hosp/prescriptions.csv.gz",
     RX_HEADER "1001,5001,1,,,,2150-03-01 12:00:00,,MAIN,Heparin,HEP5I,,63323026201,,,,,,,,SC\n"
               "1001,5001,2,,,,2150-03-01 13:00:00,,MAIN,Insulin,INS,,0,,,,,,,,SC\n"
               "1001,5001,3,,,,2150-03-01 14:00:00,,MAIN,Sodium Chloride 0.9%,NS,,,,,,,,,,IV\n"},
    {"hosp/omr.csv.gz", "subject_id,chartdate,seq_num,result_name,result_value\n"
                        "1001,2150-02-01,1,Blood Pressure,120/80\n"
                        "1001,2150-02-01,1,Weight (Lbs),150.5\n"
                        "1001,2150-02-01,1,Blood Pressure Sitting,high\n"
                        "1002,2161-02-01,1,eGFR,>60\n"},
    {"hosp/services.csv.gz", "subject_id,hadm_id,transfertime,prev_service,curr_service\n"
                             "1001,5001,2150-03-01 10:00:00,,MED\n"},
};
#define N_BASE (sizeof base / sizeof base[0])

/* The events the base data set must give, per subject ("<time> <code>[ =value][ unit]
 * [ 'text']"), in any order. */
static const char *const want_1001[] = {"static GENDER/F",
                                        "static RACE/ASIAN",
                                        "2100-01-01T00:00:00Z MEDS_BIRTH",
                                        "2149-01-01T00:00:00Z HOSPITAL_ADMISSION/ELECTIVE",
                                        "2149-01-02T00:00:00Z HOSPITAL_DISCHARGE/UNKNOWN",
                                        "2149-01-02T00:00:00Z ICD9CM/E885.9",
                                        "2149-01-02T00:00:00Z ICD9CM/401.9",
                                        "2150-02-01T00:00:00Z OMR/Blood Pressure/SYSTOLIC =120",
                                        "2150-02-01T00:00:00Z OMR/Blood Pressure/DIASTOLIC =80",
                                        "2150-02-01T00:00:00Z OMR/Weight (Lbs) =150.5",
                                        "2150-02-01T00:00:00Z OMR/Blood Pressure Sitting 'high'",
                                        "2150-03-01T08:00:00Z ED_REGISTRATION",
                                        "2150-03-01T08:00:00Z TRANSFER/Emergency Department",
                                        "2150-03-01T10:00:00Z HOSPITAL_ADMISSION/URGENT",
                                        "2150-03-01T10:00:00Z TRANSFER/Medicine",
                                        "2150-03-01T10:00:00Z SERVICE/MED",
                                        "2150-03-01T10:30:00Z ED_OUT",
                                        "2150-03-01T11:00:00Z LAB/50912 =1.2 mg/dL",
                                        "2150-03-01T12:00:00Z NDC/63323026201",
                                        "2150-03-01T13:00:00Z MEDICATION/Insulin",
                                        "2150-03-01T14:00:00Z MEDICATION/Sodium Chloride 0.9%",
                                        "2150-03-02T11:00:00Z LAB/51237 =1",
                                        "2150-03-05T12:00:00Z HOSPITAL_DISCHARGE/HOME",
                                        "2150-03-05T12:00:00Z ICD10CM/E11.9",
                                        "2150-03-05T12:00:00Z ICD9CM/V70.7",
                                        "2150-03-05T12:00:00Z ICD9PCS/39.61",
                                        NULL};
static const char *const want_1002[] = {"static GENDER/M",
                                        "2090-01-01T00:00:00Z MEDS_BIRTH",
                                        "2161-01-01T00:00:00Z LAB/50800 =-0.5 units",
                                        "2161-02-01T00:00:00Z OMR/eGFR '>60'",
                                        "2163-05-01T00:00:00Z MEDS_DEATH",
                                        NULL};
static const char *const want_1003[] = {
    "static GENDER/F",
    "static RACE/BLACK/AFRICAN, AMERICAN",
    "2079-01-01T00:00:00Z MEDS_BIRTH",
    "2171-01-01T09:00:00Z HOSPITAL_ADMISSION/EW EMER.",
    "2171-01-01T12:00:00Z TRANSFER/transfer",
    "2171-01-01T12:00:00Z ICU_ADMISSION/Medical Intensive Care Unit (MICU)",
    "2171-01-01T13:00:00Z LAB/50920 'NEG'",
    "2171-01-01T13:00:00Z LAB/50921",
    "2171-01-01T19:00:00Z ICU_DISCHARGE/Coronary Care Unit (CCU)",
    "2171-01-01T20:00:00Z HOSPITAL_DISCHARGE/DIED",
    "2171-01-01T20:00:00Z MEDS_DEATH", /* the in-hospital death, not dod */
    "2171-01-01T20:00:00Z ICD10CM/I10",
    "2171-01-01T20:00:00Z ICD9CM/E880",
    "2171-01-01T20:00:00Z ICD10PCS/0DTJ4ZZ",
    NULL};

static int setup(void **state)
{
    (void)state;
    const char *base_dir = getenv("MEDFM_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_mimic-%ld", base_dir && *base_dir ? base_dir : "/tmp",
             (long)getpid());
    struct mf_err err = {0};
    mf_log_set_level(MF_LOG_ERROR);
    return mf_fs_mkdir_p(tmpdir, &err);
}

static int teardown(void **state)
{
    (void)state;
    mf_fs_rm_rf(tmpdir);
    return 0;
}

/* Write text to path, gzip-compressed when the name ends in ".gz". */
static void write_file(const char *path, const char *text, size_t n)
{
    size_t len = strlen(path);
    if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (n)
            assert_int_equal(gzwrite(f, text, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
}

/* Make tmpdir/name/ with the base tables, each replaced by the override of the same rel path
 * (text NULL: removed); overrides with a new rel path are added.  Returns the folder (static
 * storage). */
static const char *make_dataset(const char *name, const struct tfile *over, size_t n_over)
{
    static char dir[1024];
    char path[1200];
    struct mf_err err = {0};
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    mf_fs_rm_rf(dir);
    snprintf(path, sizeof path, "%s/hosp", dir);
    assert_int_equal(mf_fs_mkdir_p(path, &err), 0);
    snprintf(path, sizeof path, "%s/icu", dir);
    assert_int_equal(mf_fs_mkdir_p(path, &err), 0);
    for (size_t i = 0; i < N_BASE; i++) {
        const char *text = base[i].text;
        for (size_t k = 0; k < n_over; k++)
            if (strcmp(over[k].rel, base[i].rel) == 0)
                text = over[k].text;
        if (text == NULL)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, base[i].rel);
        write_file(path, text, strlen(text));
    }
    for (size_t k = 0; k < n_over; k++) {
        int known = 0;
        for (size_t i = 0; i < N_BASE; i++)
            known |= strcmp(over[k].rel, base[i].rel) == 0;
        if (known || over[k].text == NULL)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, over[k].rel);
        write_file(path, over[k].text, strlen(over[k].text));
    }
    return dir;
}

/* Ingest dir into tmpdir/<store>; returns mf_ingest_run's code with err filled. */
static int ingest(const char *dir, const char *store, int strict, int threads,
                  struct mf_ingest_result *res, struct mf_err *err, char *out, size_t out_n)
{
    snprintf(out, out_n, "%s/%s", tmpdir, store);
    struct mf_ingest_opts o = {0};
    const char *paths[1] = {dir};
    o.format = MF_FORMAT_MIMIC_IV;
    o.paths = paths;
    o.n_paths = 1;
    o.out = out;
    o.strict = strict;
    o.no_deid = 1;
    o.threads = threads;
    mf_err_clear(err);
    return mf_ingest_run(&o, res, err);
}

/* One event as a line in the form of the want_* tables. */
static void event_line(const struct mf_store *s, const struct mf_timeline *tl, size_t i, char *out,
                       size_t n)
{
    char t[32];
    mf_time_format(tl->time[i], t);
    struct mf_str code = mf_store_code(s, tl->code[i]);
    struct mf_str unit = mf_store_unit(s, tl->unit[i]);
    struct mf_str text = mf_timeline_text(tl, i);
    size_t k = (size_t)snprintf(out, n, "%s %.*s", t[0] ? t : "static", (int)code.n, code.p);
    if (!isnan(tl->value[i]) && k < n)
        k += (size_t)snprintf(out + k, n - k, " =%.15g", tl->value[i]);
    if (unit.n && k < n)
        k += (size_t)snprintf(out + k, n - k, " %.*s", (int)unit.n, unit.p);
    if (text.n && k < n)
        snprintf(out + k, n - k, " '%.*s'", (int)text.n, text.p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Assert that subject's timeline in the store is exactly want (as a multiset). */
static void expect_timeline(const struct mf_store *s, const char *subject, const char *const *want)
{
    struct mf_timeline tl;
    size_t nw = 0;
    while (want[nw])
        nw++;
    assert_int_equal(mf_store_find(s, subject, strlen(subject), &tl), 0);
    char **got = calloc(tl.n + 1, sizeof *got);
    const char **w = calloc(nw + 1, sizeof *w);
    assert_non_null(got);
    assert_non_null(w);
    for (size_t i = 0; i < tl.n; i++) {
        got[i] = malloc(512);
        assert_non_null(got[i]);
        event_line(s, &tl, i, got[i], 512);
    }
    memcpy(w, want, nw * sizeof *w);
    qsort(got, tl.n, sizeof *got, cmp_str);
    qsort(w, nw, sizeof *w, cmp_str);
    int same = tl.n == nw;
    for (size_t i = 0; same && i < nw; i++)
        same = strcmp(got[i], w[i]) == 0;
    if (!same) {
        print_error("subject %s: got %zu events, want %zu\n", subject, tl.n, nw);
        for (size_t i = 0; i < tl.n; i++)
            print_error("  got  %s\n", got[i]);
        for (size_t i = 0; i < nw; i++)
            print_error("  want %s\n", w[i]);
    }
    for (size_t i = 0; i < tl.n; i++)
        free(got[i]);
    free(got);
    free(w);
    assert_true(same);
}

/* Open the store at path (fails the test when it cannot). */
static struct mf_store *open_store(const char *path)
{
    struct mf_store *s = NULL;
    struct mf_err err = {0};
    if (mf_store_open(path, &s, &err) != 0)
        fail_msg("cannot open store: %s", err.msg);
    return s;
}

/* Number of events of subject whose code starts with prefix. */
static size_t count_codes(const struct mf_store *s, const char *subject, const char *prefix)
{
    struct mf_timeline tl;
    size_t n = 0;
    if (mf_store_find(s, subject, strlen(subject), &tl) != 0)
        return 0;
    for (size_t i = 0; i < tl.n; i++) {
        struct mf_str code = mf_store_code(s, tl.code[i]);
        if (code.n >= strlen(prefix) && memcmp(code.p, prefix, strlen(prefix)) == 0)
            n++;
    }
    return n;
}

/* The issues of the error report <store>.errors.ndjson, as a cJSON array (caller deletes);
 * an empty array when there is no report. */
static cJSON *read_report(const char *store)
{
    char path[1200];
    snprintf(path, sizeof path, "%s.errors.ndjson", store);
    cJSON *arr = cJSON_CreateArray();
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return arr;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        if (o == NULL)
            fail_msg("report line is not JSON: %s", line);
        cJSON_AddItemToArray(arr, o);
    }
    fclose(f);
    return arr;
}

/* Assert that the report holds exactly one issue, of kind, in a file ending with file_end, at
 * line (0: not checked), for column path (NULL: JSON null). */
static void expect_one_issue(const char *store, const char *kind, const char *file_end, int line,
                             const char *path)
{
    cJSON *arr = read_report(store);
    if (cJSON_GetArraySize(arr) != 1) {
        char *s = cJSON_Print(arr);
        fail_msg("want one issue, got: %s", s);
    }
    const cJSON *o = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(cJSON_GetObjectItem(o, "kind")->valuestring, kind);
    const char *file = cJSON_GetObjectItem(o, "file")->valuestring;
    assert_non_null(file);
    assert_true(strlen(file) >= strlen(file_end));
    assert_string_equal(file + strlen(file) - strlen(file_end), file_end);
    if (line)
        assert_int_equal(cJSON_GetObjectItem(o, "line")->valueint, line);
    const cJSON *p = cJSON_GetObjectItem(o, "path");
    if (path)
        assert_string_equal(p->valuestring, path);
    else
        assert_true(cJSON_IsNull(p));
    cJSON_Delete(arr);
}

static void test_mapping(void **state)
{
    (void)state;
    const char *dir = make_dataset("good", NULL, 0);
    struct mf_ingest_result res;
    struct mf_err err;
    char out[1200];
    int rc = ingest(dir, "good.store", 0, 3, &res, &err, out, sizeof out);
    if (rc)
        fail_msg("ingest: %s", err.msg);
    assert_int_equal(res.skipped, 0);
    struct mf_store *s = open_store(out);
    assert_int_equal(mf_store_n_patients(s), 3);
    expect_timeline(s, "1001", want_1001);
    expect_timeline(s, "1002", want_1002);
    expect_timeline(s, "1003", want_1003);
    mf_store_close(s);
    cJSON *arr = read_report(out);
    assert_int_equal(cJSON_GetArraySize(arr), 0);
    cJSON_Delete(arr);
}

/* Plain .csv files read the same as .csv.gz; when both exist the .csv.gz wins. */
static void test_plain_csv_and_preference(void **state)
{
    (void)state;
    struct tfile over[2 * N_BASE];
    char names[N_BASE][128];
    for (size_t i = 0; i < N_BASE; i++) {
        snprintf(names[i], sizeof names[i], "%.*s", (int)(strlen(base[i].rel) - 3), base[i].rel);
        over[i].rel = base[i].rel;
        over[i].text = NULL;
        over[N_BASE + i].rel = names[i];
        over[N_BASE + i].text = base[i].text;
    }
    const char *dir = make_dataset("plain", over, 2 * N_BASE);
    struct mf_ingest_result res;
    struct mf_err err;
    char out[1200];
    int rc = ingest(dir, "plain.store", 0, 2, &res, &err, out, sizeof out);
    if (rc)
        fail_msg("ingest: %s", err.msg);
    struct mf_store *s = open_store(out);
    expect_timeline(s, "1001", want_1001);
    expect_timeline(s, "1003", want_1003);
    mf_store_close(s);

    /* a broken services.csv beside a good services.csv.gz is not read */
    struct tfile both[] = {{"hosp/services.csv", "garbage\n\"unclosed"}};
    dir = make_dataset("both", both, 1);
    rc = ingest(dir, "both.store", 1, 2, &res, &err, out, sizeof out);
    if (rc)
        fail_msg("ingest: %s", err.msg);
    s = open_store(out);
    expect_timeline(s, "1001", want_1001);
    mf_store_close(s);
}

/* The same input gives the same store whatever the number of threads. */
static void test_threads_deterministic(void **state)
{
    (void)state;
    const char *dir = make_dataset("threads", NULL, 0);
    struct mf_ingest_result res;
    struct mf_err err;
    char out1[1200], out8[1200];
    assert_int_equal(ingest(dir, "t1.store", 0, 1, &res, &err, out1, sizeof out1), 0);
    assert_int_equal(ingest(dir, "t8.store", 0, 8, &res, &err, out8, sizeof out8), 0);
    struct mf_store *a = open_store(out1), *b = open_store(out8);
    assert_string_equal(mf_store_manifest_sha256(a), mf_store_manifest_sha256(b));
    mf_store_close(a);
    mf_store_close(b);
}

static void test_missing_column(void **state)
{
    (void)state;
    struct tfile over[] = {{"hosp/labevents.csv.gz",
                            "labevent_id,subject_id,itemid,charttime,value,valueuom\n"
                            "1,1001,50912,2150-03-01 11:00:00,1.2,mg/dL\n"}};
    const char *dir = make_dataset("nocol", over, 1);
    struct mf_ingest_result res;
    struct mf_err err;
    char out[1200];
    assert_int_equal(ingest(dir, "nocol.store", 0, 2, &res, &err, out, sizeof out), 0);
    expect_one_issue(out, "csv-columns", "hosp/labevents.csv.gz", 1, "valuenum");
    struct mf_store *s = open_store(out);
    assert_int_equal(count_codes(s, "1001", "LAB/"), 0);
    assert_int_equal(count_codes(s, "1001", "ICD"), 5); /* the other tables are read */
    mf_store_close(s);

    /* --strict: fails, names the file and the column */
    assert_int_equal(ingest(dir, "nocol-strict.store", 1, 2, &res, &err, out, sizeof out),
                     MF_EPARSE);
    assert_non_null(strstr(err.msg, "labevents.csv.gz"));
    assert_non_null(strstr(err.msg, "valuenum"));
    assert_false(mf_fs_exists(out));
}

static void test_extra_and_missing_fields(void **state)
{
    (void)state;
    struct tfile over[] = {{"hosp/diagnoses_icd.csv.gz",
                            "subject_id,hadm_id,seq_num,icd_code,icd_version\n"
                            "1001,5001,1,E119,10\n"
                            "1001,5001,2,V707,9,SECRETEXTRA\n"
                            "1001,5002,1,E8859\n"
                            "1001,5002,2,4019,9\n"}};
    const char *dir = make_dataset("ragged", over, 1);
    struct mf_ingest_result res;
    struct mf_err err;
    char out[1200];
    assert_int_equal(ingest(dir, "ragged.store", 0, 2, &res, &err, out, sizeof out), 0);
    cJSON *arr = read_report(out);
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    int lines = 0;
    for (int i = 0; i < 2; i++) {
        const cJSON *o = cJSON_GetArrayItem(arr, i);
        assert_string_equal(cJSON_GetObjectItem(o, "kind")->valuestring, "csv-columns");
        lines += cJSON_GetObjectItem(o, "line")->valueint;
    }
    assert_int_equal(lines, 3 + 4);
    char *text = cJSON_PrintUnformatted(arr);
    assert_null(strstr(text, "SECRET"));
    free(text);
    cJSON_Delete(arr);
    struct mf_store *s = open_store(out);
    assert_int_equal(count_codes(s, "1001", "ICD10CM/"), 1);
    assert_int_equal(count_codes(s, "1001", "ICD9CM/"), 1);
    mf_store_close(s);
}

static void test_bad_date(void **state)
{
    (void)state;
    struct tfile over[] = {{"hosp/labevents.csv.gz", LAB_HEADER
                            "1,1001,5001,1,50912,,2150-13-01 11:00:00,,1.2,1.2,mg/dL,,,,ROUTINE,\n"
                            "2,1001,,2,51237,,2150-03-02 11:00:00,,1,1,,,,,STAT,\n"},
                           {"hosp/patients.csv.gz",
                            "subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod\n"
                            "1001,F,50,2150,2011 - 2013,\n"
                            "1002,M,70,2160,2011 - 2013,2163-02-30\n"
                            "1003,F,91,2170,2011 - 2013,2171-01-02\n"}};
    const char *dir = make_dataset("baddate", over, 2);
    struct mf_ingest_result res;
    struct mf_err err;
    char out[1200];
    assert_int_equal(ingest(dir, "baddate.store", 0, 2, &res, &err, out, sizeof out), 0);
    cJSON *arr = read_report(out);
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        const cJSON *o = cJSON_GetArrayItem(arr, i);
        assert_string_equal(cJSON_GetObjectItem(o, "kind")->valuestring, "bad-date");
        const char *path = cJSON_GetObjectItem(o, "path")->valuestring;
        int line = cJSON_GetObjectItem(o, "line")->valueint;
        if (strcmp(path, "charttime") == 0 && line == 2)
            seen |= 1;
        if (strcmp(path, "dod") == 0 && line == 3)
            seen |= 2;
    }
    assert_int_equal(seen, 3);
    cJSON_Delete(arr);
    struct mf_store *s = open_store(out);
    assert_int_equal(count_codes(s, "1001", "LAB/"), 1);
    /* the whole patients row of 1002 is dropped: no birth, sex or death */
    assert_int_equal(count_codes(s, "1002", "MEDS_"), 0);
    assert_int_equal(count_codes(s, "1002", "GENDER/"), 0);
    assert_int_equal(count_codes(s, "1002", "OMR/"), 1); /* its other rows stay */
    mf_store_close(s);

    /* --strict stops at the first and leaves a previous store as it was */
    char good[1200];
    assert_int_equal(
        ingest(make_dataset("good2", NULL, 0), "keep.store", 0, 2, &res, &err, good, sizeof good),
        0);
    struct mf_store *before = open_store(good);
    char sha[80];
    snprintf(sha, sizeof sha, "%s", mf_store_manifest_sha256(before));
    mf_store_close(before);
    dir = make_dataset("baddate", over, 2);
    assert_int_equal(ingest(dir, "keep.store", 1, 2, &res, &err, out, sizeof out), MF_EPARSE);
    assert_non_null(strstr(err.msg, "bad-date"));
    struct mf_store *after = open_store(good);
    assert_string_equal(mf_store_manifest_sha256(after), sha);
    mf_store_close(after);
}

static void test_bad_values(void **state)
{
    (void)state;
    struct tfile over[] = {{"hosp/labevents.csv.gz", LAB_HEADER
                            "1,1001,5001,1,50912,,2150-03-01 11:00:00,,1.2,1.2,mg/dL,,,,ROUTINE,\n"
                            "2,1001,,2,51237,,2150-03-02 11:00:00,,x,9SECRET1,,,,,STAT,\n"
                            "3,1001,,2,51237,,2150-03-02 11:00:00,,x,inf,,,,,STAT,\n"
                            "4,1001,,2,51237,,2150-03-02 11:00:00,,x,nan,,,,,STAT,\n"
                            "5,1001,,2,51237,,2150-03-02 11:00:00,,x,1e999,,,,,STAT,\n"
                            "6,1001,,2,51237,,2150-03-02 11:00:00,,x,0x10,,,,,STAT,\n"
                            "7,1001,,2,51237,,2150-03-02 11:00:00,,x,-,,,,,STAT,\n"},
                           {"hosp/diagnoses_icd.csv.gz",
                            "subject_id,hadm_id,seq_num,icd_code,icd_version\n"
                            "1001,5001,1,E119,11\n"
                            "1001,9999,1,E119,10\n"
                            ",5001,1,E119,10\n"}};
    const char *dir = make_dataset("badval", over, 2);
    struct mf_ingest_result res;
    struct mf_err err;
    char out[1200];
    assert_int_equal(ingest(dir, "badval.store", 0, 2, &res, &err, out, sizeof out), 0);
    assert_int_equal(res.issues[MF_ISSUE_BAD_VALUE], 7);
    assert_int_equal(res.issues[MF_ISSUE_REFERENCE], 1);
    assert_int_equal(res.issues[MF_ISSUE_MISSING_FIELD], 1);
    cJSON *arr = read_report(out);
    char *text = cJSON_PrintUnformatted(arr);
    assert_null(strstr(text, "SECRET"));
    assert_non_null(strstr(text, "\"path\":\"valuenum\""));
    assert_non_null(strstr(text, "\"path\":\"icd_version\""));
    assert_non_null(strstr(text, "\"path\":\"hadm_id\""));
    assert_non_null(strstr(text, "\"path\":\"subject_id\""));
    free(text);
    cJSON_Delete(arr);
    struct mf_store *s = open_store(out);
    assert_int_equal(count_codes(s, "1001", "LAB/"), 1);
    assert_int_equal(count_codes(s, "1001", "ICD10CM/"), 0);
    mf_store_close(s);
}

static void test_truncated_gzip(void **state)
{
    (void)state;
    struct mf_buf b = MF_BUF_INIT;
    const int rows = 40000;
    assert_int_equal(mf_buf_puts(&b, LAB_HEADER), 0);
    for (int i = 0; i < rows; i++)
        assert_int_equal(mf_buf_printf(&b,
                                       "%d,1002,,%d,%d,,2161-01-01 %02d:%02d:00,,%d,%d,u,,,,"
                                       "ROUTINE,\n",
                                       i, i, 50000 + i % 300, i / 60 % 24, i % 60, i % 1000,
                                       i % 1000),
                         0);
    char path[1200];
    const char *dir = make_dataset("trunc", NULL, 0);
    snprintf(path, sizeof path, "%s/hosp/labevents.csv.gz", dir);
    write_file(path, b.data, b.len);
    struct mf_buf z = MF_BUF_INIT;
    struct mf_err err = {0};
    assert_int_equal(mf_fs_read_file(path, (size_t)1 << 30, &z, &err), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(z.data, 1, z.len / 2, f), z.len / 2);
    assert_int_equal(fclose(f), 0);

    struct mf_ingest_result res;
    char out[1200];
    assert_int_equal(ingest(dir, "trunc.store", 0, 2, &res, &err, out, sizeof out), 0);
    expect_one_issue(out, "compression", "hosp/labevents.csv.gz", 0, NULL);
    struct mf_store *s = open_store(out);
    size_t labs = count_codes(s, "1002", "LAB/");
    assert_true(labs > 100 && labs < (size_t)rows); /* the rows before the cut are kept */
    assert_int_equal(count_codes(s, "1001", "LAB/"), 0);
    assert_int_equal(count_codes(s, "1001", "ICD"), 5); /* other tables untouched */
    mf_store_close(s);

    assert_int_equal(ingest(dir, "trunc-strict.store", 1, 2, &res, &err, out, sizeof out),
                     MF_EPARSE);
    assert_non_null(strstr(err.msg, "labevents.csv.gz"));
    assert_false(mf_fs_exists(out));
    mf_buf_release(&b);
    mf_buf_release(&z);
}

static void test_missing_tables(void **state)
{
    (void)state;
    struct mf_ingest_result res;
    struct mf_err err;
    char out[1200];

    struct tfile nopat[] = {{"hosp/patients.csv.gz", NULL}};
    const char *dir = make_dataset("nopat", nopat, 1);
    assert_int_equal(ingest(dir, "nopat.store", 0, 2, &res, &err, out, sizeof out), MF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "patients"));
    assert_false(mf_fs_exists(out));

    struct tfile noadm[] = {{"hosp/admissions.csv.gz", NULL}};
    dir = make_dataset("noadm", noadm, 1);
    assert_int_equal(ingest(dir, "noadm.store", 0, 2, &res, &err, out, sizeof out), MF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "admissions"));

    /* optional tables may be absent */
    struct tfile nolab[] = {{"hosp/labevents.csv.gz", NULL}, {"icu/icustays.csv.gz", NULL}};
    dir = make_dataset("nolab", nolab, 2);
    assert_int_equal(ingest(dir, "nolab.store", 0, 2, &res, &err, out, sizeof out), 0);
    struct mf_store *s = open_store(out);
    assert_int_equal(count_codes(s, "1003", "LAB/"), 0);
    assert_int_equal(count_codes(s, "1003", "ICU_"), 0);
    assert_int_equal(count_codes(s, "1003", "ICD"), 3);
    mf_store_close(s);

    /* an empty folder, and one without hosp/ */
    char empty[1200];
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    assert_int_equal(mf_fs_mkdir_p(empty, &err), 0);
    assert_int_equal(ingest(empty, "empty.store", 0, 2, &res, &err, out, sizeof out), MF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "hosp"));
    assert_false(mf_fs_exists(out));
    snprintf(empty, sizeof empty, "%s/empty/icu", tmpdir);
    assert_int_equal(mf_fs_mkdir_p(empty, &err), 0);
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    assert_int_equal(ingest(empty, "empty.store", 0, 2, &res, &err, out, sizeof out), MF_ENOTFOUND);
}

/* A table whose file is empty, or whose header only: reported or silent, never fatal. */
static void test_empty_tables(void **state)
{
    (void)state;
    struct tfile over[] = {
        {"hosp/omr.csv.gz", ""},
        {"hosp/services.csv.gz", "subject_id,hadm_id,transfertime,prev_service,curr_service\n"}};
    const char *dir = make_dataset("emptytab", over, 2);
    struct mf_ingest_result res;
    struct mf_err err;
    char out[1200];
    assert_int_equal(ingest(dir, "emptytab.store", 0, 2, &res, &err, out, sizeof out), 0);
    expect_one_issue(out, "csv-columns", "hosp/omr.csv.gz", 1, NULL);
}

/* Planted values in bad fields reach neither stderr nor the report. */
static void test_no_phi_in_messages(void **state)
{
    (void)state;
    struct tfile over[] = {
        {"hosp/patients.csv.gz", "subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod\n"
                                 "1001,F,50,2150,2011 - 2013,PHI-PLANTED-1\n"
                                 "1002,M,PHI-PLANTED-2,2160,2011 - 2013,\n"
                                 "1003,F,91,2170,2011 - 2013,2171-01-02\n"},
        {"hosp/omr.csv.gz", "subject_id,chartdate,seq_num,result_name,result_value\n"
                            "1001,PHI-PLANTED-3,1,Blood Pressure,120/80\n"
                            "1001,2150-02-01,1,Weight,1,PHI-PLANTED-4\n"
                            "1001,2150-02-01,1,\"PHI\"PLANTED-5,1\n"}};
    const char *dir = make_dataset("phi", over, 2);
    char errfile[1200], out[1200];
    snprintf(errfile, sizeof errfile, "%s/phi-stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    FILE *ef = fopen(errfile, "w");
    assert_non_null(ef);
    dup2(fileno(ef), 2);
    enum mf_log_level level = mf_log_get_level();
    mf_log_set_level(MF_LOG_DEBUG);
    struct mf_ingest_result res;
    struct mf_err err;
    int rc = ingest(dir, "phi.store", 0, 2, &res, &err, out, sizeof out);
    mf_log_set_level(level);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(ef);
    assert_int_equal(rc, 0);
    struct mf_buf text = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(errfile, (size_t)1 << 20, &text, &err), 0);
    assert_non_null(strstr(text.data, "skipped")); /* something was said */
    assert_null(strstr(text.data, "PHI"));
    char report[1300];
    snprintf(report, sizeof report, "%s.errors.ndjson", out);
    mf_buf_reset(&text);
    assert_int_equal(mf_fs_read_file(report, (size_t)1 << 20, &text, &err), 0);
    assert_null(strstr(text.data, "PHI"));
    assert_null(strstr(err.msg, "PHI"));
    cJSON *arr = read_report(out);
    assert_int_equal(cJSON_GetArraySize(arr), 5);
    cJSON_Delete(arr);
    mf_buf_release(&text);

    /* and under --strict, the error message */
    assert_int_equal(ingest(dir, "phi-strict.store", 1, 1, &res, &err, out, sizeof out), MF_EPARSE);
    assert_null(strstr(err.msg, "PHI"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_plain_csv_and_preference),
        cmocka_unit_test(test_threads_deterministic),
        cmocka_unit_test(test_missing_column),
        cmocka_unit_test(test_extra_and_missing_fields),
        cmocka_unit_test(test_bad_date),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_missing_tables),
        cmocka_unit_test(test_empty_tables),
        cmocka_unit_test(test_no_phi_in_messages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
