/* test_fhir.c - unit tests for the FHIR R4 parser: the mapping of every resource type, codes,
 * values and components, urn:uuid resolution, and bad input (each skips only its own record
 * with the right issue kind, path and location; --strict stops).
 *
 * Documents are written with single quotes for readability and turned into JSON by jq() (no
 * test value contains an apostrophe).  Each test ingests through mf_ingest_run into a fresh
 * temporary store and reads the events back with the store reader and the issues from
 * STORE.errors.ndjson, so it checks what a user would see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fs.h"
#include "core/log.h"
#include "ingest/ingest.h"
#include "store/store.h"

/* --- fixtures ------------------------------------------------------------------------------ */

#define PATIENT_ENTRY                                                                              \
    "{'fullUrl':'urn:uuid:u-1','resource':{'resourceType':'Patient','id':'p1',"                    \
    "'birthDate':'1970-01-02','gender':'female'}}"
#define SUBJ            "'subject':{'reference':'urn:uuid:u-1'}"
#define BUNDLE(entries) "{'resourceType':'Bundle','type':'collection','entry':[" entries "]}"
#define LOINC           "'system':'http://loinc.org'"
#define SNOMED          "'system':'http://snomed.info/sct'"

/* A copy of s with ' turned into ", for the caller to free. */
static char *jq(const char *s)
{
    size_t n = strlen(s);
    char *t = malloc(n + 1);
    assert_non_null(t);
    for (size_t i = 0; i <= n; i++)
        t[i] = s[i] == '\'' ? '"' : s[i];
    return t;
}

/* The folder of the last run, removed by the teardown even when a test fails halfway. */
static char last_dir[256];

/* De-identification hooks for the next run_doc (NULL: --no-deid). */
static const struct mf_ingest_deid *test_deid;

struct run {
    char dir[256];
    char store[300];
    char input[300];
    char *text; /* the input as written */
    int rc;
    struct mf_err err;
    struct mf_ingest_result res;
    struct mf_store *s;
    cJSON *issues; /* array of the error report's objects */
};

/* A document with one good record, ingested beside a bad one so that the run has events and
 * keeps its error report. */
#define GOOD_JSON   "{'resourceType':'Patient','id':'good','birthDate':'2000-01-01'}"
#define GOOD_NDJSON GOOD_JSON "\n"

/* Write doc (single-quoted) to a file named name in a fresh folder and ingest it, together with
 * a file holding good (when not NULL). */
static void run_doc2(struct run *r, const char *name, const char *doc, const char *good,
                     enum mf_ingest_format fmt, int strict)
{
    memset(r, 0, sizeof *r);
    const char *base = getenv("MEDFM_TEST_TMP");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    struct mf_err e = {0, {0}};
    assert_int_equal(mf_fs_mkdir_p(base, &e), 0);
    snprintf(r->dir, sizeof r->dir, "%s/medfm-test-fhir-XXXXXX", base);
    assert_non_null(mkdtemp(r->dir));
    snprintf(last_dir, sizeof last_dir, "%s", r->dir);
    snprintf(r->store, sizeof r->store, "%s/store", r->dir);
    snprintf(r->input, sizeof r->input, "%s/%s", r->dir, name);
    r->text = jq(doc);
    assert_int_equal(mf_fs_write_file_atomic(r->input, r->text, strlen(r->text), &e), 0);

    const char *paths[2] = {r->input, NULL};
    char good_path[320];
    if (good) {
        char *g = jq(good);
        snprintf(good_path, sizeof good_path, "%s/zz-good.%s", r->dir,
                 fmt == MF_FORMAT_NDJSON ? "ndjson" : "json");
        assert_int_equal(mf_fs_write_file_atomic(good_path, g, strlen(g), &e), 0);
        free(g);
        paths[1] = good_path;
    }
    struct mf_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.format = fmt;
    o.paths = paths;
    o.n_paths = good ? 2 : 1;
    o.out = r->store;
    o.strict = strict;
    o.no_deid = test_deid == NULL;
    o.deid = test_deid;
    o.threads = 1;
    r->rc = mf_ingest_run(&o, &r->res, &r->err);
    if (r->rc == 0)
        assert_int_equal(mf_store_open(r->store, &r->s, &e), 0);

    char errors[400];
    snprintf(errors, sizeof errors, "%s.errors.ndjson", r->store);
    r->issues = cJSON_CreateArray();
    FILE *f = fopen(errors, "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        cJSON *it = cJSON_Parse(line);
        assert_non_null(it);
        cJSON_AddItemToArray(r->issues, it);
    }
    if (f)
        fclose(f);
}

static void run_doc(struct run *r, const char *name, const char *doc, enum mf_ingest_format fmt,
                    int strict)
{
    run_doc2(r, name, doc, NULL, fmt, strict);
}

static void run_free(struct run *r)
{
    mf_store_close(r->s);
    cJSON_Delete(r->issues);
    free(r->text);
    mf_fs_rm_rf(r->dir);
}

/* Ingest a document that must succeed. */
static void run_ok(struct run *r, const char *doc)
{
    run_doc(r, "doc.json", doc, MF_FORMAT_FHIR, 0);
    if (r->rc != 0)
        fail_msg("ingest failed: %s", r->err.msg);
}

/* The number of events of patient pid equal to (time, code, value, unit, text).  time NULL:
 * a static fact; value NAN: none; unit or text NULL: none. */
static int count(const struct run *r, const char *pid, const char *time, const char *code,
                 double value, const char *unit, const char *text)
{
    struct mf_timeline tl;
    if (mf_store_find(r->s, pid, strlen(pid), &tl) != 0)
        return 0;
    int64_t t = MF_TIME_NONE;
    if (time)
        assert_int_equal(mf_time_parse(time, strlen(time), &t), 0);
    int n = 0;
    for (size_t i = 0; i < tl.n; i++) {
        struct mf_str c = mf_store_code(r->s, tl.code[i]);
        struct mf_str u = mf_store_unit(r->s, tl.unit[i]);
        struct mf_str x = mf_timeline_text(&tl, i);
        if (tl.time[i] != t || c.n != strlen(code) || memcmp(c.p, code, c.n) != 0)
            continue;
        if (isnan(value) ? !isnan(tl.value[i]) : tl.value[i] != value)
            continue;
        if (unit ? u.n != strlen(unit) || memcmp(u.p, unit, u.n) != 0 : u.n != 0)
            continue;
        if (text ? x.n != strlen(text) || memcmp(x.p, text, x.n) != 0 : x.n != 0)
            continue;
        n++;
    }
    return n;
}

/* The number of events of a patient. */
static size_t n_events(const struct run *r, const char *pid)
{
    struct mf_timeline tl;
    return mf_store_find(r->s, pid, strlen(pid), &tl) == 0 ? tl.n : 0;
}

/* Issue i of the report, checked to have the given kind and path (NULL: JSON null). */
static const cJSON *check_issue(const struct run *r, int i, const char *kind, const char *path)
{
    const cJSON *it = cJSON_GetArrayItem(r->issues, i);
    assert_non_null(it);
    assert_string_equal(cJSON_GetObjectItem(it, "kind")->valuestring, kind);
    const cJSON *p = cJSON_GetObjectItem(it, "path");
    if (path)
        assert_string_equal(p->valuestring, path);
    else
        assert_true(cJSON_IsNull(p));
    assert_string_equal(cJSON_GetObjectItem(it, "file")->valuestring, r->input);
    return it;
}

/* A number member of an issue; -1 when null. */
static long long issue_num(const cJSON *it, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(it, key);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

/* The byte offset of marker (single-quoted) in the run's input. */
static long long offset_of(const struct run *r, const char *marker)
{
    char *m = jq(marker);
    const char *p = strstr(r->text, m);
    free(m);
    assert_non_null(p);
    return (long long)(p - r->text);
}

/* --- mapping ------------------------------------------------------------------------------- */

static void test_patient(void **state)
{
    (void)state;
    struct run r;
    run_ok(&r, "{'resourceType':'Patient','id':'pat-7','birthDate':'1950-03-04',"
               "'deceasedDateTime':'2020-05-06T07:08:09-02:00','gender':'male',"
               "'name':[{'family':'Zyxwvut','given':['Qqqq']}],"
               "'address':[{'city':'Nowhereville'}],'identifier':[{'value':'MRN-998877'}],"
               "'extension':[{'url':'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',"
               "'extension':[{'url':'ombCategory','valueCoding':{'code':'2106-3'}},"
               "{'url':'text','valueString':'White'}]},"
               "{'url':'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity',"
               "'extension':[{'url':'ombCategory','valueCoding':{'code':'2186-5'}}]},"
               "{'url':'http://example.org/other','valueString':'x'}]}");
    assert_int_equal(r.res.records, 1);
    assert_int_equal(count(&r, "pat-7", "1950-03-04", "MEDS_BIRTH", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pat-7", "2020-05-06T09:08:09Z", "MEDS_DEATH", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pat-7", NULL, "GENDER/MALE", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pat-7", NULL, "RACE/2106-3", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pat-7", NULL, "ETHNICITY/2186-5", NAN, NULL, NULL), 1);
    assert_int_equal(n_events(&r, "pat-7"), 5); /* no name, address or identifier */
    assert_int_equal(cJSON_GetArraySize(r.issues), 0);
    run_free(&r);
}

/* ZIP3: the first home address with a usable postalCode wins, else the first usable one;
 * restricted areas become 000; postal codes that do not start with 3 digits give nothing. */
static void test_patient_zip3(void **state)
{
    (void)state;
    struct run r;
    run_ok(&r, BUNDLE("{'resource':{'resourceType':'Patient','id':'z1','birthDate':'1950-01-01',"
                      "'address':[{'use':'work','postalCode':'02139'},{'postalCode':7},"
                      "{'use':'home','postalCode':'SW1A'},{'use':'home','postalCode':'03601-1234'},"
                      "{'use':'home','postalCode':'10001'}]}}"
                      ",{'resource':{'resourceType':'Patient','id':'z2','birthDate':'1950-01-01',"
                      "'address':[{'postalCode':'1'},{'use':'work','postalCode':'021'},"
                      "{'postalCode':'94110'}]}}"
                      ",{'resource':{'resourceType':'Patient','id':'z3','birthDate':'1950-01-01',"
                      "'address':[{'use':'home','postalCode':'K1A 0B1'},{'city':'X'}]}}"));
    assert_int_equal(r.res.records, 3);
    assert_int_equal(count(&r, "z1", NULL, "ZIP3/000", NAN, NULL, NULL), 1); /* 036: restricted */
    assert_int_equal(n_events(&r, "z1"), 2);
    assert_int_equal(count(&r, "z2", NULL, "ZIP3/021", NAN, NULL, NULL), 1);
    assert_int_equal(n_events(&r, "z2"), 2);
    assert_int_equal(n_events(&r, "z3"), 1); /* birth only */
    assert_int_equal(cJSON_GetArraySize(r.issues), 0);
    run_free(&r);
}

static void test_encounter_condition(void **state)
{
    (void)state;
    struct run r;
    run_ok(
        &r,
        BUNDLE(PATIENT_ENTRY
               ",{'resource':{'resourceType':'Encounter','id':'e1'," SUBJ ","
               "'class':{'system':'http://terminology.hl7.org/CodeSystem/v3-ActCode',"
               "'code':'AMB'},'type':[{'coding':[{" SNOMED ",'code':'185349003'}]}],"
               "'period':{'start':'2019-05-31T16:16:03+00:00','end':'2019-05-31T16:46:03Z'}}}"
               ",{'resource':{'resourceType':'Encounter','id':'e2'," SUBJ ","
               "'class':{'code':'IMP'},'type':[{'coding':[{'system':'http://local','code':'x'}]}],"
               "'period':{'start':'2019-06-01'}}}"
               ",{'resource':{'resourceType':'Condition','id':'c1'," SUBJ ","
               "'code':{'coding':[{'system':'http://local/x','code':'zz'},"
               "{'system':'http://hl7.org/fhir/sid/icd-10-cm','code':'E11.9'},"
               "{" SNOMED ",'code':'44054006'}]},"
               "'onsetDateTime':'2010-01-01T00:00:00Z','abatementDateTime':'2012-01-01'}}"
               ",{'resource':{'resourceType':'Condition','id':'c2'," SUBJ ","
               "'code':{'coding':[{" SNOMED ",'code':'38341003'}]},"
               "'onsetPeriod':{'start':'2011-02-03'},'recordedDate':'2011-09-09'}}"
               ",{'resource':{'resourceType':'Condition','id':'c3'," SUBJ ","
               "'code':{'coding':[{" SNOMED ",'code':'15777000'}]},"
               "'recordedDate':'2013-04-05T06:07:08Z'}}"));
    const char *p = "p1";
    assert_int_equal(count(&r, p, "2019-05-31T16:16:03Z", "ENCOUNTER/AMB", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2019-05-31T16:16:03Z", "SNOMED/185349003", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2019-05-31T16:46:03Z", "ENCOUNTER_END/AMB", NAN, NULL, NULL), 1);
    /* an encounter type with no known system: no type event, no issue */
    assert_int_equal(count(&r, p, "2019-06-01", "ENCOUNTER/IMP", NAN, NULL, NULL), 1);
    /* the first coding with a known system wins */
    assert_int_equal(count(&r, p, "2010-01-01", "ICD10CM/E11.9", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2012-01-01", "CONDITION_END/ICD10CM/E11.9", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2011-02-03", "SNOMED/38341003", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2013-04-05T06:07:08Z", "SNOMED/15777000", NAN, NULL, NULL), 1);
    /* birth + gender + 3 + 1 + 2 + 1 + 1 */
    assert_int_equal(n_events(&r, p), 10);
    assert_int_equal(cJSON_GetArraySize(r.issues), 0);
    run_free(&r);
}

static void test_observation(void **state)
{
    (void)state;
    struct run r;
    run_ok(&r, BUNDLE(PATIENT_ENTRY
                      /* quantity */
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'8331-1'}]},"
                      "'effectiveDateTime':'2011-11-15T04:59:42+00:00',"
                      "'valueQuantity':{'value':37.25,'unit':'Cel','code':'Cel'}}}"
                      /* unit falls back to the UCUM code; time to effectivePeriod.start */
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'2339-0'}]},"
                      "'effectivePeriod':{'start':'2011-11-16'},"
                      "'valueQuantity':{'value':101,'code':'mg/dL'}}}"
                      /* blood pressure: components only */
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'85354-9'}]},"
                      "'effectiveDateTime':'2011-11-17T10:00:00Z','component':["
                      "{'code':{'coding':[{" LOINC ",'code':'8480-6'}]},"
                      "'valueQuantity':{'value':120,'unit':'mm[Hg]'}},"
                      "{'code':{'coding':[{" LOINC ",'code':'8462-4'}]},"
                      "'valueQuantity':{'value':80.5,'unit':'mm[Hg]'}}]}}"
                      /* coded value, known and unknown system; time falls back to issued */
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'72166-2'}]},"
                      "'issued':'2011-11-18T01:02:03.250Z',"
                      "'valueCodeableConcept':{'coding':[{" SNOMED ",'code':'266919005'}]}}}"
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'X-1'}]},"
                      "'effectiveDateTime':'2011-11-19',"
                      "'valueCodeableConcept':{'coding':[{'system':'http://local','code':'POS'}]}}}"
                      /* string, boolean, integer, no value */
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'X-2'}]},"
                      "'effectiveDateTime':'2011-11-20','valueString':'free text'}}"
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'X-3'}]},"
                      "'effectiveDateTime':'2011-11-21','valueBoolean':true}}"
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'X-4'}]},"
                      "'effectiveDateTime':'2011-11-22','valueInteger':-3}}"
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'X-5'}]},"
                      "'effectiveDateTime':'2011-11-23'}}"
                      /* value and component: both */
                      ",{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'X-6'}]},"
                      "'effectiveDateTime':'2011-11-24','valueQuantity':{'value':2},"
                      "'component':[{'code':{'coding':[{" LOINC ",'code':'X-7'}]},"
                      "'valueString':'c'}]}}"));
    const char *p = "p1";
    assert_int_equal(count(&r, p, "2011-11-15T04:59:42Z", "LOINC/8331-1", 37.25, "Cel", NULL), 1);
    assert_int_equal(count(&r, p, "2011-11-16", "LOINC/2339-0", 101, "mg/dL", NULL), 1);
    assert_int_equal(count(&r, p, "2011-11-17T10:00:00Z", "LOINC/8480-6", 120, "mm[Hg]", NULL), 1);
    assert_int_equal(count(&r, p, "2011-11-17T10:00:00Z", "LOINC/8462-4", 80.5, "mm[Hg]", NULL), 1);
    assert_int_equal(count(&r, p, "2011-11-17T10:00:00Z", "LOINC/85354-9", NAN, NULL, NULL), 0);
    assert_int_equal(
        count(&r, p, "2011-11-18T01:02:03.25Z", "LOINC/72166-2", NAN, NULL, "SNOMED/266919005"), 1);
    assert_int_equal(count(&r, p, "2011-11-19", "LOINC/X-1", NAN, NULL, "POS"), 1);
    assert_int_equal(count(&r, p, "2011-11-20", "LOINC/X-2", NAN, NULL, "free text"), 1);
    assert_int_equal(count(&r, p, "2011-11-21", "LOINC/X-3", 1, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2011-11-22", "LOINC/X-4", -3, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2011-11-23", "LOINC/X-5", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2011-11-24", "LOINC/X-6", 2, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2011-11-24", "LOINC/X-7", NAN, NULL, "c"), 1);
    assert_int_equal(n_events(&r, p), 2 + 12);
    assert_int_equal(cJSON_GetArraySize(r.issues), 0);
    run_free(&r);
}

static void test_other_types(void **state)
{
    (void)state;
    struct run r;
    /* "Zm9vIGJhcg==" is "foo bar", "bm90ZQ" is "note" (no padding) */
    run_ok(
        &r,
        BUNDLE(PATIENT_ENTRY
               ",{'fullUrl':'urn:uuid:m-1','resource':{'resourceType':'Medication','id':'med1',"
               "'code':{'coding':[{'system':'http://www.nlm.nih.gov/research/umls/rxnorm',"
               "'code':'1111'}]}}}"
               ",{'resource':{'resourceType':'MedicationRequest'," SUBJ ","
               "'medicationCodeableConcept':{'coding':[{"
               "'system':'http://www.nlm.nih.gov/research/umls/rxnorm','code':'316049'}]},"
               "'authoredOn':'2001-01-01T00:00:00Z'}}"
               ",{'resource':{'resourceType':'MedicationRequest'," SUBJ ","
               "'contained':[{'resourceType':'Medication','id':'m0','code':{'coding':[{"
               "'system':'http://hl7.org/fhir/sid/ndc','code':'0002-1433'}]}}],"
               "'medicationReference':{'reference':'#m0'},'authoredOn':'2001-01-02'}}"
               ",{'resource':{'resourceType':'MedicationRequest'," SUBJ ","
               "'medicationReference':{'reference':'urn:uuid:m-1'},'authoredOn':'2001-01-03'}}"
               ",{'resource':{'resourceType':'MedicationRequest'," SUBJ ","
               "'medicationReference':{'reference':'Medication/elsewhere'},"
               "'authoredOn':'2001-01-04'}}"
               ",{'resource':{'resourceType':'Procedure'," SUBJ ","
               "'code':{'coding':[{'system':'http://www.ama-assn.org/go/cpt','code':'99213'}]},"
               "'performedPeriod':{'start':'2002-02-02T02:02:02Z','end':'2002-02-02T03:00:00Z'}}}"
               ",{'resource':{'resourceType':'Procedure'," SUBJ ","
               "'code':{'coding':[{" SNOMED ",'code':'1'}]},'performedDateTime':'2002-02-03'}}"
               ",{'resource':{'resourceType':'Immunization','patient':{'reference':'urn:uuid:u-1'},"
               "'vaccineCode':{'coding':[{'system':'http://hl7.org/fhir/sid/cvx','code':'140'}]},"
               "'occurrenceDateTime':'2003-03-03'}}"
               ",{'resource':{'resourceType':'Immunization','status':'not-done',"
               "'patient':{'reference':'urn:uuid:u-1'},"
               "'vaccineCode':{'coding':[{'system':'http://hl7.org/fhir/sid/cvx','code':'141'}]},"
               "'occurrenceDateTime':'2003-03-04'}}"
               ",{'resource':{'resourceType':'AllergyIntolerance',"
               "'patient':{'reference':'urn:uuid:u-1'},"
               "'code':{'coding':[{" SNOMED ",'code':'300916003'}]},'recordedDate':'2004-04-04'}}"
               ",{'resource':{'resourceType':'DiagnosticReport'," SUBJ ","
               "'code':{'coding':[{" LOINC ",'code':'34117-2'}]},"
               "'effectiveDateTime':'2005-05-05T05:05:05Z','presentedForm':["
               "{'contentType':'text/plain','data':'Zm9vIGJhcg=='},"
               "{'contentType':'application/pdf','data':'JVBERi0='}]}}"
               ",{'resource':{'resourceType':'DocumentReference'," SUBJ ","
               "'type':{'coding':[{" LOINC ",'code':'11506-3'}]},'date':'2006-06-06T06:06:06Z',"
               "'content':[{'attachment':{'contentType':'text/plain','data':'bm90ZQ'}},"
               "{'attachment':{'url':'http://example.org/doc'}}]}}"
               ",{'resource':{'resourceType':'DocumentReference'," SUBJ ","
               "'type':{'coding':[{'system':'http://local','code':'x'}]},"
               "'context':{'period':{'start':'2007-07-07'}},"
               "'content':[{'attachment':{'data':'Zm9vIGJhcg=='}}]}}"
               ",{'resource':{'resourceType':'Claim','patient':{'reference':'urn:uuid:u-1'}}}"
               ",{'resource':{'resourceType':'ExplanationOfBenefit'}}"
               ",{'resource':{'resourceType':'Organization','name':'x'}}"
               ",{'resource':{'resourceType':'CarePlan'}}"
               ",{'request':{'method':'DELETE','url':'Patient/zz'}}"));
    const char *p = "p1";
    assert_int_equal(count(&r, p, "2001-01-01", "RxNorm/316049", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2001-01-02", "NDC/0002-1433", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2001-01-03", "RxNorm/1111", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2002-02-02T02:02:02Z", "CPT/99213", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2002-02-03", "SNOMED/1", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2003-03-03", "CVX/140", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2004-04-04", "SNOMED/300916003", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, p, "2005-05-05T05:05:05Z", "LOINC/34117-2", NAN, NULL, NULL), 1);
    assert_int_equal(
        count(&r, p, "2005-05-05T05:05:05Z", "NOTE/LOINC/34117-2", NAN, NULL, "foo bar"), 1);
    assert_int_equal(count(&r, p, "2006-06-06T06:06:06Z", "NOTE/LOINC/11506-3", NAN, NULL, "note"),
                     1);
    assert_int_equal(count(&r, p, "2007-07-07", "NOTE/unknown", NAN, NULL, "foo bar"), 1);
    /* birth, gender + the 11 above; nothing from the unresolved medication, the vaccine not
     * given, the PDF, the url-only attachment or the ignored types */
    assert_int_equal(n_events(&r, p), 13);
    assert_int_equal(cJSON_GetArraySize(r.issues), 0);
    assert_int_equal(r.res.skipped, 0);
    run_free(&r);
}

static void test_references(void **state)
{
    (void)state;
    struct run r;
    /* the fullUrl's uuid differs from the id: resolution goes through the fullUrl */
    run_ok(
        &r,
        BUNDLE("{'fullUrl':'urn:uuid:aaaa-1','resource':{'resourceType':'Patient',"
               "'id':'pid-A','birthDate':'1980'}}"
               ",{'fullUrl':'urn:uuid:bbbb-2','resource':{'resourceType':'Patient',"
               "'id':'pid-B','birthDate':'1981-02'}}"
               ",{'resource':{'resourceType':'Procedure',"
               "'subject':{'reference':'urn:uuid:bbbb-2'},"
               "'code':{'coding':[{" SNOMED ",'code':'10'}]},"
               "'performedDateTime':'2000-01-01'}}"
               ",{'resource':{'resourceType':'Procedure','subject':{'reference':'Patient/pid-A'},"
               "'code':{'coding':[{" SNOMED ",'code':'11'}]},"
               "'performedDateTime':'2000-01-02'}}"
               ",{'resource':{'resourceType':'Procedure','subject':{'reference':"
               "'https://example.org/fhir/Patient/pid-C/_history/3'},"
               "'code':{'coding':[{" SNOMED ",'code':'12'}]},"
               "'performedDateTime':'2000-01-03'}}"
               ",{'resource':{'resourceType':'Procedure',"
               "'subject':{'reference':'urn:uuid:aaaa-1'},"
               "'code':{'coding':[{" SNOMED ",'code':'13'}]},"
               "'performedDateTime':'2000-01-04'}}"));
    assert_int_equal(count(&r, "pid-A", "1980-01-01", "MEDS_BIRTH", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pid-B", "1981-02-01", "MEDS_BIRTH", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pid-B", "2000-01-01", "SNOMED/10", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pid-A", "2000-01-02", "SNOMED/11", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pid-C", "2000-01-03", "SNOMED/12", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pid-A", "2000-01-04", "SNOMED/13", NAN, NULL, NULL), 1);
    assert_int_equal(n_events(&r, "aaaa-1"), 0);
    assert_int_equal(cJSON_GetArraySize(r.issues), 0);
    run_free(&r);
}

/* --- bad input ----------------------------------------------------------------------------- */

/* One bad record per entry, between good ones: each is skipped with its own issue. */
static void test_bad_records(void **state)
{
    (void)state;
    struct run r;
    run_ok(&r,
           BUNDLE(PATIENT_ENTRY /* 0 */
                  ",{'fullUrl':'urn:uuid:bad-1','resource':{'resourceType':'Observation'," SUBJ
                  ",'code':{'coding':[{" LOINC ",'code':'1-1'}]},"
                  "'effectiveDateTime':'2019-02-30T10:00:00Z','valueQuantity':{'value':1}}}" /* 1 */
                  ",{'resource':{'resourceType':'Condition'," SUBJ ","
                  "'code':{'coding':[{'system':'http://local/dx','code':'SECRET-CODE-42'}]},"
                  "'onsetDateTime':'2019-01-01'}}" /* 2 */
                  ",{'resource':{'resourceType':'Observation'," SUBJ ","
                  "'code':{'coding':[{" LOINC ",'code':'1-2'}]},'effectiveDateTime':'2019-01-02',"
                  "'valueQuantity':{'value':'high-7731','unit':'mg'}}}" /* 3 */
                  ",{'resource':{'resourceType':'Observation',"
                  "'subject':{'reference':'urn:uuid:nobody'},"
                  "'code':{'coding':[{" LOINC
                  ",'code':'1-3'}]},'effectiveDateTime':'2019-01-03'}}"                  /* 4 */
                  ",{'resource':{'resourceType':'Patient','id':'p2','gender':'female'}}" /* 5 */
                  ",{'resource':{'id':'x'}}"                                             /* 6 */
                  ",{'resource':{'resourceType':'Spaceship'}}"                           /* 7 */
                  ",{'resource':{'resourceType':42}}"                                    /* 8 */
                  ",{'resource':{'resourceType':'Observation'," SUBJ ","
                  "'code':{'coding':[{" LOINC
                  ",'code':'85354-9'}]},'effectiveDateTime':'2019-01-04',"
                  "'component':[{'code':{'coding':[{" LOINC ",'code':'8480-6'}]},"
                  "'valueQuantity':{'value':120}},{'code':{'coding':[{" LOINC ",'code':'8462-4'}]},"
                  "'valueQuantity':{'value':'eighty'}}]}}" /* 9 */
                  ",{'resource':{'resourceType':'Encounter'," SUBJ ",'class':{'code':'AMB'},"
                  "'period':{'end':'2019-01-05'}}}" /* 10 */
                  ",{'resource':{'resourceType':'Patient','id':'p3','birthDate':'1990-01-01',"
                  "'gender':'robot'}}" /* 11 */
                  ",{'resource':{'resourceType':'DocumentReference'," SUBJ ",'date':'2019-01-06',"
                  "'content':[{'attachment':{'data':'not*base64!'}}]}}" /* 12 */
                  ",{'resource':{'resourceType':'Observation'," SUBJ ","
                  "'code':{'coding':[{" LOINC ",'code':'1-4'}]},'effectiveDateTime':'2019-01-07',"
                  "'valueQuantity':{'value':4.5}}}" /* 13: good */
                  ));
    assert_int_equal(cJSON_GetArraySize(r.issues), 12);
    const cJSON *it = check_issue(&r, 0, "bad-date", "Bundle.entry[1].resource.effectiveDateTime");
    /* the location of a Bundle entry: the byte offset and line of its opening brace */
    assert_int_equal(issue_num(it, "offset"), offset_of(&r, "{'fullUrl':'urn:uuid:bad-1'"));
    assert_int_equal(issue_num(it, "line"), 1);
    check_issue(&r, 1, "code-system", "Bundle.entry[2].resource.code.coding");
    check_issue(&r, 2, "bad-value", "Bundle.entry[3].resource.valueQuantity.value");
    check_issue(&r, 3, "reference", "Bundle.entry[4].resource.subject.reference");
    check_issue(&r, 4, "missing-field", "Bundle.entry[5].resource.birthDate");
    check_issue(&r, 5, "resource-type", "Bundle.entry[6].resource.resourceType");
    check_issue(&r, 6, "resource-type", "Bundle.entry[7].resource.resourceType");
    check_issue(&r, 7, "resource-type", "Bundle.entry[8].resource.resourceType");
    check_issue(&r, 8, "bad-value", "Bundle.entry[9].resource.component[1].valueQuantity.value");
    check_issue(&r, 9, "missing-field", "Bundle.entry[10].resource.period.start");
    check_issue(&r, 10, "bad-value", "Bundle.entry[11].resource.gender");
    check_issue(&r, 11, "bad-value", "Bundle.entry[12].resource.content[0].attachment.data");
    /* no value from the bad fields in any message */
    char *all = cJSON_PrintUnformatted(r.issues);
    assert_null(strstr(all, "SECRET-CODE-42"));
    assert_null(strstr(all, "high-7731"));
    assert_null(strstr(all, "eighty"));
    assert_null(strstr(all, "robot"));
    assert_null(strstr(all, "2019-02-30"));
    free(all);
    /* only the bad records are gone: the good patient and observation are there; the bad
     * component's good sibling is not */
    assert_int_equal(count(&r, "p1", "1970-01-02", "MEDS_BIRTH", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "p1", "2019-01-07", "LOINC/1-4", 4.5, NULL, NULL), 1);
    assert_int_equal(n_events(&r, "p1"), 3);
    assert_int_equal(n_events(&r, "p2"), 0);
    assert_int_equal(n_events(&r, "p3"), 0);
    assert_int_equal(r.res.skipped, 9);
    assert_int_equal(r.res.issues[MF_ISSUE_RESOURCE_TYPE], 3);
    run_free(&r);
}

static void test_single_resource_paths(void **state)
{
    (void)state;
    struct run r;
    run_doc2(&r, "one.json", "\n\n  {'resourceType':'Patient','id':'p9','gender':'other'}",
             GOOD_JSON, MF_FORMAT_FHIR, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(n_events(&r, "p9"), 0);
    assert_int_equal(n_events(&r, "good"), 1);
    const cJSON *it = check_issue(&r, 0, "missing-field", "Patient.birthDate");
    assert_int_equal(issue_num(it, "offset"), 4);
    assert_int_equal(issue_num(it, "line"), 3);
    run_free(&r);

    run_doc2(&r, "one.json", "{'id':'x'}", GOOD_JSON, MF_FORMAT_FHIR, 0);
    check_issue(&r, 0, "resource-type", "Resource.resourceType");
    run_free(&r);
}

static void test_malformed_json(void **state)
{
    (void)state;
    struct run r;
    run_doc2(&r, "broken.json",
             "{'resourceType':'Patient',\n'id':'p1',\n'birthDate':'1970-01-01' x}", GOOD_JSON,
             MF_FORMAT_FHIR, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(n_events(&r, "p1"), 0);
    const cJSON *it = check_issue(&r, 0, "json", NULL);
    long long off = issue_num(it, "offset");
    assert_true(off >= offset_of(&r, "'1970-01-01'") && off <= offset_of(&r, "x}"));
    assert_int_equal(issue_num(it, "line"), 3);
    run_free(&r);
}

static void test_ndjson(void **state)
{
    (void)state;
    struct run r;
    run_doc(&r, "bulk.ndjson",
            "{'resourceType':'Patient','id':'n1','birthDate':'1960-06-06'}\n"
            "\n"
            "{'resourceType':'Observation','subject':{'reference':'Patient/n1'},"
            "'code':{'coding':[{" LOINC ",'code':'2-1'}]},'effectiveDateTime':'2020-01-01',"
            "'valueQuantity':{'value':5,'unit':'%'}}\n"
            "{'resourceType':'Observation','subject':{'reference':'Patient/n1'\n"
            "{'resourceType':'Observation','subject':{'reference':'urn:uuid:n1'},"
            "'code':{'coding':[{" LOINC ",'code':'2-2'}]},'effectiveDateTime':'2020-01-02'}\n"
            "{'resourceType':'Observation','subject':{'reference':'Patient/n1'},"
            "'code':{'coding':[{" LOINC ",'code':'2-3'}]},'effectiveDateTime':'2020-13-01'}\n"
            "{'resourceType':'Condition','subject':{'reference':'Patient/n1'},"
            "'code':{'coding':[{" SNOMED ",'code':'44054006'}]},'onsetDateTime':'2020-02-02'}\n",
            MF_FORMAT_NDJSON, 0);
    if (r.rc != 0)
        fail_msg("ingest failed: %s", r.err.msg);
    assert_int_equal(count(&r, "n1", "1960-06-06", "MEDS_BIRTH", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "n1", "2020-01-01", "LOINC/2-1", 5, "%", NULL), 1);
    assert_int_equal(count(&r, "n1", "2020-02-02", "SNOMED/44054006", NAN, NULL, NULL), 1);
    assert_int_equal(n_events(&r, "n1"), 3);
    assert_int_equal(cJSON_GetArraySize(r.issues), 3);
    const cJSON *it = check_issue(&r, 0, "json", NULL);
    assert_int_equal(issue_num(it, "line"), 4);
    assert_int_equal(
        issue_num(it, "offset"),
        offset_of(&r, "{'resourceType':'Observation','subject':{'reference':'Patient/n1'\n"));
    it = check_issue(&r, 1, "reference", "Observation.subject.reference");
    assert_int_equal(issue_num(it, "line"), 5);
    it = check_issue(&r, 2, "bad-date", "Observation.effectiveDateTime");
    assert_int_equal(issue_num(it, "line"), 6);
    run_free(&r);
}

static void test_strict(void **state)
{
    (void)state;
    struct run r;
    run_doc(&r, "doc.json",
            BUNDLE(PATIENT_ENTRY ",{'resource':{'resourceType':'Observation'," SUBJ ","
                                 "'code':{'coding':[{" LOINC ",'code':'1'}]},"
                                 "'effectiveDateTime':'yesterday'}}"),
            MF_FORMAT_FHIR, 1);
    assert_int_equal(r.rc, MF_EPARSE);
    assert_non_null(strstr(r.err.msg, "Bundle.entry[1].resource.effectiveDateTime"));
    assert_non_null(strstr(r.err.msg, "doc.json"));
    assert_null(strstr(r.err.msg, "yesterday"));
    assert_false(mf_fs_exists(r.store));
    run_free(&r);
}

/* Counts of hook calls by resource type, for test_deid_hook. */
struct hook_calls {
    int patient, observation, other;
    char subjects[4][16]; /* the subject handed with each call, in order */
    int refuse_patient;   /* answer MF_EPARSE for the Patient p1 */
};

/* A de-identification hook that counts calls and replaces Patient.id by a pseudonym (a static
 * string: strings of an arena-parsed tree must not be freed). */
static int pseudonymize(void *ctx, cJSON *r, const char *subject, size_t n, struct mf_err *err)
{
    struct hook_calls *calls = ctx;
    int k = calls->patient + calls->observation + calls->other;
    if (k < 4)
        snprintf(calls->subjects[k], sizeof calls->subjects[k], "%.*s", (int)n,
                 subject ? subject : "(none)");
    const char *t = cJSON_GetObjectItem(r, "resourceType")->valuestring;
    if (strcmp(t, "Patient") == 0 && calls->refuse_patient &&
        strcmp(cJSON_GetObjectItem(r, "id")->valuestring, "p1") == 0) {
        calls->patient++;
        return mf_err_set(err, MF_EPARSE, "Patient.birthDate is not a FHIR date");
    }
    if (strcmp(t, "Patient") == 0) {
        calls->patient++;
        cJSON_GetObjectItem(r, "id")->valuestring = (char *)"pseudo-1";
    } else if (strcmp(t, "Observation") == 0) {
        calls->observation++;
    } else {
        calls->other++;
    }
    return 0;
}

/* The hook sees each mapped resource once, before mapping, Patients first: a rewritten
 * Patient.id is the id that urn:uuid references resolve to. */
static void test_deid_hook(void **state)
{
    (void)state;
    struct hook_calls calls;
    memset(&calls, 0, sizeof calls);
    struct mf_ingest_deid deid = {&calls, pseudonymize, NULL};
    test_deid = &deid;
    struct run r;
    run_ok(&r, BUNDLE("{'resource':{'resourceType':'Observation'," SUBJ ","
                      "'code':{'coding':[{" LOINC ",'code':'9-9'}]},'effectiveDateTime':'2015'}}"
                      ",{'resource':{'resourceType':'Claim'}}"
                      "," PATIENT_ENTRY));
    test_deid = NULL;
    assert_int_equal(calls.patient, 1);
    assert_int_equal(calls.observation, 1);
    assert_int_equal(calls.other, 0);
    /* the Patient is handed its own id; the Observation its resolved subject, as it reads
     * after the Patient's hook ran */
    assert_string_equal(calls.subjects[0], "p1");
    assert_string_equal(calls.subjects[1], "pseudo-1");
    assert_int_equal(n_events(&r, "p1"), 0);
    assert_int_equal(count(&r, "pseudo-1", "1970-01-02", "MEDS_BIRTH", NAN, NULL, NULL), 1);
    assert_int_equal(count(&r, "pseudo-1", "2015-01-01", "LOINC/9-9", NAN, NULL, NULL), 1);
    run_free(&r);
}

/* A Patient the hook refuses is bad input: skipped with an issue naming its entry, never
 * mapped as it was; references to it no longer resolve. */
static void test_deid_hook_refuses(void **state)
{
    (void)state;
    struct hook_calls calls;
    memset(&calls, 0, sizeof calls);
    calls.refuse_patient = 1;
    struct mf_ingest_deid deid = {&calls, pseudonymize, NULL};
    test_deid = &deid;
    struct run r;
    run_ok(&r, BUNDLE(PATIENT_ENTRY ",{'resource':{'resourceType':'Observation'," SUBJ ","
                                    "'code':{'coding':[{" LOINC ",'code':'9-9'}]},"
                                    "'effectiveDateTime':'2015'}},"
                                    "{'resource':{'resourceType':'Patient','id':'p2',"
                                    "'birthDate':'1980'}}"));
    test_deid = NULL;
    assert_int_equal(calls.patient, 2);
    assert_int_equal(n_events(&r, "p1"), 0);
    assert_int_equal(n_events(&r, "pseudo-1"), 1); /* p2, renamed by the hook */
    assert_int_equal(r.res.issues[MF_ISSUE_BAD_VALUE], 1);
    assert_int_equal(r.res.issues[MF_ISSUE_REFERENCE], 1);
    run_free(&r);
}

/* Remove the last run's folder (a failed assertion skips run_free). */
static int teardown(void **state)
{
    (void)state;
    if (last_dir[0])
        mf_fs_rm_rf(last_dir);
    last_dir[0] = '\0';
    test_deid = NULL;
    return 0;
}

int main(void)
{
    mf_log_set_level(MF_LOG_QUIET);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_patient, teardown),
        cmocka_unit_test_teardown(test_patient_zip3, teardown),
        cmocka_unit_test_teardown(test_encounter_condition, teardown),
        cmocka_unit_test_teardown(test_observation, teardown),
        cmocka_unit_test_teardown(test_other_types, teardown),
        cmocka_unit_test_teardown(test_references, teardown),
        cmocka_unit_test_teardown(test_bad_records, teardown),
        cmocka_unit_test_teardown(test_single_resource_paths, teardown),
        cmocka_unit_test_teardown(test_malformed_json, teardown),
        cmocka_unit_test_teardown(test_ndjson, teardown),
        cmocka_unit_test_teardown(test_strict, teardown),
        cmocka_unit_test_teardown(test_deid_hook, teardown),
        cmocka_unit_test_teardown(test_deid_hook_refuses, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
