/* fuzz_mimic.c - libFuzzer target for the MIMIC-IV parser (src/ingest/mimic.c).
 *
 * The first byte of the input picks a table; the rest becomes that table's CSV in a small
 * made-up MIMIC-IV folder whose other tables are fixed and valid.  The folder is ingested with
 * mf_ingest_run (one thread, not strict) into a scratch store, so every row mapper, the
 * admissions maps and the issue paths see arbitrary fields.  The result code is not checked:
 * bad input must give issues or a clean error, never a crash or a sanitizer report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed tables, one of which the input replaces. */
static const struct {
    const char *rel;
    const char *text;
} tables[] = {
    {"hosp/patients.csv", "subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod\n"
                          "1,F,50,2150,2011 - 2013,\n2,M,70,2160,2011 - 2013,2163-05-01\n"},
    {"hosp/admissions.csv",
     "subject_id,hadm_id,admittime,dischtime,deathtime,admission_type,admit_provider_id,"
     "admission_location,discharge_location,insurance,language,marital_status,race,edregtime,"
     "edouttime,hospital_expire_flag\n"
     "1,11,2150-03-01 10:00:00,2150-03-05 12:00:00,,URGENT,P1,ER,HOME,Other,ENGLISH,SINGLE,"
     "WHITE,,,0\n"},
    {"hosp/labevents.csv", "subject_id,itemid,charttime,value,valuenum,valueuom\n"
                           "1,50912,2150-03-01 11:00:00,1.2,1.2,mg/dL\n"},
    {"hosp/diagnoses_icd.csv", "subject_id,hadm_id,seq_num,icd_code,icd_version\n"
                               "1,11,1,E119,10\n"},
    {"hosp/procedures_icd.csv", "subject_id,hadm_id,seq_num,chartdate,icd_code,icd_version\n"
                                "1,11,1,2150-03-02,3961,9\n"},
    {"hosp/prescriptions.csv", "subject_id,starttime,drug,ndc\n1,2150-03-01 12:00:00,X,0\n"},
    {"hosp/omr.csv", "subject_id,chartdate,seq_num,result_name,result_value\n"
                     "1,2150-02-01,1,Blood Pressure,120/80\n"},
    {"hosp/transfers.csv", "subject_id,hadm_id,transfer_id,eventtype,careunit,intime,outtime\n"
                           "1,11,1,admit,Medicine,2150-03-01 10:00:00,\n"},
    {"hosp/services.csv", "subject_id,hadm_id,transfertime,prev_service,curr_service\n"
                          "1,11,2150-03-01 10:00:00,,MED\n"},
    {"icu/icustays.csv", "subject_id,hadm_id,stay_id,first_careunit,last_careunit,intime,"
                         "outtime,los\n1,11,7,MICU,CCU,2150-03-01 12:00:00,,1\n"},
};
#define N_TABLES (sizeof tables / sizeof tables[0])

/* Write n bytes to dir/rel; returns 0 or -1. */
static int put(const char *dir, const char *rel, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char root[512];
    char dir[640], sub[700], out[700];
    struct mf_err err = {0};
    if (size < 1)
        return 0;
    if (root[0] == '\0') {
        const char *base = getenv("MEDFM_TEST_TMP");
        if (base == NULL || base[0] == '\0' || access(base, W_OK) != 0)
            base = "/tmp";
        snprintf(root, sizeof root, "%s/fuzz_mimic-%ld", base, (long)getpid());
        mf_log_set_level(MF_LOG_QUIET);
    }
    snprintf(dir, sizeof dir, "%s/data", root);
    snprintf(out, sizeof out, "%s/store", root);
    mf_fs_rm_rf(root);
    snprintf(sub, sizeof sub, "%s/hosp", dir);
    if (mf_fs_mkdir_p(sub, &err))
        return 0;
    snprintf(sub, sizeof sub, "%s/icu", dir);
    if (mf_fs_mkdir_p(sub, &err))
        return 0;
    size_t pick = data[0] % N_TABLES;
    for (size_t i = 0; i < N_TABLES; i++) {
        int rc = i == pick ? put(dir, tables[i].rel, data + 1, size - 1)
                           : put(dir, tables[i].rel, tables[i].text, strlen(tables[i].text));
        if (rc)
            return 0;
    }

    const char *paths[1] = {dir};
    struct mf_ingest_opts o = {0};
    struct mf_ingest_result res;
    o.format = MF_FORMAT_MIMIC_IV;
    o.paths = paths;
    o.n_paths = 1;
    o.out = out;
    o.no_deid = 1;
    o.threads = 1;
    (void)mf_ingest_run(&o, &res, &err);
    mf_fs_rm_rf(root); /* the store and its error report live under root */
    return 0;
}
